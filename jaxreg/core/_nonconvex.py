r"""Nonconvex penalties that fix the lasso's bias: MCP (Zhang 2010) and SCAD (Fan & Li 2001).

Both behave like :math:`\lambda|t|` near 0 (exact zeros from a proximal step) and become flat beyond
:math:`\gamma\lambda`, so large coefficients are not shrunk (nearly unbiased estimates):

.. math::

   \rho^{MCP}_{\lambda,\gamma}(t) = \begin{cases}
     \lambda|t| - \dfrac{t^2}{2\gamma} & |t| \le \gamma\lambda \\
     \tfrac12\gamma\lambda^2 & |t| > \gamma\lambda
   \end{cases}
   \qquad (\gamma > 1),

   \rho^{SCAD}_{\lambda,\gamma}(t) = \begin{cases}
     \lambda|t| & |t| \le \lambda \\
     \dfrac{2\gamma\lambda|t| - t^2 - \lambda^2}{2(\gamma - 1)} & \lambda < |t| \le \gamma\lambda \\
     \tfrac12(\gamma + 1)\lambda^2 & |t| > \gamma\lambda
   \end{cases}
   \qquad (\gamma > 2),

with :math:`R(W) = \sum_i \rho(w_i)` and the loss :math:`L(W) = L_{data}(W) + R(W)`. **λ sits inside ρ**:
unlike jaxreg's L1/L2 penalties, where λ multiplies :math:`R`, these are not linear in λ (their flat part is
:math:`\propto\lambda^2`), so the penalty functions and transforms take λ and γ together. SCAD's γ is Fan & Li's
:math:`a`; it is named ``gamma`` as in skglm (``MCPenalty(alpha, gamma)``, ``SCAD(alpha, gamma)``, where
``alpha`` is this λ). Their derivatives (:math:`\rho'(0) = 0`, as :math:`\operatorname{sign}(0) = 0`):

.. math::

   \rho^{MCP\,\prime}(t) = \operatorname{sign}(t)\max\!\left(\lambda - \frac{|t|}{\gamma}, 0\right), \qquad
   \rho^{SCAD\,\prime}(t) = \operatorname{sign}(t)\begin{cases}
     \lambda & |t| \le \lambda \\ \dfrac{\max(\gamma\lambda - |t|, 0)}{\gamma - 1} & |t| > \lambda.
   \end{cases}

The proximal operators are :func:`jaxreg.core.prox.mcp` (firm thresholding) and
:func:`jaxreg.core.prox.scad`; the optax transforms come in jaxreg's two families: additive
(:func:`add_mcp_grad`, :func:`add_scad_grad`) before the optimizer, proximal (:func:`prox_mcp`,
:func:`prox_scad`) at the end of a chain for exact zeros. Hyperparameters may be tracers; concrete bad values
raise ``ValueError`` naming the argument, traced ones give NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxreg._checks import check_hyperparam, check_schedule_or_scalar, nan_if_invalid, resolve_tree_args
from jaxreg.core import _nonconvex_prox as nonconvex_prox
from jaxreg.core._nonconvex_prox import (
    MCP_GAMMA_MIN,
    SCAD_GAMMA_MIN,
    check_gamma,
    nan_unless_above,
    nan_where_invalid,
)
from jaxreg.core._penalties import _abs, _weighted_sum
from jaxreg.core._transforms import _map_regularized, _proximal

__all__ = [
    "mcp_penalty", "scad_penalty", "add_mcp_grad", "add_scad_grad", "prox_mcp", "prox_scad",
    "mcp_derivative", "scad_derivative",
]


def _mcp(t: jax.Array, lam: jax.Array, gamma: jax.Array) -> jax.Array:
    a = _abs(t)  # gradient sign(t), 0 at 0
    return nan_where_invalid(jnp.where(a <= gamma * lam, lam * a - t * t / (2 * gamma), gamma * lam * lam / 2),
                             lam, gamma)


def _scad(t: jax.Array, lam: jax.Array, gamma: jax.Array) -> jax.Array:
    a = _abs(t)
    middle = (2 * gamma * lam * a - a * a - lam * lam) / (2 * (gamma - 1))
    out = jnp.where(a <= lam, lam * a, jnp.where(a <= gamma * lam, middle, (gamma + 1) * lam * lam / 2))
    return nan_where_invalid(out, lam, gamma)


def mcp_derivative(t: Any, lam: Any, gamma: Any) -> jax.Array:
    r"""MCP's derivative :math:`\rho'(t) = \operatorname{sign}(t)\max(\lambda - |t|/\gamma, 0)`, elementwise.

    Zero at 0 (a subgradient, like ``sign(0) = 0``) and beyond :math:`\gamma\lambda`. Hyperparameters are not
    checked here (the callers do); a NaN one makes every entry NaN.

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> print(jaxreg.core.mcp_derivative(jnp.array([0.0, -1.0, 2.0, 5.0]), 1.0, 4.0))   # 0, −(1 − 1/4), 1 − 2/4, 0
      [ 0.   -0.75  0.5   0.  ]
    """
    t = jnp.asarray(t)
    return nan_where_invalid(jnp.sign(t) * jnp.maximum(lam - jnp.abs(t) / gamma, 0), lam, gamma)


def scad_derivative(t: Any, lam: Any, gamma: Any) -> jax.Array:
    r"""SCAD's derivative: :math:`\lambda\operatorname{sign}(t)` up to λ, then
    :math:`\operatorname{sign}(t)\max(\gamma\lambda - |t|, 0)/(\gamma - 1)`, elementwise; 0 at 0.

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> print(jaxreg.core.scad_derivative(jnp.array([0.0, -0.5, 2.0, 4.0]), 1.0, 3.0))   # 0, −λ, (3 − 2)/2, 0
      [ 0.  -1.   0.5  0. ]
    """
    t = jnp.asarray(t)
    a = jnp.abs(t)
    out = jnp.sign(t) * jnp.where(a <= lam, lam, jnp.maximum(gamma * lam - a, 0) / (gamma - 1))
    return nan_where_invalid(out, lam, gamma)


def _valid(lam: Any, gamma: Any, minimum: float) -> tuple[jax.Array, jax.Array]:
    """λ and γ, checked when concrete, NaN where invalid when traced."""
    return nan_if_invalid(lam), nan_unless_above(gamma, minimum)


def mcp_penalty(params: Any, lam: Any, gamma: Any, *, mask: Any = None) -> jax.Array:
    r"""MCP penalty :math:`R(W) = \sum_i \rho^{MCP}_{\lambda,\gamma}(w_i)` (Zhang 2010), λ inside ρ.

    .. math::

       \rho(t) = \lambda|t| - \frac{t^2}{2\gamma} \ \ (|t| \le \gamma\lambda), \qquad
       \rho(t) = \tfrac12\gamma\lambda^2 \ \ (|t| > \gamma\lambda)

    Its gradient under ``jax.grad`` is :func:`mcp_derivative` (0 at 0); it is differentiable in λ and γ.

    Args:
      params: the parameter pytree.
      lam: λ ≥ 0 (float, array or tracer): the slope at 0, as the lasso's λ.
      gamma: γ > 1 (float, array or tracer): the flat part starts at γλ; γ → ∞ is the lasso.
      mask: optax-style mask, ``True`` = penalise this leaf.

    Raises:
      ValueError: concrete λ < 0 or not finite, or γ ≤ 1 or not finite (traced ones give NaN).

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> w = jnp.array([0.0, 1.0, 5.0])   # ρ = 0, 1 − 1/6, 3/2 (flat beyond γλ = 3)
      >>> print(round(float(jaxreg.core.mcp_penalty(w, 1.0, 3.0)), 4))
      2.3333
    """
    check_hyperparam(lam, "lam")
    check_gamma(gamma, "MCP", MCP_GAMMA_MIN)
    lam_, gamma_ = _valid(lam, gamma, MCP_GAMMA_MIN)
    return _weighted_sum(lambda d: _mcp(d, lam_.astype(d.dtype), gamma_.astype(d.dtype)), params, mask, None, None)


def scad_penalty(params: Any, lam: Any, gamma: Any, *, mask: Any = None) -> jax.Array:
    r"""SCAD penalty :math:`R(W) = \sum_i \rho^{SCAD}_{\lambda,\gamma}(w_i)` (Fan & Li 2001), λ inside ρ.

    .. math::

       \rho(t) = \lambda|t| \ (|t| \le \lambda), \quad
       \frac{2\gamma\lambda|t| - t^2 - \lambda^2}{2(\gamma - 1)} \ (\lambda < |t| \le \gamma\lambda), \quad
       \tfrac12(\gamma + 1)\lambda^2 \ (|t| > \gamma\lambda)

    ``gamma`` is Fan & Li's :math:`a` (3.7 in their paper), named as in skglm. Its gradient under
    ``jax.grad`` is :func:`scad_derivative` (0 at 0).

    Args:
      params: the parameter pytree.
      lam: λ ≥ 0 (float, array or tracer).
      gamma: γ > 2 (float, array or tracer).
      mask: optax-style mask, ``True`` = penalise this leaf.

    Raises:
      ValueError: concrete λ < 0 or not finite, or γ ≤ 2 or not finite (traced ones give NaN).

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> w = jnp.array([0.5, 2.0, 5.0])   # ρ = 0.5, (12 − 4 − 1)/4, 2 (flat beyond γλ = 3)
      >>> float(jaxreg.core.scad_penalty(w, 1.0, 3.0))
      4.25
    """
    check_hyperparam(lam, "lam")
    check_gamma(gamma, "SCAD", SCAD_GAMMA_MIN)
    lam_, gamma_ = _valid(lam, gamma, SCAD_GAMMA_MIN)
    return _weighted_sum(lambda d: _scad(d, lam_.astype(d.dtype), gamma_.astype(d.dtype)), params, mask, None,
                         None)


def _additive_derivative(name: str, derivative: Callable, lam: Any, gamma: Any, minimum: float, penalty: str,
                         mask: Any) -> optax.GradientTransformation:
    """``u ← u + ρ'(w)``, stateless."""
    check_hyperparam(lam, "lam")
    check_gamma(gamma, penalty, minimum)

    def init_fn(params):
        resolve_tree_args(params, mask, None, None)
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        lam_, gamma_ = _valid(lam, gamma, minimum)

        def leaf(u, w, c, om, dt):
            return u + derivative(w - c, lam_.astype(dt), gamma_.astype(dt))

        return _map_regularized(leaf, updates, params, name=name, mask=mask, center=None, weights=None), state

    return optax.GradientTransformation(init_fn, update_fn)


def add_mcp_grad(lam: Any, gamma: Any, *, mask: Any = None) -> optax.GradientTransformation:
    r"""Add MCP's derivative: :math:`u \leftarrow u + \operatorname{sign}(w)\max(\lambda - |w|/\gamma, 0)`.

    The additive family (before the optimizer's scaling): a weight beyond :math:`\gamma\lambda` gets no
    penalty gradient at all, a small one nearly λ·sign(w). With a fixed step it oscillates around 0 like
    :func:`jaxreg.add_l1_sign` and rarely lands on exact zeros; use :func:`prox_mcp` for them.

    Args:
      lam: λ ≥ 0 (float, array or tracer).
      gamma: γ > 1 (float, array or tracer).
      mask: optax-style mask, ``True`` = penalise this leaf.

    Returns:
      A stateless :class:`optax.GradientTransformation`.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> opt = optax.chain(jaxreg.core.add_mcp_grad(1.0, 3.0), optax.sgd(0.1))
      >>> w = jnp.array([5.0, 1.5, 0.0])
      >>> u, _ = opt.update(jnp.zeros(3), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # w − 0.1 ρ'(w): ρ' = 0, 0.5, 0
      [5.   1.45 0.  ]
    """
    return _additive_derivative("add_mcp_grad", mcp_derivative, lam, gamma, MCP_GAMMA_MIN, "MCP", mask)


def add_scad_grad(lam: Any, gamma: Any, *, mask: Any = None) -> optax.GradientTransformation:
    r"""Add SCAD's derivative :func:`scad_derivative`: :math:`u \leftarrow u + \rho'(w)`.

    As :func:`add_mcp_grad`, with :math:`\rho'` = λ·sign(w) up to λ, then decreasing linearly to 0 at γλ.

    Args:
      lam: λ ≥ 0 (float, array or tracer).
      gamma: γ > 2 (float, array or tracer).
      mask: optax-style mask, ``True`` = penalise this leaf.

    Returns:
      A stateless :class:`optax.GradientTransformation`.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> opt = optax.chain(jaxreg.core.add_scad_grad(1.0, 3.0), optax.sgd(0.1))
      >>> w = jnp.array([5.0, 2.0, 0.5])
      >>> u, _ = opt.update(jnp.zeros(3), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # w − 0.1 ρ'(w): ρ' = 0, 0.5, 1
      [5.   1.95 0.4 ]
    """
    return _additive_derivative("add_scad_grad", scad_derivative, lam, gamma, SCAD_GAMMA_MIN, "SCAD", mask)


def _nonconvex_proximal(name: str, operator: Callable, lam: Any, gamma: Any, learning_rate: Any, minimum: float,
                        penalty: str, step_offset: float, mask: Any) -> optax.GradientTransformation:
    """The update moving ``w`` to ``operator(w + u, λ, γ, α)``; schedules counted with :class:`ProxState`."""
    check_hyperparam(lam, "lam")
    check_schedule_or_scalar(learning_rate, "learning_rate")
    check_gamma(gamma, penalty, minimum, step=learning_rate, step_name="learning_rate", step_offset=step_offset)

    def fn(z, alpha, om, dt):
        return operator(z, jnp.asarray(lam, dt), jnp.asarray(gamma, dt), alpha)

    # ``_proximal`` hands ``fn`` the step α·λ; with λ inside ρ the operator needs α alone, so λ = 1 there and
    # the true λ reaches the operator directly.
    return _proximal(name, fn, 1.0, learning_rate, mask=mask, center=None, weights=None)


def prox_mcp(lam: Any, gamma: Any, learning_rate: Any, *, mask: Any = None) -> optax.GradientTransformation:
    r"""Proximal MCP step (end of a chain): firm thresholding, exact zeros without the lasso's bias.

    Given the optimizer's update ``u``, returns the update that moves ``w`` to
    :math:`\operatorname{prox}_{\alpha\rho}(w + u)` (:func:`jaxreg.core.prox.mcp` with step α): 0 where
    :math:`|w + u| \le \alpha\lambda`, :math:`w + u` itself beyond :math:`\gamma\lambda`. With ``optax.sgd(α)``
    this is proximal gradient descent on :math:`L_{data} + R_{MCP}`; with a step :math:`\alpha \le 1/L` it
    decreases the objective monotonically to a stationary point (the problem is nonconvex: which one depends
    on the start; warm-start from the lasso).

    Args:
      lam: λ ≥ 0 (float, array or tracer).
      gamma: γ > max(1, α) (float, array or tracer).
      learning_rate: α the optimizer used: a float, or the same optax schedule (counted with
        :class:`jaxreg.ProxState`).
      mask: optax-style mask, ``True`` = penalise this leaf.

    Returns:
      An :class:`optax.GradientTransformation`; its state is :class:`jaxreg.ProxState` when ``learning_rate``
      is a schedule, ``optax.EmptyState`` otherwise.

    Raises:
      ValueError: concrete λ or α out of range, γ ≤ 1, or γ ≤ α (traced ones give NaN).

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> opt = optax.chain(optax.sgd(0.5), jaxreg.core.prox_mcp(1.0, 3.0, 0.5))
      >>> w = jnp.array([5.0, 1.0, 0.3])
      >>> u, _ = opt.update(jnp.zeros(3), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # 5 kept as is; (1 − 0.5)/(1 − 0.5/3); 0.3 → exact 0
      [5.  0.6 0. ]
    """
    return _nonconvex_proximal("prox_mcp", nonconvex_prox.mcp, lam, gamma, learning_rate, MCP_GAMMA_MIN, "MCP",
                               0.0, mask)


def prox_scad(lam: Any, gamma: Any, learning_rate: Any, *, mask: Any = None) -> optax.GradientTransformation:
    r"""Proximal SCAD step (end of a chain): :math:`w \leftarrow \operatorname{prox}_{\alpha\rho}(w + u)`.

    :func:`jaxreg.core.prox.scad` with step α: soft thresholding at αλ up to :math:`(1 + \alpha)\lambda`, the
    identity beyond γλ. Otherwise as :func:`prox_mcp`.

    Args:
      lam: λ ≥ 0 (float, array or tracer).
      gamma: γ > max(2, 1 + α) (float, array or tracer); Fan & Li's :math:`a`.
      learning_rate: α the optimizer used: a float or the same optax schedule.
      mask: optax-style mask, ``True`` = penalise this leaf.

    Raises:
      ValueError: concrete λ or α out of range, γ ≤ 2, or γ ≤ 1 + α (traced ones give NaN).

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> opt = optax.chain(optax.sgd(0.5), jaxreg.core.prox_scad(1.0, 3.7, 0.5))
      >>> w = jnp.array([5.0, 1.25, 0.3])
      >>> u, _ = opt.update(jnp.zeros(3), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # kept; soft-thresholded by 0.5; exact 0
      [5.   0.75 0.  ]
    """
    return _nonconvex_proximal("prox_scad", nonconvex_prox.scad, lam, gamma, learning_rate, SCAD_GAMMA_MIN,
                               "SCAD", 1.0, mask)

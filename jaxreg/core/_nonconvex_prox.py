r"""Proximal operators of the nonconvex penalties MCP and SCAD (re-exported as :mod:`jaxreg.core.prox`).

Both penalties hold λ *inside* :math:`\rho_{\lambda,\gamma}` (see :mod:`jaxreg.core._nonconvex`), so the
operators take λ, the concavity γ and the step :math:`s` (``scaling``) separately:

.. math::

   \operatorname{prox}_{s\rho}(x) = \arg\min_z \tfrac12 (z - x)^2 + s\,\rho_{\lambda,\gamma}(z).

The objective is strictly convex, so the minimiser unique and given in closed form, when the concavity of
:math:`s\rho` is smaller than the curvature of the quadratic: :math:`\gamma > s` for MCP and
:math:`\gamma > 1 + s` for SCAD. Concrete values that break this, or the penalties' own conditions
(:math:`\gamma > 1`, :math:`\gamma > 2`), raise ``ValueError``; traced ones give NaN (:mod:`jaxreg._checks`).
Nothing here imports the rest of :mod:`jaxreg.core`, so :mod:`jaxreg.core.prox` can re-export it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg._checks import check_hyperparam, is_traced, nan_if_invalid

__all__ = ["mcp", "scad", "MCP_GAMMA_MIN", "SCAD_GAMMA_MIN", "check_gamma", "nan_unless_above", "nan_where_invalid"]

#: MCP's γ must exceed this (Zhang 2010): then the penalty's concavity 1/γ is below 1.
MCP_GAMMA_MIN = 1.0
#: SCAD's γ (Fan & Li's ``a``) must exceed this (Fan & Li 2001): the middle piece is then well defined.
SCAD_GAMMA_MIN = 2.0


def check_gamma(gamma: Any, penalty: str, minimum: float, *, step: Any = None, step_name: str = "scaling",
                step_offset: float = 0.0) -> None:
    """Concrete γ: finite and ``> minimum``; with a concrete ``step`` also ``> step_offset + step``.

    Traced values (and a schedule as ``step``) pass unchecked: :func:`nan_unless_above` catches them.
    """
    if gamma is None:
        raise TypeError(f"gamma is required for {penalty}: pass a float > {minimum:g} such as {minimum + 1:g}")
    if is_traced(gamma):
        return
    g = np.asarray(gamma, dtype=np.float64)
    if not np.all(np.isfinite(g)) or np.any(g <= minimum):
        raise ValueError(
            f"gamma must be finite and > {minimum:g} for {penalty}, got {gamma!r}; {penalty}'s concavity γ is "
            f"typically {minimum + 1:g} to {minimum + 2:g} (γ → ∞ gives the lasso)"
        )
    if step is None or callable(step) or is_traced(step):
        return
    s = np.asarray(step, dtype=np.float64)
    if np.any(g <= step_offset + s):
        need = f"{step_offset:g} + {step_name}" if step_offset else step_name
        raise ValueError(
            f"gamma must be > {need} for the {penalty} proximal step (then ½(z − x)² + s·ρ(z) is convex and its "
            f"minimiser unique), got gamma={gamma!r} with {step_name}={step!r}; lower {step_name} or raise gamma"
        )


def nan_unless_above(x: Any, bound: Any) -> jax.Array:
    """``x`` where it is finite and ``> bound``, NaN elsewhere: the traced counterpart of :func:`check_gamma`."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return jnp.where(jnp.isfinite(x) & (x > bound), x, jnp.nan)


def _hyperparams(lam: Any, gamma: Any, scaling: Any, minimum: float, offset: float):
    """λ, γ and s with each invalid value (traced or not) turned into NaN."""
    s = nan_if_invalid(scaling)
    return nan_if_invalid(lam), nan_unless_above(gamma, jnp.maximum(minimum, offset + s)), s


def nan_where_invalid(out: jax.Array, *hyperparams: jax.Array) -> jax.Array:
    """``out``, NaN everywhere when a hyperparameter is NaN (a branch of ``where`` may have hidden it)."""
    bad = jnp.isnan(sum(hyperparams))
    return jnp.where(bad, jnp.nan, out)


def mcp(x: Any, lam: Any, gamma: Any, scaling: Any = 1.0) -> jax.Array:
    r"""Prox of :math:`s\,\rho^{MCP}_{\lambda,\gamma}`: firm thresholding (Gao & Bruce 1997).

    .. math::

       \operatorname{prox}(x) = \begin{cases}
         0 & |x| \le s\lambda \\
         \dfrac{\operatorname{sign}(x)(|x| - s\lambda)}{1 - s/\gamma} & s\lambda < |x| \le \gamma\lambda \\
         x & |x| > \gamma\lambda
       \end{cases}

    Exact zeros below :math:`s\lambda` as the lasso, but no bias beyond :math:`\gamma\lambda` (the identity);
    continuous in between. Requires :math:`\gamma > 1` and :math:`\gamma > s`.

    Args:
      x: input array.
      lam: λ ≥ 0, broadcastable to ``x``.
      gamma: γ > max(1, s), broadcastable to ``x``.
      scaling: the step :math:`s` (a learning rate), ≥ 0.

    Raises:
      ValueError: concrete ``lam``, ``gamma`` or ``scaling`` out of range (traced ones give NaN).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.core import prox
      >>> print(prox.mcp(jnp.array([0.5, -1.5, 1.75, 3.0]), 1.0, 2.0))   # 0, −0.5/(1 − 1/2), 0.75/(1/2), x
      [ 0.  -1.   1.5  3. ]
    """
    check_hyperparam(lam, "lam", scalar=False)
    check_hyperparam(scaling, "scaling", scalar=False)
    check_gamma(gamma, "MCP", MCP_GAMMA_MIN, step=scaling)
    x = jnp.asarray(x)
    lam, gamma, s = _hyperparams(lam, gamma, scaling, MCP_GAMMA_MIN, 0.0)
    ax = jnp.abs(x)
    firm = jnp.sign(x) * jnp.maximum(ax - s * lam, 0) / (1 - s / gamma)
    return nan_where_invalid(jnp.where(ax > gamma * lam, x, firm), lam, gamma, s)


def scad(x: Any, lam: Any, gamma: Any, scaling: Any = 1.0) -> jax.Array:
    r"""Prox of :math:`s\,\rho^{SCAD}_{\lambda,\gamma}` (Fan & Li 2001's thresholding rule for any step).

    .. math::

       \operatorname{prox}(x) = \begin{cases}
         \operatorname{sign}(x)\max(|x| - s\lambda, 0) & |x| \le (1 + s)\lambda \\
         \dfrac{(\gamma - 1)x - \operatorname{sign}(x)\,s\gamma\lambda}{\gamma - 1 - s}
           & (1 + s)\lambda < |x| \le \gamma\lambda \\
         x & |x| > \gamma\lambda
       \end{cases}

    Soft thresholding near 0, the identity beyond :math:`\gamma\lambda`, a linear blend between; continuous.
    Requires :math:`\gamma > 2` and :math:`\gamma > 1 + s` (``gamma`` is Fan & Li's :math:`a`, named as in
    skglm).

    Args:
      x: input array.
      lam: λ ≥ 0, broadcastable to ``x``.
      gamma: γ > max(2, 1 + s), broadcastable to ``x``.
      scaling: the step :math:`s` (a learning rate), ≥ 0.

    Raises:
      ValueError: concrete ``lam``, ``gamma`` or ``scaling`` out of range (traced ones give NaN).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.core import prox
      >>> print(prox.scad(jnp.array([-0.5, 1.5, 3.0, 4.0]), 1.0, 3.5))   # soft, soft, (2.5·3 − 3.5)/1.5, x
      [-0.         0.5        2.6666667  4.       ]
    """
    check_hyperparam(lam, "lam", scalar=False)
    check_hyperparam(scaling, "scaling", scalar=False)
    check_gamma(gamma, "SCAD", SCAD_GAMMA_MIN, step=scaling, step_offset=1.0)
    x = jnp.asarray(x)
    lam, gamma, s = _hyperparams(lam, gamma, scaling, SCAD_GAMMA_MIN, 1.0)
    ax, sign = jnp.abs(x), jnp.sign(x)
    soft = sign * jnp.maximum(ax - s * lam, 0)
    blend = ((gamma - 1) * x - sign * s * gamma * lam) / (gamma - 1 - s)
    out = jnp.where(ax <= (1 + s) * lam, soft, jnp.where(ax <= gamma * lam, blend, x))
    return nan_where_invalid(out, lam, gamma, s)

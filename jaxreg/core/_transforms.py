r"""Regularizers as optax gradient transformations.

Two families, both composable in any ``optax.chain`` and on any parameter
pytree (raw dicts, tuples, flax ``{"params": ...}`` trees, equinox modules):

**Additive** transforms add :math:`\lambda\nabla R(W)` to the incoming
gradient. Put them *before* the optimizer's scaling, e.g.
``optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(lr))``:

* :func:`add_l2_decay`: :math:`u \leftarrow u + 2\lambda\omega(w - c)`; with SGD and
  zero data gradient one step is exactly :math:`W(1 - 2\alpha\lambda)`.
* :func:`add_l1_sign`: :math:`u \leftarrow u + \lambda\omega\operatorname{sign}(w - c)`;
  one SGD step is :math:`W - \alpha\lambda\operatorname{sign}(W)`. With a fixed step it
  oscillates around 0 within :math:`\pm\alpha\lambda` and rarely lands on exact zeros.
* :func:`add_elastic_net`, and :func:`add_penalty_grad` for any differentiable R.

**Proximal** transforms go at the *end* of a chain, after the learning rate.
Placed first, ``optax.chain(jaxreg.prox_l1(lam, lr), optax.sgd(lr))`` is accepted (no
transform can see where it sits) and pushes weights *away* from zero;
:func:`jaxreg.proximal_sgd` builds the chain in the right order. They return the update
that moves :math:`w` to :math:`c + \operatorname{prox}(w + u - c)`, giving exact
zeros (with SGD, :func:`prox_l1` is ISTA):

* :func:`prox_l1`: :math:`w \leftarrow c + S_{\alpha\lambda\omega}(w + u - c)`.
* :func:`prox_elastic_net`, :func:`prox_group_lasso` (whole neurons to zero).

``learning_rate`` (α) of a proximal transform must be the one the optimizer
used: a float or the same optax schedule (the transform then counts steps as
``optax.scale_by_learning_rate`` does).

Common arguments: ``mask`` (optax semantics, ``True`` = regularize; masked
leaves pass through untouched), ``center`` (reference params ``c``, default
0) and ``weights`` (per-leaf factors ω, glmnet's ``penalty.factor``).
Every hyperparameter may be a Python float, an array or a tracer: ``jit``,
``vmap`` over λ and ``grad`` w.r.t. λ work. Concrete bad values raise
``ValueError`` when the transform is built or first initialised; a traced bad
value (negative, NaN, inf λ or α; ρ outside [0, 1]) becomes NaN, so the model
it trains ends NaN instead of silently wrong. Updates keep each leaf's dtype;
the regularization term is computed in at least float32 and cast once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxreg._checks import (
    check_hyperparam,
    check_ratio,
    check_schedule_or_scalar,
    nan_if_invalid,
    resolve_mask,
    resolve_tree_args,
)
from jaxreg.core import prox as prox
from jaxreg.core._penalties import _check_axis, _group_shape

__all__ = [
    "ProxState",
    "FistaState",
    "fista",
    "add_elastic_net",
    "add_l1_sign",
    "add_l2_decay",
    "add_penalty_grad",
    "prox_elastic_net",
    "prox_group_lasso",
    "prox_l1",
]

_NO_PARAMS = (
    "{name} needs the current params: call update(updates, state, params) "
    "(optax.chain passes them through when you do)"
)


def _is_none(x: Any) -> bool:
    return x is None


def _map_regularized(
    leaf_fn: Callable[..., jax.Array],
    updates: Any,
    params: Any,
    *,
    name: str,
    mask: Any,
    center: Any,
    weights: Any,
    weights_shape_of: Callable | None = None,
) -> Any:
    """Apply ``leaf_fn(u, w, c, omega, dtype)`` to each regularized leaf.

    ``u``, ``w`` and ``c`` arrive cast to the compute dtype (params' dtype
    promoted to at least float32; ``c`` is 0 when there is no center); the
    result is cast back to the update's dtype. Masked and ``None`` leaves pass
    through unchanged.
    """
    if params is None:
        raise ValueError(_NO_PARAMS.format(name=name))
    mask_full, center, weights_full = resolve_tree_args(
        params, mask, center, weights, weights_shape_of=weights_shape_of
    )
    u_leaves, treedef = jax.tree.flatten(updates, is_leaf=_is_none)
    p_leaves, p_def = jax.tree.flatten(params, is_leaf=_is_none)
    if p_def != treedef:
        raise ValueError(
            f"{name}: updates and params must have the same tree structure, got {treedef} "
            f"and {p_def}"
        )
    n = len(p_leaves)
    m_leaves = jax.tree.flatten(mask_full, is_leaf=_is_none)[0]
    c_leaves = jax.tree.flatten(center, is_leaf=_is_none)[0] if center is not None else [None] * n
    o_leaves = (
        jax.tree.flatten(weights_full, is_leaf=_is_none)[0] if weights_full is not None else [None] * n
    )
    out = []
    for u, w, m, c, om in zip(u_leaves, p_leaves, m_leaves, c_leaves, o_leaves):
        if u is None or w is None or not m:
            out.append(u)
            continue
        dt = jnp.promote_types(jnp.result_type(w), jnp.float32)
        c = jnp.zeros((), dt) if c is None else jnp.asarray(c, dt)
        new = leaf_fn(jnp.asarray(u, dt), jnp.asarray(w, dt), c, om, dt)
        out.append(new.astype(jnp.result_type(u)))
    return jax.tree.unflatten(treedef, out)


def _scaled(x: jax.Array, omega: Any, dt) -> jax.Array:
    return x if omega is None else x * jnp.asarray(omega, dt)


def _additive(
    name: str,
    grad_fn: Callable[[jax.Array, Any], jax.Array],
    lam: Any,
    *,
    mask: Any,
    center: Any,
    weights: Any,
) -> optax.GradientTransformation:
    """``u ← u + λ·ω·grad_fn(w − c)``, stateless."""
    check_hyperparam(lam, "lam")

    def init_fn(params):
        resolve_tree_args(params, mask, center, weights)
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        lam_ = nan_if_invalid(lam)

        def leaf(u, w, c, om, dt):
            return u + _scaled(lam_.astype(dt) * grad_fn(w - c, dt), om, dt)

        new = _map_regularized(
            leaf, updates, params, name=name, mask=mask, center=center, weights=weights
        )
        return new, state

    return optax.GradientTransformation(init_fn, update_fn)


def add_l2_decay(
    lam: Any, *, mask: Any = None, center: Any = None, weights: Any = None
) -> optax.GradientTransformation:
    r"""Add the gradient of :math:`\lambda R_{l2}`: :math:`u \leftarrow u + 2\lambda\omega(w - c)`.

    With :math:`R_{l2}(W) = \sum w^2` (no ½), one SGD step of size α with zero
    data gradient gives exactly :math:`W(1 - 2\alpha\lambda)`: a large weight
    shrinks a lot, a small one barely, and weights approach 0 geometrically
    without reaching it. optax's ``add_decayed_weights(wd)`` adds ``wd·w``, so
    ``wd = 2λ`` (:func:`jaxreg.to_optax_weight_decay`).

    Args:
      lam: λ ≥ 0 (float, array or tracer).
      mask: optax-style mask, ``True`` = decay this leaf.
      center: reference params ``c`` to decay toward (L2-SP); default 0.
      weights: per-leaf penalty factors ω (0 = unpenalised).

    Returns:
      A stateless :class:`optax.GradientTransformation`.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> opt = optax.chain(jaxreg.add_l2_decay(0.5), optax.sgd(0.1))
      >>> w = jnp.array([10.0, 1.0])
      >>> u, _ = opt.update(jnp.zeros(2), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # W (1 - 2·0.1·0.5) = 0.9 W
      [9.  0.9]
    """
    return _additive(
        "add_l2_decay", lambda d, dt: 2 * d, lam, mask=mask, center=center, weights=weights
    )


def add_l1_sign(
    lam: Any, *, mask: Any = None, center: Any = None, weights: Any = None
) -> optax.GradientTransformation:
    r"""Add a subgradient of :math:`\lambda R_{l1}`: :math:`u \leftarrow u + \lambda\omega\operatorname{sign}(w - c)`.

    ``sign(0) = 0``. One SGD step with zero data gradient gives exactly
    :math:`W - \alpha\lambda\operatorname{sign}(W)`: the same step for every
    weight, so small weights reach zero first. With a fixed step the weight
    then oscillates within :math:`\pm\alpha\lambda` of 0 and rarely lands on
    an exact zero; use :func:`prox_l1` for exact zeros.

    Args:
      lam: λ ≥ 0 (float, array or tracer).
      mask: optax-style mask, ``True`` = penalise this leaf.
      center: reference params ``c``; default 0.
      weights: per-leaf penalty factors ω (0 = unpenalised).

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> opt = optax.chain(jaxreg.add_l1_sign(0.5), optax.sgd(0.1))
      >>> w = jnp.array([10.0, -0.01, 0.0])
      >>> u, _ = opt.update(jnp.zeros(3), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # W - 0.05 sign(W)
      [9.95 0.04 0.  ]
    """
    return _additive(
        "add_l1_sign", lambda d, dt: jnp.sign(d), lam, mask=mask, center=center, weights=weights
    )


def add_elastic_net(
    lam: Any, l1_ratio: Any, *, mask: Any = None, center: Any = None, weights: Any = None
) -> optax.GradientTransformation:
    r"""Add a subgradient of :math:`\lambda R_{en}`.

    .. math::

       u \leftarrow u + \lambda\omega\left[\rho\operatorname{sign}(w - c) + 2(1 - \rho)(w - c)\right]

    with ``l1_ratio`` ρ ∈ [0, 1] (1 = :func:`add_l1_sign`, 0 = :func:`add_l2_decay`).

    Args:
      lam: λ ≥ 0 (float, array or tracer).
      l1_ratio: ρ ∈ [0, 1] (float, array or tracer).
      mask: optax-style mask, ``True`` = penalise this leaf.
      center: reference params ``c``; default 0.
      weights: per-leaf penalty factors ω (0 = unpenalised).

    Returns:
      A stateless :class:`optax.GradientTransformation`.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> opt = optax.chain(jaxreg.add_elastic_net(0.5, 0.5), optax.sgd(0.1))
      >>> w = jnp.array([10.0, -1.0, 0.0])
      >>> u, _ = opt.update(jnp.zeros(3), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # W - 0.1 · 0.5 [0.5 sign(W) + W]
      [ 9.475 -0.925  0.   ]
    """
    check_ratio(l1_ratio, "l1_ratio")

    def grad_fn(d, dt):
        rho = nan_if_invalid(l1_ratio, upper=1.0).astype(dt)
        return rho * jnp.sign(d) + 2 * (1 - rho) * d

    return _additive("add_elastic_net", grad_fn, lam, mask=mask, center=center, weights=weights)


def add_penalty_grad(
    penalty_fn: Callable[[Any], jax.Array], lam: Any, *, mask: Any = None
) -> optax.GradientTransformation:
    r"""Add :math:`\lambda\nabla R(W)` for any differentiable ``penalty_fn`` (``R``).

    ``penalty_fn(params) -> scalar``; its gradient is taken with ``jax.grad``
    on the whole tree, then added to the leaves selected by ``mask``.

    Args:
      penalty_fn: ``R``, a differentiable function ``params -> scalar``.
      lam: λ ≥ 0 (float, array or tracer).
      mask: optax-style mask, ``True`` = add the gradient to this leaf.

    Returns:
      A stateless :class:`optax.GradientTransformation`.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> t = jaxreg.add_penalty_grad(lambda p: jnp.sum(p ** 4), 0.5)
      >>> w = jnp.array([1.0, 2.0])
      >>> print(t.update(jnp.zeros(2), t.init(w), w)[0])   # 0.5 · 4 w³
      [ 2. 16.]
    """
    if not callable(penalty_fn):
        raise TypeError(f"penalty_fn must be a callable params -> scalar, got {penalty_fn!r}")
    check_hyperparam(lam, "lam")

    def init_fn(params):
        resolve_tree_args(params, mask, None, None)
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(_NO_PARAMS.format(name="add_penalty_grad"))
        grads = jax.grad(penalty_fn)(params)
        lam_ = nan_if_invalid(lam)
        mask_full = resolve_mask(mask, params)

        def leaf(u, g, m):
            if u is None or not m:
                return u
            dt = jnp.promote_types(jnp.result_type(g), jnp.float32)
            return (jnp.asarray(u, dt) + lam_.astype(dt) * jnp.asarray(g, dt)).astype(
                jnp.result_type(u)
            )

        new = jax.tree.map(leaf, updates, grads, mask_full, is_leaf=_is_none)
        return new, state

    return optax.GradientTransformation(init_fn, update_fn)


class ProxState(NamedTuple):
    """State of a proximal transform whose learning rate is a schedule: the step to read it at.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> t = jaxreg.prox_l1(0.5, optax.exponential_decay(0.1, 1, 0.5))   # α_k = 0.1 · 0.5^k
      >>> state = t.init(jnp.zeros(2))
      >>> _, state = t.update(jnp.zeros(2), state, jnp.zeros(2))
      >>> int(state.count)
      1
    """

    count: jax.Array  # shape=(), dtype=int32: updates applied so far (the schedule's step)


def _proximal(
    name: str,
    prox_fn: Callable[[jax.Array, jax.Array, Any, Any], jax.Array],
    lam: Any,
    learning_rate: Any,
    *,
    mask: Any,
    center: Any,
    weights: Any,
    weights_shape_of: Callable | None = None,
) -> optax.GradientTransformation:
    """Update moving ``w`` to ``c + prox_fn(w + u − c, α·λ, ω, dt)``."""
    check_hyperparam(lam, "lam")
    check_schedule_or_scalar(learning_rate, "learning_rate")
    scheduled = callable(learning_rate)

    def init_fn(params):
        resolve_tree_args(params, mask, center, weights, weights_shape_of=weights_shape_of)
        if scheduled:
            return ProxState(count=jnp.zeros([], jnp.int32))
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        if scheduled:
            alpha = learning_rate(state.count)
            new_state = ProxState(count=optax.safe_increment(state.count))
        else:
            alpha, new_state = learning_rate, state
        step = nan_if_invalid(alpha) * nan_if_invalid(lam)

        def leaf(u, w, c, om, dt):
            z = w + u - c
            return c + prox_fn(z, step.astype(dt), om, dt) - w

        new = _map_regularized(
            leaf, updates, params, name=name, mask=mask, center=center, weights=weights,
            weights_shape_of=weights_shape_of,
        )
        return new, new_state

    return optax.GradientTransformation(init_fn, update_fn)


def prox_l1(
    lam: Any,
    learning_rate: Any,
    *,
    mask: Any = None,
    center: Any = None,
    weights: Any = None,
) -> optax.GradientTransformation:
    r"""Proximal L1 step, placed at the END of a chain (after the learning rate).

    Given the optimizer's update ``u``, returns the update that moves ``w`` to

    .. math::

       w_{new} = c + S_{\alpha\lambda\omega}(w + u - c), \qquad
       S_t(x) = \operatorname{sign}(x)\max(|x| - t, 0).

    With ``optax.sgd(α)`` this is ISTA (proximal gradient descent) on
    :math:`L_{data} + \lambda R_{l1}` and produces exact zeros: every weight
    with :math:`|w + u - c| \le \alpha\lambda\omega` lands on ``c``. (With a
    nonzero ``center`` the landing is exact up to one float rounding of
    ``w + (c − w)``.)

    Warning:
      Put it LAST: ``optax.chain(optax.sgd(lr), jaxreg.prox_l1(lam, lr))``. Placed first,
      ``optax.chain(jaxreg.prox_l1(lam, lr), optax.sgd(lr))`` runs without an error (a transform
      cannot see where it sits in a chain) but is wrong: the prox acts on the raw gradient and
      sgd's ``−lr`` then turns its shrinkage around, so weights move *away* from zero (second
      example). :func:`jaxreg.proximal_sgd` (``proximal_sgd(lr, lambda lr: jaxreg.prox_l1(lam,
      lr))``) builds the chain itself and cannot be mis-ordered. The same holds for every
      ``prox_*`` transform.

    Args:
      lam: λ ≥ 0 (float, array or tracer).
      learning_rate: α the optimizer used: a float, or the same optax schedule
        (the transform counts its own steps from 0, like ``optax.sgd``).
      mask: optax-style mask, ``True`` = penalise this leaf.
      center: reference params ``c``; default 0.
      weights: per-leaf penalty factors ω (0 = unpenalised).

    Returns:
      An :class:`optax.GradientTransformation`; its state is :class:`ProxState`
      when ``learning_rate`` is a schedule, ``optax.EmptyState`` otherwise.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> opt = optax.chain(optax.sgd(0.1), jaxreg.prox_l1(0.5, 0.1))
      >>> w = jnp.array([10.0, -0.01, 0.03])
      >>> u, _ = opt.update(jnp.zeros(3), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # S_0.05(W): small weights -> exact 0
      [9.95 0.   0.  ]
      >>> wrong = optax.chain(jaxreg.prox_l1(0.5, 0.1), optax.sgd(0.1))   # prox FIRST: wrong
      >>> u, _ = wrong.update(jnp.zeros(3), wrong.init(w), w)
      >>> print(optax.apply_updates(w, u))   # every weight moved away from 0
      [10.005 -0.011  0.033]
      >>> right = jaxreg.proximal_sgd(0.1, lambda lr: jaxreg.prox_l1(0.5, lr))   # cannot be mis-ordered
      >>> u, _ = right.update(jnp.zeros(3), right.init(w), w)
      >>> print(optax.apply_updates(w, u))
      [9.95 0.   0.  ]
    """
    return _proximal(
        "prox_l1",
        lambda z, t, om, dt: prox.soft_threshold(z, _scaled(t, om, dt)),
        lam, learning_rate, mask=mask, center=center, weights=weights,
    )


def prox_elastic_net(
    lam: Any,
    l1_ratio: Any,
    learning_rate: Any,
    *,
    mask: Any = None,
    center: Any = None,
    weights: Any = None,
) -> optax.GradientTransformation:
    r"""Proximal elastic-net step (end of a chain), exact zeros.

    .. math::

       w_{new} = c + \frac{S_{\alpha\lambda\rho\omega}(w + u - c)}{1 + 2\alpha\lambda(1 - \rho)\omega}

    the prox of :math:`\alpha\lambda[\rho\sum|y| + (1 - \rho)\sum y^2]` (see
    :func:`jaxreg.core.prox.elastic_net`). Arguments as :func:`prox_l1`, plus
    ``l1_ratio`` ρ ∈ [0, 1] (float, array or tracer). LAST in a chain, as :func:`prox_l1` warns
    (placed first it pushes weights away from zero); :func:`jaxreg.proximal_sgd` orders it for you.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> opt = optax.chain(optax.sgd(0.5), jaxreg.prox_elastic_net(1.0, 0.5, 0.5))
      >>> w = jnp.array([1.75, -0.2, 0.0])
      >>> u, _ = opt.update(jnp.zeros(3), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # S_0.25(W) / (1 + 2 · 0.5 · 1 · 0.5)
      [1. 0. 0.]
    """
    check_ratio(l1_ratio, "l1_ratio")

    def fn(z, t, om, dt):
        rho = nan_if_invalid(l1_ratio, upper=1.0).astype(dt)
        return prox.elastic_net(z, _scaled(t, om, dt), rho)

    return _proximal(
        "prox_elastic_net", fn, lam, learning_rate, mask=mask, center=center, weights=weights
    )


def prox_group_lasso(
    lam: Any,
    learning_rate: Any,
    *,
    axis: prox.Axis = 0,
    mask: Any = None,
    center: Any = None,
    weights: Any = None,
) -> optax.GradientTransformation:
    r"""Proximal group-lasso step (end of a chain): whole neurons to exact zero.

    .. math::

       (w_{new} - c)_g = z_g\max\left(0, 1 - \frac{\alpha\lambda\omega_g}{\|z_g\|_2}\right),
       \qquad z = w + u - c

    Groups come from reducing each leaf over ``axis`` (NumPy's meaning): for a
    dense kernel ``(in, out)``, ``axis=0`` gives one group per output neuron.
    ``weights`` broadcast to the group norms (shape with ``axis`` set to 1).
    Other arguments as :func:`prox_l1`. LAST in a chain, as :func:`prox_l1` warns (placed first it
    pushes weights away from zero); :func:`jaxreg.proximal_sgd` orders it for you.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> kernel = jnp.array([[3.0, 0.1], [4.0, 0.1]])
      >>> opt = optax.chain(optax.sgd(1.0), jaxreg.prox_group_lasso(1.0, 1.0, axis=0))
      >>> u, _ = opt.update(jnp.zeros((2, 2)), opt.init(kernel), kernel)
      >>> print(optax.apply_updates(kernel, u))   # column norms 5 and 0.14
      [[2.4 0. ]
       [3.2 0. ]]
    """
    if not isinstance(axis, (int, tuple)):
        raise TypeError(f"axis must be an int or a tuple of ints, got {axis!r}")

    def fn(z, t, om, dt):
        return prox.group_lasso(z, _scaled(t, om, dt), 1.0, axis)

    t = _proximal(
        "prox_group_lasso", fn, lam, learning_rate, mask=mask, center=center, weights=weights,
        weights_shape_of=lambda p: _group_shape(p, axis),
    )

    def init_fn(params):
        _check_axis(params, axis, mask)
        return t.init(params)

    return optax.GradientTransformation(init_fn, t.update)


class FistaState(NamedTuple):
    """State of :func:`fista`: the inner transform's state, the last proximal iterate and the momentum.

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> state = jaxreg.fista(jaxreg.prox_l1(0.5, 0.1)).init(jnp.ones(2))
      >>> float(state.t), int(state.restarts)
      (1.0, 0)
    """

    inner: Any  # state of the wrapped proximal transform
    x: Any  # last proximal iterate x_k (same tree as the params)
    t: jax.Array  # shape=(), float32: the momentum sequence t_k (t_0 = 1)
    restarts: jax.Array  # shape=(), int32: adaptive restarts so far


def fista(inner: optax.GradientTransformation, *, restart: bool = True) -> optax.GradientTransformation:
    r"""Nesterov/FISTA acceleration around a proximal transform (end of a chain).

    With ``optax.chain(optax.sgd(α), jaxreg.fista(jaxreg.prox_l1(λ, α)))`` the
    params are FISTA's extrapolated point :math:`y_k` and each update moves them
    to

    .. math::

       x_{k+1} = \operatorname{prox}(y_k - \alpha\nabla f(y_k)), \quad
       t_{k+1} = \frac{1 + \sqrt{1 + 4t_k^2}}{2}, \quad
       y_{k+1} = x_{k+1} + \frac{t_k - 1}{t_{k+1}}(x_{k+1} - x_k).

    With ``restart=True`` the momentum resets (:math:`t = 1`) whenever
    :math:`\langle y_k - x_{k+1}, x_{k+1} - x_k\rangle > 0` (O'Donoghue &
    Candès' gradient scheme), which keeps the objective from oscillating on
    ill-conditioned problems. The params are :math:`y`, not :math:`x`: a
    coordinate of :math:`y` is an exact zero only when the last two proximal
    iterates both are (which near convergence is most of them), so the zeros
    of :math:`y` are not guaranteed to be the solution's. For the solution's
    exact zeros, take one more plain proximal step
    (``optax.chain(optax.sgd(α), inner)``) from the final params, or read
    ``state.x``.

    Args:
      inner: a proximal transform (:func:`prox_l1`, :func:`prox_elastic_net`,
        :func:`prox_group_lasso`) with the optimizer's learning rate.
      restart: reset the momentum when it points uphill (adaptive restart).

    Returns:
      An :class:`optax.GradientTransformation` whose state is :class:`FistaState`.

    Example:
      >>> import jax, jax.numpy as jnp, optax, jaxreg
      >>> x, y = jnp.array([[1.0, 0.0], [0.0, 2.0]]), jnp.array([2.0, 2.0])
      >>> loss = lambda w: 0.5 * jnp.sum((x @ w - y) ** 2)
      >>> opt = optax.chain(optax.sgd(0.2), jaxreg.fista(jaxreg.prox_l1(0.5, 0.2)))
      >>> w = jnp.zeros(2)
      >>> state = opt.init(w)
      >>> for _ in range(100):
      ...     u, state = opt.update(jax.grad(loss)(w), state, w)
      ...     w = optax.apply_updates(w, u)
      >>> print(state[1].x.round(4))   # the lasso solution: (1.5, 0.875)
      [1.5   0.875]
    """

    def init_fn(params):
        return FistaState(
            inner=inner.init(params), x=params, t=jnp.ones([], jnp.float32), restarts=jnp.zeros([], jnp.int32)
        )

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(_NO_PARAMS.format(name="fista"))
        u, inner_state = inner.update(updates, state.inner, params)
        x_new = optax.apply_updates(params, u)
        t_new = (1 + jnp.sqrt(1 + 4 * state.t**2)) / 2
        beta = (state.t - 1) / t_new
        if restart:
            # <y − x_new, x_new − x_old> > 0  ⇔  the momentum points uphill: reset it.
            dots = jax.tree.map(lambda y, xn, xo: jnp.vdot(y - xn, xn - xo), params, x_new, state.x)
            bad = sum(jax.tree.leaves(dots), jnp.zeros([], jnp.float32)) > 0
            beta = jnp.where(bad, 0.0, beta)
            t_new = jnp.where(bad, 1.0, t_new)
            restarts = state.restarts + bad.astype(jnp.int32)
        else:
            restarts = state.restarts
        y_new = jax.tree.map(lambda xn, xo: xn + (beta * (xn - xo)).astype(xn.dtype), x_new, state.x)
        new_updates = jax.tree.map(lambda yn, y: (yn - y).astype(y.dtype), y_new, params)
        return new_updates, FistaState(inner=inner_state, x=x_new, t=t_new.astype(jnp.float32), restarts=restarts)

    return optax.GradientTransformation(init_fn, update_fn)

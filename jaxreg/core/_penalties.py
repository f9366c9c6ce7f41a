r"""Penalties :math:`R(W)` as pure functions of a parameter pytree.

jaxreg's conventions (no ½ anywhere; the converters in
:mod:`jaxreg.core` (``from_sklearn_lasso`` and kin) map to other libraries):

.. math::

   R_{l2}(W) = \sum_i \omega_i (w_i - c_i)^2, \qquad
   R_{l1}(W) = \sum_i \omega_i |w_i - c_i|,

   R_{en}(W) = \rho R_{l1}(W) + (1 - \rho) R_{l2}(W), \qquad
   R_{group}(W) = \sum_g \omega_g \|W_g - C_g\|_2,

with the regularized loss :math:`L(W) = L_{data}(W) + \lambda R(W)`.

Every penalty takes the same keyword arguments:

* ``mask``: optax semantics — a tree of bools with the structure of the params
  (or a prefix of it) or a callable ``params -> tree``; ``True`` = penalised.
* ``center``: reference params :math:`c` (decay toward pretrained weights,
  L2-SP); default 0.
* ``weights``: real per-leaf penalty factors :math:`\omega` (glmnet's
  ``penalty.factor``; 0 = unpenalised), each a scalar or an array that
  broadcasts to its leaf (to the group norms for the group lasso).

Sums are computed in at least float32 whatever the leaves' dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxreg._checks import check_ratio, resolve_mask, resolve_tree_args
from jaxreg.core import prox as prox

__all__ = ["elastic_net_penalty", "group_lasso_penalty", "l1_penalty", "l2_penalty"]


def leaf_triples(params: Any, mask: Any, center: Any, weights: Any, **kw) -> list[tuple]:
    """``[(w - c, omega), ...]`` for the penalised leaves, in compute dtype."""
    mask_full, center, weights_full = resolve_tree_args(params, mask, center, weights, **kw)
    p_leaves = jax.tree.leaves(params)
    m_leaves = jax.tree.leaves(mask_full)
    c_leaves = jax.tree.leaves(center) if center is not None else [None] * len(p_leaves)
    w_leaves = jax.tree.leaves(weights_full) if weights_full is not None else [None] * len(p_leaves)
    out = []
    for p, m, c, om in zip(p_leaves, m_leaves, c_leaves, w_leaves):
        if not m:
            continue
        dt = jnp.promote_types(jnp.result_type(p), jnp.float32)
        d = jnp.asarray(p, dt)
        if c is not None:
            d = d - jnp.asarray(c, dt)
        out.append((d, om))
    return out


def _total(terms: list) -> jax.Array:
    if not terms:
        return jnp.zeros((), jnp.float32)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _weighted_sum(
    leaf_fn: Callable[[jax.Array], jax.Array], params, mask, center, weights, **kw
) -> jax.Array:
    terms = []
    for d, om in leaf_triples(params, mask, center, weights, **kw):
        v = leaf_fn(d)
        terms.append(jnp.sum(v if om is None else om * v))
    return _total(terms)


def _abs(x: jax.Array) -> jax.Array:
    """``|x|`` whose gradient is ``sign(x)`` with ``sign(0) = 0`` (jnp.abs gives 1 at 0)."""
    return x * jnp.sign(x)


def l2_penalty(params: Any, *, mask: Any = None, center: Any = None, weights: Any = None) -> jax.Array:
    r"""L2 penalty :math:`R(W) = \sum_i \omega_i (w_i - c_i)^2` (no ½).

    Its gradient is :math:`2\omega(W - C)`; see :func:`jaxreg.add_l2_decay`.

    Args:
      params: the parameter pytree.
      mask: optax-style mask, ``True`` = penalise this leaf.
      center: reference params :math:`c` (same structure); default 0.
      weights: per-leaf penalty factors :math:`\omega` (0 = unpenalised).

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(3.0)}
      >>> float(jaxreg.l2_penalty(params))
      14.0
      >>> float(jaxreg.l2_penalty(params, mask={"w": True, "b": False}))
      5.0
    """
    return _weighted_sum(jnp.square, params, mask, center, weights)


def l1_penalty(params: Any, *, mask: Any = None, center: Any = None, weights: Any = None) -> jax.Array:
    r"""L1 penalty :math:`R(W) = \sum_i \omega_i |w_i - c_i|`.

    Its gradient under ``jax.grad`` is :math:`\omega\operatorname{sign}(W - C)` with
    ``sign(0) = 0``, the subgradient :func:`jaxreg.add_l1_sign` uses.

    Args:
      params: the parameter pytree.
      mask: optax-style mask, ``True`` = penalise this leaf.
      center: reference params :math:`c` (same structure); default 0.
      weights: per-leaf penalty factors :math:`\omega` (0 = unpenalised).

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> float(jaxreg.l1_penalty((jnp.array([1.0, -2.0]), jnp.array(3.0))))
      6.0
    """
    return _weighted_sum(_abs, params, mask, center, weights)


def elastic_net_penalty(
    params: Any, l1_ratio: Any, *, mask: Any = None, center: Any = None, weights: Any = None
) -> jax.Array:
    r"""Elastic net :math:`R(W) = \rho\sum\omega|w-c| + (1-\rho)\sum\omega(w-c)^2`.

    ``l1_ratio`` (ρ) in ``[0, 1]``: 1 is :func:`l1_penalty`, 0 is
    :func:`l2_penalty`. Note there is no ½ on the L2 part (sklearn and glmnet
    have one; :func:`jaxreg.from_sklearn_elastic_net` converts).

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> float(jaxreg.elastic_net_penalty(jnp.array([1.0, -2.0]), 0.5))
      4.0
    """
    check_ratio(l1_ratio, "l1_ratio")
    return _weighted_sum(
        lambda d: l1_ratio * _abs(d) + (1 - l1_ratio) * jnp.square(d), params, mask, center, weights
    )


def group_lasso_penalty(
    params: Any, *, axis: prox.Axis = 0, mask: Any = None, center: Any = None, weights: Any = None
) -> jax.Array:
    r"""Group lasso :math:`R(W) = \sum_g \omega_g \|W_g - C_g\|_2`.

    Groups come from reducing each leaf over ``axis`` (NumPy's meaning): for a
    dense kernel ``(in, out)``, ``axis=0`` makes one group per output neuron,
    ``axis=1`` one per input feature; a 1-D leaf with ``axis=0`` is a single
    group, a 0-d leaf its own group. ``weights`` broadcast to the group norms.
    The gradient at a zero group is taken as 0 (a subgradient).

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> kernel = jnp.array([[3.0, 0.0], [4.0, 1.0]])   # columns = neurons
      >>> float(jaxreg.group_lasso_penalty(kernel, axis=0))
      6.0
    """
    _check_axis(params, axis, mask)
    return _weighted_sum(
        lambda d: prox.group_norm(d, axis), params, mask, center, weights,
        weights_shape_of=lambda p: _group_shape(p, axis),
    )


def _normalise_axis(axis: prox.Axis, ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if any(not -ndim <= a < ndim for a in axes):
        raise ValueError(
            f"axis={axis} is out of range for a parameter with {ndim} dimensions; choose an axis "
            "every regularized leaf has, or exclude the other leaves with mask="
        )
    return tuple(sorted(a % ndim for a in axes))


def _group_shape(p: Any, axis: prox.Axis) -> tuple[int, ...]:
    shape = jnp.shape(p)
    if len(shape) == 0:
        return ()
    axes = _normalise_axis(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _check_axis(params: Any, axis: Any, mask: Any) -> None:
    if not isinstance(axis, int) and not (
        isinstance(axis, tuple) and all(isinstance(a, int) for a in axis)
    ):
        raise TypeError(f"axis must be an int or a tuple of ints, got {axis!r}")
    for m, p in zip(jax.tree.leaves(resolve_mask(mask, params)), jax.tree.leaves(params)):
        if m and jnp.ndim(p) > 0:
            _normalise_axis(axis, jnp.ndim(p))

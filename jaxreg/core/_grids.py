r"""Grids of λ: log-spaced grids and :math:`\lambda_{max}` for L1.

For the L1-penalised problem :math:`\min_W L(W) + \lambda\sum_i\omega_i|w_i|`,
:math:`W = 0` is optimal iff :math:`|\partial_i L(0)| \le \lambda\omega_i` for
every penalised coordinate, so the smallest all-zero λ is

.. math::

   \lambda_{max} = \max_i \frac{|\partial_i L(0)|}{\omega_i}.

For least squares with ``loss = 1/(2n)‖y − Xw‖²`` this is ``max|Xᵀy|/n``,
scikit-learn's ``alpha_max`` (with centred data).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg._checks import check_hyperparam, resolve_tree_args

__all__ = ["log_grid", "lambda_max_l1", "check_grid"]


def log_grid(lo: float, hi: float, num: int) -> np.ndarray:
    """``num`` log-spaced values from ``lo`` to ``hi`` inclusive (increasing), float64.

    ``lo == hi`` is allowed (a constant grid). Use ``np.concatenate([[0.0], grid])``
    to add the unregularised model.

    Example:
      >>> import jaxreg
      >>> jaxreg.log_grid(1e-3, 1e-1, 3)
      array([0.001, 0.01 , 0.1  ])
    """
    check_hyperparam(lo, "lo")
    check_hyperparam(hi, "hi")
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num must be a positive integer (the number of λ values), got {num!r}")
    if lo <= 0 or hi <= 0:
        raise ValueError(f"lo and hi must be > 0 for a log grid, got lo={lo!r}, hi={hi!r}")
    if lo > hi:
        raise ValueError(f"lo must be <= hi, got lo={lo!r} > hi={hi!r}; swap them")
    return np.geomspace(float(lo), float(hi), int(num))


def check_grid(lambdas: Any, name: str = "lambdas") -> np.ndarray:
    """A λ grid as a 1-D float array: non-empty, finite, ``>= 0``; anything else raises naming ``name``.

    Args:
      lambdas: the grid, a list or a concrete array (not a tracer).
      name: the argument's name, for the error message.

    Raises:
      TypeError: a traced or non-numeric grid.
      ValueError: a grid that is not 1-D, empty, or has a negative, NaN or infinite value.

    Example:
      >>> from jaxreg.core import check_grid
      >>> check_grid([0.1, 1])
      array([0.1, 1. ])
      >>> check_grid([0.1, -1.0])
      Traceback (most recent call last):
      ...
      ValueError: lambdas must be finite and >= 0, got [-1.]
    """
    if isinstance(lambdas, jax.core.Tracer):
        raise TypeError(f"{name} must be concrete (a list or array), not a traced value")
    arr = np.asarray(lambdas)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D grid of λ values, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: pass at least one λ (e.g. jaxreg.log_grid(1e-4, 1, 64))")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {arr[~(np.isfinite(arr) & (arr >= 0))][:3]}")
    return arr


def lambda_max_l1(
    loss_fn: Callable[[Any], jax.Array],
    params: Any,
    *,
    mask: Any = None,
    weights: Any = None,
) -> jax.Array:
    r"""Smallest λ for which the L1 solution is all zero: :math:`\|\nabla L(0)\|_\infty`.

    ``loss_fn(params) -> scalar`` is the data loss. The gradient is taken at
    ``params`` with every penalised leaf (``mask``) set to 0; unpenalised
    leaves (an intercept, say) keep the values given, so pass them at their
    optimum for the zero model (e.g. intercept = mean of y) for the exact
    value. ``weights`` are penalty factors: coordinates with factor 0 are
    free and ignored.

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> x = jnp.array([[1.0, 0.0], [0.0, 2.0]]); y = jnp.array([1.0, 1.0])
      >>> loss = lambda w: 0.5 * jnp.mean((y - x @ w) ** 2)
      >>> float(jaxreg.lambda_max_l1(loss, jnp.zeros(2)))   # max|Xᵀy|/n
      1.0
    """
    mask_full, _, weights_full = resolve_tree_args(params, mask, None, weights)
    zeroed = jax.tree.map(lambda p, m: jnp.zeros_like(p) if m else p, params, mask_full)
    grads = jax.grad(loss_fn)(zeroed)
    g_leaves = jax.tree.leaves(grads)
    m_leaves = jax.tree.leaves(mask_full)
    w_leaves = jax.tree.leaves(weights_full) if weights_full is not None else [None] * len(g_leaves)
    best = jnp.zeros((), jnp.float32)
    for g, m, om in zip(g_leaves, m_leaves, w_leaves):
        if not m:
            continue
        a = jnp.abs(g)
        if om is not None:
            om = jnp.broadcast_to(jnp.asarray(om, a.dtype), a.shape)
            a = jnp.where(om > 0, a / jnp.where(om > 0, om, 1), 0)
        best = jnp.maximum(best, jnp.max(a)) if a.size else best
    return best

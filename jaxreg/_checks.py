"""Argument checks shared by every public function.

Two kinds of values reach jaxreg:

* **Concrete** values (Python numbers, NumPy arrays, committed ``jax.Array``\\ s):
  checked at construction or first call; a bad one raises ``ValueError`` (or
  ``TypeError`` for a wrong kind of object) whose message names the argument
  and says what is accepted.
* **Traced** values (inside ``jax.jit``, ``jax.vmap``, ``jax.grad``): they have
  no value to check on the host. jaxreg never branches on them; instead
  :func:`nan_if_invalid` turns an invalid one (negative, NaN, inf, outside
  ``[0, 1]`` for ratios) into NaN, so the model trained with it ends NaN and is
  flagged ``finite=False`` by the sweep, never silently wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "broadcast_prefix",
    "check_center",
    "check_float_leaves",
    "check_hyperparam",
    "check_ratio",
    "check_schedule_or_scalar",
    "check_weights",
    "is_traced",
    "nan_if_invalid",
    "resolve_mask",
    "resolve_tree_args",
]


def is_traced(x: Any) -> bool:
    """True when ``x`` is a JAX tracer (no concrete value on the host)."""
    return isinstance(x, jax.core.Tracer)


def _concrete_array(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as e:
        raise TypeError(f"{name} must be a real number or array, got {type(x).__name__}") from e
    if arr.dtype.kind == "V" and jnp.issubdtype(arr.dtype, jnp.floating):  # bfloat16 (a NumPy extension dtype)
        arr = arr.astype(np.float32)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be a real number, got a value of dtype {arr.dtype}; "
            "pass a float such as 1e-3"
        )
    return arr


def check_hyperparam(x: Any, name: str, *, scalar: bool = True) -> Any:
    """Check a non-negative finite hyperparameter (λ, learning rate, ...).

    Concrete values must be finite and ``>= 0`` (and 0-d when ``scalar``);
    traced values pass through unchecked (see :func:`nan_if_invalid`).
    Returns ``x`` unchanged.
    """
    if x is None:
        raise TypeError(f"{name} is required: pass a non-negative float such as 1e-3")
    if is_traced(x):
        if scalar and jnp.ndim(x) != 0:
            raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(x)}")
        return x
    arr = _concrete_array(x, name)
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be a real number, got a boolean; pass a float such as 1e-3")
    if scalar and arr.ndim != 0:
        raise ValueError(
            f"{name} must be a scalar, got shape {arr.shape}; to train one model per value, "
            "vmap over a grid (jaxreg.sweep) instead of passing an array"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {x!r}; pass a non-negative float")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {x!r}; pass a non-negative float")
    return x


def check_ratio(x: Any, name: str) -> Any:
    """Check a mixing ratio such as ``l1_ratio``: finite and in ``[0, 1]``."""
    if x is None:
        raise TypeError(f"{name} is required: pass a float in [0, 1]")
    if is_traced(x):
        return x
    arr = _concrete_array(x, name)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"{name} must be in [0, 1] (0 = pure L2, 1 = pure L1), got {x!r}")
    return x


def check_schedule_or_scalar(x: Any, name: str) -> Any:
    """A learning rate: a non-negative float/array, or an optax schedule (callable)."""
    if callable(x):
        return x
    return check_hyperparam(x, name)


def nan_if_invalid(x: Any, *, upper: float | None = None) -> jax.Array:
    """``x`` where it is finite, ``>= 0`` (and ``<= upper``), NaN elsewhere.

    The traced counterpart of :func:`check_hyperparam`: it never branches on
    the value, survives ``jit``/``vmap`` and lets gradients through unchanged
    where ``x`` is valid.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    ok = jnp.isfinite(x) & (x >= 0)
    if upper is not None:
        ok = ok & (x <= upper)
    return jnp.where(ok, x, jnp.nan)


def resolve_mask(mask: Any, params: Any) -> Any:
    """The mask as a tree of Python bools with exactly the structure of ``params``.

    ``mask`` follows optax: ``None`` (everything), a tree of bools with the
    structure of ``params`` or a prefix of it, or a callable ``params -> tree``.
    """
    if mask is None:
        return jax.tree.map(lambda _: True, params)
    if _is_mask_fn(mask):
        mask = mask(params)
    full = broadcast_prefix(mask, params, "mask")

    def _as_bool(m):
        if is_traced(m):
            raise TypeError(
                "mask leaves must be static Python bools (True = regularize), got a traced "
                "value; build the mask outside jit, as optax.masked requires"
            )
        arr = np.asarray(m)
        if arr.ndim != 0 or arr.dtype.kind != "b":
            got = repr(m) if arr.ndim == 0 else f"an array of shape {arr.shape} and dtype {arr.dtype}"
            raise TypeError(
                f"mask leaves must be Python bools (True = regularize), got {got}; for "
                "per-element penalty factors use weights= instead"
            )
        return bool(arr)

    return jax.tree.map(_as_bool, full)


def _is_mask_fn(mask: Any) -> bool:
    """A mask given as a function ``params -> tree``: a callable that is itself a single leaf. A callable
    *pytree* (an ``equinox.Module`` of bools, which defines ``__call__``) is a tree of bools, not a function."""
    leaves = jax.tree.leaves(mask)
    return callable(mask) and len(leaves) == 1 and leaves[0] is mask


def broadcast_prefix(tree: Any, params: Any, name: str) -> Any:
    """Expand ``tree`` (same structure as ``params`` or a prefix of it) to full structure."""
    try:
        return jax.tree.map(
            lambda t, sub: jax.tree.map(lambda _: t, sub), tree, params,
        )
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"{name} must have the tree structure of the params (or a prefix of it); "
            f"{name} has structure {jax.tree.structure(tree)} but params have "
            f"{jax.tree.structure(params)}"
        ) from e


def check_center(center: Any, params: Any) -> None:
    """``center`` must have exactly the structure and leaf shapes of ``params``."""
    if jax.tree.structure(center) != jax.tree.structure(params):
        raise ValueError(
            "center must have exactly the tree structure of the params; center has "
            f"{jax.tree.structure(center)} but params have {jax.tree.structure(params)}"
        )
    for c, p in zip(jax.tree.leaves(center), jax.tree.leaves(params)):
        if jnp.shape(c) != jnp.shape(p):
            raise ValueError(
                f"center leaves must have the shapes of the params: got {jnp.shape(c)} "
                f"for a parameter of shape {jnp.shape(p)}"
            )


def check_weights(weights_full: Any, params: Any, *, shape_of: Callable[[Any], tuple] | None = None) -> None:
    """Penalty factors: real, finite, ``>= 0``, broadcastable to their leaf."""
    for w, p in zip(jax.tree.leaves(weights_full), jax.tree.leaves(params)):
        target = shape_of(p) if shape_of is not None else jnp.shape(p)
        try:
            joint = np.broadcast_shapes(jnp.shape(w), target)
        except ValueError as e:
            raise ValueError(
                f"weights leaves must broadcast to their parameter: got shape {jnp.shape(w)} "
                f"for a target of shape {target}; use a scalar per leaf or an array of that shape"
            ) from e
        if joint != tuple(target):
            raise ValueError(
                f"weights leaf of shape {jnp.shape(w)} would enlarge a parameter of shape {target}"
            )
        if not is_traced(w):
            check_hyperparam(w, "weights", scalar=False)


def check_float_leaves(params: Any, mask_full: Any, name: str = "params") -> None:
    """Regularized leaves must be real floating arrays (not int, bool or complex)."""
    for m, p in zip(jax.tree.leaves(mask_full), jax.tree.leaves(params)):
        if not m:
            continue
        dtype = jnp.result_type(p)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(
                f"{name} leaves that are regularized must be real floating arrays, got dtype "
                f"{dtype}; cast it with .astype(jnp.float32) or exclude it with mask="
            )


def resolve_tree_args(
    params: Any,
    mask: Any,
    center: Any,
    weights: Any,
    *,
    weights_shape_of: Callable[[Any], tuple] | None = None,
) -> tuple[Any, Any, Any]:
    """Check ``mask``/``center``/``weights`` against ``params`` and expand them.

    Returns ``(mask_full, center, weights_full)``: a tree of Python bools, the
    center (or ``None``) and the factors expanded to the params' structure (or
    ``None``). Raises ``ValueError`` naming the argument on any mismatch.
    """
    mask_full = resolve_mask(mask, params)
    check_float_leaves(params, mask_full)
    if center is not None:
        check_center(center, params)
    weights_full = None
    if weights is not None:
        weights_full = broadcast_prefix(weights, params, "weights")
        check_weights(weights_full, params, shape_of=weights_shape_of)
        # traced factors cannot raise: an invalid one (negative, NaN, inf) makes its results NaN, as λ does
        weights_full = jax.tree.map(lambda w: nan_if_invalid(w) if is_traced(w) else w, weights_full)
    return mask_full, center, weights_full

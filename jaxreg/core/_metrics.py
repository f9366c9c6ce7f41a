r"""Per-model metrics computed on device, inside the vmapped training.

For the penalised leaves (``mask``):

* ``sparsity``: fraction of exact zeros, :math:`\#\{w = 0\}/\#w`.
* ``near_zero``: fraction with :math:`|w| \le 10^{-6}\max|w|` (all of them when
  every weight is 0): what a plain sign step reaches instead of exact zeros.
* ``l1`` = :math:`\sum|w|`, ``l2`` = :math:`\sum w^2` (jaxreg's R values).
* ``finite``: every parameter is finite (a diverged model is ``False``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxreg._checks import resolve_mask

__all__ = ["weight_metrics", "all_finite", "NEAR_ZERO_RTOL"]

NEAR_ZERO_RTOL = 1e-6


def _selected(params: Any, mask: Any) -> list[jax.Array]:
    m = jax.tree.leaves(resolve_mask(mask, params))
    return [jnp.ravel(p) for p, keep in zip(jax.tree.leaves(params), m) if keep]


def weight_metrics(params: Any, mask: Any = None) -> dict[str, jax.Array]:
    """``sparsity``, ``near_zero``, ``l1``, ``l2`` of the penalised leaves."""
    leaves = _selected(params, mask)
    if not leaves:
        z = jnp.zeros((), jnp.float32)
        return {"sparsity": z, "near_zero": z, "l1": z, "l2": z}
    w = jnp.concatenate([leaf.astype(jnp.float32) for leaf in leaves])
    a = jnp.abs(w)
    return {
        "sparsity": jnp.mean(w == 0),
        "near_zero": jnp.mean(a <= NEAR_ZERO_RTOL * jnp.max(a)),
        "l1": jnp.sum(a),
        "l2": jnp.sum(w * w),
    }


def all_finite(tree: Any) -> jax.Array:
    """``True`` when every leaf of ``tree`` is finite."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)

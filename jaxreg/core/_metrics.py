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

#: ``near_zero`` counts the weights with ``|w| <= NEAR_ZERO_RTOL * max|w|``: within rounding of zero for a
#: sign step's iterates, far below any weight that matters.
NEAR_ZERO_RTOL = 1e-6


def _selected(params: Any, mask: Any) -> list[jax.Array]:
    m = jax.tree.leaves(resolve_mask(mask, params))
    return [jnp.ravel(p) for p, keep in zip(jax.tree.leaves(params), m) if keep]


def weight_metrics(params: Any, mask: Any = None) -> dict[str, jax.Array]:
    r"""``sparsity``, ``near_zero``, ``l1``, ``l2`` of the penalised leaves (the module's formulas).

    .. math::

       \text{sparsity} = \frac{\#\{w = 0\}}{\#w}, \quad
       \text{near\_zero} = \frac{\#\{|w| \le 10^{-6}\max|w|\}}{\#w}, \quad
       l_1 = \sum|w|, \quad l_2 = \sum w^2

    Args:
      params: the parameter pytree.
      mask: optax-style mask, ``True`` = count this leaf (the penalised ones).

    Returns:
      A dict of float32 scalars (0 for every metric when nothing is selected).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.core import weight_metrics
      >>> params = {"w": jnp.array([0.0, -2.0, 1e-9, 1.0]), "b": jnp.array([5.0])}
      >>> m = weight_metrics(params, mask={"w": True, "b": False})
      >>> {k: float(v) for k, v in m.items()}
      {'sparsity': 0.25, 'near_zero': 0.5, 'l1': 3.0, 'l2': 5.0}
    """
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
    """``True`` when every entry of every leaf of ``tree`` is finite (a traced bool; ``True`` for no leaves).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.core import all_finite
      >>> bool(all_finite({"w": jnp.array([1.0, 2.0])})), bool(all_finite({"w": jnp.array([1.0, jnp.nan])}))
      (True, False)
    """
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)

"""Ready-made masks: penalise the weight matrices, not the biases or normalisation scales.

A mask is passed as ``mask=`` to every jaxreg transform and penalty (optax's convention: True =
regularise). :func:`weights_mask` is a *function* of the params, so pass it uncalled
(``mask=jaxreg.weights_mask``): it is then applied to whatever tree the optimizer hands over, which
matters for flax nnx, where ``nnx.Optimizer`` initialises with a tree of ``nnx.Param`` nodes but updates
with a tree of plain arrays (a mask tree built from one does not match the other).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["weights_mask", "WEIGHT_MIN_NDIM"]

#: Leaves with at least this many dimensions are weights (matrices, conv kernels, embeddings); vectors and
#: scalars (biases, LayerNorm/BatchNorm scales and offsets) are not penalised by default.
WEIGHT_MIN_NDIM = 2


def weights_mask(params: Any, *, exclude: Sequence[str] = ()) -> Any:
    """True for the weight matrices of ``params``, False for biases and normalisation parameters.

    A leaf is penalised when it has at least :data:`WEIGHT_MIN_NDIM` dimensions and none of the
    ``exclude`` substrings occurs in its key path (``jax.tree_util.keystr``, e.g. ``"['embed']['embedding']"``).
    Works on any pytree: raw dicts, flax linen's ``{"params": ...}``, flax nnx ``State`` (and inside
    ``nnx.Optimizer``), equinox modules (non-array leaves, such as activation functions, are False).

    Args:
      params: the parameter pytree.
      exclude: key-path substrings of leaves never to penalise (e.g. ``("embedding",)``). To pass it as a mask
        function, bind it: ``functools.partial(jaxreg.weights_mask, exclude=("embedding",))``.

    Returns:
      A tree of Python bools with the structure of ``params``.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> params = {"dense": {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)}, "norm": {"scale": jnp.ones(2)}}
      >>> jaxreg.weights_mask(params)
      {'dense': {'bias': False, 'kernel': True}, 'norm': {'scale': False}}
      >>> tx = optax.chain(jaxreg.add_l2_decay(0.01, mask=jaxreg.weights_mask), optax.sgd(0.1))
    """
    if isinstance(exclude, str):
        raise ValueError(f"exclude must be a sequence of key-path substrings, e.g. ({exclude!r},), not a string")

    def leaf(path, x):
        if not hasattr(x, "shape") or jnp.ndim(x) < WEIGHT_MIN_NDIM:
            return False
        key = jax.tree_util.keystr(path)
        return not any(s in key for s in exclude)

    return jax.tree_util.tree_map_with_path(leaf, params)

"""Ready-made masks: penalise the weight matrices, not the biases or normalisation scales.

A mask is passed as ``mask=`` to every jaxreg transform and penalty (optax's convention: True =
regularise). :func:`weights_mask` is a *function* of the params, so pass it uncalled
(``mask=jaxreg.weights_mask``): it is then applied to whatever tree the optimizer hands over, which
matters for flax nnx, where ``nnx.Optimizer`` initialises with a tree of ``nnx.Param`` nodes but updates
with a tree of plain arrays (a mask tree built from one does not match the other).

Two rules decide, because rank alone cannot: stacking layers (flax linen ``nn.scan``, nnx ``vmap`` /
``scan`` over layers, equinox ``filter_vmap`` of a constructor) adds a leading axis, which makes a
stacked bias or LayerNorm scale two-dimensional. So a leaf whose own name is one of
``bias``, ``offset`` (shifts: flax, equinox, haiku), ``scale`` (normalisation scales: flax,
haiku), ``mean`` or ``var`` (flax BatchNorm statistics) is never a weight, whatever its rank; and
``stacked_axes=`` discounts leading stacked axes for the one case no name can tell apart, equinox's
LayerNorm ``weight`` (a vector) against a Linear ``weight`` (a matrix). Short names such as haiku's
``b`` are not in the list: in a raw or LoRA-style tree ``{"a": (d, r), "b": (r, d)}`` a ``b`` is a
matrix to penalise, and haiku's unstacked bias ``b`` is a vector, which the rank rule already leaves out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["weights_mask", "WEIGHT_MIN_NDIM"]

#: Leaves with at least this many dimensions (after ``stacked_axes``) are weights (matrices, conv kernels,
#: embeddings); vectors and scalars (biases, LayerNorm/BatchNorm scales and offsets) are not penalised by default.
WEIGHT_MIN_NDIM = 2

#: Leaf names that are never weights, whatever their rank (the module docstring lists where each comes from).
_NOT_WEIGHT_NAMES = frozenset({"bias", "offset", "scale", "mean", "var"})

#: Attribute names of variable wrappers (flax nnx ``Variable``), skipped to reach the name of the parameter.
_WRAPPER_ATTRS = frozenset({"value", "raw_value"})


def weights_mask(params: Any, *, exclude: Sequence[str] = (), stacked_axes: int = 0) -> Any:
    """True for the weight matrices of ``params``, False for biases and normalisation parameters.

    A leaf is penalised when (1) its name (the last key of its path: ``"kernel"``, ``"bias"``, an equinox
    attribute) is not ``bias``, ``offset``, ``scale``, ``mean`` or ``var`` (not ``b``: a LoRA factor
    ``b`` is a matrix; haiku's bias ``b`` is a vector, left out by rule (2)); (2) it has at least
    :data:`WEIGHT_MIN_NDIM` dimensions besides its first ``stacked_axes``; (3) none of the ``exclude``
    substrings occurs in its key path (``jax.tree_util.keystr``, e.g. ``"['embed']['embedding']"``).
    Works on any pytree: raw dicts, flax linen's ``{"params": ...}``, flax nnx ``State`` (and inside
    ``nnx.Optimizer``), equinox modules (non-array leaves, such as activation functions, are False).

    Args:
      params: the parameter pytree.
      exclude: key-path substrings of leaves never to penalise (e.g. ``("embedding",)``). To pass it as a mask
        function, bind it: ``functools.partial(jaxreg.weights_mask, exclude=("embedding",))``.
      stacked_axes: leading axes that stack layers, not counted in rule (2). Needed for equinox layers stacked
        with ``eqx.filter_vmap`` (``stacked_axes=1``: a stacked LayerNorm ``weight`` of shape ``(layers, d)``
        is then a vector); flax names its scales ``scale``, so rule (1) covers ``nn.scan`` and nnx stacks. It
        applies to every leaf: for a model with stacked and unstacked layers, build the stack's part of the
        mask on its own (e.g. ``eqx.tree_at(lambda m: m.blocks, mask, weights_mask(model.blocks,
        stacked_axes=1))``).

    Returns:
      A tree of Python bools with the structure of ``params``.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> params = {"dense": {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)}, "norm": {"scale": jnp.ones(2)}}
      >>> jaxreg.weights_mask(params)
      {'dense': {'bias': False, 'kernel': True}, 'norm': {'scale': False}}
      >>> stacked = {"kernel": jnp.ones((4, 3, 3)), "bias": jnp.ones((4, 3)), "scale": jnp.ones((4, 3))}
      >>> jaxreg.weights_mask(stacked)   # 4 layers stacked (nn.scan): names decide, not ranks
      {'bias': False, 'kernel': True, 'scale': False}
      >>> tx = optax.chain(jaxreg.add_l2_decay(0.01, mask=jaxreg.weights_mask), optax.sgd(0.1))
    """
    if isinstance(exclude, str):
        raise ValueError(f"exclude must be a sequence of key-path substrings, e.g. ({exclude!r},), not a string")
    if isinstance(stacked_axes, bool) or not isinstance(stacked_axes, int) or stacked_axes < 0:
        raise ValueError(f"stacked_axes must be an int >= 0 (the leading axes that stack layers, e.g. 1 for "
                         f"equinox layers made with eqx.filter_vmap), got {stacked_axes!r}")

    def leaf(path, x):
        if not hasattr(x, "shape") or jnp.ndim(x) - stacked_axes < WEIGHT_MIN_NDIM:
            return False
        if _leaf_name(path) in _NOT_WEIGHT_NAMES:
            return False
        key = jax.tree_util.keystr(path)
        return not any(s in key for s in exclude)

    return jax.tree_util.tree_map_with_path(leaf, params)


def _leaf_name(path: tuple) -> str | None:
    """The parameter's own name: the last dict key or attribute of ``path``, past nnx's ``.value``."""
    for entry in reversed(path):
        if isinstance(entry, jax.tree_util.DictKey):
            return str(entry.key)
        if isinstance(entry, jax.tree_util.GetAttrKey):
            if entry.name not in _WRAPPER_ATTRS:
                return entry.name
            continue
        return None  # a sequence index: the leaf is an element of a list, not a named parameter
    return None

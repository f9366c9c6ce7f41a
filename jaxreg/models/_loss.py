"""The models' data loss, computed where it runs fastest: the GPU kernel, the CPU layout, or the formula."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxreg.models import _fused as kernel, _samples_minor as samples_minor
from jaxreg.models._reference import LAYOUTS, check_compute_dtype, reference_loss

__all__ = ["data_loss"]


def data_loss(task: str, params: dict, x: jax.Array, y: jax.Array, sample_weight: jax.Array | None = None, *,
              compute_dtype: Any = None, fused: bool | None = None, layout: str | None = None):
    """Mean cross-entropy or half MSE, weighted by ``sample_weight`` when given.

    ``compute_dtype`` (e.g. ``jnp.bfloat16``) runs the forward pass in that dtype
    (see :func:`predict`); the loss itself is computed in float32 and its
    gradient with respect to float32 params is float32. ``None``: the params' dtype.

    ``layout``: how the activations are laid out, the same loss and gradient either way (up to
    float rounding). ``"samples_major"``: as :func:`predict`, ``(n, hidden)`` and ``(n, classes)``,
    gradient by ``jax.grad``. ``"samples_minor"``: transposed, ``(hidden, n)`` and
    ``(classes, n)``, with a hand-written gradient whose matmuls XLA's CPU backend runs on its
    fast path (:mod:`jaxreg.samples_minor`; forward and reverse mode and higher orders work);
    with a ``compute_dtype`` that casts it falls back to ``"samples_major"``. ``None`` (default):
    ``"samples_minor"`` for classification on CPU, ``"samples_major"`` elsewhere. Measured on the
    2-core CPU (one training step of one model, XLA, float32; unbatched / ``vmap`` of 8): MLP
    classifier on digits 1797 × 64, hidden 8 521 → 232 / 429 → 223 µs, hidden 128 3.76 → 2.92 /
    4.50 → 3.11 ms; logistic 689 → 233 µs unbatched; MLP regression on diabetes 442 × 10,
    hidden 32: 46 → 65 µs unbatched (slower: why regression keeps ``"samples_major"``) but
    77 → 58 µs under ``vmap``.

    ``fused``: the MLP classifier's loss and gradient from one GPU kernel
    (:func:`jaxreg.models._fused.mlp_cross_entropy`: the activations never reach memory; the
    same values up to float rounding). ``None`` (default): where
    :func:`jaxreg.models._fused.kernel_applies` (a CUDA GPU, W1 small enough), for float32 MLP
    params and compute_dtype None or bfloat16; ``True``: always (a GPU is needed);
    ``False``: never.
    """
    if fused is not None and not isinstance(fused, bool):
        raise ValueError(f"fused must be None (on a GPU when it applies), True or False, got {fused!r}")
    if layout not in (None, *LAYOUTS):
        raise ValueError(f"layout must be None (samples_minor for classification on CPU) or one of "
                         f"{', '.join(LAYOUTS)}, got {layout!r}")
    dt = check_compute_dtype(compute_dtype)
    if fused is not False and task == "classification" and "w1" in params:
        usable = (dt is None or dt == jnp.bfloat16) and all(
            jnp.result_type(p) == jnp.float32 for p in jax.tree.leaves(params))
        if fused or (usable and jax.default_backend() == "gpu"):
            if fused or kernel.kernel_applies(params, x):
                return kernel.mlp_cross_entropy(params, x, y, sample_weight, compute_dtype=dt, backend="pallas")
    if layout is None:
        layout = "samples_minor" if task == "classification" and jax.default_backend() == "cpu" else "samples_major"
    no_cast = dt is None or all(jnp.result_type(a) == dt for a in (x, *jax.tree.leaves(params)))
    if layout == "samples_minor" and no_cast:
        return samples_minor.data_loss(task, params, x, y, sample_weight)  # (no cast to compute_dtype)
    return reference_loss(task, params, x, y, sample_weight, compute_dtype=compute_dtype)

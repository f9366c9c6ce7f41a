"""The models' data loss, computed where it runs fastest: the GPU kernel, the CPU layout, or the formula."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxreg.models import _fused as kernel, _samples_minor as samples_minor
from jaxreg.models._kernel_config import KernelConfig, resolve_config
from jaxreg.models._reference import LAYOUTS, check_compute_dtype, reference_loss

__all__ = ["data_loss"]


def _uses_kernel(task: str, params: dict, x: Any, dt: jnp.dtype | None, fused: bool | None,
                 config: KernelConfig) -> bool:
    """``fused=True``; or ``None`` with the MLP classifier, float32 params, a compute dtype the kernel
    has (None or bfloat16) and :func:`~jaxreg.models.kernel_applies` (a CUDA GPU, small enough W1)."""
    if fused is False or task != "classification" or "w1" not in params:
        return False
    if fused:
        return True
    usable = (dt is None or dt == jnp.bfloat16) and all(
        jnp.result_type(p) == jnp.float32 for p in jax.tree.leaves(params))
    return usable and jax.default_backend() == "gpu" and kernel.kernel_applies(params, x, config)


def data_loss(task: str, params: dict, x: jax.Array, y: jax.Array, sample_weight: jax.Array | None = None, *,
              compute_dtype: Any = None, fused: bool | None = None, layout: str | None = None,
              kernel_config: KernelConfig | None = None):
    r"""Mean cross-entropy or half MSE, weighted by ``sample_weight``: :func:`~jaxreg.models.reference_loss`.

    .. math::
        L = \sum_i \omega_i \ell_i,\quad
        \ell_i = \operatorname{logsumexp}(\hat y_i) - \hat y_{i,y_i}\ \text{(classification)}
        \ \text{or}\ \tfrac12 (\hat y_i - y_i)^2\ \text{(regression)},\quad
        \omega_i = \frac{s_i}{\max(\sum_j s_j, 10^{-12})}\ (\text{default } 1/n)

    with :math:`\hat y` = :func:`~jaxreg.models.predict`'s outputs. The same value and gradient whichever way it is
    computed (up to float rounding); what changes is the speed.

    Args:
      task: ``"classification"`` (integer labels) or ``"regression"`` (float targets, one output).
      params: :func:`~jaxreg.models.init_params`' dict.
      x: inputs ``(n, d)``.
      y: labels or targets ``(n,)``.
      sample_weight: optional ``(n,)`` non-negative weights :math:`s_i`.
      compute_dtype: e.g. ``jnp.bfloat16`` runs the forward pass in that dtype (see :func:`~jaxreg.models.predict`);
        the loss itself is computed in float32 and its gradient with respect to float32 params is
        float32. ``None``: the params' dtype.
      fused: the MLP classifier's loss and gradient from one GPU kernel (:func:`~jaxreg.models.mlp_cross_entropy`:
        the activations never reach memory). ``None`` (default): where :func:`~jaxreg.models.kernel_applies`, for
        float32 MLP params and compute_dtype None or bfloat16; ``True``: always (a GPU is needed);
        ``False``: never.
      layout: how the activations are laid out. ``"samples_major"``: as :func:`~jaxreg.models.predict`,
        ``(n, hidden)`` and ``(n, classes)``, gradient by ``jax.grad``. ``"samples_minor"``:
        transposed, ``(hidden, n)`` and ``(classes, n)``, with a hand-written gradient whose matmuls
        XLA's CPU backend runs on its fast path (forward and reverse mode and higher orders work);
        with a ``compute_dtype`` that casts it falls back to ``"samples_major"``. ``None``
        (default): ``"samples_minor"`` for classification on CPU, ``"samples_major"`` elsewhere
        (for regression the transposes cost more than they save).
      kernel_config: the kernel's launch configuration (:class:`~jaxreg.models.KernelConfig`); ``None``: the defaults.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxreg.models import data_loss, init_params
      >>> p = init_params("logistic", jax.random.key(0), 3, 2)  # zeros: every class equally likely
      >>> x, y = jnp.ones((4, 3)), jnp.array([0, 1, 1, 0])
      >>> round(float(data_loss("classification", p, x, y)), 4)  # log 2
      0.6931
      >>> round(float(data_loss("classification", p, x, y, layout="samples_major")), 4)
      0.6931
    """
    if fused is not None and not isinstance(fused, bool):
        raise ValueError(f"fused must be None (on a GPU when it applies), True or False, got {fused!r}")
    if layout not in (None, *LAYOUTS):
        raise ValueError(f"layout must be None (samples_minor for classification on CPU) or one of "
                         f"{', '.join(LAYOUTS)}, got {layout!r}")
    config = resolve_config(kernel_config, "kernel_config")
    dt = check_compute_dtype(compute_dtype)
    if _uses_kernel(task, params, x, dt, fused, config):
        return kernel.mlp_cross_entropy(params, x, y, sample_weight, compute_dtype=dt, backend="pallas",
                                        config=config)
    if layout is None:
        layout = "samples_minor" if task == "classification" and jax.default_backend() == "cpu" else "samples_major"
    no_cast = dt is None or all(jnp.result_type(a) == dt for a in (x, *jax.tree.leaves(params)))
    if layout == "samples_minor" and no_cast:
        return samples_minor.data_loss(task, params, x, y, sample_weight)  # (no cast to compute_dtype)
    return reference_loss(task, params, x, y, sample_weight, compute_dtype=compute_dtype)

"""Tiny reference models (linear, logistic, MLP) and the kernels that compute their loss faster.

Params are plain dicts (:func:`init_params`; weight matrices ``w*``, biases ``b*``);
:func:`data_loss` dispatches to the GPU kernel (:func:`mlp_cross_entropy`, launched as a
:class:`KernelConfig` says), the CPU samples-minor layout, or the formula
(:func:`reference_loss`), which the kernels are tested against. Design notes:
``docs/design/gpu-kernel.md`` and ``docs/design/cpu-layout.md``.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from jaxreg import models
  >>> models.MODELS, models.LAYOUTS
  (('linear', 'logistic', 'mlp'), ('samples_major', 'samples_minor'))
  >>> p = models.init_params("mlp", jax.random.key(0), 4, 3, hidden=8)
  >>> x, y = jax.random.normal(jax.random.key(1), (6, 4)), jnp.array([0, 1, 2, 0, 1, 2])
  >>> bool(jnp.allclose(models.data_loss("classification", p, x, y),
  ...                   models.reference_loss("classification", p, x, y)))
  True
"""

from jaxreg.models._fused import (
    BACKENDS as BACKENDS,
    kernel_applies as kernel_applies,
    kernel_available as kernel_available,
    kernel_hbm_bytes as kernel_hbm_bytes,
    mlp_cross_entropy as mlp_cross_entropy,
)
from jaxreg.models._kernel_config import KernelConfig as KernelConfig
from jaxreg.models._loss import data_loss as data_loss
from jaxreg.models._reference import (
    COMPUTE_DTYPES as COMPUTE_DTYPES,
    LAYOUTS as LAYOUTS,
    MODELS as MODELS,
    accuracy as accuracy,
    check_compute_dtype as check_compute_dtype,
    init_params as init_params,
    predict as predict,
    reference_loss as reference_loss,
    weight_mask as weight_mask,
)

__all__ = [
    "MODELS", "COMPUTE_DTYPES", "LAYOUTS", "check_compute_dtype", "init_params", "predict", "weight_mask",
    "data_loss", "reference_loss", "accuracy",
    "mlp_cross_entropy", "kernel_available", "kernel_applies", "kernel_hbm_bytes", "BACKENDS",
    "KernelConfig",
]

"""Tiny reference models (linear, logistic, MLP) and the kernels that compute their loss faster.

Params are plain dicts; :func:`data_loss` dispatches to the GPU kernel
(:func:`mlp_cross_entropy`), the CPU samples-minor layout, or the formula
(:func:`reference_loss`), which the kernels are tested against.
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

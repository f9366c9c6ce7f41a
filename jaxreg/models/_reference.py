"""Tiny pure models for the CLI and the experiments: linear, logistic, MLP.

Params are plain dicts; weight matrices are named ``w*`` and biases ``b*``.
:func:`weight_mask` selects the matrices (the usual choice: do not penalise
biases). Losses are the data loss only; the penalty lives in the optimizer.

* ``linear``: ``x @ w + b``, regression, half mean squared error
  ``1/(2n) Σ (y − ŷ)²`` (sklearn Lasso's scaling, so its ``alpha`` is our λ).
* ``logistic``: ``softmax(x @ w + b)``, classification, mean cross-entropy.
* ``mlp``: one ReLU hidden layer; regression or classification as above.

Mixed precision (opt-in): ``predict``, ``data_loss`` and ``accuracy`` take
``compute_dtype`` (``None``, the default, computes in the params' dtype: plain
float32, nothing is cast). With e.g. ``compute_dtype=jnp.bfloat16`` the forward
pass runs in that dtype and only the outputs come back in float32::

    x̃ = cast(x), p̃ = cast(p)                       (cast = astype(compute_dtype))
    h = relu(x̃ @ w̃1 + b̃1),  out = float32(h @ w̃2 + b̃2)    (linear: float32(x̃ @ w̃ + b̃))
    loss = cross-entropy / half MSE of out, in float32

The params, the optimizer state and the loss stay float32; the matmuls and
activations are bfloat16, forward and backward. ``jax.grad`` of the loss with
respect to float32 params is float32 (the transpose of a cast is the cast back),
so optax sees float32 gradients and updates float32 params. On a GPU, :func:`data_loss` of the
MLP classifier runs its forward and backward in one kernel (:mod:`jaxreg.fused`; ``fused=False``
opts out); on a CPU, classification losses run with samples on the minor axis and a hand-written
gradient (:mod:`jaxreg.samples_minor`, 1.2–3× faster there; ``layout="samples_major"`` opts out). Accepted:
:data:`COMPUTE_DTYPES` as dtypes or names (``"bfloat16"``, ``jnp.bfloat16``, ...).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["MODELS", "COMPUTE_DTYPES", "LAYOUTS", "check_compute_dtype", "init_params", "predict", "weight_mask",
           "reference_loss", "accuracy"]

MODELS = ("linear", "logistic", "mlp")
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")
#: :func:`data_loss`'s activation layouts (``layout=``).
LAYOUTS = ("samples_major", "samples_minor")


def _check_model(model: str, task: str) -> None:
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if model == "linear" and task == "classification":
        raise ValueError("model 'linear' is least squares for regression; use 'logistic' or 'mlp' for classes")
    if model == "logistic" and task == "regression":
        raise ValueError("model 'logistic' needs class labels; use 'linear' or 'mlp' for a regression target")


def init_params(model: str, key: jax.Array, n_features: int, n_outputs: int, *, hidden: int = 64,
                task: str | None = None) -> dict:
    """Initial params: zeros for linear/logistic, He-normal hidden layer for the MLP."""
    if task is not None:
        _check_model(model, task)
    elif model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if model in ("linear", "logistic"):
        return {"w": jnp.zeros((n_features, n_outputs)), "b": jnp.zeros((n_outputs,))}
    if hidden < 1:
        raise ValueError(f"hidden must be >= 1, got {hidden}")
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (n_features, hidden)) * jnp.sqrt(2.0 / n_features),
        "b1": jnp.zeros((hidden,)),
        "w2": jax.random.normal(k2, (hidden, n_outputs)) * jnp.sqrt(1.0 / hidden),
        "b2": jnp.zeros((n_outputs,)),
    }


def check_compute_dtype(compute_dtype: Any) -> jnp.dtype | None:
    """``None`` or one of :data:`COMPUTE_DTYPES` (a dtype or its name) as a ``jnp.dtype``; else ``ValueError``."""
    if compute_dtype is None:
        return None
    try:
        dt = jnp.dtype(compute_dtype)
    except (TypeError, ValueError):
        dt = None
    if dt is None or dt.name not in COMPUTE_DTYPES:
        raise ValueError(
            f"compute_dtype must be None or one of {', '.join(COMPUTE_DTYPES)}, got {compute_dtype!r}"
        )
    return dt


def predict(params: dict, x: jax.Array, *, compute_dtype: Any = None) -> jax.Array:
    """Outputs ``(n, n_outputs)``: logits for classification, predictions for regression.

    ``compute_dtype=None`` computes in the params' dtype. With e.g. ``jnp.bfloat16``
    ``x`` and every param are cast to it, the hidden layer and the outputs are
    computed in it, and the outputs are returned as float32.
    """
    dt = check_compute_dtype(compute_dtype)
    if dt is not None:
        params = jax.tree.map(lambda p: jnp.asarray(p).astype(dt), params)
        x = jnp.asarray(x).astype(dt)
    if "w1" in params:
        h = jax.nn.relu(x @ params["w1"] + params["b1"])
        out = h @ params["w2"] + params["b2"]
    else:
        out = x @ params["w"] + params["b"]
    return out if dt is None else out.astype(jnp.float32)


def weight_mask(params: Any) -> Any:
    """``True`` for weight matrices (``ndim >= 2``), ``False`` for biases."""
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def _per_sample(task: str, out: jax.Array, y: jax.Array) -> jax.Array:
    if task == "classification":
        return optax.softmax_cross_entropy_with_integer_labels(out, y)
    return 0.5 * jnp.square(out[:, 0] - y)


def reference_loss(task: str, params: dict, x: jax.Array, y: jax.Array, sample_weight: jax.Array | None = None,
                   *, compute_dtype: Any = None) -> jax.Array:
    """The data loss by its formula: mean cross-entropy or half MSE of :func:`predict`'s outputs.

    Weighted by ``sample_weight`` when given; ``compute_dtype`` as in :func:`predict`. The kernels
    (:mod:`jaxreg.models._fused`, :mod:`jaxreg.models._samples_minor`) are tested against it.
    """
    per = _per_sample(task, predict(params, x, compute_dtype=compute_dtype), y)
    if sample_weight is None:
        return jnp.mean(per)
    return jnp.sum(per * sample_weight) / jnp.maximum(jnp.sum(sample_weight), 1e-12)


def accuracy(params: dict, x: jax.Array, y: jax.Array, sample_weight: jax.Array | None = None, *,
             compute_dtype: Any = None):
    """Fraction of correct argmax predictions (weighted when ``sample_weight`` is given).

    ``compute_dtype``: the dtype of the forward pass, as in :func:`predict`.
    """
    hit = (jnp.argmax(predict(params, x, compute_dtype=compute_dtype), axis=-1) == y).astype(jnp.float32)
    if sample_weight is None:
        return jnp.mean(hit)
    return jnp.sum(hit * sample_weight) / jnp.maximum(jnp.sum(sample_weight), 1e-12)

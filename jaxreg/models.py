"""Tiny pure models for the CLI and the experiments: linear, logistic, MLP.

Params are plain dicts; weight matrices are named ``w*`` and biases ``b*``.
:func:`weight_mask` selects the matrices (the usual choice: do not penalise
biases). Losses are the data loss only; the penalty lives in the optimizer.

* ``linear``: ``x @ w + b``, regression, half mean squared error
  ``1/(2n) Σ (y − ŷ)²`` (sklearn Lasso's scaling, so its ``alpha`` is our λ).
* ``logistic``: ``softmax(x @ w + b)``, classification, mean cross-entropy.
* ``mlp``: one ReLU hidden layer; regression or classification as above.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["MODELS", "init_params", "predict", "weight_mask", "data_loss", "accuracy"]

MODELS = ("linear", "logistic", "mlp")


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


def predict(params: dict, x: jax.Array) -> jax.Array:
    """Outputs ``(n, n_outputs)``: logits for classification, predictions for regression."""
    if "w1" in params:
        h = jax.nn.relu(x @ params["w1"] + params["b1"])
        return h @ params["w2"] + params["b2"]
    return x @ params["w"] + params["b"]


def weight_mask(params: Any) -> Any:
    """``True`` for weight matrices (``ndim >= 2``), ``False`` for biases."""
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def _per_sample(task: str, out: jax.Array, y: jax.Array) -> jax.Array:
    if task == "classification":
        return optax.softmax_cross_entropy_with_integer_labels(out, y)
    return 0.5 * jnp.square(out[:, 0] - y)


def data_loss(task: str, params: dict, x: jax.Array, y: jax.Array, sample_weight: jax.Array | None = None):
    """Mean cross-entropy or half MSE, weighted by ``sample_weight`` when given."""
    per = _per_sample(task, predict(params, x), y)
    if sample_weight is None:
        return jnp.mean(per)
    return jnp.sum(per * sample_weight) / jnp.maximum(jnp.sum(sample_weight), 1e-12)


def accuracy(params: dict, x: jax.Array, y: jax.Array, sample_weight: jax.Array | None = None):
    """Fraction of correct argmax predictions (weighted when ``sample_weight`` is given)."""
    hit = (jnp.argmax(predict(params, x), axis=-1) == y).astype(jnp.float32)
    if sample_weight is None:
        return jnp.mean(hit)
    return jnp.sum(hit * sample_weight) / jnp.maximum(jnp.sum(sample_weight), 1e-12)

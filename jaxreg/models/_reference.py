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
so optax sees float32 gradients and updates float32 params. On a GPU,
:func:`jaxreg.models.data_loss` of the MLP classifier runs its forward and backward in one kernel
(:func:`jaxreg.models.mlp_cross_entropy`; ``fused=False`` opts out); on a CPU, classification
losses run with samples on the minor axis and a hand-written gradient, the layout XLA's CPU
backend runs fastest (``layout="samples_major"`` opts out). Accepted: :data:`COMPUTE_DTYPES` as
dtypes or names (``"bfloat16"``, ``jnp.bfloat16``, ...).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["MODELS", "COMPUTE_DTYPES", "LAYOUTS", "check_compute_dtype", "init_params", "predict", "weight_mask",
           "reference_loss", "accuracy"]

#: The models :func:`init_params` builds: ``x W + b`` (``"linear"``, ``"logistic"``) or one ReLU hidden layer.
MODELS = ("linear", "logistic", "mlp")
#: The ``compute_dtype`` values :func:`predict`, :func:`data_loss` and :func:`accuracy` accept (or ``None``).
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")
#: :func:`data_loss`'s activation layouts (``layout=``).
LAYOUTS = ("samples_major", "samples_minor")
#: The floor of Σ sample_weight in the weighted mean, so that all-zero weights give 0 rather than NaN.
WEIGHT_SUM_FLOOR = 1e-12


def _check_model(model: str, task: str) -> None:
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if model == "linear" and task == "classification":
        raise ValueError("model 'linear' is least squares for regression; use 'logistic' or 'mlp' for classes")
    if model == "logistic" and task == "regression":
        raise ValueError("model 'logistic' needs class labels; use 'linear' or 'mlp' for a regression target")


def init_params(model: str, key: jax.Array, n_features: int, n_outputs: int, *, hidden: int = 64,
                task: str | None = None) -> dict:
    r"""Initial params: zeros for linear/logistic, a He-normal hidden layer for the MLP.

    .. math::
        W = 0,\ b = 0\ \text{(linear, logistic)};\qquad
        W_1 \sim \mathcal N(0, 2/d),\ b_1 = 0,\ W_2 \sim \mathcal N(0, 1/h),\ b_2 = 0\ \text{(MLP)}

    Args:
      model: one of :data:`MODELS`.
      key: a PRNG key (used by the MLP only).
      n_features: :math:`d`, the columns of ``x``.
      n_outputs: classes, or 1 for regression.
      hidden: :math:`h`, the MLP's hidden units.
      task: ``"classification"`` or ``"regression"`` to check that the model fits it (``None``: no check).

    Example:
      >>> import jax
      >>> from jaxreg.models import init_params
      >>> p = init_params("mlp", jax.random.key(0), 3, 2, hidden=4)
      >>> {k: v.shape for k, v in p.items()}
      {'w1': (3, 4), 'b1': (4,), 'w2': (4, 2), 'b2': (2,)}
      >>> sorted(init_params("linear", jax.random.key(0), 3, 1))
      ['b', 'w']
    """
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
    """``None`` or one of :data:`COMPUTE_DTYPES` (a dtype or its name) as a ``jnp.dtype``; else ``ValueError``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.models import check_compute_dtype
      >>> check_compute_dtype("bfloat16") == jnp.bfloat16, check_compute_dtype(None)
      (True, None)
      >>> check_compute_dtype("int8")
      Traceback (most recent call last):
      ...
      ValueError: compute_dtype must be None or one of float32, bfloat16, float16, got 'int8'
    """
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
    r"""Outputs ``(n, n_outputs)``: logits for classification, predictions for regression.

    .. math::
        \hat y = x W + b\ \text{(linear, logistic)},\qquad
        \hat y = \operatorname{relu}(x W_1 + b_1) W_2 + b_2\ \text{(MLP)}

    ``compute_dtype=None`` computes in the params' dtype. With e.g. ``jnp.bfloat16``
    ``x`` and every param are cast to it, the hidden layer and the outputs are
    computed in it, and the outputs are returned as float32.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.models import predict
      >>> p = {"w": jnp.array([[2.0], [0.5]]), "b": jnp.array([1.0])}
      >>> predict(p, jnp.array([[1.0, 2.0]])).tolist()  # 1·2 + 2·0.5 + 1
      [[4.0]]
      >>> predict(p, jnp.array([[1.0, 2.0]]), compute_dtype="bfloat16").dtype  # float32 outputs
      dtype('float32')
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
    """``True`` for weight matrices (``ndim >= 2``), ``False`` for biases: the usual penalty mask.

    Example:
      >>> import jax
      >>> from jaxreg.models import init_params, weight_mask
      >>> weight_mask(init_params("logistic", jax.random.key(0), 3, 2))
      {'b': False, 'w': True}
    """
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def _per_sample(task: str, out: jax.Array, y: jax.Array) -> jax.Array:
    if task == "classification":
        return optax.softmax_cross_entropy_with_integer_labels(out, y)
    return 0.5 * jnp.square(out[:, 0] - y)


def _weighted_mean(values: jax.Array, sample_weight: jax.Array | None) -> jax.Array:
    """Σ_i ω_i v_i with ω_i = 1/n, or s_i / max(Σ_j s_j, 1e-12)."""
    if sample_weight is None:
        return jnp.mean(values)
    return jnp.sum(values * sample_weight) / jnp.maximum(jnp.sum(sample_weight), WEIGHT_SUM_FLOOR)


def reference_loss(task: str, params: dict, x: jax.Array, y: jax.Array, sample_weight: jax.Array | None = None,
                   *, compute_dtype: Any = None) -> jax.Array:
    r"""The data loss by its formula: mean cross-entropy or half MSE of :func:`predict`'s outputs.

    .. math::
        L = \sum_i \omega_i \ell_i,\quad
        \ell_i = \operatorname{logsumexp}(\hat y_i) - \hat y_{i,y_i}\ \text{(classification)}
        \ \text{or}\ \tfrac12 (\hat y_{i,0} - y_i)^2\ \text{(regression)},\quad
        \omega_i = \frac{s_i}{\max(\sum_j s_j, 10^{-12})}\ (\text{default } 1/n)

    Weighted by ``sample_weight`` (:math:`s`) when given; ``compute_dtype`` as in :func:`predict`.
    The half MSE is scikit-learn Lasso's scaling, so its ``alpha`` is jaxreg's λ. The kernels
    (:func:`jaxreg.models.mlp_cross_entropy`, the samples-minor layout of
    :func:`jaxreg.models.data_loss`) are tested against it.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.models import reference_loss
      >>> p = {"w": jnp.array([[1.0]]), "b": jnp.array([0.0])}
      >>> x, y = jnp.array([[1.0], [2.0]]), jnp.array([0.0, 2.0])
      >>> float(reference_loss("regression", p, x, y))  # ½ · mean(1², 0²)
      0.25
      >>> float(reference_loss("regression", p, x, y, jnp.array([0.0, 1.0])))  # all weight on the exact fit
      0.0
    """
    per = _per_sample(task, predict(params, x, compute_dtype=compute_dtype), y)
    return _weighted_mean(per, sample_weight)


def accuracy(params: dict, x: jax.Array, y: jax.Array, sample_weight: jax.Array | None = None, *,
             compute_dtype: Any = None):
    r"""Fraction of correct argmax predictions (weighted when ``sample_weight`` is given).

    .. math::
        \text{acc} = \sum_i \omega_i\,[\arg\max_k \hat y_{i,k} = y_i]\quad(\omega \text{ as in } L)

    ``compute_dtype``: the dtype of the forward pass, as in :func:`predict`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.models import accuracy
      >>> p = {"w": jnp.array([[1.0, -1.0]]), "b": jnp.zeros(2)}  # class 0 for x > 0, class 1 for x < 0
      >>> float(accuracy(p, jnp.array([[1.0], [-1.0], [2.0]]), jnp.array([0, 1, 1])))
      0.6666666865348816
    """
    hit = (jnp.argmax(predict(params, x, compute_dtype=compute_dtype), axis=-1) == y).astype(jnp.float32)
    return _weighted_mean(hit, sample_weight)

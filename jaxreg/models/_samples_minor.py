"""The models' data loss with samples on the minor axis and a hand-written gradient: the CPU layout.

:mod:`jaxreg.models`' loss, with ``o`` the output layer's input (``x`` for linear/logistic,
``relu(x W1 + b1)`` for the MLP) and per-sample weights ``a_i`` (``1/n``, or
``sample_weight_i / Σ sample_weight``)::

    out = W_oᵀ oᵀ + b_o                      (n_outputs, n): samples on the minor axis
    ℓ_i = logsumexp(out_{:,i}) − out_{y_i,i}   (classification)    ½ (out_{0,i} − y_i)²   (regression)
    L = Σ_i a_i ℓ_i
    dout = a ⊙ (softmax(out) − onehot(y))      (classification)    a ⊙ (out_0 − y)        (regression)
    ∂W_o = (dout oᵀ)ᵀ,  ∂b_o = Σ_i dout_{:,i}
    MLP: dh = W2 dout ⊙ [h > 0],  ∂W1 = (dh x)ᵀ,  ∂b1 = Σ_i dh_{:,i}

Why: on XLA's CPU backend the usual layout (activations ``(n, hidden)``, logits
``(n, classes)``) runs the softmax's reductions over a 10-wide minor axis and the
second layer's small matmuls through slow paths; XLA's own gradient of the transposed
formula contracts matrices along their major axis, which its fast matmul library does
not take either. Here every matmul is a plain row-major product (the small transposes are
materialised behind ``optimization_barrier`` so XLA cannot fold them back into the
products) and every elementwise op and reduction runs along the long sample axis.
``docs/design/cpu-layout.md`` has what was measured.

:func:`data_loss` is a ``jax.custom_jvp`` function whose tangent rule computes the loss and
its gradient together (the formulas above, in plain ``jax.numpy``): reverse mode (``grad``),
forward mode (``jvp``) and higher orders (``hessian``) all work, and gradients with respect
to ``x``, regression targets ``y`` and ``sample_weight`` are computed only when asked for.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from jaxreg.models._reference import WEIGHT_SUM_FLOOR

__all__ = ["data_loss"]

_barrier = jax.lax.optimization_barrier  # keeps a transpose a materialised array (XLA would fold it into a dot)


def _mt(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a @ bᵀ`` contracting both minor axes (a product XLA's CPU matmul library takes as is)."""
    return jax.lax.dot_general(a, b, (((a.ndim - 1,), (b.ndim - 1,)), ((), ())))


def _row_sums(a: jax.Array) -> jax.Array:
    """``Σ_i a_{:,i}`` as a product with a vector of ones: XLA's CPU matmul library sums the long minor
    axis faster than XLA's own reduction does."""
    return a @ jnp.ones(a.shape[-1], a.dtype)


def _weights(sample_weight: Any, n: int) -> tuple[Any, jax.Array | None]:
    """Per-sample factors ``a_i`` of the loss and the normaliser ``S = max(Σ w, floor)`` (no weights: 1/n)."""
    if sample_weight is None:
        return 1.0 / n, None
    s = jnp.maximum(jnp.sum(sample_weight), WEIGHT_SUM_FLOOR)
    return sample_weight / s, s


class _Forward(NamedTuple):
    """The forward pass, samples on the minor axis (``m``: the output layer's inputs, ``k``: outputs)."""

    hidden: jax.Array | None  # (hidden, n) relu(W1ᵀ xᵀ + b1), MLP only
    inputs: jax.Array  # (m, n) the output layer's input: xᵀ or ``hidden``
    per: jax.Array  # (n,) ℓ_i
    dper: jax.Array  # (k, n) ∂ℓ_i/∂out_{:,i}
    bad: Any  # () True when a label is outside the classes (the loss is NaN, as the usual formula's)


def _classification_terms(out: jax.Array, y: jax.Array):
    """ℓ_i = logsumexp(out_{:,i}) − out_{y_i,i}, ∂ℓ_i/∂out = softmax − onehot, and whether a label is bad."""
    m = out.max(axis=0)
    e = jnp.exp(out - m)
    s = e.sum(axis=0)
    c = out.shape[0]
    label = jnp.where(y < 0, y + c, y)  # as optax's take_along_axis: −1 is the last class, ≥ c gives NaN
    onehot = jnp.arange(c)[:, None] == label[None, :]
    per = jnp.log(s) + m - jnp.where(onehot, out, 0.0).sum(axis=0)
    bad = jnp.any((label < 0) | (label >= c))
    return per, e / s - onehot.astype(out.dtype), bad


def _regression_terms(out: jax.Array, y: jax.Array):
    """ℓ_i = ½ (out_{0,i} − y_i)², ∂ℓ_i/∂out_0 = out_{0,i} − y_i; no label can be bad."""
    r = out[0] - y
    return 0.5 * r * r, r[None, :], False


def _forward(task: str, params: dict, x: jax.Array, y: jax.Array) -> _Forward:
    """Activations and per-sample losses, samples on the minor axis."""
    xt = _barrier(x.T)  # (d, n); loop-invariant in a training scan, so XLA hoists it out of the steps
    if "w1" in params:
        hidden = jnp.maximum(_barrier(params["w1"].T) @ xt + params["b1"][:, None], 0.0)  # (hidden, n)
        w_out, b_out = params["w2"], params["b2"]
    else:
        hidden = None
        w_out, b_out = params["w"], params["b"]
    inputs = xt if hidden is None else hidden
    out = _barrier(w_out.T) @ inputs + b_out[:, None]  # (n_outputs, n)
    terms = _classification_terms if task == "classification" else _regression_terms
    return _Forward(hidden, inputs, *terms(out, y))


def _mean(f: _Forward, a) -> jax.Array:
    """L = Σ_i a_i ℓ_i (NaN for a label outside the classes)."""
    return jnp.where(f.bad, jnp.nan, jnp.sum(f.per * a))


def _value(task, params, x, y, sample_weight):
    return _mean(_forward(task, params, x, y), _weights(sample_weight, x.shape[0])[0])


def _value_and_grads(task, params, x, y, sample_weight, need_x: bool, need_y: bool, need_w: bool):
    """The loss, its gradient with respect to the params, and (if asked) to x, y and sample_weight."""
    f = _forward(task, params, x, y)
    a, s = _weights(sample_weight, x.shape[0])
    loss = _mean(f, a)
    dout = f.dper * a  # (n_outputs, n)
    mlp = "w1" in params
    grads = {("w2" if mlp else "w"): _barrier(_mt(dout, f.inputs)).T, ("b2" if mlp else "b"): _row_sums(dout)}
    if mlp:
        dh = jnp.where(f.hidden > 0, params["w2"] @ dout, 0.0)  # (hidden, n)
        grads["w1"] = _barrier(dh @ x).T
        grads["b1"] = _row_sums(dh)
    extra = {}
    if need_x:
        extra["x"] = (params["w1"] @ dh).T if mlp else (params["w"] @ dout).T
    if need_y:  # regression targets: ∂ℓ_i/∂y_i = −(out_i − y_i)
        extra["y"] = -dout[0]
    if need_w:  # L = Σ w_i ℓ_i / S: ∂L/∂w_j = (ℓ_j − L [Σ w > floor]) / S  (S > floor ⇔ Σ w > floor)
        extra["w"] = (f.per - jnp.where(s > WEIGHT_SUM_FLOOR, loss, 0.0)) / s
    return loss, grads, extra


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _loss(task, params, x, y, sample_weight):
    return _value(task, params, x, y, sample_weight)


def _is_zero(t) -> bool:
    return t is None or isinstance(t, SymbolicZero)


def _dot(g, t):
    return jnp.sum(g * t)


@functools.partial(_loss.defjvp, symbolic_zeros=True)
def _loss_jvp(task, primals, tangents):
    params, x, y, sample_weight = primals
    tp, tx, ty, tw = tangents
    need_y = task == "regression" and jnp.issubdtype(jnp.result_type(y), jnp.floating) and not _is_zero(ty)
    need_w = sample_weight is not None and not _is_zero(tw)
    loss, grads, extra = _value_and_grads(task, params, x, y, sample_weight, not _is_zero(tx), need_y, need_w)
    out = jnp.zeros_like(loss)
    for key, g in grads.items():
        if not _is_zero(tp[key]):
            out = out + _dot(g, tp[key])
    for key, t in (("x", tx), ("y", ty), ("w", tw)):
        if key in extra:
            out = out + _dot(extra[key], t)
    return loss, out


def data_loss(task: str, params: dict, x: Any, y: Any, sample_weight: Any = None) -> jax.Array:
    """:func:`jaxreg.models.reference_loss` (``compute_dtype=None``) in the samples-minor layout, formulas above.

    Args:
      task: ``"classification"`` (integer labels ``y``, mean cross-entropy) or ``"regression"``
        (half mean squared error of the single output).
      params: ``{"w1", "b1", "w2", "b2"}`` (MLP) or ``{"w", "b"}`` (linear / logistic), float arrays.
      x: ``(n, d)`` float inputs; y: ``(n,)`` labels or targets; sample_weight: ``(n,)`` or ``None``.
    """
    x = jnp.asarray(x)
    params = {k: jnp.asarray(v) for k, v in params.items()}
    return _loss(task, params, x, jnp.asarray(y), None if sample_weight is None else jnp.asarray(sample_weight))

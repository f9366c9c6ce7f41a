"""One model's training as a pure function: ``fit`` = ``lax.scan`` over optimizer steps.

``fit`` has no host round-trips and no Python branches on values, so it can be
``jit``-compiled and ``vmap``-ped over λ, PRNG keys and CV folds (that is what
:func:`jaxreg.sweep` does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["fit", "FitResult"]


class FitResult(NamedTuple):
    """What :func:`fit` returns."""

    params: Any  # final parameters, same tree as the initial ones
    opt_state: Any  # final optimizer state
    history: dict[str, jax.Array]  # each of shape (steps // log_every,): "step", "loss", metrics


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be a positive Python int, got {value!r}")
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _draw_batch(key: jax.Array, n: int, batch_size: int) -> jax.Array:
    """``batch_size`` distinct indices of ``range(n)``, every subset equally likely: the positions of the
    ``batch_size`` largest of ``n`` i.i.d. uniforms (``top_k``). Same distribution as
    ``jax.random.choice(key, n, (batch_size,), replace=False)``, which shuffles all ``n``
    (2-core CPU, n = 1797, 128 drawn: 1029 → 86 µs per step). Float ties (probability ~n²/2²⁴
    per draw in float32, and they matter only across the cut) go to the lower index: a bias far
    below the sampling noise."""
    return jax.lax.top_k(jax.random.uniform(key, (n,)), batch_size)[1]


def fit(
    loss_fn: Callable[..., jax.Array],
    params: Any,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    data: Any = None,
    batch_size: int | None = None,
    key: jax.Array | None = None,
    log_every: int | None = None,
    metrics_fn: Callable[[Any], dict[str, jax.Array]] | None = None,
) -> FitResult:
    """Train one model: ``steps`` optimizer steps on ``loss_fn`` inside one ``lax.scan``.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar`` when ``data`` is given,
        ``loss_fn(params) -> scalar`` otherwise. The regularizer belongs in
        ``optimizer`` (jaxreg transforms), not here, so the recorded loss is
        the data loss.
      params: initial parameters (any pytree of float arrays).
      optimizer: an ``optax.GradientTransformation``, e.g.
        ``optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(lr))``.
      steps: number of optimizer steps (a Python int: it sets the scan length).
      data: a pytree of arrays sharing a leading axis of n samples.
      batch_size: minibatch size; ``None`` = full batch. Each step draws
        ``batch_size`` distinct samples with a key split from ``key``.
      key: PRNG key, required for minibatches.
      log_every: record the history every this many steps (default: once, at
        the end). ``steps`` need not be a multiple: the remainder runs after
        the last record.
      metrics_fn: optional ``params -> dict of scalars`` recorded in the history.

    Returns:
      :class:`FitResult` with the final params, optimizer state and a history
      whose entries have shape ``(steps // log_every,)``: ``"step"``, ``"loss"``
      (data loss on the full ``data``) and the ``metrics_fn`` entries.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> loss = lambda w: jnp.sum((w - 3.0) ** 2)
      >>> opt = optax.chain(jaxreg.add_l2_decay(1.0), optax.sgd(0.1))
      >>> out = jaxreg.fit(loss, jnp.zeros(()), opt, steps=100)
      >>> round(float(out.params), 4)   # argmin (w-3)² + w² = 1.5
      1.5
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {loss_fn!r}")
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}")
    steps = _check_positive_int(steps, "steps")
    log_every = steps if log_every is None else _check_positive_int(log_every, "log_every")
    if log_every > steps:
        raise ValueError(f"log_every ({log_every}) must be <= steps ({steps})")

    n = None
    if batch_size is not None:
        if data is None:
            raise ValueError("batch_size needs data=: minibatches are drawn from it")
        batch_size = _check_positive_int(batch_size, "batch_size")
        n = jax.tree.leaves(data)[0].shape[0]
        if batch_size > n:
            raise ValueError(f"batch_size ({batch_size}) must be <= the number of samples ({n})")
        if key is None:
            raise ValueError("key is required for minibatches: pass key=jax.random.key(seed)")

    def data_loss(p, batch):
        return loss_fn(p) if data is None else loss_fn(p, batch)

    grad_fn = jax.grad(data_loss)

    def one_step(carry, step_key):
        p, s = carry
        batch = data
        if batch_size is not None and batch_size < n:
            idx = _draw_batch(step_key, n, batch_size)
            batch = jax.tree.map(lambda a: a[idx], data)
        u, s = optimizer.update(grad_fn(p, batch), s, p)
        return (optax.apply_updates(p, u), s), None

    def run(carry, length, k):
        keys = jax.random.split(k, length) if batch_size is not None else None
        return jax.lax.scan(one_step, carry, keys, length=length)[0]

    def logged_block(carry, block):
        carry, k = carry
        k, sub = jax.random.split(k) if k is not None else (None, None)
        carry = run(carry, log_every, sub)
        record = {"step": (block + 1) * log_every, "loss": data_loss(carry[0], data)}
        if metrics_fn is not None:
            record.update(metrics_fn(carry[0]))
        return (carry, k), record

    carry = (params, optimizer.init(params))
    n_logs, rest = divmod(steps, log_every)
    (carry, key), history = jax.lax.scan(logged_block, (carry, key), jnp.arange(n_logs))
    if rest:
        carry = run(carry, rest, key)
    return FitResult(params=carry[0], opt_state=carry[1], history=history)

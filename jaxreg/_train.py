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


class _FitCarry(NamedTuple):
    """The training state, carried from step to step."""

    params: Any  # current parameters, the tree of the initial ones
    opt_state: Any  # current optimizer state


class _BlockCarry(NamedTuple):
    """The state carried from one logged block of steps to the next."""

    fit: _FitCarry
    key: jax.Array | None  # the next block's step keys are split from it; None without a key


class _Training(NamedTuple):
    """What stays fixed while one model trains."""

    loss_fn: Callable[..., jax.Array]  # loss_fn(params[, batch]) -> scalar data loss
    optimizer: optax.GradientTransformation
    data: Any  # pytree of arrays sharing a leading axis of n samples, or None
    batch_size: int | None  # minibatch size; None: the full data every step
    log_every: int  # steps per logged block
    metrics_fn: Callable[[Any], dict[str, jax.Array]] | None  # params -> extra history entries

    def data_loss(self, params: Any, batch: Any) -> jax.Array:
        return self.loss_fn(params) if self.data is None else self.loss_fn(params, batch)

    def step(self, carry: _FitCarry, step_key: jax.Array | None) -> tuple[_FitCarry, None]:
        """One optimizer step, on a minibatch drawn with ``step_key`` when ``batch_size`` is below n."""
        batch = self.data
        if self.batch_size is not None:
            n = jax.tree.leaves(self.data)[0].shape[0]
            if self.batch_size < n:
                idx = _draw_batch(step_key, n, self.batch_size)
                batch = jax.tree.map(lambda a: a[idx], self.data)
        grads = jax.grad(self.data_loss)(carry.params, batch)
        updates, opt_state = self.optimizer.update(grads, carry.opt_state, carry.params)
        return _FitCarry(optax.apply_updates(carry.params, updates), opt_state), None

    def run(self, carry: _FitCarry, length: int, key: jax.Array | None) -> _FitCarry:
        """``length`` steps in a ``lax.scan``, each with its own key split from ``key`` (minibatches only)."""
        keys = jax.random.split(key, length) if self.batch_size is not None else None
        return jax.lax.scan(self.step, carry, keys, length=length)[0]

    def logged_block(self, carry: _BlockCarry, block: jax.Array) -> tuple[_BlockCarry, dict[str, jax.Array]]:
        """``log_every`` steps, then the history record: step count, data loss on the full data, metrics."""
        key, sub = jax.random.split(carry.key) if carry.key is not None else (None, None)
        fit = self.run(carry.fit, self.log_every, sub)
        record = {"step": (block + 1) * self.log_every, "loss": self.data_loss(fit.params, self.data)}
        if self.metrics_fn is not None:
            record.update(self.metrics_fn(fit.params))
        return _BlockCarry(fit, key), record


def _draw_batch(key: jax.Array, n: int, batch_size: int) -> jax.Array:
    """``batch_size`` distinct indices of ``range(n)``, every subset equally likely: the positions of the
    ``batch_size`` largest of ``n`` i.i.d. uniforms (``top_k``). Same distribution as
    ``jax.random.choice(key, n, (batch_size,), replace=False)``, without its shuffle of all ``n``
    (docs/design/engine.md). Float ties (probability ~n²/2²⁴ per draw in float32, and they matter
    only across the cut) go to the lower index: a bias far below the sampling noise."""
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
    steps, log_every, batch_size = _check_fit_arguments(loss_fn, optimizer, steps, data, batch_size, key, log_every)
    training = _Training(loss_fn, optimizer, data, batch_size, log_every, metrics_fn)
    n_logs, rest = divmod(steps, log_every)
    start = _BlockCarry(_FitCarry(params, optimizer.init(params)), key)
    end, history = jax.lax.scan(training.logged_block, start, jnp.arange(n_logs))
    fit = training.run(end.fit, rest, end.key) if rest else end.fit
    return FitResult(params=fit.params, opt_state=fit.opt_state, history=history)


def _check_fit_arguments(loss_fn: Any, optimizer: Any, steps: Any, data: Any, batch_size: Any, key: Any,
                         log_every: Any) -> tuple[int, int, int | None]:
    """Raise for a bad argument of :func:`fit`, naming it; returns ``steps``, ``log_every`` (default: ``steps``)
    and ``batch_size`` as Python ints."""
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {loss_fn!r}")
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}")
    steps = _check_positive_int(steps, "steps")
    log_every = steps if log_every is None else _check_positive_int(log_every, "log_every")
    if log_every > steps:
        raise ValueError(f"log_every ({log_every}) must be <= steps ({steps})")
    if batch_size is not None:
        if data is None:
            raise ValueError("batch_size needs data=: minibatches are drawn from it")
        batch_size = _check_positive_int(batch_size, "batch_size")
        n = jax.tree.leaves(data)[0].shape[0]
        if batch_size > n:
            raise ValueError(f"batch_size ({batch_size}) must be <= the number of samples ({n})")
        if key is None:
            raise ValueError("key is required for minibatches: pass key=jax.random.key(seed)")
    return steps, log_every, batch_size


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be a positive Python int, got {value!r}")
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value

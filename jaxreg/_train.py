"""One model's training as a pure function: ``fit`` = ``lax.scan`` over optimizer steps.

``fit`` has no host round-trips and no Python branches on values, so it can be
``jit``-compiled and ``vmap``-ped over λ, PRNG keys and CV folds (that is what
:func:`jaxreg.sweep` does).

``loss_fn``'s calling convention follows from three explicit arguments of
:func:`fit` (no signature sniffing): its arguments are ``params``, then
``state`` (with ``state=``), ``batch`` (with ``data=``) and ``key`` (with
``pass_key=True``), in that order; it returns

==================  ========================  ===============================
``state=``          ``has_aux=``              ``loss_fn`` returns
==================  ========================  ===============================
``None``            ``False``                 ``loss``
``None``            ``True``                  ``(loss, aux)``
a pytree            ``False``                 ``(loss, new_state)``
a pytree            ``True``                  ``(loss, (new_state, aux))``
==================  ========================  ===============================

as with ``jax.value_and_grad(..., has_aux=True)``, whose auxiliary output is
``new_state``, ``aux`` or the pair. The gradient is taken with respect to
``params`` only; ``new_state`` (e.g. flax linen's ``{"batch_stats": ...}``)
is carried to the next step; ``aux`` is a dict of arrays recorded in the
history. A flax linen model with BatchNorm and Dropout is written as::

    def loss_fn(params, state, batch, key):
        x, y = batch
        logits, new_state = model.apply({"params": params, **state}, x, train=True,
                                        rngs={"dropout": key}, mutable=list(state))
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), new_state

Example (a running count as the state, the parameter's distance as aux):
  >>> import jax.numpy as jnp, optax, jaxreg
  >>> def loss_fn(w, count):
  ...     return jnp.sum((w - 3.0) ** 2), (count + 1, {"gap": jnp.abs(w - 3.0)})
  >>> out = jaxreg.fit(loss_fn, jnp.zeros(()), optax.sgd(0.25), steps=8, log_every=4,
  ...                  state=jnp.zeros((), jnp.int32), has_aux=True)
  >>> int(out.state), out.history["gap"].tolist()   # gap halves each step: 3 / 2**t
  (8, [0.1875, 0.01171875])
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["fit", "FitResult"]

#: Int seeds are read as 32 bits, so a larger one would alias a smaller one (2**32 is 0).
_SEED_LIMIT = 2**32


class FitResult(NamedTuple):
    """What :func:`fit` returns."""

    params: Any  # final parameters, same tree as the initial ones
    opt_state: Any  # final optimizer state
    history: dict[str, jax.Array]  # each of shape (steps // log_every,): "step", "loss", aux, metrics
    state: Any = None  # final model state (the tree of state=); None without state=


class _FitCarry(NamedTuple):
    """The training state, carried from step to step."""

    params: Any  # current parameters, the tree of the initial ones
    opt_state: Any  # current optimizer state
    state: Any  # current model state, the tree of state=; None without it


class _BlockCarry(NamedTuple):
    """The state carried from one logged block of steps to the next."""

    fit: _FitCarry
    key: jax.Array | None  # the next block's step keys are split from it; None without a key


class _Loss(NamedTuple):
    """``loss_fn`` under its calling convention (module docstring), as ``(loss, (new_state, aux))``."""

    fn: Callable[..., Any]
    with_state: bool  # loss_fn takes the model state and returns the new one
    with_data: bool  # loss_fn takes a batch
    has_aux: bool  # loss_fn returns a dict of arrays to record
    pass_key: bool  # loss_fn takes a PRNG key

    def __call__(self, params: Any, state: Any, batch: Any, key: jax.Array | None) -> tuple[jax.Array, Any]:
        args = [params]
        if self.with_state:
            args.append(state)
        if self.with_data:
            args.append(batch)
        if self.pass_key:
            args.append(key)
        try:
            out = self.fn(*args)
        except (TypeError, KeyError, IndexError, AttributeError) as e:
            error = (bad_call_error(self.fn, "loss_fn", self.arg_names(), self.call_hint())
                     if isinstance(e, TypeError) else None) or _swapped_arguments(self.fn, self.arg_names(), e)
            if error is None:
                raise
            raise error from e
        if not (self.with_state or self.has_aux):
            return _check_loss(out, self.fn), (state, {})
        if not (isinstance(out, tuple) and len(out) == 2):
            hint = " (with state=, return the state too, even unchanged: `return loss, state`)" if (
                self.with_state and not isinstance(out, (tuple, list, dict))) else ""
            raise TypeError(f"loss_fn must return {self.returns()}, got {describe_value(out)}{hint}")
        loss, extra = out
        if self.with_state and self.has_aux:
            if not (isinstance(extra, tuple) and len(extra) == 2):
                raise TypeError(f"loss_fn must return {self.returns()}, got a second element that is "
                                f"{describe_value(extra)}")
            new_state, aux = extra
        else:
            new_state, aux = (extra, {}) if self.with_state else (state, extra)
        if self.with_state:
            _check_new_state(state, new_state)
        if not isinstance(aux, Mapping):
            raise TypeError(f"with has_aux=True, loss_fn's aux must be a dict of arrays to record, "
                            f"got {describe_value(aux)}")
        return _check_loss(loss, self.fn), (new_state, dict(aux))

    def returns(self) -> str:
        """What ``loss_fn`` must return, for error messages."""
        extra = {(True, True): "(new_state, aux)", (True, False): "new_state", (False, True): "aux"}
        return f"(loss, {extra[self.with_state, self.has_aux]})"

    def arg_names(self) -> list[str]:
        """The arguments ``loss_fn`` is called with, by name, in order."""
        flags = (("state", self.with_state), ("batch", self.with_data), ("key", self.pass_key))
        return ["params", *(name for name, on in flags if on)]

    def call_hint(self) -> tuple[str, str]:
        """What to change when ``loss_fn`` takes more, or fewer, arguments than :func:`fit` passes."""
        why = [f"{name} because {arg}" for name, arg, on in (
            ("state", "state= is given", self.with_state), ("batch", "data= is given", self.with_data),
            ("key", "pass_key=True", self.pass_key)) if on]
        more = ("fit passes params, then state only with state=, a batch only with data= and a key only with "
                "pass_key=True, in that order: give fit the arguments your loss_fn expects")
        fewer = (f"fit passes {', '.join(why)}: give loss_fn those parameters, in that order after params"
                 if why else "loss_fn must take the params")
        return more, fewer


class _Training(NamedTuple):
    """What stays fixed while one model trains."""

    loss: _Loss
    optimizer: optax.GradientTransformation
    data: Any  # pytree of arrays sharing a leading axis of n samples, or None
    batch_size: int | None  # minibatch size; None: the full data every step
    log_every: int  # steps per logged block
    metrics_fn: Callable[..., dict[str, jax.Array]] | None  # params[, state] -> extra history entries
    remat: bool = False  # reverse mode keeps only the carries, recomputing each step and block (fit's remat=)
    sample_mask: jax.Array | None = None  # (n,): minibatches are drawn from its nonzero rows; None: all rows

    def step(self, carry: _FitCarry, step_key: jax.Array | None) -> tuple[_FitCarry, None]:
        """One optimizer step, on a minibatch drawn with ``step_key`` when ``batch_size`` is below n; with
        ``pass_key``, ``loss_fn`` gets its own key split from ``step_key`` (distinct from the minibatch's)."""
        batch_key, model_key = step_key, None
        if self.loss.pass_key:
            batch_key, model_key = jax.random.split(step_key) if self.batch_size is not None else (None, step_key)
        batch = self.data
        if self.batch_size is not None:
            n = jax.tree.leaves(self.data)[0].shape[0]
            if self.batch_size < n:
                idx = _draw_batch(batch_key, n, self.batch_size, self.sample_mask)
                batch = jax.tree.map(lambda a: a[idx], self.data)
        grads, (state, _) = jax.grad(self.loss, has_aux=True)(carry.params, carry.state, batch, model_key)
        updates, opt_state = self.optimizer.update(grads, carry.opt_state, carry.params)
        return _FitCarry(optax.apply_updates(carry.params, updates), opt_state, state), None

    def run(self, carry: _FitCarry, length: int, key: jax.Array | None) -> _FitCarry:
        """``length`` steps in a ``lax.scan``, each with its own key split from ``key`` (minibatches, ``pass_key``)."""
        keyed = self.batch_size is not None or self.loss.pass_key
        keys = jax.random.split(key, length) if keyed else None
        step = jax.checkpoint(self.step, prevent_cse=False) if self.remat else self.step
        return jax.lax.scan(step, carry, keys, length=length)[0]

    def logged_block(self, carry: _BlockCarry, block: jax.Array) -> tuple[_BlockCarry, dict[str, jax.Array]]:
        """``log_every`` steps, then the history record: step count, then the loss and aux of ``loss_fn`` on the
        full data (with its own key under ``pass_key``), then the metrics."""
        key = sub = eval_key = None
        if self.loss.pass_key:
            key, sub, eval_key = jax.random.split(carry.key, 3)
        elif carry.key is not None:
            key, sub = jax.random.split(carry.key)
        fit = self.run(carry.fit, self.log_every, sub)
        loss, (_, aux) = self.loss(fit.params, fit.state, self.data, eval_key)
        record = {"step": (block + 1) * self.log_every, "loss": loss}
        _add_entries(record, aux, "loss_fn's aux")
        if self.metrics_fn is not None:
            _add_entries(record, self.metrics(fit), "metrics_fn")
        return _BlockCarry(fit, key), record

    def metrics(self, fit: _FitCarry) -> dict[str, jax.Array]:
        """``metrics_fn(params[, state])``, its calling convention explained when it does not fit."""
        args = (fit.params, fit.state) if self.loss.with_state else (fit.params,)
        try:
            return self.metrics_fn(*args)
        except TypeError as e:
            names = ["params", "state"][:len(args)]
            hint = ("fit passes state to metrics_fn only with state=",
                    "with state=, fit calls metrics_fn(params, state): add a state parameter")
            error = bad_call_error(self.metrics_fn, "metrics_fn", names, hint)
            if error is None:
                raise
            raise error from e


def bad_call_error(fn: Callable[..., Any], name: str, arg_names: Sequence[str],
                   hint: tuple[str, str]) -> TypeError | None:
    """The error to raise when calling ``fn`` with ``arg_names`` (positionally) failed because its signature
    cannot take them, or None when it can (the ``TypeError`` came from inside ``fn``: re-raise that).

    ``hint`` is what to do when ``fn`` needs more arguments, and when it takes fewer. Read only after a call
    failed, so a signature that misreports (a decorator) never blocks a call that works.
    """
    try:
        sig = inspect.signature(fn)
        sig.bind(*arg_names)
    except ValueError:  # no signature to read (some builtins): the original error stands
        return None
    except TypeError as e:
        params = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = sum(p.default is p.empty for p in params)
        most = math.inf if any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values()) else len(params)
        what = hint[0] if len(arg_names) < required else hint[1] if len(arg_names) > most else str(e)
        label = getattr(fn, "__name__", type(fn).__name__)
        return TypeError(f"{name} {label}{sig} cannot be called as {name}({', '.join(arg_names)}): {what}")
    return None


def misplaced_parameters(fn: Callable[..., Any], passed: Sequence[str],
                         aliases: Mapping[str, set[str]]) -> list[tuple[str, str, str]]:
    """``(parameter, passed, named like)`` for each of ``fn``'s leading parameters whose name is an alias of
    another argument than the one passed there (``fn(batch, params)`` called as ``fn(params, batch)``): read
    after a call failed, to say why. Empty when the signature cannot be read."""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []
    return [(param, role, other) for param, role in zip(params, passed)
            for other, names in aliases.items() if other != role and param in names]


def describe_value(x: Any) -> str:
    """``x`` in a user's terms for an error message: a tuple of 3, a scalar array, an array of shape (2, 3)."""
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {len(x)}"
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"a scalar {x.dtype} array" if jnp.ndim(x) == 0 else f"a {x.dtype} array of shape {jnp.shape(x)}"
    if isinstance(x, (int, float)):
        return f"a Python {type(x).__name__}"
    return f"a {type(x).__name__}"


def _add_entries(record: dict[str, jax.Array], entries: Mapping[str, jax.Array], source: str) -> None:
    """Add ``entries`` to a history record, refusing a name it already has."""
    clash = sorted(set(entries) & set(record))
    if clash:
        raise ValueError(f"{source} returned {clash}, names the history already uses "
                         f"({', '.join(record)}): rename them")
    record.update(entries)


def _check_loss(loss: Any, fn: Callable[..., Any]) -> Any:
    """The loss, checked to be one number (JAX's own error names neither ``has_aux`` nor ``state``)."""
    if isinstance(loss, (tuple, list, dict)):
        raise TypeError(f"loss_fn {getattr(fn, '__name__', fn)} returned a {type(loss).__name__}; a loss_fn that "
                        "returns (loss, aux) needs has_aux=True, one that returns (loss, new_state) needs state=")
    if jnp.ndim(loss) != 0:
        raise TypeError(f"loss_fn must return a scalar loss, got shape {jnp.shape(loss)}; reduce it (e.g. .mean())")
    return loss


def _check_new_state(state: Any, new_state: Any) -> None:
    """``new_state`` must be carried in place of ``state``: same tree, shapes and dtypes."""
    def spec(tree: Any) -> tuple[Any, list[tuple[tuple[int, ...], Any]]]:
        return jax.tree.structure(tree), [(jnp.shape(x), jnp.result_type(x)) for x in jax.tree.leaves(tree)]

    if spec(state) != spec(new_state):
        raise ValueError(
            "loss_fn's new state must have the tree, shapes and dtypes of state= so it can be carried; got "
            f"{jax.tree.structure(new_state)} for state= {jax.tree.structure(state)}. With flax linen, pass "
            "state={'batch_stats': ...} and apply(..., mutable=list(state))"
        )


def _draw_batch(key: jax.Array, n: int, batch_size: int, mask: jax.Array | None = None) -> jax.Array:
    """``batch_size`` distinct indices of ``range(n)``, every subset equally likely: the positions of the
    ``batch_size`` largest of ``n`` i.i.d. uniforms (``top_k``). Same distribution as
    ``jax.random.choice(key, n, (batch_size,), replace=False)``, without its shuffle of all ``n``
    (docs/design/engine.md). Float ties (probability ~n²/2²⁴ per draw in float32, and they matter
    only across the cut) go to the lower index: a bias far below the sampling noise.

    With ``mask`` (``(n,)``, may be traced), only rows where it is nonzero are drawn: their uniforms are in
    [0, 1), the others' are −1, so every subset of ``batch_size`` masked rows is equally likely (as long as
    there are that many, which :func:`fit` checks), and an all-True mask draws what no mask draws."""
    u = jax.random.uniform(key, (n,))
    if mask is not None:
        u = jnp.where(mask != 0, u, -1.0)
    return jax.lax.top_k(u, batch_size)[1]


def fit(
    loss_fn: Callable[..., Any],
    params: Any,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    data: Any = None,
    batch_size: int | None = None,
    key: Any = None,
    log_every: int | None = None,
    metrics_fn: Callable[..., dict[str, jax.Array]] | None = None,
    state: Any = None,
    has_aux: bool = False,
    pass_key: bool = False,
    remat: bool = False,
    sample_mask: Any = None,
) -> FitResult:
    """Train one model: ``steps`` optimizer steps on ``loss_fn`` inside one ``lax.scan``.

    Args:
      loss_fn: ``loss_fn(params[, state][, batch][, key])``: ``state`` with ``state=``, ``batch`` with
        ``data=``, ``key`` with ``pass_key=True``. It returns the scalar data loss; ``(loss, aux)`` with
        ``has_aux=True``; ``(loss, new_state)`` with ``state=``; ``(loss, (new_state, aux))`` with both. The
        regularizer belongs in ``optimizer`` (jaxreg transforms), not here, so the recorded loss is the data loss.
      params: initial parameters (any pytree of float arrays).
      optimizer: an ``optax.GradientTransformation``, e.g. ``optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(lr))``.
      steps: number of optimizer steps (a Python int: it sets the scan length).
      data: a pytree of arrays sharing a leading axis of n samples.
      batch_size: minibatch size; ``None`` = full batch. Each step draws ``batch_size`` distinct samples with a
        key split from ``key``.
      key: PRNG key: an int seed, a ``jax.random.key`` or a legacy ``jax.random.PRNGKey``; required for
        minibatches and ``pass_key``, and used for nothing else (given without either, it warns).
      log_every: record the history every this many steps (default: once, at the end). ``steps`` need not be a
        multiple: the remainder runs after the last record.
      metrics_fn: optional ``params -> dict`` (``(params, state) -> dict`` with ``state=``) recorded in the history.
      state: initial model state carried from step to step (e.g. flax linen's ``{"batch_stats": ...}``), not
        differentiated; ``None``: no state.
      has_aux: ``loss_fn`` also returns a dict of arrays to record.
      pass_key: ``loss_fn`` takes a PRNG key (dropout): each step gets a fresh one split from ``key``, distinct
        from the minibatch key.
      remat: for reverse-mode differentiation *through* training (``jax.grad`` of a validation loss with respect
        to λ, :mod:`jaxreg.tuning`): keep only the carries (params, optimizer and model state) at the start of
        each logged block and, while one block is differentiated, at each of its steps; everything else is
        recomputed. Memory falls from ``steps`` steps' residuals (activations included) to about ``steps /
        log_every + log_every`` carries, for about one more forward pass; ``log_every ≈ √steps`` minimises it.
        Values and gradients are unchanged.
      sample_mask: ``(n,)`` bools or 0/1 weights, may be traced (a CV fold's training rows): each minibatch is
        ``batch_size`` rows drawn from its nonzero rows only, so held-out rows never enter a step. Needs
        ``batch_size``. The history's loss is still ``loss_fn`` on the full ``data``: weight the rows there too
        (``data=(x, y, w)``). Fewer nonzero rows than ``batch_size`` raise, or, traced, make params and loss NaN.

    Returns:
      :class:`FitResult` with the final params, optimizer state, history and model state. The history's entries
      have shape ``(steps // log_every,)``: ``"step"``, then ``"loss"`` and the aux entries, both from one call of
      ``loss_fn`` on the full ``data`` after the logged step (the values of that model, not a running average),
      then the ``metrics_fn`` entries.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> loss = lambda w: jnp.sum((w - 3.0) ** 2)
      >>> opt = optax.chain(jaxreg.add_l2_decay(1.0), optax.sgd(0.1))
      >>> out = jaxreg.fit(loss, jnp.zeros(()), opt, steps=100)
      >>> round(float(out.params), 4)   # argmin (w-3)² + w² = 1.5
      1.5
    """
    steps, log_every, batch_size = _check_fit_arguments(loss_fn, optimizer, steps, data, batch_size, log_every)
    has_aux, pass_key = _check_flag(has_aux, "has_aux"), _check_flag(pass_key, "pass_key")
    needs = (("minibatches", batch_size is not None), ("pass_key=True", pass_key))
    needed_by = [name for name, needed in needs if needed]
    if key is not None and not needed_by:
        warnings.warn("fit: key= changes nothing here: fit uses it only to draw minibatches (batch_size=) and for a "
                      "loss_fn that takes one (pass_key=True, e.g. for dropout); pass one of those, or leave key out",
                      UserWarning, stacklevel=2)
    key = _check_key(key, needed_by)
    sample_mask = _check_sample_mask(sample_mask, data, batch_size)
    loss = _Loss(loss_fn, state is not None, data is not None, has_aux, pass_key)
    training = _Training(loss, optimizer, data, batch_size, log_every, metrics_fn, _check_flag(remat, "remat"),
                         sample_mask)
    return _train(training, _BlockCarry(_FitCarry(params, optimizer.init(params), state), key), steps)


def _train(training: _Training, start: _BlockCarry, steps: int) -> FitResult:
    """``steps`` steps from ``start``: logged blocks in a ``lax.scan``, then the remainder."""
    n_logs, rest = divmod(steps, training.log_every)
    block = jax.checkpoint(training.logged_block, prevent_cse=False) if training.remat else training.logged_block
    end, history = jax.lax.scan(block, start, jnp.arange(n_logs))
    fit = training.run(end.fit, rest, end.key) if rest else end.fit
    result = FitResult(params=fit.params, opt_state=fit.opt_state, history=history, state=fit.state)
    mask = training.sample_mask
    if isinstance(mask, jax.core.Tracer):  # too few rows cannot raise under jit/vmap: NaN marks the model
        enough = jnp.count_nonzero(mask) >= training.batch_size
        result = result._replace(params=_nan_unless(enough, result.params),
                                 history={**history, "loss": _nan_unless(enough, history["loss"])})
    return result


def _nan_unless(ok: jax.Array, tree: Any) -> Any:
    """``tree`` with its float leaves NaN where ``ok`` is False."""
    return jax.tree.map(lambda x: jnp.where(ok, x, jnp.nan) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)
                        else x, tree)


def _check_sample_mask(mask: Any, data: Any, batch_size: int | None) -> jax.Array | None:
    """``sample_mask`` as an ``(n,)`` array; a concrete one must select at least ``batch_size`` rows."""
    if mask is None:
        return None
    if batch_size is None:
        raise ValueError("sample_mask picks the rows minibatches are drawn from, so it needs batch_size=; for "
                         "full-batch training weight the rows in loss_fn instead (e.g. data=(x, y, w))")
    n = jax.tree.leaves(data)[0].shape[0]
    if jnp.shape(mask) != (n,):
        raise ValueError(f"sample_mask must have shape (n,) = ({n},), one entry per row of data, got "
                         f"{jnp.shape(mask)}")
    if not isinstance(mask, jax.core.Tracer):
        rows = int(np.count_nonzero(np.asarray(mask)))
        if rows < batch_size:
            raise ValueError(f"sample_mask selects {rows} rows, fewer than batch_size ({batch_size}): lower "
                             "batch_size or select more rows")
    return jnp.asarray(mask)


def _check_fit_arguments(loss_fn: Any, optimizer: Any, steps: Any, data: Any, batch_size: Any,
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
    n = None if data is None else _check_data(data)
    if batch_size is not None:
        if data is None:
            raise ValueError("batch_size needs data=: minibatches are drawn from it")
        batch_size = _check_positive_int(batch_size, "batch_size")
        if batch_size > n:
            raise ValueError(f"batch_size ({batch_size}) must be <= the number of samples ({n})")
    return steps, log_every, batch_size


def _check_data(data: Any) -> int:
    """The number of samples: the first dimension that every leaf of ``data`` shares."""
    leaves = jax.tree_util.tree_flatten_with_path(data)[0]
    if not leaves:
        raise ValueError("data has no arrays: pass a pytree of arrays with a leading axis of samples, or data=None")
    shapes = {jax.tree_util.keystr(path) or "data": jnp.shape(leaf) for path, leaf in leaves}
    if any(len(shape) == 0 for shape in shapes.values()) or len({s[0] for s in shapes.values()}) > 1:
        listed = ", ".join(f"{name}: {shape}" for name, shape in shapes.items())
        raise ValueError(f"data's arrays must share their first dimension (the samples), got {listed}; "
                         "put constants in loss_fn's closure")
    return next(iter(shapes.values()))[0]


#: Parameter names that say what a loss_fn expects in a position, for :func:`_swapped_arguments`.
_LOSS_ARGUMENT_NAMES = {"params": {"params", "p", "w", "weights", "theta", "model", "variables"},
                        "batch": {"batch", "b", "data", "xy", "minibatch", "x"}}


def _swapped_arguments(fn: Callable[..., Any], names: list[str], error: Exception) -> TypeError | None:
    """A ``TypeError`` saying that ``fn``'s first two parameters look swapped (named like a batch, then like params)
    when fit passes ``params, batch``; ``None`` otherwise (the original error stands)."""
    if names[:2] != ["params", "batch"]:
        return None
    misplaced = misplaced_parameters(fn, names[:2], _LOSS_ARGUMENT_NAMES)
    if len(misplaced) < 2:
        return None
    (first, *_), (second, *_) = misplaced
    return TypeError(f"loss_fn({first}, {second}, ...) looks swapped: fit calls loss_fn(params, batch, ...), "
                     f"params first; reorder its parameters (it failed with {type(error).__name__}: {error})")


def _check_key(key: Any, needed_by: list[str]) -> jax.Array | None:
    """``key`` as a new-style PRNG key (it may be traced); ``needed_by`` names what requires one."""
    if key is None:
        if needed_by:
            raise ValueError(f"key is required for {' and '.join(needed_by)}: pass key=0 (an int seed) "
                             "or key=jax.random.key(seed)")
        return None
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if jnp.ndim(key) != 0:
            raise ValueError(f"key must be one PRNG key, got a batch of shape {jnp.shape(key)}; to train one model "
                             "per key, use jaxreg.sweep(keys=...) or jax.vmap over the keys")
        return key
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if not 0 <= key < _SEED_LIMIT:
            raise ValueError(f"key as an int seed must be in [0, 2**32), got {key}: seeds are read as 32 bits, so "
                             "one outside that range would alias one inside it")
        return jax.random.key(key)
    if dtype is not None and not jnp.issubdtype(dtype, jnp.bool_):
        if jnp.issubdtype(dtype, jnp.integer) and jnp.ndim(key) == 0:
            # an int seed as an array: checked like an int when concrete, used as it is when traced (vmap over seeds)
            return jax.random.key(key) if isinstance(key, jax.core.Tracer) else _check_key(int(key), needed_by)
        if dtype == jnp.uint32 and jnp.ndim(key) == 1:
            return _check_key(_wrap_legacy_key(key), needed_by)
    raise ValueError(
        f"key must be an int seed, a jax.random.key(seed) or a legacy jax.random.PRNGKey(seed), got "
        f"{type(key).__name__}" + (f" of dtype {dtype} and shape {jnp.shape(key)}" if dtype is not None else "")
    )


def _wrap_legacy_key(key: Any) -> jax.Array:
    """A legacy raw key (``uint32[2]`` for threefry) as a new-style key with the same random bits."""
    try:
        return jax.random.wrap_key_data(key)
    except (TypeError, ValueError) as e:
        raise ValueError(f"key of dtype uint32 and shape {jnp.shape(key)} is not a legacy PRNG key of the default "
                         "implementation; pass an int seed or jax.random.key(seed)") from e


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be a positive Python int, got {value!r}")
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value

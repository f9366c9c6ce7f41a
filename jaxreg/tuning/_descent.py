r"""Hypergradient descent on log λ through a user's training: :func:`tune_hyperparams`.

``objective(lams)`` trains a model with the regularization strengths ``lams`` (any pytree: one λ, one per leaf,
per group, per coordinate) and returns its validation loss. λ is a traced value in every jaxreg transform, so
``jax.grad`` of that loss flows through the transforms and through training. The descent runs on
:math:`\theta = \log\lambda` (λ stays positive), all steps in one ``lax.scan`` and, with several starts, all
starts side by side under one ``jit(vmap)``:

.. math::

   \theta_{t+1} = \operatorname{clip}\bigl(\theta_t + \operatorname{opt}(\nabla_\theta f(\theta_t)),
   \log\lambda_{lo}, \log\lambda_{hi}\bigr), \qquad f(\theta) = \text{objective}(e^\theta).

User guide: ``docs/tuning.md`` (when hypergradients mean something, truncation bias, the cost of each method).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxreg.tuning._check import check_hypergradient, hypergradient_fn, log_objective
from jaxreg.tuning._result import TuneCost, TuneResult

__all__ = ["tune_hyperparams", "DEFAULT_LEARNING_RATE", "check_log_lams", "log_bounds", "descent_optimizer"]

#: Adam's step on log λ when neither ``learning_rate`` nor ``optimizer`` is given: about 10% of λ per step.
DEFAULT_LEARNING_RATE = 0.1


class _DescentState(NamedTuple):
    """One start's descent, carried from step to step."""

    log_lams: Any  # current log λ, the tree of lams0
    opt_state: Any  # the optimizer's state on log λ
    alive: jax.Array  # bool (): False once a non-finite loss or hypergradient stopped this start


class _Record(NamedTuple):
    """What one step records (stacked by the scan)."""

    lams: Any  # λ at which the step was taken, the tree of lams0
    loss: jax.Array  # () the objective there
    grad_norm: jax.Array  # () ‖∂ objective / ∂ log λ‖₂ there
    aux: Any  # the objective's aux there (has_aux=True), else None


def descent_optimizer(learning_rate: Any, optimizer: Any) -> optax.GradientTransformation:
    """``optimizer``, or ``optax.adam(learning_rate)`` (:data:`DEFAULT_LEARNING_RATE` when both are ``None``)."""
    if optimizer is not None:
        if learning_rate is not None:
            raise ValueError(f"pass either learning_rate= or optimizer=, not both (got learning_rate={learning_rate!r}"
                             "); put the rate in the optimizer, e.g. optimizer=optax.sgd(learning_rate)")
        if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
            raise ValueError(f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}")
        return optimizer
    lr = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not lr > 0 or not np.isfinite(lr):
        raise ValueError(f"learning_rate must be a positive float (Adam's step on log λ), got {learning_rate!r}")
    return optax.adam(float(lr))


def check_log_lams(lams0: Any, multi_start: bool) -> tuple[Any, int]:
    """log ``lams0`` (float leaves) and the number of starts; ValueError naming ``lams0`` for λ ≤ 0, NaN, inf, an
    int leaf, an empty tree, or (``multi_start``) leaves without one shared leading axis of starts."""
    leaves = jax.tree.leaves(lams0)
    if not leaves:
        raise ValueError("lams0 has no arrays: pass λ > 0 as a float, an array or a pytree of them")
    arrays = [np.asarray(x) for x in leaves]
    for x in arrays:
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"lams0 leaves must be floats (λ > 0), got dtype {x.dtype}; write 1.0, not 1")
        if not (np.all(np.isfinite(x)) and np.all(x > 0)):
            raise ValueError(f"lams0 must be finite and > 0 (the descent runs on log λ), got a leaf with min "
                             f"{np.min(x) if x.size else 'n/a'}; start from a positive λ, e.g. from "
                             "jaxreg.tuning.starts_from_sweep")
    starts = 1
    if multi_start:
        firsts = {x.shape[0] if x.ndim else None for x in arrays}
        if len(firsts) != 1 or None in firsts:
            raise ValueError(f"with multi_start=True every leaf of lams0 needs the same leading axis of starts, got "
                             f"shapes {[x.shape for x in arrays]}; stack the starts along axis 0")
        starts = firsts.pop()
    return jax.tree.map(lambda x: jnp.log(jnp.asarray(x)), lams0), starts


def log_bounds(bounds: Any, log_lams: Any, multi_start: bool) -> tuple[float, float]:
    """``(log lo, log hi)`` of ``bounds=(lo, hi)`` (``None`` for either: unbounded); ValueError naming ``bounds``
    for a bad pair, naming ``lams0`` for a start outside it."""
    if bounds is None:
        return -np.inf, np.inf
    if not (isinstance(bounds, (tuple, list)) and len(bounds) == 2):
        raise ValueError(f"bounds must be a pair (lo, hi) of λ values (either may be None), got {bounds!r}")
    lo, hi = (None if b is None else float(b) for b in bounds)
    log_lo = -np.inf if lo is None else (np.log(lo) if lo > 0 else np.nan)
    log_hi = np.inf if hi is None else (np.log(hi) if hi > 0 else np.nan)
    if np.isnan(log_lo) or np.isnan(log_hi) or not log_lo < log_hi:
        raise ValueError(f"bounds must satisfy 0 < lo < hi (λ, not log λ), got {bounds!r}")
    for x in jax.tree.leaves(log_lams):
        if np.any(np.asarray(x) < log_lo - 1e-6) or np.any(np.asarray(x) > log_hi + 1e-6):
            raise ValueError(f"lams0 has values outside bounds={bounds!r}: start inside them, or widen them")
    return float(log_lo), float(log_hi)


def _descent(objective: Callable, method: str, optimizer: optax.GradientTransformation, steps: int,
             lo: float, hi: float, has_aux: bool) -> Callable[[Any], tuple[_DescentState, _Record, Any]]:
    """One start's whole descent as a function of its initial log λ: ``steps`` steps in a ``lax.scan``, then the
    objective (and its aux) at the last λ."""
    value_and_grad = hypergradient_fn(objective, method, has_aux)
    last_value = log_objective(objective, has_aux)

    def step(state: _DescentState, _: Any) -> tuple[_DescentState, _Record]:
        loss, aux, grad = value_and_grad(state.log_lams)
        sq = sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grad))
        alive = state.alive & jnp.isfinite(loss) & jnp.isfinite(sq)
        grad = jax.tree.map(lambda g: jnp.where(alive, g, 0), grad)  # (a NaN would poison the optimizer state)
        updates, opt_state = optimizer.update(grad, state.opt_state, state.log_lams)
        moved = jax.tree.map(lambda x: jnp.clip(x, lo, hi), optax.apply_updates(state.log_lams, updates))
        keep = lambda new, old: jnp.where(alive, new, old)  # noqa: E731  (a stopped start stays where it stopped)
        new = _DescentState(jax.tree.map(keep, moved, state.log_lams),
                            jax.tree.map(keep, opt_state, state.opt_state), alive)
        return new, _Record(jax.tree.map(jnp.exp, state.log_lams), loss, jnp.sqrt(sq), aux)

    def run(log_lams0: Any) -> tuple[_DescentState, _Record, Any]:
        start = _DescentState(log_lams0, optimizer.init(log_lams0), jnp.asarray(True))
        end, record = jax.lax.scan(step, start, None, length=steps)
        last = last_value(end.log_lams)
        return end, record, last if has_aux else (last, None)

    return run


def tune_hyperparams(objective: Callable[[Any], Any], lams0: Any, *, steps: int, learning_rate: Any = None,
                     optimizer: Any = None, method: str = "unrolled", multi_start: bool = False, bounds: Any = None,
                     check: Any = "raise", check_options: dict | None = None, has_aux: bool = False) -> TuneResult:
    r"""Hypergradient descent on log λ: tune many regularization strengths at once by ``jax.grad`` through training.

    Args:
      objective: ``objective(lams) -> scalar`` validation loss, differentiable in ``lams`` (a pytree like
        ``lams0``): it trains with those λ (:func:`jaxreg.fit` with jaxreg transforms, or any JAX loop) and
        evaluates on held-out data; with ``has_aux=True`` it returns ``(loss, aux)``. With
        ``method="unrolled"``, ``fit(..., remat=True, log_every≈√steps)`` bounds the memory of differentiating
        through a long training.
      lams0: the initial λ > 0: a float, an array (per coordinate) or a pytree (per leaf, per group). With
        ``multi_start=True`` every leaf has a leading axis of starts (:func:`starts_from_sweep`).
      steps: hypergradient steps (each trains once, forward and backward).
      learning_rate: Adam's step on log λ (default :data:`DEFAULT_LEARNING_RATE`); or give ``optimizer``.
      optimizer: any optax optimizer on log λ (instead of ``learning_rate``).
      method: ``"unrolled"``: reverse mode through training, one training forward and its backward per step
        whatever the number of hyperparameters: 3 trainings' arithmetic, more in wall time (the scan stores
        every step's residuals and the backward pass reads them back; measured in ``docs/tuning.md``, "What it
        costs"); memory O(training steps × carry) unless ``objective`` rematerialises (``fit(remat=True)``:
        residuals recomputed, about one forward more); ``"forward"``: forward mode, cost ∝ the number of
        hyperparameters, memory independent of the training length (for a few λ).
      multi_start: run one descent per start (leading axis of ``lams0``), side by side in one ``jit(vmap)``.
      bounds: ``(lo, hi)`` on λ (either ``None``: open); each step clips log λ to them, ``at_bound`` reports
        starts that end on one.
      check: before the descent, compare the hypergradient at the (first) start with finite differences
        (:func:`check_hypergradient`): ``"raise"`` (ValueError when they disagree: the sign step), ``"warn"``
        (RuntimeWarning), ``False`` (skip: saves one hypergradient and ``2·len(eps)·directions`` evaluations,
        8 by default).
      check_options: keyword arguments of :func:`check_hypergradient` (``eps``, ``rtol``, ``atol``,
        ``directions``, ``key``).
      has_aux: ``objective`` returns ``(loss, aux)``, as with ``jax.grad(..., has_aux=True)``: ``aux`` (any
        pytree of arrays, e.g. test metrics of the model just trained) is recorded at every point of every start
        (``TuneResult.aux``, ``best_aux``, scalar leaves as ``table()`` columns) and not differentiated.

    Returns:
      :class:`TuneResult`: λ, validation loss and hypergradient norm per start and step, ``stopped`` starts (a
      non-finite loss or hypergradient freezes a start where it is; the rest go on), the best point over all
      starts and steps (never a NaN), the aux along the way, what it cost (``cost``: a :class:`TuneCost`),
      ``to_dataframe()`` and ``plot()``.

    Raises:
      ValueError: ``lams0`` not finite and > 0 (or, with ``multi_start``, without a shared axis of starts), bad
        ``steps``, ``bounds``, ``method``, ``check``, ``has_aux``, ``learning_rate`` with ``optimizer``;
        ``check="raise"`` and the hypergradient disagrees with finite differences.

    Example (ridge on one weight: w(λ) = argmin (w − 2)² + λw² = 2 / (1 + λ); (w − 1)² is least at λ = 1):
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> def objective(lam):
      ...     opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(0.1))
      ...     w = jaxreg.fit(lambda w: (w - 2.0) ** 2, jnp.zeros(()), opt, steps=100).params
      ...     return (w - 1.0) ** 2
      >>> res = tune_hyperparams(objective, 0.1, steps=100)
      >>> round(res.best_lams, 2)
      1.0
    """
    _check_arguments(objective, steps, method, check, multi_start, has_aux)
    t0 = time.perf_counter()
    optimizer = descent_optimizer(learning_rate, optimizer)
    log_lams0, n_starts = check_log_lams(lams0, multi_start)
    lo, hi = log_bounds(bounds, log_lams0, multi_start)
    checked = _run_check(objective, lams0, multi_start, method, check, check_options, has_aux)
    run = _descent(objective, method, optimizer, int(steps), lo, hi, has_aux)
    end, record, last = jax.jit(jax.vmap(run) if multi_start else run)(log_lams0)
    if not multi_start:
        end, record, last = jax.tree.map(lambda x: x[None], (end, record, last))
    out = _result(end, record, last, lo, hi, method, checked)
    cost = TuneCost(hypergradients=n_starts * int(steps), objective_evaluations=n_starts,
                    check_hypergradients=int(checked is not None),
                    check_evaluations=0 if checked is None else 2 * int(checked.finite_difference.size),
                    seconds=time.perf_counter() - t0)
    return out._replace(cost=cost)


def _check_arguments(objective: Any, steps: Any, method: Any, check: Any, multi_start: Any, has_aux: Any) -> None:
    """ValueError naming the first of :func:`tune_hyperparams`' scalar arguments that is wrong."""
    if not callable(objective):
        raise ValueError(f"objective must be a function lams -> validation loss, got {type(objective).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an int >= 1 (hypergradient steps), got {steps!r}")
    if method not in ("unrolled", "forward"):
        raise ValueError(f"method must be 'unrolled' (reverse mode) or 'forward' (forward mode), got {method!r}; "
                         "for the lasso's implicit hypergradient use jaxreg.tuning.tune_weighted_lasso")
    if check not in ("raise", "warn", False, None):
        raise ValueError(f"check must be 'raise', 'warn' or False, got {check!r}")
    if not isinstance(multi_start, bool):
        raise ValueError(f"multi_start must be True or False, got {multi_start!r}")
    if not isinstance(has_aux, bool):
        raise ValueError(f"has_aux must be True or False, got {has_aux!r}")


def _run_check(objective, lams0, multi_start, method, check, options, has_aux):
    """:func:`check_hypergradient` at the first start, raising or warning as ``check`` says; its result or None."""
    if not check:
        return None
    first = jax.tree.map(lambda x: np.asarray(x)[0], lams0) if multi_start else lams0
    options = dict(options or {})
    if "method" in options:
        raise ValueError("check_options must not set method: the check uses tune_hyperparams' method")
    if "has_aux" in options:
        raise ValueError("check_options must not set has_aux: the check uses tune_hyperparams' has_aux")
    found = check_hypergradient(objective, first, method=method, has_aux=has_aux, **options)
    if not found.ok:
        if check == "raise":
            raise ValueError(found.message())
        warnings.warn(found.message(), RuntimeWarning, stacklevel=3)
    return found


def _result(end: _DescentState, record: _Record, last: tuple[jax.Array, Any], lo: float, hi: float, method: str,
            checked: Any) -> TuneResult:
    """The :class:`TuneResult` of stacked descents (leading axis of starts): the initial and visited λ, then the
    last; losses with NaN for every non-finite value; the aux (if any) at the same points."""
    final = jax.tree.map(jnp.exp, end.log_lams)
    append = lambda path, x: np.concatenate([np.asarray(path), np.asarray(x)[:, None]], axis=1)  # noqa: E731
    lams = jax.tree.map(append, record.lams, final)
    aux = None if record.aux is None else jax.tree.map(append, record.aux, last[1])
    loss = np.concatenate([np.asarray(record.loss), np.asarray(last[0])[:, None]], axis=1).astype(np.float64)
    loss[~np.isfinite(loss)] = np.nan
    tol = 1e-6  # in log λ: on a bound up to the rounding of the clip
    at_bound = np.zeros(loss.shape[0], bool)
    for x in jax.tree.leaves(end.log_lams):
        x = np.asarray(x).reshape(loss.shape[0], -1)
        at_bound |= np.any((x <= lo + tol) | (x >= hi - tol), axis=1)
    return TuneResult(lams=lams, val_loss=loss, grad_norm=np.asarray(record.grad_norm, np.float64),
                      stopped=~np.asarray(end.alive), at_bound=at_bound, method=method, check=checked, aux=aux)

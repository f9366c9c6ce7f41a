r"""One λ per feature (or group) of a lasso / elastic net, tuned by implicit hypergradient descent:
:func:`tune_weighted_lasso`, on one validation split or K folds, optionally pulling log λ toward their mean.

With ``folds=K`` the objective is the mean held-out loss of K fits (fold :math:`k` trained on the other folds),

.. math::

   F(\lambda) = \frac1K\sum_{k=1}^K L_k\bigl(w_k^\star(\lambda)\bigr)
   + \gamma\,\frac1p\sum_{j=1}^p\bigl(\log\lambda_j - \overline{\log\lambda}\bigr)^2,

so its hypergradient is the mean of the K implicit hypergradients (:func:`~jaxreg.tuning.lasso_hypergradient`),
each at its own fold's solution, plus :math:`2\gamma(\log\lambda_j - \overline{\log\lambda})/(p\lambda_j)`
for the second term (``log_lam_l2=γ``: γ times the variance of log λ over the ``p`` tuned λ).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg.tuning._descent import check_log_lams, descent_optimizer, log_bounds
from jaxreg.tuning._implicit import _centre_split, _check_groups, _design, _feature_lams, _hypergradient, _l1_ratio
from jaxreg.tuning._result import TuneCost, TuneResult

__all__ = ["tune_weighted_lasso", "fold_ids"]


class _Split(NamedTuple):
    """One fit and the rows it is judged on."""

    x: np.ndarray  # (n_k, d) training rows (centred)
    y: np.ndarray  # (n_k,)
    x_val: np.ndarray  # (m_k, d) held-out rows, centred with the training rows' means
    y_val: np.ndarray  # (m_k,)


class _Point(NamedTuple):
    """The objective descended at one λ."""

    loss: float  # mean held-out loss + the log-λ spread penalty
    grad: np.ndarray  # its gradient with respect to λ, the shape of the tuned λ
    held_out: float  # the mean held-out loss alone


class _Trajectory(NamedTuple):
    """One start's implicit descent, as recorded (host arrays)."""

    log_lams: np.ndarray  # (steps + 1, *shape) log λ at each point
    loss: np.ndarray  # (steps + 1,) the objective there; NaN where not finite
    held_out: np.ndarray  # (steps + 1,) the mean held-out loss there (= loss without log_lam_l2)
    grad_norm: np.ndarray  # (steps,) ‖∂ loss / ∂ log λ‖₂ at each step
    stopped: bool  # a non-finite loss or hypergradient stopped it


def fold_ids(folds: Any, n: int) -> np.ndarray:
    """The fold of each of ``n`` rows: ``folds=K`` gives K contiguous blocks whose sizes differ by at most one
    (scikit-learn's ``KFold`` without shuffling: shuffle the rows first if their order means something); an
    ``(n,)`` int array is taken as the folds themselves, renumbered ``0 … K−1``.

    Example:
      >>> fold_ids(3, 7).tolist()
      [0, 0, 0, 1, 1, 2, 2]
      >>> fold_ids(np.array([5, 2, 5, 2]), 4).tolist()
      [1, 0, 1, 0]
    """
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        if not 2 <= folds <= n:
            raise ValueError(f"folds must be an int in [2, {n}] (the number of rows) or an ({n},) array of fold "
                             f"ids, got {folds!r}")
        return np.repeat(np.arange(folds), [len(b) for b in np.array_split(np.arange(n), folds)])
    ids = np.asarray(folds)
    if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer) or len(np.unique(ids)) < 2:
        raise ValueError(f"folds must be an int K >= 2 or an ({n},) int array of fold ids with at least 2 "
                         f"distinct values, got {getattr(ids, 'dtype', type(folds))} {np.shape(ids)}")
    return np.unique(ids, return_inverse=True)[1].reshape(n)


def _fold_splits(x: np.ndarray, y: np.ndarray, ids: np.ndarray) -> list[_Split]:
    """One :class:`_Split` per fold: trained on the other folds, centred with their means (an unpenalised
    intercept per fit), judged on the fold."""
    out = []
    for k in range(int(ids.max()) + 1):
        held = ids == k
        out.append(_Split(*_centre_split(x[~held], y[~held], x[held], y[held])))
    return out


def _spread_penalty(lam: np.ndarray, gamma: float) -> tuple[float, np.ndarray]:
    """γ · the variance of log λ over the tuned λ, and its gradient with respect to λ."""
    theta = np.log(lam)
    if gamma == 0 or theta.size < 2:
        return 0.0, np.zeros_like(theta)
    dev = theta - theta.mean()
    return float(gamma * np.mean(dev**2)), 2 * gamma * dev / (theta.size * lam)


def _descend(objective: Callable[[np.ndarray], _Point], theta: np.ndarray, optimizer: Any, steps: int,
             lo: float, hi: float) -> _Trajectory:
    """One start: ``steps`` optimizer steps on log λ with the implicit hypergradient, clipped to the bounds."""
    update = jax.jit(optimizer.update)
    opt_state = optimizer.init(jnp.asarray(theta))
    thetas, points, norms, stopped = [theta], [], [], False
    for _ in range(steps):
        if not stopped:  # (a stopped start stays where it is: its point, without solving again)
            point = objective(np.exp(theta))
            grad = point.grad * np.exp(theta)  # ∂/∂ log λ = λ ∂/∂λ
            stopped = not (np.isfinite(point.loss) and np.isfinite(grad).all())
        points.append(point)
        norms.append(float(np.linalg.norm(grad)))
        if not stopped:
            updates, opt_state = update(jnp.asarray(grad), opt_state, jnp.asarray(theta))
            theta = np.clip(theta + np.asarray(updates, np.float64), lo, hi)
        thetas.append(theta)
    points.append(point if stopped else objective(np.exp(theta)))
    loss, held_out = (np.array([getattr(p, k) for p in points], np.float64) for k in ("loss", "held_out"))
    loss[~np.isfinite(loss)] = np.nan
    held_out[~np.isfinite(held_out)] = np.nan
    return _Trajectory(np.stack(thetas), loss, held_out, np.asarray(norms), stopped)


def _splits(x_train: Any, y_train: Any, x_val: Any, y_val: Any, folds: Any, val_loss: Any) -> list[_Split]:
    """The fits the objective averages: the given split, or K folds over all the rows given."""
    x, y = _design(x_train, y_train, "train")
    if x_val is None and y_val is None:
        if folds is None:
            raise ValueError("x_val and y_val are needed without folds=: pass a validation split, or folds=K "
                             "(K-fold over x_train, y_train)")
        xv, yv = np.zeros((0, x.shape[1])), np.zeros(0)
    else:
        xv, yv = _design(x_val, y_val, "val")
    if xv.shape[1] != x.shape[1]:
        raise ValueError(f"x_val must have the {x.shape[1]} features of x_train, got {xv.shape[1]}")
    if folds is None:
        return [_Split(*_centre_split(x, y, xv, yv))]
    if val_loss is not None:
        raise ValueError("val_loss= is a function of w on one validation split; with folds= the held-out rows "
                         "change from fold to fold: leave val_loss=None (mean squared error) or drop folds=")
    x, y = np.vstack([x, xv]), np.concatenate([y, yv])
    return _fold_splits(x, y, fold_ids(folds, len(y)))


def _objective(splits: list[_Split], rho: float, groups: Any, tol: Any, val_loss: Any, shape: tuple,
               log_lam_l2: float, solves: list[int]) -> Callable[[np.ndarray], _Point]:
    """λ (the tuned shape) -> :class:`_Point`: the mean held-out loss over ``splits`` plus the spread penalty;
    ``solves[0]`` counts the path solves."""
    d = splits[0].x.shape[1]

    def objective(lam: np.ndarray) -> _Point:
        per_feature = _feature_lams(lam, d, groups)
        found = [_hypergradient(s.x, s.y, s.x_val, s.y_val, per_feature, rho, groups, tol, val_loss, shape)
                 for s in splits]
        solves[0] += len(splits)
        held_out = float(np.mean([h.loss for h in found]))
        penalty, penalty_grad = _spread_penalty(np.asarray(lam, np.float64), log_lam_l2)
        return _Point(held_out + penalty, np.mean([h.grad for h in found], axis=0) + penalty_grad, held_out)
    return objective


def tune_weighted_lasso(x_train: Any, y_train: Any, x_val: Any, y_val: Any, lams0: Any, *, steps: int,
                        l1_ratio: float = 1.0, groups: Any = None, learning_rate: Any = None, optimizer: Any = None,
                        multi_start: bool = False, bounds: Any = None, tol: float | None = None,
                        val_loss: Callable | None = None, folds: Any = None,
                        log_lam_l2: float = 0.0) -> TuneResult:
    r"""Tune one λ per feature (or per group) of a lasso / elastic net by implicit hypergradient descent.

    Descent on log λ (Adam by default, as :func:`tune_hyperparams`) with the exact hypergradient of
    :func:`lasso_hypergradient`: each step is one weighted solve and one :math:`|S|\times|S|` system per fit, on
    the host (the solves are certified paths, not traced), starts one after the other. A feature whose λ is above
    its entry point gets a zero hypergradient (it stays out until another λ's move brings it in): start from a λ
    below the coarse optimum, e.g. from :func:`starts_from_sweep` of a single-λ sweep, or bound λ from above.

    Many λ fitted to one validation split overfit it (``docs/tuning.md``: 200 λ on 100 rows). ``folds=K``
    descends on the mean held-out loss of K fits instead (module docstring), K times the solves per step;
    ``log_lam_l2=γ`` adds γ · Var(log λ), pulling the λ toward their common (geometric) mean: γ → ∞ is one
    shared λ, 0 (default) no pull.

    Args:
      x_train, y_train: the training design ``(n, d)`` and target, centred here with their means (an
        unpenalised intercept); with ``folds`` each fold's fit is centred with its own training rows' means.
      x_val, y_val: the validation design ``(m, d)`` and target (centred here with the training means); with
        ``folds`` they may be ``None``, and if given their rows join the training rows before the folds are cut.
      lams0: initial λ > 0: scalar, ``(d,)``, or ``(G,)`` with ``groups``; with ``multi_start`` a leading axis
        of starts.
      steps: hypergradient steps.
      l1_ratio, groups, tol, val_loss: as :func:`lasso_hypergradient` (``val_loss`` only without ``folds``).
      learning_rate, optimizer, multi_start, bounds: as :func:`tune_hyperparams`.
      folds: ``None`` (the validation split), an int K ≥ 2 (contiguous blocks of the rows, training then
        validation: :func:`fold_ids`), or an ``(n,)`` / ``(n + m,)`` int array of fold ids.
      log_lam_l2: γ ≥ 0, the weight of the variance of log λ added to the objective.

    Returns:
      :class:`TuneResult` with ``method="implicit"``: ``lams`` one array ``(starts, steps + 1, *shape)``;
      ``val_loss`` the objective descended (the mean held-out loss, plus the penalty if ``log_lam_l2 > 0``);
      ``aux = {"held_out_loss": ...}``, the mean held-out loss alone at each point; ``cost`` with ``path_solves``
      and ``folds``.

    Example (λ per feature of a lasso on 2 informative and 3 noise features):
      >>> import numpy as np
      >>> rng = np.random.default_rng(0)
      >>> x, xv = rng.normal(size=(50, 5)), rng.normal(size=(50, 5))
      >>> w = np.array([2.0, -1.0, 0.0, 0.0, 0.0])
      >>> y, yv = x @ w + 0.5 * rng.normal(size=50), xv @ w + 0.5 * rng.normal(size=50)
      >>> res = tune_weighted_lasso(x, y, xv, yv, np.full(5, 0.05), steps=30)
      >>> bool(res.best_loss < res.val_loss[0, 0]), res.cost.path_solves
      (True, 31)
      >>> cv = tune_weighted_lasso(x, y, xv, yv, np.full(5, 0.05), steps=30, folds=5)   # 100 rows, 5 folds
      >>> cv.cost.path_solves, cv.cost.folds
      (155, 5)
    """
    t0 = time.perf_counter()
    splits = _splits(x_train, y_train, x_val, y_val, folds, val_loss)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an int >= 1 (hypergradient steps), got {steps!r}")
    if isinstance(log_lam_l2, bool) or not isinstance(log_lam_l2, (int, float)) or not 0 <= log_lam_l2 < np.inf:
        raise ValueError(f"log_lam_l2 must be a float >= 0 (the weight of Var(log λ)), got {log_lam_l2!r}")
    d = splits[0].x.shape[1]
    rho, groups = _l1_ratio(l1_ratio), _check_groups(groups, d)
    optimizer = descent_optimizer(learning_rate, optimizer)
    log_lams0, n_starts = check_log_lams(np.asarray(lams0, np.float64), multi_start)
    lo, hi = log_bounds(bounds, log_lams0, multi_start)
    starts = np.asarray(log_lams0, np.float64).reshape((n_starts,) + np.shape(lams0)[int(multi_start):])
    _feature_lams(np.exp(starts[0]), d, groups)  # (a wrong shape of lams0 raises before any solve)
    solves = [0]
    objective = _objective(splits, rho, groups, tol, val_loss, starts.shape[1:], float(log_lam_l2), solves)
    runs = [_descend(objective, theta, optimizer, int(steps), lo, hi) for theta in starts]
    last = np.stack([r.log_lams[-1] for r in runs]).reshape(n_starts, -1)
    cost = TuneCost(hypergradients=n_starts * int(steps), objective_evaluations=n_starts, path_solves=solves[0],
                    folds=len(splits), seconds=time.perf_counter() - t0)
    return TuneResult(lams=np.exp(np.stack([r.log_lams for r in runs])), val_loss=np.stack([r.loss for r in runs]),
                      grad_norm=np.stack([r.grad_norm for r in runs]), stopped=np.array([r.stopped for r in runs]),
                      at_bound=np.any((last <= lo + 1e-9) | (last >= hi - 1e-9), axis=1), method="implicit",
                      aux={"held_out_loss": np.stack([r.held_out for r in runs])}, cost=cost)

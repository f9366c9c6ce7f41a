r"""Choosing λ from a sweep's table: divergence, per-λ curves, the best λ, CV's ``lambda_min`` / ``lambda_1se``.

Rows are models; a *cell* is the models of one (penalty, λ) pair (seeds, folds). Every
function here groups the rows with one sort (``np.unique``) and sums each cell with
``np.bincount``, so choosing λ costs :math:`O(n \log n)` in the number of rows ``n``.

Every choice has a direction, ``mode``: ``"min"`` for a loss, ``"max"`` for an accuracy;
:func:`resolve_mode` reads it from the metric's name and refuses to guess for any other name.

A model is *diverged* when a metric is non-finite or its training loss ended above
:data:`DIVERGENCE_FACTOR` times its initial loss (:func:`diverged_models`). Diverged models never
enter a mean, so they are never chosen; each curve counts them.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from jaxreg.engine._cv import cv_summary, grid_edge

__all__ = ["DIVERGENCE_FACTOR", "LOSS_WORDS", "SCORE_WORDS", "SEEDS_IDENTICAL", "Curve", "resolve_mode",
           "diverged_models", "curves", "best_of", "cv_of", "seeds_identical", "repeated_folds"]

#: A model whose training loss ended above this multiple of its initial loss is diverged, even if finite.
#: With penalties centred at 0 and zero-initialised weights, a model that trains properly never ends
#: above its initial data loss (the penalised objective at the optimum is at most its value at 0);
#: a random initialisation changes that by a small factor. Divergence grows geometrically (the
#: loss passes 1e16 within a few hundred steps), so 10 leaves an order of magnitude for slow or
#: noisy but converging runs and still flags a diverging one within a few steps.
DIVERGENCE_FACTOR = 10.0

#: Words of a metric's name (split at anything but letters and digits) that make it a loss: smaller is better.
LOSS_WORDS = frozenset({"loss", "losses", "error", "errors", "err", "mse", "rmse", "mae", "mape", "nll", "deviance",
                        "risk", "cost", "perplexity", "ppl", "xent", "crossentropy", "bce", "brier", "hinge"})
#: Words that make it a score: larger is better.
SCORE_WORDS = frozenset({"acc", "accuracy", "auc", "auroc", "auprc", "r2", "f1", "precision", "recall",
                         "sensitivity", "specificity", "iou", "dice", "bleu"})
#: Words that negate or relativise a metric (``neg_mse``, ``1_minus_acc``, ``loss_reduction``, ``accuracy_drop``):
#: the direction its loss or score word suggests may be the wrong one, so a name with one is refused.
TURNING_WORDS = frozenset({"neg", "negative", "negated", "minus", "inv", "inverse", "reciprocal", "drop", "reduction",
                           "reduced", "improvement", "improved", "gain", "gained", "decrease", "increase", "delta",
                           "diff", "difference", "change", "avoided", "saved", "savings", "regret", "relative", "rel",
                           "vs", "over", "ratio"})
#: What :meth:`~jaxreg.engine.SweepResult.best` and ``cv`` warn (once) when every seed gave the same value.
SEEDS_IDENTICAL = ("seeds change nothing for this model: they are not independent replicates (each seed gave a "
                   "bit-identical {metric} at every λ, as a zero-initialised model trained on full batches does); "
                   "run one seed, or make the seeds matter (a random initialisation, minibatches)")

class Curve(NamedTuple):
    """One metric per λ over the healthy models at each λ (one penalty): what a validation curve plots.

    The replicates are the healthy models, or, with CV folds, the folds: each fold's score is
    the mean over its healthy seeds, and ``mean``, ``spread``, ``se`` and ``n`` are over those
    scores (a fold's seeds share its held-out rows, so they are not independent; :func:`cv_of`).

    Example:
      >>> from jaxreg.engine import SweepResult
      >>> res = SweepResult.from_sweep({"val_loss": np.array([[0.4, 0.9], [0.6, np.inf]])}, [0.1, 1.0], keys=[0, 1])
      >>> c = res.curves()
      >>> c.lambdas.tolist(), c.mean.tolist(), c.n.tolist(), c.n_diverged.tolist()
      ([0.1, 1.0], [0.5, 0.9], [2, 1], [0, 1])
    """

    lambdas: np.ndarray  # (K,) float64, increasing
    mean: np.ndarray  # (K,) mean over the replicates; NaN when a λ has none
    spread: np.ndarray  # (K,) standard deviation over them (ddof=0); 0 for one
    se: np.ndarray  # (K,) standard error sd(ddof=1)/sqrt(n); NaN with fewer than 2 replicates
    n: np.ndarray  # (K,) int, replicates at each λ: healthy models, or folds with a healthy model
    n_diverged: np.ndarray  # (K,) int, diverged models at each λ
    n_models: np.ndarray | None = None  # (K,) int, healthy models at each λ; None: n counts them
    replicates: str = "models"  # what n counts: "models", or "folds" (each scored by the mean of its seeds)


def resolve_mode(metric: str, mode: str | None) -> str:
    """The direction of a choice by ``metric``: ``mode`` if given, else read from the metric's name.

    The name is split into words at anything but letters and digits (``val_acc`` -> ``val``,
    ``acc``); a word of :data:`LOSS_WORDS` makes it ``"min"``, one of :data:`SCORE_WORDS`
    ``"max"``. Any other name, one with words of both kinds, or one with a word of
    :data:`TURNING_WORDS` (scikit-learn's negated losses ``neg_mse``, ``1_minus_acc``,
    ``loss_reduction``, ``accuracy_drop``) is refused rather than guessed.

    Raises:
      ValueError: a ``mode`` other than ``"min"`` / ``"max"``, or a name that says neither, naming ``mode=``.

    Example:
      >>> resolve_mode("val_loss", None), resolve_mode("val_acc", None), resolve_mode("zeros", "max")
      ('min', 'max', 'max')
    """
    if mode is not None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' (a loss) or 'max' (an accuracy), got {mode!r}")
        return mode
    words = set(re.split(r"[^a-z0-9]+", str(metric).lower()))
    loss, score = bool(words & LOSS_WORDS), bool(words & SCORE_WORDS)
    if loss != score and not words & TURNING_WORDS:
        return "min" if loss else "max"
    raise ValueError(f"cannot tell from the name {metric!r} whether smaller or larger is better; pass "
                     f"mode='min' (a loss or error) or mode='max' (an accuracy or score)")


def diverged_models(finite: ArrayLike, loss: ArrayLike | None = None, initial_loss: ArrayLike | None = None, *,
                    factor: float = DIVERGENCE_FACTOR) -> np.ndarray:
    r"""Which models diverged: a non-finite metric, or a training loss that grew past ``factor`` × its start.

    .. math::
        \text{diverged}_i = \lnot\,\text{finite}_i \;\lor\; \bigl(\ell^0_i > 0 \land \ell_i > c\,\ell^0_i\bigr),
        \qquad c = \texttt{factor}

    Args:
      finite: ``(n,)`` bools, False where a metric (or a parameter) is NaN or inf.
      loss: ``(n,)`` final training losses :math:`\ell_i`, or ``None`` (finiteness only).
      initial_loss: the losses :math:`\ell^0_i` at initialisation, ``(n,)`` or a scalar; ``None``:
        finiteness only. A start of 0 (or less) says nothing about growth and is not compared.
      factor: :math:`c`, default :data:`DIVERGENCE_FACTOR`.

    Example:
      >>> diverged_models([True, True, False], [0.3, 40.0, 0.1], 2.0).tolist()
      [False, True, True]
    """
    bad = ~np.asarray(finite, bool)
    if loss is None or initial_loss is None:
        return bad
    loss = np.asarray(loss, np.float64)
    start = np.broadcast_to(np.asarray(initial_loss, np.float64), loss.shape)
    with np.errstate(invalid="ignore"):
        grew = (start > 0) & ~(loss <= factor * start)  # NaN loss counts as grown
    return bad | grew


def _cells(labels: np.ndarray, lambdas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cell of each row: ``(label_values, label_of_cell, lambda_of_cell, cell_of_row)``, cells sorted by label, λ."""
    label_values, label_idx = np.unique(labels, return_inverse=True)
    lambda_values, lambda_idx = np.unique(lambdas, return_inverse=True)
    key = label_idx.astype(np.int64).ravel() * lambda_values.size + lambda_idx.ravel()
    cell_keys, cell_of_row = np.unique(key, return_inverse=True)
    return label_values, cell_keys // lambda_values.size, lambda_values[cell_keys % lambda_values.size], cell_of_row


def _cell_stats(values: np.ndarray, ok: np.ndarray, cell: np.ndarray, n_cells: int):
    """Per cell: count, mean, sd (ddof=0) and se of ``values`` over the ``ok`` rows (two passes, no cancellation)."""
    w = ok.astype(np.float64)
    v = np.where(ok, values, 0.0)
    n = np.bincount(cell, weights=w, minlength=n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(cell, weights=v, minlength=n_cells) / n
        dev = np.where(ok, values - mean[cell], 0.0)
        ss = np.bincount(cell, weights=dev * dev, minlength=n_cells)
        sd = np.sqrt(ss / n)
        se = np.where(n >= 2, np.sqrt(ss / np.maximum(n - 1, 1)) / np.sqrt(n), np.nan)
    return n.astype(np.int64), mean, sd, se


def curves(labels: ArrayLike, lambdas: ArrayLike, values: ArrayLike, bad: ArrayLike,
           folds: ArrayLike | None = None) -> dict:
    r"""Per label (penalty): the :class:`Curve` of ``values`` over the rows that are not ``bad``.

    Without ``folds`` the replicates are the healthy models. With ``folds`` they are the folds:
    fold :math:`f`'s score at :math:`\lambda_k` is the mean over its healthy seeds,
    :math:`\bar s_{fk}`, and the curve's mean, spread and standard error are over the folds that
    have one (the same rule as :func:`cv_of`, which also drops a λ with any diverged model).

    Args:
      labels: ``(n,)`` group of each row (the penalty), any sortable dtype.
      lambdas: ``(n,)`` λ of each row.
      values: ``(n,)`` the metric.
      bad: ``(n,)`` bools, True for a diverged model (:func:`diverged_models`); rows with a non-finite
        value are left out too.
      folds: ``(n,)`` the CV fold of each row, or ``None``.

    Example:
      >>> c = curves(["a"] * 4, [0.1, 0.1, 1.0, 1.0], [1.0, 3.0, 5.0, 9.0], [False, False, False, True])
      >>> c["a"].mean.tolist(), c["a"].n.tolist(), c["a"].n_diverged.tolist()
      ([2.0, 5.0], [2, 1], [0, 1])
      >>> f = curves(["a"] * 4, [0.1] * 4, [1.0, 1.0, 3.0, 3.0], [False] * 4, folds=[0, 0, 1, 1])["a"]
      >>> f.mean.tolist(), f.n.tolist(), f.n_models.tolist(), f.replicates
      ([2.0], [2], [4], 'folds')
    """
    labels, lambdas = np.asarray(labels), np.asarray(lambdas, np.float64)
    values, bad = np.asarray(values, np.float64), np.asarray(bad, bool)
    label_values, cell_label, cell_lambda, cell = _cells(labels, lambdas)
    ok = ~bad & np.isfinite(values)
    n_cells = cell_label.size
    n_models, mean, sd, se = _cell_stats(values, ok, cell, n_cells)
    n = n_models
    if folds is not None:  # the fold scores (means over each fold's healthy seeds) are the replicates
        fold_values, fold_idx = np.unique(np.asarray(folds), return_inverse=True)
        F = fold_values.size
        n_sub, fold_score, _, _ = _cell_stats(values, ok, cell * F + fold_idx.ravel(), n_cells * F)
        n, mean, sd, se = _cell_stats(fold_score, n_sub > 0, np.arange(n_cells * F) // F, n_cells)
    n_bad = np.bincount(cell, weights=bad.astype(np.float64), minlength=n_cells).astype(np.int64)
    kind = "models" if folds is None else "folds"
    out = {}
    for j in _first_seen(labels, label_values):
        sel = cell_label == j
        out[label_values[j].item()] = Curve(cell_lambda[sel], mean[sel], sd[sel], se[sel], n[sel], n_bad[sel],
                                            n_models[sel], kind)
    return out


def _first_seen(labels: np.ndarray, label_values: np.ndarray) -> np.ndarray:
    """Indices into ``label_values`` in the order the labels first occur in the rows."""
    _, first = np.unique(labels, return_index=True)
    return np.argsort(first, kind="stable") if label_values.size else np.zeros(0, np.int64)


def best_of(curve: Curve, metric: str, mode: str, n_folds: int | None = None) -> dict | None:
    """The λ of ``curve`` with the best mean (``mode`` ``"min"`` or ``"max"``); ``None`` when no λ has one.

    With ``n_folds`` (a fold curve), a λ scored on fewer folds is skipped: its mean would be over
    other held-out rows than the rest's, and a fold that diverged there is often the hardest one.

    The record: ``lambda``, ``metric``'s mean, ``spread``, ``se``, ``n`` (the replicates the
    standard error is over) and ``n_counts`` (what they are: ``"models"`` or ``"folds"``),
    ``n_models`` (healthy models) and ``n_diverged`` at that λ, ``index`` and ``at_grid_edge``
    (``"lower"`` / ``"upper"`` at the grid's smallest / largest λ: the best may lie beyond it).

    Example:
      >>> c = Curve(np.array([0.1, 1.0]), np.array([0.5, 0.4]), np.zeros(2), np.full(2, np.nan),
      ...           np.array([1, 1]), np.array([0, 0]))
      >>> b = best_of(c, "val_loss", "min")
      >>> b["lambda"], b["at_grid_edge"]
      (1.0, 'upper')
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    usable = np.isfinite(curve.mean) & (curve.n >= (n_folds or 0))
    if not usable.any():
        return None
    score = np.where(usable, curve.mean if mode == "min" else -curve.mean, np.inf)
    i = int(np.argmin(score))  # the smallest λ among ties, as the rows are sorted by λ
    n_models = curve.n if curve.n_models is None else curve.n_models
    return {"lambda": float(curve.lambdas[i]), metric: float(curve.mean[i]), "spread": float(curve.spread[i]),
            "se": float(curve.se[i]), "n": int(curve.n[i]), "n_counts": curve.replicates,
            "n_models": int(n_models[i]), "n_diverged": int(curve.n_diverged[i]), "index": i,
            "at_grid_edge": grid_edge(curve.lambdas, i)}


def cv_of(lambdas: ArrayLike, folds: ArrayLike, values: ArrayLike, bad: ArrayLike, metric: str,
          mode: str = "min") -> dict:
    r"""Cross-validation choice of λ for one penalty: glmnet's ``lambda_min`` and ``lambda_1se``.

    The score of fold :math:`f` at :math:`\lambda_k` is the mean of ``values`` over that
    fold's seeds, :math:`\bar s_{fk} = \frac1S \sum_s v_{fsk}`; then per λ

    .. math::
        m_k = \frac1F \sum_f \bar s_{fk},\qquad
        \mathrm{se}_k = \frac{\operatorname{sd}_{\mathrm{ddof}=1}(\bar s_{1k}, \dots, \bar s_{Fk})}{\sqrt F}

    (:func:`~jaxreg.engine.cv_summary` of the ``(F, K)`` seed-averaged scores). The folds are
    the independent replicates: seeds of one fold are scored on the same held-out rows, so
    treating the ``F·S`` scores as independent would shrink the error bar by up to
    :math:`\sqrt S`. A λ at which any model diverged gets no score and is never chosen (its
    mean would average different sets of models than its neighbours'). ``mode``: ``"min"`` for a
    loss, ``"max"`` for an accuracy (:func:`~jaxreg.engine.cv_summary`).

    Raises:
      ValueError: fewer than 2 folds, a fold missing some λ, or every λ with a diverged model.

    Example:
      >>> lam = [0.1, 1.0] * 4
      >>> fold = [0, 0, 0, 0, 1, 1, 1, 1]
      >>> v = [3.0, 1.0, 3.0, 1.4, 3.2, 1.2, 3.2, 1.0]  # two seeds per fold
      >>> s = cv_of(lam, fold, v, [False] * 8, "val_loss")
      >>> s["lambda_min"], s["mean"].round(3).tolist()
      (1.0, [3.1, 1.15])
    """
    lambdas, folds = np.asarray(lambdas, np.float64), np.asarray(folds)
    values, bad = np.asarray(values, np.float64), np.asarray(bad, bool) | ~np.isfinite(np.asarray(values, float))
    fold_values, fold_idx = np.unique(folds, return_inverse=True)
    lambda_values, lambda_idx = np.unique(lambdas, return_inverse=True)
    if fold_values.size < 2:
        raise ValueError(f"cv needs at least 2 folds for a standard error, got {fold_values.size}; "
                         "run the sweep with folds=F (F >= 2), or use best() for a fixed validation split")
    F, K = fold_values.size, lambda_values.size
    cell = fold_idx.ravel() * K + lambda_idx.ravel()
    count = np.bincount(cell, minlength=F * K).reshape(F, K)
    if (count == 0).any():
        raise ValueError("cv needs every fold at every λ; some (fold, λ) has no model")
    total = np.bincount(cell, weights=np.where(bad, 0.0, values), minlength=F * K).reshape(F, K)
    n_bad = np.bincount(cell, weights=bad.astype(np.float64), minlength=F * K).reshape(F, K)
    scores = np.where(n_bad.sum(0) == 0, total / count, np.nan)
    try:
        s = cv_summary(lambda_values, scores, mode=mode)
    except ValueError as e:
        raise ValueError(f"no λ can be chosen by cross-validation of {metric}: every λ has a diverged model "
                         "(lower the learning rate)") from e
    return {**s, "lambdas": lambda_values, "metric": metric, "n_folds": F, "n_seeds": int(count.max()),
            "n_diverged": n_bad.sum(0).astype(np.int64)}


def seeds_identical(labels: ArrayLike, lambdas: ArrayLike, seeds: ArrayLike, values: ArrayLike, bad: ArrayLike,
                    folds: ArrayLike | None = None) -> bool:
    """Whether two or more seeds gave bit-identical ``values`` in every (label, fold, λ) cell.

    Seeds that change nothing (a model started at zero and trained on full batches) are not
    replicates: their spread is 0 and counting them shrinks a standard error. ``False`` with one
    seed, or when no cell has two healthy seeds to compare.

    Example:
      >>> seeds_identical(["a"] * 4, [0.1, 1.0] * 2, [0, 0, 1, 1], [0.3, 0.2, 0.3, 0.2], [False] * 4)
      True
    """
    seeds, values = np.asarray(seeds), np.asarray(values, np.float64)
    ok = ~np.asarray(bad, bool) & np.isfinite(values)
    if np.unique(seeds[ok]).size < 2:
        return False
    parts = [np.asarray(labels)[ok], np.asarray(lambdas, np.float64)[ok]]
    if folds is not None:
        parts.append(np.asarray(folds)[ok])
    cell = np.zeros(int(ok.sum()), np.int64)
    for part in parts:  # renumbered after each part: the ids stay below the number of rows
        part_values, part_idx = np.unique(part, return_inverse=True)
        cell = np.unique(cell * part_values.size + part_idx.ravel(), return_inverse=True)[1].ravel()
    v = values[ok]
    order = np.lexsort((v, cell))
    same_cell = cell[order][1:] == cell[order][:-1]
    return bool(same_cell.any() and np.all(v[order][1:][same_cell] == v[order][:-1][same_cell]))


def repeated_folds(metrics: dict[str, np.ndarray], shape: tuple[int, ...]) -> list[int]:
    """The folds (by position) whose float ``metrics`` (columns in grid order, ``shape`` = ``(F, S?, K)``) equal an
    earlier fold's at every seed and λ (NaN for NaN), where one of them varies across that fold's seeds and λ:
    equal constants (a saturated accuracy, all NaN) prove nothing. Different held-out rows cannot give identical
    results, as :func:`seeds_identical` tells seeds that change nothing."""
    rows = [v.reshape(shape[0], -1) for v in metrics.values() if v.dtype.kind == "f"]  # fold axis first

    def varies(row: np.ndarray) -> bool:
        finite = row[np.isfinite(row)]
        return finite.size > 1 and bool(np.ptp(finite) > 0)

    return [f for f in range(1, shape[0])
            if any(varies(r[f]) for r in rows)
            and any(all(np.array_equal(r[f], r[g], equal_nan=True) for r in rows) for g in range(f))]

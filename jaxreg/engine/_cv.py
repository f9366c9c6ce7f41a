"""K-fold cross-validation arithmetic and glmnet's λ choices.

:func:`kfold_masks` assigns every training sample to one fold; the sweep
trains one model per (fold, λ) with that fold held out (weight 0 in the loss)
and scores it on the held-out fold. :func:`cv_summary` turns the
``(folds, K)`` scores into a mean and a standard error per λ and picks

* ``lambda_min``: the λ with the best mean score (the smallest for a loss, ``mode="min"``;
  the largest for an accuracy, ``mode="max"``);
* ``lambda_1se``: glmnet's rule, the largest λ whose mean is within one
  standard error (of the best) of the best: ``mean <= best + se`` for a loss,
  ``mean >= best - se`` for an accuracy.

The standard error is :math:`\\mathrm{sd}/\\sqrt{F}` with ``ddof=1`` across the
``F`` folds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["kfold_masks", "cv_summary", "grid_edge"]


def kfold_masks(n: int, folds: int, *, seed: int = 0) -> np.ndarray:
    """``(folds, n)`` boolean array, row ``f`` = held-out samples of fold ``f``.

    Samples are shuffled with ``seed`` and dealt into folds of sizes differing
    by at most one; every sample is held out exactly once.

    Example:
      >>> masks = kfold_masks(7, 3)
      >>> masks.sum(axis=1).tolist(), masks.sum(axis=0).tolist()
      ([3, 2, 2], [1, 1, 1, 1, 1, 1, 1])
    """
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"folds must be an int >= 2, got {folds!r}")
    if folds > n:
        raise ValueError(f"folds ({folds}) cannot exceed the number of training samples ({n})")
    perm = np.random.default_rng(seed).permutation(n)
    masks = np.zeros((folds, n), bool)
    for f, idx in enumerate(np.array_split(perm, folds)):
        masks[f, idx] = True
    return masks


def cv_summary(lambdas, scores, *, mode: str = "min") -> dict:
    r"""Mean, standard error, ``lambda_min`` and ``lambda_1se`` from ``(folds, K)`` scores.

    ``mode="min"``: lower scores are better (a loss); ``"max"``: higher are (an accuracy).
    Non-finite scores (diverged models) make that λ's mean non-finite and it is never chosen.
    With :math:`m_k` the mean and :math:`s_k` the standard error of :math:`\lambda_k` and
    :math:`k^*` the best mean,

    .. math::
        \lambda_{\text{1se}} = \max\{\lambda_k : m_k \le m_{k^*} + s_{k^*}\}
        \quad(\text{min; } m_k \ge m_{k^*} - s_{k^*} \text{ for max}).

    ``at_grid_edge`` is ``"lower"`` / ``"upper"`` when ``lambda_min`` is the grid's smallest /
    largest λ (the best may lie beyond it: widen the grid), else ``None`` (also for one λ);
    ``lambda_1se_at_grid_edge`` says the same of ``lambda_1se`` (at the upper edge, a flat curve
    may stay within one standard error beyond the grid).

    Example:
      >>> s = cv_summary([0.1, 1.0, 10.0], [[3.0, 1.0, 1.1], [3.0, 1.2, 1.2]])
      >>> s["lambda_min"], s["lambda_1se"], s["at_grid_edge"], s["lambda_1se_at_grid_edge"]
      (1.0, 10.0, None, 'upper')
      >>> cv_summary([0.1, 1.0, 10.0], [[0.9, 0.7, 0.5], [0.8, 0.7, 0.5]], mode="max")["at_grid_edge"]
      'lower'
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' (a loss) or 'max' (an accuracy), got {mode!r}")
    lambdas = np.asarray(lambdas, np.float64)
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 2 or scores.shape[1] != lambdas.size:
        raise ValueError(f"scores must have shape (folds, {lambdas.size}), got {scores.shape}")
    if scores.shape[0] < 2:
        raise ValueError("cv_summary needs at least 2 folds for a standard error")
    mean = scores.mean(0)
    se = scores.std(0, ddof=1) / np.sqrt(scores.shape[0])
    ok = np.isfinite(mean) & np.isfinite(se)
    if not ok.any():
        raise ValueError("every λ has a non-finite CV score: all models diverged")
    sign = 1.0 if mode == "min" else -1.0  # minimise sign·mean
    i_min = int(np.flatnonzero(ok)[np.argmin(sign * mean[ok])])
    within = ok & (sign * mean <= sign * mean[i_min] + se[i_min])
    i_1se = int(np.flatnonzero(within)[np.argmax(lambdas[within])])
    return {
        "mean": mean, "se": se, "mode": mode,
        "lambda_min": float(lambdas[i_min]), "index_min": i_min,
        "lambda_1se": float(lambdas[i_1se]), "index_1se": i_1se,
        "at_grid_edge": grid_edge(lambdas, i_min), "lambda_1se_at_grid_edge": grid_edge(lambdas, i_1se),
    }


def grid_edge(lambdas, index: int) -> str | None:
    """``"lower"`` / ``"upper"`` when ``lambdas[index]`` is the grid's smallest / largest λ; ``None`` inside.

    A grid of one λ has no inside and no edge to move: ``None``.

    Example:
      >>> grid_edge([0.1, 1.0, 10.0], 0), grid_edge([0.1, 1.0, 10.0], 1), grid_edge([10.0, 1.0], 0)
      ('lower', None, 'upper')
    """
    lambdas = np.asarray(lambdas, np.float64)
    if lambdas.size < 2:
        return None
    if lambdas[index] == lambdas.min():
        return "lower"
    if lambdas[index] == lambdas.max():
        return "upper"
    return None

r"""Are the zeros right? Support-recovery metrics, K-fold CV of a path solver, least squares on a support.

For a known true coefficient vector :math:`w^*` with support :math:`S = \{j : w^*_j \ne 0\}` and an estimate
:math:`\hat w` with support :math:`\hat S`, :func:`support_metrics` gives

.. math::

   \mathrm{TPR} = \frac{|\hat S \cap S|}{|S|}, \qquad
   \mathrm{FDR} = \frac{|\hat S \setminus S|}{\max(|\hat S|, 1)}, \qquad
   \|\hat w - w^*\|_2 .

:func:`path_cv` chooses λ for any path function (:func:`jaxreg.elastic_net_path`,
:func:`jaxreg.solvers.nonconvex_path`, ...) by K-fold CV of the held-out mean squared error, with glmnet's
``lambda_min`` and ``lambda_1se`` (:func:`jaxreg.engine.cv_summary`); :func:`refit_least_squares` gives the
unpenalised fit on a selected support (e.g. a stable set), which has no shrinkage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jaxreg.core._grids import check_grid
from jaxreg.engine._cv import cv_summary, kfold_masks

__all__ = ["support_metrics", "path_cv", "refit_least_squares"]


def support_metrics(coef: Any, true_coef: Any) -> dict:
    r"""TPR, FDR, the selected count, false selections and :math:`\|\hat w - w^*\|_2` of one estimate.

    Args:
      coef: ``(d,)`` estimate; nonzero = selected.
      true_coef: ``(d,)`` the truth; nonzero = the true support (at least one).

    Example:
      >>> m = support_metrics([1.0, 0.0, 0.5, 0.0], [2.0, 1.0, 0.0, 0.0])
      >>> m["tpr"], m["fdr"], m["n_selected"], m["n_false"], round(m["l2_error"], 4)   # √(1 + 1 + 0.25)
      (0.5, 0.5, 2, 1, 1.5)
    """
    w, w_true = np.asarray(coef, np.float64), np.asarray(true_coef, np.float64)
    if w.ndim != 1 or w.shape != w_true.shape:
        raise ValueError(f"coef and true_coef must be (d,) vectors of one shape, got {w.shape} and {w_true.shape}")
    selected, true = w != 0, w_true != 0
    if not true.any():
        raise ValueError("true_coef has no nonzero coefficient: the true positive rate is undefined")
    n_selected, hits = int(selected.sum()), int((selected & true).sum())
    return {"tpr": hits / int(true.sum()), "fdr": (n_selected - hits) / max(n_selected, 1),
            "n_selected": n_selected, "n_false": n_selected - hits, "l2_error": float(np.linalg.norm(w - w_true))}


def _centred(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    mx, my = x.mean(axis=0), float(y.mean())
    return x - mx, y - my, mx, my


def path_cv(path_fn: Callable[[Any, Any, Any], Any], x: Any, y: Any, lambdas: Any, *, folds: int = 5,
            seed: int = 0) -> dict:
    r"""K-fold CV of ``path_fn(x, y, lambdas) -> (K, d)`` by held-out MSE; the full-data path at the chosen λ.

    Each fold's training part and the full data are centred (an intercept); a held-out prediction is
    :math:`\bar y_{train} + (x - \bar x_{train})^\top w`. The folds are :func:`jaxreg.kfold_masks`
    ``(n, folds, seed=seed)``.

    Returns:
      :func:`jaxreg.engine.cv_summary`'s dict (``mean``, ``se``, ``lambda_min``, ``lambda_1se`` and their
      indices) with ``scores`` ``(folds, K)``, ``coefs`` (the full-data path, ``(K, d)``), ``coef_min`` and
      ``coef_1se``.

    Example:
      >>> import numpy as np, jaxreg
      >>> from jaxreg.selection import path_cv
      >>> rng = np.random.default_rng(0)
      >>> x = rng.standard_normal((60, 8)); y = x[:, 0] - x[:, 1] + 0.3 * rng.standard_normal(60)
      >>> lasso = lambda x, y, lam: jaxreg.elastic_net_path(x, y, lam, tol=1e-3)
      >>> cv = path_cv(lasso, x, y, jaxreg.log_grid(0.01, 1.0, 9), folds=3)
      >>> round(cv["lambda_min"], 4), round(cv["lambda_1se"], 4)
      (0.0316, 0.0562)
      >>> np.flatnonzero(cv["coef_min"]).tolist(), np.flatnonzero(cv["coef_1se"]).tolist()   # the truth: [0, 1]
      ([0, 1, 3, 4, 6, 7], [0, 1, 4])
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be (n, d) and y (n,), got {x.shape} and {y.shape}")
    lam = check_grid(lambdas)
    held = kfold_masks(x.shape[0], folds, seed=seed)
    scores = np.empty((folds, lam.shape[0]))
    for f, test in enumerate(held):
        xc, yc, mx, my = _centred(x[~test], y[~test])
        coefs = np.asarray(path_fn(xc, yc, lam), np.float64)
        pred = my + (x[test] - mx) @ coefs.T  # (n_test, K)
        scores[f] = np.mean((y[test, None] - pred) ** 2, axis=0)
    summary = cv_summary(lam, scores)
    xc, yc, _, _ = _centred(x, y)
    coefs = np.asarray(path_fn(xc, yc, lam))
    return {**summary, "scores": scores, "coefs": coefs, "coef_min": coefs[summary["index_min"]],
            "coef_1se": coefs[summary["index_1se"]]}


def _support_indices(support: Any, d: int) -> np.ndarray:
    """Distinct column indices from indices or a ``(d,)`` boolean mask (a mask cast to int would mean columns 0/1)."""
    s = np.asarray(support)
    if s.dtype == bool:
        if s.shape != (d,):
            raise ValueError(f"support as a boolean mask must have shape ({d},) (one flag per column), got {s.shape}")
        return np.flatnonzero(s)
    s = s.reshape(-1)
    if s.size and not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"support must be integer column indices or a ({d},) boolean mask, got dtype {s.dtype}")
    s = s.astype(np.int64)
    if s.size and (s.min() < 0 or s.max() >= d):
        raise ValueError(f"support has indices outside [0, {d}): {s[(s < 0) | (s >= d)].tolist()}")
    if np.unique(s).size != s.size:
        raise ValueError(f"support has duplicate indices: {s.tolist()}; pass each column once")
    return s


def refit_least_squares(x: Any, y: Any, support: Any) -> np.ndarray:
    r"""``(d,)``: least squares with an intercept on the columns ``support``, zeros elsewhere.

    .. math::

       \hat w_S = \arg\min_{w_S} \|y - \bar y - (X_S - \bar X_S) w_S\|^2, \qquad \hat w_{S^c} = 0

    (the minimum-norm solution when :math:`|S|` exceeds the rank).

    Args:
      x: ``(n, d)`` design.
      y: ``(n,)`` response.
      support: column indices (distinct, in ``[0, d)``) or a ``(d,)`` boolean mask.

    Example:
      >>> import numpy as np
      >>> x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]]); y = 2 * x[:, 0] + 1
      >>> refit_least_squares(x, y, [0]).round(6).tolist()
      [2.0, 0.0]
      >>> refit_least_squares(x, y, [True, False]).round(6).tolist()   # a mask selects the same column
      [2.0, 0.0]
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be (n, d) and y (n,), got {x.shape} and {y.shape}")
    support = _support_indices(support, x.shape[1])
    w = np.zeros(x.shape[1])
    if support.size:
        xc, yc, _, _ = _centred(x[:, support], y)
        w[support] = np.linalg.lstsq(xc, yc, rcond=None)[0]
    return w

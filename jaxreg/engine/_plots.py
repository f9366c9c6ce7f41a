r"""Figures of a :class:`~jaxreg.engine.SweepResult`: validation curve, sparsity, coefficient path, weights.

Each function returns a ``matplotlib.figure.Figure`` (no pyplot state: it works in scripts,
notebooks, where a returned figure displays itself, and threads); ``fig.savefig(path)`` writes
it. Diverged models (:attr:`~jaxreg.engine.SweepResult.diverged`) never enter a curve: their
λ are marked with a red ``x`` on the λ axis instead, so one model at 1e16 cannot flatten the
others. matplotlib is imported when a figure is drawn; without it the call says what to install.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxreg.engine._select import Curve, curves, resolve_mode

__all__ = ["PENALTY_COLORS", "plot_validation_curve", "plot_sparsity", "plot_coefficient_path",
           "plot_weight_histogram"]

#: Line colour of each of the command's penalties (others are black).
PENALTY_COLORS = {"l2": "tab:blue", "l1": "tab:orange", "l1_prox": "tab:green", "elastic_net": "tab:purple",
                  "group": "tab:brown"}
#: Most coefficients a coefficient path draws (those largest in magnitude), so that it stays readable.
MAX_PATH_LINES = 40
#: Figure width per panel and height, inches.
PANEL_SIZE = (4.2, 3.6)


def _figure(n_panels: int, *, sharey: bool = False):
    """A Figure with ``n_panels`` axes side by side (``axes[0]`` is the row)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ModuleNotFoundError("jaxreg's plots need matplotlib: pip install matplotlib (or jaxreg[cli])",
                                  name="matplotlib") from e
    fig = Figure(figsize=(PANEL_SIZE[0] * n_panels, PANEL_SIZE[1]))
    return fig, fig.subplots(1, n_panels, squeeze=False, sharey=sharey)[0]


def _labels(result: Any) -> np.ndarray:
    """The penalty of each row ('' for a table without a ``penalty`` column)."""
    return result.table["penalty"] if "penalty" in result.table else np.full(len(result), "")


def _band(ax, c: Curve, color: str, label: str, style: str = "-") -> None:
    """``mean`` with a ± ``se`` band where a λ has two or more healthy models."""
    ax.plot(c.lambdas, c.mean, style, color=color, label=label, lw=1.6)
    se = np.where(np.isfinite(c.se), c.se, 0.0)
    if np.any(se > 0):
        ax.fill_between(c.lambdas, c.mean - se, c.mean + se, color=color, alpha=0.15, lw=0)


def _mark_diverged(ax, c: Curve) -> None:
    """A red ``x`` on the λ axis at every λ with a diverged model; the legend counts them."""
    hit = c.n_diverged > 0
    if hit.any():
        ax.plot(c.lambdas[hit], np.zeros(int(hit.sum())), "x", color="red", ms=6, clip_on=False,
                transform=ax.get_xaxis_transform(), label=f"{int(c.n_diverged.sum())} diverged (left out)")


def _finish(ax, title: str) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("λ")
    ax.set_title(title)
    ax.grid(alpha=0.3)


def plot_validation_curve(result: Any, metric: str = "val_loss", *, train_metric: str | None = "train_loss",
                          title: str = "", mode: str | None = None):
    r"""``metric`` vs λ (solid), mean ± standard error; ``train_metric`` dashed; one panel per penalty.

    The band is :meth:`~jaxreg.engine.SweepResult.curves`' standard error: over the healthy
    models, or with a ``fold`` column over the folds' seed-averaged scores (as ``cv``). The
    dotted vertical line is :meth:`~jaxreg.engine.SweepResult.best`'s λ in the direction
    ``mode`` (``None``: read from the metric's name; a name that says neither gets no line).

    Example:
      >>> import numpy as np
      >>> from jaxreg.engine import SweepResult
      >>> res = SweepResult.from_sweep({"val_loss": np.array([[0.5, 0.3, np.nan], [0.6, 0.35, 0.9]])},
      ...                              [0.01, 0.1, 1.0], keys=[0, 1])
      >>> fig = plot_validation_curve(res, train_metric=None)
      >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
      ['validation', 'best λ=0.1', '1 diverged (left out)']
    """
    val = result.curves(metric) if "penalty" in result.table else {None: result.curves(metric)}
    train = None
    if train_metric is not None and train_metric in result.table:
        train = result.curves(train_metric) if "penalty" in result.table else {None: result.curves(train_metric)}
    try:
        sign = 1.0 if resolve_mode(metric, mode) == "min" else -1.0
    except ValueError:
        sign = None  # no direction: a curve is drawn, no λ is chosen
    fig, axes = _figure(len(val), sharey=True)
    for ax, (pen, c) in zip(axes, val.items()):
        color = PENALTY_COLORS.get(pen, "k")
        if train is not None:
            _band(ax, train[pen], color, "train", "--")
        _band(ax, c, color, "validation")
        i = np.flatnonzero(np.isfinite(c.mean))
        if i.size and sign is not None:
            k = i[np.argmin(sign * c.mean[i])]
            ax.axvline(c.lambdas[k], color="grey", lw=0.8, ls=":", label=f"best λ={c.lambdas[k]:.2g}")
        _mark_diverged(ax, c)
        _finish(ax, pen or "")
        ax.legend(fontsize=8, loc="upper left")  # a fixed place: "best" scans every point of a long curve
    axes[0].set_ylabel(metric if train is None else f"{metric}, {train_metric} (dashed)")
    fig.suptitle(title or "Validation curve")
    fig.tight_layout()
    return fig


def _zero_fraction(result: Any) -> np.ndarray:
    """Per row, the fraction of exact zeros among the weight matrices of ``params`` (all leaves if none)."""
    if result.params is None:
        raise ValueError("plot_sparsity needs a 'sparsity' column or the final params (keep_params / "
                         "return the params from train_fn)")
    leaves = [v for v in result.params.values() if v.ndim >= 3] or list(result.params.values())
    zeros = sum(np.sum(v.reshape(len(v), -1) == 0, axis=1) for v in leaves)
    return zeros / sum(v[0].size for v in leaves)


def plot_sparsity(result: Any, *, title: str = ""):
    r"""Fraction of exact zeros (solid) and near-zeros (dotted, when a ``near_zero`` column exists) vs λ.

    Reads the ``sparsity`` column, or counts the zeros of the params' weight matrices.

    Example:
      >>> import numpy as np
      >>> from jaxreg.engine import SweepResult
      >>> w = np.array([[1.0, 2.0], [0.0, 3.0], [0.0, 0.0]])  # (λ, coefficients)
      >>> res = SweepResult.from_sweep({"val_loss": np.ones(3), "w": w[:, :, None]}, [0.01, 0.1, 1.0])
      >>> fig = plot_sparsity(res)
      >>> fig.axes[0].get_lines()[0].get_ydata().tolist()
      [0.0, 0.5, 1.0]
    """
    labels = _labels(result)
    exact = result.table["sparsity"] if "sparsity" in result.table else _zero_fraction(result)
    fig, (ax,) = _figure(1)
    near = curves(labels, result.table["lambda"], result.table["near_zero"], result.diverged) \
        if "near_zero" in result.table else {}
    for pen, c in curves(labels, result.table["lambda"], exact, result.diverged).items():
        color = PENALTY_COLORS.get(pen, "k")
        ax.plot(c.lambdas, c.mean, "-", color=color, lw=1.8, label=f"{pen}: exact zeros" if pen else "exact zeros")
        if pen in near:
            ax.plot(near[pen].lambdas, near[pen].mean, ":", color=color, lw=1.4,
                    label=f"{pen}: |w| ≤ 1e-6·max|w|" if pen else "|w| ≤ 1e-6·max|w|")
        _mark_diverged(ax, c)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("fraction of penalised weights")
    _finish(ax, title or "Sparsity vs λ")
    ax.legend(fontsize=7, loc="upper left")  # sparsity rises to the right: the upper left is free
    fig.tight_layout()
    return fig


def _path(lambdas: np.ndarray, coefs: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(grid, mean)``: each coefficient's mean over the healthy rows at each λ, ``(K,)`` and ``(K, P)``."""
    grid, cell = np.unique(lambdas, return_inverse=True)
    total = np.zeros((grid.size, coefs.shape[1]))
    np.add.at(total, cell[ok], coefs[ok])
    count = np.bincount(cell[ok], minlength=grid.size)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return grid, total / count


def plot_coefficient_path(result: Any, leaf: str | None = None, *, penalty: str | None = None, title: str = "",
                          max_lines: int = MAX_PATH_LINES):
    r"""Each coefficient of the params leaf ``leaf`` vs λ (mean over healthy seeds/folds): the lasso-path picture.

    Args:
      result: a :class:`~jaxreg.engine.SweepResult` with params.
      leaf: the params leaf (default: the first weight matrix, else the first leaf).
      penalty: draw this penalty only (default: one panel per penalty).
      title: the figure's title.
      max_lines: draw at most this many coefficients, the largest in magnitude.

    Example:
      >>> import numpy as np
      >>> from jaxreg.engine import SweepResult
      >>> w = np.array([[1.0, 2.0], [0.0, 1.5], [0.0, 0.5]])[:, :, None]  # (λ, 2, 1)
      >>> res = SweepResult.from_sweep({"val_loss": np.ones(3), "w": w}, [0.01, 0.1, 1.0])
      >>> fig = plot_coefficient_path(res)
      >>> [line.get_ydata().tolist() for line in fig.axes[0].get_lines()[:2]]  # largest first
      [[2.0, 1.5, 0.5], [1.0, 0.0, 0.0]]
    """
    if result.params is None:
        raise ValueError("plot_coefficient_path needs the final params: keep them (return them from train_fn)")
    if leaf is None:
        leaf = next((k for k, v in result.params.items() if v.ndim >= 3), next(iter(result.params)))
    if leaf not in result.params:
        raise ValueError(f"leaf must be one of {', '.join(result.params)}, got {leaf!r}")
    labels = _labels(result)
    pens = [penalty] if penalty is not None else labels[np.sort(np.unique(labels, return_index=True)[1])].tolist()
    coefs = result.params[leaf].reshape(len(result), -1).astype(np.float64)
    fig, axes = _figure(len(pens), sharey=True)
    for ax, pen in zip(axes, pens):
        rows = labels == pen
        ok = ~result.diverged[rows] & np.all(np.isfinite(coefs[rows]), axis=1)
        grid, mean = _path(result.table["lambda"][rows], coefs[rows], ok)
        top = np.argsort(-np.nanmax(np.abs(np.where(np.isfinite(mean), mean, 0.0)), axis=0))[:max_lines]
        ax.plot(grid, mean[:, top], lw=1.0)
        ax.axhline(0.0, color="grey", lw=0.6)
        _finish(ax, pen or "")
    axes[0].set_ylabel(f"{leaf} coefficients")
    fig.suptitle(title or f"Coefficient path: {leaf}")
    fig.tight_layout()
    return fig


def plot_weight_histogram(result: Any, *, weight_keys: list[str] | None = None, metric: str = "val_loss",
                          mode: str | None = None):
    r"""Histogram of the penalised weights of each penalty's best model (by ``metric``); zeros counted, not drawn.

    ``weight_keys`` selects the params leaves (default: the weight matrices, 3-D with the row axis). ``mode``
    as in :meth:`~jaxreg.engine.SweepResult.best`: ``"min"``, ``"max"`` or ``None`` (read from the metric's
    name; a name that says neither raises). A panel whose every model diverged is titled "diverged".

    Example:
      >>> import numpy as np
      >>> from jaxreg.engine import SweepResult
      >>> w = np.array([[1.0, 2.0], [0.0, 1.5], [0.0, 0.5]])[:, :, None]
      >>> res = SweepResult.from_sweep({"val_loss": np.array([0.3, 0.2, 0.4]), "w": w}, [0.01, 0.1, 1.0])
      >>> plot_weight_histogram(res).axes[0].get_title()
      'λ=0.1'
    """
    if result.params is None:
        raise ValueError("weight_histogram needs the final params: run the sweep with keep_params=True")
    keys = weight_keys or [k for k, v in result.params.items() if v.ndim >= 3]
    if metric not in result.table:
        raise ValueError(f"unknown metric {metric!r}; columns are {', '.join(result.columns)}")
    mode = resolve_mode(metric, mode)  # a bad mode or a directionless name raises here, never reads as "diverged"
    best = result.best(metric, mode) if "penalty" in result.table else {None: _best_or_none(result, metric, mode)}
    fig, axes = _figure(len(best))
    for ax, (pen, b) in zip(axes, best.items()):
        lam = b["lambda"] if b else None
        prefix = f"{pen}, " if pen else ""
        ax.set_title(f"{prefix}λ={lam:.2g}" if lam is not None else f"{prefix}diverged")
        if lam is None:
            continue
        w = np.concatenate([result.params[k][b["row"]].ravel() for k in keys])
        zeros = int(np.sum(w == 0))
        ax.hist(w[w != 0], bins=60, color=PENALTY_COLORS.get(pen, "k"), alpha=0.8)
        if zeros < w.size:  # every weight 0 (a λ past λ_max): an empty histogram, which a log axis cannot show
            ax.set_yscale("log")
        ax.set_xlabel(f"weight ({zeros}/{w.size} exact zeros not shown)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("count")
    fig.suptitle("Weights at the best λ")
    fig.tight_layout()
    return fig


def _best_or_none(result: Any, metric: str, mode: str) -> dict | None:
    """The best record, or ``None`` when every model diverged (metric and mode already checked)."""
    try:
        return result.best(metric, mode)
    except ValueError:
        return None

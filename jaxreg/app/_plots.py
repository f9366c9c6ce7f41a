"""Figures of a :class:`~jaxreg.engine._results.SweepResult` (matplotlib, Agg backend)."""

from __future__ import annotations

import numpy as np

from jaxreg.engine._results import SweepResult

__all__ = ["validation_curve", "sparsity_curve", "weight_histogram", "COLORS"]

COLORS = {"l2": "tab:blue", "l1": "tab:orange", "l1_prox": "tab:green", "elastic_net": "tab:purple",
          "group": "tab:brown"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _band(ax, grid, mean, spread, color, label, style="-"):
    ax.plot(grid, mean, style, color=color, label=label, lw=1.6)
    if np.any(spread > 0):
        ax.fill_between(grid, mean - spread, mean + spread, color=color, alpha=0.15, lw=0)


def validation_curve(result: SweepResult, path: str, title: str = "") -> str:
    r"""Train (dashed) and validation (solid) loss vs λ, one panel per penalty, mean ± sd over seeds.

    Returns ``path``, where the PNG was written.

    Example:
      >>> import os, tempfile
      >>> import numpy as np
      >>> from jaxreg.engine import SweepResult
      >>> result = SweepResult(table={
      ...     "penalty": np.array(["l1_prox"] * 3), "lambda": np.array([0.01, 0.1, 1.0]), "seed": np.zeros(3, int),
      ...     "train_loss": np.array([0.1, 0.3, 0.9]), "val_loss": np.array([0.4, 0.3, 0.9]),
      ...     "sparsity": np.array([0.0, 0.5, 1.0]), "near_zero": np.array([0.1, 0.6, 1.0]),
      ...     "finite": np.ones(3, bool)}, params={"w": np.ones((3, 4, 2))})
      >>> path = validation_curve(result, os.path.join(tempfile.mkdtemp(), "validation_curve.png"))
      >>> open(path, "rb").read(4)
      b'\x89PNG'
    """
    plt = _plt()
    train, val = result.groups("train_loss"), result.groups("val_loss")
    pens = list(val)
    fig, axes = plt.subplots(1, len(pens), figsize=(4.2 * len(pens), 3.6), squeeze=False, sharey=True)
    best = result.best("val_loss")
    for ax, pen in zip(axes[0], pens):
        c = COLORS.get(pen, "k")
        _band(ax, *train[pen], c, "train", "--")
        _band(ax, *val[pen], c, "validation")
        if best[pen]["lambda"] is not None:
            ax.axvline(best[pen]["lambda"], color="grey", lw=0.8, ls=":", label=f"best λ={best[pen]['lambda']:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("λ")
        ax.set_title(pen)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("data loss")
    fig.suptitle(title or "Validation curve")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sparsity_curve(result: SweepResult, path: str, title: str = "") -> str:
    r"""Fraction of exact zeros (solid) and of near-zeros (dotted) vs λ for every penalty.

    Returns ``path``, where the PNG was written.

    Example:
      >>> import os, tempfile
      >>> import numpy as np
      >>> from jaxreg.engine import SweepResult
      >>> result = SweepResult(table={
      ...     "penalty": np.array(["l1_prox"] * 3), "lambda": np.array([0.01, 0.1, 1.0]), "seed": np.zeros(3, int),
      ...     "train_loss": np.array([0.1, 0.3, 0.9]), "val_loss": np.array([0.4, 0.3, 0.9]),
      ...     "sparsity": np.array([0.0, 0.5, 1.0]), "near_zero": np.array([0.1, 0.6, 1.0]),
      ...     "finite": np.ones(3, bool)}, params={"w": np.ones((3, 4, 2))})
      >>> path = sparsity_curve(result, os.path.join(tempfile.mkdtemp(), "sparsity.png"))
      >>> open(path, "rb").read(4)
      b'\x89PNG'
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    exact, near = result.groups("sparsity"), result.groups("near_zero")
    for pen in exact:
        c = COLORS.get(pen, "k")
        g, m, _ = exact[pen]
        ax.plot(g, m, "-", color=c, lw=1.8, label=f"{pen}: exact zeros")
        g, m, _ = near[pen]
        ax.plot(g, m, ":", color=c, lw=1.4, label=f"{pen}: |w| ≤ 1e-6·max|w|")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("λ")
    ax.set_ylabel("fraction of penalised weights")
    ax.set_title(title or "Sparsity vs λ")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def weight_histogram(result: SweepResult, path: str, weight_keys: list[str] | None = None) -> str:
    r"""Histogram of the penalised weights of the best model (by validation loss) per penalty.

    ``weight_keys`` selects the params leaves (default: those with 2-D weights,
    i.e. 3-D with the row axis). Returns ``path``, where the PNG was written.

    Example:
      >>> import os, tempfile
      >>> import numpy as np
      >>> from jaxreg.engine import SweepResult
      >>> result = SweepResult(table={
      ...     "penalty": np.array(["l1_prox"] * 3), "lambda": np.array([0.01, 0.1, 1.0]), "seed": np.zeros(3, int),
      ...     "train_loss": np.array([0.1, 0.3, 0.9]), "val_loss": np.array([0.4, 0.3, 0.9]),
      ...     "sparsity": np.array([0.0, 0.5, 1.0]), "near_zero": np.array([0.1, 0.6, 1.0]),
      ...     "finite": np.ones(3, bool)}, params={"w": np.ones((3, 4, 2))})
      >>> path = weight_histogram(result, os.path.join(tempfile.mkdtemp(), "weights_hist.png"))
      >>> open(path, "rb").read(4)
      b'\x89PNG'
    """
    plt = _plt()
    if result.params is None:
        raise ValueError("weight_histogram needs the final params: run the sweep with keep_params=True")
    keys = weight_keys or [k for k, v in result.params.items() if v.ndim >= 3]
    best = result.best("val_loss")
    pens = list(best)
    fig, axes = plt.subplots(1, len(pens), figsize=(4.2 * len(pens), 3.4), squeeze=False)
    for ax, pen in zip(axes[0], pens):
        lam = best[pen]["lambda"]
        ax.set_title(f"{pen}, λ={lam:.2g}" if lam is not None else f"{pen}: diverged")
        if lam is None:
            continue
        rows = np.flatnonzero((result.table["penalty"] == pen) & (result.table["lambda"] == lam))
        w = np.concatenate([result.params[k][rows[0]].ravel() for k in keys])
        zeros = int(np.sum(w == 0))
        ax.hist(w[w != 0], bins=60, color=COLORS.get(pen, "k"), alpha=0.8)
        ax.set_yscale("log")
        ax.set_xlabel(f"weight ({zeros}/{w.size} exact zeros not shown)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("count")
    fig.suptitle("Weights at the best λ")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

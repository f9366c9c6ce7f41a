"""The command's figures: the engine's plots (:mod:`jaxreg.engine._plots`) written to PNG files."""

from __future__ import annotations

from jaxreg.engine._plots import PENALTY_COLORS, plot_sparsity, plot_validation_curve, plot_weight_histogram
from jaxreg.engine._results import SweepResult

__all__ = ["validation_curve", "sparsity_curve", "weight_histogram", "COLORS"]

#: Line colour of each penalty (the engine's :data:`~jaxreg.engine.PENALTY_COLORS`).
COLORS = PENALTY_COLORS
#: Resolution of the PNG files.
DPI = 110


def _save(fig, path: str) -> str:
    fig.savefig(path, dpi=DPI)
    return path


def validation_curve(result: SweepResult, path: str, title: str = "") -> str:
    r"""Train (dashed) and validation (solid) loss vs λ, one panel per penalty: mean ± standard error.

    Diverged models are left out of the curves and marked on the λ axis.

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
    return _save(plot_validation_curve(result, "val_loss", title=title or "Validation curve"), path)


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
    return _save(plot_sparsity(result, title=title or "Sparsity vs λ"), path)


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
    return _save(plot_weight_histogram(result, weight_keys=weight_keys), path)

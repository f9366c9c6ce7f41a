r"""``jaxreg sweep --stability B``: stability selection with lasso paths on the training split.

After the sweep, :func:`run_stability` fits one certified lasso path per half of ``B`` complementary pairs of
the training samples (:func:`jaxreg.selection.stability_selection`, the sweep's λ grid) and chooses the
region :math:`\Lambda = \{\lambda \ge \lambda_\Lambda\}` as the largest one whose assumption-free bound is at
most ``stability_max_false`` (:meth:`~jaxreg.selection.StabilityResult.lambda_min_for_bound`). That bound
(Shah & Samworth's Theorem 1) counts the stable features that a half selects with probability at most
:math:`\theta = q/d`; it bounds the stable *noise* features only under Meinshausen & Bühlmann's assumptions
(exchangeable noise features, a selection no worse than random guessing). The stable set is the features with
:math:`\max_{\lambda\in\Lambda}\hat\Pi_k^\lambda \ge \pi_{thr}`. :func:`write_stability` writes the
probabilities (``stability.csv``) and the stability path (``stability_path.png``); ``summary.json`` gets the
stable set, Λ, ``q`` and every bound with its assumptions.

The default threshold, :data:`DEFAULT_THRESHOLD` = 0.75, is the middle of the range 0.6–0.9 Meinshausen &
Bühlmann recommend (the stable set changes little within it), and the point where Shah & Samworth's unimodal
bound changes form; at 0.75 the assumption-free bound is :math:`2q^2/d`.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxreg.app._data import Dataset
from jaxreg.app._errors import ConfigError
from jaxreg.engine._results import atomic_write
from jaxreg.selection._stability import StabilityResult, stability_selection

__all__ = ["DEFAULT_THRESHOLD", "DEFAULT_MAX_FALSE", "check_stability", "run_stability", "write_stability"]

#: ``--stability-threshold``'s default π_thr (module docstring: why).
DEFAULT_THRESHOLD = 0.75
#: ``--stability-max-false``'s default: Λ keeps the assumption-free bound at most 1 (module docstring: what it counts).
DEFAULT_MAX_FALSE = 1.0
#: The halves' seed (the command's runs are reproducible).
SEED = 0


def check_stability(ds: Dataset, cfg: Any) -> None:
    """The stability options against the data: lasso paths need a regression target and 4+ training samples."""
    if not cfg.stability:
        return
    if ds.task != "regression":
        raise ConfigError(f"{{stability}} fits lasso paths (least squares) and needs a regression target; "
                          f"this data is a {ds.task} task (see {{task}})", "stability", "task")
    if len(ds.y_train) < 4:
        raise ConfigError(f"{{stability}} needs at least 4 training samples (halves of 2), got {len(ds.y_train)} "
                          "(see {n_train})", "stability", "n_train")


def run_stability(ds: Dataset, cfg: Any, lambdas: np.ndarray, log: Callable[[str], Any] | None) -> dict:
    """Stability selection on the training split; returns ``info["stability"]`` (summary + ``"result"``).

    Example:
      >>> from jaxreg.app import SweepConfig, load_data, lambda_grid
      >>> cfg = SweepConfig(dataset="diabetes", num_lambdas=20, stability=5)
      >>> ds = load_data(cfg)
      >>> info = run_stability(ds, cfg, lambda_grid(ds, cfg)[0], log=None)
      >>> info["n_subsamples"], sorted(info["bounds"])
      (10, ['none', 'unimodal'])
    """
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        result = stability_selection(ds.x_train, ds.y_train, lambdas, n_pairs=cfg.stability, seed=SEED)
    seconds = time.perf_counter() - t0
    threshold, max_false = cfg.stability_threshold, cfg.stability_max_false
    lam_min = result.lambda_min_for_bound(threshold, max_false)
    if lam_min is None:  # even the largest λ alone selects too much: no region meets the bound
        summary = {"threshold": threshold, "lambda_min": None, "stable_set": [], "q": None,
                   "expected_false_selections_bound": None, "bounds": None, "n_features": result.n_features,
                   "n_subsamples": result.n_subsamples,
                   "n_converged": None if result.converged is None else int(result.converged.sum()),
                   "note": f"no region of the λ grid keeps the bound <= {max_false:g}: raise --lambda-max or "
                           "--stability-max-false"}
    else:
        summary = result.summary(threshold, lam_min)
    info = {**summary, "n_pairs": cfg.stability, "seed": SEED, "max_false": max_false,
            "max_probability": result.max_probabilities(lam_min).tolist(), "seconds": seconds,
            "warnings": [str(w.message) for w in caught], "result": result.to_dict()}
    if log:
        _report(info, len(ds.y_train), log)
    return info


def _report(info: dict, n_train: int, log: Callable[[str], Any]) -> None:
    """Three lines: what ran, the stable set and Λ, the bounds."""
    certified = "" if info["n_converged"] is None else f", {info['n_converged']} certified"
    log(f"  stability selection: {info['n_pairs']} pairs of halves of the {n_train} training samples, "
        f"{info['n_subsamples']} lasso paths{certified} ({info['seconds']:.1f} s)")
    for message in info["warnings"]:  # e.g. paths stopped short of their certificate (also in summary.json)
        log(f"  warning: {message}")
    if info["lambda_min"] is None:
        log(f"  stable set: none ({info['note']})")
        return
    stable = ", ".join(map(str, info["stable_set"])) or "none"
    log(f"  stable set (selection probability >= {info['threshold']:g} at some λ >= {info['lambda_min']:.4g}, "
        f"q = {info['q']:.3g} of {info['n_features']} features): {stable}")
    bounds = info["bounds"]
    unimodal = bounds["unimodal"]["value"]
    extra = f"; {unimodal:.3g} if unimodal (Shah & Samworth)" if unimodal is not None else ""
    theta = info["q"] / info["n_features"]
    log(f"  expected stable features of low selection probability (<= q/d = {theta:.3g}) <= "
        f"{bounds['none']['value']:.3g} (no assumption; the same bound holds for stable noise features only under "
        f"Meinshausen & Bühlmann's assumptions){extra}")


def write_stability(info: dict, out_dir: str, title: str = "") -> tuple[dict, list[str]]:
    """``stability.csv`` (one row per λ, one column per feature) and ``stability_path.png``.

    Returns the summary without the full result (for ``summary.json``) and the paths written.
    """
    result = StabilityResult.from_dict(info["result"])
    csv_path = os.path.join(out_dir, "stability.csv")
    header = "lambda," + ",".join(f"feature_{j}" for j in range(result.n_features))
    rows = [",".join(repr(float(v)) for v in (lam, *p)) for lam, p in zip(result.lambdas, result.probabilities)]
    atomic_write(csv_path, "\n".join([header, *rows]) + "\n")
    import matplotlib.pyplot as plt  # lazily, as the other figures

    ax = result.plot(info["threshold"], lambda_min=info["lambda_min"])
    ax.set_title(title or "Stability path")
    png_path = os.path.join(out_dir, "stability_path.png")
    ax.figure.tight_layout()
    ax.figure.savefig(png_path, dpi=110)
    plt.close(ax.figure)
    return {k: v for k, v in info.items() if k != "result"}, [csv_path, png_path]

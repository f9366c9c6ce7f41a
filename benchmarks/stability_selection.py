"""Stability selection: jaxreg.selection.stability_selection vs a loop of scikit-learn's lasso_path.

B = 100 complementary pairs (200 halves of 250 samples) × 100 λ on a 500 × 1000 Gaussian design (10 true
features, amplitude 1, noise σ = 1); λ from λ_max (of the whole centred data) down to 0.05 λ_max, the same
grid for both. Both fit the *same* halves (jaxreg.selection.complementary_pairs), each centred, and count a
feature as selected where its coefficient is nonzero.

* jaxreg: `stability_selection(x, y, lambdas, n_pairs=100)`, its default solver: ActiveSet with a relative
  duality gap (P − D)/P ≤ 1e-6 at every λ in float64, ≤ 1.2e-3 (ten times what float32 certifies) in
  float32. Timed twice: the first call (compiling the active-set programs) and a second one (compiled
  programs reused); then, compiled, with `gram=True` (each half's Gram matrix although n < d).
* scikit-learn: `lasso_path(xs, ys, alphas=lambdas, tol=...)` per half, same dtype. Its `tol` stops each α
  when the duality gap is below tol·‖y‖²/n, i.e. relative to the objective at w = 0, not to the current
  objective as jaxreg's: tol = 1e-6 in float64 (at the small-λ end, where P is a few % of P(0), a looser
  criterion than jaxreg's), 1e-4 in float32 (float32 coordinate descent stalls below).

The benchmark itself checks the results: the largest difference between the two selection-probability
tables, whether the stable sets (π = 0.75 over the whole grid, and over the region whose bound is ≤ 1)
agree, and the largest relative duality gap (P − D)/P each reached on a few halves (computed here in
float64). One JSON line per dtype: times (wall and CPU), their ratio (scikit-learn's time / jaxreg's: > 1
means jaxreg is faster), the device (`jaxreg.device_description()`) and the load average.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 available; float32 data stays float32

import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import lasso_path  # noqa: E402

import jaxreg  # noqa: E402
from jaxreg.selection import StabilityResult, complementary_pairs, stability_selection  # noqa: E402

SKLEARN_TOL = {"float64": 1e-6, "float32": 1e-4}
THRESHOLD = 0.75


def design(n: int, d: int, s: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[rng.choice(d, s, replace=False)] = rng.choice([-1.0, 1.0], s)
    return x, x @ w + rng.standard_normal(n)


def relative_gap(x, y, w, lam) -> float:
    """(P − D)/P of the lasso 1/(2n)‖y − Xw‖² + λ‖w‖₁ at w, in float64 (dual point: the scaled residual)."""
    n = len(y)
    r = y - x @ w
    primal = r @ r / (2 * n) + lam * np.abs(w).sum()
    s = min(1.0, lam / max(np.abs(x.T @ r).max() / n, 1e-300))
    dual = s * (r @ y) / n - s**2 * (r @ r) / (2 * n)
    return (primal - dual) / primal


def sklearn_loop(x, y, lambdas, halves, tol):
    """The loop: one lasso_path per half, centred; returns the (S, K, d) coefficients, K in the grid's order."""
    order = np.argsort(-lambdas)  # lasso_path wants α descending
    coefs = np.empty((len(halves), len(lambdas), x.shape[1]), x.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # counted by the gaps below, not printed 200 times
        for i, rows in enumerate(halves):
            xs, ys = x[rows], y[rows]
            _, c, _ = lasso_path(xs - xs.mean(0), ys - ys.mean(), alphas=lambdas[order], tol=tol)
            coefs[i][order] = c.T
    return coefs


def timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def max_gaps(x, y, lambdas, halves, coefs_of_half) -> float:
    worst = 0.0
    for i, rows in enumerate(halves):
        xs, ys = x[rows].astype(np.float64), y[rows].astype(np.float64)
        xs, ys = xs - xs.mean(0), ys - ys.mean()
        coefs = coefs_of_half(i, xs, ys)
        worst = max(worst, max(relative_gap(xs, ys, w.astype(np.float64), lam) for w, lam in zip(coefs, lambdas)))
    return worst


def run(dtype: str, n: int, d: int, s: int, n_pairs: int, n_lambdas: int, ratio: float, gap_halves: int) -> dict:
    x, y = design(n, d, s)
    x, y = x.astype(dtype), y.astype(dtype)
    xc, yc = x - x.mean(0), y - y.mean()
    lam_max = float(np.abs(xc.T.astype(np.float64) @ yc).max() / n)
    lambdas = jaxreg.log_grid(ratio * lam_max, lam_max, n_lambdas)
    halves = complementary_pairs(n, n_pairs, seed=0)

    def ours(gram=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # uncertified paths are counted in `converged`
            return stability_selection(x, y, lambdas, n_pairs=n_pairs, seed=0, gram=gram)

    _, first_s, first_cpu = timed(ours)
    result, jax_s, jax_cpu = timed(ours)
    ours(True)  # compiles the Gram-layout programs
    with_gram, gram_s, gram_cpu = timed(lambda: ours(True))
    coefs, sk_s, sk_cpu = timed(lambda: sklearn_loop(x, y, lambdas, halves, SKLEARN_TOL[dtype]))
    theirs = StabilityResult.from_coefs(coefs, lambdas)
    region = {name: r.lambda_min_for_bound(THRESHOLD) for name, r in (("jaxreg", result), ("sklearn", theirs))}
    sample = halves[:gap_halves]
    solver = jaxreg.selection.default_solver(np.dtype(dtype))

    def jaxreg_half(i, xs, ys):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            xh, yh = x[sample[i]], y[sample[i]]
            return np.asarray(jaxreg.elastic_net_path(xh - xh.mean(0), yh - yh.mean(), lambdas, solver=solver))

    return {
        "benchmark": "stability_selection", "dtype": dtype, "n": n, "d": d, "true_features": s,
        "n_pairs": n_pairs, "n_subsamples": 2 * n_pairs, "n_lambdas": n_lambdas, "lambda_ratio": ratio,
        "jaxreg_tol": solver.tol, "sklearn_tol": SKLEARN_TOL[dtype],
        "jaxreg_first_call_s": first_s, "jaxreg_first_call_cpu_s": first_cpu,
        "jaxreg_s": jax_s, "jaxreg_cpu_s": jax_cpu, "sklearn_s": sk_s, "sklearn_cpu_s": sk_cpu,
        "ratio": sk_s / jax_s, "ratio_first_call": sk_s / first_s, "ratio_cpu": sk_cpu / jax_cpu,
        "jaxreg_gram_s": gram_s, "jaxreg_gram_cpu_s": gram_cpu, "ratio_gram": sk_s / gram_s,
        "ratio_gram_cpu": sk_cpu / gram_cpu,
        "gram_max_probability_difference": float(np.abs(with_gram.probabilities - result.probabilities).max()),
        "jaxreg_certified": None if result.converged is None else int(result.converged.sum()),
        "max_probability_difference": float(np.abs(result.probabilities - theirs.probabilities).max()),
        "stable_set_whole_grid_equal": result.stable_set(THRESHOLD).tolist() == theirs.stable_set(THRESHOLD).tolist(),
        "stable_set_whole_grid": result.stable_set(THRESHOLD).tolist(),
        "bound_region_lambda_min": region,
        "stable_set_bound_region_equal": (
            result.stable_set(THRESHOLD, region["jaxreg"]).tolist()
            == theirs.stable_set(THRESHOLD, region["sklearn"]).tolist()),
        "max_relative_gap_jaxreg": max_gaps(x, y, lambdas, sample, jaxreg_half),
        "max_relative_gap_sklearn": max_gaps(x, y, lambdas, sample, lambda i, xs, ys: coefs[i]),
        "gap_halves": len(sample),
        "device": jaxreg.device_description(), "load_average": os.getloadavg(), "cpu_count": os.cpu_count(),
        "jax": jax.__version__, "date": datetime.date.today().isoformat(),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a tiny configuration (the test suite's smoke test)")
    p.add_argument("--dtype", action="append", choices=("float64", "float32"),
                   help="repeatable (default: both)")
    args = p.parse_args()
    size = dict(n=100, d=50, s=3, n_pairs=5, n_lambdas=10, ratio=0.1, gap_halves=2) if args.quick else dict(
        n=500, d=1000, s=10, n_pairs=100, n_lambdas=100, ratio=0.05, gap_halves=5)
    for dtype in args.dtype or ("float64", "float32"):
        print(json.dumps({**run(dtype, **size), "quick": args.quick}), flush=True)


if __name__ == "__main__":
    main()

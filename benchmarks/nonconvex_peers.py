"""MCP and SCAD paths: jaxreg's `nonconvex_path` against skglm's `AndersonCD`, same process, same data.

The measurement (issue 24): float64, `--n-lambdas` (default 50) λ from λ_max = ‖Xᵀy/n‖∞ down to 1e-2·λ_max, the
objective 1/(2n)‖y − Xw‖² + Σ_j ρ_λ,γ(w_j) with no intercept (standardised columns, centred y), MCP with γ = 3
and SCAD with γ = 3.7 (skglm's `MCPenalty(alpha=λ, gamma)` / `SCAD(alpha=λ, gamma)` with its `Quadratic`
datafit: the same objective). The problem is nonconvex: both solvers stop each λ at a stationary point, at the
same tolerance on the same measure, the optimality violation (skglm's `subdiff_distance`): the distance of
Xᵀr/n to the penalty's subdifferential, at most `--tol`·λ_max at every coordinate and λ. The benchmark
recomputes that violation from each solver's returned coefficients (never the solver's own figure); a solver
that misses it gets a 10× tighter `tol` (at most 3 times). Both paths run from w = 0 at λ_max, each λ
warm-started from the previous one; where they reach different stationary points the row says at how many λ
and which objective is lower.

The time is the best of `--repeat` runs (3; `--quick` 1). jaxreg's is a whole `nonconvex_path` call after a
first call that compiled its programs (the first call's time and compilation are reported apart); skglm's numba
code is compiled by a warm-up on a tiny problem first.

Output: one JSON line per design and penalty on stdout (progress on stderr):
`python benchmarks/nonconvex_peers.py > benchmarks/nonconvex_peers.jsonl`, then `python benchmarks/report.py`
renders the table in `benchmarks/README.md`. `--quick`: two small designs, 20 λ, one run each (the test
suite's smoke test).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxreg  # noqa: E402

#: γ per penalty (ncvreg's and Fan & Li's defaults; jaxreg's defaults too).
GAMMA = {"mcp": 3.0, "scad": 3.7}
#: The optimality violation every λ must reach, relative to λ_max.
TOL = 1e-6
#: The most times a solver's `tol` is tightened (10× each) when the benchmark's violation misses TOL.
MAX_TIGHTEN = 3


@dataclasses.dataclass(frozen=True)
class Design:
    """A design: Gaussian columns with Toeplitz correlation ``rho^|i−j|`` (0: independent)."""

    n: int
    d: int
    rho: float = 0.0

    @property
    def label(self) -> str:
        kind = f"toeplitz{self.rho:g}" if self.rho else "gaussian"
        return f"{kind} {self.n}×{self.d}"


DESIGNS = (Design(2000, 200, 0.5), Design(1000, 500), Design(200, 1000, 0.5), Design(500, 2000))
QUICK_DESIGNS = (Design(200, 40, 0.5), Design(50, 200, 0.5))


def make_design(design: Design, seed: int = 0):
    """``(x, y)``: standardised columns, a centred target from d/50 (at least 5) coefficients of ±1, ±2 + noise."""
    rng = np.random.default_rng(seed)
    n, d = design.n, design.d
    z = rng.standard_normal((n, d))
    x = z.copy()
    for j in range(1, d):  # an AR(1) recursion along the features: corr(x_i, x_j) = rho^|i−j|
        x[:, j] = design.rho * x[:, j - 1] + np.sqrt(1 - design.rho**2) * z[:, j]
    x = (x - x.mean(0)) / x.std(0)
    k = max(5, d // 50)
    w = np.zeros(d)
    w[rng.choice(d, k, replace=False)] = rng.choice([-2.0, -1.0, 1.0, 2.0], k)
    y = x @ w + rng.standard_normal(n)
    return x, y - y.mean()


def _derivative(penalty, w, lam, gamma):
    a, s = np.abs(w), np.sign(w)
    if penalty == "mcp":
        return s * np.maximum(lam - a / gamma, 0)
    return s * np.where(a <= lam, lam, np.maximum(gamma * lam - a, 0) / (gamma - 1))


def violations(penalty, x, y, coefs, lams) -> np.ndarray:
    """The largest optimality violation of each λ (skglm's ``subdiff_distance``), recomputed from ``coefs``."""
    g = (y[None, :] - coefs @ x.T) @ x / x.shape[0]  # (K, d): Xᵀr/n per λ
    lam = lams[:, None]
    at_zero = np.maximum(np.abs(g) - lam, 0)
    return np.where(coefs == 0, at_zero, np.abs(g - _derivative(penalty, coefs, lam, GAMMA[penalty]))).max(1)


def objectives(penalty, x, y, coefs, lams) -> np.ndarray:
    r = y[None, :] - coefs @ x.T
    pen = jaxreg.core.mcp_penalty if penalty == "mcp" else jaxreg.core.scad_penalty
    rho = np.array([float(pen(jnp.asarray(w), lam, GAMMA[penalty])) for w, lam in zip(coefs, lams)])
    return 0.5 * np.mean(r * r, 1) + rho


def _run_jaxreg(penalty, x, y, lams, tol_rel, lam_max):
    coefs, stats = jaxreg.solvers.nonconvex_path(x, y, lams, penalty=penalty, gamma=GAMMA[penalty], tol=tol_rel,
                                                 return_stats=True)
    return coefs, {"compile_s": stats["compile_s"], "iterations": int(sum(stats["iterations"])),
                   "epochs": int(sum(stats["epochs"])), "capacities": stats["capacities"]}


def _run_skglm(penalty, x, y, lams, tol_rel, lam_max):
    from skglm.datafits import Quadratic
    from skglm.penalties import SCAD, MCPenalty
    from skglm.solvers import AndersonCD

    pen = MCPenalty(1.0, GAMMA[penalty]) if penalty == "mcp" else SCAD(1.0, GAMMA[penalty])
    solver = AndersonCD(tol=tol_rel * lam_max, fit_intercept=False, max_iter=1000, max_epochs=100_000)
    return solver.path(x, y, Quadratic(), pen, alphas=lams)[1].T, {}


RUNNERS = {"jaxreg": _run_jaxreg, "skglm": _run_skglm}


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _timed(peer, penalty, x, y, lams, tol_rel, lam_max):
    with warnings.catch_warnings():  # (convergence warnings: the benchmark's violation is the judge)
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        coefs, extra = RUNNERS[peer](penalty, x, y, lams, tol_rel, lam_max)
        return time.perf_counter() - t0, coefs, extra


def measure(peer, penalty, x, y, lams, repeat) -> tuple[dict, np.ndarray]:
    """``peer``'s path at the loosest `tol` (from TOL, 10× tighter each miss) whose recomputed violation is ≤ TOL;
    its best time over ``repeat`` runs there."""
    lam_max = lams.max()
    tol_rel, tightened, first = TOL, 0, None
    while True:
        s, coefs, extra = _timed(peer, penalty, x, y, lams, tol_rel, lam_max)
        first = (s, extra) if first is None else first  # (jaxreg's first call compiles its programs)
        viol = violations(penalty, x, y, coefs, lams) / lam_max
        if viol.max() <= TOL or tightened == MAX_TIGHTEN:
            break
        tol_rel, tightened = tol_rel / 10, tightened + 1
    runs = [_timed(peer, penalty, x, y, lams, tol_rel, lam_max)[0] for _ in range(repeat)]
    return {"status": "ok", "version": _version(peer), "s": min(runs), "runs": runs, "first_call_s": first[0],
            "tol_given": tol_rel, "max_violation": float(viol.max()), "reached": bool(viol.max() <= TOL),
            **extra, **({"compile_s": first[1]["compile_s"]} if "compile_s" in first[1] else {})}, coefs


def benchmark(design: Design, penalty: str, n_lambdas: int, repeat: int, skglm_ok: tuple) -> dict:
    x, y = make_design(design)
    lam_max = np.abs(x.T @ y).max() / design.n
    lams = lam_max * np.geomspace(1, 1e-2, n_lambdas)
    load0 = os.getloadavg()[0]
    row = {"benchmark": "nonconvex_peers", "label": design.label, "n": design.n, "d": design.d, "rho": design.rho,
           "penalty": penalty, "gamma": GAMMA[penalty], "n_lambdas": n_lambdas, "lambda_min_ratio": 1e-2,
           "tol": TOL, "dtype": "float64", "repeat": repeat, "device": jaxreg.device_description(),
           "cpu_count": os.cpu_count(), "date": str(datetime.date.today())}
    row["jaxreg"], mine = measure("jaxreg", penalty, x, y, lams, repeat)
    if skglm_ok[0]:
        row["skglm"], theirs = measure("skglm", penalty, x, y, lams, repeat)
        row["skglm_over_jaxreg"] = row["skglm"]["s"] / row["jaxreg"]["s"]
        f_mine, f_theirs = objectives(penalty, x, y, mine, lams), objectives(penalty, x, y, theirs, lams)
        rel = (f_mine - f_theirs) / f_theirs
        row["objective"] = {"max_abs_rel_diff": float(np.abs(rel).max()), "lambdas_differ": int((np.abs(rel) > 1e-6)
                            .sum()), "jaxreg_lower": int((rel < -1e-6).sum()), "skglm_lower": int((rel > 1e-6).sum())}
    else:
        row["skglm"] = {"status": skglm_ok[1]}
    row["load_avg_1min"] = [load0, os.getloadavg()[0]]
    return row


def warm_up(penalties) -> None:
    """Tiny skglm paths: numba compiles its code (not counted; jaxreg's compilation is its first call's)."""
    x, y = make_design(Design(30, 20))
    lams = np.abs(x.T @ y).max() / 30 * np.geomspace(1, 0.1, 3)
    for penalty in penalties:
        _timed("skglm", penalty, x, y, lams, 1e-3, lams.max())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="two small designs, 20 λ, one run (the smoke test)")
    p.add_argument("--n-lambdas", type=int, help="λ on the grid (default 50; --quick 20)")
    p.add_argument("--repeat", type=int, help="runs at the final tol, the best counts (default 3; --quick 1)")
    p.add_argument("--penalties", nargs="+", choices=list(GAMMA), default=list(GAMMA))
    p.add_argument("--peers", nargs="+", choices=list(RUNNERS), default=list(RUNNERS),
                   help="jaxreg always runs; leave skglm out for a smoke test (numba compiles for seconds)")
    p.add_argument("--designs", nargs="+", metavar="LABEL", help="only designs whose label starts with one of these")
    p.add_argument("--note", help="a sentence saved with every row (e.g. that other jobs shared the machine)")
    args = p.parse_args(argv)
    designs = QUICK_DESIGNS if args.quick else DESIGNS
    if args.designs:
        designs = [d for d in designs if any(d.label.startswith(prefix) for prefix in args.designs)]
    n_lambdas = args.n_lambdas or (20 if args.quick else 50)
    repeat = args.repeat or (1 if args.quick else 3)
    try:
        import skglm  # noqa: F401

        skglm_ok = (True, _version("skglm")) if "skglm" in args.peers else (False, "not run (--peers)")
    except Exception as e:  # (an extension built for another NumPy fails with other errors than ImportError)
        skglm_ok = (False, f"not installed: {type(e).__name__}: {e}")
    if skglm_ok[0]:
        warm_up(args.penalties)
    for design in designs:
        for penalty in args.penalties:
            row = benchmark(design, penalty, n_lambdas, repeat, skglm_ok)
            row["quick"] = args.quick
            if args.note:
                row["note"] = args.note
            print(json.dumps(row), flush=True)
            sk = row["skglm"]
            peer = f"{sk['s']:.3f} s" if sk.get("status") == "ok" else sk["status"]
            print(f"{design.label} {penalty}: jaxreg {row['jaxreg']['s']:.3f} s, skglm {peer}", file=sys.stderr,
                  flush=True)


if __name__ == "__main__":
    main()

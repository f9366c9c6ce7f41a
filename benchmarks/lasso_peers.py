"""Lasso paths against the fastest peers: jaxreg, scikit-learn, skglm, celer and glmnet, same process, same data.

The measurement (issue 22): float64, 100 α from α_max down to 1e-3·α_max (α_max = ‖Xᵀy‖∞/n), the lasso
objective 1/(2n)‖y − Xw‖² + α‖w‖₁ with no intercept (dense designs have standardised columns, except the
"genotype" allele counts, left as 0/1/2 or only centred, and every y is centred). Each solver's `tol` is
tightened until its path's largest relative duality gap is ≤ 1e-6, the gap
computed here by `jaxreg.relative_duality_gap` on the returned coefficients (never the solver's own), starting at
`tol = 1e-6` and jumping to a tighter power of 10 in proportion to the gap missed. The time is the best of
`--repeat` runs (3) at the final `tol` (a run over `--max-repeat-s` seconds is not repeated; `--max-run-s`: no
tighter `tol` after a run that long, for a machine too busy for the whole ladder). jaxreg's time is a
whole `elastic_net_path` call minus what it compiled (its compilation is reported apart); skglm's numba code is
compiled by a warm-up on a tiny problem first. A solver that cannot reach the target (glmnet stops on the change
of its coefficients, not a gap) is reported at the smallest gap it reached and the tightest `tol`, and is left out
of "fastest peer". A peer that is not installed is recorded as such (`pip install -e ".[bench]"`; glmnet needs a
Fortran compiler and `--no-build-isolation`, see `docs/design/lasso-peers.md`).

Output: one JSON line per design on stdout (progress on stderr):
`python benchmarks/lasso_peers.py > benchmarks/lasso_peers.jsonl`, then `python benchmarks/report.py` renders the
table and plot in `benchmarks/README.md`. `--quick`: three small designs, 20 α down to 1e-2·α_max, one run each
(the test suite's smoke test); `--scale 0.5`: every design at half its n and d.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse  # noqa: E402

import jaxreg  # noqa: E402
from jaxreg.solvers._sparse import SparseDesign  # noqa: E402  (a sparse x as an argument of the gap's program)

#: The largest relative duality gap over the path that counts as solved.
TARGET_GAP = 1e-6
#: α on the grid, and the smallest as a fraction of α_max.
N_ALPHAS, ALPHA_MIN_RATIO = 100, 1e-3
#: Every solver's first `tol`, and the tightest it is given.
FIRST_TOL, TIGHTEST_TOL = 1e-6, 1e-14
#: A run longer than this is not repeated (the shared 2-core CPU: a full run would take hours).
MAX_REPEAT_S = 30.0
#: The most a `tol` is tightened in one step of the ladder.
MAX_TOL_JUMP = 100.0
#: The α grid (count, smallest over α_max); ``--quick``'s stops before the small-α end, where coordinate descent
#: needs many epochs even on tiny designs.
FULL_GRID, QUICK_GRID = (N_ALPHAS, ALPHA_MIN_RATIO), (20, 1e-2)
#: The peers, in the order they run; "jaxreg" first.
PEERS = ("jaxreg", "scikit-learn", "skglm", "celer", "glmnet")


# ---------------------------------------------------------------------------------------------------- designs
@dataclasses.dataclass(frozen=True)
class Design:
    """One benchmark design: its kind, size and the class of problem it stands for."""

    name: str  # gaussian, genotype(_centred), toeplitz0.7, factor, sparse, genotype_sparse
    cls: str  # the class of problem (issue 22's rows, and the classes not tuned on)
    n: int
    d: int
    density: float = 1.0  # sparse designs: the share of stored entries
    issue: bool = False  # one of issue 22's five designs

    @property
    def label(self) -> str:
        return f"{self.name} {self.n}×{self.d}" + (f" ({self.density:.0%})" if self.density < 1 else "")


DESIGNS = (
    Design("gaussian", "n < d, ~n active", 1000, 5000, issue=True),
    Design("genotype", "0/1/2 features", 3000, 2000, issue=True),
    Design("toeplitz0.7", "correlated, n > d", 5000, 1000, issue=True),
    Design("factor", "low rank + noise", 2000, 500, issue=True),
    Design("gaussian", "n ≫ d", 10000, 300, issue=True),
    Design("gaussian", "n ≪ d", 200, 5000),
    Design("toeplitz0.7", "n ≪ d", 100, 3000),
    Design("gaussian", "n ≈ d", 1000, 1000),
    Design("factor", "n ≈ d", 800, 800),
    Design("sparse", "sparse CSC, n < d", 1000, 5000, density=0.05),
    Design("sparse", "sparse CSC, n > d", 10000, 500, density=0.05),
    Design("genotype_sparse", "sparse CSC 0/1/2, n < d", 500, 10000, density=0.05),
    Design("genotype", "0/1/2 features, n < d", 800, 3000),
    Design("toeplitz0.7", "correlated, n < d", 1000, 3000),
    Design("factor", "n ≫ d", 20000, 200),
    Design("genotype_centred", "0/1/2 features, centred", 3000, 2000),
    Design("genotype_centred", "0/1/2 features centred, n < d", 800, 3000),
)

QUICK_DESIGNS = (
    Design("gaussian", "n < d", 60, 200),
    Design("toeplitz0.7", "n > d", 300, 50),
    Design("sparse", "sparse CSC, n < d", 80, 300, density=0.05),
)


def _standardised(x):
    return (x - x.mean(0)) / np.maximum(x.std(0), 1e-12)


def _features(design: Design, rng):
    """The design matrix: dense (standardised columns) or scipy.sparse CSC (stored as generated)."""
    n, d = design.n, design.d
    if design.name == "gaussian":
        return _standardised(rng.standard_normal((n, d)))
    if design.name == "toeplitz0.7":  # corr(x_i, x_j) = 0.7^|i−j|: an AR(1) recursion along the features
        z, x = rng.standard_normal((n, d)), np.empty((n, d))
        x[:, 0] = z[:, 0]
        for j in range(1, d):
            x[:, j] = 0.7 * x[:, j - 1] + math.sqrt(1 - 0.49) * z[:, j]
        return _standardised(x)
    if design.name == "factor":  # 10 common factors plus independent noise
        return _standardised(rng.standard_normal((n, 10)) @ rng.standard_normal((10, d)) + rng.standard_normal((n, d)))
    if design.name in ("genotype", "genotype_centred"):  # allele counts, minor-allele frequencies 5–50 %
        x = rng.binomial(2, rng.uniform(0.05, 0.5, d), size=(n, d)).astype(np.float64)
        return x - x.mean(0) if design.name == "genotype_centred" else x  # centred: what a no-intercept fit wants
    if design.name == "sparse":  # Gaussian values at `density` of the positions
        mask = rng.random((n, d)) < design.density
        return scipy.sparse.csc_matrix(np.where(mask, rng.standard_normal((n, d)), 0.0))
    if design.name == "genotype_sparse":  # rare variants: allele counts with frequencies giving ~`density` nonzeros
        freq = rng.uniform(0.2, 1.8, d) * design.density / 2
        return scipy.sparse.csc_matrix(rng.binomial(2, freq, size=(n, d)).astype(np.float64))
    raise ValueError(f"unknown design {design.name!r}")


def make_design(design: Design, seed: int = 0):
    """``(x, y)``: the features and a centred target from d/20 (at most n/4) coefficients plus noise."""
    rng = np.random.default_rng(seed)
    x = _features(design, rng)
    k = max(1, min(design.d // 20, design.n // 4))
    w = np.zeros(design.d)
    w[rng.choice(design.d, k, replace=False)] = rng.standard_normal(k)
    signal = np.asarray(x @ w).ravel()
    y = signal + 0.5 * max(signal.std(), 1e-12) * rng.standard_normal(design.n)
    return x, y - y.mean()


def alpha_grid(x, y, k: int = N_ALPHAS, ratio: float = ALPHA_MIN_RATIO) -> np.ndarray:
    """``k`` α from α_max = ‖Xᵀy‖∞/n down to ``ratio``·α_max, evenly on a log scale."""
    alpha_max = np.abs(x.T @ y).max() / x.shape[0]
    return alpha_max * np.geomspace(1, ratio, k)


def gap_function(x, y, alphas) -> Callable[[np.ndarray], np.ndarray]:
    """``W (K, d) -> (K,)`` relative duality gaps by :func:`jaxreg.relative_duality_gap` (one compiled program;
    a sparse x as a :class:`SparseDesign` argument, never densified)."""
    xj = SparseDesign.from_scipy(x) if scipy.sparse.issparse(x) else jnp.asarray(x)
    one = lambda w, a, x, y: jaxreg.relative_duality_gap(w, a, 1.0, x=x, y=y)  # noqa: E731
    gaps = jax.jit(jax.vmap(one, in_axes=(0, 0, None, None)))
    y_j, a_j = jnp.asarray(y), jnp.asarray(alphas)

    def path_gaps(w: np.ndarray) -> np.ndarray:
        g = np.asarray(gaps(jnp.asarray(w, jnp.float64), a_j[: len(w)], xj, y_j))
        return np.where(np.isfinite(g), g, np.inf)

    return path_gaps


# ---------------------------------------------------------------------------------------------------- peers
def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _run_jaxreg(x, y, alphas, tol):
    """``elastic_net_path`` (λ = α for the lasso) with ``tol``; returns the coefficients and what it compiled."""
    coefs, stats = jaxreg.elastic_net_path(x, y, alphas, tol=tol, return_stats=True)
    return coefs, stats["compile_s"]


def _run_sklearn(x, y, alphas, tol):
    from sklearn.linear_model import lasso_path

    return lasso_path(x, y, alphas=alphas, tol=tol, max_iter=1_000_000)[1].T, 0.0


def _run_skglm(x, y, alphas, tol):
    from skglm.datafits import Quadratic
    from skglm.penalties import L1
    from skglm.solvers import AndersonCD

    solver = AndersonCD(tol=tol, fit_intercept=False, max_iter=1000, max_epochs=100_000)
    return solver.path(x, y, Quadratic(), L1(1.0), alphas=alphas)[1].T, 0.0


def _run_celer(x, y, alphas, tol):
    from celer import celer_path

    return celer_path(x, y, "lasso", alphas=alphas, tol=tol, prune=True, max_iter=1000)[1].T, 0.0


def _run_glmnet(x, y, alphas, tol):
    """python-glmnet's Fortran core (``alpha=1``: the lasso; its λ is α here, checked by the gap). It may stop
    the path early (its deviance rules): the rows it did not solve are NaN."""
    from glmnet import ElasticNet

    model = ElasticNet(alpha=1.0, lambda_path=alphas, standardize=False, fit_intercept=False, tol=tol, n_splits=0,
                       max_iter=10_000_000).fit(x, y)
    coefs = np.full((len(alphas), x.shape[1]), np.nan)
    coefs[: model.coef_path_.shape[1]] = model.coef_path_.T
    return coefs, 0.0


#: peer name -> (the module to import, its distribution's name, the runner).
RUNNERS = {"jaxreg": ("jaxreg", "jaxreg", _run_jaxreg), "scikit-learn": ("sklearn", "scikit-learn", _run_sklearn),
           "skglm": ("skglm", "skglm", _run_skglm), "celer": ("celer", "celer", _run_celer),
           "glmnet": ("glmnet", "glmnet", _run_glmnet)}


def available(peer: str) -> tuple[bool, str]:
    """Whether ``peer`` imports here, and its version (or why not)."""
    module, dist, _ = RUNNERS[peer]
    try:
        __import__(module)
    except Exception as e:  # (an extension built for another NumPy fails with other errors than ImportError)
        return False, f"not installed: {type(e).__name__}: {e}"
    return True, _version(dist)


def warm_up(peer: str, sparse: bool) -> None:
    """One tiny path, so that numba / JAX start-up is not in the first measurement."""
    x, y = make_design(Design("sparse" if sparse else "gaussian", "warm-up", 40, 30, density=0.3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        RUNNERS[peer][2](x, y, alpha_grid(x, y, 5), 1e-4)


def _run_quietly(peer: str, x, y, alphas, tol):
    """``(coefficients, seconds, what it compiled)`` of one run, convergence warnings silenced (the gap is the
    judge)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        coefs, compile_s = RUNNERS[peer][2](x, y, alphas, tol)
        return coefs, time.perf_counter() - t0 - compile_s, compile_s


class RunKilled(Exception):
    """A peer's run went past ``--kill-after-s`` and its process was stopped."""


def _run_in_child(peer: str, x, y, alphas, tol, kill_after_s: float):
    """:func:`_run_quietly` in a forked process, killed after ``kill_after_s`` seconds (a peer's compiled loop
    cannot be interrupted from Python; some runs take hours on ill-conditioned designs). The time is measured in
    the child, so the fork and the transfer of the coefficients are not counted."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def child():
        try:
            send.send(("ok", _run_quietly(peer, x, y, alphas, tol)))
        except BaseException as e:  # (reported by the parent as this peer's error)
            send.send(("error", f"{type(e).__name__}: {e}"))

    proc = ctx.Process(target=child, daemon=True)
    proc.start()
    send.close()  # the child's end: a child that dies closes the pipe, and recv raises EOFError
    try:
        if not receive.poll(kill_after_s):
            raise RunKilled(f"a run over {kill_after_s:g} s (stopped)")
        try:
            status, value = receive.recv()
        except EOFError:
            proc.join()
            raise RuntimeError(f"the {peer} run's process died (exit code {proc.exitcode})") from None
    finally:
        proc.kill()
        proc.join()
    if status != "ok":
        raise RuntimeError(value)
    return value


def _timed(peer: str, x, y, alphas, tol, path_gaps, kill_after_s: float = math.inf):
    """One run: ``(seconds, largest gap, λ solved, what it compiled)``; a peer other than jaxreg in a child
    process when ``kill_after_s`` is finite."""
    if peer == "jaxreg" or not math.isfinite(kill_after_s):
        coefs, seconds, compile_s = _run_quietly(peer, x, y, alphas, tol)
    else:
        coefs, seconds, compile_s = _run_in_child(peer, x, y, alphas, tol, kill_after_s)
    solved = int(np.isfinite(coefs).all(1).sum())
    gaps = path_gaps(np.nan_to_num(coefs[:solved]))
    worst = float(gaps.max()) if solved == len(alphas) else math.inf
    return seconds, worst, solved, compile_s, float(gaps.max(initial=0.0))


def _next_tol(tol: float, gap: float) -> float:
    """A tighter ``tol``: the gap scales roughly with it, so jump by the factor missed (10× to
    :data:`MAX_TOL_JUMP`: a larger jump risks a run far tighter, and far longer, than needed)."""
    factor = min(MAX_TOL_JUMP, max(10.0, gap / TARGET_GAP)) if math.isfinite(gap) else 10.0
    return 10.0 ** math.floor(math.log10(tol / factor) + 1e-9)


def _ladder(peer: str, x, y, alphas, path_gaps, max_run_s: float,
            kill_after_s: float = math.inf) -> tuple[list[dict], str]:
    """Runs at tighter and tighter ``tol`` until the path's gap is ≤ :data:`TARGET_GAP`, the tightest ``tol``,
    a path cut short (tightening does not lengthen it), a gap that no longer halves (stalled) or a run longer
    than ``max_run_s``, or one stopped at ``kill_after_s``. Returns the runs and why the ladder stopped."""
    attempts, tol = [], FIRST_TOL
    while True:
        try:
            s, gap, solved, compile_s, gap_solved = _timed(peer, x, y, alphas, tol, path_gaps, kill_after_s)
        except RunKilled as e:
            if not attempts:
                raise
            return attempts, str(e)
        attempts.append({"tol": tol, "s": s, "max_gap": gap, "max_gap_solved": gap_solved, "solved": solved,
                         "compile_s": compile_s})
        stops = {"reached": gap <= TARGET_GAP, "path cut short": solved < len(alphas),
                 "tightest tol": tol <= TIGHTEST_TOL,
                 "stalled": len(attempts) > 1 and not gap < 0.5 * attempts[-2]["max_gap"],
                 f"a run over {max_run_s:g} s": s > max_run_s}
        why = next((reason for reason, stop in stops.items() if stop), None)
        if why:
            return attempts, why
        tol = max(_next_tol(tol, gap), TIGHTEST_TOL)


def measure(peer: str, x, y, alphas, path_gaps, repeat: int, max_repeat_s: float, max_run_s: float,
            kill_after_s: float = math.inf) -> dict:
    """``peer``'s path: the ``tol`` ladder, then best of ``repeat`` runs at the final ``tol`` (the one that met
    the target, else the one with the smallest gap)."""
    try:
        attempts, why = _ladder(peer, x, y, alphas, path_gaps, max_run_s, kill_after_s)
    except RunKilled as e:  # not even the first tol finished: a lower bound on its time, no gap
        return {"status": "ok", "s": kill_after_s, "runs": [], "tol": FIRST_TOL, "max_gap": math.inf,
                "max_gap_solved": math.inf, "alphas_solved": 0, "reached": False, "ladder_stop": str(e),
                "compile_s": 0.0, "attempts": [], "killed": True}
    final = attempts[-1] if attempts[-1]["max_gap"] <= TARGET_GAP else min(
        attempts, key=lambda a: (a["max_gap"], a["max_gap_solved"]))
    times = [final["s"]]
    while len(times) < repeat and min(times) <= max_repeat_s:
        try:
            times.append(_timed(peer, x, y, alphas, final["tol"], path_gaps, kill_after_s)[0])
        except RunKilled:  # a repeat slower than the kill time: the runs so far stand
            break
    return {"status": "ok", "s": min(times), "runs": times, "tol": final["tol"], "max_gap": final["max_gap"],
            "max_gap_solved": final["max_gap_solved"], "alphas_solved": final["solved"],
            "reached": final["max_gap"] <= TARGET_GAP, "ladder_stop": why, "compile_s": attempts[0]["compile_s"],
            "attempts": attempts}


def benchmark_design(design: Design, peers: dict, repeat: int, max_repeat_s: float, grid: tuple,
                     max_run_s: float = math.inf, kill_after_s: float = math.inf) -> dict:
    """One JSON row: every peer on ``design``, the fastest peer that met the target and jaxreg's ratio to it.
    ``grid``: the number of α and the smallest α over α_max; ``max_run_s``: no tighter ``tol`` after a run
    this long."""
    load_before = os.getloadavg()[0]
    x, y = make_design(design)
    n_alphas, ratio = grid
    alphas = alpha_grid(x, y, n_alphas, ratio)
    path_gaps = gap_function(x, y, alphas)
    results = {}
    for peer, (ok, version) in peers.items():
        if not ok:
            results[peer] = {"status": version}
            continue
        print(f"  {design.label}: {peer} …", file=sys.stderr, flush=True)
        try:
            results[peer] = {"version": version,
                             **measure(peer, x, y, alphas, path_gaps, repeat, max_repeat_s, max_run_s,
                                       kill_after_s)}
        except Exception as e:  # (a peer that fails on a design is reported, the others still run)
            results[peer] = {"status": f"error: {type(e).__name__}: {e}", "version": version}
    met = {p: r["s"] for p, r in results.items() if r.get("reached")}
    others = {p: s for p, s in met.items() if p != "jaxreg"}
    fastest = min(others, key=others.get) if others else None
    row = {"benchmark": "lasso_peers", "design": design.name, "class": design.cls, "label": design.label,
           "n": design.n, "d": design.d, "sparse": scipy.sparse.issparse(x), "density": design.density,
           "nnz": int(x.nnz) if scipy.sparse.issparse(x) else design.n * design.d, "issue_design": design.issue,
           "n_alphas": n_alphas, "alpha_min_ratio": ratio, "target_gap": TARGET_GAP, "dtype": "float64",
           "repeat": repeat, "max_repeat_s": max_repeat_s, "max_run_s": max_run_s, "kill_after_s": kill_after_s,
           "device": jaxreg.device_description(), "cpu_count": os.cpu_count(),
           "load_avg_1min": [load_before, os.getloadavg()[0]],
           "date": datetime.date.today().isoformat(), "quick": n_alphas != N_ALPHAS, "peers": results,
           "fastest_peer": fastest, "fastest_peer_s": others.get(fastest), "jaxreg_s": met.get("jaxreg"),
           "jaxreg_vs_fastest_peer": (others[fastest] / met["jaxreg"] if fastest and "jaxreg" in met else None),
           "s_over_fastest": {p: s / min(met.values()) for p, s in met.items()}}
    return row


def _summary(row: dict) -> str:
    cells = []
    for peer, r in row["peers"].items():
        if "s" in r:
            cells.append(f"{peer} {r['s']:.3g} s" + ("" if r["reached"] else f" (gap {r['max_gap_solved']:.0e})"))
    ratio = row["jaxreg_vs_fastest_peer"]
    return f"{row['label']:>28}: " + ", ".join(cells) + (f"  → jaxreg ×{ratio:.2f} vs {row['fastest_peer']}"
                                                         if ratio else "")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="three small designs, 20 α down to 1e-2 α_max, one run "
                   "each (the smoke test)")
    p.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS), help="which solvers (default: all)")
    p.add_argument("--designs", nargs="+", metavar="LABEL", help="only designs whose label starts with one of these "
                   "(e.g. 'gaussian 1000', 'sparse')")
    p.add_argument("--repeat", type=int, help="runs at the final tol, the best counts (default 3; --quick 1)")
    p.add_argument("--max-repeat-s", type=float, default=MAX_REPEAT_S, help="a run longer than this is not repeated")
    p.add_argument("--max-run-s", type=float, default=math.inf, help="no tighter tol after a run this long (the gap "
                   "reached is reported)")
    p.add_argument("--kill-after-s", type=float, default=math.inf, help="stop a peer's run after this long, in a "
                   "child process (reported as slower than this, gap unknown); jaxreg always runs in-process")
    p.add_argument("--scale", type=float, default=1.0, help="every design's n and d times this (a smaller run)")
    p.add_argument("--note", help="a sentence saved with every row and shown under the table (e.g. that other jobs "
                   "shared the machine)")
    args = p.parse_args(argv)
    designs = QUICK_DESIGNS if args.quick else DESIGNS
    if args.designs:
        designs = [d for d in designs if any(d.label.startswith(prefix) for prefix in args.designs)]
    designs = [dataclasses.replace(d, n=max(20, round(d.n * args.scale)), d=max(10, round(d.d * args.scale)))
               for d in designs]
    repeat = args.repeat or (1 if args.quick else 3)
    peers = {peer: available(peer) for peer in PEERS if peer in args.peers}
    for peer, (ok, _) in peers.items():
        for sparse in (False, True) if ok else ():
            warm_up(peer, sparse)
    for design in designs:
        row = benchmark_design(design, peers, repeat, args.max_repeat_s, QUICK_GRID if args.quick else FULL_GRID,
                               args.max_run_s, args.kill_after_s)
        row["scale"] = args.scale
        if args.note:
            row["note"] = args.note
        print(json.dumps(row), flush=True)
        print(_summary(row), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

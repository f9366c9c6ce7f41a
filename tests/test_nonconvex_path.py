"""jaxreg.solvers.nonconvex_path: MCP / SCAD paths in closed form (orthonormal designs), their stationarity
criterion recomputed independently, the lasso limit, and against skglm's solutions on the same objective."""

import json
import os
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse

import jaxreg
from jaxreg.core import prox
from jaxreg.solvers import _nonconvex_cd, elastic_net_path, nonconvex_path

GAMMA = {"mcp": 3.0, "scad": 3.7}
#: Two layouts and one grid length throughout, so that the file compiles few programs: the Gram layout's
#: programs depend on d only, the data layout's on (n, d).
GRAM, DATA, K = (150, 40), (40, 150), 12
PROX = {"mcp": prox.mcp, "scad": prox.scad}
PENALTY = {"mcp": jaxreg.core.mcp_penalty, "scad": jaxreg.core.scad_penalty}


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def orthonormal_design(n, d, seed=0):
    """``x`` with ``XᵀX/n = I`` exactly (up to rounding) and a target with a few large and small effects."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, d)))
    x = np.sqrt(n) * q
    y = x @ np.r_[3.0, -2.0, 0.8, -0.4, 0.15, np.zeros(d - 5)] + 0.3 * rng.standard_normal(n)
    return x, y


def correlated_design(n, d, rho=0.5, seed=0, k=8):
    """Standardised Gaussian columns with Toeplitz correlation ``rho^|i−j|``, a centred target from ``k`` of them."""
    rng = np.random.default_rng(seed)
    cov = rho ** np.abs(np.subtract.outer(np.arange(d), np.arange(d)))
    x = rng.multivariate_normal(np.zeros(d), cov, size=n)
    x = (x - x.mean(0)) / x.std(0)
    beta = np.zeros(d)
    beta[rng.choice(d, k, replace=False)] = rng.choice([-2.0, -1.0, 1.0, 2.0], k)
    y = x @ beta + rng.standard_normal(n)
    return x, y - y.mean()


def lambda_max(x, y):
    return np.abs(x.T @ y / x.shape[0]).max()


def derivative_np(penalty, w, lam, gamma):
    a, s = np.abs(w), np.sign(w)
    if penalty == "mcp":
        return s * np.maximum(lam - a / gamma, 0)
    return s * np.where(a <= lam, lam, np.maximum(gamma * lam - a, 0) / (gamma - 1))


def violation_np(penalty, x, y, w, lam, gamma):
    """skglm's ``subdiff_distance`` written out in NumPy: the distance of Xᵀr/n to the subdifferential of ρ."""
    g = x.T @ (y - x @ w) / x.shape[0]
    return np.where(w == 0, np.maximum(np.abs(g) - lam, 0), np.abs(g - derivative_np(penalty, w, lam, gamma)))


def objective(penalty, x, y, w, lam, gamma):
    r = y - x @ w
    return 0.5 * np.mean(r * r) + float(PENALTY[penalty](jnp.asarray(w), lam, gamma))


@pytest.mark.parametrize("penalty", ["mcp", "scad"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_orthonormal_design_is_the_threshold_of_xty(penalty, dtype):
    """XᵀX/n = I: the objective separates, and each coordinate's global minimiser is the penalty's proximal
    operator at step 1 of z = Xᵀy/n (firm thresholding for MCP)."""
    x, y = orthonormal_design(*GRAM)
    z = x.T @ y / GRAM[0]
    lams = np.array([0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.7, 2.5, 4.0])  # every piece, all zeros
    tol = 1e-10 if dtype == np.float64 else 1e-5
    w, st = nonconvex_path(x.astype(dtype), y.astype(dtype), lams, penalty=penalty, tol=tol, return_stats=True)
    want = np.stack([np.asarray(PROX[penalty](jnp.asarray(z), lam, GAMMA[penalty], 1.0)) for lam in lams])
    assert w.dtype == dtype and st["converged"]
    np.testing.assert_allclose(w, want, atol=1e-9 if dtype == np.float64 else 2e-5)
    assert np.array_equal(w == 0, want == 0)  # the same exact zeros
    assert not w[-1].any()  # λ = 4 ≥ ‖Xᵀy/n‖_∞


@pytest.mark.parametrize("penalty", ["mcp", "scad"])
@pytest.mark.parametrize("n, d", [GRAM, DATA], ids=["gram", "data"])
def test_every_point_meets_the_stated_criterion(penalty, n, d):
    """The violation recomputed in NumPy from the returned w is ≤ tol·‖Xᵀy/n‖_∞ at every λ, as the stats say."""
    x, y = correlated_design(n, d)
    lams = lambda_max(x, y) * np.geomspace(1, 0.02, K)
    tol = 1e-8
    w, st = nonconvex_path(x, y, lams, penalty=penalty, tol=tol, return_stats=True)
    viol = np.array([violation_np(penalty, x, y, w[k], lam, GAMMA[penalty]).max() for k, lam in enumerate(lams)])
    scale = lambda_max(x, y)
    assert st["converged"] and all(st["lambda_converged"]) and st["scale"] == pytest.approx(scale)
    assert (viol <= tol * scale * (1 + 1e-6) + 1e-13).all(), viol.max() / scale
    np.testing.assert_allclose(st["violations"], viol / scale, atol=1e-12)
    assert st["max_violation"] == max(st["violations"]) <= tol
    assert len(st["iterations"]) == len(st["epochs"]) == len(lams) and st["solver"] == "working_set_cd"
    assert (np.diff((w != 0).sum(1)[:5]) >= 0).all()  # sparse at large λ, growing


def test_large_gamma_is_the_lasso_path():
    """γ → ∞: MCP and SCAD become λ|t| over the solutions' range, so the path is the lasso's."""
    x, y = correlated_design(*GRAM, seed=1)
    lams = lambda_max(x, y) * np.geomspace(1, 0.05, K)
    lasso = elastic_net_path(x, y, lams, tol=1e-12)
    for penalty in ("mcp", "scad"):
        w = nonconvex_path(x, y, lams, penalty=penalty, gamma=1e7, tol=1e-10)
        np.testing.assert_allclose(w, lasso, atol=1e-5)
        assert np.array_equal(w != 0, lasso != 0)


def test_order_of_the_grid_and_lambda_max():
    """Any order of λ gives the rows of the sorted grid; λ ≥ ‖Xᵀy/n‖_∞ gives exact zeros."""
    x, y = correlated_design(*GRAM, seed=2)
    lams = lambda_max(x, y) * np.r_[1.5, 1.0, np.geomspace(0.9, 0.05, K - 2)]
    shuffled = np.random.default_rng(0).permutation(K)
    w = nonconvex_path(x, y, lams[shuffled], tol=1e-10)
    np.testing.assert_allclose(w[np.argsort(shuffled)], nonconvex_path(x, y, lams, tol=1e-10), atol=1e-12)
    first = list(shuffled).index(0), list(shuffled).index(1)
    assert not w[first[0]].any() and not w[first[1]].any() and w.any(1).sum() == K - 2


def test_sparse_design_equals_the_dense_one():
    """A scipy.sparse x (kept sparse when n < d; SciPy's Gram matrix when n > d) gives the dense path."""
    rng = np.random.default_rng(3)
    for n, d in (DATA, GRAM):
        x = scipy.sparse.random(n, d, density=0.2, format="csr", random_state=3, data_rvs=rng.standard_normal)
        x = x @ scipy.sparse.diags(1 / np.sqrt(np.asarray(x.multiply(x).mean(0)).ravel() + 1e-12))  # ‖x_j‖²/n = 1
        y = x[:, :4] @ np.array([2.0, -1.0, 1.0, 0.5]) + 0.1 * rng.standard_normal(n)
        lams = lambda_max(x.toarray(), y) * np.geomspace(1, 0.05, K)
        dense = nonconvex_path(x.toarray(), y, lams, tol=1e-10)
        np.testing.assert_allclose(nonconvex_path(x, y, lams, tol=1e-10), dense, atol=1e-9)


def test_zero_column_stays_zero_and_one_program_per_shape():
    """A column of zeros never enters (no NaN); a second path of the same shapes compiles nothing."""
    x, y = correlated_design(*GRAM, seed=4)
    x[:, 3] = 0.0
    lams = lambda_max(x, y) * np.geomspace(1, 0.05, K)
    w = nonconvex_path(x, y, lams)
    assert np.isfinite(w).all() and not w[:, 3].any()
    programs = len(_nonconvex_cd.PROGRAMS)
    w2, st = nonconvex_path(x, -2.0 * y, lams, return_stats=True)
    assert len(_nonconvex_cd.PROGRAMS) == programs and st["converged"]


def test_not_converged_warns_and_says_so():
    """Stopped by max_iter / max_epochs above tol: a RuntimeWarning, converged False, per λ which."""
    x, y = correlated_design(*DATA, rho=0.8, seed=5, k=20)
    lams = lambda_max(x, y) * np.geomspace(1, 0.01, K)
    with pytest.warns(RuntimeWarning, match="optimality violation above tol"):
        w, st = nonconvex_path(x, y, lams, tol=1e-12, max_iter=1, max_epochs=1, return_stats=True)
    assert not st["converged"] and not all(st["lambda_converged"]) and st["lambda_converged"][0]
    assert st["max_violation"] > 1e-12 and np.isfinite(w).all()


def test_threshold_is_the_core_prox():
    """The solver's coordinate minimiser at curvature a is jaxreg.core.prox at step 1/a."""
    z = jnp.linspace(-6.0, 6.0, 241)
    for penalty, fn in PROX.items():
        for a in (0.6, 1.0, 2.5):
            got = _nonconvex_cd.threshold(penalty, z, a, 0.7, GAMMA[penalty])
            np.testing.assert_allclose(got, fn(z, 0.7, GAMMA[penalty], 1 / a), atol=1e-12)


def _skglm_path(penalty, x, y, lams, tol_abs):
    from skglm.datafits import Quadratic
    from skglm.penalties import SCAD, MCPenalty
    from skglm.solvers import AndersonCD

    pen = MCPenalty(1.0, GAMMA[penalty]) if penalty == "mcp" else SCAD(1.0, GAMMA[penalty])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, coefs, crit = AndersonCD(tol=tol_abs, fit_intercept=False, max_iter=1000).path(
            x, y, Quadratic(), pen, alphas=lams)
    return coefs.T, crit


@pytest.mark.parametrize("penalty", ["mcp", "scad"])
@pytest.mark.parametrize("n, d, low", [(400, GRAM[1], 0.01), (*DATA, 0.1)], ids=["n>d", "n<d"])
def test_against_skglm(penalty, n, d, low):
    """skglm's AndersonCD path on the same objective (``MCPenalty(alpha=λ, γ)`` / ``SCAD``, ``Quadratic``), both
    to the same optimality violation: the objectives agree within 1e-6 relative at every λ.

    n > d: weakly correlated columns (ρ = 0.2), so λ_min(XᵀX/n) exceeds the penalties' concavity (1/γ, 1/(γ−1))
    and the objective is convex: one minimiser. n < d: nonconvex; down to 0.1 λ_max the supports stay small and
    both paths, warm-started alike from w = 0, reach the same stationary points. Further down (supports near
    n/2) the two solvers reach different stationary points on some λ, neither lower throughout
    (docs/nonconvex.md)."""
    pytest.importorskip("skglm")
    x, y = correlated_design(n, d, rho=0.2 if n > d else 0.5, seed=6)
    if n > d:
        assert np.linalg.eigvalsh(x.T @ x / n).min() > 1 / (GAMMA[penalty] - (penalty == "scad"))
    scale = lambda_max(x, y)
    lams = scale * np.geomspace(1, low, K)
    tol = 1e-9
    w = nonconvex_path(x, y, lams, penalty=penalty, tol=tol)
    peer, crit = _skglm_path(penalty, x, y, lams, tol * scale)
    assert crit.max() <= tol * scale
    for k, lam in enumerate(lams):
        mine, theirs = (objective(penalty, x, y, v, lam, GAMMA[penalty]) for v in (w[k], peer[k]))
        assert abs(mine - theirs) <= 1e-6 * theirs, (k, mine, theirs)
    assert np.array_equal(w != 0, peer != 0)


def test_benchmark_quick_mode_writes_its_json_rows():
    """`benchmarks/nonconvex_peers.py --quick` (MCP, jaxreg only: numba would compile skglm for longer than the
    whole run; `test_against_skglm` covers it): one JSON line per design with the seconds, the recomputed
    violation at the shared tolerance and the device; the structure only, never the figures."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "nonconvex_peers.py"), "--quick",
                          "--penalties", "mcp", "--peers", "jaxreg"],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2 and {r["penalty"] for r in rows} == {"mcp"}
    assert any(r["n"] > r["d"] for r in rows) and any(r["n"] < r["d"] for r in rows)
    for row in rows:
        assert row["benchmark"] == "nonconvex_peers" and row["dtype"] == "float64" and isinstance(row["device"], str)
        assert row["jaxreg"]["s"] > 0 and row["jaxreg"]["max_violation"] <= row["tol"]
        if row["skglm"].get("status") == "ok":
            assert row["skglm"]["s"] > 0 and row["skglm"]["max_violation"] <= row["tol"] * 1.0001
            assert row["skglm_over_jaxreg"] > 0
        else:
            assert row["skglm"]["status"].startswith(("not installed", "not run"))


def test_float32_tol_below_its_floor_warns_and_is_not_converged():
    """float32 on the Gram layout: a tol finer than rounding resolves (below 64 eps) warns and reports
    converged=False whatever violation it computed; tol=None takes the floor and converges."""
    from jaxreg.solvers._nonconvex_path import tol_floor

    x, y = correlated_design(*GRAM)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    lams = lambda_max(x, y) * np.geomspace(1, 0.05, K)
    with pytest.warns(RuntimeWarning, match="below the smallest violation float32 resolves"):
        _, st = nonconvex_path(x32, y32, lams, tol=1e-7, return_stats=True)
    assert not st["converged"] and not any(st["lambda_converged"]) and st["tol_floor"] == tol_floor(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, st = nonconvex_path(x32, y32, lams, return_stats=True)
    assert st["converged"] and st["tol"] == tol_floor(np.float32) == 64 * np.finfo(np.float32).eps
    _, st = nonconvex_path(x, y, lams, return_stats=True)  # float64: the default 1e-6
    assert st["converged"] and st["tol"] == 1e-6

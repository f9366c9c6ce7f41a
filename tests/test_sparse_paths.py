"""scipy.sparse designs in jaxreg.elastic_net_path: the same paths as the dense design, the same solutions as
scikit-learn on the same sparse data, the Gram / data layouts, and the input checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse
from sklearn.linear_model import ElasticNet, Lasso, lasso_path

import jaxreg
from jaxreg.solvers import (
    ActiveSet,
    Admm,
    Fista,
    FixedSteps,
    elastic_net_path,
    least_squares_objective,
    lipschitz_least_squares,
    relative_duality_gap,
)
from jaxreg.solvers._design import SPARSE_GRAM_MAX_BYTES, design_entries
from jaxreg.solvers._paths import _uses_gram
from jaxreg.solvers._sparse import SparseDesign


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _problem(n, d, density=0.1, seed=0):
    """A sparse CSC design with Gaussian entries and a target from 5 of its columns plus noise (not centred: the
    path fits no intercept, and centring would make x dense)."""
    rng = np.random.default_rng(seed)
    x = scipy.sparse.random(n, d, density=density, format="csc", random_state=seed, data_rvs=rng.standard_normal)
    y = x[:, :5] @ np.array([2.0, -1.5, 1.0, 0.5, -0.5]) + 0.1 * rng.standard_normal(n)
    return x, y


def _grid(x, y, k, rho=1.0, low=1e-3):
    lam_max = np.abs(x.T @ y).max() / (x.shape[0] * rho)
    return lam_max * np.geomspace(1, low, k)


@pytest.mark.parametrize("n, d", [(200, 60), (50, 300)], ids=["gram", "data"])
@pytest.mark.parametrize("rho", [1.0, 0.5])
def test_sparse_path_equals_the_dense_one(n, d, rho):
    """CSC, CSR and COO give the dense design's path (n > d: the Gram matrix from SciPy; n < d: x kept sparse)."""
    x, y = _problem(n, d)
    lams = _grid(x, y, 20, rho)
    dense, st_dense = elastic_net_path(x.toarray(), y, lams, l1_ratio=rho, tol=1e-10, return_stats=True)
    for fmt in ("csc", "csr", "coo"):
        w, st = elastic_net_path(x.asformat(fmt), y, lams, l1_ratio=rho, tol=1e-10, return_stats=True)
        assert st["converged"] and st["solver"] == "active_set"
        np.testing.assert_allclose(w, dense, rtol=1e-9, atol=1e-12)
        assert np.array_equal(w != 0, dense != 0)
    assert st_dense["converged"]


@pytest.mark.parametrize("solver", [Fista(tol=1e-8, gram=False), Fista(tol=1e-8), Admm(tol=1e-8),
                                    FixedSteps(steps=200, gram=False), FixedSteps(steps=200)],
                         ids=["fista-data", "fista-gram", "admm", "fixed-data", "fixed-gram"])
def test_every_solver_takes_a_sparse_design(solver):
    x, y = _problem(120, 40, density=0.2, seed=1)
    lams = _grid(x, y, 8, 0.5, low=1e-2)
    sparse = elastic_net_path(x, y, lams, l1_ratio=0.5, solver=solver)
    dense = elastic_net_path(x.toarray(), y, lams, l1_ratio=0.5, solver=solver)
    np.testing.assert_allclose(sparse, dense, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n, d", [(300, 80), (60, 400)], ids=["n>d", "n<d"])
def test_sparse_lasso_and_elastic_net_match_sklearn_on_the_same_sparse_data(n, d):
    """jaxreg at a 1e-8 gap and sklearn at tol=1e-12 on one CSC matrix: objectives within 1e-9 (relative),
    coefficients close."""
    x, y = _problem(n, d, seed=2)
    alpha_max = np.abs(x.T @ y).max() / n
    for sk_ratio in (1.0, 0.5):
        alphas = alpha_max / sk_ratio * np.array([0.5, 0.05, 0.005])
        lam, rho = jaxreg.from_sklearn_elastic_net(alphas, sk_ratio)
        rho = float(np.ravel(rho)[0])
        w, st = elastic_net_path(x, y, lam, l1_ratio=rho, tol=1e-8, return_stats=True)
        assert st["converged"]
        for i, a in enumerate(alphas):
            model = (Lasso(alpha=a, fit_intercept=False, tol=1e-12, max_iter=500000) if sk_ratio == 1 else
                     ElasticNet(alpha=a, l1_ratio=sk_ratio, fit_intercept=False, tol=1e-12, max_iter=500000))
            sk = model.fit(x, y).coef_
            f = lambda v: float(least_squares_objective(x, y, v, lam[i], rho))  # noqa: B023
            assert abs(f(w[i]) - f(sk)) <= 1e-9 * f(sk)
            np.testing.assert_allclose(w[i], sk, atol=1e-5 * np.abs(sk).max())


def test_sparse_path_matches_sklearn_lasso_path():
    """100 α on sklearn's grid, one sparse n < d design (5% density): sklearn's lasso_path and jaxreg's path,
    every point's gap ≤ 1e-8 by jaxreg.relative_duality_gap on the sparse x."""
    x, y = _problem(80, 500, density=0.05, seed=3)
    alphas = _grid(x, y, 100, low=1e-2)
    _, sk, _ = lasso_path(x, y, alphas=alphas, tol=1e-12, max_iter=500000)
    w = elastic_net_path(x, y, alphas, tol=1e-9)
    np.testing.assert_allclose(w, sk.T, atol=1e-5 * np.abs(sk).max())
    gaps = [float(relative_duality_gap(jnp.asarray(w[i]), alphas[i], 1.0, x=x, y=y)) for i in (0, 50, 99)]
    assert max(gaps) <= 1e-8


def test_integer_sparse_design_is_cast_to_float():
    """0/1/2 genotypes stored as int8 sparse: the float64 dense path."""
    rng = np.random.default_rng(4)
    g = rng.binomial(2, 0.1, size=(150, 60)).astype(np.int8)
    y = g[:, :3] @ np.array([1.0, -1.0, 0.5]) + 0.1 * rng.standard_normal(150)
    lams = _grid(g.astype(float), y, 10)
    w = elastic_net_path(scipy.sparse.csc_matrix(g), y, lams, tol=1e-10)
    assert w.dtype == np.float64
    np.testing.assert_allclose(w, elastic_net_path(g.astype(float), y, lams, tol=1e-10), rtol=1e-9, atol=1e-12)


def test_sparse_gap_objective_and_lipschitz_equal_the_dense_ones():
    x, y = _problem(40, 30, density=0.3, seed=5)
    w = np.linspace(-1, 1, 30)
    xd = x.toarray()
    for f in (lambda a: relative_duality_gap(jnp.asarray(w), 0.1, 0.7, x=a, y=y),
              lambda a: least_squares_objective(a, y, w, 0.1, 0.7)):
        np.testing.assert_allclose(float(f(x)), float(f(xd)), rtol=1e-12)
    np.testing.assert_allclose(lipschitz_least_squares(x), lipschitz_least_squares(xd), rtol=1e-12)
    big = scipy.sparse.random(2100, 2200, density=0.002, format="csr", random_state=0)  # (Lanczos, not eigvalsh)
    top = scipy.sparse.linalg.svds(big, k=1, return_singular_vectors=False)[0] ** 2 / 2100
    np.testing.assert_allclose(lipschitz_least_squares(big), top, rtol=1e-8)


def test_sparse_design_products_and_column_gather():
    x, _ = _problem(30, 12, density=0.3, seed=6)
    xd, s = x.toarray(), SparseDesign.from_scipy(x)
    v, r = np.linspace(-1, 1, 12), np.linspace(0, 2, 30)
    np.testing.assert_allclose(s.matvec(jnp.asarray(v)), xd @ v, rtol=1e-12)
    np.testing.assert_allclose(s.rmatvec(jnp.asarray(r)), xd.T @ r, rtol=1e-12)
    np.testing.assert_allclose(s.column_sq_norms(), (xd**2).sum(0), rtol=1e-12)
    idx, mask = jnp.array([7, 0, 3, 0, 0]), jnp.array([True, True, True, False, False])  # (padded with 0)
    cols = np.asarray(jax.jit(SparseDesign.columns)(s, idx, mask))
    np.testing.assert_array_equal(cols, np.column_stack([xd[:, 7], xd[:, 0], xd[:, 3], np.zeros((30, 2))]))
    assert design_entries(x) == x.nnz and design_entries(xd) == 360


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_stored_values_are_a_clear_error(bad):
    x, y = _problem(30, 10, seed=7)
    x.data[3] = bad
    with pytest.raises(ValueError, match="x .*NaN or infinite"):
        elastic_net_path(x, y, [0.1, 0.01], tol=1e-6)
    x, y = _problem(30, 10, seed=7)
    y[0] = bad
    with pytest.raises(ValueError, match="y has NaN or infinite"):
        elastic_net_path(x, y, [0.1, 0.01], tol=1e-6)


def test_sparse_shapes_are_checked():
    x, y = _problem(30, 10, seed=8)
    with pytest.raises(ValueError, match=r"x must be \(n, d\) and y \(n,\)"):
        elastic_net_path(x, y[:-1], [0.1], tol=1e-6)
    with pytest.raises(ValueError, match="at least one sample and one feature"):
        elastic_net_path(scipy.sparse.csc_matrix((30, 0)), y, [0.1], tol=1e-6)


def test_a_gram_matrix_beyond_the_budget_keeps_x_sparse_or_names_x():
    """A sparse design with d = 30,000 (a 6.7 GiB float64 Gram matrix): the active set and FISTA keep it sparse
    even with n > d; ADMM, which needs the Gram matrix, says so and names x."""
    d = 30_000
    assert d * d * 8 > SPARSE_GRAM_MAX_BYTES
    rng = np.random.default_rng(9)
    x = scipy.sparse.csc_matrix((rng.standard_normal(d), (rng.integers(0, d + 10, d), np.arange(d))),
                                shape=(d + 10, d))  # (one entry per column)
    assert not _uses_gram(ActiveSet(), x) and not _uses_gram(Fista(), x)
    assert _uses_gram(ActiveSet(), x[:, :100])
    with pytest.raises(ValueError, match="x is sparse with d = 30000 features.*Gram matrix.*GiB"):
        elastic_net_path(x, np.ones(d + 10), [1.0], solver=Admm(tol=1e-6))
    with pytest.raises(ValueError, match="x is sparse.*Fista\\(gram=False\\)"):
        elastic_net_path(x, np.ones(d + 10), [1.0], solver=Fista(tol=1e-6, gram=True))


def test_lasso_peers_benchmark_quick_mode_writes_its_json_rows():
    """`benchmarks/lasso_peers.py --quick` (three small designs, one of them sparse): one JSON line per design with
    every peer's time, gap and tol, or why it did not run; the structure only, never the figures. skglm is left
    out: compiling its numba code takes longer than the whole quick run."""
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    peers = ["jaxreg", "scikit-learn", "celer", "glmnet"]
    out = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "lasso_peers.py"), "--quick", "--peers",
                          *peers], capture_output=True, text=True, timeout=600, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["n"] for r in rows] == [60, 300, 80] and [r["sparse"] for r in rows] == [False, False, True]
    for row in rows:
        assert row["benchmark"] == "lasso_peers" and row["dtype"] == "float64" and row["target_gap"] == 1e-6
        assert isinstance(row["device"], str) and row["n_alphas"] == 20 and list(row["peers"]) == peers
        ran = {p: r for p, r in row["peers"].items() if r.get("status") == "ok"}
        assert {"jaxreg", "scikit-learn"} <= set(ran)
        for r in ran.values():
            assert r["s"] > 0 and r["tol"] > 0 and r["max_gap"] >= 0 and r["attempts"] and r["runs"]
            assert isinstance(r["reached"], bool) and 0 < r["alphas_solved"] <= 20
        for r in row["peers"].values():
            assert r["status"] == "ok" or r["status"].startswith(("not installed", "error"))
        assert set(row["s_over_fastest"]) == {p for p, r in ran.items() if r["reached"]}
        assert row["fastest_peer"] is None or row["fastest_peer"] in ran

"""Working sets for n < d (jaxreg.solvers._working_set) and their maintained inverse (jaxreg.solvers._inverse):
the same paths as the active-set solver on all features and as scikit-learn, certified on the full problem."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse
from sklearn.linear_model import ElasticNet, Lasso

import jaxreg
from jaxreg.solvers import (
    ActiveSet,
    _inverse,
    _working_set as working_set,
    elastic_net_path,
    least_squares_objective,
    relative_duality_gap,
)
from jaxreg.solvers._active_set import ProgramCache
from jaxreg.solvers._design import design_data


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _wide(n=40, d=200, rho_corr=0.0, seed=0):
    """Standardised n < d design (Toeplitz correlation ``rho_corr``) and a centred y from 6 coefficients."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    x = z.copy()
    for j in range(1, d):
        x[:, j] = rho_corr * x[:, j - 1] + np.sqrt(1 - rho_corr**2) * z[:, j]
    x = (x - x.mean(0)) / x.std(0)
    y = x[:, ::d // 6][:, :6] @ np.array([3.0, -2.0, 1.5, 1.0, -0.5, 0.5]) + 0.3 * rng.standard_normal(n)
    return x, y - y.mean()


def _grid(x, y, k=30, rho=1.0, low=1e-3):
    lam_max = np.abs(x.T @ y).max() / (x.shape[0] * rho)
    return lam_max * np.geomspace(1, low, k)


def _full_gaps(x, y, w, lams, rho):
    return np.array([float(relative_duality_gap(w[i], lams[i], rho, x=x, y=y)) for i in range(len(lams))])


@pytest.mark.parametrize("rho_corr", [0.0, 0.9], ids=["gaussian", "toeplitz0.9"])
def test_same_path_as_all_features_and_certified_on_the_full_problem(rho_corr):
    x, y = _wide(rho_corr=rho_corr)
    lams = _grid(x, y)
    w, st = elastic_net_path(x, y, lams, solver=ActiveSet(tol=1e-10), return_stats=True)
    ref, st_ref = elastic_net_path(x, y, lams, solver=ActiveSet(tol=1e-10, working_set=False), return_stats=True)
    assert "rounds" in st and "rounds" not in st_ref  # (n < d: working sets by default)
    assert st["converged"] and st_ref["converged"] and st["max_gap"] <= 1e-10
    assert st["working_set"] < x.shape[1] and st["working_set_slots"] == [200]  # never all the features
    assert np.all(_full_gaps(x, y, w, lams, 1.0) <= 1e-10)  # the certificate is the full problem's
    np.testing.assert_allclose(w, ref, atol=1e-6 * np.abs(ref).max())
    assert (w[-1] != 0).sum() <= x.shape[0]  # (a lasso solution has at most rank X nonzeros)


def test_matches_sklearn_lasso_and_elastic_net():
    x, y = _wide(seed=1)
    for sk_ratio in (1.0, 0.5):
        alphas = _grid(x, y) / sk_ratio
        lam, rho = jaxreg.from_sklearn_elastic_net(alphas, sk_ratio)
        rho = float(np.ravel(rho)[0])
        w = elastic_net_path(x, y, lam, l1_ratio=rho, tol=1e-10)
        for i in (10, 29):
            model = Lasso(alpha=alphas[i]) if sk_ratio == 1.0 else ElasticNet(alpha=alphas[i], l1_ratio=sk_ratio)
            sk = model.set_params(fit_intercept=False, tol=1e-14, max_iter=1_000_000).fit(x, y).coef_
            f = lambda v: float(least_squares_objective(x, y, v, lam[i], rho))  # noqa: B023
            assert f(w[i]) <= f(sk) + 1e-12 * abs(f(sk))
            np.testing.assert_allclose(w[i], sk, atol=1e-6 * np.abs(sk).max())


def test_sparse_design_gives_the_dense_path():
    rng = np.random.default_rng(2)
    x = scipy.sparse.random(40, 200, density=0.1, format="csc", random_state=2, data_rvs=rng.standard_normal)
    y = x[:, :5] @ np.array([2.0, -1.5, 1.0, 0.5, -0.5]) + 0.1 * rng.standard_normal(40)
    lams = _grid(x, y)
    w, st = elastic_net_path(x, y, lams, tol=1e-10, return_stats=True)
    dense = elastic_net_path(x.toarray(), y, lams, tol=1e-10)
    assert st["converged"] and "rounds" in st
    np.testing.assert_allclose(w, dense, rtol=1e-9, atol=1e-12)
    assert np.all(_full_gaps(x.toarray(), y, w, lams, 1.0) <= 1e-10)


def test_working_set_and_slots_grow_to_the_same_path(monkeypatch):
    """From 32 working-set slots (16 active ones) the slots double on the way, each program resuming at the λ that
    outgrew them; with the strong rule off and one feature at a time allowed in, λ need several solves, each after
    the features the last one left violating entered. The path is the default one."""
    x, y = _wide(rho_corr=0.5, seed=3)
    lams = _grid(x, y)
    want = elastic_net_path(x, y, lams, tol=1e-10)
    monkeypatch.setattr(working_set, "MIN_GROW", 1)
    monkeypatch.setattr(working_set, "STRONG_FLOOR", 1.0)
    data = design_data(x, jnp.asarray(y), gram=False, cpu=True, with_moments=True)
    w, st = working_set.working_set_path(lams, data, l1_ratio=1.0, tol=1e-10, max_iter=100, first_slots=32,
                                         cache=ProgramCache())  # (other constants: programs of their own)
    slots = st["working_set_slots"]
    assert len(slots) >= 3 and slots == sorted(set(slots)) and max(st["rounds"]) >= 2
    assert st["max_gap"] <= 1e-10 and np.all(_full_gaps(x, y, w, lams, 1.0) <= 1e-10)
    np.testing.assert_allclose(w, want, atol=1e-7 * np.abs(want).max())


def test_unsorted_grid_with_a_repeat_is_the_sorted_path():
    x, y = _wide(seed=4)
    lams = _grid(x, y)
    lams[7] = lams[20]  # a repeat
    order = np.random.default_rng(4).permutation(len(lams))
    w, st = elastic_net_path(x, y, lams[order], tol=1e-10, return_stats=True)
    ref = elastic_net_path(x, y, lams, tol=1e-10)
    assert st["converged"] and np.all(ref[0] == 0)
    np.testing.assert_array_equal(ref[7], ref[20])
    np.testing.assert_allclose(w, ref[order], atol=1e-9 * np.abs(ref).max())


def test_float32_certifies_what_it_can_and_flags_what_it_cannot():
    x, y = _wide(seed=5)
    lams = _grid(x, y, 20, 1.0, 1e-2)
    w64 = elastic_net_path(x, y, lams, tol=1e-10)
    with jax.enable_x64(False):
        x32, y32 = x.astype(np.float32), y.astype(np.float32)
        w32, st = elastic_net_path(x32, y32, lams, tol=1e-3, return_stats=True)
        assert w32.dtype == np.float32 and st["converged"] and st["max_gap"] <= 1e-3
        with pytest.warns(RuntimeWarning, match="below the smallest relative duality gap float32"):
            _, st_tight = elastic_net_path(x32, y32, lams, tol=1e-9, return_stats=True)
    assert not st_tight["converged"] and max(st_tight["iterations"]) < 100  # (stops at float32's floor)
    np.testing.assert_allclose(w32, w64, atol=2e-3 * np.abs(w64).max())


def test_the_option_and_the_choice():
    with pytest.raises(ValueError, match="working_set must be True or False, or None"):
        ActiveSet(working_set="yes")
    x, y = _wide(n=200, d=30, seed=6)  # n > d: the Gram layout, which ignores working sets
    _, st = elastic_net_path(x, y, _grid(x, y, 5), solver=ActiveSet(tol=1e-8, working_set=True), return_stats=True)
    assert "rounds" not in st and st["converged"]


def test_maintained_inverse_is_the_inverse_after_downdates_and_borders():
    """B after random coordinates left and entered equals (H_PP + εI)⁻¹ on its slots (ε = 1e-13); the Newton solve
    from it equals a direct solve."""
    rng = np.random.default_rng(7)
    n, d, p = 60, 40, 16
    xs = rng.standard_normal((n, d))
    gram = jnp.asarray(xs.T @ xs / n)
    ctx = SimpleNamespace(capacity=p, d=d, rank=d, data={"gram": gram}, dtype=jnp.float64, sizes=(p,),
                          cg_tol=1e-2 * np.sqrt(np.finfo(np.float64).eps))
    @jax.jit
    def solve(idx, on, b, state):
        g = gram[idx[:, None], idx[None, :]]
        hess = SimpleNamespace(block_of=lambda q: g[:q, :q],
                               hmul=lambda v, on: jnp.where(on, g @ jnp.where(on, v, 0), 0))
        system = SimpleNamespace(a2=jnp.asarray(0.0), ridge=jnp.asarray(1e-13), hess=hess,
                                 slots=SimpleNamespace(idx=idx, block=jnp.asarray(0)))
        return _inverse.inverse_newton(ctx, system, on, b, None, state)

    state = _inverse.empty_inverse(p, np.float64)
    for _ in range(6):
        k = int(rng.integers(3, p))
        idx = np.sort(rng.choice(d, p, replace=False))
        on = jnp.arange(p) < k
        b = jnp.where(on, jnp.asarray(rng.standard_normal(p)), 0)
        u, state = solve(jnp.asarray(idx), on, b, state)
        g = np.asarray(gram)[np.ix_(idx, idx)]
        np.testing.assert_allclose(np.asarray(u)[:k], np.linalg.solve(g[:k, :k], np.asarray(b)[:k]), atol=1e-9)
        coord = np.asarray(state.coord)
        used = coord >= 0
        assert sorted(coord[used]) == sorted(idx[:k]) and bool(state.ok)
        inv = np.asarray(state.inv)[np.ix_(used, used)]
        np.testing.assert_allclose(inv @ np.asarray(gram)[np.ix_(coord[used], coord[used])], np.eye(k), atol=1e-9)


def test_programs_are_reused_for_another_y():
    x, y = _wide(seed=8)
    lams = _grid(x, y)
    from jaxreg.solvers._active_set import PROGRAMS

    _, st = elastic_net_path(x, y, lams, tol=1e-9, return_stats=True)
    programs = set(PROGRAMS._programs)
    _, st = elastic_net_path(x, y[::-1].copy(), lams, tol=1e-9, return_stats=True)
    assert set(PROGRAMS._programs) == programs and st["converged"]  # no new program: nothing compiled

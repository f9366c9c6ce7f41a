"""The active-set Newton path solver (jaxreg.solvers.ActiveSet): closed forms, KKT, sklearn, its guards; the BLAS
thread limits and the row-block Gram matrix (jaxreg.solvers._blas); the device choice."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, Lasso

import jaxreg
from jaxreg.solvers import (
    ActiveSet,
    FixedSteps,
    _active_set as active_set,
    elastic_net_path,
    least_squares_objective,
    relative_duality_gap,
)
from jaxreg.solvers._active_set import ProgramCache, active_set_path
from jaxreg.solvers._paths import solve_path


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _centred(x, y):
    return x - x.mean(0), y - y.mean()


def _kkt_violation(x, y, w, lam, rho):
    """max over j of the subgradient residual of jaxreg's objective (0 at the optimum)."""
    n = len(y)
    a1, a2 = lam * rho, 2 * lam * (1 - rho)
    g = x.T @ (y - x @ w) / n - a2 * w  # −∇ of the smooth part
    on = w != 0
    res = np.where(on, np.abs(g - a1 * np.sign(w)), np.maximum(np.abs(g) - a1, 0))
    return float(res.max())


def test_orthogonal_design_is_soft_thresholding():
    """XᵀX/n = I: w = S_{λρ}(Xᵀy/n) / (1 + 2λ(1 − ρ)), exactly, for every λ of the grid."""
    rng = np.random.default_rng(0)
    n, d = 64, 12
    q, _ = np.linalg.qr(rng.standard_normal((n, d)))
    x = q * np.sqrt(n)
    y = x @ rng.standard_normal(d) + rng.standard_normal(n)
    b = x.T @ y / n
    lams = np.geomspace(np.abs(b).max(), 1e-3 * np.abs(b).max(), 15)
    for rho in (1.0, 0.5):
        w = elastic_net_path(x, y, lams, l1_ratio=rho, solver=ActiveSet(tol=1e-12))
        expected = np.sign(b) * np.maximum(np.abs(b) - lams[:, None] * rho, 0) / (1 + 2 * lams[:, None] * (1 - rho))
        np.testing.assert_allclose(w, expected, atol=1e-12)
        assert np.all((w == 0) == (expected == 0))  # exact zeros, not small numbers


@pytest.mark.parametrize("rho, gram", [(1.0, None), (0.5, None), (1.0, False)])
def test_path_meets_kkt_and_gap_on_correlated_data(rho, gram):
    """Toeplitz ρ = 0.9 design (the hard case for first-order methods), n > d: every λ at its gap and KKT."""
    rng = np.random.default_rng(1)
    n, d = 200, 60
    z = rng.standard_normal((n, d))
    x = np.empty_like(z)
    x[:, 0] = z[:, 0]
    for j in range(1, d):
        x[:, j] = 0.9 * x[:, j - 1] + np.sqrt(1 - 0.81) * z[:, j]
    y = x[:, ::6] @ np.linspace(-2, 2, 10) + 0.5 * rng.standard_normal(n)
    x, y = _centred(x, y)
    lam_max = np.abs(x.T @ y).max() / (n * rho)
    lams = np.geomspace(lam_max, 1e-3 * lam_max, 30)
    if gram is None:
        w, st = elastic_net_path(x, y, lams, l1_ratio=rho, tol=1e-10, return_stats=True)
    else:  # the data layout although n > d (elastic_net_path's ActiveSet takes the Gram matrix there)
        w, st = solve_path(x, y, lams, ActiveSet(tol=1e-10), l1_ratio=rho, return_stats=True, gram=gram)
    assert st["solver"] == "active_set" and st["converged"] and st["max_gap"] <= 1e-10
    assert max(st["iterations"]) <= 10  # exact Newton steps: a handful per λ, not thousands
    assert np.all(w[0] == 0)  # λ_max: all zero
    for i, lam in enumerate(lams):
        assert float(relative_duality_gap(jnp.asarray(w[i]), lam, rho, x=x, y=y)) <= 1e-9
        assert _kkt_violation(x, y, w[i], lam, rho) <= 1e-7 * lam


def test_wide_design_matches_sklearn_and_stays_within_the_rank():
    """n ≪ d (data, not Gram, and H_AA singular beyond rank X = n − 1 after centring)."""
    rng = np.random.default_rng(2)
    n, d = 30, 400
    x = rng.standard_normal((n, d))
    y = x[:, :4] @ np.array([3.0, -2.0, 1.5, 1.0]) + 0.1 * rng.standard_normal(n)
    x, y = _centred(x, y)
    alpha_max = np.abs(x.T @ y).max() / n
    alphas = np.geomspace(alpha_max, 1e-3 * alpha_max, 40)
    lam, _ = jaxreg.from_sklearn_elastic_net(alphas, 1.0)
    w, st = elastic_net_path(x, y, lam, solver=ActiveSet(tol=1e-9, max_iter=500), return_stats=True)
    assert st["solver"] == "active_set" and st["converged"]
    assert (w != 0).sum(1).max() <= n - 1
    for i in (5, 20, 39):
        sk = Lasso(alpha=alphas[i], fit_intercept=False, tol=1e-12, max_iter=500000).fit(x, y).coef_
        f = lambda v: float(least_squares_objective(x, y, v, lam[i], 1.0))  # noqa: B023
        assert f(w[i]) <= f(sk) + 1e-9 * abs(f(sk))


def test_wide_elastic_net_uses_the_woodbury_solve_and_matches_sklearn():
    """n < slots with a2 > 0: Newton systems solved in n (Woodbury); supports may exceed n."""
    rng = np.random.default_rng(3)
    n, d = 20, 300
    x = rng.standard_normal((n, d))
    y = x[:, :3] @ np.array([2.0, -1.0, 1.0]) + 0.1 * rng.standard_normal(n)
    x, y = _centred(x, y)
    alpha_max = np.abs(x.T @ y).max() / (n * 0.5)
    alphas = np.geomspace(alpha_max, 1e-3 * alpha_max, 30)
    lam, rho = jaxreg.from_sklearn_elastic_net(alphas, 0.5)
    rho = float(np.ravel(rho)[0])
    w, st = elastic_net_path(x, y, lam, l1_ratio=rho, solver=ActiveSet(tol=1e-9, working_set=False),
                             return_stats=True)  # (all features: the working sets solve in the Gram layout)
    assert st["converged"] and max(st["capacities"]) > n and (w != 0).sum(1).max() > n
    for i in (10, 29):
        assert _kkt_violation(x, y, w[i], lam[i], rho) <= 1e-6 * lam[i]
        sk = ElasticNet(alpha=alphas[i], l1_ratio=0.5, fit_intercept=False, tol=1e-12, max_iter=500000)
        sk = sk.fit(x, y).coef_
        f = lambda v: float(least_squares_objective(x, y, v, lam[i], rho))  # noqa: B023
        assert f(w[i]) <= f(sk) + 1e-9 * abs(f(sk))


def test_capacity_doubling_gives_the_same_path_and_programs_are_reused():
    x, y = load_diabetes(return_X_y=True)
    x, y = _centred(x, y)
    n = len(y)
    data = {"gram": jnp.asarray(x.T @ x / n), "xty": jnp.asarray(x.T @ y / n), "yy": jnp.asarray(y @ y / n)}
    lams = np.geomspace(np.abs(x.T @ y).max() / n, 1e-4, 25)
    small, st = active_set_path(lams, data, l1_ratio=1.0, tol=1e-12, max_iter=100, capacity=2)
    assert st["capacities"] == [2, 4, 8, 10]  # doubled each time the active set outgrew its slots, at most d
    full, st_full = active_set_path(lams, data, l1_ratio=1.0, tol=1e-12, max_iter=100, capacity=64)
    assert st_full["capacities"] == [10]
    np.testing.assert_allclose(small, full, rtol=1e-9, atol=1e-9)
    _, again = active_set_path(lams, data, l1_ratio=0.5, tol=1e-12, max_iter=100, capacity=2)
    assert again["compile_s"] < 0.5 * st["compile_s"]  # same shapes: the compiled programs are kept


def test_first_guess_extrapolated_along_the_path_saves_newton_iterations(monkeypatch):
    """Gaussian design whose support grows to most coordinates over 100 λ: each λ's first support guess, taken
    at the point extrapolated from the last two λ (the path is piecewise linear), foresees the coordinates that
    enter, so nearly every λ needs one iteration (without the extrapolation: 111 and 123 iterations here). The
    slope is carried over the capacity doublings (64 → 128 → 150 slots); every λ stays KKT-exact."""
    rng = np.random.default_rng(0)
    n, d = 600, 150
    x = rng.standard_normal((n, d))
    w_true = np.zeros(d)
    w_true[rng.choice(d, d // 20, replace=False)] = rng.standard_normal(d // 20)
    x, y = _centred(x, x @ w_true + 0.5 * rng.standard_normal(n))
    lam_max = np.abs(x.T @ y).max() / n
    lams = np.geomspace(lam_max, 1e-3 * lam_max, 100)
    monkeypatch.setattr(active_set, "FULL_SLOTS_UP_TO", 0)  # (from 64 slots: d = 150 would start with all)
    for rho in (1.0, 0.5):
        w, st = elastic_net_path(x, y, lams, l1_ratio=rho, tol=1e-7, return_stats=True)
        assert st["converged"] and st["capacities"] == [64, 128, 150] and (w[-1] != 0).sum() > 128
        assert sum(st["iterations"]) <= 107, sum(st["iterations"])
        for i in (30, 70, 99):
            assert _kkt_violation(x, y, w[i], lams[i], rho) <= 1e-6 * lams[i]


def test_unknown_compiler_options_fall_back_to_the_defaults():
    x, y = load_diabetes(return_X_y=True)
    x, y = _centred(x, y)
    n = len(y)
    data = {"gram": jnp.asarray(x.T @ x / n), "xty": jnp.asarray(x.T @ y / n), "yy": jnp.asarray(y @ y / n)}
    lams = np.geomspace(np.abs(x.T @ y).max() / n, 1e-3, 10)
    tuned, _ = active_set_path(lams, data, l1_ratio=1.0, tol=1e-12, max_iter=100)
    cache = ProgramCache(cpu_compiler_options={"xla_cpu_no_such_option": True})  # a future XLA
    plain, _ = active_set_path(lams, data, l1_ratio=1.0, tol=1e-12, max_iter=100, cache=cache)
    assert len(cache) == 2  # (the step constant's program and the path's, compiled with XLA's defaults)
    np.testing.assert_allclose(plain, tuned, rtol=1e-9, atol=1e-12)


def test_degenerate_columns_unsorted_grid_and_float32():
    x, y = load_diabetes(return_X_y=True)
    x, y = _centred(x, y)
    x = np.column_stack([x, x[:, 2], np.zeros(len(y))])  # a duplicated column (singular Gram) and a zero one
    lams = np.array([0.01, 1.0, 0.1, 10.0, 0.1])  # unsorted, with a repeat
    w, st = elastic_net_path(x, y, lams, tol=1e-9, return_stats=True)
    assert st["converged"]
    assert np.all(w[:, -1] == 0)
    np.testing.assert_array_equal(w[2], w[4])
    ref = elastic_net_path(x, y, np.sort(lams)[::-1], tol=1e-9)  # (the same λ order inside: the same steps)
    np.testing.assert_array_equal(w[[3, 1, 2, 0]], ref[[0, 1, 2, 4]])
    with jax.enable_x64(False):
        w32, st32 = elastic_net_path(x.astype(np.float32), y.astype(np.float32), lams, tol=1e-3, return_stats=True)
    assert w32.dtype == np.float32 and st32["converged"]
    for i, lam in enumerate(lams):  # (the split between duplicated columns is not unique: compare objectives)
        f = lambda v: float(least_squares_objective(x, y, v.astype(np.float64), lam, 1.0))  # noqa: B023
        assert f(w32[i]) <= f(w[i]) * (1 + 1e-3)


def test_float32_path_is_accurate_and_stops_at_its_floor():
    """float32 cannot reach tol=1e-9: each λ stops where its iterate stops moving (not after `steps`), and the
    coefficients still match float64's to float32 accuracy (objectives compared as steps, not differences)."""
    x, y = load_diabetes(return_X_y=True)
    x, y = _centred(x, y)
    lams = np.geomspace(np.abs(x.T @ y).max() / len(y), 1e-2, 20)
    w64 = elastic_net_path(x, y, lams, tol=1e-9)
    with jax.enable_x64(False):
        with pytest.warns(RuntimeWarning, match="relative duality gap"):
            w32, st = elastic_net_path(x.astype(np.float32), y.astype(np.float32), lams, tol=1e-9, return_stats=True)
    assert max(st["iterations"]) < 20  # not max_iter=2000 per λ
    np.testing.assert_allclose(w32, w64, atol=1e-4 * np.abs(w64).max())


def test_it_warns_when_it_stops_before_tol():
    x, y = load_diabetes(return_X_y=True)
    x, y = _centred(x, y)
    with pytest.warns(RuntimeWarning, match="relative duality gap") as caught:
        _, st = elastic_net_path(x, y, [10.0, 0.01], solver=ActiveSet(tol=1e-12, max_iter=1), return_stats=True)
    assert not st["converged"] and st["iterations"][1] == 1
    assert caught[0].filename == __file__  # the warning points at the caller's line, not into jaxreg


def _blas_threads_or_skip():
    """A function returning the BLAS libraries' thread counts (threadpoolctl); skips without a controllable BLAS."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]

    if not blas_threads():
        pytest.skip("no BLAS library that threadpoolctl controls")
    return blas_threads


def test_gram_matrix_by_row_blocks_on_one_blas_thread_each(monkeypatch):
    """_blas.row_block_gram: XᵀX as a sum over row blocks (one per core, a Python thread each, BLAS held to one thread
    there) equals one product to rounding, for uneven blocks too; BLAS threads are restored afterwards; with a BLAS
    that cannot be limited it is one product."""
    from jaxreg.solvers import _blas as blas

    blas_threads = _blas_threads_or_skip()
    before = blas_threads()
    x = np.random.default_rng(0).standard_normal((1001, 37))
    want = x.T @ x
    monkeypatch.setattr(blas, "GRAM_BLOCKS_FROM", 1.0)
    monkeypatch.setattr(blas.os, "sched_getaffinity", lambda _: set(range(3)), raising=False)
    calls, inside = [], []
    real_pool = blas.gram_pool

    class Spy:  # the pool, recording the BLAS threads each block's product runs with
        def __init__(self, workers):
            calls.append(workers)
            self.pool = real_pool(workers)

        def map(self, fn, items):
            return self.pool.map(lambda item: inside.append(blas_threads()) or fn(item), items)

    monkeypatch.setattr(blas, "gram_pool", Spy)
    np.testing.assert_allclose(blas.row_block_gram(x), want, rtol=1e-12, atol=1e-10)
    assert calls == [3] and len(inside) == 3  # three row blocks of 333-334 rows, on three threads
    assert all(t == 1 for threads in inside for t in threads)
    assert blas_threads() == before
    monkeypatch.setattr(blas, "blas_limitable", lambda: False)  # BLAS threads not controllable: one product
    np.testing.assert_allclose(blas.row_block_gram(x), want, rtol=1e-12, atol=1e-10)
    assert calls == [3]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_gram_matrix_in_a_forked_child_does_not_hang(monkeypatch):
    """A forked child inherits the parent's thread pool object but not its threads: the pool is made anew there."""
    import os
    import time
    import warnings

    from jaxreg.solvers import _blas as blas

    monkeypatch.setattr(blas, "GRAM_BLOCKS_FROM", 1.0)
    monkeypatch.setattr(blas.os, "sched_getaffinity", lambda _: set(range(2)), raising=False)
    monkeypatch.setattr(blas, "blas_limitable", lambda: True)
    x = np.random.default_rng(1).standard_normal((300, 20))
    for _ in range(3):  # the parent's pool exists now, both threads started
        blas.row_block_gram(x)
    time.sleep(0.3)  # ... and idle: a child that reused the pool would queue its blocks for threads it lacks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (fork of a multi-threaded process)
        pid = os.fork()
    if pid == 0:  # child: exit 0 only if the blocked Gram matrix comes back right
        try:
            os._exit(0 if np.allclose(blas.row_block_gram(x), x.T @ x) else 1)
        finally:
            os._exit(2)
    deadline = time.time() + 20
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's Gram matrix hung")


def test_blas_on_one_thread_for_small_products_and_the_solve(monkeypatch):
    """OpenBLAS's idle workers spin and take the cores from XLA: small NumPy products and the CPU solve run with one
    BLAS thread (restored afterwards); large products keep every thread; without threadpoolctl nothing changes."""
    from jaxreg.solvers import _blas as blas

    blas_threads = _blas_threads_or_skip()
    before = blas_threads()
    with blas.one_blas_thread(2000 * 500 * 500 / 2):
        assert blas_threads() and all(t == 1 for t in blas_threads())
    assert blas_threads() == before
    with blas.one_blas_thread(20000 * 2000 * 2000 / 2):
        assert blas_threads() == before
    x, y = load_diabetes(return_X_y=True)
    x, y = _centred(x, y)
    lams = np.geomspace(np.abs(x.T @ y).max() / len(y), 1e-2, 10)
    w = elastic_net_path(x, y, lams, tol=1e-10)
    assert blas_threads() == before
    monkeypatch.setattr(blas, "blas_controller", lambda: None)
    np.testing.assert_allclose(elastic_net_path(x, y, lams, tol=1e-10), w, rtol=1e-9, atol=1e-12)  # (BLAS order)


def test_device_choice_same_path_and_auto_puts_small_paths_on_the_cpu(monkeypatch):
    x, y = _centred(*load_diabetes(return_X_y=True))
    lam = np.geomspace(1.0, 1e-3, 8)
    cpu = jax.devices("cpu")[0]
    ref, st = elastic_net_path(x, y, lam, tol=1e-10, return_stats=True)
    assert st["device"].startswith("cpu: ")  # where it ran (jaxreg.engine._devices.device_description)
    for device in ("cpu", cpu):  # a platform name, a device; x as a JAX array committed to the device
        np.testing.assert_array_equal(elastic_net_path(jax.device_put(x, cpu), y, lam, tol=1e-10, device=device), ref)
    sweep_ref = elastic_net_path(x, y, lam[:2], solver=FixedSteps(steps=50))  # the sweep on the chosen devices
    np.testing.assert_allclose(elastic_net_path(x, y, lam[:2], solver=FixedSteps(steps=50), device=cpu), sweep_ref,
                               rtol=1e-12)

    # "auto" with an accelerator as the default device: small tol-mode paths on the CPU, the rest where JAX puts them
    class Accelerator:
        platform = "gpu"

    gpu = Accelerator()
    monkeypatch.setattr(jax, "local_devices", lambda backend=None: [cpu] if backend == "cpu" else [gpu])
    small, large = 442 * 10, 20000 * 2000
    assert jaxreg.solvers.path_device("auto", small, 1e-6) is cpu
    assert jaxreg.solvers.path_device("auto", jaxreg.solvers.AUTO_CPU_MAX_ENTRIES, 1e-6) is cpu
    assert jaxreg.solvers.path_device("auto", large, 1e-6) is gpu
    assert jaxreg.solvers.path_device("auto", small, None) is gpu  # FixedSteps: a vmapped sweep, the accelerator's
    assert jaxreg.solvers.path_device("gpu", small, 1e-6) is gpu

    def no_cpu_backend(backend=None):  # JAX_PLATFORMS=cuda: "auto" keeps the accelerator
        if backend == "cpu":
            raise RuntimeError("Unknown backend cpu")
        return [gpu]

    monkeypatch.setattr(jax, "local_devices", no_cpu_backend)
    assert jaxreg.solvers.path_device("auto", small, 1e-6) is gpu
    # a default device the user set (jax.default_device) is "auto"'s starting point; None means "auto"
    monkeypatch.setattr(jax, "local_devices", lambda backend=None: [cpu] if backend == "cpu" else [gpu])
    with jax.default_device(cpu):
        assert jaxreg.solvers.path_device("auto", large, 1e-6) is cpu
    with jax.default_device("cpu"):
        assert jaxreg.solvers.path_device(None, large, None) is cpu
    assert jaxreg.solvers.path_device(None, large, 1e-6) is gpu


def test_device_choice_with_two_cpu_devices():
    """x and y committed to another device than the one asked for; FixedSteps shards over the devices asked for."""
    script = textwrap.dedent(
        """
        import json, jax, numpy as np
        jax.config.update("jax_num_cpu_devices", 2)
        jax.config.update("jax_enable_x64", True)
        from sklearn.datasets import load_diabetes
        from jaxreg.solvers import ActiveSet, Fista, FixedSteps, elastic_net_path
        x, y = load_diabetes(return_X_y=True)
        x, y = x - x.mean(0), y - y.mean()
        lam = np.geomspace(1.0, 1e-3, 6)
        cpu0, cpu1 = jax.devices()
        ref = elastic_net_path(x, y, lam, tol=1e-10)
        out = {}
        for name, solver in (("active_set", ActiveSet), ("fista", Fista)):
            got = elastic_net_path(jax.device_put(x, cpu0), jax.device_put(y, cpu1), lam, device=cpu1,
                                   solver=solver(tol=1e-10, max_iter=20000))
            out[name] = float(np.abs(got - ref).max() / np.abs(ref).max())  # relative
        for name, device in (("auto", "auto"), ("cpu", "cpu"), ("device", cpu1)):
            _, st = elastic_net_path(x, y, lam, solver=FixedSteps(steps=20), device=device, return_stats=True)
            out[name] = st["n_devices"]
        print(json.dumps(out))
        """
    )
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    env.pop("JAX_NUM_CPU_DEVICES", None)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["active_set"] < 1e-9 and out["fista"] < 1e-6, out
    assert (out["auto"], out["cpu"], out["device"]) == (2, 2, 1), out


@pytest.mark.parametrize("solver", [None, "fixed"])
@pytest.mark.parametrize("where", ["x", "y"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_data_is_a_clear_error(solver, where, bad):
    """NaN or inf in x or y: a ValueError naming it (it gave all-zero coefficients, or LinAlgError)."""
    x, y = load_diabetes(return_X_y=True)
    x, y = _centred(x, y)
    x, y = x.copy(), y.copy()
    (x if where == "x" else y)[3, ...] = bad
    kw = {"solver": jaxreg.FixedSteps(steps=5)} if solver == "fixed" else {"tol": 1e-6}
    with pytest.raises(ValueError, match=f"^{where} has NaN or infinite values"):
        elastic_net_path(x, y, [1.0, 0.1], **kw)


def test_empty_design_and_zero_lambda_are_clear_errors():
    with pytest.raises(ValueError, match="at least one sample and one feature"):
        elastic_net_path(np.zeros((5, 0)), np.zeros(5), [1.0], tol=1e-6)
    x, y = load_diabetes(return_X_y=True)
    x, y = _centred(x, y)
    with pytest.raises(ValueError, match="lambdas must be > 0 for a certified path"):
        elastic_net_path(x, y, [1.0, 0.0], tol=1e-6)
    elastic_net_path(x, y, [1.0, 0.0], solver=jaxreg.FixedSteps(steps=5))  # fixed steps: λ = 0 is plain descent


def test_sparse_design_keeps_the_data_layout_and_its_rank_bound():
    """n ≪ d, scipy.sparse: the solver gets a SparseDesign (products O(nnz), active columns gathered densely);
    the rank bound comes from its stored entries as from the dense array (n, or n − 1 for centred columns);
    the path is the dense data layout's."""
    import scipy.sparse

    from jaxreg.solvers._active_set import _rank_bound
    from jaxreg.solvers._design import design_data
    from jaxreg.solvers._sparse import SparseDesign

    rng = np.random.default_rng(11)
    n, d = 30, 200
    x = scipy.sparse.random(n, d, density=0.2, format="csc", random_state=11, data_rvs=rng.standard_normal)
    y = jnp.asarray(x[:, :3] @ np.array([1.0, -2.0, 1.5]) + 0.1 * rng.standard_normal(n))
    sparse = design_data(x, y, gram=False, cpu=True, with_moments=True)
    dense = design_data(x.toarray(), y, gram=False, cpu=True, with_moments=True)
    assert isinstance(sparse["x"], SparseDesign) and _rank_bound(sparse, d) == _rank_bound(dense, d) == n
    pairs = scipy.sparse.vstack([x[: n // 2], -x[: n // 2]]).tocsc()  # every column sums to 0: rank ≤ n − 1
    assert _rank_bound(design_data(pairs, y, gram=False, cpu=True), d) == n - 1
    lams = np.abs(x.T @ np.asarray(y)).max() / n * np.geomspace(1, 1e-3, 25)
    for rho in (1.0, 0.5):
        w, st = active_set_path(lams, sparse, l1_ratio=rho, tol=1e-8, max_iter=200)
        w_dense, _ = active_set_path(lams, dense, l1_ratio=rho, tol=1e-8, max_iter=200)
        assert st["max_gap"] <= 1e-8
        np.testing.assert_allclose(w, w_dense, rtol=1e-6, atol=1e-9)


def test_support_at_the_rank_can_still_swap_coordinates():
    """Standardised columns (centred: rank X = n − 1) with n ≪ d: at small λ the support sits at the rank and
    coordinates must swap. The guess holds rank + 1 coordinates, so one enters before the other leaves (capped at
    the rank the path stalled at a fixed point, gap 6e-3)."""
    rng = np.random.default_rng(0)
    n, d = 60, 200
    x = rng.standard_normal((n, d))
    x = (x - x.mean(0)) / x.std(0)
    y = x[:, :10] @ rng.standard_normal(10) + 0.5 * rng.standard_normal(n)
    y = y - y.mean()
    lams = np.abs(x.T @ y).max() / n * np.geomspace(1, 1e-3, 20)
    w, st = elastic_net_path(x, y, lams, tol=1e-8, return_stats=True)
    assert st["converged"] and (w != 0).sum(1).max() <= n - 1
    for i in (15, 19):
        assert _kkt_violation(x, y, w[i], lams[i], 1.0) <= 1e-6 * lams[i]

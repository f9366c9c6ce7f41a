"""jaxreg's transforms + converters reach scikit-learn's solutions (float64).

Only jaxreg transforms in optax chains solve these problems (proximal gradient,
accelerated by ``jaxreg.fista``); λ comes from the library's own converters.
The pass mark: relative objective gap to sklearn's solution ≤ 1e-6 (ours may
be lower) and, for L1 problems, the same set of nonzero coefficients.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

import jaxreg
from jaxreg.solvers import ActiveSet, Admm, Fista, FixedSteps, elastic_net_path, least_squares_objective
from jaxreg.solvers._paths import solve_path

FRACTIONS = np.array([0.5, 0.2, 0.05, 0.01, 0.002])  # of α_max: 5 λ each, away from the all-zero kink


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def _diabetes():
    x, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(x), y - y.mean()


def _breast_cancer():
    x, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(x), y.astype(np.float64)


def _check(ours_obj, sk_obj, ours_w=None, sk_w=None):
    gap = (ours_obj - sk_obj) / abs(sk_obj)
    assert gap <= 1e-6, gap
    if ours_w is not None:
        np.testing.assert_array_equal(ours_w != 0, sk_w != 0)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.8, 0.5, 0.2])
def test_lasso_and_elastic_net_on_diabetes(l1_ratio):
    x, y = _diabetes()
    n = len(y)
    alpha_max = np.abs(x.T @ y).max() / (n * l1_ratio)
    alphas = alpha_max * FRACTIONS
    lam, rho = jaxreg.from_sklearn_elastic_net(alphas, l1_ratio)
    rho = float(np.asarray(rho).ravel()[0]) if np.ndim(rho) else float(rho)
    ours = elastic_net_path(x, y, lam, l1_ratio=rho, solver=FixedSteps(steps=3000))
    for i, a in enumerate(alphas):
        model = Lasso(alpha=a) if l1_ratio == 1 else ElasticNet(alpha=a, l1_ratio=l1_ratio)
        sk = model.set_params(fit_intercept=False, tol=1e-14, max_iter=200000).fit(x, y).coef_
        f = lambda w: float(least_squares_objective(x, y, w, lam[i], rho))  # noqa: B023
        _check(f(ours[i]), f(sk), ours[i], sk)


def test_ridge_on_diabetes():
    x, y = _diabetes()
    n = len(y)
    alphas = np.array([0.1, 3.0, 30.0, 300.0, 3000.0])
    lam = jaxreg.from_sklearn_ridge(alphas, loss="half_mse", n_samples=n)
    ours = elastic_net_path(x, y, lam, l1_ratio=0.0, solver=FixedSteps(steps=3000))
    for i, a in enumerate(alphas):
        sk = Ridge(alpha=a, fit_intercept=False, tol=1e-14).fit(x, y).coef_
        f = lambda w: float(least_squares_objective(x, y, w, lam[i], 0.0))  # noqa: B023
        _check(f(ours[i]), f(sk))
        np.testing.assert_allclose(ours[i], sk, rtol=1e-6, atol=1e-8)


def _logistic_solve(x, y, lams, l1_ratio, steps):
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    lr = 4.0 / jaxreg.solvers.lipschitz_least_squares(x)  # L = λmax(XᵀX/n)/4 for the mean log-loss
    loss = lambda w: optax.sigmoid_binary_cross_entropy(xj @ w, yj).mean()  # noqa: E731

    def solve(lam):
        prox = jaxreg.prox_elastic_net(lam, l1_ratio, lr)
        w = jaxreg.fit(loss, jnp.zeros(x.shape[1]), optax.chain(optax.sgd(lr), jaxreg.fista(prox)), steps=steps).params
        last = optax.chain(optax.sgd(lr), prox)
        return optax.apply_updates(w, last.update(jax.grad(loss)(w), last.init(w), w)[0])

    objective = lambda w, lam: float(  # noqa: E731
        loss(w) + lam * (l1_ratio * jnp.sum(jnp.abs(w)) + (1 - l1_ratio) * jnp.sum(w * w))
    )
    return jaxreg.sweep(solve, lams), objective


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_logistic_regression_on_breast_cancer(penalty):
    x, y = _breast_cancer()
    n = len(y)
    cs = np.array([0.01, 0.03, 0.1, 0.3, 1.0])
    sk_ratio = 1.0 if penalty == "l1" else 0.0
    lam, rho = jaxreg.from_sklearn_logistic(cs, l1_ratio=sk_ratio, n_samples=n)
    assert rho == sk_ratio
    ours, objective = _logistic_solve(x, y, lam, rho, steps=20000)
    for i, c in enumerate(cs):
        solver = "liblinear" if penalty == "l1" else "lbfgs"
        sk = LogisticRegression(C=c, l1_ratio=sk_ratio, solver=solver, fit_intercept=False, tol=1e-12,
                                max_iter=100000).fit(x, y).coef_.ravel()
        _check(objective(ours[i], lam[i]), objective(sk, lam[i]), *((ours[i], sk) if penalty == "l1" else ()))


def _numpy_gap(x, y, w, alpha, l1_ratio):
    """(P − D)/P in sklearn's scaling, written independently of jaxreg (augmented-lasso dual)."""
    n = len(y)
    r = y - x @ w
    a1, a2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
    primal = 0.5 * r @ r / n + a1 * np.abs(w).sum() + 0.5 * a2 * w @ w
    s = min(1.0, n * a1 / max(np.abs(x.T @ r - n * a2 * w).max(), 1e-300))
    dual = s * (r @ y) / n - 0.5 * s * s * (r @ r + n * a2 * w @ w) / n
    return (primal - dual) / primal


@pytest.mark.parametrize("data, l1_ratio, gram, solver", [
    ("diabetes", 1.0, None, "auto"), ("diabetes", 0.5, None, "admm"), ("breast_cancer", 1.0, False, "auto"),
    ("wide", 0.8, None, "auto"), ("correlated", 1.0, None, "auto"), ("correlated", 0.5, None, "fista")])
def test_path_to_tolerance_meets_the_gap_and_sklearn(data, l1_ratio, gram, solver):
    rng = np.random.default_rng(0)
    if data == "wide":  # n < d: gradients and gaps from the data, not the Gram matrix
        x = rng.standard_normal((40, 120))
        y = x[:, :5] @ np.ones(5) + 0.1 * rng.standard_normal(40)
        y = y - y.mean()
    elif data == "correlated":  # Toeplitz ρ = 0.8 (AR(1) along the features), d = 120 ≥ 100: ADMM by default
        z = rng.standard_normal((300, 120))
        x = np.empty_like(z)
        x[:, 0] = z[:, 0]
        for j in range(1, 120):
            x[:, j] = 0.8 * x[:, j - 1] + 0.6 * z[:, j]
        y = x[:, ::12] @ np.linspace(-2, 2, 10) + 0.5 * rng.standard_normal(300)
        y = y - y.mean()
    else:
        x, y = _diabetes() if data == "diabetes" else _breast_cancer()
        y = y - y.mean()
    n = len(y)
    alpha_max = np.abs(x.T @ y).max() / (n * l1_ratio)
    alphas = np.geomspace(alpha_max, 1e-2 * alpha_max, 23)[::-1]  # unsorted on purpose: small first
    lam, rho = jaxreg.from_sklearn_elastic_net(alphas, l1_ratio)
    rho = float(np.ravel(rho)[0])
    options = {"auto": ActiveSet, "admm": Admm, "fista": Fista}[solver]  # ("auto" with an l1 term: ActiveSet)
    options = options(tol=1e-8, max_iter=50000, **({} if options is ActiveSet else {"block": 5}))
    if solver == "auto" and gram is None:
        assert jaxreg.solvers._paths.auto_solver(1e-8, rho, *x.shape) == ActiveSet(tol=1e-8)
    if gram is None:
        ours, stats = elastic_net_path(x, y, lam, l1_ratio=rho, solver=options, return_stats=True)
    else:  # the data layout although n > d, which elastic_net_path's ActiveSet does not take
        ours, stats = solve_path(x, y, lam, options, l1_ratio=rho, return_stats=True, gram=gram)
    if solver in ("fista", "admm"):
        assert stats["n_blocks"] == 5 and len(stats["iterations"]) == 5
    else:  # "auto" with an l1 term: the active-set solver, iterations per λ
        assert len(stats["iterations"]) == 23 and stats["capacities"][0] <= x.shape[1]
    assert stats["max_gap"] <= 1e-8
    for i, a in enumerate(alphas):
        assert _numpy_gap(x, y, ours[i], a, l1_ratio) <= 1e-8
        jr_gap = float(jaxreg.solvers.relative_duality_gap(jnp.asarray(ours[i]), lam[i], rho, x=x, y=y))
        np.testing.assert_allclose(jr_gap, _numpy_gap(x, y, ours[i], a, l1_ratio), rtol=1e-3, atol=1e-12)
        if i % 6 == 0:
            model = Lasso(alpha=a) if l1_ratio == 1 else ElasticNet(alpha=a, l1_ratio=l1_ratio)
            sk = model.set_params(fit_intercept=False, tol=1e-14, max_iter=200000).fit(x, y).coef_
            f = lambda w: float(least_squares_objective(x, y, w, lam[i], rho))  # noqa: B023
            _check(f(ours[i]), f(sk))


def test_gram_duality_gap_equals_the_data_one():
    x, y = _diabetes()
    w = np.linspace(-5, 5, x.shape[1])
    n = len(y)
    a = jaxreg.solvers.relative_duality_gap(w, 0.3, 0.7, x=x, y=y)
    b = jaxreg.solvers.relative_duality_gap(w, 0.3, 0.7, gram=x.T @ x / n, xty=x.T @ y / n, yy=y @ y / n)
    np.testing.assert_allclose(a, b, rtol=1e-10)
    lam, rho = 0.3, 0.7  # jaxreg λ, ρ → sklearn α, l1_ratio via the converter
    alpha, l1 = jaxreg.to_sklearn_elastic_net(lam, rho)
    np.testing.assert_allclose(a, _numpy_gap(x, y, w, float(np.ravel(alpha)[0]), float(np.ravel(l1)[0])),
                               rtol=1e-10)


@pytest.mark.parametrize("kw, match", [({"tol": 0.0}, "tol must be a positive float"),
                                       ({"tol": "1e-6"}, "tol must be a positive float"),
                                       ({"tol": True}, "tol must be a positive float"),
                                       ({"solver": "cd"}, r"solver must be 'auto' or one of jaxreg.solvers.ActiveSet"),
                                       ({"tol": 1e-6, "solver": "active_set"}, "solver must be 'auto' or one of"),
                                       ({"tol": 1e-6, "solver": ActiveSet()},
                                        r"either tol= or a solver object, not both: got tol=1e-06 and "
                                        r"solver=ActiveSet\(.*solver=ActiveSet\(tol=1e-06\)"),
                                       ({"solver": ActiveSet(), "l1_ratio": np.array([0.5, 1.0])},
                                        "ActiveSet needs one float l1_ratio"),
                                       ({"tol": 1e-6, "device": "nosuch"}, "device='nosuch': this JAX has no such"),
                                       ({"tol": 1e-6, "device": 0}, "device must be 'auto', a platform name"),
                                       ({"tol": 1e-6, "device": ""}, "device must be 'auto', a platform name")])
def test_path_bad_arguments(kw, match):
    x, y = _diabetes()
    with pytest.raises(ValueError, match=match):
        elastic_net_path(x, y, [0.1, 0.01], **kw)


@pytest.mark.parametrize("make, match", [
    (lambda: ActiveSet(tol=0.0), r"ActiveSet: tol must be a positive float \(a relative duality gap\), got 0.0"),
    (lambda: ActiveSet(max_iter=1.5), "ActiveSet: max_iter must be a positive int"),
    (lambda: Fista(block=0), "Fista: block must be a positive int"),
    (lambda: Fista(tol=True), "Fista: tol must be a positive float"),
    (lambda: Fista(accelerate=1), "Fista: accelerate must be True or False"),
    (lambda: Fista(gram="yes"), "Fista: gram must be True or False, or None"),
    (lambda: Admm(check_every=2.5), "Admm: check_every must be a positive int"),
    (lambda: Admm(max_iter=0), "Admm: max_iter must be a positive int"),
    (lambda: FixedSteps(steps=-1), "FixedSteps: steps must be a positive int"),
    (lambda: FixedSteps(chunk_size=0), "FixedSteps: chunk_size must be a positive int or None")])
def test_solver_options_are_validated_and_name_the_field(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_solver_options_are_frozen_values_and_auto_picks_them():
    """The option objects are frozen, compare by value and keep NumPy scalars as Python numbers; "auto" picks
    ActiveSet with an l1 term, ADMM for ridge with the Gram matrix and d ≥ 100, else FISTA; FixedSteps without tol."""
    import dataclasses

    opts = Fista(tol=np.float32(1e-3), max_iter=np.int64(500), gram=np.bool_(True))
    assert opts == Fista(tol=float(np.float32(1e-3)), max_iter=500, gram=True) and type(opts.max_iter) is int
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.tol = 1e-6
    assert dataclasses.replace(opts, block=5).block == 5
    auto = jaxreg.solvers._paths.auto_solver
    assert auto(None, 1.0, 100, 10) == FixedSteps()
    assert auto(1e-6, 0.5, 100, 10) == ActiveSet(tol=1e-6)
    assert auto(1e-6, 0.0, 1000, 100) == Admm(tol=1e-6)
    assert auto(1e-6, 0.0, 1000, 99) == Fista(tol=1e-6)
    assert auto(1e-6, 0.0, 100, 100) == Fista(tol=1e-6)  # (no Gram matrix for n ≤ d)
    x, y = _diabetes()
    w, st = elastic_net_path(x, y, [1.0, 0.1], l1_ratio=0.0, tol=1e-8, return_stats=True)
    assert st["solver"] == "fista" and st["converged"]  # d = 10 < 100
    np.testing.assert_array_equal(w, elastic_net_path(x, y, [1.0, 0.1], l1_ratio=0.0, solver=Fista(tol=1e-8)))


def test_path_to_tolerance_ridge_mixed_dtypes_and_short_grids():
    x, y = _diabetes()
    n = len(y)
    # ridge (l1_ratio = 0): the gap uses the residual as dual point, so tol mode converges
    alphas = np.array([0.1, 3.0, 30.0])
    lam = jaxreg.from_sklearn_ridge(alphas, loss="half_mse", n_samples=n)
    ours, st = elastic_net_path(x, y, lam, l1_ratio=0.0, solver=Fista(tol=1e-10, max_iter=20000), return_stats=True)
    assert st["converged"] and st["max_gap"] <= 1e-10 and st["block"] == 3  # 3 λ: one block of 3, no padding
    for i, a in enumerate(alphas):
        sk = Ridge(alpha=a, fit_intercept=False, tol=1e-14).fit(x, y).coef_
        f = lambda w: float(least_squares_objective(x, y, w, lam[i], 0.0))  # noqa: B023
        _check(f(ours[i]), f(sk))
        np.testing.assert_allclose(ours[i], sk, rtol=1e-3)  # a 1e-10 gap on this ill-conditioned design
    # float32 x with float64 y: one float64 problem for either solver
    lam = np.array([5.0, 1.0, 0.2])
    a = elastic_net_path(x.astype(np.float32), y, lam, solver=Admm(tol=1e-9))
    b = elastic_net_path(x, y, lam, solver=Fista(tol=1e-9, max_iter=100000))
    assert a.dtype == np.float64
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6)


def test_path_warns_when_it_stops_before_tol():
    x, y = _diabetes()
    with pytest.warns(RuntimeWarning, match="relative duality gap"):
        _, st = elastic_net_path(x, y, [1.0, 0.1], solver=Fista(tol=1e-12, max_iter=1), return_stats=True)
    assert not st["converged"] and st["max_gap"] > 1e-12


@pytest.mark.parametrize("solver", [ActiveSet, Fista])
def test_float32_tol_below_its_resolution_is_never_converged(solver):
    """A float32 gap can round to exactly 0 (it did on one CPU and not on another): a tol finer than float32
    certifies is warned about and never reported as converged, whatever the computed gap."""
    x, y = _diabetes()
    assert jaxreg.solvers.certifiable_tol(np.float32) > 1e-5 > jaxreg.solvers.certifiable_tol(np.float64)
    with jax.enable_x64(False):
        with pytest.warns(RuntimeWarning, match="below the smallest relative duality gap float32 can certify"):
            _, st = elastic_net_path(x.astype(np.float32), y.astype(np.float32), [1.0, 0.1],
                                     solver=solver(tol=1e-12, max_iter=50), return_stats=True)
    assert not st["converged"] and st["certifiable_tol"] > 1e-12
    with pytest.raises(ValueError, match="either x and y, or gram, xty and yy"):
        jaxreg.solvers.relative_duality_gap(np.zeros(3), 0.1, 1.0, x=np.ones((4, 3)))
    elastic_net_path(x, y, [1.0, 0.1], solver=ActiveSet(tol=np.float32(1e-3), max_iter=np.int64(500)))  # NumPy
    elastic_net_path(x, y, [1.0, 0.1], tol=np.float32(1e-3))  # scalars are fine

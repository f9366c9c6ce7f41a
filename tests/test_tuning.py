"""Hypergradient tuning (jaxreg.tuning): hypergradients against finite differences in float64, the descent against
closed-form optima, multi-start = separate runs, the sign-step check and its directions, the result object (aux,
cost), K-fold implicit tuning and the log-λ penalty."""

import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxreg
from jaxreg.tuning import (
    TuneResult,
    check_hypergradient,
    lasso_hypergradient,
    solve_weighted_elastic_net,
    starts_from_sweep,
    tune_hyperparams,
    tune_weighted_lasso,
)
from jaxreg.tuning._check import directions_matrix

RNG = np.random.default_rng(0)


def _regression(n=60, d=6, dense=True, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.uniform(1.0, 2.0, d) * rng.choice([-1, 1], d) if dense else np.r_[2.0, -1.0, 0.5, 1.5, np.zeros(d - 4)]
    x, xv = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    return x, x @ w + 0.5 * rng.normal(size=n), xv, xv @ w + 0.5 * rng.normal(size=n)


def _linear_objective(transform, *, steps=60, lr=0.1, w0=None, dense=True, n=60, d=6):
    """λ -> validation MSE of a linear regression trained by ``fit`` with ``transform(λ)`` in the chain."""
    x, y, xv, yv = (jnp.asarray(a) for a in _regression(n=n, d=d, dense=dense))

    def objective(lam):
        start = jnp.zeros(x.shape[1], x.dtype) if w0 is None else jnp.asarray(w0, x.dtype)
        out = jaxreg.fit(lambda w: 0.5 * jnp.mean((x @ w - y) ** 2), start, transform(lam, lr), steps=steps)
        return jnp.mean((xv @ out.params - yv) ** 2)
    return objective


def _fd(f, log_lam, eps):
    return (f(log_lam + eps) - f(log_lam - eps)) / (2 * eps)


TRANSFORMS = {
    "add_l2_decay": lambda lam, lr: optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(lr)),
    # the sign part is smooth while no weight crosses zero: start every weight on its final side
    "add_elastic_net": lambda lam, lr: optax.chain(jaxreg.add_elastic_net(lam, 0.5), optax.sgd(lr)),
    "prox_l1": lambda lam, lr: optax.chain(optax.sgd(lr), jaxreg.prox_l1(lam, lr)),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_hypergradient_equals_finite_differences_float64(name):
    with jax.enable_x64(True):
        x, y, _, _ = _regression(dense=name != "prox_l1")
        w0 = np.linalg.lstsq(x, y, rcond=None)[0] if name == "add_elastic_net" else None
        obj = _linear_objective(TRANSFORMS[name], w0=w0, dense=name != "prox_l1")
        f = jax.jit(lambda t: obj(jnp.exp(t)))
        log_lam = jnp.log(0.05)
        grad = float(jax.jit(jax.grad(f))(log_lam))
        fd = float(_fd(f, log_lam, 1e-6))
        assert abs(grad) > 1e-3  # a hypergradient that says something
        assert grad == pytest.approx(fd, rel=1e-6), (grad, fd)
        if name == "prox_l1":  # some weights are exact zeros (so kinks exist), λ is away from them
            w = jaxreg.fit(lambda w: 0.5 * jnp.mean((jnp.asarray(x) @ w - jnp.asarray(y)) ** 2), jnp.zeros(6),
                           TRANSFORMS[name](0.05, 0.1), steps=60).params
            assert 0 < int(jnp.sum(w == 0)) < 6


def _mlp_objective(remat=False, log_every=None, steps=50, dtype=jnp.float64):
    """Per-layer λ (a dict) of a tiny MLP's L2 decay -> validation MSE."""
    rng = np.random.default_rng(1)
    x, xv = (jnp.asarray(rng.normal(size=(40, 3)), dtype) for _ in range(2))
    y, yv = jnp.sin(x @ jnp.ones(3, dtype)), jnp.sin(xv @ jnp.ones(3, dtype))
    params = {"w1": jnp.asarray(rng.normal(size=(3, 8)) / 2, dtype), "w2": jnp.asarray(rng.normal(size=8) / 3, dtype)}

    def predict(p, a):
        return jnp.tanh(a @ p["w1"]) @ p["w2"]

    def objective(lams):
        opt = optax.chain(jaxreg.add_l2_decay(lams["w1"], mask={"w1": True, "w2": False}),
                          jaxreg.add_l2_decay(lams["w2"], mask={"w1": False, "w2": True}), optax.sgd(0.2))
        out = jaxreg.fit(lambda p: jnp.mean((predict(p, x) - y) ** 2), params, opt, steps=steps,
                         log_every=log_every, remat=remat)
        return jnp.mean((predict(out.params, xv) - yv) ** 2)
    return objective


def test_per_layer_hypergradient_of_an_mlp_equals_finite_differences_and_forward_mode():
    with jax.enable_x64(True):
        obj = _mlp_objective()
        f = jax.jit(lambda t: obj(jax.tree.map(jnp.exp, t)))
        log_lams = {"w1": jnp.log(0.02), "w2": jnp.log(0.05)}
        grad = jax.jit(jax.grad(f))(log_lams)
        fwd = jax.jit(jax.jacfwd(f))(log_lams)
        for k in log_lams:
            up, down = ({**log_lams, k: log_lams[k] + e} for e in (1e-6, -1e-6))
            fd = (f(up) - f(down)) / 2e-6
            assert float(grad[k]) == pytest.approx(float(fd), rel=1e-6)
            assert float(fwd[k]) == pytest.approx(float(grad[k]), rel=1e-10)


def test_fit_remat_keeps_gradients_and_bounds_memory():
    with jax.enable_x64(True):
        plain, remat = _mlp_objective(steps=100), _mlp_objective(remat=True, log_every=10, steps=100)
        lams = {"w1": jnp.float64(0.02), "w2": jnp.float64(0.05)}
        g0, g1 = (jax.jit(jax.value_and_grad(f))(lams) for f in (plain, remat))
        chex_close = lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10)  # noqa: E731
        jax.tree.map(chex_close, g0, g1)
        memory = [jax.jit(jax.grad(f)).lower(lams).compile().memory_analysis() for f in (plain, remat)]
        if all(m is not None for m in memory):  # (a backend without memory analysis reports None)
            assert memory[1].temp_size_in_bytes < memory[0].temp_size_in_bytes / 2


def _ridge():
    """Ridge trained to convergence by ``fit``, and the λ minimising its closed-form validation loss."""
    x, y, xv, yv = _regression(n=40, d=5, seed=3)
    x = x / np.sqrt((x**2).mean(0))
    g, c = x.T @ x / len(y), x.T @ y / len(y)

    def closed(lam):  # argmin (1/2n)‖y − Xw‖² + λ‖w‖²: (G + 2λI) w = c
        w = np.linalg.solve(g + 2 * lam * np.eye(5), c)
        return np.mean((xv @ w - yv) ** 2)

    grid = np.exp(np.linspace(np.log(1e-4), np.log(10.0), 4001))
    lam_star = grid[np.argmin([closed(lam) for lam in grid])]
    xj, yj, xvj, yvj = (jnp.asarray(a) for a in (x, y, xv, yv))

    def objective(lam):
        out = jaxreg.fit(lambda w: 0.5 * jnp.mean((xj @ w - yj) ** 2), jnp.zeros(5), optax.chain(
            jaxreg.add_l2_decay(lam), optax.sgd(0.3)), steps=300)
        return jnp.mean((xvj @ out.params - yvj) ** 2)
    return objective, lam_star, closed


def test_descent_finds_the_closed_form_ridge_optimum():
    with jax.enable_x64(True):
        objective, lam_star, closed = _ridge()
        assert 1e-3 < lam_star < 5.0  # an interior optimum
        res = tune_hyperparams(objective, 1e-3, steps=150, learning_rate=0.1)
        assert isinstance(res, TuneResult) and res.check.ok and not res.stopped.any()
        assert res.best_lams == pytest.approx(lam_star, rel=0.02)
        assert res.best_loss == pytest.approx(closed(lam_star), rel=1e-6)
        assert res.val_loss[0, -1] < res.val_loss[0, 0]
        assert res.grad_norm[0, -1] < 0.05 * res.grad_norm[0, 0]


def test_multi_start_equals_separate_runs_and_a_diverging_start_is_stopped():
    def objective(lam):  # one weight: w(λ) = 2 / (1 + λ); λ > 9 diverges (step factor 1 − 0.2 (1 + λ) < −1)
        opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(0.1))
        w = jaxreg.fit(lambda w: (w - 2.0) ** 2, jnp.zeros(()), opt, steps=60).params
        return (w - 1.0) ** 2

    starts = np.array([0.05, 3.0, 30.0], np.float32)
    res = tune_hyperparams(objective, starts, steps=40, multi_start=True, check=False)
    assert res.lams.shape == (3, 41) and res.val_loss.shape == (3, 41) and res.grad_norm.shape == (3, 40)
    assert res.stopped.tolist() == [False, False, True]
    assert np.isnan(res.val_loss[2]).all() and np.isfinite(res.val_loss[:2]).all()
    assert res.best_start in (0, 1) and np.isfinite(res.best_loss)
    assert res.lams[2, -1] == res.lams[2, 0]  # frozen where it stopped
    for s in range(2):
        one = tune_hyperparams(objective, float(starts[s]), steps=40, check=False)
        np.testing.assert_allclose(one.lams[0], res.lams[s], rtol=1e-5)
        np.testing.assert_allclose(one.val_loss[0], res.val_loss[s], rtol=1e-4, atol=1e-9)


def _sign_setup(transform):
    """16 of 20 true weights are 0: the sign step makes them oscillate around 0, flipping as λ moves."""
    return _linear_objective(lambda lam, lr: transform(lam, lr), steps=100, lr=0.05, dense=False, n=80, d=20)


def test_check_flags_the_sign_step_and_passes_prox_and_l2():
    sign = _sign_setup(lambda lam, lr: optax.chain(jaxreg.add_l1_sign(lam), optax.sgd(lr)))
    prox = _sign_setup(lambda lam, lr: optax.chain(optax.sgd(lr), jaxreg.prox_l1(lam, lr)))
    l2 = _sign_setup(lambda lam, lr: optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(lr)))
    for lam in (0.05, 0.2):
        assert not check_hypergradient(sign, jnp.float32(lam)).ok
    assert check_hypergradient(prox, jnp.float32(0.05)).ok and check_hypergradient(l2, jnp.float32(0.05)).ok
    with pytest.raises(ValueError, match="add_l1_sign"):
        tune_hyperparams(sign, 0.05, steps=3)
    with pytest.warns(RuntimeWarning, match="check=False"):
        res = tune_hyperparams(sign, 0.05, steps=3, check="warn")
    assert not res.check.ok
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tune_hyperparams(sign, 0.05, steps=3, check=False).check is None


def test_forward_mode_descent_equals_unrolled_and_bounds_clip():
    obj = _mlp_objective(dtype=jnp.float32, steps=30)
    lams0 = {"w1": 0.02, "w2": 0.05}
    rev = tune_hyperparams(obj, lams0, steps=5, check=False)
    fwd = tune_hyperparams(obj, lams0, steps=5, method="forward", check=False)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4), rev.lams, fwd.lams)
    bounded = tune_hyperparams(obj, lams0, steps=30, learning_rate=0.5, bounds=(0.015, 0.06), check=False)
    for leaf in jax.tree.leaves(bounded.lams):
        assert leaf.min() >= 0.015 * (1 - 1e-5) and leaf.max() <= 0.06 * (1 + 1e-5)
    assert bounded.at_bound.tolist() == [True]


def test_result_table_dataframe_plot_and_starts_from_sweep(tmp_path):
    obj = _mlp_objective(dtype=jnp.float32, steps=20)
    starts = {"w1": np.array([0.01, 0.1], np.float32), "w2": np.array([0.05, 0.02], np.float32)}
    res = tune_hyperparams(obj, starts, steps=4, multi_start=True, check=False)
    table = res.table()
    assert list(table) == ["start", "step", "val_loss", "grad_norm", "hypergradients", "lam['w1']", "lam['w2']"]
    assert len(table["step"]) == 2 * 5 and np.isnan(table["grad_norm"][4])
    np.testing.assert_array_equal(table["hypergradients"], np.tile(np.arange(5), 2))
    best = res.best_lams
    assert set(best) == {"w1", "w2"} and isinstance(best["w1"], float)
    pd = pytest.importorskip("pandas")
    assert isinstance(res.to_dataframe(), pd.DataFrame)
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    res.plot().savefig(tmp_path / "tune.png")
    assert (tmp_path / "tune.png").stat().st_size > 0
    sweep = jaxreg.SweepResult.from_sweep({"val_loss": np.array([0.3, 0.1, 0.2, np.nan])}, [0.01, 0.1, 1.0, 10.0])
    np.testing.assert_allclose(starts_from_sweep(sweep, 2), [0.1, 1.0])
    tree = starts_from_sweep(sweep, 3, like={"w1": 0.0, "w2": np.zeros(2)})
    assert tree["w1"].shape == (3,) and tree["w2"].shape == (3, 2)


BAD = [
    ("λ ≤ 0", dict(lams0=0.0), "lams0 must be finite and > 0"),
    ("NaN λ", dict(lams0=float("nan")), "lams0 must be finite"),
    ("int λ", dict(lams0=1), "lams0 leaves must be floats"),
    ("empty tree", dict(lams0={}), "lams0 has no arrays"),
    ("starts axis", dict(lams0={"a": np.ones(2), "b": np.ones(3)}, multi_start=True), "leading axis of starts"),
    ("steps 0", dict(steps=0), "steps must be an int >= 1"),
    ("method", dict(method="implicit"), "tune_weighted_lasso"),
    ("check", dict(check="yes"), "check must be"),
    ("bounds order", dict(bounds=(1.0, 0.1)), "0 < lo < hi"),
    ("bounds shape", dict(bounds=0.1), "bounds must be a pair"),
    ("start outside bounds", dict(lams0=5.0, bounds=(0.1, 1.0)), "lams0 has values outside bounds"),
    ("rate and optimizer", dict(learning_rate=0.1, optimizer=optax.sgd(0.1)), "either learning_rate"),
    ("negative rate", dict(learning_rate=-0.1), "learning_rate must be a positive"),
    ("has_aux", dict(has_aux="yes"), "has_aux must be True or False"),
    ("has_aux in check_options", dict(check_options={"has_aux": True}), "check_options must not set has_aux"),
]


@pytest.mark.parametrize("name,kwargs,match", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_argument(name, kwargs, match):
    kwargs = {"lams0": 0.1, "steps": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        tune_hyperparams(lambda lam: jnp.sum(jax.tree.leaves(lam)[0]), kwargs.pop("lams0"), **kwargs)


# implicit differentiation at the lasso / elastic-net solution

def _sparse_problem(n=50, d=8, seed=0):
    rng = np.random.default_rng(seed)
    w = np.r_[2.0, -1.0, 0.5, np.zeros(d - 3)]
    x, xv = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    y, yv = x @ w + 0.5 * rng.normal(size=n), xv @ w + 0.5 * rng.normal(size=n)
    mu, my = x.mean(0), y.mean()
    return x - mu, y - my, xv - mu, yv - my


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_implicit_hypergradient_equals_finite_differences_of_the_exact_path(l1_ratio):
    with jax.enable_x64(True):
        x, y, xv, yv = _sparse_problem()
        val = lambda w: np.mean((yv - xv @ w) ** 2)  # noqa: E731
        # one λ: the path solver itself (no rescaling) gives the finite differences
        hg = lasso_hypergradient(x, y, xv, yv, 0.1, l1_ratio=l1_ratio, tol=1e-12)
        path = lambda lam: jaxreg.elastic_net_path(x, y, [lam], l1_ratio=l1_ratio, tol=1e-12)[0]  # noqa: E731
        fd = (val(path(0.1 + 1e-6)) - val(path(0.1 - 1e-6))) / 2e-6
        assert hg.grad.shape == () and 0 < hg.support.sum() < 8 and hg.margin > 0.05
        assert float(hg.grad) == pytest.approx(fd, rel=1e-7)
        np.testing.assert_allclose(hg.coef, path(0.1), atol=1e-10)
        # one λ per feature: finite differences of the weighted solution, which satisfies its optimality conditions
        lams = np.linspace(0.05, 0.2, 8)
        hg = lasso_hypergradient(x, y, xv, yv, lams, l1_ratio=l1_ratio, tol=1e-12)
        w, n = hg.coef, len(y)
        grad_data = x.T @ (x @ w - y) / n + 2 * (1 - l1_ratio) * lams * w
        on = w != 0
        np.testing.assert_allclose(grad_data[on], -l1_ratio * lams[on] * np.sign(w[on]), atol=1e-12)
        assert np.all(np.abs(grad_data[~on]) < l1_ratio * lams[~on])
        solve = lambda lam: solve_weighted_elastic_net(x, y, lam, l1_ratio=l1_ratio, tol=1e-12)  # noqa: E731
        eye = np.eye(8)
        fd = [(val(solve(lams + 1e-6 * eye[j])) - val(solve(lams - 1e-6 * eye[j]))) / 2e-6 for j in range(8)]
        np.testing.assert_allclose(hg.grad, fd, rtol=1e-6, atol=1e-9)
        assert np.all(hg.grad[~on] == 0) and np.all(hg.grad[on] != 0)


def test_implicit_groups_sum_the_features_and_a_custom_val_loss():
    with jax.enable_x64(True):
        x, y, xv, yv = _sparse_problem()
        lams = np.full(8, 0.08)
        per_feature = lasso_hypergradient(x, y, xv, yv, lams)
        groups = np.array([0, 0, 1, 1, 2, 2, 3, 3])
        grouped = lasso_hypergradient(x, y, xv, yv, np.full(4, 0.08), groups=groups)
        np.testing.assert_allclose(grouped.grad, np.bincount(groups, per_feature.grad), rtol=1e-12)
        scalar = lasso_hypergradient(x, y, xv, yv, 0.08)
        assert float(scalar.grad) == pytest.approx(per_feature.grad.sum(), rel=1e-10)
        xvj, yvj = jnp.asarray(xv), jnp.asarray(yv)
        custom = lasso_hypergradient(x, y, xv, yv, lams, val_loss=lambda w: 0.5 * jnp.mean((yvj - xvj @ w) ** 2))
        np.testing.assert_allclose(custom.grad, per_feature.grad / 2, rtol=1e-10)
        assert custom.loss == pytest.approx(per_feature.loss / 2)


def test_weighted_lasso_descent_beats_the_best_single_lambda_and_multi_start_equals_runs():
    with jax.enable_x64(True):
        x, y, xv, yv = _sparse_problem(n=60, d=10, seed=1)
        grid = np.geomspace(0.005, 0.5, 40)
        val = [lasso_hypergradient(x, y, xv, yv, lam).loss for lam in grid]
        best = grid[int(np.argmin(val))]
        res = tune_weighted_lasso(x, y, xv, yv, np.full(10, best), steps=40, learning_rate=0.1)
        assert res.method == "implicit" and res.lams.shape == (1, 41, 10) and not res.stopped.any()
        assert res.best_loss < min(val) * 0.99
        starts = np.stack([np.full(10, best), np.full(10, best / 2)])
        both = tune_weighted_lasso(x, y, xv, yv, starts, steps=5, multi_start=True)
        second = tune_weighted_lasso(x, y, xv, yv, starts[1], steps=5)
        np.testing.assert_allclose(both.lams[1], second.lams[0], rtol=1e-12)
        np.testing.assert_allclose(both.val_loss[0], res.val_loss[0, :6], rtol=1e-12)
        bounded = tune_weighted_lasso(x, y, xv, yv, 0.1, steps=5, learning_rate=1.0, bounds=(0.05, 0.2))
        assert bounded.lams.shape == (1, 6) and bounded.lams.min() >= 0.05 * (1 - 1e-12)


IMPLICIT_BAD = [
    ("l1_ratio 0", dict(l1_ratio=0.0), "l1_ratio must be in (0, 1]"),
    ("lams shape", dict(lams0=np.ones(3)), "lams must be a scalar, one λ per feature"),
    ("groups shape", dict(groups=np.zeros(3, int)), "groups must be"),
    ("group λ count", dict(groups=np.arange(8), lams0=np.ones(2) * 0.1), "one λ per group"),
    ("negative λ", dict(lams0=-0.1), "lams0 must be finite and > 0"),
    ("bad tol", dict(tol=-1.0), "tol must be a positive float"),
    ("one fold", dict(folds=1), "folds must be an int in [2, 100]"),
    ("fold ids shape", dict(folds=np.zeros(7, int)), "folds must be an int K >= 2 or an (100,) int array"),
    ("val_loss with folds", dict(folds=5, val_loss=lambda w: jnp.sum(w)), "leave val_loss=None"),
    ("negative log_lam_l2", dict(log_lam_l2=-1.0), "log_lam_l2 must be a float >= 0"),
]


@pytest.mark.parametrize("name,kwargs,match", IMPLICIT_BAD, ids=[b[0] for b in IMPLICIT_BAD])
def test_implicit_bad_input_names_the_argument(name, kwargs, match):
    x, y, xv, yv = _sparse_problem()
    kwargs = {"lams0": 0.1, "steps": 1, **kwargs}
    with pytest.raises(ValueError, match=re.escape(match)):
        tune_weighted_lasso(x, y, xv, yv, kwargs.pop("lams0"), **kwargs)
    with pytest.raises(ValueError, match="x_val must have the 8 features"):
        lasso_hypergradient(x, y, xv[:, :3], yv, 0.1)
    with pytest.raises(ValueError, match="x_val and y_val are needed without folds="):
        tune_weighted_lasso(x, y, None, None, 0.1, steps=1)


# the check's directions

def test_check_directions_are_distinct_orthonormal_and_deterministic():
    v = directions_matrix(3, 2, key=0)
    np.testing.assert_allclose(v @ v.T, np.eye(2), atol=1e-12)  # (random ±1 signs can repeat one)
    np.testing.assert_array_equal(v, directions_matrix(3, 2, key=0))
    assert not np.allclose(v, directions_matrix(3, 2, key=1))
    np.testing.assert_array_equal(directions_matrix(2, 2, key=0), np.eye(2))  # few λ: each on its own
    np.testing.assert_array_equal(directions_matrix(1, 5, key=3), np.eye(1))
    w = directions_matrix(50, 4, key=2)
    np.testing.assert_allclose(w @ w.T, np.eye(4), atol=1e-12)


def test_check_sees_a_step_in_the_ratio_of_two_lambdas():
    def objective(lams):  # smooth in every λ, plus a jump where λ0 passes λ1 (log λ0 − log λ1 = 0)
        t = jnp.log(lams)
        return jnp.sum(lams) + jnp.where(t[0] > t[1], 1.0, 0.0)

    lams = jnp.array([0.999, 1.0, 0.5], jnp.float32)  # 0.1% below the step
    check = check_hypergradient(objective, lams)
    assert check.directions.shape == (2, 3)
    assert abs(check.directions[0] @ check.directions[1]) < 1e-6
    # ∂f/∂log λ = λ away from the step, so autodiff along v is v · λ: two different numbers, not ±one
    np.testing.assert_allclose(check.autodiff, check.directions @ np.asarray(lams, np.float64), rtol=1e-5)
    assert abs(abs(check.autodiff[0]) - abs(check.autodiff[1])) > 1e-3
    assert not check.ok, check  # a direction parallel to (1, 1, 1) never crosses the step and passed it


def test_check_uses_every_lambda_on_its_own_when_there_are_few():
    check = check_hypergradient(lambda lams: lams["a"] ** 2 + 3 * lams["b"], {"a": 2.0, "b": 0.5}, directions=3)
    np.testing.assert_array_equal(check.directions, np.eye(2))
    np.testing.assert_allclose(check.autodiff, [2 * 2.0**2, 3 * 0.5], rtol=1e-5)  # ∂f/∂log λ = λ ∂f/∂λ
    assert check.ok and check.finite_difference.shape == (2, 2)


# has_aux: what the objective reports besides the loss

def _aux_objective(lam):
    """One weight, w(λ) = 2 / (1 + λ) after training; the loss (w − 1)², the aux w and a "test" loss."""
    opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(0.1))
    w = jaxreg.fit(lambda w: (w - 2.0) ** 2, jnp.zeros(()), opt, steps=100).params
    return (w - 1.0) ** 2, {"w": w, "test": (w - 1.5) ** 2}


@pytest.mark.parametrize("method", ["unrolled", "forward"])
def test_has_aux_records_the_aux_along_every_descent(method):
    starts = np.array([0.1, 3.0], np.float32)
    res = tune_hyperparams(_aux_objective, starts, steps=15, multi_start=True, has_aux=True, method=method)
    assert res.aux["w"].shape == (2, 16) and res.aux["test"].shape == (2, 16)
    np.testing.assert_allclose(res.aux["w"], 2 / (1 + res.lams), rtol=1e-4)
    np.testing.assert_allclose(res.aux["test"], (res.aux["w"] - 1.5) ** 2, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(res.val_loss, (res.aux["w"] - 1.0) ** 2, rtol=1e-4, atol=1e-7)
    best = res.best_aux
    assert isinstance(best["w"], float) and best["w"] == pytest.approx(2 / (1 + res.best_lams), rel=1e-4)
    plain = tune_hyperparams(lambda lam: _aux_objective(lam)[0], starts, steps=15, multi_start=True, method=method)
    np.testing.assert_array_equal(plain.lams, res.lams)  # the aux changes nothing of the descent
    assert plain.aux is None and plain.best_aux is None
    table = res.table()
    np.testing.assert_array_equal(table["aux['test']"], res.aux["test"].reshape(-1))


def test_has_aux_calling_convention_errors():
    with pytest.raises(TypeError, match="has_aux=True"):
        tune_hyperparams(_aux_objective, 0.1, steps=2)
    with pytest.raises(TypeError, match="must return a pair"):
        tune_hyperparams(lambda lam: (lam - 1.0) ** 2, 0.1, steps=2, has_aux=True)
    with pytest.raises(TypeError, match="has_aux=True"):
        check_hypergradient(_aux_objective, 0.1)
    assert check_hypergradient(_aux_objective, 0.1, has_aux=True).ok


# cost: what a call evaluated

def test_cost_counts_every_evaluation_the_descent_and_the_check_ran():
    calls = []

    def objective(lam):
        jax.debug.callback(lambda lam: calls.append(np.size(lam)), lam)  # under vmap: once, with every start
        return _aux_objective(lam)[0]

    res = tune_hyperparams(objective, np.array([0.1, 3.0, 1.0], np.float32), steps=6, multi_start=True)
    cost = res.cost
    assert (cost.hypergradients, cost.objective_evaluations) == (18, 3)
    assert (cost.check_hypergradients, cost.check_evaluations) == (1, 4)  # one λ: one direction, two steps, ±
    assert cost.path_solves == 0 and cost.folds == 1 and cost.seconds > 0
    assert sum(calls) == 18 + 3 + 1 + 4
    assert cost.trainings(per_hypergradient=3.0) == 3 * 19 + 7
    unchecked = tune_hyperparams(objective, 0.1, steps=4, check=False).cost
    assert (unchecked.hypergradients, unchecked.check_hypergradients, unchecked.check_evaluations) == (4, 0, 0)


def test_implicit_cost_counts_the_path_solves(monkeypatch):
    from jaxreg.tuning import _implicit

    solves, solve = [], _implicit._solve
    monkeypatch.setattr(_implicit, "_solve", lambda *a: solves.append(1) or solve(*a))
    x, y, xv, yv = _sparse_problem()
    starts = np.stack([np.full(8, 0.1), np.full(8, 0.05)])
    res = tune_weighted_lasso(x, y, xv, yv, starts, steps=3, multi_start=True)
    assert (res.cost.hypergradients, res.cost.objective_evaluations, res.cost.path_solves) == (6, 2, 8)
    assert len(solves) == 8
    solves.clear()
    cv = tune_weighted_lasso(x, y, xv, yv, starts[0], steps=3, folds=4)
    assert (cv.cost.path_solves, cv.cost.folds) == (16, 4) and len(solves) == 16
    table = cv.table()
    np.testing.assert_array_equal(table["path_solves"], 4 * np.arange(1, 5))
    np.testing.assert_array_equal(table["hypergradients"], np.arange(4))
    np.testing.assert_array_equal(table["aux['held_out_loss']"], cv.val_loss[0])  # no penalty: the same


# K-fold implicit tuning and the log-λ penalty

def test_fold_ids_are_scikit_learns_kfold():
    from sklearn.model_selection import KFold

    from jaxreg.tuning._weighted import fold_ids
    for n, k in ((23, 5), (100, 4), (7, 7)):
        expected = np.zeros(n, int)
        for j, (_, held) in enumerate(KFold(k).split(np.zeros((n, 1)))):
            expected[held] = j
        np.testing.assert_array_equal(fold_ids(k, n), expected)


@pytest.mark.parametrize("log_lam_l2", [0.0, 0.3])
def test_kfold_objective_is_the_mean_held_out_loss_and_its_hypergradient_exact(log_lam_l2):
    with jax.enable_x64(True):
        x, y, xv, yv = _sparse_problem(n=30, d=8)
        xa, ya = np.vstack([x, xv]), np.concatenate([y, yv])  # folds are cut over training + validation
        ids = np.repeat(np.arange(4), 15)

        def objective(lams):  # the mean held-out MSE of 4 fits, each centred with its training rows' means
            held = []
            for k in range(4):
                tr, ho = ids != k, ids == k
                mx, my = xa[tr].mean(0), ya[tr].mean()
                w = solve_weighted_elastic_net(xa[tr] - mx, ya[tr] - my, lams, tol=1e-12)
                held.append(np.mean((ya[ho] - my - (xa[ho] - mx) @ w) ** 2))
            t = np.log(lams)
            return np.mean(held) + log_lam_l2 * np.mean((t - t.mean()) ** 2)

        lams = np.geomspace(0.03, 0.15, 8)
        rate = 1e-3  # plain SGD on log λ: the first step is −rate × the hypergradient
        res = tune_weighted_lasso(x, y, xv, yv, lams, steps=1, folds=4, optimizer=optax.sgd(rate), tol=1e-12,
                                  log_lam_l2=log_lam_l2)
        assert res.val_loss[0, 0] == pytest.approx(objective(lams), rel=1e-10)
        grad = (np.log(lams) - np.log(res.lams[0, 1])) / rate
        eye = np.eye(8)
        fd = [(objective(lams * np.exp(1e-6 * eye[j])) - objective(lams * np.exp(-1e-6 * eye[j]))) / 2e-6
              for j in range(8)]
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
        penalty = res.val_loss[0] - res.aux["held_out_loss"][0]
        t = np.log(res.lams[0])
        np.testing.assert_allclose(penalty, log_lam_l2 * t.var(axis=1), atol=1e-12)


def test_log_lam_penalty_holds_the_lambdas_together():
    with jax.enable_x64(True):
        x, y, xv, yv = _sparse_problem(n=60, d=10, seed=1)
        free = tune_weighted_lasso(x, y, xv, yv, np.full(10, 0.05), steps=25, folds=3)
        tied = tune_weighted_lasso(x, y, xv, yv, np.full(10, 0.05), steps=25, folds=3, log_lam_l2=1e4)
        assert np.log(free.best_lams).std() > 0.2
        assert np.log(tied.best_lams).std() < 0.01
        assert free.best_loss < free.val_loss[0, 0]  # the K-fold objective does descend


def test_starts_from_sweep_takes_the_direction_of_the_metric():
    """An accuracy ranks the other way: its best λ are the largest means, never the worst ones."""
    lambdas = [0.01, 0.1, 1.0, 10.0]
    res = jaxreg.SweepResult.from_sweep({"val_acc": np.array([0.90, 0.95, 0.50, 0.93])}, lambdas)
    np.testing.assert_allclose(starts_from_sweep(res, 2, metric="val_acc"), [0.1, 10.0])
    np.testing.assert_allclose(starts_from_sweep(res, 1, metric="val_acc", mode="min"), [1.0])
    with pytest.raises(ValueError, match="mode="):
        starts_from_sweep(jaxreg.SweepResult.from_sweep({"zeros": np.arange(4.0)}, lambdas), 1, metric="zeros")


# review fixes: centring, float64 val_loss, a flat objective, stopped starts

def test_weighted_lasso_single_split_centres_like_the_folds():
    """An offset in the features and the target (an intercept) changes nothing: the fit is centred with the
    training means, and the validation rows with the same means."""
    x, y, xv, yv = _regression(dense=False)
    mx, my = x.mean(0), y.mean()
    xc, yc, xvc, yvc = x - mx, y - my, xv - mx, yv - my
    shift, offset = np.linspace(-3.0, 5.0, x.shape[1]), 7.0
    lams0 = np.full(x.shape[1], 0.05)
    want = tune_weighted_lasso(xc, yc, xvc, yvc, lams0, steps=4)
    got = tune_weighted_lasso(x + shift, y + offset, xv + shift, yv + offset, lams0, steps=4)
    np.testing.assert_allclose(got.lams, want.lams, rtol=1e-6)
    np.testing.assert_allclose(got.val_loss, want.val_loss, rtol=1e-6)
    hg = lasso_hypergradient(x + shift, y + offset, xv + shift, yv + offset, lams0)
    hg_c = lasso_hypergradient(xc, yc, xvc, yvc, lams0)
    np.testing.assert_allclose(hg.grad, hg_c.grad, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(hg.coef, hg_c.coef, rtol=1e-6, atol=1e-10)


def test_custom_val_loss_runs_in_float64_without_x64():
    x, y, xv, yv = _regression(dense=False)
    x, y, xv, yv = x - x.mean(0), y - y.mean(), xv - x.mean(0), yv - y.mean()  # (the default loss's centring)
    seen = []

    def val_loss(w):
        seen.append(w.dtype)
        return jnp.mean((jnp.asarray(xv) @ w - jnp.asarray(yv)) ** 2)
    with jax.enable_x64(False):
        hg = lasso_hypergradient(x, y, xv, yv, 0.05, val_loss=val_loss)
    assert seen and all(dt == jnp.float64 for dt in seen)
    plain = lasso_hypergradient(x, y, xv, yv, 0.05)  # the default loss is the same mean squared error
    np.testing.assert_allclose(hg.loss, plain.loss, rtol=1e-12)
    np.testing.assert_allclose(hg.grad, plain.grad, rtol=1e-9)


def test_check_hypergradient_of_a_flat_zero_objective_is_ok():
    chk = check_hypergradient(lambda lam: 0.0 * lam, jnp.float32(1.0))
    assert chk.ok and np.all(chk.error == 0)


def test_a_stopped_start_solves_no_more():
    """A non-finite loss stops a start at its first point: one path solve, not one per step; held_out NaN."""
    x, y, xv, yv = _regression(dense=False)
    res = tune_weighted_lasso(x, y, xv, yv, 0.05, steps=5, val_loss=lambda w: jnp.inf + 0.0 * jnp.sum(w))
    assert res.stopped.all() and res.cost.path_solves == 1
    assert np.isnan(res.val_loss).all() and np.isnan(res.aux["held_out_loss"]).all()
    np.testing.assert_allclose(res.lams[0], 0.05, rtol=1e-6)  # it never moved

"""λ converters: closed forms, round trips, and agreement with optax and scikit-learn."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso, Ridge
from sklearn.preprocessing import StandardScaler

import jaxreg


def test_optax_weight_decay_is_two_lambda():
    params = {"w": jnp.array([1.0, -2.0, 0.5])}
    g = jax.tree.map(jnp.ones_like, params)
    lam = 0.3
    ours = jaxreg.add_l2_decay(lam)
    theirs = optax.add_decayed_weights(jaxreg.to_optax_weight_decay(lam))
    chex.assert_trees_all_close(
        ours.update(g, ours.init(params), params)[0],
        theirs.update(g, theirs.init(params), params)[0],
        rtol=1e-6,
    )
    assert jaxreg.from_optax_weight_decay(0.6) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "loss,n,factor",
    [("half_mse", None, 1.0), ("mse", None, 2.0), ("sse", 50, 100.0), ("half_sse", 50, 50.0)],
)
def test_lasso_scaling(loss, n, factor):
    assert jaxreg.from_sklearn_lasso(0.2, loss=loss, n_samples=n) == pytest.approx(0.2 * factor)
    assert jaxreg.to_sklearn_lasso(0.2 * factor, loss=loss, n_samples=n) == pytest.approx(0.2)


def test_elastic_net_closed_form_and_round_trip():
    lam, rho = jaxreg.from_sklearn_elastic_net(0.1, 0.5)
    assert lam == pytest.approx(0.075) and rho == pytest.approx(2 / 3)
    # the two objectives' penalties agree on any w
    w = np.array([0.3, -1.2, 0.0, 2.0])
    ours = lam * (rho * np.abs(w).sum() + (1 - rho) * (w**2).sum())
    sk = 0.1 * (0.5 * np.abs(w).sum() + 0.5 * 0.5 * (w**2).sum())
    assert ours == pytest.approx(sk)
    for alpha, r in [(0.01, 0.0), (1.0, 0.3), (3.0, 1.0)]:
        back = jaxreg.to_sklearn_elastic_net(*jaxreg.from_sklearn_elastic_net(alpha, r))
        assert back == pytest.approx((alpha, r))


def test_converters_work_on_grids_and_under_jit():
    alphas = jnp.logspace(-3, 0, 7)
    lam = jax.jit(lambda a: jaxreg.from_sklearn_ridge(a, n_samples=100))(alphas)
    np.testing.assert_allclose(lam, alphas / 200, rtol=1e-6)


def test_glmnet_matches_sklearn_for_gaussian():
    assert jaxreg.from_glmnet(0.2, 0.4) == pytest.approx(jaxreg.from_sklearn_elastic_net(0.2, 0.4))
    lam, rho = jaxreg.from_glmnet(0.2, 1.0, family="binomial")
    assert (lam, rho) == pytest.approx((0.2, 1.0))
    assert jaxreg.to_glmnet(*jaxreg.from_glmnet(0.2, 0.4)) == pytest.approx((0.2, 0.4))


def test_logistic_conversions():
    n = 200
    lam, rho = jaxreg.from_sklearn_logistic(2.0, penalty="l2", n_samples=n)
    assert (lam, rho) == pytest.approx((1 / (2 * n * 2.0), 0.0))
    lam, rho = jaxreg.from_sklearn_logistic(2.0, penalty="l1", n_samples=n)
    assert (lam, rho) == pytest.approx((1 / (n * 2.0), 1.0))
    c, pen, r = jaxreg.to_sklearn_logistic(lam, l1_ratio=1.0, n_samples=n)
    assert (c, pen, r) == pytest.approx((2.0, "l1", 1.0))


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: jaxreg.from_sklearn_ridge(1.0), "n_samples"),
        (lambda: jaxreg.from_sklearn_lasso(-1.0), "alpha"),
        (lambda: jaxreg.from_sklearn_lasso(1.0, loss="l2"), "loss"),
        (lambda: jaxreg.from_sklearn_elastic_net(1.0, 1.2), "l1_ratio"),
        (lambda: jaxreg.from_sklearn_logistic(0.0, n_samples=3), "C"),
        (lambda: jaxreg.from_sklearn_logistic(1.0, penalty="l3", n_samples=3), "penalty"),
        (lambda: jaxreg.from_glmnet(1.0, family="poisson"), "family"),
    ],
)
def test_bad_converter_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def _diabetes():
    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    return x, y - y.mean()


def test_ridge_converter_against_sklearn_closed_form():
    x, y = _diabetes()
    n, d = x.shape
    for alpha in (0.1, 10.0, 1000.0):
        lam = jaxreg.from_sklearn_ridge(alpha, loss="half_mse", n_samples=n)
        # argmin 1/(2n)‖y − Xw‖² + λ‖w‖²  ⇔  (XᵀX/n + 2λI) w = Xᵀy/n
        w = np.linalg.solve(x.T @ x / n + 2 * lam * np.eye(d), x.T @ y / n)
        ref = Ridge(alpha=alpha, fit_intercept=False).fit(x, y).coef_
        np.testing.assert_allclose(w, ref, rtol=1e-8)


def test_lasso_converter_with_ista_against_sklearn():
    """ISTA built from optax.sgd + jaxreg.prox_l1 reaches sklearn's Lasso solution."""
    x, y = _diabetes()
    n = x.shape[0]
    alpha = 1.0
    with jax.enable_x64(True):
        xj, yj = jnp.asarray(x), jnp.asarray(y)
        lr = 1.0 / float(np.linalg.eigvalsh(x.T @ x / n).max())
        lam = jaxreg.from_sklearn_lasso(alpha, loss="half_mse")
        opt = optax.chain(optax.sgd(lr), jaxreg.prox_l1(lam, lr))
        loss = lambda w: 0.5 * jnp.mean((yj - xj @ w) ** 2)

        @jax.jit
        def solve(w):
            def step(carry, _):
                w, s = carry
                u, s = opt.update(jax.grad(loss)(w), s, w)
                return (optax.apply_updates(w, u), s), None

            return jax.lax.scan(step, (w, opt.init(w)), None, length=20000)[0][0]

        w = np.asarray(solve(jnp.zeros(x.shape[1])))
    ref = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=100000).fit(x, y).coef_
    np.testing.assert_array_equal(w == 0, ref == 0)
    np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-8)

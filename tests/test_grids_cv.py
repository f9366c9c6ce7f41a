"""Grids, λ_max for L1 (against scikit-learn), cross-validation arithmetic."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso, lasso_path

import jaxreg
from jaxreg.engine import _cv as cv


def test_log_grid():
    g = jaxreg.log_grid(1e-4, 1.0, 5)
    np.testing.assert_allclose(g, [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-12)
    assert jaxreg.log_grid(0.5, 0.5, 1).tolist() == [0.5]


@pytest.mark.parametrize(
    "args,match",
    [((1.0, 0.1, 5), "lo must be <= hi"), ((0.0, 1.0, 5), "> 0"), ((1e-3, 1.0, 0), "num"),
     ((-1.0, 1.0, 3), "lo"), ((1e-3, float("inf"), 3), "hi")],
)
def test_log_grid_errors(args, match):
    with pytest.raises(ValueError, match=match):
        jaxreg.log_grid(*args)


def test_lambda_max_matches_sklearn_alpha_max_on_diabetes():
    x, y = load_diabetes(return_X_y=True)
    x = x - x.mean(0)
    y = y - y.mean()
    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    loss = lambda w: 0.5 * jnp.mean((yj - xj @ w) ** 2)  # sklearn Lasso's data term
    lam_max = float(jaxreg.lambda_max_l1(loss, jnp.zeros(x.shape[1])))
    alphas, _, _ = lasso_path(x, y, alphas=5)
    np.testing.assert_allclose(lam_max, alphas.max(), rtol=1e-5)
    # and it is the threshold: all zero at α_max, not all zero just below
    assert np.all(Lasso(alpha=lam_max * 1.0001, fit_intercept=False).fit(x, y).coef_ == 0)
    assert np.any(Lasso(alpha=lam_max * 0.95, fit_intercept=False).fit(x, y).coef_ != 0)


def test_lambda_max_respects_mask_and_weights():
    params = {"w": jnp.zeros(3), "b": jnp.array(5.0)}
    loss = lambda p: jnp.sum(jnp.array([1.0, -4.0, 2.0]) * p["w"]) + p["b"] ** 2
    assert float(jaxreg.lambda_max_l1(loss, params, mask={"w": True, "b": False})) == 4.0
    got = jaxreg.lambda_max_l1(loss, params, mask={"w": True, "b": False},
                               weights={"w": jnp.array([1.0, 0.0, 0.5]), "b": 1.0})
    assert float(got) == 4.0  # |−4| has factor 0 (free); 2/0.5 = 4 and 1/1 = 1


def test_kfold_masks_partition():
    m = cv.kfold_masks(10, 3, seed=0)
    assert m.shape == (3, 10)
    np.testing.assert_array_equal(m.sum(0), 1)  # every sample held out exactly once
    assert sorted(m.sum(1).tolist()) == [3, 3, 4]
    with pytest.raises(ValueError, match="folds"):
        cv.kfold_masks(10, 1)


def test_cv_summary_by_hand():
    lambdas = [0.01, 0.1, 1.0, 10.0]
    scores = np.array([[2.0, 1.0, 1.10, 3.0], [2.2, 1.2, 1.20, 3.0], [2.1, 1.1, 1.25, 3.0]])
    s = cv.cv_summary(lambdas, scores)
    mean = scores.mean(0)
    se = scores.std(0, ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(s["mean"], mean)
    np.testing.assert_allclose(s["se"], se)
    assert s["lambda_min"] == 0.1  # mean 1.1
    # within one SE of the minimum: 1.1 + 0.0577 = 1.1577 ≥ mean(λ=1) = 1.1833? No → λ_1se = 0.1
    assert s["lambda_1se"] == (1.0 if mean[2] <= mean[1] + se[1] else 0.1)
    s2 = cv.cv_summary(lambdas, [[2.0, 1.0, 1.05, 3.0], [2.2, 1.2, 1.15, 3.0]])
    assert s2["lambda_min"] == 0.1 and s2["lambda_1se"] == 1.0


def test_cv_sweep_folds_are_held_out():
    """A CV sweep over 3 folds: each model's loss ignores its held-out rows."""
    x = jnp.arange(9.0)
    masks = jnp.asarray(cv.kfold_masks(9, 3, seed=1), jnp.float32)

    def train(lam, fold):
        w = 1.0 - masks[fold]
        return jnp.sum(w * x) / jnp.sum(w) + 0 * lam  # mean of the training rows

    out = jaxreg.sweep(train, [0.0, 1.0], folds=3)
    m = np.asarray(masks)
    expected = [(np.arange(9.0) * (1 - m[f])).sum() / (1 - m[f]).sum() for f in range(3)]
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-6)
    assert jax.numpy.shape(out) == (3, 2)


def test_cv_summary_of_an_accuracy_and_the_grid_edge():
    lambdas = [0.01, 0.1, 1.0, 10.0]
    acc = np.array([[0.80, 0.90, 0.89, 0.70], [0.84, 0.92, 0.92, 0.72]])
    s = cv.cv_summary(lambdas, acc, mode="max")
    assert (s["lambda_min"], s["lambda_1se"], s["mode"], s["at_grid_edge"]) == (0.1, 1.0, "max", None)
    assert cv.cv_summary(lambdas, acc)["lambda_min"] == 10.0  # read as a loss: the worst accuracy
    assert cv.cv_summary(lambdas, acc)["at_grid_edge"] == "upper"
    assert cv.cv_summary(lambdas, -acc)["at_grid_edge"] is None
    with pytest.raises(ValueError, match="mode must be 'min'"):
        cv.cv_summary(lambdas, acc, mode="largest")

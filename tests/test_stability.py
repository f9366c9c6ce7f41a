"""Stability selection: probabilities equal a loop over the same subsamples, the bound by hand, support recovery."""

import warnings

import numpy as np
import pytest

import jaxreg
from jaxreg.selection import StabilityResult, complementary_pairs, default_solver, stability_selection
from jaxreg.solvers import ActiveSet, FixedSteps


def design(n=80, d=15, support=(0, 3, 7), signal=2.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[list(support)] = signal * np.array([1.0, -1.0, 1.0][: len(support)])
    return x, x @ w + 0.5 * rng.standard_normal(n)


LAMBDAS = np.array([1.5, 0.8, 0.4, 0.2, 0.1])


def test_complementary_pairs_are_disjoint_halves():
    halves = complementary_pairs(11, 4, seed=3)
    assert halves.shape == (8, 5)
    for b in range(4):
        a, c = set(halves[2 * b]), set(halves[2 * b + 1])
        assert not a & c and len(a) == len(c) == 5  # odd n: one sample sits out
    np.testing.assert_array_equal(halves, complementary_pairs(11, 4, seed=3))  # deterministic
    assert not np.array_equal(halves, complementary_pairs(11, 4, seed=4))
    with pytest.raises(ValueError, match="n_pairs must be a positive int"):
        complementary_pairs(10, 0)


def test_default_solver_is_certifiable_in_the_dtype():
    assert default_solver(np.float64).tol == 1e-6
    assert default_solver(np.float32).tol == 10 * jaxreg.solvers.certifiable_tol(np.float32)


def test_probabilities_equal_a_loop_over_the_same_subsamples():
    x, y = design()
    result = stability_selection(x, y, LAMBDAS, n_pairs=4, seed=1)
    coefs = []
    for rows in complementary_pairs(len(y), 4, seed=1):
        xs, ys = x[rows].astype(np.float32), y[rows].astype(np.float32)
        coefs.append(jaxreg.solvers.elastic_net_path(xs - xs.mean(0), ys - ys.mean(), LAMBDAS,
                                                     solver=default_solver(np.float32)))
    coefs = np.stack(coefs)
    np.testing.assert_array_equal(result.probabilities, (coefs != 0).mean(axis=0))
    loop = StabilityResult.from_coefs(coefs, LAMBDAS)
    np.testing.assert_array_equal(result.union_sizes, loop.union_sizes)
    assert result.converged.shape == (8,) and result.converged.all()
    assert result.n_subsamples == 8 and result.n_features == 15


def test_union_sizes_q_and_the_bound_by_hand():
    # 2 subsamples, λ = (1, 0.5, 0.1) in that order, 10 features
    coefs = np.zeros((2, 3, 10))
    for s, k, features in ((0, 0, [0]), (0, 1, [0, 1]), (0, 2, [1, 2, 3]),  # feature 0 leaves at λ = 0.1
                           (1, 0, [0]), (1, 1, [0]), (1, 2, [0, 4])):
        coefs[s, k, features] = 1.0
    r = StabilityResult.from_coefs(coefs, [1.0, 0.5, 0.1])
    np.testing.assert_array_equal(r.union_sizes, [[1, 2, 4], [1, 1, 2]])  # unions over λ' ≥ λ
    assert r.average_selected() == 3.0 and r.average_selected(lambda_min=0.5) == 1.5
    np.testing.assert_allclose(r.probabilities[2], [0.5, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(r.max_probabilities(), [1, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(r.stable_set(0.6), [0])
    assert r.false_selection_bound(0.6) == pytest.approx(3.0**2 / ((2 * 0.6 - 1) * 10))
    assert r.false_selection_bound(0.9, lambda_min=0.5) == pytest.approx(1.5**2 / (0.8 * 10))
    # the same grid in another order, with a tie: the unions follow λ, not positions
    r2 = StabilityResult.from_coefs(coefs[:, [2, 0, 1]], [0.1, 1.0, 0.5])
    np.testing.assert_array_equal(r2.union_sizes, [[4, 1, 2], [2, 1, 1]])
    tie = StabilityResult.from_coefs(np.stack([coefs[0, [0, 1]]]), [0.5, 0.5])
    np.testing.assert_array_equal(tie.union_sizes, [[2, 2]])


def test_recovers_a_known_support_with_a_strict_threshold():
    support = (2, 9, 17)
    x, y = design(n=200, d=40, support=support, signal=1.5, seed=2)
    lam_max = np.abs((x - x.mean(0)).T @ (y - y.mean())).max() / len(y)
    lambdas = jaxreg.log_grid(0.05 * lam_max, lam_max, 20)
    result = stability_selection(x, y, lambdas, n_pairs=25, seed=0)
    np.testing.assert_array_equal(result.stable_set(0.9), support)
    summary = result.summary(0.9)
    assert summary["stable_set"] == list(support) and summary["n_converged"] == 50
    lasso = jaxreg.solvers.elastic_net_path(x - x.mean(0), y - y.mean(), lambdas, solver=default_solver(np.float32))
    assert (lasso[np.argmin(lambdas)] != 0).sum() > len(support)  # the lasso at small λ selects extra features


def test_fixed_steps_solver_has_no_certificate():
    x, y = design(n=40, d=6, support=(0, 3))
    result = stability_selection(x, y, [1.0, 0.3], n_pairs=2, solver=FixedSteps(steps=50))
    assert result.converged is None and result.summary(0.7)["n_converged"] is None


def test_warns_once_when_paths_are_not_certified():
    x, y = design(n=40, d=6, support=(0, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = stability_selection(x, y, [1.0, 0.3], n_pairs=3, solver=ActiveSet(tol=1e-9))  # float32: ~1e-4
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "6 of 6 subsample paths are not certified" in messages[0]
    assert not result.converged.any()


@pytest.mark.parametrize("call,match", [
    (lambda r: r.stable_set(0.0), r"threshold must be a float in \(0, 1\]"),
    (lambda r: r.stable_set(1.5), r"threshold must be a float in \(0, 1\]"),
    (lambda r: r.false_selection_bound(0.5), r"threshold must be a float in \(0.5, 1\].*π_thr > 1/2"),
    (lambda r: r.stable_set(0.8, lambda_min=5.0), "lambda_min=5.0 is above every λ"),
    (lambda r: StabilityResult.from_coefs(np.ones((2, 3, 4)), [1.0, 0.5]), r"coefs must be \(subsamples, K, d\)"),
])
def test_result_errors_name_the_argument(call, match):
    r = StabilityResult.from_coefs(np.ones((2, 2, 4)), [1.0, 0.5])
    with pytest.raises(ValueError, match=match):
        call(r)


def test_input_errors_name_the_argument():
    x, y = design(n=20, d=4, support=(0, 3))
    with pytest.raises(ValueError, match=r"x must be \(n, d\) and y \(n,\)"):
        stability_selection(x, y[:-1], [0.5])
    with pytest.raises(ValueError, match="n >= 4"):
        stability_selection(x[:3], y[:3], [0.5])
    with pytest.raises(ValueError, match="n_pairs must be a positive int"):
        stability_selection(x, y, [0.5], n_pairs=0)
    with pytest.raises(ValueError, match="lambdas must be finite"):
        stability_selection(x, y, [-0.5])
    with pytest.raises(ValueError, match="l1_ratio must be in"):
        stability_selection(x, y, [0.5], l1_ratio=2.0)
    scipy_sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(ValueError, match="x is sparse"):
        stability_selection(scipy_sparse.csr_matrix(x), y, [0.5])


def test_plot_draws_the_stability_path():
    matplotlib = pytest.importorskip("matplotlib", reason="plots need the cli extra")
    matplotlib.use("Agg")
    coefs = np.zeros((2, 3, 5))
    coefs[:, :, 0] = 1.0
    coefs[0, 2, 1] = 1.0
    ax = StabilityResult.from_coefs(coefs, [1.0, 0.5, 0.1]).plot(0.9, lambda_min=0.5)
    assert len(ax.lines) == 5 + 2  # every feature, the threshold and lambda_min
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["feature 0"]
    assert ax.xaxis_inverted()

"""Stability selection: probabilities equal a loop over the same subsamples, the bounds by hand, support recovery."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg
from jaxreg.selection import (
    StabilityResult,
    complementary_pairs,
    default_solver,
    false_selection_bound,
    stability_selection,
    stability_sweep,
)
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


def _result(q_per_lambda, d=1000, subsamples=100):
    """Every half selects the first ``q`` features at each λ of (1, 0.5, 0.1, ...)."""
    coefs = np.zeros((subsamples, len(q_per_lambda), d))
    for k, q in enumerate(q_per_lambda):
        coefs[:, k, :q] = 1.0
    return StabilityResult.from_coefs(coefs, [1.0, 0.5, 0.1, 0.05][: len(q_per_lambda)])


@pytest.mark.parametrize("q,d,threshold,b,none,unimodal", [
    (10, 1000, 0.75, 50, 100 / 500, 0.1 / (2 * (0.5 - 0.01))),           # τ ≤ 3/4: 1/(2(2τ − 1 − 1/(2B)))
    (10, 1000, 0.9, 50, 100 / 800, 0.1 * 4 * (0.1 + 0.01) / 1.02),       # τ > 3/4: 4(1 − τ + 1/(2B))/(1 + 1/B)
    (10, 1000, 1.0, 50, 100 / 1000, 0.1 * 4 * 0.01 / 1.02),
    (10, 1000, 0.745, 10, 100 / 490, 0.1 / (2 * (0.5 - 0.05))),          # rounded up to the grid: τ = 15/20
    (100, 1000, 0.52, 50, 1e4 / 40, 10 / (2 * (0.04 - 0.01))),           # just above ½ + θ² = 0.51
])
def test_bounds_by_hand(q, d, threshold, b, none, unimodal):
    assert false_selection_bound(q, d, threshold) == pytest.approx(none, rel=1e-12)
    got = false_selection_bound(q, d, threshold, assumption="unimodal", n_pairs=b)
    assert got == pytest.approx(unimodal, rel=1e-12)
    assert got < none  # unimodality only tightens


@pytest.mark.parametrize("kwargs,match", [
    (dict(q=100, n_features=1000, threshold=0.51, n_pairs=50), r"must be above 0\.51"),   # τ ≤ ½ + θ²
    (dict(q=10, n_features=1000, threshold=0.51, n_pairs=50), r"at least 0\.52"),         # below ½ + 1/B
    (dict(q=600, n_features=1000, threshold=0.9, n_pairs=50), "above 1/√3"),
])
def test_unimodal_bound_outside_its_range_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        false_selection_bound(assumption="unimodal", **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(q=10, n_features=100, threshold=0.5), r"threshold must be a float in \(0.5, 1\]"),
    (dict(q=101, n_features=100, threshold=0.9), r"q must be a number in \[0, n_features\]"),
    (dict(q=1, n_features=0, threshold=0.9), "n_features must be a positive int"),
    (dict(q=1, n_features=10, threshold=0.9, assumption="concave"), "assumption must be one of"),
    (dict(q=1, n_features=10, threshold=0.9, assumption="unimodal"), "n_pairs must be a positive int"),
])
def test_bound_errors_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        false_selection_bound(**kwargs)


def test_result_bounds_lambda_region_and_summary():
    r = _result([0, 10, 40])  # 50 pairs, d = 1000
    assert r.false_selection_bound(0.9, lambda_min=0.5) == pytest.approx(100 / 800)
    assert r.false_selection_bound(0.9, lambda_min=0.5, assumption="unimodal") == pytest.approx(0.1 * 0.44 / 1.02)
    bounds = r.error_bounds(0.9)  # q = 40: 1600 / 800 = 2; unimodal 1.6 · 0.44 / 1.02
    assert bounds["none"]["value"] == pytest.approx(2.0)
    assert bounds["unimodal"]["value"] == pytest.approx(1.6 * 0.44 / 1.02)
    assert "Theorem 1" in bounds["none"]["reference"] and "unimodal" in bounds["unimodal"]["assumes"]
    assert r.lambda_min_for_bound(0.9) == 0.5 and r.lambda_min_for_bound(0.9, max_false=2.0) == 0.1
    assert r.lambda_min_for_bound(0.9, max_false=0.7, assumption="unimodal") == 0.1  # 0.69 ≤ 0.7
    assert _result([5], d=10).lambda_min_for_bound(0.9) is None  # q = 5 of 10 at the largest λ: 3.1
    summary = r.summary(0.9, lambda_min=0.5)
    assert summary["stable_set"] == list(range(10)) and summary["bounds"]["none"]["value"] == pytest.approx(0.125)
    odd = StabilityResult.from_coefs(np.ones((3, 1, 4)), [0.5])
    assert odd.error_bounds(0.9)["unimodal"]["value"] is None
    with pytest.raises(ValueError, match="complementary pairs"):
        odd.false_selection_bound(0.9, assumption="unimodal")
    unimodal_out_of_range = r.error_bounds(0.51)["unimodal"]
    assert unimodal_out_of_range["value"] is None and "0.52" in unimodal_out_of_range["not_applicable"]


def test_result_round_trips_through_a_dict():
    x, y = design(n=40, d=6, support=(0, 3))
    r = stability_selection(x, y, [1.0, 0.3], n_pairs=2)
    back = StabilityResult.from_dict(r.to_dict())
    for field in ("lambdas", "probabilities", "union_sizes", "converged"):
        np.testing.assert_array_equal(getattr(back, field), getattr(r, field))
    assert back.summary(0.8) == r.summary(0.8)


def _soft_threshold_train(x, y):
    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)

    def train(lam, rows):  # lasso of an orthogonal design, one soft threshold; a dict: two leaves, 4 + 2 features
        w = jaxreg.core.prox.soft_threshold(xj[rows].T @ yj[rows] / rows.shape[0], lam)
        return {"a": w[:4], "b": w[4:]}

    return train


def test_stability_sweep_equals_a_loop_over_the_halves():
    x, y = design(n=60, d=6, support=(0, 3))
    train = _soft_threshold_train(x, y)
    lambdas = np.array([2.0, 0.8, 0.3, 0.05])
    result = stability_sweep(train, lambdas, 60, n_pairs=5, seed=3, chunk_size=7)
    loop = []
    for rows in complementary_pairs(60, 5, seed=3):
        per_lambda = [train(jnp.float32(lam), jnp.asarray(rows)) for lam in lambdas]
        loop.append([np.concatenate([np.asarray(w["a"]), np.asarray(w["b"])]) for w in per_lambda])
    expected = StabilityResult.from_coefs(np.array(loop), lambdas)
    np.testing.assert_array_equal(result.probabilities, expected.probabilities)
    np.testing.assert_array_equal(result.union_sizes, expected.union_sizes)
    assert result.converged is None and result.n_features == 6 and result.n_subsamples == 10
    assert 0 < result.probabilities[1].sum() < 6  # neither all nor nothing selected: the test has teeth


def test_stability_sweep_sets_the_folds_itself():
    train = _soft_threshold_train(*design(n=20, d=6, support=(0,)))
    with pytest.raises(ValueError, match="stability_sweep sets folds itself"):
        stability_sweep(train, [0.5], 20, n_pairs=2, folds=3)
    with pytest.raises(ValueError, match="n_pairs must be a positive int"):
        stability_sweep(train, [0.5], 20, n_pairs=0)


def test_support_metrics_by_hand():
    from jaxreg.selection import support_metrics

    m = support_metrics([0.0, 3.0, 0.0, -1.0, 0.2], [1.0, 2.0, 0.0, -1.0, 0.0])
    assert m == {"tpr": 2 / 3, "fdr": 1 / 3, "n_selected": 3, "n_false": 1,
                 "l2_error": pytest.approx(np.sqrt(1 + 1 + 0 + 0 + 0.04))}
    assert support_metrics(np.zeros(3), [1.0, 0, 0])["fdr"] == 0.0  # nothing selected: no false discovery
    with pytest.raises(ValueError, match="true_coef has no nonzero"):
        support_metrics([1.0], [0.0])


def test_path_cv_equals_a_loop_over_the_folds():
    from jaxreg.selection import path_cv

    x, y = design(n=50, d=6, support=(0, 3))
    lambdas = np.array([1.0, 0.3, 0.1])
    calls = []

    def ridge_like(xc, yc, lam):  # a closed-form path, so the expectation is exact: (XᵀX/n + λI)⁻¹Xᵀy/n
        calls.append((xc.mean(0), yc.mean()))
        g, b = xc.T @ xc / len(yc), xc.T @ yc / len(yc)
        return np.stack([np.linalg.solve(g + a * np.eye(6), b) for a in lam])

    cv = path_cv(ridge_like, x, y, lambdas, folds=4, seed=2)
    assert all(np.allclose(m, 0) and abs(my) < 1e-12 for m, my in calls)  # every fit sees centred data
    for f, test in enumerate(jaxreg.kfold_masks(50, 4, seed=2)):
        tr = ~test
        w = ridge_like(x[tr] - x[tr].mean(0), y[tr] - y[tr].mean(), lambdas)
        pred = y[tr].mean() + (x[test] - x[tr].mean(0)) @ w.T
        np.testing.assert_allclose(cv["scores"][f], ((y[test, None] - pred) ** 2).mean(0))
    np.testing.assert_allclose(cv["coef_min"], ridge_like(x - x.mean(0), y - y.mean(), lambdas)[cv["index_min"]])
    assert cv["lambda_min"] <= cv["lambda_1se"] and cv["coefs"].shape == (3, 6)


def test_refit_least_squares_on_a_support():
    from jaxreg.selection import refit_least_squares

    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 4))
    y = 3 + x[:, 1] * 2.0 - x[:, 2]  # exact: the refit recovers the coefficients, the intercept is free
    np.testing.assert_allclose(refit_least_squares(x, y, [1, 2]), [0, 2.0, -1.0, 0], atol=1e-12)
    np.testing.assert_array_equal(refit_least_squares(x, y, []), np.zeros(4))


def test_benchmark_quick_mode_writes_its_json_row():
    """`benchmarks/stability_selection.py --quick`: one JSON line, the same halves for both, the selections
    compared (timings are recorded, never asserted)."""
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "stability_selection.py"), "--quick",
                          "--dtype", "float64"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (row,) = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert row["quick"] is True and row["dtype"] == "float64" and row["n_subsamples"] == 10
    for key in ("jaxreg_s", "jaxreg_first_call_s", "sklearn_s", "ratio", "max_relative_gap_jaxreg", "device"):
        assert row[key], key
    assert row["max_probability_difference"] <= 0.1 and row["jaxreg_certified"] == 10
    assert row["max_relative_gap_jaxreg"] <= 1e-6  # the certificate, recomputed by the benchmark


@pytest.mark.parametrize("gram", [True, False])
def test_probabilities_equal_a_loop_in_either_layout(gram):
    from jaxreg.solvers._paths import solve_path

    x, y = design(n=60, d=40, support=(0, 3, 7))  # halves of 30 × 40: n < d, so the default is the data layout
    result = stability_selection(x, y, LAMBDAS, n_pairs=3, seed=2, gram=gram)
    solver = default_solver(np.float32)
    coefs = []
    for rows in complementary_pairs(len(y), 3, seed=2):
        xs, ys = x[rows].astype(np.float32), y[rows].astype(np.float32)
        coefs.append(solve_path(xs - xs.mean(0), ys - ys.mean(), LAMBDAS, solver, l1_ratio=1.0, gram=gram))
    np.testing.assert_array_equal(result.probabilities, (np.stack(coefs) != 0).mean(axis=0))


def test_gram_and_solver_are_checked():
    x, y = design(n=20, d=4, support=(0, 3))
    with pytest.raises(ValueError, match="gram must be None"):
        stability_selection(x, y, [0.5], gram="yes")
    with pytest.raises(ValueError, match="solver must be None"):
        stability_selection(x, y, [0.5], solver="auto")


def test_float32_warns_that_its_probabilities_are_not_float64s():
    """float32 paths are certified to a ~1e-3 gap: tiny coefficients near λ_max count as unselected, so say so."""
    import jax

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))
    y = x[:, 0] + 0.1 * rng.normal(size=40)
    with pytest.warns(UserWarning, match="jax_enable_x64"):
        stability_selection(x.astype(np.float32), y.astype(np.float32), [0.5, 0.1], n_pairs=2)
    with jax.enable_x64(True), warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        stability_selection(x, y, [0.5, 0.1], n_pairs=2)


def test_refit_least_squares_mask_equals_indices_and_bad_support_raises():
    """A boolean mask selects its True columns (cast to ints it would mean columns 0 and 1)."""
    from jaxreg.selection import refit_least_squares

    rng = np.random.default_rng(1)
    x = rng.standard_normal((25, 4))
    y = 3 * x[:, 2] - 2 * x[:, 3]
    np.testing.assert_allclose(refit_least_squares(x, y, [False, False, True, True]), [0, 0, 3.0, -2.0], atol=1e-12)
    np.testing.assert_allclose(refit_least_squares(x, y, np.array([2, 3])), [0, 0, 3.0, -2.0], atol=1e-12)
    for support, match in [([True, False], "boolean mask must have shape"), ([2, 2], "duplicate"),
                           ([4], "outside"), ([-1], "outside"), ([0.5], "integer column indices")]:
        with pytest.raises(ValueError, match=match):
            refit_least_squares(x, y, support)


def test_lambda_min_for_bound_unimodal_with_odd_subsamples_raises():
    odd = StabilityResult.from_coefs(np.zeros((3, 2, 4)), [1.0, 0.5])  # q = 0 would qualify at any λ
    with pytest.raises(ValueError, match="complementary pairs"):
        odd.lambda_min_for_bound(0.9, assumption="unimodal")
    assert odd.lambda_min_for_bound(0.9) == 0.5  # the assumption-free bound needs no pairs

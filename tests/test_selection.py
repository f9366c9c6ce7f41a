"""Choosing λ safely: SweepResult.from_sweep, divergence, best / cv by hand, O(n log n) grouping, plots."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg
from jaxreg.engine import DIVERGENCE_FACTOR, SweepResult, diverged_models


def _naive_curve(lam, val, bad):
    """The per-λ mean / sd / count by a Python loop: the reference for the vectorised grouping."""
    grid = np.unique(lam)
    mean, sd, n = [], [], []
    for g in grid:
        v = val[(lam == g) & ~bad & np.isfinite(val)]
        mean.append(v.mean() if v.size else np.nan)
        sd.append(v.std() if v.size else np.nan)
        n.append(v.size)
    return grid, np.array(mean), np.array(sd), np.array(n)


def test_from_sweep_rows_follow_the_sweeps_grid():
    lambdas = np.array([0.01, 0.1, 1.0])

    def train(lam, key, fold):
        w = jax.random.normal(key, (2, 3)) * lam + fold
        return {"metrics": {"val_loss": lam + fold + 0.0 * jnp.sum(w)}, "w": w}

    out = jaxreg.sweep(train, lambdas, keys=[7, 9], folds=2)  # (F, S, K)
    res = SweepResult.from_sweep(out, lambdas, keys=[7, 9], folds=2)
    assert len(res) == 2 * 2 * 3
    assert res.columns == ["lambda", "seed", "fold", "val_loss", "finite", "diverged"]
    i = 0
    for f in range(2):
        for s, seed in enumerate([7, 9]):
            for k, lam in enumerate(lambdas):
                assert res.row(i)["lambda"] == lam and res.row(i)["seed"] == seed and res.row(i)["fold"] == f
                np.testing.assert_array_equal(res.params["w"][i], out["w"][f, s, k])
                i += 1
    assert res.params["w"].shape == (12, 2, 3)


@pytest.mark.parametrize("axes", [(), ("keys",), ("folds",), ("folds", "keys")])
def test_from_sweep_accepts_every_grid_shape(axes):
    K, S, F = 4, 3, 2
    shape = (F,) * ("folds" in axes) + (S,) * ("keys" in axes) + (K,)
    vals = np.arange(np.prod(shape), dtype=float).reshape(shape)
    kw = {"keys": jax.random.split(jax.random.key(0), S)} if "keys" in axes else {}
    kw.update({"folds": F} if "folds" in axes else {})
    res = SweepResult.from_sweep({"val_loss": vals}, np.geomspace(0.01, 1, K), **kw)
    np.testing.assert_array_equal(res.table["val_loss"], vals.ravel())
    assert set(res.table["seed"].tolist()) == set(range(S if "keys" in axes else 1))
    assert ("fold" in res.table) == ("folds" in axes)
    with pytest.raises(ValueError, match=r"grid's shape"):
        SweepResult.from_sweep({"val_loss": vals, "bad": np.ones(5)}, np.geomspace(0.01, 1, K), **kw)


def test_the_readme_argmin_trap_and_best():
    lambdas = np.array([1e-4, 1e-3, 1e-2, 1e-1])
    out = {"train_loss": np.array([np.nan, 3e16, 0.30, 0.50]), "val_loss": np.array([np.nan, 4e16, 0.35, 0.55])}
    assert np.argmin(out["val_loss"]) == 0  # the first NaN: what out["val_loss"].argmin() picks
    res = SweepResult.from_sweep(out, lambdas, initial_loss=2.3)
    assert res.table["diverged"].tolist() == [True, True, False, False]
    b = res.best()
    assert b["lambda"] == 1e-2 and b["val_loss"] == 0.35 and b["row"] == 2
    assert res.best("val_loss", "max")["lambda"] == 1e-1


def test_a_finite_loss_far_above_its_start_is_diverged():
    finite = np.ones(4, bool)
    loss = np.array([0.5, 9.9, 10.1, np.inf])
    np.testing.assert_array_equal(diverged_models(finite, loss, 1.0), [False, False, True, True])
    np.testing.assert_array_equal(diverged_models(finite, loss, 0.0), [False] * 4)  # no start to compare with
    np.testing.assert_array_equal(diverged_models(finite, loss), [False] * 4)  # finiteness only
    assert DIVERGENCE_FACTOR == 10.0


def test_finite_leaf_decides_finiteness_and_initial_loss_column_is_used():
    out = {"train_loss": np.array([0.1, 50.0, 0.2]), "val_loss": np.array([0.2, 0.1, 0.3]),
           "val_accuracy": np.full(3, np.nan),  # not applicable (regression): the finite leaf decides
           "initial_loss": np.array([1.0, 1.0, 1.0]), "finite": np.array([True, True, True])}
    res = SweepResult.from_sweep(out, [0.1, 1.0, 10.0])
    assert res.table["finite"].all() and res.table["diverged"].tolist() == [False, True, False]
    assert res.best()["lambda"] == 0.1  # λ = 1.0 has the lowest val_loss but diverged


def test_best_raises_when_every_model_diverged():
    res = SweepResult.from_sweep({"val_loss": np.array([np.nan, np.inf])}, [0.1, 1.0])
    with pytest.raises(ValueError, match=r"no model can be chosen by val_loss: all 2 models diverged"):
        res.best()
    with pytest.raises(ValueError, match="no λ can be chosen"):
        SweepResult.from_sweep({"val_loss": np.full((2, 2), np.nan)}, [0.1, 1.0], folds=2).cv()
    with pytest.raises(ValueError, match=r"unknown metric 'loss'"):
        res.best("loss")
    with pytest.raises(ValueError, match="mode must be"):
        res.best(mode="lowest")


def test_per_penalty_best_marks_a_penalty_whose_models_all_diverged():
    a = SweepResult.from_sweep({"val_loss": np.array([0.3, 0.2])}, [0.1, 1.0], penalty="l2")
    b = SweepResult.from_sweep({"val_loss": np.array([np.nan, np.nan])}, [0.1, 1.0], penalty="l1")
    res = SweepResult({k: np.concatenate([a.table[k], b.table[k]]) for k in a.table})
    best = res.best()
    assert best["l2"]["lambda"] == 1.0 and best["l1"]["lambda"] is None
    assert res.best(penalty="l2")["lambda"] == 1.0
    with pytest.raises(ValueError, match="no model can be chosen"):
        res.best(penalty="l1")
    with pytest.raises(ValueError, match="penalty must be one of l2, l1"):
        res.best(penalty="l3")


def test_cv_by_hand_se_over_folds_of_the_seed_averaged_scores():
    rng = np.random.default_rng(0)
    F, S, K = 4, 3, 5
    lambdas = np.geomspace(1e-3, 1.0, K)
    val = rng.uniform(1.0, 2.0, size=(F, S, K))
    val[:, :, 2] -= 0.5  # a clear minimum at λ_2
    s = SweepResult.from_sweep({"val_loss": val}, lambdas, keys=list(range(S)), folds=F).cv()
    per_fold = val.mean(axis=1)  # (F, K): each fold's score is the mean over its seeds
    mean = per_fold.mean(axis=0)
    se = per_fold.std(axis=0, ddof=1) / np.sqrt(F)  # over the F folds, not the F·S models
    np.testing.assert_allclose(s["mean"], mean)
    np.testing.assert_allclose(s["se"], se)
    i_min = int(np.argmin(mean))
    within = np.flatnonzero(mean <= mean[i_min] + se[i_min])
    assert s["lambda_min"] == lambdas[i_min] == lambdas[2]
    assert s["lambda_1se"] == lambdas[within.max()]
    assert (s["n_folds"], s["n_seeds"]) == (F, S)
    # one diverged model at λ_2 removes that λ from the choice
    val[1, 2, 2] = np.nan
    s2 = SweepResult.from_sweep({"val_loss": val}, lambdas, keys=list(range(S)), folds=F).cv()
    assert np.isnan(s2["mean"][2]) and s2["lambda_min"] != lambdas[2] and s2["n_diverged"][2] == 1


def test_cv_needs_folds():
    with pytest.raises(ValueError, match="no fold column"):
        SweepResult.from_sweep({"val_loss": np.ones((2, 3))}, [0.1, 1.0, 10.0], keys=[0, 1]).cv()


def test_cv_summary_still_works():
    s = jaxreg.cv_summary([0.1, 1.0, 10.0], [[3.0, 1.0, 1.1], [3.0, 1.2, 1.2]])
    assert (s["lambda_min"], s["lambda_1se"]) == (1.0, 10.0)


def test_grouping_equals_a_loop_on_shuffled_rows_of_several_penalties():
    rng = np.random.default_rng(1)
    n = 600
    pen = rng.choice(["l2", "l1", "l1_prox"], n)
    lam = rng.choice(np.geomspace(1e-3, 1, 17), n)
    val = rng.normal(size=n)
    val[rng.random(n) < 0.1] = np.nan
    finite = rng.random(n) > 0.1
    res = SweepResult({"penalty": pen, "lambda": lam, "seed": np.zeros(n, int), "val_loss": val, "finite": finite})
    curves = res.curves("val_loss")
    assert list(curves) == list(dict.fromkeys(pen.tolist()))  # the order the penalties first occur
    for p, c in curves.items():
        sel = pen == p
        grid, mean, sd, count = _naive_curve(lam[sel], val[sel], ~finite[sel])
        np.testing.assert_array_equal(c.lambdas, grid)
        np.testing.assert_allclose(c.mean, mean, rtol=1e-12)
        np.testing.assert_allclose(c.spread, sd, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(c.n, count)
        np.testing.assert_array_equal(c.n_diverged, [np.sum(~finite[sel] & (lam[sel] == g)) for g in grid])
        assert res.groups("val_loss")[p][0].tolist() == grid.tolist()
        b = res.best(penalty=p)
        assert b["lambda"] == grid[np.nanargmin(mean)] and b["val_loss"] == pytest.approx(np.nanmin(mean))


def test_two_hundred_thousand_rows_group_in_one_sort():
    # A loop over λ (the quadratic grouping) would take minutes here; one sort takes well under a second.
    K, S = 100_000, 2
    lambdas = np.geomspace(1e-6, 1.0, K)
    rng = np.random.default_rng(2)
    val = (np.log(lambdas) + 7.0) ** 2 + rng.uniform(0, 0.1, (S, K))
    val[0, ::1000] = np.nan
    res = SweepResult.from_sweep({"val_loss": val, "train_loss": val}, lambdas, keys=[0, 1], initial_loss=1e3)
    assert len(res) == 200_000
    b = res.best()
    i = np.nanargmin(np.where(np.isnan(val).any(0), val[1], val.mean(0)))
    assert b["lambda"] == pytest.approx(lambdas[i])
    assert res.curves().n_diverged.sum() == K // 1000
    cv = SweepResult.from_sweep({"val_loss": val}, lambdas, folds=2).cv()
    assert cv["lambda_min"] == lambdas[np.nanargmin(np.where(np.isnan(val).any(0), np.nan, val.mean(0)))]
    assert len(res.to_csv().splitlines()) == 200_001


def test_to_dataframe_and_save_load_keep_the_divergence_columns(tmp_path):
    out = {"val_loss": np.array([0.3, np.nan, 0.1])}
    res = SweepResult.from_sweep(out, [0.1, 1.0, 10.0])
    df = res.to_dataframe()
    assert list(df.columns) == ["lambda", "seed", "val_loss", "finite", "diverged"]
    assert df["diverged"].tolist() == [False, True, False]
    res.save(str(tmp_path))
    back = SweepResult.load(str(tmp_path))
    assert back.best()["lambda"] == 10.0 and back.table["diverged"].dtype == bool


def test_plots_leave_diverged_models_out_and_mark_them():
    pytest.importorskip("matplotlib")
    lambdas = np.geomspace(1e-3, 1, 6)
    val = np.array([[0.9, 0.5, 0.3, 0.4, 0.8, 5e16], [0.95, 0.55, 0.35, 0.45, 0.85, 0.9]])
    w = np.zeros((2, 6, 3, 1))
    w[..., 0, 0] = 1.0 / (1 + lambdas)
    res = SweepResult.from_sweep({"val_loss": val, "train_loss": val, "w": w}, lambdas, keys=[0, 1],
                                 initial_loss=1.0)
    fig = res.plot_validation_curve()
    ax = fig.axes[0]
    assert ax.get_ylim()[1] < 2.0  # the 5e16 model would flatten every other point
    marks = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(marks) == 1 and marks[0].get_xdata().tolist() == [lambdas[-1]]
    assert res.plot_sparsity().axes[0].get_lines()[0].get_ydata().tolist() == pytest.approx([2 / 3] * 6)
    path = res.plot_coefficient_path()
    np.testing.assert_allclose(path.axes[0].get_lines()[0].get_ydata(), 1.0 / (1 + lambdas))

"""Choosing λ safely: SweepResult.from_sweep, divergence, best / cv by hand, O(n log n) grouping, plots;
the command's default step size, its divergence report, --task and the recorded data source."""

import json
import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg
from jaxreg import app
from jaxreg.app import SweepConfig, _runner as runner
from jaxreg.app._cli import main
from jaxreg.app._step_size import data_curvature, default_step_size
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


def test_without_an_initial_loss_a_finite_divergence_is_announced_not_silent():
    # every model diverged but stayed finite (a learning rate far too large): nothing can flag it without a start
    out = {"val_loss": np.array([382.0, 488.0, 366.0]), "train_loss": np.array([375.0, 480.0, 360.0])}
    with pytest.warns(UserWarning, match="no 'initial_loss', so only non-finite models count as diverged"):
        res = SweepResult.from_sweep(out, [0.1, 1.0, 10.0])
    assert res.info["grid"]["divergence_checked"] is False and not res.table["diverged"].any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # given a start, or opted out: no warning
        flagged = SweepResult.from_sweep({**out, "initial_loss": np.full(3, 2.3)}, [0.1, 1.0, 10.0])
        SweepResult.from_sweep(out, [0.1, 1.0, 10.0], initial_loss=False)
    assert flagged.table["diverged"].all() and flagged.info["grid"]["divergence_checked"] is True
    with pytest.raises(ValueError, match="all 3 models diverged"):
        flagged.best()


def test_best_skips_a_lambda_where_a_fold_diverged_and_warns_about_survivors():
    # fold 0 (the hard one) diverged at λ = 1.0: a mean over the two easy folds there must not beat λ = 0.1
    val = np.array([[2.0, 1.9, np.nan], [0.5, 0.45, 0.6], [0.5, 0.46, 0.61]])
    out = {"val_loss": val, "train_loss": np.where(np.isnan(val), np.nan, 0.3), "initial_loss": np.ones_like(val)}
    res = SweepResult.from_sweep(out, [0.01, 0.1, 1.0], folds=3)
    b = res.best()
    assert b["lambda"] == 0.1 == res.cv()["lambda_min"] and b["n"] == 3
    # without folds a λ keeps its healthy seeds, and choosing it says that some diverged
    seeds = SweepResult.from_sweep({"val_loss": np.array([[0.5, 0.3], [0.6, np.nan]])}, [0.1, 1.0], keys=[0, 1],
                                   initial_loss=False)
    with pytest.warns(UserWarning, match=r"best λ 1 by val_loss: 1 of its models diverged; its mean is over the 1"):
        assert seeds.best()["lambda"] == 1.0


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


# --- the command: default step size, divergence report, task, data source --------------------------------

#: Every bundled dataset with the models that fit its task.
BUNDLED = [(name, model) for name in app.DATASETS
           for model in (("linear", "mlp") if name == "diabetes" else ("logistic", "mlp"))]


@pytest.mark.parametrize("dataset", app.DATASETS)
def test_default_step_size_never_diverges_on_the_bundled_data(dataset):
    # the grid's two ends: the smallest λ damps least, the largest adds the most L2 curvature; 40 steps are
    # enough for an unstable step to grow the loss past 10x (e.g. 0.5 on diabetes: see the next tests)
    for name, model in [b for b in BUNDLED if b[0] == dataset]:
        cfg = SweepConfig(dataset=name, model=model, penalties=app.PENALTIES, num_lambdas=2, steps=40, hidden=8,
                          keep_params=False)
        res = runner.run(cfg, log=None, progress=False)
        assert res.info["divergence"]["n_diverged"] == 0, (name, model, res.info["divergence"])
        for pen, b in res.best("val_loss").items():
            assert b["lambda"] is not None and b["n_diverged"] == 0, (name, model, pen)


def test_default_step_is_one_over_the_curvature_plus_the_l2_curvature():
    cfg = SweepConfig(dataset="diabetes", model="linear", penalties=("l2", "l1", "l1_prox"), num_lambdas=5)
    ds = runner.load_data(cfg)
    lambdas, _ = runner.lambda_grid(ds, cfg)
    x = np.hstack([ds.x_train, np.ones((len(ds.x_train), 1))]).astype(np.float64)
    L = np.linalg.eigvalsh(x.T @ x / len(x))[-1]  # half MSE: the Hessian is X̃ᵀX̃/n
    steps = runner.step_sizes(ds, cfg, lambdas)
    assert steps["l2"].learning_rate == pytest.approx(1 / (L + 2 * lambdas.max()), rel=1e-2)
    assert steps["l2"].learning_rate <= 1 / (L + 2 * lambdas.max())  # rounded down, never up
    assert steps["l1"].learning_rate == steps["l1_prox"].learning_rate == pytest.approx(1 / L, rel=1e-2)
    assert 0.5 > 2 / L  # the old default of 0.5 was past the stability limit 2/L on this data
    assert default_step_size("l2", L, 1.0, "adam").learning_rate == 0.01
    # cross-validation folds and minibatches can only make L larger (a smaller step)
    folds = app.SweepConfig(folds=3).cv_folds
    masks = jaxreg.kfold_masks(len(ds.y_train), folds)
    assert data_curvature(ds, "linear", fold_masks=masks) >= L * (1 - 1e-9)
    assert data_curvature(ds, "linear", batch_size=16) > L


def test_a_huge_learning_rate_reports_how_many_models_diverged(tmp_path, capsys):
    rc = main(["sweep", "--dataset", "diabetes", "--penalty", "l2", "--penalty", "l1_prox", "--num-lambdas", "6",
               "--steps", "40", "--lr", "0.5", "--no-params", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())  # strict JSON: NaN written as null
    d = summary["divergence"]
    assert d["n_diverged"] > 0 and d["by_penalty"]["l2"]["n_diverged"] == 6
    assert f"{d['n_diverged']} of 12 models diverged" in out
    assert summary["best"]["l2"]["lambda"] is None and "diverged" in out.split("penalty")[-1]
    rows = SweepResult.load(str(tmp_path))
    l1 = summary["best"]["l1_prox"]
    if l1["lambda"] is not None:
        assert not rows.table["diverged"][l1["row"]]
    assert "diverged" in rows.columns and "initial_loss" in rows.columns


def test_default_run_says_nothing_diverged_and_records_its_step(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the library's own path raises none of its warnings
        rc = main(["sweep", "--dataset", "diabetes", "--model", "linear", "--penalty", "l2", "--num-lambdas", "10",
                   "--steps", "100", "--no-params", "--quiet", "--out", str(tmp_path)])
    assert rc == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["divergence"]["n_diverged"] == 0
    assert summary["step_size"]["rule"]["l2"] == "1/(L + 2·λ_max)" and summary["learning_rate"]["l2"] < 0.5
    assert summary["best"]["l2"]["val_loss"] < 1.0


def _integer_regression_csv(path, n=120):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))
    y = np.clip(np.round(10 + 3 * x[:, 0] - 2 * x[:, 1]), 0, 21).astype(int)  # ages, counts: integer quantities
    path.write_text("a,b,c,y\n" + "\n".join(",".join([*map(str, r), str(t)]) for r, t in zip(x, y)))
    return str(path)


def test_task_is_inferred_with_a_reason_or_given(tmp_path, capsys):
    data = _integer_regression_csv(tmp_path / "ages.csv")
    out = tmp_path / "auto"
    assert main(["sweep", "--data", data, "--penalty", "l2", "--num-lambdas", "3", "--steps", "5", "--no-params",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "task: classification (inferred: the target's values are integers" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"]["task"] == "classification" and "inferred" in summary["dataset"]["task_reason"]
    given = tmp_path / "given"
    assert main(["sweep", "--data", data, "--task", "regression", "--penalty", "l2", "--num-lambdas", "3",
                 "--steps", "5", "--no-params", "--quiet", "--out", str(given)]) == 0
    summary = json.loads((given / "summary.json").read_text())
    assert summary["dataset"]["task"] == "regression" and summary["model"] == "linear"
    assert summary["dataset"]["task_reason"] == "given (task regression)"
    # the data source is the file, not the bundled default
    assert summary["dataset"]["source"] == "file" and summary["dataset"]["path"] == os.path.abspath(data)
    assert summary["config"]["dataset"] is None and summary["dataset"]["name"] == "ages"
    manifest = json.loads((given / "manifest.json").read_text())  # the checkpoint manifest records the same
    assert manifest["config"]["dataset"] is None
    assert main(["sweep", "--dataset", "digits", "--task", "regression", "--out", str(tmp_path / "x")]) == 2
    assert "--task is regression, but the bundled dataset digits is a classification task" in capsys.readouterr().err


def test_config_task_and_lr_defaults():
    cfg = SweepConfig().validate()
    assert cfg.lr is None and cfg.task == "auto"
    assert "task" not in cfg.to_dict()  # absent = auto: sweeps saved before the field still resume
    assert SweepConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(app.ConfigError, match="^task must be one of auto, regression, classification"):
        SweepConfig(task="ranking").validate()


def test_the_guides_example_runs():
    text = open(os.path.join(os.path.dirname(__file__), "..", "docs", "guide-selection.md"), encoding="utf-8").read()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    scope = {}
    exec(compile(code, "docs/guide-selection.md", "exec"), scope)
    assert scope["best"]["lambda"] in scope["lambdas"] and scope["cv"]["lambda_1se"] >= scope["cv"]["lambda_min"]
    assert scope["res"].params["w"].shape[0] == len(scope["res"]) == 4 * 2 * 16

"""SweepResult save/load, best(); datasets and user files."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg
from jaxreg import app
from jaxreg.engine import SweepResult


def _result():
    table = {
        "penalty": np.array(["l2", "l2", "l2", "l2", "l1", "l1"]),
        "lambda": np.array([0.1, 0.1, 1.0, 1.0, 0.1, 1.0]),
        "seed": np.array([0, 1, 0, 1, 0, 0]),
        "val_loss": np.array([0.5, 0.7, 0.4, np.nan, 0.3, 0.2]),
        "finite": np.array([True, True, True, False, True, True]),
    }
    params = {"w": np.arange(12.0).reshape(6, 2)}
    return SweepResult(table=table, params=params, info={"note": "x", "v": np.float32(1.5)})


def test_save_load_round_trip(tmp_path):
    r = _result()
    r.save(str(tmp_path))
    back = SweepResult.load(str(tmp_path))
    assert back.columns == r.columns
    for k in r.table:
        np.testing.assert_array_equal(back.table[k], r.table[k])
        assert back.table[k].dtype.kind == r.table[k].dtype.kind
    np.testing.assert_array_equal(back.params["w"], r.params["w"])
    assert back.info["note"] == "x"
    assert not any(n.startswith(".tmp") for n in os.listdir(tmp_path))


def test_best_skips_diverged_rows_and_averages_seeds():
    best = _result().best("val_loss")
    assert best["l2"]["lambda"] == 1.0 and best["l2"]["val_loss"] == pytest.approx(0.4)
    assert best["l1"]["lambda"] == 1.0
    df = _result().to_dataframe()
    assert list(df.columns) == _result().columns and len(df) == 6


def test_bundled_datasets():
    for name in app.DATASETS:
        ds = app.load_dataset(name)
        assert ds.x_train.dtype == np.float32 and ds.x_train.shape[1] == ds.x_val.shape[1]
        np.testing.assert_allclose(ds.x_train.mean(0), 0, atol=1e-5)
    assert app.load_dataset("digits").n_classes == 10
    assert app.load_dataset("diabetes").task == "regression"
    assert len(app.load_dataset("digits", n_train=200).y_train) == 200


def test_user_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = (x[:, 0] > 0).astype(int)
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,c,label\n" + "\n".join(",".join(map(str, [*r, t])) for r, t in zip(x, y)))
    ds = app.load_file(str(csv))
    assert ds.task == "classification" and ds.n_features == 3
    npz = tmp_path / "d.npz"
    np.savez(npz, x=x, y=x @ np.array([1.0, 2.0, 3.0]))
    assert app.load_file(str(npz)).task == "regression"


# --- choosing λ by a score, replicates, the grid's edges (a new user's findings) ---

ACC = np.array([[[.90, .95, .50]], [[.91, .96, .52]], [[.89, .94, .49]]])  # (F=3, S=1, K=3): higher is better


def _acc_result():
    return SweepResult.from_sweep({"val_acc": ACC}, [0.01, 0.1, 1.0], keys=[0], folds=3)


def test_an_accuracy_is_maximised_by_default_and_a_loss_minimised():
    res = _acc_result()
    assert res.best("val_acc")["lambda"] == 0.1 and res.best("val_acc")["val_acc"] == pytest.approx(0.95)
    cv = res.cv("val_acc")
    assert cv["lambda_min"] == 0.1 and cv["mode"] == "max"
    assert res.cv("val_acc", mode="max")["lambda_min"] == 0.1
    assert res.cv("val_acc", mode="min")["lambda_min"] == 1.0  # asked for: the smallest mean
    assert res.best("val_acc", mode="min")["lambda"] == 1.0
    loss = SweepResult.from_sweep({"val_loss": 1 - ACC}, [0.01, 0.1, 1.0], keys=[0], folds=3)
    assert loss.best("val_loss")["lambda"] == 0.1 and loss.cv("val_loss")["lambda_min"] == 0.1


@pytest.mark.parametrize("metric,mode", [
    ("val_loss", "min"), ("train_loss", "min"), ("test_error", "min"), ("mse", "min"), ("val_nll", "min"),
    ("rmse", "min"), ("val/mae", "min"), ("val_accuracy", "max"), ("acc", "max"), ("val_auc", "max"),
    ("r2", "max"), ("f1", "max"), ("precision", "max"), ("recall", "max"), ("top1_acc", "max")])
def test_the_direction_is_read_from_the_metric_name(metric, mode):
    res = SweepResult.from_sweep({metric: np.array([0.2, 0.1, 0.3])}, [0.01, 0.1, 1.0])
    assert res.best(metric)["lambda"] == (0.1 if mode == "min" else 1.0)


@pytest.mark.parametrize("metric", ["zeros", "sparsity", "score", "neg_mse", "loss_accuracy", "negative_loss",
                                    "1_minus_acc", "loss_reduction", "mse_improvement", "accuracy_drop",
                                    "cost_savings"])
def test_a_metric_without_a_clear_direction_needs_mode(metric):
    res = SweepResult.from_sweep({metric: np.ones((2, 3))}, [0.01, 0.1, 1.0], folds=2)
    for choose in (res.best, res.cv):
        with pytest.raises(ValueError, match=rf"{metric!r}.*mode='min'.*mode='max'"):
            choose(metric)
    assert res.best(metric, mode="max")["lambda"] == 0.01


def test_lambda_1se_in_the_max_direction_is_the_largest_lambda_within_one_se_below_the_best():
    acc = np.array([[0.80, 0.90, 0.89, 0.70], [0.84, 0.92, 0.92, 0.72]])  # (F=2, K=4)
    lambdas = [0.01, 0.1, 1.0, 10.0]
    s = SweepResult.from_sweep({"val_accuracy": acc}, lambdas, folds=2).cv("val_accuracy")
    mean, se = acc.mean(0), acc.std(0, ddof=1) / np.sqrt(2)
    assert s["lambda_min"] == 0.1  # the best (largest) mean: 0.91
    within = [lam for lam, m in zip(lambdas, mean) if m >= mean[1] - se[1]]
    assert s["lambda_1se"] == max(within) == 1.0  # 0.905 >= 0.91 - 0.01; the loss rule would keep 0.1


def test_best_uses_the_fold_level_standard_error_as_cv_does():
    # identical seeds (a zero-initialised linear model, full batch): the rows of seed 1 repeat seed 0's
    per_fold = np.array([[0.30, 0.20, 0.25], [0.36, 0.26, 0.31], [0.33, 0.21, 0.27]])  # (F=3, K=3)
    val = np.repeat(per_fold[:, None, :], 2, axis=1)  # (F, S=2, K)
    res = SweepResult.from_sweep({"val_loss": val}, [0.01, 0.1, 1.0], keys=[0, 1], folds=3)
    with pytest.warns(UserWarning, match="seeds change nothing for this model: they are not independent"):
        b = res.best("val_loss")
    cv = res.cv("val_loss")
    se = per_fold[:, 1].std(ddof=1) / np.sqrt(3)
    assert b["lambda"] == cv["lambda_min"] == 0.1
    assert b["se"] == pytest.approx(se) == pytest.approx(cv["se"][1])
    assert (b["n"], b["n_counts"], b["n_models"]) == (3, "folds", 6)
    c = res.curves("val_loss")  # what the validation curve's band shows
    np.testing.assert_allclose(c.se, cv["se"])
    assert c.replicates == "folds"


def test_identical_seeds_warn_once_and_different_seeds_not_at_all():
    import warnings

    same = SweepResult.from_sweep({"val_loss": np.array([[0.3, 0.2], [0.3, 0.2]])}, [0.1, 1.0], keys=[0, 1])
    assert same.seeds_identical("val_loss")
    with pytest.warns(UserWarning, match="seeds change nothing"):
        same.best("val_loss")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same.best("val_loss")  # once per result
        other = SweepResult.from_sweep({"val_loss": np.array([[0.3, 0.2], [0.3, 0.21]])}, [0.1, 1.0], keys=[0, 1],
                                       initial_loss=False)
        assert not other.seeds_identical("val_loss")
        assert other.best("val_loss")["n_counts"] == "models"
        one_seed = SweepResult.from_sweep({"val_loss": np.array([0.3, 0.2])}, [0.1, 1.0], initial_loss=False)
        assert not one_seed.seeds_identical("val_loss") and one_seed.best()["n"] == 1


def test_folds_that_repeat_an_earlier_fold_warn():
    import warnings

    # masks made for 3 folds, swept with folds=5: JAX clamps held[3] and held[4] to held[2]
    held = jnp.asarray(jaxreg.kfold_masks(30, 3))
    x = jnp.linspace(-1.0, 1.0, 30)

    def train(lam, fold):
        w = 1.0 - held[fold]
        fit = jnp.sum(w * x * x) / jnp.sum(w) / (1.0 + lam)
        return {"val_loss": jnp.sum(held[fold] * (x - fit) ** 2), "train_loss": fit, "initial_loss": 1.0 + 0 * fit}

    out = jaxreg.sweep(train, [0.1, 1.0], folds=5)
    with pytest.warns(UserWarning, match=r"folds \[3, 4\] gave bit-identical metrics to an earlier fold"):
        SweepResult.from_sweep(out, [0.1, 1.0], folds=5)
    with pytest.warns(UserWarning, match=r"folds \[7\] gave"):  # fold ids as the sweep got them
        SweepResult.from_sweep(jax.tree.map(lambda a: a[2:4], out), [0.1, 1.0], folds=[5, 7])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SweepResult.from_sweep(jaxreg.sweep(train, [0.1, 1.0], folds=3), [0.1, 1.0], folds=3)
        # equal constants prove nothing: a saturated accuracy, folds whose every model diverged
        SweepResult.from_sweep({"val_accuracy": np.ones((3, 2))}, [0.1, 1.0], folds=3, initial_loss=False)
        SweepResult.from_sweep({"val_loss": np.full((2, 2), np.nan)}, [0.1, 1.0], folds=2, initial_loss=False)


def test_a_choice_at_the_grid_edge_is_flagged():
    lambdas = [0.01, 0.1, 1.0]
    low = SweepResult.from_sweep({"val_loss": np.array([[0.1, 0.2, 0.3], [0.12, 0.22, 0.3]])}, lambdas, folds=2)
    assert low.best()["at_grid_edge"] == "lower" and low.cv()["at_grid_edge"] == "lower"
    high = SweepResult.from_sweep({"val_loss": np.array([0.3, 0.2, 0.1])}, lambdas)
    assert high.best()["at_grid_edge"] == "upper"
    inside = SweepResult.from_sweep({"val_loss": np.array([0.3, 0.1, 0.2])}, lambdas)
    assert inside.best()["at_grid_edge"] is None
    assert _acc_result().cv("val_acc")["at_grid_edge"] is None


def test_the_validation_curve_marks_the_best_accuracy_and_bands_the_fold_level_se():
    pytest.importorskip("matplotlib")
    res = _acc_result()
    fig = res.plot_validation_curve("val_acc", train_metric=None)
    ax = fig.axes[0]
    assert "best λ=0.1" in [t.get_text() for t in ax.get_legend().get_texts()]
    per_fold = ACC[:, 0, :]
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    se = per_fold.std(0, ddof=1) / np.sqrt(3)
    np.testing.assert_allclose([band.min(), band.max()], [(per_fold.mean(0) - se).min(), (per_fold.mean(0) + se).max()])


def test_weight_histogram_passes_mode_and_raises_for_a_directionless_metric():
    import matplotlib

    matplotlib.use("Agg")
    from jaxreg.engine import plot_weight_histogram

    w = np.array([[1.0, 2.0], [0.0, 1.5], [0.0, 0.5]])[:, :, None]
    res = SweepResult.from_sweep({"score": np.array([0.3, 0.9, 0.4]), "w": w}, [0.01, 0.1, 1.0])
    with pytest.raises(ValueError, match="whether smaller or larger"):  # not a panel titled "diverged"
        plot_weight_histogram(res, metric="score")
    assert plot_weight_histogram(res, metric="score", mode="max").axes[0].get_title() == "λ=0.1"
    assert plot_weight_histogram(res, metric="score", mode="min").axes[0].get_title() == "λ=0.01"
    with pytest.raises(ValueError, match="unknown metric"):
        plot_weight_histogram(res, metric="val_los")


def test_identical_seeds_are_recorded_and_warned_per_metric():
    """Seeds that tie on an accuracy but change the loss: the accuracy's record must not stand for the loss."""
    import warnings

    out = {"val_acc": np.array([[0.9, 0.8], [0.9, 0.8]]), "val_loss": np.array([[0.3, 0.2], [0.31, 0.2]])}
    res = SweepResult.from_sweep(out, [0.1, 1.0], keys=[0, 1])
    with pytest.warns(UserWarning, match="seeds change nothing"):
        res.best("val_acc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert res.best("val_loss")["n_counts"] == "models"  # no warning: the seeds change the loss
    assert res.info["seeds_identical_by_metric"] == {"val_acc": True, "val_loss": False}
    same = SweepResult.from_sweep({"val_acc": out["val_acc"], "val_loss": out["val_acc"]}, [0.1, 1.0], keys=[0, 1])
    with pytest.warns(UserWarning, match="seeds change nothing"):
        same.best("val_acc")
    with pytest.warns(UserWarning, match="bit-identical val_loss"):  # the other metric is checked too
        same.best("val_loss")

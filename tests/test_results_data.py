"""SweepResult save/load, best(); datasets and user files."""

import os

import numpy as np
import pytest

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

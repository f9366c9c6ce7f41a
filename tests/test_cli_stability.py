"""`jaxreg sweep --stability B`: the files, the summary's stable set and bounds, the flags' errors."""

import csv
import json

import numpy as np
import pytest

from jaxreg.app import SweepConfig, lambda_grid, load_data
from jaxreg.app._cli import main
from jaxreg.app._stability import DEFAULT_THRESHOLD
from jaxreg.selection import StabilityResult, stability_selection

ARGS = ["sweep", "--dataset", "diabetes", "--penalty", "l1_prox", "--num-lambdas", "12", "--steps", "10"]


def test_stability_writes_probabilities_stable_set_and_bounds(tmp_path, capsys):
    rc = main([*ARGS, "--stability", "4", "--stability-threshold", "0.8", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "stability selection: 4 pairs of halves" in out and "stable set (selection probability >= 0.8" in out
    for name in ("stability.csv", "stability_path.png"):
        assert str(tmp_path / name) in out
    # the assumption-free bound counts stable features of low selection probability, noise features only under
    # Meinshausen & Bühlmann's assumptions: the line must not call it a bound on wrong selections outright
    assert "expected stable features of low selection probability (<= q/d = " in out, out
    assert "noise features only under Meinshausen & Bühlmann's assumptions" in out and "wrongly" not in out
    assert (tmp_path / "stability_path.png").read_bytes()[:4] == b"\x89PNG"

    summary = json.loads((tmp_path / "summary.json").read_text())["stability"]
    assert "result" not in summary  # the arrays are in stability.csv and result.json
    assert summary["threshold"] == 0.8 and summary["n_subsamples"] == 8 and summary["n_pairs"] == 4
    assert set(summary["bounds"]) == {"none", "unimodal"} and summary["bounds"]["none"]["value"] <= 1.0
    assert "Theorem 1" in summary["bounds"]["none"]["reference"]

    # the command's probabilities are stability_selection's on the training split, with the sweep's grid
    cfg = SweepConfig(dataset="diabetes", num_lambdas=12, stability=4)
    ds = load_data(cfg)
    lambdas = lambda_grid(ds, cfg)[0]
    direct = stability_selection(ds.x_train, ds.y_train, lambdas, n_pairs=4, seed=0)
    with open(tmp_path / "stability.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["lambda"] + [f"feature_{j}" for j in range(10)]
    table = np.array(rows[1:], dtype=float)
    np.testing.assert_array_equal(table[:, 0], direct.lambdas)
    np.testing.assert_array_equal(table[:, 1:], direct.probabilities)
    lam_min = direct.lambda_min_for_bound(0.8)
    assert summary["lambda_min"] == lam_min and summary["stable_set"] == direct.stable_set(0.8, lam_min).tolist()

    saved = json.loads((tmp_path / "result.json").read_text())["info"]["stability"]["result"]
    np.testing.assert_array_equal(StabilityResult.from_dict(saved).probabilities, direct.probabilities)


def test_defaults_stay_out_of_the_saved_configuration():
    saved = SweepConfig().to_dict()  # sweeps saved before the stability options still resume
    assert not {"stability", "stability_threshold", "stability_max_false"} & set(saved)
    assert SweepConfig(stability=3).to_dict()["stability"] == 3
    assert SweepConfig().stability_threshold == DEFAULT_THRESHOLD


@pytest.mark.parametrize("flags,message", [
    (["--stability", "-1"], "--stability must be an integer >= 0 (complementary pairs of halves; 0 = off), got -1"),
    (["--stability", "5", "--stability-threshold", "0.5"], "--stability-threshold must be in (0.5, 1]"),
    (["--stability", "5", "--stability-max-false", "0"], "--stability-max-false must be a number > 0"),
    (["--stability-threshold", "0.9"], "--stability-threshold and --stability-max-false apply to stability "
                                       "selection: add --stability B"),
    (["--stability", "two"], "argument --stability: invalid int value: 'two'"),
])
def test_bad_stability_flags_are_one_line_naming_the_flag(flags, message, tmp_path, capsys):
    assert main([*ARGS, *flags, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxreg: error: ") and message in err and err.count("\n") == 1


def test_stability_needs_a_regression_target(tmp_path, capsys):
    assert main(["sweep", "--dataset", "wine", "--num-lambdas", "3", "--steps", "5", "--stability", "5",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--stability fits lasso paths (least squares) and needs a regression target" in err
    assert "classification task (see --task)" in err


def test_stability_max_false_help_says_what_the_bound_counts(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "probability <= q/d" in text and "noise features only under Meinshausen" in text
    assert "wrongly stable" not in text

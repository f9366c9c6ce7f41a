"""Every experiment runs (quick mode) and writes its JSON + figure; the README table is the JSON's."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXP = os.path.join(ROOT, "experiments")
sys.path.insert(0, EXP)
import report  # noqa: E402

KEYS = {"name", "claim", "setup", "measured", "result", "verdict", "figures", "quick", "device", "seconds"}


SCRIPTS = [n for n in report.ORDER if n not in report.WRITTEN_BY]  # a script may write several rows


@pytest.mark.parametrize("name", SCRIPTS)
def test_experiment_quick_mode(name, tmp_path):
    proc = subprocess.run([sys.executable, f"{name}.py", "--quick", "--out", str(tmp_path)], cwd=EXP,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in [name] + [r for r, script in report.WRITTEN_BY.items() if script == name]:
        with open(tmp_path / f"{row}.json") as f:
            r = json.load(f)
        assert KEYS <= set(r) and r["quick"] is True and r["measured"]
        for fig in r["figures"]:
            assert (tmp_path / fig).read_bytes()[:4] == b"\x89PNG"


def test_tuning_experiments_count_costs_and_compare_as_documented():
    import e8_per_layer_l2 as e8
    import e9_weighted_lasso as e9

    cfg = e8.FULL
    runs = e8.tuning_runs(cfg, check_evaluations=11)
    assert runs["descent"] == cfg.starts * cfg.hyper_steps * (1 + e8.BACKWARD)
    assert runs["total"] == cfg.coarse + 11 + runs["descent"] + cfg.starts + 1
    assert e8.running_best(np.array([np.nan, 0.5, 0.7, 0.2, np.inf])).tolist() == [0, 1, 1, 3, 3]
    assert e8.comparison([-0.03, -0.02, -0.025], "better", "worse") == "better"
    assert e8.comparison([0.03, 0.02, 0.025], "better", "worse") == "worse"
    assert e8.comparison([-0.03, 0.02, 0.001], "better", "worse") == "no clear difference"
    assert e9.paired([1.0, 1.0, 1.0], [1.1, 1.3, 1.2]) == "lower"
    data = e9.make_data(e9.QUICK, seed=0)
    truth = np.abs(data.coef)
    assert (truth == e9.QUICK.strong).sum() == e9.QUICK.n_strong and (truth == e9.QUICK.weak).sum() == e9.QUICK.n_weak
    s = e9.scores(data, data.coef, 0.0, np.zeros(e9.QUICK.d), e9.QUICK)  # the truth: all found, none false
    assert (s["true_strong"], s["true_weak"], s["false_positives"]) == (e9.QUICK.n_strong, e9.QUICK.n_weak, 0)


def test_readme_table_is_generated_from_the_committed_json():
    results = os.path.join(EXP, "results")
    if not all(os.path.exists(os.path.join(results, f"{n}.json")) for n in report.ORDER):
        pytest.skip("no committed results: run `make experiments`")
    with open(os.path.join(EXP, "README.md")) as f:
        assert f.read() == report.render(results), "experiments/README.md is stale: run experiments/report.py"
    for n in report.ORDER:
        with open(os.path.join(results, f"{n}.json")) as f:
            assert json.load(f)["quick"] is False, f"{n}.json was written in quick mode"

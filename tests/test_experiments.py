"""Every experiment runs (quick mode) and writes its JSON + figure; the README table is the JSON's."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXP = os.path.join(ROOT, "experiments")
sys.path.insert(0, EXP)
import report  # noqa: E402

KEYS = {"name", "claim", "setup", "measured", "result", "verdict", "figures", "quick", "device", "seconds"}


@pytest.mark.parametrize("name", report.ORDER)
def test_experiment_quick_mode(name, tmp_path):
    proc = subprocess.run([sys.executable, f"{name}.py", "--quick", "--out", str(tmp_path)], cwd=EXP,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / f"{name}.json") as f:
        r = json.load(f)
    assert KEYS <= set(r) and r["quick"] is True and r["measured"]
    for fig in r["figures"]:
        assert (tmp_path / fig).read_bytes()[:4] == b"\x89PNG"


def test_readme_table_is_generated_from_the_committed_json():
    results = os.path.join(EXP, "results")
    if not all(os.path.exists(os.path.join(results, f"{n}.json")) for n in report.ORDER):
        pytest.skip("no committed results: run `make experiments`")
    with open(os.path.join(EXP, "README.md")) as f:
        assert f.read() == report.render(results), "experiments/README.md is stale: run experiments/report.py"
    for n in report.ORDER:
        with open(os.path.join(results, f"{n}.json")) as f:
            assert json.load(f)["quick"] is False, f"{n}.json was written in quick mode"

"""`jaxreg sweep` end to end in a temp dir, and its one-line errors."""

import csv
import json
import os
import subprocess
import sys

from jaxreg.app._cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = ["penalty", "lambda", "seed", "train_loss", "val_loss", "val_accuracy", "sparsity", "near_zero", "finite"]


def test_cli_end_to_end(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "jaxreg", "sweep", "--num-lambdas", "6", "--steps", "20", "--seeds", "2",
           "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "best λ" in proc.stdout and "l1_prox" in proc.stdout
    for name in ("results.csv", "summary.json", "validation_curve.png", "sparsity.png", "weights_hist.png"):
        assert (out / name).stat().st_size > 0, name
        assert str(out / name) in proc.stdout
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 6 * 2
    assert all(c in rows[0] for c in COLUMNS)
    assert {r["penalty"] for r in rows} == {"l2", "l1", "l1_prox"}
    assert all(r["finite"] == "True" for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["best"]) == {"l2", "l1", "l1_prox"}
    for key in ("config", "timings", "device", "lambdas"):
        assert key in summary
    for png in ("validation_curve.png", "sparsity.png", "weights_hist.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_cross_validation_and_regression(tmp_path, capsys):
    rc = main(["sweep", "--dataset", "diabetes", "--num-lambdas", "5", "--steps", "30", "--folds", "3",
               "--penalty", "l1_prox", "--lr", "0.1", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    s = summary["cv"]["l1_prox"]
    assert s["lambda_1se"] >= s["lambda_min"]
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 5 and {r["fold"] for r in rows} == {"0", "1", "2"}

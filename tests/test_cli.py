"""`jaxreg sweep` end to end in a temp dir; one-line errors for the user's problems, tracebacks for bugs."""

import csv
import json
import os
import subprocess
import sys
import textwrap

import jax.numpy as jnp
import pytest

from jaxreg.app import ConfigError, SweepConfig, _runner as runner
from jaxreg.app._cli import flag, main

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


def test_config_error_is_one_line_naming_the_flag_and_exit_2(tmp_path, capsys):
    assert main(["sweep", "--num-lambdas", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "jaxreg: error: --num-lambdas must be an integer >= 1, got 0\n"


def test_config_error_names_the_field_from_python():
    with pytest.raises(ConfigError) as info:
        SweepConfig(num_lambdas=0).validate()
    assert str(info.value) == "num_lambdas must be an integer >= 1, got 0"
    assert info.value.fields == ("num_lambdas",)
    with pytest.raises(ConfigError, match=r"^penalties must be one of .*got 'l3'$"):
        SweepConfig(penalties=("l3",)).validate()
    e = ConfigError("{penalties} must be one of l2, l1", "penalties")
    assert e.render(flag) == "--penalty must be one of l2, l1"
    assert isinstance(info.value, ValueError)  # callers that caught ValueError still do


def test_jaxreg_debug_shows_the_traceback_of_a_config_error(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXREG_DEBUG", "1")
    with pytest.raises(ConfigError, match="num_lambdas"):
        main(["sweep", "--num-lambdas", "0", "--out", str(tmp_path)])


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path, capsys):
    # a model whose shapes do not fit: a bug in the code, not a bad option
    broken = lambda *args, **kwargs: (lambda lam, key: {"metrics": jnp.ones(3) @ jnp.ones(4)})  # noqa: E731
    monkeypatch.setattr(runner, "make_train_fn", broken)
    with pytest.raises(TypeError):
        main(["sweep", "--penalty", "l2", "--num-lambdas", "2", "--steps", "2", "--quiet", "--out", str(tmp_path)])
    assert "jaxreg: error" not in capsys.readouterr().err


def test_an_internal_value_error_prints_a_traceback_and_exits_1(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        from jaxreg.app import _runner, main

        def boom(*args, **kwargs):
            raise ValueError("boom")

        _runner.lambda_grid = boom
        sys.exit(main(["sweep", "--num-lambdas", "2", "--steps", "2", "--quiet", "--out", {str(tmp_path)!r}]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback (most recent call last)" in proc.stderr and "ValueError: boom" in proc.stderr
    assert "jaxreg: error" not in proc.stderr

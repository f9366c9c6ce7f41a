"""`jaxreg sweep` end to end in a temp dir; one-line errors for the user's problems, tracebacks for bugs."""

import csv
import json
import os
import re
import subprocess
import sys
import textwrap

import jax.numpy as jnp
import numpy as np
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
    assert s["lambda_1se"] >= s["lambda_min"] and s["mode"] == "min" and "at_grid_edge" in s
    from jaxreg.app import load_dataset

    y = load_dataset("diabetes").info  # the target is standardised: its scale is recorded to read losses back
    assert (summary["dataset"]["y_mean"], summary["dataset"]["y_std"]) == (y["y_mean"], y["y_std"])
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


# --- The command's data and obscure errors (issue 21) ---

def _error_line(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("jaxreg: error: ") and err.count("\n") == 1, err
    return err


def test_a_headerless_csv_with_a_byte_order_mark_keeps_its_first_row(tmp_path):
    from jaxreg.app import load_file

    rows = "\n".join(f"{i},{(i * 7) % 5},{i % 2}" for i in range(12))
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    plain.write_text(rows, encoding="utf-8")
    marked.write_text(rows, encoding="utf-8-sig")  # what Excel's "CSV UTF-8" writes
    assert marked.read_bytes().startswith(b"\xef\xbb\xbf")
    a, b = load_file(str(plain)), load_file(str(marked))
    assert b.info["n_samples"] == a.info["n_samples"] == 12
    for k in ("x_train", "y_train", "x_val", "y_val"):
        assert (getattr(a, k) == getattr(b, k)).all(), k


def test_a_binary_or_latin1_data_file_names_the_data_flag(tmp_path, capsys):
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("größe,preis,klasse\n".encode("latin-1") + b"".join(
        f"{i},{i % 3},{i % 2}\n".encode() for i in range(20)))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    for path in (latin1, binary):
        err = _error_line(capsys, ["sweep", "--data", str(path), "--out", str(tmp_path / "run")])
        assert f"--data file {path} is not UTF-8 text" in err, err


def test_reading_a_csv_takes_a_small_multiple_of_its_size(tmp_path):
    import tracemalloc

    from jaxreg.app._data import _read_csv

    rng = np.random.default_rng(0)
    path = tmp_path / "big.csv"
    path.write_text("\n".join(",".join(f"{v:.6f}" for v in row) for row in rng.normal(size=(20_000, 11))))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        x, y = _read_csv(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert x.shape == (20_000, 10) and y.shape == (20_000,)
    assert peak < 2 * size, f"peak {peak / size:.1f}× the file's size"  # a list of Python floats takes ~13×


def test_a_csv_numpy_refuses_is_read_row_by_row(tmp_path):
    from jaxreg.app._data import _read_csv

    path = tmp_path / "quirks.csv"  # blank lines, a row of empty cells, quotes, 1_000: only Python's float reads all
    path.write_text('\n\na,b,y\n\n"1",1_000,0\n,,\n2,3,1\n  \n4,5,0\n')
    x, y = _read_csv(str(path))
    np.testing.assert_array_equal(x, [[1, 1000], [2, 3], [4, 5]])
    np.testing.assert_array_equal(y, [0, 1, 0])


def test_lambda_max_zero_names_the_options(tmp_path, capsys):
    constant = tmp_path / "constant.csv"
    constant.write_text("\n".join(f"{i * 0.37:.3f},{i % 5}.5,2.5" for i in range(30)))  # the target never varies
    err = _error_line(capsys, ["sweep", "--data", str(constant), "--steps", "2", "--out", str(tmp_path / "a")])
    assert "λ_max of L1 is 0" in err and "--lambda-max" in err, err
    err = _error_line(capsys, ["sweep", "--dataset", "diabetes", "--n-train", "1", "--steps", "2",
                               "--out", str(tmp_path / "b")])
    assert "λ_max of L1 is 0" in err and "--n-train" in err, err


def test_a_split_too_small_for_the_classes_names_val_fraction(tmp_path, capsys):
    four = tmp_path / "four.csv"
    four.write_text("0.1,0.2,0\n0.3,0.1,0\n0.9,0.8,1\n0.7,0.9,1\n")
    err = _error_line(capsys, ["sweep", "--data", str(four), "--steps", "2", "--out", str(tmp_path / "a")])
    assert "--val-fraction = 0.25" in err and "set --val-fraction to 0.5" in err, err
    assert main(["sweep", "--data", str(four), "--val-fraction", "0.5", "--penalty", "l2", "--num-lambdas", "2",
                 "--steps", "2", "--quiet", "--out", str(tmp_path / "b")]) == 0


def test_ctrl_c_while_jaxreg_imports_is_one_line_and_130(tmp_path):
    """The console script's entry module catches a KeyboardInterrupt raised while the package imports."""
    code = ("import builtins, sys\n"
            "real = builtins.__import__\n"
            "def interrupted(name, *a, **k):\n"
            "    if name.startswith('jaxreg.app'):\n"
            "        raise KeyboardInterrupt\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = interrupted\n"
            "import jaxreg_entry\n"
            "sys.exit(jaxreg_entry.main())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(tmp_path))
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip() == "jaxreg: interrupted (while starting; nothing was run)", proc.stderr


def test_ctrl_c_while_python_m_jaxreg_imports_is_one_line_and_130(tmp_path):
    """``python -m jaxreg`` imports the package before ``__main__`` runs: a real SIGINT during that import."""
    (tmp_path / "sitecustomize.py").write_text(
        "import builtins, os, signal\n"
        "real = builtins.__import__\n"
        "def interrupting(name, *a, **k):\n"
        "    if name.startswith('jaxreg.engine'):\n"
        "        builtins.__import__ = real\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = interrupting\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), ROOT])}
    proc = subprocess.run([sys.executable, "-m", "jaxreg", "sweep", "--help"], capture_output=True, text=True,
                          timeout=120, cwd=str(tmp_path), env=env)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip() == "jaxreg: interrupted (while starting; nothing was run)", proc.stderr
    assert proc.stdout == ""


def test_python_m_jaxreg_gives_ctrl_c_back_to_the_command():
    """Once imported, SIGINT is Python's KeyboardInterrupt again (the command's own handling, resumable runs)."""
    code = ("import signal, sys; sys.argv[0] = '-m'; import jaxreg; import jaxreg._startup as s; "
            "assert signal.getsignal(signal.SIGINT) is s._exit_interrupted; s.restore_interrupts(); "
            "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_a_summary_that_cannot_be_written_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    """summary.json goes through a temporary file: a failure half-way never leaves a truncated summary."""
    cfg = SweepConfig(dataset="wine", penalties=("l2",), num_lambdas=2, steps=2, keep_params=False)
    result = runner.run(cfg, log=None, progress=False)
    runner.write_outputs(result, str(tmp_path))
    before = (tmp_path / "summary.json").read_text()
    json_ready = runner._json_ready  # the summary alone gets a value json fails on, after the keys before it
    monkeypatch.setattr(runner, "_json_ready", lambda obj: {**json_ready(obj), "zz_not_json": object()}
                        if isinstance(obj, dict) and "best" in obj else json_ready(obj))
    with pytest.raises(TypeError, match="not JSON serializable"):
        runner.write_outputs(result, str(tmp_path))
    assert (tmp_path / "summary.json").read_text() == before
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


# --- what a new user found: the command's choices, resume, silent options ---

SMALL_RUN = ["sweep", "--penalty", "l2", "--penalty", "l1_prox", "--num-lambdas", "3", "--steps", "10"]


def test_a_best_lambda_at_the_grid_edge_and_identical_seeds_are_noted_and_recorded(tmp_path, capsys):
    # λ from 0.5 to 1 on digits: far too strong, so the least regularised model wins, at the grid's lower end;
    # the logistic model starts at zero and trains on full batches: its two seeds are the same model
    assert main([*SMALL_RUN, "--lambda-min", "0.5", "--lambda-max", "1", "--seeds", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {pen: b["at_grid_edge"] for pen, b in summary["best"].items()} == {"l2": "lower", "l1_prox": "lower"}
    notes = [line for line in out.splitlines() if "grid's edge" in line]
    assert len(notes) == 1 and "l2" in notes[0] and "l1_prox" in notes[0] and "--lambda-min" in notes[0], out
    assert summary["seeds_identical"] is True and "seeds change nothing" in out
    assert summary["best"]["l2"]["n_counts"] == "models"


def test_logistic_on_a_regression_target_is_one_line_naming_model_and_task(tmp_path, capsys):
    err = _error_line(capsys, ["sweep", "--dataset", "diabetes", "--model", "logistic", "--out", str(tmp_path)])
    assert "--model 'logistic' needs class labels" in err and "--task" in err and "'linear' or 'mlp'" in err, err


def test_resume_merges_the_flags_given_over_the_saved_options(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["sweep", "--dataset", "wine", "--penalty", "l2", "--num-lambdas", "4", "--steps", "20", "--folds", "2",
            "--chunk-size", "2", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    reference = (out / "results.csv").read_text()
    capsys.readouterr()
    err = _error_line(capsys, ["sweep", "--resume", str(out), "--steps", "30"])
    assert "--steps (20 then, 30 now)" in err and "drop --steps, or start a new run with another --out" in err, err
    for unchanged in ("folds", "num-lambdas", "penalty", "λ grid"):
        assert unchanged not in err, err
    os.remove(out / "results.csv")
    assert main(["sweep", "--resume", str(out), "--quiet"]) == 0  # the saved options alone
    assert main(["sweep", "--resume", str(out), "--steps", "20", "--quiet"]) == 0  # a flag equal to the saved one
    assert (out / "results.csv").read_text() == reference


@pytest.mark.parametrize("flags,message", [
    (["--folds", "1"], "--folds must be 0 (no cross-validation: the fixed validation split) or >= 2"),
    (["--folds", "-1"], "--folds must be 0"),
    (["--hidden", "3"], "--hidden sets the hidden units of --model mlp, but the model is the default (logistic "
                        "for classes, linear for regression): add --model mlp, or drop --hidden"),
    (["--n-train", "5"], r"--n-train 5 leaves \d of the 10 classes out of the training split"),
])
def test_options_that_would_be_ignored_or_meaningless_are_refused(flags, message, tmp_path, capsys):
    err = _error_line(capsys, [*SMALL_RUN, *flags, "--out", str(tmp_path)])
    assert re.search(message if message.startswith("--n-train") else re.escape(message), err), err


def test_folds_zero_and_a_small_complete_training_split_still_run(tmp_path, capsys):
    assert main([*SMALL_RUN, "--folds", "0", "--n-train", "60", "--quiet", "--out", str(tmp_path / "a")]) == 0
    assert main([*SMALL_RUN, "--model", "mlp", "--hidden", "3", "--quiet", "--out", str(tmp_path / "b")]) == 0

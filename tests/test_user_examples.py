"""The user-model examples (flax nnx, flax linen with BatchNorm + Dropout, equinox) run in their quick mode."""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> str:
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), "--quick", *args],
                          capture_output=True, text=True, check=True, timeout=600).stdout


def test_equinox_unit_pruning_prunes_units_at_large_lambda(tmp_path):
    pytest.importorskip("equinox")
    out = _run("equinox_unit_pruning.py", "--out", str(tmp_path / "units.png"))
    pruned = [int(k) for k in re.findall(r"(\d+)/32 hidden units pruned", out)]
    assert len(pruned) == 6 and pruned[0] == 0 and pruned[-1] > 0, out
    assert (tmp_path / "units.png").stat().st_size > 0


def _cv_lines(out: str) -> tuple[int, float, float]:
    lines = re.findall(r"CV loss ([0-9.]+) ± ([0-9.]+)", out)
    m = re.search(r"lambda_min ([0-9.e-]+), lambda_1se ([0-9.e-]+)", out)
    assert lines and m, out
    assert re.search(r"0 of \d+ models diverged", out), out
    return len(lines), float(m.group(1)), float(m.group(2))


def test_flax_nnx_mlp_cv_picks_lambda_min_and_1se():
    pytest.importorskip("flax.nnx")
    n, lam_min, lam_1se = _cv_lines(_run("flax_nnx_mlp_cv.py"))
    assert n == 4 and 0 < lam_min <= lam_1se


def test_flax_linen_cnn_with_batchnorm_and_dropout_cv():
    pytest.importorskip("flax.linen")
    n, lam_min, lam_1se = _cv_lines(_run("flax_linen_cnn_cv.py"))
    assert n == 3 and 0 < lam_min <= lam_1se


def test_tune_per_layer_l2_improves_on_the_coarse_sweep(tmp_path):
    out = _run("tune_per_layer_l2.py", "--plot", str(tmp_path / "tune.png"))
    coarse = float(re.search(r"coarse sweep .*val loss ([0-9.]+)", out).group(1))
    tuned = float(re.search(r"hypergradient descent, 3 starts: .*val loss ([0-9.]+)", out).group(1))
    assert tuned <= coarse, out  # the best start begins at the sweep's best λ: never worse
    assert (tmp_path / "tune.png").stat().st_size > 0


def test_user_model_benchmark_quick_mode_writes_a_row_per_workload():
    """`benchmarks/user_model_sweep.py --quick`: a JSON row per workload, each peer timed, the sweep's results
    those of the loop (a smoke run of the issue's benchmark; its timings are not asserted)."""
    import json

    pytest.importorskip("flax.nnx")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "user_model_sweep.py"), "--quick"],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["model"] for r in rows] == ["mlp", "nnx", "nnx_minibatch"]
    assert [r["batch_size"] for r in rows] == [None, None, 128]
    for r in rows:
        assert r["jaxreg_s"] > 0 and r["loop_s"] > 0 and r["naive_vmap_s"] > 0 and r["jaxreg_second_compiled"] == 0
        assert r["max_abs_diff_vs_loop"] < 1e-3, r

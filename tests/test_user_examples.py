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

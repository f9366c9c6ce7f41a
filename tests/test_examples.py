"""The README's worked example runs and shows what it claims."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_quickstart_prox_gives_zeros_sign_step_does_not():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout
    zeros = [int(z) for z in re.findall(r"exact zeros (\d+)/", out)]
    assert len(zeros) == 2, out
    assert zeros[0] == 0 and zeros[1] > 0, out


def test_sweep_in_python_example():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sweep_in_python.py")],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout
    m = re.search(r"best λ ([0-9.e-]+): val loss ([0-9.]+), (\d+)% exact zeros", out)
    assert m, out
    assert float(m.group(2)) < 0.2 and int(m.group(3)) > 0

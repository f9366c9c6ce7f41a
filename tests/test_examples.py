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
    line = re.compile(r"best λ ([0-9.e-]+) \(grid edge: (\w+)\): val loss ([0-9.]+) ± ([0-9.]+), (\d+)% exact zeros; "
                      r"CV λ_min ([0-9.e-]+), λ_1se ([0-9.e-]+)")
    m = line.search(out)
    assert m, out
    assert float(m.group(3)) < 0.2 and int(m.group(5)) > 0
    # the README shows what it prints: the choices exactly, the loss and its standard error up to float rounding
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    shown = line.search(re.search(r"It prints `(best λ [^`]*)`", readme).group(1))
    assert shown, "the README's sweep example does not show its output line"
    for i in (1, 2, 5, 6, 7):
        assert m.group(i) == shown.group(i), (m.group(0), shown.group(0))
    for i in (3, 4):
        assert abs(float(m.group(i)) - float(shown.group(i))) <= 2e-4, (m.group(0), shown.group(0))

"""Two processes on 127.0.0.1 (2 host devices each, gloo) equal one process with 4 devices;
a killed process makes the other fail with a clear error in bounded time."""

import csv
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxreg.engine._distributed import cpu_collectives_available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(
    not cpu_collectives_available(), reason="the installed jaxlib has no CPU (gloo) collectives"
)
SMALL = ["sweep", "--penalty", "l2", "--penalty", "l1_prox", "--num-lambdas", "10", "--seeds", "2", "--steps", "30",
         "--chunk-size", "8", "--quiet"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    return env


def _launch(args, pid, port, out, **kw):
    cmd = [sys.executable, "-m", "jaxreg", *args, "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
           "--process-id", str(pid), "--local-devices", "2", "--out", str(out)]
    return subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_two_processes_equal_one(tmp_path):
    port = _port()
    procs = [_launch(SMALL, i, port, tmp_path / "multi") for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, e) in zip(procs, outs):
        assert p.returncode == 0, e[-3000:]
    single = subprocess.run([sys.executable, "-m", "jaxreg", *SMALL, "--local-devices", "4", "--out",
                             str(tmp_path / "single")], cwd=ROOT, env=_env(), capture_output=True, text=True,
                            timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    multi, one = _rows(tmp_path / "multi" / "results.csv"), _rows(tmp_path / "single" / "results.csv")
    assert len(multi) == len(one) == 2 * 10 * 2
    for a, b in zip(multi, one):
        ident = ("penalty", "lambda", "seed", "finite")
        assert [a[k] for k in ident] == [b[k] for k in ident]
        for k in ("train_loss", "val_loss", "val_accuracy", "sparsity", "l1", "l2"):
            np.testing.assert_allclose(float(a[k]), float(b[k]), rtol=2e-6, atol=2e-6)
    assert not (tmp_path / "multi" / "chunks").exists() or os.listdir(tmp_path / "multi" / "chunks")
    import json

    summary = json.loads((tmp_path / "multi" / "summary.json").read_text())
    assert summary["n_processes"] == 2 and summary["n_devices"] == 4


def test_killed_process_fails_the_other_in_bounded_time(tmp_path):
    port = _port()
    long = ["sweep", "--penalty", "l2", "--num-lambdas", "64", "--steps", "3000", "--chunk-size", "4", "--quiet"]
    procs = [_launch(long, i, port, tmp_path / "run") for i in range(2)]
    first_chunk = tmp_path / "run" / "chunks" / "l2-00000000-00000004.npz"
    deadline = time.time() + 300
    while not first_chunk.exists() and time.time() < deadline and procs[0].poll() is None:
        time.sleep(0.1)
    assert first_chunk.exists(), procs[0].communicate()[1][-3000:]
    procs[1].send_signal(signal.SIGKILL)
    t0 = time.time()
    try:
        _, err = procs[0].communicate(timeout=240)
    except subprocess.TimeoutExpired:
        procs[0].kill()
        pytest.fail("the surviving process hung after its peer was killed")
    waited = time.time() - t0
    assert procs[0].returncode == 1, err[-2000:]
    assert waited < 120
    lines = [ln for ln in err.splitlines() if ln.startswith("jaxreg: error:")]
    assert len(lines) == 1 and "distributed job failed" in lines[0] and "--resume" in lines[0], err[-2000:]
    procs[1].wait()

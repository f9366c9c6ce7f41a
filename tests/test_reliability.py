"""Nothing lost (kill and resume), corrupted chunks, divergence isolation, determinism."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

import jaxreg
from jaxreg import app
from jaxreg.app import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = ["sweep", "--penalty", "l2", "--penalty", "l1_prox", "--num-lambdas", "40", "--chunk-size", "4",
        "--steps", "400", "--quiet"]


def _jaxreg(args, **kw):
    return subprocess.run([sys.executable, "-m", "jaxreg", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, **kw)


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    killed, full = tmp_path / "killed", tmp_path / "full"
    proc = subprocess.Popen([sys.executable, "-m", "jaxreg", *ARGS, "--out", str(killed)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def recorded():  # chunks the manifest lists (a chunk file counts only once recorded there)
        try:
            m = json.loads((killed / "manifest.json").read_text())
        except (OSError, ValueError):
            return 0
        return sum(len(p["chunks"]) for p in m["penalties"].values())

    deadline = time.time() + 300
    while recorded() == 0 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert recorded() >= 1, "no chunk was recorded before the kill"
    done_before = len(os.listdir(killed / "chunks"))
    assert done_before < 20, "the sweep finished before it could be killed; make it longer"
    assert not (killed / "results.csv").exists()

    resumed = _jaxreg(["sweep", "--resume", str(killed)])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed" in resumed.stdout
    assert _jaxreg([*ARGS, "--out", str(full)]).returncode == 0
    assert (killed / "results.csv").read_text() == (full / "results.csv").read_text()


def test_resume_refuses_a_different_config_and_recomputes_corrupt_chunks(tmp_path, capsys):
    out = tmp_path / "run"
    small = ["sweep", "--penalty", "l2", "--num-lambdas", "6", "--chunk-size", "2", "--steps", "20", "--quiet"]
    assert main([*small, "--out", str(out)]) == 0
    reference = (out / "results.csv").read_text()
    capsys.readouterr()

    assert main([*small[:-1], "--steps", "30", "--resume", str(out)]) == 2
    err = capsys.readouterr().err
    assert "different configuration" in err and "steps" in err and err.count("\n") == 1

    assert main(["sweep", "--out", str(out)]) == 2  # never overwrite a sweep silently
    assert "--resume" in capsys.readouterr().err

    manifest = json.loads((out / "manifest.json").read_text())
    files = sorted(c["file"] for c in manifest["penalties"]["l2"]["chunks"].values())
    assert len(files) == 3
    (out / "chunks" / files[1]).write_bytes(b"corrupted")
    os.remove(out / "results.csv")
    assert main(["sweep", "--resume", str(out)]) == 0
    assert "corrupted" in capsys.readouterr().out
    assert (out / "results.csv").read_text() == reference


def test_diverged_models_are_flagged_and_isolated():
    import jax

    cfg = app.SweepConfig(penalties=("l2",), steps=60, lr=0.5).validate()
    ds = app.load_data(cfg)
    train = app.make_train_fn(ds, cfg, "l2")
    lams = np.array([1e-4, 1e-2, 50.0, 0.1, 500.0])  # 2αλ > 2 diverges: λ = 50, 500
    good = [0, 1, 3]
    out = jax.tree.map(np.asarray, jaxreg.sweep(train, lams, keys=[0]))
    only_good = jaxreg.sweep(train, lams[good], keys=[0])
    m = out["metrics"]
    np.testing.assert_array_equal(m["finite"][0], [True, True, False, True, False])
    for k in ("train_loss", "val_loss", "val_accuracy", "sparsity", "l2"):
        assert np.all(np.isnan(m[k][0, [2, 4]])), k
        np.testing.assert_allclose(m[k][0, good], only_good["metrics"][k][0], rtol=2e-6, atol=2e-6)


def test_deterministic_mode_is_bit_identical_across_chunks_devices_and_neighbours():
    script = textwrap.dedent(
        """
        import json, jax, numpy as np
        from jaxreg import app, sweep
        assert len(jax.devices()) == 8
        cfg = app.SweepConfig(penalties=("l1",), steps=50, lr=0.5).validate()
        ds = app.load_data(cfg)
        train = app.make_train_fn(ds, cfg, "l1")
        lams = np.geomspace(1e-4, 0.2, 30)
        eq = lambda a, b: all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
        run = lambda lams, **kw: sweep(train, lams, keys=[0, 1], vmap_size=1, **kw)
        one = run(lams, devices=jax.devices()[:1])
        eight = run(lams)
        chunked = run(lams, chunk_size=7, devices=jax.devices()[:1])
        subset = run(lams[::3], devices=jax.devices()[:1])
        print(json.dumps({"devices": eq(one, eight), "chunks": eq(one, chunked),
                          "neighbours": eq(jax.tree.map(lambda a: a[:, ::3], one), subset)}))
        """
    )
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=8")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"devices": True, "chunks": True, "neighbours": True}

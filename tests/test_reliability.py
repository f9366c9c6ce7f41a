"""Nothing lost (kill and resume), corrupted chunks, divergence isolation, determinism."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

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


# --- Reliability, round two (issue 21): resume never mixes inputs, one run per directory, one line per failure ---

SMALL = ["sweep", "--penalty", "l2", "--num-lambdas", "6", "--chunk-size", "2", "--steps", "10", "--quiet"]


def _write_csv(path, seed=0, n=60):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = x @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.normal(size=n)
    path.write_text("\n".join(",".join(f"{v:.6f}" for v in row) for row in np.column_stack([x, y])) + "\n")


def _one_error_line(err):
    return err.startswith("jaxreg: error: ") and err.count("\n") == 1


def test_resume_refuses_changed_data_naming_it(tmp_path, capsys):
    data, out = tmp_path / "d.csv", tmp_path / "run"
    _write_csv(data)
    args = [*SMALL, "--data", str(data)]
    assert main([*args, "--out", str(out)]) == 0
    os.remove(out / "results.csv")  # as if interrupted after its chunks
    _write_csv(data, seed=1)  # same path, other contents
    capsys.readouterr()
    for resume in ([*args, "--resume", str(out)], ["sweep", "--resume", str(out)]):
        assert main(resume) == 2
        err = capsys.readouterr().err
        assert _one_error_line(err) and "the data's contents" in err, err
    assert not (out / "results.csv").exists()
    _write_csv(data)  # the original data back: the resume goes through, nothing recomputed
    assert main(["sweep", "--resume", str(out)]) == 0


def test_resume_refuses_another_device_count_unless_deterministic(tmp_path):
    out = tmp_path / "run"
    assert _jaxreg([*SMALL, "--local-devices", "2", "--out", str(out)]).returncode == 0
    os.remove(out / "results.csv")
    refused = _jaxreg(["sweep", "--resume", str(out), "--local-devices", "1"])
    assert refused.returncode == 2 and _one_error_line(refused.stderr), refused.stderr[-2000:]
    assert "devices" in refused.stderr and "2 device(s)" in refused.stderr and "1 device(s)" in refused.stderr
    from jaxreg.engine._checkpoint import device_fingerprint

    # one model at a time gives the same bits on any number of devices: the count is not part of its fingerprint
    assert "device(s)" not in device_fingerprint(count_matters=False)


def test_a_run_holding_the_directory_refuses_a_second_one(tmp_path, capsys):
    from jaxreg.engine._checkpoint import RunLock

    out = tmp_path / "run"
    out.mkdir()
    with RunLock(str(out)):  # another open file description: flock conflicts as with another process
        assert main([*SMALL, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert _one_error_line(err) and f"--out {out} is in use by another jaxreg run (pid {os.getpid()}" in err, err
    assert not (out / "manifest.json").exists()
    assert main([*SMALL, "--out", str(out)]) == 0  # released: the directory is free again


def test_simultaneous_runs_on_one_directory_exactly_one_succeeds(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "jaxreg", *SMALL, "--out", str(out)]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    done = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert sorted(rc for rc, _ in done) == [0, 2, 2, 2], done
    for rc, err in done:
        if rc:
            assert _one_error_line(err) and ("is in use by another jaxreg run" in err or "already holds" in err), err
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 6


def _chunk_store_with_chunks(directory):
    from jaxreg.engine._checkpoint import ChunkStore

    store = ChunkStore(directory, {"steps": 3}, [0.1, 0.2, 0.3, 0.4, 0.5], resume=False, log=None)
    outputs = {}
    for start, stop in ((0, 2), (2, 4), (4, 5)):
        outputs[start] = {"w": np.arange(start, stop, dtype=np.float32), "m": {"loss": np.ones(stop - start)}}
        store.save("l2", start, stop, outputs[start], chunk_size=2)
    return outputs


def test_a_damaged_manifest_is_rebuilt_from_the_chunks_every_byte(tmp_path):
    import warnings

    from jaxreg.engine._checkpoint import CheckpointWarning, ChunkStore

    d = str(tmp_path)
    outputs = _chunk_store_with_chunks(d)
    path = tmp_path / "manifest.json"
    original = path.read_bytes()
    for i in range(len(original)):
        damaged = bytearray(original)
        damaged[i] ^= 0x04  # one flipped bit in byte i
        path.write_bytes(bytes(damaged))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            store = ChunkStore(d, {"steps": 3}, [0.1, 0.2, 0.3, 0.4, 0.5], resume=True, log=None)
            for start, stop in ((0, 2), (2, 4), (4, 5)):
                got = store.load("l2", start, stop)
                assert got is not None, f"byte {i}: chunk {start}-{stop} lost"
                np.testing.assert_array_equal(got["w"], outputs[start]["w"])
        assert store.chunk_size("l2") == 2, f"byte {i}"
        assert not [w for w in caught if "corrupted" in str(w.message)], f"byte {i}"
        path.write_bytes(original)
    # a list-shaped or foreign manifest is rebuilt the same way, with a warning that says so
    for foreign in (b"[1, 2]", b'{"name": "someone else\'s"}'):
        path.write_bytes(foreign)
        with pytest.warns(CheckpointWarning, match="rebuilt it from the 3 intact chunk file"):
            ChunkStore(d, {"steps": 3}, [0.1, 0.2, 0.3, 0.4, 0.5], resume=True, log=None)


def test_foreign_manifests_and_a_chunks_file_are_one_line_errors(tmp_path, capsys):
    for name, content in (("list", "[1, 2]"), ("foreign", '{"penalties": 3}'), ("v1", '{"version": 1}')):
        d = tmp_path / name
        d.mkdir()
        (d / "manifest.json").write_text(content)
        assert main(["sweep", "--resume", str(d)]) == 2, name
        err = capsys.readouterr().err
        assert _one_error_line(err) and "manifest.json is" in err, err
        assert main([*SMALL, "--resume", str(d)]) == 2, name
        assert _one_error_line(capsys.readouterr().err)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "chunks").write_text("a file where the chunks go")
    assert main([*SMALL, "--out", str(blocked)]) == 2
    err = capsys.readouterr().err
    assert _one_error_line(err) and "chunks is a file" in err, err


def test_quiet_keeps_the_corrupted_chunk_warning_and_resume_removes_stray_temporaries(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*SMALL, "--out", str(out)]) == 0
    reference = (out / "results.csv").read_text()
    (out / "chunks" / "l2-00000002-00000004.npz").write_bytes(b"corrupted")
    os.remove(out / "results.csv")
    stray = [out / ".tmp-k2j3results.csv", out / "chunks" / ".tmp-x1l2-00000000-00000002.npz"]
    for p in stray:  # what a kill while writing results.csv (or a chunk) leaves behind
        p.write_text("half written")
    capsys.readouterr()
    assert main(["sweep", "--resume", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "jaxreg: warning: chunk l2-00000002-00000004.npz is corrupted" in captured.err, captured.err
    assert "is corrupted" not in captured.out
    assert not any(p.exists() for p in stray)
    assert (out / "results.csv").read_text() == reference


def test_a_full_disk_is_one_line_exit_1_and_resumable(tmp_path, capsys, monkeypatch):
    import errno

    from jaxreg.engine._checkpoint import ChunkStore

    out = tmp_path / "run"
    save, calls = ChunkStore.save, []

    def full_after_one(self, penalty, start, stop, outputs, chunk_size):
        calls.append(start)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(out / "chunks" / ".tmp-abc"))
        save(self, penalty, start, stop, outputs, chunk_size)

    monkeypatch.setattr(ChunkStore, "save", full_after_one)
    assert main([*SMALL, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert _one_error_line(err) and "No space left on device (ENOSPC)" in err and f"--resume {out}" in err, err
    monkeypatch.setattr(ChunkStore, "save", save)
    assert main(["sweep", "--resume", str(out)]) == 0
    assert main([*SMALL, "--out", str(tmp_path / "full")]) == 0
    assert (out / "results.csv").read_text() == (tmp_path / "full" / "results.csv").read_text()


def _exec_jaxreg(setup):
    """A command line that runs ``setup`` (Python) and then execs ``python -m jaxreg ARGS``.

    Setting a limit or a signal's disposition this way, not with ``preexec_fn``, keeps ``fork``
    free of Python code: this process runs JAX's threads.
    """
    return [sys.executable, "-c", f"import os, resource, signal, sys; {setup}; "
            "os.execv(sys.executable, [sys.executable, '-m', 'jaxreg', *sys.argv[1:]])"]


def test_a_file_size_limit_is_one_line_exit_1_and_resumable(tmp_path):
    out = tmp_path / "run"
    limit = 4096  # the manifest fits, a chunk file with its params does not
    cmd = _exec_jaxreg(f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))")
    proc = subprocess.run([*cmd, *SMALL, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and _one_error_line(proc.stderr), proc.stderr[-3000:]
    assert "File too large (EFBIG)" in proc.stderr and "--resume" in proc.stderr
    assert _jaxreg(["sweep", "--resume", str(out)]).returncode == 0
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 6


@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_is_one_line_with_its_status_and_resumable(tmp_path, sig, status):
    out = tmp_path / "run"
    # SIGINT as an interactive shell leaves it (were this a shell's background job, it would be ignored)
    cmd = _exec_jaxreg("signal.signal(signal.SIGINT, signal.SIG_DFL)")
    proc = subprocess.Popen([*cmd, *ARGS, "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not list((out / "chunks").glob("*.npz")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(sig)
    err = proc.stderr.read()
    assert proc.wait() == status, err[-3000:]
    assert err.startswith("jaxreg: interrupted") and err.count("\n") == 1, err[-3000:]
    assert f"--resume {out}" in err
    assert len(os.listdir(out / "chunks")) < 20, "the sweep finished before the signal; make it longer"
    if sig == signal.SIGINT:
        return  # resuming after SIGTERM shows the directory is left as resumable as after SIGKILL
    resumed = _jaxreg(["sweep", "--resume", str(out)])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 2 * 40


def test_an_interrupt_raised_inside_a_gc_callback_is_not_lost(tmp_path):
    # Python delivers a signal as an exception in whatever Python code runs next; inside a garbage-collector
    # callback (JAX registers one) that exception is printed as "Exception ignored" and the run goes on.
    script = textwrap.dedent(
        f"""
        import gc, signal, sys
        from jaxreg.app import main

        def interrupt_once(phase, info):
            if phase == "start" and sys.unraisablehook is not sys.__unraisablehook__:  # once main() runs
                gc.callbacks.remove(interrupt_once)
                signal.raise_signal(signal.SIGTERM)

        gc.callbacks.append(interrupt_once)
        sys.exit(main({[*SMALL, "--out", str(tmp_path / "run")]!r}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 143, proc.stderr[-3000:]
    assert proc.stderr.startswith("jaxreg: interrupted by SIGTERM") and proc.stderr.count("\n") == 1, proc.stderr

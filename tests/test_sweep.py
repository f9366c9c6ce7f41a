"""sweep(): equals a loop, chunking, keys × λ × folds shapes, devices, compile counts."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxreg
from jaxreg.engine import available_memory_bytes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = jnp.array([1.0, -0.5, 0.02, 3.0, 0.0])


def train(lam, key):
    w0 = jax.random.normal(key, (5,))
    opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(0.05), jaxreg.prox_l1(lam, 0.05))
    r = jaxreg.fit(lambda w: jnp.sum((w - TARGET) ** 2), w0, opt, steps=60, log_every=20)
    return {"w": r.params, "loss": r.history["loss"]}


LAMS = jaxreg.log_grid(1e-3, 3.0, 50)


def _close(a, b):
    """Equal within float32 rounding (XLA compiles each chunk shape separately)."""
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(x, y, rtol=2e-6, atol=2e-6)


def test_sweep_equals_python_loop():
    out = jaxreg.sweep(lambda lam: train(lam, jax.random.key(0)), LAMS)
    single = jax.jit(lambda lam: train(lam, jax.random.key(0)))
    loop = [single(lam) for lam in LAMS]
    assert out["w"].shape == (50, 5) and out["loss"].shape == (50, 3)
    for i, ref in enumerate(loop):
        # float32 rounding: the batched program may sum in another order
        np.testing.assert_allclose(out["w"][i], ref["w"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(out["loss"][i], ref["loss"], rtol=1e-6, atol=1e-7)


def test_chunked_equals_unchunked():
    full, s_full = jaxreg.sweep(train, LAMS, keys=[0, 1], threads=1, return_stats=True)
    chunked, s = jaxreg.sweep(train, LAMS, keys=[0, 1], chunk_size=7, return_stats=True)
    _close(full, chunked)
    assert s["chunk_size"] == 7 and s["n_chunks"] == 15  # 100 models, ragged last chunk padded
    assert s_full["n_chunks"] == 1


def test_keys_and_folds_shapes_and_argument_order():
    seen = []

    def f(lam, key, fold):
        seen.append(1)
        return {"lam": lam, "fold": fold, "k": jax.random.key_data(key)[-1]}

    keys = jax.random.split(jax.random.key(3), 4)
    out = jaxreg.sweep(f, [0.1, 0.2, 0.3], keys=keys, folds=2)
    assert out["lam"].shape == (2, 4, 3)
    np.testing.assert_allclose(out["lam"][1, 2], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_array_equal(out["fold"][:, 0, 0], [0, 1])
    np.testing.assert_array_equal(out["k"][0, :, 0], jax.random.key_data(keys)[:, -1])
    assert len(seen) == 1  # traced once


def test_one_compilation_whatever_k():
    traces = []

    def f(lam):
        traces.append(1)
        return lam * 2

    for k in (1, 50, 1000):
        traces.clear()
        out, stats = jaxreg.sweep(f, np.linspace(0, 1, k), chunk_size=64, return_stats=True)
        assert len(traces) == 1, k
        assert out.shape == (k,)
        assert stats["n_chunks"] == -(-k // 64) if k > 64 else stats["n_chunks"] == 1


def test_automatic_chunking_from_memory():
    def f(lam):
        return jnp.full((64, 64), lam)  # 16 KiB of output per model

    free = available_memory_bytes(jax.devices()[0])
    fraction = 50 * 64 * 64 * 4 / free  # room for about 50 models per chunk
    lams = np.linspace(0, 1, 400)
    out, one = jaxreg.sweep(f, lams, memory_fraction=fraction, threads=1, return_stats=True)
    assert 1 < one["n_chunks"] <= 20 and 20 <= one["chunk_size"] < 400, one
    np.testing.assert_allclose(out[:, 0, 0], lams, rtol=1e-6)
    _, stats = jaxreg.sweep(f, lams, threads=1, return_stats=True)
    assert stats["n_chunks"] == 1  # fits easily
    _, four = jaxreg.sweep(f, lams, memory_fraction=fraction, threads=4, return_stats=True)
    ratio = four["chunk_size"] / one["chunk_size"]
    assert 0.15 <= ratio <= 0.35, (one, four)  # four chunks at once share the memory budget


def test_threads_with_an_explicit_chunk_size_stay_within_the_memory_budget():
    def f(lam):
        return jnp.full((64, 64), lam)  # 16 KiB of output per model

    free = available_memory_bytes(jax.devices()[0])
    lams = np.linspace(0, 1, 400)
    _, roomy = jaxreg.sweep(f, lams, chunk_size=50, threads=4, return_stats=True)
    assert roomy["threads"] == 4
    fraction = 60 * 64 * 64 * 4 / free  # room for one chunk of 50 models' outputs, not two
    out, tight = jaxreg.sweep(f, lams, chunk_size=50, threads=4, memory_fraction=fraction, return_stats=True)
    assert tight["threads"] == 1 and tight["n_chunks"] == 8, tight
    np.testing.assert_allclose(out[:, 0, 0], lams, rtol=1e-6)


def test_on_chunk_sees_every_model_once():
    seen = []
    jaxreg.sweep(lambda lam: lam, np.arange(23.0), chunk_size=5, on_chunk=lambda a, b, out: seen.append((a, b)))
    assert seen == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]


def test_diverging_model_is_isolated():
    def f(lam):
        opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(1.0))
        return jaxreg.fit(lambda w: jnp.sum(w**2), jnp.ones(3), opt, steps=200).params

    lams = np.array([0.01, 0.1, 50.0, 0.2])  # λ = 50: |1 − 2·(1 + 50)| > 1 diverges
    out = jaxreg.sweep(f, lams)
    good = jaxreg.sweep(f, lams[[0, 1, 3]])
    assert not np.all(np.isfinite(out[2]))
    np.testing.assert_array_equal(out[[0, 1, 3]], good)


def test_bad_folds_and_devices():
    with pytest.raises(ValueError, match="folds"):
        jaxreg.sweep(lambda lam, fold: lam, [0.1], folds=0)
    with pytest.raises(ValueError, match="devices"):
        jaxreg.sweep(lambda lam: lam, [0.1], devices=[])


def test_eight_forced_host_devices_equal_one():
    script = textwrap.dedent(
        """
        import json, jax, jax.numpy as jnp, numpy as np, optax, jaxreg
        def train(lam, key):
            w0 = jax.random.normal(key, (5,))
            opt = optax.chain(jaxreg.add_l1_sign(lam), optax.sgd(0.05))
            return jaxreg.fit(lambda w: jnp.sum((w - 1.0) ** 2), w0, opt, steps=40).params
        lams = jaxreg.log_grid(1e-3, 1.0, 50)
        assert len(jax.devices()) == 8, jax.devices()
        eight, s8 = jaxreg.sweep(train, lams, keys=[0, 1, 2], chunk_size=20, return_stats=True)
        one = jaxreg.sweep(train, lams, keys=[0, 1, 2], devices=jax.devices()[:1])
        print(json.dumps({"close": bool(np.allclose(eight, one, rtol=2e-6, atol=2e-6)),
                          "n_devices": s8["n_devices"], "chunk": s8["chunk_size"],
                          "max_diff": float(np.abs(eight - one).max())}))
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["n_devices"] == 8 and res["chunk"] == 24  # rounded up to a multiple of 8
    assert res["close"], res


def test_use_cpu_cores_and_no_device_computes_padding_only():
    script = textwrap.dedent(
        """
        import json, jax, numpy as np
        from jaxreg.engine._devices import use_cpu_cores
        assert use_cpu_cores(3) == 3
        import jaxreg
        out = {"n": len(jax.devices())}
        for k in (1, 2, 7):
            res, st = jaxreg.sweep(lambda lam: lam * 2, np.arange(k, dtype=np.float32), return_stats=True)
            assert np.array_equal(res, np.arange(k) * 2), res
            out[f"devices_k{k}"] = st["n_devices"]
        try:
            use_cpu_cores(4)
        except RuntimeError as e:
            out["late"] = str(e)
        out["late_lenient"] = use_cpu_cores(4, strict=False)
        try:
            use_cpu_cores(0)
        except ValueError as e:
            out["bad"] = str(e)
        print(json.dumps(out))
        """
    )
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["n"] == 3
    assert (res["devices_k1"], res["devices_k2"], res["devices_k7"]) == (1, 2, 3)
    assert "before JAX's first computation" in res["late"] and "xla_force_host_platform_device_count" in res["late"]
    assert res["late_lenient"] == 3  # too late: the count in effect
    assert "n must be a positive int" in res["bad"]


def test_group_size_pads_least():
    from jaxreg.engine._program import _group_size

    # (block, at most) -> size: the fewest padded models among sizes most/2..most, the larger size on ties
    for n, most, want in ((32, 6, 4), (64, 6, 4), (64, 8, 8), (13, 5, 5), (13, 3, 2), (7, 3, 2), (5, 6, 5),
                          (1, 6, 1), (100, 1, 1)):
        g = _group_size(n, most)
        assert g == want, (n, most, g)
        padded = -(-n // g) * g
        assert all(-(-n // h) * h >= padded for h in range((min(most, n) + 1) // 2, min(most, n) + 1))


def test_step_bytes_and_auto_groups():
    from jaxreg.engine import CPU_GROUP_BYTES, step_bytes
    from jaxreg.engine._program import _group_size

    def train(lam):  # one step creates a 1000×1000 float32 value: 4 MB per model
        def body(w, _):
            h = jnp.outer(w, w) * lam
            return w - 1e-3 * h.sum(1), None

        return jax.lax.scan(body, jnp.ones(1000), None, length=3)[0].sum()

    per_model = step_bytes(train, 0.1)
    assert 4e6 <= per_model <= 1e7, per_model
    lams = np.linspace(0.0, 0.1, 13)  # 13 models in equal groups of at most CPU_GROUP_BYTES // per_model
    g_max = CPU_GROUP_BYTES // per_model
    res, st = jaxreg.sweep(train, lams, return_stats=True, devices=jax.devices()[:1], threads=1)
    assert st["vmap_size"] == _group_size(13, g_max) <= g_max
    loop = np.array([jax.jit(train)(lam) for lam in lams])
    np.testing.assert_allclose(res, loop, rtol=2e-6)
    # an explicit vmap_size that does not divide the block: equal groups, the size used is reported
    res5, st5 = jaxreg.sweep(train, lams, vmap_size=5, return_stats=True, devices=jax.devices()[:1], threads=1)
    assert st5["vmap_size"] == 5  # ceil(13 / 5) = 3 groups of 5, 2 padded
    np.testing.assert_allclose(res5, loop, rtol=2e-6)


def test_step_bytes_leaves_out_what_runs_once():
    from jaxreg.engine import CPU_GROUP_BYTES, step_bytes
    from jaxreg.engine._program import _group_size

    big = lambda v: jnp.sum(jnp.outer(v, jnp.ones(100_000)))  # noqa: E731  4 MB of values

    def train(lam):  # 50 steps on 10 values, then one 4 MB evaluation: groups sized by the steps
        w = jax.lax.scan(lambda v, _: (v - lam * v, None), jnp.ones(10), None, length=50)[0]
        return big(w)

    assert step_bytes(train, 0.1) < 1_000
    lams = np.linspace(0.0, 0.1, 13)
    _, st = jaxreg.sweep(train, lams, return_stats=True, devices=jax.devices()[:1], threads=1)
    assert st["vmap_size"] == _group_size(13, CPU_GROUP_BYTES // step_bytes(train, 0.1)) == 13

    def logged(w, blocks):  # `blocks` log blocks of 25 steps, a 4 MB log each: counted when they repeat
        def block(v, _):
            return jax.lax.scan(lambda u, _: (u * 0.9, None), v, None, length=25)[0], big(v)

        return jax.lax.scan(block, w, None, length=blocks)

    assert step_bytes(lambda w: logged(w, 1), jnp.ones(10)) < 1_000
    assert step_bytes(lambda w: logged(w, 4), jnp.ones(10)) >= 4e6

    def rnn_step(w):  # a step whose inner loop runs 50 times: the step's stacked 50 × 20_000 outputs count
        hs = jax.lax.scan(lambda h, _: (h * 0.5, h), w, None, length=50)[1]
        return w - 1e-3 * hs.sum(0), None

    assert step_bytes(lambda w: jax.lax.scan(lambda v, _: rnn_step(v), w, None, length=10)[0],
                      jnp.ones(20_000)) >= 50 * 20_000 * 4

    def until_small(w):  # a while loop's trip count is unknown: its body (a 4 MB check) counts
        return jax.lax.while_loop(lambda v: v[0] > 1e-3, lambda v: v * 0.5 + 0 * big(v), w)

    assert step_bytes(until_small, jnp.ones(10)) >= 4e6
    never = lambda w: jax.lax.scan(lambda v, _: (v, None), w, None, length=0)[0].sum() + big(w)  # noqa: E731
    assert step_bytes(never, jnp.ones(10)) >= 4e6  # a loop that never runs: the whole function
    assert step_bytes(lambda w: big(w), jnp.ones(10)) >= 4e6  # no loop: the whole function


def test_cpu_compiler_options_and_an_unknown_option_falls_back(monkeypatch):
    import importlib

    from jaxreg import models

    sweep_module = importlib.import_module("jaxreg.engine._sweep")

    x = jax.random.normal(jax.random.key(1), (60, 5))
    y = jnp.arange(60) % 3

    def mlp(lam):  # the case the option is for: a matmul followed by a softmax and its gradient
        p = {"w1": jnp.full((5, 4), 0.1) + jnp.eye(5, 4), "b1": jnp.zeros(4), "w2": jnp.full((4, 3), 0.2),
             "b2": jnp.zeros(3)}
        opt = optax.chain(jaxreg.add_l2_decay(lam), jaxreg.add_l1_sign(lam), optax.sgd(0.5))
        return jaxreg.fit(lambda q: models.data_loss("classification", q, x, y), p, opt, steps=20).params

    lams = np.linspace(0.0, 0.05, 6)
    loop = [jax.jit(mlp)(lam) for lam in lams]  # jit's defaults: XLA fuses differently, same sums
    res, st = jaxreg.sweep(mlp, lams, return_stats=True)
    cpu = jax.devices()[0].platform == "cpu"
    assert st["compiler_options"] == (sweep_module.SWEEP_CPU_COMPILER_OPTIONS if cpu else {})  # (XLA's elsewhere)
    for i, ref in enumerate(loop):
        _close(jax.tree.map(lambda a, i=i: a[i], res), ref)
    monkeypatch.setattr(sweep_module, "SWEEP_CPU_COMPILER_OPTIONS", {"xla_cpu_no_such_option_in_any_jaxlib": "1"})
    res2, st2 = jaxreg.sweep(mlp, lams, return_stats=True)
    assert st2["compiler_options"] == {}  # compiled with XLA's defaults instead of failing
    _close(res2, res)
    monkeypatch.setattr(sweep_module, "SWEEP_CPU_COMPILER_OPTIONS", {})
    assert jaxreg.sweep(mlp, lams, return_stats=True)[1]["compiler_options"] == {}
    # the caller's options: used as given; one XLA rejects is an error that names the argument
    mine = {"xla_cpu_use_fusion_emitters": False}
    res3, st3 = jaxreg.sweep(mlp, lams, return_stats=True, compiler_options=mine)
    assert st3["compiler_options"] == mine
    _close(res3, res)
    with pytest.raises(ValueError, match="compiler_options: XLA rejected"):
        jaxreg.sweep(mlp, lams, compiler_options={"xla_cpu_no_such_option_in_any_jaxlib": "1"})
    with pytest.raises(TypeError, match="compiler_options must be a dict"):
        jaxreg.sweep(mlp, lams, compiler_options=["xla_gpu_autotune_level=0"])


def test_device_description_names_the_processor_or_the_accelerator():
    from jaxreg.engine._devices import cpu_core_count, device_description

    text = device_description(jax.devices("cpu")[0])
    assert text.startswith("cpu: ") and text.endswith(f", {cpu_core_count()} cores") and len(text) > 14

    class Accelerator:
        platform, device_kind = "gpu", "NVIDIA H100 80GB HBM3"

    assert device_description(Accelerator()) == "NVIDIA H100 80GB HBM3"


def test_identical_call_reuses_the_compiled_program():
    from jaxreg.engine import SweepProgramCache

    cache = SweepProgramCache()
    traces = []

    def f(lam, key):
        traces.append(1)
        return train(lam, key)

    first, s1 = jaxreg.sweep(f, LAMS, keys=[0, 1], return_stats=True, program_cache=cache)
    again, s2 = jaxreg.sweep(f, LAMS, keys=[0, 1], return_stats=True, program_cache=cache)
    assert len(traces) == 1 and s1["n_compiled"] == 1 and s1["compile_s"] > 0
    assert s2["n_compiled"] == 0 and s2["compile_s"] == 0.0 and len(cache) == 1
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again)):
        np.testing.assert_array_equal(a, b)  # the same program: bit for bit
    # other λ values of the same shape: the same program
    assert jaxreg.sweep(f, LAMS * 2, keys=[0, 1], return_stats=True, program_cache=cache)[1]["n_compiled"] == 0
    # a different grid size, another train_fn, other options, another chunk size: compiled
    assert jaxreg.sweep(f, LAMS[:10], keys=[0, 1], return_stats=True, program_cache=cache)[1]["n_compiled"] == 1
    g = lambda lam, key: train(lam, key)  # noqa: E731
    assert jaxreg.sweep(g, LAMS, keys=[0, 1], return_stats=True, program_cache=cache)[1]["n_compiled"] == 1
    assert jaxreg.sweep(f, LAMS, keys=[0, 1], return_stats=True, program_cache=cache,
                        compiler_options={})[1]["n_compiled"] == 1
    assert jaxreg.sweep(f, LAMS, keys=[0, 1], return_stats=True, program_cache=cache,
                        chunk_size=30)[1]["n_compiled"] == 1
    assert len(traces) == 4
    # without a cache, every call compiles
    assert jaxreg.sweep(f, LAMS, keys=[0, 1], return_stats=True, program_cache=None)[1]["n_compiled"] == 1
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(TypeError, match="program_cache must be"):
        jaxreg.sweep(f, LAMS, program_cache={})


def test_program_cache_sees_rebound_globals_and_forgets_collected_functions():
    import gc

    from jaxreg.engine import SweepProgramCache

    cache = SweepProgramCache(max_programs=2)
    scale = {"value": jnp.float32(2.0)}
    namespace = {"jnp": jnp, "SCALE": scale["value"]}
    exec("def f(lam):\n    return lam * SCALE\n", namespace)  # a module-level function reading a global
    f = namespace["f"]
    np.testing.assert_allclose(jaxreg.sweep(f, [1.0, 2.0], program_cache=cache), [2.0, 4.0])
    namespace["SCALE"] = jnp.float32(3.0)  # rebinding the global: the old value is baked into the program
    out, st = jaxreg.sweep(f, [1.0, 2.0], return_stats=True, program_cache=cache)
    assert st["n_compiled"] == 1
    np.testing.assert_allclose(out, [3.0, 6.0])
    assert len(cache) == 1  # the entry was replaced, not added
    # closures over other values, defaults: different programs
    outs = [jaxreg.sweep(lambda lam, c=c: lam + c, [1.0], return_stats=True, program_cache=cache) for c in (1.0, 5.0)]
    assert [o[0][0] for o in outs] == [2.0, 6.0]
    assert len(cache) <= 2  # bounded
    del f, namespace, outs
    gc.collect()
    assert len(cache) == 0  # every function it held is gone


def test_run_s_excludes_compilation_whatever_the_chunking():
    import time

    def slow_to_trace(lam):
        time.sleep(0.3)  # runs while tracing only: compilation takes at least this long
        return lam * 2

    for chunk_size in (None, 2):  # compiled before the first chunk, or lazily at it
        t0 = time.perf_counter()
        _, st = jaxreg.sweep(slow_to_trace, np.arange(5.0), chunk_size=chunk_size, return_stats=True,
                             program_cache=None)
        wall = time.perf_counter() - t0
        assert st["compile_s"] >= 0.3 and st["n_compiled"] == 1
        # disjoint intervals within the call (compilation inside run_s would count 0.3 s twice)
        assert 0 <= st["run_s"] and st["run_s"] + st["compile_s"] <= wall, (chunk_size, st, wall)


def test_seeds_and_folds_that_would_be_misread_are_refused():
    f = lambda lam, key: lam  # noqa: E731
    with pytest.raises(ValueError, match=r"keys=.*ambiguous.*jax\.random\.split\(key, n\)"):
        jaxreg.sweep(f, [0.1], keys=jax.random.PRNGKey(42))  # a legacy uint32[2] key, not seeds 0 and 42
    with pytest.raises(ValueError, match=r"keys must be a 1-D array of PRNG keys.*split"):
        jaxreg.sweep(f, [0.1], keys=jax.random.key(42))
    for seeds in ([0, 2**32], [-1], np.array([2**40], np.uint64)):  # would alias seeds in [0, 2**32)
        with pytest.raises(ValueError, match=r"keys: seeds must be in \[0, 2\*\*32\)"):
            jaxreg.sweep(f, [0.1], keys=seeds)
    # the fixes the messages name work, and the extreme seeds are distinct keys
    one = jaxreg.sweep(lambda lam, key: jax.random.key_data(key), [0.1], keys=jax.random.PRNGKey(42)[None])
    np.testing.assert_array_equal(one[0, 0], jax.random.PRNGKey(42))
    assert jaxreg.sweep(f, [0.1], keys=jax.random.split(jax.random.PRNGKey(42), 3)).shape == (3, 1)
    edge = jaxreg.sweep(lambda lam, key: jax.random.key_data(key), [0.1], keys=[0, 2**32 - 1])
    assert not np.array_equal(edge[0, 0], edge[1, 0])
    g = lambda lam, fold: lam  # noqa: E731
    for bad in (True, False, np.bool_(True)):
        with pytest.raises(ValueError, match="folds must be a number of folds.*not a bool"):
            jaxreg.sweep(g, [0.1], folds=bad)
    for one_fold in (1, np.int64(1)):
        with pytest.raises(ValueError, match=r"folds=1 .*no cross-validation.*folds >= 2.*folds=None"):
            jaxreg.sweep(g, [0.1], folds=one_fold)
    assert jaxreg.sweep(g, [0.1], folds=[3]).shape == (1, 1)  # one chosen fold id: allowed


def test_threads_run_chunks_side_by_side_with_the_results_of_one_thread():
    """threads > 1: chunks run at once from a pool; results, chunk order, hooks and resumed chunks as with one."""
    f = lambda lam, key: train(lam, key)  # noqa: E731
    one, s1 = jaxreg.sweep(f, LAMS[:10], keys=[0], vmap_size=1, threads=1, return_stats=True)
    three, s3 = jaxreg.sweep(f, LAMS[:10], keys=[0], vmap_size=1, threads=3, return_stats=True)
    assert (s1["threads"], s1["n_chunks"]) == (1, 1)
    assert (s3["threads"], s3["chunk_size"], s3["n_chunks"]) == (3, 4, 3)  # the grid split for three threads
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(three)):
        np.testing.assert_array_equal(a, b)  # the single-model program: bit for bit whatever the chunking

    seen, saved = [], {}
    def on_chunk(start, stop, out):
        seen.append((start, stop))
        saved[start] = out
    jaxreg.sweep(lambda lam: lam * 2, np.arange(11.0), chunk_size=2, threads=3, on_chunk=on_chunk)
    assert seen == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10), (10, 11)]  # in order, padding dropped
    resumed, st = jaxreg.sweep(lambda lam: lam * 2, np.arange(11.0), chunk_size=2, threads=3, return_stats=True,
                               load_chunk=lambda start, stop: saved[start] if start in (2, 8) else None)
    np.testing.assert_array_equal(resumed, np.arange(11.0) * 2)
    assert (st["n_loaded_chunks"], st["n_loaded_models"]) == (2, 4)

    calls = []
    def failing(start, stop, out):
        calls.append(start)
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):  # a failing hook stops the sweep at the first chunk
        jaxreg.sweep(lambda lam: lam, np.arange(9.0), chunk_size=1, threads=2, on_chunk=failing)
    assert calls == [0]
    with jax.enable_x64(True):  # a per-thread mode: the pool's threads run with the caller's
        wide = jaxreg.sweep(lambda lam: lam * 1.0000000001, np.arange(5.0), threads=2)
    assert wide.dtype == np.float64
    for threads in (1, 2):  # the sweep's own transfers are explicit: a caller's guard is for their code
        with jax.transfer_guard("disallow"):
            np.testing.assert_array_equal(jaxreg.sweep(lambda lam: lam * 2, np.arange(5.0), chunk_size=2,
                                                       threads=threads), np.arange(5.0) * 2)
    for threads in (1, 2):  # debug_nans is per thread too; the error names the models
        with jax.debug_nans(True), pytest.raises(FloatingPointError, match=r"nan in the outputs of 1 model\(s\): "
                                                                          r"λ=0.5 \(λ index 2\), fold 0, with"):
            jaxreg.sweep(lambda lam, fold: jnp.log(lam - 1.0), [2.0, 3.0, 0.5, 4.0], folds=[0, 1], chunk_size=4,
                         threads=threads)
    for bad in (0, -1, 1.5, True, "all"):
        with pytest.raises(ValueError, match="threads must be a positive int"):
            jaxreg.sweep(lambda lam: lam, [0.1], threads=bad)


def test_default_threads_use_every_core_of_one_cpu_device():
    """Python's single JAX CPU device: one thread per core; one device per core: one thread each."""
    from jaxreg.engine import cpu_core_count, threads_per_device

    cores = cpu_core_count()
    assert threads_per_device(jax.devices("cpu")) == max(1, cores // len(jax.devices("cpu")))
    _, st = jaxreg.sweep(lambda lam: lam, np.arange(8.0), return_stats=True)
    threads = threads_per_device(jax.devices())
    size = -(-8 // threads)  # the grid split for the threads
    assert (st["chunk_size"], st["n_chunks"]) == (size, -(-8 // size))
    assert st["threads"] == min(threads, st["n_chunks"])
    script = "import jaxreg, jax; jaxreg.use_cpu_cores(); print(jaxreg.engine.threads_per_device(jax.devices()))"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    env.pop("JAX_NUM_CPU_DEVICES", None)
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "1"


def test_a_failing_chunk_stops_the_threads():
    """No more than `threads` chunks are in flight: an error stops the rest of the grid from running."""
    submitted = []  # load_chunk runs on the caller's thread just before a chunk is submitted
    def failing(start, stop, out):
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        jaxreg.sweep(lambda lam: lam, np.arange(40.0), chunk_size=1, threads=2, on_chunk=failing,
                     load_chunk=lambda start, stop: submitted.append(start))
    assert submitted == [0, 1]  # the first chunk and the one beside it; none after the error


def test_several_threads_across_processes_is_a_value_error():
    from jaxreg.engine._plan import plan_grid
    from jaxreg.engine._sweep import _threads_for

    plan = plan_grid([0.1, 0.2])._replace(multiprocess=True)  # as across processes: chunks gathered in lockstep
    assert _threads_for(plan, 1) == 1
    with pytest.raises(ValueError, match="threads must be 1 or 'auto' in a multi-process sweep"):
        _threads_for(plan, 2)


def test_enable_compilation_cache_writes_the_sweep_program(tmp_path):
    script = textwrap.dedent(
        """
        import json, os, sys, jax, numpy as np, jaxreg
        from jaxreg.engine import enable_compilation_cache
        path = enable_compilation_cache(sys.argv[1], min_compile_time_s=0)
        out, st = jaxreg.sweep(lambda lam: lam * 3, np.arange(4.0), return_stats=True)
        print(json.dumps({"path": path, "dir": jax.config.jax_compilation_cache_dir,
                          "min_s": jax.config.jax_persistent_cache_min_compile_time_secs, "out": out.tolist(),
                          "files": sorted(os.listdir(path))}))
        """
    )
    cache = tmp_path / "xla"
    runs = []
    for _ in range(2):  # a second process finds the programs the first one wrote
        out = subprocess.run([sys.executable, "-c", script, str(cache)], cwd=ROOT, capture_output=True, text=True,
                             timeout=300, env=dict(os.environ, JAX_PLATFORMS="cpu"))
        assert out.returncode == 0, out.stderr[-2000:]
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["path"] == first["dir"] == str(cache) and first["min_s"] == 0
    assert any(name.startswith("jit_") for name in first["files"]), first["files"]
    assert first["out"] == second["out"] == [0.0, 3.0, 6.0, 9.0] and second["files"] == first["files"]
    from jaxreg.engine import enable_compilation_cache

    with pytest.raises(ValueError, match="min_compile_time_s"):
        enable_compilation_cache(tmp_path, min_compile_time_s=-1)


def test_one_device_and_a_string_memory_fraction():
    """`devices=<one Device>` means that device; `memory_fraction="0.5"` is a ValueError naming it (both failed inside
    JAX with a TypeError)."""
    lams = [0.1, 0.2]
    np.testing.assert_allclose(jaxreg.sweep(lambda lam: 2 * lam, lams, devices=jax.devices()[0]), [0.2, 0.4])
    with pytest.raises(ValueError, match="memory_fraction must be a float"):
        jaxreg.sweep(lambda lam: 2 * lam, lams, memory_fraction="0.5")
    with pytest.raises(ValueError, match="devices must be a list of jax.Device"):
        jaxreg.sweep(lambda lam: 2 * lam, lams, devices="cpu")

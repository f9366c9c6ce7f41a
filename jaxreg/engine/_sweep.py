"""``sweep``: one jit-compiled, vmapped call trains a model per λ (× key × fold).

The per-model work is ``train_fn``, any pure function returning a pytree. The
grid of models (folds × keys × λ, λ fastest) is flattened, cut into chunks
that fit device memory, padded to one static chunk shape (so the number of
compilations does not depend on the number of models: one, or two when the
first program's measured memory asks for smaller chunks) and sharded along
the model axis over a ``Mesh`` of the devices with ``shard_map``; the
per-model work has no collectives. On CPU each device's block runs in
cache-sized vmapped groups (``vmap_size="auto"``).

Equality with a Python loop: every model sees exactly the inputs it would in a
loop, but XLA compiles a batched program, so results equal a loop of
``jax.jit(train_fn)`` within float rounding (a few ulps: batched matmuls sum
in another order, and XLA's CPU code generator contracts ``a*b + c`` into an
FMA in its vectorised loops but not in their scalar remainders), not always
bit for bit. For the same reason a different ``chunk_size`` or number of
devices (a differently shaped program) can change results by a few ulps; the
tests bound all of these at 2e-6 relative. The same call is deterministic run
to run, so a resumed sweep equals an uninterrupted one. With ``vmap_size=1``
every model runs through the same single-model program, and results are bit
for bit independent of chunk size, device count and the rest of the grid.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxreg.core._grids import check_grid
from jaxreg.engine._compile import SWEEP_CPU_COMPILER_OPTIONS, compile_with_options

__all__ = ["sweep", "SweepStats", "available_memory_bytes", "step_bytes", "CPU_GROUP_BYTES"]

#: On CPU, vmap groups whose per-step intermediates (:func:`step_bytes` × group size) stay
#: within this many bytes (``vmap_size="auto"``); calibrated on ``benchmarks/`` W1.
CPU_GROUP_BYTES = 12 * 2**20

class SweepStats(dict):
    """Timings and layout of one :func:`sweep` call (a dict; keys listed in ``sweep``)."""


def available_memory_bytes(device: jax.Device) -> int | None:
    """Free memory of ``device`` in bytes (host RAM for CPU devices), or ``None``."""
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 - backends without memory stats
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def step_bytes(fn: Callable[..., Any], *args: Any) -> int:
    """Bytes of the values one step of ``fn(*args)`` creates, read off its jaxpr (no compilation).

    The maximum, over ``fn``'s jaxpr and every jaxpr nested in it (a
    ``lax.scan``/``while_loop`` body: one training step), of the total size of
    the values that jaxpr's equations produce. XLA fuses many of them away, so
    this overestimates the step's live memory (2.6-5.7× XLA's temp bytes on
    W1) but ranks programs the same way, at the cost of a trace.
    """
    return _jaxpr_step_bytes(jax.make_jaxpr(fn)(*args).jaxpr)


def _jaxpr_step_bytes(jaxpr) -> int:
    own, nested = 0, 0
    for eqn in jaxpr.eqns:
        for v in eqn.outvars:
            shape = getattr(v.aval, "shape", None)
            if shape is not None:
                own += math.prod(shape) * getattr(v.aval.dtype, "itemsize", 8)  # PRNG keys: 8 bytes
        for param in eqn.params.values():
            for sub in param if isinstance(param, (list, tuple)) else (param,):
                if isinstance(sub, jcore.ClosedJaxpr):
                    nested = max(nested, _jaxpr_step_bytes(sub.jaxpr))
                elif isinstance(sub, jcore.Jaxpr):
                    nested = max(nested, _jaxpr_step_bytes(sub))
    return max(own, nested)


def _as_keys(keys: Any) -> jax.Array:
    if isinstance(keys, jax.Array) and jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        if keys.ndim != 1:
            raise ValueError(f"keys must be a 1-D array of PRNG keys, got shape {keys.shape}")
        return keys
    arr = np.asarray(keys)
    if arr.dtype == np.uint32 and arr.ndim == 2:
        return jax.random.wrap_key_data(jnp.asarray(arr))
    if arr.dtype.kind in "iu" and arr.ndim == 1:
        if arr.size == 0:
            raise ValueError("keys is empty: pass at least one seed")
        return jnp.stack([jax.random.key(int(s)) for s in arr])
    raise ValueError(
        "keys must be a 1-D array of PRNG keys (jax.random.split(key, n)), raw uint32 keys of "
        f"shape (n, 2), or a list of int seeds; got dtype {arr.dtype}, shape {arr.shape}"
    )


def _check_chunk_size(chunk_size: Any) -> int | None:
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise TypeError(f"chunk_size must be a positive int or None (automatic), got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1 (models per call) or None (automatic), got {chunk_size}")
    return int(chunk_size)


def _group_size(n: int, most: int) -> int:
    """The vmap group size for a block of ``n`` models, at most ``most``: among sizes from ``most/2`` to ``most``
    the one whose groups pad the block least (``ceil(n/g)·g − n`` padded models run for nothing), the larger on
    ties; e.g. 32 models, at most 6: 4 (8 groups, no padding) rather than 6 (6 groups, 4 padded)."""
    most = max(1, min(most, n))
    return min(range((most + 1) // 2, most + 1), key=lambda g: (-(-n // g) * g, -g))


def _progress_bar(total: int) -> Any:
    """A tqdm bar over ``total`` models, or ``None`` when tqdm (an optional dependency) is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="model", desc="sweep", leave=False)


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def sweep(
    train_fn: Callable[..., Any],
    lambdas: Any,
    *,
    keys: Any = None,
    folds: int | Sequence[int] | None = None,
    chunk_size: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    memory_fraction: float = 0.5,
    vmap_size: int | str | None = "auto",
    progress: bool | None = None,
    on_chunk: Callable[[int, int, Any], None] | None = None,
    load_chunk: Callable[[int, int], Any] | None = None,
    return_stats: bool = False,
    compiler_options: dict[str, Any] | None = None,
) -> Any:
    """Train one model per λ (× key × fold) in one compiled, vmapped, sharded call.

    Args:
      train_fn: pure function ``train_fn(lam[, key][, fold]) -> pytree``
        (``key`` when ``keys`` is given, ``fold`` when ``folds`` is given).
      lambdas: 1-D grid of λ (``K`` values, finite, ``>= 0``).
      keys: PRNG keys (``jax.random.split(key, S)``) or a list of int seeds.
      folds: number of CV folds ``F`` (``train_fn`` gets ``fold = 0..F-1``) or
        a sequence of fold ids.
      chunk_size: models per compiled call. ``None``: as many as fit in
        ``memory_fraction`` of the free memory of each device, measured from
        the compiled program (``memory_analysis``). Rounded up to a multiple
        of the number of devices; the ragged last chunk is padded, never
        recompiled.
      devices: devices to shard the model axis over (default: ``jax.devices()``,
        i.e. every device of every process after ``jax.distributed.initialize``;
        see :mod:`jaxreg.distributed`). Outputs are gathered to every process.
        In one process, at most one device per model is used (``K = 1`` runs
        on one device, as a loop would). On a CPU,
        :func:`jaxreg.engine._devices.use_cpu_cores` gives one device per core.
      memory_fraction: share of free device memory one chunk may use.
      vmap_size: models vectorised together on a device; the rest of its
        block runs one group after another (``lax.map``). ``None``: the whole
        block at once (one big vmap). ``"auto"`` (default): ``None`` on GPU/TPU;
        on CPU, groups whose working memory (:func:`step_bytes` of one model ×
        group size) stays within ``CPU_GROUP_BYTES`` (12 MiB of jaxpr values,
        about 4 MiB of XLA temporaries: cache-sized), because a vmap whose
        activations spill out of cache loses to a loop (measured in
        ``benchmarks/``); read off the jaxpr, so it costs no extra
        compilation. A block is cut into equal groups of at most this size
        (between half of it and all of it, the one that pads the block
        least). ``1``: one model at a time; a model's
        result then does not depend on ``chunk_size``, the number of devices
        or the other λ in the grid (bit for bit; tested).
      progress: tqdm bar over chunks (default: when there is more than one).
      on_chunk: ``on_chunk(start, stop, outputs)`` after each chunk, with
        ``outputs`` (NumPy) for flat models ``start:stop``; for checkpoints.
      load_chunk: ``load_chunk(start, stop) -> outputs or None``: results of a
        chunk finished earlier (resume); ``None`` computes it. When every
        chunk loads, nothing is compiled.
      return_stats: also return a :class:`SweepStats`.
      compiler_options: XLA options for the compilation (``Lowered.compile``'s
        ``compiler_options``, e.g. ``{"xla_gpu_autotune_level": 0}``).
        ``None`` (default): :data:`SWEEP_CPU_COMPILER_OPTIONS` on a CPU (XLA's
        defaults where this jaxlib does not know them), XLA's defaults
        elsewhere; ``{}``: XLA's defaults everywhere.

    Returns:
      ``train_fn``'s pytree with NumPy leaves of leading shape ``(K,)``,
      ``(S, K)`` with keys, ``(F, K)`` with folds, ``(F, S, K)`` with both;
      and the stats (``n_models``, ``chunk_size``, ``n_chunks``,
      ``n_devices``, ``n_processes``, ``compile_s``, ``run_s``,
      ``memory_per_chunk_bytes``, ``vmap_size``, ``compiler_options`` (the
      XLA options it compiled with; ``None`` when nothing was compiled),
      ``n_loaded_chunks``,
      ``n_loaded_models``, ``device``) when ``return_stats``.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> def train(lam):
      ...     opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(0.1))
      ...     return jaxreg.fit(lambda w: jnp.sum((w - 3.0) ** 2), jnp.zeros(()), opt, steps=200).params
      >>> jaxreg.sweep(train, [0.0, 1.0, 2.0]).round(3)   # 3 / (1 + λ)
      array([3. , 1.5, 1. ], dtype=float32)
    """
    if not callable(train_fn):
        raise TypeError(f"train_fn must be callable, got {train_fn!r}")
    lam_host = check_grid(lambdas).astype(jax.dtypes.canonicalize_dtype(np.float64))
    chunk_size = _check_chunk_size(chunk_size)
    if vmap_size is not None and vmap_size != "auto":
        if isinstance(vmap_size, bool) or not isinstance(vmap_size, (int, np.integer)) or vmap_size < 1:
            raise ValueError(
                f"vmap_size must be a positive int, 'auto' or None (vectorise the whole chunk), got {vmap_size!r}"
            )
        vmap_size = int(vmap_size)
    if compiler_options is not None and (
        not isinstance(compiler_options, dict) or not all(isinstance(k, str) for k in compiler_options)
    ):
        raise TypeError(
            "compiler_options must be a dict of XLA option names to values (e.g. {'xla_gpu_autotune_level': 0}) "
            f"or None (the defaults), got {compiler_options!r}"
        )
    if not (0 < memory_fraction <= 1):
        raise ValueError(f"memory_fraction must be in (0, 1], got {memory_fraction}")
    # Default: every device of every process (jax.devices() is global after jax.distributed.initialize).
    devices = list(jax.devices() if devices is None else devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise ValueError("devices must be a non-empty list of jax.Device (e.g. jax.devices())")
    multiprocess = len({d.process_index for d in devices}) > 1
    local_device = next((d for d in devices if d.process_index == jax.process_index()), None)
    if local_device is None:
        raise ValueError("devices must include at least one device of this process")

    # Model grid: (folds?, keys?, lambdas), λ fastest.
    shape, inputs = [], []
    if folds is not None:
        fold_ids = np.arange(folds) if isinstance(folds, (int, np.integer)) else np.asarray(folds)
        if fold_ids.ndim != 1 or fold_ids.size == 0 or fold_ids.dtype.kind not in "iu":
            raise ValueError(f"folds must be a positive int or a 1-D list of fold ids, got {folds!r}")
        shape.append(fold_ids.size)
        inputs.append(fold_ids.astype(np.int32))
    key_impl = None
    if keys is not None:
        key_arr = _as_keys(keys)
        key_impl = jax.random.key_impl(key_arr)
        shape.append(key_arr.shape[0])
        inputs.append(np.asarray(jax.random.key_data(key_arr)))  # raw key data: plain arrays shard anywhere
    shape.append(lam_host.size)
    inputs.append(lam_host)
    n_models = math.prod(shape)
    if not multiprocess and n_models < len(devices):
        devices = devices[:n_models]  # one model per device at most: no device computes padding only
    n_dev = len(devices)
    n_local = sum(d.process_index == jax.process_index() for d in devices)
    index = np.unravel_index(np.arange(n_models), shape)
    # Reorder so the call signature is train_fn(lam, key, fold).
    order = list(range(len(shape)))[::-1]

    def one(*args):
        if key_impl is not None:  # (lam, key_data, [fold]) -> (lam, key, [fold])
            args = (args[0], jax.random.wrap_key_data(args[1], impl=key_impl), *args[2:])
        return train_fn(*args)

    mesh = Mesh(np.asarray(devices), ("models",))
    spec = PartitionSpec("models")
    sharding = NamedSharding(mesh, spec)

    def build(group: int | str | None):
        def local(*xs):
            n = xs[0].shape[0]
            if group == 1:  # one model at a time through the single-model program (bit-reproducible)
                return jax.lax.map(lambda a: one(*a), xs)
            fn, g = one, group
            if group == "auto" and n == 1:
                g = None
            elif group == "auto":  # CPU: vmapped groups with a cache-sized working set, from one trace of `one`
                model = [jax.ShapeDtypeStruct(x.shape[1:], x.dtype) for x in xs]
                closed, out_shape = jax.make_jaxpr(one, return_shape=True)(*model)
                g = max(1, int(CPU_GROUP_BYTES // max(1, _jaxpr_step_bytes(closed.jaxpr))))
                run_jaxpr, tree = jcore.jaxpr_as_fun(closed), jax.tree.structure(out_shape)
                fn = lambda *a: jax.tree.unflatten(tree, run_jaxpr(*a))  # noqa: E731 - no second trace
            if g is not None:  # groups of equal size ≤ g (one program, no remainder loop), the padding smallest
                g = _group_size(n, g)
            state["group"] = g  # the size used (None: the whole block)
            if g is None or g == n:
                return jax.vmap(fn)(*xs)
            # sequential over groups (lax.map), vmap inside a group, padded with the last model
            pad = -n % g
            xs = [jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x for x in xs]
            out = jax.lax.map(lambda a: fn(*a), xs, batch_size=g)
            return jax.tree.map(lambda o: o[:n], out)

        # shard_map: each device runs `local` on its own block of models; nothing is communicated.
        per_device = jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)
        return jax.jit(per_device, in_shardings=sharding, out_shardings=sharding)

    group = vmap_size if vmap_size != "auto" else ("auto" if local_device.platform == "cpu" else None)

    def chunk_inputs(rows: np.ndarray) -> list:
        return [inputs[a][index[a][rows]] for a in order]

    def to_devices(host: np.ndarray) -> jax.Array:
        # Each process supplies the rows of its own devices (every process knows the whole grid).
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    def to_host(out) -> Any:
        if multiprocess:
            from jax.experimental import multihost_utils

            return multihost_utils.process_allgather(out, tiled=True)
        return jax.tree.map(np.asarray, out)

    def compile_for(size: int):
        specs = [
            jax.ShapeDtypeStruct((size, *x.shape[1:]), x.dtype, sharding=sharding)
            for x in chunk_inputs(np.zeros(1, np.int64))
        ]
        t0 = time.perf_counter()
        lowered = state["jitted"].lower(*specs)
        explicit = compiler_options is not None  # the caller's: an option XLA rejects is the caller's to fix
        default = SWEEP_CPU_COMPILER_OPTIONS if local_device.platform == "cpu" else {}
        compiled, options = compile_with_options(lowered, compiler_options if explicit else default, strict=explicit)
        state["compiler_options"] = options
        return compiled, time.perf_counter() - t0

    def memory_of(compiled) -> int | None:
        try:
            ma = compiled.memory_analysis()
        except Exception:  # noqa: BLE001 - not every backend reports it
            return None
        if ma is None:
            return None
        return int(ma.temp_size_in_bytes + ma.output_size_in_bytes + ma.argument_size_in_bytes)

    full = _round_up(n_models, n_dev)
    state = {"compiled": None, "compile_s": 0.0, "mem": None, "jitted": build(group),
             "group": None if group == "auto" else group}

    def compile_now(size: int) -> None:
        state["compiled"], dt = compile_for(size)
        state["compile_s"] += dt
        state["mem"] = memory_of(state["compiled"])

    def ensure_compiled(size: int):
        if state["compiled"] is None:
            compile_now(size)
        return state["compiled"]

    if chunk_size is not None:
        size = min(_round_up(chunk_size, n_dev), full)  # compiled lazily: resumed chunks need none
    else:
        size = full
        ensure_compiled(size)
        free = available_memory_bytes(local_device)
        mem = state["mem"]
        if mem is not None and free is not None:
            share = free / n_local if local_device.platform == "cpu" else free
            budget = memory_fraction * share
            if mem > budget and size > n_dev:
                per_model = mem / (size // n_dev)
                size = min(full, max(1, int(budget // per_model)) * n_dev)
                state["compiled"] = None
                ensure_compiled(size)

    starts = list(range(0, n_models, size))
    show = (progress if progress is not None else len(starts) > 1) and jax.process_index() == 0
    bar = None
    if show:
        bar = _progress_bar(n_models)

    pieces: list = []
    n_loaded = n_loaded_models = 0
    t0 = time.perf_counter()

    def collect(pending):
        start, stop, out = pending
        host = jax.tree.map(lambda a: np.asarray(a)[: stop - start], to_host(out))
        pieces.append(host)
        if on_chunk is not None:
            on_chunk(start, stop, host)
        if bar is not None:
            bar.update(stop - start)

    pending = None
    for start in starts:
        stop = min(start + size, n_models)
        loaded = load_chunk(start, stop) if load_chunk is not None else None
        if multiprocess and load_chunk is not None:
            from jax.experimental import multihost_utils

            have = multihost_utils.process_allgather(np.array(loaded is not None))
            if have.any() and not have.all():
                raise RuntimeError(
                    f"chunk {start}:{stop} was found by some processes and not others; a resumed multi-process "
                    "sweep needs its output directory on a filesystem every process can read"
                )
        if loaded is not None:
            if pending is not None:
                collect(pending)
                pending = None
            pieces.append(loaded)
            n_loaded += 1
            n_loaded_models += stop - start
            if bar is not None:
                bar.update(stop - start)
            continue
        rows = np.arange(start, start + size)
        rows[rows >= n_models] = n_models - 1  # pad the ragged last chunk with the last model
        args = [to_devices(x) for x in chunk_inputs(rows)]
        out = ensure_compiled(size)(*args)  # dispatched asynchronously
        if pending is not None:
            collect(pending)  # overlaps the host copy of the previous chunk with this one
        pending = (start, stop, out)
    if pending is not None:
        collect(pending)
    run_s = time.perf_counter() - t0
    if bar is not None:
        bar.close()

    result = jax.tree.map(
        lambda *leaves: np.concatenate(leaves, axis=0).reshape(*shape, *leaves[0].shape[1:]), *pieces
    )
    if not return_stats:
        return result
    stats = SweepStats(
        n_models=n_models,
        chunk_size=size,
        n_chunks=len(starts),
        n_devices=n_dev,
        compile_s=state["compile_s"],
        run_s=run_s,
        memory_per_chunk_bytes=state["mem"],
        n_loaded_chunks=n_loaded,
        n_loaded_models=n_loaded_models,
        vmap_size=state["group"],
        compiler_options=state.get("compiler_options"),
        device=local_device.device_kind,
        n_processes=len({d.process_index for d in devices}),
    )
    return result, stats

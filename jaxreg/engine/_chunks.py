"""Running a sweep's chunks: load a finished one or compute it, and bring its outputs to the host.

Chunks run through one compiled program; the ragged last chunk is padded with
the last model (never recompiled). With ``threads=1`` they run one after another:
a computed chunk is dispatched asynchronously and the previous chunk's outputs are
copied to the host meanwhile. With ``threads > 1`` that many chunks run at once,
each dispatched and copied back from its own host thread: a CPU device runs the
executions of several threads side by side (one thread's executions run one
after another), so one device uses several cores. Outputs are handed on in chunk
order either way. Each process supplies the rows of its own devices and, across
processes, the outputs are all-gathered so that every process holds every chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxreg.engine._plan import SweepPlan
from jaxreg.engine._program import Program

__all__ = ["ChunkRun", "run_chunks"]


class ChunkRun(NamedTuple):
    """What :func:`run_chunks` did."""

    pieces: list  # each chunk's outputs (NumPy leaves of leading size stop - start), in order
    n_chunks: int  # chunks, loaded ones included
    n_loaded_chunks: int  # chunks load_chunk returned instead of computing them
    n_loaded_models: int  # models in those chunks
    compiled: tuple[Program, ...]  # programs compiled while running (at most one: the first computed chunk's)
    run_s: float  # seconds from the first chunk to the last one's outputs on the host, compilation excluded


class _Pending(NamedTuple):
    start: int  # first flat model of the chunk in flight
    stop: int  # one past its last real (unpadded) model
    out: Any  # its outputs, still on the devices


def run_chunks(
    plan: SweepPlan,
    size: int,
    program: Program | None,
    compile_chunk: Callable[[int], Program],
    *,
    threads: int = 1,
    progress: bool | None,
    on_chunk: Callable[[int, int, Any], None] | None,
    load_chunk: Callable[[int, int], Any] | None,
) -> ChunkRun:
    """Every chunk of ``size`` models, loaded (``load_chunk``) or computed with ``program`` (compiled on the first
    chunk that needs it when ``None``), ``threads`` chunks at once; ``on_chunk`` sees each computed chunk, in
    order, the progress bar every model."""
    starts = range(0, plan.n_models, size)
    show = (progress if progress is not None else len(starts) > threads) and jax.process_index() == 0
    bar = _progress_bar(plan.n_models) if show else None
    compiled: list[Program] = []

    def program_for_chunk() -> Program:
        nonlocal program
        if program is None:
            program = compile_chunk(size)
            compiled.append(program)
        return program

    t0 = time.perf_counter()
    runner = _in_order if threads == 1 else _side_by_side
    pieces, n_loaded, n_loaded_models = runner(plan, size, starts, program_for_chunk, threads,
                                               _Sinks(on_chunk, bar), load_chunk)
    run_s = time.perf_counter() - t0 - sum(p.compile_s for p in compiled)  # as when compiled before the first
    if bar is not None:
        bar.close()
    return ChunkRun(pieces, len(starts), n_loaded, n_loaded_models, tuple(compiled), run_s)


class _Sinks(NamedTuple):
    on_chunk: Callable[[int, int, Any], None] | None  # the caller's hook, for each computed chunk
    bar: Any  # the progress bar, or None


def _in_order(plan: SweepPlan, size: int, starts: range, program_for_chunk: Callable[[], Program], threads: int,
              sinks: _Sinks, load_chunk: Callable[[int, int], Any] | None) -> tuple[list, int, int]:
    """One chunk after another from this thread, the next dispatched before the previous one is copied back.
    Returns the pieces, and the chunks and models loaded."""
    pieces: list = []
    n_loaded = n_loaded_models = 0
    pending = None
    for start in starts:
        stop = min(start + size, plan.n_models)
        loaded = _load(plan, load_chunk, start, stop)
        if loaded is not None:
            if pending is not None:
                pieces.append(_collect(pending.start, pending.stop, _to_host(plan, pending.out), sinks))
                pending = None
            pieces.append(_loaded(loaded, stop - start, sinks))
            n_loaded, n_loaded_models = n_loaded + 1, n_loaded_models + stop - start
            continue
        out = _dispatch(plan, program_for_chunk(), start, size)
        if pending is not None:  # the previous chunk's copy overlaps this one
            pieces.append(_collect(pending.start, pending.stop, _to_host(plan, pending.out), sinks))
        pending = _Pending(start, stop, out)
    if pending is not None:
        pieces.append(_collect(pending.start, pending.stop, _to_host(plan, pending.out), sinks))
    return pieces, n_loaded, n_loaded_models


def _side_by_side(plan: SweepPlan, size: int, starts: range, program_for_chunk: Callable[[], Program],
                  threads: int, sinks: _Sinks, load_chunk: Callable[[int, int], Any] | None) -> tuple[list, int, int]:
    """Up to ``threads`` chunks at once, each dispatched and copied back by a thread of a pool; the pieces are
    collected in chunk order. An error (or Ctrl-C) cancels the chunks not started and waits for the running ones.
    Returns the pieces, and the chunks and models loaded."""
    slots: list[tuple[int, int, Any]] = []  # (start, stop, loaded outputs or the future of computed ones)
    pieces: list = []
    n_loaded = n_loaded_models = 0
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="jaxreg-sweep")
    try:
        for start in starts:
            stop = min(start + size, plan.n_models)
            loaded = _load(plan, load_chunk, start, stop)
            if loaded is None:
                loaded = pool.submit(_compute, plan, program_for_chunk(), start, size, jax.config.jax_enable_x64)
            else:
                n_loaded, n_loaded_models = n_loaded + 1, n_loaded_models + stop - start
            slots.append((start, stop, loaded))
        for start, stop, slot in slots:
            pieces.append(_collect(start, stop, slot.result(), sinks) if isinstance(slot, Future)
                          else _loaded(slot, stop - start, sinks))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return pieces, n_loaded, n_loaded_models


def _dispatch(plan: SweepPlan, program: Program, start: int, size: int) -> Any:
    """Models ``start:start + size`` dispatched (asynchronously); a ragged last chunk is padded with the last model."""
    rows = np.minimum(np.arange(start, start + size), plan.n_models - 1)
    return program.run(*[_to_devices(plan, x) for x in plan.rows(rows)])


def _compute(plan: SweepPlan, program: Program, start: int, size: int, x64: bool) -> Any:
    """One chunk computed and copied to the host, on the calling thread (a worker of :func:`_side_by_side`),
    with the caller's ``enable_x64`` mode: it is per thread, and it decides the dtype of the inputs."""
    with jax.enable_x64(x64):
        return _to_host(plan, _dispatch(plan, program, start, size))


def _load(plan: SweepPlan, load_chunk: Callable[[int, int], Any] | None, start: int, stop: int) -> Any:
    """``load_chunk(start, stop)`` (``None``: compute it); every process must agree on whether it loaded."""
    if load_chunk is None:
        return None
    loaded = load_chunk(start, stop)
    if plan.multiprocess:
        from jax.experimental import multihost_utils

        have = multihost_utils.process_allgather(np.array(loaded is not None))
        if have.any() and not have.all():
            raise RuntimeError(
                f"chunk {start}:{stop} was found by some processes and not others; a resumed multi-process "
                "sweep needs its output directory on a filesystem every process can read"
            )
    return loaded


def _collect(start: int, stop: int, host: Any, sinks: _Sinks) -> Any:
    """The chunk's real rows (padding dropped), after ``on_chunk`` and the progress bar saw them."""
    host = jax.tree.map(lambda a: np.asarray(a)[: stop - start], host)
    if sinks.on_chunk is not None:
        sinks.on_chunk(start, stop, host)
    if sinks.bar is not None:
        sinks.bar.update(stop - start)
    return host


def _loaded(outputs: Any, n: int, sinks: _Sinks) -> Any:
    """A loaded chunk's outputs, counted by the progress bar."""
    if sinks.bar is not None:
        sinks.bar.update(n)
    return outputs


def _to_devices(plan: SweepPlan, host: np.ndarray) -> jax.Array:
    # Each process supplies the rows of its own devices (every process knows the whole grid).
    return jax.make_array_from_callback(host.shape, plan.sharding, lambda idx: host[idx])


def _to_host(plan: SweepPlan, out: Any) -> Any:
    if plan.multiprocess:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(out, tiled=True)
    return jax.tree.map(np.asarray, out)


def _progress_bar(total: int) -> Any:
    """A tqdm bar over ``total`` models, or ``None`` when tqdm (an optional dependency) is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="model", desc="sweep", leave=False)

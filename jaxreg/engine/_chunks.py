"""Running a sweep's chunks: load a finished one or compute it, and bring its outputs to the host.

Chunks run through one compiled program; the ragged last chunk is padded with
the last model (never recompiled). With ``threads=1`` they run one after another:
a computed chunk is dispatched asynchronously and the previous chunk's outputs are
copied to the host meanwhile. With ``threads > 1`` up to that many chunks run at
once (fewer when their memory would not fit), each dispatched and copied back
from its own host thread: a CPU device runs the executions of several threads
side by side (one thread's executions run one after another), so one device
uses several cores. Outputs are handed on in chunk order either way. Each
process supplies the rows of its own devices and, across processes, the outputs
are all-gathered so that every process holds every chunk.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxreg.engine._plan import SweepPlan
from jaxreg.engine._program import Program

try:  # what a compiled program raises under jax_debug_nans / jax_debug_infs (a private name)
    from jax._src.api_util import InternalFloatingPointError as _JaxSpecialValueError
except ImportError:  # pragma: no cover - another JAX: its error passes through as it is
    _JaxSpecialValueError = FloatingPointError

__all__ = ["ChunkRun", "run_chunks"]


class ChunkRun(NamedTuple):
    """What :func:`run_chunks` did."""

    pieces: list  # each chunk's outputs (NumPy leaves of leading size stop - start), in order
    n_chunks: int  # chunks, loaded ones included
    n_loaded_chunks: int  # chunks load_chunk returned instead of computing them
    n_loaded_models: int  # models in those chunks
    compiled: tuple[Program, ...]  # programs compiled while running (at most one: the first computed chunk's)
    run_s: float  # seconds from the first chunk to the last one's outputs on the host, compilation excluded
    threads: int  # the most chunks computed at once (0 when every chunk loaded)


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
    memory_budget: float | None = None,
    progress: bool | None,
    on_chunk: Callable[[int, int, Any], None] | None,
    load_chunk: Callable[[int, int], Any] | None,
) -> ChunkRun:
    """Every chunk of ``size`` models, loaded (``load_chunk``) or computed with ``program`` (compiled on the first
    chunk that needs it when ``None``), up to ``threads`` chunks at once and no more than fit in ``memory_budget``
    bytes (by the program's memory figure; ``None``: no limit); ``on_chunk`` sees each computed chunk, in order,
    the progress bar every model."""
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
    sinks = _Sinks(on_chunk, bar)
    if threads == 1:
        pieces, n_loaded, n_loaded_models = _in_order(plan, size, starts, program_for_chunk, sinks, load_chunk)
        most_at_once = 1
    else:
        pieces, n_loaded, n_loaded_models, most_at_once = _side_by_side(
            plan, size, starts, program_for_chunk, threads, memory_budget, sinks, load_chunk)
    run_s = time.perf_counter() - t0 - sum(p.compile_s for p in compiled)  # as when compiled before the first
    if bar is not None:
        bar.close()
    return ChunkRun(pieces, len(starts), n_loaded, n_loaded_models, tuple(compiled), run_s,
                    min(most_at_once, len(starts) - n_loaded))


class _Sinks(NamedTuple):
    on_chunk: Callable[[int, int, Any], None] | None  # the caller's hook, for each computed chunk
    bar: Any  # the progress bar, or None


def _in_order(plan: SweepPlan, size: int, starts: range, program_for_chunk: Callable[[], Program],
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


def _window(threads: int, memory_budget: float | None, program: Program) -> int:
    """How many chunks :func:`_side_by_side` keeps in flight: ``threads``, or fewer (at least one) when that many
    programs' memory would not fit ``memory_budget``."""
    if memory_budget is None or not program.memory_bytes:
        return threads
    return max(1, min(threads, int(memory_budget // program.memory_bytes)))


def _side_by_side(plan: SweepPlan, size: int, starts: range, program_for_chunk: Callable[[], Program],
                  threads: int, memory_budget: float | None, sinks: _Sinks,
                  load_chunk: Callable[[int, int], Any] | None) -> tuple[list, int, int, int]:
    """Chunks computed by a pool of ``threads`` threads, no more in flight than :func:`_window`, and collected in
    chunk order. An error (or Ctrl-C) stops the submission, cancels what has not started and waits for the running
    chunks. Returns the pieces, the chunks and models loaded, and the most chunks in flight at once."""
    slots: deque[tuple[int, int, Any]] = deque()  # (start, stop, loaded outputs or the future of computed ones)
    pieces: list = []
    n_loaded = n_loaded_models = in_flight = most_at_once = 0
    window = threads
    caller = _ThreadConfig.of_caller()
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="jaxreg-sweep")
    try:
        for start in starts:
            stop = min(start + size, plan.n_models)
            slot = _load(plan, load_chunk, start, stop)
            if slot is None:
                program = program_for_chunk()
                window = _window(threads, memory_budget, program)
                slot = executor.submit(_compute, plan, program, start, size, caller)
                in_flight += 1
                most_at_once = max(most_at_once, in_flight)
            else:
                n_loaded, n_loaded_models = n_loaded + 1, n_loaded_models + stop - start
            slots.append((start, stop, slot))
            while slots and (in_flight >= window or not isinstance(slots[0][2], Future)):
                in_flight -= isinstance(slots[0][2], Future)
                pieces.append(_take(slots.popleft(), sinks))
        while slots:
            pieces.append(_take(slots.popleft(), sinks))
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return pieces, n_loaded, n_loaded_models, most_at_once


def _take(slot: tuple[int, int, Any], sinks: _Sinks) -> Any:
    """A slot's outputs: a computed chunk's once its thread is done, a loaded chunk's as they are."""
    start, stop, outputs = slot
    if isinstance(outputs, Future):
        return _collect(start, stop, outputs.result(), sinks)
    return _loaded(outputs, stop - start, sinks)


class _ThreadConfig(NamedTuple):
    """The caller's JAX settings that running a chunk reads. They are per thread, and a pool's threads start
    with the global ones: ``enable_x64`` decides the inputs' dtype, the debug flags what the caller asked to be
    checked. (Transfer guards are not carried: a worker runs no user code, and the sweep's own transfers are
    explicit.)"""

    enable_x64: bool
    debug_nans: bool
    debug_infs: bool

    @classmethod
    def of_caller(cls) -> _ThreadConfig:
        return cls(*(getattr(jax.config, f"jax_{name}") for name in cls._fields))

    def entered(self, stack: contextlib.ExitStack) -> None:
        for name, value in self._asdict().items():
            stack.enter_context(getattr(jax, name)(value))


def _dispatch(plan: SweepPlan, program: Program, start: int, size: int) -> Any:
    """Models ``start:start + size`` dispatched (asynchronously); a ragged last chunk is padded with the last model."""
    rows = np.minimum(np.arange(start, start + size), plan.n_models - 1)
    args = [_to_devices(plan, x) for x in plan.rows(rows)]
    try:
        return program.run(*args)
    except _JaxSpecialValueError as e:  # JAX's own names neither the models nor the public exception type
        raise _special_value_error(plan, program, args, rows, getattr(e, "ty", "nan")) from None


def _special_value_error(plan: SweepPlan, program: Program, args: list, rows: np.ndarray,
                         kind: str) -> FloatingPointError:
    """The error for a chunk whose outputs hold a NaN (or inf) under ``jax_debug_nans`` (``debug_infs``): the
    chunk run again without the check, and the models with a non-finite output named."""
    bad: list[int] = []
    if not plan.multiprocess:  # (across processes the rerun would need every process to fail alike)
        with jax.debug_nans(False), jax.debug_infs(False):
            out = _to_host(plan, program.run(*args))
        finite = np.ones(len(rows), bool)
        for leaf in jax.tree.leaves(out):  # NumPy arrays (device_get)
            if np.issubdtype(leaf.dtype, np.inexact):
                finite &= np.isfinite(leaf.reshape(len(rows), -1)).all(1)
        bad = sorted({int(r) for r in rows[~finite]})
    named = "; ".join(plan.describe(i) for i in bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
    which = f"{len(bad)} model(s): {named}" if bad else f"models {int(rows[0])}:{int(rows[-1]) + 1}"
    return FloatingPointError(
        f"{kind} in the outputs of {which}, with jax_debug_{kind}s on (without it a sweep keeps going and marks such "
        f"models non-finite). To find the operation, call train_fn on one of them inside "
        f"`with jax.debug_{kind}s(True), jax.disable_jit():`"
    )


def _compute(plan: SweepPlan, program: Program, start: int, size: int, caller: _ThreadConfig) -> Any:
    """One chunk computed and copied to the host, on a worker thread of :func:`_side_by_side`, under the
    caller's thread settings."""
    with contextlib.ExitStack() as stack:
        caller.entered(stack)
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
    # Each process supplies the rows of its own devices (every process knows the whole grid). A deliberate
    # transfer: a caller's transfer guard is meant for their own code.
    with jax.transfer_guard_host_to_device("allow"):
        return jax.make_array_from_callback(host.shape, plan.sharding, lambda idx: host[idx])


def _to_host(plan: SweepPlan, out: Any) -> Any:
    if plan.multiprocess:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(out, tiled=True)
    return jax.device_get(out)  # explicit: allowed under a caller's transfer guard


def _progress_bar(total: int) -> Any:
    """A tqdm bar over ``total`` models, or ``None`` when tqdm (an optional dependency) is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="model", desc="sweep", leave=False)

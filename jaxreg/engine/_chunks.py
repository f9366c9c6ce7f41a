"""Running a sweep's chunks: load a finished one or compute it, and bring its outputs to the host.

Chunks run one after another through one compiled program; the ragged last chunk
is padded with the last model (never recompiled). A computed chunk is dispatched
asynchronously and the previous chunk's outputs are copied to the host meanwhile.
Each process supplies the rows of its own devices and, across processes, the
outputs are all-gathered so that every process holds every chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    progress: bool | None,
    on_chunk: Callable[[int, int, Any], None] | None,
    load_chunk: Callable[[int, int], Any] | None,
) -> ChunkRun:
    """Every chunk of ``size`` models, loaded (``load_chunk``) or computed with ``program`` (compiled on the first
    chunk that needs it when ``None``); ``on_chunk`` sees each computed chunk, the progress bar every model."""
    n_models = plan.n_models
    starts = range(0, n_models, size)
    show = (progress if progress is not None else len(starts) > 1) and jax.process_index() == 0
    bar = _progress_bar(n_models) if show else None
    pieces: list = []
    compiled: list[Program] = []
    n_loaded = n_loaded_models = 0
    pending = None
    t0 = time.perf_counter()
    for start in starts:
        stop = min(start + size, n_models)
        loaded = _load(plan, load_chunk, start, stop)
        if loaded is not None:
            if pending is not None:
                pieces.append(_collect(plan, pending, on_chunk, bar))
                pending = None
            pieces.append(loaded)
            n_loaded, n_loaded_models = n_loaded + 1, n_loaded_models + stop - start
            if bar is not None:
                bar.update(stop - start)
            continue
        if program is None:
            program = compile_chunk(size)
            compiled.append(program)
        rows = np.minimum(np.arange(start, start + size), n_models - 1)  # ragged last chunk: pad with the last model
        out = program.run(*[_to_devices(plan, x) for x in plan.rows(rows)])  # dispatched asynchronously
        if pending is not None:
            pieces.append(_collect(plan, pending, on_chunk, bar))  # the previous chunk's copy overlaps this one
        pending = _Pending(start, stop, out)
    if pending is not None:
        pieces.append(_collect(plan, pending, on_chunk, bar))
    run_s = time.perf_counter() - t0 - sum(p.compile_s for p in compiled)  # as when compiled before the first
    if bar is not None:
        bar.close()
    return ChunkRun(pieces, len(starts), n_loaded, n_loaded_models, tuple(compiled), run_s)


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


def _collect(plan: SweepPlan, pending: _Pending, on_chunk: Callable[[int, int, Any], None] | None, bar: Any) -> Any:
    """The chunk's real rows on the host (padding dropped), after ``on_chunk`` and the progress bar saw them."""
    host = jax.tree.map(lambda a: np.asarray(a)[: pending.stop - pending.start], _to_host(plan, pending.out))
    if on_chunk is not None:
        on_chunk(pending.start, pending.stop, host)
    if bar is not None:
        bar.update(pending.stop - pending.start)
    return host


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

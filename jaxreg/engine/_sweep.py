"""``sweep``: one jit-compiled, vmapped call trains a model per λ (× key × fold).

The per-model work is ``train_fn``, any pure function returning a pytree. A sweep
runs in stages, each in the module named for it:

1. plan the grid (``_plan``): folds × keys × λ flattened to one row per model,
   the devices the model axis is sharded over;
2. compile a chunk (``_program``): ``shard_map`` over the devices, vmapped
   groups within each device's block; the chunk size is chosen here from the
   compiled program's memory (:func:`_choose_chunk`), so the number of
   compilations does not depend on the number of models (one, or two when the
   first program asks for smaller chunks);
3. run and gather the chunks (``_chunks``): load or compute each, copy it to
   the host, reshape to the grid.

Equality with a Python loop: every model sees exactly the inputs it would in a
loop, but XLA compiles a batched program, so results equal a loop of
``jax.jit(train_fn)`` within float rounding (a few ulps), not always bit for bit;
a different ``chunk_size``, number of devices or ``threads`` (by default the
core count, which sets the automatic chunk size) can change results by as much.
The same call on the same machine is deterministic run to run, and a resume
reuses the interrupted run's chunk size, so it equals an uninterrupted one.
With ``vmap_size=1`` every model runs through the same
single-model program, and results are bit for bit independent of chunk size,
device count and the rest of the grid. docs/design/engine.md says why.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxreg._train import bad_call_error, misplaced_parameters
from jaxreg.engine._chunks import ChunkRun, run_chunks
from jaxreg.engine._compile import SWEEP_CPU_COMPILER_OPTIONS, SWEEP_PROGRAMS, SweepProgramCache
from jaxreg.engine._devices import threads_per_device
from jaxreg.engine._memory import available_memory_bytes
from jaxreg.engine._plan import SweepPlan, plan_grid
from jaxreg.engine._program import ChunkCompiler, Program

__all__ = ["sweep", "SweepStats"]


class SweepStats(dict):
    """Timings and layout of one :func:`sweep` call: a ``dict`` with these keys.

    * ``n_models``: models in the grid (``F × S × K``).
    * ``chunk_size``: models per compiled call, a multiple of ``n_devices``.
    * ``n_chunks``: chunks, loaded ones included.
    * ``n_devices``: devices the model axis was sharded over.
    * ``threads``: the most chunks computed at once on each device, each from its own host thread (at most the
      ``threads`` asked for: fewer when fewer chunks were computed, 0 when every chunk loaded, or fewer when an
      explicit ``chunk_size``'s memory would not fit).
    * ``n_processes``: processes those devices belong to.
    * ``compile_s``: seconds spent tracing, lowering and compiling (``0.0`` when nothing was compiled).
    * ``n_compiled``: programs this call compiled; ``0`` when every chunk loaded or the programs came from the
      program cache (``program_cache``).
    * ``run_s``: seconds from the first chunk until the last one's outputs were on the host, compilation
      excluded (with an explicit ``chunk_size`` the program compiles at the first computed chunk; that time
      counts in ``compile_s`` alone), so ``n_models / run_s`` means the same whatever the chunking.
    * ``memory_per_chunk_bytes``: arguments + outputs + temporaries of the last compiled program (XLA's
      ``memory_analysis``); ``None`` when the backend does not report it or nothing was compiled.
    * ``vmap_size``: models vectorised together on a device (``None``: the whole block at once); when nothing
      was compiled, the ``vmap_size`` asked for (``None`` for ``"auto"``).
    * ``compiler_options``: the XLA options the program compiled with (``{}``: XLA's defaults); ``None`` when
      nothing was compiled.
    * ``n_loaded_chunks``, ``n_loaded_models``: chunks (and their models) that ``load_chunk`` returned.
    * ``device``: ``device_kind`` of this process's first device.

    Example:
      >>> _, stats = sweep(lambda lam: lam * 2, [0.1, 0.2, 0.3], chunk_size=2, return_stats=True)
      >>> stats["n_models"], stats["chunk_size"], stats["n_chunks"], stats["n_loaded_chunks"]
      (3, 2, 2, 0)
    """


class ChunkChoice(NamedTuple):
    """The chunk size a sweep runs with and the programs compiled to choose it."""

    size: int  # models per call, a multiple of the device count
    programs: tuple[Program, ...]  # none (an explicit chunk_size compiles lazily), one, or two (shrunk)


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
    threads: int | str = "auto",
    progress: bool | None = None,
    on_chunk: Callable[[int, int, Any], None] | None = None,
    load_chunk: Callable[[int, int], Any] | None = None,
    return_stats: bool = False,
    compiler_options: dict[str, Any] | None = None,
    program_cache: SweepProgramCache | None = SWEEP_PROGRAMS,
) -> Any:
    """Train one model per λ (× key × fold) in one compiled, vmapped, sharded call.

    Args:
      train_fn: pure ``train_fn(lam[, key][, fold]) -> pytree``: ``key`` with ``keys=``, ``fold`` with ``folds=``.
      lambdas: 1-D grid of λ (``K`` values, finite, ``>= 0``).
      keys: PRNG keys (``jax.random.split(key, S)``) or a list of int seeds.
      folds: number of CV folds ``F`` (``train_fn`` gets ``fold = 0..F-1``) or a sequence of fold ids.
      chunk_size: models per compiled call, rounded up to a multiple of the number of devices; the ragged last
        chunk is padded, never recompiled. ``None``: as many as fit in ``memory_fraction`` of each device's free
        memory, measured from the compiled program (``memory_analysis``).
      devices: devices to shard the model axis over (default: ``jax.devices()``, every device of every process
        after :func:`jaxreg.initialize_distributed`; outputs are gathered to every process). In one process, at
        most one device per model is used. On a CPU, ``threads`` uses every core of JAX's single default
        device; :func:`jaxreg.use_cpu_cores` gives one device per core instead.
      memory_fraction: share of free device memory the chunks running at once (``threads``) may use.
      vmap_size: models vectorised together on a device; the rest of its block runs one group after another
        (``lax.map``), in equal groups of between half of it and all of it (the size that pads least).
        ``None``: the whole block at once. ``"auto"`` (default): ``None`` on GPU/TPU; on CPU, groups whose
        training step's values (:func:`jaxreg.engine.step_bytes`, read off the jaxpr: no extra compilation) stay
        within :data:`jaxreg.engine.CPU_GROUP_BYTES`, because a vmap whose activations spill out of cache loses
        to a loop. ``1``: one model at a time; a model's result then does not depend on ``chunk_size``, the
        number of devices or the other λ in the grid (bit for bit; tested).
      threads: chunks run at once on each device, each dispatched from its own host thread. ``"auto"``
        (default): on a CPU in one process, the cores per JAX CPU device (:func:`jaxreg.engine.threads_per_device`:
        a CPU device runs several threads' executions side by side), else 1. With ``threads > 1`` and
        ``chunk_size=None`` the grid is split into ``threads`` chunks; with an explicit ``chunk_size``, no more
        chunks run at once than fit in ``memory_fraction``. Must be 1 across processes. Results do not depend on
        it beyond what the chunk size changes (nothing with ``vmap_size=1``).
      progress: tqdm bar over the models (default: with more chunks than `threads`; none without tqdm installed).
      on_chunk: ``on_chunk(start, stop, outputs)`` after each computed chunk, with ``outputs`` (NumPy) for flat
        models ``start:stop``; for checkpoints.
      load_chunk: ``load_chunk(start, stop) -> outputs or None``: a chunk finished earlier (resume); ``None``
        computes it. When every chunk loads, nothing is compiled.
      return_stats: also return a :class:`SweepStats`.
      compiler_options: XLA options for the compilation (``Lowered.compile``'s ``compiler_options``, e.g.
        ``{"xla_gpu_autotune_level": 0}``). ``None``: :data:`jaxreg.engine.SWEEP_CPU_COMPILER_OPTIONS` on a CPU
        (XLA's defaults where this jaxlib does not know them), XLA's defaults elsewhere; ``{}``: XLA's defaults.
      program_cache: compiled programs kept between calls (:class:`jaxreg.engine.SweepProgramCache`): a second
        call with the same ``train_fn``, grid shapes, devices and options compiles nothing. Default: the process's
        :data:`jaxreg.engine.SWEEP_PROGRAMS`; ``None``: compile every time. Across processes:
        :func:`jaxreg.engine.enable_compilation_cache`.

    Returns:
      ``train_fn``'s pytree with NumPy leaves of leading shape ``(K,)``, ``(S, K)`` with keys, ``(F, K)`` with
      folds, ``(F, S, K)`` with both; and a :class:`SweepStats` when ``return_stats``.

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> def train(lam):
      ...     opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(0.1))
      ...     return jaxreg.fit(lambda w: jnp.sum((w - 3.0) ** 2), jnp.zeros(()), opt, steps=200).params
      >>> jaxreg.sweep(train, [0.0, 1.0, 2.0]).round(3)   # 3 / (1 + λ)
      array([3. , 1.5, 1. ], dtype=float32)
    """
    vmap_size = _check_arguments(train_fn, chunk_size, vmap_size, compiler_options, memory_fraction, program_cache)
    threads = _check_threads(threads)
    plan = plan_grid(lambdas, keys=keys, folds=folds, devices=devices)
    threads = _threads_for(plan, threads)
    explicit = compiler_options is not None  # the caller's: an option XLA rejects is the caller's to fix
    default_options = SWEEP_CPU_COMPILER_OPTIONS if plan.platform == "cpu" else {}
    compiler = ChunkCompiler(train_fn, plan, vmap_size=vmap_size, strict=explicit, cache=program_cache,
                             compiler_options=compiler_options if explicit else default_options)
    with _explained_calls(train_fn, keys, folds):  # train_fn is first traced here
        budget = _memory_budget(plan, memory_fraction)
        choice = _choose_chunk(plan, compiler, chunk_size, budget, threads)
        run = run_chunks(plan, choice.size, choice.programs[-1] if choice.programs else None, compiler.compile,
                         threads=threads, memory_budget=None if chunk_size is None else budget,  # else sized
                         progress=progress, on_chunk=on_chunk,
                         load_chunk=load_chunk)
    result = _gather(plan, run.pieces)
    if not return_stats:
        return result
    return result, _stats(plan, choice.size, run, choice.programs + run.compiled, compiler.vmap_size)


def _check_arguments(train_fn: Any, chunk_size: Any, vmap_size: Any, compiler_options: Any,
                     memory_fraction: Any, program_cache: Any) -> int | str | None:
    """Raise for a bad argument of :func:`sweep`, naming it; returns ``vmap_size`` (an int as a Python int)."""
    if not callable(train_fn):
        raise TypeError(f"train_fn must be callable, got {train_fn!r}")
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
            raise TypeError(f"chunk_size must be a positive int or None (automatic), got {chunk_size!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1 (models per call) or None (automatic), got {chunk_size}")
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
    if isinstance(memory_fraction, bool) or not isinstance(memory_fraction, (int, float, np.integer, np.floating)):
        raise ValueError(f"memory_fraction must be a float in (0, 1], got {memory_fraction!r}")
    if not (0 < memory_fraction <= 1):
        raise ValueError(f"memory_fraction must be in (0, 1], got {memory_fraction}")
    if program_cache is not None and not isinstance(program_cache, SweepProgramCache):
        raise TypeError("program_cache must be a jaxreg.engine.SweepProgramCache (default: the process's "
                        f"SWEEP_PROGRAMS) or None (compile every time), got {program_cache!r}")
    return vmap_size


@contextlib.contextmanager
def _explained_calls(train_fn: Callable[..., Any], keys: Any, folds: Any) -> Iterator[None]:
    """A ``TypeError`` raised because ``train_fn``'s signature cannot take sweep's call, re-raised with sweep's
    calling convention; any other error as it is."""
    passed = [(name, why) for name, why, on in (("key", "keys= is given", keys is not None),
                                                ("fold", "folds= is given", folds is not None)) if on]
    more = ("sweep passes train_fn a key only with keys= (e.g. keys=[0, 1] for two seeds, or "
            "keys=jax.random.split(key, n)) and a fold only with folds= (e.g. folds=5)")
    fewer = ("sweep passes " + ", ".join(f"{name} because {why}" for name, why in passed)
             + ": add those parameters to train_fn, in that order after lam, or leave that argument of sweep out")
    try:
        yield
    except TypeError as e:
        names = ["lam", *(name for name, _ in passed)]
        error = (bad_call_error(train_fn, "train_fn", names, (more, fewer)) or _misnamed_call(train_fn, names, e)
                 or _concrete_use(names, e))
        if error is None:
            raise
        raise error from e


#: JAX's errors for a traced value used where Python needs a concrete one (a branch, an index into a list, NumPy).
_CONCRETE_USES = (jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError,
                  jax.errors.TracerArrayConversionError)


def _concrete_use(names: list[str], error: TypeError) -> TypeError | None:
    """JAX's error for a traced value used as a Python one (``if lam > 0:``), with what sweep traces and the fix;
    ``None`` for any other ``TypeError``."""
    if not isinstance(error, _CONCRETE_USES):
        return None
    said = str(error).strip().splitlines()[0]
    traced = f"{names[0]} is an abstract array" if len(names) == 1 else f"{', '.join(names)} are abstract arrays"
    return TypeError(
        f"train_fn used a traced value as a Python value (a branch such as `if lam > 0:`, a Python list indexed by "
        f"it, int() or np.asarray() of it): "
        f"sweep traces train_fn once for the whole grid, so {traced} there. Branch "
        f"with jnp.where(lam > 0, a, b) or jax.lax.cond, and index with the array itself (held[fold]). JAX: {said}")


#: Parameter names that say what a train_fn expects in a position, for :func:`_misnamed_call`.
_ARGUMENT_NAMES = {"key": {"key", "rng", "prng_key", "seed"}, "fold": {"fold", "fold_id", "folds"}}


def _misnamed_call(train_fn: Callable[..., Any], names: list[str], error: TypeError) -> TypeError | None:
    """A ``TypeError`` from inside ``train_fn`` when sweep passed a key where its parameter is named like a fold (or
    the reverse), saying so; ``None`` otherwise (the original error stands)."""
    misplaced = [m for m in misplaced_parameters(train_fn, names, _ARGUMENT_NAMES) if m[1] != "lam"]
    if not misplaced:
        return None
    param, passed, other = misplaced[0]
    return TypeError(
        f"train_fn's parameter {param!r} (position {names.index(passed) + 1}) received a {passed}, because "
        f"sweep passes train_fn({', '.join(names)}): pass {'folds=' if other == 'fold' else 'keys='} for a {other} "
        f"instead of or beside {'keys=' if passed == 'key' else 'folds='} (it failed with: {error})"
    )


def _check_threads(threads: Any) -> int | str:
    """``threads`` as ``"auto"`` or a Python int >= 1; a ``ValueError`` naming it otherwise."""
    if threads == "auto":
        return threads
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive int (chunks run at once on each device) or 'auto' (the CPU "
                         f"cores per device on a CPU, else 1), got {threads!r}")
    return int(threads)


def _threads_for(plan: SweepPlan, threads: int | str) -> int:
    """The chunks to run at once on each device; a ``ValueError`` for several in a multi-process sweep."""
    if threads == "auto":
        return threads_per_device(plan.devices)
    if threads > 1 and plan.multiprocess:
        raise ValueError(f"threads must be 1 or 'auto' in a multi-process sweep (its chunks are gathered across "
                         f"processes in lockstep, one at a time), got {threads}")
    return threads


def _choose_chunk(plan: SweepPlan, compiler: ChunkCompiler, chunk_size: int | None, budget: float | None,
                  threads: int = 1) -> ChunkChoice:
    """``chunk_size`` rounded up to a multiple of the device count (compiled later: resumed chunks need none);
    ``None``: the grid split in ``threads`` chunks, compiled, then, if XLA's memory figure for one exceeds its
    share (``threads`` run at once) of the ``budget`` bytes, the largest chunk that fits, compiled once more."""
    full = _round_up(plan.n_models, plan.n_devices)
    if chunk_size is not None:
        return ChunkChoice(min(_round_up(int(chunk_size), plan.n_devices), full), ())
    full = min(full, _round_up(-(-plan.n_models // threads), plan.n_devices))
    program = compiler.compile(full)
    if program.memory_bytes is None or budget is None:
        return ChunkChoice(full, (program,))
    if program.memory_bytes <= budget / threads or full <= plan.n_devices:
        return ChunkChoice(full, (program,))
    per_model = program.memory_bytes / (full // plan.n_devices)
    size = min(full, max(1, int(budget / threads // per_model)) * plan.n_devices)
    return ChunkChoice(size, (program, compiler.compile(size)))


def _memory_budget(plan: SweepPlan, memory_fraction: float) -> float | None:
    """Bytes the chunks running at once on a device may use: ``memory_fraction`` of its free memory (``None``:
    unknown)."""
    free = available_memory_bytes(plan.local_device)
    if free is None:
        return None
    return memory_fraction * (free / plan.n_local if plan.platform == "cpu" else free)  # CPU devices share RAM


def _gather(plan: SweepPlan, pieces: list) -> Any:
    """The chunks' outputs concatenated along the model axis and reshaped to the grid ``(F?, S?, K, ...)``."""
    return jax.tree.map(
        lambda *leaves: np.concatenate(leaves, axis=0).reshape(*plan.grid_shape, *leaves[0].shape[1:]), *pieces
    )


def _stats(plan: SweepPlan, size: int, run: ChunkRun, programs: tuple[Program, ...],
           vmap_size: int | str | None) -> SweepStats:
    last = programs[-1] if programs else None
    return SweepStats(
        n_models=plan.n_models,
        chunk_size=size,
        n_chunks=run.n_chunks,
        n_devices=plan.n_devices,
        threads=run.threads,
        compile_s=float(sum(p.compile_s for p in programs)),
        n_compiled=sum(not p.cached for p in programs),
        run_s=run.run_s,
        memory_per_chunk_bytes=last.memory_bytes if last else None,
        n_loaded_chunks=run.n_loaded_chunks,
        n_loaded_models=run.n_loaded_models,
        vmap_size=last.vmap_size if last else (None if vmap_size == "auto" else vmap_size),
        compiler_options=last.compiler_options if last else None,
        device=plan.local_device.device_kind,
        n_processes=plan.n_processes,
    )


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m

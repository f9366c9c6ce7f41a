"""The compiled program that trains one chunk of models: ``shard_map`` over devices, vmap groups within.

A chunk of ``size`` models is sharded along the model axis, one block of
``size / n_devices`` models per device; the per-model work has no collectives.
Within its block a device runs the models

* all at once, one ``vmap`` over the block (``vmap_size=None``; ``"auto"`` off CPU);
* in equal vmapped groups run one after another with ``lax.map`` (an int, or
  ``"auto"`` on CPU: groups whose jaxpr step bytes stay within
  :data:`CPU_GROUP_BYTES`, so each group's working set stays in cache);
* one at a time through the single-model program (``vmap_size=1``, or a group size
  of 1 however it came about), so a model's result does not depend on the rest of the
  chunk.

:class:`ChunkCompiler` decides the group size *before* it builds the program
(from one trace of the training function), so the size it used comes back in
the :class:`Program` rather than from inside the trace. It keeps its programs in a
:class:`~jaxreg.engine.SweepProgramCache`, so an identical sweep later in the process
compiles nothing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.extend import core as jcore
from jax.sharding import NamedSharding

from jaxreg.engine._compile import SweepProgramCache, compile_with_options
from jaxreg.engine._memory import compiled_memory_bytes, jaxpr_step_bytes
from jaxreg.engine._plan import SweepPlan

__all__ = ["CPU_GROUP_BYTES", "Program", "ChunkCompiler"]

#: On CPU, vmap groups whose per-step values (:func:`jaxreg.engine.step_bytes` × group size)
#: stay within this many bytes (``vmap_size="auto"``): cache-sized (see docs/design/engine.md).
CPU_GROUP_BYTES = 12 * 2**20


class Program(NamedTuple):
    """One compiled chunk program and what it cost."""

    run: Any  # the compiled program: run(*sharded inputs in call order) -> sharded outputs
    chunk_size: int  # models per call, a multiple of the device count
    vmap_size: int | None  # models vectorised together on a device; None: the whole block at once
    compiler_options: dict  # the XLA options it compiled with ({}: XLA's defaults)
    compile_s: float  # seconds to trace, lower and compile it (0.0: found in the program cache)
    memory_bytes: int | None  # arguments + outputs + temporaries (XLA), None where the backend does not say
    cached: bool = False  # found in the program cache rather than compiled by this sweep


class _TracedModel(NamedTuple):
    fn: Callable[..., Any]  # one model, evaluated from its jaxpr (no second trace of train_fn)
    step_bytes: int  # bytes one training step's values take (jaxpr_step_bytes)


class ChunkCompiler:
    """Compiles the chunk program of one sweep for a chunk size; traces ``train_fn`` for its group size once.

    Args:
      train_fn: the sweep's ``train_fn(lam[, key][, fold])``.
      plan: the sweep's grid and devices.
      vmap_size: ``"auto"``, ``None`` or a positive int (see :func:`jaxreg.sweep`).
      compiler_options: XLA options to compile with.
      strict: an option XLA rejects raises (the caller's options) instead of falling back to XLA's defaults.
      cache: programs kept from earlier sweeps, looked up before compiling (``None``: compile every time).
    """

    def __init__(self, train_fn: Callable[..., Any], plan: SweepPlan, *, vmap_size: int | str | None,
                 compiler_options: dict, strict: bool, cache: SweepProgramCache | None = None):
        self.train_fn = train_fn
        self.model = _model_function(train_fn, plan.key_impl)
        self.plan = plan
        self.vmap_size = vmap_size
        self.compiler_options = compiler_options
        self.strict = strict
        self.cache = cache

    def compile(self, size: int) -> Program:
        """The program for chunks of ``size`` models (a multiple of the device count): the cache's, or compiled."""
        if self.cache is None:
            return self._compile(size)
        program, kept = self.cache.get(self.train_fn, (*self._key, size), lambda: self._compile(size))
        return program._replace(compile_s=0.0, cached=True) if kept else program

    @functools.cached_property
    def _key(self) -> tuple:
        """Everything but the training function and the chunk size that determines the program."""
        plan = self.plan
        inputs = tuple((x.shape[1:], x.dtype.str) for x in plan.inputs)
        options = tuple(sorted((k, repr(v)) for k, v in self.compiler_options.items()))
        return (inputs, plan.key_impl, plan.devices, self.vmap_size, options, self.strict,
                jax.config.jax_default_matmul_precision)

    def _compile(self, size: int) -> Program:
        t0 = time.perf_counter()
        block_fn, group = self._block_function(size // self.plan.n_devices)
        sharding = self.plan.sharding
        specs = [jax.ShapeDtypeStruct((size, *x.shape[1:]), x.dtype, sharding=sharding) for x in self.plan.inputs]
        lowered = _sharded(block_fn, sharding).lower(*specs)
        compiled, options = compile_with_options(lowered, self.compiler_options, strict=self.strict)
        compile_s = time.perf_counter() - t0
        return Program(compiled, size, group, options, compile_s, compiled_memory_bytes(compiled))

    def _block_function(self, block: int) -> tuple[Callable[..., Any], int | None]:
        """What one device runs on its ``block`` models, and the vmap group size it uses (None: all at once).

        A group of one model runs the single-model program, not a vmap of one: that program is the one a loop of
        ``jax.jit(train_fn)`` compiles (unbatched matmuls, a shorter compilation), and its results are those of
        ``vmap_size=1``."""
        if self.vmap_size == 1 or (self.vmap_size == "auto" and block == 1):
            return _one_at_a_time(self.model), 1
        if self.vmap_size is None or (self.vmap_size == "auto" and self.plan.platform != "cpu"):
            return _in_groups(self.model, None), None
        if self.vmap_size == "auto":  # CPU: cache-sized groups, read off one trace of the model
            fn, most = self._traced.fn, max(1, int(CPU_GROUP_BYTES // max(1, self._traced.step_bytes)))
        else:
            fn, most = self.model, self.vmap_size
        group = _group_size(block, most)
        return (_one_at_a_time(fn) if group == 1 else _in_groups(fn, group)), group

    @functools.cached_property
    def _traced(self) -> _TracedModel:
        specs = [jax.ShapeDtypeStruct(x.shape[1:], x.dtype) for x in self.plan.inputs]
        closed, out_shape = jax.make_jaxpr(self.model, return_shape=True)(*specs)
        run_jaxpr, tree = jcore.jaxpr_as_fun(closed), jax.tree.structure(out_shape)
        return _TracedModel(lambda *a: jax.tree.unflatten(tree, run_jaxpr(*a)), jaxpr_step_bytes(closed.jaxpr))


def _model_function(train_fn: Callable[..., Any], key_impl: Any) -> Callable[..., Any]:
    """``train_fn`` as a function of one model's row of the plan's inputs (key data wrapped back into a key).

    A new function for every sweep, so that JAX's trace caches, keyed on the function, never hand a sweep an
    earlier sweep's trace of ``train_fn``.
    """

    def one(lam, *rest):
        if key_impl is not None:
            rest = (jax.random.wrap_key_data(rest[0], impl=key_impl), *rest[1:])
        return train_fn(lam, *rest)

    return one


def _group_size(n: int, most: int) -> int:
    """The vmap group size for a block of ``n`` models, at most ``most``: among sizes from ``most/2`` to ``most``
    the one whose groups pad the block least (``ceil(n/g)·g − n`` padded models run for nothing), the larger on
    ties; e.g. 32 models, at most 6: 4 (8 groups, no padding) rather than 6 (6 groups, 4 padded)."""
    most = max(1, min(most, n))
    return min(range((most + 1) // 2, most + 1), key=lambda g: (-(-n // g) * g, -g))


def _one_at_a_time(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *xs: jax.lax.map(lambda a: fn(*a), xs)


def _in_groups(fn: Callable[..., Any], group: int | None) -> Callable[..., Any]:
    """``fn`` over a block: one vmap (``group`` None or the whole block), or equal vmapped groups one after
    another (``lax.map``), the block padded with its last model so that every group has ``group`` models."""

    def block_fn(*xs):
        n = xs[0].shape[0]
        if group is None or group == n:
            return jax.vmap(fn)(*xs)
        pad = -n % group
        xs = [jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x for x in xs]
        out = jax.lax.map(lambda a: fn(*a), xs, batch_size=group)
        return jax.tree.map(lambda o: o[:n], out)

    return block_fn


def _sharded(block_fn: Callable[..., Any], sharding: NamedSharding) -> Callable[..., Any]:
    """``block_fn`` on every device's block of the model axis (``shard_map``: nothing is communicated), jitted."""
    per_device = jax.shard_map(block_fn, mesh=sharding.mesh, in_specs=sharding.spec, out_specs=sharding.spec,
                               check_vma=False)
    return jax.jit(per_device, in_shardings=sharding, out_shardings=sharding)

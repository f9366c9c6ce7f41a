"""Compiling a sweep's program: XLA options, compiled programs kept for the process, the persistent cache.

Three ways a sweep avoids compiling: :class:`SweepProgramCache` keeps the
programs compiled in this process (a second identical :func:`jaxreg.sweep`
call compiles nothing); :func:`enable_compilation_cache` turns on JAX's
persistent cache on disk, so that a new process finds them too; and
:func:`compile_with_options` compiles what is left with the XLA options a
sweep wants, falling back to XLA's defaults where a jaxlib rejects them.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

import jax

__all__ = [
    "SWEEP_CPU_COMPILER_OPTIONS",
    "compile_with_options",
    "SweepProgramCache",
    "SWEEP_PROGRAMS",
    "MAX_SWEEP_PROGRAMS",
    "enable_compilation_cache",
    "MIN_CACHED_COMPILE_S",
]

#: XLA options a CPU sweep compiles with (``{}``: XLA's defaults). By default XLA's CPU backend
#: fuses the elementwise ops and reductions that consume a matmul into the same call of its
#: matmul library (YNNPACK), where they run slower than in XLA's own loops; ``INDIVIDUAL_DOT``
#: keeps the library for the matmuls alone (measurements: docs/design/engine.md). A jaxlib
#: that does not know the option compiles with its defaults.
SWEEP_CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}

#: Programs :data:`SWEEP_PROGRAMS` keeps (the least recently used goes first): a few sweeps'
#: worth, each of one or two chunk programs, without holding many training functions' data alive.
MAX_SWEEP_PROGRAMS = 16

#: :func:`enable_compilation_cache` writes programs that took at least this long to compile:
#: a sweep's program (a second or more on a CPU), not every small jitted helper.
MIN_CACHED_COMPILE_S = 0.5


def compile_with_options(lowered: Any, options: dict, *, strict: bool = False) -> tuple[Any, dict]:
    """``lowered.compile(compiler_options=options)`` and the options it used.

    An option this jaxlib rejects (unknown name or value): XLA's defaults and ``{}``, or with ``strict`` a
    ``ValueError`` that names the ``compiler_options`` argument. Other compilation errors propagate.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> lowered = jax.jit(jnp.sin).lower(1.0)
      >>> compiled, used = compile_with_options(lowered, {"xla_no_such_option_in_any_jaxlib": "1"})
      >>> used, float(compiled(0.0))
      ({}, 0.0)
    """
    options = dict(options)
    if not options:
        return lowered.compile(), options
    try:
        return lowered.compile(compiler_options=options), options
    except jax.errors.JaxRuntimeError as e:
        if not any(m in str(e) for m in ("No such compile option", "While setting option")):
            raise  # (not about the options)
        if strict:
            raise ValueError(f"compiler_options: XLA rejected {options}: {e}") from e
        return lowered.compile(), {}


class SweepProgramCache:
    """Compiled sweep programs, kept for the process so that an identical sweep does not compile again.

    A program is found by its training function and a key of everything else that
    determines it (argument shapes and dtypes, devices, group size, compiler options,
    chunk size). The function must be the same object, as for ``jax.jit``'s cache, and
    must read the same objects by name: its closure cells, defaults and the module
    globals its code names (one level deep; numbers and strings by value). So rebinding
    a global such as ``x_train`` between two calls compiles again, as it must, because
    the old values are baked into the program. State read any other way (an array
    mutated in place, an attribute of an object, a global read by a function it calls)
    is not seen: as with ``jax.jit``, call :meth:`clear` or pass ``program_cache=None``
    to :func:`jaxreg.sweep` when such state changes. An entry goes at the cache's next use
    after its function was garbage-collected (a compiled program holds a copy of the arrays
    its function closes over), or when ``max_programs`` newer ones arrived.

    Args:
      max_programs: programs kept (the least recently used goes first).

    Example:
      >>> cache = SweepProgramCache(max_programs=2)
      >>> built = []
      >>> build = lambda: built.append(1) or "program"
      >>> def twice(lam): return lam * 2
      >>> cache.get(twice, ("float32", 8), build), cache.get(twice, ("float32", 8), build), len(built)
      (('program', False), ('program', True), 1)
    """

    def __init__(self, max_programs: int = MAX_SWEEP_PROGRAMS):
        if isinstance(max_programs, bool) or not isinstance(max_programs, int) or max_programs < 1:
            raise ValueError(f"max_programs must be a positive int, got {max_programs!r}")
        self.max_programs = max_programs
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._dead: list[tuple] = []  # keys whose function was collected, dropped at the next use
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._drop_dead()
            return len(self._entries)

    def clear(self) -> None:
        """Forget every program."""
        with self._lock:
            self._entries.clear()
            self._dead.clear()

    def get(self, fn: Callable[..., Any], key: Hashable, build: Callable[[], Any]) -> tuple[Any, bool]:
        """The program for ``fn`` and ``key``, and whether it was kept from before; ``build()`` makes it if not."""
        ident = _identity(fn)
        full_key = (id(ident.owner), ident.shape, key)
        with self._lock:
            self._drop_dead()
            entry = self._entries.get(full_key)
            if entry is not None and entry.owner() is ident.owner and _same(entry.reads, ident.reads):
                self._entries.move_to_end(full_key)
                return entry.program, True
        program = build()  # outside the lock: compiling takes seconds
        with self._lock:
            self._entries[full_key] = _Entry(_reference(ident.owner, self._forget(full_key)), ident.reads, program)
            self._entries.move_to_end(full_key)
            while len(self._entries) > self.max_programs:
                self._entries.popitem(last=False)
        return program, False

    def _forget(self, full_key: tuple) -> Callable[[Any], None]:
        """A weakref callback that marks ``full_key``'s entry for dropping when its function is collected. It only
        appends to a list: it may run inside any allocation, even one of this cache's own, with its lock held (a
        dropped entry can hold the last reference to another entry's function). It holds the cache weakly, so that
        a cache object can be collected too."""
        cache = weakref.ref(self)

        def forget(_):
            live = cache()
            if live is not None:
                live._dead.append(full_key)

        return forget

    def _drop_dead(self) -> None:
        """Drop the entries whose function was collected (with the lock held)."""
        while self._dead:
            key = self._dead.pop()
            entry = self._entries.get(key)
            if entry is not None and entry.owner() is None:
                del self._entries[key]


class _Entry(NamedTuple):
    owner: Callable[[], Any]  # () -> the training function, None once collected
    reads: tuple  # the objects it read by name when the program was built
    program: Any


class _Identity(NamedTuple):
    """What makes two training functions the same: an owner (the function; a bound method's function) that
    bounds the entry's life, the objects it reads by name (compared by identity) and a hashable structure."""

    owner: Any
    reads: tuple
    shape: Hashable


def _identity(fn: Any) -> _Identity:
    if inspect.ismethod(fn):  # a new bound method on every attribute access: its function and object
        inner = _identity(fn.__func__)
        return _Identity(inner.owner, (fn.__self__, *inner.reads), ("method", inner.shape))
    if isinstance(fn, functools.partial):  # arguments fixed at construction: the globals its function reads
        return _Identity(fn, _identity(fn.func).reads, "partial")
    code, glob = getattr(fn, "__code__", None), getattr(fn, "__globals__", None)
    if not inspect.iscode(code) or not isinstance(glob, dict):
        return _Identity(fn, (), "object")  # a callable object: itself
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(cell.cell_contents)
        except ValueError:  # an empty cell: a name the enclosing function assigns later
            cells.append(None)
    defaults = (*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values())
    names = tuple(n for n in _global_names(code) if n in glob)
    return _Identity(fn, (*cells, *defaults, *(glob[n] for n in names)), ("function", names))


def _global_names(code: Any) -> list[str]:
    """Names ``code`` and the functions defined inside it may read from the module's globals."""
    names = list(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names += _global_names(const)
    return names


def _reference(owner: Any, callback: Callable[[Any], None]) -> Callable[[], Any]:
    """A weak reference to ``owner`` (a strong one for objects that cannot be weakly referenced)."""
    try:
        return weakref.ref(owner, callback)
    except TypeError:
        return lambda: owner


def _same(a: tuple, b: tuple) -> bool:
    """The same objects; numbers and strings (immutable, often equal but distinct objects) by value."""
    return len(a) == len(b) and all(
        x is y or (type(x) is type(y) and isinstance(x, (int, float, complex, str, bytes)) and x == y)
        for x, y in zip(a, b)
    )


#: The programs :func:`jaxreg.sweep` keeps by default (``program_cache=``); ``SWEEP_PROGRAMS.clear()``
#: forgets them.
SWEEP_PROGRAMS = SweepProgramCache()


def enable_compilation_cache(path: str | os.PathLike, *, min_compile_time_s: float = MIN_CACHED_COMPILE_S) -> str:
    """Keep compiled programs on disk in ``path`` (JAX's persistent compilation cache), across processes.

    A one-liner for ``jax.config.update("jax_compilation_cache_dir", path)`` and
    ``jax_persistent_cache_min_compile_time_secs``: every program JAX compiles from then on (a sweep's included)
    that took at least ``min_compile_time_s`` to compile is written to ``path``, and a later process that compiles
    the same program with the same jaxlib, device and options loads it instead (tracing and
    lowering still run). Within one process :data:`SWEEP_PROGRAMS` already keeps a sweep's
    programs; this cache is for the next run. It is off unless called: the directory is trusted
    (a loaded program runs as it is), and it grows without bound (JAX's
    ``jax_compilation_cache_max_size`` bounds it, with the ``filelock`` package installed).

    Args:
      path: directory for the cache (created if missing; ``~`` is expanded).
      min_compile_time_s: programs that compiled faster than this are not written (``0``: all).

    Returns:
      The cache directory, absolute.

    Example:
      >>> import tempfile, jax
      >>> path = enable_compilation_cache(tempfile.mkdtemp())   # doctest: +SKIP
      >>> jax.config.jax_compilation_cache_dir == path         # doctest: +SKIP
      True
    """
    if isinstance(min_compile_time_s, bool) or not isinstance(min_compile_time_s, (int, float)) \
            or not min_compile_time_s >= 0:
        raise ValueError(f"min_compile_time_s must be a number of seconds >= 0, got {min_compile_time_s!r}")
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    return path

"""Memory a sweep may use and memory a program needs: free device memory, jaxpr step bytes, XLA's analysis.

Three estimates feed two decisions of :func:`jaxreg.sweep`. The chunk size compares
:func:`compiled_memory_bytes` (XLA's own figure for a compiled chunk) with
:func:`available_memory_bytes`; the CPU vmap group size divides a byte budget by
:func:`step_bytes` (read off the jaxpr, so it needs no compilation).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import jax
from jax.extend import core as jcore

__all__ = ["available_memory_bytes", "step_bytes", "jaxpr_step_bytes", "compiled_memory_bytes"]

#: Bytes counted per element of a value whose dtype has no ``itemsize`` (PRNG key arrays).
_OPAQUE_ITEM_BYTES = 8


def available_memory_bytes(device: jax.Device) -> int | None:
    """Free memory of ``device`` in bytes (host RAM for CPU devices), or ``None`` when nothing reports it.

    Example:
      >>> import jax
      >>> free = available_memory_bytes(jax.devices()[0])
      >>> free is None or free > 0
      True
    """
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

    A step is the body of a ``lax.scan`` or ``while_loop`` that runs more than
    once (a scan's length times the lengths of the scans around it; a while
    loop's trip count is a run-time value, counted as more than once), and its
    bytes are the total size of the values its equations produce (the largest
    such total over the jaxprs nested in it, so an inner loop's stacked outputs
    count in the step around it). The result is the largest step's, or all of
    ``fn``'s when no loop runs more than once. Work that runs once per call,
    such as the initialisation or a full-data evaluation after minibatch
    training, does not count. XLA fuses many values away, so this overestimates
    the step's live memory but ranks programs the same way, at the cost of one
    trace.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> step_bytes(lambda w: jnp.sin(w).sum(), jnp.ones(1000))   # 1000 float32 values and a scalar
      4004
      >>> def fit(w):  # 100 steps on 10 values, then one evaluation on 1000
      ...     w = jax.lax.scan(lambda v, _: (v * 0.9, None), w[:10], None, length=100)[0]
      ...     return jnp.sin(w).sum() + jnp.sin(jnp.ones(1000)).sum()
      >>> step_bytes(fit, jnp.ones(1000))
      40
    """
    return jaxpr_step_bytes(jax.make_jaxpr(fn)(*args).jaxpr)


def jaxpr_step_bytes(jaxpr: jcore.Jaxpr) -> int:
    """:func:`step_bytes` of a traced ``jaxpr``: the bytes of its largest loop body that runs more than once, or
    of all of it."""
    repeated = [body for runs, body in _loop_bodies(jaxpr, 1) if runs > 1]
    return max(map(_values_bytes, repeated)) if repeated else _values_bytes(jaxpr)


def _loop_bodies(jaxpr: jcore.Jaxpr, runs: float) -> Iterator[tuple[float, jcore.Jaxpr]]:
    """``(times run, body)`` of every loop body in ``jaxpr`` (itself run ``runs`` times), nested ones too."""
    for eqn in jaxpr.eqns:
        for name, sub in _sub_jaxprs(eqn):
            if eqn.primitive.name == "scan" and name == "jaxpr":
                inner = runs * eqn.params["length"]
            elif eqn.primitive.name == "while" and name == "body_jaxpr":
                inner = runs * math.inf if runs else 0.0  # a run-time trip count: assumed more than once
            else:
                yield from _loop_bodies(sub, runs)
                continue
            yield inner, sub
            yield from _loop_bodies(sub, inner)


def _values_bytes(jaxpr: jcore.Jaxpr) -> int:
    """The total size of the values ``jaxpr``'s equations produce, or of one nested jaxpr's if larger."""
    own, nested = 0, 0
    for eqn in jaxpr.eqns:
        for v in eqn.outvars:
            shape = getattr(v.aval, "shape", None)
            if shape is not None:
                own += math.prod(shape) * getattr(v.aval.dtype, "itemsize", _OPAQUE_ITEM_BYTES)
        for _, sub in _sub_jaxprs(eqn):
            nested = max(nested, _values_bytes(sub))
    return max(own, nested)


def _sub_jaxprs(eqn: Any) -> Iterator[tuple[str, jcore.Jaxpr]]:
    """``(parameter name, jaxpr)`` of every jaxpr among ``eqn``'s parameters (a scan body, cond branches, …)."""
    for name, param in eqn.params.items():
        for sub in param if isinstance(param, (list, tuple)) else (param,):
            if isinstance(sub, jcore.ClosedJaxpr):
                yield name, sub.jaxpr
            elif isinstance(sub, jcore.Jaxpr):
                yield name, sub


def compiled_memory_bytes(compiled: Any) -> int | None:
    """Arguments + outputs + temporaries of a compiled program (XLA's ``memory_analysis``), or ``None``."""
    try:
        analysis = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend reports it
        return None
    if analysis is None:
        return None
    return int(analysis.temp_size_in_bytes + analysis.output_size_in_bytes + analysis.argument_size_in_bytes)

"""Compiling a lowered program with XLA options, falling back to XLA's defaults where a jaxlib rejects them."""

from __future__ import annotations

from typing import Any

import jax

__all__ = ["SWEEP_CPU_COMPILER_OPTIONS", "compile_with_options"]

#: XLA options a CPU sweep compiles with (``{}``: XLA's defaults). By default XLA's CPU backend
#: fuses the elementwise ops and reductions that consume a matmul into the same call of its
#: matmul library (YNNPACK), where they run slower than in XLA's own loops; ``INDIVIDUAL_DOT``
#: keeps the library for the matmuls alone (measurements: docs/design/engine.md). A jaxlib
#: that does not know the option compiles with its defaults.
SWEEP_CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}


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

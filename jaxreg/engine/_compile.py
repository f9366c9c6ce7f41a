"""Compiling a lowered program with XLA options, falling back to XLA's defaults where a jaxlib rejects them."""

from __future__ import annotations

from typing import Any

import jax

__all__ = ["SWEEP_CPU_COMPILER_OPTIONS", "compile_with_options"]

#: XLA options a CPU sweep compiles with (``{}``: XLA's defaults). XLA's CPU backend hands
#: each matmul to its YNNPACK library and, by default, fuses the elementwise ops and
#: reductions that consume it into the same library call, where they run slower than in
#: XLA's own loops (W1 hidden 8: the output layer's product, softmax and its gradient take
#: ~70 µs of a ~215 µs training step fused, ~50 µs apart). ``INDIVIDUAL_DOT`` keeps the
#: library for the matmuls alone. Measured per model-step (``benchmarks/`` W1, one core,
#: vmap groups of 4, same process): MLP hidden 8 −5 to −8%, logistic −9%, the plain optax
#: loss at hidden 8 −10%; hidden 128 and a regression MLP unchanged within noise. A jaxlib
#: that does not know the option compiles with its defaults.
SWEEP_CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}


def compile_with_options(lowered: Any, options: dict, *, strict: bool = False) -> tuple[Any, dict]:
    """``lowered.compile(compiler_options=options)`` and the options it used. An option this jaxlib rejects
    (unknown name or value): XLA's defaults and ``{}``, or with ``strict`` a ``ValueError`` that names the
    ``compiler_options`` argument. Other compilation errors propagate."""
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

"""The sweep engine: one compiled, vmapped, sharded call trains a model per λ (× seed × fold).

:func:`sweep` plans the grid (``_plan``), compiles a chunk (``_program``, sized with ``_memory``)
and runs and gathers the chunks (``_chunks``); around it: devices, processes, checkpoints, the
result object, choosing λ safely (``_select``), its figures (``_plots``) and cross-validation.
Design notes: ``docs/design/engine.md``; choosing λ: ``docs/guide-selection.md``.
"""

from jaxreg.engine._checkpoint import ChunkStore as ChunkStore, ResumeError as ResumeError, config_hash as config_hash
from jaxreg.engine._compile import (
    SWEEP_CPU_COMPILER_OPTIONS as SWEEP_CPU_COMPILER_OPTIONS,
    SWEEP_PROGRAMS as SWEEP_PROGRAMS,
    SweepProgramCache as SweepProgramCache,
    compile_with_options as compile_with_options,
    enable_compilation_cache as enable_compilation_cache,
)
from jaxreg.engine._cv import cv_summary as cv_summary, kfold_masks as kfold_masks
from jaxreg.engine._devices import (
    cpu_core_count as cpu_core_count,
    cpu_device_count_set_by_user as cpu_device_count_set_by_user,
    device_description as device_description,
    threads_per_device as threads_per_device,
    use_cpu_cores as use_cpu_cores,
)
from jaxreg.engine._distributed import (
    cpu_collectives_available as cpu_collectives_available,
    initialize as initialize_distributed,
    is_main_process as is_main_process,
    is_multiprocess as is_multiprocess,
)
from jaxreg.engine._memory import available_memory_bytes as available_memory_bytes, step_bytes as step_bytes
from jaxreg.engine._plots import (
    PENALTY_COLORS as PENALTY_COLORS,
    plot_coefficient_path as plot_coefficient_path,
    plot_sparsity as plot_sparsity,
    plot_validation_curve as plot_validation_curve,
    plot_weight_histogram as plot_weight_histogram,
)
from jaxreg.engine._program import CPU_GROUP_BYTES as CPU_GROUP_BYTES
from jaxreg.engine._results import SweepResult as SweepResult, atomic_write as atomic_write
from jaxreg.engine._select import (
    DIVERGENCE_FACTOR as DIVERGENCE_FACTOR,
    Curve as Curve,
    diverged_models as diverged_models,
)
from jaxreg.engine._sweep import SweepStats as SweepStats, sweep as sweep

__all__ = [
    "SWEEP_CPU_COMPILER_OPTIONS",
    "compile_with_options",
    "SweepProgramCache",
    "SWEEP_PROGRAMS",
    "enable_compilation_cache",
    "sweep",
    "SweepStats",
    "available_memory_bytes",
    "step_bytes",
    "CPU_GROUP_BYTES",
    "use_cpu_cores",
    "threads_per_device",
    "cpu_core_count",
    "cpu_device_count_set_by_user",
    "device_description",
    "initialize_distributed",
    "cpu_collectives_available",
    "is_multiprocess",
    "is_main_process",
    "ChunkStore",
    "config_hash",
    "ResumeError",
    "SweepResult",
    "Curve",
    "DIVERGENCE_FACTOR",
    "diverged_models",
    "plot_validation_curve",
    "plot_sparsity",
    "plot_coefficient_path",
    "plot_weight_histogram",
    "PENALTY_COLORS",
    "atomic_write",
    "kfold_masks",
    "cv_summary",
]

"""Sweeps across processes and hosts on JAX's own multi-controller runtime.

Every process runs the same program. :func:`initialize` starts
``jax.distributed`` (on CPU with gloo collectives); afterwards
:func:`jaxreg.sweep` lays the model axis over a ``Mesh`` of *all* processes'
devices, each process computes the models on its own devices, and the results
are all-gathered so that every process returns the full result (the ``jaxreg``
command writes its output directory from process 0 only).

What is sharded: the models (λ × keys × folds). What is replicated: the
training function's constants (the dataset) and the compiled program, on every
device. No collective runs inside the per-model work; one all-gather per chunk
brings the outputs home.
"""

from __future__ import annotations

import jax

__all__ = ["initialize", "cpu_collectives_available", "is_multiprocess", "is_main_process"]


def cpu_collectives_available() -> bool:
    """Whether the installed jaxlib can run cross-process collectives on CPU (gloo).

    Example:
      >>> cpu_collectives_available() in (True, False)
      True
    """
    try:
        from jax._src.lib import _jax

        return hasattr(_jax, "make_gloo_tcp_collectives")
    except ImportError:
        return False


def is_multiprocess() -> bool:
    """Whether this program runs as several JAX processes (after :func:`initialize`).

    Example:
      >>> is_multiprocess()   # a plain Python process
      False
    """
    return jax.process_count() > 1


def is_main_process() -> bool:
    """Whether this is process 0, the one that writes a sweep's outputs.

    Example:
      >>> is_main_process()   # a plain Python process is process 0
      True
    """
    return jax.process_index() == 0


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_devices: int | None = None,
    heartbeat_timeout_s: int = 60,
    initialization_timeout_s: int = 300,
) -> None:
    """Start JAX's distributed runtime for a multi-process sweep.

    Args:
      coordinator: ``HOST:PORT`` of process 0's coordination service. ``None``
        (with ``num_processes`` and ``process_id`` also ``None``) lets
        ``jax.distributed.initialize()`` detect the cluster (SLURM, Open MPI,
        TPU pods, ...).
      num_processes, process_id: the job's size and this process's rank.
      local_devices: CPU only: how many host devices this process exposes
        (``jax_num_cpu_devices``); for tests and CPU clusters.
      heartbeat_timeout_s: a process that stops answering for this long fails
        the job on the other processes (instead of a hang).
      initialization_timeout_s: how long to wait for every process to join.

    Must run before JAX's first computation.

    Example:
      >>> # process 0 of 2, before any JAX computation
      >>> initialize("localhost:12345", num_processes=2, process_id=0, local_devices=4)  # doctest: +SKIP
    """
    if coordinator is not None and (num_processes is None or process_id is None):
        raise ValueError("--coordinator needs --num-processes and --process-id")
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"--num-processes must be >= 1, got {num_processes}")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"--process-id must be in [0, {num_processes}), got {process_id}")
    if local_devices is not None:
        if local_devices < 1:
            raise ValueError(f"--local-devices must be >= 1, got {local_devices}")
        jax.config.update("jax_num_cpu_devices", int(local_devices))
    if cpu_collectives_available():
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=initialization_timeout_s,
        heartbeat_timeout_seconds=heartbeat_timeout_s,
    )

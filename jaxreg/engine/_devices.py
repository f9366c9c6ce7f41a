"""Using every CPU core for a sweep: host threads on one device, or one device per core.

A sweep's models are independent, so the cheapest parallelism on a CPU is one
block of models per core with no synchronisation. XLA's own intra-op threads
parallelise a single model's large matmuls but little else. JAX exposes a
single CPU device by default, and that device runs the executions of different
host threads side by side, so a sweep on it runs :func:`threads_per_device`
chunks at once, each from its own thread: every core works and JAX's device
count is left as it is. :func:`use_cpu_cores` is the other way, one JAX CPU
device per core (``jax_num_cpu_devices``, before JAX's first computation), for
programs that shard their own work; the ``jaxreg`` command does that.
Measurements of both: docs/guide-speed.md.
"""

from __future__ import annotations

import functools
import os
import platform

import jax

__all__ = [
    "use_cpu_cores",
    "cpu_core_count",
    "cpu_device_count_set_by_user",
    "device_description",
    "threads_per_device",
]

#: ``jax_num_cpu_devices`` until someone sets it: JAX then makes one CPU device.
_JAX_DEFAULT_CPU_DEVICES = -1


def cpu_core_count() -> int:
    """Cores this process may run on (its CPU affinity), at least 1.

    Example:
      >>> cpu_core_count() >= 1
      True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def device_description(device: jax.Device | None = None) -> str:
    """What ``device`` (default: JAX's first) is, for benchmark records.

    An accelerator's ``device_kind`` (the GPU's or TPU's model name); for a CPU, ``"cpu: NAME (family F,
    model M), N cores"``: the processor's name, family and model and the cores this process may use, because
    speed ratios measured on one CPU need not hold on another.

    Example:
      >>> import jax
      >>> device_description(jax.devices("cpu")[0]).startswith("cpu: ")
      True
    """
    device = device or jax.devices()[0]
    if device.platform != "cpu":
        return device.device_kind
    return f"cpu: {_processor()}, {cpu_core_count()} cores"


@functools.cache
def _processor() -> str:
    """The processor's name, family and model (``/proc/cpuinfo``'s first block; read once per process)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if not line.strip():
                    break  # the first processor's block is enough
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine() or "unknown processor"
    detail = f" (family {fields['cpu family']}, model {fields['model']})" if "cpu family" in fields else ""
    return name + detail


def cpu_device_count_set_by_user() -> bool:
    """Whether the user already chose the CPU device count (``XLA_FLAGS``, ``JAX_NUM_CPU_DEVICES`` or
    ``jax.config.update("jax_num_cpu_devices", n)``, which :func:`use_cpu_cores` also sets).

    Example:
      >>> cpu_device_count_set_by_user() in (True, False)
      True
    """
    return ("xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
            or "JAX_NUM_CPU_DEVICES" in os.environ
            or jax.config.jax_num_cpu_devices != _JAX_DEFAULT_CPU_DEVICES)


def threads_per_device(devices: list[jax.Device] | tuple[jax.Device, ...]) -> int:
    """How many chunks a sweep runs at once on each device when ``threads="auto"``.

    On a CPU, in one process: this process's cores per JAX CPU device (at least 1), because a
    CPU device runs the executions of different host threads side by side, each on its own
    core; JAX's default single CPU device then still uses every core. Anywhere else 1: an
    accelerator is kept busy by one stream of chunks, and across processes the chunks are
    gathered in lockstep.

    Example:
      >>> import jax
      >>> threads_per_device(jax.devices("cpu")) == max(1, cpu_core_count() // len(jax.devices("cpu")))
      True
    """
    if not devices or devices[0].platform != "cpu" or len({d.process_index for d in devices}) > 1:
        return 1
    return max(1, cpu_core_count() // len(jax.local_devices(backend="cpu")))


def use_cpu_cores(n: int | None = None, *, strict: bool = True) -> int | None:
    """Expose ``n`` JAX CPU devices (default: one per core); returns the CPU device count in effect.

    Call it right after ``import jax``, before any JAX computation. With
    ``n=None`` a count the user already chose (``XLA_FLAGS=
    --xla_force_host_platform_device_count`` or ``JAX_NUM_CPU_DEVICES``) is kept
    and ``None`` returned. With ``strict=False`` a call after JAX has started is
    a no-op (the device count stays as it is, and that count is returned)
    instead of a ``RuntimeError``. On a GPU/TPU machine it only adds CPU
    devices; sweeps still run on the accelerator (``jax.devices()``).

    Example:
      >>> import jax, jaxreg   # a fresh process: nothing computed yet
      >>> jaxreg.use_cpu_cores()  # doctest: +SKIP
      2
    """
    if n is None:
        if cpu_device_count_set_by_user():
            return None
        n = cpu_core_count()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (CPU devices), got {n!r}")
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError as e:
        if not strict:
            return len(jax.devices("cpu"))
        raise RuntimeError(
            "use_cpu_cores must run before JAX's first computation (call it right after `import jax`), "
            f"or set XLA_FLAGS=--xla_force_host_platform_device_count={n} before starting Python"
        ) from e
    return n

"""Using every CPU core for a sweep: one JAX host device per core.

A sweep's models are independent, so the cheapest parallelism on a CPU is one
block of models per core, each core running its own block with no
synchronisation (what :func:`jaxreg.sweep` does over several devices). XLA's
own intra-op threads parallelise a single model's large matmuls but little
else: small matmuls, elementwise and reduction work mostly run on one core.
By default JAX exposes a single CPU device, so :func:`use_cpu_cores` asks for
one per core (``jax_num_cpu_devices``); like that setting, it must run before
JAX's first computation. The ``jaxreg`` command does it by default; a Python
program must ask, and :func:`warn_if_cores_idle` says so, once per process, when a
sweep runs on one CPU device of a multi-core machine. Nothing changes JAX's device
count behind the user's back: a process's device count decides a sweep's chunking and
rounding, and the user's own sharded code (measurements and the options tried:
docs/guide-speed.md).
"""

from __future__ import annotations

import functools
import os
import platform
import warnings

import jax

__all__ = [
    "use_cpu_cores",
    "cpu_core_count",
    "cpu_device_count_set_by_user",
    "device_description",
    "CpuCoresWarning",
    "warn_if_cores_idle",
]

#: ``jax_num_cpu_devices`` until someone sets it: JAX then makes one CPU device.
_JAX_DEFAULT_CPU_DEVICES = -1


class CpuCoresWarning(UserWarning):
    """A sweep ran on fewer JAX CPU devices than this process has cores, so it left cores idle.

    Example:
      >>> issubclass(CpuCoresWarning, UserWarning)
      True
    """


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


def warn_if_cores_idle(devices: list[jax.Device] | tuple[jax.Device, ...], *, chosen: bool) -> None:
    """Warn (:class:`CpuCoresWarning`, once per process) when a sweep is about to leave CPU cores idle.

    That is when it runs on JAX's default CPU devices (``chosen`` false: no ``devices=``), which are
    fewer than this process's cores and which nobody chose (:func:`cpu_device_count_set_by_user`). A
    CPU device runs one computation at a time, so other cores help only where XLA splits a single
    operation; the warning names the fix, :func:`use_cpu_cores` before JAX's first computation.

    Example:
      >>> import jax
      >>> warn_if_cores_idle(jax.devices("cpu"), chosen=True)   # devices= given: the caller chose
    """
    local = [d for d in devices if d.process_index == jax.process_index()]
    if chosen or not local or local[0].platform != "cpu" or cpu_device_count_set_by_user():
        return
    n_cpu, cores = len(jax.local_devices(backend="cpu")), cpu_core_count()
    if n_cpu < cores:
        _warn_once(n_cpu, cores)


@functools.cache  # once per process (and per device and core count)
def _warn_once(n_cpu: int, cores: int) -> None:
    warnings.warn(
        f"jaxreg.sweep runs on {n_cpu} JAX CPU device{'s' if n_cpu > 1 else ''} of a {cores}-core machine: a device "
        "runs one computation at a time, so other cores help only where XLA splits a single operation. Call "
        "jaxreg.use_cpu_cores() right after `import jax` (before any JAX computation), or start Python with "
        f"XLA_FLAGS=--xla_force_host_platform_device_count={cores}, for one device (one block of models) per core. "
        "Shown once per process; choosing the count yourself (jax.config.update('jax_num_cpu_devices', n) "
        "before the first computation) silences it.",
        CpuCoresWarning,
        stacklevel=4,  # the caller of jaxreg.sweep
    )


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

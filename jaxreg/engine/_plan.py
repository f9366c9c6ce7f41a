"""The grid of models a sweep trains, flattened, and the devices it is sharded over.

A sweep trains one model per (fold, key, λ), λ fastest. :func:`plan_grid` checks the
grid's axes, flattens it into one row per model holding that model's arguments in
call order (``λ``, key data, fold), and chooses the devices: the model axis is laid
over a one-axis ``Mesh`` of them, and each device runs its own block of rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxreg.core._grids import check_grid

__all__ = ["SweepPlan", "plan_grid", "MODEL_AXIS"]

#: Name of the mesh axis the models are sharded along.
MODEL_AXIS = "models"

#: Int seeds are in ``[0, MAX_SEED)``: ``jax.random.key`` keeps 32 bits of a seed, so ``2**32`` and ``0``
#: (or ``-1`` and ``2**32 - 1``) would be the same key.
MAX_SEED = 2**32

#: uint32 words of a raw (legacy, ``jax.random.PRNGKey``) threefry key.
RAW_KEY_WORDS = 2


class SweepPlan(NamedTuple):
    """The models of one sweep and where they run."""

    grid_shape: tuple[int, ...]  # (F?, S?, K): the leading axes of the result, λ last
    inputs: tuple[np.ndarray, ...]  # per model, in call order: λ (n,), key data (n, *key)?, fold (n,) int32?
    key_impl: Any  # PRNG implementation of the keys (``jax.random.key_impl``), None without keys
    devices: tuple[jax.Device, ...]  # the model axis is sharded over these, one block each
    local_device: jax.Device  # this process's first device among them: platform, memory, device kind
    n_local: int  # how many of ``devices`` belong to this process
    multiprocess: bool  # ``devices`` span processes: each supplies its own rows, outputs are all-gathered
    sharding: NamedSharding  # the model axis over a Mesh of ``devices``

    @property
    def n_models(self) -> int:
        return math.prod(self.grid_shape)

    @property
    def n_devices(self) -> int:
        return len(self.devices)

    @property
    def n_processes(self) -> int:
        return len({d.process_index for d in self.devices})

    @property
    def platform(self) -> str:
        return self.local_device.platform

    def rows(self, rows: np.ndarray) -> list[np.ndarray]:
        """The arguments of models ``rows`` (flat indices), in call order."""
        return [x[rows] for x in self.inputs]

    def describe(self, i: int) -> str:
        """Model ``i`` (flat) by its place in the grid: ``λ=0.1 (λ index 3)``, and ``key 1``, ``fold 0`` where the
        grid has keys or folds."""
        index = np.unravel_index(int(i), self.grid_shape)
        has_keys = self.key_impl is not None
        parts = [f"λ={float(self.inputs[0][i]):.6g} (λ index {index[-1]})"]
        if has_keys:
            parts.append(f"key {index[-2]}")
        if len(self.inputs) > 1 + has_keys:
            parts.append(f"fold {int(self.inputs[-1][i])}")
        return ", ".join(parts)


def plan_grid(
    lambdas: Any,
    *,
    keys: Any = None,
    folds: int | Sequence[int] | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> SweepPlan:
    """Check and flatten the (folds × keys × λ) grid and choose the devices (see :func:`jaxreg.sweep`).

    Example:
      >>> plan = plan_grid([0.1, 1.0, 10.0], keys=[0, 1])
      >>> plan.grid_shape, plan.n_models, [x.shape for x in plan.inputs]
      ((2, 3), 6, [(6,), (6, 2)])
    """
    lam = check_grid(lambdas).astype(jax.dtypes.canonicalize_dtype(np.float64))
    devices, local_device = _check_devices(devices)
    axes = []  # (values per axis), slowest first: folds, keys, λ
    if folds is not None:
        axes.append(fold_ids(folds))
    key_impl = None
    if keys is not None:
        key_arr = _as_keys(keys)
        key_impl = jax.random.key_impl(key_arr)
        axes.append(np.asarray(jax.random.key_data(key_arr)))  # raw key data: plain arrays shard anywhere
    axes.append(lam)
    grid_shape = tuple(len(a) for a in axes)
    index = np.unravel_index(np.arange(math.prod(grid_shape)), grid_shape)
    inputs = tuple(axes[a][index[a]] for a in reversed(range(len(axes))))  # call order: λ, key, fold

    multiprocess = len({d.process_index for d in devices}) > 1
    if not multiprocess:
        devices = devices[: math.prod(grid_shape)]  # one model per device at most: none computes padding only
    return SweepPlan(
        grid_shape=grid_shape,
        inputs=inputs,
        key_impl=key_impl,
        devices=tuple(devices),
        local_device=local_device,
        n_local=sum(d.process_index == jax.process_index() for d in devices),
        multiprocess=multiprocess,
        sharding=NamedSharding(Mesh(np.asarray(devices), (MODEL_AXIS,)), PartitionSpec(MODEL_AXIS)),
    )


def _check_devices(devices: Sequence[jax.Device] | None) -> tuple[list[jax.Device], jax.Device]:
    """The devices (default: every device of every process, ``jax.devices()`` after
    ``jax.distributed.initialize``) and this process's first one."""
    if isinstance(devices, jax.Device):
        devices = [devices]  # one device: a list of one, as the caller meant
    if devices is not None and not isinstance(devices, (list, tuple)):
        raise ValueError(f"devices must be a list of jax.Device (e.g. jax.devices()), got {type(devices).__name__}")
    devices = list(jax.devices() if devices is None else devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise ValueError("devices must be a non-empty list of jax.Device (e.g. jax.devices())")
    local_device = next((d for d in devices if d.process_index == jax.process_index()), None)
    if local_device is None:
        raise ValueError("devices must include at least one device of this process")
    return devices, local_device


def fold_ids(folds: int | Sequence[int]) -> np.ndarray:
    """Fold ids ``0..F-1`` for ``folds=F`` (``F >= 2``), or the given 1-D list of ids."""
    if isinstance(folds, (bool, np.bool_)):
        raise ValueError(f"folds must be a number of folds (>= 2) or a list of fold ids, not a bool ({folds!r}); "
                         "folds=None trains without folds")
    if isinstance(folds, (int, np.integer)) and folds == 1:
        raise ValueError("folds=1 would run a single fold, which is no cross-validation: pass folds >= 2, "
                         "folds=None to train without folds, or folds=[0] to run fold 0 of a split alone")
    ids = np.arange(folds) if isinstance(folds, (int, np.integer)) else np.asarray(folds)
    if ids.ndim != 1 or ids.size == 0 or ids.dtype.kind not in "iu":
        raise ValueError(f"folds must be a number of folds (>= 2) or a 1-D list of fold ids, got {folds!r}")
    if np.unique(ids).size < ids.size:
        raise ValueError(f"folds {ids.tolist()} repeat a fold id: its models would be trained twice and counted "
                         "as two folds; pass distinct ids")
    return ids.astype(np.int32)


def _as_keys(keys: Any) -> jax.Array:
    """``keys`` as a 1-D array of distinct typed PRNG keys: typed keys, raw ``(n, 2)`` uint32 key data, or int
    seeds."""
    typed = _typed_keys(keys)
    if isinstance(typed, jax.core.Tracer) or not typed.is_fully_addressable:
        return typed  # values this process cannot read: nothing to compare
    data = np.asarray(jax.random.key_data(typed)).reshape(typed.shape[0], -1)
    _, first = np.unique(data, axis=0, return_index=True)
    repeated = sorted(set(range(typed.shape[0])) - set(first.tolist()))
    if repeated:
        raise ValueError(f"keys: entries {repeated} repeat an earlier key, so their models would be identical and, "
                         "counted as replicates, shrink the standard error (to 0 with one key twice); pass distinct "
                         "seeds such as list(range(n)) or jax.random.split(key, n)")
    return typed


def _typed_keys(keys: Any) -> jax.Array:
    if isinstance(keys, jax.Array) and jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        if keys.ndim != 1:
            raise ValueError(f"keys must be a 1-D array of PRNG keys, got shape {keys.shape}: for one key, pass "
                             "jax.random.split(key, n) (n seeds) or keys[None] (one seed)")
        return keys
    arr = np.asarray(keys)
    if arr.dtype == np.uint32 and arr.shape == (RAW_KEY_WORDS,):
        raise ValueError(
            f"keys={keys!r} is ambiguous: one raw PRNG key (jax.random.PRNGKey(s)) or {RAW_KEY_WORDS} seeds? "
            "Pass jax.random.split(key, n) for n keys made from it, key[None] for that key alone, or a list of "
            "int seeds such as [0, 1]"
        )
    if arr.dtype == np.uint32 and arr.ndim == 2:
        return jax.random.wrap_key_data(jnp.asarray(arr))
    if arr.dtype.kind in "iu" and arr.ndim == 1:
        if arr.size == 0:
            raise ValueError("keys is empty: pass at least one seed")
        bad = arr[(arr < 0) | (arr >= MAX_SEED)] if arr.dtype.kind == "i" else arr[arr >= MAX_SEED]
        if bad.size:
            raise ValueError(f"keys: seeds must be in [0, 2**32), got {bad[0]}: larger or negative seeds would "
                             "give the same keys as seeds in that range (jax.random.key keeps 32 bits)")
        return jnp.stack([jax.random.key(int(s)) for s in arr])
    raise ValueError(
        "keys must be a 1-D array of PRNG keys (jax.random.split(key, n)), raw uint32 keys of "
        f"shape (n, 2), or a list of int seeds; got dtype {arr.dtype}, shape {arr.shape}"
    )

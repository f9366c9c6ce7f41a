"""How the fused MLP kernel is launched: a frozen, validated value passed to each call.

A launch configuration is a value, not process state: :func:`jaxreg.models.mlp_cross_entropy`,
:func:`jaxreg.models.kernel_applies`, :func:`jaxreg.models.kernel_hbm_bytes` and
:func:`jaxreg.models.data_loss` take one explicitly (``config=`` / ``kernel_config=``; ``None``: the defaults), so two
configurations can be compared in one process and ``jit`` keys its cache on it (it is hashable).
"""

from __future__ import annotations

import dataclasses

__all__ = ["KernelConfig", "resolve_config"]

#: Triton's smallest block edge: a tile has at least this many rows, a hidden block this many columns.
MIN_BLOCK = 16


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


@dataclasses.dataclass(frozen=True)
class KernelConfig:
    r"""The fused kernel's launch configuration (:func:`jaxreg.models.mlp_cross_entropy`).

    A program walks ``tile`` rows at a time; with :math:`K` models in flight and :math:`T` tiles per
    model, each model gets

    .. math::
        P = \max\Big(1, \min\big(T,\ \lceil \text{programs} / K \rceil,\
            \lceil T \cdot \text{tile} / \text{min\_rows\_per\_program} \rceil\big)\Big)

    programs (row blocks whose partial gradients are summed): many when few models share the GPU,
    one each when many do, so the only extra traffic is the partial gradients.

    Attributes:
      tile: rows per tile, a power of two ≥ 16 (Triton's block shapes).
      programs: with few models in flight, a model's rows are split until there are about this many
        programs in all (a few per GPU core).
      min_rows_per_program: the fewest rows a program is given when a model's rows are split.
      num_warps: Triton warps per program (a power of two).
      num_stages: Triton software-pipelining stages.
      weights_once: a program loads W1, b1, W2, b2 once, before its loop over tiles (more registers
        held), instead of once per tile (more loads from cache).
      pretransposed: one-kernel mode only: x and W2 are also passed transposed (xᵀ made once per step
        and shared by the models, W2ᵀ per model), so that two of the three transposed matmul operands
        are read as stored (float32 operands have no transposing shared-memory load).
      two_pass: two kernels instead of one: the first writes ``dz`` to memory, the second recomputes
        ``h`` and forms W1's gradient with W1's columns split over ``hidden_blocks`` programs (fewer
        registers per program, for an extra x·W1 product and dz's round trip through memory).
      hidden_blocks: the second pass's blocks of W1's (padded) columns, a power of two; needs
        ``two_pass``; blocks narrower than 16 columns are merged.
      max_weight_words: ``backend="auto"`` uses the kernel only while W1 and W2 (padded) have at most
        this many entries together: a program accumulates both gradients, and past this size its
        state no longer fits a GPU core's shared memory.
      max_features: ``backend="auto"`` uses the kernel only while x (padded) has at most this many
        columns (a program holds a tile of x).

    Raises:
      ValueError: naming the field, for a value out of range or an option that the other options
        would make a no-op (``hidden_blocks`` without ``two_pass``, ``pretransposed`` with it).

    Example:
      >>> from jaxreg.models import KernelConfig
      >>> KernelConfig().tile, KernelConfig(tile=64).tile
      (32, 64)
      >>> KernelConfig(two_pass=True, hidden_blocks=2).hidden_blocks
      2
      >>> KernelConfig(hidden_blocks=2)  # doctest: +ELLIPSIS
      Traceback (most recent call last):
      ...
      ValueError: KernelConfig.hidden_blocks=2 applies to the two-pass kernels only: set two_pass=True, ...
    """

    tile: int = 32
    programs: int = 512
    min_rows_per_program: int = 32
    num_warps: int = 4
    num_stages: int = 2
    weights_once: bool = True
    pretransposed: bool = False
    two_pass: bool = False
    hidden_blocks: int = 1
    max_weight_words: int = 64 * 128 + 128 * 16
    max_features: int = 64

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"KernelConfig.{field.name} must be True or False, got {value!r}")
            if field.type == "int" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"KernelConfig.{field.name} must be an int ≥ 1, got {value!r}")
        if self.tile < MIN_BLOCK or not _is_power_of_two(self.tile):
            raise ValueError(f"KernelConfig.tile must be a power of two ≥ {MIN_BLOCK} (Triton's block shapes), "
                             f"got {self.tile}")
        for name in ("num_warps", "hidden_blocks"):
            if not _is_power_of_two(getattr(self, name)):
                raise ValueError(f"KernelConfig.{name} must be a power of two ≥ 1, got {getattr(self, name)}")
        if self.hidden_blocks != 1 and not self.two_pass:
            raise ValueError(f"KernelConfig.hidden_blocks={self.hidden_blocks} applies to the two-pass kernels only: "
                             "set two_pass=True, or hidden_blocks=1")
        if self.two_pass and self.pretransposed:
            raise ValueError("KernelConfig.pretransposed applies to the one-kernel mode only: "
                             "set two_pass=False, or pretransposed=False")


#: The launch configuration of ``config=None``.
_DEFAULT = KernelConfig()


def resolve_config(config: object, name: str) -> KernelConfig:
    """``config`` (the argument ``name``): ``None`` gives the defaults, a :class:`KernelConfig` is itself;
    anything else raises ValueError."""
    if config is None:
        return _DEFAULT
    if not isinstance(config, KernelConfig):
        raise ValueError(f"{name} must be None (the defaults) or a jaxreg.models.KernelConfig "
                         f"(e.g. KernelConfig(tile=64)), got {type(config).__name__}")
    return config

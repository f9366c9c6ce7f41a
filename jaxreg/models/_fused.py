"""The MLP's cross-entropy with forward and backward fused in one GPU kernel (Pallas).

:mod:`jaxreg.models`' MLP classifier, its loss and the loss's gradient::

    h = x W1 + b1,  a = relu(h),  z = a W2 + b2,  L = Σ_i ω_i [logsumexp(z_i) − z_{i,y_i}]
    dz = ω ⊙ (softmax(z) − onehot(y))                        (ω_i = 1/n, or the normalised weights)
    ∂W2 = aᵀ dz,  ∂b2 = Σ_i dz_i,  dh = (dz W2ᵀ) ⊙ [h > 0],  ∂W1 = xᵀ dh,  ∂b1 = Σ_i dh_i

Every sample's terms are independent, so one kernel walks the samples a tile of rows at a
time, computes ``h, a, z, dz, dh`` of that tile in registers and adds its share to the
gradients: the activations never reach GPU memory. ``jax.grad`` of the XLA formula writes
and re-reads each ``(n, hidden)`` activation several times per step, which is what bounds a
vmapped sweep on a GPU. Under ``jax.vmap`` (``jaxreg.sweep``) a ``custom_vmap`` rule sees how
many models share the launch and gives each model one program when there are many, or splits
its rows over several (partial gradients summed) when there are few; ``x`` and ``y`` are
shared, not copied. How a launch is shaped is a :class:`~jaxreg.models.KernelConfig`, passed
to each call.

:func:`mlp_cross_entropy` is a ``jax.custom_vjp`` function: its value is the loss, its
gradient with respect to the params comes from the kernel (the forward pass computes both;
the backward pass only scales them by the cotangent; a gradient with respect to ``x``, if
asked for, comes from the XLA formula). ``backend="auto"`` uses the kernel where
:func:`~jaxreg.models.kernel_applies` (a CUDA GPU, a small enough first layer) and the plain XLA formula
elsewhere; ``"interpret"`` runs the kernel in Pallas' interpreter (CPU tests).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from jaxreg.models._kernel_config import MIN_BLOCK, KernelConfig, resolve_config
from jaxreg.models._reference import WEIGHT_SUM_FLOOR, reference_loss

__all__ = ["mlp_cross_entropy", "kernel_available", "kernel_applies", "kernel_hbm_bytes", "BACKENDS"]

#: :func:`mlp_cross_entropy`'s ``backend`` choices: ``"auto"`` (the kernel where :func:`~jaxreg.models.kernel_applies`,
#: else ``"xla"``), ``"xla"`` (the formula), ``"pallas"`` (the kernel; a GPU) and ``"interpret"`` (the
#: kernel in Pallas' interpreter; any device, slow).
BACKENDS = ("auto", "xla", "pallas", "interpret")
#: The bias of a padded class: exp(z − max) = 0, so it adds nothing to the softmax.
_NEG = -1e30
#: The least CUDA compute capability ``"auto"`` runs the kernel on: TF32 matmuls, as XLA's float32 default there.
_MIN_COMPUTE_CAPABILITY = 8.0


def kernel_available() -> bool:
    """Whether ``backend="auto"`` may use the kernel: JAX's default backend is a CUDA GPU of compute
    capability ≥ 8.0 (TF32 matmuls, the float32 precision XLA uses there too).

    Example:
      >>> import jax
      >>> from jaxreg.models import kernel_available
      >>> kernel_available() <= (jax.default_backend() == "gpu")  # never without a GPU
      True
    """
    if jax.default_backend() != "gpu":
        return False
    try:
        return float(getattr(jax.devices()[0], "compute_capability", "0")) >= _MIN_COMPUTE_CAPABILITY
    except (TypeError, ValueError):
        return False


def kernel_applies(params: dict, x: Any, config: KernelConfig | None = None) -> bool:
    r"""What ``backend="auto"`` decides: :func:`~jaxreg.models.kernel_available`, and the padded shapes fit ``config``.

    With :math:`\bar m = \max(16, 2^{\lceil \log_2 m \rceil})` (Triton's power-of-two blocks), ``x``
    of :math:`d` columns and W2 of shape :math:`h \times c`:

    .. math::
        \bar d \bar h + \bar h \bar c \le \text{max\_weight\_words},\qquad \bar d \le \text{max\_features}

    Args:
      params: the MLP's params (only ``params["w2"]``'s shape is read).
      x: the inputs ``(n, d)`` (only the shape is read).
      config: the limits (:class:`~jaxreg.models.KernelConfig`'s ``max_weight_words`` and ``max_features``);
        ``None``: the defaults.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxreg.models import KernelConfig, init_params, kernel_applies, kernel_available
      >>> p = init_params("mlp", jax.random.key(0), 64, 10, hidden=128)
      >>> kernel_applies(p, jnp.zeros((5, 64))) == kernel_available()  # W1 64 × 128: within the limits
      True
      >>> kernel_applies(p, jnp.zeros((5, 64)), KernelConfig(max_features=32))
      False
    """
    config = resolve_config(config, "config")
    dp, (hidden, c) = _pow2(jnp.shape(x)[-1]), jnp.shape(params["w2"])
    words = dp * _pow2(hidden) + _pow2(hidden) * _pow2(c)
    return words <= config.max_weight_words and dp <= config.max_features and kernel_available()


def _pow2(n: int, least: int = MIN_BLOCK) -> int:
    return max(least, 1 << (int(n) - 1).bit_length())


def _weights(sample_weight, n):
    """ω_i: 1/n, or the weights over their sum."""
    if sample_weight is None:
        return jnp.full((n,), 1.0 / n, jnp.float32)
    w = jnp.asarray(sample_weight, jnp.float32)
    return w / jnp.maximum(jnp.sum(w), WEIGHT_SUM_FLOOR)


def _xla_loss(params, x, y, sample_weight, dtype):
    """The plain formula, models.data_loss's (the value, and the gradient with respect to ``x`` or
    ``sample_weight``)."""
    return reference_loss("classification", params, x, y, sample_weight, compute_dtype=dtype)


# --- the kernels: one program's tiles -------------------------------------------------------------------------


class _Grid(NamedTuple):
    """How one model's rows are walked: tiles of rows, a run of consecutive tiles per program."""

    tile: int  # rows per tile
    n_tiles: int  # ⌈n / tile⌉
    tiles_per_program: int  # a program walks tiles [r·tpp, min((r+1)·tpp, n_tiles))
    programs: int  # ⌈n_tiles / tiles_per_program⌉


class _Sums(NamedTuple):
    """A program's running sums over its tiles, float32; a pass that does not form a term holds None."""

    loss: Any  # (): the program's share of L
    gw1: Any  # (d, h): ∂W1 over the program's hidden columns h
    gb1: Any  # (1, h): ∂b1
    gw2: Any  # (h, c): ∂W2
    gb2: Any  # (1, c): ∂b2


def _zero_sums(d: int, h: int, c: int, *, output: bool = True, hidden: bool = True) -> _Sums:
    """Zeros for the output layer's terms (L, ∂W2, ∂b2) and/or the hidden layer's (∂W1, ∂b1)."""

    def zeros(*shape):
        return jnp.zeros(shape, jnp.float32)

    return _Sums(loss=zeros() if output else None, gw1=zeros(d, h) if hidden else None,
                 gb1=zeros(1, h) if hidden else None, gw2=zeros(h, c) if output else None,
                 gb2=zeros(1, c) if output else None)


def _store(sums: _Sums, refs: _Sums) -> None:
    """Each sum a pass formed, written to its output block (L broadcast over its ``(1, c)`` block)."""
    for value, ref in zip(sums, refs):
        if value is not None:
            ref[...] = jnp.full(ref.shape, value, jnp.float32) if value.ndim == 0 else value


def _tile_loop(body: Callable, init: _Sums, grid: _Grid) -> _Sums:
    """``body(rows, sums)`` over program r's tiles, [r·tpp, min((r+1)·tpp, n_tiles)) of ``grid``."""
    first = pl.program_id(0) * grid.tiles_per_program
    count = jnp.minimum(grid.tiles_per_program, grid.n_tiles - first)

    def step(i, sums):
        return body(pl.ds(pl.multiple_of((first + i) * grid.tile, grid.tile), grid.tile), sums)

    return jax.lax.fori_loop(0, count, step, init)


def _reader(load: Callable, weights_once: bool) -> Callable:
    """``load`` (a tile's weights) run once now, before the tile loop, and held; or run again for each tile."""
    if weights_once:
        held = load()
        return lambda: held
    return load


def _dot(a, b, *, trans_a: bool = False, trans_b: bool = False, dtype=None):
    """a·b (aᵀ, bᵀ on request) with float32 accumulation; ``dtype`` casts the operands first (bf16)."""
    if dtype is not None:
        a, b = a.astype(dtype), b.astype(dtype)
    dims = (((0 if trans_a else 1,), (1 if trans_b else 0,)), ((), ()))
    return jax.lax.dot_general(a, b, dims, preferred_element_type=jnp.float32)


def _col_sum(a):
    return jnp.sum(a, axis=0, keepdims=True)


def _forward(xs, ts, w1, b1, w2, b2, dot):
    """One tile's forward pass and softmax: (h, a, dz, the tile's share of L); ``ts`` = onehot(y)·ω rows."""
    h = dot(xs, w1) + b1
    a = jnp.maximum(h, 0.0)
    z = dot(a, w2) + b2
    m = jnp.max(z, axis=1, keepdims=True)
    e = jnp.exp(z - m)
    s = jnp.sum(e, axis=1, keepdims=True)
    wrow = jnp.sum(ts, axis=1, keepdims=True)  # the row's weight ω_i, 0 on a padded row
    loss = jnp.sum(wrow * (m + jnp.log(s))) - jnp.sum(ts * z)
    return h, a, wrow * (e / s) - ts, loss


def _hidden_delta(h, dz, w2, dot, *, transposed: bool = False):
    """dh = (dz W2ᵀ) ⊙ [h > 0]; ``transposed``: ``w2`` is W2ᵀ, read as stored."""
    back = dot(dz, w2) if transposed else dot(dz, w2, trans_b=True)
    return jnp.where(h > 0.0, back, 0.0)


def _kernel(*refs, grid: _Grid, dtype, weights_once: bool, pretransposed: bool):
    """One-kernel mode, one program: its tiles' share of L and of every gradient.

    ``refs``: x, t (onehot(y)·ω, zero on padded rows), W1, b1, W2, b2, then xᵀ and W2ᵀ when
    ``pretransposed``, then the outputs L, ∂W1, ∂b1, ∂W2, ∂b2. x, W1 and W2 arrive in ``dtype``
    already when it is bfloat16 (cast once, outside the kernel). ``pretransposed``: xᵀ's tile and
    W2ᵀ are read as stored instead of transposed in the kernel for xᵀ dh and dz W2ᵀ."""
    x_ref, t_ref, w1_ref, b1_ref, w2_ref, b2_ref = refs[:6]
    xt_ref, w2t_ref = refs[6:8] if pretransposed else (None, None)
    dot = functools.partial(_dot, dtype=dtype)
    wrefs = (w1_ref, b1_ref, w2_ref, b2_ref) + ((w2t_ref,) if pretransposed else ())
    weights = _reader(lambda: tuple(r[...] for r in wrefs), weights_once)

    def body(rows, s: _Sums) -> _Sums:
        xs, ts = x_ref[rows, :], t_ref[rows, :]  # (tile, d), (tile, c)
        w1, b1, w2, b2, *w2t = weights()
        h, a, dz, loss = _forward(xs, ts, w1, b1, w2, b2, dot)
        dh = _hidden_delta(h, dz, w2t[0], dot, transposed=True) if pretransposed else _hidden_delta(h, dz, w2, dot)
        gw1 = dot(xt_ref[:, rows], dh) if pretransposed else dot(xs, dh, trans_a=True)
        return _Sums(loss=s.loss + loss, gw1=s.gw1 + gw1, gb1=s.gb1 + _col_sum(dh),
                     gw2=s.gw2 + dot(a, dz, trans_a=True), gb2=s.gb2 + _col_sum(dz))

    (d, hidden), c = w1_ref.shape, w2_ref.shape[1]
    _store(_tile_loop(body, _zero_sums(d, hidden, c), grid), _Sums(*refs[-5:]))


def _kernel_softmax(x_ref, t_ref, w1_ref, b1_ref, w2_ref, b2_ref, loss_ref, gw2_ref, gb2_ref, dz_ref, *,
                    grid: _Grid, dtype, weights_once: bool):
    """Two-pass mode, first kernel: a program's share of L, ∂W2 = aᵀ dz and ∂b2, and its rows of ``dz``
    written to memory (``dz_ref``: the model's whole (rows, c) array; each program writes its own tiles).
    It holds no W1 gradient, so a program needs far fewer registers than :func:`_kernel`'s."""
    dot = functools.partial(_dot, dtype=dtype)
    weights = _reader(lambda: (w1_ref[...], b1_ref[...], w2_ref[...], b2_ref[...]), weights_once)

    def body(rows, s: _Sums) -> _Sums:
        _, a, dz, loss = _forward(x_ref[rows, :], t_ref[rows, :], *weights(), dot)
        dz_ref[rows, :] = dz
        return s._replace(loss=s.loss + loss, gw2=s.gw2 + dot(a, dz, trans_a=True), gb2=s.gb2 + _col_sum(dz))

    hidden, c = w2_ref.shape
    sums = _tile_loop(body, _zero_sums(0, hidden, c, hidden=False), grid)
    _store(sums, _Sums(loss=loss_ref, gw1=None, gb1=None, gw2=gw2_ref, gb2=gb2_ref))


def _kernel_hidden(x_ref, dz_ref, w1_ref, b1_ref, w2_ref, gw1_ref, gb1_ref, *, grid: _Grid, dtype,
                   weights_once: bool):
    """Two-pass mode, second kernel: program (r, j) owns hidden units [j·hb, (j+1)·hb) of its rows; it
    recomputes ``h`` for them (one extra x·W1 product per tile: the price of not storing activations) and
    forms dh = (dz W2ᵀ) ⊙ [h > 0], ∂W1 = xᵀ dh, ∂b1 = Σ dh for those columns."""
    d, hb = gw1_ref.shape
    dot = functools.partial(_dot, dtype=dtype)
    cols = pl.ds(pl.multiple_of(pl.program_id(1) * hb, hb), hb)
    weights = _reader(lambda: (w1_ref[:, cols], b1_ref[:, cols], w2_ref[cols, :]), weights_once)

    def body(rows, s: _Sums) -> _Sums:
        xs, dz = x_ref[rows, :], dz_ref[rows, :]
        w1, b1, w2 = weights()
        dh = _hidden_delta(dot(xs, w1) + b1, dz, w2, dot)
        return s._replace(gw1=s.gw1 + dot(xs, dh, trans_a=True), gb1=s.gb1 + _col_sum(dh))

    sums = _tile_loop(body, _zero_sums(d, hb, 0, output=False), grid)
    _store(sums, _Sums(loss=None, gw1=gw1_ref, gb1=gb1_ref, gw2=None, gb2=None))


# --- the launch: padding, programs per model, memory traffic --------------------------------------------------


def _padded(params, x, y, sample_weight, rows: int):
    """Everything padded to powers of two ≥ 16 (Triton's block shapes) and ``x`` to ``rows`` rows: zero
    rows, features and hidden units add nothing; padded classes get a −1e30 bias (softmax share 0)."""
    n, d = x.shape
    hidden, c = params["w2"].shape
    dp, hp, cp = _pow2(d), _pow2(hidden), _pow2(c)
    xp = jnp.pad(x.astype(jnp.float32), ((0, rows - n), (0, dp - d)))
    t = jax.nn.one_hot(y, cp, dtype=jnp.float32) * _weights(sample_weight, n)[:, None]
    t = jnp.pad(t, ((0, rows - n), (0, 0)))
    w1 = jnp.pad(params["w1"], ((0, dp - d), (0, hp - hidden)))
    b1 = jnp.pad(params["b1"], (0, hp - hidden))[None]
    w2 = jnp.pad(params["w2"], ((0, hp - hidden), (0, cp - c)))
    b2 = jnp.pad(params["b2"], (0, cp - c), constant_values=_NEG)[None]
    return xp, t, w1, b1, w2, b2


def kernel_hbm_bytes(n: int, d: int, hidden: int, n_classes: int, models: int = 1, compute_dtype: Any = None, *,
                     config: KernelConfig | None = None) -> int:
    r"""GPU-memory bytes of one model's share of a launch with ``models`` models (the cost estimate XLA gets).

    With the padded sizes :math:`\bar d, \bar h, \bar c` (:func:`~jaxreg.models.kernel_applies`), :math:`P` programs per
    model (:class:`~jaxreg.models.KernelConfig`), :math:`W = \bar d \bar h + \bar h \bar c` weight entries and
    :math:`\ell` bytes per x, W1, W2 entry (2 when ``compute_dtype`` is bfloat16, else 4): x and the
    weighted one-hot targets are read once, the params read and the partial gradients and loss written
    once per program,

    .. math::
        B = n(\ell \bar d + 4 \bar c) + P\big(\ell W + 4(\bar h + \bar c) + 4(W + \bar h + 2\bar c)\big).

    ``config.two_pass`` adds the second kernel's reads (x and dz per hidden block; W1, b1, W2 again) and
    dz's write, :math:`4 n \bar c + b\,n(\ell \bar d + 4 \bar c) + P(\ell W + 4 \bar h)` for :math:`b` hidden
    blocks; ``config.pretransposed`` the reads of xᵀ and W2ᵀ, :math:`\ell(n \bar d + P \bar h \bar c)`.

    Example:
      >>> from jaxreg.models import KernelConfig, kernel_hbm_bytes
      >>> kernel_hbm_bytes(1797, 64, 128, 10, models=1024)  # one program per model
      658176
      >>> kernel_hbm_bytes(1797, 64, 128, 10, models=1024, config=KernelConfig(pretransposed=True)) - 658176
      468224
    """
    config = resolve_config(config, "config")
    dp, hp, cp = _pow2(d), _pow2(hidden), _pow2(n_classes)
    programs = _programs_per_model(models, -(-n // config.tile), config)
    low = 2 if compute_dtype is not None and jnp.dtype(compute_dtype) == jnp.bfloat16 else 4
    weights = dp * hp + hp * cp
    one = n * (low * dp + 4 * cp) + programs * (low * weights + 4 * (hp + cp) + 4 * (weights + hp + 2 * cp))
    if config.two_pass:  # dz written once; x's and dz's rows read by each hidden block; W1, b1, W2 once more
        blocks = _hidden_blocks(hp, config)
        return one + n * 4 * cp + blocks * n * (low * dp + 4 * cp) + programs * (low * weights + 4 * hp)
    return one + (n * low * dp + programs * low * hp * cp if config.pretransposed else 0)


def _hidden_blocks(hp: int, config: KernelConfig) -> int:
    """The second kernel's blocks of W1's (padded) columns: ``config.hidden_blocks``, but blocks of ≥ 16 columns."""
    return min(config.hidden_blocks, max(1, hp // MIN_BLOCK))


def _programs_per_model(models: int, n_tiles: int, config: KernelConfig) -> int:
    """Programs (row blocks) per model: ≥ ``config.programs`` in all (a few per GPU core) when there are few
    models; one per model when there are many (its partial gradients are the only extra traffic)."""
    rows = -(-config.programs // models)
    return max(1, min(n_tiles, rows, -(-n_tiles * config.tile // config.min_rows_per_program)))


def _grid(n: int, models: int, config: KernelConfig) -> _Grid:
    """One model's tiles and programs with ``models`` models in flight (no program left without tiles)."""
    n_tiles = -(-n // config.tile)
    tpp = -(-n_tiles // _programs_per_model(models, n_tiles, config))
    return _Grid(tile=config.tile, n_tiles=n_tiles, tiles_per_program=tpp, programs=-(-n_tiles // tpp))


def _per_program(programs: int, shapes) -> list:
    """Output arrays with one block of each shape per program (summed over the programs afterwards)."""
    return [jax.ShapeDtypeStruct((programs, *s), jnp.float32) for s in shapes]


def _program_blocks(shapes) -> list:
    return [pl.BlockSpec((None, *s), lambda r: (r, 0, 0)) for s in shapes]


def _launch_one_kernel(xp, t, w1, b1, w2, b2, *, grid: _Grid, kernel_args: dict, call_args: dict,
                       pretransposed: bool) -> list:
    """[L, ∂W1, ∂b1, ∂W2, ∂b2] from :func:`_kernel`, summed over the programs."""
    (dp, hp), cp = w1.shape, w2.shape[1]
    shapes = [(1, cp), (dp, hp), (1, hp), (hp, cp), (1, cp)]  # L (broadcast), ∂W1, ∂b1, ∂W2, ∂b2
    extra = (xp.T, w2.T) if pretransposed else ()
    parts = pl.pallas_call(
        functools.partial(_kernel, pretransposed=pretransposed, **kernel_args),
        grid=(grid.programs,), out_shape=_per_program(grid.programs, shapes), out_specs=_program_blocks(shapes),
        name="jaxreg_fused_mlp_cross_entropy", **call_args,
    )(xp, t, w1, b1, w2, b2, *extra)
    return [jnp.sum(part, axis=0) for part in parts]


def _launch_two_pass(xp, t, w1, b1, w2, b2, *, grid: _Grid, kernel_args: dict, call_args: dict,
                     cost: pl.CostEstimate, blocks: int) -> list:
    """[L, ∂W1, ∂b1, ∂W2, ∂b2] from two kernels: (1) L, ∂W2, ∂b2 and dz (rows × c, to memory);
    (2) ∂W1, ∂b1 over (programs, hidden blocks)."""
    (dp, hp), cp, rows = w1.shape, w2.shape[1], xp.shape[0]
    first = [(1, cp), (hp, cp), (1, cp)]
    *parts, dz = pl.pallas_call(
        functools.partial(_kernel_softmax, **kernel_args), grid=(grid.programs,),
        out_shape=_per_program(grid.programs, first) + [jax.ShapeDtypeStruct((rows, cp), jnp.float32)],
        out_specs=_program_blocks(first) + [pl.BlockSpec((rows, cp), lambda r: (0, 0))],
        name="jaxreg_fused_mlp_softmax", cost_estimate=cost, **call_args,  # (both kernels' cost)
    )(xp, t, w1, b1, w2, b2)
    hb = hp // blocks  # (≥ 16 columns: Triton's smallest block)
    gw1, gb1 = pl.pallas_call(
        functools.partial(_kernel_hidden, **kernel_args), grid=(grid.programs, blocks),
        out_shape=_per_program(grid.programs, [(dp, hp), (1, hp)]),
        out_specs=[pl.BlockSpec((None, dp, hb), lambda r, j: (r, 0, j)),
                   pl.BlockSpec((None, 1, hb), lambda r, j: (r, 0, j))],
        name="jaxreg_fused_mlp_hidden", **call_args,
    )(xp, dz, w1, b1, w2)
    loss, gw2, gb2 = [jnp.sum(part, axis=0) for part in parts]
    return [loss, jnp.sum(gw1, axis=0), jnp.sum(gb1, axis=0), gw2, gb2]


def _launch(w1, b1, w2, b2, xp, t, *, n: int, interpret: bool, dtype, models: int, config: KernelConfig) -> list:
    """The kernel(s) over one model's padded arrays, with its programs chosen for ``models`` models in flight."""
    grid = _grid(n, models, config)
    (dp, hp), cp = w1.shape, w2.shape[1]
    call_args = {"interpret": interpret}
    if not interpret:
        from jax.experimental.pallas import triton as plgpu

        call_args["compiler_params"] = plgpu.CompilerParams(num_warps=config.num_warps,
                                                            num_stages=config.num_stages)
    if dtype is not None:  # bfloat16 operands: x, W1, W2 cast once here, not per tile in the kernel
        xp, w1, w2 = xp.astype(dtype), w1.astype(dtype), w2.astype(dtype)
    recompute = 2 * n * dp * hp if config.two_pass else 0  # the second kernel's x·W1
    cost = pl.CostEstimate(flops=2 * n * (2 * dp * hp + 3 * hp * cp) + recompute, transcendentals=2 * n * cp,
                           bytes_accessed=kernel_hbm_bytes(n, dp, hp, cp, models, dtype, config=config))
    kernel_args = {"grid": grid, "dtype": dtype, "weights_once": config.weights_once}
    if config.two_pass:
        return _launch_two_pass(xp, t, w1, b1, w2, b2, grid=grid, kernel_args=kernel_args, call_args=call_args,
                                cost=cost, blocks=_hidden_blocks(hp, config))
    return _launch_one_kernel(xp, t, w1, b1, w2, b2, grid=grid, kernel_args=kernel_args,
                              call_args={**call_args, "cost_estimate": cost}, pretransposed=config.pretransposed)


# --- the differentiable function -------------------------------------------------------------------------------


def _fused_value_and_grad(params, x, y, sample_weight, *, interpret: bool, dtype, config: KernelConfig):
    n, d = x.shape
    hidden, c = params["w2"].shape
    xp, t, w1, b1, w2, b2 = _padded(params, x, y, sample_weight, _pow2(-(-n // config.tile) * config.tile))
    launch = functools.partial(_launch, n=n, interpret=interpret, dtype=dtype, config=config)

    # How many models share a launch is known only under vmap (jaxreg.sweep): a custom_vmap rule sees it
    # and picks the programs per model; called unbatched, it is one model.
    @jax.custom_batching.custom_vmap
    def call(*args):
        return launch(*args, models=1)

    @call.def_vmap
    def _(axis_size, in_batched, *args):
        f = functools.partial(launch, models=axis_size)
        out = jax.vmap(f, in_axes=[0 if b else None for b in in_batched])(*args)
        return out, [True] * len(out)

    loss, gw1, gb1, gw2, gb2 = call(w1, b1, w2, b2, xp, t)
    grads = {"w1": gw1[:d, :hidden], "b1": gb1[0, :hidden], "w2": gw2[:hidden, :c], "b2": gb2[0, :c]}
    return loss[0, 0], grads


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
def _fused_loss(params, x, y, sample_weight, interpret, dtype, config):
    return _xla_loss(params, x, y, sample_weight, dtype)


def _fused_fwd(params, x, y, sample_weight, interpret, dtype, config):
    loss, grads = _fused_value_and_grad(params, x, y, sample_weight, interpret=interpret, dtype=dtype,
                                        config=config)
    return loss, (grads, params, x, y, sample_weight)


def _fused_bwd(interpret, dtype, config, res, g):
    grads, params, x, y, sample_weight = res
    # ∂L/∂x and ∂L/∂sample_weight only if asked for (XLA drops them otherwise): the plain formula's vjp
    _, vjp = jax.vjp(lambda x, w: _xla_loss(params, x, y, w, dtype), x, sample_weight)
    dx, dw = vjp(g)
    return jax.tree.map(lambda a: g * a, grads), dx, None, dw


_fused_loss.defvjp(_fused_fwd, _fused_bwd)


def _check_arguments(params, x, y, sample_weight, compute_dtype, backend):
    """``x``, ``y`` as arrays and the compute dtype (None or bfloat16), or ValueError naming the argument."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not isinstance(params, dict) or set(params) != {"w1", "b1", "w2", "b2"}:
        raise ValueError("params must be the MLP's dict {'w1', 'b1', 'w2', 'b2'} (jaxreg.models.init_params('mlp'))")
    if any(jnp.result_type(p) != jnp.float32 for p in jax.tree.leaves(params)):
        raise ValueError("params must be float32 (the kernel's dtype); cast them, or use models.data_loss")
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[1] != params["w1"].shape[0]:
        raise ValueError(f"x must be (n, {params['w1'].shape[0]}) and y (n,), got x {x.shape} and y {y.shape}")
    if sample_weight is not None and jnp.shape(sample_weight) != y.shape:
        raise ValueError(f"sample_weight must have shape {y.shape}, got {jnp.shape(sample_weight)}")
    dtype = None if compute_dtype is None else jnp.dtype(compute_dtype)
    if dtype is not None and dtype != jnp.bfloat16:
        raise ValueError(f"compute_dtype must be None or bfloat16, got {compute_dtype!r}")
    return x, y, dtype


def mlp_cross_entropy(params: dict, x: Any, y: Any, sample_weight: Any = None, *, compute_dtype: Any = None,
                      backend: str = "auto", config: KernelConfig | None = None) -> jax.Array:
    r"""Mean cross-entropy of the one-hidden-layer MLP ``{"w1", "b1", "w2", "b2"}`` (float32) on ``(x, y)``.

    .. math::
        L = \sum_i \omega_i \big[\operatorname{logsumexp}(z_i) - z_{i,y_i}\big],\quad
        z = \operatorname{relu}(x W_1 + b_1) W_2 + b_2,\quad
        \omega_i = \frac{s_i}{\sum_j s_j}\ (\text{default } 1/n)

    The value of ``models.data_loss("classification", params, x, y, sample_weight)``;
    ``jax.grad`` with respect to ``params`` runs the fused kernel (forward and backward in one
    pass over the samples, activations kept in registers) on a GPU. Gradients with respect to
    ``x`` or ``sample_weight``, rarely wanted, come from the XLA formula.

    Args:
      params: the MLP's params (:func:`jaxreg.models.init_params` ``"mlp"``), float32.
      x: inputs ``(n, d)``.
      y: integer class labels ``(n,)`` in ``[0, n_classes)``.
      sample_weight: optional ``(n,)`` non-negative weights.
      compute_dtype: ``None`` (float32, TF32 matmuls on a GPU as XLA's default) or
        ``"bfloat16"``: the matmul operands in bfloat16, accumulated in float32.
      backend: one of :data:`~jaxreg.models.BACKENDS`: ``"auto"`` (the kernel where
        :func:`~jaxreg.models.kernel_applies`, XLA elsewhere), ``"xla"``, ``"pallas"`` or ``"interpret"``
        (the kernel in Pallas' interpreter).
      config: the kernel's launch configuration (:class:`~jaxreg.models.KernelConfig`); ``None``: the defaults.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxreg.models import init_params, mlp_cross_entropy, reference_loss
      >>> p = init_params("mlp", jax.random.key(0), 3, 2, hidden=4)
      >>> x, y = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3), jnp.array([0, 1, 1, 0])
      >>> g = jax.grad(mlp_cross_entropy)(p, x, y, backend="interpret")  # the kernel, on any device
      >>> want = jax.grad(reference_loss, argnums=1)("classification", p, x, y)
      >>> all(bool(jnp.allclose(g[k], want[k], atol=1e-6)) for k in p)
      True
    """
    x, y, dtype = _check_arguments(params, x, y, sample_weight, compute_dtype, backend)
    config = resolve_config(config, "config")
    if backend == "auto":
        backend = "pallas" if kernel_applies(params, x, config) else "xla"
    if backend == "pallas" and jax.default_backend() != "gpu":
        raise ValueError(f"backend='pallas' (fused=True) needs a GPU, JAX's default backend is "
                         f"{jax.default_backend()!r}; use backend='auto' / fused=None, or 'interpret' to test")
    if backend == "xla":
        return _xla_loss(params, x, y, sample_weight, dtype)
    return _fused_loss(params, x, y, sample_weight, backend == "interpret", dtype, config)

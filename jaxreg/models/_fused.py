"""The MLP's cross-entropy with forward and backward fused in one GPU kernel (Pallas).

:mod:`jaxreg.models`' MLP classifier, its loss and the loss's gradient::

    h = x W1 + b1,  a = relu(h),  z = a W2 + b2,  L = (1/n) Σ_i [logsumexp(z_i) − z_{i,y_i}]
    dz = (softmax(z) − onehot(y)) / n
    ∂W2 = aᵀ dz,  ∂b2 = Σ_i dz_i,  dh = (dz W2ᵀ) ⊙ [h > 0],  ∂W1 = xᵀ dh,  ∂b1 = Σ_i dh_i

Every sample's terms are independent, so one kernel walks the samples a tile of rows at a
time, computes ``h, a, z, dz, dh`` of that tile in registers and adds its share to the
gradients: the activations never reach GPU memory. ``jax.grad`` of the XLA formula writes
and re-reads each ``(n, hidden)`` activation several times per step (≈ 10 MB per model-step
for workload W1 in ``benchmarks/``), which is what bounds a vmapped sweep on a GPU. Under
``jax.vmap`` (``jaxreg.sweep``) a ``custom_vmap`` rule sees how many models share the launch
and gives each model one program when there are many, or splits its rows over several
(partial gradients summed) when there are few; ``x`` and ``y`` are shared, not copied.

:func:`mlp_cross_entropy` is a ``jax.custom_vjp`` function: its value is the loss, its
gradient with respect to the params comes from the kernel (the forward pass computes both;
the backward pass only scales them by the cotangent; a gradient with respect to ``x``, if
asked for, comes from the XLA formula). ``backend="auto"`` uses the kernel where
:func:`kernel_applies` (a CUDA GPU, a small enough first layer) and the plain XLA formula
elsewhere; ``"interpret"`` runs the kernel in Pallas' interpreter (CPU tests).
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from jaxreg.models._reference import reference_loss

__all__ = ["mlp_cross_entropy", "kernel_available", "kernel_applies", "kernel_hbm_bytes", "BACKENDS", "CONFIG"]

BACKENDS = ("auto", "xla", "pallas", "interpret")
_NEG = -1e30  # the bias of a padded class: exp(z − max) = 0, so it adds nothing to the softmax


#: Launch configuration: rows per tile (a power of two ≥ 16); ``programs``: with few models in flight, each
#: model's rows are split over programs (their partial gradients summed) until there are about this many
#: (a few per GPU core), but no program gets fewer than ``min_rows_per_program`` rows; Triton warps, stages;
#: ``weights_once``: a program loads W1, b1, W2, b2 once, before its loop over tiles (more registers held),
#: instead of once per tile (more loads from cache); ``pretransposed`` (one kernel): x and W2 also passed transposed (xᵀ
#: made once per step, shared by the models; W2ᵀ per model), so that two of the kernel's three transposed
#: matmul operands are read as stored (not yet measured on a GPU); ``two_pass``: two kernels instead of one (below:
#: :func:`_kernel_softmax` writes ``dz`` to memory, :func:`_kernel_hidden` recomputes ``h`` and forms the W1
#: gradient), with W1's columns split over ``hidden_blocks`` programs in the second: fewer registers per
#: program for an extra x·W1 product and dz's round trip through memory. Measured slower at W1's hidden 128
#: (H100, 2026-11-27: 3,599 vs 4,770 models/s; 64-row tiles, 2 blocks: 4,411); opt-in and tested, for the
#: next measurements (larger tiles; hidden sizes past ``max_weight_words``, which would also need the first
#: kernel to walk hidden blocks).
#: The defaults are the configuration of the H100 rows in ``benchmarks/README.md`` (2026-11-27; the probe's
#: alternatives were within 1.5%, num_warps 2 and 8 far slower).
#: ``JAXREG_FUSED_CONFIG='{"tile": 64}'`` (JSON) overrides entries at import.
#: ``max_weight_words``, ``max_features``: ``backend="auto"`` uses the kernel only while W1 and W2 (padded)
#: have at most this many entries together and x at most this many columns (padded): the sizes measured
#: (W1 64 × 128, W2 128 × 16). Each program accumulates both gradients and holds a tile of x; at W1
#: 64 × 512 a program needs more shared memory than an H200 core has (Triton refuses to compile it).
CONFIG = {"tile": 32, "programs": 512, "min_rows_per_program": 32, "num_warps": 4, "num_stages": 2,
          "weights_once": True, "pretransposed": False, "two_pass": False, "hidden_blocks": 1,
          "max_weight_words": 64 * 128 + 128 * 16, "max_features": 64}
CONFIG.update(json.loads(os.environ.get("JAXREG_FUSED_CONFIG", "{}")))


def kernel_available() -> bool:
    """Whether ``backend="auto"`` may use the kernel: JAX's default backend is a CUDA GPU of compute
    capability ≥ 8.0 (TF32 matmuls; measured on an H200, `benchmarks/`)."""
    if jax.default_backend() != "gpu":
        return False
    try:
        return float(getattr(jax.devices()[0], "compute_capability", "0")) >= 8.0
    except (TypeError, ValueError):
        return False


def kernel_applies(params: dict, x: Any) -> bool:
    """What ``backend="auto"`` decides: :func:`kernel_available`, and the padded shapes are within
    ``CONFIG["max_weight_words"]`` (W1 and W2 entries) and ``CONFIG["max_features"]`` (x's columns)."""
    dp, (hidden, c) = _pow2(jnp.shape(x)[-1]), jnp.shape(params["w2"])
    words = dp * _pow2(hidden) + _pow2(hidden) * _pow2(c)
    return words <= CONFIG["max_weight_words"] and dp <= CONFIG["max_features"] and kernel_available()


def _pow2(n: int, least: int = 16) -> int:
    return max(least, 1 << (int(n) - 1).bit_length())


def _weights(sample_weight, n):
    if sample_weight is None:
        return jnp.full((n,), 1.0 / n, jnp.float32)
    w = jnp.asarray(sample_weight, jnp.float32)
    return w / jnp.maximum(jnp.sum(w), 1e-12)


def _xla_loss(params, x, y, sample_weight, dtype):
    """The plain formula, models.data_loss's (the value, and the gradient with respect to ``x`` or
    ``sample_weight``)."""
    return reference_loss("classification", params, x, y, sample_weight, compute_dtype=dtype)


def _dot(a, b, *, trans_a: bool = False, trans_b: bool = False, dtype=None):
    """a·b (aᵀ, bᵀ on request) with float32 accumulation; ``dtype`` casts the operands first (bf16)."""
    if dtype is not None:
        a, b = a.astype(dtype), b.astype(dtype)
    dims = (((0 if trans_a else 1,), (1 if trans_b else 0,)), ((), ()))
    return jax.lax.dot_general(a, b, dims, preferred_element_type=jnp.float32)


def _forward(xs, ts, w1, b1, w2, b2, dot):
    """One tile's forward pass and softmax: (h, a, dz, the tile's share of L); ``ts`` = onehot(y)·weight rows."""
    h = dot(xs, w1) + b1
    a = jnp.maximum(h, 0.0)
    z = dot(a, w2) + b2
    m = jnp.max(z, axis=1, keepdims=True)
    e = jnp.exp(z - m)
    s = jnp.sum(e, axis=1, keepdims=True)
    wrow = jnp.sum(ts, axis=1, keepdims=True)  # the row's weight (1/n), 0 on a padded row
    loss = jnp.sum(wrow * (m + jnp.log(s))) - jnp.sum(ts * z)
    return h, a, wrow * (e / s) - ts, loss


def _kernel(*refs, tile: int, n_tiles: int, tiles_per_program: int, dtype, weights_once: bool,
            pretransposed: bool):
    """One program: the rows of tiles [r·tpp, min((r+1)·tpp, n_tiles)) → its share of L and ∂L/∂params.

    ``refs``: x, t, W1, b1, W2, b2 (then xᵀ and W2ᵀ when ``pretransposed``), then the outputs L, ∂W1, ∂b1, ∂W2,
    ∂b2. ``x`` (and W1, W2) arrive in ``dtype`` already when it is bfloat16 (cast once, outside the kernel).
    ``pretransposed``: xᵀ's tile and W2ᵀ are read as stored instead of transposed in the kernel for xᵀdh and
    dz W2ᵀ (float32 operands have no transposing shared-memory load)."""
    x_ref, t_ref, w1_ref, b1_ref, w2_ref, b2_ref = refs[:6]
    xt_ref, w2t_ref = refs[6:8] if pretransposed else (None, None)
    loss_ref, gw1_ref, gb1_ref, gw2_ref, gb2_ref = refs[8:] if pretransposed else refs[6:]
    d, hidden = w1_ref.shape
    c = w2_ref.shape[1]
    dot = functools.partial(_dot, dtype=dtype)
    first = pl.program_id(0) * tiles_per_program
    wrefs = (w1_ref, b1_ref, w2_ref, b2_ref) + ((w2t_ref,) if pretransposed else ())
    held = tuple(r[...] for r in wrefs) if weights_once else None

    def body(i, carry):
        gw1, gb1, gw2, gb2, loss = carry
        rows = pl.ds(pl.multiple_of((first + i) * tile, tile), tile)
        xs = x_ref[rows, :]  # (tile, d)
        ts = t_ref[rows, :]  # (tile, c): onehot(y)·weight, zero on padded rows
        w1, b1, w2, b2, *w2t = held if weights_once else tuple(r[...] for r in wrefs)
        h, a, dz, tile_loss = _forward(xs, ts, w1, b1, w2, b2, dot)
        loss = loss + tile_loss
        gw2 = gw2 + dot(a, dz, trans_a=True)
        gb2 = gb2 + jnp.sum(dz, axis=0, keepdims=True)
        dh = jnp.where(h > 0.0, dot(dz, w2t[0]) if pretransposed else dot(dz, w2, trans_b=True), 0.0)
        gw1 = gw1 + (dot(xt_ref[:, rows], dh) if pretransposed else dot(xs, dh, trans_a=True))
        gb1 = gb1 + jnp.sum(dh, axis=0, keepdims=True)
        return gw1, gb1, gw2, gb2, loss

    zeros = (jnp.zeros((d, hidden), jnp.float32), jnp.zeros((1, hidden), jnp.float32),
             jnp.zeros((hidden, c), jnp.float32), jnp.zeros((1, c), jnp.float32), jnp.float32(0.0))
    count = jnp.minimum(tiles_per_program, n_tiles - first)
    gw1, gb1, gw2, gb2, loss = jax.lax.fori_loop(0, count, body, zeros)
    loss_ref[...] = jnp.full((1, c), loss, jnp.float32)
    gw1_ref[...] = gw1
    gb1_ref[...] = gb1
    gw2_ref[...] = gw2
    gb2_ref[...] = gb2


def _kernel_softmax(x_ref, t_ref, w1_ref, b1_ref, w2_ref, b2_ref, loss_ref, gw2_ref, gb2_ref, dz_ref, *,
                    tile: int, n_tiles: int, tiles_per_program: int, dtype, weights_once: bool):
    """Two-pass mode, first kernel: a program's share of L, ∂W2 = aᵀ dz and ∂b2, and its rows of ``dz`` written to
    memory (``dz_ref``: the model's whole (rows, c) array; each program writes its own tiles). No W1 gradient is
    held, so a program needs far fewer registers than :func:`_kernel`'s."""
    hidden, c = w2_ref.shape
    dot = functools.partial(_dot, dtype=dtype)
    first = pl.program_id(0) * tiles_per_program
    refs = (w1_ref, b1_ref, w2_ref, b2_ref)
    held = tuple(r[...] for r in refs) if weights_once else None

    def body(i, carry):
        gw2, gb2, loss = carry
        rows = pl.ds(pl.multiple_of((first + i) * tile, tile), tile)
        xs, ts = x_ref[rows, :], t_ref[rows, :]
        w1, b1, w2, b2 = held if weights_once else tuple(r[...] for r in refs)
        _, a, dz, tile_loss = _forward(xs, ts, w1, b1, w2, b2, dot)
        dz_ref[rows, :] = dz
        return gw2 + dot(a, dz, trans_a=True), gb2 + jnp.sum(dz, axis=0, keepdims=True), loss + tile_loss

    zeros = (jnp.zeros((hidden, c), jnp.float32), jnp.zeros((1, c), jnp.float32), jnp.float32(0.0))
    count = jnp.minimum(tiles_per_program, n_tiles - first)
    gw2, gb2, loss = jax.lax.fori_loop(0, count, body, zeros)
    loss_ref[...] = jnp.full((1, c), loss, jnp.float32)
    gw2_ref[...] = gw2
    gb2_ref[...] = gb2


def _kernel_hidden(x_ref, dz_ref, w1_ref, b1_ref, w2_ref, gw1_ref, gb1_ref, *, tile: int, n_tiles: int,
                   tiles_per_program: int, dtype, weights_once: bool):
    """Two-pass mode, second kernel: program (r, j) owns hidden units [j·hb, (j+1)·hb) of its rows; it recomputes
    ``h`` for them (one extra x·W1 product per tile: the price of not storing activations) and forms
    dh = (dz W2ᵀ) ⊙ [h > 0], ∂W1 = xᵀ dh, ∂b1 = Σ dh for those columns."""
    d, hb = gw1_ref.shape
    dot = functools.partial(_dot, dtype=dtype)
    first = pl.program_id(0) * tiles_per_program
    cols = pl.ds(pl.multiple_of(pl.program_id(1) * hb, hb), hb)

    def weights():
        return w1_ref[:, cols], b1_ref[:, cols], w2_ref[cols, :]

    held = weights() if weights_once else None

    def body(i, carry):
        gw1, gb1 = carry
        rows = pl.ds(pl.multiple_of((first + i) * tile, tile), tile)
        xs, dz = x_ref[rows, :], dz_ref[rows, :]
        w1, b1, w2 = held if weights_once else weights()
        h = dot(xs, w1) + b1
        dh = jnp.where(h > 0.0, dot(dz, w2, trans_b=True), 0.0)
        return gw1 + dot(xs, dh, trans_a=True), gb1 + jnp.sum(dh, axis=0, keepdims=True)

    zeros = (jnp.zeros((d, hb), jnp.float32), jnp.zeros((1, hb), jnp.float32))
    count = jnp.minimum(tiles_per_program, n_tiles - first)
    gw1, gb1 = jax.lax.fori_loop(0, count, body, zeros)
    gw1_ref[...] = gw1
    gb1_ref[...] = gb1


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


def kernel_hbm_bytes(n: int, d: int, hidden: int, n_classes: int, models: int = 1, compute_dtype: Any = None) -> int:
    """GPU-memory bytes of one model's share of a launch with ``models`` models (the cost estimate XLA gets):
    x and the weighted one-hot targets read once, the params read and the partial gradients written once per
    program of the model (:func:`_programs_per_model`); x, W1 and W2 in bfloat16 (2 bytes) when
    ``compute_dtype`` is, the rest float32. ``CONFIG["two_pass"]`` adds the second kernel's reads (x, W1, b1,
    W2 again) and dz's round trip (written, read); ``CONFIG["pretransposed"]`` the reads of xᵀ and W2ᵀ."""
    dp, hp, cp = _pow2(d), _pow2(hidden), _pow2(n_classes)
    programs = _programs_per_model(models, -(-n // CONFIG["tile"]))
    low = 2 if compute_dtype is not None and jnp.dtype(compute_dtype) == jnp.bfloat16 else 4
    weights = dp * hp + hp * cp
    one = n * (low * dp + 4 * cp) + programs * (low * weights + 4 * (hp + cp) + 4 * (weights + hp + 2 * cp))
    if CONFIG["two_pass"]:  # dz written once; x's and dz's rows read by each hidden block; W1, b1, W2 once more
        return one + n * 4 * cp + _hidden_blocks(hp) * n * (low * dp + 4 * cp) + programs * (low * weights + 4 * hp)
    return one + (n * low * dp + programs * low * hp * cp if CONFIG["pretransposed"] else 0)


def _hidden_blocks(hp: int) -> int:
    """The second kernel's blocks of W1's (padded) columns: CONFIG["hidden_blocks"], but blocks of ≥ 16 columns.
    Raises on a CONFIG whose options do not go together (an option that would be silently ignored)."""
    blocks = CONFIG["hidden_blocks"]
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1 or blocks & (blocks - 1):
        raise ValueError(f"jaxreg.models._fused.CONFIG['hidden_blocks'] must be a power of two ≥ 1, got {blocks!r}")
    if blocks != 1 and not CONFIG["two_pass"]:
        raise ValueError("jaxreg.models._fused.CONFIG['hidden_blocks'] applies to the two-pass kernels only: set "
                         "CONFIG['two_pass'] = True, or hidden_blocks = 1")
    if CONFIG["two_pass"] and CONFIG["pretransposed"]:
        raise ValueError("jaxreg.models._fused.CONFIG['pretransposed'] applies to the one-kernel mode only: set "
                         "CONFIG['two_pass'] = False, or pretransposed = False")
    return min(blocks, max(1, hp // 16))


def _programs_per_model(models: int, n_tiles: int) -> int:
    """Programs (row blocks) per model: ≥ CONFIG["programs"] in all (a few per GPU core) when there are few
    models; one per model when there are many (its partial gradients are the only extra traffic)."""
    rows = -(-CONFIG["programs"] // models)
    return max(1, min(n_tiles, rows, -(-n_tiles * CONFIG["tile"] // CONFIG["min_rows_per_program"])))


def _launch(w1, b1, w2, b2, xp, t, *, n, interpret, dtype, models):
    """The kernel over one model's padded arrays, with its programs chosen for `models` models in flight."""
    tile = CONFIG["tile"]
    n_tiles = -(-n // tile)
    programs = _programs_per_model(models, n_tiles)
    tpp = -(-n_tiles // programs)
    programs = -(-n_tiles // tpp)
    dp, hp = w1.shape
    cp = w2.shape[1]
    kwargs = {}
    if not interpret:
        from jax.experimental.pallas import triton as plgpu

        kwargs["compiler_params"] = plgpu.CompilerParams(num_warps=CONFIG["num_warps"],
                                                         num_stages=CONFIG["num_stages"])
    shapes = [(1, cp), (dp, hp), (1, hp), (hp, cp), (1, cp)]  # loss (broadcast), ∂W1, ∂b1, ∂W2, ∂b2
    if dtype is not None:  # bfloat16 operands: x, W1, W2 cast once here, not per tile in the kernel
        xp, w1, w2 = xp.astype(dtype), w1.astype(dtype), w2.astype(dtype)
    blocks = _hidden_blocks(hp)  # (checks CONFIG)
    recompute = 2 * n * dp * hp if CONFIG["two_pass"] else 0  # the second kernel's x·W1
    cost = pl.CostEstimate(flops=2 * n * (2 * dp * hp + 3 * hp * cp) + recompute, transcendentals=2 * n * cp,
                           bytes_accessed=kernel_hbm_bytes(n, dp, hp, cp, models, dtype))
    static = dict(tile=tile, n_tiles=n_tiles, tiles_per_program=tpp, dtype=dtype,
                  weights_once=bool(CONFIG["weights_once"]))
    if not CONFIG["two_pass"]:
        pre = bool(CONFIG["pretransposed"])
        extra = (xp.T, w2.T) if pre else ()
        parts = pl.pallas_call(
            functools.partial(_kernel, pretransposed=pre, **static),
            grid=(programs,),
            out_shape=[jax.ShapeDtypeStruct((programs, *s), jnp.float32) for s in shapes],
            out_specs=[pl.BlockSpec((None, *s), lambda r: (r, 0, 0)) for s in shapes],
            interpret=interpret, name="jaxreg_fused_mlp_cross_entropy", cost_estimate=cost, **kwargs,
        )(xp, t, w1, b1, w2, b2, *extra)
        return [jnp.sum(part, axis=0) for part in parts]
    # two passes: (1) loss, ∂W2, ∂b2 and dz (rows × c, to memory); (2) ∂W1, ∂b1 over (programs, hidden blocks)
    rows = xp.shape[0]
    first = [(1, cp), (hp, cp), (1, cp)]
    *parts, dz = pl.pallas_call(
        functools.partial(_kernel_softmax, **static),
        grid=(programs,),
        out_shape=[jax.ShapeDtypeStruct((programs, *s), jnp.float32) for s in first]
        + [jax.ShapeDtypeStruct((rows, cp), jnp.float32)],
        out_specs=[pl.BlockSpec((None, *s), lambda r: (r, 0, 0)) for s in first]
        + [pl.BlockSpec((rows, cp), lambda r: (0, 0))],
        interpret=interpret, name="jaxreg_fused_mlp_softmax", cost_estimate=cost, **kwargs,  # (both kernels')
    )(xp, t, w1, b1, w2, b2)
    hb = hp // blocks  # (≥ 16 columns: Triton's smallest block)
    gw1, gb1 = pl.pallas_call(
        functools.partial(_kernel_hidden, **static),
        grid=(programs, blocks),
        out_shape=[jax.ShapeDtypeStruct((programs, dp, hp), jnp.float32),
                   jax.ShapeDtypeStruct((programs, 1, hp), jnp.float32)],
        out_specs=[pl.BlockSpec((None, dp, hb), lambda r, j: (r, 0, j)),
                   pl.BlockSpec((None, 1, hb), lambda r, j: (r, 0, j))],
        interpret=interpret, name="jaxreg_fused_mlp_hidden", **kwargs,
    )(xp, dz, w1, b1, w2)
    loss, gw2, gb2 = [jnp.sum(part, axis=0) for part in parts]
    return [loss, jnp.sum(gw1, axis=0), jnp.sum(gb1, axis=0), gw2, gb2]


def _fused_value_and_grad(params, x, y, sample_weight, *, interpret: bool, dtype):
    n, d = x.shape
    hidden, c = params["w2"].shape
    tile = CONFIG["tile"]
    xp, t, w1, b1, w2, b2 = _padded(params, x, y, sample_weight, _pow2(-(-n // tile) * tile))
    launch = functools.partial(_launch, n=n, interpret=interpret, dtype=dtype)

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


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _fused_loss(params, x, y, sample_weight, interpret, dtype):
    return _xla_loss(params, x, y, sample_weight, dtype)


def _fused_fwd(params, x, y, sample_weight, interpret, dtype):
    loss, grads = _fused_value_and_grad(params, x, y, sample_weight, interpret=interpret, dtype=dtype)
    return loss, (grads, params, x, y, sample_weight)


def _fused_bwd(interpret, dtype, res, g):
    grads, params, x, y, sample_weight = res
    # ∂L/∂x and ∂L/∂sample_weight only if asked for (XLA drops them otherwise): the plain formula's vjp
    _, vjp = jax.vjp(lambda x, w: _xla_loss(params, x, y, w, dtype), x, sample_weight)
    dx, dw = vjp(g)
    return jax.tree.map(lambda a: g * a, grads), dx, None, dw


_fused_loss.defvjp(_fused_fwd, _fused_bwd)


def mlp_cross_entropy(params: dict, x: Any, y: Any, sample_weight: Any = None, *, compute_dtype: Any = None,
                      backend: str = "auto") -> jax.Array:
    r"""Mean cross-entropy of the one-hidden-layer MLP ``{"w1", "b1", "w2", "b2"}`` (float32) on ``(x, y)``.

    .. math::
        L = \sum_i \omega_i \big[\operatorname{logsumexp}(z_i) - z_{i,y_i}\big],\quad
        z = \operatorname{relu}(x W_1 + b_1) W_2 + b_2,\quad
        \omega_i = \frac{s_i}{\sum_j s_j}\ (\text{default } 1/n)

    The value of ``models.data_loss("classification", params, x, y, sample_weight)``;
    ``jax.grad`` with respect to ``params`` runs the fused kernel (module docstring) on a
    GPU. Gradients with respect to ``x`` or ``sample_weight``, rarely wanted, come from
    the XLA formula.

    Args:
      params: the MLP's params (:func:`jaxreg.models.init_params` ``"mlp"``), float32.
      x: inputs ``(n, d)``.
      y: integer class labels ``(n,)`` in ``[0, n_classes)``.
      sample_weight: optional ``(n,)`` non-negative weights.
      compute_dtype: ``None`` (float32, TF32 matmuls on a GPU as XLA's default) or
        ``"bfloat16"``: the matmul operands in bfloat16, accumulated in float32.
      backend: ``"auto"`` (the kernel where :func:`kernel_applies`, XLA elsewhere), ``"xla"``, ``"pallas"`` or
        ``"interpret"`` (the kernel in Pallas' interpreter, for tests on a CPU).
    """
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
    if backend == "auto":
        backend = "pallas" if kernel_applies(params, x) else "xla"
    if backend == "pallas" and jax.default_backend() != "gpu":
        raise ValueError(f"backend='pallas' (fused=True) needs a GPU, JAX's default backend is "
                         f"{jax.default_backend()!r}; use backend='auto' / fused=None, or 'interpret' to test")
    if backend == "xla":
        return _xla_loss(params, x, y, sample_weight, dtype)
    return _fused_loss(params, x, y, sample_weight, backend == "interpret", dtype)

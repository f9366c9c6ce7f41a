r"""Active-set Newton solver for lasso / elastic-net paths (:class:`jaxreg.solvers.ActiveSet`).

With :math:`a_1 = \lambda\rho`, :math:`a_2 = 2\lambda(1-\rho)`, :math:`H = X^\top X/n + a_2 I`
and :math:`b = X^\top y/n`, each λ minimises

.. math::

   F(w) = \tfrac12 w^\top H w - b^\top w + a_1\|w\|_1 + \tfrac{1}{2n}\|y\|^2
        = \tfrac{1}{2n}\|y - Xw\|^2 + a_1\|w\|_1 + \tfrac{a_2}{2}\|w\|^2 .

One iteration, from :math:`w` with negative gradient :math:`g = b - Hw`:

1. guess the solution's support (primal-dual active set): :math:`A = \{j : |v_j| > a_1/H_{jj}\}`,
   :math:`v = w + g/\operatorname{diag}(H)`; a nonzero coordinate keeps its sign, an entering
   one (at most :math:`\max(16, |\operatorname{supp} w|)` per iteration, the most violating,
   and never more than :math:`\operatorname{rank} X + 1` in all for the lasso) takes
   :math:`s_j = \operatorname{sign}(v_j)`. A λ's first iteration takes :math:`v` at the point
   extrapolated along the path, :math:`w + (\lambda - \lambda')\,\mathrm{d}w/\mathrm{d}\lambda` and
   :math:`g` likewise (slopes from the last two λ: the solution is piecewise linear in λ), which
   foresees most coordinates that enter or leave before this λ;
2. sign-constrained Newton (Lawson–Hanson): solve :math:`H_{AA}u_A = b_A - a_1 s_A`, move from
   :math:`w` towards :math:`u` until the first coordinate reaches 0, drop it from :math:`A`
   (set exactly to 0), solve again, … until :math:`u` keeps the signs :math:`s`. Along the way
   :math:`F` equals the quadratic :math:`\tfrac12 u^\top Hu - (b - a_1 s)^\top u` and decreases;
3. keep the better of that point and the proximal-gradient point
   :math:`z = S_{a_1/L}(w + g/L)` (:math:`L \ge \lambda_{\max}(H)`, power iteration; doubled if
   ever too small), which always decreases :math:`F`: the iteration never increases
   :math:`F` and cannot stall where Newton steps do not help.

Once :math:`A` and :math:`s` are the solution's, step 2 lands on it: the duality gap drops to
rounding, usually after 1–3 iterations per λ. The λ run from large to small, each warm-started
from the previous solution, and each stops at its relative duality gap
(:func:`jaxreg.solvers.relative_duality_gap`) ≤ ``tol``.

Only the active coordinates are touched: the Newton systems are :math:`|A|\times|A|`
(Cholesky factorisation up to 128 slots; above, conjugate gradients warm-started from the last
solution, with the factorisation as fallback), and an iteration costs :math:`O(|A|\,d)` with the
Gram matrix or :math:`O(nd + n|A|^2)` from the data (:math:`n \ll d`) on top, instead of
:math:`O(d^2)` or :math:`O(nd)` per iteration and per λ. Shapes are static: the active set lives
in ``capacity`` padded slots, and a λ that outgrows them is resumed with twice the slots (one more
compilation; compiled programs are kept in a :class:`ProgramCache` for the next path of the same
shapes); a factorisation, and conjugate gradients on the Gram matrix, cover only the slots in use,
rounded up to a quarter, half or all of them. Design notes and measurements: ``docs/design/solvers.md``.

The code follows the method: :func:`active_set_path` (capacities and compiled programs) →
:func:`_path_program` (the λ, :class:`_Path`) → :func:`_one_lambda` (one λ's iterations,
:class:`_Iteration`) → :func:`_iterate` (steps 1–3: :func:`_support_guess`, :func:`_hessian`,
:func:`_sign_constrained_newton`, :func:`_accept`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg.core.prox import soft_threshold
from jaxreg.engine._compile import compile_with_options
from jaxreg.solvers._objective import _relative_gap
from jaxreg.solvers._sparse import SparseDesign, column_sq_norms, matvec, rmatvec

__all__ = ["active_set_path", "ProgramCache", "PROGRAMS", "SOLVER_CPU_COMPILER_OPTIONS", "FULL_SLOTS_UP_TO",
           "FIRST_CAPACITY"]

#: Active slots up to which Newton steps always factorise (conjugate gradients first above).
CHOLESKY_BELOW = 128
#: Newton solves per iteration (each drops at least one coordinate that would change sign).
MAX_SIGN_PASSES = 50
#: At most max(MIN_ENTERING, |support|) coordinates enter per iteration (the most violating ones).
MIN_ENTERING = 16
#: Solves work on the leading quarter, half or three quarters of the slots (the slots in use are a prefix) when
#: that block has at least this many slots; else on all of them.
MIN_BLOCK_SLOTS = 64
#: Conjugate gradients' relative residual, in units of √eps.
CG_RTOL = 1e-2
#: Power iterations of the step constant's estimate, and its safety factor.
POWER_ITERATIONS, LIPSCHITZ_MARGIN = 30, 1.05
#: The first program's active slots with the Gram matrix: all ``d`` coordinates up to this many (one program, no
#: doublings: each further program is a dispatch and a start of its own, a third of a 5000 × 150 path's time);
#: else, and with the data, :data:`FIRST_CAPACITY`, doubled as the active set grows.
FULL_SLOTS_UP_TO, FIRST_CAPACITY = 256, 64
#: Compiled programs a :class:`ProgramCache` keeps (the oldest goes first).
MAX_PROGRAMS = 64

#: XLA options for these programs on CPU. Their kernels are small, many and latency-bound: XLA's older loop
#: emitter and optimisation level 1 compile them markedly faster at the same speed (``docs/design/solvers.md``).
#: An XLA that no longer knows an option compiles with its defaults.
SOLVER_CPU_COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1}


def _columns(data, idx, mask):
    """What an active set needs of the design: rows ``G[idx]`` (``(p, d)``) or columns ``X[:, idx]`` (gathered
    densely from a sparse ``x``, 0 outside ``mask``)."""
    if "gram" in data:
        return data["gram"][idx]
    x = data["x"]
    return x.columns(idx, mask) if isinstance(x, SparseDesign) else x[:, idx]


def _sub_gram(data, cols, idx):
    """``XᵀX/n`` on the active set (``(p, p)``)."""
    return cols[:, idx] if "gram" in data else cols.T @ cols / cols.shape[0]


def _residual_terms(data, cols, idx, wa):
    """``Xᵀr/n``, ``‖r‖²/n`` and ``rᵀy/n`` for ``r = y − Xw``, ``w`` supported on ``idx`` (values ``wa``)."""
    if "gram" in data:
        gw = wa @ cols  # (XᵀX/n) w (as wᵀG: XLA's CPU loop for cols.T @ wa was 15× slower)
        wc = jnp.dot(wa, data["xty"][idx])
        return data["xty"] - gw, data["yy"] - 2 * wc + jnp.dot(wa, gw[idx]), data["yy"] - wc
    r = data["y"] - cols @ wa
    n = r.shape[0]
    return rmatvec(data["x"], r) / n, jnp.dot(r, r) / n, jnp.dot(r, data["y"]) / n


def _residual_terms_gram(data, w):
    """:func:`_residual_terms` from the whole Gram matrix and the full ``w`` (``(d,)``): when the slots cover
    half of the coordinates or more, one ``d × d`` product costs less than gathering the slots' rows."""
    gw = data["gram"] @ w
    wc = jnp.dot(w, data["xty"])
    return data["xty"] - gw, data["yy"] - 2 * wc + jnp.dot(w, gw), data["yy"] - wc


@dataclasses.dataclass(frozen=True, eq=False)
class _Setup:
    """What every iteration of one compiled program needs: fixed while it is traced (closed over, not carried)."""

    data: dict  # the design (jaxreg.solvers._design): {"gram", "xty", "yy"} or {"x", "y", "xty", "yy"}
    capacity: int  # p: active slots
    d: int  # coordinates
    dtype: Any
    rank: int  # most coordinates a lasso's H_AA holds regular
    tol: jax.Array  # () the relative duality gap each λ stops at
    max_iter: int  # iterations per λ
    slots: jax.Array  # (p,) 0, 1, …, p − 1
    diag: jax.Array  # (d,) diag(XᵀX/n), at least the smallest normal number (a zero column never enters)
    cg_tol: jax.Array  # () conjugate gradients' relative residual
    n_rows: int | None  # n with the data layout, None with the Gram one
    wide: bool  # fewer samples than slots: H_AA only as products with X_A
    whole_gram: bool  # the slots' Gram rows would be most of G: use G itself
    sizes: tuple  # the leading blocks of slots the solves work on (the last is all p)
    newton: Callable | None = None  # (ctx, system, on, b_on, u0, state) -> (u, state): another Newton solve, whose
    # state is carried where `cg_ok` is (the working-set solver's maintained inverse, jaxreg.solvers._inverse)


def _setup(data, w0, tol, *, capacity, max_iter, rank, newton=None) -> _Setup:
    p, d, dtype = capacity, w0.shape[0], w0.dtype
    diag = jnp.diagonal(data["gram"]) if "gram" in data else column_sq_norms(data["x"]) / data["x"].shape[0]
    n_rows = data["x"].shape[0] if "x" in data else None
    return _Setup(
        data=data, capacity=p, d=d, dtype=dtype, rank=rank, tol=tol, max_iter=max_iter, slots=jnp.arange(p),
        diag=jnp.maximum(diag, jnp.finfo(dtype).tiny), cg_tol=CG_RTOL * jnp.sqrt(jnp.finfo(dtype).eps),
        n_rows=n_rows, wide=n_rows is not None and p > n_rows, whole_gram="gram" in data and 2 * p > d,
        sizes=tuple([q for q in (p // 4, p // 2, 3 * p // 4) if q >= MIN_BLOCK_SLOTS] + [p]), newton=newton)


class _Iteration(NamedTuple):
    """One λ's Newton iterations: the carry of :func:`_iterate`'s while loop."""

    it: jax.Array  # () int32: iterations so far
    w: jax.Array  # (d,) the iterate
    xtr: jax.Array  # (d,) Xᵀr/n, r = y − Xw
    rr: jax.Array  # () ‖r‖²/n
    ry: jax.Array  # () rᵀy/n
    gap: jax.Array  # () relative duality gap at w
    lip: jax.Array  # () step constant L ≥ λ_max(XᵀX/n) of the proximal-gradient point
    cg_ok: Any  # () bool: conjugate gradients still worth trying (they have not failed in this program); or
    # the state of `ctx.newton`
    over: jax.Array  # () bool: the guess outgrew the slots (nothing counts; the caller adds slots)
    stuck: jax.Array  # () bool: a fixed point (more iterations would repeat this one: float32's floor)


class _Slope(NamedTuple):
    """The path's slope at the last λ solved (the solution is piecewise linear in λ)."""

    vel: jax.Array  # (d,) dw/dλ
    xvel: jax.Array  # (d,) d(Xᵀr/n)/dλ
    lam: jax.Array  # () that λ


class _Path(NamedTuple):
    """The λ of one program: the carry of :func:`_one_lambda`'s while loop."""

    k: jax.Array  # () int32: the next λ to solve
    w: jax.Array  # (d,) the last solution (the next λ's warm start)
    xtr: jax.Array  # (d,) Xᵀr/n at w
    rr: jax.Array  # () ‖r‖²/n at w
    ry: jax.Array  # () rᵀy/n at w
    lip: jax.Array  # () step constant
    cg_ok: jax.Array  # () bool
    coefs: jax.Array  # (K, d) solutions so far
    gaps: jax.Array  # (K,) their relative duality gaps (inf: not solved)
    iters: jax.Array  # (K,) int32 their iterations
    over: jax.Array  # () bool: λ k needs more slots than this program has
    slope: _Slope


class _Slots(NamedTuple):
    """One iteration's active slots: the guessed support and the current one, gathered into ``p`` slots."""

    idx: jax.Array  # (p,) int: the coordinate of each slot (padded with 0)
    mask: jax.Array  # (p,) bool: slots in use (a prefix)
    count: jax.Array  # () int: coordinates that want a slot (> p: truncated)
    block: jax.Array  # () int: the smallest of the setup's `sizes` that holds the slots in use
    cols: jax.Array | None  # G[idx] (p, d) or X[:, idx] (n, p); None when the whole Gram matrix serves


class _Hessian(NamedTuple):
    """``H_AA = X_AᵀX_A/n + a2·I`` on the slots, as the solves use it."""

    block_of: Callable  # q -> the leading q × q block of X_AᵀX_A/n (for a factorisation)
    hmul: Callable  # (v, on) -> H_AA v on the slots `on` (0 elsewhere); v (p,) or (p, m)


class _System(NamedTuple):
    """One iteration's Newton system :math:`H_{AA} u = b_A - a_1 s_A`, solved on a subset ``on`` of its slots."""

    hess: _Hessian
    rhs: jax.Array  # (p,) b_A − a1·s_A
    a2: jax.Array  # () the ridge term 2λ(1 − ρ)
    ridge: jax.Array  # () added to the diagonal: keeps a factorisation finite if H_AA is singular
    slots: _Slots


class _SignPass(NamedTuple):
    """The carry of :func:`_sign_constrained_newton`'s loop (Lawson–Hanson passes)."""

    passes: Any  # () int: Newton solves so far
    on: jax.Array  # (p,) bool: coordinates still in the system
    x: jax.Array  # (p,) the point, moved towards each Newton point until a coordinate reaches 0
    u: jax.Array  # (p,) the last Newton point (conjugate gradients' next start)
    done: jax.Array  # () bool: the last Newton point kept the signs
    cg_ok: jax.Array  # () bool


def _support(ctx: _Setup, nz) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The coordinates where ``nz`` holds, in ``p`` slots: indices, slots in use, and how many want one."""
    count = jnp.sum(nz)
    return jnp.nonzero(nz, size=ctx.capacity, fill_value=0)[0], ctx.slots < count, count


def _terms_at(ctx: _Setup, w):
    """:func:`_residual_terms` at a full ``w`` (``(d,)``)."""
    if ctx.whole_gram:
        return _residual_terms_gram(ctx.data, w)
    idx, mask, _ = _support(ctx, w != 0)
    return _residual_terms(ctx.data, _columns(ctx.data, idx, mask), idx, jnp.where(mask, w[idx], 0))


def _support_guess(ctx: _Setup, a1, a2, pred, c: _Iteration):
    """Step 1: the negative gradient ``g``, the unit-metric proximal point ``v`` and the support guess.

    The guess: coordinates a unit-metric proximal step leaves nonzero (primal-dual active set). A λ's first
    iteration takes it at the point extrapolated along the path (``pred``: ``w`` and ``Xᵀr/n`` moved on linearly
    from the last two λ), which foresees most coordinates that enter or leave on the way to this λ. At most
    ``max(MIN_ENTERING, |support|)`` coordinates enter, the most violating ones, and no more than one beyond the
    rank (``n < d``: ``H_AA`` is singular beyond ``n`` coordinates; one always enters, to swap).
    """
    p, dtype, diag = ctx.capacity, ctx.dtype, ctx.diag
    grad = c.xtr - a2 * c.w  # −∇ of the smooth part
    w_pred, xtr_pred = pred
    v = jnp.where(c.it == 0, w_pred + (xtr_pred - a2 * w_pred) / (diag + a2), c.w + grad / (diag + a2))
    guess = jnp.abs(v) > a1 / (diag + a2)
    violation = jnp.where(c.w == 0, jnp.abs(v) * (diag + a2) - a1, -jnp.inf)
    in_support = jnp.sum(c.w != 0)
    regular = jnp.where(a2 > 0, ctx.d, ctx.rank)  # most coordinates H_AA holds regular
    room = jnp.maximum(1, jnp.minimum(jnp.maximum(MIN_ENTERING, in_support), (regular - in_support) // 4))
    # (the sort behind top_k only when more would enter than `room`)
    cut = jax.lax.cond(jnp.sum(guess & (c.w == 0)) > room,
                       lambda: jax.lax.top_k(violation, p)[0][jnp.minimum(room, p) - 1],
                       lambda: jnp.array(-jnp.inf, dtype))
    guess = guess & ((c.w != 0) | (violation >= cut))
    # and (lasso) at most rank + 1 in all, the largest margins |v|(diag + a2) − a1: at the rank, a coordinate must
    # enter before the one it replaces leaves (capped at the rank, the entering one was cut and the path stalled);
    # the sign passes drop one from that singular system
    most = ctx.rank + 1
    if most < p:
        margin = jnp.where(guess, jnp.abs(v) * (diag + a2) - a1, -jnp.inf)
        floor = jax.lax.cond((a2 == 0) & (jnp.sum(guess) > most), lambda: jax.lax.top_k(margin, most)[0][-1],
                             lambda: jnp.array(-jnp.inf, dtype))  # (the sort only when the cap bites)
        guess = guess & (margin >= floor)
    return grad, v, guess


def _slot_mask(on, v):
    """``on`` (``(p,)``) broadcast against ``v`` (``(p,)`` or ``(p, m)``)."""
    return on.reshape(on.shape + (1,) * (v.ndim - 1))


def _hessian(ctx: _Setup, slots: _Slots, a2) -> _Hessian:
    """``H_AA`` in the cheapest form for the layout: products with ``X_A`` (fewer samples than slots), with
    ``G`` itself (slots for every coordinate: gathered blocks only where a factorisation needs them), or a
    gathered ``p × p`` matrix (padded slots hold garbage, always multiplied by 0)."""
    data, idx, cols = ctx.data, slots.idx, slots.cols
    if ctx.wide:

        def block_of(q):  # (for a factorisation; conjugate gradients multiply by X_A and X_Aᵀ instead)
            return cols[:, :q].T @ cols[:, :q] / ctx.n_rows

        def hmul(v, on):
            on = _slot_mask(on, v)
            v = jnp.where(on, v, 0)
            return jnp.where(on, cols.T @ (cols @ v) / ctx.n_rows + a2 * v, 0)

    elif "gram" in data and ctx.capacity == ctx.d:

        def block_of(q):  # gathered: each product then reads q² contiguous entries instead of all of G
            return data["gram"][idx[:q, None], idx[None, :q]]

        def hmul(v, on):
            on = _slot_mask(on, v)
            v = jnp.where(on, v, 0)
            return jnp.where(on, (data["gram"] @ jnp.zeros(v.shape, ctx.dtype).at[idx].add(v))[idx] + a2 * v, 0)

    else:
        g_sub = (data["gram"][idx[:, None], idx[None, :]] if ctx.whole_gram  # (one gather of p² entries)
                 else _sub_gram(data, cols, idx))

        def block_of(q):
            return g_sub[:q, :q]

        def hmul(v, on):
            on = _slot_mask(on, v)
            return jnp.where(on, g_sub @ jnp.where(on, v, 0) + a2 * v, 0)

    return _Hessian(block_of, hmul)


def _cholesky(ctx: _Setup, system: _System, on, b_on):
    """Factorise ``H_AA + ridge·I`` (on ``on``) on the leading block of slots in use, then one refinement step
    against ``H_AA`` itself (no ridge bias). ``b_on``: the right-hand side on ``on``, 0 elsewhere."""
    p = ctx.capacity
    h_on = jnp.where(on[:, None] & on[None, :], system.hess.block_of(p) + jnp.diag(jnp.full(p, system.a2)), 0)

    def leading(q):  # the slots in use are a prefix (< count): factorise q of the p only
        def solve(_):
            h_q, b_q = h_on[:q, :q], b_on[:q]
            chol = jnp.linalg.cholesky(h_q + jnp.diag(jnp.where(on[:q], system.ridge, 1)))
            u = jax.scipy.linalg.cho_solve((chol, True), b_q)
            u = u + jax.scipy.linalg.cho_solve((chol, True), b_q - h_q @ u)
            return jnp.zeros(p, ctx.dtype).at[:q].set(u)

        return solve

    return jax.lax.switch(system.slots.block, [leading(q) for q in ctx.sizes], None)


def _cg(ctx: _Setup, op, b, x0):
    """Conjugate gradients for about the flops of a factorisation; and whether they converged."""
    u, _ = jax.scipy.sparse.linalg.cg(op, b, x0=x0, tol=ctx.cg_tol, maxiter=ctx.capacity // 2)
    return u, jnp.linalg.norm(op(u) - b) <= ctx.cg_tol * jnp.linalg.norm(b)


def _conjugate_gradients(ctx: _Setup, system: _System, on, b_on, u0):
    """Conjugate gradients from the previous solution ``u0`` (on the leading ``q × q`` block of the slots in use,
    or with ``X_A`` products when wide); the factorisation where they do not converge. Returns ``(u, done)``."""
    p, a2 = ctx.capacity, system.a2

    def in_block(q):
        def run(_):
            h_q, on_q = system.hess.block_of(q), on[:q]
            op_q = lambda v: jnp.where(on_q, h_q @ jnp.where(on_q, v, 0) + a2 * v, v)  # noqa: E731
            u, done = _cg(ctx, op_q, b_on[:q], jnp.where(on_q, u0[:q], 0))
            return jnp.zeros(p, ctx.dtype).at[:q].set(u), done

        return run

    if not ctx.wide:
        u, done = jax.lax.switch(system.slots.block, [in_block(q) for q in ctx.sizes], None)
    else:
        op = lambda v: system.hess.hmul(v, on) + jnp.where(on, 0, v)  # noqa: E731
        u, done = _cg(ctx, op, b_on, jnp.where(on, u0, 0))
    return jax.lax.cond(done, lambda _: u, lambda _: _cholesky(ctx, system, on, b_on), None), done


def _iterative(ctx: _Setup, system: _System, on, b_on, u0, cg_ok):
    """Up to :data:`CHOLESKY_BELOW` slots the factorisation; above, conjugate gradients while they keep
    converging (once they fail, an ill-conditioned ``H_AA``: only the factorisation in this program)."""
    if ctx.capacity <= CHOLESKY_BELOW:
        return _cholesky(ctx, system, on, b_on), cg_ok
    return jax.lax.cond(cg_ok, lambda _: _conjugate_gradients(ctx, system, on, b_on, u0),
                        lambda _: (_cholesky(ctx, system, on, b_on), cg_ok), None)


def _woodbury(ctx: _Setup, system: _System, on, b_on):
    """``(X_AᵀX_A/n + cI)⁻¹ = (I − X_Aᵀ(ncI + X_A X_Aᵀ)⁻¹X_A)/c``: one ``n × n`` factorisation (``c = a2 > 0``)."""
    n = ctx.n_rows
    xa, c = jnp.where(on[None, :], system.slots.cols, 0), system.a2
    chol = jnp.linalg.cholesky(n * c * jnp.eye(n, dtype=ctx.dtype) + xa @ xa.T)
    return (b_on - xa.T @ jax.scipy.linalg.cho_solve((chol, True), xa @ b_on)) / c


def _newton(ctx: _Setup, system: _System, on, u0, cg_ok):
    """The argmin of the quadratic ``½uᵀHu − (b − a1 s)ᵀu`` over the coordinates ``on`` (``u0``: the last
    one, where conjugate gradients start). Returns it and ``cg_ok`` (``ctx.newton``'s state where it is set)."""
    b_on = jnp.where(on, system.rhs, 0)
    if ctx.newton is not None:
        u, state = ctx.newton(ctx, system, on, b_on, u0, cg_ok)
        return jnp.where(on, u, 0), state
    if ctx.wide:
        u, ok = jax.lax.cond(system.a2 > 0, lambda _: (_woodbury(ctx, system, on, b_on), cg_ok),
                             lambda _: _iterative(ctx, system, on, b_on, u0, cg_ok), None)
    else:
        u, ok = _iterative(ctx, system, on, b_on, u0, cg_ok)
    return jnp.where(on, u, 0), ok


def _sign_pass(ctx: _Setup, system: _System, s, c: _SignPass) -> _SignPass:
    """Lawson–Hanson: towards the Newton point until the first coordinate reaches 0, which leaves the system."""
    mask = system.slots.mask
    u, cg_ok = _newton(ctx, system, c.on, c.u, c.cg_ok)
    x = c.x
    bad = c.on & (s * u <= 0)  # would cross zero (or enter with the wrong sign)
    leaving = (x != 0) & (bad | ~c.on)  # (coordinates outside `on` head for 0)
    ratio = jnp.where(leaving & (x != u), x / jnp.where(x != u, x - u, 1), jnp.inf)
    alpha = jnp.clip(jnp.min(jnp.where(bad & (x == 0), 0.0, ratio)), 0, 1)
    x_new = jnp.where(mask, x + alpha * (u - x), 0)
    hit = leaving & (ratio <= alpha) | bad & (x == 0)
    x_new = jnp.where(hit, 0, x_new)
    return _SignPass(c.passes + 1, c.on & ~hit, x_new, u, ~jnp.any(bad), cg_ok)


def _sign_constrained_newton(ctx: _Setup, system: _System, s, active, wa, u_start, cg_ok, ok):
    """Step 2: Newton passes from ``wa`` on the ``active`` slots until the Newton point keeps the signs ``s``
    (at most :data:`MAX_SIGN_PASSES`; none if the slots were truncated). Returns the point and ``cg_ok``."""
    first = _SignPass(0, active, wa, u_start, jnp.array(False), cg_ok)
    last = jax.lax.while_loop(lambda c: ok & ~c.done & (c.passes < MAX_SIGN_PASSES),
                              partial(_sign_pass, ctx, system, s), first)
    return last.x, last.cg_ok


def _objective_change(ctx: _Setup, hess: _Hessian, mask, g_slots, a1, wa, va):
    """``F(va) − F(wa)`` on the slots, from the step (not a difference of two large objectives: float32 resolves
    it), and the rounding noise it carries."""
    dv = va - wa
    l1 = a1 * (jnp.sum(jnp.abs(va)) - jnp.sum(jnp.abs(wa)))
    change = 0.5 * jnp.dot(dv, hess.hmul(dv, mask)) - jnp.dot(dv, g_slots) + l1
    noise = 10 * jnp.finfo(ctx.dtype).eps * (a1 * (jnp.sum(jnp.abs(va)) + jnp.sum(jnp.abs(wa))) +
                                            jnp.abs(jnp.dot(dv, g_slots)))
    return change, noise


def _accept(ctx: _Setup, c: _Iteration, system: _System, a1, a2, g_slots, wa, z, w_newton, cg_ok, ok) -> _Iteration:
    """Step 3: the better of the Newton point and the proximal-gradient point ``z`` (or ``wa`` if neither
    decreases ``F``); the step constant doubled if ``z`` increased ``F`` (an estimate too small); the iterate's
    residual terms and gap. Nothing changes if the slots were truncated (``~ok``)."""
    slots, data = system.slots, ctx.data
    (d_z, noise_z), (d_n, _) = (_objective_change(ctx, system.hess, slots.mask, g_slots, a1, wa, va)
                                for va in (z, w_newton))
    d_n = jnp.where(jnp.isfinite(d_n), d_n, jnp.inf)  # (a failed factorisation: the other point)
    lip = jnp.where(ok & (d_z > noise_z), 2 * c.lip, c.lip)  # never needed if the estimate holds
    new = jnp.where(d_n <= d_z, w_newton, z)
    new = jnp.where(jnp.minimum(d_n, d_z) <= 0, new, wa)
    w_new = jnp.zeros(ctx.d, ctx.dtype).at[slots.idx].add(new)
    xtr_new, rr_new, ry_new = (_residual_terms_gram(data, w_new) if ctx.whole_gram else
                               _residual_terms(data, slots.cols, slots.idx, new))
    keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
    w2, xtr2, rr2, ry2 = keep(w_new, c.w), keep(xtr_new, c.xtr), keep(rr_new, c.rr), keep(ry_new, c.ry)
    # a fixed point (nothing moved, the step constant kept): more iterations repeat this one (float32's floor)
    stuck = ok & jnp.all(new == wa) & (lip == c.lip)
    gap = keep(_relative_gap(rr2, ry2, xtr2, w2, a1, a2), c.gap)
    return _Iteration(c.it + 1, w2, xtr2, rr2, ry2, gap, lip, cg_ok, ~ok, stuck)


def _iterate(ctx: _Setup, a1, a2, pred, c: _Iteration) -> _Iteration:
    """One iteration for one λ (``a1 = λρ``, ``a2 = 2λ(1 − ρ)``; ``pred``: the extrapolated ``(w, Xᵀr/n)``):
    the support guess, sign-constrained Newton steps on its slots, the better of that and a proximal-gradient
    point."""
    p, w = ctx.capacity, c.w
    grad, v, guess = _support_guess(ctx, a1, a2, pred, c)
    idx, mask, count = _support(ctx, guess | (w != 0))  # slots: the guess and the current support
    block = jnp.sum(jnp.asarray(ctx.sizes[:-1]) < count)
    slots = _Slots(idx, mask, count, block, None if ctx.whole_gram else _columns(ctx.data, idx, mask))
    wa = jnp.where(mask, w[idx], 0)
    ba = jnp.where(mask, ctx.data["xty"][idx], 0)
    active = mask & guess[idx]
    # signs: a nonzero coordinate keeps its own (it may reach 0 and leave), an entering one takes the gradient's
    s = jnp.where(wa != 0, jnp.sign(wa), jnp.where(active, jnp.sign(v[idx]), 0))
    # the proximal-gradient point (support inside the slots): F(z) ≤ F(w) whenever lip ≥ λ_max
    g_slots = jnp.where(mask, grad[idx], 0)
    step = 1 / (c.lip + a2)
    z = jnp.where(mask, soft_threshold(wa + step * g_slots, a1 * step), 0)
    ridge = 10 * p * jnp.finfo(ctx.dtype).eps * (c.lip + a2)
    system = _System(_hessian(ctx, slots, a2), ba - a1 * s, a2, ridge, slots)
    ok = count <= p  # (else the slots are truncated: nothing here counts, the caller adds slots)
    u_start = jnp.where((c.it == 0) & mask, pred[0][idx], wa)  # conjugate gradients' first start: the extrapolation
    w_newton, cg_ok = _sign_constrained_newton(ctx, system, s, active, wa, u_start, c.cg_ok, ok)
    return _accept(ctx, c, system, a1, a2, g_slots, wa, z, w_newton, cg_ok, ok)


def _one_lambda(ctx: _Setup, lams, l1_ratio, c: _Path) -> _Path:
    """λ ``k``: iterate from the last solution until its gap ≤ ``tol``, ``max_iter``, a fixed point, or the
    slots overflow (then λ ``k`` is left for a program with more slots); record it and the path's slope."""
    lam, slope = lams[c.k], c.slope
    w_pred = c.w + (lam - slope.lam) * slope.vel
    xtr_pred = c.xtr + (lam - slope.lam) * slope.xvel
    a1, a2 = lam * l1_ratio, 2 * lam * (1 - l1_ratio)
    first = _Iteration(jnp.zeros([], jnp.int32), c.w, c.xtr, c.rr, c.ry, _relative_gap(c.rr, c.ry, c.xtr, c.w, a1, a2),
                       c.lip, c.cg_ok, jnp.array(False), jnp.array(False))
    last = jax.lax.while_loop(lambda s: (s.gap > ctx.tol) & (s.it < ctx.max_iter) & ~s.over & ~s.stuck,
                              partial(_iterate, ctx, a1, a2, (w_pred, xtr_pred)), first)
    over = last.over
    coefs = c.coefs.at[c.k].set(jnp.where(over, c.coefs[c.k], last.w))
    gaps = c.gaps.at[c.k].set(jnp.where(over, c.gaps[c.k], last.gap))
    iters = c.iters.at[c.k].set(jnp.where(over, c.iters[c.k], last.it))
    keep = over | (lam == slope.lam)
    dl = jnp.where(lam == slope.lam, 1, lam - slope.lam)
    new_slope = _Slope(jnp.where(keep, slope.vel, (last.w - c.w) / dl),
                       jnp.where(keep, slope.xvel, (last.xtr - c.xtr) / dl), lam)
    return _Path(jnp.where(over, c.k, c.k + 1), last.w, last.xtr, last.rr, last.ry, last.lip, last.cg_ok, coefs, gaps,
                 iters, over, new_slope)


def _path_program(lams, k0, w0, lip, slope0, l1_ratio, tol, data, *, capacity, max_iter, rank):
    """λ ``k0``, ``k0 + 1``, … (sorted large → small) until the last or until one needs more than
    ``capacity`` active slots. ``slope0``: the path's slope at the last λ solved (:class:`_Slope`, zeros at the
    start). Returns coefficients, gaps and iterations per λ, the λ reached, the warm start, step constant and
    slope to resume from."""
    ctx = _setup(data, w0, tol, capacity=capacity, max_iter=max_iter, rank=rank)
    k_total = lams.shape[0]
    xtr, rr, ry = _terms_at(ctx, w0)
    start = _Path(k0, w0, xtr, rr, ry, lip, jnp.array(True), jnp.zeros((k_total, ctx.d), ctx.dtype),
                  jnp.full(k_total, jnp.inf, ctx.dtype), jnp.zeros(k_total, jnp.int32), jnp.array(False), slope0)
    end = jax.lax.while_loop(lambda c: (c.k < k_total) & ~c.over, partial(_one_lambda, ctx, lams, l1_ratio), start)
    return end.coefs, end.gaps, end.iters, end.k, end.w, end.lip, end.slope


def _lipschitz(data, iterations: int = POWER_ITERATIONS):
    """Power-iteration estimate of ``λ_max(XᵀX/n)`` (× :data:`LIPSCHITZ_MARGIN`; the solver doubles it if ever
    too small)."""
    d = data["xty"].shape[0]
    v = jnp.asarray(np.random.default_rng(0).standard_normal(d), data["xty"].dtype)

    def times(v):
        if "gram" in data:
            return data["gram"] @ v
        x = data["x"]
        if isinstance(x, SparseDesign):
            return rmatvec(x, matvec(x, v)) / x.shape[0]
        return (x @ v) @ x / x.shape[0]  # ((Xv)ᵀX: XLA's CPU loop for Xᵀ(Xv) was 3× slower)

    def body(_, v):
        u = times(v)
        return u / jnp.maximum(jnp.linalg.norm(u), jnp.finfo(v.dtype).tiny)

    v = jax.lax.fori_loop(0, iterations, body, v / jnp.linalg.norm(v))
    return LIPSCHITZ_MARGIN * jnp.maximum(jnp.dot(v, times(v)), jnp.finfo(v.dtype).tiny)


class ProgramCache:
    """Compiled programs by (function, static arguments, argument shapes and dtypes, device): a path of the same
    shapes (another fold, another y) does not compile again.

    Args:
      max_programs: programs kept (the oldest goes first).
      cpu_compiler_options: XLA options for programs on a CPU (:data:`SOLVER_CPU_COMPILER_OPTIONS`).

    Example:
      >>> cache = ProgramCache(max_programs=2)
      >>> program = cache.compiled(jnp.sin, (jnp.zeros(3),))
      >>> program is cache.compiled(jnp.sin, (jnp.ones(3),)), len(cache)
      (True, 1)
    """

    def __init__(self, max_programs: int = MAX_PROGRAMS, cpu_compiler_options: dict | None = None):
        self.max_programs = max_programs
        self.cpu_compiler_options = dict(SOLVER_CPU_COMPILER_OPTIONS if cpu_compiler_options is None
                                         else cpu_compiler_options)
        self._programs: dict = {}

    def __len__(self) -> int:
        return len(self._programs)

    def clear(self) -> None:
        """Forget every program."""
        self._programs.clear()

    def compiled(self, fn: Callable, args: tuple, key: tuple = ()):
        """``jax.jit(fn)`` compiled for ``args``' shapes and device (``key``: ``fn``'s static arguments)."""
        spec = jax.tree_util.tree_map(lambda a: (jnp.shape(a), jnp.result_type(a)), args)
        device = next(iter(jax.tree_util.tree_leaves(args)[0].devices()))
        full_key = (getattr(fn, "func", fn).__name__, key, jax.tree_util.tree_structure(args), str(spec), device)
        if full_key not in self._programs:
            if len(self._programs) >= self.max_programs:
                self._programs.pop(next(iter(self._programs)))
            options = self.cpu_compiler_options if device.platform == "cpu" else {}
            self._programs[full_key] = compile_with_options(jax.jit(fn).lower(*args), options)[0]
        return self._programs[full_key]


#: The active-set solver's programs, kept for the process (pass another :class:`ProgramCache` to
#: :func:`active_set_path` to keep them apart).
PROGRAMS = ProgramCache()


def _rank_bound(data, d: int) -> int:
    """The most nonzeros a lasso solution can have: ``rank X``, bounded without an SVD (``O(n²d)``) by ``d``, or
    with ``n < d`` by ``n``, or ``n − 1`` for centred columns."""
    if "x" not in data or data["x"].shape[0] >= d:
        return d
    x = data["x"]
    if isinstance(x, SparseDesign):  # (from the stored entries: an implicit 0 adds nothing to a sum or a max)
        means, scale, dtype = x.host_column_sums() / x.shape[0], np.abs(np.asarray(x.vals)).max(initial=0), x.dtype
    else:
        x_host = np.asarray(x)
        means, scale, dtype = x_host.mean(0), np.abs(x_host).max(), x_host.dtype
    centred = np.abs(means).max() <= 1e3 * np.finfo(dtype).eps * max(scale, 1e-300)
    return x.shape[0] - int(centred)


def active_set_path(lams_desc, data, *, l1_ratio: float, tol: float, max_iter: int, capacity: int | None = None,
                    cache: ProgramCache | None = None):
    """Solve every λ of ``lams_desc`` (sorted large → small) to relative duality gap ≤ ``tol``.

    ``data``: ``{"gram", "xty", "yy"}`` (``XᵀX/n``, ``Xᵀy/n``, ``yᵀy/n``) or ``{"x", "y", "xty", "yy"}``.
    ``capacity``: the first program's active slots (doubled, at most ``d``, each time a λ outgrows them; ``None``:
    with the Gram matrix ``d`` up to :data:`FULL_SLOTS_UP_TO`, else :data:`FIRST_CAPACITY`).
    ``cache``: where compiled programs are kept (default :data:`PROGRAMS`). Returns the ``(K, d)`` coefficients
    in the order of ``lams_desc`` and stats: ``compile_s``, ``run_s``, ``iterations`` per λ, ``capacities``
    used and ``max_gap`` (the caller, :func:`jaxreg.solvers.elastic_net_path`, warns when it exceeds ``tol``).
    """
    cache = PROGRAMS if cache is None else cache
    dtype = np.dtype(data["xty"].dtype)
    d, k_total = data["xty"].shape[0], len(lams_desc)
    lams = jnp.asarray(lams_desc, dtype)
    rank = _rank_bound(data, d)  # Newton steps on more coordinates would be singular: the guess is capped there
    t0 = time.perf_counter()
    lip_fn = cache.compiled(_lipschitz, (data,))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    lip = lip_fn(data)
    run_s = time.perf_counter() - t0
    coefs, gaps, iters = np.zeros((k_total, d), dtype), np.full(k_total, np.inf), np.zeros(k_total, np.int64)
    w = jnp.asarray(np.zeros(d, dtype))  # (host scalars and arrays: eager JAX ops would each compile once)
    slope = _Slope(w, w, np.asarray(lams_desc[0], dtype))  # the path's slope before the first λ: none
    if capacity is None:
        capacity = d if d <= FULL_SLOTS_UP_TO and "gram" in data else FIRST_CAPACITY
    k, p, capacities = 0, min(d, int(capacity)), []
    while k < k_total:
        t0 = time.perf_counter()
        args = (lams, np.int32(k), w, lip, slope, np.asarray(l1_ratio, dtype), np.asarray(tol, dtype), data)
        program = cache.compiled(partial(_path_program, capacity=p, max_iter=max_iter, rank=rank), args,
                                 key=(p, max_iter, rank))
        compile_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        c, g, it, k_new, w, lip, slope = program(*args)
        k_new = int(k_new)
        # (sliced in NumPy: a JAX slice with these bounds would compile a program of its own)
        coefs[k:k_new], gaps[k:k_new], iters[k:k_new] = (np.asarray(a)[k:k_new] for a in (c, g, it))
        run_s += time.perf_counter() - t0
        capacities.append(p)
        if k_new < k_total:  # λ k_new needs more active slots than p (impossible at p = d)
            p = min(d, 2 * p)
        k = k_new
    return coefs, {"compile_s": compile_s, "run_s": run_s, "iterations": iters.tolist(), "capacities": capacities,
                   "max_gap": float(gaps.max())}

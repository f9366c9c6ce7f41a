r"""Working-set coordinate descent for MCP / SCAD least-squares paths, with Newton steps on the support.

Each λ minimises the nonconvex objective

.. math::

   F(w) = \frac{1}{2n}\|y - Xw\|^2 + \sum_j \rho_{\lambda,\gamma}(w_j)
        = \tfrac12 w^\top G w - b^\top w + \tfrac{1}{2n}\|y\|^2 + \sum_j \rho_{\lambda,\gamma}(w_j),

:math:`G = X^\top X/n`, :math:`b = X^\top y/n`, :math:`\rho` MCP or SCAD (:mod:`jaxreg.core._nonconvex`), to a
stationary point: every coordinate's **optimality violation**, the distance of the negative gradient
:math:`g = X^\top r/n` (:math:`r = y - Xw`) to the penalty's (Clarke) subdifferential,

.. math::

   v_j = \max(|g_j| - \lambda, 0) \ \ (w_j = 0), \qquad v_j = |g_j - \rho'(w_j)| \ \ (w_j \ne 0),

is at most ``tol`` (an absolute value here; the caller scales it). This is skglm's ``subdiff_distance``.

One outer iteration (as skglm's ``AndersonCD``):

1. a working set ``W``: the support and the coordinates of largest violation, ``max(10, 2|supp|)`` of them
   (padded ``capacity`` slots, a prefix in use);
2. epochs on ``W`` until its own violation is ``≤ max(0.3·v_max, tol)``; an epoch is cyclic coordinate
   descent, each coordinate set to the exact minimiser of :math:`F` along it (the firm / SCAD threshold of
   :math:`w_j + g_j/G_{jj}` at step :math:`1/G_{jj}`, unique when :math:`\gamma G_{jj} > 1` for MCP and
   :math:`(\gamma - 1)G_{jj} > 1` for SCAD: the caller checks it); then, if no coordinate changed its piece
   of ρ or its sign in that pass, one Newton step on the nonzero coordinates ``A`` of ``W``: on those pieces
   :math:`\rho'(w) = c\,\operatorname{sign}(w) - e\,w` is affine, so stationarity is the linear system
   :math:`(G_{AA} - \operatorname{diag}(e))\,\delta = g_A - \rho'(w_A)`, solved when that matrix is
   positive definite (Cholesky), the step stopped at the first piece boundary (a coordinate reaching 0, λ or
   γλ), where :math:`F` is still the quadratic it minimises. Where the matrix is indefinite, its stationary
   point is a saddle (a fixed point of coordinate descent: it would stop there); the step follows a direction
   of negative curvature instead, downhill, to the first piece boundary. Either is kept if it lowers
   :math:`F`; else Anderson extrapolation of the last epochs (as skglm), kept likewise. Coordinate descent never
   raises :math:`F`, so neither does an epoch; once the pieces are the solution's, the Newton step lands on it;
3. the full gradient at the new point (``O(|W| d)`` with the Gram matrix, ``O(nd)`` from the data), and the
   violation of every coordinate.

Shapes are static: a λ whose working set outgrows the slots is resumed with twice the slots (one more
program). The whole path runs in one compiled program per slot count: :func:`nonconvex_cd_path` →
:func:`_path_program` (the λ, :class:`_Path`) → :func:`_one_lambda` (outer iterations, :class:`_Outer`) →
:func:`_solve_working_set` (epochs, :class:`_Inner`: :func:`_cd_epoch`, :func:`_newton`).
"""

from __future__ import annotations

import dataclasses
import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg.core._nonconvex import _mcp, _scad, mcp_derivative, scad_derivative
from jaxreg.solvers._active_set import ProgramCache
from jaxreg.solvers._sparse import SparseDesign, matvec, rmatvec

__all__ = ["nonconvex_cd_path", "violations", "threshold", "PROGRAMS", "MIN_WORKING_SET", "INNER_FACTOR"]

#: The smallest working set (skglm's ``p0``).
MIN_WORKING_SET = 10
#: Epochs on a working set stop when its violation is below this share of the last full one (as skglm).
INNER_FACTOR = 0.3
#: The leading blocks a Newton solve may take, in eighths of the slots (the smallest that holds the nonzeros).
BLOCKS = (2, 4, 8)
#: Anderson extrapolation from this many differences of iterates (skglm's ``K``).
ANDERSON = 5
#: The compiled path programs, kept for the process.
PROGRAMS = ProgramCache()


def threshold(penalty: str, z, a, lam, gamma):
    r"""The minimiser of :math:`\tfrac a2 (t - z)^2 + \rho_{\lambda,\gamma}(t)`: the penalty's proximal operator
    at step :math:`s = 1/a` (:func:`jaxreg.core.prox.mcp`, :func:`jaxreg.core.prox.scad`), unchecked: requires
    :math:`\gamma > s` (MCP) or :math:`\gamma > 1 + s` (SCAD).

    Example:
      >>> print(threshold("mcp", jnp.array([0.5, 1.5, 4.0]), 1.0, 1.0, 3.0))  # 0, (1.5 − 1)/(1 − 1/3), 4
      [0.   0.75 4.  ]
    """
    s, az, sign = 1 / a, jnp.abs(z), jnp.sign(z)
    soft = sign * jnp.maximum(az - s * lam, 0)
    if penalty == "mcp":
        inner = soft / (1 - s / gamma)
    else:
        blend = ((gamma - 1) * z - sign * s * gamma * lam) / (gamma - 1 - s)
        inner = jnp.where(az <= (1 + s) * lam, soft, blend)
    return jnp.where(az > gamma * lam, z, inner)


def _rho(penalty: str, t, lam, gamma):
    return _mcp(t, lam, gamma) if penalty == "mcp" else _scad(t, lam, gamma)


def _derivative(penalty: str, t, lam, gamma):
    return mcp_derivative(t, lam, gamma) if penalty == "mcp" else scad_derivative(t, lam, gamma)


def _concavity(penalty: str, t, lam, gamma):
    """``e`` of the affine piece :math:`\\rho'(t) = c\\operatorname{sign}(t) - e\\,t` that ``t`` lies on."""
    a = jnp.abs(t)
    if penalty == "mcp":
        return jnp.where(a <= gamma * lam, 1 / gamma, 0)
    return jnp.where((a > lam) & (a <= gamma * lam), 1 / (gamma - 1), 0)


def violations(penalty: str, w, g, lam, gamma):
    """Each coordinate's optimality violation (module docstring) at ``w`` with negative gradient ``g``.

    Example:
      >>> print(violations("mcp", jnp.array([0.0, 0.0, 1.0]), jnp.array([0.5, 2.0, 0.2]), 1.0, 2.0))
      [0.  1.  0.3]
    """
    return jnp.where(w == 0, jnp.maximum(jnp.abs(g) - lam, 0), jnp.abs(g - _derivative(penalty, w, lam, gamma)))


@dataclasses.dataclass(frozen=True, eq=False)
class _Setup:
    """What every iteration of one compiled program needs (closed over, not carried)."""

    data: dict  # {"gram", "xty", "diag"} or {"x", "y", "diag"} (jaxreg.solvers._design, plus diag(XᵀX/n))
    penalty: str  # "mcp" or "scad"
    gamma: jax.Array  # ()
    tol: jax.Array  # () the absolute violation each λ stops at
    capacity: int  # p: working-set slots
    d: int
    max_iter: jax.Array  # () outer iterations per λ
    max_epochs: jax.Array  # () epochs per working set
    whole_gram: bool  # the slots' Gram rows would be most of G: use G itself


class _WorkingSet(NamedTuple):
    idx: jax.Array  # (p,) int: the coordinate of each slot
    mask: jax.Array  # (p,) bool: slots in use (a prefix)
    count: jax.Array  # () int: slots in use
    cols: jax.Array  # G[idx] (p, d) or X[:, idx] (n, p)
    hess: jax.Array  # (p, p) G_WW on the slots in use, the identity on the others


class _Inner(NamedTuple):
    """The carry of :func:`_solve_working_set`'s loop."""

    epoch: jax.Array  # () int32
    w: jax.Array  # (p,) the iterate on the slots
    g: jax.Array  # (p,) −∇ of the smooth part on the slots, Xᵀr/n
    viol: jax.Array  # () the largest violation on the slots
    hist_w: jax.Array  # (ANDERSON + 1, p) the last epochs' iterates (Anderson extrapolation)
    hist_g: jax.Array  # (ANDERSON + 1, p) their g
    fill: jax.Array  # () int32: epochs recorded in the history


class _Outer(NamedTuple):
    """The carry of :func:`_one_lambda`'s loop."""

    it: jax.Array  # () int32: outer iterations
    epochs: jax.Array  # () int32: epochs, all working sets together
    w: jax.Array  # (d,)
    xtr: jax.Array  # (d,) Xᵀr/n at w
    viol: jax.Array  # () the largest violation at w
    over: jax.Array  # () bool: the working set outgrew the slots (nothing counts; the caller adds slots)
    stuck: jax.Array  # () bool: an outer iteration left w unchanged (rounding: more would repeat it)


class _Path(NamedTuple):
    """The carry of :func:`_path_program`'s loop over λ."""

    k: jax.Array  # () int32: the next λ
    w: jax.Array  # (d,) the last solution (the next λ's warm start)
    xtr: jax.Array  # (d,)
    coefs: jax.Array  # (K, d)
    viols: jax.Array  # (K,) the largest violation of each λ (inf: not solved)
    iters: jax.Array  # (K,) int32 outer iterations
    epochs: jax.Array  # (K,) int32
    over: jax.Array  # () bool: λ k needs more slots than this program has


def _gradient(ctx: _Setup, ws: _WorkingSet | None, w, wa=None):
    """``Xᵀr/n`` at ``w`` (``(d,)``), whose support lies in the working set's slots (values ``wa``)."""
    data = ctx.data
    if "gram" in data:
        if ws is None or ctx.whole_gram:
            return data["xty"] - data["gram"] @ w
        return data["xty"] - ws.cols.T @ wa
    r = data["y"] - (matvec(data["x"], w) if ws is None else ws.cols @ wa)
    return rmatvec(data["x"], r) / data["x"].shape[0]


def _working_set(ctx: _Setup, c: _Outer, lam):
    """Step 1: the support first, then the most violating coordinates; whether the slots overflow."""
    p, d = ctx.capacity, ctx.d
    supp = c.w != 0
    n_supp = jnp.sum(supp)
    want = jnp.minimum(d, jnp.maximum(MIN_WORKING_SET, 2 * n_supp))
    over = jnp.minimum(d, n_supp + MIN_WORKING_SET) > p
    score = jnp.where(supp, jnp.inf, violations(ctx.penalty, c.w, c.xtr, lam, ctx.gamma))
    idx = jax.lax.top_k(score, p)[1]
    count = jnp.minimum(want, p)
    mask = jnp.arange(p) < count
    data = ctx.data
    if "gram" in data:
        cols = data["gram"][idx]
        sub = cols[:, idx]
    else:
        x = data["x"]
        cols = x.columns(idx, mask) if isinstance(x, SparseDesign) else x[:, idx]
        sub = cols.T @ cols / x.shape[0]
    both = mask[:, None] & mask[None, :]
    hess = jnp.where(both, sub, 0) + jnp.diag(jnp.where(mask, 0, 1).astype(sub.dtype))
    return _WorkingSet(idx, mask, count, cols, hess), over


def _cd_epoch(ctx: _Setup, lam, ws: _WorkingSet, w, g):
    """One cyclic pass of exact coordinate minimisation over the slots in use."""

    def step(j, carry):
        w, g = carry
        row = ws.hess[j]
        a = jnp.maximum(row[j], jnp.finfo(w.dtype).tiny)  # (a zero column: g_j = 0, it stays at 0)
        delta = threshold(ctx.penalty, w[j] + g[j] / a, a, lam, ctx.gamma) - w[j]
        return w.at[j].add(delta), g - row * delta

    return jax.lax.fori_loop(0, ws.count, step, (w, g))


def _objective_change(ctx: _Setup, lam, ws: _WorkingSet, w, g, new):
    """``F(new) − F(w)`` on the slots (``g``: −∇ at ``w``), from the step: not a difference of two large
    objectives. Returns it and ``H (new − w)``."""
    step = new - w
    h_step = ws.hess @ step
    rho = _rho(ctx.penalty, new, lam, ctx.gamma) - _rho(ctx.penalty, w, lam, ctx.gamma)
    return 0.5 * jnp.dot(step, h_step) - jnp.dot(step, g) + jnp.sum(jnp.where(ws.mask, rho, 0)), h_step


def _first_boundary(ctx: _Setup, lam, w, step, on, t_max):
    """The largest ``t ∈ (0, t_max]`` for which ``w + t·step`` stays on the pieces of ``w`` (0, λ (SCAD), γλ)."""
    knots = [0.0, ctx.gamma * lam, -ctx.gamma * lam] + ([lam, -lam] if ctx.penalty == "scad" else [])
    safe = jnp.where(step != 0, step, 1)
    t = t_max
    for knot in knots:
        hit = (knot - w) / safe
        t = jnp.minimum(t, jnp.min(jnp.where(on & (step != 0) & (hit > 0), hit, t_max)))
    return t


def _pieces(ctx: _Setup, lam, w):
    """Which piece of ρ each coordinate lies on, signed: 0 at 0, ±1 (MCP's concave part, SCAD's linear one),
    ±2 (SCAD's concave part), ±3 (flat)."""
    a = jnp.abs(w)
    piece = jnp.where(a > ctx.gamma * lam, 3, jnp.where((ctx.penalty == "scad") & (a > lam), 2, 1))
    return (jnp.sign(w) * piece).astype(jnp.int32)


def _direction(ctx: _Setup, system, rhs, on):
    """On the slots ``on`` (``system`` the identity outside them): the Newton step ``system⁻¹ rhs`` if ``system``
    is positive definite there, else a unit direction of negative curvature (its eigenvector of least
    eigenvalue); and which. The ``on`` slots are gathered first, then the smallest leading block of
    :data:`BLOCKS` that holds them is factorised (Cholesky; the eigendecomposition only where it fails)."""
    p = ctx.capacity
    order = jnp.argsort(~on, stable=True)
    sizes = tuple(sorted({max(1, p * k // 8) for k in BLOCKS}))
    a, b = system[order][:, order], rhs[order]

    def leading(q):
        def solve(_):
            chol = jnp.linalg.cholesky(a[:q, :q])
            definite = jnp.all(jnp.isfinite(chol))
            u = jax.lax.cond(definite, lambda: jax.scipy.linalg.cho_solve((chol, True), b[:q]),
                             lambda: jnp.linalg.eigh(a[:q, :q])[1][:, 0])
            return jnp.zeros(p, a.dtype).at[:q].set(u), definite

        return solve

    block = jnp.sum(jnp.asarray(sizes[:-1]) < jnp.sum(on))
    u, definite = jax.lax.switch(block, [leading(q) for q in sizes], None)
    return jnp.zeros(p, a.dtype).at[order].set(u), definite


def _newton(ctx: _Setup, lam, ws: _WorkingSet, w, g):
    """Step 2's Newton step on the nonzero slots ``A``, stopped at the first piece boundary (a coordinate
    reaching 0, λ or γλ). Where ``G_AA − diag(e)`` is indefinite its stationary point is a saddle, not a
    minimum: then a direction of negative curvature instead, followed (descending) to the first piece boundary.
    Kept only if it lowers ``F``. Returns ``w``, ``g`` and whether it was kept."""
    pen, gamma = ctx.penalty, ctx.gamma
    on = ws.mask & (w != 0)
    rhs = jnp.where(on, g - _derivative(pen, w, lam, gamma), 0)
    both = on[:, None] & on[None, :]
    system = jnp.where(both, ws.hess - jnp.diag(_concavity(pen, w, lam, gamma)), 0)
    system = system + jnp.diag(jnp.where(on, 0, 1).astype(w.dtype))
    step, definite = _direction(ctx, system, rhs, on)
    step = jnp.where(on, step, 0)
    step = jnp.where(jnp.dot(rhs, step) >= 0, step, -step)  # (F' along it is −rhsᵀstep: descend)
    t = _first_boundary(ctx, lam, w, step, on, jnp.where(definite, 1, jnp.inf).astype(w.dtype))
    new = w + t * step
    new = jnp.where(on & (jnp.abs(new) <= 4 * jnp.finfo(w.dtype).eps * jnp.abs(w)), 0, new)
    change, h_step = _objective_change(ctx, lam, ws, w, g, new)
    keep = jnp.isfinite(change) & (change < 0) & jnp.all(jnp.isfinite(new))
    return jnp.where(keep, new, w), jnp.where(keep, g - h_step, g), keep


def _anderson(ctx: _Setup, lam, ws: _WorkingSet, c: _Inner, w, g):
    """Anderson extrapolation (as skglm's) of the last :data:`ANDERSON` + 1 epochs' iterates, kept if it lowers
    ``F``: ``w`` and ``g`` (affine in ``w``: extrapolated alike), and the history with this epoch recorded."""
    hist_w, hist_g = c.hist_w.at[c.fill].set(w), c.hist_g.at[c.fill].set(g)
    full = c.fill == ANDERSON

    def extrapolate(_):
        u = jnp.diff(hist_w, axis=0)  # (K, p)
        coef = jnp.linalg.solve(u @ u.T, jnp.ones(ANDERSON, w.dtype))
        coef = coef / jnp.sum(coef)
        new, g_new = coef @ hist_w[1:], coef @ hist_g[1:]
        change, _ = _objective_change(ctx, lam, ws, w, g, new)
        keep = jnp.isfinite(change) & (change < 0) & jnp.all(jnp.isfinite(new))
        return jnp.where(keep, new, w), jnp.where(keep, g_new, g)

    w, g = jax.lax.cond(full, extrapolate, lambda _: (w, g), None)
    return w, g, hist_w, hist_g, jnp.where(full, 0, c.fill + 1)


def _solve_working_set(ctx: _Setup, lam, ws: _WorkingSet, w, g, target):
    """Step 2: epochs (coordinate descent, then a Newton step, else Anderson extrapolation) until the slots'
    violation ≤ ``target``."""

    def epoch(c: _Inner) -> _Inner:
        w, g = _cd_epoch(ctx, lam, ws, c.w, c.g)
        # Newton only once the epoch kept every coordinate's piece and sign: it is then likely to land
        settled = jnp.all(_pieces(ctx, lam, w) == _pieces(ctx, lam, c.w))
        w, g, newton = jax.lax.cond(settled, lambda: _newton(ctx, lam, ws, w, g),
                                    lambda: (w, g, jnp.array(False)))
        w2, g2, hist_w, hist_g, fill = _anderson(ctx, lam, ws, c, w, g)
        w, g = jnp.where(newton, w, w2), jnp.where(newton, g, g2)
        fill = jnp.where(newton, 0, fill)  # (a Newton step restarts the history)
        viol = jnp.max(jnp.where(ws.mask, violations(ctx.penalty, w, g, lam, ctx.gamma), 0))
        return _Inner(c.epoch + 1, w, g, viol, hist_w, hist_g, fill)

    hist = jnp.zeros((ANDERSON + 1,) + w.shape, w.dtype)
    first = _Inner(jnp.zeros([], jnp.int32), w, g, jnp.array(jnp.inf, w.dtype), hist, hist,
                   jnp.zeros([], jnp.int32))
    return jax.lax.while_loop(lambda c: (c.epoch < ctx.max_epochs) & (c.viol > target), epoch, first)


def _outer(ctx: _Setup, lam, c: _Outer) -> _Outer:
    """One outer iteration: working set, its epochs, the full gradient and violation."""
    ws, over = _working_set(ctx, c, lam)
    target = jnp.maximum(INNER_FACTOR * c.viol, ctx.tol)
    wa = jnp.where(ws.mask, c.w[ws.idx], 0)
    inner = _solve_working_set(ctx, lam, ws, wa, c.xtr[ws.idx], target)
    wa = jnp.where(ws.mask, inner.w, 0)
    w = jnp.zeros_like(c.w).at[ws.idx].add(wa)
    xtr = _gradient(ctx, ws, w, wa)
    viol = jnp.max(violations(ctx.penalty, w, xtr, lam, ctx.gamma))
    keep = lambda new, old: jnp.where(over, old, new)  # noqa: E731
    stuck = ~over & jnp.all(w == c.w)
    return _Outer(c.it + 1, c.epochs + jnp.where(over, 0, inner.epoch), keep(w, c.w), keep(xtr, c.xtr),
                  keep(viol, c.viol), over, stuck)


def _one_lambda(ctx: _Setup, lams, c: _Path) -> _Path:
    """λ ``k`` from the last solution, until its violation ≤ ``tol``, ``max_iter``, a fixed point, or the slots
    overflow (then λ ``k`` is left for a program with more slots)."""
    lam = lams[c.k]
    viol = jnp.max(violations(ctx.penalty, c.w, c.xtr, lam, ctx.gamma))
    zero = jnp.zeros([], jnp.int32)
    first = _Outer(zero, zero, c.w, c.xtr, viol, jnp.array(False), jnp.array(False))
    last = jax.lax.while_loop(lambda s: (s.viol > ctx.tol) & (s.it < ctx.max_iter) & ~s.over & ~s.stuck,
                              partial(_outer, ctx, lam), first)
    over = last.over

    def record(arr, value):
        return arr.at[c.k].set(jnp.where(over, arr[c.k], value))

    return _Path(jnp.where(over, c.k, c.k + 1), last.w, last.xtr, record(c.coefs, last.w),
                 record(c.viols, last.viol), record(c.iters, last.it), record(c.epochs, last.epochs), over)


def _path_program(lams, k0, w0, gamma, tol, max_iter, max_epochs, data, *, penalty, capacity):
    """λ ``k0``, ``k0 + 1``, … (sorted large → small) from ``w0``, until the last or until one needs more than
    ``capacity`` slots. Returns coefficients, violations, outer iterations and epochs per λ, the λ reached and
    the warm start to resume from."""
    d = data["diag"].shape[0]
    ctx = _Setup(data, penalty, gamma, tol, capacity, d, max_iter, max_epochs,
                 whole_gram="gram" in data and 2 * capacity > d)
    k_total = lams.shape[0]
    start = _Path(k0, w0, _gradient(ctx, None, w0), jnp.zeros((k_total, d), w0.dtype),
                  jnp.full(k_total, jnp.inf, w0.dtype), jnp.zeros(k_total, jnp.int32),
                  jnp.zeros(k_total, jnp.int32), jnp.array(False))
    end = jax.lax.while_loop(lambda c: (c.k < k_total) & ~c.over, partial(_one_lambda, ctx, lams), start)
    return end.coefs, end.viols, end.iters, end.epochs, end.k, end.w


def nonconvex_cd_path(lams_desc, data, *, penalty: str, gamma: float, tol: float, max_iter: int,
                      max_epochs: int, capacity: int = 64, cache: ProgramCache | None = None):
    """Every λ of ``lams_desc`` (sorted large → small, warm-started from 0 at the first) to a largest
    violation ≤ ``tol`` (absolute).

    ``data``: :func:`jaxreg.solvers._design.design_data`'s, plus ``"diag"`` (``diag(XᵀX/n)``, at least the
    smallest normal number). ``capacity``: the first program's slots (all ``d`` up to twice that; doubled, at
    most ``d``, each time a working set outgrows them). Returns the ``(K, d)`` coefficients in the order of
    ``lams_desc`` and stats: ``compile_s``, ``run_s``, per λ ``violations``, ``iterations`` and ``epochs``, and
    the ``capacities`` used.
    """
    cache = PROGRAMS if cache is None else cache
    dtype = np.dtype(data["diag"].dtype)
    d, k_total = data["diag"].shape[0], len(lams_desc)
    lams = jnp.asarray(lams_desc, dtype)
    coefs, viols = np.zeros((k_total, d), dtype), np.full(k_total, np.inf)
    iters, epochs = np.zeros(k_total, np.int64), np.zeros(k_total, np.int64)
    w = jnp.asarray(np.zeros(d, dtype))
    # (up to twice the first capacity, all d slots at once: one program instead of two)
    k, p, capacities, compile_s, run_s = 0, d if d <= 2 * capacity else int(capacity), [], 0.0, 0.0
    while k < k_total:
        t0 = time.perf_counter()
        args = (lams, np.int32(k), w, np.asarray(gamma, dtype), np.asarray(tol, dtype), np.int32(max_iter),
                np.int32(max_epochs), data)
        program = cache.compiled(partial(_path_program, penalty=penalty, capacity=p), args, key=(penalty, p))
        compile_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        c, v, it, ep, k_new, w = program(*args)
        k_new = int(k_new)
        # (sliced in NumPy: a JAX slice with these bounds would compile a program of its own)
        for out, new in ((coefs, c), (viols, v), (iters, it), (epochs, ep)):
            out[k:k_new] = np.asarray(new)[k:k_new]
        run_s += time.perf_counter() - t0
        capacities.append(p)
        if k_new < k_total:  # λ k_new needs more slots than p (impossible at p = d)
            p = min(d, 2 * p)
        k = k_new
    return coefs, {"compile_s": compile_s, "run_s": run_s, "violations": viols, "iterations": iters,
                   "epochs": epochs, "capacities": capacities}

r"""Working sets for the active-set path when ``n < d`` (:class:`jaxreg.solvers.ActiveSet`, ``working_set``).

Each λ (large → small, warm-started) is solved on a working set :math:`W` of the features, the others held at 0:

.. math::

   \min_{w:\ w_j = 0,\ j \notin W}\ \tfrac{1}{2n}\|y - X_W w_W\|^2 + a_1\|w_W\|_1 + \tfrac{a_2}{2}\|w_W\|^2 ,

by the active-set Newton method of :mod:`jaxreg.solvers._active_set` on the Gram layout of :math:`W`,
:math:`G_W = X_W^\top X_W/n` and :math:`b_W = X_W^\top y/n`. :math:`W` only grows along the path, so
:math:`G_W` is a cache: a feature's Gram column is computed once, when it enters (:math:`O(n|W|)`), and a Newton
iteration costs :math:`O(|A|\,|W|)` plus its solves, with no :math:`O(nd)` product and no :math:`X_A^\top X_A`.

The certificate is the full problem's: after each solve, :math:`r = y - X_W w_W`, :math:`X^\top r/n`
(:math:`O(nd)`, once) and the relative duality gap over all ``d`` features
(:func:`jaxreg.solvers.relative_duality_gap`). If it is above ``tol``, the features outside :math:`W` with
:math:`|x_j^\top r|/n > a_1` (the dual constraints the solution violates) enter, the most violating first and
at most :math:`\max(` :data:`MIN_GROW` :math:`, |\operatorname{supp} w|)` at once, and λ is solved again from
there. Before each λ the sequential strong rule, :math:`|x_j^\top r_{k-1}|/n \ge 2a_{1,k} - a_{1,k-1}` at the
previous solution (and at least :data:`STRONG_FLOOR` :math:`a_{1,k}`), lets in the features likely to enter, so
that most λ need one solve.

Shapes are static: :math:`W` lives in ``cap_w`` slots (the data's columns ``X_W`` ``(n, cap_w)`` and
:math:`G_W` ``(cap_w, cap_w)``), the Newton systems in ``cap_w / 2`` active slots; when either is outgrown the
program returns and the next one, with twice the slots, resumes at that λ. Design notes and measurements:
``docs/design/lasso-peers.md``.
"""

from __future__ import annotations

import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg.solvers._active_set import (
    PROGRAMS,
    ProgramCache,
    _lipschitz,
    _one_lambda,
    _Path,
    _rank_bound,
    _setup,
    _Slope,
)
from jaxreg.solvers._inverse import empty_inverse, inverse_newton
from jaxreg.solvers._objective import _relative_gap
from jaxreg.solvers._sparse import SparseDesign, rmatvec

__all__ = ["working_set_path", "FIRST_SLOTS", "MIN_GROW", "STRONG_FLOOR", "CHUNK", "MAX_ROUNDS"]

#: The first program's working-set slots (doubled, at most ``d``, whenever the working set outgrows them).
FIRST_SLOTS = 256
#: At most ``max(MIN_GROW, |supp w|)`` features enter the working set at once.
MIN_GROW = 64
#: The strong rule's threshold is at least this fraction of ``a1`` (on a coarse grid, ``2a1 − a1'`` would let in
#: features far from their constraint).
STRONG_FLOOR = 0.5
#: Gram columns computed per block (a block of new features costs ``CHUNK·n·cap_w`` multiply-adds).
CHUNK = 16
#: Solves of one λ, each after the working set grew (then the λ is recorded with its gap, certified or not).
MAX_ROUNDS = 50


class _WorkingSet(NamedTuple):
    """The working set in ``cap_w`` slots (a prefix in use), with its data columns and Gram cache."""

    idx: jax.Array  # (cap_w,) int32: the feature of each slot (0 in empty slots)
    count: jax.Array  # () int32: slots in use
    member: jax.Array  # (d,) bool: features in W
    xw: jax.Array  # (n, cap_w) X[:, idx] (0 in empty slots)
    gram: jax.Array  # (cap_w, cap_w) X_WᵀX_W/n (0 in empty slots)
    xty: jax.Array  # (cap_w,) X_Wᵀy/n (0 in empty slots)


class _State(NamedTuple):
    """What one program takes and returns: the sub-problem's path, the working set and the full problem's view."""

    path: _Path  # the active-set path on W (slot coordinates: coefs (K, cap_w))
    ws: _WorkingSet
    xtr: jax.Array  # (d,) Xᵀr/n at the current iterate (the full problem's gradient)
    a1_prev: jax.Array  # () a1 of the last λ solved (the strong rule's reference)
    gaps: jax.Array  # (K,) the full problem's relative duality gaps (inf: not solved)
    iters: jax.Array  # (K,) int32 Newton iterations per λ, over its rounds
    rounds: jax.Array  # (K,) int32 solves per λ
    need_w: jax.Array  # () int32: working-set slots the next λ needs (> cap_w: the caller adds slots)


class _Round(NamedTuple):
    """One λ's solves: the carry of :func:`_solve_lambda`'s loop."""

    state: _State
    round: jax.Array  # () int32
    done: jax.Array  # () bool


def _gather(x, j, valid):
    """``X[:, j]`` densely (``(n, m)``), 0 where not ``valid``."""
    if isinstance(x, SparseDesign):
        return x.columns(j, valid)
    return jnp.where(valid[None, :], x[:, j], 0)


def _add_block(data, ws: _WorkingSet, cand):
    """The first :data:`CHUNK` features of ``cand`` enter ``W``: their columns, Gram rows and ``Xᵀy/n``."""
    cap_w, n = ws.idx.shape[0], ws.xw.shape[0]
    j = jnp.nonzero(cand, size=CHUNK, fill_value=0)[0]
    valid = jnp.arange(CHUNK) < jnp.sum(cand)
    slots = jnp.where(valid, ws.count + jnp.arange(CHUNK, dtype=jnp.int32), cap_w)  # (out of range: dropped)
    cols = _gather(data["x"], j, valid)
    xw = ws.xw.at[:, slots].set(cols, mode="drop")
    rows = cols.T @ xw / n  # (with the new columns in xw: the block among them too)
    gram = ws.gram.at[slots, :].set(rows, mode="drop").at[:, slots].set(rows.T, mode="drop")
    d = ws.member.shape[0]
    member = ws.member.at[jnp.where(valid, j, d)].set(True, mode="drop")
    idx = ws.idx.at[slots].set(j.astype(ws.idx.dtype), mode="drop")
    count = ws.count + jnp.sum(valid, dtype=jnp.int32)
    return _WorkingSet(idx, count, member, xw, gram, ws.xty.at[slots].set(data["xty"][j], mode="drop")), cand & ~member


def _grow(data, s: _State, threshold):
    """Features outside ``W`` with ``|Xᵀr/n| ≥ threshold`` enter ``W``, the largest first, at most
    ``max(MIN_GROW, |supp w|)``; none if they do not fit (``need_w`` then says how many slots they need). Returns the
    state (the sub-problem's ``Xᵀr/n`` on the new slots) and how many entered."""
    ws, cap_w = s.ws, s.ws.idx.shape[0]
    score = jnp.where(ws.member, -jnp.inf, jnp.abs(s.xtr))
    cand = score >= threshold
    limit = jnp.maximum(MIN_GROW, jnp.sum(s.path.w != 0))
    cut = jax.lax.cond(jnp.sum(cand) > limit, lambda: -jnp.sort(-score)[jnp.minimum(limit, score.shape[0]) - 1],
                       lambda: jnp.asarray(-jnp.inf, score.dtype))  # (the sort only when the limit bites)
    cand = cand & (score >= cut)
    added = jnp.sum(cand).astype(jnp.int32)
    fits = ws.count + added <= cap_w
    cand = cand & fits
    ws_new, _ = jax.lax.while_loop(lambda c: jnp.any(c[1]), lambda c: _add_block(data, *c), (ws, cand))
    new_slot = jnp.arange(cap_w) >= ws.count
    path = s.path._replace(xtr=jnp.where(new_slot & (jnp.arange(cap_w) < ws_new.count), s.xtr[ws_new.idx],
                                         s.path.xtr))
    need = jnp.where(fits, ws_new.count, ws.count + added)
    return s._replace(ws=ws_new, path=path, need_w=need), jnp.where(fits, added, 0)


def _full_check(data, s: _State, a1, a2):
    """The full problem at the sub-problem's iterate: ``Xᵀr/n``, ``‖r‖²/n``, ``rᵀy/n`` from the data (one
    ``O(nd)`` product) and the relative duality gap over all features."""
    ws, y = s.ws, data["y"]
    n, d = ws.xw.shape[0], ws.member.shape[0]
    in_use = jnp.arange(ws.idx.shape[0]) < ws.count
    w_slots = jnp.where(in_use, s.path.w, 0)
    r = y - ws.xw @ w_slots
    xtr = rmatvec(data["x"], r) if isinstance(data["x"], SparseDesign) else r @ data["x"]  # (rᵀX: 3× XᵀR's speed)
    xtr, rr, ry = xtr / n, jnp.dot(r, r) / n, jnp.dot(r, y) / n
    w_full = jnp.zeros(d, w_slots.dtype).at[jnp.where(in_use, ws.idx, d)].set(w_slots, mode="drop")
    return xtr, rr, ry, _relative_gap(rr, ry, xtr, w_full, a1, a2)


def _round(data, lams, l1_ratio, static: dict, c: _Round) -> _Round:
    """One solve of λ ``k``: grow ``W`` (the strong rule, or the violations the last solve left), solve on it
    (:func:`jaxreg.solvers._active_set._one_lambda`), check the full problem. Done when its gap is ≤ ``tol``,
    nothing entered after a solve, ``W`` or the active slots are outgrown (the caller adds slots), or
    :data:`MAX_ROUNDS`."""
    s, k = c.state, c.state.path.k
    a1, a2 = lams[k] * l1_ratio, 2 * lams[k] * (1 - l1_ratio)
    s, added = _grow(data, s, jnp.minimum(a1, jnp.maximum(2 * a1 - s.a1_prev, STRONG_FLOOR * a1)))
    stop = (s.need_w > s.ws.idx.shape[0]) | ((c.round > 0) & (added == 0))

    def solve(s: _State):
        sub = {"gram": s.ws.gram, "xty": s.ws.xty, "yy": data["yy"]}
        ctx = _setup(sub, s.path.w, static["tol"], capacity=static["capacity"], max_iter=static["max_iter"],
                     rank=static["rank"], newton=inverse_newton)
        path = _one_lambda(ctx, lams, l1_ratio, s.path)
        s = s._replace(path=path._replace(k=k), iters=s.iters.at[k].add(path.iters[k]),
                       rounds=s.rounds.at[k].add(1))
        xtr, rr, ry, gap = _full_check(data, s, a1, a2)
        s = s._replace(xtr=jnp.where(path.over, s.xtr, xtr), gaps=s.gaps.at[k].set(jnp.where(path.over, s.gaps[k],
                                                                                                 gap)))
        # (the sub-problem continues from the data's residual terms: more accurate than its Gram's)
        in_use = jnp.arange(s.ws.idx.shape[0]) < s.ws.count
        s = s._replace(path=s.path._replace(xtr=jnp.where(in_use, xtr[s.ws.idx], 0), rr=rr, ry=ry))
        return s, path.over | (gap <= static["tol"])

    s, done = jax.lax.cond(stop, lambda s: (s, jnp.array(True)), solve, s)
    return _Round(s, c.round + 1, done | (c.round + 1 >= MAX_ROUNDS))


def _solve_lambda(data, lams, l1_ratio, static: dict, s: _State) -> _State:
    """λ ``k`` in rounds (:func:`_round`); then the next λ, unless the slots were outgrown."""
    k = s.path.k
    last = jax.lax.while_loop(lambda c: ~c.done, partial(_round, data, lams, l1_ratio, static),
                              _Round(s, jnp.zeros([], jnp.int32), jnp.array(False)))
    s = last.state
    solved = ~s.path.over & (s.need_w <= s.ws.idx.shape[0])
    coefs = s.path.coefs.at[k].set(jnp.where(solved, s.path.w, s.path.coefs[k]))
    return s._replace(path=s.path._replace(k=jnp.where(solved, k + 1, k), coefs=coefs),
                      a1_prev=jnp.where(solved, lams[k] * l1_ratio, s.a1_prev))


def _ws_program(lams, state: _State, l1_ratio, tol, data, *, capacity, max_iter, rank):
    """λ ``k``, ``k + 1``, … (large → small) until the last, or until one outgrows the working-set slots or
    the ``capacity`` active slots. Returns the state to resume from."""
    static = {"tol": tol, "capacity": capacity, "max_iter": max_iter, "rank": rank}
    cap_w, k_total = state.ws.idx.shape[0], lams.shape[0]
    return jax.lax.while_loop(
        lambda s: (s.path.k < k_total) & ~s.path.over & (s.need_w <= cap_w),
        partial(_solve_lambda, data, lams, l1_ratio, static), state)


def _first_state(data, lams_desc, lip, l1_ratio, cap_w: int) -> _State:
    """The state before the first λ: ``w = 0``, an empty working set (host arrays)."""
    n, d = data["x"].shape
    k_total, dtype = len(lams_desc), np.dtype(data["xty"].dtype)
    zeros_w = np.zeros(cap_w, dtype)
    yy = np.asarray(data["yy"], dtype)
    path = _Path(np.int32(0), zeros_w, zeros_w, yy, yy, lip, np.array(True), np.zeros((k_total, cap_w), dtype),
                 np.full(k_total, np.inf, dtype), np.zeros(k_total, np.int32), np.array(False),
                 _Slope(zeros_w, zeros_w, np.asarray(lams_desc[0], dtype)))
    ws = _WorkingSet(np.zeros(cap_w, np.int32), np.int32(0), np.zeros(d, bool), np.zeros((n, cap_w), dtype),
                     np.zeros((cap_w, cap_w), dtype), zeros_w)
    return _State(path, ws, np.asarray(data["xty"]), np.asarray(lams_desc[0] * l1_ratio, dtype),
                  np.full(k_total, np.inf, dtype), np.zeros(k_total, np.int32), np.zeros(k_total, np.int32),
                  np.int32(0))


def _with_slots(s: _State, cap_w: int) -> _State:
    """The state with ``cap_w`` working-set slots (more than before: the new ones empty), on the host."""
    s = jax.tree_util.tree_map(np.asarray, s)
    extra = cap_w - s.ws.idx.shape[0]
    pad = lambda a, axes: np.pad(a, [(0, extra if i in axes else 0) for i in range(a.ndim)])  # noqa: E731
    path, ws = s.path, s.ws
    path = path._replace(w=pad(path.w, (0,)), xtr=pad(path.xtr, (0,)), coefs=pad(path.coefs, (1,)),
                         slope=path.slope._replace(vel=pad(path.slope.vel, (0,)), xvel=pad(path.slope.xvel, (0,))))
    ws = ws._replace(idx=pad(ws.idx, (0,)), xw=pad(ws.xw, (1,)), gram=pad(ws.gram, (0, 1)), xty=pad(ws.xty, (0,)))
    return s._replace(path=path, ws=ws)


def working_set_path(lams_desc, data, *, l1_ratio: float, tol: float, max_iter: int,
                     first_slots: int = FIRST_SLOTS, cache: ProgramCache | None = None):
    """Solve every λ of ``lams_desc`` (sorted large → small) to a relative duality gap ≤ ``tol`` on the full
    problem, by working sets (module docstring).

    ``data``: the data layout ``{"x", "y", "xty", "yy"}`` (``x`` dense or a
    :class:`~jaxreg.solvers._sparse.SparseDesign`). ``first_slots``: the first program's working-set slots.
    Returns the ``(K, d)`` coefficients in the order of ``lams_desc`` and stats as
    :func:`jaxreg.solvers._active_set.active_set_path`'s (``capacities``: the active slots of each program), with
    ``working_set_slots`` (each program's), ``rounds`` (solves per λ) and ``working_set`` (the features it held at
    the end).
    """
    cache = PROGRAMS if cache is None else cache
    dtype = np.dtype(data["xty"].dtype)
    d, k_total = data["x"].shape[1], len(lams_desc)
    lams = jnp.asarray(lams_desc, dtype)
    rank = _rank_bound(data, d)
    t0 = time.perf_counter()
    lip_fn = cache.compiled(_lipschitz, (data,))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    lip = np.asarray(lip_fn(data))
    run_s = time.perf_counter() - t0
    cap_w = min(d, int(first_slots))
    p, state, capacities, ws_slots = max(1, cap_w // 2), _first_state(data, lams_desc, lip, l1_ratio, cap_w), [], []
    while int(state.path.k) < k_total:
        t0 = time.perf_counter()
        state = state._replace(path=state.path._replace(over=np.array(False), cg_ok=empty_inverse(p, dtype)))
        args = (lams, state, np.asarray(l1_ratio, dtype), np.asarray(tol, dtype), data)
        program = cache.compiled(partial(_ws_program, capacity=p, max_iter=max_iter, rank=rank), args,
                                 key=(p, max_iter, rank))
        compile_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        state = program(*args)
        k_new, need, over = int(state.path.k), int(state.need_w), bool(state.path.over)
        run_s += time.perf_counter() - t0
        capacities.append(p)
        ws_slots.append(cap_w)
        if k_new < k_total:  # the active slots (over) or the working set (need > cap_w) were outgrown
            p = min(d, 2 * p) if over else p
            new_cap = cap_w
            while new_cap < min(d, max(need, 2 * p)):
                new_cap = min(d, 2 * new_cap)
            if new_cap > cap_w:
                state, cap_w = _with_slots(state, new_cap), new_cap
            p = min(cap_w, max(p, cap_w // 2))
    stats = {"compile_s": compile_s, "run_s": run_s, "capacities": capacities, "working_set_slots": ws_slots}
    return _results(state, d, stats)


def _results(state: _State, d: int, stats: dict):
    """The ``(K, d)`` coefficients from the slot coordinates, and the stats."""
    ws = jax.tree_util.tree_map(np.asarray, state.ws)
    count = int(ws.count)
    coefs_w = np.asarray(state.path.coefs)
    coefs = np.zeros((coefs_w.shape[0], d), coefs_w.dtype)
    coefs[:, ws.idx[:count]] = coefs_w[:, :count]
    stats.update(iterations=np.asarray(state.iters).tolist(), rounds=np.asarray(state.rounds).tolist(),
                 working_set=count, max_gap=float(np.asarray(state.gaps).max()))
    return coefs, stats

r"""A maintained inverse of the Newton systems' matrix: the working-set solver's Newton steps.

The Newton systems :math:`H_{AA}u = c` of one path (:mod:`jaxreg.solvers._active_set`, step 2) differ by a few
coordinates from one solve to the next: a sign pass drops one, an iteration's guess adds or drops a few, the next
λ a few more. Rather than factorising each (:math:`p^3/3`), this keeps :math:`B \approx (H_{PP} + \varepsilon I)^{-1}`
over the last system's coordinates :math:`P` and brings it to the next one's, :math:`O(p^2)` per coordinate:
one that leaves (slot :math:`i`) is a downdate,

.. math::

   B \leftarrow B - B_{:i}B_{i:}/B_{ii},

and one that enters (:math:`j`) borders it, with :math:`h = H_{Pj}`, :math:`u = Bh` and
:math:`\gamma = H_{jj} + \varepsilon - h^\top u`:

.. math::

   B \leftarrow \begin{pmatrix} B + uu^\top/\gamma & -u/\gamma \\ -u^\top/\gamma & 1/\gamma \end{pmatrix}.

The system is then solved by conjugate gradients preconditioned with :math:`B`, from :math:`Bc`: exact up to
rounding, they stop after an iteration or two (for the elastic net, :math:`a_2` moves with λ and :math:`B`
lags behind, which costs an iteration more). :math:`B` is computed anew (one factorisation of the leading block
and its inverse) when more coordinates changed than updates would pay for, or when the conjugate gradients do not
reach the accuracy of a factorisation in :data:`MAX_PCG` iterations (rounding accumulated in :math:`B`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["InverseState", "empty_inverse", "inverse_newton", "MAX_PCG"]

#: Preconditioned conjugate-gradient iterations per solve (then ``B`` is computed anew and they run once more).
MAX_PCG = 20


class InverseState(NamedTuple):
    """:math:`B` in ``p`` slots of its own (a slot holds one coordinate of the system, or none)."""

    inv: jax.Array  # (p, p) B on the slots in use, the identity on free ones
    coord: jax.Array  # (p,) int32: the coordinate (of the Gram layout) each slot holds, -1: free
    ok: jax.Array  # () bool: B is usable (False: computed anew at the next solve)


def empty_inverse(p: int, dtype) -> InverseState:
    """No inverse yet (host arrays): the first solve computes it."""
    return InverseState(np.eye(p, dtype=dtype), np.full(p, -1, np.int32), np.array(False))


def _members(coords, valid, size):
    """``(size,)`` bool: the coordinates ``coords`` where ``valid``."""
    return jnp.zeros(size + 1, bool).at[jnp.where(valid, coords, size)].set(True)[:size]


def _downdate(state: InverseState, i) -> InverseState:
    """Coordinate in slot ``i`` leaves: the Schur complement of ``B_ii``; slot ``i`` becomes free."""
    col = state.inv[i]  # (B is symmetric: its row i, contiguous)
    inv = state.inv - jnp.outer(col, col) / col[i]
    p, dus = inv.shape[0], jax.lax.dynamic_update_slice
    inv = dus(dus(inv, jnp.zeros((1, p), inv.dtype), (i, 0)), jnp.zeros((p, 1), inv.dtype), (0, i))
    inv = dus(inv, jnp.ones((1, 1), inv.dtype), (i, i))
    return state._replace(inv=inv, coord=state.coord.at[i].set(-1))


def _border(gram, a2, ridge, state: InverseState, j) -> InverseState:
    """Coordinate ``j`` enters the first free slot: ``B`` bordered by ``H_Pj`` (rows of the Gram layout)."""
    used = state.coord >= 0
    h = jnp.where(used, gram[j][jnp.maximum(state.coord, 0)], 0)
    u = state.inv @ h
    tiny = jnp.finfo(gram.dtype).tiny
    gamma = jnp.maximum(gram[j, j] + a2 + ridge - jnp.dot(h, u), jnp.maximum(ridge, tiny))
    f = jnp.argmin(used)  # (a free slot: the system has at most p coordinates)
    # (u and h are 0 on the free slots, where B is the identity: with u_f = −1, one outer product writes
    # B + uuᵀ/γ, the new row and column −u/γ, and 1 + 1/γ at (f, f), set to 1/γ)
    u = u.at[f].set(-1.0)
    inv = jax.lax.dynamic_update_slice(state.inv + jnp.outer(u, u / gamma), jnp.reshape(1 / gamma, (1, 1)), (f, f))
    return state._replace(inv=inv, coord=state.coord.at[f].set(j.astype(state.coord.dtype)))


def _updated(ctx, system, on, state: InverseState) -> InverseState:
    """``B`` brought to the coordinates ``on`` (slots ``system.slots.idx``): downdates, then borders."""
    idx, d = system.slots.idx, ctx.d
    leaving = (state.coord >= 0) & ~_members(idx, on, d)[jnp.maximum(state.coord, 0)]
    entering = on & ~_members(state.coord, state.coord >= 0, d)[idx]

    def out(c):
        st, leaving = c
        i = jnp.argmax(leaving)
        return _downdate(st, i), leaving.at[i].set(False)

    state, _ = jax.lax.while_loop(lambda c: jnp.any(c[1]), out, (state, leaving))

    def into(c):
        st, entering = c
        k = jnp.argmax(entering)
        return _border(ctx.data["gram"], system.a2, system.ridge, st, idx[k]), entering.at[k].set(False)

    state, _ = jax.lax.while_loop(lambda c: jnp.any(c[1]), into, (state, entering))
    return state


def _rebuilt(ctx, system, on) -> InverseState:
    """``B`` computed anew for the coordinates ``on``: the inverse of the leading block of slots in use."""
    p, dtype = ctx.capacity, ctx.dtype

    def leading(q):
        def build(_):
            on_q = on[:q]
            h = jnp.where(on_q[:, None] & on_q[None, :], system.hess.block_of(q) + system.a2 * jnp.eye(q, dtype=dtype),
                          0) + jnp.diag(jnp.where(on_q, system.ridge, 1))
            chol = jnp.linalg.cholesky(h)
            inv_q = jax.scipy.linalg.cho_solve((chol, True), jnp.eye(q, dtype=dtype))
            inv_q = 0.5 * (inv_q + inv_q.T)  # (the downdates take B symmetric)
            return jnp.eye(p, dtype=dtype).at[:q, :q].set(inv_q)

        return build

    inv = jax.lax.switch(system.slots.block, [leading(q) for q in ctx.sizes], None)
    coord = jnp.where(on, system.slots.idx, -1).astype(jnp.int32)
    return InverseState(inv, coord, jnp.all(jnp.isfinite(inv)))


def _pcg(ctx, system, on, b_on, state: InverseState, singular):
    """Conjugate gradients on ``H_on u = b`` preconditioned with ``B`` (mapped from its slots to the system's),
    from ``B b``. Returns ``u`` and whether the residual reached a factorisation's accuracy. Short of it, or
    ``singular`` (then without iterations), ``u`` is what a factorisation would give: :math:`(H + εI)^{-1}b` refined
    once; where ``H_on`` is singular (a coordinate beyond the rank, to swap), its large component along the null
    space picks the coordinate that leaves."""
    p, idx = ctx.capacity, system.slots.idx
    pos = jnp.full(ctx.d + 1, p, jnp.int32).at[jnp.where(state.coord >= 0, state.coord, ctx.d)].set(
        jnp.arange(p, dtype=jnp.int32))[idx]  # B's slot of each of the system's

    def precond(v):
        t = jnp.zeros(p, v.dtype).at[jnp.where(on, pos, p)].set(v, mode="drop")
        return jnp.where(on, (state.inv @ t)[jnp.minimum(pos, p - 1)], v)

    op = lambda v: system.hess.hmul(v, on) + jnp.where(on, 0, v)  # noqa: E731
    x0 = precond(b_on)
    eps = jnp.finfo(ctx.dtype).eps
    floor = jnp.maximum(0.001 * system.ridge * jnp.linalg.norm(x0), eps * jnp.linalg.norm(b_on))  # (ridge =
    # 10p·eps·‖H‖: a thousandth of it is about a factorisation's backward error)

    def iterate():
        u, _ = jax.scipy.sparse.linalg.cg(op, b_on, x0=x0, tol=0.0, atol=floor, maxiter=MAX_PCG, M=precond)
        u = jnp.where(on, u, 0)
        return u, jnp.linalg.norm(op(u) - b_on) <= floor

    u, done = jax.lax.cond(singular, lambda: (x0, jnp.array(False)), iterate)
    u = jax.lax.cond(done, lambda: u, lambda: jnp.where(on, x0 + precond(b_on - op(x0)), 0))
    return u, done


def inverse_newton(ctx, system, on, b_on, u0, state: InverseState):
    """The Newton solve of :mod:`jaxreg.solvers._active_set` (its ``ctx.newton``) from the maintained inverse:
    ``B`` updated to the coordinates ``on`` (or computed anew when more changed than updates pay for), then
    preconditioned conjugate gradients; ``B`` anew and once more if they fall short. A lasso system of more
    coordinates than the rank is singular: then one refined solve with a new ``B``. Returns ``u`` and the state."""
    del u0  # (B b is the better start)
    p, d = ctx.capacity, ctx.d
    idx = system.slots.idx
    changes = (jnp.sum((state.coord >= 0) & ~_members(idx, on, d)[jnp.maximum(state.coord, 0)])
               + jnp.sum(on & ~_members(state.coord, state.coord >= 0, d)[idx]))
    q = jnp.asarray(ctx.sizes)[system.slots.block].astype(system.ridge.dtype)
    singular = (system.a2 == 0) & (jnp.sum(on) > ctx.rank)
    # anew: an update costs two passes over B, a new B ~q³; and a singular system needs B's null direction to
    # rounding, which updates do not give (then its huge entries would spoil the next updates: anew after it too)
    anew = ~state.ok | (2.0 * changes * p * p > q**3) | singular

    def attempt(c):  # (a loop of at most two attempts: each function below is compiled once)
        tries, _, _, state, anew = c
        state = jax.lax.cond(anew, lambda s: _rebuilt(ctx, system, on), lambda s: _updated(ctx, system, on, s), state)
        u, done = _pcg(ctx, system, on, b_on, state, singular)
        return tries + 1, u, done | anew | singular, state, jnp.array(True)

    start = (jnp.zeros([], jnp.int32), jnp.zeros_like(b_on), jnp.array(False), state, anew)
    _, u, _, state, _ = jax.lax.while_loop(lambda c: ~c[2], attempt, start)
    return u, state._replace(ok=state.ok & ~singular & jnp.all(jnp.isfinite(state.inv)))

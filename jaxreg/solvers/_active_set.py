r"""Active-set Newton solver for lasso / elastic-net paths (``elastic_net_path(solver="active_set")``).

With :math:`a_1 = \lambda\rho`, :math:`a_2 = 2\lambda(1-\rho)`, :math:`H = X^\top X/n + a_2 I`
and :math:`b = X^\top y/n`, each λ minimises

.. math::

   F(w) = \tfrac12 w^\top H w - b^\top w + a_1\|w\|_1 + \tfrac{1}{2n}\|y\|^2
        = \tfrac{1}{2n}\|y - Xw\|^2 + a_1\|w\|_1 + \tfrac{a_2}{2}\|w\|^2 .

One iteration, from :math:`w` with negative gradient :math:`g = b - Hw`:

1. guess the solution's support (primal-dual active set): :math:`A = \{j : |v_j| > a_1/H_{jj}\}`,
   :math:`v = w + g/\operatorname{diag}(H)`; a nonzero coordinate keeps its sign, an entering
   one (at most :math:`\max(16, |\operatorname{supp} w|)` per iteration, the most violating,
   and never more than :math:`\operatorname{rank} X` in all for the lasso) takes
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
compilation, 1.5–3 s on a 2-core CPU; compiled programs are kept for the next path of the same
shapes); a factorisation, and conjugate gradients on the Gram matrix, cover only the slots in use,
rounded up to a quarter, half or all of them.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg.core.prox import soft_threshold
from jaxreg.engine._compile import compile_with_options
from jaxreg.solvers._objective import _relative_gap

__all__ = ["active_set_path"]

CHOLESKY_BELOW = 128  # active slots up to which Newton steps always factorise (conjugate gradients first above)
MAX_SIGN_PASSES = 50  # Newton solves per iteration (each drops at least one coordinate that would change sign)


def _columns(data, idx):
    """What an active set needs of the design: rows ``G[idx]`` (``(p, d)``) or columns ``X[:, idx]``."""
    return data["gram"][idx] if "gram" in data else data["x"][:, idx]


def _sub_gram(data, cols, idx):
    """``XᵀX/n`` on the active set (``(p, p)``)."""
    return cols[:, idx] if "gram" in data else cols.T @ cols / cols.shape[0]


def _residual_terms(data, cols, idx, wa):
    """``Xᵀr/n``, ``‖r‖²/n`` and ``rᵀy/n`` for ``r = y − Xw``, ``w`` supported on ``idx`` (values ``wa``)."""
    if "gram" in data:
        gw = cols.T @ wa  # (XᵀX/n) w
        wc = jnp.dot(wa, data["xty"][idx])
        return data["xty"] - gw, data["yy"] - 2 * wc + jnp.dot(wa, gw[idx]), data["yy"] - wc
    r = data["y"] - cols @ wa
    n = r.shape[0]
    return data["x"].T @ r / n, jnp.dot(r, r) / n, jnp.dot(r, data["y"]) / n


def _residual_terms_gram(data, w):
    """:func:`_residual_terms` from the whole Gram matrix and the full ``w`` (``(d,)``): when the slots cover
    half of the coordinates or more, one ``d × d`` product costs less than gathering the slots' rows."""
    gw = data["gram"] @ w
    wc = jnp.dot(w, data["xty"])
    return data["xty"] - gw, data["yy"] - 2 * wc + jnp.dot(w, gw), data["yy"] - wc


def _path_program(lams, k0, w0, lip, slope0, l1_ratio, tol, data, *, capacity, max_iter, rank):
    """λ ``k0``, ``k0 + 1``, … (sorted large → small) until the last or until one needs more than
    ``capacity`` active slots. ``slope0``: the path's slope at the last λ solved (``(dw/dλ, d(Xᵀr/n)/dλ, λ)``,
    zeros at the start). Returns coefficients, gaps and iterations per λ, the λ reached, the warm start, step
    constant and slope to resume from."""
    p, d, k_total = capacity, w0.shape[0], lams.shape[0]
    dtype = w0.dtype
    slots = jnp.arange(p)
    xty = data["xty"]
    cg_tol = 1e-2 * jnp.sqrt(jnp.finfo(dtype).eps)
    diag = jnp.diagonal(data["gram"]) if "gram" in data else jnp.sum(data["x"] ** 2, 0) / data["x"].shape[0]
    diag = jnp.maximum(diag, jnp.finfo(dtype).tiny)  # (a zero column never enters)
    n_rows = data["x"].shape[0] if "x" in data else None
    wide = n_rows is not None and p > n_rows
    whole_gram = "gram" in data and 2 * p > d  # the slots' Gram rows would be most of G: use G itself
    sizes = [q for q in (p // 4, p // 2, 3 * p // 4) if q >= 64] + [p]  # leading blocks the solves work on

    def support(nz):
        count = jnp.sum(nz)
        return jnp.nonzero(nz, size=p, fill_value=0)[0], slots < count, count

    def terms_at(w):
        if whole_gram:
            return _residual_terms_gram(data, w)
        idx, mask, _ = support(w != 0)
        return _residual_terms(data, _columns(data, idx), idx, jnp.where(mask, w[idx], 0))

    def iterate(a1, a2, pred, c):
        it, w, xtr, rr, ry, g, (lip, cg_ok), over, _ = c
        lip_in = lip
        grad = xtr - a2 * w  # −∇ of the smooth part
        # the guess: coordinates a unit-metric proximal step leaves nonzero (primal-dual active set). A λ's first
        # iteration takes it at the point extrapolated along the path (`pred`: w and Xᵀr/n moved on linearly from
        # the last two λ), which foresees most coordinates that enter or leave on the way to this λ (2000 × 500
        # lasso: 127 → 110 iterations for the 100 λ)
        w_pred, xtr_pred = pred
        v = jnp.where(it == 0, w_pred + (xtr_pred - a2 * w_pred) / (diag + a2), w + grad / (diag + a2))
        guess = jnp.abs(v) > a1 / (diag + a2)
        # at most max(16, |support|) new coordinates per iteration, the most violating ones, and no more than
        # the rank allows (n < d: H_AA is singular beyond n coordinates; one always enters, to swap)
        violation = jnp.where(w == 0, jnp.abs(v) * (diag + a2) - a1, -jnp.inf)
        in_support = jnp.sum(w != 0)
        regular = jnp.where(a2 > 0, d, rank)  # most coordinates H_AA holds regular
        room = jnp.maximum(1, jnp.minimum(jnp.maximum(16, in_support), (regular - in_support) // 4))
        # (the sort behind top_k only when more would enter than `room`: it was a fifth of the 2000 × 500 path's time)
        cut = jax.lax.cond(jnp.sum(guess & (w == 0)) > room,
                           lambda: jax.lax.top_k(violation, p)[0][jnp.minimum(room, p) - 1],
                           lambda: jnp.array(-jnp.inf, dtype))
        guess = guess & ((w != 0) | (violation >= cut))
        if rank < p:  # and (lasso) at most `rank` in all: the largest margins |v|(diag + a2) − a1
            margin = jnp.where(guess, jnp.abs(v) * (diag + a2) - a1, -jnp.inf)
            floor = jax.lax.cond((a2 == 0) & (jnp.sum(guess) > rank), lambda: jax.lax.top_k(margin, rank)[0][-1],
                                 lambda: jnp.array(-jnp.inf, dtype))  # (the sort only when the cap bites)
            guess = guess & (margin >= floor)
        idx, mask, count = support(guess | (w != 0))  # slots: the guess and the current support
        block = jnp.sum(jnp.asarray(sizes[:-1]) < count)  # the smallest of `sizes` that holds the slots in use
        cols = None if whole_gram else _columns(data, idx)
        if wide:  # fewer samples than slots: H_AA v = X_Aᵀ(X_A v)/n + a2 v, never the p × p matrix

            def block_of(q):  # (for a factorisation; conjugate gradients multiply by X_A and X_Aᵀ instead)
                return cols[:, :q].T @ cols[:, :q] / n_rows

            def hmul(v, on):  # H_AA v on the slots `on`
                on = on.reshape(on.shape + (1,) * (v.ndim - 1))
                v = jnp.where(on, v, 0)
                return jnp.where(on, cols.T @ (cols @ v) / n_rows + a2 * v, 0)
        elif "gram" in data and p == d:  # slots for every coordinate: products with G itself (2000 × 500 lasso:
            # −16% time), the p² gather only where a factorisation needs it

            def block_of(q):  # gathered: each product then reads q² contiguous entries instead of scattering
                # into, multiplying by and gathering from all of G (2000 × 500: 40 → 10 µs at q = 256)
                return data["gram"][idx[:q, None], idx[None, :q]]

            def hmul(v, on):  # H_AA v on the slots `on`
                on = on.reshape(on.shape + (1,) * (v.ndim - 1))
                v = jnp.where(on, v, 0)
                return jnp.where(on, (data["gram"] @ jnp.zeros(v.shape, dtype).at[idx].add(v))[idx] + a2 * v, 0)
        else:
            g_sub = (data["gram"][idx[:, None], idx[None, :]] if whole_gram  # (one gather of p² entries)
                     else _sub_gram(data, cols, idx))  # padded slots: garbage, always multiplied by 0

            def block_of(q):
                return g_sub[:q, :q]

            def hmul(v, on):  # H_AA v on the slots `on`
                on = on.reshape(on.shape + (1,) * (v.ndim - 1))
                return jnp.where(on, g_sub @ jnp.where(on, v, 0) + a2 * v, 0)

        wa = jnp.where(mask, w[idx], 0)
        ba = jnp.where(mask, xty[idx], 0)
        active = mask & guess[idx]
        # signs: a nonzero coordinate keeps its own (it may reach 0 and leave), an entering one takes the gradient's
        s = jnp.where(wa != 0, jnp.sign(wa), jnp.where(active, jnp.sign(v[idx]), 0))
        rhs = ba - a1 * s
        # the proximal-gradient point (support inside the slots): F(z) ≤ F(w) whenever lip ≥ λ_max
        g_slots = jnp.where(mask, grad[idx], 0)
        step = 1 / (lip + a2)
        z = jnp.where(mask, soft_threshold(wa + step * g_slots, a1 * step), 0)
        ridge = 10 * p * jnp.finfo(dtype).eps * (lip + a2)  # keeps a factorisation finite if H_AA is singular

        def newton(on, u0, cg_ok):  # argmin of the quadratic ½uᵀHu − (b − a1 s)ᵀu over the coordinates `on`
            b_on = jnp.where(on, rhs, 0)

            def cholesky(_):  # of H_AA + ridge·I, then one refinement step against H_AA itself (no ridge bias)
                h_on = jnp.where(on[:, None] & on[None, :], block_of(p) + jnp.diag(jnp.full(p, a2)), 0)

                def leading(q):  # the slots in use are a prefix (< count): factorise q of the p only
                    def solve(_):
                        h_q, b_q = h_on[:q, :q], b_on[:q]
                        chol = jnp.linalg.cholesky(h_q + jnp.diag(jnp.where(on[:q], ridge, 1)))
                        u = jax.scipy.linalg.cho_solve((chol, True), b_q)
                        u = u + jax.scipy.linalg.cho_solve((chol, True), b_q - h_q @ u)
                        return jnp.zeros(p, dtype).at[:q].set(u)

                    return solve

                return jax.lax.switch(block, [leading(q) for q in sizes], None)

            def iterative(_):
                if p <= CHOLESKY_BELOW:
                    return cholesky(None), cg_ok
                # conjugate gradients from the previous solution, for about the flops of a factorisation; if they
                # have not converged by then (an ill-conditioned H_AA), the factorisation, and from then on in
                # this call only the factorisation
                op = lambda v: hmul(v, on) + jnp.where(on, 0, v)  # noqa: E731

                def cg(op, b, x0):
                    u, _ = jax.scipy.sparse.linalg.cg(op, b, x0=x0, tol=cg_tol, maxiter=p // 2)
                    return u, jnp.linalg.norm(op(u) - b) <= cg_tol * jnp.linalg.norm(b)

                def in_block(q):  # on H_AA's q × q block of the slots in use (a prefix): 2000 × 500 Toeplitz
                    # path −10 to −12% (same-process A/B), Gaussian unchanged (few iterations per solve)
                    def run(_):
                        h_q, on_q = block_of(q), on[:q]
                        op_q = lambda v: jnp.where(on_q, h_q @ jnp.where(on_q, v, 0) + a2 * v, v)  # noqa: E731
                        u, done = cg(op_q, b_on[:q], jnp.where(on_q, u0[:q], 0))
                        return jnp.zeros(p, dtype).at[:q].set(u), done

                    return run

                def conjugate_gradients(_):
                    if not wide:
                        u, done = jax.lax.switch(block, [in_block(q) for q in sizes], None)
                    else:
                        u, done = cg(op, b_on, jnp.where(on, u0, 0))
                    return jax.lax.cond(done, lambda _: u, cholesky, None), done

                return jax.lax.cond(cg_ok, conjugate_gradients, lambda _: (cholesky(None), cg_ok), None)

            def woodbury(_):  # (X_AᵀX_A/n + cI)⁻¹ = (I − X_Aᵀ(ncI + X_A X_Aᵀ)⁻¹X_A)/c: one n × n factorisation
                xa, c = jnp.where(on[None, :], cols, 0), a2
                chol = jnp.linalg.cholesky(n_rows * c * jnp.eye(n_rows, dtype=dtype) + xa @ xa.T)
                return (b_on - xa.T @ jax.scipy.linalg.cho_solve((chol, True), xa @ b_on)) / c

            if wide:
                u, ok = jax.lax.cond(a2 > 0, lambda _: (woodbury(None), cg_ok), iterative, None)
            else:
                u, ok = iterative(None)
            return jnp.where(on, u, 0), ok

        def sign_step(c):  # Lawson–Hanson: towards the Newton point until the first coordinate reaches 0
            r, on, x, u, _, cg_ok = c
            u, cg_ok = newton(on, u, cg_ok)
            bad = on & (s * u <= 0)  # would cross zero (or enter with the wrong sign)
            leaving = (x != 0) & (bad | ~on)  # (coordinates outside `on` head for 0)
            ratio = jnp.where(leaving & (x != u), x / jnp.where(x != u, x - u, 1), jnp.inf)
            alpha = jnp.clip(jnp.min(jnp.where(bad & (x == 0), 0.0, ratio)), 0, 1)
            x_new = jnp.where(mask, x + alpha * (u - x), 0)
            hit = leaving & (ratio <= alpha) | bad & (x == 0)
            x_new = jnp.where(hit, 0, x_new)
            return r + 1, on & ~hit, x_new, u, ~jnp.any(bad), cg_ok

        ok = count <= p  # (else the slots are truncated: nothing here counts, the caller adds slots)
        u_start = jnp.where((it == 0) & mask, w_pred[idx], wa)  # conjugate gradients' first start: the extrapolation
        _, _, w_newton, _, _, cg_ok = jax.lax.while_loop(lambda c: ok & ~c[4] & (c[0] < MAX_SIGN_PASSES), sign_step,
                                                         (0, active, wa, u_start, jnp.array(False), cg_ok))

        def df(va):  # F(va) − F(w), from the step (not a difference of two large objectives: float32 resolves it)
            dv = va - wa
            l1 = a1 * (jnp.sum(jnp.abs(va)) - jnp.sum(jnp.abs(wa)))
            change = 0.5 * jnp.dot(dv, hmul(dv, mask)) - jnp.dot(dv, g_slots) + l1
            noise = 10 * jnp.finfo(dtype).eps * (a1 * (jnp.sum(jnp.abs(va)) + jnp.sum(jnp.abs(wa))) +
                                                  jnp.abs(jnp.dot(dv, g_slots)))
            return change, noise

        (d_z, noise_z), (d_n, _) = df(z), df(w_newton)
        d_n = jnp.where(jnp.isfinite(d_n), d_n, jnp.inf)  # (a failed factorisation: the other point)
        lip = jnp.where(ok & (d_z > noise_z), 2 * lip, lip)  # never needed if the estimate holds
        new = jnp.where(d_n <= d_z, w_newton, z)
        new = jnp.where(jnp.minimum(d_n, d_z) <= 0, new, wa)
        w_new = jnp.zeros(d, dtype).at[idx].add(new)
        xtr_new, rr_new, ry_new = (_residual_terms_gram(data, w_new) if whole_gram else
                                   _residual_terms(data, cols, idx, new))
        keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
        w2, xtr2, rr2, ry2 = keep(w_new, w), keep(xtr_new, xtr), keep(rr_new, rr), keep(ry_new, ry)
        # a fixed point (nothing moved, the step constant kept): more iterations repeat this one (float32's floor)
        stuck = ok & jnp.all(new == wa) & (lip == lip_in)
        return (it + 1, w2, xtr2, rr2, ry2, keep(_relative_gap(rr2, ry2, xtr2, w2, a1, a2), g), (lip, cg_ok), ~ok,
                stuck)

    def one_lambda(c):
        # aux: step constant, conjugate gradients still useful; vel, xvel: d/dλ of w and Xᵀr/n at the last λ
        k, w, xtr, rr, ry, aux, coefs, gaps, iters, over, vel, xvel, lam_prev = c
        lam = lams[k]
        w_old, xtr_old = w, xtr
        w_pred = w + (lam - lam_prev) * vel
        xtr_pred = xtr + (lam - lam_prev) * xvel
        a1, a2 = lam * l1_ratio, 2 * lam * (1 - l1_ratio)
        first = (jnp.zeros([], jnp.int32), w, xtr, rr, ry, _relative_gap(rr, ry, xtr, w, a1, a2), aux, jnp.array(False),
                 jnp.array(False))
        it, w, xtr, rr, ry, g, aux, over, _ = jax.lax.while_loop(
            lambda s: (s[5] > tol) & (s[0] < max_iter) & ~s[7] & ~s[8], partial(iterate, a1, a2, (w_pred, xtr_pred)),
            first)
        coefs = coefs.at[k].set(jnp.where(over, coefs[k], w))
        gaps = gaps.at[k].set(jnp.where(over, gaps[k], g))
        iters = iters.at[k].set(jnp.where(over, iters[k], it))
        keep = over | (lam == lam_prev)
        dl = jnp.where(lam == lam_prev, 1, lam - lam_prev)
        vel = jnp.where(keep, vel, (w - w_old) / dl)
        xvel = jnp.where(keep, xvel, (xtr - xtr_old) / dl)
        return jnp.where(over, k, k + 1), w, xtr, rr, ry, aux, coefs, gaps, iters, over, vel, xvel, lam

    xtr, rr, ry = terms_at(w0)
    start = (k0, w0, xtr, rr, ry, (lip, jnp.array(True)), jnp.zeros((k_total, d), dtype),
             jnp.full(k_total, jnp.inf, dtype), jnp.zeros(k_total, jnp.int32), jnp.array(False),
             *slope0)
    k, w, _, _, _, aux, coefs, gaps, iters, _, *slope = jax.lax.while_loop(
        lambda c: (c[0] < k_total) & ~c[9], one_lambda, start)
    return coefs, gaps, iters, k, w, aux[0], tuple(slope)


def _lipschitz(data, iterations: int = 30):
    """Power-iteration estimate of ``λ_max(XᵀX/n)`` (×1.05; the solver doubles it if ever too small)."""
    d = data["xty"].shape[0]
    v = jnp.asarray(np.random.default_rng(0).standard_normal(d), data["xty"].dtype)

    def times(v):
        if "gram" in data:
            return data["gram"] @ v
        return data["x"].T @ (data["x"] @ v) / data["x"].shape[0]

    def body(_, v):
        u = times(v)
        return u / jnp.maximum(jnp.linalg.norm(u), jnp.finfo(v.dtype).tiny)

    v = jax.lax.fori_loop(0, iterations, body, v / jnp.linalg.norm(v))
    return 1.05 * jnp.maximum(jnp.dot(v, times(v)), jnp.finfo(v.dtype).tiny)


_PROGRAMS: dict = {}  # compiled programs by (function, static arguments, argument shapes, device): a path of the
# same shapes (another fold, another y) does not compile again

#: XLA options for these programs on CPU. Their kernels are small, many and latency-bound: XLA's older loop
#: emitter and optimisation level 1 compile them ~35% faster at the same speed (2-core CPU, float64 lasso
#: path: 2000 × 500 13.6 → 8.4 s, 20000 × 2000 17.1 → 11.8 s of compilation; run times within noise). An XLA
#: that no longer knows an option compiles with its defaults.
SOLVER_CPU_COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1}


def _compiled(fn, args, key=()):
    """``jax.jit(fn)`` compiled for ``args``' shapes and device, memoised (up to 64 programs)."""
    spec = jax.tree_util.tree_map(lambda a: (jnp.shape(a), jnp.result_type(a)), args)
    device = next(iter(jax.tree_util.tree_leaves(args)[0].devices()))
    full_key = (getattr(fn, "func", fn).__name__, key, jax.tree_util.tree_structure(args), str(spec), device)
    if full_key not in _PROGRAMS:
        if len(_PROGRAMS) >= 64:
            _PROGRAMS.pop(next(iter(_PROGRAMS)))
        options = SOLVER_CPU_COMPILER_OPTIONS if device.platform == "cpu" else {}
        _PROGRAMS[full_key] = compile_with_options(jax.jit(fn).lower(*args), options)[0]
    return _PROGRAMS[full_key]


def active_set_path(lams_desc, data, *, l1_ratio: float, tol: float, max_iter: int, capacity: int = 64):
    """Solve every λ of ``lams_desc`` (sorted large → small) to relative duality gap ≤ ``tol``.

    ``data``: ``{"gram", "xty", "yy"}`` (``XᵀX/n``, ``Xᵀy/n``, ``yᵀy/n``) or ``{"x", "y", "xty", "yy"}``.
    Returns the ``(K, d)`` coefficients in the order of ``lams_desc`` and stats: ``compile_s``,
    ``run_s``, ``iterations`` per λ, ``capacities`` used and ``max_gap`` (the caller,
    :func:`jaxreg.solvers._paths.elastic_net_path`, warns when it exceeds ``tol``).
    """
    dtype = np.dtype(data["xty"].dtype)
    d = data["xty"].shape[0]
    k_total = len(lams_desc)
    lams = jnp.asarray(lams_desc, dtype)
    # a lasso solution has at most rank(X) nonzeros: Newton steps on more coordinates are singular, so the guess
    # is capped there. With n < d that is n, or n − 1 for centred columns (an SVD would cost O(n²d))
    rank = d
    if "x" in data and data["x"].shape[0] < d:
        x_host = np.asarray(data["x"])
        centred = np.abs(x_host.mean(0)).max() <= 1e3 * np.finfo(x_host.dtype).eps * max(np.abs(x_host).max(), 1e-300)
        rank = x_host.shape[0] - int(centred)
    compile_s, run_s = 0.0, 0.0
    t0 = time.perf_counter()
    lip_fn = _compiled(_lipschitz, (data,))
    compile_s += time.perf_counter() - t0
    t0 = time.perf_counter()
    lip = lip_fn(data)
    run_s += time.perf_counter() - t0
    coefs = np.zeros((k_total, d), np.dtype(dtype))
    gaps = np.full(k_total, np.inf)
    iters = np.zeros(k_total, np.int64)
    w = jnp.asarray(np.zeros(d, dtype))  # (host scalars and arrays: eager JAX ops would each compile once)
    slope = (w, w, np.asarray(lams_desc[0], dtype))  # the path's slope before the first λ: none
    k, p, capacities = 0, min(d, int(capacity)), []
    while k < k_total:
        t0 = time.perf_counter()
        args = (lams, np.int32(k), w, lip, slope, np.asarray(l1_ratio, dtype), np.asarray(tol, dtype), data)
        program = _compiled(partial(_path_program, capacity=p, max_iter=max_iter, rank=rank), args,
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

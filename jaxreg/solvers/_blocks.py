"""Warm-started blocks of λ, stopped at a duality gap: the outer loop that FISTA and ADMM share.

The λ, sorted from large to small, are solved ``block`` at a time (vmapped). Each block starts from the previous
block's state at its smallest λ (a warm start) and iterates until every λ in it has a relative duality gap
≤ ``tol``, or ``max_iter`` iterations. Large λ (sparse, well conditioned) stop after a few iterations; only the
small-λ blocks pay for ill-conditioning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg.solvers._objective import relative_duality_gap

__all__ = ["GapLoop", "block_gaps", "until_gap", "solve_in_blocks"]


class GapLoop(NamedTuple):
    """The carry of :func:`until_gap`."""

    it: jax.Array  # () int32: iterations run
    state: Any  # the solver's state: a pytree of (block, ...) arrays
    gap: jax.Array  # (block,) the relative duality gap of each λ at the current iterate


def block_gaps(data: dict, lams: jax.Array, ws: jax.Array, l1_ratio: Any) -> jax.Array:
    """The relative duality gap of each ``(λ, w)`` of a block (``(block,)``), from the Gram or the data layout."""
    keys = ("gram", "xty", "yy") if "gram" in data else ("x", "y")
    return jax.vmap(lambda lam, w: relative_duality_gap(w, lam, l1_ratio, **{k: data[k] for k in keys}))(lams, ws)


def until_gap(data: dict, lams: jax.Array, start: Any, run: Callable, current: Callable, *, l1_ratio: Any,
              tol: float, max_iter: int, check_every: int) -> tuple[Any, jax.Array, jax.Array]:
    """``run`` (``check_every`` iterations of a solver's state) until every gap is ≤ ``tol`` or ``max_iter``
    iterations have run. ``current(state)``: the ``(block, d)`` iterates whose gaps count. Returns the state,
    the iterations and the gaps."""

    def cond(c: GapLoop):
        return (c.it < max_iter) & (jnp.max(c.gap) > tol)

    def body(c: GapLoop):
        state = run(c.state)
        return GapLoop(c.it + check_every, state, block_gaps(data, lams, current(state), l1_ratio))

    first = GapLoop(jnp.zeros([], jnp.int32), start, block_gaps(data, lams, current(start), l1_ratio))
    last = jax.lax.while_loop(cond, body, first)
    return last.state, last.it, last.gap


def solve_in_blocks(lam_desc: np.ndarray, solve_block: Callable, carry: Any, data: dict, *,
                    block: int) -> tuple[np.ndarray, dict]:
    """Every λ of ``lam_desc`` (large → small) by ``solve_block(lams, carry, data) -> (ws, carry, it, gap)``,
    ``block`` λ at a time, each block warm-started from the last one's ``carry``. The last block is padded with
    the smallest λ. Returns the ``(K, d)`` coefficients and stats: ``compile_s``, ``run_s``, ``iterations``
    per block, ``max_gap``, ``n_blocks``, ``block``."""
    k = lam_desc.size
    block = min(block, k)  # fewer λ than a block: no padding columns
    n_blocks = -(-k // block)
    padded = np.concatenate([lam_desc, np.repeat(lam_desc[-1:], n_blocks * block - k)])
    t0 = time.perf_counter()
    solve = jax.jit(solve_block).lower(jnp.asarray(padded[:block]), carry, data).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    outs, iters, worst = [], [], []
    for b in range(n_blocks):
        ws, carry, it, gap = solve(jnp.asarray(padded[b * block:(b + 1) * block]), carry, data)
        outs.append(ws)
        iters.append(it)
        worst.append(jnp.max(gap))
    coefs = np.asarray(jnp.concatenate(outs))[:k]
    run_s = time.perf_counter() - t0
    return coefs, {"compile_s": compile_s, "run_s": run_s, "iterations": [int(i) for i in iters],
                   "max_gap": float(max(worst)), "n_blocks": n_blocks, "block": block}

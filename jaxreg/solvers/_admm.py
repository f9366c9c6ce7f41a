r"""Over-relaxed ADMM on the least-squares path, from one eigendecomposition of the Gram matrix.

With :math:`G = X^\top X/n = Q\,\mathrm{diag}(e)\,Q^\top`, shared by every λ (:math:`a_1 = \lambda\rho`,
:math:`a_2 = 2\lambda(1-\rho)`), one iteration for the split :math:`w = z` is

.. math::

   w = Q\,\frac{Q^\top(X^\top y/n + r(z - u))}{e + a_2 + r}, \quad
   \hat w = \alpha w - (\alpha - 1) z, \quad
   z = S_{a_1/r}(\hat w + u), \quad u \mathrel{+}= \hat w - z

(``z`` carries the exact zeros; α = :data:`OVER_RELAXATION`). Every ``check_every`` iterations the penalty
``r`` of each λ is rebalanced (:func:`_rebalance`), at no cost since the eigendecomposition serves every ``r``.
Ill-conditioning slows this far less than FISTA. The λ run in warm-started blocks
(:mod:`jaxreg.solvers._blocks`).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg.core.prox import soft_threshold
from jaxreg.solvers._blocks import solve_in_blocks, until_gap
from jaxreg.solvers._options import Admm

__all__ = ["AdmmState", "with_eigendecomposition", "admm_path", "OVER_RELAXATION"]

#: The over-relaxation α of :math:`\hat w = \alpha w - (\alpha - 1) z`, as ``(α, α − 1)`` (the second written
#: out: ``1.6 − 1`` is not ``0.6`` in binary floating point).
OVER_RELAXATION = (1.6, 0.6)

#: The penalty ``r`` is doubled (halved) when the primal residual exceeds the dual one (or the reverse) by more
#: than this factor.
RESIDUAL_RATIO = 10

#: The factor ``r`` is multiplied or divided by when it is rebalanced.
PENALTY_STEP = 2.0


class AdmmState(NamedTuple):
    """ADMM's state for each λ of a block (leading axis ``block``), or for one λ between blocks (none)."""

    z: jax.Array  # (block, d): the split variable, with exact zeros (the solution)
    u: jax.Array  # (block, d): the scaled dual variable
    r: jax.Array  # (block,): the ADMM penalty


class _Inner(NamedTuple):
    """The carry of :func:`_iterate`: the state, and what the residuals after ``check_every`` iterations need."""

    z: jax.Array  # (block, d)
    u: jax.Array  # (block, d)
    r: jax.Array  # (block,)
    w: jax.Array  # (block, d): the last w-update
    z_prev: jax.Array  # (block, d): z before the last iteration


def with_eigendecomposition(data: dict) -> dict:
    """The Gram layout plus ``eig`` ``(d,)`` and ``q`` ``(d, d)``: :math:`G = Q\\,\\mathrm{diag}(e)\\,Q^\\top`."""
    eig, q_mat = jnp.linalg.eigh(data["gram"])
    return {**data, "eig": eig, "q": q_mat}


def _iterate(data: dict, a1: jax.Array, a2: jax.Array, _, c: _Inner) -> _Inner:
    """One over-relaxed ADMM iteration for every λ of the block (module docstring)."""
    alpha, alpha_1 = OVER_RELAXATION
    v = data["xty"] + c.r[:, None] * (c.z - c.u)
    w = ((v @ data["q"]) / (data["eig"] + a2[:, None] + c.r[:, None])) @ data["q"].T
    w_hat = alpha * w - alpha_1 * c.z
    z_new = soft_threshold(w_hat + c.u, (a1 / c.r)[:, None])
    return _Inner(z_new, c.u + w_hat - z_new, c.r, w, c.z)


def _rebalance(c: _Inner) -> AdmmState:
    r"""Residual balancing: ``r`` doubled when the primal residual :math:`\|w - z\|` is more than
    :data:`RESIDUAL_RATIO` times the dual one :math:`r\|z - z_{prev}\|`, halved in the opposite case; the scaled
    dual ``u`` is divided by the same factor."""
    primal = jnp.linalg.norm(c.w - c.z, axis=1)
    dual = c.r * jnp.linalg.norm(c.z - c.z_prev, axis=1)
    f = jnp.where(primal > RESIDUAL_RATIO * dual, PENALTY_STEP,
                  jnp.where(dual > RESIDUAL_RATIO * primal, 1 / PENALTY_STEP, 1.0)).astype(c.r.dtype)
    return AdmmState(c.z, c.u / f[:, None], c.r * f)


def _solve_block(options: Admm, l1_ratio: Any, lams, carry: AdmmState, data: dict):
    """One block of λ from the previous block's state at its last λ: ``(zs, carry, iterations, gaps)``."""
    a1, a2 = lams * l1_ratio, 2 * lams * (1 - l1_ratio)
    iterate = functools.partial(_iterate, data, a1, a2)

    def run(c: AdmmState) -> AdmmState:
        return _rebalance(jax.lax.fori_loop(0, options.check_every, iterate, _Inner(*c, c.z, c.z)))

    k = lams.shape[0]
    start = AdmmState(*(jnp.broadcast_to(a, (k, *a.shape)) for a in carry))
    state, it, gap = until_gap(data, lams, start, run, lambda c: c.z, l1_ratio=l1_ratio, tol=options.tol,
                               max_iter=options.max_iter, check_every=options.check_every)
    return state.z, AdmmState(state.z[-1], state.u[-1], state.r[-1]), it, gap


def admm_path(lam_desc: np.ndarray, data: dict, options: Admm, l1_ratio: Any):
    """Every λ of ``lam_desc`` (large → small) to a relative duality gap ≤ ``options.tol``, in warm-started
    blocks. ``data``: the Gram layout with its eigendecomposition (:func:`with_eigendecomposition`). Returns
    the coefficients and :func:`jaxreg.solvers._blocks.solve_in_blocks`'s stats."""
    d, dtype = data["xty"].shape[0], lam_desc.dtype
    start = AdmmState(jnp.zeros(d, dtype), jnp.zeros(d, dtype), jnp.ones([], dtype))
    return solve_in_blocks(lam_desc, functools.partial(_solve_block, options, l1_ratio), start, data,
                           block=options.block)

r"""Proximal gradient on the least-squares path, built from jaxreg's optax transforms; FISTA to a duality gap.

``optax.sgd(1/L)`` followed by :func:`jaxreg.prox_elastic_net` is ISTA; :func:`jaxreg.fista` accelerates it with
adaptive restart, and a last plain proximal step gives the solution its exact zeros. ``L`` is the largest
eigenvalue of :math:`X^\top X/n`, the Lipschitz constant of the gradient of

.. math::

   \frac{1}{2n}\|y - Xw\|^2, \qquad \nabla = G w - X^\top y/n \ \text{ or } \ -X^\top(y - Xw)/n .

:class:`ProximalGradient` is shared with :mod:`jaxreg.solvers._fixed_steps`; :func:`fista_path` runs it in
warm-started blocks (:mod:`jaxreg.solvers._blocks`) to a relative duality gap.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxreg.core._transforms import fista, prox_elastic_net
from jaxreg.solvers._blocks import solve_in_blocks, until_gap
from jaxreg.solvers._objective import lipschitz_least_squares
from jaxreg.solvers._options import Fista
from jaxreg.solvers._sparse import SparseDesign, matvec, rmatvec

__all__ = ["least_squares_grad", "step_size", "ProximalGradient", "FistaState", "fista_path"]


def least_squares_grad(data: dict, w: jax.Array) -> jax.Array:
    """∇ of ``1/(2n)‖y − Xw‖²``: ``Gw − Xᵀy/n`` (Gram layout) or ``−Xᵀ(y − Xw)/n`` (data layout)."""
    if "gram" in data:
        return data["gram"] @ w - data["xty"]
    return -rmatvec(data["x"], data["y"] - matvec(data["x"], w)) / data["x"].shape[0]


def step_size(data: dict) -> float:
    """``1/L``, ``L = λ_max(XᵀX/n)``: from the Gram matrix's eigenvalues, or from the data (dense or sparse)."""
    if "gram" in data:
        return 1.0 / float(np.linalg.eigvalsh(np.asarray(data["gram"])).max())
    x = data["x"]
    return 1.0 / lipschitz_least_squares(x.to_scipy() if isinstance(x, SparseDesign) else x)


@dataclasses.dataclass(frozen=True)
class ProximalGradient:
    """ISTA / FISTA for one λ as optax chains: ``l1_ratio`` ρ, step size ``lr`` (``1/L``), ``accelerate``."""

    l1_ratio: Any
    lr: float
    accelerate: bool = True

    def optimizers(self, lam: Any) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
        """The iteration (FISTA, or ISTA without ``accelerate``) and the plain proximal step."""
        prox = prox_elastic_net(lam, self.l1_ratio, self.lr)
        return (optax.chain(optax.sgd(self.lr), fista(prox) if self.accelerate else prox),
                optax.chain(optax.sgd(self.lr), prox))

    def optimizer(self, lam: Any) -> optax.GradientTransformation:
        """The iteration for ``lam``."""
        return self.optimizers(lam)[0]

    def last_step(self, data: dict, lam: Any, w: jax.Array) -> jax.Array:
        """One plain proximal step from ``w``: the iterate with exact zeros (FISTA's extrapolated point has none)."""
        last = self.optimizers(lam)[1]
        u, _ = last.update(least_squares_grad(data, w), last.init(w), w)
        return optax.apply_updates(w, u)


class FistaState(NamedTuple):
    """FISTA's state for each λ of a block (leading axis ``block``)."""

    w: jax.Array  # (block, d): the iterates (FISTA's extrapolated points: no exact zeros)
    opt_state: Any  # the optax chain's state of each λ


def _run_one(method: ProximalGradient, data: dict, check_every: int, lam, w, state):
    """``check_every`` iterations for one λ from ``(w, state)``."""
    opt = method.optimizer(lam)

    def body(_, carry):
        w, state = carry
        u, state = opt.update(least_squares_grad(data, w), state, w)
        return optax.apply_updates(w, u), state

    return jax.lax.fori_loop(0, check_every, body, (w, state))


def _solve_block(method: ProximalGradient, options: Fista, lams, w0, data):
    """One block of λ from the previous block's last solution ``w0``: ``(ws, carry, iterations, gaps)``."""
    d = w0.shape[0]

    def current(c: FistaState):  # the proximal iterate x_k (FISTA's y_k has no exact zeros)
        return jax.vmap(lambda lam, w: method.last_step(data, lam, w))(lams, c.w)

    def run(c: FistaState) -> FistaState:
        return FistaState(*jax.vmap(functools.partial(_run_one, method, data, options.check_every))(lams, *c))

    ws = jnp.broadcast_to(w0, (lams.shape[0], d))
    start = FistaState(ws, jax.vmap(lambda lam: method.optimizer(lam).init(w0))(lams))
    state, it, gap = until_gap(data, lams, start, run, current, l1_ratio=method.l1_ratio, tol=options.tol,
                               max_iter=options.max_iter, check_every=options.check_every)
    ws = current(state)
    return ws, ws[-1], it, gap


def fista_path(lam_desc: np.ndarray, data: dict, options: Fista, l1_ratio: Any, lr: float):
    """Every λ of ``lam_desc`` (large → small) to a relative duality gap ≤ ``options.tol``, in warm-started
    blocks; ``lr``: the step size (:func:`step_size`). Returns the coefficients and
    :func:`jaxreg.solvers._blocks.solve_in_blocks`'s stats."""
    method = ProximalGradient(l1_ratio, lr, options.accelerate)
    w0 = jnp.zeros(data["xty" if "gram" in data else "x"].shape[-1], lam_desc.dtype)
    return solve_in_blocks(lam_desc, functools.partial(_solve_block, method, options), w0, data,
                           block=options.block)

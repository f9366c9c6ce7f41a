r"""A fixed number of proximal-gradient steps per λ, every λ in one :func:`jaxreg.sweep` call (no certificate).

Each λ runs :class:`jaxreg.solvers.FixedSteps`' ``steps`` iterations of ISTA / FISTA
(:class:`jaxreg.solvers._fista.ProximalGradient`) from 0 with :func:`jaxreg.fit`, then one plain proximal step
for exact zeros; the λ are independent models of one sweep (vmapped, chunked, sharded over devices).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxreg._train import fit
from jaxreg.engine._sweep import sweep
from jaxreg.solvers._fista import ProximalGradient, least_squares_grad
from jaxreg.solvers._options import FixedSteps
from jaxreg.solvers._sparse import matvec

__all__ = ["least_squares_loss", "fixed_steps_path"]


def least_squares_loss(data: dict):
    r"""``w ↦ 1/(2n)‖y − Xw‖²``, from the data or from the Gram quantities
    (:math:`\tfrac12 w^\top G w - w^\top X^\top y/n + \tfrac12 y^\top y/n`), with the gradient
    :func:`jaxreg.solvers._fista.least_squares_grad` as its derivative (one matmul, where autodiff of
    :math:`w^\top G w` takes two)."""

    @jax.custom_jvp
    def data_loss(w):
        if "gram" in data:
            return 0.5 * jnp.dot(w, data["gram"] @ w) - jnp.dot(w, data["xty"]) + 0.5 * data["yy"]
        r = data["y"] - matvec(data["x"], w)
        return 0.5 * jnp.mean(r * r)

    @data_loss.defjvp
    def _(primals, tangents):
        (w,), (t,) = primals, tangents
        return data_loss(w), jnp.dot(least_squares_grad(data, w), t)

    return data_loss


def fixed_steps_path(lambdas: Any, data: dict, options: FixedSteps, l1_ratio: Any, lr: float,
                     devices: Sequence[jax.Device], return_stats: bool):
    """``(K, d)`` coefficients in the order of ``lambdas`` (and the sweep's stats with ``return_stats``);
    ``lr``: the step size (:func:`jaxreg.solvers._fista.step_size`); ``devices``: the sweep's."""
    method = ProximalGradient(l1_ratio, lr, options.accelerate)
    data_loss = least_squares_loss(data)
    like = data["xty"] if "gram" in data else data["x"]  # (d,) or (n, d): the coefficients' size and dtype

    def solve(lam):
        w = fit(data_loss, jnp.zeros(like.shape[-1], like.dtype), method.optimizer(lam), steps=options.steps).params
        return method.last_step(data, lam, w)

    return sweep(solve, lambdas, chunk_size=options.chunk_size, devices=devices, progress=False,
                 return_stats=return_stats)

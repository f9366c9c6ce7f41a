r"""Regularization paths of linear least squares: lasso, elastic net, ridge, vmapped over λ.

Each path point minimises scikit-learn's objective, written in jaxreg's terms

.. math::

   \frac{1}{2n}\|y - Xw\|^2 + \lambda\left[\rho\|w\|_1 + (1-\rho)\|w\|_2^2\right]

(``loss="half_mse"``; convert sklearn's ``alpha``/``l1_ratio`` with
:func:`jaxreg.from_sklearn_elastic_net`). The solver is built from jaxreg's
optax transforms: ``optax.sgd(1/L)`` followed by :func:`jaxreg.prox_elastic_net`
(ISTA), accelerated by :func:`jaxreg.fista` with adaptive restart, and a last
plain proximal step so the solution has exact zeros. ``L`` is the largest
eigenvalue of :math:`X^\top X/n`. All λ run in one ``jaxreg.sweep`` call.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxreg.sweep import sweep
from jaxreg.train import fit
from jaxreg.transforms import fista, prox_elastic_net
from jaxreg.validation import check_ratio

__all__ = ["elastic_net_path", "lipschitz_least_squares", "least_squares_objective"]


def lipschitz_least_squares(x: Any) -> float:
    """Largest eigenvalue of ``XᵀX/n``: the gradient's Lipschitz constant for half-MSE."""
    x = np.asarray(x, np.float64)
    n, d = x.shape
    gram = x.T @ x / n if d <= n else x @ x.T / n
    return float(np.linalg.eigvalsh(gram).max())


def least_squares_objective(x, y, w, lam, l1_ratio):
    """``1/(2n)‖y − Xw‖² + λ[ρ‖w‖₁ + (1−ρ)‖w‖²]`` for one ``w`` (jaxreg's convention)."""
    r = y - x @ w
    return 0.5 * jnp.mean(r * r) + lam * (l1_ratio * jnp.sum(jnp.abs(w)) + (1 - l1_ratio) * jnp.sum(w * w))


def elastic_net_path(
    x: Any,
    y: Any,
    lambdas: Any,
    *,
    l1_ratio: float = 1.0,
    steps: int = 2000,
    accelerate: bool = True,
    gram: bool | None = None,
    chunk_size: int | None = None,
    return_stats: bool = False,
) -> np.ndarray:
    """Coefficients ``(K, d)`` along a λ grid (no intercept: centre ``x`` and ``y`` first).

    Args:
      x: ``(n, d)`` design; y: ``(n,)`` target.
      lambdas: 1-D grid of jaxreg λ (``loss="half_mse"`` scaling).
      l1_ratio: ρ; 1 is the lasso, 0 is ridge (with jaxreg's no-½ L2).
      steps: proximal-gradient iterations per λ.
      accelerate: FISTA with adaptive restart (``False``: plain ISTA).
      gram: compute gradients from the Gram matrix ``G = XᵀX/n`` and ``Xᵀy/n``
        (``O(d²)`` per iteration instead of ``O(nd)``); default: when ``n > d``.
      return_stats: also return :func:`jaxreg.sweep`'s stats (compile and run time).
    """
    check_ratio(l1_ratio, "l1_ratio")
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be (n, d) and y (n,), got {x.shape} and {y.shape}")
    lr = 1.0 / lipschitz_least_squares(x)
    n, d = x.shape
    if gram is None:
        gram = n > d
    if gram:
        g_mat, xty, yy = x.T @ x / n, x.T @ y / n, jnp.dot(y, y) / n

        def data_loss(w):  # the same 1/(2n)‖y − Xw‖², expanded: ½wᵀGw − wᵀXᵀy/n + ½yᵀy/n
            return 0.5 * jnp.dot(w, g_mat @ w) - jnp.dot(w, xty) + 0.5 * yy
    else:

        def data_loss(w):
            r = y - x @ w
            return 0.5 * jnp.mean(r * r)

    def solve(lam):
        prox = prox_elastic_net(lam, l1_ratio, lr)
        opt = optax.chain(optax.sgd(lr), fista(prox) if accelerate else prox)
        w = fit(data_loss, jnp.zeros(x.shape[1], x.dtype), opt, steps=steps).params
        last = optax.chain(optax.sgd(lr), prox)  # one plain step: exact zeros
        u, _ = last.update(jax.grad(data_loss)(w), last.init(w), w)
        return optax.apply_updates(w, u)

    return sweep(solve, lambdas, chunk_size=chunk_size, progress=False, return_stats=return_stats)

r"""The objective of a least-squares regularization path and its certificate, the relative duality gap.

Shared by every solver of :mod:`jaxreg.solvers`.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg

from jaxreg.solvers._sparse import as_design, is_sparse, matvec, rmatvec

__all__ = [
    "lipschitz_least_squares", "least_squares_objective", "relative_duality_gap", "certifiable_tol",
    "CERTIFIABLE_GAP_EPS",
]

#: The smallest relative duality gap a dtype certifies, in units of its machine epsilon: the gap's terms are
#: differences of quantities of the objective's size, so below this the rounding of the gap itself (which may
#: cancel to exactly 0) decides it. float32: 1.2e-4; float64: 2.2e-13.
CERTIFIABLE_GAP_EPS = 1000

#: :func:`lipschitz_least_squares` of a sparse design: a dense eigendecomposition of the smaller Gram matrix up to
#: this size, the Lanczos method (ARPACK) on it sparse above.
DENSE_EIGEN_UP_TO = 2000


def lipschitz_least_squares(x: Any) -> float:
    """Largest eigenvalue of ``XᵀX/n``: the gradient's Lipschitz constant for half-MSE. ``x`` dense or
    ``scipy.sparse``.

    Example:
      >>> lipschitz_least_squares(np.array([[2.0, 0.0], [0.0, 1.0]]))
      2.0
    """
    if is_sparse(x):
        return _sparse_lipschitz(x)
    x = np.asarray(x, np.float64)
    n, d = x.shape
    gram = x.T @ x / n if d <= n else x @ x.T / n
    return float(np.linalg.eigvalsh(gram).max())


def _sparse_lipschitz(x: Any) -> float:
    """:func:`lipschitz_least_squares` of a ``scipy.sparse`` ``x``, from the smaller of ``XᵀX`` and ``XXᵀ``."""
    x = x.astype(np.float64)
    n, d = x.shape
    gram = (x.T @ x if d <= n else x @ x.T) / n
    if min(n, d) <= DENSE_EIGEN_UP_TO:
        return float(np.linalg.eigvalsh(gram.toarray()).max())
    return float(scipy.sparse.linalg.eigsh(gram, k=1, which="LA", return_eigenvectors=False)[0])


def least_squares_objective(x, y, w, lam, l1_ratio):
    r"""The elastic-net objective of one path point, in jaxreg's convention (no ½ on the L2 term). ``x`` dense
    or ``scipy.sparse``.

    .. math::

       \frac{1}{2n}\|y - Xw\|^2 + \lambda\left[\rho\|w\|_1 + (1-\rho)\|w\|_2^2\right]

    Example:
      >>> float(least_squares_objective(np.eye(2), np.array([1.0, 1.0]), np.array([1.0, 0.0]), 0.5, 1.0))
      0.75
    """
    r = y - matvec(as_design(x), w)
    return 0.5 * jnp.mean(r * r) + lam * (l1_ratio * jnp.sum(jnp.abs(w)) + (1 - l1_ratio) * jnp.sum(w * w))


def relative_duality_gap(w, lam, l1_ratio, *, x=None, y=None, gram=None, xty=None, yy=None):
    r"""Relative duality gap :math:`(P - D)/P` of one path point.

    From the data (``x``, ``y``; ``x`` dense, ``scipy.sparse`` or a
    :class:`~jaxreg.solvers._sparse.SparseDesign`) or from Gram quantities only (``gram = XᵀX/n``,
    ``xty = Xᵀy/n``, ``yy = yᵀy/n``: ``O(d²)``, for n > d). With sklearn's
    scaling :math:`a_1 = \lambda\rho`, :math:`a_2 = 2\lambda(1-\rho)`, the primal is
    :math:`P = \frac{1}{2n}\|r\|^2 + a_1\|w\|_1 + \frac{a_2}{2}\|w\|^2`
    (:math:`r = y - Xw`) and the dual point of the augmented lasso is the
    residual scaled by :math:`s = \min(1, a_1/\|X^\top r/n - a_2 w\|_\infty)`:
    :math:`D = s\,r^\top y/n - \frac{s^2}{2}(\|r\|^2/n + a_2\|w\|^2)`.
    For ridge (:math:`a_1 = 0`, where that scaling is 0) the dual point is the
    residual itself: :math:`D = r^\top y/n - \|r\|^2/(2n) - \|X^\top r/n\|^2/(2a_2)`.
    ``P ≥ D`` always; 0 at the optimum. With the Gram quantities, :math:`\|r\|^2`
    is a difference of large terms: float32 resolves gaps down to about 1e-4 only
    (:func:`certifiable_tol`).

    Example:
      >>> x, y = np.eye(2), np.array([1.0, 1.0])
      >>> float(relative_duality_gap(np.array([0.5, 0.5]), 0.25, 1.0, x=x, y=y))  # the lasso solution
      0.0
    """
    if (x is None) == (gram is None) or (x is not None and y is None) or (gram is not None and
                                                                        (xty is None or yy is None)):
        raise ValueError("relative_duality_gap needs either x and y, or gram, xty and yy")
    a1, a2 = lam * l1_ratio, 2 * lam * (1 - l1_ratio)
    if x is not None:
        x = as_design(x)
        n = x.shape[0]
        r = y - matvec(x, w)
        rr, ry, xtr = jnp.dot(r, r) / n, jnp.dot(r, y) / n, rmatvec(x, r) / n
    else:
        gw = gram @ w
        wc = jnp.dot(w, xty)
        rr, ry, xtr = yy - 2 * wc + jnp.dot(w, gw), yy - wc, xty - gw  # ‖r‖²/n, rᵀy/n, Xᵀr/n
    return _relative_gap(rr, ry, xtr, w, a1, a2)


def _relative_gap(rr, ry, xtr, w, a1, a2):
    """The gap of :func:`relative_duality_gap` from ``‖r‖²/n``, ``rᵀy/n`` and ``Xᵀr/n``."""
    ww = jnp.dot(w, w)
    primal = 0.5 * rr + a1 * jnp.sum(jnp.abs(w)) + 0.5 * a2 * ww
    corr = jnp.max(jnp.abs(xtr - a2 * w))
    s = jnp.where(corr > a1, a1 / jnp.maximum(corr, jnp.finfo(w.dtype).tiny), 1.0)
    dual = s * ry - 0.5 * s * s * (rr + a2 * ww)
    ridge_dual = ry - 0.5 * rr - 0.5 * jnp.dot(xtr, xtr) / jnp.maximum(a2, jnp.finfo(w.dtype).tiny)
    dual = jnp.where(a1 > 0, dual, ridge_dual)
    return (primal - dual) / jnp.maximum(primal, jnp.finfo(w.dtype).tiny)


def certifiable_tol(dtype: Any) -> float:
    """The smallest ``tol`` whose gap a path computed in ``dtype`` can certify (:data:`CERTIFIABLE_GAP_EPS` eps).

    Example:
      >>> f"{certifiable_tol(np.float32):.1e}", f"{certifiable_tol(np.float64):.1e}"
      ('1.2e-04', '2.2e-13')
    """
    return CERTIFIABLE_GAP_EPS * float(np.finfo(np.dtype(dtype)).eps)

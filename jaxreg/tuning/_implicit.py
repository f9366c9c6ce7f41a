r"""The exact hypergradient of a lasso / elastic net's λ (one per feature or group) by implicit differentiation.

The weighted elastic net, in jaxreg's conventions (sklearn's ``1/(2n)`` loss; no intercept: centre ``x`` and ``y``)

.. math::

   w^\star(\lambda) = \arg\min_w \frac{1}{2n}\|y - Xw\|^2 + \sum_j \lambda_j\left[\rho|w_j| + (1-\rho)w_j^2\right]

is solved with :func:`jaxreg.solvers.elastic_net_path` (the solvers take one λ for all features): a per-feature
ridge part becomes rows :math:`\sqrt{2n(1-\rho)\lambda_j}\,e_j^\top` appended to :math:`X` (zeros to :math:`y`),
and per-feature L1 weights :math:`\omega_j` become a plain lasso on the columns :math:`x_j/\omega_j` (its solution
:math:`v` gives :math:`w_j = v_j/\omega_j`). On the support :math:`S` with signs :math:`s`, the optimality
condition :math:`H w_S = X_S^\top y/n - \rho\lambda_S \odot s` with
:math:`H = X_S^\top X_S/n + 2(1-\rho)\operatorname{diag}(\lambda_S)` is solved once more exactly (a polish), and
differentiated:

.. math::

   \frac{\partial w_S}{\partial\lambda_S} = -H^{-1}\operatorname{diag}\bigl(\rho s + 2(1-\rho)w_S\bigr),
   \qquad \frac{\partial w_{\bar S}}{\partial\lambda} = 0,

so the validation loss :math:`L(w^\star)` has the exact hypergradient
:math:`\partial L/\partial\lambda_S = -\bigl(\rho s + 2(1-\rho)w_S\bigr)\odot H^{-1}\nabla_S L` and 0 off the
support, as long as the support does not change (strict complementarity: every off-support
:math:`|x_j^\top r/n| < \rho\lambda_j`, reported as ``margin``). One solve and one :math:`|S|\times|S|` system per
hypergradient, however many λ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg._checks import check_ratio
from jaxreg.solvers._objective import certifiable_tol
from jaxreg.solvers._paths import elastic_net_path

__all__ = ["ImplicitHypergradient", "solve_weighted_elastic_net", "lasso_hypergradient"]


class ImplicitHypergradient(NamedTuple):
    """What :func:`lasso_hypergradient` returns."""

    loss: float  # the validation loss at w*(λ)
    grad: np.ndarray  # ∂ loss / ∂ λ, the shape of lams (one per feature, per group, or a scalar)
    coef: np.ndarray  # (d,) w*(λ), float64
    support: np.ndarray  # (d,) bool: w*_j ≠ 0
    margin: float  # min over the off-support j of 1 − |x_jᵀr/n| / (ρλ_j): near 0 = at a kink; inf: no such j


def _default_tol(tol: Any, dtype: Any) -> float:
    """``tol``, or the finest relative duality gap ``dtype`` certifies (at least 1e-10)."""
    if tol is None:
        return max(1e-10, certifiable_tol(dtype))
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0:
        raise ValueError(f"tol must be a positive float (the relative duality gap of the solve), got {tol!r}")
    return float(tol)


def _design(x: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (n, d) and ``y`` (n,) as float64 NumPy arrays, checked (``what`` names them in errors)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x_{what} must be (n, d) and y_{what} (n,), got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"x_{what} and y_{what} must be finite (no NaN or inf)")
    return x, y


def _centre_split(x: np.ndarray, y: np.ndarray, x_val: np.ndarray,
                  y_val: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The training rows centred with their means, and the validation rows with the same means: the fit's
    unpenalised intercept :math:`\bar y - \bar x^\top w`, so that a validation residual is the prediction's."""
    mx, my = x.mean(0), y.mean()
    return x - mx, y - my, x_val - mx, y_val - my


def _feature_lams(lams: Any, d: int, groups: np.ndarray | None) -> np.ndarray:
    """λ per feature (d,) from a scalar, a (d,) array, or one λ per group (with ``groups``)."""
    lams = np.asarray(lams, np.float64)
    if not (np.isfinite(lams).all() and (lams > 0).all()):
        raise ValueError(f"lams must be finite and > 0, got min {lams.min() if lams.size else 'n/a'}")
    if groups is not None:
        if lams.shape != (int(groups.max()) + 1,):
            raise ValueError(f"with groups, lams must hold one λ per group, shape ({int(groups.max()) + 1},), got "
                             f"{lams.shape}")
        return lams[groups]
    if lams.ndim == 0 or lams.shape == (d,):
        return np.broadcast_to(lams, (d,)).copy()
    raise ValueError(f"lams must be a scalar, one λ per feature ({d},), or one per group with groups=; got shape "
                     f"{lams.shape}")


def solve_weighted_elastic_net(x: Any, y: Any, lams: Any, *, l1_ratio: float = 1.0, tol: float | None = None,
                               groups: Any = None) -> np.ndarray:
    r"""The weighted elastic net's solution :math:`w^\star(\lambda)` with one λ per feature (module docstring).

    Solved in float64 (whatever ``jax_enable_x64`` says) by :func:`jaxreg.solvers.elastic_net_path` at one λ on
    rescaled (and, for ``l1_ratio < 1``, augmented) columns, then polished: the support's optimality system solved
    exactly.

    Args:
      x: ``(n, d)`` centred design. y: ``(n,)`` centred target.
      lams: λ > 0: a scalar, ``(d,)``, or one per group with ``groups``.
      l1_ratio: ρ ∈ (0, 1].
      tol: the solve's relative duality gap (default 1e-10).
      groups: ``(d,)`` ints in ``[0, G)``: feature j gets ``lams[groups[j]]``.

    Returns:
      ``(d,)`` float64 coefficients, exact zeros off the support.

    Example:
      >>> import numpy as np
      >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])  # XᵀX/n = I/2
      >>> y = np.array([2.0, 1.0, -2.0, -1.0])  # Xᵀy/n = (1, 0.5): w_j = 2 S_{λ_j}(Xᵀy/n)_j
      >>> solve_weighted_elastic_net(x, y, [0.25, 0.6]).round(6).tolist()
      [1.5, 0.0]
    """
    x, y = _design(x, y, "train")
    groups = _check_groups(groups, x.shape[1])
    return _solve(x, y, _feature_lams(lams, x.shape[1], groups), _l1_ratio(l1_ratio), tol)


def _l1_ratio(l1_ratio: Any) -> float:
    check_ratio(l1_ratio, "l1_ratio")
    if not float(l1_ratio) > 0:
        raise ValueError("l1_ratio must be in (0, 1] for the weighted lasso / elastic net (ρ = 0 is ridge, which "
                         "has a closed form: differentiate jnp.linalg.solve directly)")
    return float(l1_ratio)


def _check_groups(groups: Any, d: int) -> np.ndarray | None:
    if groups is None:
        return None
    g = np.asarray(groups)
    if g.shape != (d,) or not np.issubdtype(g.dtype, np.integer) or g.min() < 0:
        raise ValueError(f"groups must be ({d},) non-negative ints (the group of each feature), got "
                         f"{g.dtype} {g.shape}")
    return g


def _solve(x: np.ndarray, y: np.ndarray, lam: np.ndarray, rho: float, tol: Any) -> np.ndarray:
    """:func:`solve_weighted_elastic_net` on checked arguments (``lam`` per feature)."""
    n, d = x.shape
    xa, ya = x, y
    if rho < 1:  # the per-feature ridge part as extra rows: (1/2n)‖D w‖² = Σ (1 − ρ) λ_j w_j²
        xa = np.vstack([x, np.diag(np.sqrt(2 * n * (1 - rho) * lam))])
        ya = np.concatenate([y, np.zeros(d)])
    l1 = rho * lam * n / xa.shape[0]  # the L1 weights after dividing the objective by n'/n
    lam0 = float(np.exp(np.mean(np.log(l1))))  # columns rescaled around 1
    omega = l1 / lam0
    with jax.enable_x64(True):  # rescaled columns need float64 to certify a fine gap (float32 stops near 1e-3)
        v = elastic_net_path(jnp.asarray(xa / omega), jnp.asarray(ya), [lam0], l1_ratio=1.0,
                             tol=_default_tol(tol, np.float64))[0]
    return _polish(x, y, np.asarray(v, np.float64) / omega, lam, rho)


def _polish(x: np.ndarray, y: np.ndarray, w: np.ndarray, lam: np.ndarray, rho: float) -> np.ndarray:
    """The exact solution on the support and signs of ``w``, when it keeps those signs (else ``w`` itself)."""
    support = w != 0
    if not support.any():
        return w
    xs, n = x[:, support], x.shape[0]
    h = xs.T @ xs / n + np.diag(2 * (1 - rho) * lam[support])
    exact = np.linalg.solve(h, xs.T @ y / n - rho * lam[support] * np.sign(w[support]))
    if np.any(np.sign(exact) != np.sign(w[support])):
        return w
    out = np.zeros_like(w)
    out[support] = exact
    return out


def _val_loss_and_grad(x_val: np.ndarray, y_val: np.ndarray, w: np.ndarray,
                       val_loss: Callable | None) -> tuple[float, np.ndarray]:
    """The validation loss at ``w`` and its gradient in ``w``: mean squared error, or ``val_loss(w)`` by JAX."""
    if val_loss is None:
        r = y_val - x_val @ w
        return float(np.mean(r**2)), -2 * x_val.T @ r / len(y_val)
    with jax.enable_x64(True):  # as the solve: float64 whatever the global flag
        value, grad = jax.value_and_grad(val_loss)(jnp.asarray(w, jnp.float64))
    return float(value), np.asarray(grad, np.float64)


def _hypergradient(x, y, x_val, y_val, lam, rho, groups, tol, val_loss, shape) -> ImplicitHypergradient:
    """:func:`lasso_hypergradient` on checked arguments (``lam`` per feature; ``shape`` of the λ asked for)."""
    n = x.shape[0]
    w = _solve(x, y, lam, rho, tol)
    support = w != 0
    loss, g = _val_loss_and_grad(x_val, y_val, w, val_loss)
    grad = np.zeros_like(w)
    if support.any():
        xs = x[:, support]
        h = xs.T @ xs / n + np.diag(2 * (1 - rho) * lam[support])
        grad[support] = -(rho * np.sign(w[support]) + 2 * (1 - rho) * w[support]) * np.linalg.solve(h, g[support])
    corr = np.abs(x[:, ~support].T @ (y - x @ w)) / n
    margin = float(np.min(1 - corr / (rho * lam[~support]))) if (~support).any() else float("inf")
    if groups is not None:
        grad = np.bincount(groups, weights=grad, minlength=shape[0])
    elif shape == ():
        grad = np.asarray(grad.sum())
    return ImplicitHypergradient(loss, grad, w, support, margin)


def lasso_hypergradient(x_train: Any, y_train: Any, x_val: Any, y_val: Any, lams: Any, *, l1_ratio: float = 1.0,
                        groups: Any = None, tol: float | None = None,
                        val_loss: Callable | None = None) -> ImplicitHypergradient:
    r"""The exact hypergradient of a validation loss with respect to a weighted lasso's / elastic net's λ.

    Implicit differentiation at the solution (module docstring): one solve
    (:func:`solve_weighted_elastic_net`) and one :math:`|S|\times|S|` system, whatever the number of λ. Exact
    while the support does not change; where a feature is about to enter (``margin`` near 0) it is one side's
    derivative, and the validation loss has a kink there.

    Args:
      x_train, y_train: the training design ``(n, d)`` and target ``(n,)``, centred here with their means (the
        fit's unpenalised intercept; ``coef`` is its slope).
      x_val, y_val: the validation design ``(m, d)`` and target ``(m,)``, centred here with the training means.
      lams: λ > 0: a scalar (one λ), ``(d,)`` (one per feature), or one per group with ``groups``.
      l1_ratio: ρ ∈ (0, 1]; 1 is the lasso.
      groups: ``(d,)`` ints in ``[0, G)``: feature j's λ is ``lams[groups[j]]``.
      tol: the solve's relative duality gap (default 1e-10; the solve runs in float64).
      val_loss: ``w -> scalar`` in JAX, evaluated and differentiated (``jax.value_and_grad``) in float64; it
        gets the slope ``w`` alone (the intercept is :math:`\bar y - \bar x^\top w`, training means); default the
        mean squared error :math:`\|y_{val} - X_{val}w\|^2/m` of the centred validation rows.

    Returns:
      :class:`ImplicitHypergradient`: ``loss``, ``grad`` (∂ loss / ∂ λ, the shape of ``lams``), ``coef``,
      ``support``, ``margin``.

    Example (orthogonal design: w_j = 2 S_{λ_j}(b_j), b = (1, 0.5); validation target 0 makes L = Σ w_j²/2):
      >>> import numpy as np
      >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
      >>> y = np.array([2.0, 1.0, -2.0, -1.0])
      >>> hg = lasso_hypergradient(x, y, x, np.zeros(4), [0.25, 0.6])   # w = (1.5, 0): dL/dλ_1 = w_1 · (−2)
      >>> hg.grad.round(6).tolist(), hg.support.tolist(), round(hg.margin, 4)
      ([-3.0, 0.0], [True, False], 0.1667)
    """
    x, y = _design(x_train, y_train, "train")
    xv, yv = _design(x_val, y_val, "val")
    if xv.shape[1] != x.shape[1]:
        raise ValueError(f"x_val must have the {x.shape[1]} features of x_train, got {xv.shape[1]}")
    groups = _check_groups(groups, x.shape[1])
    lam = _feature_lams(lams, x.shape[1], groups)
    x, y, xv, yv = _centre_split(x, y, xv, yv)
    return _hypergradient(x, y, xv, yv, lam, _l1_ratio(l1_ratio), groups, tol, val_loss, np.shape(lams))

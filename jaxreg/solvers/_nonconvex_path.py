r"""MCP / SCAD regularization paths of linear least squares, each point stationary to a stated tolerance.

:func:`nonconvex_path` checks the arguments, places the data (:mod:`jaxreg.solvers._design`) and runs the
working-set coordinate descent of :mod:`jaxreg.solvers._nonconvex_cd` along the λ grid, from large to small.
"""

from __future__ import annotations

import contextlib
import numbers
import time
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg.core._nonconvex_prox import MCP_GAMMA_MIN, SCAD_GAMMA_MIN, check_gamma
from jaxreg.engine._devices import device_description
from jaxreg.solvers._blas import one_blas_thread
from jaxreg.solvers._design import design_data, design_entries, gram_fits, place
from jaxreg.solvers._nonconvex_cd import nonconvex_cd_path
from jaxreg.solvers._paths import descending, path_device
from jaxreg.solvers._sparse import column_sq_norms

__all__ = ["nonconvex_path", "NONCONVEX_PENALTIES", "DEFAULT_GAMMA", "curvature_bound"]

#: The penalties :func:`nonconvex_path` solves, with the bound γ must exceed.
NONCONVEX_PENALTIES = {"mcp": MCP_GAMMA_MIN, "scad": SCAD_GAMMA_MIN}
#: γ when none is given: 3 for MCP (Zhang 2010, ncvreg), 3.7 for SCAD (Fan & Li 2001).
DEFAULT_GAMMA = {"mcp": 3.0, "scad": 3.7}
#: The smallest ``tol`` a path in a dtype can claim, in units of its eps: the violation ``Xᵀy/n − Gw`` is a
#: difference of terms of size ``‖Xᵀy/n‖_∞`` whose rounding, recomputed in float64, reaches ~10 eps on
#: standardised n > d designs; 64 eps leaves a margin for larger ``n`` and ``‖w‖``.
TOL_FLOOR_EPS = 64
#: ``tol`` when none is given: this, or the dtype's floor if larger (float32's).
DEFAULT_TOL = 1e-6


def tol_floor(dtype: Any) -> float:
    """The smallest relative violation :func:`nonconvex_path` certifies in ``dtype`` (:data:`TOL_FLOOR_EPS` eps).

    Example:
      >>> f"{tol_floor(np.float32):.1e}", f"{tol_floor(np.float64):.1e}"
      ('7.6e-06', '1.4e-14')
    """
    return TOL_FLOOR_EPS * float(np.finfo(np.dtype(dtype)).eps)


def curvature_bound(penalty: str, gamma: float) -> float:
    r"""The curvature :math:`\lVert x_j\rVert^2/n` every nonzero column must exceed for coordinate descent:
    :math:`1/\gamma` (MCP), :math:`1/(\gamma - 1)` (SCAD). Above it each coordinate's subproblem is strictly
    convex and its minimiser the penalty's threshold.

    Example:
      >>> curvature_bound("mcp", 4.0), curvature_bound("scad", 3.0)
      (0.25, 0.5)
    """
    return 1 / gamma if penalty == "mcp" else 1 / (gamma - 1)


def _check_options(penalty: Any, gamma: Any, tol: Any, max_iter: Any, max_epochs: Any) -> tuple[str, float]:
    """``penalty`` and ``gamma`` (its default for ``None``) checked; the positive numbers too."""
    if not isinstance(penalty, str) or penalty.lower() not in NONCONVEX_PENALTIES:
        raise ValueError(f"penalty must be 'mcp' or 'scad', got {penalty!r}; for the lasso or elastic net use "
                         "jaxreg.solvers.elastic_net_path")
    penalty = penalty.lower()
    gamma = DEFAULT_GAMMA[penalty] if gamma is None else gamma
    if isinstance(gamma, bool) or np.ndim(gamma) != 0:
        raise ValueError(f"gamma must be one float, got {gamma!r}")
    check_gamma(gamma, penalty.upper(), NONCONVEX_PENALTIES[penalty])
    bad_tol = isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0 or not np.isfinite(tol)
    if tol is not None and bad_tol:
        raise ValueError(f"tol must be a positive float (the largest optimality violation, relative to "
                         f"‖Xᵀy/n‖_∞) or None, got {tol!r}")
    for name, value in (("max_iter", max_iter), ("max_epochs", max_epochs)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return penalty, float(gamma)


#: The error for a λ ≤ 0 (:func:`jaxreg.solvers._paths.descending`).
_AT_ZERO = ", got {:g}: at λ = 0 the path is unpenalised least squares (not sparse, not unique for n < d); drop it"


def _with_diag(data: dict, penalty: str, gamma: float) -> dict:
    """``data`` with ``diag(XᵀX/n)``, after checking coordinate descent's condition on every nonzero column."""
    if "gram" in data:
        diag = jnp.diagonal(data["gram"])
    else:
        x = data["x"]
        diag = column_sq_norms(x) / x.shape[0]
    diag_host = np.asarray(diag)
    bound = curvature_bound(penalty, gamma)
    low = np.flatnonzero((diag_host > 0) & (diag_host <= bound))
    if low.size:
        j = int(low[np.argmin(diag_host[low])])
        need = 1 / diag_host[j] + (1 if penalty == "scad" else 0)
        raise ValueError(
            f"gamma={gamma:g} is too small for this design: column {j} has ‖x_j‖²/n = {diag_host[j]:.3g}, and "
            f"{penalty.upper()}'s coordinate descent needs ‖x_j‖²/n > {bound:.3g} for every column (else a "
            f"coordinate's subproblem is not convex); standardise the columns (x / x.std(0): ‖x_j‖²/n = 1) or "
            f"raise gamma above {need:.3g}")
    return dict(data, diag=jnp.maximum(diag, jnp.finfo(diag.dtype).tiny))


def nonconvex_path(x: Any, y: Any, lambdas: Any, *, penalty: str = "mcp", gamma: float | None = None,
                   tol: float | None = None, max_iter: int = 100, max_epochs: int = 1000, device: Any = "auto",
                   return_stats: bool = False) -> Any:
    r"""MCP or SCAD coefficients ``(K, d)`` along a λ grid: stationary points of
    :math:`\frac{1}{2n}\|y - Xw\|^2 + \sum_j \rho_{\lambda,\gamma}(w_j)` (no intercept: centre ``x`` and ``y``).

    ρ is :func:`jaxreg.core.mcp_penalty`'s or :func:`jaxreg.core.scad_penalty`'s, λ inside ρ (skglm's
    ``MCPenalty(alpha=λ, gamma)`` / ``SCAD(alpha=λ, gamma)`` with its ``Quadratic`` datafit). The λ run from large
    to small, the first from ``w = 0`` (the solution from ``‖Xᵀy/n‖_∞`` up), each from the previous solution;
    each is solved by working-set coordinate descent with Newton steps (:mod:`jaxreg.solvers._nonconvex_cd`).

    **Convergence** (the problem is nonconvex: a stationary point, which may depend on the start): each λ stops
    when every coordinate's optimality violation, the distance of :math:`g = X^\top(y - Xw)/n` to the
    subdifferential of ρ (skglm's ``subdiff_distance``), is at most ``tol·‖Xᵀy/n‖_∞``:

    .. math::

       \max\Big(\max_{w_j = 0} (|g_j| - \lambda)_+,\ \max_{w_j \ne 0} |g_j - \rho'(w_j)|\Big)
       \le \mathrm{tol}\,\lVert X^\top y/n\rVert_\infty .

    Coordinate descent needs each coordinate's subproblem convex: :math:`\lVert x_j\rVert^2/n > 1/\gamma`
    (MCP) or :math:`> 1/(\gamma - 1)` (SCAD) for every nonzero column (always so for standardised columns).

    Args:
      x: ``(n, d)`` design: an array or a ``scipy.sparse`` matrix (kept sparse with ``n ≤ d``).
      y: ``(n,)`` target.
      lambdas: 1-D grid of λ > 0, in any order.
      penalty: ``"mcp"`` or ``"scad"``.
      gamma: the concavity γ: > 1 (MCP), > 2 (SCAD); ``None``: 3 (MCP), 3.7 (SCAD).
      tol: the largest violation, relative to ``‖Xᵀy/n‖_∞``; ``None``: 1e-6, or the dtype's floor
        :func:`tol_floor` (64 eps: 7.6e-6 in float32, 1.4e-14 in float64) if larger. A ``tol`` below the floor
        is finer than rounding resolves: it warns and reports ``converged=False``.
      max_iter: outer (working-set) iterations per λ.
      max_epochs: coordinate-descent epochs per working set.
      device: as :func:`jaxreg.solvers.elastic_net_path`'s (``"auto"``: small paths on the CPU).
      return_stats: also return a dict: ``converged`` (every λ), ``lambda_converged`` and ``violations``
        (relative) per λ, ``max_violation``, ``iterations`` and ``epochs`` per λ, ``scale`` (‖Xᵀy/n‖_∞), ``tol_floor``,
        ``capacities``, ``setup_s``, ``compile_s``, ``run_s``, ``device``, ``penalty``, ``gamma``, ``tol``.

    Returns:
      The ``(K, d)`` coefficients in the order of ``lambdas`` (and the stats with ``return_stats``).

    Raises:
      ValueError: a bad ``penalty``, ``gamma`` (also one too small for the design's column norms), ``tol``,
        ``max_iter``, ``max_epochs``, grid, shape, or NaN / inf in ``x`` or ``y``.

    Warns:
      RuntimeWarning: some λ stopped above ``tol`` (``max_iter``, or rounding), or ``tol`` is below the dtype's
        floor; they return with ``converged=False``.

    Example:
      >>> import numpy as np, jaxreg
      >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]) * np.sqrt(2)  # XᵀX/n = I
      >>> y = np.array([2.0, 0.5, -2.0, -0.5]) * np.sqrt(2)  # Xᵀy/n = (2, 0.5): w = firm threshold of it
      >>> print(jaxreg.solvers.nonconvex_path(x, y, [1.0, 0.3], penalty="mcp", gamma=3.0).round(4))
      [[1.5 0. ]
       [2.  0.3]]
    """
    penalty, gamma = _check_options(penalty, gamma, tol, max_iter, max_epochs)
    dev = path_device(device, design_entries(x), DEFAULT_TOL if tol is None else tol)  # (certified: any tol)
    with jax.default_device(dev):
        x, y = place(x, y, dev)
        lam_desc, order = descending(lambdas, x.dtype, _AT_ZERO)
        floor = tol_floor(x.dtype)
        tol = max(DEFAULT_TOL, floor) if tol is None else tol
        t0 = time.perf_counter()
        n, d = x.shape
        data = _with_diag(design_data(x, y, gram=n > d and gram_fits(x), cpu=dev.platform == "cpu",
                                      with_moments=True), penalty, gamma)
        scale = float(jnp.max(jnp.abs(data["xty"])))
        jax.block_until_ready(data)
        setup_s = time.perf_counter() - t0
        with one_blas_thread() if dev.platform == "cpu" else contextlib.nullcontext():  # (small LAPACK solves)
            coefs, stats = nonconvex_cd_path(lam_desc, data, penalty=penalty, gamma=gamma, tol=tol * scale,
                                             max_iter=max_iter, max_epochs=max_epochs)
    stats.update(solver="working_set_cd", penalty=penalty, gamma=gamma, tol=tol, tol_floor=floor, scale=scale,
                 setup_s=setup_s, device=device_description(dev))
    result, stats = _in_callers_order(coefs, stats, order)
    _warn_if_uncertified(stats, result.dtype, len(order))
    return (result, stats) if return_stats else result


def _in_callers_order(coefs: np.ndarray, stats: dict, order: np.ndarray) -> tuple[np.ndarray, dict]:
    """The coefficients and per-λ stats back in the caller's order; violations relative to ``stats["scale"]``,
    and which λ converged."""
    result = np.empty_like(coefs)
    result[order] = coefs
    viols = np.asarray(_reorder(stats["violations"], order)) / max(stats["scale"], np.finfo(np.float64).tiny)
    lam_ok = (viols <= stats["tol"]) & (stats["tol"] >= stats["tol_floor"])  # below the floor: rounding, not a bound
    stats.update(violations=viols.tolist(), max_violation=float(viols.max()), lambda_converged=lam_ok.tolist(),
                 converged=bool(lam_ok.all()), iterations=_reorder(stats["iterations"], order),
                 epochs=_reorder(stats["epochs"], order))
    return result, stats


def _warn_if_uncertified(stats: dict, dtype: Any, k: int) -> None:
    """A ``RuntimeWarning`` at :func:`nonconvex_path`'s caller for a ``tol`` below the dtype's floor, or λ that
    stopped above ``tol``."""
    tol, floor, name = stats["tol"], stats["tol_floor"], np.dtype(dtype).name
    if tol < floor:
        warnings.warn(f"nonconvex_path: tol={tol:g} is below the smallest violation {name} resolves "
                      f"(~{floor:.1e}); the computed violations ({stats['max_violation']:.2g}) are within rounding, "
                      f"and converged is False. Use float64 (jax_enable_x64) or tol >= {floor:.1e}",
                      RuntimeWarning, stacklevel=3)
    elif not stats["converged"]:
        bad = k - sum(stats["lambda_converged"])
        warnings.warn(f"nonconvex_path: {bad} of {k} λ stopped with an optimality violation above tol={tol:g} "
                      f"(largest {stats['max_violation']:.2g}, {name}); raise max_iter / max_epochs, or use float64 "
                      f"(jax_enable_x64) for tol near float32's floor, {tol_floor(np.float32):.1e}",
                      RuntimeWarning, stacklevel=3)


def _reorder(values: np.ndarray, order: np.ndarray) -> list:
    """Per-λ values from the solver's order (large → small) back to the caller's, as a list."""
    out = np.empty_like(values)
    out[order] = values
    return out.tolist()


r"""Is the hypergradient meaningful? Autodiff against central finite differences along a few directions.

Automatic differentiation through training differentiates the computation that ran: where training is a
discontinuous function of λ (the sign step ``add_l1_sign``, the sign part of ``add_elastic_net`` once a weight
crosses zero, a hard threshold), it returns the slope of the smooth piece λ sits on, which can be far from, or of
the other sign than, the slope over the scale a descent moves on. Nothing in an optax chain can be inspected for
this in general, so :func:`check_hypergradient` measures it: along a few distinct unit directions :math:`v` in
log-λ space (each λ on its own when there are no more λ than directions, otherwise orthonormal random ones) it
compares :math:`\nabla f \cdot v` with

.. math::

   \frac{f(\log\lambda + \varepsilon v) - f(\log\lambda - \varepsilon v)}{2\varepsilon}

at every ``eps`` (two scales by default: a discontinuity shows as disagreement at one of them at least). In float32
a trained model's validation loss is rough at small scales (rounding through hundreds of steps, ReLU kinks: about
1e-5 relative on a small MLP), so the steps are larger there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["HypergradientCheck", "check_hypergradient", "directions_matrix", "log_objective", "hypergradient_fn"]

#: Finite-difference steps in log λ for a float64 objective: 1% and 0.1% of λ, the scales a descent moves on.
DEFAULT_EPS = (1e-2, 1e-3)
#: The same for float32 (and lower) objectives, whose values are rough below about 1e-5 relative.
DEFAULT_EPS_FLOAT32 = (3e-2, 1e-2)
#: Slopes below this fraction of |objective| per unit of log λ are too flat to test: near an optimum the
#: roughness of a trained model's loss (ReLU kinks, rounding through the steps) exceeds them.
DEFAULT_ATOL = 5e-2


class HypergradientCheck(NamedTuple):
    """What :func:`check_hypergradient` found: one entry per (eps, direction)."""

    autodiff: np.ndarray  # (directions,) ∇f·v from automatic differentiation, f = objective(exp(log λ))
    finite_difference: np.ndarray  # (len(eps), directions) central differences along each v
    error: np.ndarray  # (len(eps), directions) |autodiff − finite difference| / (scale + floors)
    eps: tuple[float, ...]  # the steps in log λ
    rtol: float  # the relative tolerance each error was held to
    ok: bool  # every error ≤ rtol (and all finite)
    directions: np.ndarray  # (directions, hyperparameters) the unit v, over the leaves of λ flattened in tree order

    def message(self) -> str:
        """A sentence for an error or warning: the worst disagreement and what it means."""
        worst = int(np.nanargmax(np.where(np.isfinite(self.error), self.error, np.inf).max(axis=0)))
        fd = ", ".join(f"{v:.4g} (eps={e:g})" for v, e in zip(self.finite_difference[:, worst], self.eps))
        return (f"the hypergradient from autodiff ({self.autodiff[worst]:.4g} along direction {worst} in log λ) "
                f"disagrees with finite differences {fd} beyond rtol={self.rtol:g}: training is not a smooth "
                "function of λ here (the sign step add_l1_sign, or add_elastic_net's sign part once weights cross "
                "zero, a hard threshold, a discontinuous schedule), so its gradient is the slope of one small "
                "piece, not a descent direction. Use prox_l1 / prox_elastic_net (exact up to kinks) or a smooth "
                "penalty (add_l2_decay), or pass check=False to skip this check")


def log_objective(objective: Callable[[Any], Any], has_aux: bool = False) -> Callable[[Any], Any]:
    """``objective`` of λ as a function of log λ, its value checked to be one number: ``log λ -> value``, or with
    ``has_aux`` ``log λ -> (value, aux)`` (``objective`` returns ``(loss, aux)``, as for ``jax.grad``)."""
    def f(log_lams: Any) -> Any:
        out = objective(jax.tree.map(jnp.exp, log_lams))
        if has_aux and not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"with has_aux=True objective must return a pair (loss, aux), got "
                            f"{type(out).__name__}; return (loss, aux) or drop has_aux=True")
        if not has_aux and isinstance(out, (tuple, list)):
            raise TypeError(f"objective returned a {type(out).__name__} of {len(out)}, not a scalar validation "
                            "loss: return the loss alone, or (loss, aux) with has_aux=True")
        value = out[0] if has_aux else out
        if jnp.ndim(value) != 0:
            raise TypeError(f"objective must return a scalar validation loss, got shape {jnp.shape(value)}; "
                            "reduce it (e.g. .mean())")
        return (value, out[1]) if has_aux else value
    return f


def hypergradient_fn(objective: Callable[[Any], Any], method: str,
                     has_aux: bool = False) -> Callable[[Any], tuple[jax.Array, Any, Any]]:
    """``log λ -> (objective, aux, ∂objective/∂log λ)`` (``aux`` None without ``has_aux``) by reverse mode
    (``"unrolled"``) or forward mode (``"forward"``: one tangent per hyperparameter, memory independent of the
    training length)."""
    f = log_objective(objective, has_aux)
    with_aux = f if has_aux else (lambda p: (f(p), None))
    if method == "unrolled":
        def value_and_grad(log_lams: Any) -> tuple[jax.Array, Any, Any]:
            (value, aux), grad = jax.value_and_grad(with_aux, has_aux=True)(log_lams)
            return value, aux, grad
        return value_and_grad
    if method == "forward":
        def value_and_jac(log_lams: Any) -> tuple[jax.Array, Any, Any]:
            grad, (value, aux) = jax.jacfwd(lambda p: _value_twice(with_aux, p), has_aux=True)(log_lams)
            return value, aux, grad
        return value_and_jac
    raise ValueError(f"method must be 'unrolled' (reverse mode) or 'forward' (forward mode), got {method!r}")


def _value_twice(f: Callable[[Any], tuple[jax.Array, Any]], p: Any) -> tuple[jax.Array, tuple[jax.Array, Any]]:
    """``(value, (value, aux))`` from one evaluation: the value and aux ride along ``jacfwd`` as its aux."""
    value, aux = f(p)
    return value, (value, aux)


def directions_matrix(size: int, n: int, key: int) -> np.ndarray:
    """Distinct unit directions in a ``size``-dimensional log-λ space, one per row, deterministic for ``key``.

    With no more hyperparameters than ``n``, the coordinate directions (every λ checked on its own); otherwise ``n``
    orthonormal directions, the Q of a Gaussian matrix's QR with the signs of R's diagonal made positive (so
    unique). Random signs alone (±1/√size) repeat one direction, up to its sign, more often the fewer λ there are.

    Example:
      >>> directions_matrix(2, 2, key=0).tolist()
      [[1.0, 0.0], [0.0, 1.0]]
      >>> v = directions_matrix(3, 2, key=0)
      >>> np.allclose(v @ v.T, np.eye(2))
      True
    """
    if size <= n:
        return np.eye(size)
    q, r = np.linalg.qr(np.random.default_rng(key).normal(size=(size, n)))
    return (q * np.where(np.diag(r) < 0, -1.0, 1.0)).T


def _as_trees(rows: np.ndarray, like: Any) -> list[Any]:
    """Each row of ``rows`` cut into the leaves of ``like`` (shapes and dtypes), as trees like it."""
    leaves, treedef = jax.tree.flatten(like)
    out = []
    for row in rows:
        parts, start = [], 0
        for x in leaves:
            k = int(np.size(x))
            parts.append(jnp.asarray(row[start:start + k].reshape(np.shape(x)), jnp.result_type(x)))
            start += k
        out.append(jax.tree.unflatten(treedef, parts))
    return out


def check_hypergradient(objective: Callable[[Any], Any], lams: Any, *, eps: Any = None, rtol: float = 0.1,
                        atol: float = DEFAULT_ATOL, directions: int = 2, method: str = "unrolled",
                        key: int = 0, has_aux: bool = False) -> HypergradientCheck:
    r"""Compare the hypergradient of ``objective`` at ``lams`` with central finite differences in log λ.

    For each unit direction :math:`v` (:func:`directions_matrix`: every λ on its own when there are at most
    ``directions`` of them, otherwise ``directions`` orthonormal random directions) and each
    step :math:`\varepsilon` in ``eps``, the error is

    .. math::

       \frac{|\nabla f\cdot v - \Delta_\varepsilon f|}{\max(|\nabla f\cdot v|, |\Delta_\varepsilon f|)
       + 8\,\epsilon_{\text{mach}}|f|/\varepsilon}

    with :math:`f(\log\lambda) =` ``objective(λ)``; the second term of the denominator is the rounding floor of the
    difference quotient, so a hypergradient that is zero within rounding passes. It passes when every error is
    ≤ ``rtol``. Cost: one hypergradient and ``2 · len(eps) · m`` evaluations of ``objective``, ``m`` =
    min(``directions``, the number of λ), whatever the number of hyperparameters. A pass is evidence, not proof:
    a discontinuity farther than ``eps`` away, or along none of the directions, goes unseen.

    Args:
      objective: ``objective(lams) -> scalar`` validation loss (the user trains inside it).
      lams: λ > 0, a pytree (scalar, per leaf, per group, per coordinate).
      eps: steps in log λ (``1e-2`` moves λ by 1%); default :data:`DEFAULT_EPS` for a float64 objective,
        :data:`DEFAULT_EPS_FLOAT32` otherwise.
      rtol: the largest relative disagreement accepted.
      atol: the flatness floor, a fraction of |objective| per unit of log λ.
      directions: how many directions (at most one per hyperparameter: fewer λ, fewer directions).
      method: ``"unrolled"`` (reverse mode) or ``"forward"``.
      key: seed of the directions.
      has_aux: ``objective`` returns ``(loss, aux)``; the aux is ignored here.

    Returns:
      A :class:`HypergradientCheck`; ``ok`` says whether it passed, :meth:`~HypergradientCheck.message` why not.

    Example:
      >>> import jax.numpy as jnp
      >>> check_hypergradient(lambda lam: (lam - 2.0) ** 2, jnp.float32(1.0)).ok
      True
      >>> check_hypergradient(lambda lam: jnp.floor(4 * lam) + lam, jnp.float32(1.1), eps=(0.1,)).ok   # a step
      False
    """
    if eps is not None:
        eps = tuple(float(e) for e in np.atleast_1d(eps))
        if not eps or not all(np.isfinite(e) and e > 0 for e in eps):
            raise ValueError(f"eps must be positive steps in log λ, e.g. (1e-2, 1e-3), got {eps!r}")
    if isinstance(directions, bool) or not isinstance(directions, int) or directions < 1:
        raise ValueError(f"directions must be an int >= 1, got {directions!r}")
    if not (isinstance(atol, (int, float)) and atol >= 0 and isinstance(rtol, (int, float)) and rtol > 0):
        raise ValueError(f"rtol must be > 0 and atol >= 0, got rtol={rtol!r}, atol={atol!r}")
    log_lams = jax.tree.map(lambda x: jnp.log(jnp.asarray(x)), lams)
    value_only = log_objective(objective if not has_aux else (lambda lam: objective(lam)[0]))
    f = jax.jit(value_only)
    value, _, grad = jax.jit(hypergradient_fn(objective, method, has_aux))(log_lams)
    if eps is None:
        eps = DEFAULT_EPS if jnp.finfo(jnp.result_type(value)).bits >= 64 else DEFAULT_EPS_FLOAT32
    size = sum(int(np.size(x)) for x in jax.tree.leaves(log_lams))
    unit = directions_matrix(size, directions, key)
    dirs = _as_trees(unit, log_lams)
    ad = np.array([float(sum(jnp.vdot(g, v) for g, v in zip(jax.tree.leaves(grad), jax.tree.leaves(d))))
                   for d in dirs])
    fd = np.array([[(float(f(_shift(log_lams, d, e))) - float(f(_shift(log_lams, d, -e)))) / (2 * e) for d in dirs]
                   for e in eps])
    scale = abs(float(value))
    floor = atol * scale + 8 * float(jnp.finfo(jnp.result_type(value)).eps) * scale / np.array(eps)[:, None]
    diff = np.abs(ad - fd)
    with np.errstate(invalid="ignore", divide="ignore"):  # (equal values, both 0 on a flat objective: error 0)
        error = np.where(diff == 0, 0.0, diff / (np.maximum(np.abs(ad), np.abs(fd)) + floor))
    ok = bool(np.all(np.isfinite(error)) and np.all(error <= rtol))
    return HypergradientCheck(ad, fd, error, eps, float(rtol), ok, unit)


def _shift(log_lams: Any, direction: Any, step: float) -> Any:
    return jax.tree.map(lambda x, v: x + step * v, log_lams, direction)

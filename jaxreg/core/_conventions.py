r"""Converters between jaxreg's λ and other libraries' conventions.

jaxreg minimises :math:`L(W) = c_{ours}\,D(W) + \lambda R(W)` with
:math:`R_{l2} = \sum w^2`, :math:`R_{l1} = \sum |w|`,
:math:`R_{en} = \rho R_{l1} + (1-\rho) R_{l2}` (no ½ anywhere). λ only means
something together with the scaling :math:`c_{ours}` of the data term, so
every converter takes ``loss=``, the scaling *your* data loss uses:

=============  ==========================================  ==============
``loss``       data term                                   family
=============  ==========================================  ==============
``half_mse``   :math:`\frac{1}{2n}\|y - Xw\|^2` (default)    least squares
``mse``        :math:`\frac{1}{n}\|y - Xw\|^2`               least squares
``half_sse``   :math:`\frac12\|y - Xw\|^2`                   least squares
``sse``        :math:`\|y - Xw\|^2`                          least squares
``mean``       :math:`\frac1n\sum_i \ell_i` (mean log-loss)  classification
``sum``        :math:`\sum_i \ell_i`                         classification
=============  ==========================================  ==============

The other libraries' objectives (the scaling each assumes):

* optax ``add_decayed_weights(wd)`` adds ``wd·w`` to the gradient:
  ``wd = 2λ`` for L2 (independent of the loss).
* scikit-learn ``Lasso``/``ElasticNet(alpha, l1_ratio)``:
  :math:`\frac{1}{2n}\|y-Xw\|^2 + \alpha\rho_s\|w\|_1 + \frac{\alpha(1-\rho_s)}{2}\|w\|^2`.
* scikit-learn ``Ridge(alpha)``: :math:`\|y-Xw\|^2 + \alpha\|w\|^2` (unnormalised).
* scikit-learn ``LogisticRegression(C, penalty)``:
  :math:`C\sum_i\ell_i + \tfrac12\|w\|^2` (``"l2"``), :math:`C\sum_i\ell_i + \|w\|_1`
  (``"l1"``), :math:`C\sum_i\ell_i + \rho_s\|w\|_1 + \frac{1-\rho_s}{2}\|w\|^2`
  (``"elasticnet"``).
* glmnet ``(lambda, alpha)``, gaussian family:
  :math:`\frac{1}{2n}\|y-Xw\|^2 + \lambda[\frac{1-\alpha}{2}\|w\|^2 + \alpha\|w\|_1]`;
  binomial/multinomial: :math:`\frac1n\sum_i\ell_i + \lambda[\ldots]`. (glmnet
  standardises ``x`` by default; convert with the same design you train on.)

Matching the two objectives up to a positive factor
:math:`k = c_{ours}/c_{theirs}` gives, for an elastic-net-shaped penalty
:math:`\alpha[\rho_s\|w\|_1 + \frac{1-\rho_s}{2}\|w\|^2]`:

.. math::

   \lambda = k\alpha\frac{1 + \rho_s}{2}, \qquad \rho = \frac{2\rho_s}{1 + \rho_s}.

``n_samples`` is needed exactly when one side is per-sample (mean) and the
other is not. All functions work elementwise on floats, NumPy or JAX arrays
(grids) and tracers.
"""

from __future__ import annotations

from typing import Any

from jaxreg._checks import check_hyperparam, check_ratio, is_traced

__all__ = [
    "LOSS_SCALINGS",
    "from_glmnet",
    "from_optax_weight_decay",
    "from_sklearn_elastic_net",
    "from_sklearn_lasso",
    "from_sklearn_logistic",
    "from_sklearn_ridge",
    "to_glmnet",
    "to_optax_weight_decay",
    "to_sklearn_elastic_net",
    "to_sklearn_lasso",
    "to_sklearn_logistic",
    "to_sklearn_ridge",
]

#: ``loss`` name -> (coefficient, power of n) of the data term, on the SSE / summed-loss scale.
LOSS_SCALINGS: dict[str, tuple[float, int]] = {
    "half_mse": (0.5, -1),
    "mse": (1.0, -1),
    "half_sse": (0.5, 0),
    "sse": (1.0, 0),
    "mean": (1.0, -1),
    "sum": (1.0, 0),
}
_LEAST_SQUARES = ("half_mse", "mse", "half_sse", "sse")
_CLASSIFICATION = ("mean", "sum")


def _ratio(loss: str, theirs: tuple[float, int], n_samples: Any, allowed: tuple[str, ...]) -> Any:
    """k = c_ours / c_theirs for the data term."""
    if loss not in allowed:
        raise ValueError(f"loss must be one of {', '.join(allowed)} here, got {loss!r}")
    coef, power = LOSS_SCALINGS[loss]
    t_coef, t_power = theirs
    k = coef / t_coef
    if power != t_power:
        if n_samples is None:
            raise ValueError(
                f"n_samples is required: loss={loss!r} and the other library's objective "
                "differ by a factor of n (one is a mean, the other a sum)"
            )
        if not is_traced(n_samples) and not (float(n_samples) >= 1):
            raise ValueError(f"n_samples must be a positive number of samples, got {n_samples!r}")
        k = k * n_samples ** (power - t_power)
    return k


def _enet_to_ours(k, alpha, rho_s):
    return k * alpha * (1 + rho_s) / 2, 2 * rho_s / (1 + rho_s)


def _ours_to_enet(k, lam, rho):
    rho_s = rho / (2 - rho)
    return lam / (k * (1 + rho_s) / 2), rho_s


def to_optax_weight_decay(lam: Any) -> Any:
    r"""optax ``add_decayed_weights`` rate for L2 strength λ: :math:`wd = 2\lambda`.

    optax adds ``wd·w`` to the update; the gradient of :math:`\lambda\sum w^2` is
    :math:`2\lambda w`, whatever the data loss.

    Example:
      >>> import jaxreg
      >>> jaxreg.to_optax_weight_decay(1e-4)
      0.0002
    """
    check_hyperparam(lam, "lam", scalar=False)
    return 2 * lam


def from_optax_weight_decay(weight_decay: Any) -> Any:
    r"""L2 strength λ equivalent to optax ``add_decayed_weights(weight_decay)``: :math:`\lambda = wd/2`.

    Example:
      >>> import jaxreg
      >>> jaxreg.from_optax_weight_decay(2e-4)
      0.0001
    """
    check_hyperparam(weight_decay, "weight_decay", scalar=False)
    return weight_decay / 2


def from_sklearn_elastic_net(
    alpha: Any, l1_ratio: Any, *, loss: str = "half_mse", n_samples: Any = None
) -> tuple[Any, Any]:
    r"""``(lam, l1_ratio)`` for jaxreg's elastic net from sklearn ``ElasticNet(alpha, l1_ratio)``.

    With the default ``loss="half_mse"`` (sklearn's own data term),
    :math:`\lambda = \alpha(1+\rho_s)/2` and :math:`\rho = 2\rho_s/(1+\rho_s)`.

    Example:
      >>> from jaxreg import from_sklearn_elastic_net
      >>> from_sklearn_elastic_net(0.1, 0.5)
      (0.07500000000000001, 0.6666666666666666)
    """
    check_hyperparam(alpha, "alpha", scalar=False)
    check_ratio(l1_ratio, "l1_ratio")
    k = _ratio(loss, LOSS_SCALINGS["half_mse"], n_samples, _LEAST_SQUARES)
    return _enet_to_ours(k, alpha, l1_ratio)


def to_sklearn_elastic_net(
    lam: Any, l1_ratio: Any, *, loss: str = "half_mse", n_samples: Any = None
) -> tuple[Any, Any]:
    r"""Inverse of :func:`from_sklearn_elastic_net`: ``(alpha, l1_ratio)`` for sklearn.

    With ``loss="half_mse"``, :math:`\rho_s = \rho/(2 - \rho)` and
    :math:`\alpha = 2\lambda/(1 + \rho_s)`.

    Example:
      >>> from jaxreg import to_sklearn_elastic_net
      >>> to_sklearn_elastic_net(0.75, 0.5)
      (1.125, 0.3333333333333333)
    """
    check_hyperparam(lam, "lam", scalar=False)
    check_ratio(l1_ratio, "l1_ratio")
    k = _ratio(loss, LOSS_SCALINGS["half_mse"], n_samples, _LEAST_SQUARES)
    return _ours_to_enet(k, lam, l1_ratio)


def from_sklearn_lasso(alpha: Any, *, loss: str = "half_mse", n_samples: Any = None) -> Any:
    r"""L1 strength λ from sklearn ``Lasso(alpha)``: :math:`\lambda = \alpha` for ``loss="half_mse"``.

    sklearn minimises :math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\|w\|_1`; with another data
    term the factor between the two (``2α`` for ``"mse"``) carries over to λ.

    Example:
      >>> import jaxreg
      >>> jaxreg.from_sklearn_lasso(0.1), jaxreg.from_sklearn_lasso(0.1, loss="mse")
      (0.1, 0.2)
    """
    return from_sklearn_elastic_net(alpha, 1.0, loss=loss, n_samples=n_samples)[0]


def to_sklearn_lasso(lam: Any, *, loss: str = "half_mse", n_samples: Any = None) -> Any:
    """Inverse of :func:`from_sklearn_lasso`: sklearn's ``alpha`` for λ.

    Example:
      >>> import jaxreg
      >>> jaxreg.to_sklearn_lasso(0.2, loss="mse")
      0.1
    """
    return to_sklearn_elastic_net(lam, 1.0, loss=loss, n_samples=n_samples)[0]


def from_sklearn_ridge(alpha: Any, *, loss: str = "half_mse", n_samples: Any = None) -> Any:
    r"""L2 strength λ from sklearn ``Ridge(alpha)`` (objective :math:`\|y - Xw\|^2 + \alpha\|w\|^2`).

    :math:`\lambda = \alpha/(2n)` for ``loss="half_mse"``, :math:`\alpha/n` for ``"mse"``,
    :math:`\alpha` for ``"sse"``; ``n_samples`` is needed for the per-sample losses.

    Example:
      >>> import jaxreg
      >>> jaxreg.from_sklearn_ridge(1.0, n_samples=100), jaxreg.from_sklearn_ridge(2.0, loss="sse")
      (0.005, 2.0)
    """
    check_hyperparam(alpha, "alpha", scalar=False)
    return _ratio(loss, LOSS_SCALINGS["sse"], n_samples, _LEAST_SQUARES) * alpha


def to_sklearn_ridge(lam: Any, *, loss: str = "half_mse", n_samples: Any = None) -> Any:
    """Inverse of :func:`from_sklearn_ridge`: sklearn's ``alpha`` for λ.

    Example:
      >>> import jaxreg
      >>> jaxreg.to_sklearn_ridge(0.005, n_samples=100)
      1.0
    """
    check_hyperparam(lam, "lam", scalar=False)
    return lam / _ratio(loss, LOSS_SCALINGS["sse"], n_samples, _LEAST_SQUARES)


_LOGISTIC_PENALTIES = ("l1", "l2", "elasticnet")


def _logistic_rho_s(penalty: str | None, l1_ratio: Any) -> Any:
    if penalty is None:  # sklearn >= 1.8: the penalty is set by l1_ratio alone (default 0 = L2)
        return 0.0 if l1_ratio is None else check_ratio(l1_ratio, "l1_ratio")
    if penalty not in _LOGISTIC_PENALTIES:
        raise ValueError(f"penalty must be one of {', '.join(_LOGISTIC_PENALTIES)}, got {penalty!r}")
    if penalty == "elasticnet":
        if l1_ratio is None:
            raise ValueError("l1_ratio is required when penalty='elasticnet'")
        return check_ratio(l1_ratio, "l1_ratio")
    return 1.0 if penalty == "l1" else 0.0


def from_sklearn_logistic(
    C: Any,
    *,
    penalty: str | None = None,
    l1_ratio: Any = None,
    loss: str = "mean",
    n_samples: Any = None,
) -> tuple[Any, Any]:
    r"""``(lam, l1_ratio)`` from sklearn ``LogisticRegression(C=C, l1_ratio=...)``.

    sklearn minimises :math:`C\sum_i\ell_i + \rho_s\|w\|_1 + \frac{1-\rho_s}{2}\|w\|^2`
    with ρ_s its ``l1_ratio`` (default 0). The older ``penalty=`` argument
    (``"l1"``: ρ_s = 1, ``"l2"``: 0, ``"elasticnet"``: ``l1_ratio``) is
    accepted too. With ``loss="mean"``:
    ``"l2"`` gives ``λ = 1/(2nC)`` (ρ = 0), ``"l1"`` gives ``λ = 1/(nC)`` (ρ = 1).
    ``n_samples`` is required for ``loss="mean"``.

    Example:
      >>> import jaxreg
      >>> jaxreg.from_sklearn_logistic(1.0, n_samples=100)   # L2: 1/(2nC)
      (0.005, 0.0)
      >>> jaxreg.from_sklearn_logistic(1.0, l1_ratio=1.0, n_samples=100)   # L1: 1/(nC)
      (0.01, 1.0)
    """
    check_hyperparam(C, "C", scalar=False)
    if not is_traced(C):
        import numpy as np

        if np.any(np.asarray(C) <= 0):
            raise ValueError(f"C must be > 0 (it is an inverse regularization strength), got {C!r}")
    rho_s = _logistic_rho_s(penalty, l1_ratio)
    # sklearn's objective divided by C: data term Σℓ (scale 1, power 0), penalty strength 1/C.
    k = _ratio(loss, LOSS_SCALINGS["sum"], n_samples, _CLASSIFICATION)
    return _enet_to_ours(k, 1 / C, rho_s)


def to_sklearn_logistic(
    lam: Any,
    *,
    l1_ratio: Any = 0.0,
    loss: str = "mean",
    n_samples: Any = None,
) -> tuple[Any, str, Any]:
    """Inverse of :func:`from_sklearn_logistic`: ``(C, penalty, sklearn_l1_ratio)``.

    ``penalty`` is ``"l2"`` for ρ = 0, ``"l1"`` for ρ = 1 and ``"elasticnet"``
    otherwise (ρ must then be concrete). λ must be > 0 (C = ∞ otherwise).

    Example:
      >>> import jaxreg
      >>> jaxreg.to_sklearn_logistic(0.005, n_samples=100)
      (1.0, 'l2', 0.0)
    """
    check_hyperparam(lam, "lam", scalar=False)
    check_ratio(l1_ratio, "l1_ratio")
    k = _ratio(loss, LOSS_SCALINGS["sum"], n_samples, _CLASSIFICATION)
    inv_c, rho_s = _ours_to_enet(k, lam, l1_ratio)
    penalty = "elasticnet"
    if not is_traced(l1_ratio):
        penalty = {0.0: "l2", 1.0: "l1"}.get(float(l1_ratio), "elasticnet")
    return 1 / inv_c, penalty, rho_s


def _glmnet_scale(family: str) -> tuple[tuple[float, int], tuple[str, ...]]:
    if family == "gaussian":
        return LOSS_SCALINGS["half_mse"], _LEAST_SQUARES
    if family in ("binomial", "multinomial"):
        return LOSS_SCALINGS["mean"], _CLASSIFICATION
    raise ValueError(f"family must be 'gaussian', 'binomial' or 'multinomial', got {family!r}")


def from_glmnet(
    lambda_: Any,
    alpha: Any = 1.0,
    *,
    family: str = "gaussian",
    loss: str | None = None,
    n_samples: Any = None,
) -> tuple[Any, Any]:
    """``(lam, l1_ratio)`` from glmnet's ``(lambda, alpha)``.

    ``loss`` defaults to glmnet's own data term for the family (``"half_mse"``
    for gaussian, ``"mean"`` for binomial/multinomial), where ``λ`` and ρ are
    :math:`\\lambda_g(1+\\alpha_g)/2` and :math:`2\\alpha_g/(1+\\alpha_g)`
    (glmnet's lasso, ``alpha = 1``: the same λ).

    Example:
      >>> import jaxreg
      >>> jaxreg.from_glmnet(0.1), jaxreg.from_glmnet(0.1, 0.5)
      ((0.1, 1.0), (0.07500000000000001, 0.6666666666666666))
    """
    check_hyperparam(lambda_, "lambda_", scalar=False)
    check_ratio(alpha, "alpha")
    theirs, allowed = _glmnet_scale(family)
    loss = loss or ("half_mse" if family == "gaussian" else "mean")
    return _enet_to_ours(_ratio(loss, theirs, n_samples, allowed), lambda_, alpha)


def to_glmnet(
    lam: Any,
    l1_ratio: Any = 1.0,
    *,
    family: str = "gaussian",
    loss: str | None = None,
    n_samples: Any = None,
) -> tuple[Any, Any]:
    """Inverse of :func:`from_glmnet`: ``(lambda, alpha)`` for glmnet.

    Example:
      >>> import jaxreg
      >>> jaxreg.to_glmnet(0.1)   # the lasso: glmnet's alpha = 1
      (0.1, 1.0)
    """
    check_hyperparam(lam, "lam", scalar=False)
    check_ratio(l1_ratio, "l1_ratio")
    theirs, allowed = _glmnet_scale(family)
    loss = loss or ("half_mse" if family == "gaussian" else "mean")
    return _ours_to_enet(_ratio(loss, theirs, n_samples, allowed), lam, l1_ratio)

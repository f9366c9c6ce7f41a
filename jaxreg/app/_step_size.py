r"""The command's default step size (no ``--lr``): 1/L from the data, so that no model diverges.

Gradient descent on a loss whose gradient is L-Lipschitz is stable for a step
:math:`\alpha < 2/L`; the default is :math:`\alpha = 1/L`, half that bound, so that an
estimate of L that is up to 2× low still gives a stable step. Per model and penalty:

* **linear / logistic** (sgd): L is exact, from the features :math:`\tilde X = [X, 1]`
  (the intercept's column) and the loss weights :math:`\omega` (1/n, or a CV fold's):

  .. math::
      L = c\,\lambda_{\max}\bigl(\tilde X^\top \operatorname{diag}(\omega)\, \tilde X\bigr),\qquad
      c = 1 \text{ (half MSE)},\
      \tfrac12 \text{ (softmax cross-entropy: } \nabla^2 \operatorname{lse} \preceq \tfrac12 I)

  the largest over the CV folds. With minibatches of ``b`` of the ``n`` samples (with CV, of a
  fold's ``n`` training rows, which are all its minibatches are drawn from), L is the
  expected smoothness of sampling without replacement (Gower et al., 2019),
  :math:`L_b = \frac{n(b-1)}{b(n-1)} L + \frac{n-b}{b(n-1)} L_{\max}` with
  :math:`L_{\max} = c \max_i \lVert \tilde x_i \rVert^2`, the one-sample constant.
* **MLP** (sgd): the largest Hessian eigenvalue (in magnitude) of the data loss at the first
  seed's initialisation, by power iteration on Hessian-vector products, times the factor
  :math:`L_b / L` that minibatches and folds give the linear model on the same features. A
  network's curvature changes as it trains; gradient descent keeps it near :math:`2/\alpha`
  rather than diverging, and the factor 2 of :math:`1/L` leaves room for the rise.
* **penalties**: ``l2`` adds its curvature :math:`2\lambda_{\max}` (the grid's largest λ), so
  :math:`\alpha = 1/(L + 2\lambda_{\max})`. ``l1`` (the sign step) adds nothing: its
  :math:`\alpha\lambda\,\operatorname{sign}(w)` moves a weight by a bounded amount and cannot
  make the iteration grow. ``l1_prox``, ``elastic_net`` and ``group`` are proximal gradient
  (ISTA) steps, stable for :math:`\alpha \le 1/L` whatever λ: the prox is non-expansive.
* **adam** divides each coordinate's step by its gradient's RMS, so curvature does not set
  its step: :data:`ADAM_LEARNING_RATE`.

The step is rounded down to :data:`SIGNIFICANT_DIGITS` digits: printable, the same in every
process of a distributed job, and never larger than the rule's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from jaxreg import models

__all__ = ["StepSize", "data_curvature", "default_step_size", "ADAM_LEARNING_RATE"]

#: adam's default step: each weight moves by at most about this much a step, so a standardised-data
#: weight of order 1 is reachable in the command's default 300 steps and none of the bundled
#: datasets × models × penalties diverges (tests/test_selection.py runs them).
ADAM_LEARNING_RATE = 0.01
#: Power-iteration steps for the MLP's curvature (and for a Gram matrix too large to diagonalise).
POWER_ITERATIONS = 30
#: Features (+1 for the intercept) up to which the Gram matrix is diagonalised exactly.
GRAM_MAX_FEATURES = 2048
#: The default step keeps this many significant digits, rounded down.
SIGNIFICANT_DIGITS = 3
#: The loss's curvature factor c: half MSE has Hessian X̃ᵀΩX̃; the softmax cross-entropy at most half of it.
_LOSS_CURVATURE = {"regression": 1.0, "classification": 0.5}


class StepSize(NamedTuple):
    """The default step of one penalty and how it was derived (``summary.json`` records both)."""

    learning_rate: float  # α, rounded down to SIGNIFICANT_DIGITS
    curvature: float  # L of the data loss (minibatches and folds included); NaN for adam
    rule: str  # the formula, in words


def _top_eigenvalue(matvec, dim: int, iterations: int = POWER_ITERATIONS) -> float:
    """The largest |eigenvalue| of a symmetric operator by power iteration from a fixed start."""
    v = np.random.default_rng(0).normal(size=dim)
    estimate = 0.0
    for _ in range(iterations):
        v /= np.linalg.norm(v)
        w = matvec(v)
        estimate = abs(float(v @ w))
        v = w
        if not np.any(v):
            return 0.0
    return estimate


def _gram_eigenvalue(x: np.ndarray, weights: np.ndarray) -> float:
    """:math:`\\lambda_{\\max}(\\tilde X^\\top \\operatorname{diag}(\\omega) \\tilde X)`, ``x`` already with the ones
    column."""
    if x.shape[1] <= GRAM_MAX_FEATURES:
        return float(np.linalg.eigvalsh((x * weights[:, None]).T @ x)[-1])
    return _top_eigenvalue(lambda v: x.T @ (weights * (x @ v)), x.shape[1])


def _expected_smoothness(full: float, one_sample: float, n: int, batch: int | None) -> float:
    """:math:`L_b` of sampling ``batch`` of ``n`` without replacement (Gower et al., 2019)."""
    if batch is None or batch >= n or n < 2:
        return full
    return n * (batch - 1) / (batch * (n - 1)) * full + (n - batch) / (batch * (n - 1)) * one_sample


def _linear_curvature(ds, batch_size: int | None, fold_masks: np.ndarray | None) -> tuple[float, float]:
    """``(L on the whole training split, L of the worst fold with minibatches)`` of the linear model."""
    x = np.asarray(ds.x_train, np.float64)
    x = np.hstack([x, np.ones((len(x), 1))])
    c = _LOSS_CURVATURE[ds.task]
    n = len(x)
    full = c * _gram_eigenvalue(x, np.full(n, 1.0 / n))
    train_sets = [np.ones(n, bool)] if fold_masks is None else [~np.asarray(m, bool) for m in fold_masks]
    worst = 0.0
    for keep in train_sets:
        n_f = int(keep.sum())
        weights = keep / n_f
        fold = c * _gram_eigenvalue(x, weights)
        one_sample = c * float(np.max(np.sum(x[keep] ** 2, axis=1)))
        # minibatches are drawn from the fold's n_f training rows only (fit's sample_mask)
        worst = max(worst, _expected_smoothness(fold, one_sample, n_f, batch_size))
    return full, worst


def _mlp_curvature(ds, hidden: int) -> float:
    """Largest |eigenvalue| of the MLP's data-loss Hessian at the first seed's initialisation."""
    k_init, _ = jax.random.split(jax.random.key(0))  # the runner's split of seed 0's key
    params = models.init_params("mlp", k_init, ds.n_features, ds.n_outputs, hidden=hidden)
    x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    grad = jax.grad(lambda p: models.reference_loss(ds.task, unravel(p), x, y))
    hvp = jax.jit(lambda v: jax.jvp(grad, (flat,), (v,))[1])
    return _top_eigenvalue(lambda v: np.asarray(hvp(jnp.asarray(v, flat.dtype)), np.float64), flat.size)


def data_curvature(ds, model: str, *, hidden: int = 64, batch_size: int | None = None,
                   fold_masks: np.ndarray | None = None) -> float:
    r"""L, the Lipschitz constant of the data loss's gradient, as the module's rules estimate it.

    Args:
      ds: the :class:`~jaxreg.app.Dataset` (its training split).
      model: ``"linear"``, ``"logistic"`` or ``"mlp"``.
      hidden: the MLP's hidden units.
      batch_size: minibatch size (``None``: full batch).
      fold_masks: ``(folds, n)`` held-out masks of cross-validation, or ``None``.

    Example:
      >>> from jaxreg.app import load_dataset
      >>> ds = load_dataset("diabetes")
      >>> round(data_curvature(ds, "linear"), 2), round(data_curvature(ds, "linear", batch_size=32), 2)
      (4.14, 5.42)
    """
    full, worst = _linear_curvature(ds, batch_size, fold_masks)
    if model != "mlp":
        return worst
    return _mlp_curvature(ds, hidden) * (worst / full if full > 0 else 1.0)


def _round_down(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(value)))
    return math.floor(value * scale) / scale


def default_step_size(penalty: str, curvature: float, lambda_max: float, optimizer: str = "sgd") -> StepSize:
    r"""The default step of ``penalty`` on data of curvature ``curvature`` (L) for a grid up to ``lambda_max``.

    .. math::
        \alpha = \frac{1}{L + 2\lambda_{\max}}\ (\texttt{l2}),\qquad \alpha = \frac1L\ (\text{other penalties}),
        \qquad \alpha = 0.01\ (\texttt{adam})

    Example:
      >>> default_step_size("l2", 4.0, 0.5).learning_rate, default_step_size("l1_prox", 4.0, 0.5).learning_rate
      (0.2, 0.25)
    """
    if optimizer == "adam":
        return StepSize(ADAM_LEARNING_RATE, float("nan"), "adam: a fixed step (ADAM_LEARNING_RATE)")
    if penalty == "l2":
        return StepSize(_round_down(1.0 / (curvature + 2.0 * lambda_max)), curvature, "1/(L + 2·λ_max)")
    return StepSize(_round_down(1.0 / curvature), curvature, "1/L")

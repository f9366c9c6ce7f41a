r"""Proximal SGD: the step size given once, to the gradient step and to the proximal step alike.

A proximal transform (:func:`jaxreg.prox_l1` and its kin) must threshold with the step size the optimizer
used; passing it twice (``optax.sgd(schedule)`` then ``prox_l1(lam, 0.1)``) silently thresholds with the wrong
α when the two differ. :func:`proximal_sgd` owns both.

With an adaptive optimizer (Adam, RMSProp) the effective step differs per coordinate and no single α is exact;
the usual heuristic is to pass the optimizer's base learning rate, which makes the threshold ``α·λ`` per step
(docs/conventions.md discusses it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optax

from jaxreg._checks import check_schedule_or_scalar

__all__ = ["proximal_sgd"]


def proximal_sgd(
    learning_rate: Any,
    prox: Callable[[Any], optax.GradientTransformation],
    *,
    momentum: float | None = None,
    nesterov: bool = False,
) -> optax.GradientTransformation:
    r"""``optax.sgd(α)`` followed by ``prox(α)``: ISTA (proximal gradient descent) with α given once.

    Each step moves ``w`` to :math:`\operatorname{prox}_{\alpha\lambda R}(w - \alpha g)` (with momentum, the
    gradient step uses the momentum buffer instead of ``g``).

    Args:
      learning_rate: α, a float or an optax schedule (both steps then count from 0 together).
      prox: a function of the learning rate returning the proximal transform, e.g.
        ``lambda lr: jaxreg.prox_l1(0.1, lr, mask=jaxreg.weights_mask)``.
      momentum, nesterov: as in ``optax.sgd``.

    Returns:
      An :class:`optax.GradientTransformation` (a chain of the two).

    Example:
      >>> import jax.numpy as jnp, optax, jaxreg
      >>> schedule = optax.linear_schedule(0.2, 0.1, 10)
      >>> opt = jaxreg.proximal_sgd(schedule, lambda lr: jaxreg.prox_l1(0.5, lr))
      >>> w = jnp.array([10.0, -0.01, 0.09])
      >>> u, _ = opt.update(jnp.zeros(3), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # threshold α·λ = 0.2 · 0.5 at step 0
      [9.9 0.  0. ]
    """
    check_schedule_or_scalar(learning_rate, "learning_rate")
    if not callable(prox):
        raise TypeError(
            "prox must be a function of the learning rate returning a proximal transform, e.g. "
            f"lambda lr: jaxreg.prox_l1(0.1, lr); got {prox!r}"
        )
    tail = prox(learning_rate)
    if not isinstance(tail, optax.GradientTransformation):
        raise TypeError(f"prox(learning_rate) must return an optax.GradientTransformation, got {type(tail).__name__}")
    return optax.chain(optax.sgd(learning_rate, momentum=momentum, nesterov=nesterov), tail)

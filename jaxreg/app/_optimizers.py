"""The command's penalties: each name maps to an optax chain built from jaxreg transforms.

=================  ==============================================================
``l2``             ``chain(add_l2_decay(λ), opt)``
``l1``             ``chain(add_l1_sign(λ), opt)``: the plain sign step
``l1_prox``        ``chain(opt, prox_l1(λ, lr))``: exact zeros (ISTA with SGD)
``elastic_net``    ``chain(opt, prox_elastic_net(λ, l1_ratio, lr))``
``group``          ``chain(opt, prox_group_lasso(λ, lr, axis=0))``: whole neurons
=================  ==============================================================

With ``adam`` the proximal step uses the base learning rate as its step: a
heuristic, since adam's per-coordinate step differs from it.
"""

from __future__ import annotations

from typing import Any

import optax

from jaxreg.app._errors import ConfigError
from jaxreg.core._transforms import add_l1_sign, add_l2_decay, prox_elastic_net, prox_group_lasso, prox_l1

__all__ = ["PENALTIES", "OPTIMIZERS", "make_optimizer"]

#: Penalty names, in the order of the table above.
PENALTIES = ("l2", "l1", "l1_prox", "elastic_net", "group")
#: Base optimizers the penalty is chained with.
OPTIMIZERS = ("sgd", "adam")


def make_optimizer(
    penalty: str, lam: Any, *, optimizer: str = "sgd", learning_rate: float = 0.1, mask: Any = None,
    l1_ratio: float = 0.5,
) -> optax.GradientTransformation:
    """The optax chain for ``penalty`` (see the module's table).

    Args:
      penalty: one of :data:`PENALTIES`.
      lam: λ, a float or a traced scalar.
      optimizer: ``"sgd"`` or ``"adam"``, with ``learning_rate``.
      mask: optax mask of the penalised leaves (True = penalise).
      l1_ratio: ρ for ``elastic_net``.

    Raises:
      ConfigError: an unknown ``penalty`` or ``optimizer``.

    Example:
      >>> import jax.numpy as jnp, optax
      >>> opt = make_optimizer("l1_prox", 0.5, learning_rate=0.2)
      >>> w = jnp.array([1.0, 0.05])
      >>> u, _ = opt.update(jnp.zeros(2), opt.init(w), w)
      >>> print(optax.apply_updates(w, u))   # S_0.1(w): the small weight -> exact 0
      [0.9 0. ]
    """
    if optimizer not in OPTIMIZERS:
        raise ConfigError.about("optimizer", f"must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    base = optax.sgd(learning_rate) if optimizer == "sgd" else optax.adam(learning_rate)
    if penalty == "l2":
        return optax.chain(add_l2_decay(lam, mask=mask), base)
    if penalty == "l1":
        return optax.chain(add_l1_sign(lam, mask=mask), base)
    if penalty == "l1_prox":
        return optax.chain(base, prox_l1(lam, learning_rate, mask=mask))
    if penalty == "elastic_net":
        return optax.chain(base, prox_elastic_net(lam, l1_ratio, learning_rate, mask=mask))
    if penalty == "group":
        return optax.chain(base, prox_group_lasso(lam, learning_rate, axis=0, mask=mask))
    raise ConfigError.about("penalty", f"must be one of {', '.join(PENALTIES)}, got {penalty!r}")

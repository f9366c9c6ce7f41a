r"""Group lasso over groups that span leaves: prune whole hidden units.

Unit :math:`i` of a hidden layer owns its incoming weights (a column of :math:`W_l`), its bias
:math:`b_{l,i}` and its outgoing weights (a row of :math:`W_{l+1}`). With one group per unit,

.. math::

   R(W) = \sum_{\text{units } u} \|w_u\|_2, \qquad
   \operatorname{prox}_{t R}(z)_u = z_u \max\!\left(0, 1 - \frac{t}{\|z_u\|_2}\right),

and a unit whose whole group norm is at most :math:`t = \alpha\lambda` is removed exactly: every one of its
weights becomes 0. The groups are named with :class:`UnitGroup` leaves in a tree with the structure of the
params (or a prefix of it): ``UnitGroup(name, axis)`` says that index ``i`` along ``axis`` of that leaf belongs
to unit ``i`` of group ``name``; ``None`` leaves are in no group (not penalised).

Which axis: flax ``Dense`` kernels are ``(in, out)`` and equinox ``Linear`` weights ``(out, in)``. For a hidden
layer ``h`` between layers 1 and 2:

=============  ==========================  ==========================
               flax linen / nnx            equinox
=============  ==========================  ==========================
layer 1 weight ``kernel``: ``axis=1``      ``weight``: ``axis=0``
layer 1 bias   ``bias``: ``axis=0``        ``bias``: ``axis=0``
layer 2 weight ``kernel``: ``axis=0``      ``weight``: ``axis=1``
=============  ==========================  ==========================
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxreg._checks import check_hyperparam, check_schedule_or_scalar, nan_if_invalid
from jaxreg.core._transforms import ProxState

__all__ = ["UnitGroup", "unit_norms", "unit_group_lasso_penalty", "prox_unit_group_lasso"]


@dataclasses.dataclass(frozen=True)
class UnitGroup:
    """Index ``i`` along ``axis`` of this leaf belongs to unit ``i`` of the group called ``name``.

    Example:
      >>> import jaxreg
      >>> groups = {"l1": {"kernel": jaxreg.UnitGroup("h", axis=1), "bias": jaxreg.UnitGroup("h", axis=0)},
      ...           "l2": {"kernel": jaxreg.UnitGroup("h", axis=0), "bias": None}}
    """

    name: str
    axis: int

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"UnitGroup: name must be a non-empty string, got {self.name!r}")
        if isinstance(self.axis, bool) or not isinstance(self.axis, int):
            raise ValueError(f"UnitGroup: axis must be an int (the axis that indexes the units), got {self.axis!r}")


def _is_spec(g: Any) -> bool:
    return g is None or isinstance(g, UnitGroup)


def _leaf_specs(groups: Any, params: Any) -> list[UnitGroup | None]:
    """One :class:`UnitGroup` or ``None`` per leaf of ``params``; the groups' units checked for equal counts."""
    try:
        full = jax.tree.map(lambda g, sub: jax.tree.map(lambda _: g, sub), groups, params, is_leaf=_is_spec)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"groups must have the tree structure of the params (or a prefix of it) with UnitGroup or None "
            f"leaves; groups have {jax.tree.structure(groups, is_leaf=_is_spec)}, params have "
            f"{jax.tree.structure(params)}"
        ) from e
    specs = jax.tree.leaves(full, is_leaf=lambda g: g is None)
    counts: dict[str, int] = {}
    for spec, p in zip(specs, jax.tree.leaves(params)):
        if spec is None:
            continue
        if not isinstance(spec, UnitGroup):
            raise ValueError(f"groups leaves must be UnitGroup(name, axis) or None, got {spec!r}")
        shape = jnp.shape(p)
        if not -len(shape) <= spec.axis < len(shape):
            raise ValueError(f"groups: {spec} does not fit a leaf of shape {shape}")
        n = shape[spec.axis]
        if counts.setdefault(spec.name, n) != n:
            raise ValueError(f"groups: the leaves of unit group {spec.name!r} have {counts[spec.name]} and {n} "
                             "units along their axes; each leaf's axis must index the same units")
    if not counts:
        raise ValueError("groups has no UnitGroup leaf: name at least one group")
    return specs


def _squares(z: jax.Array, axis: int) -> jax.Array:
    """Per-unit sums of squares of one leaf: every axis but ``axis`` reduced."""
    return jnp.sum(jnp.square(z), axis=tuple(a for a in range(z.ndim) if a != axis % z.ndim))


def _norms(leaves: list, specs: list) -> dict[str, jax.Array]:
    totals: dict[str, jax.Array] = {}
    for z, spec in zip(leaves, specs):
        if spec is not None:
            sq = _squares(jnp.asarray(z), spec.axis)
            totals[spec.name] = totals[spec.name] + sq if spec.name in totals else sq
    # double where: sqrt'(0) = inf would make the gradient at a pruned unit NaN
    return {k: jnp.where(s > 0, jnp.sqrt(jnp.where(s > 0, s, 1)), 0) for k, s in totals.items()}


def unit_norms(params: Any, groups: Any, *, center: Any = None) -> dict[str, jax.Array]:
    """The norm :math:`\\|w_u - c_u\\|_2` of every unit, per group name: ``{name: (n_units,)}``.

    A pruned unit has norm exactly 0: ``(unit_norms(params, groups)["h"] == 0).sum()`` counts them.

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> params = {"w1": jnp.array([[3.0, 0.0]]), "w2": jnp.array([[4.0], [0.0]])}
      >>> groups = {"w1": jaxreg.UnitGroup("h", 1), "w2": jaxreg.UnitGroup("h", 0)}
      >>> print(jaxreg.unit_norms(params, groups)["h"])
      [5. 0.]
    """
    specs = _leaf_specs(groups, params)
    leaves = jax.tree.leaves(params)
    if center is not None:
        leaves = [p - c for p, c in zip(leaves, jax.tree.leaves(center))]
    return _norms(leaves, specs)


def unit_group_lasso_penalty(params: Any, groups: Any, *, center: Any = None) -> jax.Array:
    r""":math:`R(W) = \sum_u \|w_u - c_u\|_2` over every unit of every group (module docstring).

    Example:
      >>> import jax.numpy as jnp, jaxreg
      >>> params = {"w1": jnp.array([[3.0, 1.0]]), "w2": jnp.array([[4.0], [0.0]])}
      >>> groups = {"w1": jaxreg.UnitGroup("h", 1), "w2": jaxreg.UnitGroup("h", 0)}
      >>> float(jaxreg.unit_group_lasso_penalty(params, groups))   # ‖(3, 4)‖ + ‖(1, 0)‖
      6.0
    """
    return sum(jnp.sum(n) for n in unit_norms(params, groups, center=center).values())


def prox_unit_group_lasso(lam: Any, learning_rate: Any, groups: Any, *, center: Any = None,
                          ) -> optax.GradientTransformation:
    r"""Proximal group-lasso step over units that span leaves (end of a chain): whole units to exact zero.

    Moves ``w`` to :math:`c + \operatorname{prox}_{\alpha\lambda R}(w + u - c)` with :math:`R` the sum of unit
    norms (module docstring); leaves outside every group pass through unchanged.

    Args:
      lam: λ ≥ 0 (float, array or tracer; an invalid traced value gives NaN).
      learning_rate: α the optimizer used: a float or the same optax schedule (or use
        :func:`jaxreg.proximal_sgd` to give it once).
      groups: a tree of :class:`UnitGroup` / ``None`` with the params' structure (or a prefix of it).
      center: reference params ``c``; default 0.

    Example:
      >>> import jax, jax.numpy as jnp, optax, jaxreg
      >>> params = {"w1": jnp.array([[3.0, 0.3]]), "b1": jnp.array([0.0, 0.4]), "w2": jnp.array([[4.0], [0.0]])}
      >>> groups = {"w1": jaxreg.UnitGroup("h", 1), "b1": jaxreg.UnitGroup("h", 0), "w2": jaxreg.UnitGroup("h", 0)}
      >>> opt = jaxreg.proximal_sgd(1.0, lambda lr: jaxreg.prox_unit_group_lasso(1.0, lr, groups))
      >>> zeros = jax.tree.map(jnp.zeros_like, params)
      >>> new = optax.apply_updates(params, opt.update(zeros, opt.init(params), params)[0])
      >>> print(new["w1"], new["b1"])   # unit 0 (norm 5) shrinks by 1/5, unit 1 (norm 0.5) is pruned
      [[2.4 0. ]] [0. 0.]
    """
    check_hyperparam(lam, "lam")
    check_schedule_or_scalar(learning_rate, "learning_rate")
    scheduled = callable(learning_rate)

    def init_fn(params):
        _leaf_specs(groups, params)
        return ProxState(count=jnp.zeros([], jnp.int32)) if scheduled else optax.EmptyState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("prox_unit_group_lasso needs the current params: call update(updates, state, params)")
        alpha = learning_rate(state.count) if scheduled else learning_rate
        new_state = ProxState(count=optax.safe_increment(state.count)) if scheduled else state
        step = nan_if_invalid(alpha) * nan_if_invalid(lam)
        return _prox_update(updates, params, step, _leaf_specs(groups, params), center), new_state

    return optax.GradientTransformation(init_fn, update_fn)


def _prox_update(updates: Any, params: Any, step: jax.Array, specs: list, center: Any) -> Any:
    """The update moving each grouped leaf to ``c + z·max(0, 1 − step/‖z_u‖)`` with ``z = w + u − c``."""
    u_leaves, treedef = jax.tree.flatten(updates)
    p_leaves = jax.tree.leaves(params)
    c_leaves = jax.tree.leaves(center) if center is not None else [0.0] * len(p_leaves)
    zs = [w + u - c for w, u, c in zip(p_leaves, u_leaves, c_leaves)]
    norms = _norms(zs, specs)
    factors = {k: jnp.where(n > 0, jnp.maximum(1 - step / jnp.where(n > 0, n, 1), 0), 0) for k, n in norms.items()}
    out = []
    for u, w, c, z, spec in zip(u_leaves, p_leaves, c_leaves, zs, specs):
        if spec is None:
            out.append(u)
            continue
        shape = [1] * z.ndim
        shape[spec.axis] = -1
        f = factors[spec.name].reshape(shape).astype(z.dtype)
        out.append((c + z * f - w).astype(jnp.result_type(u)))
    return jax.tree.unflatten(treedef, out)

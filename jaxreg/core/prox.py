r"""Proximal operators as pure functions.

For a penalty :math:`\lambda R` and a step (``scaling``) :math:`s`, the proximal
operator is

.. math::

   \operatorname{prox}_{s\lambda R}(x) = \arg\min_y \tfrac12 \|y - x\|^2 + s\lambda R(y).

Signatures follow jaxopt's ``prox(x, hyperparams, scaling)``; every
hyperparameter is a plain (possibly traced) array: nothing here branches on a
value or on a Python type, so ``jit``, ``vmap`` over λ and ``grad`` w.r.t. λ
all work. The penalty conventions are jaxreg's: ``R_l2(w) = Σ w²`` (no ½) and
``R_l1(w) = Σ |w|``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxreg.core._nonconvex_prox import mcp as mcp, scad as scad  # MCP and SCAD: λ inside the penalty

__all__ = ["elastic_net", "group_lasso", "group_norm", "lasso", "mcp", "ridge", "scad", "soft_threshold"]

#: An axis or a tuple of axes, with NumPy's meaning: the axes a group reduces over.
Axis = int | tuple[int, ...]


def soft_threshold(x: Any, t: Any) -> jax.Array:
    r"""Soft thresholding :math:`S_t(x) = \operatorname{sign}(x)\max(|x| - t, 0)`.

    The proximal operator of :math:`t|\cdot|`: the unique minimiser of
    :math:`\tfrac12 (y - x)^2 + t|y|`. Entries with :math:`|x| \le t` become
    exact zeros.

    Args:
      x: input array.
      t: threshold, ``>= 0``, broadcastable to ``x``; a negative or NaN ``t`` gives NaN (it may be a
        tracer, which cannot raise), never a wrong value.

    Returns:
      An array of the broadcast shape of ``x`` and ``t``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg import soft_threshold
      >>> print(soft_threshold(jnp.array([-2.0, -0.5, 0.0, 0.3, 1.5]), 0.5))
      [-1.5 -0.   0.   0.   1. ]
    """
    x = jnp.asarray(x)
    shrunk = jnp.sign(x) * jnp.maximum(jnp.abs(x) - t, 0)
    return jnp.where(jnp.asarray(t) >= 0, shrunk, jnp.nan).astype(shrunk.dtype)


def lasso(x: Any, lam: Any, scaling: Any = 1.0) -> jax.Array:
    r"""Prox of :math:`s\lambda\sum|y|`: soft thresholding at :math:`s\lambda`.

    .. math::

       \operatorname{prox}(x) = S_{s\lambda}(x) = \operatorname{sign}(x)\max(|x| - s\lambda, 0)

    Args:
      x: input array.
      lam: λ ≥ 0, broadcastable to ``x``.
      scaling: the step :math:`s` (a learning rate), ≥ 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.core import prox
      >>> print(prox.lasso(jnp.array([-2.0, 0.3, 1.5]), 0.5))
      [-1.5  0.   1. ]
    """
    return soft_threshold(x, lam * scaling)


def ridge(x: Any, lam: Any, scaling: Any = 1.0) -> jax.Array:
    r"""Prox of :math:`s\lambda\sum y^2` (no ½): a shrinkage, never an exact zero.

    .. math::

       \operatorname{prox}(x) = \frac{x}{1 + 2s\lambda}

    Args:
      x: input array.
      lam: λ ≥ 0, broadcastable to ``x``.
      scaling: the step :math:`s`, ≥ 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.core import prox
      >>> print(prox.ridge(jnp.array([1.0, -2.0]), 0.5))   # x / (1 + 2·0.5)
      [ 0.5 -1. ]
    """
    return jnp.asarray(x) / (1 + 2 * lam * scaling)


def elastic_net(x: Any, lam: Any, l1_ratio: Any, scaling: Any = 1.0) -> jax.Array:
    r"""Prox of :math:`s\lambda[\rho\sum|y| + (1-\rho)\sum y^2]`.

    .. math::

       \operatorname{prox}(x) = \frac{S_{s\lambda\rho}(x)}{1 + 2 s\lambda(1-\rho)}

    ``l1_ratio`` (ρ) may be a tracer; unlike jaxopt's ``prox_elastic_net`` no
    Python-type branch is taken, so this vmaps over ρ and λ.

    Args:
      x: input array.
      lam: λ ≥ 0, broadcastable to ``x``.
      l1_ratio: ρ in [0, 1]: 1 is :func:`lasso`, 0 is :func:`ridge`.
      scaling: the step :math:`s`, ≥ 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.core import prox
      >>> print(prox.elastic_net(jnp.array([-2.0, 0.3, 1.5]), 1.0, 0.5))   # S_0.5(x) / 2
      [-0.75  0.    0.5 ]
    """
    return soft_threshold(x, lam * l1_ratio * scaling) / (1 + 2 * lam * (1 - l1_ratio) * scaling)


def group_norm(x: Any, axis: Axis = 0) -> jax.Array:
    r"""Euclidean norm of each group, ``keepdims=True``; gradient 0 at 0.

    .. math::

       \|x_g\|_2 = \sqrt{\textstyle\sum_{i \in g} x_i^2}

    Groups are formed by reducing over ``axis`` (NumPy's meaning): for a dense
    kernel of shape ``(in, out)``, ``axis=0`` gives one group per output
    neuron (a column). A 0-d ``x`` is its own group.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.core import prox
      >>> print(prox.group_norm(jnp.array([[3.0, 0.0], [4.0, 0.0]]), axis=0))   # one norm per column
      [[5. 0.]]
    """
    x = jnp.asarray(x)
    if x.ndim == 0:
        return jnp.abs(x)
    sq = jnp.sum(x * x, axis=axis, keepdims=True)
    positive = sq > 0
    # Double where: sqrt'(0) = inf would turn the gradient at 0 into NaN.
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1)), 0)


def group_lasso(x: Any, lam: Any, scaling: Any = 1.0, axis: Axis = 0) -> jax.Array:
    r"""Prox of :math:`s\lambda\sum_g\|x_g\|_2` (block soft thresholding).

    .. math::

       \operatorname{prox}(x)_g = x_g \max\left(0, 1 - \frac{s\lambda}{\|x_g\|_2}\right)

    Whole groups (neurons) whose norm is at most :math:`s\lambda` become exact
    zeros. ``lam`` may be an array broadcastable to the group norms.

    Args:
      x: input array.
      lam: λ ≥ 0, a scalar or an array broadcastable to the group norms.
      scaling: the step :math:`s`, ≥ 0.
      axis: the axis or axes each group reduces over (see :func:`group_norm`).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxreg.core import prox
      >>> kernel = jnp.array([[3.0, 0.1], [4.0, 0.1]])   # column norms 5 and 0.14
      >>> print(prox.group_lasso(kernel, 1.0, axis=0))
      [[2.4 0. ]
       [3.2 0. ]]
    """
    x = jnp.asarray(x)
    norm = group_norm(x, axis)
    safe = jnp.where(norm > 0, norm, 1)
    factor = jnp.where(norm > 0, jnp.maximum(1 - lam * scaling / safe, 0), 0)
    return x * factor

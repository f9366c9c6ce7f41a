r"""Stability selection for any training function: one :func:`jaxreg.sweep` over halves × λ.

:func:`stability_sweep` draws the complementary pairs (:func:`~jaxreg.selection.complementary_pairs`), hands
each half's row indices to the user's ``train(lam, rows)`` and trains every half × λ in one compiled, vmapped
call; a coordinate of the returned pytree is selected where it is nonzero, as in
:meth:`~jaxreg.selection.StabilityResult.from_coefs`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg.core._grids import check_grid
from jaxreg.engine._sweep import sweep
from jaxreg.selection._stability import StabilityResult, complementary_pairs

__all__ = ["stability_sweep"]

#: sweep() options that stability_sweep sets itself.
_OWN_OPTIONS = ("keys", "folds", "return_stats")


def stability_sweep(train_fn: Callable[[Any, Any], Any], lambdas: Any, n_samples: int, *, n_pairs: int = 50,
                    seed: int = 0, **sweep_options: Any) -> StabilityResult:
    r"""Selection probabilities of any sparse training function, every half × λ in one :func:`jaxreg.sweep`.

    ``train_fn(lam, rows)`` trains one model on the samples ``rows`` (an ``(n_samples // 2,)`` int array, traced:
    index your data with it, ``x[rows]``) and returns its coefficients, a pytree whose leaves are flattened and
    concatenated into the ``d`` features; a feature is selected where it is exactly nonzero, so use a proximal
    (exact-zero) penalty. The halves are :func:`complementary_pairs` ``(n_samples, n_pairs, seed=seed)``, so
    the result is the loop ``from_coefs([[train_fn(lam, rows) for lam in lambdas] for rows in halves])``.

    .. math::

       \hat\Pi_k^\lambda = \frac{1}{2B}\sum_{s=1}^{2B}\mathbf 1\{w_k(\lambda, A_s) \ne 0\}

    Args:
      train_fn: pure ``train_fn(lam, rows) -> pytree`` of coefficients.
      lambdas: 1-D grid of λ.
      n_samples: ``n``, the rows the halves are drawn from.
      n_pairs: ``B`` complementary pairs (``2B`` halves).
      seed: the halves' seed.
      **sweep_options: passed to :func:`jaxreg.sweep` (``chunk_size``, ``devices``, ``vmap_size``,
        ``progress``, ...), except ``keys`` and ``folds``, which this function sets.

    Returns:
      A :class:`~jaxreg.selection.StabilityResult` (``converged`` is ``None``: a training function has no
      certificate; check its convergence yourself).

    Example:
      >>> import jax.numpy as jnp, numpy as np, jaxreg
      >>> from jaxreg.selection import stability_sweep
      >>> rng = np.random.default_rng(0)
      >>> x = rng.standard_normal((100, 5)); y = 2 * x[:, 0] + 0.5 * rng.standard_normal(100)
      >>> xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
      >>> def train(lam, rows):   # lasso with an orthogonal-ish design: one soft threshold of Xᵀy/n
      ...     return jaxreg.core.prox.soft_threshold(xj[rows].T @ yj[rows] / rows.shape[0], lam)
      >>> stability_sweep(train, [1.0, 0.3], 100, n_pairs=10).stable_set(0.9).tolist()
      [0]
    """
    lam = check_grid(lambdas)
    given = sorted(set(sweep_options) & set(_OWN_OPTIONS))
    if given:
        raise ValueError(f"stability_sweep sets {', '.join(given)} itself (the folds are the halves); drop "
                         f"{'it' if len(given) == 1 else 'them'}, or call jaxreg.sweep with your own halves and "
                         "StabilityResult.from_coefs")
    halves = complementary_pairs(n_samples, n_pairs, seed=seed)
    rows = jnp.asarray(halves)

    def train_half(lam_k, fold):
        return train_fn(lam_k, rows[fold])

    out = sweep(train_half, lam, folds=halves.shape[0], **sweep_options)
    leaves = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(out)]
    if not leaves:
        raise ValueError("train_fn returned no arrays: return the model's coefficients (a pytree of arrays)")
    coefs = np.concatenate([leaf.reshape(leaf.shape[0], leaf.shape[1], -1) for leaf in leaves], axis=2)
    return StabilityResult.from_coefs(coefs, lam)

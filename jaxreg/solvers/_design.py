"""The design as the path solvers take it: placed on the device, one float dtype, and its moments.

A solver receives the data as a dict of arrays, passed to its compiled programs as arguments (not closure
constants: a large Gram matrix baked into a program makes compilation take seconds), in one of two layouts:

* ``{"gram", "xty", "yy"}``: ``XᵀX/n`` ``(d, d)``, ``Xᵀy/n`` ``(d,)``, ``yᵀy/n`` ``()`` (gradients in
  ``O(d²)``, for ``n > d``);
* ``{"x", "y"}``: the data itself, ``(n, d)`` and ``(n,)``, with ``xty`` and ``yy`` too where a solver asks.

A ``scipy.sparse`` design stays on the host until then: SciPy computes the Gram layout's products sparsely, and
the data layout keeps it sparse as a :class:`jaxreg.solvers._sparse.SparseDesign`. Its Gram matrix is dense
(``d × d``); where that would exceed :data:`SPARSE_GRAM_MAX_BYTES` the solvers that can keep ``x`` sparse do,
and the others (:class:`jaxreg.solvers.Admm`, ``gram=True``) raise an error naming ``x``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse

from jaxreg.solvers._blas import one_blas_thread, row_block_gram
from jaxreg.solvers._sparse import SparseDesign, is_sparse

__all__ = ["place", "design_data", "design_entries", "gram_fits", "SPARSE_GRAM_MAX_BYTES"]

#: The largest dense Gram matrix ``XᵀX/n`` (bytes) made from a sparse design: 4 GiB, ``d`` ≈ 23,000 in float64.
#: Beyond it a sparse ``x`` keeps the data layout (``O(nnz)`` per product), or the solver that needs the Gram
#: matrix raises an error naming ``x``.
SPARSE_GRAM_MAX_BYTES = 4 * 2**30


def design_entries(x: Any) -> int:
    """The design's stored values: ``n·d`` for a dense ``x``, the stored entries (``nnz``) for a sparse one."""
    return int(x.nnz) if is_sparse(x) else int(np.prod(np.shape(x)))


def gram_fits(x: Any) -> bool:
    """Whether the dense Gram matrix of ``x`` is within :data:`SPARSE_GRAM_MAX_BYTES` (always, for a dense
    ``x``: no larger than ``x`` itself where it is used, ``n > d``)."""
    if not is_sparse(x):
        return True
    d = x.shape[1]
    return d * d * np.dtype(x.dtype).itemsize <= SPARSE_GRAM_MAX_BYTES


def place(x: Any, y: Any, dev: jax.Device) -> tuple[Any, jax.Array]:
    """``x`` and ``y`` in one float dtype on ``dev``; shapes checked.

    On a CPU ``x`` stays a NumPy array until a solver needs it in JAX: NumPy's BLAS computes the Gram matrix and
    ``Xᵀy`` faster than XLA, and a copy into JAX that the Gram solvers never use would cost time. A
    ``scipy.sparse`` ``x`` becomes a CSC matrix on the host (:func:`_place_sparse`).
    """
    if is_sparse(x):
        return _place_sparse(x, y)
    dtype = jnp.result_type(x, y, float)  # one float dtype for both (ints and mixed precisions alike)
    x, y = (jax.device_put(a, dev) if isinstance(a, jax.Array) and a.devices() != {dev} else a for a in (x, y))
    x = np.asarray(x, dtype) if dev.platform == "cpu" and not isinstance(x, jax.Array) else jnp.asarray(x, dtype)
    y = jnp.asarray(y, dtype)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be (n, d) and y (n,), got {x.shape} and {y.shape}")
    if 0 in x.shape:
        raise ValueError(f"x must have at least one sample and one feature, got shape {x.shape}")
    for name, a in (("x", x), ("y", y)):
        finite = np.isfinite(a).all() if isinstance(a, np.ndarray) else bool(jnp.isfinite(a).all())
        if not finite:
            raise ValueError(f"{name} has NaN or infinite values: drop or impute them before the path "
                             "(a solver would otherwise return zeros or fail deep inside)")
    return x, y


def _place_sparse(x: Any, y: Any) -> tuple[Any, jax.Array]:
    """:func:`place` for a ``scipy.sparse`` ``x``: a float CSC copy on the host (duplicates summed), ``y`` on the
    default device; shapes and the stored values checked."""
    dtype = jnp.result_type(np.empty(0, x.dtype), y, float)  # (as a dense x of that dtype would give)
    y = jnp.asarray(y, dtype)
    if len(x.shape) != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be (n, d) and y (n,), got {x.shape} and {y.shape}")
    if 0 in x.shape:
        raise ValueError(f"x must have at least one sample and one feature, got shape {x.shape}")
    x = scipy.sparse.csc_matrix(x, dtype=np.dtype(dtype), copy=True)
    x.sum_duplicates()
    if not np.isfinite(x.data).all():
        raise ValueError("x (sparse) has NaN or infinite stored values: drop or impute them before the path "
                         "(a solver would otherwise return zeros or fail deep inside)")
    if not bool(jnp.isfinite(y).all()):
        raise ValueError("y has NaN or infinite values: drop or impute them before the path "
                         "(a solver would otherwise return zeros or fail deep inside)")
    return x, y


def _moments(x: Any, y: jax.Array, cpu: bool) -> tuple[jax.Array, jax.Array]:
    """``Xᵀy/n`` and ``yᵀy/n`` (on a CPU from NumPy's BLAS, on one thread for a small product)."""
    n, d = x.shape
    if is_sparse(x):  # (SciPy, O(nnz))
        yn = np.asarray(y)
        return jnp.asarray(x.T @ yn / n), jnp.asarray(yn @ yn / n)
    if not cpu:
        return x.T @ y / n, jnp.dot(y, y) / n
    xn, yn = np.asarray(x), np.asarray(y)
    with one_blas_thread(n * d):
        xty, yy = xn.T @ yn / n, yn @ yn / n
    return jnp.asarray(xty), jnp.asarray(yy)


def design_data(x: Any, y: jax.Array, *, gram: bool, cpu: bool, with_moments: bool = False) -> dict:
    """The solvers' data (module docstring): the Gram layout if ``gram``, else the data layout, with ``xty`` and
    ``yy`` there too if ``with_moments``. ``cpu``: ``x`` is a host array and NumPy computes the products. A
    ``scipy.sparse`` ``x``: SciPy computes them sparsely, and the data layout holds a
    :class:`~jaxreg.solvers._sparse.SparseDesign`.

    Example:
      >>> data = design_data(np.eye(2), jnp.array([1.0, 2.0]), gram=True, cpu=True)
      >>> sorted(data), data["xty"].tolist()
      (['gram', 'xty', 'yy'], [0.5, 1.0])
    """
    n = x.shape[0]
    data = {}
    sparse = is_sparse(x)
    if gram:
        if sparse:  # (sparse × sparse: O(Σ_i nnz(row i)²), the d × d result dense)
            data["gram"] = jnp.asarray((x.T @ x).toarray() / n)
        else:
            data["gram"] = jnp.asarray(row_block_gram(np.asarray(x)) / n) if cpu else x.T @ x / n
    if gram or with_moments:
        data["xty"], data["yy"] = _moments(x, y, cpu)
    if not gram:
        data["x"], data["y"] = SparseDesign.from_scipy(x) if sparse else jnp.asarray(x), y
    return data

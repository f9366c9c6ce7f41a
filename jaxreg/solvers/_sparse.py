r"""A sparse design in JAX: the stored entries of a ``scipy.sparse`` matrix, and the products the solvers take.

:func:`jaxreg.solvers.elastic_net_path` accepts ``scipy.sparse`` designs (CSC, CSR or any other format). With
the Gram layout (``n > d``) SciPy computes :math:`X^\top X/n` and :math:`X^\top y/n` sparsely and the solvers
never see ``X``; with the data layout ``X`` stays sparse as a :class:`SparseDesign`: its entries in column
order, so that every product costs :math:`O(\mathrm{nnz})` instead of :math:`O(nd)`:

.. math::

   (Xv)_i = \sum_{e:\,r_e = i} x_e v_{c_e}, \qquad (X^\top r)_j = \sum_{e:\,c_e = j} x_e r_{r_e}

(entry :math:`e` has row :math:`r_e`, column :math:`c_e` and value :math:`x_e`). The active-set solver also
gathers the columns of its active coordinates densely (:meth:`SparseDesign.columns`, ``n × p``): its Newton
systems are dense anyway.

:func:`matvec` and :func:`rmatvec` take either a dense array or a :class:`SparseDesign`, so the solvers'
formulas are written once.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse

__all__ = ["SparseDesign", "is_sparse", "as_design", "matvec", "rmatvec", "column_sq_norms"]


@functools.partial(jax.tree_util.register_dataclass, data_fields=["rows", "cols", "vals"], meta_fields=["shape"])
@dataclasses.dataclass(frozen=True)
class SparseDesign:
    """The stored entries of an ``(n, d)`` sparse design, sorted by column (CSC order), duplicates summed.

    A pytree (the entries are its leaves, the shape is static), so it is passed to compiled programs as an
    argument like a dense ``x``.

    Example:
      >>> import scipy.sparse
      >>> x = SparseDesign.from_scipy(scipy.sparse.csr_matrix(np.array([[1.0, 0.0], [2.0, 3.0]])))
      >>> x.shape, x.rmatvec(jnp.array([1.0, 1.0])).tolist(), x.columns(jnp.array([1]), jnp.array([True])).tolist()
      ((2, 2), [3.0, 3.0], [[0.0], [3.0]])
    """

    rows: jax.Array  # (nnz,) int32: the row of each stored entry
    cols: jax.Array  # (nnz,) int32: its column (sorted)
    vals: jax.Array  # (nnz,) its value
    shape: tuple  # (n, d)

    @classmethod
    def from_scipy(cls, x: Any, dtype: Any = None) -> SparseDesign:
        """From any ``scipy.sparse`` matrix or array (on JAX's default device), in ``dtype`` (default: ``x``'s)."""
        csc = scipy.sparse.csc_matrix(x, dtype=dtype, copy=True)
        csc.sum_duplicates()  # (sorted indices, one entry per position: column norms need that)
        coo = csc.tocoo()
        return cls(jnp.asarray(coo.row.astype(np.int32)), jnp.asarray(coo.col.astype(np.int32)),
                   jnp.asarray(coo.data), tuple(int(s) for s in x.shape))

    @property
    def dtype(self) -> np.dtype:
        return self.vals.dtype

    @property
    def nnz(self) -> int:
        return int(self.vals.shape[0])

    def to_scipy(self) -> scipy.sparse.csc_matrix:
        """The design as a SciPy CSC matrix (on the host)."""
        return scipy.sparse.csc_matrix((np.asarray(self.vals), (np.asarray(self.rows), np.asarray(self.cols))),
                                       shape=self.shape)

    def matvec(self, v: jax.Array) -> jax.Array:
        """``X v`` (``(n,)``) for ``v`` ``(d,)``."""
        return jnp.zeros(self.shape[0], jnp.result_type(self.vals, v)).at[self.rows].add(self.vals * v[self.cols])

    def rmatvec(self, r: jax.Array) -> jax.Array:
        """``Xᵀ r`` (``(d,)``) for ``r`` ``(n,)``."""
        return jax.ops.segment_sum(self.vals * r[self.rows], self.cols, self.shape[1], indices_are_sorted=True)

    def columns(self, idx: jax.Array, mask: jax.Array) -> jax.Array:
        """The columns ``X[:, idx]`` as a dense ``(n, p)`` array; slots outside ``mask`` are 0.

        One pass over the entries: each column's slot is looked up (``p`` for none, dropped).
        """
        (n, d), p = self.shape, idx.shape[0]
        slot = jnp.full(d, p, jnp.int32).at[jnp.where(mask, idx, d)].set(jnp.arange(p, dtype=jnp.int32), mode="drop")
        return jnp.zeros((n, p), self.vals.dtype).at[self.rows, slot[self.cols]].add(self.vals, mode="drop")

    def column_sq_norms(self) -> jax.Array:
        """``Σ_i x_ij²`` per column (``(d,)``)."""
        return jax.ops.segment_sum(self.vals**2, self.cols, self.shape[1], indices_are_sorted=True)

    def host_column_sums(self) -> np.ndarray:
        """``Σ_i x_ij`` per column, in NumPy (no JAX program to compile)."""
        return np.bincount(np.asarray(self.cols), np.asarray(self.vals), minlength=self.shape[1])


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a ``scipy.sparse`` matrix or array."""
    return scipy.sparse.issparse(x)


def as_design(x: Any) -> Any:
    """A ``scipy.sparse`` ``x`` as a :class:`SparseDesign`; anything else unchanged."""
    return SparseDesign.from_scipy(x) if is_sparse(x) else x


def matvec(x: Any, v: jax.Array) -> jax.Array:
    """``X v`` for a dense ``x`` or a :class:`SparseDesign`."""
    return x.matvec(v) if isinstance(x, SparseDesign) else x @ v


def rmatvec(x: Any, r: jax.Array) -> jax.Array:
    """``Xᵀ r`` for a dense ``x`` or a :class:`SparseDesign`."""
    return x.rmatvec(r) if isinstance(x, SparseDesign) else x.T @ r


def column_sq_norms(x: Any) -> jax.Array:
    """``Σ_i x_ij²`` per column for a dense ``x`` or a :class:`SparseDesign`."""
    return x.column_sq_norms() if isinstance(x, SparseDesign) else jnp.sum(x**2, 0)

r"""BLAS on the CPU: thread limits around the path solvers, and the Gram matrix as a sum over row blocks.

OpenBLAS's worker threads keep spinning for a while after each threaded call and take the cores from the XLA
program that runs next; so on a CPU :func:`jaxreg.solvers.elastic_net_path` holds BLAS to one thread for work
too small to gain from more (:func:`one_blas_thread`), and computes a large Gram matrix on Python threads of
one BLAS thread each (:func:`row_block_gram`). Both need ``threadpoolctl`` (scikit-learn's dependency, optional
here); without it BLAS keeps its own threads. Why and what was measured: ``docs/design/solvers.md``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from jaxreg.engine._devices import cpu_core_count

__all__ = ["ONE_BLAS_THREAD_BELOW", "GRAM_BLOCKS_FROM", "one_blas_thread", "row_block_gram"]

#: Multiply-adds below which NumPy's products (Xᵀy; each row block's Gram product) and a LAPACK factorisation
#: run on one BLAS thread: their idle worker threads would spin and slow the XLA solver down. Larger work keeps
#: every thread.
ONE_BLAS_THREAD_BELOW = 1e9

#: Multiply-adds (n·d²) from which the CPU Gram matrix is split over row blocks, one per core; below, one product
#: (starting the threads would cost more than they save).
GRAM_BLOCKS_FROM = 5e7

#: Fewest rows per block of the row-block Gram matrix.
MIN_BLOCK_ROWS = 64


@functools.cache
def blas_controller():
    """threadpoolctl's controller of this process's BLAS libraries, or ``None`` without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def one_blas_thread(multiply_adds: float = 0.0):
    """Context: BLAS on one thread for work of this size (below :data:`ONE_BLAS_THREAD_BELOW`), else unchanged.

    Example:
      >>> with one_blas_thread(1e6):
      ...     pass  # NumPy products here run on one BLAS thread (with threadpoolctl installed)
    """
    controller = blas_controller() if multiply_adds < ONE_BLAS_THREAD_BELOW else None
    return controller.limit(limits=1, user_api="blas") if controller is not None else contextlib.nullcontext()


def blas_limitable() -> bool:
    """threadpoolctl is installed and controls at least one BLAS library (it cannot limit every BLAS)."""
    controller = blas_controller()
    return controller is not None and bool(controller.select(user_api="blas").lib_controllers)


@functools.cache
def gram_pool(workers: int) -> ThreadPoolExecutor:
    """The thread pool of :func:`row_block_gram`, one per number of workers, made once."""
    return ThreadPoolExecutor(workers, thread_name_prefix="jaxreg-gram")


if hasattr(os, "register_at_fork"):  # a forked child inherits the pool object but not its threads: a new one there
    os.register_at_fork(after_in_child=gram_pool.cache_clear)


def row_block_gram(xn: np.ndarray) -> np.ndarray:
    r"""XᵀX in NumPy as a sum over row blocks, each product on its own Python thread with one BLAS thread.

    .. math::

       X^\top X = \sum_b X_b^\top X_b

    over row blocks :math:`X_b`: one per core, at most ``2n/d`` (their ``d × d`` partial sums then take at most
    twice the memory of X), at least :data:`MIN_BLOCK_ROWS` rows each. NumPy releases the GIL in BLAS, so the
    blocks run in parallel. Below :data:`GRAM_BLOCKS_FROM` multiply-adds, or without a BLAS that threadpoolctl
    can hold to one thread: one product.

    Example:
      >>> x = np.arange(6.0).reshape(3, 2)
      >>> row_block_gram(x)
      array([[20., 26.],
             [26., 35.]])
    """
    n, d = xn.shape
    blocks = 1
    if n * d * d >= GRAM_BLOCKS_FROM and blas_limitable():
        blocks = min(cpu_core_count(), n // MIN_BLOCK_ROWS, 2 * n // d)
    if blocks < 2:
        with one_blas_thread(n * d * d / 2):
            return xn.T @ xn
    edges = np.linspace(0, n, blocks + 1).astype(int)
    with one_blas_thread():
        parts = list(gram_pool(blocks).map(lambda ab: xn[ab[0]:ab[1]].T @ xn[ab[0]:ab[1]], zip(edges, edges[1:])))
    gram = parts[0]
    for part in parts[1:]:
        gram += part
    return gram

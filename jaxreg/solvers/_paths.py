r"""Regularization paths of linear least squares: lasso, elastic net, ridge, along a grid of λ.

Each path point minimises scikit-learn's objective, written in jaxreg's terms

.. math::

   \frac{1}{2n}\|y - Xw\|^2 + \lambda\left[\rho\|w\|_1 + (1-\rho)\|w\|_2^2\right]

(``loss="half_mse"``; convert sklearn's ``alpha``/``l1_ratio`` with :func:`jaxreg.from_sklearn_elastic_net`).
:func:`elastic_net_path` places the data, picks a solver (an option object of :mod:`jaxreg.solvers._options`)
and hands over to its module:

* :class:`~jaxreg.solvers.ActiveSet` (:mod:`jaxreg.solvers._active_set`): λ from large to small, each
  warm-started and stopped at its relative duality gap; exact sign-constrained Newton steps on the few active
  coordinates;
* :class:`~jaxreg.solvers.Fista` (:mod:`jaxreg.solvers._fista`) and :class:`~jaxreg.solvers.Admm`
  (:mod:`jaxreg.solvers._admm`): vmapped blocks of λ, each warm-started from the last
  (:mod:`jaxreg.solvers._blocks`) and stopped when every gap in it is ≤ ``tol``;
* :class:`~jaxreg.solvers.FixedSteps` (:mod:`jaxreg.solvers._fixed_steps`): a fixed number of steps per λ in
  one :func:`jaxreg.sweep` call, no certificate.

Every certified solver stops at the same certificate, :func:`jaxreg.solvers.relative_duality_gap`, and reports
``converged`` only for a ``tol`` its dtype can resolve (:func:`jaxreg.solvers.certifiable_tol`).
"""

from __future__ import annotations

import contextlib
import numbers
import time
import warnings
from typing import Any

import jax
import numpy as np

from jaxreg._checks import check_ratio
from jaxreg.core._grids import check_grid
from jaxreg.engine._devices import device_description
from jaxreg.solvers._active_set import active_set_path
from jaxreg.solvers._admm import admm_path, with_eigendecomposition
from jaxreg.solvers._blas import one_blas_thread
from jaxreg.solvers._design import SPARSE_GRAM_MAX_BYTES, design_data, design_entries, gram_fits, place
from jaxreg.solvers._fista import fista_path, step_size
from jaxreg.solvers._fixed_steps import fixed_steps_path
from jaxreg.solvers._objective import certifiable_tol
from jaxreg.solvers._options import SOLVER_NAMES, ActiveSet, Admm, Fista, FixedSteps, Solver
from jaxreg.solvers._working_set import working_set_path

__all__ = ["elastic_net_path", "path_device", "auto_solver", "solve_path", "AUTO_CPU_MAX_ENTRIES", "ADMM_FROM_D"]

#: ``device="auto"``: a certified path (``tol`` given) with at most this many design entries (n·d) runs on the
#: CPU when JAX's default device is an accelerator. Such paths are latency-bound there (one small step after
#: another); the measurements behind the threshold are in ``docs/design/solvers.md``.
AUTO_CPU_MAX_ENTRIES = 1_000_000

#: ``solver="auto"`` for ridge (``l1_ratio = 0``) with the Gram matrix: :class:`Admm` from this many coordinates
#: on (its eigendecomposition pays off), :class:`Fista` below.
ADMM_FROM_D = 100

_SOLVER_TYPES = (ActiveSet, Fista, Admm, FixedSteps)


def path_device(device: Any = "auto", entries: int = 0, tol: float | None = None) -> jax.Device:
    """The device :func:`elastic_net_path` computes on for ``device`` and a design of ``entries`` = n·d values.

    ``"auto"`` (or ``None``): JAX's default device (``jax.default_device``'s if one is set, else the first local
    device), except a certified path (``tol`` not ``None``) of at most :data:`AUTO_CPU_MAX_ENTRIES` entries when
    that device is not a CPU: then the first CPU device. A platform name (``"cpu"``, ``"gpu"``, ``"cuda"``,
    ``"tpu"``): that platform's first local device. A :class:`jax.Device` of this process: itself.

    Example:
      >>> path_device("cpu").platform
      'cpu'
    """
    if device is None:
        device = "auto"
    if isinstance(device, jax.Device):
        if device.process_index != jax.process_index():
            raise ValueError(f"device={device!r} belongs to process {device.process_index}, not this one "
                             f"({jax.process_index()}); use one of jax.local_devices(): {jax.local_devices()}")
        return device
    if not isinstance(device, str) or not device:
        raise ValueError(f"device must be 'auto', a platform name ('cpu', 'gpu', 'tpu') or a jax.Device from "
                         f"jax.local_devices(), got {device!r}")
    if device == "auto":
        default = jax.config.jax_default_device  # (set by `with jax.default_device(...)`: a device or a platform)
        if default is None:
            default = jax.local_devices()[0]
        elif isinstance(default, str):
            default = jax.local_devices(backend=default)[0]
        if default.platform != "cpu" and tol is not None and entries <= AUTO_CPU_MAX_ENTRIES:
            try:
                return jax.local_devices(backend="cpu")[0]
            except RuntimeError:  # JAX_PLATFORMS without "cpu": no CPU backend in this process
                pass
        return default
    try:
        return jax.local_devices(backend=device)[0]
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"device={device!r}: this JAX has no such device ({e}); use device='auto', 'cpu', or one "
                         f"of jax.local_devices(): {jax.local_devices()}") from None


def auto_solver(tol: float | None, l1_ratio: Any, n: int, d: int) -> Solver:
    """``solver="auto"``: without ``tol`` :class:`FixedSteps`; with it :class:`ActiveSet` when ``l1_ratio > 0``,
    else (ridge) :class:`Admm` when the Gram matrix is used (``n > d``) and ``d ≥`` :data:`ADMM_FROM_D`, else
    :class:`Fista`, each with that ``tol`` and its defaults.

    Example:
      >>> auto_solver(1e-8, 0.0, 2000, 500)
      Admm(tol=1e-08, max_iter=2000, block=25, check_every=10)
    """
    if tol is None:
        return FixedSteps()
    if np.ndim(l1_ratio) == 0 and float(l1_ratio) > 0:
        return ActiveSet(tol=tol)
    return Admm(tol=tol) if n > d and d >= ADMM_FROM_D else Fista(tol=tol)


def _resolve_solver(solver: Any, tol: Any, l1_ratio: Any, shape: tuple) -> Solver:
    """The option object for ``solver`` and ``tol`` (:func:`auto_solver` for ``"auto"``)."""
    if isinstance(solver, _SOLVER_TYPES):
        if tol is not None:
            raise ValueError(f"pass either tol= or a solver object, not both: got tol={tol!r} and solver={solver!r}; "
                             f"put the tolerance in the object, e.g. solver={type(solver).__name__}(tol={tol!r})")
        return solver
    if not (isinstance(solver, str) and solver == "auto"):
        raise ValueError(f"solver must be 'auto' or one of jaxreg.solvers.ActiveSet(...), Fista(...), Admm(...), "
                         f"FixedSteps(...), got {solver!r}")
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0):
        raise ValueError(f"tol must be a positive float (a relative duality gap) or None (FixedSteps), got {tol!r}")
    n, d = shape if len(shape) == 2 else (0, 0)  # (a wrong shape is reported when x is placed)
    return auto_solver(tol, l1_ratio, n, d)


def elastic_net_path(x: Any, y: Any, lambdas: Any, *, l1_ratio: float = 1.0, tol: float | None = None,
                     solver: Any = "auto", device: Any = "auto", return_stats: bool = False) -> Any:
    """Coefficients ``(K, d)`` along a λ grid (no intercept: centre ``x`` and ``y`` first).

    Args:
      x: ``(n, d)`` design: an array, or a ``scipy.sparse`` matrix or array (any format; see "Sparse designs").
      y: ``(n,)`` target.
      lambdas: 1-D grid of jaxreg λ (``loss="half_mse"`` scaling), in any order.
      l1_ratio: ρ; 1 is the lasso, 0 is ridge (with jaxreg's no-½ L2).
      tol: with ``solver="auto"``, the relative duality gap every λ stops at: :func:`auto_solver` picks
        :class:`ActiveSet`, :class:`Admm` or :class:`Fista` with it. ``None``: :class:`FixedSteps` (no
        certificate). Give a solver object its own ``tol`` instead.
      solver: ``"auto"`` or an option object: :class:`ActiveSet`, :class:`Fista`, :class:`Admm`,
        :class:`FixedSteps` (``jaxreg.solvers``).
      device: where to compute (:func:`path_device`): ``"auto"`` (default) is JAX's default device, except that
        small certified paths (n·d ≤ :data:`AUTO_CPU_MAX_ENTRIES`) run on the CPU when the default is an
        accelerator; ``"cpu"``, ``"gpu"``, ``"tpu"`` or a :class:`jax.Device` choose. With :class:`FixedSteps` a
        platform name shards the λ over all of that platform's devices (every process's), a device runs on it.
      return_stats: also return stats. :class:`FixedSteps`: :func:`jaxreg.sweep`'s. The certified solvers:
        ``solver`` (``"active_set"``, ``"fista"``, ``"admm"``), ``setup_s`` (Gram matrix, eigendecomposition or
        step size), ``compile_s``, ``run_s``, ``device`` (where it ran), ``iterations`` (per λ for the active set,
        which also reports the ``capacities`` it compiled for; per block for FISTA and ADMM, with ``n_blocks``
        and ``block``), the largest gap ``max_gap``, ``certifiable_tol`` (the dtype's floor) and ``converged``
        (``max_gap ≤ tol`` and ``tol ≥ certifiable_tol``).

    Returns:
      The ``(K, d)`` coefficients in the order of ``lambdas`` (and the stats with ``return_stats``).

    Raises:
      ValueError: a bad shape, grid, ``l1_ratio``, ``tol``, ``solver`` or ``device``, or both ``tol`` and a
        solver object.

    Warns:
      RuntimeWarning: a certified path stopped short of its ``tol`` (at ``max_iter``, or where rounding stopped
        the iterates), or ``tol`` is finer than the dtype certifies (float32: about 1e-4; enable
        ``jax_enable_x64``). It returns what it has, with ``converged=False``.

    On a CPU, while it runs, BLAS is held to one thread for small products and the active-set solve
    (:mod:`jaxreg.solvers._blas`) and restored afterwards.

    Sparse designs: a ``scipy.sparse`` ``x`` is never densified. With the Gram matrix (``n > d``; :class:`Admm`)
    SciPy computes ``XᵀX/n`` and ``Xᵀy/n`` sparsely; without (``n ≤ d``, or a dense Gram matrix over 4 GiB) the
    solvers take ``X`` itself, with products in ``O(nnz)`` (:mod:`jaxreg.solvers._sparse`; the active set gathers
    its active columns densely). ``device="auto"`` counts the stored entries. The path fits no intercept, and
    centring would make ``x`` dense: scikit-learn's ``fit_intercept=True`` uses the centred design implicitly,
    (X − 1μᵀ)v = Xv − 1(μᵀv), which this path does not. So either centre ``y`` and pass the centred design
    densified (``x.toarray() - x.mean(0)``, where it fits: scikit-learn's ``fit_intercept=True`` solution), or
    solve on the sparse ``x`` without intercept (``fit_intercept=False``), which suits designs whose 0 means
    "absent" (counts, indicators, genotypes).

    Example:
      >>> import numpy as np, jaxreg
      >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])  # XᵀX/n = I/2
      >>> y = np.array([2.0, 1.0, -2.0, -1.0])  # Xᵀy/n = (1, 0.5): w = 2 S_λ(Xᵀy/n)
      >>> print(jaxreg.solvers.elastic_net_path(x, y, [0.6, 0.25], tol=1e-3).round(4))  # ActiveSet(tol=1e-3)
      [[0.8 0. ]
       [1.5 0.5]]
      >>> w, stats = jaxreg.solvers.elastic_net_path(x, y, [0.6, 0.25], solver=jaxreg.solvers.Admm(tol=1e-3),
      ...                                            return_stats=True)
      >>> stats["solver"], stats["converged"], bool(abs(w - [[0.8, 0.0], [1.5, 0.5]]).max() < 1e-2)
      ('admm', True, True)
      >>> import scipy.sparse  # the same design, sparse
      >>> print(jaxreg.solvers.elastic_net_path(scipy.sparse.csr_matrix(x), y, [0.6, 0.25], tol=1e-3).round(4))
      [[0.8 0. ]
       [1.5 0.5]]
    """
    check_ratio(l1_ratio, "l1_ratio")
    solver = _resolve_solver(solver, tol, l1_ratio, np.shape(x))
    certified = not isinstance(solver, FixedSteps)
    result = solve_path(x, y, lambdas, solver, l1_ratio=l1_ratio, device=device,
                        return_stats=return_stats or certified)
    if not certified:
        return result
    coefs, stats = result
    _warn_if_uncertified(stats, solver.tol, coefs.dtype)
    return (coefs, stats) if return_stats else coefs


def solve_path(x: Any, y: Any, lambdas: Any, solver: Solver, *, l1_ratio: Any, device: Any = "auto",
               return_stats: bool = False, gram: bool | None = None) -> Any:
    """:func:`elastic_net_path` for a solver object, without its warnings. ``gram`` overrides the layout a
    certified solver takes (:class:`ActiveSet`: the Gram matrix when ``n > d``; :class:`Admm`: always)."""
    dev = path_device(device, design_entries(x), None if isinstance(solver, FixedSteps) else solver.tol)
    with jax.default_device(dev):
        x, y = place(x, y, dev)
        if isinstance(solver, FixedSteps):
            # the sweep runs on that one device, or on every device of its platform (of every process)
            devices = [dev] if isinstance(device, jax.Device) else jax.devices(backend=dev.platform)
            return _fixed_steps(x, y, lambdas, solver, l1_ratio, dev, devices, return_stats)
        if isinstance(solver, ActiveSet) and np.ndim(l1_ratio) != 0:
            raise ValueError(f"ActiveSet needs one float l1_ratio, got {l1_ratio!r}; use Fista or Admm")
        lam_desc, order = descending(lambdas, x.dtype)
        gram = _uses_gram(solver, x) if gram is None else gram
        coefs, stats = _certified_path(x, y, lam_desc, solver, l1_ratio, gram=gram, cpu=dev.platform == "cpu")
    result = np.empty_like(coefs)
    result[order] = coefs  # back in the caller's order
    floor = certifiable_tol(coefs.dtype)
    stats.update(device=device_description(dev), certifiable_tol=floor,
                 converged=bool(stats["max_gap"] <= solver.tol and solver.tol >= floor))
    return (result, stats) if return_stats else result


def _uses_gram(solver: Solver, x: Any) -> bool:
    """Whether ``solver`` works with the Gram matrix: :class:`Admm` always; :class:`Fista` and
    :class:`FixedSteps` as their ``gram`` says; by default (and :class:`ActiveSet`) when ``n > d``, unless a
    sparse ``x``'s dense Gram matrix would exceed :data:`~jaxreg.solvers._design.SPARSE_GRAM_MAX_BYTES`."""
    n, d = x.shape
    forced = isinstance(solver, Admm) or isinstance(solver, (Fista, FixedSteps)) and solver.gram is not None
    gram = True if isinstance(solver, Admm) else solver.gram if forced else n > d
    if gram and not gram_fits(x):
        if forced:
            raise ValueError(f"x is sparse with d = {d} features: its dense Gram matrix XᵀX/n would take "
                             f"{d * d * x.dtype.itemsize / 2**30:.1f} GiB, more than "
                             f"{SPARSE_GRAM_MAX_BYTES / 2**30:.0f} GiB; use a solver that keeps x sparse: "
                             f"ActiveSet(...), Fista(gram=False) or FixedSteps(gram=False)")
        return False
    return gram


def _fixed_steps(x, y, lambdas, solver: FixedSteps, l1_ratio, dev, devices, return_stats):
    """:class:`FixedSteps`: the data in the layout its ``gram`` asks for, then one sweep."""
    data = design_data(x, y, gram=_uses_gram(solver, x), cpu=dev.platform == "cpu")
    return fixed_steps_path(lambdas, data, solver, l1_ratio, step_size(data), devices, return_stats)


_CERTIFIED_AT_ZERO = (" for a certified path, got {:g}: λ = 0 (unpenalised least squares) has no duality-gap "
                      "certificate here; drop it, or use solver=FixedSteps()")


def descending(lambdas, dtype, at_zero: str = _CERTIFIED_AT_ZERO):
    """Paths solve λ from large to small (each warm-starts the next): the sorted grid and its order.

    ``at_zero`` completes the error for a λ ≤ 0 after "lambdas must be > 0" (``{:g}``: the smallest λ).
    """
    lam_host = check_grid(lambdas).astype(np.dtype(dtype))
    if not (lam_host > 0).all():
        raise ValueError("lambdas must be > 0" + at_zero.format(lam_host.min()))
    order = np.argsort(-lam_host, kind="stable")
    return lam_host[order], order


def _certified_path(x, y, lam_desc, solver, l1_ratio, *, gram: bool, cpu: bool):
    """A certified solver on ``lam_desc`` (large → small): its data and set-up (timed as ``setup_s``), then its
    path. Returns the coefficients in that order and the stats."""
    n, d = x.shape
    t_setup = time.perf_counter()
    data = design_data(x, y, gram=gram, cpu=cpu, with_moments=isinstance(solver, ActiveSet))
    if isinstance(solver, Admm):
        data = with_eigendecomposition(data)
    lr = step_size(data) if isinstance(solver, Fista) else None
    jax.block_until_ready(data)
    setup_s = time.perf_counter() - t_setup  # the Gram matrix, eigendecomposition or step size
    if isinstance(solver, ActiveSet):  # (LAPACK inside: one BLAS thread unless n × n factorisations are large)
        working_set = not gram and solver.working_set is not False
        with one_blas_thread(n**3 / 3 if n < d and not working_set else 0.0) if cpu else contextlib.nullcontext():
            path = working_set_path if working_set else active_set_path
            coefs, stats = path(lam_desc, data, l1_ratio=l1_ratio, tol=solver.tol, max_iter=solver.max_iter)
    elif isinstance(solver, Fista):
        coefs, stats = fista_path(lam_desc, data, solver, l1_ratio, lr)
    else:
        coefs, stats = admm_path(lam_desc, data, solver, l1_ratio)
    stats.update(setup_s=setup_s, solver=SOLVER_NAMES[type(solver)])
    return coefs, stats


def _warn_if_uncertified(stats: dict, tol: float, dtype: Any) -> None:
    """A ``RuntimeWarning`` at :func:`elastic_net_path`'s caller if the path stopped short of ``tol`` or ``tol``
    is finer than ``dtype`` can certify (then ``converged`` is already False whatever the computed gap)."""
    name, floor = np.dtype(dtype).name, stats["certifiable_tol"]
    if tol < floor:
        warnings.warn(f"elastic_net_path: tol={tol:g} is below the smallest relative duality gap {name} can "
                      f"certify (~{floor:.2e}); the computed gap ({stats['max_gap']:.2g}) is within rounding, not a "
                      f"certificate, and converged is False. Use float64 (jax_enable_x64) or tol >= {floor:.2e}",
                      RuntimeWarning, stacklevel=3)  # (the caller of elastic_net_path)
    elif not stats["converged"]:
        warnings.warn(f"elastic_net_path stopped with a relative duality gap of {stats['max_gap']:.2g} > tol={tol:g} "
                      f"({name}), at the solver's max_iter or where rounding stopped the iterates; raise max_iter "
                      "(e.g. solver=ActiveSet(tol=..., max_iter=...)), or use float64 (jax_enable_x64) for a tol "
                      f"near or below float32's floor, {certifiable_tol(np.float32):.2e}", RuntimeWarning, stacklevel=3)

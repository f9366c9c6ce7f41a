"""The path solvers as small frozen option objects: which algorithm, with what stopping rule.

Pass one as ``solver=`` to :func:`jaxreg.solvers.elastic_net_path`; each is validated when it is built, and
its error names the field. The three certified solvers (:class:`ActiveSet`, :class:`Fista`, :class:`Admm`)
stop each λ at a relative duality gap :math:`(P - D)/P \\le` ``tol``
(:func:`jaxreg.solvers.relative_duality_gap`); :class:`FixedSteps` runs a fixed number of iterations per λ
and certifies nothing.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import numpy as np

__all__ = ["ActiveSet", "Fista", "Admm", "FixedSteps", "Solver", "SOLVER_NAMES"]


def _positive_float(owner: Any, name: str, what: str) -> None:
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{type(owner).__name__}: {name} must be a positive float ({what}), got {value!r}")
    object.__setattr__(owner, name, float(value))


def _positive_int(owner: Any, name: str, what: str, *, optional: bool = False) -> None:
    value = getattr(owner, name)
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        fix = " or None" if optional else ""
        raise ValueError(f"{type(owner).__name__}: {name} must be a positive int{fix} ({what}), got {value!r}")
    object.__setattr__(owner, name, int(value))


def _flag(owner: Any, name: str, what: str, *, optional: bool = False) -> None:
    value = getattr(owner, name)
    if optional and value is None:
        return
    if not isinstance(value, (bool, np.bool_)):
        fix = ", or None" if optional else ""
        raise ValueError(f"{type(owner).__name__}: {name} must be True or False{fix} ({what}), got {value!r}")
    object.__setattr__(owner, name, bool(value))


@dataclasses.dataclass(frozen=True)
class ActiveSet:
    """Active-set Newton solver (:mod:`jaxreg.solvers._active_set`): the default for lasso and elastic net.

    The λ run from large to small, each warm-started from the previous solution; each iteration guesses the
    support and takes exact sign-constrained Newton steps on it, so a λ usually needs 1–3 iterations. The Gram
    matrix is used when ``n > d``, the data otherwise; with the data, each λ is solved on a working set of the
    features, from a cache of their Gram columns, and certified on all of them
    (:mod:`jaxreg.solvers._working_set`).

    Attributes:
      tol: the relative duality gap each λ stops at.
      max_iter: the most Newton iterations per λ (per solve on a working set).
      working_set: with the data (``n ≤ d``), solve each λ on a working set (``False``: Newton iterations on all
        ``d`` features, ``O(nd + n|A|²)`` each); ``None``: whenever the data are used. The Gram layout already
        holds every Gram column and ignores it.

    Example:
      >>> from jaxreg.solvers import ActiveSet
      >>> ActiveSet(tol=1e-8)
      ActiveSet(tol=1e-08, max_iter=2000, working_set=None)
    """

    tol: float = 1e-6
    max_iter: int = 2000
    working_set: bool | None = None

    def __post_init__(self):
        _positive_float(self, "tol", "a relative duality gap")
        _positive_int(self, "max_iter", "Newton iterations per λ")
        _flag(self, "working_set", "working sets with the data layout; None: whenever the data are used",
              optional=True)


@dataclasses.dataclass(frozen=True)
class Fista:
    """Accelerated proximal gradient (FISTA with adaptive restart) on warm-started blocks of λ.

    The λ, sorted from large to small, are solved ``block`` at a time (vmapped); each block starts from the
    previous block's solution at its smallest λ and stops as soon as every λ in it has a gap ≤ ``tol``, checked
    every ``check_every`` iterations, or after ``max_iter`` iterations.

    Attributes:
      tol: the relative duality gap every λ of a block stops at.
      max_iter: the most iterations per block (rounded up to a multiple of ``check_every``).
      block: λ solved together per warm-started block.
      check_every: iterations between duality-gap checks.
      accelerate: FISTA with adaptive restart (``False``: plain ISTA).
      gram: gradients from the Gram matrix ``XᵀX/n`` and ``Xᵀy/n`` (``O(d²)`` per iteration instead of
        ``O(nd)``); ``None``: when ``n > d``.

    Example:
      >>> from jaxreg.solvers import Fista
      >>> Fista(tol=1e-8, block=10).block
      10
    """

    tol: float = 1e-6
    max_iter: int = 2000
    block: int = 25
    check_every: int = 10
    accelerate: bool = True
    gram: bool | None = None

    def __post_init__(self):
        _positive_float(self, "tol", "a relative duality gap")
        _positive_int(self, "max_iter", "iterations per block of λ")
        _positive_int(self, "block", "λ per warm-started block")
        _positive_int(self, "check_every", "iterations between duality-gap checks")
        _flag(self, "accelerate", "FISTA, or plain ISTA")
        _flag(self, "gram", "gradients from the Gram matrix; None: when n > d", optional=True)


@dataclasses.dataclass(frozen=True)
class Admm:
    r"""Over-relaxed ADMM on warm-started blocks of λ, from one eigendecomposition of the Gram matrix.

    Ill-conditioning slows it far less than :class:`Fista`, which makes it the default for ridge
    (``l1_ratio = 0``) with ``d ≥ 100``. It always works with the Gram matrix :math:`G = X^\top X/n`
    (``O(d³)`` once, then ``O(d²)`` per iteration): meant for ``n > d``. Blocks, gap checks and ``max_iter`` as
    for :class:`Fista`.

    Attributes:
      tol: the relative duality gap every λ of a block stops at.
      max_iter: the most iterations per block (rounded up to a multiple of ``check_every``).
      block: λ solved together per warm-started block.
      check_every: iterations between duality-gap checks (and rebalancings of the ADMM penalty).

    Example:
      >>> from jaxreg.solvers import Admm
      >>> Admm(tol=1e-9)
      Admm(tol=1e-09, max_iter=2000, block=25, check_every=10)
    """

    tol: float = 1e-6
    max_iter: int = 2000
    block: int = 25
    check_every: int = 10

    def __post_init__(self):
        _positive_float(self, "tol", "a relative duality gap")
        _positive_int(self, "max_iter", "iterations per block of λ")
        _positive_int(self, "block", "λ per warm-started block")
        _positive_int(self, "check_every", "iterations between duality-gap checks")


@dataclasses.dataclass(frozen=True)
class FixedSteps:
    """``steps`` proximal-gradient iterations per λ from 0, every λ in one :func:`jaxreg.sweep` call.

    No duality gap is computed and nothing is certified; the λ are independent (vmapped, chunked and sharded
    over devices like any sweep).

    Attributes:
      steps: iterations per λ (then one plain proximal step, for exact zeros).
      accelerate: FISTA with adaptive restart (``False``: plain ISTA).
      gram: gradients from the Gram matrix (as for :class:`Fista`); ``None``: when ``n > d``.
      chunk_size: models per compiled call (:func:`jaxreg.sweep`); ``None``: all at once.

    Example:
      >>> from jaxreg.solvers import FixedSteps
      >>> FixedSteps(steps=500, accelerate=False)
      FixedSteps(steps=500, accelerate=False, gram=None, chunk_size=None)
    """

    steps: int = 2000
    accelerate: bool = True
    gram: bool | None = None
    chunk_size: int | None = None

    def __post_init__(self):
        _positive_int(self, "steps", "iterations per λ")
        _flag(self, "accelerate", "FISTA, or plain ISTA")
        _flag(self, "gram", "gradients from the Gram matrix; None: when n > d", optional=True)
        _positive_int(self, "chunk_size", "models per compiled call; None: all at once", optional=True)


#: Any of the path solvers' option objects.
Solver = ActiveSet | Fista | Admm | FixedSteps

#: The name each certified solver reports as ``stats["solver"]``.
SOLVER_NAMES = {ActiveSet: "active_set", Fista: "fista", Admm: "admm"}

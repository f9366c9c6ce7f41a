"""Lasso / elastic-net / ridge regularization paths with certified duality gaps.

:func:`elastic_net_path` solves a grid of λ with a solver chosen by an option object (:class:`ActiveSet`,
:class:`Fista`, :class:`Admm`, :class:`FixedSteps`) or by ``solver="auto"``; every certified solver stops at the
same certificate, :func:`relative_duality_gap` (:mod:`jaxreg.solvers._objective`). :func:`nonconvex_path` solves
MCP / SCAD paths to stationary points (:mod:`jaxreg.solvers._nonconvex_cd`).
"""

from jaxreg.solvers._nonconvex_path import nonconvex_path as nonconvex_path
from jaxreg.solvers._objective import (
    CERTIFIABLE_GAP_EPS as CERTIFIABLE_GAP_EPS,
    certifiable_tol as certifiable_tol,
    least_squares_objective as least_squares_objective,
    lipschitz_least_squares as lipschitz_least_squares,
    relative_duality_gap as relative_duality_gap,
)
from jaxreg.solvers._options import (
    ActiveSet as ActiveSet,
    Admm as Admm,
    Fista as Fista,
    FixedSteps as FixedSteps,
)
from jaxreg.solvers._paths import (
    AUTO_CPU_MAX_ENTRIES as AUTO_CPU_MAX_ENTRIES,
    elastic_net_path as elastic_net_path,
    path_device as path_device,
)

__all__ = [
    "elastic_net_path", "nonconvex_path", "ActiveSet", "Fista", "Admm", "FixedSteps", "path_device",
    "AUTO_CPU_MAX_ENTRIES",
    "certifiable_tol", "CERTIFIABLE_GAP_EPS", "relative_duality_gap", "least_squares_objective",
    "lipschitz_least_squares",
]

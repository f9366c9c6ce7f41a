"""Lasso / elastic-net / ridge regularization paths with certified duality gaps.

:func:`elastic_net_path` solves a grid of λ; every solver shares the objective and its
certificate, :func:`relative_duality_gap` (:mod:`jaxreg.solvers._objective`).
"""

from jaxreg.solvers._objective import (
    least_squares_objective as least_squares_objective,
    lipschitz_least_squares as lipschitz_least_squares,
    relative_duality_gap as relative_duality_gap,
)
from jaxreg.solvers._paths import (
    AUTO_CPU_MAX_ENTRIES as AUTO_CPU_MAX_ENTRIES,
    certifiable_tol as certifiable_tol,
    elastic_net_path as elastic_net_path,
    path_device as path_device,
)

__all__ = [
    "elastic_net_path", "path_device", "AUTO_CPU_MAX_ENTRIES", "certifiable_tol",
    "relative_duality_gap", "least_squares_objective", "lipschitz_least_squares",
]

"""jaxreg: L1/L2 regularization for JAX as pure functions and optax transforms.

Conventions: ``L(W) = L_data(W) + λ R(W)`` with ``R_l2 = Σ w²`` (gradient
``2W``) and ``R_l1 = Σ |w|`` (gradient ``sign(W)``). Each concept lives in the
module named for it (penalties, prox, transforms, conventions, grids, train,
sweep, devices, cv, results, checkpoint, distributed, paths), with its formula in the
docstring.
"""

from jaxreg import devices, distributed, paths, prox
from jaxreg.conventions import (
    from_glmnet,
    from_optax_weight_decay,
    from_sklearn_elastic_net,
    from_sklearn_lasso,
    from_sklearn_logistic,
    from_sklearn_ridge,
    to_glmnet,
    to_optax_weight_decay,
    to_sklearn_elastic_net,
    to_sklearn_lasso,
    to_sklearn_logistic,
    to_sklearn_ridge,
)
from jaxreg.grids import lambda_max_l1, log_grid
from jaxreg.penalties import (
    elastic_net_penalty,
    group_lasso_penalty,
    l1_penalty,
    l2_penalty,
)
from jaxreg.prox import soft_threshold
from jaxreg.sweep import SweepStats, sweep
from jaxreg.train import FitResult, fit
from jaxreg.transforms import (
    FistaState,
    ProxState,
    add_elastic_net,
    add_l1_sign,
    add_l2_decay,
    add_penalty_grad,
    fista,
    prox_elastic_net,
    prox_group_lasso,
    prox_l1,
)

__version__ = "0.1.0"

__all__ = [
    "prox",
    "paths",
    "distributed",
    "devices",
    # penalties
    "l2_penalty",
    "l1_penalty",
    "elastic_net_penalty",
    "group_lasso_penalty",
    # prox operators
    "soft_threshold",
    # transforms
    "add_l2_decay",
    "add_l1_sign",
    "add_elastic_net",
    "add_penalty_grad",
    "prox_l1",
    "prox_elastic_net",
    "prox_group_lasso",
    "ProxState",
    "fista",
    "FistaState",
    # training and sweeps
    "fit",
    "FitResult",
    "sweep",
    "SweepStats",
    "log_grid",
    "lambda_max_l1",
    # conventions
    "to_optax_weight_decay",
    "from_optax_weight_decay",
    "from_sklearn_lasso",
    "to_sklearn_lasso",
    "from_sklearn_elastic_net",
    "to_sklearn_elastic_net",
    "from_sklearn_ridge",
    "to_sklearn_ridge",
    "from_sklearn_logistic",
    "to_sklearn_logistic",
    "from_glmnet",
    "to_glmnet",
]

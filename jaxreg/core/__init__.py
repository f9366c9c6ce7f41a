"""Pure math of regularization: penalties, proximal operators, optax transforms, conventions, grids.

Imports nothing of jaxreg but the argument checks (:mod:`jaxreg._checks`).
"""

from jaxreg.core import prox as prox
from jaxreg.core._conventions import (
    LOSS_SCALINGS as LOSS_SCALINGS,
    from_glmnet as from_glmnet,
    from_optax_weight_decay as from_optax_weight_decay,
    from_sklearn_elastic_net as from_sklearn_elastic_net,
    from_sklearn_lasso as from_sklearn_lasso,
    from_sklearn_logistic as from_sklearn_logistic,
    from_sklearn_ridge as from_sklearn_ridge,
    to_glmnet as to_glmnet,
    to_optax_weight_decay as to_optax_weight_decay,
    to_sklearn_elastic_net as to_sklearn_elastic_net,
    to_sklearn_lasso as to_sklearn_lasso,
    to_sklearn_logistic as to_sklearn_logistic,
    to_sklearn_ridge as to_sklearn_ridge,
)
from jaxreg.core._grids import check_grid as check_grid, lambda_max_l1 as lambda_max_l1, log_grid as log_grid
from jaxreg.core._masks import WEIGHT_MIN_NDIM as WEIGHT_MIN_NDIM, weights_mask as weights_mask
from jaxreg.core._metrics import (
    NEAR_ZERO_RTOL as NEAR_ZERO_RTOL,
    all_finite as all_finite,
    weight_metrics as weight_metrics,
)
from jaxreg.core._nonconvex import (
    add_mcp_grad as add_mcp_grad,
    add_scad_grad as add_scad_grad,
    mcp_derivative as mcp_derivative,
    mcp_penalty as mcp_penalty,
    prox_mcp as prox_mcp,
    prox_scad as prox_scad,
    scad_derivative as scad_derivative,
    scad_penalty as scad_penalty,
)
from jaxreg.core._penalties import (
    elastic_net_penalty as elastic_net_penalty,
    group_lasso_penalty as group_lasso_penalty,
    l1_penalty as l1_penalty,
    l2_penalty as l2_penalty,
)
from jaxreg.core._proximal_sgd import proximal_sgd as proximal_sgd
from jaxreg.core._transforms import (
    FistaState as FistaState,
    ProxState as ProxState,
    add_elastic_net as add_elastic_net,
    add_l1_sign as add_l1_sign,
    add_l2_decay as add_l2_decay,
    add_penalty_grad as add_penalty_grad,
    fista as fista,
    prox_elastic_net as prox_elastic_net,
    prox_group_lasso as prox_group_lasso,
    prox_l1 as prox_l1,
)
from jaxreg.core._unit_groups import (
    UnitGroup as UnitGroup,
    prox_unit_group_lasso as prox_unit_group_lasso,
    unit_group_lasso_penalty as unit_group_lasso_penalty,
    unit_norms as unit_norms,
)
from jaxreg.core.prox import soft_threshold as soft_threshold

__all__ = [
    "UnitGroup",
    "prox_unit_group_lasso",
    "unit_group_lasso_penalty",
    "unit_norms",
    "proximal_sgd",
    "weights_mask",
    "WEIGHT_MIN_NDIM",
    "prox",
    "soft_threshold",
    "elastic_net_penalty",
    "group_lasso_penalty",
    "l1_penalty",
    "l2_penalty",
    "ProxState",
    "FistaState",
    "fista",
    "add_elastic_net",
    "add_l1_sign",
    "add_l2_decay",
    "add_penalty_grad",
    "prox_elastic_net",
    "prox_group_lasso",
    "prox_l1",
    "LOSS_SCALINGS",
    "from_glmnet",
    "from_optax_weight_decay",
    "from_sklearn_elastic_net",
    "from_sklearn_lasso",
    "from_sklearn_logistic",
    "from_sklearn_ridge",
    "to_glmnet",
    "to_optax_weight_decay",
    "to_sklearn_elastic_net",
    "to_sklearn_lasso",
    "to_sklearn_logistic",
    "to_sklearn_ridge",
    "log_grid",
    "lambda_max_l1",
    "check_grid",
    "weight_metrics",
    "all_finite",
    "NEAR_ZERO_RTOL",
    "mcp_penalty",
    "scad_penalty",
    "mcp_derivative",
    "scad_derivative",
    "add_mcp_grad",
    "add_scad_grad",
    "prox_mcp",
    "prox_scad",
]

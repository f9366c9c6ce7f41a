"""jaxreg: L1/L2 regularization for JAX as pure functions and optax transforms.

Conventions: ``L(W) = L_data(W) + λ R(W)`` with ``R_l2 = Σ w²`` (gradient ``2W``) and
``R_l1 = Σ |w|`` (gradient ``sign(W)``).

The package is layered, each layer importing only the ones before it:

* :mod:`jaxreg.core`: penalties, proximal operators (:mod:`jaxreg.prox`), optax transforms,
  λ conventions and converters, λ grids;
* :func:`jaxreg.fit`: one model's training as a ``lax.scan``;
* :mod:`jaxreg.engine`: :func:`jaxreg.sweep`, devices, processes, checkpoints, results, CV;
* :mod:`jaxreg.solvers`: lasso / elastic-net / ridge paths with certified duality gaps;
* :mod:`jaxreg.selection`: stability selection over subsamples (which features, and how sure);
* :mod:`jaxreg.tuning`: many λ tuned at once by hypergradients through training (or implicitly, lasso);
* :mod:`jaxreg.models`: tiny reference models and their kernels;
* :mod:`jaxreg.app`: the ``jaxreg`` command.

This module is the public API: every name below is listed once in ``__all__``; names that
only a layer exports are reached as ``jaxreg.<layer>.<name>``. The README is the five-minute
tour; ``docs/`` holds the user guides, the design notes and the API reference (``make docs``).

Example:
  >>> import jax.numpy as jnp, optax, jaxreg
  >>> opt = optax.chain(optax.sgd(0.1), jaxreg.prox_l1(0.5, 0.1))   # ISTA: exact zeros
  >>> w = jnp.array([1.0, -0.03])
  >>> u, _ = opt.update(jnp.zeros(2), opt.init(w), w)
  >>> print(optax.apply_updates(w, u))
  [0.95 0.  ]
"""

# _startup first (it sorts first too): under `python -m jaxreg` it makes a Ctrl-C during these imports one line
from jaxreg import (
    _startup as _startup,
    app as app,
    core as core,
    engine as engine,
    models as models,
    selection as selection,
    solvers as solvers,
    tuning as tuning,
)
from jaxreg._train import FitResult as FitResult, fit as fit
from jaxreg.core import (
    FistaState as FistaState,
    ProxState as ProxState,
    UnitGroup as UnitGroup,
    add_elastic_net as add_elastic_net,
    add_l1_sign as add_l1_sign,
    add_l2_decay as add_l2_decay,
    add_mcp_grad as add_mcp_grad,
    add_penalty_grad as add_penalty_grad,
    add_scad_grad as add_scad_grad,
    elastic_net_penalty as elastic_net_penalty,
    fista as fista,
    from_glmnet as from_glmnet,
    from_optax_weight_decay as from_optax_weight_decay,
    from_sklearn_elastic_net as from_sklearn_elastic_net,
    from_sklearn_lasso as from_sklearn_lasso,
    from_sklearn_logistic as from_sklearn_logistic,
    from_sklearn_ridge as from_sklearn_ridge,
    group_lasso_penalty as group_lasso_penalty,
    l1_penalty as l1_penalty,
    l2_penalty as l2_penalty,
    lambda_max_l1 as lambda_max_l1,
    log_grid as log_grid,
    mcp_penalty as mcp_penalty,
    prox as prox,
    prox_elastic_net as prox_elastic_net,
    prox_group_lasso as prox_group_lasso,
    prox_l1 as prox_l1,
    prox_mcp as prox_mcp,
    prox_scad as prox_scad,
    prox_unit_group_lasso as prox_unit_group_lasso,
    proximal_sgd as proximal_sgd,
    scad_penalty as scad_penalty,
    soft_threshold as soft_threshold,
    to_glmnet as to_glmnet,
    to_optax_weight_decay as to_optax_weight_decay,
    to_sklearn_elastic_net as to_sklearn_elastic_net,
    to_sklearn_lasso as to_sklearn_lasso,
    to_sklearn_logistic as to_sklearn_logistic,
    to_sklearn_ridge as to_sklearn_ridge,
    unit_group_lasso_penalty as unit_group_lasso_penalty,
    unit_norms as unit_norms,
    weights_mask as weights_mask,
)
from jaxreg.engine import (
    SweepResult as SweepResult,
    SweepStats as SweepStats,
    cv_summary as cv_summary,
    device_description as device_description,
    initialize_distributed as initialize_distributed,
    kfold_masks as kfold_masks,
    sweep as sweep,
    use_cpu_cores as use_cpu_cores,
)
from jaxreg.selection import StabilityResult as StabilityResult, stability_selection as stability_selection
from jaxreg.solvers import (
    ActiveSet as ActiveSet,
    Admm as Admm,
    Fista as Fista,
    FixedSteps as FixedSteps,
    elastic_net_path as elastic_net_path,
    path_device as path_device,
    relative_duality_gap as relative_duality_gap,
)
from jaxreg.tuning import (
    TuneResult as TuneResult,
    tune_hyperparams as tune_hyperparams,
    tune_weighted_lasso as tune_weighted_lasso,
)

__version__ = "0.2.0.dev0"

__all__ = [
    # layers
    "core", "engine", "solvers", "selection", "tuning", "models", "app", "prox",
    # penalties and proximal operators
    "l2_penalty", "l1_penalty", "elastic_net_penalty", "group_lasso_penalty", "soft_threshold",
    # optax transforms
    "add_l2_decay", "add_l1_sign", "add_elastic_net", "add_penalty_grad",
    "prox_l1", "prox_elastic_net", "prox_group_lasso", "ProxState", "fista", "FistaState",
    "weights_mask", "proximal_sgd",
    "UnitGroup", "prox_unit_group_lasso", "unit_group_lasso_penalty", "unit_norms",
    # nonconvex penalties (λ inside ρ) and stability selection
    "mcp_penalty", "scad_penalty", "prox_mcp", "prox_scad", "add_mcp_grad", "add_scad_grad",
    "stability_selection", "StabilityResult",
    # λ grids and conventions
    "log_grid", "lambda_max_l1",
    "to_optax_weight_decay", "from_optax_weight_decay", "from_sklearn_lasso", "to_sklearn_lasso",
    "from_sklearn_elastic_net", "to_sklearn_elastic_net", "from_sklearn_ridge", "to_sklearn_ridge",
    "from_sklearn_logistic", "to_sklearn_logistic", "from_glmnet", "to_glmnet",
    # training, sweeps and their results
    "fit", "FitResult", "sweep", "SweepStats", "SweepResult", "cv_summary", "kfold_masks",
    "use_cpu_cores", "device_description", "initialize_distributed",
    # regularization paths
    "elastic_net_path", "path_device", "relative_duality_gap", "ActiveSet", "Fista", "Admm", "FixedSteps",
    # tuning many λ by hypergradients
    "tune_hyperparams", "tune_weighted_lasso", "TuneResult",
]

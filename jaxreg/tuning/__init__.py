"""Tuning many λ at once by hypergradients: ``jax.grad`` of a validation loss through training.

The layer above :mod:`jaxreg.solvers` and :mod:`jaxreg.selection` (it imports :func:`jaxreg.fit`'s layer and the
path solvers): :func:`tune_hyperparams` runs hypergradient descent on log λ through any training function
(unrolled reverse mode, or forward mode for a few λ), several starts side by side in one compiled call
(:func:`starts_from_sweep`); :func:`tune_weighted_lasso` tunes one λ per feature (or group) of a lasso /
elastic net by implicit differentiation at the exact solution, on a validation split or K folds
(:func:`lasso_hypergradient`, :func:`solve_weighted_elastic_net`); :func:`check_hypergradient` says whether a
hypergradient means anything (not through the sign step). Both return a :class:`TuneResult`, with what it
cost (:class:`TuneCost`). User guide: ``docs/tuning.md``.
"""

from jaxreg.tuning._check import (
    HypergradientCheck as HypergradientCheck,
    check_hypergradient as check_hypergradient,
)
from jaxreg.tuning._descent import (
    DEFAULT_LEARNING_RATE as DEFAULT_LEARNING_RATE,
    tune_hyperparams as tune_hyperparams,
)
from jaxreg.tuning._implicit import (
    ImplicitHypergradient as ImplicitHypergradient,
    lasso_hypergradient as lasso_hypergradient,
    solve_weighted_elastic_net as solve_weighted_elastic_net,
)
from jaxreg.tuning._result import (
    TuneCost as TuneCost,
    TuneResult as TuneResult,
    starts_from_sweep as starts_from_sweep,
)
from jaxreg.tuning._weighted import tune_weighted_lasso as tune_weighted_lasso

__all__ = [
    "tune_hyperparams", "TuneResult", "TuneCost", "starts_from_sweep", "check_hypergradient", "HypergradientCheck",
    "DEFAULT_LEARNING_RATE", "tune_weighted_lasso", "lasso_hypergradient", "ImplicitHypergradient",
    "solve_weighted_elastic_net",
]

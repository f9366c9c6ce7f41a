"""Which features, and how sure: stability selection over subsamples of the data.

The layer above :mod:`jaxreg.solvers` (it runs their paths on each subsample): :func:`stability_selection`
draws complementary pairs of halves (:func:`complementary_pairs`), fits one lasso / elastic-net path per half
and returns a :class:`StabilityResult` (selection probabilities, stable set, the Meinshausen–Bühlmann and
Shah–Samworth bounds on false selections, the stability-path plot). :func:`stability_sweep` does the same for
any training function, every half × λ in one :func:`jaxreg.sweep`; :func:`false_selection_bound` plans a run
(which ``q`` a threshold allows). Are the zeros right: :func:`support_metrics` (TPR, FDR, error against a
known truth), :func:`path_cv` (λ by K-fold CV for any path solver), :func:`refit_least_squares`. User guide:
``docs/nonconvex.md``.
"""

from jaxreg.selection._bounds import (
    BOUND_ASSUMPTIONS as BOUND_ASSUMPTIONS,
    false_selection_bound as false_selection_bound,
)
from jaxreg.selection._recovery import (
    path_cv as path_cv,
    refit_least_squares as refit_least_squares,
    support_metrics as support_metrics,
)
from jaxreg.selection._stability import (
    CERTIFIABLE_MARGIN as CERTIFIABLE_MARGIN,
    DEFAULT_TOL as DEFAULT_TOL,
    StabilityResult as StabilityResult,
    complementary_pairs as complementary_pairs,
    default_solver as default_solver,
    stability_selection as stability_selection,
)
from jaxreg.selection._sweep_stability import stability_sweep as stability_sweep

__all__ = [
    "stability_selection", "stability_sweep", "StabilityResult", "complementary_pairs", "false_selection_bound",
    "BOUND_ASSUMPTIONS", "default_solver", "DEFAULT_TOL", "CERTIFIABLE_MARGIN", "support_metrics", "path_cv",
    "refit_least_squares",
]

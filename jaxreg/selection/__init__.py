"""Which features, and how sure: stability selection over subsamples of the data.

The layer above :mod:`jaxreg.solvers` (it runs their paths on each subsample): :func:`stability_selection`
draws complementary pairs of halves (:func:`complementary_pairs`), fits one lasso / elastic-net path per half
and returns a :class:`StabilityResult` (selection probabilities, stable set, the Meinshausen–Bühlmann bound on
false selections, the stability-path plot). User guide: ``docs/nonconvex.md``.
"""

from jaxreg.selection._stability import (
    CERTIFIABLE_MARGIN as CERTIFIABLE_MARGIN,
    DEFAULT_TOL as DEFAULT_TOL,
    StabilityResult as StabilityResult,
    complementary_pairs as complementary_pairs,
    default_solver as default_solver,
    stability_selection as stability_selection,
)

__all__ = [
    "stability_selection", "StabilityResult", "complementary_pairs", "default_solver", "DEFAULT_TOL",
    "CERTIFIABLE_MARGIN",
]

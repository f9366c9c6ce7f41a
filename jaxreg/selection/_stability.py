r"""Stability selection: which features a sparse estimator selects, and how reliably.

Meinshausen & Bühlmann (2010) fit the lasso on many random halves of the data and keep the features
selected on most of them; Shah & Samworth (2013) draw the halves as *complementary pairs*
:math:`(A_b, \bar A_b)`, :math:`b = 1..B`, disjoint halves of one permutation. With :math:`\hat S^\lambda(A)`
the features with a nonzero coefficient on subsample :math:`A` at λ,

.. math::

   \hat\Pi_k^\lambda = \frac{1}{2B}\sum_{b=1}^{B}
     \left[\mathbf 1\{k \in \hat S^\lambda(A_b)\} + \mathbf 1\{k \in \hat S^\lambda(\bar A_b)\}\right],
   \qquad
   \hat S^{stable} = \{k : \max_{\lambda\in\Lambda}\hat\Pi_k^\lambda \ge \pi_{thr}\}.

**The error bounds** (:mod:`jaxreg.selection._bounds`): with :math:`q_\Lambda` the number of features a half
selects at some λ ∈ Λ (estimated by the average over the halves) and :math:`\tfrac12 < \pi_{thr} \le 1`,

.. math::

   E\,|\hat S^{stable} \cap L| \le \frac{q_\Lambda^2}{(2\pi_{thr} - 1)\,d}, \qquad
   q_\Lambda = E\left|\textstyle\bigcup_{\lambda\in\Lambda}\hat S^\lambda(A)\right|.

Read with :math:`L` = the features a half selects with probability at most :math:`q_\Lambda/d`, it holds
for complementary pairs with no assumption (Shah & Samworth 2013, Theorem 1); read with :math:`L` = the noise
features (:math:`E[V]`), it is Meinshausen & Bühlmann's (2010, Theorem 1), which assumes (i) exchangeable
selection indicators of the noise features and (ii) a selection no worse than random guessing. Under
unimodality of the simultaneous selection proportions Shah & Samworth's bound is 2–3× smaller
(``assumption="unimodal"``). Correlated designs break (i), and then the noise reading is optimistic; the
low-selection-probability reading still holds. The stable set at :math:`\max_\lambda` is contained in the one
of the union :math:`\bigcup_{\lambda\in\Lambda}\hat S^\lambda`, the procedure both theorems are applied to.

:func:`stability_selection` runs one certified lasso / elastic-net path (:func:`jaxreg.elastic_net_path`) per
subsample, each centred (an intercept); any training function goes through :func:`stability_sweep` (one
:func:`jaxreg.sweep` over halves × λ), any other estimator through :meth:`StabilityResult.from_coefs`.
``docs/nonconvex.md`` has the measurements behind the default.
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxreg._checks import check_ratio
from jaxreg.core._grids import check_grid
from jaxreg.selection._bounds import BOUND_ASSUMPTIONS, false_selection_bound, unimodal_bound
from jaxreg.solvers._objective import certifiable_tol
from jaxreg.solvers._options import ActiveSet, Admm, Fista, FixedSteps, Solver
from jaxreg.solvers._paths import solve_path

__all__ = [
    "stability_selection", "StabilityResult", "complementary_pairs", "default_solver", "DEFAULT_TOL",
    "CERTIFIABLE_MARGIN",
]

#: The relative duality gap each subsample's path stops at by default (float64); only the zero pattern is used.
DEFAULT_TOL = 1e-6
#: In a lower precision the default stays this many times above what the dtype can certify
#: (:func:`jaxreg.solvers.certifiable_tol`): nearer to it, rounding stops many paths short of their ``tol``.
CERTIFIABLE_MARGIN = 10


def _positive_int(value: Any, name: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int ({what}), got {value!r}")
    return int(value)


def complementary_pairs(n: int, n_pairs: int, *, seed: int = 0) -> np.ndarray:
    r"""Row indices of ``n_pairs`` complementary pairs of halves: ``(2·n_pairs, n // 2)`` ints.

    Rows :math:`2b` and :math:`2b + 1` are the two halves of one random permutation of ``range(n)`` (each
    sorted), so they are disjoint; with an odd ``n`` one sample sits out each pair. Deterministic in ``seed``.

    Example:
      >>> from jaxreg.selection import complementary_pairs
      >>> halves = complementary_pairs(6, 2, seed=0)
      >>> halves.shape, sorted(halves[0].tolist() + halves[1].tolist())
      ((4, 3), [0, 1, 2, 3, 4, 5])
    """
    n = _positive_int(n, "n", "the number of samples")
    n_pairs = _positive_int(n_pairs, "n_pairs", "complementary pairs of halves")
    if n < 2:
        raise ValueError(f"n must be >= 2 to split the samples into halves, got {n}")
    rng = np.random.default_rng(seed)
    half = n // 2
    rows = []
    for _ in range(n_pairs):
        perm = rng.permutation(n)
        rows += [np.sort(perm[:half]), np.sort(perm[half: 2 * half])]
    return np.stack(rows)


def _union_sizes(selected: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """``(K,)``: for each λ_k, how many features one subsample selects at some λ ≥ λ_k (``selected``: ``(K, d)``)."""
    order = np.argsort(-lambdas, kind="stable")
    sizes = np.logical_or.accumulate(selected[order], axis=0).sum(axis=1)
    # position of the last λ ≥ λ_k in descending order (ties share the union of all equal λ)
    last = np.searchsorted(-lambdas[order], -lambdas, side="right") - 1
    return sizes[last]


@dataclasses.dataclass(frozen=True, eq=False)
class StabilityResult:
    """Selection probabilities of a stability selection, with the stable set, the error bound and the plot.

    Attributes:
      lambdas: ``(K,)`` the λ grid, in the caller's order.
      probabilities: ``(K, d)`` the share of subsamples that select feature ``j`` at ``lambdas[k]``.
      union_sizes: ``(S, K)`` how many features subsample ``s`` selects at some λ ≥ ``lambdas[k]``.
      converged: ``(S,)`` whether each subsample's path reached its certificate; ``None`` without one.

    Example:
      >>> import numpy as np
      >>> from jaxreg.selection import StabilityResult
      >>> coefs = np.array([[[1.0, 0.0, 0.0]], [[2.0, 0.5, 0.0]]])   # 2 subsamples, 1 λ, 3 features
      >>> result = StabilityResult.from_coefs(coefs, [0.1])
      >>> result.probabilities.tolist(), result.stable_set(0.9).tolist()
      ([[1.0, 0.5, 0.0]], [0])
    """

    lambdas: np.ndarray
    probabilities: np.ndarray
    union_sizes: np.ndarray
    converged: np.ndarray | None = None

    @classmethod
    def from_coefs(cls, coefs: Any, lambdas: Any, converged: Any = None) -> StabilityResult:
        """The result of any estimator: ``coefs`` ``(S, K, d)``, one path per subsample; nonzero = selected.

        Example:
          >>> import numpy as np
          >>> from jaxreg.selection import StabilityResult
          >>> r = StabilityResult.from_coefs(np.ones((4, 2, 3)), [1.0, 0.1])
          >>> r.probabilities.shape, r.union_sizes.shape
          ((2, 3), (4, 2))
        """
        lam = check_grid(lambdas).astype(np.float64)
        selected = np.asarray(coefs) != 0
        if selected.ndim != 3 or selected.shape[1] != lam.shape[0]:
            raise ValueError(f"coefs must be (subsamples, K, d) with K = {lam.shape[0]} λ, got {selected.shape}")
        unions = np.stack([_union_sizes(s, lam) for s in selected])
        return cls(lam, selected.mean(axis=0), unions, None if converged is None else np.asarray(converged, bool))

    @property
    def n_subsamples(self) -> int:
        """``S``: the subsamples (``2 × n_pairs``)."""
        return int(self.union_sizes.shape[0])

    @property
    def n_features(self) -> int:
        """``d``: the features."""
        return int(self.probabilities.shape[1])

    def _region(self, lambda_min: float | None) -> np.ndarray:
        """``(K,)`` bools: the λ of Λ = {λ ≥ ``lambda_min``} (all of them for ``None``)."""
        if lambda_min is None:
            return np.ones(self.lambdas.shape, bool)
        region = self.lambdas >= lambda_min
        if not region.any():
            raise ValueError(f"lambda_min={lambda_min!r} is above every λ of the grid (largest "
                             f"{self.lambdas.max():g}); pass a smaller one, or None for the whole grid")
        return region

    def max_probabilities(self, lambda_min: float | None = None) -> np.ndarray:
        r"""``(d,)``: :math:`\max_{\lambda\in\Lambda}\hat\Pi_k^\lambda`, Λ = {λ ≥ ``lambda_min``}.

        Example:
          >>> import numpy as np
          >>> from jaxreg.selection import StabilityResult
          >>> r = StabilityResult.from_coefs(np.array([[[1.0, 0.0], [1.0, 1.0]]]), [1.0, 0.1])
          >>> r.max_probabilities().tolist(), r.max_probabilities(lambda_min=0.5).tolist()
          ([1.0, 1.0], [1.0, 0.0])
        """
        return self.probabilities[self._region(lambda_min)].max(axis=0)

    def stable_set(self, threshold: float, lambda_min: float | None = None) -> np.ndarray:
        r"""The features with :math:`\max_{\lambda\in\Lambda}\hat\Pi_k^\lambda \ge` ``threshold``, sorted.

        Args:
          threshold: :math:`\pi_{thr}` in (0, 1]; the error bound needs it above ½ (0.6 to 0.9 is usual).
          lambda_min: Λ = {λ ≥ ``lambda_min``}; ``None``: the whole grid.

        Example:
          >>> import numpy as np
          >>> from jaxreg.selection import StabilityResult
          >>> StabilityResult.from_coefs(np.array([[[1.0, 0.0, 2.0]]]), [0.5]).stable_set(0.8).tolist()
          [0, 2]
        """
        _check_threshold(threshold, lower=0.0)
        return np.flatnonzero(self.max_probabilities(lambda_min) >= threshold)

    def average_selected(self, lambda_min: float | None = None) -> float:
        r""":math:`\hat q_\Lambda`: features selected at some λ ∈ Λ, averaged over the subsamples.

        Example:
          >>> import numpy as np
          >>> from jaxreg.selection import StabilityResult
          >>> StabilityResult.from_coefs(np.array([[[1.0, 0.0]], [[1.0, 1.0]]]), [0.5]).average_selected()
          1.5
        """
        region = self._region(lambda_min)
        smallest = np.flatnonzero(region)[np.argmin(self.lambdas[region])]
        return float(self.union_sizes[:, smallest].mean())

    def false_selection_bound(self, threshold: float, lambda_min: float | None = None, *,
                              assumption: str = "none") -> float:
        r"""The bound on wrongly stable features of :meth:`stable_set` (:mod:`jaxreg.selection._bounds`).

        ``"none"``: :math:`\hat q_\Lambda^2 / ((2\pi_{thr} - 1)\,d)`: the expected number of stable features a
        half selects with probability at most :math:`q/d`, with no assumption (Shah & Samworth's Theorem 1), and
        the expected number of noise features under Meinshausen & Bühlmann's assumptions (exchangeable noise
        features, selection no worse than random guessing). ``"unimodal"``: Shah & Samworth's smaller bound
        when the simultaneous selection proportions are unimodal; the subsamples must be complementary pairs
        (rows ``2b``, ``2b + 1``, as :func:`complementary_pairs` gives); raises outside the theorem's range.

        Args:
          threshold: :math:`\pi_{thr}` in (½, 1].
          lambda_min: Λ = {λ ≥ ``lambda_min``}; ``None``: the whole grid.
          assumption: ``"none"`` or ``"unimodal"``.

        Example:
          >>> import numpy as np
          >>> from jaxreg.selection import StabilityResult
          >>> coefs = np.zeros((2, 1, 100)); coefs[:, :, :5] = 1.0   # q = 5 of d = 100
          >>> StabilityResult.from_coefs(coefs, [0.5]).false_selection_bound(0.75)   # 25 / (0.5 · 100)
          0.5
        """
        _check_threshold(threshold, lower=0.5)
        q = self.average_selected(lambda_min)
        return false_selection_bound(q, self.n_features, threshold, assumption=assumption,
                                     n_pairs=self._pairs(assumption))

    def _pairs(self, assumption: str) -> int | None:
        """``B`` for the unimodal bound (an even number of subsamples), checked."""
        if assumption != "unimodal":
            return None
        if self.n_subsamples % 2:
            raise ValueError(f"the unimodal bound needs complementary pairs of halves, got {self.n_subsamples} "
                             "subsamples (an odd number); use assumption='none'")
        return self.n_subsamples // 2

    def error_bounds(self, threshold: float, lambda_min: float | None = None) -> dict:
        """Every bound at ``threshold`` over Λ, JSON-ready: value (``None`` where it does not apply), what it
        counts, what it assumes, where it is proved.

        Example:
          >>> import numpy as np
          >>> from jaxreg.selection import StabilityResult
          >>> coefs = np.zeros((100, 1, 1000)); coefs[:, :, :10] = 1.0   # 50 pairs, q = 10, d = 1000
          >>> bounds = StabilityResult.from_coefs(coefs, [0.5]).error_bounds(0.9)
          >>> bounds["none"]["value"], round(bounds["unimodal"]["value"], 4)   # 0.1 / 0.8; 0.1 · 4 · 0.11 / 1.02
          (0.125, 0.0431)
        """
        _check_threshold(threshold, lower=0.5)
        q, d = self.average_selected(lambda_min), self.n_features
        low = f"stable features that a half selects with probability <= q/d = {q / d:.3g}"
        out = {"none": {
            "value": false_selection_bound(q, d, threshold),
            "counts": f"{low}; under Meinshausen & Bühlmann's assumptions, the noise features (E[V])",
            "assumes": "none for the low-probability features (complementary pairs); for noise features: "
                       "exchangeable noise features and a selection no worse than random guessing",
            "reference": "Shah & Samworth (2013), Theorem 1; Meinshausen & Bühlmann (2010), Theorem 1",
        }}
        value, why = None, "needs an even number of subsamples (complementary pairs)"
        if self.n_subsamples % 2 == 0:
            value, why = unimodal_bound(q, d, float(threshold), self.n_subsamples // 2)
        out["unimodal"] = {
            "value": value, "counts": low,
            "assumes": "the simultaneous selection proportion of each such feature has a unimodal distribution",
            "reference": "Shah & Samworth (2013), the bound under unimodality",
            **({"not_applicable": why} if value is None else {}),
        }
        return out

    def lambda_min_for_bound(self, threshold: float, max_false: float = 1.0, *,
                             assumption: str = "none") -> float | None:
        """The smallest λ of the grid whose region Λ = {λ ≥ it} keeps the bound ≤ ``max_false``.

        The bound grows as Λ reaches smaller λ (more features per half), so every larger λ qualifies too.
        ``None`` where no λ does (not even the largest alone). ``"unimodal"`` with an odd number of subsamples
        raises (as :meth:`false_selection_bound` does).

        Example:
          >>> import numpy as np
          >>> from jaxreg.selection import StabilityResult
          >>> coefs = np.zeros((2, 3, 100)); coefs[:, 1, :5] = 1.0; coefs[:, 2, :20] = 1.0   # q = 0, 5, 20
          >>> StabilityResult.from_coefs(coefs, [1.0, 0.5, 0.1]).lambda_min_for_bound(0.75)   # 0.5, then 8.0
          0.5
        """
        _check_threshold(threshold, lower=0.5)
        if isinstance(max_false, bool) or not isinstance(max_false, numbers.Real) or not max_false > 0:
            raise ValueError(f"max_false must be a positive number (expected false selections), got {max_false!r}")
        if assumption not in BOUND_ASSUMPTIONS:
            raise ValueError(f"assumption must be one of {', '.join(map(repr, BOUND_ASSUMPTIONS))}, "
                             f"got {assumption!r}")
        pairs = self._pairs(assumption)  # an odd subsample count is the caller's error, not "no λ qualifies"
        d = self.n_features
        for lam in np.unique(self.lambdas):  # ascending: the first that qualifies is the smallest
            q = self.average_selected(float(lam))
            if pairs is None:
                bound = false_selection_bound(q, d, threshold)
            else:  # None outside the theorem's range (θ = q/d too large for this threshold): not qualifying
                bound = unimodal_bound(q, d, float(threshold), pairs)[0]
            if bound is not None and bound <= max_false:
                return float(lam)
        return None

    def summary(self, threshold: float, lambda_min: float | None = None) -> dict:
        """A JSON-ready dict: the stable set, ``q``, the bounds (:meth:`error_bounds`) and the subsample counts.

        Example:
          >>> import numpy as np
          >>> from jaxreg.selection import StabilityResult
          >>> s = StabilityResult.from_coefs(np.ones((2, 1, 4)), [0.5]).summary(0.9)
          >>> s["stable_set"], s["q"], s["expected_false_selections_bound"]
          ([0, 1, 2, 3], 4.0, 5.0)
        """
        bounds = self.error_bounds(threshold, lambda_min)
        return {
            "threshold": float(threshold),
            "lambda_min": None if lambda_min is None else float(lambda_min),
            "stable_set": self.stable_set(threshold, lambda_min).tolist(),
            "q": self.average_selected(lambda_min),
            "expected_false_selections_bound": bounds["none"]["value"],
            "bounds": bounds,
            "n_features": self.n_features,
            "n_subsamples": self.n_subsamples,
            "n_converged": None if self.converged is None else int(self.converged.sum()),
        }

    def to_dict(self) -> dict:
        """The arrays as lists, JSON-ready; :meth:`from_dict` reads them back.

        Example:
          >>> import numpy as np
          >>> from jaxreg.selection import StabilityResult
          >>> r = StabilityResult.from_coefs(np.ones((2, 1, 3)), [0.5])
          >>> StabilityResult.from_dict(r.to_dict()).probabilities.tolist()
          [[1.0, 1.0, 1.0]]
        """
        return {"lambdas": self.lambdas.tolist(), "probabilities": self.probabilities.tolist(),
                "union_sizes": self.union_sizes.tolist(),
                "converged": None if self.converged is None else self.converged.tolist()}

    @classmethod
    def from_dict(cls, saved: dict) -> StabilityResult:
        """The result :meth:`to_dict` wrote."""
        converged = saved.get("converged")
        return cls(np.asarray(saved["lambdas"], np.float64), np.asarray(saved["probabilities"], np.float64),
                   np.asarray(saved["union_sizes"], np.int64),
                   None if converged is None else np.asarray(converged, bool))

    def plot(self, threshold: float | None = None, *, lambda_min: float | None = None, ax: Any = None) -> Any:
        """The stability path: each feature's selection probability against λ (log axis, large λ on the left).

        Features of the stable set (with ``threshold``) are drawn in colour, the rest in grey; the threshold
        and ``lambda_min`` as dashed lines. Needs matplotlib (the ``cli`` extra). Returns the axes.

        Example:
          >>> import matplotlib; matplotlib.use("Agg")
          >>> import numpy as np
          >>> from jaxreg.selection import StabilityResult
          >>> r = StabilityResult.from_coefs(np.array([[[1.0, 0.0], [1.0, 1.0]]]), [1.0, 0.1])
          >>> ax = r.plot(0.8)
          >>> len(ax.lines)   # two features and the threshold
          3
        """
        import matplotlib.pyplot as plt  # lazily: matplotlib is optional (the cli extra)

        if ax is None:
            ax = plt.subplots(figsize=(6, 4))[1]
        order = np.argsort(self.lambdas)
        stable = set() if threshold is None else set(self.stable_set(threshold, lambda_min).tolist())
        for j in range(self.n_features):
            style = {"lw": 1.5, "label": f"feature {j}"} if j in stable else {"lw": 0.6, "color": "0.7"}
            ax.plot(self.lambdas[order], self.probabilities[order, j], **style)
        if threshold is not None:
            ax.axhline(threshold, color="k", ls="--", lw=0.8)
        if lambda_min is not None:
            ax.axvline(lambda_min, color="k", ls=":", lw=0.8)
        ax.set(xscale="log", xlabel="λ", ylabel="selection probability", ylim=(-0.02, 1.02))
        ax.invert_xaxis()
        if 0 < len(stable) <= 10:
            ax.legend(fontsize="small")
        return ax


def _check_threshold(threshold: Any, *, lower: float) -> None:
    ok = isinstance(threshold, numbers.Real) and not isinstance(threshold, bool) and lower < threshold <= 1
    if not ok:
        why = " (the error bound needs π_thr > 1/2)" if lower == 0.5 else ""
        raise ValueError(f"threshold must be a float in ({lower:g}, 1]{why}, got {threshold!r}")


def _design(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``x`` ``(n, d)`` and ``y`` ``(n,)`` on the host in one float dtype, checked."""
    if hasattr(x, "tocsc") or hasattr(x, "toarray"):
        raise ValueError("x is sparse: stability_selection centres each half, which densifies it; pass "
                         "x.toarray(), or fit the subsamples yourself and use StabilityResult.from_coefs")
    x, y = np.asarray(x), np.asarray(y)
    dtype = np.dtype(jnp.result_type(x, y, float))  # the path's dtype: float32 unless jax_enable_x64
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be (n, d) and y (n,), got {x.shape} and {y.shape}")
    if x.shape[0] < 4:
        raise ValueError(f"stability_selection needs n >= 4 samples (halves of at least 2), got {x.shape[0]}")
    return x.astype(dtype, copy=False), y.astype(dtype, copy=False)


def default_solver(dtype: Any) -> ActiveSet:
    """:class:`jaxreg.solvers.ActiveSet` at :data:`DEFAULT_TOL`, or :data:`CERTIFIABLE_MARGIN` times the dtype's
    certifiable floor if larger (float32: about 1.2e-3).

    Example:
      >>> import numpy as np
      >>> default_solver(np.float64)
      ActiveSet(tol=1e-06, max_iter=2000, working_set=None)
    """
    return ActiveSet(tol=max(DEFAULT_TOL, CERTIFIABLE_MARGIN * certifiable_tol(dtype)))


def _warn_if_low_precision(dtype: Any, solver: Any) -> None:
    """Paths certified to float32's loose gap drop small coefficients that float64 keeps: say so, every call."""
    if np.dtype(dtype).itemsize >= 8:
        return
    tol = getattr(solver, "tol", None)
    reach = f"a relative duality gap of {tol:.3g}" if tol is not None else "no duality gap (FixedSteps)"
    warnings.warn(f"stability_selection in {np.dtype(dtype)}: each path is certified only to {reach}, so a feature "
                  "whose coefficient is still tiny at a λ can count as unselected where float64 selects it; "
                  "selection probabilities then differ from float64's, by up to ~0.1 near λ_max on correlated "
                  "designs (stable sets mostly agree). For float64 probabilities call "
                  "jax.config.update('jax_enable_x64', True) first and pass float64 arrays", UserWarning,
                  stacklevel=3)


def stability_selection(x: Any, y: Any, lambdas: Any, *, n_pairs: int = 50, seed: int = 0,
                        l1_ratio: float = 1.0, solver: Solver | None = None,
                        gram: bool | None = None) -> StabilityResult:
    r"""Complementary-pairs stability selection with the lasso (or elastic net) path.

    Each of the :math:`2B` halves (:func:`complementary_pairs`, ``B = n_pairs``) is centred (a fitted
    intercept) and gets one path :func:`jaxreg.elastic_net_path` over ``lambdas`` (jaxreg's λ:
    :math:`\frac{1}{2n}\|y - Xw\|^2 + \lambda[\rho\|w\|_1 + (1-\rho)\|w\|_2^2]`); a feature is selected where its
    coefficient is nonzero. Standardise the columns of ``x`` first if their scales differ.

    Args:
      x: ``(n, d)`` dense design.
      y: ``(n,)`` target.
      lambdas: 1-D grid of λ > 0 (any order); a λ above a half's :math:`\max_j|x_j^\top y|/n` selects nothing.
      n_pairs: ``B``, complementary pairs of halves (``2B`` paths).
      seed: the subsamples' seed (:func:`complementary_pairs`).
      l1_ratio: ρ (1 = lasso).
      solver: a path solver object (``jaxreg.solvers.ActiveSet``, ``Fista``, ``Admm``, ``FixedSteps``);
        ``None``: :func:`default_solver` for the data's dtype.
      gram: the layout of each half's certified path: ``None`` as :func:`jaxreg.elastic_net_path` (the Gram
        matrix :math:`X^\top X/n` when a half has more samples than features); ``True``: the Gram matrix also
        when it has fewer, which pays for long grids deep into the path and moderate ``d`` (1.4–1.7× on 100 λ
        to 0.05 λ_max, halves of 250 × 1000 and 250 × 2000) and loses otherwise (3× slower on 20 λ, 10× on
        d = 5000; ``docs/nonconvex.md``); ``False``: the data. The zero patterns agree up to the certificate.

    Returns:
      A :class:`StabilityResult`.

    Warns:
      RuntimeWarning: once, when some subsample paths stopped short of their certificate (counted in
        ``converged``); the probabilities use what they returned.

    Example:
      >>> import numpy as np
      >>> from jaxreg.selection import stability_selection
      >>> rng = np.random.default_rng(0)
      >>> x = rng.standard_normal((100, 20)); y = 2 * x[:, 0] - 2 * x[:, 1] + 0.5 * rng.standard_normal(100)
      >>> result = stability_selection(x, y, [1.0, 0.5, 0.2], n_pairs=10)
      >>> result.stable_set(0.9).tolist(), result.probabilities.shape
      ([0, 1], (3, 20))
    """
    x, y = _design(x, y)
    lam = check_grid(lambdas).astype(np.float64)
    check_ratio(l1_ratio, "l1_ratio")
    if gram is not None and not isinstance(gram, bool):
        raise ValueError(f"gram must be None (the solver's choice), True or False, got {gram!r}")
    halves = complementary_pairs(x.shape[0], n_pairs, seed=seed)
    solver = default_solver(x.dtype) if solver is None else solver
    if not isinstance(solver, (ActiveSet, Fista, Admm, FixedSteps)):
        raise ValueError(f"solver must be None (default_solver) or a jaxreg.solvers option object (ActiveSet, "
                         f"Fista, Admm, FixedSteps), got {solver!r}")
    counts = np.zeros((lam.shape[0], x.shape[1]))
    unions = np.zeros((halves.shape[0], lam.shape[0]), np.int64)
    converged = np.ones(halves.shape[0], bool)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="elastic_net_path", category=RuntimeWarning)  # counted below
        for s, rows in enumerate(halves):
            xs, ys = x[rows], y[rows]
            coefs, stats = solve_path(xs - xs.mean(axis=0), ys - ys.mean(), lam, solver, l1_ratio=l1_ratio,
                                      return_stats=True, gram=gram)
            selected = np.asarray(coefs) != 0
            counts += selected
            unions[s] = _union_sizes(selected, lam)
            converged[s] = stats.get("converged", True)
    certified = "converged" in stats
    _warn_if_low_precision(x.dtype, solver)
    if certified and not converged.all():
        warnings.warn(f"stability_selection: {int((~converged).sum())} of {len(converged)} subsample paths are "
                      f"not certified to tol={solver.tol:g} (stopped short, or finer than {x.dtype} certifies: "
                      "jaxreg.solvers.certifiable_tol); the probabilities use what they returned",
                      RuntimeWarning, stacklevel=2)
    return StabilityResult(lam, counts / halves.shape[0], unions, converged if certified else None)

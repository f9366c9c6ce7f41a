r"""Error bounds of stability selection: how many features of the stable set are expected to be wrong.

With :math:`q` the expected number of features one half-sample selects (over the region Λ of the λ grid),
:math:`d` the number of features and the threshold :math:`\tau = \pi_{thr}`:

**Without assumptions on the distributions** (``assumption="none"``),

.. math::

   E\,|\hat S^{stable}_\tau \cap L_\theta| \le \frac{q^2}{(2\tau - 1)\,d},
   \qquad \theta = q/d, \quad \tfrac12 < \tau \le 1,

where :math:`L_\theta` is the set of features a half-sample selects with probability at most
:math:`\theta` — at most the average feature's probability. Shah & Samworth (2013, Theorem 1 with
:math:`\theta = q/d`) prove it for complementary pairs with no condition on the estimator or the design. The
same number is Meinshausen & Bühlmann's (2010, Theorem 1) bound on :math:`E[V]`, the expected number of *noise*
features in the stable set, under their two assumptions: the selection indicators of the noise features are
exchangeable, and the procedure is no worse than random guessing. Together these put every noise feature in
:math:`L_{q/d}`, so that reading needs them and the first does not.

**Under unimodality** (``assumption="unimodal"``, Shah & Samworth 2013): if for every feature of
:math:`L_\theta` the distribution of its simultaneous selection proportion
:math:`\tilde\Pi(k) = \frac1B\sum_b \mathbf 1\{k \in \hat S(A_b) \cap \hat S(\bar A_b)\}` is unimodal, then for
:math:`\theta \le 1/\sqrt3` and :math:`\tau` on the grid :math:`\{\tfrac12 + \tfrac1B, \tfrac12 + \tfrac{3}{2B},
\dots, 1\}` of ``B`` complementary pairs,

.. math::

   E\,|\hat S^{stable}_\tau \cap L_\theta| \le C(\tau, B)\,\theta\,q, \qquad
   C(\tau, B) = \begin{cases}
     \dfrac{1}{2(2\tau - 1 - 1/(2B))} &
       \tfrac12 + \min(\theta^2, \tfrac{1}{2B} + \tfrac34\theta^2) < \tau \le \tfrac34 \\[1ex]
     \dfrac{4(1 - \tau + 1/(2B))}{1 + 1/B} & \tfrac34 < \tau \le 1,
   \end{cases}

about half the first bound at τ = 3/4 and a third of it at τ = 0.9 (as in the R package ``stabs``). The
selection proportions take values on the grid of multiples of :math:`1/(2B)`, so a threshold between two of
them selects the same features as the next one up, where this bound is evaluated.

Shah & Samworth's tighter bounds under r-concavity need a numerical optimisation over distributions and are not
implemented. Both bounds hold for the true :math:`q`; :class:`~jaxreg.selection.StabilityResult` plugs in its
average over the halves.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["false_selection_bound", "unimodal_bound", "BOUND_ASSUMPTIONS"]

#: The assumptions :func:`false_selection_bound` knows, weakest first.
BOUND_ASSUMPTIONS = ("none", "unimodal")


def unimodal_bound(q: float, n_features: int, threshold: float, n_pairs: int) -> tuple[float | None, str]:
    r"""Shah & Samworth's bound under unimodality, and why it does not apply where it does not.

    Returns ``(bound, "")``, or ``(None, reason)`` outside the theorem's range (:math:`\theta = q/d > 1/\sqrt3`,
    a threshold too close to ½ for this θ and ``B``). The threshold is first rounded up to the grid of
    multiples of :math:`1/(2B)` (the same stable set).

    Example:
      >>> round(unimodal_bound(10.0, 1000, 0.9, 50)[0], 6)   # q²/d · 4(1 − 0.9 + 0.01)/(1 + 0.02)
      0.043137
      >>> unimodal_bound(10.0, 1000, 0.51, 50)[0] is None
      True
    """
    theta = q / n_features
    b = n_pairs
    tau = math.ceil(round(2 * b * threshold, 9)) / (2 * b)  # the grid value selecting the same features
    if theta > 1 / math.sqrt(3):
        return None, f"θ = q/d = {theta:.3g} is above 1/√3, outside the unimodal bound's range"
    if tau <= 0.75:
        low = 0.5 + min(theta**2, 1 / (2 * b) + 0.75 * theta**2)
        if tau < 0.5 + 1 / b or tau <= low:
            return None, (f"the threshold ({tau:g} on the grid of 1/(2B), B = {b}) must be above {low:.4g} "
                          f"(θ = q/d = {theta:.3g}) and at least {0.5 + 1 / b:.4g}")
        c = 1 / (2 * (2 * tau - 1 - 1 / (2 * b)))
    else:
        c = 4 * (1 - tau + 1 / (2 * b)) / (1 + 1 / b)
    return c * theta * q, ""


def false_selection_bound(q: float, n_features: int, threshold: float, *, assumption: str = "none",
                          n_pairs: int | None = None) -> float:
    r"""The bound on the expected number of wrongly stable features, from ``q``, ``d`` and the threshold.

    ``"none"``: :math:`q^2 / ((2\tau - 1)d)` (module docstring: Shah & Samworth's Theorem 1 for features of
    low selection probability, no assumptions; Meinshausen & Bühlmann's for noise features, under theirs).
    ``"unimodal"``: :math:`C(\tau, B)\,q^2/d` with ``n_pairs`` = ``B`` complementary pairs; raises where the
    theorem does not apply. Use it to plan a run: which ``q`` a threshold allows.

    Args:
      q: expected number of features one half selects (at some λ of the region), ``0 <= q <= d``.
      n_features: ``d``.
      threshold: :math:`\tau` in (½, 1].
      assumption: ``"none"`` or ``"unimodal"`` (:data:`BOUND_ASSUMPTIONS`).
      n_pairs: ``B``; needed for ``"unimodal"``.

    Example:
      >>> false_selection_bound(10, 1000, 0.75)                                  # 100 / (0.5 · 1000)
      0.2
      >>> round(false_selection_bound(10, 1000, 0.75, assumption="unimodal", n_pairs=50), 6)  # 0.1 / 0.98
      0.102041
    """
    if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral) or n_features < 1:
        raise ValueError(f"n_features must be a positive int (d), got {n_features!r}")
    ok = isinstance(q, numbers.Real) and not isinstance(q, bool) and 0 <= q <= n_features
    if not ok:
        raise ValueError(f"q must be a number in [0, n_features] (features one half selects), got {q!r}")
    q = float(q)
    if not (isinstance(threshold, numbers.Real) and not isinstance(threshold, bool) and 0.5 < threshold <= 1):
        raise ValueError(f"threshold must be a float in (0.5, 1] (the error bound needs π_thr > 1/2), got "
                         f"{threshold!r}")
    if assumption not in BOUND_ASSUMPTIONS:
        raise ValueError(f"assumption must be one of {', '.join(map(repr, BOUND_ASSUMPTIONS))}, got {assumption!r}")
    if assumption == "none":
        return q**2 / ((2 * threshold - 1) * n_features)
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, numbers.Integral) or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive int (B complementary pairs) for the unimodal bound, got "
                         f"{n_pairs!r}")
    bound, why = unimodal_bound(q, int(n_features), float(threshold), int(n_pairs))
    if bound is None:
        raise ValueError(f"the unimodal bound does not apply: {why}; use assumption='none'")
    return bound

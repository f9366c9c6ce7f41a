"""What a hypergradient descent returns: :class:`TuneResult` (trajectories per start, the best point, a table, a
plot, what it cost: :class:`TuneCost`), and :func:`starts_from_sweep`, the best few λ of a coarse sweep as starting
points."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from jaxreg.engine._select import resolve_mode

__all__ = ["TuneCost", "TuneResult", "starts_from_sweep"]


class TuneCost(NamedTuple):
    """What a tuning call spent, counted (``TuneResult.cost``).

    A *hypergradient* is the objective's value and its gradient with respect to every λ: through training,
    one training forward and backward (its wall time over one training's is measured, not fixed: see
    ``docs/tuning.md``); implicitly, one certified solve and one :math:`|S|\times|S|` system per fold. An
    *evaluation* is the value alone (one training; one solve per fold). A stopped start is counted like the others
    (in one ``jit(vmap)`` it is computed all the same).

    Example:
      >>> cost = TuneCost(hypergradients=100, objective_evaluations=4, check_hypergradients=1, check_evaluations=8)
      >>> cost.trainings(per_hypergradient=5.0)   # 101 hypergradients at 5 trainings each + 12 evaluations
      517.0
    """

    hypergradients: int  # hypergradient evaluations of the descent: every start, every step
    objective_evaluations: int  # value-only evaluations of the descent: each start's last λ
    check_hypergradients: int = 0  # hypergradient evaluations of the check before the descent (0 or 1)
    check_evaluations: int = 0  # value-only evaluations of the check: 2 · len(eps) · directions
    path_solves: int = 0  # certified weighted solves (tune_weighted_lasso: one per fold per evaluation)
    folds: int = 1  # held-out splits behind each value (tune_weighted_lasso(folds=K): K)
    seconds: float = float("nan")  # wall time of the whole call, compilation and the check included

    def trainings(self, per_hypergradient: float) -> float:
        """Objective evaluations of the descent and the check, with a hypergradient counted as
        ``per_hypergradient`` of them (its measured wall-time ratio to one evaluation)."""
        return float(per_hypergradient * (self.hypergradients + self.check_hypergradients)
                     + self.objective_evaluations + self.check_evaluations)


class TuneResult(NamedTuple):
    """Trajectories of a hypergradient descent, one per start (:func:`~jaxreg.tuning.tune_hyperparams`,
    :func:`~jaxreg.tuning.tune_weighted_lasso`).

    Every array has a leading axis of starts (1 for a single start). ``val_loss[s, t]`` is the objective at
    ``lams[s, t]``; ``grad_norm[s, t]`` the norm of its hypergradient with respect to log λ there, from which step
    ``t`` moved to ``lams[s, t + 1]``.

    Example:
      >>> import numpy as np
      >>> res = TuneResult(lams=np.array([[1.0, 0.5, 0.3]]), val_loss=np.array([[2.0, 1.0, np.nan]]),
      ...                  grad_norm=np.array([[3.0, 1.0]]), stopped=np.array([True]),
      ...                  at_bound=np.array([False]), method="unrolled")
      >>> res.best_loss, res.best_lams, res.best_step   # a NaN loss is never the best
      (1.0, 0.5, 1)
    """

    lams: Any  # the tree of lams0, each leaf (starts, steps + 1, *leaf shape): λ along each descent
    val_loss: np.ndarray  # (starts, steps + 1) the objective at each λ; NaN where it was not finite
    grad_norm: np.ndarray  # (starts, steps) ‖∂ objective / ∂ log λ‖₂ over all hyperparameters, at each step
    stopped: np.ndarray  # (starts,) bool: a non-finite loss or hypergradient stopped this start (λ frozen)
    at_bound: np.ndarray  # (starts,) bool: the last λ of this start has a value on a bound (bounds=)
    method: str  # "unrolled", "forward" or "implicit"
    check: Any = None  # the HypergradientCheck run before the descent, or None
    aux: Any = None  # the objective's aux (has_aux=True), each leaf (starts, steps + 1, *leaf shape); else None
    cost: Any = None  # TuneCost: what the call spent (None for a hand-made result)

    @property
    def n_starts(self) -> int:
        return int(self.val_loss.shape[0])

    @property
    def steps(self) -> int:
        return int(self.val_loss.shape[1]) - 1

    def _best_index(self) -> tuple[int, int]:
        finite = np.isfinite(self.val_loss)
        if not finite.any():
            raise ValueError("no start reached a finite validation loss (see stopped): lower the learning rate, "
                             "set bounds= on λ, or check the objective at lams0")
        flat = np.where(finite, self.val_loss, np.inf).argmin()
        return tuple(int(i) for i in np.unravel_index(flat, self.val_loss.shape))

    @property
    def best_start(self) -> int:
        """The start whose trajectory holds the lowest finite validation loss."""
        return self._best_index()[0]

    @property
    def best_step(self) -> int:
        """The step of that start where it was reached (0 = the initial λ)."""
        return self._best_index()[1]

    @property
    def best_loss(self) -> float:
        """The lowest finite validation loss of all starts and steps (never NaN: ValueError if none is finite)."""
        return float(self.val_loss[self._best_index()])

    @property
    def best_lams(self) -> Any:
        """λ at the best point: the tree of ``lams0`` (NumPy leaves, Python floats for scalar leaves)."""
        s, t = self._best_index()
        return jax.tree.map(lambda x: x[s, t].item() if np.ndim(x[s, t]) == 0 else np.asarray(x[s, t]), self.lams)

    @property
    def best_aux(self) -> Any:
        """The objective's aux at the best point (``has_aux=True``; ``None`` otherwise): e.g. the test metrics of
        the λ with the lowest validation loss, without training again."""
        if self.aux is None:
            return None
        s, t = self._best_index()
        return jax.tree.map(lambda x: np.asarray(x)[s, t].item() if np.ndim(x) == 2 else np.asarray(x)[s, t],
                            self.aux)

    def final_lams(self, start: int = 0) -> Any:
        """λ after the last step of ``start``."""
        return jax.tree.map(lambda x: np.asarray(x[start, -1]), self.lams)

    def _lam_columns(self, tree: Any = None, prefix: str = "lam") -> dict[str, np.ndarray]:
        """One ``(starts, steps + 1)`` column per hyperparameter, named ``lam`` or ``lam<path>[index]`` (or per
        element of another tree of such leaves, named after ``prefix``)."""
        cols = {}
        for path, leaf in jax.tree_util.tree_flatten_with_path(self.lams if tree is None else tree)[0]:
            leaf = np.asarray(leaf)
            name = prefix + jax.tree_util.keystr(path)
            flat = leaf.reshape(leaf.shape[:2] + (-1,))
            if flat.shape[2] == 1 and leaf.ndim == 2:
                cols[name] = flat[:, :, 0]
            else:
                for j, index in enumerate(np.ndindex(*leaf.shape[2:])):
                    cols[f"{name}[{','.join(map(str, index))}]"] = flat[:, :, j]
        return cols

    def table(self) -> dict[str, np.ndarray]:
        """One row per (start, step): ``start``, ``step``, ``val_loss``, ``grad_norm`` (NaN at the last step, which
        takes none), what this start had spent to get there (``hypergradients``; with ``tune_weighted_lasso`` also
        ``path_solves``, the solve at this λ included), one column per hyperparameter, and one per scalar aux
        (``aux<path>``; larger aux leaves stay in :attr:`aux`). :meth:`to_dataframe` without pandas; the whole
        call's cost, the check's included, is :attr:`cost`."""
        starts, points = self.val_loss.shape
        grad = np.concatenate([self.grad_norm, np.full((starts, 1), np.nan)], axis=1)
        step = np.tile(np.arange(points), starts)
        out = {"start": np.repeat(np.arange(starts), points), "step": step,
               "val_loss": self.val_loss.reshape(-1), "grad_norm": grad.reshape(-1), "hypergradients": step}
        if self.method == "implicit":
            out["path_solves"] = (step + 1) * (1 if self.cost is None else self.cost.folds)
        out.update({k: v.reshape(-1) for k, v in self._lam_columns().items()})
        if self.aux is not None:
            scalar = jax.tree.map(lambda x: x if np.ndim(x) == 2 else None, self.aux)
            out.update({k: v.reshape(-1) for k, v in self._lam_columns(scalar, "aux").items()})
        return out

    def to_dataframe(self):
        """:meth:`table` as a pandas ``DataFrame`` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ModuleNotFoundError("TuneResult.to_dataframe needs pandas: pip install pandas; table() needs "
                                      "nothing", name="pandas") from e
        return pd.DataFrame(self.table())

    def plot(self, *, title: str = ""):
        """Validation loss, λ (log scale; at most 8 hyperparameters drawn, one line style each) and hypergradient
        norm against the step, one colour per start; returns the matplotlib figure (matplotlib is imported here)."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        steps = np.arange(self.steps + 1)
        lam_cols = list(self._lam_columns().items())[:8]
        styles = ("-", "--", ":", "-.")
        for s in range(self.n_starts):  # colour: the start; line style: the hyperparameter
            axes[0].plot(steps, self.val_loss[s], lw=1.2, color=f"C{s % 10}", label=f"start {s}")
            for j, (_, col) in enumerate(lam_cols):
                axes[1].plot(steps, col[s], lw=1.0, color=f"C{s % 10}", ls=styles[j % 4])
            axes[2].plot(steps[:-1], self.grad_norm[s], lw=1.0, color=f"C{s % 10}")
        for j, (name, _) in enumerate(lam_cols):
            axes[1].plot([], [], color="k", ls=styles[j % 4], label=name)
        s, t = self._best_index() if np.isfinite(self.val_loss).any() else (None, None)
        if s is not None:
            axes[0].plot([t], [self.val_loss[s, t]], "k*", ms=10, label="best")
        axes[0].legend(loc="upper right", fontsize="small")
        axes[0].set(xlabel="step", ylabel="validation loss", title=title or f"hypergradient descent ({self.method})")
        axes[1].set(xlabel="step", ylabel="λ", yscale="log")
        axes[1].legend(loc="upper right", fontsize="small")
        axes[2].set(xlabel="step", ylabel="‖∂ loss / ∂ log λ‖", yscale="log")
        fig.tight_layout()
        return fig


def starts_from_sweep(result: Any, k: int, *, metric: str = "val_loss", mode: str | None = None, like: Any = None,
                      penalty: str | None = None) -> Any:
    """The ``k`` λ of a coarse sweep with the best mean ``metric``, as starts for a multi-start descent.

    The means are :meth:`jaxreg.engine.SweepResult.curves`' (healthy models only: NaN or diverged never count).

    Args:
      result: a :class:`jaxreg.engine.SweepResult` (e.g. ``SweepResult.from_sweep(out, lambdas)``).
      k: how many starts.
      metric: the column that ranks the λ.
      mode: ``"min"`` (a loss) or ``"max"`` (an accuracy); ``None`` reads it from ``metric``'s name as
        :meth:`jaxreg.engine.SweepResult.best` does, and refuses a name that says neither.
      like: ``None``: the starts as a ``(k,)`` array (one scalar λ each); a pytree: each start's λ broadcast
        to every leaf of it, leaves ``(k, *leaf.shape)`` (per-leaf or per-coordinate λ starting from one value).
      penalty: the penalty whose curve to use, for a table with a ``penalty`` column.

    Returns:
      ``lams0`` for ``tune_hyperparams(..., multi_start=True)``, best first.

    Example:
      >>> import numpy as np
      >>> from jaxreg.engine import SweepResult
      >>> res = SweepResult.from_sweep({"val_loss": np.array([0.5, 0.2, np.nan, 0.3])}, [0.01, 0.1, 1.0, 10.0])
      >>> starts_from_sweep(res, 2).tolist()
      [0.1, 10.0]
      >>> starts_from_sweep(res, 1, metric="val_loss", mode="max").tolist()  # e.g. an accuracy column
      [0.01]
      >>> starts_from_sweep(res, 2, like={"w": np.zeros(3)})["w"].shape
      (2, 3)
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an int >= 1 (the number of starts), got {k!r}")
    sign = 1.0 if resolve_mode(metric, mode) == "min" else -1.0
    curve = result.curves(metric, penalty=penalty)
    usable = np.flatnonzero(np.isfinite(curve.mean))
    if len(usable) < k:
        raise ValueError(f"k={k} starts asked for, but only {len(usable)} λ of the sweep have a finite mean "
                         f"{metric} over healthy models; lower k")
    best = curve.lambdas[usable[np.argsort(sign * curve.mean[usable], kind="stable")[:k]]]
    if like is None:
        return best
    return jax.tree.map(lambda leaf: np.broadcast_to(best.reshape((k,) + (1,) * np.ndim(leaf)),
                                                     (k,) + np.shape(leaf)).copy(), like)

"""``SweepResult``: one row per trained model, from :func:`~jaxreg.sweep`'s outputs or the command's job.

:meth:`SweepResult.from_sweep` turns a sweep's output pytree into the table; :meth:`~SweepResult.best`
and :meth:`~SweepResult.cv` choose λ without ever choosing a diverged model (:mod:`._select`);
the table is saved as CSV + JSON + NPZ (no pickle).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxreg.engine._plan import fold_ids
from jaxreg.engine._select import (
    DIVERGENCE_FACTOR,
    SEEDS_IDENTICAL,
    Curve,
    best_of,
    curves,
    cv_of,
    diverged_models,
    repeated_folds,
    resolve_mode,
    seeds_identical,
)

__all__ = ["SweepResult", "atomic_write"]

#: What :meth:`SweepResult.from_sweep` warns when it cannot flag a finite divergence.
DIVERGENCE_UNCHECKED = (
    "SweepResult.from_sweep: the outputs have no 'initial_loss', so only non-finite models count as diverged and a "
    "model whose loss grew but stayed finite can be chosen as best. Return the training loss at initialisation as "
    "'initial_loss' and the final one as 'train_loss' from train_fn (or pass initial_loss=); initial_loss=False "
    "relies on finiteness alone without this warning")

#: What :meth:`SweepResult.from_sweep` warns when folds repeat an earlier fold's results.
FOLDS_IDENTICAL = (
    "SweepResult.from_sweep: folds {folds} gave bit-identical metrics to an earlier fold at every λ and seed, which "
    "different held-out rows cannot give: does train_fn index fold masks made for fewer folds than folds= (JAX "
    "clamps an out-of-range index, so fold 4 of 3 masks trains fold 2 again), or ignore its fold argument?")

#: Columns that place a model in the grid (and the flags derived per model); no metric may take these names.
RESERVED_COLUMNS = ("penalty", "lambda", "seed", "fold", "diverged")


def atomic_write(path: str, data: bytes | str) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``: never half-written.

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
      >>> atomic_write(path, "done")
      >>> open(path).read()
      'done'
    """
    directory = os.path.dirname(os.path.abspath(path))
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _column_text(column: np.ndarray) -> list[str]:
    """A column as CSV cells: ``True``/``False``, the shortest float string that round-trips exactly, ``str``."""
    if column.dtype.kind == "b":
        return np.where(column, "True", "False").tolist()
    if column.dtype.kind == "f":
        return list(map(repr, column.astype(np.float64).tolist()))
    return list(map(str, column.tolist()))


def _parse(column: list[str], kind: str) -> np.ndarray:
    if kind == "b":
        return np.asarray([c == "True" for c in column], bool)
    if kind in "iu":
        return np.asarray([int(c) for c in column], np.int64)
    if kind == "f":
        return np.asarray([float(c) for c in column], np.float64)
    return np.asarray(column, str)


class _Grid(NamedTuple):
    """The sweep's grid: its output shape and the per-row columns that place each model in it."""

    shape: tuple[int, ...]  # (F?, S?, K), the axes the sweep had
    columns: dict[str, np.ndarray]  # lambda, seed (and fold): (F·S·K,) each, λ fastest


def _seed_ids(keys: Any) -> np.ndarray:
    """The seed column: int seeds as given, or 0..S-1 for PRNG keys (typed, or raw uint32 ``(S, 2)``)."""
    if isinstance(keys, jax.Array) and jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key):
        keys = jax.random.key_data(keys.reshape(-1))  # the raw words, checked below like raw keys
    arr = np.asarray(keys)
    if arr.dtype == np.uint32 and arr.ndim == 2:
        if np.unique(arr, axis=0).shape[0] < arr.shape[0]:
            raise ValueError("keys repeat a PRNG key: a sweep refuses repeated keys (their models are identical); "
                             "pass the distinct keys the sweep got")
        return np.arange(arr.shape[0])
    if arr.dtype.kind in "iu" and arr.ndim == 1 and arr.size:
        if np.unique(arr).size < arr.size:
            raise ValueError(f"keys {arr.tolist()} repeat a seed: a sweep refuses repeated keys (their models are "
                             "identical); pass the distinct keys the sweep got")
        return arr.astype(np.int64)
    raise ValueError(f"keys must be what the sweep got: a list of int seeds or PRNG keys; got dtype {arr.dtype}, "
                     f"shape {arr.shape}")


def _grid(lambdas: Any, keys: Any, folds: Any) -> _Grid:
    lambdas = np.asarray(lambdas, np.float64)
    if lambdas.ndim != 1 or lambdas.size == 0:
        raise ValueError(f"lambdas must be the sweep's 1-D grid, got shape {lambdas.shape}")
    axes = {}
    if folds is not None:
        axes["fold"] = fold_ids(folds)  # what the sweep accepts, checked alike
    if keys is not None:
        axes["seed"] = _seed_ids(keys)
    axes["lambda"] = lambdas
    shape = tuple(a.size for a in axes.values())
    index = np.indices(shape).reshape(len(shape), -1)
    columns = {name: values[index[i]] for i, (name, values) in enumerate(axes.items())}
    columns = {"lambda": columns["lambda"], "seed": columns.get("seed", np.zeros(index.shape[1], np.int64)),
               **({"fold": columns["fold"]} if "fold" in columns else {})}
    return _Grid(shape, columns)


def _key_name(key: Any) -> str:
    for attr in ("key", "name", "idx"):  # DictKey, GetAttrKey, SequenceKey
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _split_outputs(outputs: Any, shape: tuple[int, ...]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(metrics, per_model)``: leaves of exactly ``shape`` as ``(n,)`` columns, longer ones as ``(n, ...)``."""
    leaves = jax.tree_util.tree_flatten_with_path(outputs)[0]
    if not leaves:
        raise ValueError("outputs has no arrays: pass what sweep returned")
    scalar = [(path, np.asarray(leaf)) for path, leaf in leaves if np.shape(leaf) == shape]
    short = [_key_name(path[-1]) if path else "value" for path, _ in scalar]
    if len(set(short)) < len(short):
        short = ["/".join(_key_name(k) for k in path) for path, _ in scalar]
    metrics = {name: a.reshape(-1) for name, (_, a) in zip(short, scalar)}
    rest = [(path, leaf) for path, leaf in leaves if np.shape(leaf) != shape]
    return metrics, _per_model_leaves(rest, shape, "outputs")


def _per_model_leaves(tree: Any, shape: tuple[int, ...], what: str) -> dict[str, np.ndarray]:
    """Leaves of leading shape ``shape`` as ``path -> (n, ...)``, the paths' common first key dropped."""
    leaves = tree if isinstance(tree, list) else jax.tree_util.tree_flatten_with_path(tree)[0]
    paths = [[_key_name(k) for k in path] for path, _ in leaves]
    if len(paths) > 1 and all(len(p) > 1 and p[0] == paths[0][0] for p in paths):
        paths = [p[1:] for p in paths]
    out = {}
    for parts, (_, leaf) in zip(paths, leaves):
        a = np.asarray(leaf)
        if a.shape[:len(shape)] != shape:
            raise ValueError(f"{what} leaf {'/'.join(parts) or 'value'!r} has shape {a.shape}; every leaf must "
                             f"start with the grid's shape {shape} ((folds,) (seeds,) λ, as sweep returned it)")
        out["/".join(parts) or "value"] = a.reshape(-1, *a.shape[len(shape):])
    return out


def _initial_loss(initial_loss: Any, table: dict[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray | None:
    """``(n,)`` initial losses from a scalar, a grid-shaped array or a column name; ``None`` if there are none
    (``initial_loss=False``: none asked for)."""
    if initial_loss is False:
        return None
    if initial_loss is None:
        return table.get("initial_loss")
    if isinstance(initial_loss, str):
        if initial_loss not in table:
            raise ValueError(f"initial_loss={initial_loss!r} is not a column; columns are {', '.join(table)}")
        return table[initial_loss].astype(np.float64)
    a = np.asarray(initial_loss, np.float64)
    try:
        return np.broadcast_to(a, shape).reshape(-1)
    except ValueError:
        raise ValueError(f"initial_loss must be a scalar or broadcast to the grid's shape {shape}, "
                         f"got shape {a.shape}") from None


@dataclass
class SweepResult:
    """Results of a λ sweep: a table (one row per model), optional params, metadata.

    Attributes:
      table: column name -> 1-D array, all of the same length (rows). Always
        has ``lambda``, ``seed`` and ``finite``; :meth:`from_sweep` adds a column
        per metric, ``fold`` with cross-validation, and ``diverged``; the
        command's job has ``penalty``, ``train_loss``, ``val_loss``,
        ``val_accuracy``, ``sparsity``, ``near_zero``, ``l1``, ``l2``,
        ``initial_loss`` and ``diverged`` (and ``fold``).
      params: leaf path -> array whose leading axis is the row, or ``None``.
      info: JSON-serialisable metadata (config, timings, device, CV summaries).

    Example:
      >>> import numpy as np
      >>> res = SweepResult({"penalty": np.array(["l2", "l2"]), "lambda": np.array([0.1, 1.0]),
      ...                    "seed": np.array([0, 0]), "finite": np.array([True, True]),
      ...                    "val_loss": np.array([0.5, 0.2])})
      >>> res.best()["l2"]["lambda"]
      1.0
      >>> print(res.to_csv(), end="")
      penalty,lambda,seed,finite,val_loss
      l2,0.1,0,True,0.5
      l2,1.0,0,True,0.2
    """

    table: dict[str, np.ndarray]
    params: dict[str, np.ndarray] | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.table = {k: np.asarray(v) for k, v in self.table.items()}
        lengths = {k: len(v) for k, v in self.table.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"table columns must have equal lengths, got {lengths}")

    def __len__(self) -> int:
        return len(next(iter(self.table.values()))) if self.table else 0

    @property
    def columns(self) -> list[str]:
        return list(self.table)

    def row(self, i: int) -> dict:
        return {k: v[i].item() for k, v in self.table.items()}

    def to_dataframe(self):
        """The table as a pandas ``DataFrame`` (needs pandas, in the ``cli`` extra)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ModuleNotFoundError(
                "SweepResult.to_dataframe needs pandas: pip install pandas (or jaxreg[cli]); "
                "to_csv() and the table dict need nothing", name="pandas"
            ) from e

        return pd.DataFrame(self.table)

    def to_csv(self) -> str:
        """The table as CSV text, a header line then one line per row (floats round-trip exactly)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        w.writerows(zip(*(_column_text(c) for c in self.table.values())))
        return buf.getvalue()

    def save(self, directory: str) -> None:
        """Write ``results.csv``, ``result.json`` and (with params) ``params.npz`` atomically."""
        os.makedirs(directory, exist_ok=True)
        atomic_write(os.path.join(directory, "results.csv"), self.to_csv())
        meta = {"columns": {k: v.dtype.kind for k, v in self.table.items()}, "info": self.info}
        atomic_write(os.path.join(directory, "result.json"), json.dumps(meta, indent=2, default=_json_default))
        if self.params is not None:
            buf = io.BytesIO()
            np.savez(buf, **self.params)
            atomic_write(os.path.join(directory, "params.npz"), buf.getvalue())

    @classmethod
    def load(cls, directory: str) -> SweepResult:
        """Read what :meth:`save` wrote (``allow_pickle=False``)."""
        with open(os.path.join(directory, "result.json")) as f:
            meta = json.load(f)
        with open(os.path.join(directory, "results.csv"), newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        table = {
            name: _parse([r[j] for r in body], meta["columns"].get(name, "U"))
            for j, name in enumerate(header)
        }
        params = None
        path = os.path.join(directory, "params.npz")
        if os.path.exists(path):
            with np.load(path, allow_pickle=False) as z:
                params = {k: z[k] for k in z.files}
        return cls(table=table, params=params, info=meta.get("info", {}))

    @classmethod
    def from_sweep(cls, outputs: Any, lambdas: Any, *, keys: Any = None, folds: Any = None, initial_loss: Any = None,
                   params: Any = None, loss: str = "train_loss", penalty: str | None = None,
                   info: dict | None = None) -> SweepResult:
        r"""The table of a :func:`~jaxreg.sweep` call: one row per model, a column per scalar metric.

        Every leaf of ``outputs`` has the grid's shape, ``(F, S, K)`` with the axes that the
        sweep had (``(K,)``, ``(S, K)``, ``(F, K)`` or ``(F, S, K)``): a leaf of exactly that
        shape is a metric column, named by its last key (the whole path, ``/``-joined, when two
        would clash); a leaf with more axes is a per-model array and goes to :attr:`params`.
        Rows are in the sweep's order (λ fastest). Added columns: ``lambda``, ``seed`` (the int
        seeds, or 0..S-1 for PRNG keys; 0 without ``keys``), ``fold`` (with ``folds``),
        ``finite`` and ``diverged``.

        A model is diverged when it is not finite (a ``finite`` leaf when the outputs have one,
        else every float metric must be finite) or its final ``loss`` exceeds
        :data:`~jaxreg.engine.DIVERGENCE_FACTOR` times ``initial_loss``:

        .. math::
            \text{diverged} = \lnot\,\text{finite} \;\lor\; \ell_{\text{final}} > 10\,\ell_{\text{initial}}

        Args:
          outputs: what ``sweep(train_fn, lambdas, keys=keys, folds=folds)`` returned.
          lambdas: the λ grid passed to the sweep, ``(K,)``.
          keys: the sweep's ``keys`` (int seeds or PRNG keys), or ``None``.
          folds: the sweep's ``folds`` (a count or fold ids), or ``None``.
          initial_loss: each model's training loss at initialisation: a scalar, an array of the
            grid's shape, or the name of a metric column; ``None``: the ``initial_loss`` column
            when there is one, else finiteness alone decides and a ``UserWarning`` says that a
            finite divergence goes unflagged; ``False``: finiteness alone, without the warning.
          params: per-model arrays (e.g. ``outputs["params"]`` when it is kept apart), leaves of
            leading shape ``(F, S, K)``; they join the per-model leaves of ``outputs``.
          loss: the metric compared with ``initial_loss``.
          penalty: a ``penalty`` column with this name (tables of several penalties concatenate);
            ``None``: no column, and :meth:`best` / :meth:`cv` return one record.
          info: metadata kept in :attr:`info`.

        Raises:
          ValueError: a leaf whose shape does not start with the grid's, a metric named like a
            grid column, an ``initial_loss`` of the wrong shape or without a ``loss`` column.

        Example:
          >>> out = {"train_loss": np.array([[0.2, 0.3, 4e16], [0.25, np.nan, 0.4]]),  # (seeds, λ)
          ...        "val_loss": np.array([[0.5, 0.4, 7e16], [0.55, np.nan, 0.45]])}
          >>> res = SweepResult.from_sweep(out, [0.01, 0.1, 1.0], keys=[0, 1], initial_loss=1.0)
          >>> res.table["diverged"].tolist()
          [False, False, True, False, True, False]
          >>> b = res.best()  # each λ's mean is over its healthy models: one of two at λ = 0.1 and 1.0
          >>> b["lambda"], b["val_loss"], b["n"], b["n_diverged"]
          (0.1, 0.4, 1, 1)
        """
        grid = _grid(lambdas, keys, folds)
        metrics, per_model = _split_outputs(outputs, grid.shape)
        clash = sorted(set(metrics) & {*RESERVED_COLUMNS, *grid.columns})
        if clash:
            raise ValueError(f"outputs leaves named {', '.join(clash)} clash with the table's grid columns; "
                             "rename them in train_fn's returned dict")
        n = int(np.prod(grid.shape))
        table = {} if penalty is None else {"penalty": np.full(n, penalty)}
        table.update(grid.columns)
        finite = metrics.pop("finite", None)
        table.update(metrics)
        if finite is None:
            floats = [v for v in metrics.values() if v.dtype.kind in "fc"]
            finite = np.logical_and.reduce([np.isfinite(v) for v in floats]) if floats else np.ones(n, bool)
        repeated = repeated_folds(metrics, grid.shape) if folds is not None else []
        if repeated:
            ids = grid.columns["fold"].reshape(grid.shape[0], -1)[repeated, 0].tolist()
            warnings.warn(FOLDS_IDENTICAL.format(folds=ids), UserWarning, stacklevel=2)
        start = _initial_loss(initial_loss, table, grid.shape)
        if start is None and initial_loss is not False:
            warnings.warn(DIVERGENCE_UNCHECKED, UserWarning, stacklevel=2)
        if start is not None and loss not in table:
            raise ValueError(f"initial_loss needs the final training loss: outputs have no {loss!r} leaf; "
                             f"pass loss= one of {', '.join(metrics)}")
        table["finite"] = finite.astype(bool)
        table["diverged"] = diverged_models(finite, table.get(loss), start)
        if params is not None:
            per_model.update(_per_model_leaves(params, grid.shape, "params"))
        grid_info = {"shape": list(grid.shape), "divergence_factor": DIVERGENCE_FACTOR,
                     "divergence_checked": start is not None}
        return cls(table=table, params=per_model or None, info={"grid": grid_info, **(info or {})})

    @property
    def diverged(self) -> np.ndarray:
        """``(rows,)`` bools: the ``diverged`` column, or ``~finite`` for a table without one."""
        if "diverged" in self.table:
            return self.table["diverged"].astype(bool)
        if "finite" in self.table:
            return ~self.table["finite"].astype(bool)
        return np.zeros(len(self), bool)

    def _labels(self) -> np.ndarray:
        """The penalty of each row; one empty label for a table without a ``penalty`` column."""
        return self.table["penalty"] if "penalty" in self.table else np.full(len(self), "")

    def _checked_metric(self, metric: str) -> np.ndarray:
        if metric not in self.table:
            raise ValueError(f"unknown metric {metric!r}; columns are {', '.join(self.columns)}")
        return self.table[metric].astype(np.float64)

    def _curves(self, metric: str) -> dict[str | None, Curve]:
        """Per penalty (``None`` without a ``penalty`` column): :func:`~jaxreg.engine._select.curves`, over the
        folds' seed-averaged scores when there is a ``fold`` column."""
        values = self._checked_metric(metric)
        out = curves(self._labels(), self.table["lambda"], values, self.diverged, self.table.get("fold"))
        if "penalty" in self.table:
            return out
        (only,) = out.values()  # no penalty column: one curve
        return {None: only}

    def _one(self, choices: dict, penalty: str | None) -> tuple[bool, Any]:
        """``(single, key)``: whether one penalty's choice is asked for, and its key in ``choices``."""
        if "penalty" not in self.table:
            if penalty is not None:
                raise ValueError(f"penalty={penalty!r} given, but the table has no penalty column")
            return True, None
        if penalty is None:
            return False, None
        if penalty not in choices:
            raise ValueError(f"penalty must be one of {', '.join(map(str, choices))}, got {penalty!r}")
        return True, penalty

    def curves(self, metric: str = "val_loss", *, penalty: str | None = None):
        """``metric`` per λ over the healthy (not diverged) models: a :class:`~jaxreg.engine.Curve`.

        One curve for a table without a ``penalty`` column (or with ``penalty=``), else a
        dict penalty -> curve. Fields: ``lambdas``, ``mean``, ``spread`` (sd), ``se``, ``n``,
        ``n_diverged``, ``n_models`` (healthy models) and ``replicates``: what ``n`` counts and the
        statistics are over, the healthy models, or with a ``fold`` column the folds (each fold's
        score the mean over its healthy seeds, as :meth:`cv`).

        Example:
          >>> res = SweepResult.from_sweep({"val_loss": np.array([[0.5, 0.2], [0.7, np.nan]])}, [0.1, 1.0],
          ...                              keys=[0, 1])
          >>> c = res.curves("val_loss")
          >>> c.mean.tolist(), c.n_diverged.tolist()
          ([0.6, 0.2], [0, 1])
        """
        out = self._curves(metric)
        single, key = self._one(out, penalty)
        return out[key] if single else out

    def groups(self, metric: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per penalty: ``(lambdas, mean, spread)`` of ``metric`` over seeds/folds, healthy rows only.

        ``spread`` is the standard deviation across seeds (and folds); λ with
        no healthy row get NaN. :meth:`curves` adds the standard error and the counts.
        """
        return {pen: (c.lambdas, c.mean, c.spread) for pen, c in self._curves(metric).items()}

    def seeds_identical(self, metric: str = "val_loss") -> bool:
        """Whether every seed gave a bit-identical ``metric`` at every (penalty, fold, λ): seeds that change nothing.

        A model started at zero and trained on full batches ignores its seed; its seeds are then
        not replicates (:func:`~jaxreg.engine._select.seeds_identical`). :meth:`best` and
        :meth:`cv` warn once per result and metric when this holds, and record it in
        ``info["seeds_identical_by_metric"][metric]``.

        Example:
          >>> SweepResult.from_sweep({"val_loss": np.array([[0.3, 0.2], [0.3, 0.2]])}, [0.1, 1.0],
          ...                        keys=[0, 1]).seeds_identical()
          True
        """
        values = self._checked_metric(metric)
        return seeds_identical(self._labels(), self.table["lambda"], self.table["seed"], values, self.diverged,
                               self.table.get("fold"))

    def _note_identical_seeds(self, metric: str) -> None:
        """Warn, once per result and metric, when the seeds changed nothing (:meth:`seeds_identical`).

        Recorded in ``info["seeds_identical_by_metric"][metric]``, keyed by metric because a quantised
        metric (an accuracy) can tie across seeds that change the loss. The command's
        ``info["seeds_identical"]`` (``val_loss``'s, which its run reports) stands for ``val_loss``.
        """
        if "seed" not in self.table:
            return
        noted = self.info.setdefault("seeds_identical_by_metric", {})
        if metric == "val_loss" and "seeds_identical" in self.info:
            noted.setdefault(metric, bool(self.info["seeds_identical"]))
        if metric in noted:
            return
        noted[metric] = same = self.seeds_identical(metric)
        if same:
            warnings.warn(SEEDS_IDENTICAL.format(metric=metric), UserWarning, stacklevel=3)

    def best(self, metric: str = "val_loss", mode: str | None = None, *, penalty: str | None = None) -> dict:
        """The λ with the best mean ``metric``; never a NaN or diverged model.

        ``mode``: ``"min"`` (a loss) or ``"max"`` (an accuracy); ``None`` reads it from the
        metric's name (``val_loss`` -> min, ``val_acc`` -> max) and raises for a name that says
        neither (:func:`~jaxreg.engine._select.resolve_mode`). The mean at each λ is over its
        healthy models (:attr:`diverged` rows and non-finite values left out), or with a
        ``fold`` column over the folds' scores, each the mean over that fold's healthy seeds,
        as :meth:`cv` does: seeds of one fold share its held-out rows, so the folds are the
        replicates. A λ whose every model diverged is skipped, and with folds a λ at which a
        fold has no healthy model; a λ returned with diverged models warns that its mean is over
        the healthy ones. The record holds ``lambda``,
        ``metric``'s mean, ``spread`` (sd), ``se``, ``n`` (the replicates ``se`` is over) and
        ``n_counts`` (what they are: ``"models"`` or ``"folds"``), ``n_models`` (healthy models)
        and ``n_diverged`` at that λ, ``index`` (position in the λ grid), ``at_grid_edge``
        (``"lower"`` / ``"upper"`` when λ is the grid's smallest / largest: the best may lie
        beyond it; else ``None``) and ``row`` (the table row of the best single model there,
        e.g. for :attr:`params`). Seeds that change nothing warn once (:meth:`seeds_identical`).

        One record for a table without a ``penalty`` column (or with ``penalty=``), else a
        dict penalty -> record, where a penalty whose every model diverged gets
        ``{"lambda": None, metric: None, "note": "every model diverged"}`` so that one bad
        penalty does not hide the others' choices.

        Raises:
          ValueError: an unknown ``metric``, ``mode`` or ``penalty``; a metric whose name says
            neither direction without ``mode``; or, when one record is asked for, no model with
            a finite ``metric`` that did not diverge.

        Example:
          >>> res = SweepResult.from_sweep({"val_loss": np.array([np.nan, 0.4, 0.3])}, [0.01, 0.1, 1.0])
          >>> b = res.best()
          >>> b["lambda"], b["val_loss"], b["row"], b["at_grid_edge"]
          (1.0, 0.3, 2, 'upper')
          >>> acc = SweepResult.from_sweep({"val_acc": np.array([0.9, 0.95, 0.5])}, [0.01, 0.1, 1.0])
          >>> acc.best("val_acc")["lambda"]  # an accuracy: the largest mean
          0.1
        """
        all_curves = self._curves(metric)
        mode = resolve_mode(metric, mode)
        single, key = self._one(all_curves, penalty)
        self._note_identical_seeds(metric)
        picks = {pen: best_of(c, metric, mode, self._n_folds(pen)) for pen, c in all_curves.items()
                 if not single or pen == key}
        for pen, rec in picks.items():
            if rec is not None:
                rec["row"] = self._best_row(pen, rec["lambda"], metric, mode)
                self._note_survivors(rec, metric, pen)
        if single:
            if picks[key] is None:
                n = int(np.sum(self._labels() == (key if key is not None else "")))
                raise ValueError(
                    f"no model can be chosen by {metric}: all {n} models diverged or have a non-finite "
                    f"{metric} (see the 'diverged' column); lower the learning rate"
                )
            return picks[key]
        return {pen: rec if rec is not None else {"lambda": None, metric: None, "note": "every model diverged"}
                for pen, rec in picks.items()}

    def _note_survivors(self, rec: dict, metric: str, penalty: str | None) -> None:
        """Warn, once per result, metric and penalty, when the λ chosen had diverged models."""
        noted = self.info.setdefault("best_with_diverged_warned", [])
        if not rec["n_diverged"] or [metric, penalty] in noted:
            return
        noted.append([metric, penalty])
        warnings.warn(f"best λ {rec['lambda']:.4g} by {metric}{f' ({penalty})' if penalty else ''}: "
                      f"{rec['n_diverged']} of its models diverged; its mean is over the {rec['n_models']} healthy "
                      "ones (cv() drops such a λ)", UserWarning, stacklevel=3)

    def _n_folds(self, penalty: str | None) -> int | None:
        """The folds of ``penalty``'s rows (every row without a ``penalty`` column); ``None`` without folds."""
        if "fold" not in self.table:
            return None
        return int(np.unique(self.table["fold"][self._labels() == (penalty if penalty is not None else "")]).size)

    def _best_row(self, penalty: str | None, lam: float, metric: str, mode: str) -> int:
        values = self.table[metric].astype(np.float64)
        rows = np.flatnonzero((self._labels() == (penalty if penalty is not None else ""))
                              & (self.table["lambda"] == lam) & ~self.diverged & np.isfinite(values))
        pick = np.argmin(values[rows]) if mode == "min" else np.argmax(values[rows])
        return int(rows[pick])

    def cv(self, metric: str = "val_loss", *, mode: str | None = None, penalty: str | None = None) -> dict:
        """Cross-validation's ``lambda_min`` and ``lambda_1se`` (glmnet's rules) with means and standard errors.

        Needs a ``fold`` column (``sweep(..., folds=F)``, ``from_sweep(..., folds=F)``).
        Each fold's score at a λ is the mean over its seeds; ``mean`` and ``se`` are over
        the ``F`` folds of those scores (``se = sd(ddof=1)/sqrt(F)``): seeds of one fold
        share its held-out rows, so the folds are the independent replicates. A λ at which
        any model diverged has no score and is never chosen. ``mode`` as in :meth:`best`:
        ``lambda_min`` is the λ with the best mean (the smallest for ``"min"``, the largest
        for ``"max"``), ``lambda_1se`` the largest λ whose mean is within one standard error
        of it (``mean <= best + se``, or ``mean >= best - se`` for ``"max"``). See
        :func:`~jaxreg.engine._select.cv_of` for the formulas.

        Returns one dict (or a dict per penalty, as :meth:`best`) with ``lambda_min``,
        ``lambda_1se``, ``index_min``, ``index_1se``, ``at_grid_edge`` (of ``lambda_min``:
        ``"lower"``, ``"upper"`` or ``None``), ``lambda_1se_at_grid_edge`` (the same of
        ``lambda_1se``), ``mode``, ``lambdas``, ``mean``, ``se``,
        ``n_folds``, ``n_seeds``, ``n_diverged`` (per λ) and ``metric``.

        Raises:
          ValueError: no ``fold`` column or fewer than 2 folds; an unknown ``metric``, ``mode``
            or ``penalty``, or a metric whose name says neither direction without ``mode``;
            every λ with a diverged model (for a per-penalty dict, that penalty's entry is
            ``{"lambda_min": None, "lambda_1se": None, "note": ...}``).

        Example:
          >>> val = np.array([[3.0, 1.0, 1.1], [3.0, 1.2, 1.2]])  # (folds, λ)
          >>> s = SweepResult.from_sweep({"val_loss": val}, [0.1, 1.0, 10.0], folds=2).cv()
          >>> s["lambda_min"], s["lambda_1se"], s["at_grid_edge"]
          (1.0, 10.0, None)
        """
        if "fold" not in self.table:
            raise ValueError("cv needs cross-validation results: the table has no fold column; run "
                             "sweep(..., folds=F) and pass folds=F to SweepResult.from_sweep")
        values = self._checked_metric(metric)
        mode = resolve_mode(metric, mode)
        labels = self._labels()
        first = np.sort(np.unique(labels, return_index=True)[1])
        names = dict.fromkeys(labels[first].tolist()) if "penalty" in self.table else {None: None}
        single, key = self._one(names, penalty)
        self._note_identical_seeds(metric)
        out = {}
        for pen in ([key] if single else names):
            sel = labels == (pen if pen is not None else "")
            try:
                out[pen] = cv_of(self.table["lambda"][sel], self.table["fold"][sel], values[sel],
                                 self.diverged[sel], metric, mode)
            except ValueError as e:
                if single or "diverged" not in str(e):
                    raise
                out[pen] = {"lambda_min": None, "lambda_1se": None, "note": str(e)}
        return out[key] if single else out

    def plot_validation_curve(self, metric: str = "val_loss", *, train_metric: str | None = "train_loss",
                              title: str = "", mode: str | None = None):
        """The validation curve, mean ± standard error per λ: :func:`~jaxreg.engine.plot_validation_curve`."""
        from jaxreg.engine._plots import plot_validation_curve

        return plot_validation_curve(self, metric, train_metric=train_metric, title=title, mode=mode)

    def plot_sparsity(self, *, title: str = ""):
        """Fraction of exact zeros vs λ: :func:`~jaxreg.engine.plot_sparsity`."""
        from jaxreg.engine._plots import plot_sparsity

        return plot_sparsity(self, title=title)

    def plot_coefficient_path(self, leaf: str | None = None, *, penalty: str | None = None, title: str = ""):
        """Each coefficient of a params leaf vs λ: :func:`~jaxreg.engine.plot_coefficient_path`."""
        from jaxreg.engine._plots import plot_coefficient_path

        return plot_coefficient_path(self, leaf, penalty=penalty, title=title)


def _json_default(o: Any):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        v = o.item()
        return None if isinstance(v, float) and not math.isfinite(v) else v
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")

"""``SweepResult``: one row per trained model, saved as CSV + JSON + NPZ (no pickle)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SweepResult", "atomic_write"]


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


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    if isinstance(v, (float, np.floating)):
        return repr(float(v))  # shortest string that round-trips exactly
    return str(v)


def _parse(column: list[str], kind: str) -> np.ndarray:
    if kind == "b":
        return np.asarray([c == "True" for c in column], bool)
    if kind in "iu":
        return np.asarray([int(c) for c in column], np.int64)
    if kind == "f":
        return np.asarray([float(c) for c in column], np.float64)
    return np.asarray(column, str)


@dataclass
class SweepResult:
    """Results of a λ sweep: a table (one row per model), optional params, metadata.

    Attributes:
      table: column name -> 1-D array, all of the same length (rows). Always
        has ``penalty``, ``lambda``, ``seed`` and ``finite``; the job adds
        ``train_loss``, ``val_loss``, ``val_accuracy``, ``sparsity``,
        ``near_zero``, ``l1``, ``l2`` (and ``fold`` with cross-validation).
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
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        cols = list(self.table.values())
        for i in range(len(self)):
            w.writerow([_fmt(c[i]) for c in cols])
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

    def groups(self, metric: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per penalty: ``(lambdas, mean, spread)`` of ``metric`` over seeds/folds, finite rows only.

        ``spread`` is the standard deviation across seeds (and folds); λ with
        no finite row get NaN.
        """
        if metric not in self.table:
            raise ValueError(f"unknown metric {metric!r}; columns are {', '.join(self.columns)}")
        out = {}
        for pen in dict.fromkeys(self.table["penalty"].tolist()):
            sel = self.table["penalty"] == pen
            lam = self.table["lambda"][sel]
            val = self.table[metric][sel].astype(np.float64)
            ok = self.table["finite"][sel].astype(bool) & np.isfinite(val)
            grid = np.unique(lam)
            mean = np.full(grid.size, np.nan)
            spread = np.full(grid.size, np.nan)
            for i, g in enumerate(grid):
                v = val[(lam == g) & ok]
                if v.size:
                    mean[i] = v.mean()
                    spread[i] = v.std()
            out[pen] = (grid, mean, spread)
        return out

    def best(self, metric: str = "val_loss", mode: str = "min") -> dict[str, dict]:
        """Per penalty, the λ with the best mean ``metric`` over seeds/folds (finite rows only)."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        out = {}
        for pen, (grid, mean, spread) in self.groups(metric).items():
            if not np.isfinite(mean).any():
                out[pen] = {"lambda": None, metric: None, "note": "every model diverged"}
                continue
            score = mean if mode == "min" else -mean
            i = int(np.nanargmin(np.where(np.isfinite(score), score, np.inf)))
            out[pen] = {"lambda": float(grid[i]), metric: float(mean[i]), "spread": float(spread[i]), "index": i}
        return out


def _json_default(o: Any):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        v = o.item()
        return None if isinstance(v, float) and not math.isfinite(v) else v
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")

"""Datasets: scikit-learn's bundled ones (no network), user CSV/NPZ files, fixed splits.

Every dataset becomes a :class:`Dataset` with a fixed, seeded train/validation
split (stratified for classification), features standardised with the
training statistics, and for regression the target standardised too.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from jaxreg.app._errors import ConfigError

__all__ = ["Dataset", "DATASETS", "load_dataset", "load_file", "make_dataset"]

#: The bundled datasets (scikit-learn's, no network needed).
DATASETS = ("digits", "diabetes", "breast_cancer", "wine")
_TASKS = ("classification", "regression")
#: Fewest samples :func:`make_dataset` splits: at least two each for training and validation.
MIN_SAMPLES = 4
#: The text encoding of a CSV file; ``-sig`` drops a UTF-8 byte-order mark, which would otherwise hide the
#: first row of a headerless file (its first cell would not parse as a number, so it would pass for a header).
CSV_ENCODING = "utf-8-sig"
#: Bytes read at a time when hashing a data file.
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Dataset:
    """A train/validation split ready for training (float32 features)."""

    name: str
    task: str  # "classification" or "regression"
    x_train: np.ndarray  # (n_train, d) float32, standardised
    y_train: np.ndarray  # (n_train,) int32 class ids or float32 standardised target
    x_val: np.ndarray  # (n_val, d)
    y_val: np.ndarray  # (n_val,)
    n_classes: int = 0  # 0 for regression
    info: dict = field(default_factory=dict)  # n_samples, val_fraction, seed, sha256 of the data (+ y_mean, y_std)

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.task == "classification" else 1


def _sklearn_loader(name: str):
    from sklearn import datasets

    return {
        "digits": (datasets.load_digits, "classification"),
        "diabetes": (datasets.load_diabetes, "regression"),
        "breast_cancer": (datasets.load_breast_cancer, "classification"),
        "wine": (datasets.load_wine, "classification"),
    }[name]


def load_dataset(
    name: str, *, val_fraction: float = 0.25, seed: int = 0, n_train: int | None = None
) -> Dataset:
    """One of scikit-learn's bundled datasets (no network): ``digits``, ``diabetes``, ``breast_cancer``, ``wine``.

    Split and standardised as :func:`make_dataset` does; ``n_train`` keeps a
    seeded subset of the training split.

    Example:
      >>> ds = load_dataset("wine")
      >>> ds.task, ds.n_classes, ds.n_features
      ('classification', 3, 13)
    """
    if name not in DATASETS:
        raise ConfigError.about(
            "dataset", f"must be one of {', '.join(DATASETS)}, got {name!r}; for your own data use load_file"
        )
    loader, task = _sklearn_loader(name)
    x, y = loader(return_X_y=True)
    return make_dataset(x, y, task=task, name=name, val_fraction=val_fraction, seed=seed, n_train=n_train)


def _infer_task(y: np.ndarray) -> str:
    if np.all(np.equal(np.mod(y, 1), 0)) and np.unique(y).size <= max(2, min(50, y.size // 5)):
        return "classification"
    return "regression"


def _checked_arrays(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (samples × features) and ``y`` (one target per sample) as finite float64 arrays."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        raise ConfigError(f"data must be numeric, got x dtype {x.dtype} and y dtype {y.dtype}")
    x = x.astype(np.float64, copy=False)  # never written to: the split copies
    y = y.astype(np.float64, copy=False)
    if x.ndim != 2:
        raise ConfigError(f"x must be 2-D (samples × features), got shape {x.shape}")
    if y.ndim != 1:
        raise ConfigError(f"y must be 1-D (one target per sample), got shape {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ConfigError(f"x and y must have the same number of samples, got {x.shape[0]} and {y.shape[0]}")
    if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
        raise ConfigError("data contains NaN or inf; remove or impute those rows first")
    if x.shape[0] < MIN_SAMPLES:
        raise ConfigError(
            f"need at least {MIN_SAMPLES} samples to split into train and validation, got {x.shape[0]}"
        )
    return x, y


def _split(x: np.ndarray, y: np.ndarray, stratify: np.ndarray | None, val_fraction: float, seed: int,
           n_train: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The seeded train/validation split, then (with ``n_train``) a seeded subset of the training split."""
    from sklearn.model_selection import train_test_split

    if stratify is not None:
        _check_stratified_sizes(x.shape[0], int(stratify.max()) + 1, val_fraction)
    try:
        x_tr, x_va, y_tr, y_va = train_test_split(
            x, y, test_size=val_fraction, random_state=seed, stratify=stratify
        )
    except ValueError as e:  # scikit-learn's checks of the split: too few samples for the classes
        raise ConfigError(f"cannot split the {x.shape[0]} samples into train and validation sets ({e}); "
                          "change {val_fraction} or add samples", "val_fraction") from e
    if n_train is not None:
        if not 1 <= n_train <= len(y_tr):
            raise ConfigError.about("n_train", f"must be between 1 and {len(y_tr)} (the training split), got {n_train}")
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(y_tr), n_train, replace=False))
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    return x_tr, x_va, y_tr, y_va


def make_dataset(
    x, y, *, task: str | None = None, name: str = "array", val_fraction: float = 0.25, seed: int = 0,
    n_train: int | None = None,
) -> Dataset:
    """Check ``x``/``y``, split, standardise. ``task`` is inferred when ``None``.

    A target of integers with few distinct values is a classification task;
    pass ``task="regression"`` to override. Features are standardised with the
    training split's mean and standard deviation, and so is a regression target.
    ``info["sha256"]`` fingerprints the arrays' contents (a resumed sweep checks it).

    Raises:
      ConfigError: data that is not numeric, finite, 2-D/1-D and of matching
        length; fewer than 2 classes; a split that leaves a class out of the
        training or validation set (naming ``val_fraction``).

    Example:
      >>> import numpy as np
      >>> ds = make_dataset(np.arange(40.0).reshape(20, 2), np.arange(20) % 2)
      >>> ds.task, ds.n_classes, ds.x_train.shape, ds.x_val.shape
      ('classification', 2, (15, 2), (5, 2))
    """
    x, y = _checked_arrays(x, y)
    return _dataset(x, y, task=task, name=name, val_fraction=val_fraction, seed=seed, n_train=n_train,
                    sha256=_arrays_sha256(x, y))


def _arrays_sha256(*arrays: np.ndarray) -> str:
    """sha256 of the arrays' shapes and float64 contents, hashed a block of rows at a time (no full copy)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(repr(a.shape).encode())
        rows = max(1, _HASH_BLOCK // max(1, a[:1].nbytes))
        for i in range(0, len(a), rows):
            h.update(np.ascontiguousarray(a[i:i + rows], np.float64))
    return h.hexdigest()


def _file_sha256(path: str) -> str:
    """sha256 of a file's bytes, read a block at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def _check_stratified_sizes(n: int, n_classes: int, val_fraction: float) -> None:
    """A stratified split needs every class in both sets: at least ``n_classes`` samples in each."""
    n_val = math.ceil(val_fraction * n)
    if min(n_val, n - n_val) >= n_classes:
        return
    if n < 2 * n_classes:
        raise ConfigError(f"cannot split {n} samples of {n_classes} classes so that every class is in both the "
                          f"training and the validation set; add samples (at least {2 * n_classes})")
    lo, hi = n_classes / n, (n - n_classes) / n
    fix = f"to {lo:.3g}" if lo == hi else f"to a value between {lo:.3g} and {hi:.3g}"
    raise ConfigError(f"{{val_fraction}} = {val_fraction} splits {n} samples of {n_classes} classes into {n - n_val} "
                      f"for training and {n_val} for validation, too few to hold every class in both; set "
                      f"{{val_fraction}} {fix}, or add samples", "val_fraction")


def _dataset(x: np.ndarray, y: np.ndarray, *, task: str | None, name: str, val_fraction: float, seed: int,
             n_train: int | None, sha256: str) -> Dataset:
    """:func:`make_dataset` on checked arrays, with the data's fingerprint ``sha256``."""
    if not 0 < val_fraction < 1:
        raise ConfigError.about("val_fraction", f"must be in (0, 1), got {val_fraction}")
    task = task or _infer_task(y)
    if task not in _TASKS:
        raise ConfigError.about("task", f"must be 'classification' or 'regression', got {task!r}")
    n_classes, stratify = 0, None
    if task == "classification":
        classes, y = np.unique(y, return_inverse=True)
        n_classes = int(classes.size)
        if n_classes < 2:
            raise ConfigError(f"classification needs at least 2 classes, the target has {n_classes}")
        stratify = y if np.bincount(y).min() >= 2 else None
    x_tr, x_va, y_tr, y_va = _split(x, y, stratify, val_fraction, seed, n_train)
    mean, std = x_tr.mean(0), x_tr.std(0)
    std[std == 0] = 1.0
    for part in (x_tr, x_va):  # in place: the split's copies are this function's own
        part -= mean
        part /= std
    info = {"n_samples": int(x.shape[0]), "val_fraction": val_fraction, "seed": seed, "sha256": sha256}
    y_dtype = np.int32
    if task == "regression":
        y_mean, y_std = y_tr.mean(), y_tr.std() or 1.0
        y_tr, y_va = (y_tr - y_mean) / y_std, (y_va - y_mean) / y_std
        info.update(y_mean=float(y_mean), y_std=float(y_std))
        y_dtype = np.float32
    return Dataset(
        name=name, task=task,
        x_train=x_tr.astype(np.float32), y_train=y_tr.astype(y_dtype),
        x_val=x_va.astype(np.float32), y_val=y_va.astype(y_dtype),
        n_classes=n_classes, info=info,
    )


def _data_error(path: str, problem: str) -> ConfigError:
    return ConfigError.about("data", f"file {path} {problem}")


def _numeric(row: list[str]) -> list[float] | None:
    try:
        return [float(c) for c in row]
    except ValueError:
        return None


def _encoding_error(path: str, e: UnicodeDecodeError) -> ConfigError:
    return _data_error(path, f"is not UTF-8 text (it holds the byte 0x{e.object[e.start]:02x}: a binary, Latin-1 "
                             "or other non-UTF-8 file); save it as a UTF-8 CSV, or pass an .npz file")


def _rows(path: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of every non-blank CSV row, streamed; an unreadable file names ``data``."""
    try:
        with open(path, encoding=CSV_ENCODING, newline="") as f:
            reader = csv.reader(f)
            for row in reader:
                if row and any(c.strip() for c in row):
                    yield reader.line_num, row
    except UnicodeDecodeError as e:
        raise _encoding_error(path, e) from e
    except csv.Error as e:  # e.g. a NUL byte: a binary file that happens to decode
        raise _data_error(path, f"is not a readable CSV file ({e})") from e


class _CsvLayout(NamedTuple):
    """Where a CSV's data starts and how wide it is, from its first non-blank rows."""

    skip_lines: int  # physical lines before the first data row: blank lines and the header
    width: int  # cells per row


def _csv_layout(path: str) -> _CsvLayout:
    """The first non-blank row is a header unless every cell of it is a number."""
    rows = _rows(path)
    first = next(rows, None)
    if first is None:
        raise _data_error(path, "is empty")
    line, row = first
    if _numeric(row) is not None:
        return _CsvLayout(line - 1, len(row))
    data = next(rows, None)
    if data is None:
        raise _data_error(path, "has a header but no data rows")
    return _CsvLayout(line, len(data[1]))


def _data_rows(path: str, layout: _CsvLayout) -> Iterator[list[float]]:
    """The data rows as lists of floats, streamed; a ragged or non-numeric row names its line."""
    for line, row in _rows(path):
        if line <= layout.skip_lines:
            continue
        if len(row) != layout.width:
            raise _data_error(path, f"has {len(row)} columns on line {line}, expected {layout.width} (ragged rows)")
        parsed = _numeric(row)
        if parsed is None:
            bad = next(c for c in row if _numeric([c]) is None)
            raise _data_error(path, f"has a non-numeric cell {bad!r} on line {line}")
        yield parsed


def _read_csv_rows(path: str, layout: _CsvLayout) -> np.ndarray:
    """Row by row in two streamed passes: count and check the rows, then fill a preallocated array."""
    n = sum(1 for _ in _data_rows(path, layout))
    arr = np.empty((n, layout.width), np.float64)
    for i, parsed in enumerate(_data_rows(path, layout)):
        arr[i] = parsed
    return arr


def _read_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and target of a CSV file (target last, optional header), parsed into one float64 array.

    NumPy's typed reader parses the file straight into the array, so memory is a small multiple of the
    data. A file it refuses is read again row by row (:func:`_read_csv_rows`), which names the line at
    fault, or parses what only Python's ``float`` accepts (a row of empty cells, ``1_000``).
    """
    layout = _csv_layout(path)
    if layout.width < 2:
        raise _data_error(path, "needs at least 2 columns (features, then the target last)")
    try:
        with open(path, encoding=CSV_ENCODING) as f:
            arr = np.loadtxt(f, delimiter=",", dtype=np.float64, skiprows=layout.skip_lines, comments=None,
                             quotechar='"', ndmin=2)
    except UnicodeDecodeError as e:
        raise _encoding_error(path, e) from e
    except ValueError:
        arr = _read_csv_rows(path, layout)
    return arr[:, :-1], arr[:, -1]


def _read_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ConfigError.about("data", f"file {path} is not a readable NPZ file (not a zip archive of .npy arrays)")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if "y" in names:
                xname = next((n for n in ("x", "X") if n in names), None)
                if xname is None:
                    raise ConfigError.about("data", f"file {path} has 'y' but no 'x' or 'X' array (has {names})")
                return z[xname], z["y"]
            if len(names) == 1:
                arr = z[names[0]]
                if arr.ndim != 2 or arr.shape[1] < 2:
                    raise ConfigError.about("data", f"file {path}: a single array must be 2-D with the target last")
                return arr[:, :-1], arr[:, -1]
            raise ConfigError.about("data", f"file {path} must hold arrays 'x' and 'y' (or one 2-D array), has {names}")
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile/numpy errors: a corrupt or foreign file
        raise ConfigError.about("data", f"file {path} is not a readable NPZ file ({e})") from e


def load_file(
    path: str, *, task: str | None = None, val_fraction: float = 0.25, seed: int = 0, n_train: int | None = None
) -> Dataset:
    r"""A user's CSV (target in the last column, optional header) or NPZ (``x``, ``y``).

    A CSV is UTF-8 text (a byte-order mark is allowed), comma-separated, one
    sample per line; its first line is a header unless every cell is a number.
    ``info["sha256"]`` is the file's sha256 (a resumed sweep checks it).

    Raises:
      ConfigError: a missing, empty, ragged, non-numeric or corrupt file (or
        data :func:`make_dataset` refuses), naming the ``data`` field.

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "mine.csv")
      >>> with open(path, "w") as f:
      ...     _ = f.write("a,b,label\n" + "\n".join(f"{i},{i % 3},{i % 2}" for i in range(12)))
      >>> ds = load_file(path)
      >>> ds.name, ds.task, ds.n_features, len(ds.y_train) + len(ds.y_val)
      ('mine', 'classification', 2, 12)
    """
    if not os.path.exists(path):
        raise ConfigError.about("data", f"file {path} does not exist")
    if os.path.isdir(path):
        raise ConfigError.about("data", f"{path} is a directory; pass a .csv or .npz file")
    if os.path.getsize(path) == 0:
        raise ConfigError.about("data", f"file {path} is empty")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        x, y = _read_csv(path)
    elif ext == ".npz":
        x, y = _read_npz(path)
    else:
        raise ConfigError.about("data", f"file {path} must be .csv or .npz, got {ext or 'no extension'!r}")
    x, y = _checked_arrays(x, y)
    name = os.path.splitext(os.path.basename(path))[0]
    return _dataset(x, y, task=task, name=name, val_fraction=val_fraction, seed=seed, n_train=n_train,
                    sha256=_file_sha256(path))

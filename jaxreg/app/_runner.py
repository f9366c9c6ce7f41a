"""The main job: dataset × model × penalties → one vmapped sweep per penalty → SweepResult.

This is what ``jaxreg sweep`` runs; the CLI only parses arguments, prints and
plots. Each penalty maps to an optax chain built from jaxreg transforms:

=============  ==============================================================
``l2``         ``chain(add_l2_decay(λ), opt)``
``l1``         ``chain(add_l1_sign(λ), opt)``: the plain sign step
``l1_prox``    ``chain(opt, prox_l1(λ, lr))``: exact zeros (ISTA with SGD)
``elastic_net``  ``chain(opt, prox_elastic_net(λ, l1_ratio, lr))``
``group``      ``chain(opt, prox_group_lasso(λ, lr, axis=0))``: whole neurons
=============  ==============================================================

Only weight matrices are penalised (biases are free). With ``adam`` the
proximal step uses the base learning rate as its step: a heuristic, since
adam's per-coordinate step differs from it.

``compute_dtype="bfloat16"`` trains in mixed precision: params, optimizer state
and losses stay float32, the forward/backward matmuls run in bfloat16 (see
:mod:`jaxreg.models`). The λ grid's λ_max is always computed in float32.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxreg import models
from jaxreg._checks import check_hyperparam, check_ratio
from jaxreg._train import fit
from jaxreg.app._data import DATASETS, Dataset, load_dataset, load_file
from jaxreg.core._grids import lambda_max_l1, log_grid
from jaxreg.core._metrics import all_finite, weight_metrics
from jaxreg.core._transforms import add_l1_sign, add_l2_decay, prox_elastic_net, prox_group_lasso, prox_l1
from jaxreg.engine import _cv as cv
from jaxreg.engine._checkpoint import ChunkStore
from jaxreg.engine._results import SweepResult
from jaxreg.engine._sweep import sweep

__all__ = ["PENALTIES", "OPTIMIZERS", "SweepConfig", "make_optimizer", "make_train_fn", "run", "lambda_grid"]

PENALTIES = ("l2", "l1", "l1_prox", "elastic_net", "group")
OPTIMIZERS = ("sgd", "adam")
METRICS = ("train_loss", "val_loss", "val_accuracy", "sparsity", "near_zero", "l1", "l2")


@dataclass
class SweepConfig:
    """Everything that defines a sweep (saved in ``summary.json``)."""

    dataset: str = "digits"
    data: str | None = None  # a CSV/NPZ file instead of a bundled dataset
    model: str | None = None  # default: logistic for classes, linear for regression
    penalties: tuple[str, ...] = ("l2", "l1", "l1_prox")
    lambda_min: float | None = None  # default: 1e-4 · lambda_max
    lambda_max: float | None = None  # default: λ_max of L1 for the linear model on the data
    num_lambdas: int = 100
    steps: int = 300
    lr: float = 0.5
    optimizer: str = "sgd"
    seeds: int = 1
    folds: int = 0  # 0/1: fixed validation split; >= 2: K-fold CV on the training split
    chunk_size: int | None = None
    hidden: int = 64
    batch_size: int | None = None
    l1_ratio: float = 0.5
    n_train: int | None = None
    val_fraction: float = 0.25
    keep_params: bool = True
    deterministic: bool = False  # one model at a time: bit-identical for any chunk size / device count
    compute_dtype: str = "float32"  # forward/backward matmuls; params, optimizer state and losses stay float32

    def validate(self) -> SweepConfig:
        """Check every field; raise ``ValueError`` naming the option and what is accepted."""
        if self.data is None and self.dataset not in DATASETS:
            raise ValueError(f"--dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.model is not None and self.model not in models.MODELS:
            raise ValueError(f"--model must be one of {', '.join(models.MODELS)}, got {self.model!r}")
        if not self.penalties:
            raise ValueError(f"--penalty: give at least one of {', '.join(PENALTIES)}")
        for p in self.penalties:
            if p not in PENALTIES:
                raise ValueError(f"--penalty must be one of {', '.join(PENALTIES)}, got {p!r}")
        if len(set(self.penalties)) != len(self.penalties):
            raise ValueError(f"--penalty lists a penalty twice: {', '.join(self.penalties)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        for name in ("lambda_min", "lambda_max"):
            v = getattr(self, name)
            if v is not None:
                check_hyperparam(v, "--" + name.replace("_", "-"))
                if v <= 0:
                    raise ValueError(f"--{name.replace('_', '-')} must be > 0 for a log grid, got {v}")
        if self.lambda_min is not None and self.lambda_max is not None and self.lambda_min > self.lambda_max:
            raise ValueError(
                f"--lambda-min ({self.lambda_min}) must be <= --lambda-max ({self.lambda_max}); swap them"
            )
        check_hyperparam(self.lr, "--lr")
        if self.lr == 0:
            raise ValueError("--lr must be > 0")
        check_ratio(self.l1_ratio, "--l1-ratio")
        for name, lo in (("num_lambdas", 1), ("steps", 1), ("seeds", 1), ("hidden", 1), ("folds", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"--{name.replace('_', '-')} must be an integer >= {lo}, got {v!r}")
        for name in ("chunk_size", "batch_size", "n_train"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"--{name.replace('_', '-')} must be an integer >= 1, got {v!r}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"--val-fraction must be in (0, 1), got {self.val_fraction}")
        if not isinstance(self.compute_dtype, str) or self.compute_dtype not in models.COMPUTE_DTYPES:
            raise ValueError(
                f"--compute-dtype must be one of {', '.join(models.COMPUTE_DTYPES)}, got {self.compute_dtype!r}"
            )
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["penalties"] = list(self.penalties)
        if d["compute_dtype"] == "float32":  # absent = float32: sweeps saved before the option still resume
            del d["compute_dtype"]
        return d


def make_optimizer(
    penalty: str, lam: Any, *, optimizer: str = "sgd", learning_rate: float = 0.1, mask: Any = None,
    l1_ratio: float = 0.5,
) -> optax.GradientTransformation:
    """The optax chain for ``penalty`` (see the module table)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    base = optax.sgd(learning_rate) if optimizer == "sgd" else optax.adam(learning_rate)
    if penalty == "l2":
        return optax.chain(add_l2_decay(lam, mask=mask), base)
    if penalty == "l1":
        return optax.chain(add_l1_sign(lam, mask=mask), base)
    if penalty == "l1_prox":
        return optax.chain(base, prox_l1(lam, learning_rate, mask=mask))
    if penalty == "elastic_net":
        return optax.chain(base, prox_elastic_net(lam, l1_ratio, learning_rate, mask=mask))
    if penalty == "group":
        return optax.chain(base, prox_group_lasso(lam, learning_rate, axis=0, mask=mask))
    raise ValueError(f"penalty must be one of {', '.join(PENALTIES)}, got {penalty!r}")


def default_model(ds: Dataset) -> str:
    return "logistic" if ds.task == "classification" else "linear"


def make_train_fn(ds: Dataset, cfg: SweepConfig, penalty: str, fold_masks: np.ndarray | None = None):
    """``train(lam, key[, fold]) -> {"metrics": {...}, "params": ...}`` for one model."""
    model = cfg.model or default_model(ds)
    models.init_params(model, jax.random.key(0), ds.n_features, ds.n_outputs, hidden=cfg.hidden, task=ds.task)
    x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
    xv, yv = jnp.asarray(ds.x_val), jnp.asarray(ds.y_val)
    held = None if fold_masks is None else jnp.asarray(fold_masks, jnp.float32)
    classification = ds.task == "classification"
    dt = models.check_compute_dtype(cfg.compute_dtype)

    def loss_fn(p, batch):
        return models.data_loss(ds.task, p, *batch, compute_dtype=dt)

    def train(lam, key, fold=None):
        k_init, k_batch = jax.random.split(key)
        params = models.init_params(model, k_init, ds.n_features, ds.n_outputs, hidden=cfg.hidden)
        mask = models.weight_mask(params)
        opt = make_optimizer(
            penalty, lam, optimizer=cfg.optimizer, learning_rate=cfg.lr, mask=mask, l1_ratio=cfg.l1_ratio
        )
        if held is None:
            train_w, data = None, (x, y)
            val = (xv, yv, None)
        else:
            train_w = 1.0 - held[fold]
            data = (x, y, train_w)
            val = (x, y, held[fold])
        p = fit(loss_fn, params, opt, steps=cfg.steps, data=data, batch_size=cfg.batch_size, key=k_batch).params
        metrics = {
            "train_loss": models.data_loss(ds.task, p, x, y, train_w, compute_dtype=dt),
            "val_loss": models.data_loss(ds.task, p, *val, compute_dtype=dt),
            "val_accuracy": (models.accuracy(p, *val, compute_dtype=dt) if classification
                             else jnp.array(jnp.nan, jnp.float32)),
            **weight_metrics(p, mask),
        }
        finite = all_finite(p) & jnp.isfinite(metrics["train_loss"]) & jnp.isfinite(metrics["val_loss"])
        # A diverged model keeps finite=False and NaN metrics; the other models are unaffected.
        metrics = {k: jnp.where(finite, v, jnp.nan) for k, v in metrics.items()}
        metrics["finite"] = finite
        out = {"metrics": metrics}
        if cfg.keep_params:
            out["params"] = p
        return out

    if held is None:
        return lambda lam, key: train(lam, key)
    return train


def lambda_grid(ds: Dataset, cfg: SweepConfig) -> tuple[np.ndarray, dict]:
    """The λ grid; by default anchored at λ_max of L1 for the linear/logistic model."""
    info = {}
    hi = cfg.lambda_max
    if hi is None:
        lin = "logistic" if ds.task == "classification" else "linear"
        p0 = models.init_params(lin, jax.random.key(0), ds.n_features, ds.n_outputs)
        x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
        # intercept at its optimum for the zero model would be exact; the zero intercept is close enough
        hi = float(lambda_max_l1(lambda p: models.data_loss(ds.task, p, x, y), p0, mask=models.weight_mask(p0)))
        info["lambda_max_l1_linear"] = hi
    lo = cfg.lambda_min if cfg.lambda_min is not None else 1e-4 * hi
    if lo > hi:
        raise ValueError(f"--lambda-min ({lo}) must be <= --lambda-max ({hi}); swap them")
    return log_grid(lo, hi, cfg.num_lambdas), info


def load_data(cfg: SweepConfig) -> Dataset:
    if cfg.data is not None:
        return load_file(cfg.data, val_fraction=cfg.val_fraction, n_train=cfg.n_train)
    return load_dataset(cfg.dataset, val_fraction=cfg.val_fraction, n_train=cfg.n_train)


def run(
    cfg: SweepConfig, *, progress: bool | None = None, log=print, out_dir: str | None = None,
    resume: bool = False,
) -> SweepResult:
    """Run the whole job: one ``sweep`` call per penalty; returns the :class:`SweepResult`.

    With ``out_dir`` every finished chunk is checkpointed there
    (:mod:`jaxreg.checkpoint`); ``resume=True`` reuses the chunks already
    there (after checking the configuration is the same) and computes the rest.
    """
    cfg.validate()
    ds = load_data(cfg)
    lambdas, grid_info = lambda_grid(ds, cfg)
    store = None
    main_process = jax.process_index() == 0
    if out_dir is not None and (main_process or resume):
        # Process 0 writes; with --resume the other processes of a multi-process job read the same directory.
        store = ChunkStore(out_dir, cfg.to_dict(), lambdas.tolist(), resume=resume, log=log,
                           readonly=not main_process)
    folds = cfg.folds if cfg.folds >= 2 else None
    fold_masks = cv.kfold_masks(len(ds.y_train), folds) if folds else None
    seeds = list(range(cfg.seeds))

    columns: dict[str, list] = {}
    params_parts: list = []
    timings = {}
    for penalty in cfg.penalties:
        train = make_train_fn(ds, cfg, penalty, fold_masks)
        chunk_size, on_chunk, load_chunk = cfg.chunk_size, None, None
        if store is not None:
            chunk_size = store.chunk_size(penalty) or chunk_size
            if main_process:

                def on_chunk(start, stop, out, penalty=penalty):
                    store.save(penalty, start, stop, out, chunk_size=stop - start)

            if resume:  # every process asks, so that all skip the same chunks

                def load_chunk(start, stop, penalty=penalty):
                    return store.load(penalty, start, stop)

        t0 = time.perf_counter()
        out, stats = sweep(
            train, lambdas, keys=seeds, folds=folds, chunk_size=chunk_size, progress=progress,
            on_chunk=on_chunk, load_chunk=load_chunk, return_stats=True,
            vmap_size=1 if cfg.deterministic else "auto",
        )
        wall = time.perf_counter() - t0
        computed = stats["n_models"] - stats["n_loaded_models"]
        timings[penalty] = {**stats, "wall_s": wall, "models_per_s": computed / wall}
        shape = out["metrics"]["val_loss"].shape  # (folds?, seeds, K)
        grid = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
        n = int(np.prod(shape))
        columns.setdefault("penalty", []).append(np.full(n, penalty))
        columns.setdefault("lambda", []).append(lambdas[grid[-1].ravel()])
        columns.setdefault("seed", []).append(np.asarray(seeds)[grid[-2].ravel()])
        if folds:
            columns.setdefault("fold", []).append(grid[0].ravel())
        for m in (*METRICS, "finite"):
            columns.setdefault(m, []).append(np.asarray(out["metrics"][m]).reshape(n))
        if cfg.keep_params:
            lead = len(shape)
            params_parts.append({k: np.asarray(v).reshape(n, *np.shape(v)[lead:]) for k, v in out["params"].items()})
        if log:
            resumed = f", {stats['n_loaded_chunks']} resumed" if stats["n_loaded_chunks"] else ""
            log(f"  {penalty:<12} {n:>6} models  {wall:6.1f} s  ({computed / wall:,.0f} models/s, "
                f"compile {stats['compile_s']:.1f} s, {stats['n_chunks']} chunk(s) of {stats['chunk_size']}"
                f"{resumed})")

    table = {k: np.concatenate(v) for k, v in columns.items()}
    table["finite"] = table["finite"].astype(bool)
    params = None
    if params_parts:
        params = {k: np.concatenate([p[k] for p in params_parts]) for k in params_parts[0]}
    info = {
        "config": cfg.to_dict(),
        "dataset": {"name": ds.name, "task": ds.task, "n_train": int(len(ds.y_train)), "n_val": int(len(ds.y_val)),
                    "n_features": ds.n_features, "n_classes": ds.n_classes},
        "model": cfg.model or default_model(ds),
        "lambdas": lambdas.tolist(),
        "grid": grid_info,
        "timings": timings,
        "device": jax.devices()[0].device_kind,
        "platform": jax.devices()[0].platform,
        "n_devices": jax.device_count(),
        "n_processes": jax.process_count(),
        "jax_version": jax.__version__,
    }
    result = SweepResult(table=table, params=params, info=info)
    if folds:
        info["cv"] = {}
        for pen in cfg.penalties:
            sel = table["penalty"] == pen
            scores = table["val_loss"][sel].reshape(folds, cfg.seeds, lambdas.size).mean(axis=1)
            scores = np.where(table["finite"][sel].reshape(folds, cfg.seeds, -1).all(axis=1), scores, np.nan)
            s = cv.cv_summary(lambdas, scores)
            info["cv"][pen] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
    return result

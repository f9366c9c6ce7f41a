"""The job behind ``jaxreg sweep``: dataset × model × penalties → one vmapped sweep per penalty.

The CLI parses arguments and prints; this module does the work, in stages that
:func:`run` calls in order:

1. :func:`load_data`: the bundled dataset or the user's file, split and standardised, its
   task given or inferred (then ``_check_against_data``: the options that can only be
   checked against the data);
2. :func:`lambda_grid`: the log grid of λ, by default anchored at λ_max of L1; then
   :func:`step_sizes`: ``cfg.lr``, or per penalty the data's 1/L rule (``_step_size``);
3. :func:`make_train_fn`: ``train(lam, key[, fold])`` for one model of one penalty
   (the penalty's optax chain is :func:`~jaxreg.app.make_optimizer`'s);
4. ``_sweep_penalty``: one :func:`~jaxreg.engine.sweep` call per penalty, every
   finished chunk checkpointed in ``out_dir`` (:class:`~jaxreg.engine.ChunkStore`);
5. ``_assemble``: the :class:`~jaxreg.engine.SweepResult`, one row per model, with
   the summary (data source and task, step sizes, grid, timings, device, diverged
   models, CV choice of λ);
6. :func:`write_outputs`: ``results.csv``, ``summary.json`` and the figures.

A model is diverged when a metric is non-finite or its training loss ended above
:data:`~jaxreg.engine.DIVERGENCE_FACTOR` times its initial loss: the ``diverged``
column flags it, the report counts it, and no choice of λ uses it.

Only weight matrices are penalised (biases are free). ``compute_dtype="bfloat16"``
trains in mixed precision: params, optimizer state and losses stay float32, the
forward/backward matmuls run in bfloat16 (see :mod:`jaxreg.models`). The λ grid's
λ_max is always computed in float32.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg import models
from jaxreg._train import fit
from jaxreg.app import _plots as plots
from jaxreg.app._config import SweepConfig, check_lambda_order
from jaxreg.app._data import Dataset, load_dataset, load_file
from jaxreg.app._errors import ConfigError
from jaxreg.app._optimizers import OPTIMIZERS, PENALTIES, make_optimizer
from jaxreg.app._stability import check_stability, run_stability, write_stability
from jaxreg.app._step_size import StepSize, data_curvature, default_step_size
from jaxreg.core._grids import lambda_max_l1, log_grid
from jaxreg.core._metrics import all_finite, weight_metrics
from jaxreg.engine import _cv as cv
from jaxreg.engine._checkpoint import ChunkStore, device_fingerprint
from jaxreg.engine._results import SweepResult, atomic_write
from jaxreg.engine._select import DIVERGENCE_FACTOR, diverged_models
from jaxreg.engine._sweep import sweep

__all__ = ["PENALTIES", "OPTIMIZERS", "SweepConfig", "make_optimizer", "make_train_fn", "run", "lambda_grid",
           "step_sizes", "load_data", "write_outputs"]

#: Per-model metrics, one column each in the results table (then ``finite``, ``initial_loss``, ``diverged``).
METRICS = ("train_loss", "val_loss", "val_accuracy", "sparsity", "near_zero", "l1", "l2")
#: The default λ_min as a fraction of λ_max (four decades, as glmnet's default for n > d).
LAMBDA_MIN_RATIO = 1e-4

Log = Callable[[str], Any] | None


def load_data(cfg: SweepConfig) -> Dataset:
    """Stage 1: ``cfg.data`` (a CSV/NPZ file) or the bundled ``cfg.dataset``, split and standardised.

    ``cfg.task`` ``"auto"`` infers a file's task from its target (:func:`task_reason` says why);
    ``"regression"`` or ``"classification"`` overrides it (a bundled dataset's task is fixed).

    Example:
      >>> load_data(SweepConfig(dataset="diabetes")).task
      'regression'
    """
    task = None if cfg.task == "auto" else cfg.task
    if cfg.data is not None:
        return load_file(cfg.data, task=task, val_fraction=cfg.val_fraction, n_train=cfg.n_train)
    ds = load_dataset(cfg.dataset, val_fraction=cfg.val_fraction, n_train=cfg.n_train)
    if task is not None and task != ds.task:
        raise ConfigError(f"{{task}} is {task}, but the bundled dataset {ds.name} is a {ds.task} task; "
                          "leave {task} auto", "task")
    return ds


def task_reason(ds: Dataset, cfg: SweepConfig) -> str:
    """Why ``ds.task`` is the task: given, the bundled dataset's, or inferred from the target.

    Example:
      >>> cfg = SweepConfig(dataset="wine")
      >>> task_reason(load_data(cfg), cfg)
      'the bundled dataset wine is a classification task'
    """
    if cfg.task != "auto":
        return f"given (task {cfg.task})"
    if cfg.data is None:
        return f"the bundled dataset {ds.name} is a {ds.task} task"
    if ds.task == "classification":
        return (f"inferred: the target's values are integers with only {ds.n_classes} distinct ones in "
                f"{ds.info.get('n_samples', '?')} samples, read as class labels; set task to regression "
                "if they are quantities")
    return ("inferred: the target is not a small set of integer labels (it has fractional values or many "
            "distinct ones); set task to classification if they are labels")


def _check_against_data(ds: Dataset, cfg: SweepConfig) -> None:
    """The options that can only be checked once the data is known."""
    cfg.model_for(ds.task)
    n = len(ds.y_train)
    if cfg.cv_folds and cfg.cv_folds > n:
        raise ConfigError.about("folds", f"({cfg.folds}) cannot exceed the number of training samples ({n})")
    if cfg.batch_size is not None and cfg.batch_size > n:
        raise ConfigError.about("batch_size", f"({cfg.batch_size}) must be <= the number of training samples ({n})")
    fold_rows = n - -(-n // cfg.cv_folds) if cfg.cv_folds else n  # the fewest rows a fold trains on
    if cfg.batch_size is not None and cfg.batch_size > fold_rows:
        raise ConfigError.about("batch_size", f"({cfg.batch_size}) must be <= the rows each CV fold trains on "
                                f"({fold_rows} of {n}): minibatches come from a fold's training rows only")
    check_stability(ds, cfg)
    _check_classes_in_training(ds, cfg)


def _check_classes_in_training(ds: Dataset, cfg: SweepConfig) -> None:
    """A training split of ``n_train`` samples must hold every class: a model never sees a class it lacks."""
    if ds.task != "classification" or cfg.n_train is None:
        return
    missing = np.setdiff1d(np.arange(ds.n_classes), ds.y_train)
    if missing.size:
        raise ConfigError(f"{{n_train}} {cfg.n_train} leaves {missing.size} of the {ds.n_classes} classes out of the "
                          f"training split (class ids {', '.join(map(str, missing.tolist()))}), so the model never "
                          f"sees them; use a larger {{n_train}} (at least {ds.n_classes}, one per class; the subset "
                          "is drawn at random), or drop it", "n_train")


def lambda_grid(ds: Dataset, cfg: SweepConfig) -> tuple[np.ndarray, dict]:
    """Stage 2: the λ grid; by default anchored at λ_max of L1 for the linear/logistic model.

    Returns the grid (``cfg.num_lambdas`` values, log-spaced) and what was
    derived from the data (``{"lambda_max_l1_linear": ...}`` when λ_max was).

    Example:
      >>> cfg = SweepConfig(dataset="wine", num_lambdas=5)
      >>> lambdas, info = lambda_grid(load_data(cfg), cfg)
      >>> lambdas.shape, bool(np.isclose(lambdas[-1], info["lambda_max_l1_linear"]))
      ((5,), True)
    """
    info = {}
    hi = cfg.lambda_max
    if hi is None:
        lin = "logistic" if ds.task == "classification" else "linear"
        p0 = models.init_params(lin, jax.random.key(0), ds.n_features, ds.n_outputs)
        x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
        # intercept at its optimum for the zero model would be exact; the zero intercept is close enough
        hi = float(lambda_max_l1(lambda p: models.data_loss(ds.task, p, x, y), p0, mask=models.weight_mask(p0)))
        if not hi > 0:  # no feature correlates with the target: nothing to anchor a log grid at
            raise ConfigError(f"λ_max of L1 is {hi:g} on this data (constant features or target, or too few "
                              "training samples: see {n_train}); set {lambda_max} (and {lambda_min}) explicitly",
                              "n_train", "lambda_max", "lambda_min")
        info["lambda_max_l1_linear"] = hi
    lo = cfg.lambda_min if cfg.lambda_min is not None else LAMBDA_MIN_RATIO * hi
    check_lambda_order(lo, hi)
    return log_grid(lo, hi, cfg.num_lambdas), info


def step_sizes(ds: Dataset, cfg: SweepConfig, lambdas: np.ndarray,
               fold_masks: np.ndarray | None = None) -> dict[str, StepSize]:
    """Stage 2b: each penalty's learning rate: ``cfg.lr``, or the data's rule (:mod:`jaxreg.app._step_size`).

    Without ``cfg.lr``: :math:`1/L` for the data's curvature L (``1/(L + 2λ_max)`` for ``l2``),
    for sgd; a fixed step for adam. The docs' guide-selection page gives the rules.

    Example:
      >>> cfg = SweepConfig(dataset="diabetes", penalties=("l2", "l1_prox"), num_lambdas=5)
      >>> ds = load_data(cfg)
      >>> {p: s.learning_rate for p, s in step_sizes(ds, cfg, lambda_grid(ds, cfg)[0]).items()}
      {'l2': 0.185, 'l1_prox': 0.241}
    """
    if cfg.lr is not None:
        return {pen: StepSize(cfg.lr, float("nan"), "given (lr)") for pen in cfg.penalties}
    curvature = float("nan")
    if cfg.optimizer != "adam":
        curvature = data_curvature(ds, cfg.model_for(ds.task), hidden=cfg.hidden, batch_size=cfg.batch_size,
                                   fold_masks=fold_masks)
    return {pen: default_step_size(pen, curvature, float(np.max(lambdas)), cfg.optimizer) for pen in cfg.penalties}


def make_train_fn(ds: Dataset, cfg: SweepConfig, penalty: str, fold_masks: np.ndarray | None = None, *,
                  learning_rate: float | None = None):
    """Stage 3: ``train(lam, key[, fold]) -> {"metrics": {...}, "params": ...}`` for one model.

    A model that diverges keeps ``finite=False`` and NaN metrics; the other
    models of the sweep are unaffected. ``initial_loss`` is the training loss
    at initialisation, for :func:`~jaxreg.engine.diverged_models`. With
    ``fold_masks`` (``(folds, n)``, True = held out) the model of fold ``f``
    trains on the rest of the training split (its minibatches drawn from those
    rows only) and is scored on fold ``f``.
    ``learning_rate``: default ``cfg.lr``, else :func:`step_sizes`' rule.

    Example:
      >>> cfg = SweepConfig(dataset="wine", steps=10)
      >>> train = make_train_fn(load_data(cfg), cfg, "l1_prox")
      >>> out = train(0.01, jax.random.key(0))
      >>> sorted(out["metrics"])[:4], bool(out["metrics"]["finite"])
      (['finite', 'initial_loss', 'l1', 'l2'], True)
    """
    if learning_rate is None:
        learning_rate = cfg.lr
    if learning_rate is None:
        learning_rate = step_sizes(ds, cfg, lambda_grid(ds, cfg)[0], fold_masks)[penalty].learning_rate
    model = cfg.model_for(ds.task)
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
            penalty, lam, optimizer=cfg.optimizer, learning_rate=learning_rate, mask=mask, l1_ratio=cfg.l1_ratio
        )
        if held is None:
            train_w, data = None, (x, y)
            val = (xv, yv, None)
        else:
            train_w = 1.0 - held[fold]
            data = (x, y, train_w)
            val = (x, y, held[fold])
        initial_loss = models.data_loss(ds.task, params, x, y, train_w, compute_dtype=dt)
        rows = None if train_w is None or cfg.batch_size is None else train_w  # minibatches: the fold's rows only
        minibatch_key = None if cfg.batch_size is None else k_batch  # full batch: nothing to draw
        p = fit(loss_fn, params, opt, steps=cfg.steps, data=data, batch_size=cfg.batch_size, key=minibatch_key,
                sample_mask=rows).params
        metrics = {
            "train_loss": models.data_loss(ds.task, p, x, y, train_w, compute_dtype=dt),
            "val_loss": models.data_loss(ds.task, p, *val, compute_dtype=dt),
            "val_accuracy": (models.accuracy(p, *val, compute_dtype=dt) if classification
                             else jnp.array(jnp.nan, jnp.float32)),
            **weight_metrics(p, mask),
        }
        finite = all_finite(p) & jnp.isfinite(metrics["train_loss"]) & jnp.isfinite(metrics["val_loss"])
        metrics = {k: jnp.where(finite, v, jnp.nan) for k, v in metrics.items()}
        metrics["finite"] = finite
        metrics["initial_loss"] = initial_loss
        out = {"metrics": metrics}
        if cfg.keep_params:
            out["params"] = p
        return out

    if held is None:
        return lambda lam, key: train(lam, key)
    return train


class _Checkpoints(NamedTuple):
    """Where finished chunks go, and whether this process writes or reads them."""

    store: ChunkStore | None  # None: no out_dir (or a non-main process of a fresh multi-process sweep)
    write: bool  # process 0 writes every finished chunk
    read: bool  # resume: every process reads, so that all skip the same chunks


def _open_checkpoints(cfg: SweepConfig, lambdas: np.ndarray, out_dir: str | None, resume: bool,
                      log: Log, ds: Dataset) -> _Checkpoints:
    main_process = jax.process_index() == 0
    if out_dir is None or not (main_process or resume):
        return _Checkpoints(None, False, False)
    # Process 0 writes; with resume the other processes of a multi-process job read the same directory.
    # A resume is refused unless the data and devices are the same too (with one model at a time, any count).
    inputs = {"data": ds.info.get("sha256"), "devices": device_fingerprint(count_matters=not cfg.deterministic)}
    store = ChunkStore(out_dir, recorded_config(cfg), lambdas.tolist(), resume=resume, log=log,
                       readonly=not main_process, inputs=inputs)
    return _Checkpoints(store, main_process, resume)


class _PenaltyRows(NamedTuple):
    """One penalty's models on the host: table columns, flattened params and timing."""

    columns: dict[str, np.ndarray]  # column -> (n_models,)
    params: dict[str, np.ndarray] | None  # leaf -> (n_models, *leaf shape); None without keep_params
    timing: dict  # sweep's stats + wall_s, models_per_s


def _sweep_penalty(ds: Dataset, cfg: SweepConfig, penalty: str, lambdas: np.ndarray, fold_masks: np.ndarray | None,
                   ckpt: _Checkpoints, progress: bool | None, log: Log, learning_rate: float) -> _PenaltyRows:
    """Stage 4: one :func:`sweep` call for ``penalty``, chunks saved to / resumed from ``ckpt``."""
    train = make_train_fn(ds, cfg, penalty, fold_masks, learning_rate=learning_rate)
    store, chunk_size, on_chunk, load_chunk = ckpt.store, cfg.chunk_size, None, None
    if store is not None:
        chunk_size = store.chunk_size(penalty) or chunk_size  # a resume must reuse the chunks' size
        if ckpt.write:
            def on_chunk(start, stop, out):
                store.save(penalty, start, stop, out, chunk_size=stop - start)
        if ckpt.read:
            def load_chunk(start, stop):
                return store.load(penalty, start, stop)

    t0 = time.perf_counter()
    out, stats = sweep(
        train, lambdas, keys=list(range(cfg.seeds)), folds=cfg.cv_folds,
        chunk_size=chunk_size, progress=progress, on_chunk=on_chunk, load_chunk=load_chunk, return_stats=True,
        vmap_size=1 if cfg.deterministic else "auto",
    )
    wall = time.perf_counter() - t0
    computed = stats["n_models"] - stats["n_loaded_models"]
    timing = {**stats, "wall_s": wall, "models_per_s": computed / wall}
    rows = _rows(penalty, out, lambdas, cfg)
    if log:
        n = len(rows.columns["lambda"])
        resumed = f", {stats['n_loaded_chunks']} resumed" if stats["n_loaded_chunks"] else ""
        log(f"  {penalty:<12} {n:>6} models  {wall:6.1f} s  ({computed / wall:,.0f} models/s, "
            f"compile {stats['compile_s']:.1f} s, {stats['n_chunks']} chunk(s) of {stats['chunk_size']}"
            f"{resumed})")
    return rows._replace(timing=timing)


def _rows(penalty: str, out: dict, lambdas: np.ndarray, cfg: SweepConfig) -> _PenaltyRows:
    """The sweep's ``(folds?, seeds, K)`` outputs as one row per model, on the host."""
    shape = out["metrics"]["val_loss"].shape
    grid = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    n = int(np.prod(shape))
    columns = {"penalty": np.full(n, penalty), "lambda": lambdas[grid[-1].ravel()],
               "seed": np.arange(cfg.seeds)[grid[-2].ravel()]}
    if cfg.cv_folds:
        columns["fold"] = grid[0].ravel()
    for m in (*METRICS, "finite", "initial_loss"):
        columns[m] = np.asarray(out["metrics"][m]).reshape(n)
    columns["finite"] = columns["finite"].astype(bool)
    columns["diverged"] = diverged_models(columns["finite"], columns["train_loss"], columns["initial_loss"])
    params = None
    if cfg.keep_params:
        params = {k: np.asarray(v).reshape(n, *np.shape(v)[len(shape):]) for k, v in out["params"].items()}
    return _PenaltyRows(columns, params, {})


def _cv_choice(result: SweepResult) -> dict:
    """Per penalty, :meth:`~jaxreg.engine.SweepResult.cv` of the validation loss, JSON-ready."""
    return {pen: {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for pen, s in result.cv("val_loss").items()}


def _data_info(ds: Dataset, cfg: SweepConfig) -> dict:
    """The data's source (the file, or the bundled dataset), its task and why, its sizes, and a regression target's
    training mean and standard deviation (λ and the losses are in its standardised units)."""
    source = ({"source": "file", "path": os.path.abspath(cfg.data)} if cfg.data is not None
              else {"source": "bundled"})
    target = {k: ds.info[k] for k in ("y_mean", "y_std") if k in ds.info}  # a regression target is standardised
    return {"name": ds.name, **source, "sha256": ds.info.get("sha256"), "task": ds.task,
            "task_reason": task_reason(ds, cfg), "n_train": int(len(ds.y_train)), "n_val": int(len(ds.y_val)),
            "n_features": ds.n_features, "n_classes": ds.n_classes, **target}


def _divergence_info(table: dict) -> dict:
    """How many models diverged, in all and per penalty."""
    by_penalty = {}
    for pen in dict.fromkeys(table["penalty"].tolist()):
        sel = table["penalty"] == pen
        by_penalty[pen] = {"n_diverged": int(np.sum(table["diverged"][sel])), "n_models": int(np.sum(sel))}
    return {"factor": DIVERGENCE_FACTOR, "n_diverged": int(np.sum(table["diverged"])),
            "n_models": int(len(table["diverged"])), "by_penalty": by_penalty}


def recorded_config(cfg: SweepConfig) -> dict:
    """The configuration a run records (summary, manifest): with ``--data FILE`` the file is the data, and the
    bundled dataset's default name is not recorded."""
    config = cfg.to_dict()
    if cfg.data is not None:
        config["dataset"] = None
    return config


def _assemble(ds: Dataset, cfg: SweepConfig, lambdas: np.ndarray, grid_info: dict, steps: dict[str, StepSize],
              rows: dict[str, _PenaltyRows]) -> SweepResult:
    """Stage 5: the :class:`SweepResult` of every penalty, with the job's summary in ``info``."""
    parts = list(rows.values())
    table = {k: np.concatenate([r.columns[k] for r in parts]) for k in parts[0].columns}
    params = None
    if cfg.keep_params:
        params = {k: np.concatenate([r.params[k] for r in parts]) for k in parts[0].params}
    info = {
        "config": recorded_config(cfg),
        "dataset": _data_info(ds, cfg),
        "model": cfg.model_for(ds.task),
        "learning_rate": {pen: s.learning_rate for pen, s in steps.items()},
        "step_size": {"rule": {pen: s.rule for pen, s in steps.items()},
                      "curvature": next(iter(steps.values())).curvature},
        "lambdas": lambdas.tolist(),
        "grid": grid_info,
        "divergence": _divergence_info(table),
        "timings": {pen: r.timing for pen, r in rows.items()},
        "device": jax.devices()[0].device_kind,
        "platform": jax.devices()[0].platform,
        "n_devices": jax.device_count(),
        "n_processes": jax.process_count(),
        "jax_version": jax.__version__,
    }
    result = SweepResult(table=table, params=params, info=info)
    info["seeds_identical"] = result.seeds_identical("val_loss")  # recorded here, reported once by run()
    if cfg.cv_folds:
        info["cv"] = _cv_choice(result)
    return result


def _report_setup(ds: Dataset, cfg: SweepConfig, steps: dict[str, StepSize], log: Log) -> None:
    """The task and why, and the step sizes and how they were derived."""
    if not log:
        return
    log(f"  task: {ds.task} ({task_reason(ds, cfg)})")
    by_step = {}
    for pen, s in steps.items():
        by_step.setdefault((s.learning_rate, s.rule), []).append(pen)
    parts = [f"{', '.join(pens)} {lr:g} = {rule}" for (lr, rule), pens in by_step.items()]
    curvature = next(iter(steps.values())).curvature
    where = f"; L = {curvature:.4g}, the data loss's curvature" if np.isfinite(curvature) else ""
    log(f"  step size: {'; '.join(parts)}{where}")


def _report_divergence(result: SweepResult, log: Log) -> None:
    """``N of M models diverged``, per penalty when some did."""
    if not log:
        return
    d = result.info["divergence"]
    line = f"  {d['n_diverged']} of {d['n_models']} models diverged"
    if d["n_diverged"]:
        each = ", ".join(f"{pen} {v['n_diverged']} of {v['n_models']}" for pen, v in d["by_penalty"].items())
        line += (f" ({each}): a non-finite metric or a training loss above {d['factor']:g}x its initial value; "
                 "flagged in results.csv, left out of the curves, never chosen; a smaller learning rate avoids it")
    log(line)


def run(
    cfg: SweepConfig, *, progress: bool | None = None, log: Log = print, out_dir: str | None = None,
    resume: bool = False,
) -> SweepResult:
    """Run the whole job: one :func:`~jaxreg.engine.sweep` call per penalty; returns the :class:`SweepResult`.

    Args:
      cfg: the job; validated here.
      progress: the sweep's progress bar (None: when the output is a terminal).
      log: called with each line of the job's report (None: silent).
      out_dir: with it every finished chunk is checkpointed there
        (:class:`~jaxreg.engine.ChunkStore`).
      resume: reuse the chunks already in ``out_dir`` (after checking the
        configuration is the same) and compute the rest.

    Raises:
      ConfigError: an option that does not fit the data, or an unreadable data file.
      ResumeError: ``out_dir`` holds another sweep, or cannot be resumed with ``cfg``.

    Example:
      >>> cfg = SweepConfig(dataset="wine", penalties=("l1_prox",), num_lambdas=4, steps=20)
      >>> result = run(cfg, log=None, progress=False)
      >>> len(result), result.columns[:3], result.info["divergence"]["n_diverged"]
      (4, ['penalty', 'lambda', 'seed'], 0)
    """
    cfg.validate()
    ds = load_data(cfg)
    _check_against_data(ds, cfg)
    lambdas, grid_info = lambda_grid(ds, cfg)
    fold_masks = cv.kfold_masks(len(ds.y_train), cfg.cv_folds) if cfg.cv_folds else None
    steps = step_sizes(ds, cfg, lambdas, fold_masks)
    _report_setup(ds, cfg, steps, log)
    ckpt = _open_checkpoints(cfg, lambdas, out_dir, resume, log, ds)
    rows = {pen: _sweep_penalty(ds, cfg, pen, lambdas, fold_masks, ckpt, progress, log, steps[pen].learning_rate)
            for pen in cfg.penalties}
    result = _assemble(ds, cfg, lambdas, grid_info, steps, rows)
    _report_divergence(result, log)
    if log and result.info["seeds_identical"]:
        log("  note: seeds change nothing for this model: they are not independent replicates (each seed gave "
            "a bit-identical val_loss at every λ: the model starts at zero and trains on full batches); use "
            "--seeds 1, or --batch-size for minibatches that differ per seed")
    if cfg.stability:  # lasso paths on halves of the training split, on the sweep's grid (jaxreg.app._stability)
        result.info["stability"] = run_stability(ds, cfg, lambdas, log)
    return result


def _numeric_vector(obj: Any) -> np.ndarray | None:
    """``obj`` as a 1-D array of bools or numbers, or ``None`` when it is not one (nested, ragged, strings)."""
    if isinstance(obj, np.ndarray):
        return obj if obj.ndim == 1 and obj.dtype.kind in "biuf" else None
    if not obj or not all(isinstance(v, (bool, int, float, np.generic)) for v in obj[:1]):
        return None
    try:
        arr = np.asarray(obj)
    except ValueError:  # ragged
        return None
    return arr if arr.ndim == 1 and arr.dtype.kind in "biuf" else None


def _json_ready(obj: Any) -> Any:
    """``obj`` with NumPy scalars as Python numbers and NaN / inf as ``None``: strict JSON (``null``)."""
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        numbers = _numeric_vector(obj)
        if numbers is not None:  # a grid of a million λ: one pass in NumPy
            finite = np.isfinite(numbers) if numbers.dtype.kind == "f" else np.ones(numbers.shape, bool)
            return np.where(finite, numbers.astype(object), None).tolist()
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_outputs(result: SweepResult, out_dir: str) -> list[str]:
    """Stage 6: ``results.csv`` (+ ``result.json``, ``params.npz``), ``summary.json`` and the figures
    (+ ``stability.csv`` and ``stability_path.png`` with ``stability``).

    Returns the paths a user opens: the CSV, the summary and the PNGs.

    Example:
      >>> import tempfile
      >>> cfg = SweepConfig(dataset="wine", penalties=("l2",), num_lambdas=3, steps=10, keep_params=False)
      >>> paths = write_outputs(run(cfg, log=None, progress=False), tempfile.mkdtemp())
      >>> [os.path.basename(p) for p in paths]
      ['results.csv', 'summary.json', 'validation_curve.png', 'sparsity.png']
    """
    result.save(out_dir)
    summary_path = os.path.join(out_dir, "summary.json")
    info, stability_paths = dict(result.info), []
    if "stability" in info:  # the probabilities go to stability.csv, the rest to the summary
        info["stability"], stability_paths = write_stability(
            info["stability"], out_dir, title=f"Stability path: {info['dataset']['name']}, lasso on halves")
    summary = _json_ready({"best": result.best("val_loss"), **info})
    atomic_write(summary_path, json.dumps(summary, indent=2, allow_nan=False))  # a kill never leaves half a file
    title = f"{result.info['dataset']['name']}, {result.info['model']}"
    paths = [os.path.join(out_dir, "results.csv"), summary_path,
             plots.validation_curve(result, os.path.join(out_dir, "validation_curve.png"),
                                    title=f"Validation curve: {title}"),
             plots.sparsity_curve(result, os.path.join(out_dir, "sparsity.png"), title=f"Sparsity vs λ: {title}")]
    if result.params is not None:
        paths.append(plots.weight_histogram(result, os.path.join(out_dir, "weights_hist.png")))
    return paths + stability_paths

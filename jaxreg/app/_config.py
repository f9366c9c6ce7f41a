"""``SweepConfig``: everything that defines a ``jaxreg sweep`` job, and its validation.

Every check raises :class:`~jaxreg.app.ConfigError` naming the field
(``num_lambdas``); the command spells the same field as its flag
(``--num-lambdas``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jaxreg._checks import check_hyperparam, check_ratio
from jaxreg.app._data import DATASETS
from jaxreg.app._errors import ConfigError
from jaxreg.app._optimizers import OPTIMIZERS, PENALTIES
from jaxreg.models._reference import COMPUTE_DTYPES, MODELS

__all__ = ["SweepConfig"]

#: Integer fields and their smallest accepted value.
_INT_FIELDS = (("num_lambdas", 1), ("steps", 1), ("seeds", 1), ("hidden", 1), ("folds", 0))
#: Optional integer fields (``None`` = automatic / all); when given, at least 1.
_OPTIONAL_INT_FIELDS = ("chunk_size", "batch_size", "n_train")
#: ``task`` values: inferred from the target (``auto``), or given.
TASKS = ("auto", "regression", "classification")
#: Fields left out of :meth:`SweepConfig.to_dict` at these defaults, so that sweeps saved before the field existed
#: still resume.
_OMITTED_DEFAULTS = {"compute_dtype": "float32", "task": "auto", "stability": 0, "stability_threshold": 0.75,
                     "stability_max_false": 1.0}


@dataclass
class SweepConfig:
    """Everything that defines a sweep (saved in ``summary.json`` and the checkpoint manifest).

    Example:
      >>> cfg = SweepConfig(penalties=("l1_prox",), num_lambdas=20).validate()
      >>> cfg.to_dict()["penalties"]
      ['l1_prox']
      >>> SweepConfig(num_lambdas=0).validate()
      Traceback (most recent call last):
      ...
      jaxreg.app._errors.ConfigError: num_lambdas must be an integer >= 1, got 0
    """

    dataset: str = "digits"
    data: str | None = None  # a CSV/NPZ file instead of a bundled dataset
    task: str = "auto"  # "regression" / "classification" override the task inferred from the target
    model: str | None = None  # default: logistic for classes, linear for regression
    penalties: tuple[str, ...] = ("l2", "l1", "l1_prox")
    lambda_min: float | None = None  # default: 1e-4 · lambda_max
    lambda_max: float | None = None  # default: λ_max of L1 for the linear model on the data
    num_lambdas: int = 100
    steps: int = 300
    lr: float | None = None  # default: 1/L from the data (jaxreg.app._step_size), so that no model diverges
    optimizer: str = "sgd"
    seeds: int = 1
    folds: int = 0  # 0: the fixed validation split; >= 2: K-fold CV on the training split (1 is refused)
    chunk_size: int | None = None
    hidden: int = 64
    batch_size: int | None = None
    l1_ratio: float = 0.5
    n_train: int | None = None
    val_fraction: float = 0.25
    keep_params: bool = True
    deterministic: bool = False  # one model at a time: bit-identical for any chunk size / device count
    compute_dtype: str = "float32"  # forward/backward matmuls; params, optimizer state and losses stay float32
    stability: int = 0  # B complementary pairs of halves for stability selection (lasso paths); 0 = off
    stability_threshold: float = 0.75  # π_thr of the stable set (jaxreg.app._stability: why 0.75)
    stability_max_false: float = 1.0  # the largest λ region whose bound on wrongly stable features is <= this

    def validate(self) -> SweepConfig:
        """Check every field; raise :class:`ConfigError` naming the field and what it accepts. Returns ``self``."""
        _check_names(self)
        _check_lambdas(self)
        if self.lr is not None:
            _checked(check_hyperparam, self.lr, "lr")
            if self.lr == 0:
                raise ConfigError.about("lr", "must be > 0")
        _checked(check_ratio, self.l1_ratio, "l1_ratio")
        _check_integers(self)
        if not 0 < self.val_fraction < 1:
            raise ConfigError.about("val_fraction", f"must be in (0, 1), got {self.val_fraction}")
        _check_stability(self)
        return self

    @property
    def cv_folds(self) -> int | None:
        """K of K-fold cross-validation, or ``None`` for the fixed validation split (``folds`` 0)."""
        return self.folds if self.folds >= 2 else None

    def model_for(self, task: str) -> str:
        """The model to train for ``task``: :attr:`model`, or logistic for classes and linear for regression."""
        model = self.model or ("logistic" if task == "classification" else "linear")
        if model == "linear" and task == "classification":
            raise ConfigError.about(
                "model", "'linear' is least squares for regression; use 'logistic' or 'mlp' for classes"
            )
        if model == "logistic" and task == "regression":
            raise ConfigError("{model} 'logistic' needs class labels, but the task is regression; use 'linear' or "
                              "'mlp', or set {task} classification if the target's values are labels",
                              "model", "task")
        return model

    def to_dict(self) -> dict:
        """A JSON-ready dict (``penalties`` as a list); :meth:`from_dict` reads it back."""
        d = dataclasses.asdict(self)
        d["penalties"] = list(self.penalties)
        for name, default in _OMITTED_DEFAULTS.items():  # absent = default: sweeps saved before it still resume
            if d[name] == default:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, saved: dict) -> SweepConfig:
        """The config :meth:`to_dict` wrote (e.g. a checkpoint manifest's), validated."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(saved) - known)
        if unknown:
            raise ConfigError(
                f"the saved configuration has fields this jaxreg does not know: {', '.join(unknown)}; "
                "resume it with the jaxreg version that started it"
            )
        given = dict(saved)
        if "penalties" in given:
            given["penalties"] = tuple(given["penalties"])
        return cls(**given).validate()


def _checked(check: Callable[[Any, str], Any], value: Any, field: str) -> None:
    """``check(value, name)`` from :mod:`jaxreg._checks`, its error re-raised as a ConfigError about ``field``."""
    try:
        check(value, "{" + field + "}")
    except (TypeError, ValueError) as e:
        raise ConfigError(str(e), field) from e


def _one_of(value: Any, choices: tuple[str, ...], field: str) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError.about(field, f"must be one of {', '.join(choices)}, got {value!r}")


def _check_names(cfg: SweepConfig) -> None:
    if cfg.data is None:
        _one_of(cfg.dataset, DATASETS, "dataset")
    if cfg.model is not None:
        _one_of(cfg.model, MODELS, "model")
    if not cfg.penalties:
        raise ConfigError.about("penalties", f"is empty: give at least one of {', '.join(PENALTIES)}")
    for p in cfg.penalties:
        _one_of(p, PENALTIES, "penalties")
    if len(set(cfg.penalties)) != len(cfg.penalties):
        raise ConfigError.about("penalties", f"lists a penalty twice: {', '.join(cfg.penalties)}")
    _one_of(cfg.optimizer, OPTIMIZERS, "optimizer")
    _one_of(cfg.compute_dtype, COMPUTE_DTYPES, "compute_dtype")
    _one_of(cfg.task, TASKS, "task")


def _check_lambdas(cfg: SweepConfig) -> None:
    for field in ("lambda_min", "lambda_max"):
        value = getattr(cfg, field)
        if value is not None:
            _checked(check_hyperparam, value, field)
            if value <= 0:
                raise ConfigError.about(field, f"must be > 0 for a log grid, got {value}")
    if cfg.lambda_min is not None and cfg.lambda_max is not None:
        check_lambda_order(cfg.lambda_min, cfg.lambda_max)


def check_lambda_order(lo: float, hi: float) -> None:
    """The grid's ends in order: ``lambda_min <= lambda_max``."""
    if lo > hi:
        raise ConfigError(f"{{lambda_min}} ({lo}) must be <= {{lambda_max}} ({hi}); swap them",
                          "lambda_min", "lambda_max")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_integers(cfg: SweepConfig) -> None:
    for field, lo in _INT_FIELDS:
        value = getattr(cfg, field)
        if field == "folds" and (not _is_int(value) or value == 1 or value < 0):  # one fold is no CV
            raise ConfigError.about(field, f"must be 0 (no cross-validation: the fixed validation split) or >= 2 "
                                    f"(K-fold cross-validation on the training split), got {value!r}")
        if not _is_int(value) or value < lo:
            raise ConfigError.about(field, f"must be an integer >= {lo}, got {value!r}")
    for field in _OPTIONAL_INT_FIELDS:
        value = getattr(cfg, field)
        if value is not None and (not _is_int(value) or value < 1):
            raise ConfigError.about(field, f"must be an integer >= 1, got {value!r}")


def _check_stability(cfg: SweepConfig) -> None:
    """``stability`` (B >= 0), its threshold in (1/2, 1] and its bound > 0; both only with ``stability``."""
    if not _is_int(cfg.stability) or cfg.stability < 0:
        raise ConfigError.about("stability", f"must be an integer >= 0 (complementary pairs of halves; 0 = off), "
                                f"got {cfg.stability!r}")
    t, e = cfg.stability_threshold, cfg.stability_max_false
    if not (isinstance(t, (int, float)) and not isinstance(t, bool) and 0.5 < t <= 1):
        raise ConfigError.about("stability_threshold", f"must be in (0.5, 1] (the error bounds need a selection "
                                f"probability above 1/2), got {t!r}")
    if not (isinstance(e, (int, float)) and not isinstance(e, bool) and 0 < e < float("inf")):
        raise ConfigError.about("stability_max_false", f"must be a number > 0 (expected wrongly stable features), "
                                f"got {e!r}")
    if not cfg.stability and (t != _OMITTED_DEFAULTS["stability_threshold"]
                              or e != _OMITTED_DEFAULTS["stability_max_false"]):
        raise ConfigError("{stability_threshold} and {stability_max_false} apply to stability selection: add "
                          "{stability} B (e.g. 50 pairs of halves)", "stability_threshold", "stability_max_false",
                          "stability")

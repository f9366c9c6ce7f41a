"""The ``jaxreg`` command: CLI, job runner and its configuration, bundled data, plots.
"""

from jaxreg.app._cli import build_parser as build_parser, main as main
from jaxreg.app._data import (
    DATASETS as DATASETS,
    Dataset as Dataset,
    load_dataset as load_dataset,
    load_file as load_file,
    make_dataset as make_dataset,
)
from jaxreg.app._plots import (
    COLORS as COLORS,
    sparsity_curve as sparsity_curve,
    validation_curve as validation_curve,
    weight_histogram as weight_histogram,
)
from jaxreg.app._runner import (
    OPTIMIZERS as OPTIMIZERS,
    PENALTIES as PENALTIES,
    SweepConfig as SweepConfig,
    lambda_grid as lambda_grid,
    make_optimizer as make_optimizer,
    make_train_fn as make_train_fn,
    run as run,
)

__all__ = [
    "main",
    "build_parser",
    "PENALTIES",
    "OPTIMIZERS",
    "SweepConfig",
    "make_optimizer",
    "make_train_fn",
    "run",
    "lambda_grid",
    "Dataset",
    "DATASETS",
    "load_dataset",
    "load_file",
    "make_dataset",
    "validation_curve",
    "sparsity_curve",
    "weight_histogram",
    "COLORS",
]

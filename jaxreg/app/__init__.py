"""The ``jaxreg`` command: CLI, job runner and its configuration, bundled data, plots.

``main`` is the console script (``jaxreg = jaxreg.app:main``); :func:`run` is the
same job from Python, configured by a :class:`SweepConfig`. A problem the user
fixes raises :class:`ConfigError`, naming the field (``num_lambdas``) from
Python and the flag (``--num-lambdas``) from the command.
"""

from jaxreg.app._cli import build_parser as build_parser, main as main
from jaxreg.app._config import SweepConfig as SweepConfig
from jaxreg.app._data import (
    DATASETS as DATASETS,
    Dataset as Dataset,
    load_dataset as load_dataset,
    load_file as load_file,
    make_dataset as make_dataset,
)
from jaxreg.app._errors import ConfigError as ConfigError
from jaxreg.app._optimizers import (
    OPTIMIZERS as OPTIMIZERS,
    PENALTIES as PENALTIES,
    make_optimizer as make_optimizer,
)
from jaxreg.app._plots import (
    COLORS as COLORS,
    sparsity_curve as sparsity_curve,
    validation_curve as validation_curve,
    weight_histogram as weight_histogram,
)
from jaxreg.app._runner import (
    lambda_grid as lambda_grid,
    load_data as load_data,
    make_train_fn as make_train_fn,
    run as run,
    write_outputs as write_outputs,
)

__all__ = [
    "main",
    "build_parser",
    "ConfigError",
    "SweepConfig",
    "PENALTIES",
    "OPTIMIZERS",
    "make_optimizer",
    "make_train_fn",
    "run",
    "load_data",
    "lambda_grid",
    "write_outputs",
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

"""The ``jaxreg`` command (also ``python -m jaxreg``).

``jaxreg sweep`` trains, in one vmapped call per penalty, a model per λ (×
seed × fold) and writes ``results.csv``, ``summary.json`` and three PNGs to
``--out``.

Exit statuses, each with one line on stderr (docs/reliability.md):

* 2, ``jaxreg: error: ...``: a problem the user fixes (a :class:`~jaxreg.app.ConfigError`:
  a bad option, an unreadable data file; a refused resume; an output directory in use
  by another run), naming the flag;
* 1, ``jaxreg: error: ...``: the run could not write (a full disk, a file-size limit) or
  a peer process died; the finished chunks are kept for ``--resume``;
* 130 / 143, ``jaxreg: interrupted``: SIGINT (Ctrl-C) / SIGTERM; resumable too.

Anything else is a bug and keeps its traceback; ``JAXREG_DEBUG=1`` shows the
traceback of a ConfigError too. A damaged checkpoint is reported even with
``--quiet`` (``jaxreg: warning: ...`` on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import errno
import functools
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator

from jaxreg.app._errors import ConfigError
from jaxreg.engine._checkpoint import (
    MANIFEST,
    CheckpointWarning,
    ResumeError,
    RunLock,
    remove_stray_temporaries,
)

__all__ = ["main", "build_parser"]

#: SweepConfig fields whose flag is not ``--`` and the field's name with dashes.
_FLAG_OF_FIELD = {"penalties": "--penalty", "keep_params": "--no-params"}
#: Set to anything but ``0`` to see the traceback of a ConfigError too.
DEBUG_VARIABLE = "JAXREG_DEBUG"
#: OSError numbers that mean the machine refused a write or read (not a bug): one line and exit 1.
_ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EROFS", "EIO", "EACCES", "EPERM")
    if hasattr(errno, name)
)
#: Exit status of a run the environment stopped (a full disk, a peer process lost).
EXIT_FAILED = 1
#: Exit status of a problem the user fixes.
EXIT_USAGE = 2


def flag(field: str) -> str:
    """The command-line flag of a :class:`~jaxreg.app.SweepConfig` field: ``num_lambdas`` -> ``--num-lambdas``."""
    return _FLAG_OF_FIELD.get(field, "--" + field.replace("_", "-"))


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    """The ``jaxreg`` argument parser; a usage error raises :class:`~jaxreg.app.ConfigError`.

    Example:
      >>> args = build_parser().parse_args(["sweep", "--num-lambdas", "20", "--penalty", "l1_prox"])
      >>> args.num_lambdas, args.penalties
      (20, ['l1_prox'])
    """
    from jaxreg.app._config import SweepConfig
    from jaxreg.app._data import DATASETS
    from jaxreg.app._optimizers import OPTIMIZERS, PENALTIES
    from jaxreg.models._reference import COMPUTE_DTYPES, MODELS

    parser = _Parser(prog="jaxreg", description="L1/L2 regularization sweeps in JAX")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("sweep", help="train one model per λ (× seed × fold) in one call per penalty",
                       argument_default=None)
    d = SweepConfig()
    src = s.add_mutually_exclusive_group()
    src.add_argument("--dataset", help=f"bundled dataset: {', '.join(DATASETS)} (default {d.dataset})")
    src.add_argument("--data", metavar="FILE", help="your CSV (target = last column) or NPZ (arrays x, y)")
    s.add_argument("--model", help=f"{', '.join(MODELS)} (default: logistic for classes, linear for regression)")
    s.add_argument("--task", choices=("auto", "regression", "classification"),
                   help="regression or classification; auto (default) infers it from the target and says why")
    s.add_argument("--penalty", action="append", dest="penalties", metavar="NAME",
                   help=f"repeatable: {', '.join(PENALTIES)} (default: {', '.join(d.penalties)})")
    s.add_argument("--lambda-min", type=float, help="smallest λ (default 1e-4 · lambda-max)")
    s.add_argument("--lambda-max", type=float, help="largest λ (default: λ_max of L1 for the linear model)")
    s.add_argument("--num-lambdas", type=int, help=f"λ values per penalty (default {d.num_lambdas})")
    s.add_argument("--steps", type=int, help=f"optimizer steps per model (default {d.steps})")
    s.add_argument("--lr", type=float, help="learning rate (default: 1/L from the data, so that no model diverges; "
                   "adam: 0.01)")
    s.add_argument("--optimizer", help=f"{', '.join(OPTIMIZERS)} (default {d.optimizer})")
    s.add_argument("--seeds", type=int, help="seeds per λ (init and minibatches; default 1)")
    s.add_argument("--folds", type=int, help="K-fold cross-validation on the training split, K >= 2 (default 0: "
                   "the fixed validation split)")
    s.add_argument("--chunk-size", type=int, help="models per compiled call (default: fit free memory)")
    s.add_argument("--hidden", type=int, help=f"MLP hidden units, with --model mlp only (default {d.hidden})")
    s.add_argument("--batch-size", type=int, help="minibatch size (default: full batch)")
    s.add_argument("--l1-ratio", type=float, help=f"ρ for --penalty elastic_net (default {d.l1_ratio})")
    s.add_argument("--n-train", type=int, help="use only this many training samples")
    s.add_argument("--val-fraction", type=float, help=f"share of the samples held out for validation "
                   f"(default {d.val_fraction})")
    s.add_argument("--no-params", action="store_const", const=True, help="do not keep final params (no histogram)")
    s.add_argument("--deterministic", action="store_const", const=True,
                   help="one model at a time per device: results bit-identical for any chunk size, "
                   "device count and grid (slower for small models)")
    s.add_argument("--compute-dtype", help=f"forward/backward matmul dtype: {', '.join(COMPUTE_DTYPES)}; params, "
                   f"optimizer state and losses stay float32 (default {d.compute_dtype})")
    stab = s.add_argument_group("stability selection (lasso paths on halves of the training split; "
                                "docs/command.md)")
    stab.add_argument("--stability", type=int, metavar="B",
                      help="B complementary pairs of halves: the stable set and its error bounds (0 = off, default)")
    stab.add_argument("--stability-threshold", type=float, metavar="PI",
                      help=f"selection probability of the stable set, in (0.5, 1] (default {d.stability_threshold})")
    stab.add_argument("--stability-max-false", type=float, metavar="E",
                      help="λ region: the largest whose assumption-free bound is <= E: the expected stable features "
                      "a half selects with probability <= q/d (Shah & Samworth); stable noise features only "
                      f"under Meinshausen & Bühlmann's assumptions (default {d.stability_max_false:g})")
    out = s.add_mutually_exclusive_group()
    out.add_argument("--out", help="output directory (default runs/<timestamp>/)")
    out.add_argument("--resume", metavar="DIR",
                     help="finish an interrupted sweep in DIR with its saved options (a flag given with it "
                     "must not change them)")
    s.add_argument("--quiet", action="store_const", const=True, help="print only the output paths")
    dist = s.add_argument_group("several processes / hosts (jax.distributed; see docs/distributed.md)")
    dist.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address (starts jax.distributed)")
    dist.add_argument("--num-processes", type=int, help="number of processes in the job")
    dist.add_argument("--process-id", type=int, help="this process's rank, 0 .. num-processes-1")
    dist.add_argument("--distributed", action="store_const", const=True,
                      help="start jax.distributed with cluster auto-detection (SLURM, Open MPI, TPU)")
    dist.add_argument("--local-devices", type=int,
                      help="CPU: host devices this process exposes (default: one per core)")
    return parser


def _check_out(path: str, option: str = "--out") -> str:
    if option == "--resume" and not os.path.isdir(path):
        raise ConfigError(f"--resume {path} is not a directory holding an interrupted sweep")
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".jaxreg-write-test")
        with open(probe, "w") as f:
            f.write("")
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(f"{option} {path} is not a writable directory ({e.strerror or e})") from e
    return path


def _table(result) -> str:
    import numpy as np

    best = result.best("val_loss")
    acc = result.groups("val_accuracy")
    spars = result.groups("sparsity")
    head = ("penalty", "best λ", "val_loss", "val_acc", "zeros", "models", "models/s")
    lines = ["{:<12} {:>10} {:>9} {:>8} {:>6} {:>7} {:>9}".format(*head)]
    for pen, b in best.items():
        t = result.info["timings"][pen]
        if b["lambda"] is None:
            lines.append(f"{pen:<12} {'diverged':>10}")
            continue
        i = b["index"]
        a = acc[pen][1][i]
        acc_s = f"{a:.3f}" if np.isfinite(a) else "-"
        lines.append(
            f"{pen:<12} {b['lambda']:>10.3g} {b['val_loss']:>9.4f} {acc_s:>8} "
            f"{spars[pen][1][i]:>6.3f} {t['n_models']:>7} {t['models_per_s']:>9.1f}"
        )
    return "\n".join(lines)


def _edge_note(result) -> str | None:
    """One line when a penalty's best λ is the grid's smallest or largest: the best may lie beyond the grid."""
    at = {pen: b["at_grid_edge"] for pen, b in result.best("val_loss").items() if b.get("at_grid_edge")}
    if not at:
        return None
    fixes = [fix for edge, fix in (("lower", "a smaller --lambda-min"), ("upper", "a larger --lambda-max"))
             if edge in at.values()]
    where = ", ".join(f"{pen} ({edge})" for pen, edge in at.items())
    return (f"  note: the best λ is at the grid's edge for {where}: a better λ may lie beyond it; "
            f"{' or '.join(fixes)} shows whether it does")


# argparse destinations that are SweepConfig fields of the same name
_CONFIG_ARGS = (
    "dataset", "data", "model", "penalties", "lambda_min", "lambda_max", "num_lambdas", "steps", "lr",
    "optimizer", "seeds", "folds", "chunk_size", "hidden", "batch_size", "l1_ratio", "n_train", "deterministic",
    "compute_dtype", "val_fraction", "task", "stability", "stability_threshold", "stability_max_false",
)


def _config_from_args(args):
    """The run's :class:`~jaxreg.app.SweepConfig`: the flags given over the defaults, or over a resumed run's saved
    options (refused, naming each flag, when a flag changes one of them)."""
    from jaxreg.app._config import SweepConfig
    from jaxreg.engine._checkpoint import ChunkStore

    given = {name: getattr(args, name) for name in _CONFIG_ARGS if getattr(args, name) is not None}
    if args.no_params:
        given["keep_params"] = False
    if "penalties" in given:
        given["penalties"] = tuple(given["penalties"])
    if args.resume:
        saved = SweepConfig.from_dict(ChunkStore.saved_config(args.resume))
        cfg = SweepConfig.from_dict({**saved.to_dict(), **given})
        _refuse_changed_options(args.resume, saved, cfg)
    else:
        cfg = SweepConfig(**given).validate()
    if "hidden" in given and cfg.model != "mlp":  # the MLP's width, silently unused by any other model
        model = repr(cfg.model) if cfg.model else "the default (logistic for classes, linear for regression)"
        raise ConfigError(f"{flag('hidden')} sets the hidden units of --model mlp, but the model is {model}: "
                          f"add --model mlp, or drop {flag('hidden')}")
    return cfg


def _flag_value(field: str, value) -> str:
    """A config value as the command line gives it: ``l2, l1`` for penalties, given / not given for a switch."""
    if field == "keep_params":  # --no-params
        return "not given" if value else "given"
    if isinstance(value, bool):
        return "given" if value else "not given"
    if value is None:
        return "default"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _refuse_changed_options(directory: str, saved, cfg) -> None:
    """A resume finishes the saved run as it started: a flag that changes a saved option is refused, by name."""
    changed = [f.name for f in dataclasses.fields(saved) if getattr(saved, f.name) != getattr(cfg, f.name)]
    if not changed:
        return
    what = "; ".join(f"{flag(k)} ({_flag_value(k, getattr(saved, k))} then, {_flag_value(k, getattr(cfg, k))} now)"
                     for k in changed)
    flags = " and ".join(flag(k) for k in changed)
    raise ConfigError(f"--resume {directory} was started with a different configuration: {what}; a resume finishes "
                      f"the saved run as it started: drop {flags}, or start a new run with another --out")


def _start_runtime(args) -> None:
    """jax.distributed (if asked) and the CPU device count, before JAX's first computation."""
    if args.local_devices is not None and args.local_devices < 1:
        raise ConfigError(f"--local-devices must be >= 1, got {args.local_devices}")
    multi = args.coordinator or args.num_processes or args.process_id is not None or args.distributed
    if multi:
        from jaxreg.engine import _distributed as distributed

        if args.distributed and (args.coordinator or args.num_processes or args.process_id is not None):
            raise ConfigError("--distributed auto-detects the cluster; do not combine it with --coordinator")
        if not args.distributed and not (args.coordinator and args.num_processes and args.process_id is not None):
            raise ConfigError("--coordinator, --num-processes and --process-id go together")
        n = args.num_processes
        if n is not None and n < 1:
            raise ConfigError(f"--num-processes must be >= 1, got {n}")
        if n is not None and not 0 <= args.process_id < n:
            raise ConfigError(f"--process-id must be in 0 .. {n - 1} (--num-processes {n}), got {args.process_id}")
        distributed.initialize(args.coordinator, args.num_processes, args.process_id,
                               local_devices=args.local_devices)
    elif args.local_devices is not None:
        import jax

        jax.config.update("jax_num_cpu_devices", args.local_devices)
    else:  # one CPU device per core: the sweep runs a block of models on each (jaxreg.devices)
        from jaxreg.engine._devices import use_cpu_cores

        use_cpu_cores(strict=False)  # keeps a count set with XLA_FLAGS / JAX_NUM_CPU_DEVICES


def _run_dir(args) -> str:
    """The output directory: ``--resume DIR``, ``--out DIR``, or ``runs/<timestamp>/``."""
    return args.resume or args.out or os.path.join("runs", _dt.datetime.now().strftime("%Y%m%d-%H%M%S"))


def _lock(out: str, option: str) -> RunLock:
    try:
        return RunLock(out).acquire()
    except ResumeError as e:  # another run holds the directory
        raise ConfigError(f"{option} {e}") from e


def cmd_sweep(args) -> int:
    """``jaxreg sweep``: run the job, write its files, print the table and the paths."""
    from jaxreg.app import _runner as runner

    cfg = _config_from_args(args)
    _start_runtime(args)
    import jax

    option = "--resume" if args.resume else "--out"
    out = args.run_dir = _run_dir(args)
    if jax.process_index() != 0:  # other processes compute their share and leave the writing to process 0
        runner.run(cfg, progress=False, log=None, out_dir=out, resume=bool(args.resume))
        return 0
    _check_out(out, option)
    log = None if args.quiet else print
    with _lock(out, option):  # held until the outputs are written: two runs never share a directory
        stray = remove_stray_temporaries(out)  # a killed write's leftovers; ours to delete under the lock
        if log:
            log(f"jaxreg sweep: {cfg.dataset if cfg.data is None else cfg.data}, penalties {', '.join(cfg.penalties)}")
            if stray:
                log(f"  removed {len(stray)} temporary file(s) an interrupted write left behind")
        result = runner.run(cfg, progress=None if not args.quiet else False, log=log, out_dir=out,
                            resume=bool(args.resume))
        paths = runner.write_outputs(result, out)
    if log:
        log("")
        log(_table(result))
        if "cv" in result.info:
            for pen, s in result.info["cv"].items():
                edge = f" (at the grid's {s['at_grid_edge']} edge)" if s.get("at_grid_edge") else ""
                log(f"  CV {pen}: lambda_min {s['lambda_min']:.3g}{edge}, lambda_1se {s['lambda_1se']:.3g}"
                    if s["lambda_min"] is not None else f"  CV {pen}: {s['note']}")
        note = _edge_note(result)
        if note:
            log(note)
        log("")
    for p in paths:
        print(p)
    return 0


class Stopped(KeyboardInterrupt):
    """SIGTERM stopped the command; handled as Ctrl-C is, with the signal's own exit status."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _resume_hint(args) -> str:
    """How to finish the run, when its directory holds finished chunks."""
    out = getattr(args, "run_dir", None)
    if out and os.path.exists(os.path.join(out, MANIFEST)):
        return f"; the finished chunks are kept: jaxreg sweep --resume {out} finishes the run"
    return ""


def _interrupted(args, signum: int) -> int:
    """Report an interruption in one line; returns the exit status, 128 + the signal's number."""
    by = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
    sys.stdout.flush()
    print(f"jaxreg: interrupted{by}{_resume_hint(args)}", file=sys.stderr)
    sys.stderr.flush()
    return 128 + signum


def _environment_error(args, e: OSError) -> int:
    """A refused write or read (a full disk, a file-size limit), in one line; returns the exit status."""
    where = f"{e.filename}: " if e.filename else ""
    name = errno.errorcode.get(e.errno, str(e.errno))
    print(f"jaxreg: error: {where}{e.strerror or e} ({name}){_resume_hint(args)}", file=sys.stderr)
    return EXIT_FAILED


def _show_warning(message, category, filename, lineno, file=None, line=None, *, default):
    if issubclass(category, CheckpointWarning):  # ours: one line, even with --quiet
        print(f"jaxreg: warning: {message}", file=sys.stderr)
    else:
        default(message, category, filename, lineno, file, line)


@contextlib.contextmanager
def _command_signals(args) -> Iterator[None]:
    """While the command runs: SIGTERM stops it as Ctrl-C does; a file-size limit is an error, not a kill.

    Python delivers a signal as an exception at the next bytecode; one raised inside a garbage
    collector callback would be printed and lost, so an interruption that gets lost that way
    ends the process at once (a ``SIGKILL``-safe exit: every checkpoint is consistent at any moment).
    """
    if threading.current_thread() is not threading.main_thread():  # signal handlers live in the main thread
        yield
        return

    def stop(signum, frame):
        raise Stopped(signum)

    def lost(unraisable, previous=sys.unraisablehook):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            os._exit(_interrupted(args, getattr(unraisable.exc_value, "signum", signal.SIGINT)))
        previous(unraisable)

    handlers = {signal.SIGTERM: stop}
    if hasattr(signal, "SIGXFSZ"):
        handlers[signal.SIGXFSZ] = signal.SIG_IGN  # the write fails with EFBIG instead
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    hook, sys.unraisablehook = sys.unraisablehook, lost
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", CheckpointWarning)
            warnings.showwarning = functools.partial(_show_warning, default=warnings.showwarning)
            yield
    finally:
        sys.unraisablehook = hook
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """The ``jaxreg`` command; returns the exit status (0 done, 2 a problem for the user to fix).

    1: the environment stopped the run (a full disk; a peer process); 130 / 143: SIGINT / SIGTERM.

    Example:
      >>> main(["sweep", "--num-lambdas", "0"])  # prints "jaxreg: error: --num-lambdas must be ..." to stderr
      2
    """
    args = argparse.Namespace()  # filled by the parser; the handlers below read the run's directory from it
    try:
        with _command_signals(args):
            build_parser().parse_args(argv, namespace=args)
            if args.command == "sweep":
                return cmd_sweep(args)
            raise ConfigError(f"unknown command {args.command!r}")
    except (ConfigError, ResumeError) as e:
        if os.environ.get(DEBUG_VARIABLE, "0") not in ("", "0"):
            raise
        msg = e.render(flag) if isinstance(e, ConfigError) else str(e)
        print(f"jaxreg: error: {' '.join(msg.split())}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as e:
        return _interrupted(args, getattr(e, "signum", signal.SIGINT))
    except OSError as e:
        if e.errno not in _ENVIRONMENT_ERRNOS:
            raise
        return _environment_error(args, e)
    except Exception as e:  # noqa: BLE001
        if _in_distributed_job():
            # A peer died (or the network did): report in one line and leave at once. A normal exit would
            # wait for the runtime's shutdown barrier, which can no longer complete, and then abort.
            first = next((ln for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
            print(f"jaxreg: error: the distributed job failed on process {_process_index()} ({first.strip()}); "
                  "chunks finished so far are kept: rerun every process with --resume DIR", file=sys.stderr)
            sys.stderr.flush()
            sys.stdout.flush()
            os._exit(EXIT_FAILED)
        raise


def _in_distributed_job() -> bool:
    jax = sys.modules.get("jax")
    try:
        return jax is not None and jax.process_count() > 1
    except Exception:  # noqa: BLE001 - the runtime itself may be broken by now
        return False


def _process_index() -> int:
    try:
        return sys.modules["jax"].process_index()
    except Exception:  # noqa: BLE001
        return -1


if __name__ == "__main__":
    sys.exit(main())

"""Claims 8 and 8b: one L2 λ per layer of a digits MLP, tuned by hypergradient descent, against the best single λ of
a 256-point grid and against Optuna's TPE sampler given the same budget of training runs.

Three splits of scikit-learn's digits: the models train on the first, every λ is chosen on the second
(validation), and only the chosen model is scored on the third (test). One script writes both rows
(``e8_per_layer_l2.json`` and ``e8_optuna_tpe.json``): the Optuna curve is read against the very grid and tuning
runs of the same seeds.

Cost is counted in *training runs* (one run = ``steps`` optimizer steps from the same initial weights):
the grid spends one run per λ; the tuner spends its coarse sweep, the hypergradient check, one forward and
``BACKWARD`` runs' worth of reverse mode per hypergradient step and start, one run per start at its last λ, and
one run to retrain the chosen λ; every Optuna trial is one run.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import _common
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg
from jaxreg.engine import SweepResult
from jaxreg.tuning import check_hypergradient, starts_from_sweep, tune_hyperparams

LAYERS = ("w1", "w2", "w3")
#: Reverse mode's nominal cost in forward trainings: its backward pass's arithmetic, about twice the forward's (1 + 2
#: per step). The wall time is measured too (``hypergradient_over_training_wall``): 5–7 trainings on a 2-core CPU.
BACKWARD = 2.0


class Config(NamedTuple):
    """One configuration of the experiment (FULL or QUICK)."""

    n_train: int  # training split (the rest of the 1797 digits: validation, then test)
    n_val: int  # validation split
    hidden: int  # units in each of the two tanh hidden layers
    steps: int  # optimizer steps per training run
    lr: float  # learning rate (full batch)
    grid: int  # λ of the single-λ grid, one sweep
    coarse: int  # λ of the tuner's coarse sweep (its starts)
    starts: int  # tuner starts, side by side
    hyper_steps: int  # hypergradient steps per start
    seeds: int  # splits × initial weights
    lo: float  # λ range of every arm
    hi: float
    activation: str = "tanh"  # "tanh" or "relu"
    optimizer: str = "sgd_momentum"  # "sgd_momentum" (0.9) or "adam"


FULL = Config(n_train=200, n_val=400, hidden=64, steps=300, lr=0.1, grid=256, coarse=8, starts=4, hyper_steps=25,
              seeds=3, lo=1e-5, hi=1.0)
QUICK = Config(n_train=100, n_val=200, hidden=16, steps=20, lr=0.1, grid=16, coarse=4, starts=2, hyper_steps=3,
               seeds=1, lo=1e-5, hi=1.0)


class Problem(NamedTuple):
    """One seed's data and training, as functions of the per-layer λ (a dict over LAYERS)."""

    train: Callable[[dict], dict]  # lams -> trained params
    metrics: Callable[[dict], dict]  # params -> val_loss, test_loss, test_accuracy
    objective: Callable[[dict], jax.Array]  # lams -> validation cross-entropy (what every arm minimises)
    evaluate: Callable[[dict], dict]  # jit(metrics ∘ train): one compiled training for the retrain and Optuna


def splits(seed: int, n_train: int, n_val: int) -> dict[str, jax.Array]:
    """Stratified train / validation / test splits of digits, standardised with the training split's statistics."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_rest, y_tr, y_rest = train_test_split(x, y, train_size=n_train, stratify=y, random_state=seed)
    x_va, x_te, y_va, y_te = train_test_split(x_rest, y_rest, train_size=n_val, stratify=y_rest, random_state=seed)
    mu, sd = x_tr.mean(0), x_tr.std(0)
    sd[sd == 0] = 1.0  # always-blank pixels stay 0
    f = lambda a: jnp.asarray((a - mu) / sd, jnp.float32)  # noqa: E731
    return {"x_train": f(x_tr), "y_train": jnp.asarray(y_tr), "x_val": f(x_va), "y_val": jnp.asarray(y_va),
            "x_test": f(x_te), "y_test": jnp.asarray(y_te)}


def init_params(key: jax.Array, hidden: int) -> dict[str, jax.Array]:
    """64 → hidden → hidden → 10, weights N(0, 1/fan_in), biases 0."""
    sizes = (64, hidden, hidden, 10)
    keys = jax.random.split(key, 3)
    params = {}
    for i, k in enumerate(keys):
        params[f"w{i + 1}"] = jax.random.normal(k, sizes[i:i + 2]) / jnp.sqrt(sizes[i])
        params[f"b{i + 1}"] = jnp.zeros(sizes[i + 1])
    return params


def predict(params: dict, x: jax.Array, activation: str = "tanh") -> jax.Array:
    act = jnp.tanh if activation == "tanh" else jax.nn.relu
    h = act(x @ params["w1"] + params["b1"])
    h = act(h @ params["w2"] + params["b2"])
    return h @ params["w3"] + params["b3"]


def cross_entropy(params: dict, x: jax.Array, y: jax.Array, activation: str = "tanh") -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(predict(params, x, activation), y).mean()


def make_problem(cfg: Config, seed: int) -> Problem:
    """Seed ``seed``'s splits and initial weights; one λ per weight matrix, biases unpenalised."""
    data = splits(seed, cfg.n_train, cfg.n_val)
    p0 = init_params(jax.random.key(seed), cfg.hidden)
    xent = lambda p, part: cross_entropy(p, data[f"x_{part}"], data[f"y_{part}"], cfg.activation)  # noqa: E731
    step = optax.sgd(cfg.lr, momentum=0.9) if cfg.optimizer == "sgd_momentum" else optax.adam(cfg.lr)

    def train(lams: dict) -> dict:
        decays = [jaxreg.add_l2_decay(lams[k], mask={n: n == k for n in p0}) for k in LAYERS]
        return jaxreg.fit(lambda p: xent(p, "train"), p0, optax.chain(*decays, step), steps=cfg.steps).params

    def metrics(params: dict) -> dict:
        hit = jnp.argmax(predict(params, data["x_test"], cfg.activation), -1) == data["y_test"]
        return {"val_loss": xent(params, "val"), "test_loss": xent(params, "test"), "test_accuracy": jnp.mean(hit)}

    return Problem(train, metrics, lambda lams: xent(train(lams), "val"), jax.jit(lambda lams: metrics(train(lams))))


def grid_arm(problem: Problem, cfg: Config) -> dict:
    """The same λ on every layer, ``cfg.grid`` values in one :func:`jaxreg.sweep`; chosen by validation loss."""
    lambdas = jaxreg.log_grid(cfg.lo, cfg.hi, cfg.grid)
    t0 = time.perf_counter()
    out = jaxreg.sweep(lambda lam: problem.metrics(problem.train({k: lam for k in LAYERS})), lambdas)
    seconds = time.perf_counter() - t0
    val = np.where(np.isfinite(out["val_loss"]), out["val_loss"], np.inf)
    i = int(np.argmin(val))
    return {"runs": cfg.grid, "seconds": seconds, "best_lambda": float(lambdas[i]),
            "val_loss": float(out["val_loss"][i]), "test_loss": float(out["test_loss"][i]),
            "test_accuracy": float(out["test_accuracy"][i]), "lambdas": lambdas,
            "curve_val_loss": out["val_loss"], "curve_test_loss": out["test_loss"]}


def tuning_runs(cfg: Config, check_evaluations: int) -> dict[str, float]:
    """The tuner's cost in training runs, item by item (module docstring)."""
    items = {"coarse_sweep": cfg.coarse, "hypergradient_check": check_evaluations,
             "descent": cfg.starts * cfg.hyper_steps * (1 + BACKWARD), "last_lambda_per_start": cfg.starts,
             "retrain_chosen": 1}
    return {**items, "total": float(sum(items.values()))}


def tuning_arm(problem: Problem, cfg: Config) -> dict:
    """A coarse single-λ sweep, its best ``cfg.starts`` λ as starts, hypergradient descent on the per-layer log λ
    (Adam, the library's default step), all starts in one call; the best validation point retrained."""
    t0 = time.perf_counter()
    coarse = jaxreg.log_grid(cfg.lo, cfg.hi, cfg.coarse)
    out = jaxreg.sweep(lambda lam: {"val_loss": problem.objective({k: lam for k in LAYERS})}, coarse)
    lams0 = starts_from_sweep(SweepResult.from_sweep(out, coarse, initial_loss=False), cfg.starts,
                              like={k: np.float32(0) for k in LAYERS})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = tune_hyperparams(problem.objective, lams0, steps=cfg.hyper_steps, multi_start=True,
                               bounds=(cfg.lo, cfg.hi), check="warn")
    best = {k: jnp.float32(v) for k, v in res.best_lams.items()}
    m = problem.evaluate(best)
    check = res.check
    check_evaluations = int(1 + BACKWARD) + 2 * check.finite_difference.size
    return {"runs": tuning_runs(cfg, check_evaluations), "seconds": time.perf_counter() - t0,
            "best_lambdas": {k: float(v) for k, v in best.items()}, "val_loss": res.best_loss,
            "test_loss": float(m["test_loss"]), "test_accuracy": float(m["test_accuracy"]),
            "best_start": res.best_start, "best_step": res.best_step, "starts": lams0,
            "trajectory_val_loss": res.val_loss, "trajectory_lams": res.lams, "at_bound": res.at_bound,
            "stopped": res.stopped, "check_ok": bool(check.ok), "check_max_error": float(np.max(check.error)),
            "check_warned": any(issubclass(w.category, RuntimeWarning) for w in caught)}


def backward_ratio(problem: Problem, lams: dict, repeats: int = 3) -> float:
    """Wall time of one hypergradient (value and reverse-mode gradient through training) over one training, both
    compiled, best of ``repeats``: the measured counterpart of ``1 + BACKWARD``."""
    lams = {k: jnp.float32(v) for k, v in lams.items()}
    fwd, grad = jax.jit(problem.objective), jax.jit(jax.value_and_grad(problem.objective))

    def best(fn):
        jax.block_until_ready(fn(lams))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(lams))
            times.append(time.perf_counter() - t0)
        return min(times)

    return best(grad) / best(fwd)


def running_best(val: np.ndarray) -> np.ndarray:
    """Index of the lowest finite value among ``val[:t + 1]``, for each ``t`` (0 while none is finite).

    Example:
      >>> running_best(np.array([0.5, np.nan, 0.4, 0.6, 0.1])).tolist()
      [0, 0, 2, 2, 4]
    """
    masked = np.where(np.isfinite(val), val, np.inf)
    out, best = np.zeros(len(val), int), 0
    for t, v in enumerate(masked):
        best = t if v < masked[best] else best
        out[t] = best
    return out


def optuna_arm(problem: Problem, cfg: Config, n_trials: int, seed: int) -> dict | None:
    """Optuna's TPE sampler (seeded) over the per-layer log λ in the same range, one jitted training per trial;
    ``None`` without optuna. The curve: test loss of the best-validation trial so far, against trials."""
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []

    def objective(trial):
        lams = {k: trial.suggest_float(k, cfg.lo, cfg.hi, log=True) for k in LAYERS}
        m = {k: float(v) for k, v in problem.evaluate({k: jnp.float32(v) for k, v in lams.items()}).items()}
        rows.append(m)
        return m["val_loss"]

    t0 = time.perf_counter()
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    val = np.array([r["val_loss"] for r in rows])
    chosen = running_best(val)
    return {"runs": n_trials, "seconds": time.perf_counter() - t0, "optuna": optuna.__version__,
            "curve_test_loss": np.array([rows[i]["test_loss"] for i in chosen]),
            "curve_test_accuracy": np.array([rows[i]["test_accuracy"] for i in chosen]),
            "curve_val_loss": val[chosen], "best_lambdas": study.best_params}


def rough_training_check(cfg: Config, run: dict, relu: bool = True) -> dict:
    """The library's hypergradient check as the tuner ran it (at its first start) and, at the same λ, for the same
    MLP with ReLU trained by Adam (lr 0.01): what a user would see before tuning either (``relu=False``: NaN)."""
    tuned = run["tuning"]
    lams = {k: jnp.float32(v[0]) for k, v in tuned["starts"].items()}
    out = {"lambdas": {k: float(v) for k, v in lams.items()},
           "tanh + SGD momentum (this experiment)": {"ok": tuned["check_ok"], "max_error": tuned["check_max_error"]},
           "ReLU + Adam (lr 0.01)": {"ok": None, "max_error": float("nan")}}
    if relu:
        problem = make_problem(cfg._replace(activation="relu", optimizer="adam", lr=0.01), run["seed"])
        c = check_hypergradient(problem.objective, lams)
        out["ReLU + Adam (lr 0.01)"] = {"ok": bool(c.ok), "max_error": float(np.max(c.error)),
                                        "autodiff": c.autodiff, "finite_difference": c.finite_difference, "eps": c.eps}
    return out


def run_seed(cfg: Config, seed: int, with_optuna: bool) -> dict:
    """Every arm on seed ``seed``: the grid, the tuner, the measured cost of a hypergradient, and Optuna with as
    many trials as the larger of the grid's and the tuner's runs."""
    problem = make_problem(cfg, seed)
    grid = grid_arm(problem, cfg)
    tuned = tuning_arm(problem, cfg)
    ratio = backward_ratio(problem, tuned["best_lambdas"])
    n_trials = int(np.ceil(max(tuned["runs"]["total"], grid["runs"])))
    optuna = optuna_arm(problem, cfg, n_trials, seed) if with_optuna else None
    return {"seed": seed, "grid": grid, "tuning": tuned, "hypergradient_over_training_wall": ratio, "optuna": optuna}


def mean_se(values: Any) -> tuple[float, float]:
    """Mean and standard error over seeds (SE NaN for one seed).

    Example:
      >>> mean_se([1.0, 2.0, 3.0])
      (2.0, 0.5773502691896258)
    """
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")


def comparison(diffs: Any, better: str, worse: str) -> str:
    """``better`` when the mean difference (lower is better) is below 0 by more than 2 SE, ``worse`` when above,
    else "no clear difference"; with one seed the sign alone, said so.

    Example:
      >>> comparison([-0.02, -0.03, -0.025], "tuning better", "grid better")
      'tuning better'
      >>> comparison([-0.02, 0.03, -0.005], "tuning better", "grid better")
      'no clear difference'
    """
    m, se = mean_se(diffs)
    if m == 0:
        return "no difference"
    if not np.isfinite(se):
        return (better if m < 0 else worse) + " (one seed: no error bar)"
    if m + 2 * se < 0:
        return better
    if m - 2 * se > 0:
        return worse
    return "no clear difference"


def _status(said: str) -> str:
    """The verdict's first word for a :func:`comparison` sentence."""
    if "one seed" in said:
        return "indicative only"
    return "confirmed" if said.startswith("tuning beat") else "not confirmed"


def _arm_stats(runs: list[dict], arm: str) -> dict:
    out = {}
    for key in ("val_loss", "test_loss", "test_accuracy", "seconds"):
        out[key], out[f"{key}_se"] = mean_se([r[arm][key] for r in runs])
    return out


def summarise_tuning(cfg: Config, runs: list[dict], checks: dict) -> tuple[dict, str, str]:
    """``measured``, ``result`` and ``verdict`` of the per-layer row, from the seeds' numbers."""
    g, t = _arm_stats(runs, "grid"), _arm_stats(runs, "tuning")
    d_loss = [r["tuning"]["test_loss"] - r["grid"]["test_loss"] for r in runs]
    d_acc = [r["tuning"]["test_accuracy"] - r["grid"]["test_accuracy"] for r in runs]
    d_val = [r["tuning"]["val_loss"] - r["grid"]["val_loss"] for r in runs]
    t_runs = runs[0]["tuning"]["runs"]
    ratio, _ = mean_se([r["hypergradient_over_training_wall"] for r in runs])
    wall_runs = t_runs["total"] - t_runs["descent"] + cfg.starts * cfg.hyper_steps * ratio
    measured = {
        "config": cfg._asdict(), "backward_factor_nominal": BACKWARD, "grid": g, "tuning": t,
        "test_loss_difference": mean_se(d_loss), "test_accuracy_difference": mean_se(d_acc),
        "val_loss_difference": mean_se(d_val), "runs_grid": cfg.grid, "runs_tuning": t_runs,
        "steps_grid": cfg.grid * cfg.steps, "steps_tuning": t_runs["total"] * cfg.steps,
        "hypergradient_over_training_wall": ratio, "runs_tuning_at_measured_wall_ratio": wall_runs,
        "hypergradient_checks": checks,
        "per_seed": [{"seed": r["seed"],
                      "grid": {k: r["grid"][k] for k in ("best_lambda", "val_loss", "test_loss", "test_accuracy")},
                      "tuning": {k: r["tuning"][k] for k in ("best_lambdas", "val_loss", "test_loss", "test_accuracy",
                                                             "best_start", "best_step", "at_bound", "stopped",
                                                             "check_ok", "check_max_error")}}
                     for r in runs],
    }
    dl, dl_se = measured["test_loss_difference"]
    said = comparison(d_loss, "tuning beat the grid", "the grid beat tuning")
    verdict = (f"{_status(said)}: {said} (test loss {dl:+.4f} ± "
               f"{dl_se:.4f}) at {t_runs['total'] / cfg.grid:.2f}× the grid's runs ({wall_runs / cfg.grid:.1f}× in "
               "measured time)")
    fmt = lambda a, k: f"{a[k]:.4f} ± {a[k + '_se']:.4f}"  # noqa: E731
    lams = "; ".join(", ".join(f"{k} {v:.2g}" for k, v in r["tuning"]["best_lambdas"].items()) for r in runs)
    check = checks["tanh + SGD momentum (this experiment)"]
    rough = checks["ReLU + Adam (lr 0.01)"]
    grid_lams = ", ".join(f"{r['grid']['best_lambda']:.2g}" for r in runs)
    relu_text = ("(the ReLU + Adam variant is not checked in quick mode)" if rough["ok"] is None else
                 f"{'but flags' if not rough['ok'] else 'and passes'} the same MLP with ReLU + Adam "
                 f"(max error {rough['max_error']:.2g})")
    result = (
        f"over {len(runs)} splits, test cross-entropy with tuned per-layer λ {fmt(t, 'test_loss')} (accuracy "
        f"{fmt(t, 'test_accuracy')}) vs the grid's best single λ {fmt(g, 'test_loss')} (accuracy "
        f"{fmt(g, 'test_accuracy')}): difference {dl:+.4f} ± {dl_se:.4f} ({100 * dl / g['test_loss']:+.1f}%), "
        f"accuracy {mean_se(d_acc)[0]:+.4f}; on the validation split the tuner optimises, {mean_se(d_val)[0]:+.4f}. "
        f"Tuned λ per split: {lams}; the grid's: "
        f"{grid_lams}. Cost: grid {cfg.grid} runs "
        f"({cfg.grid * cfg.steps:,} steps); tuning {t_runs['total']:.0f} runs ({t_runs['total'] * cfg.steps:,.0f} "
        f"steps: coarse sweep {t_runs['coarse_sweep']}, check {t_runs['hypergradient_check']}, descent "
        f"{cfg.starts} starts × {cfg.hyper_steps} steps × (1 + {BACKWARD:g}), {cfg.starts} at the last λ, 1 retrain), "
        f"{t_runs['total'] / cfg.grid:.2f}× the grid; a hypergradient measured {ratio:.1f}× a training's wall time "
        f"here ({'about' if abs(ratio - 1 - BACKWARD) < 0.5 else 'not'} {1 + BACKWARD:g}×), which makes it "
        f"{wall_runs:.0f} run-equivalents ({wall_runs / cfg.grid:.1f}× the grid). "
        f"Wall: grid {g['seconds']:.0f} s, tuning {t['seconds']:.0f} s per split (compilation included). "
        f"The library's check {'passes' if check['ok'] else 'FAILS'} for this tanh + SGD training (max error "
        f"{check['max_error']:.2g}) {relu_text}.")
    return measured, result, verdict


def summarise_optuna(cfg: Config, runs: list[dict]) -> tuple[dict, str, str]:
    """``measured``, ``result`` and ``verdict`` of the Optuna row: Optuna's best-so-far test loss at the tuner's
    and at the grid's number of runs, against the two."""
    if runs[0]["optuna"] is None:
        return ({"skipped": "optuna is not installed (pip install 'jaxreg[bench]')"},
                "Optuna arm skipped: optuna is not installed (pip install 'jaxreg[bench]'); nothing measured.",
                "skipped (no optuna)")
    n_tune = int(np.ceil(runs[0]["tuning"]["runs"]["total"]))
    at = lambda r, n: r["optuna"]["curve_test_loss"][min(n, r["optuna"]["runs"]) - 1]  # noqa: E731
    curves = np.stack([r["optuna"]["curve_test_loss"][:min(x["optuna"]["runs"] for x in runs)] for r in runs])
    d_tune = [r["tuning"]["test_loss"] - at(r, n_tune) for r in runs]
    d_grid = [r["grid"]["test_loss"] - at(r, cfg.grid) for r in runs]
    o_tune, o_grid = mean_se([at(r, n_tune) for r in runs]), mean_se([at(r, cfg.grid) for r in runs])
    val_at = lambda r, n: r["optuna"]["curve_val_loss"][min(n, r["optuna"]["runs"]) - 1]  # noqa: E731
    d_val = [r["tuning"]["val_loss"] - val_at(r, n_tune) for r in runs]
    t, g = mean_se([r["tuning"]["test_loss"] for r in runs]), mean_se([r["grid"]["test_loss"] for r in runs])
    first = [int(np.argmax(r["optuna"]["curve_test_loss"] <= r["tuning"]["test_loss"])) + 1
             if np.any(r["optuna"]["curve_test_loss"] <= r["tuning"]["test_loss"]) else None for r in runs]
    measured = {
        "config": cfg._asdict(), "optuna_version": runs[0]["optuna"]["optuna"], "sampler": "TPESampler(seed=seed)",
        "trials": runs[0]["optuna"]["runs"], "runs_tuning": n_tune, "runs_grid": cfg.grid,
        "optuna_test_loss_at_tuning_runs": o_tune, "optuna_test_loss_at_grid_runs": o_grid,
        "tuning_test_loss": t, "grid_test_loss": g, "tuning_minus_optuna": mean_se(d_tune),
        "grid_minus_optuna": mean_se(d_grid), "tuning_minus_optuna_val_loss": mean_se(d_val),
        "optuna_val_loss_at_tuning_runs": mean_se([val_at(r, n_tune) for r in runs]),
        "curve_test_loss_mean": curves.mean(0),
        "optuna_seconds": mean_se([r["optuna"]["seconds"] for r in runs]),
        "optuna_trials_to_reach_tuning_test_loss": first,
        "optuna_best_lambdas": [r["optuna"]["best_lambdas"] for r in runs],
    }
    said = comparison(d_tune, "tuning beat Optuna at equal runs", "Optuna beat tuning at equal runs")
    verdict = (f"{_status(said)}: {said} (test loss "
               f"{mean_se(d_tune)[0]:+.4f} ± {mean_se(d_tune)[1]:.4f})")
    result = (
        f"test cross-entropy of the best-validation trial, mean over {len(runs)} splits: Optuna TPE after "
        f"{n_tune} runs (the tuner's count) {o_tune[0]:.4f} ± {o_tune[1]:.4f} vs tuning {t[0]:.4f} ± {t[1]:.4f} "
        f"(difference tuning − Optuna {mean_se(d_tune)[0]:+.4f} ± {mean_se(d_tune)[1]:.4f}); after {cfg.grid} runs "
        f"(the grid's) {o_grid[0]:.4f} vs the grid {g[0]:.4f} (grid − Optuna {mean_se(d_grid)[0]:+.4f} ± "
        f"{mean_se(d_grid)[1]:.4f}). On the validation loss both minimise, tuning − Optuna at equal runs: "
        f"{mean_se(d_val)[0]:+.4f} ± {mean_se(d_val)[1]:.4f}. Trials Optuna needed to match the tuner's test loss, "
        "per split: "
        f"{', '.join('never' if f is None else str(f) for f in first)}. One Optuna trial = one jitted training; "
        f"{measured['optuna_seconds'][0]:.0f} s per split for {runs[0]['optuna']['runs']} trials.")
    return measured, result, verdict


def plot_tuning(plt: Any, path: str, cfg: Config, run: dict) -> str:
    """Seed ``run``'s grid curves with the tuned losses, the descents' validation loss, the best start's λ."""
    grid, tuned = run["grid"], run["tuning"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    ax.plot(grid["lambdas"], grid["curve_val_loss"], color="tab:blue", lw=1.4, label="grid: validation")
    ax.plot(grid["lambdas"], grid["curve_test_loss"], color="tab:orange", lw=1.4, label="grid: test")
    ax.axhline(tuned["val_loss"], color="tab:blue", ls="--", lw=1, label="tuned per-layer λ: validation")
    ax.axhline(tuned["test_loss"], color="tab:orange", ls="--", lw=1, label="tuned per-layer λ: test")
    ax.axvline(grid["best_lambda"], color="k", ls=":", lw=1)
    ax.set(xscale="log", xlabel="λ (the same on every layer)", ylabel="cross-entropy",
           title=f"grid of {cfg.grid} single λ (one sweep)", ylim=(None, 3 * max(grid["val_loss"], 0.2)))
    ax.legend(fontsize=7)
    traj = tuned["trajectory_val_loss"]
    for s in range(traj.shape[0]):
        axes[1].plot(np.arange(traj.shape[1]), traj[s], lw=1.2, label=f"start {s}")
    axes[1].axhline(grid["val_loss"], color="k", ls=":", lw=1, label="grid's best (validation)")
    axes[1].set(xlabel="hypergradient step", ylabel="validation cross-entropy",
                title=f"{traj.shape[0]} starts from a {cfg.coarse}-λ coarse sweep")
    axes[1].legend(fontsize=7)
    best = tuned["best_start"]
    for k in LAYERS:
        axes[2].plot(tuned["trajectory_lams"][k][best], lw=1.4, label=k)
    axes[2].axhline(grid["best_lambda"], color="k", ls=":", lw=1, label="grid's single λ")
    axes[2].set(yscale="log", xlabel="hypergradient step", ylabel="λ", title=f"per-layer λ of start {best}")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"digits MLP 64-{cfg.hidden}-{cfg.hidden}-10, {cfg.n_train} training samples, seed {run['seed']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_optuna(plt: Any, path: str, cfg: Config, runs: list[dict], measured: dict) -> str:
    """Best-so-far test loss against training runs: Optuna's curve, the grid's and the tuner's points."""
    fig, ax = plt.subplots(figsize=(7, 4.4))
    curves = np.stack([r["optuna"]["curve_test_loss"][:measured["trials"]] for r in runs])
    m = curves.mean(0)
    n = np.arange(1, len(m) + 1)
    ax.plot(n, m, color="tab:green", lw=1.6, label=f"Optuna TPE (mean of {len(runs)} splits)")
    if len(runs) > 1:
        se = curves.std(0, ddof=1) / np.sqrt(len(runs))
        ax.fill_between(n, m - se, m + se, color="tab:green", alpha=0.2, lw=0)
    g, t = measured["grid_test_loss"][0], measured["tuning_test_loss"][0]
    tuning = runs[0]["tuning"]["runs"]["total"]
    wall = float(np.mean([r["hypergradient_over_training_wall"] for r in runs]))
    ax.plot([cfg.grid], [g], "s", color="tab:blue", ms=8, label=f"grid of {cfg.grid} single λ")
    ax.plot([tuning], [t], "*", color="tab:red", ms=13, label=f"hypergradient tuning ({1 + BACKWARD:g} runs per step)")
    wall_runs = tuning - cfg.starts * cfg.hyper_steps * (1 + BACKWARD - wall)
    ax.plot([wall_runs], [t], "*", mfc="none", color="tab:red", ms=13,
            label=f"… at the measured {wall:.1f} runs' wall time per step")
    ax.set(xscale="log", xlabel="training runs spent", ylabel="test cross-entropy of the best-validation model",
           title="per-layer L2 on digits: test loss against runs")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main() -> None:
    jax.config.update("jax_num_cpu_devices", 1)  # every arm on the same one device (the tuner and Optuna use one)
    args = _common.parse_args(__doc__)
    cfg = QUICK if args.quick else FULL
    try:
        import optuna  # noqa: F401
        with_optuna = True
    except ImportError:
        with_optuna = False
    runs = [run_seed(cfg, seed, with_optuna) for seed in range(cfg.seeds)]
    checks = rough_training_check(cfg, runs[0], relu=not args.quick)  # (quick: two compilations fewer)
    plt = _common.plt()
    measured, result, verdict = summarise_tuning(cfg, runs, checks)
    fig = plot_tuning(plt, f"{args.out}/e8_per_layer_l2.png", cfg, runs[0])
    n_test = 1797 - cfg.n_train - cfg.n_val
    setup = (f"digits, stratified splits {cfg.n_train} train / {cfg.n_val} validation / {n_test} test, "
             f"{cfg.seeds} seeds (split and initial weights); MLP 64-{cfg.hidden}-{cfg.hidden}-10 (tanh), "
             f"full-batch SGD (lr {cfg.lr}, momentum 0.9), {cfg.steps} steps per run, add_l2_decay on each weight "
             f"matrix, biases unpenalised, λ ∈ [{cfg.lo:g}, {cfg.hi:g}]; grid: {cfg.grid} λ shared by all layers in "
             f"one jaxreg.sweep, chosen by validation loss; tuning: {cfg.coarse}-λ coarse sweep → best {cfg.starts} as "
             f"starts → jaxreg.tuning.tune_hyperparams ({cfg.hyper_steps} Adam steps on log λ, default rate, "
             "unrolled reverse mode, all starts in one call) → best validation point retrained; test split scored "
             "once per arm")
    _common.save(args, "e8_per_layer_l2",
                 claim="Tuning one L2 λ per layer by hypergradient descent finds a better model than the best single "
                       "λ of a grid, at a comparable number of training runs.",
                 setup=setup, measured=measured, result=result, verdict=verdict, figures=[fig])
    measured, result, verdict = summarise_optuna(cfg, runs)
    figs = [plot_optuna(plt, f"{args.out}/e8_optuna_tpe.png", cfg, runs, measured)] if with_optuna else []
    _common.save(args, "e8_optuna_tpe",
                 claim="Hypergradient tuning of per-layer λ beats a black-box search (Optuna's TPE sampler) over the "
                       "same per-layer λ given the same number of training runs.",
                 setup=f"the problem, splits and seeds of e8_per_layer_l2; Optuna TPESampler(seed) over log-uniform "
                       f"per-layer λ ∈ [{cfg.lo:g}, {cfg.hi:g}], one jitted training per trial, as many trials as "
                       "the larger of the grid's and the tuner's runs; the model of the best validation trial so "
                       "far scored on the test split after every trial",
                 measured=measured, result=result, verdict=verdict, figures=figs)


if __name__ == "__main__":
    main()

"""What a hypergradient costs: time and memory per hypergradient of each method, and the bias of truncated unrolling.

Cost (`cost` lines): an MLP (64 → hidden → 10, tanh, momentum SGD, per-layer L2) trained for T full-batch steps on
n random samples; per configuration the seconds of one call (median of 3, after a compiling call), its compilation
seconds and XLA's temporary buffer bytes (`memory_analysis()`, what the program needs besides its inputs and
outputs), for
* `train`: the training alone (the unit: one objective evaluation);
* `unrolled`: `jax.value_and_grad` through training (reverse mode);
* `unrolled_remat`: the same with `fit(remat=True, log_every=⌊√T⌋)`;
* `forward`: `jax.jacfwd` (forward mode) with k hyperparameters (per-layer λ, k = 2; per-unit λ of the hidden layer,
  k = hidden + 1).

Ratio (`ratio` lines): the wall time of one hypergradient over one training, the figure a tuning budget needs, for
the same MLP at T ∈ {100, 300, 1000} steps and n ∈ {200, 1000} samples: `unrolled` and `unrolled_remat` over
`train`, each the best of 7 calls (the best, not the median: on a shared machine the others time the neighbours).

Truncation (`truncation` lines): ridge regression (n = 30, d = 20, noisy) trained by T steps of gradient descent; the
λ that hypergradient descent finds for each T against the closed-form optimum of the converged problem.

One JSON line each, with the device and the load average before and after (timings from a shared machine are rough).

    python benchmarks/tuning_cost.py [--quick] [--parts cost ratio truncation] [--out benchmarks/tuning_cost.jsonl]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import jaxreg  # noqa: E402


def mlp_objective(n: int, hidden: int, steps: int, per_unit: bool, remat: bool):
    rng = np.random.default_rng(0)
    x, xv = (jnp.asarray(rng.normal(size=(n, 64)), jnp.float32) for _ in range(2))
    y, yv = (jnp.asarray(rng.integers(0, 10, n)) for _ in range(2))
    p0 = {"w1": jnp.asarray(rng.normal(size=(64, hidden)) / 8, jnp.float32),
          "w2": jnp.asarray(rng.normal(size=(hidden, 10)) / np.sqrt(hidden), jnp.float32)}

    def ce(p, a, b):
        return optax.softmax_cross_entropy_with_integer_labels(jnp.tanh(a @ p["w1"]) @ p["w2"], b).mean()

    def objective(lams):
        w1 = lams["w1"][None, :] if per_unit else lams["w1"]  # per-unit: one λ per hidden unit (column of w1)
        decay = jaxreg.add_penalty_grad(lambda p: jnp.sum(w1 * p["w1"] ** 2) + lams["w2"] * jnp.sum(p["w2"] ** 2), 1.0)
        opt = optax.chain(decay, optax.sgd(0.1, momentum=0.9))
        out = jaxreg.fit(lambda p: ce(p, x, y), p0, opt, steps=steps, log_every=int(np.sqrt(steps)) if remat else None,
                         remat=remat)
        return ce(out.params, xv, yv)

    lams = {"w1": jnp.full((hidden,) if per_unit else (), 1e-3, jnp.float32), "w2": jnp.float32(1e-3)}
    return objective, lams


def timed(fn, arg, repeats: int = 3, best: bool = False) -> dict:
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(arg).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(arg))
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(arg))
        runs.append(time.perf_counter() - t0)
    memory = compiled.memory_analysis()
    return {"seconds": float(np.min(runs) if best else np.median(runs)), "compile_s": compile_s,
            "temp_bytes": None if memory is None else int(memory.temp_size_in_bytes)}


def cost_lines(quick: bool):
    n, hidden = (128, 32) if quick else (512, 64)
    for steps in ((50,) if quick else (100, 400, 1600)):
        for per_unit in ((False, True) if steps <= 400 else (False,)):  # (forward mode at k = 65: 65 trainings)
            objective, lams = mlp_objective(n, hidden, steps, per_unit, remat=False)
            remat_objective, _ = mlp_objective(n, hidden, steps, per_unit, remat=True)
            k = sum(int(np.size(v)) for v in jax.tree.leaves(lams))
            base = timed(objective, lams)
            methods = {"train": base, "unrolled": timed(jax.value_and_grad(objective), lams),
                       "unrolled_remat": timed(jax.value_and_grad(remat_objective), lams),
                       "forward": timed(jax.jacfwd(objective), lams)}
            for method, m in methods.items():
                yield {"kind": "cost", "method": method, "steps": steps, "k": k, "n": n, "hidden": hidden, **m,
                       "x_train": m["seconds"] / base["seconds"]}


def ratio_lines(quick: bool):
    hidden = 32 if quick else 64
    for steps in ((50,) if quick else (100, 300, 1000)):
        for n in ((128,) if quick else (200, 1000)):
            objective, lams = mlp_objective(n, hidden, steps, per_unit=False, remat=False)
            remat_objective, _ = mlp_objective(n, hidden, steps, per_unit=False, remat=True)
            base = timed(objective, lams, repeats=7, best=True)
            for method, fn in (("unrolled", jax.value_and_grad(objective)),
                               ("unrolled_remat", jax.value_and_grad(remat_objective))):
                m = timed(fn, lams, repeats=7, best=True)
                yield {"kind": "ratio", "method": method, "steps": steps, "n": n, "hidden": hidden,
                       "train_seconds": base["seconds"], "seconds": m["seconds"],
                       "x_train": m["seconds"] / base["seconds"],
                       "temp_bytes": m["temp_bytes"], "train_temp_bytes": base["temp_bytes"]}


def truncation_lines(quick: bool):
    with jax.enable_x64(True):
        rng = np.random.default_rng(3)
        n, d = 30, 20
        w = rng.normal(size=d) * 0.5
        x, xv = rng.normal(size=(n, d)), rng.normal(size=(200, d))
        y, yv = x @ w + rng.normal(size=n), xv @ w + rng.normal(size=200)
        g, c = x.T @ x / n, x.T @ y / n

        def closed(lam):  # the converged ridge solution's validation loss
            return float(np.mean((xv @ np.linalg.solve(g + 2 * lam * np.eye(d), c) - yv) ** 2))

        grid = np.geomspace(1e-5, 10, 3001)
        best = grid[int(np.argmin([closed(lam) for lam in grid]))]
        xj, yj, xvj, yvj = map(jnp.asarray, (x, y, xv, yv))
        for steps in ((10, 100) if quick else (10, 30, 100, 300, 1000)):
            def objective(lam, steps=steps):
                out = jaxreg.fit(lambda w: 0.5 * jnp.mean((xj @ w - yj) ** 2), jnp.zeros(d),
                                 optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(0.2)), steps=steps)
                return jnp.mean((xvj @ out.params - yvj) ** 2)

            res = jaxreg.tune_hyperparams(objective, 0.1, steps=150, learning_rate=0.1, check=False)
            yield {"kind": "truncation", "train_steps": steps, "tuned_lambda": res.best_lams,
                   "optimal_lambda": float(best), "ratio": res.best_lams / float(best),
                   "converged_val_loss_at_tuned": closed(res.best_lams), "converged_val_loss_optimal": closed(best)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--out", help="append the JSON lines to this file too")
    parser.add_argument("--parts", nargs="+", choices=("cost", "ratio", "truncation"),
                        default=["cost", "ratio", "truncation"], help="which lines to measure")
    args = parser.parse_args()
    parts = {"cost": cost_lines, "ratio": ratio_lines, "truncation": truncation_lines}
    common = {"device": jaxreg.device_description(jax.devices()[0]), "jax": jax.__version__}
    for line in (line for part in args.parts for line in parts[part](args.quick)):
        line = {**line, **common, "load_avg_1m": os.getloadavg()[0]}
        text = json.dumps(line)
        print(text, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(text + "\n")


if __name__ == "__main__":
    main()

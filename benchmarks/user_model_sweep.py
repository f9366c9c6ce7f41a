"""A user's own model swept over λ: jaxreg.sweep vs a Python loop of jit(train) vs a hand-written jit(vmap(train)).

What a Python user gets with the default settings: JAX's one CPU device, on which a sweep runs one chunk per core at
once (`threads="auto"`); `--threads 1` measures one chunk at a time, `--cpu-cores` one device per core. Whole
calls are timed as the user waits for them, compilation included, then the same call again (jaxreg keeps its
compiled program; the loop and the vmap keep their jitted function). Every peer trains the same `train`
function, built afresh for each peer so that none finds another's compilation.

Workloads (1,200 standardised digits, 10 classes, momentum SGD, L2 decay toward 0 on the weights):
* `mlp`: a raw-JAX MLP, dense 64 → LayerNorm → GELU → dense 10, full batch, at K = 1, 64, 256 λ;
* `nnx`: the same MLP as a flax nnx module (skipped without flax), full batch, K λ × F cross-validation folds;
* `nnx_minibatch`: the nnx MLP trained as most networks are, on minibatches (`--batch-size`, `--mb-steps`) that
  `jaxreg.fit` draws, K λ × F folds. Full-batch steps on 1,200 rows keep a core's matmul units busy, so the loop
  has little left to gain; minibatch steps are small, which is where running models together pays;
* `cnn` (`--cnn-k`): a small raw-JAX CNN on the 8 × 8 images, full batch, K λ × F folds.

One JSON line per configuration: wall seconds per peer (first and second call), the ratios, each call's process CPU
seconds, the largest difference from the loop's results, the device (`jaxreg.device_description()`), the JAX CPU
devices and the load average before and after (other processes on the machine slow every peer, not equally: compare
ratios only from runs on an idle machine).

    python benchmarks/user_model_sweep.py                 # K = 1, 64, 256; nnx 64 × 4 folds, full and minibatch
    python benchmarks/user_model_sweep.py --cpu-cores     # with jaxreg.use_cpu_cores() first
    python benchmarks/user_model_sweep.py --quick         # a smoke run (small K, few steps)
    # on a GPU (benchmarks/gpu.sh, step user_models): K up to 4096, the loop timed on 64 models and scaled
    python benchmarks/user_model_sweep.py --ks 1 64 1024 4096 --nnx-k 1024 --cnn-k 256 --loop-max-k 64
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from typing import NamedTuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

import jaxreg  # noqa: E402

#: Samples of the digits data the models train on (the issue's workload).
N_SAMPLES = 1200
#: Hidden units of the MLP.
HIDDEN = 64
#: Step size and momentum of the SGD.
LEARNING_RATE, MOMENTUM = 0.1, 0.9
#: Step size of the minibatch SGD: with 0.1 the minibatch noise made the large-λ models chaotic (rounding-level
#: differences between two compilations grew to 0.14 in validation loss over 300 steps; 3e-5 at 0.05).
MINIBATCH_LEARNING_RATE = 0.05


def digits(n: int = N_SAMPLES):
    """The first ``n`` digits, standardised (NumPy: nothing computed on a JAX device yet)."""
    import numpy as np
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    return x[:n].astype(np.float32), y[:n].astype(np.int32)


def mlp_train(x, y, steps: int, fold_masks=None, batch_size=None):
    """A fresh ``train(lam[, fold])`` for the raw-JAX MLP (a new function object: no peer reuses another's
    compilation)."""
    import jax.numpy as jnp

    def init():
        k1, k2 = jax.random.split(jax.random.key(0))
        return {"w1": jax.random.normal(k1, (x.shape[1], HIDDEN)) * 0.1, "b1": jnp.zeros(HIDDEN),
                "scale": jnp.ones(HIDDEN), "bias": jnp.zeros(HIDDEN),
                "w2": jax.random.normal(k2, (HIDDEN, 10)) * 0.1, "b2": jnp.zeros(10)}

    def predict(p, xs):
        h = xs @ p["w1"] + p["b1"]
        mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
        h = (h - mu) * jax.lax.rsqrt(var + 1e-5) * p["scale"] + p["bias"]
        return jax.nn.gelu(h) @ p["w2"] + p["b2"]

    return _train_fn(predict, init, x, y, steps, fold_masks, batch_size)


def nnx_train(x, y, steps: int, fold_masks=None, batch_size=None):
    """A fresh ``train(lam[, fold])`` for the same MLP written as a flax nnx module."""
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.dense1 = nnx.Linear(x.shape[1], HIDDEN, rngs=rngs)
            self.norm = nnx.LayerNorm(HIDDEN, rngs=rngs)
            self.dense2 = nnx.Linear(HIDDEN, 10, rngs=rngs)

        def __call__(self, xs):
            return self.dense2(jax.nn.gelu(self.norm(self.dense1(xs))))

    graphdef, _ = nnx.split(MLP(nnx.Rngs(0)))  # the module's structure (static); its parameters come from init

    def init():
        return nnx.split(MLP(nnx.Rngs(0)))[1]

    def predict(p, xs):
        return nnx.merge(graphdef, p)(xs)

    return _train_fn(predict, init, x, y, steps, fold_masks, batch_size)


def cnn_train(x, y, steps: int, fold_masks=None, batch_size=None):
    """A fresh ``train(lam[, fold])`` for a small raw-JAX CNN on the 8 × 8 images (no flax needed, so it also runs
    on machines without it): two 3 × 3 convolutions (8 and 16 channels, ReLU, 2 × 2 average pooling after the
    first), then a dense layer to the 10 classes."""
    import jax.numpy as jnp

    def conv(h, w):
        return jax.lax.conv_general_dilated(h, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def init():
        k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
        return {"c1": jax.random.normal(k1, (3, 3, 1, 8)) / 3.0, "b1": jnp.zeros(8),
                "c2": jax.random.normal(k2, (3, 3, 8, 16)) / jnp.sqrt(72.0), "b2": jnp.zeros(16),
                "w": jax.random.normal(k3, (4 * 4 * 16, 10)) / 16.0, "b": jnp.zeros(10)}

    def predict(p, xs):
        h = jax.nn.relu(conv(xs.reshape(-1, 8, 8, 1), p["c1"]) + p["b1"])
        h = h.reshape(h.shape[0], 4, 2, 4, 2, 8).mean((2, 4))  # 2 × 2 average pooling
        h = jax.nn.relu(conv(h, p["c2"]) + p["b2"])
        return h.reshape(h.shape[0], -1) @ p["w"] + p["b"]

    return _train_fn(predict, init, x, y, steps, fold_masks, batch_size)


def _train_fn(predict, init, x, y, steps: int, fold_masks, batch_size=None):
    """``train(lam)`` (or ``train(lam, fold)`` with ``fold_masks``): momentum SGD with an L2 decay of the weight
    matrices, full batch or on ``batch_size`` samples a step drawn by ``fit`` (held-out samples weigh 0),
    returning the validation loss (training loss without folds) and the weights' norm."""
    import jax.numpy as jnp
    import optax

    xj, yj = jnp.asarray(x), jnp.asarray(y)
    masks = None if fold_masks is None else jnp.asarray(fold_masks)

    def loss(p, xs, ys, weights):
        ce = optax.softmax_cross_entropy_with_integer_labels(predict(p, xs), ys)
        return jnp.sum(ce * weights) / jnp.maximum(jnp.sum(weights), 1.0)

    def train(lam, fold=None):
        held_out = jnp.zeros(len(yj), bool) if masks is None else masks[fold]
        p0 = init()
        decay_mask = jax.tree.map(lambda a: a.ndim >= 2, p0)  # dense and convolution kernels
        rate = LEARNING_RATE if batch_size is None else MINIBATCH_LEARNING_RATE
        opt = optax.chain(jaxreg.add_l2_decay(lam, mask=decay_mask), optax.sgd(rate, momentum=MOMENTUM))
        if batch_size is None:
            fitted = jaxreg.fit(lambda p: loss(p, xj, yj, ~held_out), p0, opt, steps=steps).params
        else:
            data = (xj, yj, (~held_out).astype(xj.dtype))
            fitted = jaxreg.fit(lambda p, b: loss(p, *b), p0, opt, steps=steps, data=data, batch_size=batch_size,
                                key=jax.random.key(1)).params
        scored = held_out if masks is not None else ~held_out
        weights = jax.tree.leaves(jax.tree.map(lambda a, m: jnp.sum(a**2) if m else 0.0, fitted, decay_mask))
        return {"val_loss": loss(fitted, xj, yj, scored), "weight_norm": jnp.sqrt(sum(weights))}

    return train if masks is not None else (lambda lam: train(lam))


def _wall(fn, cpu: dict, name: str):
    """``fn()``'s result and wall seconds; its process CPU seconds go to ``cpu[name]`` (CPU time counts the work
    done whatever else runs on the machine, wall time what the user waits)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(fn())
    cpu[name] = time.process_time() - c0
    return out, time.perf_counter() - t0


def peers(make_train, lams, folds: int | None, threads: int | str = "auto", loop_max: int | None = None) -> dict:
    """Each peer's first and second whole call (seconds) and results; a fresh train function per peer. The loop
    runs at most ``loop_max`` models; its times are then scaled to the grid (``loop_models_timed`` says so)."""
    import jax.numpy as jnp
    import numpy as np

    flat_folds = None if folds is None else np.repeat(np.arange(folds, dtype=np.int32), len(lams))
    flat_lams = lams if folds is None else np.tile(lams, folds)
    rec, cpu = {}, {}

    train = make_train()
    call = lambda: jaxreg.sweep(train, lams, folds=folds, threads=threads, return_stats=True)  # noqa: E731
    (out, stats), rec["jaxreg_s"] = _wall(call, cpu, "jaxreg")
    (_, stats2), rec["jaxreg_second_s"] = _wall(call, cpu, "jaxreg_second")
    rec.update(jaxreg_compile_s=stats["compile_s"], jaxreg_second_compiled=stats2["n_compiled"],
               vmap_size=stats["vmap_size"], n_devices=stats["n_devices"], threads=stats["threads"])
    mine = np.asarray(out["val_loss"]).reshape(-1)

    single = jax.jit(make_train())
    args = list(zip(flat_lams, flat_folds)) if folds else [(lam,) for lam in flat_lams]
    timed = args[: loop_max or len(args)]
    loop, first = _wall(lambda: [single(*a) for a in timed], cpu, "loop")
    _, second = _wall(lambda: [single(*a) for a in timed], cpu, "loop_second")
    scale = len(args) / len(timed)  # the models not run cost what the timed ones did on the second call
    rec.update(loop_s=first + second * (scale - 1), loop_second_s=second * scale, loop_models_timed=len(timed))

    batched = jax.jit(jax.vmap(make_train()))
    vargs = (jnp.asarray(flat_lams),) + ((jnp.asarray(flat_folds),) if folds else ())
    _, rec["naive_vmap_s"] = _wall(lambda: batched(*vargs), cpu, "naive_vmap")
    _, rec["naive_vmap_second_s"] = _wall(lambda: batched(*vargs), cpu, "naive_vmap_second")

    ref = np.array([float(r["val_loss"]) for r in loop])
    rec["max_abs_diff_vs_loop"] = float(np.nanmax(np.abs(mine[: len(ref)] - ref)))
    for peer in ("loop", "naive_vmap"):
        rec[f"vs_{peer}"] = rec[f"{peer}_s"] / rec["jaxreg_s"]
        rec[f"second_vs_{peer}"] = rec[f"{peer}_second_s"] / rec["jaxreg_second_s"]
    rec["cpu_s"] = {name: round(v, 3) for name, v in cpu.items()}
    return rec


class Config(NamedTuple):
    """One measured workload: a model, its grid and how it trains."""

    name: str
    build: Callable  # build(x, y, steps, fold_masks, batch_size) -> train
    k: int  # λ values
    folds: int | None  # cross-validation folds (None: none)
    steps: int
    batch_size: int | None  # samples a step (None: full batch)


def configs(args) -> list[Config]:
    """The workloads the arguments ask for; the flax ones only where flax is installed."""
    out = [Config("mlp", mlp_train, k, None, args.steps, None) for k in args.ks]
    try:
        import flax.nnx  # noqa: F401
    except ImportError:
        print("flax is not installed: the nnx sweeps are skipped", file=sys.stderr)
    else:
        if args.nnx_k:
            out.append(Config("nnx", nnx_train, args.nnx_k, args.folds, args.steps, None))
        if args.nnx_mb_k:
            out.append(Config("nnx_minibatch", nnx_train, args.nnx_mb_k, args.folds, args.mb_steps, args.batch_size))
    if args.cnn_k:
        out.append(Config("cnn", cnn_train, args.cnn_k, args.folds, args.steps, None))
    return out


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 64, 256], help="λ per MLP configuration")
    ap.add_argument("--steps", type=int, default=100, help="full-batch steps")
    ap.add_argument("--nnx-k", type=int, default=64, help="λ of the full-batch flax nnx sweep (0: skip it)")
    ap.add_argument("--nnx-mb-k", type=int, default=64, help="λ of the minibatch flax nnx sweep (0: skip it)")
    ap.add_argument("--batch-size", type=int, default=128, help="samples a step of the minibatch sweep")
    ap.add_argument("--mb-steps", type=int, default=300, help="steps of the minibatch sweep")
    ap.add_argument("--cnn-k", type=int, default=0, help="λ of the raw-JAX CNN sweep (0: skip it)")
    ap.add_argument("--folds", type=int, default=4, help="cross-validation folds of the nnx and CNN sweeps")
    ap.add_argument("--loop-max-k", type=int, help="run the loop on at most this many models and scale its time "
                    "(a GPU's K = 4096 loop would take minutes)")
    ap.add_argument("--cpu-cores", action="store_true", help="call jaxreg.use_cpu_cores() first")
    ap.add_argument("--threads", type=int, help="sweep(threads=...) (default: 'auto')")
    ap.add_argument("--quick", action="store_true", help="smoke run: K = 8; 5 steps; nnx 4 × 2 folds")
    args = ap.parse_args(argv)
    if args.quick:
        args.ks, args.steps, args.mb_steps, args.nnx_k, args.folds = [8], 5, 5, 4, 2
        args.nnx_mb_k, args.cnn_k = min(args.nnx_mb_k, 4), min(args.cnn_k, 4)
    return args


def main(argv=None) -> None:
    args = parse(argv)
    if args.cpu_cores:
        jaxreg.use_cpu_cores()

    import numpy as np

    x, y = digits()
    # JAX's and XLA's one-time start-up (the first compilation of a process is the slowest), outside every peer's
    # time: a one-step model of each kind, a different program from every peer's
    for build in (mlp_train, nnx_train, cnn_train):
        try:
            jax.jit(build(x, y, 1)).lower(np.float32(0.1)).compile()
        except ImportError:  # flax is not installed
            pass
    common = {"device": jaxreg.device_description(), "cpu_devices": len(jax.devices("cpu")),
              "use_cpu_cores": args.cpu_cores, "n_samples": len(y), "hidden": HIDDEN}
    for c in configs(args):
        lams = np.geomspace(1e-4, 1e-1, c.k).astype(np.float32)
        masks = jaxreg.kfold_masks(len(y), c.folds) if c.folds else None
        load = os.getloadavg()[0]
        make_train = functools.partial(c.build, x, y, c.steps, masks, c.batch_size)  # a fresh train per call
        rec = peers(make_train, lams, c.folds, args.threads or "auto", args.loop_max_k)
        print(json.dumps({"bench": "user_model_sweep", "model": c.name, "k": c.k, "folds": c.folds,
                          "n_models": c.k * (c.folds or 1), "steps": c.steps, "batch_size": c.batch_size,
                          "threads_asked": args.threads or "auto", **common,
                          **rec, "load_avg": [round(load, 2), round(os.getloadavg()[0], 2)]}), flush=True)


if __name__ == "__main__":
    main()

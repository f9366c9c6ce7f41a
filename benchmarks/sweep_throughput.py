"""Sweep throughput on workload W1: jaxreg.sweep vs a hand-written jit(vmap) vs a Python loop.

W1: 2-layer MLP on bundled digits (1797 × 64, 10 classes), full batch, `--steps` SGD steps,
L2 decay + L1 sign step, float32; `--hidden 0` is the logistic-regression variant. All three
peers are measured in the same run on the same device, with a large matmul as the FLOP/s
ceiling. One JSON line per configuration with --json; a plot of models/s vs K.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

import jaxreg  # noqa: E402
from jaxreg.engine._devices import device_description, use_cpu_cores  # noqa: E402

use_cpu_cores(strict=False)  # one CPU device per core for jaxreg.sweep (loop and naive vmap run on device 0)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from jaxreg import models  # noqa: E402
from jaxreg.models import KernelConfig, kernel_applies, kernel_hbm_bytes  # noqa: E402


def digits():
    """W1's data: standardised digits (1797 × 64) and labels."""
    x, y = load_digits(return_X_y=True)
    return jnp.asarray((x - x.mean(0)) / (x.std(0) + 1e-8), jnp.float32), jnp.asarray(y)


def workload(hidden: int, steps: int, compute_dtype=None, fused: bool | None = False, layout: str | None = None,
             kernel_config: KernelConfig | None = None):
    """W1's train(λ) and one_step(λ). ``fused``: the loss from jaxreg.models.data_loss (None: its fused GPU
    kernel on a GPU, launched as ``kernel_config`` says, its samples-minor layout on a CPU); False: the
    hand-written loss (predict + optax cross-entropy, as a user without jaxreg writes it) that the naive
    vmap and the loop use."""
    x, y = digits()

    def init():
        k1, k2 = jax.random.split(jax.random.key(0))
        if hidden == 0:
            return {"w": jnp.zeros((64, 10)), "b": jnp.zeros(10)}
        return {"w1": jax.random.normal(k1, (64, hidden)) * 0.1, "b1": jnp.zeros(hidden),
                "w2": jax.random.normal(k2, (hidden, 10)) * 0.1, "b2": jnp.zeros(10)}

    def loss(p):  # compute_dtype=bfloat16: matmuls in bf16, params and loss in float32 (jaxreg.models)
        if fused is not False:  # jaxreg's loss (logistic regression when hidden == 0)
            return models.data_loss("classification", p, x, y, compute_dtype=compute_dtype, fused=fused,
                                    layout=layout, kernel_config=kernel_config)
        h = models.predict(p, x, compute_dtype=compute_dtype)
        return optax.softmax_cross_entropy_with_integer_labels(h, y).mean()

    def optimizer(lam):
        return optax.chain(jaxreg.add_l2_decay(lam), jaxreg.add_l1_sign(lam), optax.sgd(0.1))

    def train(lam):
        p = jaxreg.fit(loss, init(), optimizer(lam), steps=steps).params
        return {"val": loss(p), "zeros": jnp.mean(jax.flatten_util.ravel_pytree(p)[0] == 0),
                "accuracy": jnp.mean(jnp.argmax(models.predict(p, x), -1) == y)}

    def one_step(lam):  # for XLA's cost analysis: FLOPs and bytes of a single training step
        opt = optimizer(lam)
        p = jax.tree.map(lambda a: a * (1 + lam), init())  # params that depend on λ: under vmap, K gradients
        u, _ = opt.update(jax.grad(loss)(p), opt.init(p), p)
        return optax.apply_updates(p, u)

    return train, one_step


def timed(f, *args, repeat: int = 1):
    """Best of `repeat` warm runs (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def timed_fresh(fn, arg, calls, repeat: int = 1) -> tuple[float, float]:
    """(best run seconds, compile seconds): compile `fn` anew, then time `calls` as a user's first runs.

    A freshly compiled executable's first run is slower than later ones (warm-up), and jaxreg.sweep's run
    time includes it; timing every peer from a fresh compilation keeps them comparable.
    """
    best, comp = float("inf"), float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        compiled = jax.jit(lambda *a: fn(*a)).lower(arg).compile()  # a new function: no cache hit
        comp = min(comp, time.perf_counter() - t0)
        t0 = time.perf_counter()
        jax.block_until_ready([compiled(a) for a in calls])
        best = min(best, time.perf_counter() - t0)
    return best, comp


def matmul_ceiling(dtype=None) -> float:
    """FLOP/s of a large matmul on random data in ``dtype`` (default float32: TF32 on a GPU, XLA's default
    precision; bfloat16 for the bf16 mode's rows)."""
    n = 4096 if jax.devices()[0].platform != "cpu" else 2048
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dtype or jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    reps = 5 if jax.devices()[0].platform == "cpu" else 50
    t = timed(lambda: [f(a) for _ in range(reps)][-1], repeat=3)
    return 2 * n**3 * reps / t


def bandwidth_ceiling() -> float:
    """Bytes/s of device memory: ``a + 1`` over a large float32 array (bytes read + bytes written), best of 3."""
    n = (1 << 26) if jax.devices()[0].platform != "cpu" else (1 << 24)  # 256 MiB on a GPU, 64 MiB on a CPU
    a = jax.random.normal(jax.random.key(1), (n,), jnp.float32)
    f = jax.jit(lambda a: a + 1.0)
    f(a).block_until_ready()
    reps = 3 if jax.devices()[0].platform == "cpu" else 20
    t = timed(lambda: [f(a) for _ in range(reps)][-1], repeat=3)
    return 2 * 4 * n * reps / t


def cost(fn, *args, hlo_path: str | None = None) -> tuple[float, float]:
    """XLA's (FLOPs, bytes accessed) of ``fn(*args)``; ``hlo_path``: also write its optimised HLO there."""
    compiled = jax.jit(fn).lower(*args).compile()
    if hlo_path:
        os.makedirs(os.path.dirname(hlo_path), exist_ok=True)
        with open(hlo_path, "w") as f:
            f.write(compiled.as_text())
    ca = compiled.cost_analysis()
    ca = ca[0] if isinstance(ca, list) else ca
    return float(ca.get("flops", 0.0)), float(ca.get("bytes accessed", 0.0))


def bench(k: int, hidden: int, steps: int, loop_subset: int, ceiling: float, bandwidth: float, compute_dtype=None,
          layout: str | None = None, compiler_options: dict | None = None,
          kernel_config: KernelConfig | None = None) -> dict:
    kernel_config = kernel_config or KernelConfig()
    train, one_step = workload(hidden, steps, compute_dtype)
    train_jaxreg, one_step_jaxreg = workload(hidden, steps, compute_dtype, fused=None, layout=layout,
                                             kernel_config=kernel_config)
    x, _ = digits()  # does models.data_loss run the fused kernel for this shape here (jaxreg.models' decision)?
    fused = bool(hidden) and kernel_applies({"w2": jnp.zeros((hidden, 10))}, x, kernel_config)
    lams = np.geomspace(1e-4, 1e-1, k).astype(np.float32)

    # Each peer: best of `repeat` runs, each from a fresh compilation (3 for short runs: noise dominates).
    repeat = 3 if k * (steps / 200) * max(hidden, 8) <= 64 * 8 else 1

    # jaxreg.sweep: compile + run as a user sees it; the rate counts the run only.
    runs = [jaxreg.sweep(train_jaxreg, lams, return_stats=True, progress=False, compiler_options=compiler_options)
            for _ in range(repeat)]
    out, stats = min(runs, key=lambda r: r[1]["run_s"])
    jaxreg_rate = k / stats["run_s"]

    # hand-written naive jit(vmap(train)), on the default device
    t, naive_compile = timed_fresh(jax.vmap(train), lams, [lams], repeat)
    naive_rate = k / t

    # Python loop of one jitted single-model training (a subset, extrapolated per model)
    sub = list(lams[: min(k, loop_subset)])
    t, _ = timed_fresh(train, lams[0], sub, repeat)
    loop_rate = len(sub) / t
    # the same loop with jaxreg's loss (models.data_loss): what the sweep adds beyond jaxreg's faster loss
    t, _ = timed_fresh(train_jaxreg, lams[0], sub, repeat)
    loop_jaxreg_loss_rate = len(sub) / t

    step_flops, _ = cost(one_step, lams[0])
    _, step_bytes_k = cost(jax.vmap(one_step), lams)
    _, jaxreg_bytes_k = cost(jax.vmap(one_step_jaxreg), lams)
    flops_per_model = step_flops * steps
    # XLA's cost analysis does not see inside the fused kernel: its own traffic is added from
    # jaxreg.models.kernel_hbm_bytes, which counts x once per model; the K models of a launch share x in L2, so
    # at least x once per launch
    kernel_bytes = kernel_hbm_bytes(*x.shape, hidden, 10, k, compute_dtype, config=kernel_config) if fused else 0
    jaxreg_bytes = jaxreg_bytes_k / k + kernel_bytes
    x_bytes = x.shape[0] * x.shape[1] * jnp.dtype(compute_dtype or jnp.float32).itemsize
    jaxreg_min_bytes = jaxreg_bytes - (x_bytes * (1 - 1 / k) if fused else 0)
    # the roofline: a model-step takes at least its FLOPs at the matmul ceiling and its fewest bytes at the
    # bandwidth ceiling; the ~5-pass floor (issue 5): a forward + backward step moves the (n, hidden) activation ~5×
    roofline_step_s = max(step_flops / ceiling, jaxreg_min_bytes / bandwidth)
    return {
        "k": k, "hidden": hidden, "steps": steps, "device": device_description(),
        "platform": jax.devices()[0].platform,
        "jaxreg_models_per_s": jaxreg_rate, "naive_vmap_models_per_s": naive_rate, "loop_models_per_s": loop_rate,
        "jaxreg_vs_loop": jaxreg_rate / loop_rate, "jaxreg_vs_naive_vmap": jaxreg_rate / naive_rate,
        "naive_vmap_vs_loop": naive_rate / loop_rate,
        "loop_jaxreg_loss_models_per_s": loop_jaxreg_loss_rate,
        "jaxreg_vs_loop_jaxreg_loss": jaxreg_rate / loop_jaxreg_loss_rate,
        "jaxreg_compile_s": stats["compile_s"], "naive_vmap_compile_s": naive_compile,
        "jaxreg_vmap_size": stats["vmap_size"], "chunk_size": stats["chunk_size"],
        "jaxreg_compiler_options": stats["compiler_options"],
        "peak_memory_per_model_bytes": (stats["memory_per_chunk_bytes"] or 0) / stats["chunk_size"],
        "flops_per_model": flops_per_model, "jaxreg_achieved_flops": flops_per_model * jaxreg_rate,
        "matmul_ceiling_flops": ceiling, "jaxreg_fraction_of_ceiling": flops_per_model * jaxreg_rate / ceiling,
        "naive_vmap_bytes_per_model_step": step_bytes_k / k,
        "jaxreg_bytes_per_model_step": jaxreg_bytes,
        "jaxreg_min_bytes_per_model_step": jaxreg_min_bytes,
        "five_pass_floor_bytes_per_model_step": 5 * x.shape[0] * max(hidden, 10) * 4,
        "bandwidth_ceiling_bytes_per_s": bandwidth,
        "jaxreg_achieved_bytes_per_s": jaxreg_min_bytes * steps * jaxreg_rate,
        "jaxreg_fraction_of_bandwidth": jaxreg_min_bytes * steps * jaxreg_rate / bandwidth,
        "naive_vmap_fraction_of_bandwidth": step_bytes_k / k * steps * naive_rate / bandwidth,
        "roofline_models_per_s": 1.0 / (roofline_step_s * steps),
        "jaxreg_fraction_of_roofline": jaxreg_rate * roofline_step_s * steps,
        "jaxreg_fused_kernel": fused,
        "fused_config": dataclasses.asdict(kernel_config) if fused else None,
        "matmul_ceiling_dtype": str(jnp.dtype(compute_dtype or jnp.float32)),
        "loop_models_measured": len(sub),
        "compute_dtype": str(jnp.dtype(compute_dtype or jnp.float32)),
        "layout": layout or "default",
        "n_devices": stats["n_devices"],
        "accuracy_mean": float(np.mean(out["accuracy"])),
    }


def scale(steps: int, chunk_sizes: list[int], big_k: int, ks: list[int],
          compiler_options: dict | None = None) -> list[dict]:
    """Compile time vs K (hidden 8), and K = big_k (0: skipped) by automatic chunking vs fixed chunk sizes."""
    train, _ = workload(8, steps)
    rows = []
    for k in ks:
        _, st = jaxreg.sweep(train, np.geomspace(1e-4, 1e-1, k).astype(np.float32), return_stats=True,
                             progress=False, compiler_options=compiler_options)
        rows.append({"kind": "compile_vs_k", "k": k, "hidden": 8, "steps": steps, "compile_s": st["compile_s"],
                     "run_s": st["run_s"], "vmap_size": st["vmap_size"], "device": device_description(),
                     "compiler_options": st["compiler_options"]})
        print(json.dumps(rows[-1]), flush=True)
    lams = np.geomspace(1e-4, 1e-1, big_k).astype(np.float32)
    for cs in [None, *chunk_sizes] if big_k else []:
        _, st = jaxreg.sweep(train, lams, chunk_size=cs, return_stats=True, progress=False,
                             compiler_options=compiler_options)
        rows.append({"kind": "large_k", "k": big_k, "hidden": 8, "steps": steps, "chunk_size_asked": cs,
                     "chunk_size": st["chunk_size"], "n_chunks": st["n_chunks"], "run_s": st["run_s"],
                     "compile_s": st["compile_s"], "models_per_s": big_k / st["run_s"], "device": device_description(),
                     "memory_per_chunk_bytes": st["memory_per_chunk_bytes"]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hiddens = sorted({r["hidden"] for r in rows})
    fig, axes = plt.subplots(1, len(hiddens), figsize=(5 * len(hiddens), 3.8), squeeze=False)
    for ax, h in zip(axes[0], hiddens):
        rs = sorted((r for r in rows if r["hidden"] == h), key=lambda r: r["k"])
        ks = [r["k"] for r in rs]
        for key, label, style in (("jaxreg_models_per_s", "jaxreg.sweep", "-o"),
                                  ("naive_vmap_models_per_s", "naive jit(vmap)", "--s"),
                                  ("loop_models_per_s", "loop of jit(train)", ":^")):
            ax.plot(ks, [r[key] for r in rs], style, label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("K (models)")
        ax.set_title(f"W1, hidden {h} ({rs[0]['device']})" if h else f"logistic ({rs[0]['device']})")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("models / s")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def compiler_options(parser: argparse.ArgumentParser, items: list[str]) -> dict | None:
    """``--compiler-option NAME=VALUE`` items as a dict (``None`` when there are none: jaxreg.sweep's defaults)."""
    if not items:
        return None
    options = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--compiler-option takes NAME=VALUE, got {item!r}")
        try:
            options[name] = json.loads(value)
        except ValueError:
            options[name] = value
    return options


def parse_kernel_config(parser: argparse.ArgumentParser, text: str | None) -> KernelConfig:
    """``--fused-config`` (a JSON object of jaxreg.models.KernelConfig fields) as a KernelConfig; absent: the
    defaults."""
    try:
        fields = json.loads(text) if text else {}
        if not isinstance(fields, dict):
            raise ValueError(f"a JSON object of KernelConfig fields, got {type(fields).__name__}")
        return KernelConfig(**fields)
    except (TypeError, ValueError) as e:  # bad JSON, an unknown field, or a value KernelConfig refuses
        parser.error(f"--fused-config: {e}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--k", type=int, nargs="+", default=[1, 8, 64, 128])
    p.add_argument("--hidden", type=int, nargs="+", default=[8, 128, 0], help="0 = logistic regression")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--loop-subset", type=int, default=8, help="models timed in the loop (rate extrapolated)")
    p.add_argument("--json", action="store_true", help="one JSON line per configuration")
    p.add_argument("--compute-dtype", default=None, help="bfloat16: the opt-in mixed-precision mode")
    p.add_argument("--layout", default=None, choices=models.LAYOUTS,
                   help="jaxreg's loss in this layout (models.data_loss(layout=); default: its own choice)")
    p.add_argument("--scale", action="store_true", help="only: compile time vs K, and K=--big-k auto vs fixed chunks")
    p.add_argument("--scale-k", type=int, nargs="+", default=[1, 8, 64, 256, 1024, 4096],
                   help="--scale: the K whose compile time is measured")
    p.add_argument("--big-k", type=int, default=100_000, help="--scale: K for the chunking rows (0: none)")
    p.add_argument("--compiler-option", action="append", default=[], metavar="NAME=VALUE",
                   help="an XLA option for jaxreg.sweep's compilation (repeatable; VALUE read as JSON if it parses, "
                        "else as text), e.g. xla_gpu_autotune_level=0; default: jaxreg.sweep's own")
    p.add_argument("--chunk-sizes", type=int, nargs="+", default=[4096, 16384])
    p.add_argument("--fused-config", metavar="JSON",
                   help="the fused GPU kernel's launch configuration: jaxreg.models.KernelConfig fields as a JSON "
                        "object, e.g. '{\"tile\": 64}' (sweep_layouts.py --best-config writes one); default: "
                        "KernelConfig()")
    p.add_argument("--plot", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "sweep_throughput.png"))
    args = p.parse_args()
    options = compiler_options(p, args.compiler_option)
    config = parse_kernel_config(p, args.fused_config)
    if args.scale:
        scale(args.steps, args.chunk_sizes, args.big_k, args.scale_k, options)
        return
    ceiling, bandwidth = matmul_ceiling(args.compute_dtype), bandwidth_ceiling()
    rows = []
    for h in args.hidden:
        for k in args.k:
            r = bench(k, h, args.steps, args.loop_subset, ceiling, bandwidth, args.compute_dtype, args.layout,
                      options, config)
            rows.append(r)
            if args.json:
                print(json.dumps(r), flush=True)
            else:
                print(f"hidden {h:>4} K {k:>5}: jaxreg {r['jaxreg_models_per_s']:8.1f}  "
                      f"naive {r['naive_vmap_models_per_s']:8.1f}  loop {r['loop_models_per_s']:8.1f} "
                      f"(with jaxreg's loss {r['loop_jaxreg_loss_models_per_s']:.1f}) models/s  "
                      f"(×{r['jaxreg_vs_loop']:.2f} loop, "
                      f"×{r['jaxreg_vs_naive_vmap']:.2f} naive; vmap_size {r['jaxreg_vmap_size']}; "
                      f"{r['jaxreg_fraction_of_ceiling']:.0%} of {r['matmul_ceiling_flops'] / 1e9:.0f} GFLOP/s)",
                      flush=True)
    plot(rows, args.plot)
    print(args.plot, file=sys.stderr)


if __name__ == "__main__":
    main()

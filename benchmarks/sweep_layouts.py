"""Where W1's bytes go on one device: the naive jit(vmap) against other formulations of the same K trainings.

Each variant trains the same K models of workload W1 (benchmarks/sweep_throughput.py: 2-layer MLP on
digits, full batch, `--steps` SGD steps of size 0.1 with L2 decay + L1 sign step, float32):

* ``naive_vmap``: ``jit(vmap(train))`` of the one-model training (jaxreg.fit + optax chain);
* ``sweep_vmap_G``: ``jaxreg.sweep(train, lams, vmap_size=G)``: groups of G vmapped models, one group
  after another (activations of a group small enough to stay in cache);
* ``stacked_nkh`` / ``stacked_knh``: hand-written training of the stacked params with explicit einsums,
  the hidden activations laid out (samples, models, hidden) or (models, samples, hidden);
* ``naive_vmap_bf16``: the naive vmap with bfloat16 matmuls (jaxreg.models' compute_dtype);
* ``fused_*`` (GPU only): the naive vmap with the loss from jaxreg.models' fused kernel (forward and backward
  in one Pallas kernel, activations never in memory), one variant per launch configuration
  (``--fused-configs``: jaxreg.models.KernelConfig fields); the fastest is written to ``--best-config``
  (JSON, for sweep_throughput.py's ``--fused-config``) and also run in bf16, and fused and XLA at each
  ``--small-k``.

Per variant: models/s (best of `--repeat` runs after compilation), compile seconds, XLA's cost analysis of
ONE training step (bytes accessed and FLOPs per model-step) and the mean training accuracy (the variants
must agree). `--hlo DIR` writes each one-step program's optimised HLO there. One JSON line per variant.
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
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import jaxreg  # noqa: E402
from benchmarks.sweep_throughput import cost, digits, workload  # noqa: E402
from jaxreg.engine._devices import device_description  # noqa: E402
from jaxreg.models import KernelConfig  # noqa: E402

LR = 0.1
MAX_VAL_DIFF = 2e-3  # the largest relative difference of a final loss from the naive vmap's for a usable config
# The launch configurations timed by default, as jaxreg.models.KernelConfig fields (first: the defaults): the ones
# not yet measured on a GPU (docs/design/gpu-kernel.md lists those measured and dropped).
FUSED_CONFIGS = [{}, {"pretransposed": True}, {"pretransposed": True, "num_stages": 3},
                 {"two_pass": True, "tile": 64}, {"two_pass": True, "tile": 64, "num_warps": 8}]


def stacked_init(k: int, hidden: int):
    """The naive workload's init (same key for every model), stacked K times."""
    k1, k2 = jax.random.split(jax.random.key(0))
    one = {"w1": jax.random.normal(k1, (64, hidden)) * 0.1, "b1": jnp.zeros(hidden),
           "w2": jax.random.normal(k2, (hidden, 10)) * 0.1, "b2": jnp.zeros(10)}
    return jax.tree.map(lambda a: jnp.broadcast_to(a, (k, *a.shape)), one)


def stacked_logits(p, x, layout: str):
    if layout == "nkh":
        h = jax.nn.relu(jnp.einsum("nd,kdh->nkh", x, p["w1"]) + p["b1"])
        return jnp.einsum("nkh,khc->nkc", h, p["w2"]) + p["b2"]  # (n, k, c)
    h = jax.nn.relu(jnp.einsum("nd,kdh->knh", x, p["w1"]) + p["b1"][:, None])
    return jnp.einsum("knh,khc->knc", h, p["w2"]) + p["b2"][:, None]  # (k, n, c)


def stacked_loss(p, x, y, layout: str):
    """Σ over models of each model's mean cross-entropy (its gradient is every model's own gradient)."""
    logits = stacked_logits(p, x, layout)
    yy = y[:, None] if layout == "nkh" else y[None, :]
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.broadcast_to(yy, logits.shape[:2]))
    return ce.sum() / x.shape[0]


def stacked_step(p, lams, x, y, layout):
    g = jax.grad(stacked_loss)(p, x, y, layout)

    def upd(w, gw):  # u = g + 2λw + λ sign(w); w ← w − α u (the naive chain's update)
        lam = lams.reshape((-1,) + (1,) * (w.ndim - 1))
        return w - LR * (gw + 2 * lam * w + lam * jnp.sign(w))

    return jax.tree.map(upd, p, g)


def stacked_train(k, hidden, steps, layout):
    x, y = digits()

    def run(lams):
        p = jax.lax.fori_loop(0, steps, lambda _, p: stacked_step(p, lams, x, y, layout), stacked_init(k, hidden))
        logits = stacked_logits(p, x, layout)
        pred = jnp.argmax(logits, -1)
        yy = y[:, None] if layout == "nkh" else y[None, :]
        return {"accuracy": jnp.mean(pred == yy, axis=0 if layout == "nkh" else 1)}

    def one_step(lams):  # params scaled as in the naive workload's one_step
        p = jax.tree.map(lambda a: a * (1 + lams.reshape((-1,) + (1,) * (a.ndim - 1))), stacked_init(k, hidden))
        return stacked_step(p, lams, x, y, layout)

    return run, one_step


def time_variant(name, fn, lams, k, repeat, one_step=None, hlo_dir=None, **extra):
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(lams).compile()
    compile_s = time.perf_counter() - t0
    out = jax.block_until_ready(compiled(lams))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(lams))
        best = min(best, time.perf_counter() - t0)
    row = {"variant": name, "k": k, "models_per_s": k / best, "run_s": best, "compile_s": compile_s,
           "accuracy_mean": float(np.mean(out["accuracy"])), "device": device_description(), **extra}
    if one_step is not None:
        flops, nbytes = cost(one_step, lams, hlo_path=hlo_dir and os.path.join(hlo_dir, f"{name}_step.hlo.txt"))
        row.update(flops_per_model_step=flops / k, bytes_per_model_step=nbytes / k)
    return row, out


def fused_rows(k, h, s, lams, repeat, configs, naive_out, extra, hlo_dir):
    """The fused kernel under each launch configuration (KernelConfig fields); its results must equal the naive
    vmap's."""
    rows = []
    for fields in configs:
        name = "fused_" + ("_".join(f"{key}{v}" for key, v in fields.items()) or "default")
        try:
            config = KernelConfig(**fields)
            train, one_step = workload(h, s, None, fused=True, kernel_config=config)
            row, out = time_variant(name, jax.vmap(train), lams, k, repeat, jax.vmap(one_step), hlo_dir,
                                    config=dataclasses.asdict(config), **extra)
            row["val_max_rel_diff_vs_naive"] = float(np.max(np.abs(out["val"] - naive_out["val"])
                                                            / np.abs(naive_out["val"])))
        except Exception as e:  # a configuration KernelConfig refuses or Triton cannot compile: say so, try the next
            row = {"variant": name, "config": fields, "error": f"{type(e).__name__}: {str(e)[:300]}"}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--k", type=int, default=1024)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--groups", type=int, nargs="*", default=[32, 128])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--hlo", metavar="DIR", help="write each variant's one-step optimised HLO here")
    p.add_argument("--fused-configs", default=json.dumps(FUSED_CONFIGS),
                   help="JSON list of jaxreg.models.KernelConfig fields to time (GPU), one object per "
                        "configuration; '' for none")
    p.add_argument("--best-config", metavar="FILE", help="write the fastest fused configuration here (JSON)")
    p.add_argument("--small-k", type=int, nargs="*", default=[1, 8, 64], help="fused vs XLA at these K (GPU)")
    p.add_argument("--skip-stacked", action="store_true", help="only the naive vmap and the fused kernel")
    args = p.parse_args()
    k, h, s = args.k, args.hidden, args.steps
    lams = jnp.asarray(np.geomspace(1e-4, 1e-1, k).astype(np.float32))
    extra = {"hidden": h, "steps": s}
    rows = []

    train, one_step = workload(h, s)
    row, naive_out = time_variant("naive_vmap", jax.vmap(train), lams, k, args.repeat, jax.vmap(one_step), args.hlo,
                                  **extra)
    rows.append(row)
    print(json.dumps(rows[-1]), flush=True)
    if jax.default_backend() == "gpu" and args.fused_configs:
        frows = fused_rows(k, h, s, lams, args.repeat, json.loads(args.fused_configs), naive_out, extra, args.hlo)
        # a configuration only counts if its models' final losses agree with the naive vmap's (TF32 rounding:
        # ~5e-4 in runs 4-6); a faster wrong one would otherwise become every sweep row's configuration
        ok = [r for r in frows if "error" not in r and r["val_max_rel_diff_vs_naive"] <= MAX_VAL_DIFF]
        if ok:
            best = max(ok, key=lambda r: r["models_per_s"])
            best_config = KernelConfig(**best["config"])
            if args.best_config:
                with open(args.best_config, "w") as f:
                    json.dump(best["config"], f)
            train16, one16 = workload(h, s, jnp.bfloat16, fused=True, kernel_config=best_config)
            row, _ = time_variant("fused_best_bf16", jax.vmap(train16), lams, k, args.repeat, jax.vmap(one16),
                                  None, config=best["config"], **extra)
            frows.append(row)
            print(json.dumps(row), flush=True)
            for small in args.small_k:  # few models: the kernel splits each model's rows over programs
                for fz in (False, True):
                    t1, _ = workload(h, s, None, fused=fz, kernel_config=best_config)
                    row, _ = time_variant(f"{'fused' if fz else 'xla'}_k{small}", jax.vmap(t1), lams[:small], small,
                                          max(args.repeat, 3), None, None, **extra)
                    frows.append(row)
                    print(json.dumps(row), flush=True)
        rows += frows
    for layout in () if args.skip_stacked else ("nkh", "knh"):
        run, step = stacked_train(k, h, s, layout)
        rows.append(time_variant(f"stacked_{layout}", run, lams, k, args.repeat, step, args.hlo, **extra)[0])
        print(json.dumps(rows[-1]), flush=True)
    train16, one16 = workload(h, s, jnp.bfloat16)
    rows.append(time_variant("naive_vmap_bf16", jax.vmap(train16), lams, k, args.repeat, jax.vmap(one16), args.hlo,
                             **extra)[0])
    print(json.dumps(rows[-1]), flush=True)
    for g in [] if args.skip_stacked else args.groups:
        best = float("inf")
        for _ in range(args.repeat):
            out, st = jaxreg.sweep(train, np.asarray(lams), vmap_size=g, return_stats=True, progress=False)
            best = min(best, st["run_s"])
        rows.append({"variant": f"sweep_vmap_{g}", "k": k, "models_per_s": k / best, "run_s": best,
                     "compile_s": st["compile_s"], "accuracy_mean": float(np.mean(out["accuracy"])),
                     "device": device_description(), **extra})
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["models_per_s"]
    print(f"{'variant':<18} {'models/s':>10} {'vs naive':>9} {'MB/model-step':>14} {'acc':>6}", file=sys.stderr)
    for r in rows:
        if "error" in r:
            print(f"{r['variant']:<18} {r['error'][:80]}", file=sys.stderr)
            continue
        mb = r.get("bytes_per_model_step")
        print(f"{r['variant']:<18} {r['models_per_s']:>10.1f} {r['models_per_s'] / base:>8.2f}x "
              f"{'' if mb is None else f'{mb / 1e6:.2f}':>14} {r['accuracy_mean']:>6.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Write benchmarks/README.md from the JSON lines that `make bench` saved (numbers are the JSON's)."""
import datetime
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def _options_text(rows: list[dict]) -> str:
    """The XLA options jaxreg.sweep compiled with, as the rows recorded them."""
    seen = {json.dumps(r.get("jaxreg_compiler_options"), sort_keys=True) for r in rows}
    if seen == {"null"}:
        return "options not recorded in these rows"
    return "; ".join("XLA's defaults" if o in ("{}", "null") else
                     ", ".join(f"`{k}={v}`" for k, v in json.loads(o).items()) for o in sorted(seen))


def _load(name):
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def gpu_section() -> list[str]:
    """The GPU runs of `benchmarks/gpu.sh` (files under gpu/, one prefix per device run)."""
    tp, bf = _load("gpu/run3_sweep_fp32.jsonl"), _load("gpu/run3_sweep_bf16.jsonl")
    probe2 = _load("gpu/run2_layouts.jsonl")
    probe = probe2 + _load("gpu/run3_layouts.jsonl")
    sc, lp = _load("gpu/run3_scale.jsonl"), _load("gpu/run1_lasso_f64.jsonl") + _load("gpu/run1_lasso_large_f64.jsonl")
    if not tp:
        return []
    out = [f"## GPU ({tp[0]['device']}, 2026-11-26, `benchmarks/gpu.sh`; JSON in `gpu/`)", "",
           "W1 as above. jaxreg.sweep's loss is `jaxreg.models.data_loss`, which on a GPU runs the MLP's "
           "forward and backward in one Pallas kernel (`jaxreg.fused`: activations stay in registers); the naive "
           "vmap and the loop use the XLA formula. Bytes per model-step: XLA's cost analysis, plus for jaxreg the "
           "kernel's own traffic (`jaxreg.fused.kernel_hbm_bytes`, which XLA cannot see; it counts x as read from "
           "memory once per model, though the models share it in L2). FLOP ceiling: a 4096² float32 (TF32) matmul "
           f"in the same run ({tp[0]['matmul_ceiling_flops'] / 1e12:.0f} TFLOP/s). These sweep rows ran with the "
           "launch configuration the probe below found fastest in that run (`num_stages` 2).", "",
           "| compute | K | jaxreg.sweep models/s | naive jit(vmap) | loop | jaxreg / loop | jaxreg / naive | "
           "jaxreg bytes per model-step | naive bytes | FLOP/s (share of ceiling) | accuracy | compile s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in tp + bf:
        out.append(f"| {r['compute_dtype']} | {r['k']} | {r['jaxreg_models_per_s']:,.0f} | "
                   f"{r['naive_vmap_models_per_s']:,.0f} | {r['loop_models_per_s']:,.0f} | "
                   f"{r['jaxreg_vs_loop']:.1f}× | {r['jaxreg_vs_naive_vmap']:.2f}× | "
                   f"{r['jaxreg_bytes_per_model_step'] / 1e6:.2f} MB | "
                   f"{r['naive_vmap_bytes_per_model_step'] / 1e6:.2f} MB | {r['jaxreg_achieved_flops'] / 1e12:.0f} T "
                   f"({r['jaxreg_fraction_of_ceiling']:.0%}) | {r['accuracy_mean']:.4f} | "
                   f"{r['jaxreg_compile_s']:.1f} |")
    if probe:
        out += ["", "Probe (`sweep_layouts.py`, hidden 128): the naive vmap with the kernel's loss, per launch "
                "configuration and K; `val diff` = largest relative difference of a model's final loss from the "
                "naive vmap's (both TF32 matmuls). Run 2 split each model's rows over a fixed number of programs "
                "(`rows_per_program`; one program per model at K=1 is the slow `fused_best_k1`); since run 3 the "
                "number of programs per model follows K (a `custom_vmap` rule sees it): ≥ 512 programs in all.", "",
                "| run | variant | K | models/s | val diff | config |", "|---|---|---|---|---|---|"]
        for i, r in enumerate(probe):
            run = "2" if i < len(probe2) else "3"
            if "error" in r:
                continue
            cfg = r.get("config")
            cfg = "" if not cfg else ", ".join(f"{k}={v}" for k, v in cfg.items()
                                          if k not in ("max_weight_words", "max_features"))
            diff = r.get("val_max_rel_diff_vs_naive")
            out.append(f"| {run} | {r['variant']} | {r['k']} | {r['models_per_s']:,.0f} | "
                       f"{'' if diff is None else f'{diff:.1e}'} | {cfg} |")
    if sc:
        cv = [r for r in sc if r["kind"] == "compile_vs_k"]
        big = [r for r in sc if r["kind"] == "large_k"]
        best = max(r["models_per_s"] for r in big) if big else 1
        out += ["", f"Scale (hidden 8, {sc[0]['steps']} steps): compile s by K: "
                + ", ".join(f"{r['k']}: {r['compile_s']:.2f}" for r in cv)
                + (f" ({cv[-1]['compile_s'] / cv[0]['compile_s']:.2f}× from K={cv[0]['k']} to K={cv[-1]['k']})"
                   if cv else "") + "; K = 100,000: "
                + ", ".join(f"chunk {r['chunk_size_asked'] or 'auto'} → {r['models_per_s']:,.0f} models/s "
                            f"({r['models_per_s'] / best:.0%})" for r in big) + "."]
    if lp:
        out += ["", "Lasso paths on the GPU (run 1; float64; scikit-learn on that machine's 16-core host, faster than "
                "the 2-core CPU above; the solver as of 2026-11-26, before the extrapolated first guess that cut "
                "CPU times by up to 45%): time to a max relative gap ≤ 1e-6. float32 "
                "(`gpu/run1_lasso_f32.jsonl`) stops at gaps of 3e-6 to 4e-3: not at 1e-6.", "",
                "| data | n × d | l1_ratio | scikit-learn s | jaxreg s (gap) | speed-up |", "|---|---|---|---|---|---|"]
        for r in lp:
            out.append(f"| {r['data']} | {r['n']} × {r['d']} | {r['l1_ratio']} | {r['sklearn_s']:.3f} | "
                       f"{r['jaxreg_s']:.3f} ({r['jaxreg_max_rel_gap']:.0e}) | {r['jaxreg_speedup']:.2f}× |")
    return out + [""]


def render() -> str:
    tp, sc = _load("sweep_throughput.jsonl"), _load("sweep_scale.jsonl")
    lp = _load("lasso_path.jsonl") + _load("lasso_path_large.jsonl")  # the second: `lasso_path.py --large`
    stamp = datetime.datetime.fromtimestamp(os.path.getmtime(os.path.join(HERE, "sweep_throughput.jsonl"))).date() \
        if tp else "n/a"
    out = ["# Benchmarks", "",
           "Not timed tests: `make bench` runs both scripts, saves one JSON line per configuration",
           "(`*.jsonl`) and `python benchmarks/report.py` rewrites this page from them. Every peer is",
           "measured in the same run on the same device.", ""]
    if tp:
        out += [f"## Sweep throughput, workload W1 ({tp[0]['device']}, {stamp})", "",
                "2-layer MLP on digits (1797 × 64, 10 classes), full batch, "
                f"{tp[0]['steps']} SGD steps, L2 + L1 sign step, float32. Rates exclude compilation (listed "
                "separately); the loop is timed on up to 8 models and extrapolated. Achieved FLOP/s = XLA's cost "
                "analysis of one training step × steps × models/s; the ceiling is a 2048² float32 matmul measured "
                f"in the same run ({tp[0]['matmul_ceiling_flops'] / 1e9:.0f} GFLOP/s). jaxreg.sweep runs on "
                f"{max(r.get('n_devices', 1) for r in tp)} CPU device(s), one per core "
                "(`jaxreg.devices.use_cpu_cores`); the naive "
                "vmap and the loop run on the default device with XLA's intra-op threads. Every peer's time starts "
                "from a freshly compiled executable (its first run is ~15% slower than later ones).", "",
                "The naive vmap and the loop use the loss as a user without jaxreg writes it (`models.predict` → "
                "optax cross-entropy, `jax.grad`); jaxreg.sweep trains with `jaxreg.models.data_loss`, which on a "
                "CPU runs in the samples-minor layout with a hand-written gradient (`jaxreg.samples_minor`), and "
                "compiles with `jaxreg.sweep.CPU_COMPILER_OPTIONS` "
                f"({_options_text(tp)}; the naive vmap and the loops compile with `jax.jit`'s defaults). The "
                "column 'loop, jaxreg's loss' is the loop with that loss: what the sweep adds beyond the faster "
                "loss. Hidden 0 is the logistic-regression variant.", "",
                "| hidden | K | jaxreg.sweep models/s | naive jit(vmap) | loop of jit(train) | jaxreg / loop | "
                "jaxreg / naive | loop, jaxreg's loss (jaxreg / it) | vmap_size chosen | compile s (jaxreg / naive) | "
                "peak bytes per model | FLOP/s (share of ceiling) | naive bytes per model-step |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in tp:
            own = (f"{r['loop_jaxreg_loss_models_per_s']:.1f} ({r['jaxreg_vs_loop_jaxreg_loss']:.2f}×)"
                   if "loop_jaxreg_loss_models_per_s" in r else "n/a")
            out.append(
                f"| {r['hidden'] or '0 (logistic)'} | {r['k']} | {r['jaxreg_models_per_s']:.1f} | "
                f"{r['naive_vmap_models_per_s']:.1f} | {r['loop_models_per_s']:.1f} | {r['jaxreg_vs_loop']:.2f}× | "
                f"{r['jaxreg_vs_naive_vmap']:.2f}× | {own} | "
                f"{r['jaxreg_vmap_size'] if r['jaxreg_vmap_size'] is not None else 'all'} | "
                f"{r['jaxreg_compile_s']:.1f} / {r['naive_vmap_compile_s']:.1f} | "
                f"{r['peak_memory_per_model_bytes'] / 1e6:.2f} MB | {r['jaxreg_achieved_flops'] / 1e9:.1f} G "
                f"({r['jaxreg_fraction_of_ceiling']:.0%}) | {r['naive_vmap_bytes_per_model_step'] / 1e6:.2f} MB |")
        out += ["", "![models/s vs K](sweep_throughput.png)", ""]
    if sc:
        cv = [r for r in sc if r["kind"] == "compile_vs_k"]
        big = [r for r in sc if r["kind"] == "large_k"]
        out += [f"## Scale ({sc[0]['device']}, W1 hidden 8, {sc[0]['steps']} SGD steps per model)", "",
                "Compile time does not depend on the number of steps (the loop is a `lax.scan`); on this CPU the "
                "large-K run uses few steps so that it finishes in about a minute.", "",
                "| K | " + " | ".join(str(r["k"]) for r in cv) + " |", "|---|" + "---|" * len(cv),
                "| compile s | " + " | ".join(f"{r['compile_s']:.2f}" for r in cv) + " |",
                "| vmap group | " + " | ".join(str(r["vmap_size"] or "all") for r in cv) + " |", ""]
        if cv:
            out += [f"Compile time K={cv[-1]['k']} / K={cv[0]['k']}: {cv[-1]['compile_s'] / cv[0]['compile_s']:.2f}×.",
                    ""]
        if big:
            best = max(r["models_per_s"] for r in big)
            out += ["| K | chunk_size asked | chunk_size used | chunks | models/s | share of best |",
                    "|---|---|---|---|---|---|"]
            for r in big:
                out.append(f"| {r['k']:,} | {r['chunk_size_asked'] or 'auto'} | {r['chunk_size']:,} | "
                           f"{r['n_chunks']} | {r['models_per_s']:,.0f} | {r['models_per_s'] / best:.0%} |")
            out.append("")
    out += gpu_section()
    if lp:
        out += [f"## Lasso / elastic-net paths ({lp[0]['device']}, {lp[0]['dtype']})", "",
                "100 α on scikit-learn's grid (α_max … 1e-3 α_max). Time to reach a maximum relative duality gap ≤ "
                "1e-6 over the path, the gap computed by the benchmark for both. jaxreg: "
                "`elastic_net_path(tol=1e-6)`, by default the active-set Newton solver (`jaxreg.active_set`): λ "
                "from large to small, each warm-started from the previous one and stopped at its own duality gap, "
                "sign-constrained Newton steps on the active coordinates only (`solver=\"fista\"`/`\"admm\"`: "
                "vmapped blocks of 25 λ). Its time is a whole call (Gram matrix and set-up included) minus what that "
                "call compiled, best of the calls after the first; the compile column is the first call's (the "
                "active set keeps its compiled programs for the next path of the same shapes). scikit-learn: "
                "coordinate descent with warm starts along the path, `tol` tightened until the gap is met, best of "
                "as many runs at that `tol` (the `repeat` column; single runs on the shared 2-core CPU drift ±30%). "
                "Iterations: summed over the λ (active set: "
                "Newton iterations; FISTA/ADMM: block size × iterations per block).", "",
                "| data | n × d | l1_ratio | scikit-learn s (gap) | jaxreg s (gap, iterations) | solver "
                "| jaxreg compile s | repeat | speed-up | date |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in lp:
            out.append(
                f"| {r['data']} | {r['n']} × {r['d']} | {r['l1_ratio']} | {r['sklearn_s']:.3f} "
                f"({r['sklearn_max_rel_gap']:.0e}) | {r['jaxreg_s']:.3f} ({r['jaxreg_max_rel_gap']:.0e}, "
                f"{r.get('jaxreg_lambda_iterations', r.get('jaxreg_steps'))}) | {r.get('jaxreg_solver', 'fista')} | "
                f"{r['jaxreg_compile_s']:.1f} | {r.get('repeat', 1)} | "
                f"{r['jaxreg_speedup']:.2f}× | {r.get('date', '2026-11-26 or earlier')} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(render())
    print(os.path.join(HERE, "README.md"))

"""Write benchmarks/README.md from the JSON lines that `make bench` saved (numbers are the JSON's)."""
import datetime
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name):
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def render() -> str:
    tp, lp = _load("sweep_throughput.jsonl"), _load("lasso_path.jsonl")
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
                f"in the same run ({tp[0]['matmul_ceiling_flops'] / 1e9:.0f} GFLOP/s).", "",
                "| hidden | K | jaxreg.sweep models/s | naive jit(vmap) | loop of jit(train) | jaxreg / loop | "
                "jaxreg / naive | vmap_size chosen | compile s (jaxreg / naive) | peak bytes per model | "
                "FLOP/s (share of ceiling) | naive bytes per model-step |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in tp:
            out.append(
                f"| {r['hidden']} | {r['k']} | {r['jaxreg_models_per_s']:.1f} | {r['naive_vmap_models_per_s']:.1f} | "
                f"{r['loop_models_per_s']:.1f} | {r['jaxreg_vs_loop']:.2f}× | {r['jaxreg_vs_naive_vmap']:.2f}× | "
                f"{r['jaxreg_vmap_size'] if r['jaxreg_vmap_size'] is not None else 'all'} | "
                f"{r['jaxreg_compile_s']:.1f} / {r['naive_vmap_compile_s']:.1f} | "
                f"{r['peak_memory_per_model_bytes'] / 1e6:.2f} MB | {r['jaxreg_achieved_flops'] / 1e9:.1f} G "
                f"({r['jaxreg_fraction_of_ceiling']:.0%}) | {r['naive_vmap_bytes_per_model_step'] / 1e6:.2f} MB |")
        out += ["", "![models/s vs K](sweep_throughput.png)", ""]
    if lp:
        out += [f"## Lasso / elastic-net paths ({lp[0]['device']}, {lp[0]['dtype']})", "",
                "100 α on scikit-learn's grid (α_max … 1e-3 α_max). Time to reach a maximum relative duality gap ≤ "
                "1e-6 over the path, the gap computed by the benchmark for both. jaxreg: one vmapped FISTA call "
                "(Gram-matrix gradients when n > d), iterations doubled until the gap is met; compilation excluded. "
                "scikit-learn: coordinate descent with warm starts along the path, `tol` tightened until the gap "
                "is met.", "",
                "| data | n × d | l1_ratio | scikit-learn s (gap) | jaxreg s (gap, iterations) | jaxreg compile s "
                "| speed-up |", "|---|---|---|---|---|---|---|"]
        for r in lp:
            out.append(
                f"| {r['data']} | {r['n']} × {r['d']} | {r['l1_ratio']} | {r['sklearn_s']:.3f} "
                f"({r['sklearn_max_rel_gap']:.0e}) | {r['jaxreg_s']:.3f} ({r['jaxreg_max_rel_gap']:.0e}, "
                f"{r['jaxreg_steps']}) | {r['jaxreg_compile_s']:.1f} | {r['jaxreg_speedup']:.2f}× |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(render())
    print(os.path.join(HERE, "README.md"))

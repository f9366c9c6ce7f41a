"""Write benchmarks/README.md from the JSON lines that `make bench` saved (numbers are the JSON's)."""
import datetime
import json
import os
import re
import subprocess

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


def _cfg_text(cfg) -> str:
    return "" if not cfg else ", ".join(f"{k}={v}" for k, v in cfg.items() if k not in ("max_weight_words",
                                                                                      "max_features"))


def _ncu_metrics(name: str) -> dict:
    """A few lines of a saved Nsight Compute report (`gpu.sh`'s ncu step), metric name → value text."""
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return {}
    want = ("Registers Per Thread", "Achieved Occupancy", "Block Limit Registers", "L1/TEX Cache Throughput",
            "DRAM Throughput", "Compute (SM) Throughput", "Issued Warp Per Scheduler",
            "Dynamic Shared Memory Per Block")
    found = {}
    for line in open(path):
        parts = re.split(r"\s{2,}", line.strip())  # name, [unit,] value
        if parts[0] in want and parts[0] not in found and len(parts) >= 2:
            unit = parts[1] if len(parts) == 3 else ""
            found[parts[0]] = f"{parts[-1]}{' ' if unit and unit != '%' else ''}{unit}"
    return found


def _min_bytes(r: dict) -> float:
    """jaxreg's fewest bytes per model-step: x counted once per launch (the models share it in L2) rather than
    once per model as `kernel_hbm_bytes` counts it (rows written before the benchmark recorded this: W1's x)."""
    if "jaxreg_min_bytes_per_model_step" in r:
        return r["jaxreg_min_bytes_per_model_step"]
    if not r.get("jaxreg_fused_kernel"):
        return r["jaxreg_bytes_per_model_step"]
    x = 1797 * 64 * (2 if r["compute_dtype"] == "bfloat16" else 4)
    return r["jaxreg_bytes_per_model_step"] - x * (1 - 1 / r["k"])


def _shares(r: dict) -> tuple[float, float]:
    """(share of the bandwidth ceiling with the fewest bytes, share of the roofline) of a sweep row."""
    rate, steps, bw = r["jaxreg_models_per_s"], r["steps"], r["bandwidth_ceiling_bytes_per_s"]
    step_s = max(r["flops_per_model"] / steps / r["matmul_ceiling_flops"], _min_bytes(r) / bw)
    return _min_bytes(r) * steps * rate / bw, rate * step_s * steps


def h100_section() -> list[str]:
    """The H100 device runs of 2026-11-27 (`gpu.sh`, files gpu/run4_* … gpu/run6_*)."""
    fp = _load("gpu/run4_sweep_fp32.jsonl") + _load("gpu/run5_sweep_fp32.jsonl")
    bf = _load("gpu/run4_sweep_bf16.jsonl")
    if not fp:
        return []
    probe4, probe5, probe6 = (_load(f"gpu/run{i}_layouts.jsonl") for i in (4, 5, 6))
    cfg4 = next((r["config"] for r in probe4 if r.get("variant") == "fused_best_bf16"), None)
    cfg5 = next((r["config"] for r in probe5 if r.get("variant") == "fused_best_bf16"), None)
    r0 = fp[0]
    out = [f"## GPU ({r0['device']}, 2026-11-27, `benchmarks/gpu.sh`; JSON in `gpu/run4_*` … `gpu/run6_*`)", "",
           "W1 as above; jaxreg.sweep's loss runs the MLP's forward and backward in one Pallas kernel "
           "(`jaxreg.models.mlp_cross_entropy`, activations in registers), the naive vmap and the loop use the XLA "
           "formula. Three "
           "device calls: run 4 (every step) and run 5 (the probe again with other launch configurations, "
           "K=1024 and 4096, Nsight Compute) on one machine, run 6 (the probe) on a fresh one. Each sweep row "
           f"ran with the configuration its run's probe found fastest, which gpu.sh passed to the benchmark "
           f"(JAXREG_FUSED_CONFIG then, `--fused-config` now) "
           f"(run 4: {_cfg_text(cfg4)}; run 5: {_cfg_text(cfg5)}; these rows did not record it, the benchmark's "
           "rows now do). Ceilings measured in the "
           f"same run: a 4096² float32 (TF32) matmul, {r0['matmul_ceiling_flops'] / 1e12:.0f} TFLOP/s, and `a + 1` "
           f"over 256 MiB (bytes read + written), {r0['bandwidth_ceiling_bytes_per_s'] / 1e12:.2f} TB/s (each row "
           "uses its own run's ceilings: 2.77-2.86 TB/s). Bytes per model-step: XLA's cost analysis plus the "
           "kernel's own traffic as `jaxreg.models.kernel_hbm_bytes` counts it (x once per model), and the fewest: x "
           "once per launch (the models share it in L2; Nsight Compute saw device memory 1.6% busy); the 5-pass "
           "floor is issue 5's ≈ 5 passes over one model's (n, hidden) float32 activation. Share of bandwidth: the "
           "fewest bytes. Roofline = min(FLOP ceiling / FLOPs, bandwidth / fewest bytes) per model-step; FLOPs from "
           "XLA's cost analysis of the XLA formula's step. These runs measured the TF32 ceiling only: the bf16 "
           "rows' FLOP and roofline shares are against it, an upper bound (a bf16 matmul runs faster; the "
           "benchmark now measures the ceiling in the compute dtype).", "",
           "| run | compute | K | jaxreg.sweep models/s | naive jit(vmap) | loop | jaxreg / loop | jaxreg / naive "
           "| bytes per model-step: counted / fewest (5-pass floor) | share of bandwidth | FLOP/s (share) "
           "| share of roofline | accuracy | compile s |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    n4 = len(_load("gpu/run4_sweep_fp32.jsonl"))
    for i, r in enumerate(fp + bf):
        run = 5 if n4 <= i < len(fp) else 4
        bw_share, roof_share = _shares(r)
        out.append(f"| {run} | {r['compute_dtype']} | {r['k']} | {r['jaxreg_models_per_s']:,.0f} | "
                   f"{r['naive_vmap_models_per_s']:,.0f} | {r['loop_models_per_s']:,.0f} | "
                   f"{r['jaxreg_vs_loop']:.1f}× | {r['jaxreg_vs_naive_vmap']:.2f}× | "
                   f"{r['jaxreg_bytes_per_model_step'] / 1e6:.2f} / {_min_bytes(r) / 1e6:.2f} MB "
                   f"({r['five_pass_floor_bytes_per_model_step'] / 1e6:.2f} MB) | "
                   f"{bw_share:.0%} | {r['jaxreg_achieved_flops'] / 1e12:.0f} T "
                   f"({r['jaxreg_fraction_of_ceiling']:.0%}) | {roof_share:.0%} | "
                   f"{r['accuracy_mean']:.4f} | {r['jaxreg_compile_s']:.1f} |")
    naive_b = {r["k"]: r["naive_vmap_bytes_per_model_step"] for r in fp}
    out += ["", "The naive vmap moves " + ", ".join(f"{b / 1e6:.2f} MB per model-step at K={k}"
                                                    for k, b in sorted(naive_b.items())) + "."]
    ncu = _ncu_metrics("gpu/run5_ncu.txt")
    if ncu:
        out += ["", "Where the kernel's time goes (Nsight Compute, run 5, one launch at K=1024, float32, "
                "`gpu/run5_ncu.txt`; ncu locks the clocks lower, so its duration is not the sweep's): "
                + "; ".join(f"{k} {v}" for k, v in ncu.items())
                + ". The kernel is bound by registers and L1, not by device memory: 255 registers per thread "
                "(the compiler's limit; the gradient accumulators ∂W1 64×128 and ∂W2 128×16 alone take 80 per "
                "thread at 4 warps) allow 2 programs of 4 warps per SM, so few warps are ready to issue; the "
                "L1/shared traffic is the operand layout conversions between the five small matmuls per tile and "
                "any register spills (this run did not collect the memory-workload section that would separate "
                "them)."]
    probe = [(4, r) for r in probe4] + [(5, r) for r in probe5] + [(6, r) for r in probe6]
    if probe:
        out += ["", "Probe (`sweep_layouts.py`, hidden 128, K=1024): the naive vmap with the kernel's loss, per "
                "launch configuration; `val diff` = largest relative difference of a model's final loss from the "
                "naive vmap's (both TF32). Run 6 (a third call, same day, a fresh H100) tried the two-pass kernels "
                "(`two_pass`: loss, ∂W2 and dz in one kernel, dz through memory, ∂W1 by `hidden_blocks` in a "
                "second that recomputes h), meant to relieve the register pressure ncu showed: predicted faster, "
                "measured slower — the extra x·W1 product and a second walk over the tiles cost more than the "
                "occupancy they were meant to gain (not measured for them); 64-row tiles recover most of it.", "",
                "| run | variant | models/s | val diff | config |", "|---|---|---|---|---|"]
        for run, r in probe:
            if "error" in r:
                continue
            diff = r.get("val_max_rel_diff_vs_naive")
            out.append(f"| {run} | {r['variant']} | {r['models_per_s']:,.0f} | "
                       f"{'' if diff is None else f'{diff:.1e}'} | {_cfg_text(r.get('config'))} |")
    sc, sc0 = _load("gpu/run4_scale.jsonl"), _load("gpu/run4_scale_autotune0.jsonl")
    if sc:
        out += ["", "Compile time vs K (hidden 8, 200 steps; run s in brackets): "
                + ", ".join(f"K={r['k']}: {r['compile_s']:.2f} s ({r['run_s']:.3f})" for r in sc)
                + f" — {sc[-1]['compile_s'] / sc[0]['compile_s']:.2f}× from K={sc[0]['k']} to K={sc[-1]['k']}."]
        if sc0:
            out[-1] += (" With XLA's GEMM autotuning off (`xla_gpu_autotune_level=0`): "
                        + ", ".join(f"K={r['k']}: {r['compile_s']:.2f} s ({r['run_s']:.3f})" for r in sc0)
                        + f" — {sc0[-1]['compile_s'] / sc0[0]['compile_s']:.2f}×: the growth is the autotuner, "
                        "and what it finds is worth keeping (the K=4096 run is "
                        f"{sc0[-1]['run_s'] / sc[-1]['run_s'] - 1:.0%} slower without it).")
    other = _load("gpu/run4_layout_minor.jsonl") + _load("gpu/run4_sweep_h512.jsonl")
    if other:
        out += ["", "Where the kernel does not apply (K=1024): "
                + "; ".join(f"hidden {r['hidden'] or '0 (logistic)'}, layout {r['layout']}: jaxreg "
                            f"{r['jaxreg_models_per_s']:,.0f}, naive {r['naive_vmap_models_per_s']:,.0f}, loop "
                            f"{r['loop_models_per_s']:,.0f} models/s ({r['jaxreg_fraction_of_bandwidth']:.0%} of "
                            "bandwidth)" for r in other)
                + ". The samples-minor layout is the CPU's (`models.data_loss` picks samples-major on a GPU, as "
                "the naive vmap): on the H100 it loses at hidden 0. At hidden 512 the kernel's per-program "
                "state exceeds an SM's shared memory (`gpu/run4_layouts_h512.jsonl`); there XLA's formula is "
                "already at the bandwidth ceiling of the bytes it moves."]
    lp = _load("gpu/run4_lasso_f64.jsonl") + _load("gpu/run4_lasso_large_f64.jsonl")
    f32 = _load("gpu/run4_lasso_f32.jsonl")
    if lp:
        out += ["", "Lasso / elastic-net paths on the H100 (float64; scikit-learn on that machine's 16-core host): "
                "time to a max relative gap ≤ 1e-6, the gap computed by the benchmark. float32 "
                "(`gpu/run4_lasso_f32.jsonl`) stops at gaps of "
                + ", ".join(f"{r['jaxreg_max_rel_gap']:.0e}" for r in f32)
                + " (float32 resolves no finer than ~1e-4; the path warns and says to use float64).", "",
                "| data | n × d | l1_ratio | scikit-learn s | jaxreg s (gap) | speed-up |", "|---|---|---|---|---|---|"]
        for r in lp:
            out.append(f"| {r['data']} | {r['n']} × {r['d']} | {r['l1_ratio']} | {r['sklearn_s']:.3f} | "
                       f"{r['jaxreg_s']:.3f} ({r['jaxreg_max_rel_gap']:.0e}) | {r['jaxreg_speedup']:.2f}× |")
    return out + [""]


def gpu_section() -> list[str]:
    """The GPU runs of `benchmarks/gpu.sh` (files under gpu/, one prefix per device run)."""
    tp, bf = _load("gpu/run3_sweep_fp32.jsonl"), _load("gpu/run3_sweep_bf16.jsonl")
    probe2 = _load("gpu/run2_layouts.jsonl")
    probe = probe2 + _load("gpu/run3_layouts.jsonl")
    sc, lp = _load("gpu/run3_scale.jsonl"), _load("gpu/run1_lasso_f64.jsonl") + _load("gpu/run1_lasso_large_f64.jsonl")
    if not tp:
        return []
    out = [f"## GPU ({tp[0]['device']}, 2026-11-26, `benchmarks/gpu.sh`; JSON in `gpu/run1_*` … `gpu/run3_*`)", "",
           "W1 as above. jaxreg.sweep's loss is `jaxreg.models.data_loss`, which on a GPU runs the MLP's "
           "forward and backward in one Pallas kernel (`jaxreg.models.mlp_cross_entropy`: activations stay in "
           "registers); the naive "
           "vmap and the loop use the XLA formula. Bytes per model-step: XLA's cost analysis, plus for jaxreg the "
           "kernel's own traffic (`jaxreg.models.kernel_hbm_bytes`, which XLA cannot see; it counts x as read from "
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
            cfg = _cfg_text(r.get("config"))
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


def earlier_cpu_section() -> list[str]:
    """The CPU tables of the earlier 2-core machine (files under cpu_avx2/, saved from `make bench` there)."""
    tp, lp = _load("cpu_avx2/sweep_throughput.jsonl"), (_load("cpu_avx2/lasso_path.jsonl")
                                                        + _load("cpu_avx2/lasso_path_large.jsonl"))
    now = _load("sweep_throughput.jsonl")
    if not tp:
        return []
    current = f" (the current one: {now[0]['matmul_ceiling_flops'] / 1e9:.0f} GFLOP/s)" if now else ""
    out = ["## The earlier CPU (2-core AMD EPYC with AVX2, no AVX-512, 2026-11-26/27; JSON in `cpu_avx2/`)", "",
           f"Until 2026-11-27 this project's machine had a 2-core CPU with a {tp[0]['matmul_ceiling_flops'] / 1e9:.0f} "
           f"GFLOP/s float32 matmul ceiling{current}. The same benchmarks, same code paths "
           "(before `device=`), so the ratios can be compared across the two CPUs:", "",
           "| hidden | K | jaxreg.sweep models/s | loop | jaxreg / loop | jaxreg / naive |",
           "|---|---|---|---|---|---|"]
    out += [f"| {r['hidden'] or '0 (logistic)'} | {r['k']} | {r['jaxreg_models_per_s']:.1f} | "
            f"{r['loop_models_per_s']:.1f} | {r['jaxreg_vs_loop']:.2f}× | {r['jaxreg_vs_naive_vmap']:.2f}× |"
            for r in tp]
    out += ["", "| data | n × d | l1_ratio | scikit-learn s | jaxreg s | speed-up | date |",
            "|---|---|---|---|---|---|---|"]
    out += [f"| {r['data']} | {r['n']} × {r['d']} | {r['l1_ratio']} | {r['sklearn_s']:.3f} | {r['jaxreg_s']:.3f} | "
            f"{r['jaxreg_speedup']:.2f}× | {r.get('date', '')} |" for r in lp]
    return out + [""]


#: The solvers of `lasso_peers.py`, in its table's order.
LASSO_PEERS = ("jaxreg", "scikit-learn", "skglm", "celer", "glmnet")


def _peer_cell(r: dict, fastest: bool, n_alphas: int) -> str:
    """One solver's cell: its best time (bold for the fastest that met the target), or the gap it stopped at."""
    if "s" not in r:
        status = r.get("status", "")
        return status if status in ("not installed", "not run") else status.split(":")[0]
    if r.get("killed"):
        return f"> {r['s']:.3g} s (stopped)"
    text = f"{r['s']:.3g} s"
    if not r["reached"]:
        cut = r["max_gap"] == float("inf") and r["alphas_solved"] < n_alphas  # (a path stopped early)
        why = r.get("ladder_stop", "")
        text += (f" (gap {r['max_gap_solved']:.0e}" + (f" on {r['alphas_solved']} of {n_alphas} α" if cut else "")
                 + (f"; {why}" if why and why != "path cut short" else "") + ")")
    return f"**{text}**" if fastest else text


#: A peer that stopped short of the target is a lower bound on its time to it only if it came this close.
LOWER_BOUND_GAP = 1e-3


def _short_of_the_gap(row: dict) -> str:
    """The verdict when no peer reached the gap: if jaxreg did, a lower bound from the fastest peer that solved
    every α to a gap ≤ :data:`LOWER_BOUND_GAP` (its time to the target can only be longer)."""
    near = {p: r for p, r in row["peers"].items()
            if p != "jaxreg" and "s" in r and (r["max_gap"] <= LOWER_BOUND_GAP or r.get("killed"))}
    if row["jaxreg_s"] is None or not near:
        return "no solver reached the gap" if row["jaxreg_s"] is None else "no peer reached the gap"
    peer = min(near, key=lambda p: near[p]["s"])
    why = "its run stopped" if near[peer].get("killed") else f"stopped at gap {near[peer]['max_gap']:.0e}"
    return f"≥ {near[peer]['s'] / row['jaxreg_s']:.2f}× ({peer}, {why})"


def _plot_lasso_peers(rows: list[dict], path: str) -> bool:
    """Time per design and solver (log scale; hatched: the 1e-6 gap not reached), or False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(rows) + 1.5))
    height = 0.8 / len(LASSO_PEERS)
    for j, peer in enumerate(LASSO_PEERS):
        for i, row in enumerate(rows):
            r = row["peers"].get(peer, {})
            if "s" in r:
                ax.barh(i + (j - 2) * height, r["s"], height, color=f"C{j}", label=peer if i == 0 else None,
                        hatch=None if r["reached"] else "//", edgecolor="white" if r["reached"] else "black")
    ax.set_yticks(range(len(rows)), [r["label"] for r in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(f"seconds to a max relative duality gap ≤ {rows[0]['target_gap']:g} over {rows[0]['n_alphas']} α "
                  "(hatched: not reached)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def lasso_peers_section() -> list[str]:
    """The table and plot of `lasso_peers.py` (`lasso_peers.jsonl`): jaxreg's lasso path against the peers."""
    rows = _load("lasso_peers.jsonl")
    if not rows:
        return []
    r0 = rows[0]
    versions = {p: r.get("version") for row in rows for p, r in row["peers"].items() if r.get("version")}
    out = [f"## Lasso paths against the fastest peers ({r0['device']}, {r0['date']}, `lasso_peers.py`)", "",
           f"float64, {r0['n_alphas']} α from α_max to {r0['alpha_min_ratio']:g}·α_max, no intercept. Each solver's "
           f"`tol` is tightened until its path's largest relative duality gap is ≤ {r0['target_gap']:g}, the gap "
           "computed by the benchmark (`jaxreg.relative_duality_gap`) from the returned coefficients; the time is "
           f"the best of {r0['repeat']} runs at that `tol` (a run over {r0['max_repeat_s']:g} s is not repeated), all "
           "in one process; the 1-minute load average before and after each design is in the JSON. "
           "jaxreg's time excludes its compilation. A solver that never reached the gap is shown at the smallest "
           "gap it reached (glmnet stops on the change of its coefficients) and why its `tol` ladder stopped, and is "
           "not counted as the fastest. "
           "Versions: " + ", ".join(f"{p} {v}" for p, v in versions.items()) + ". *: one of issue 22's designs; "
           "the others were not tuned on. Why jaxreg loses where it does, and what it would take: "
           "`docs/design/lasso-peers.md`." + (f" {r0['note']}" if r0.get("note") else ""), "",
           "| design | class | " + " | ".join(LASSO_PEERS) + " | jaxreg vs fastest peer |",
           "|---|---|" + "---|" * (len(LASSO_PEERS) + 1)]
    for row in rows:
        met = row["s_over_fastest"]
        best = min(met, key=met.get) if met else None
        cells = [_peer_cell(row["peers"].get(p, {"status": "not run"}), p == best, row["n_alphas"])
                 for p in LASSO_PEERS]
        ratio = row["jaxreg_vs_fastest_peer"]
        verdict = (f"{ratio:.2f}× ({row['fastest_peer']})" if ratio else
                   "jaxreg did not reach the gap" if row["fastest_peer"] else _short_of_the_gap(row))
        out.append(f"| {row['label']}{' *' if row['issue_design'] else ''} | {row['class']} | " + " | ".join(cells)
                   + f" | {verdict} |")
    out += ["", "jaxreg vs fastest peer: the fastest peer's time over jaxreg's (above 1: jaxreg is faster); where no "
            f"peer reached the gap, ≥ the time of the fastest peer that stopped within a gap of {LOWER_BOUND_GAP:g} "
            "over jaxreg's, or whose run was stopped at `--kill-after-s` (a lower bound: that peer needs at least as "
            "long to reach the target)."]
    if _plot_lasso_peers(rows, os.path.join(HERE, "lasso_peers.png")):
        out += ["", "![seconds per design and solver](lasso_peers.png)"]
    return out + [""]


def nonconvex_peers_section() -> list[str]:
    """The table of `nonconvex_peers.py` (`nonconvex_peers.jsonl`): jaxreg's MCP / SCAD paths against skglm."""
    rows = _load("nonconvex_peers.jsonl")
    if not rows:
        return []
    r0 = rows[0]
    out = [f"## MCP and SCAD paths against skglm ({r0['device']}, {r0['date']}, `nonconvex_peers.py`)", "",
           f"float64, {r0['n_lambdas']} λ from λ_max to {r0['lambda_min_ratio']:g}·λ_max, no intercept, MCP γ = 3, "
           "SCAD γ = 3.7, the same objective for both (skglm's `MCPenalty` / `SCAD` with `Quadratic`). Both stop "
           f"each λ at an optimality violation ≤ {r0['tol']:g}·λ_max, recomputed by the benchmark from the returned "
           "coefficients (skglm's `subdiff_distance`); the time is the best of "
           f"{r0['repeat']} runs in one process, jaxreg's after a first call that compiled its programs (that "
           "call's compilation in its own column). The problem is nonconvex: where the two paths reach different "
           "stationary points, the last column counts the λ and says which objective is lower."
           + (f" {r0['note']}." if r0.get("note") else ""), "",
           "| design | penalty | jaxreg s | compile s | skglm s | skglm / jaxreg | violations (jaxreg, skglm) "
           "| λ at other stationary points | load |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mine, peer = r["jaxreg"], r["skglm"]
        ok = peer.get("status") == "ok"
        obj = r.get("objective", {})
        other = (f"{obj['lambdas_differ']} (jaxreg lower at {obj['jaxreg_lower']}, skglm at {obj['skglm_lower']})"
                 if obj.get("lambdas_differ") else "none" if obj else "n/a")
        out.append(f"| {r['label']} | {r['penalty'].upper()} | {mine['s']:.3f} | {mine.get('compile_s', 0):.1f} | "
                   + (f"{peer['s']:.3f} | {r['skglm_over_jaxreg']:.2f}× | {mine['max_violation']:.0e}, "
                      f"{peer['max_violation']:.0e} | " if ok else f"{peer.get('status')} | | | ")
                   + f"{other} | {r['load_avg_1min'][0]:.1f}–{r['load_avg_1min'][1]:.1f} |")
    return out + ["", "Method, criterion and the local-minima caveat: `docs/nonconvex.md`.", ""]


def user_models_section() -> list[str]:
    """The default-path rows of `user_model_sweep.py` (`user_model_sweep.jsonl`): a user's model swept by jaxreg,
    a loop of `jax.jit(train)` and a hand-written `jax.jit(jax.vmap(train))`, as ranges over the runs."""
    rows = [r for r in _load("user_model_sweep.jsonl")
            if r.get("threads_asked") == "auto" and not r["use_cpu_cores"] and "batch_size" in r]
    if not rows:
        return []
    runs: dict[tuple, list[dict]] = {}
    for r in rows:
        runs.setdefault((r["model"], r["k"], r["folds"], r["batch_size"], r["steps"]), []).append(r)

    def span(key: str, unit: str) -> str:
        lo, hi = min(r[key] for r in same), max(r[key] for r in same)
        return f"{lo:.2f}{unit}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}–{hi:.2f}{unit}"

    r0 = rows[0]
    out = [f"## A user's model, default settings ({r0['device']}, `user_model_sweep.py`)", "",
           f"Dense 64 → LayerNorm → GELU → dense 10 on {r0['n_samples']} digits, momentum SGD, L2 decay of the "
           "weights: raw JAX (`mlp`) and a flax nnx module with cross-validation folds (`nnx`), full batch or on "
           "minibatches that `fit` draws. Whole calls as a user waits for them, compilation included, then the "
           "same call again; `jaxreg.sweep` with its defaults (`threads=\"auto\"`, `vmap_size=\"auto\"`) on JAX's "
           "one CPU device. Ranges over the runs in the JSON; ratios above 1 favour jaxreg. Why the full-batch "
           "rows stop short of 2× on two cores: `docs/guide-speed.md`.", "",
           "| model | models | batch | steps | jaxreg s | loop s | naive vmap s | vs loop | vs naive vmap | "
           "2nd call vs loop | 2nd call vs naive vmap | vmap group | runs |", "|---" * 13 + "|"]
    for (model, k, folds, batch, steps), same in runs.items():
        models = f"{k} λ × {folds} folds" if folds else f"{k} λ"
        out.append(f"| {model} | {models} | {batch or 'full'} | {steps} | {span('jaxreg_s', '')} | "
                   f"{span('loop_s', '')} | {span('naive_vmap_s', '')} | {span('vs_loop', '×')} | "
                   f"{span('vs_naive_vmap', '×')} | {span('second_vs_loop', '×')} | "
                   f"{span('second_vs_naive_vmap', '×')} | {same[0]['vmap_size']} | {len(same)} |")
    return out + [""]


def _measured_on(name: str) -> str:
    """The date a results file was last written: its last commit's date (a fresh clone's mtimes are the clone's),
    or its mtime when it has uncommitted changes or no history."""
    path = os.path.join(HERE, name)
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", path], cwd=HERE, capture_output=True,
                               text=True, check=True).stdout.strip()
        committed = subprocess.run(["git", "log", "-1", "--format=%cs", "--", path], cwd=HERE, capture_output=True,
                                   text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        dirty, committed = "?", ""
    if committed and not dirty:
        return committed
    return str(datetime.datetime.fromtimestamp(os.path.getmtime(path)).date())


def render() -> str:
    tp, sc = _load("sweep_throughput.jsonl"), _load("sweep_scale.jsonl")
    lp = _load("lasso_path.jsonl") + _load("lasso_path_large.jsonl")  # the second: `lasso_path.py --large`
    stamp = _measured_on("sweep_throughput.jsonl") if tp else "n/a"
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
                "(`jaxreg.use_cpu_cores`); the naive "
                "vmap and the loop run on the default device with XLA's intra-op threads. Every peer's time starts "
                "from a freshly compiled executable (its first run is ~15% slower than later ones).", "",
                "The naive vmap and the loop use the loss as a user without jaxreg writes it (`models.predict` → "
                "optax cross-entropy, `jax.grad`); jaxreg.sweep trains with `jaxreg.models.data_loss`, which on a "
                "CPU runs in the samples-minor layout with a hand-written gradient, and "
                "compiles with `jaxreg.engine.SWEEP_CPU_COMPILER_OPTIONS` "
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
    out += user_models_section()
    out += h100_section() + gpu_section()
    if lp:
        out += [f"## Lasso / elastic-net paths ({lp[0]['device']}, {lp[0]['dtype']})", "",
                "100 α on scikit-learn's grid (α_max … 1e-3 α_max). Time to reach a maximum relative duality gap ≤ "
                "1e-6 over the path, the gap computed by the benchmark for both. jaxreg: "
                "`elastic_net_path(tol=1e-6)`, by default the active-set Newton solver (`jaxreg.ActiveSet`): λ "
                "from large to small, each warm-started from the previous one and stopped at its own duality gap, "
                "sign-constrained Newton steps on the active coordinates only "
                "(`solver=jaxreg.Fista(...)`/`jaxreg.Admm(...)`: "
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
    out += lasso_peers_section()
    out += nonconvex_peers_section()
    out += earlier_cpu_section()
    return "\n".join(out)


if __name__ == "__main__":
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(render())
    print(os.path.join(HERE, "README.md"))

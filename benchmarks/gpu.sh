#!/usr/bin/env bash
# Issue 5's device checks in one run, on a GPU machine with jax/optax/chex/sklearn installed:
#   OUT=/some/dir PYTHONPATH=$PWD bash benchmarks/gpu.sh
# Each step has its own time limit; one JSON line per configuration lands in $OUT/<step>.jsonl,
# stderr in $OUT/<step>.err; a short table is printed last (benchmarks/report.py reads the files).
# STEPS="layouts sweep_fp32" runs only those steps; T_<STEP>=seconds changes a step's limit.
# The next device run (~8 min): a user's models (issue 22), then the steps not yet measured on a GPU
# (docs/design/gpu-kernel.md says which):
#   STEPS="user_models layouts sweep_fp32 lasso_cmdbuf lasso_auto" SWEEP_K="1024 4096" PY=python3 bash benchmarks/gpu.sh
set -u
OUT=${OUT:-/tmp/jaxreg_gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD
PY=${PY:-python3}
T0=$(date +%s)
step() {
  local name=$1 limit=$2; shift 2
  echo "== $name (t=$(( $(date +%s) - T0 )) s, limit $limit s)"
  timeout "$limit" "$@" > "$OUT/$name.jsonl" 2> "$OUT/$name.err"
  echo "   rc=$? lines=$(wc -l < "$OUT/$name.jsonl")"
}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader
$PY -c "import jax, optax, chex, sklearn; print('jax', jax.__version__, 'optax', optax.__version__, 'chex', chex.__version__, jax.devices())"
run() {  # run the step if STEPS names it (default: every step)
  case " ${STEPS:-all} " in *" all "*|*" $1 "*) step "$@" ;; esac
}
# Most informative first (a lent device has ~15 minutes in all, one command ≤ 10 minutes): a user's models (never
# measured on a GPU), the lasso steps (solver changed since the last GPU run), compile growth, then the sweeps.
# a researcher's own models (a raw-JAX MLP with LayerNorm, a raw-JAX CNN; the flax nnx MLP where flax is installed)
# swept by jaxreg.sweep against a hand-written jit(vmap) and a loop of jit (timed on 64 models, scaled),
# K = 1 … 4096, compilation counted
run user_models ${T_USER:-240} $PY benchmarks/user_model_sweep.py --ks 1 64 1024 4096 --nnx-k 1024 --cnn-k 256 \
  --loop-max-k 64
run lasso_f64 ${T_LASSO:-70} $PY benchmarks/lasso_path.py --json --repeat 2 --device gpu
# elastic_net_path's default device="auto": the small designs (n·d ≤ jaxreg.solvers.AUTO_CPU_MAX_ENTRIES) on the
# host's CPU, where a GPU pays a loop latency per λ (scikit-learn runs on the same CPU)
run lasso_auto ${T_AUTO:-60} $PY benchmarks/lasso_path.py --json --repeat 2
# the same designs with XLA's while loops and conditionals inside CUDA graphs: is a small path's cost per λ loop
# latency (by default XLA:GPU reads each while-loop predicate on the host)?
XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_enable_command_buffer=+WHILE,+CONDITIONAL" \
  run lasso_cmdbuf ${T_CMDBUF:-60} $PY benchmarks/lasso_path.py --json --repeat 2 --l1-ratios 1.0 --device gpu
run lasso_large_f64 ${T_LARGE:-50} $PY benchmarks/lasso_path.py --json --large --only 20000 --l1-ratios 1.0 --repeat 1
# compile time K=1 vs K=4096 with XLA's GEMM autotuning off: is the autotuner what grows with K?
run scale_autotune0 ${T_AUTOTUNE:-40} $PY benchmarks/sweep_throughput.py --scale --steps 200 --scale-k 1 4096 \
  --big-k 0 --compiler-option xla_gpu_autotune_level=0
FUSED_CONFIGS=${FUSED_CONFIGS:-}  # JSON list for sweep_layouts.py --fused-configs (default: its built-in grid)
run layouts ${T_LAYOUTS:-120} $PY benchmarks/sweep_layouts.py --k 1024 --hidden 128 --skip-stacked --small-k \
  ${FUSED_CONFIGS:+--fused-configs "$FUSED_CONFIGS"} --best-config "$OUT/fused_config.json" --hlo "$OUT/hlo"
# the fastest launch configuration the layouts step found (jaxreg.models.KernelConfig fields), passed explicitly
FUSED_CONFIG=${FUSED_CONFIG:-}  # JSON object; default: the layouts step's best, else KernelConfig()'s defaults
if [ -z "$FUSED_CONFIG" ] && [ -s "$OUT/fused_config.json" ]; then FUSED_CONFIG="$(cat "$OUT/fused_config.json")"; fi
echo "   FUSED_CONFIG=${FUSED_CONFIG}"
run sweep_fp32 ${T_SWEEP:-130} $PY benchmarks/sweep_throughput.py --json --k ${SWEEP_K:-1 64 1024 4096} --hidden 128 \
  ${FUSED_CONFIG:+--fused-config "$FUSED_CONFIG"} --plot "$OUT/sweep_gpu.png"
run sweep_bf16 ${T_BF16:-50} $PY benchmarks/sweep_throughput.py --json --k 1024 4096 --hidden 128 --compute-dtype bfloat16 \
  ${FUSED_CONFIG:+--fused-config "$FUSED_CONFIG"} --plot "$OUT/sweep_gpu_bf16.png"
# compile time vs K with jaxreg.sweep's own options (K = 100,000 chunking: BIG_K=100000)
run scale ${T_SCALE:-100} $PY benchmarks/sweep_throughput.py --scale --steps 200 --scale-k 1 64 1024 4096 \
  --big-k ${BIG_K:-0}
# models.data_loss's samples-minor layout (the CPU default) on the GPU, where the fused kernel does not apply:
# logistic regression (hidden 0) and hidden 512, K=1024
run layout_minor ${T_MINOR:-60} $PY benchmarks/sweep_throughput.py --json --k 1024 --hidden 0 512 --layout samples_minor \
  --plot "$OUT/sweep_gpu_minor.png"
run layouts_h512 ${T_L512:-45} $PY benchmarks/sweep_layouts.py --k 1024 --hidden 512 --skip-stacked --fused-configs '[{}]'
run sweep_h512 ${T_H512:-40} $PY benchmarks/sweep_throughput.py --json --k 1024 --hidden 512 --plot "$OUT/sweep_gpu_h512.png"
run lasso_f32 ${T_F32:-35} $PY benchmarks/lasso_path.py --json --repeat 1 --dtype float32 --l1-ratios 1.0 --device gpu
# the kernel's launch statistics, occupancy and warp stalls from Nsight Compute (K=1024, W1 hidden 128)
case " ${STEPS:-all} " in *" all "*|*" ncu "*)
  echo "== ncu (t=$(( $(date +%s) - T0 )) s)"
  timeout ${T_NCU:-90} ncu --kernel-name regex:'jaxreg|mlp_cross' --launch-skip 1 --launch-count 1 --section LaunchStats \
    --section Occupancy --section SpeedOfLight --section WarpStateStats --section SchedulerStats \
    --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis \
    $PY benchmarks/kernel_profile.py --k 1024 --calls 3 ${FUSED_CONFIG:+--fused-config "$FUSED_CONFIG"} > "$OUT/ncu.txt" 2>&1
  echo "   rc=$?" ;;
esac
echo "== done (t=$(( $(date +%s) - T0 )) s)"
$PY - "$OUT" <<'PYEOF'
import glob, json, os, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.jsonl"))):
    for line in open(f):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        keys = [k for k in ("k", "hidden", "compute_dtype", "layout", "variant", "data", "n", "d", "l1_ratio", "dtype",
                            "jaxreg_models_per_s", "naive_vmap_models_per_s", "loop_models_per_s", "models_per_s",
                            "bytes_per_model_step", "naive_vmap_bytes_per_model_step", "jaxreg_compile_s",
                            "compile_s", "jaxreg_bytes_per_model_step", "jaxreg_fraction_of_bandwidth",
                            "jaxreg_fraction_of_roofline", "bandwidth_ceiling_bytes_per_s",
                            "val_max_rel_diff_vs_naive", "error", "config", "model", "n_models", "vs_loop", "vs_naive_vmap",
                            "second_vs_loop", "second_vs_naive_vmap", "sklearn_s", "jaxreg_s", "jaxreg_max_rel_gap", "jaxreg_device", "chunk_size") if k in r]
        print(os.path.basename(f)[:-6], " ".join(f"{k}={r[k]:.4g}" if isinstance(r[k], float) else f"{k}={r[k]}"
                                                 for k in keys))
PYEOF
# one file back instead of many (the device returns a limited number of files)
[ -s "$OUT/ncu.txt" ] && grep -v '^==PROF==' "$OUT/ncu.txt" | grep -E '^ +[A-Z]' | cut -c1-110 | head -90
(cd "$OUT" && tar czf /tmp/jaxreg_gpu_results.tgz . && find . -mindepth 1 -delete && mv /tmp/jaxreg_gpu_results.tgz results.tgz)

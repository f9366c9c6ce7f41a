#!/usr/bin/env bash
# Issue 5's device checks in one run, on a GPU machine with jax/optax/chex/sklearn installed:
#   OUT=/some/dir PYTHONPATH=$PWD bash benchmarks/gpu.sh
# Each step has its own time limit; one JSON line per configuration lands in $OUT/<step>.jsonl,
# stderr in $OUT/<step>.err; a short table is printed last (benchmarks/report.py reads the files).
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
step sweep_fp32 ${T_SWEEP:-75} $PY benchmarks/sweep_throughput.py --json --k 1 1024 4096 --hidden 128 --plot "$OUT/sweep_gpu.png"
step sweep_bf16 ${T_BF16:-45} $PY benchmarks/sweep_throughput.py --json --k 1024 4096 --hidden 128 --compute-dtype bfloat16 --plot "$OUT/sweep_gpu_bf16.png"
step layouts ${T_LAYOUTS:-70} $PY benchmarks/sweep_layouts.py --k 1024 --hidden 128 --groups 32 128 --hlo "$OUT/hlo"
step lasso_f64 ${T_LASSO:-80} $PY benchmarks/lasso_path.py --json --repeat 2
step lasso_large_f64 ${T_LARGE:-60} $PY benchmarks/lasso_path.py --json --large --only 20000 --l1-ratios 1.0 --repeat 1
step scale ${T_SCALE:-60} $PY benchmarks/sweep_throughput.py --scale --steps 200
step sweep_h512 ${T_H512:-40} $PY benchmarks/sweep_throughput.py --json --k 1024 --hidden 512 --plot "$OUT/sweep_gpu_h512.png"
step lasso_f32 ${T_F32:-40} $PY benchmarks/lasso_path.py --json --repeat 1 --dtype float32 --l1-ratios 1.0
echo "== done (t=$(( $(date +%s) - T0 )) s)"
$PY - "$OUT" <<'PYEOF'
import glob, json, os, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.jsonl"))):
    for line in open(f):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        keys = [k for k in ("k", "hidden", "compute_dtype", "variant", "data", "n", "d", "l1_ratio", "dtype",
                            "jaxreg_models_per_s", "naive_vmap_models_per_s", "loop_models_per_s", "models_per_s",
                            "bytes_per_model_step", "naive_vmap_bytes_per_model_step", "jaxreg_compile_s",
                            "compile_s", "sklearn_s", "jaxreg_s", "jaxreg_max_rel_gap", "chunk_size") if k in r]
        print(os.path.basename(f)[:-6], " ".join(f"{k}={r[k]:.4g}" if isinstance(r[k], float) else f"{k}={r[k]}"
                                                 for k in keys))
PYEOF

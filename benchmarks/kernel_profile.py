"""One vmapped gradient of jaxreg.models' fused kernel (workload W1's shapes, K models), for a profiler to read.

    ncu --kernel-name regex:jaxreg --launch-skip 2 --launch-count 1 --section LaunchStats --section Occupancy \\
        python3 benchmarks/kernel_profile.py --k 1024

Runs the gradient `--calls` times (the first compiles). `--fused-config` (JSON, jaxreg.models.KernelConfig
fields) selects the launch configuration.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from benchmarks.sweep_throughput import digits, parse_kernel_config  # noqa: E402
from jaxreg import models  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--k", type=int, default=1024)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--calls", type=int, default=4)
    p.add_argument("--compute-dtype", default=None)
    p.add_argument("--fused-config", metavar="JSON", help="jaxreg.models.KernelConfig fields (default: its defaults)")
    args = p.parse_args()
    config = parse_kernel_config(p, args.fused_config)
    x, y = digits()
    params = models.init_params("mlp", jax.random.key(0), x.shape[1], 10, hidden=args.hidden)
    ps = jax.tree.map(lambda a: a * jnp.linspace(0.5, 1.5, args.k).reshape((-1,) + (1,) * a.ndim), params)
    grad = jax.jit(jax.vmap(jax.grad(lambda q: models.mlp_cross_entropy(q, x, y, compute_dtype=args.compute_dtype,
                                                                        config=config))))
    for _ in range(args.calls):
        jax.block_until_ready(grad(ps))
    print("config", config, "kernel used:", models.kernel_applies(params, x, config))


if __name__ == "__main__":
    main()

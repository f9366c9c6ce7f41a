"""Shared plumbing for the experiment scripts: arguments, JSON output, figures."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # run from a checkout without installing


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny configuration, for the test suite")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="where JSON and PNG go")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    args.t0 = time.perf_counter()
    return args


def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def _clean(o):
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    if isinstance(o, (np.generic, jax.Array)):
        return _clean(np.asarray(o).item())
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o


def save(args, name: str, *, claim: str, setup: str, measured: dict, result: str, verdict: str,
         figures: list[str]) -> str:
    """Write ``<out>/<name>.json``: the claim, the set-up, the numbers, and the verdict."""
    payload = {
        "name": name,
        "claim": claim,
        "setup": setup,
        "measured": measured,
        "result": result,
        "verdict": verdict,
        "figures": [os.path.basename(f) for f in figures],
        "quick": bool(args.quick),
        "seconds": round(time.perf_counter() - args.t0, 1),
        "device": jax.devices()[0].device_kind,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "jax": jax.__version__,
    }
    path = os.path.join(args.out, f"{name}.json")
    with open(path, "w") as f:
        json.dump(_clean(payload), f, indent=2)
    print(f"{name}: {verdict} — {result}")
    print(path)
    return path

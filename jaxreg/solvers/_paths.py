r"""Regularization paths of linear least squares: lasso, elastic net, ridge, vmapped over λ.

Each path point minimises scikit-learn's objective, written in jaxreg's terms

.. math::

   \frac{1}{2n}\|y - Xw\|^2 + \lambda\left[\rho\|w\|_1 + (1-\rho)\|w\|_2^2\right]

(``loss="half_mse"``; convert sklearn's ``alpha``/``l1_ratio`` with
:func:`jaxreg.from_sklearn_elastic_net`). The solver is built from jaxreg's
optax transforms: ``optax.sgd(1/L)`` followed by :func:`jaxreg.prox_elastic_net`
(ISTA), accelerated by :func:`jaxreg.fista` with adaptive restart, and a last
plain proximal step so the solution has exact zeros. ``L`` is the largest
eigenvalue of :math:`X^\top X/n`.

Two ways to run it:

* ``steps=N`` (no ``tol``): every λ runs ``N`` iterations from 0, all λ in one
  ``jaxreg.sweep`` call.
* ``tol=ε`` with ``l1_ratio > 0`` (default ``solver="auto"``): the active-set
  Newton solver of :mod:`jaxreg.active_set`: λ from large to small, each
  warm-started from the previous one and stopped at its relative duality gap
  :func:`relative_duality_gap` ≤ ε; exact sign-constrained Newton steps on the
  few active coordinates (1–3 iterations per λ on the benchmarks' designs).
* ``tol=ε`` with ``solver="fista"`` or ``"admm"`` (ridge, ``l1_ratio = 0``, by
  default): λ sorted from large to small and solved in blocks of ``block``
  (vmapped); each block starts from the previous block's solution at its
  smallest λ (warm start) and stops as soon as every λ in it has a relative
  duality gap :func:`relative_duality_gap` ≤ ε (checked every
  ``check_every`` iterations), or after ``steps`` iterations. Large λ (sparse,
  well conditioned) stop after a few iterations; only the small-λ blocks pay
  for ill-conditioning.

With ``tol``, the Gram matrix (the default when ``n > d``) and ``d ≥ 100``, ridge's
default solver is ADMM (``solver="admm"``), which an ill-conditioned design slows far less than
FISTA: with one eigendecomposition :math:`G = XᵀX/n = Q\,\mathrm{diag}(e)\,Qᵀ`
shared by every λ, each iteration is

.. math::

   w = Q\,\frac{Qᵀ(Xᵀy/n + r(z - u))}{e + 2\lambda(1-\rho) + r}, \quad
   \hat w = 1.6\,w - 0.6\,z, \quad
   z = S_{\lambda\rho/r}(\hat w + u), \quad u \mathrel{+}= \hat w - z

(over-relaxed ADMM for :math:`w = z`; ``z`` carries the exact zeros), and the
penalty ``r`` of each λ is rebalanced every ``check_every`` iterations (doubled
or halved when the primal residual :math:`\|w - z\|` and the dual residual
:math:`r\|z - z_{prev}\|` differ by more than 10×), at no cost since the
eigendecomposition serves every ``r``.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import os
import time
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxreg._checks import check_ratio
from jaxreg._train import fit
from jaxreg.core._grids import check_grid
from jaxreg.core._transforms import fista, prox_elastic_net
from jaxreg.core.prox import soft_threshold
from jaxreg.engine._devices import cpu_core_count, device_description
from jaxreg.engine._sweep import sweep
from jaxreg.solvers._objective import lipschitz_least_squares, relative_duality_gap

__all__ = ["elastic_net_path", "path_device", "AUTO_CPU_MAX_ENTRIES", "certifiable_tol"]


#: On CPU, BLAS runs on one thread (threadpoolctl, when installed) for NumPy's products below this many
#: multiply-adds (Xᵀy; the Gram matrix: :func:`_gram_numpy`, one BLAS thread per row block) and for the whole
#: active-set solve, whose LAPACK calls (through SciPy's OpenBLAS) factorise a few hundred slots at most (or,
#: n < d, n × n: threads kept from n³/3 on, as for the products). OpenBLAS's worker threads keep spinning for a
#: while after each threaded call and take the cores from XLA's solver: 2-core CPU, 2000 × 500 lasso path, run
#: time median 63–75 → 49 ms. Larger products keep every thread.
ONE_BLAS_THREAD_BELOW = 1e9


@functools.cache
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController  # (scikit-learn's dependency; optional here)
    except ImportError:
        return None
    return ThreadpoolController()


def _one_blas_thread(multiply_adds: float = 0.0):
    """Context: BLAS on one thread for work of this size (:data:`ONE_BLAS_THREAD_BELOW`), else unchanged."""
    controller = _blas_controller() if multiply_adds < ONE_BLAS_THREAD_BELOW else None
    return controller.limit(limits=1, user_api="blas") if controller is not None else contextlib.nullcontext()


#: The CPU Gram matrix is split over row blocks, one per core, from this many multiply-adds (n·d²) on; below, one
#: product (the threads cost ~0.2 ms).
GRAM_BLOCKS_FROM = 5e7


@functools.cache
def _gram_pool(workers: int):
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(workers, thread_name_prefix="jaxreg-gram")


if hasattr(os, "register_at_fork"):  # a forked child inherits the pool object but not its threads: a new one there
    os.register_at_fork(after_in_child=_gram_pool.cache_clear)


def _blas_limitable() -> bool:
    """threadpoolctl is installed and controls at least one BLAS library (it cannot limit every BLAS)."""
    controller = _blas_controller()
    return controller is not None and bool(controller.select(user_api="blas").lib_controllers)


def _gram_numpy(xn: np.ndarray) -> np.ndarray:
    r"""XᵀX in NumPy: :math:`\sum_b X_b^\top X_b` over row blocks :math:`X_b`, one per core, each product on its own
    Python thread with BLAS held to one thread (NumPy releases the GIL in BLAS).

    2-core CPU, float64: 2000 × 500 28.7 → 16.0 ms (one BLAS thread before), 20000 × 2000 2.43 s with OpenBLAS's
    own threads → 2.11 s; and OpenBLAS's worker threads, which spin for a while after a threaded call and took
    the cores from the XLA solver that follows, are never woken. At most 2n/d blocks (their d × d partial sums
    then take at most twice the memory of X), at least 64 rows each. Without a BLAS that threadpoolctl can hold
    to one thread, or below :data:`GRAM_BLOCKS_FROM`: one product."""
    n, d = xn.shape
    blocks = min(cpu_core_count(), n // 64, 2 * n // d) if n * d * d >= GRAM_BLOCKS_FROM and _blas_limitable() else 1
    if blocks < 2:
        with _one_blas_thread(n * d * d / 2):
            return xn.T @ xn
    edges = np.linspace(0, n, blocks + 1).astype(int)
    with _one_blas_thread():
        parts = list(_gram_pool(blocks).map(lambda ab: xn[ab[0]:ab[1]].T @ xn[ab[0]:ab[1]], zip(edges, edges[1:])))
    gram = parts[0]
    for part in parts[1:]:
        gram += part
    return gram


#: ``device="auto"``: a ``tol``-mode path with at most this many design entries (n·d) runs on the CPU when JAX's
#: default device is an accelerator. Such paths are latency-bound there: the solver's loops run one small step after
#: another, ~0.28 ms per λ on an H100 (2026-11-27, float64: diabetes 28 ms, breast cancer 30 ms for 100 λ, where
#: this project's 2-core CPUs take 4.9 and 5.7 ms (AVX2) or 1.5–1.8 ms (AVX-512) and scikit-learn on the H100
#: host's CPU 12 and 33 ms); at 2000 × 500 (10⁶ entries) the H100 (64 ms Gaussian, 124 ms Toeplitz) is no faster
#: than the AVX2 2-core CPU (71, 94 ms); at 20000 × 2000 the H100 is 12× scikit-learn and far ahead of any CPU.
AUTO_CPU_MAX_ENTRIES = 1_000_000


def path_device(device: Any = "auto", entries: int = 0, tol: float | None = None) -> jax.Device:
    """The device :func:`elastic_net_path` computes on for ``device`` and a design of ``entries`` = n·d values.

    ``"auto"`` (or ``None``): JAX's default device (``jax.default_device``'s if one is set, else the first local
    device), except a ``tol``-mode path of at most :data:`AUTO_CPU_MAX_ENTRIES` entries when that device is not a
    CPU: then the first CPU device. A platform name (``"cpu"``, ``"gpu"``, ``"cuda"``, ``"tpu"``): that platform's
    first local device. A :class:`jax.Device` of this process: itself.
    """
    if device is None:
        device = "auto"
    if isinstance(device, jax.Device):
        if device.process_index != jax.process_index():
            raise ValueError(f"device={device!r} belongs to process {device.process_index}, not this one "
                             f"({jax.process_index()}); use one of jax.local_devices(): {jax.local_devices()}")
        return device
    if not isinstance(device, str) or not device:
        raise ValueError(f"device must be 'auto', a platform name ('cpu', 'gpu', 'tpu') or a jax.Device from "
                         f"jax.local_devices(), got {device!r}")
    if device == "auto":
        default = jax.config.jax_default_device  # (set by `with jax.default_device(...)`: a device or a platform)
        if default is None:
            default = jax.local_devices()[0]
        elif isinstance(default, str):
            default = jax.local_devices(backend=default)[0]
        if default.platform != "cpu" and tol is not None and entries <= AUTO_CPU_MAX_ENTRIES:
            try:
                return jax.local_devices(backend="cpu")[0]
            except RuntimeError:  # JAX_PLATFORMS without "cpu": no CPU backend in this process
                pass
        return default
    try:
        return jax.local_devices(backend=device)[0]
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"device={device!r}: this JAX has no such device ({e}); use device='auto', 'cpu', or one "
                         f"of jax.local_devices(): {jax.local_devices()}") from None


def elastic_net_path(
    x: Any,
    y: Any,
    lambdas: Any,
    *,
    l1_ratio: float = 1.0,
    steps: int = 2000,
    accelerate: bool = True,
    gram: bool | None = None,
    chunk_size: int | None = None,
    tol: float | None = None,
    block: int = 25,
    check_every: int = 10,
    solver: str = "auto",
    device: Any = "auto",
    return_stats: bool = False,
) -> np.ndarray:
    """Coefficients ``(K, d)`` along a λ grid (no intercept: centre ``x`` and ``y`` first).

    Args:
      x: ``(n, d)`` design; y: ``(n,)`` target.
      lambdas: 1-D grid of jaxreg λ (``loss="half_mse"`` scaling).
      l1_ratio: ρ; 1 is the lasso, 0 is ridge (with jaxreg's no-½ L2).
      steps: proximal-gradient iterations per λ (with ``tol``: the most per block,
        rounded up to a multiple of ``check_every``).
      accelerate: FISTA with adaptive restart (``False``: plain ISTA).
      gram: compute gradients from the Gram matrix ``G = XᵀX/n`` and ``Xᵀy/n``
        (``O(d²)`` per iteration instead of ``O(nd)``); default: when ``n > d``.
      chunk_size: models per compiled call (``steps`` mode; see :func:`jaxreg.sweep`).
      tol: stop each block of λ once its largest relative duality gap is ≤ ``tol``
        (warm-started blocks, module docstring). ``None``: fixed ``steps``.
      block: λ solved together (vmapped) per warm-started block (``tol`` mode, FISTA and ADMM).
      check_every: iterations between duality-gap checks (``tol`` mode, FISTA and ADMM).
      solver: ``"active_set"`` (``tol`` mode, :mod:`jaxreg.active_set`; ``steps`` is then
        the most iterations per λ), ``"fista"``, ``"admm"`` (``tol`` mode with the Gram
        matrix) or ``"auto"``: active set when ``tol`` is given and ``l1_ratio > 0``;
        for ridge ADMM when ``gram`` holds and ``d ≥ 100``; else FISTA.
      device: where to compute (:func:`path_device`): ``"auto"`` (default) is JAX's default device, except
        that small ``tol``-mode paths (n·d ≤ :data:`AUTO_CPU_MAX_ENTRIES`) run on the CPU when the default is
        an accelerator (they are latency-bound there: ~0.28 ms per λ on an H100, several times the CPU's
        time); ``"cpu"``, ``"gpu"``, ``"tpu"`` or a :class:`jax.Device` choose. In ``steps`` mode a platform
        name shards the λ over all of that platform's devices (every process's), a device runs on it alone.
      return_stats: also return stats: :func:`jaxreg.sweep`'s (``steps`` mode),
        or ``setup_s`` (Gram matrix, eigendecomposition or Lipschitz constant),
        ``compile_s``, ``run_s``, ``device`` (:func:`jaxreg.engine._devices.device_description`
        of the device it ran on), ``iterations`` (per block, or per λ for the
        active set, which also reports the ``capacities`` it compiled for), the
        final ``max_gap`` and ``converged`` (``max_gap ≤ tol``) (``tol`` mode).

    On a CPU, while it runs, BLAS libraries are limited to one thread for the
    small products and the active-set solve (:data:`ONE_BLAS_THREAD_BELOW`; their
    idle worker threads would spin and slow XLA down) and restored afterwards.

    In ``tol`` mode a path that stops at ``steps`` before reaching ``tol`` warns
    (``RuntimeWarning``) and returns what it has. float32 resolves gaps down to
    about 1e-4 with the Gram matrix; enable ``jax_enable_x64`` for tighter ``tol``.
    """
    dev = path_device(device, int(np.prod(np.shape(x))), tol)
    # steps mode: the sweep runs on that one device, or on every device of its platform (of every process)
    devices = [dev] if isinstance(device, jax.Device) else jax.devices(backend=dev.platform)
    with jax.default_device(dev):
        return _elastic_net_path(x, y, lambdas, dev, devices, l1_ratio=l1_ratio, steps=steps, accelerate=accelerate,
                                 gram=gram, chunk_size=chunk_size, tol=tol, block=block, check_every=check_every,
                                 solver=solver, return_stats=return_stats)


def _elastic_net_path(x, y, lambdas, dev, devices, *, l1_ratio, steps, accelerate, gram, chunk_size, tol, block,
                      check_every, solver, return_stats):
    """:func:`elastic_net_path` on device ``dev`` (JAX's default device while it runs); ``devices``: the sweep's
    (``steps`` mode)."""
    check_ratio(l1_ratio, "l1_ratio")
    dtype = jnp.result_type(x, y, float)  # one float dtype for both (ints and mixed precisions alike)
    cpu = dev.platform == "cpu"
    x, y = (jax.device_put(a, dev) if isinstance(a, jax.Array) and a.devices() != {dev} else a for a in (x, y))
    # On CPU, x stays a NumPy array until a solver needs it in JAX: the Gram matrix and Xᵀy come from NumPy's
    # BLAS (syrk, gemv: 2.5 s and 0.02 s at 20000 × 2000 where XLA takes 5.9 s and 0.44 s), and a copy into
    # JAX that the Gram solvers never use would cost 0.2 s more.
    x = np.asarray(x, dtype) if cpu and not isinstance(x, jax.Array) else jnp.asarray(x, dtype)
    y = jnp.asarray(y, dtype)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be (n, d) and y (n,), got {x.shape} and {y.shape}")
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0):
        raise ValueError(f"tol must be a positive float (relative duality gap), got {tol!r}")
    for name, v in (("steps", steps), ("block", block), ("check_every", check_every)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    steps, block, check_every = int(steps), int(block), int(check_every)
    if solver not in ("auto", "fista", "admm", "active_set"):
        raise ValueError(f"solver must be 'auto', 'active_set', 'fista' or 'admm', got {solver!r}")
    n, d = x.shape
    if gram is None:
        gram = n > d
    if solver == "admm" and (tol is None or not gram):
        raise ValueError("solver='admm' needs tol=... and the Gram matrix (gram=True; n > d by default); "
                         "use solver='fista' otherwise")
    if solver == "active_set" and (tol is None or np.ndim(l1_ratio) != 0):
        raise ValueError("solver='active_set' needs tol=... (it stops at a duality gap, not after a number of steps) "
                         "and one float l1_ratio")
    if solver == "auto":  # benchmarks/: the active set is fastest with an l1 term; ADMM's eigendecomposition pays
        # off for ridge on larger designs (d = 500 vs 10, 30)
        if tol is not None and np.ndim(l1_ratio) == 0 and float(l1_ratio) > 0:
            solver = "active_set"
        else:
            solver = "admm" if tol is not None and gram and d >= 100 else "fista"
    # The data as arrays the compiled solvers take as arguments (not closure constants: a 2000² Gram
    # matrix baked into the program made compilation take seconds).
    t_setup = time.perf_counter()
    if gram:
        if cpu:  # (NumPy's BLAS: 28.7 ms for XᵀX at 2000 × 500 on one thread, XLA's float64 matmul 41 ms)
            xn, yn = np.asarray(x), np.asarray(y)
            g_mat = _gram_numpy(xn) / n
            with _one_blas_thread(n * d):
                xty, yy = xn.T @ yn / n, yn @ yn / n
            g_mat, xty, yy = jnp.asarray(g_mat), jnp.asarray(xty), jnp.asarray(yy)
        else:
            g_mat, xty, yy = x.T @ x / n, x.T @ y / n, jnp.dot(y, y) / n
        data = {"gram": g_mat, "xty": xty, "yy": yy}
    else:
        if cpu:
            xn, yn = np.asarray(x), np.asarray(y)
            with _one_blas_thread(n * d):
                xty, yy = xn.T @ yn / n, yn @ yn / n
            xty, yy = jnp.asarray(xty), jnp.asarray(yy)
        else:
            xty, yy = x.T @ y / n, jnp.dot(y, y) / n
        x = jnp.asarray(x)
        data = {"x": x, "y": y}
        if solver == "active_set":
            data.update(xty=xty, yy=yy)
    if solver == "active_set":
        from jaxreg.solvers._active_set import active_set_path  # (active_set imports this module)

        jax.block_until_ready(data)
        setup_s = time.perf_counter() - t_setup
        lam_desc, order = _descending(lambdas, x.dtype)
        with _one_blas_thread(n**3 / 3 if n < d else 0.0) if cpu else contextlib.nullcontext():
            coefs, stats = active_set_path(lam_desc, data, l1_ratio=l1_ratio, tol=tol, max_iter=steps)
        stats.update(setup_s=setup_s, solver=solver, device=device_description(dev))
        return _tol_result(coefs, order, stats, tol, x.dtype, return_stats)

    def grad_fn(data, w):  # ∇ of 1/(2n)‖y − Xw‖²: Gw − Xᵀy/n, or −Xᵀ(y − Xw)/n
        if "gram" in data:
            return data["gram"] @ w - data["xty"]
        return -(data["x"].T @ (data["y"] - data["x"] @ w)) / n

    lr = None
    if solver == "fista":
        lr = 1.0 / (float(np.linalg.eigvalsh(np.asarray(data["gram"])).max()) if gram else lipschitz_least_squares(x))

    def optimizers(lam):
        prox = prox_elastic_net(lam, l1_ratio, lr)
        return optax.chain(optax.sgd(lr), fista(prox) if accelerate else prox), optax.chain(optax.sgd(lr), prox)

    def last_step(data, lam, w):  # one plain proximal step: exact zeros
        last = optimizers(lam)[1]
        u, _ = last.update(grad_fn(data, w), last.init(w), w)
        return optax.apply_updates(w, u)

    if tol is None:

        @jax.custom_jvp
        def data_loss(w):  # 1/(2n)‖y − Xw‖² (with the Gram matrix: ½wᵀGw − wᵀXᵀy/n + ½yᵀy/n)
            if gram:
                return 0.5 * jnp.dot(w, data["gram"] @ w) - jnp.dot(w, data["xty"]) + 0.5 * data["yy"]
            r = y - x @ w
            return 0.5 * jnp.mean(r * r)

        @data_loss.defjvp
        def _(primals, tangents):  # the gradient with one matmul (autodiff of wᵀGw takes two)
            (w,), (t,) = primals, tangents
            return data_loss(w), jnp.dot(grad_fn(data, w), t)

        def solve(lam):
            opt = optimizers(lam)[0]
            w = fit(data_loss, jnp.zeros(d, x.dtype), opt, steps=steps).params
            return last_step(data, lam, w)

        return sweep(solve, lambdas, chunk_size=chunk_size, devices=devices, progress=False, return_stats=return_stats)

    def gaps(data, lams, ws):
        keys = ("gram", "xty", "yy") if "gram" in data else ("x", "y")
        return jax.vmap(lambda lam, w: relative_duality_gap(w, lam, l1_ratio, **{k: data[k] for k in keys}))(lams, ws)

    def until_gap(data, lams, start, run, current):  # `run` check_every iterations at a time until gap ≤ tol
        def cond(c):
            return (c[0] < steps) & (jnp.max(c[2]) > tol)

        def body(c):
            state = run(c[1])
            return c[0] + check_every, state, gaps(data, lams, current(state))

        first = (jnp.zeros([], jnp.int32), start, gaps(data, lams, current(start)))
        it, state, gap = jax.lax.while_loop(cond, body, first)
        return state, it, gap

    if solver == "fista":

        def init_carry():
            return jnp.zeros(d, x.dtype)

        def solve_block(lams, w0, data):  # carry: the previous block's last solution
            def run_one(lam, w, state):  # check_every accelerated iterations for one λ
                opt = optimizers(lam)[0]

                def body(_, carry):
                    w, state = carry
                    u, state = opt.update(grad_fn(data, w), state, w)
                    return optax.apply_updates(w, u), state

                return jax.lax.fori_loop(0, check_every, body, (w, state))

            def current(c):  # the proximal iterate x_k (FISTA's y_k has no exact zeros)
                return jax.vmap(lambda lam, w: last_step(data, lam, w))(lams, c[0])

            ws = jnp.broadcast_to(w0, (lams.shape[0], d))
            start = (ws, jax.vmap(lambda lam: optimizers(lam)[0].init(w0))(lams))
            state, it, gap = until_gap(data, lams, start, lambda c: jax.vmap(run_one)(lams, *c), current)
            ws = current(state)
            return ws, ws[-1], it, gap
    else:
        eig, q_mat = jnp.linalg.eigh(data["gram"])
        data = {**data, "eig": eig, "q": q_mat}

        def init_carry():  # z, scaled dual u, ADMM penalty r (of the block's last λ)
            return jnp.zeros(d, x.dtype), jnp.zeros(d, x.dtype), jnp.ones([], x.dtype)

        def solve_block(lams, carry, data):
            a1, a2 = lams * l1_ratio, 2 * lams * (1 - l1_ratio)
            eig, q_mat = data["eig"], data["q"]

            def iterate(_, c):
                z, u, r, _, _ = c
                v = data["xty"] + r[:, None] * (z - u)
                w = ((v @ q_mat) / (eig + a2[:, None] + r[:, None])) @ q_mat.T
                w_hat = 1.6 * w - 0.6 * z
                z_new = soft_threshold(w_hat + u, (a1 / r)[:, None])
                return z_new, u + w_hat - z_new, r, w, z

            def run(c):
                z, u, r, w, z_prev = jax.lax.fori_loop(0, check_every, iterate, (*c, c[0], c[0]))
                primal = jnp.linalg.norm(w - z, axis=1)
                dual = r * jnp.linalg.norm(z - z_prev, axis=1)
                f = jnp.where(primal > 10 * dual, 2.0, jnp.where(dual > 10 * primal, 0.5, 1.0)).astype(r.dtype)
                return z, u / f[:, None], r * f

            k = lams.shape[0]
            start = tuple(jnp.broadcast_to(a, (k, *a.shape)) for a in carry)
            (z, u, r), it, gap = until_gap(data, lams, start, run, lambda c: c[0])
            return z, (z[-1], u[-1], r[-1]), it, gap

    jax.block_until_ready(data)
    setup_s = time.perf_counter() - t_setup  # the Gram matrix, eigendecomposition or Lipschitz constant
    lam_desc, order = _descending(lambdas, x.dtype)
    coefs, stats = _blocks(lam_desc, solve_block, init_carry, data, block=block)
    stats.update(setup_s=setup_s, solver=solver, device=device_description(dev))
    return _tol_result(coefs, order, stats, tol, x.dtype, return_stats)


def _descending(lambdas, dtype):
    """``tol`` mode solves λ from large to small (each warm-starts the next): the sorted grid and its order."""
    lam_host = check_grid(lambdas).astype(np.dtype(dtype))
    order = np.argsort(-lam_host, kind="stable")
    return lam_host[order], order


#: The smallest relative duality gap a dtype certifies, in units of its machine epsilon: the gap's terms are
#: differences of quantities of the objective's size, so below this the rounding of the gap itself (which may
#: cancel to exactly 0) decides it. float32: 1.2e-4; float64: 2.2e-13.
CERTIFIABLE_GAP_EPS = 1000


def certifiable_tol(dtype: Any) -> float:
    """The smallest ``tol`` whose gap a path computed in ``dtype`` can certify (:data:`CERTIFIABLE_GAP_EPS` eps)."""
    return CERTIFIABLE_GAP_EPS * float(np.finfo(np.dtype(dtype)).eps)


def _tol_result(coefs, order, stats, tol, dtype, return_stats):
    """Coefficients back in the caller's λ order; a warning if the path stopped short of ``tol`` or ``tol`` is
    finer than ``dtype`` can certify (then ``converged`` is False whatever the computed gap)."""
    result = np.empty_like(coefs)
    result[order] = coefs
    floor = certifiable_tol(dtype)
    stats["certifiable_tol"] = floor
    stats["converged"] = bool(stats["max_gap"] <= tol and tol >= floor)
    name = np.dtype(dtype).name
    if tol < floor:
        warnings.warn(f"elastic_net_path: tol={tol:g} is below the smallest relative duality gap {name} can "
                      f"certify (~{floor:.1g}); the computed gap ({stats['max_gap']:.2g}) is within rounding, not a "
                      f"certificate, and converged is False. Use float64 (jax_enable_x64) or tol >= {floor:.1g}",
                      RuntimeWarning, stacklevel=4)  # (the caller of elastic_net_path)
    elif not stats["converged"]:
        warnings.warn(f"elastic_net_path stopped with a relative duality gap of {stats['max_gap']:.2g} > tol={tol:g} "
                      f"({name}), at `steps` or where rounding stopped the iterates; raise steps, or "
                      "use float64 (jax_enable_x64) for a tol below ~1e-4 (float32 resolves no finer)",
                      RuntimeWarning, stacklevel=4)  # (the caller of elastic_net_path)
    return (result, stats) if return_stats else result


def _blocks(lam_desc, solve_block, init_carry, data, *, block):
    """FISTA / ADMM in ``tol`` mode: the λ (large → small) in blocks, each warm-started from the last."""
    k = lam_desc.size
    block = min(block, k)  # fewer λ than a block: no padding columns
    n_blocks = -(-k // block)
    padded = np.concatenate([lam_desc, np.repeat(lam_desc[-1:], n_blocks * block - k)])
    carry = init_carry()
    t0 = time.perf_counter()
    solve = jax.jit(solve_block).lower(jnp.asarray(padded[:block]), carry, data).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    outs, iters, worst = [], [], []
    for b in range(n_blocks):
        ws, carry, it, gap = solve(jnp.asarray(padded[b * block:(b + 1) * block]), carry, data)
        outs.append(ws)
        iters.append(it)
        worst.append(jnp.max(gap))
    coefs = np.asarray(jnp.concatenate(outs))[:k]
    run_s = time.perf_counter() - t0
    return coefs, {"compile_s": compile_s, "run_s": run_s, "iterations": [int(i) for i in iters],
                   "max_gap": float(max(worst)), "n_blocks": n_blocks, "block": block}

"""A core-only install (jax, optax, chex, numpy) runs every library function.

``tqdm``, ``scikit-learn``, ``matplotlib`` and ``pandas`` are the ``cli`` extra, and
``threadpoolctl`` comes with scikit-learn. A subprocess hides them all behind a
``sys.meta_path`` finder installed before ``import jaxreg`` (so they fail to import as
if not installed), then runs the library: transforms in an optax chain, ``fit``,
``sweep`` (chunked, with a progress bar), a lasso path, penalties, converters, CV,
results and checkpoints. Each check reports its own traceback.
"""

import json
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Packages a core-only install does not have (the ``cli`` extra and what it brings).
OPTIONAL = ("tqdm", "sklearn", "matplotlib", "pandas", "threadpoolctl")

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, sys, tempfile, traceback

    OPTIONAL = set(sys.argv[1].split(","))


    class HideOptional(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in OPTIONAL:
                raise ModuleNotFoundError(f"No module named {name!r} (hidden: core-only install)", name=name)
            return None


    sys.meta_path.insert(0, HideOptional())

    import jax, jax.numpy as jnp, numpy as np, optax
    import jaxreg

    CHECKS = {}


    def check(fn):
        CHECKS[fn.__name__] = fn
        return fn


    @check
    def optional_packages_are_hidden():
        for name in OPTIONAL:
            try:
                __import__(name)
            except ImportError:
                continue
            raise AssertionError(f"{name} imported although hidden")
        assert not OPTIONAL & {m.partition(".")[0] for m in sys.modules}, "imported by import jaxreg"


    PARAMS = {"w": jnp.array([[1.0, -2.0], [0.5, 0.0]]), "b": jnp.array([0.3, -0.1])}


    @check
    def transforms_in_an_optax_chain():
        grads = jax.tree.map(jnp.ones_like, PARAMS)
        chains = [
            optax.chain(jaxreg.add_l2_decay(0.1), jaxreg.add_l1_sign(0.01), optax.sgd(0.1)),
            optax.chain(jaxreg.add_elastic_net(0.1, 0.5), optax.sgd(0.1), jaxreg.prox_l1(0.01, 0.1)),
            optax.chain(optax.sgd(0.1), jaxreg.prox_elastic_net(0.1, 0.5, 0.1)),
            optax.chain(optax.sgd(0.1), jaxreg.prox_group_lasso(0.1, 0.1)),
            optax.chain(jaxreg.add_penalty_grad(jaxreg.l2_penalty, 0.1), optax.sgd(0.1)),
            jaxreg.fista(optax.chain(optax.sgd(0.1), jaxreg.prox_l1(0.01, 0.1))),
        ]
        for opt in chains:
            updates, _ = jax.jit(opt.update)(grads, opt.init(PARAMS), PARAMS)
            assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))


    @check
    def penalties_and_prox():
        np.testing.assert_allclose(jaxreg.l1_penalty(PARAMS), 1 + 2 + 0.5 + 0.3 + 0.1, rtol=1e-6)
        np.testing.assert_allclose(jaxreg.l2_penalty(PARAMS), 1 + 4 + 0.25 + 0.09 + 0.01, rtol=1e-6)
        assert np.isfinite(float(jaxreg.elastic_net_penalty(PARAMS, 0.5)))
        assert np.isfinite(float(jaxreg.group_lasso_penalty(PARAMS)))
        np.testing.assert_allclose(jaxreg.soft_threshold(jnp.array([-2.0, 0.5, 3.0]), 1.0), [-1.0, 0.0, 2.0])
        assert np.isfinite(float(jaxreg.lambda_max_l1(lambda p: jnp.sum((p["w"] - 1.0) ** 2), PARAMS)))


    @check
    def converters_round_trip():
        lam = 0.25
        np.testing.assert_allclose(jaxreg.from_optax_weight_decay(jaxreg.to_optax_weight_decay(lam)), lam)
        np.testing.assert_allclose(jaxreg.from_sklearn_lasso(jaxreg.to_sklearn_lasso(lam)), lam)
        np.testing.assert_allclose(jaxreg.from_sklearn_ridge(jaxreg.to_sklearn_ridge(lam, n_samples=10),
                                                             n_samples=10), lam)
        np.testing.assert_allclose(jaxreg.from_sklearn_elastic_net(*jaxreg.to_sklearn_elastic_net(lam, 0.5)),
                                   (lam, 0.5))
        np.testing.assert_allclose(jaxreg.from_glmnet(*jaxreg.to_glmnet(lam, 0.5)), (lam, 0.5))


    def train(lam):
        opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(0.1))
        return jaxreg.fit(lambda w: jnp.sum((w - 3.0) ** 2), jnp.zeros(()), opt, steps=200).params


    @check
    def fit_with_minibatches_and_history():
        x = jnp.arange(40.0)
        res = jaxreg.fit(lambda w, b: jnp.mean((w - b) ** 2), jnp.zeros(()), optax.sgd(0.05), steps=30,
                         data=x, batch_size=8, key=jax.random.key(0), log_every=10,
                         metrics_fn=lambda w: {"w": w})
        assert res.history["loss"].shape == (3,) and np.isfinite(float(res.params))
        np.testing.assert_allclose(train(1.0), 1.5, rtol=1e-4)  # argmin (w-3)² + w²


    @check
    def sweep_chunked_with_progress_bar():
        lams = np.linspace(0.0, 2.0, 10)
        out, stats = jaxreg.sweep(train, lams, chunk_size=3, progress=True, return_stats=True)
        assert stats["n_chunks"] == 4, stats
        np.testing.assert_allclose(out, 3.0 / (1.0 + lams), rtol=1e-4)
        keyed = jaxreg.sweep(lambda lam, key, fold: lam + jax.random.uniform(key) * 0 + fold, lams[:2],
                             keys=[0, 1], folds=2, chunk_size=3, progress=True)
        assert keyed.shape == (2, 2, 2)


    @check
    def lasso_path():
        x = jax.random.normal(jax.random.key(0), (40, 6))
        y = x @ jnp.array([1.0, -2.0, 0.0, 0.0, 0.5, 0.0])
        lams = jaxreg.log_grid(1e-3, 1.0, 5)
        w = np.asarray(jaxreg.elastic_net_path(x, y, lams))
        assert w.shape == (5, 6) and np.all(np.isfinite(w))
        import inspect

        if "tol" in inspect.signature(jaxreg.elastic_net_path).parameters:  # a certified path
            w = np.asarray(jaxreg.elastic_net_path(x, y, lams, tol=1e-6))
            assert w.shape == (5, 6) and np.all(np.isfinite(w))


    @check
    def cross_validation():
        masks = jaxreg.kfold_masks(10, 3)
        assert masks.shape == (3, 10) and np.all(masks.sum(0) == 1)
        s = jaxreg.cv_summary([0.1, 1.0, 10.0], [[3.0, 1.0, 1.1], [3.0, 1.2, 1.2]])
        assert (s["lambda_min"], s["lambda_1se"]) == (1.0, 10.0)


    @check
    def results_and_checkpoints():
        table = {"penalty": np.array(["l2", "l2"]), "lambda": np.array([0.1, 1.0]), "seed": np.array([0, 0]),
                 "finite": np.array([True, True]), "val_loss": np.array([0.5, 0.2])}
        res = jaxreg.SweepResult(table=table)
        with tempfile.TemporaryDirectory() as d:
            res.save(d)
            back = jaxreg.SweepResult.load(d)
            assert back.to_csv() == res.to_csv() and back.best()["l2"]["lambda"] == 1.0
            try:
                res.to_dataframe()
            except ImportError as e:
                assert "pandas" in str(e), e
            else:
                raise AssertionError("to_dataframe worked without pandas")
            store = jaxreg.engine.ChunkStore(d + "/sweep", {"steps": 1}, [0.1, 1.0], resume=False, log=None)
            out = jaxreg.sweep(lambda lam: {"w": lam}, [0.1, 1.0], chunk_size=1,
                               on_chunk=lambda a, b, o: store.save("l2", a, b, o, 1))
            again = jaxreg.sweep(lambda lam: {"w": lam * 0}, [0.1, 1.0], chunk_size=1,
                                 load_chunk=lambda a, b: store.load("l2", a, b))
            np.testing.assert_array_equal(again["w"], out["w"])


    failed = {}
    for name, fn in CHECKS.items():
        try:
            fn()
        except Exception:
            failed[name] = traceback.format_exc()
    print(json.dumps({"ran": list(CHECKS), "failed": failed}))
    """
)


def test_library_runs_without_the_optional_packages():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT, ",".join(OPTIONAL)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(res["ran"]) >= 9, res["ran"]
    assert not res["failed"], "\n".join(f"--- {name}\n{tb}" for name, tb in res["failed"].items())

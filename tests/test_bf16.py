"""bf16-compute mode: float32 params, grads and losses; bfloat16 matmuls; same accuracy as float32."""

import json

import chex
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreg import models
from jaxreg.app import _runner as runner
from jaxreg.engine._checkpoint import ChunkStore, ResumeError

X = jax.random.normal(jax.random.key(1), (32, 5))
Y_CLASS = jnp.arange(32) % 3
Y_REG = jnp.linspace(-1.0, 1.0, 32)
W = jnp.linspace(0.5, 1.5, 32)


def _params(model):
    n_out = 1 if model == "linear" else 3
    return models.init_params(model, jax.random.key(0), 5, n_out, hidden=8)


def _dot_input_dtypes(fn, *args):
    """The dtypes of every dot_general's operands in ``fn``'s jaxpr (nested jaxprs included)."""
    found = set()

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "dot_general":
                found.update(str(v.aval.dtype) for v in eqn.invars)
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                walk(sub)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


class DefaultIsFloat32Test(chex.TestCase):
    """(a) compute_dtype=None is today's float32 computation, bit for bit."""

    @chex.variants(with_jit=True, without_jit=True)
    def test_default_equals_explicit_float32(self):
        for model, task, y, dt in (("mlp", "classification", Y_CLASS, jnp.float32),
                                   ("logistic", "classification", Y_CLASS, "float32"),
                                   ("linear", "regression", Y_REG, jnp.dtype("float32")),
                                   ("mlp", "regression", Y_REG, "float32")):
            both = self.variant(lambda p, dt=dt, task=task, y=y: [
                (models.predict(p, X), models.predict(p, X, compute_dtype=dt)),
                (models.data_loss(task, p, X, y, W), models.data_loss(task, p, X, y, W, compute_dtype=dt)),
                (models.accuracy(p, X, Y_CLASS), models.accuracy(p, X, Y_CLASS, compute_dtype=dt)),
                (jax.grad(models.data_loss, 1)(task, p, X, y),
                 jax.grad(lambda p: models.data_loss(task, p, X, y, compute_dtype=dt))(p)),
            ])(_params(model))
            for default, explicit in both:
                chex.assert_trees_all_equal(default, explicit)
                chex.assert_trees_all_equal_dtypes(default, explicit)

    def test_default_and_float32_trace_to_the_same_program(self):
        p = _params("mlp")
        loss = lambda dt: jax.grad(lambda p: models.data_loss("classification", p, X, Y_CLASS, compute_dtype=dt))
        assert str(jax.make_jaxpr(loss(None))(p)) == str(jax.make_jaxpr(loss("float32"))(p))
        assert _dot_input_dtypes(loss(None), p) == {"float32"}


class Bf16DtypesTest(chex.TestCase):
    """(b) bfloat16 compute: float32 in and out, bfloat16 inside."""

    @chex.variants(with_jit=True, without_jit=True)
    def test_params_grads_outputs_are_float32(self):
        for model in ("mlp", "logistic"):
            p = _params(model)

            @self.variant
            def step(p):
                loss, g = jax.value_and_grad(models.data_loss, 1)(
                    "classification", p, X, Y_CLASS, W, compute_dtype=jnp.bfloat16)
                return loss, g, models.predict(p, X, compute_dtype="bfloat16")

            loss, g, logits = step(p)
            chex.assert_trees_all_equal_dtypes(g, p)
            chex.assert_type([loss, logits, *jax.tree.leaves(p)], jnp.float32)
            chex.assert_shape(logits, (32, 3))
            chex.assert_tree_all_finite((loss, g))
            # close to the float32 values, but not equal: the matmuls really ran in bfloat16
            loss32, g32 = jax.value_and_grad(models.data_loss, 1)("classification", p, X, Y_CLASS, W)
            np.testing.assert_allclose(loss, loss32, rtol=2e-2)
            chex.assert_trees_all_close(g, g32, rtol=0.1, atol=2e-2)
            if model == "mlp":
                assert not np.array_equal(logits, models.predict(p, X))

    def test_matmuls_run_in_bfloat16_forward_and_backward(self):
        p = _params("mlp")
        loss = lambda p: models.data_loss("classification", p, X, Y_CLASS, compute_dtype="bfloat16")
        assert _dot_input_dtypes(loss, p) == {"bfloat16"}
        assert _dot_input_dtypes(jax.grad(loss), p) == {"bfloat16"}

    def test_regression_and_accuracy(self):
        p = _params("linear")
        loss = jax.grad(lambda p: models.data_loss("regression", p, X, Y_REG, compute_dtype="bfloat16"))(p)
        chex.assert_trees_all_equal_dtypes(loss, p)
        acc = models.accuracy(_params("mlp"), X, Y_CLASS, W, compute_dtype=jnp.bfloat16)
        chex.assert_type(acc, jnp.float32)
        assert 0.0 <= float(acc) <= 1.0


def test_bf16_training_matches_float32_accuracy_on_digits():
    """(c) MLP (64 hidden) on digits (1347 train / 450 val), SGD 300 steps: val accuracy within 0.5 points."""
    out = {}
    for dt in ("float32", "bfloat16"):
        cfg = runner.SweepConfig(model="mlp", hidden=64, penalties=("l2",), steps=300, lr=0.5,
                                 compute_dtype=dt).validate()
        ds = runner.load_data(cfg)
        assert (len(ds.y_train), len(ds.y_val)) == (1347, 450)
        out[dt] = jax.jit(runner.make_train_fn(ds, cfg, "l2"))(jnp.float32(1e-4), jax.random.key(0))
    m32, m16 = out["float32"]["metrics"], out["bfloat16"]["metrics"]
    acc32, acc16 = float(m32["val_accuracy"]), float(m16["val_accuracy"])
    assert acc32 > 0.95 and acc16 > 0.95, (acc32, acc16)
    assert abs(acc16 - acc32) <= 0.005, (acc32, acc16)
    chex.assert_trees_all_equal_dtypes(out["bfloat16"]["params"], out["float32"]["params"])
    chex.assert_type(jax.tree.leaves(out["bfloat16"]["params"]), jnp.float32)
    assert bool(m16["finite"])
    # bfloat16 was really used, in training and in the metrics
    assert not np.array_equal(out["bfloat16"]["params"]["w1"], out["float32"]["params"]["w1"])
    assert float(m16["val_loss"]) != float(m32["val_loss"])


BAD = [
    ("int dtype", "int32"),
    ("unknown name", "banana"),
    ("bool dtype", jnp.bool_),
    ("not a dtype", 3),
    ("fp8", jnp.float8_e4m3fn),
]


@pytest.mark.parametrize("name,value", BAD, ids=[b[0] for b in BAD])
def test_bad_compute_dtype(name, value):
    """(d) a clear ValueError naming the argument and what is accepted."""
    p = _params("mlp")
    for call in (lambda: models.predict(p, X, compute_dtype=value),
                 lambda: models.data_loss("classification", p, X, Y_CLASS, compute_dtype=value),
                 lambda: models.accuracy(p, X, Y_CLASS, compute_dtype=value)):
        with pytest.raises(ValueError, match="compute_dtype must be None or one of float32, bfloat16, float16"):
            call()


@pytest.mark.parametrize("value", ["banana", "int32", "bf16", jnp.bfloat16, None])
def test_bad_config_compute_dtype(value):
    with pytest.raises(ValueError, match="^compute_dtype must be one of float32, bfloat16, float16"):
        runner.SweepConfig(compute_dtype=value).validate()


def test_accepted_names():
    for name in models.COMPUTE_DTYPES:
        assert models.check_compute_dtype(name) == jnp.dtype(name)
        runner.SweepConfig(compute_dtype=name).validate()
    assert models.check_compute_dtype(None) is None
    assert models.check_compute_dtype(jnp.bfloat16) == jnp.dtype("bfloat16")


def test_config_round_trip_and_resume_check(tmp_path):
    cfg = runner.SweepConfig(compute_dtype="bfloat16").validate()
    d = cfg.to_dict()
    assert d["compute_dtype"] == "bfloat16"
    assert "compute_dtype" not in runner.SweepConfig().to_dict()  # absent = float32: older manifests resume
    saved = json.loads(json.dumps(d))  # as in manifest.json / summary.json
    saved["penalties"] = tuple(saved["penalties"])
    assert runner.SweepConfig(**saved).validate() == cfg
    # the checkpoint manifest stores it, and a resume with another compute dtype is refused by name
    ChunkStore(str(tmp_path), d, [0.1, 1.0], resume=False, log=None)
    assert ChunkStore.saved_config(str(tmp_path))["compute_dtype"] == "bfloat16"
    ChunkStore(str(tmp_path), d, [0.1, 1.0], resume=True, log=None)
    with pytest.raises(ResumeError, match="differs in: compute_dtype"):
        ChunkStore(str(tmp_path), runner.SweepConfig().to_dict(), [0.1, 1.0], resume=True, log=None)

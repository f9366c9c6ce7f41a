"""jaxreg.samples_minor: the CPU layout's loss and hand-written derivatives equal jax's of the usual formula.

Every check compares ``models.data_loss(layout="samples_minor")`` with ``layout="samples_major"`` (the
formula ``predict`` → optax cross-entropy / half MSE, differentiated by JAX): values, gradients with
respect to every input, forward mode, Hessians, vmap, jit, and 20 training steps.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl.testing import parameterized

import jaxreg
from jaxreg import models
from jaxreg.models import _samples_minor as samples_minor

N, D, C, H = 37, 5, 3, 4
KEYS = jax.random.split(jax.random.key(3), 6)
X = jax.random.normal(KEYS[0], (N, D))
Y_CLASS = jax.random.randint(KEYS[1], (N,), 0, C)
Y_REG = jax.random.normal(KEYS[2], (N,))
SW = jax.random.uniform(KEYS[3], (N,), minval=0.1, maxval=2.0)
CASES = (("mlp_classifier", "mlp", "classification"), ("logistic", "logistic", "classification"),
         ("mlp_regression", "mlp", "regression"), ("linear", "linear", "regression"))


def _case(model, task):
    p = models.init_params(model, KEYS[4], D, C if task == "classification" else 1, hidden=H)
    p = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(KEYS[5], a.shape), p)  # no zero weights, no dead units
    return p, (Y_CLASS if task == "classification" else Y_REG)


def _loss(task, layout):
    return lambda p, x, y, w: models.data_loss(task, p, x, y, w, layout=layout)


class SamplesMinorTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(*CASES)
    def test_value_and_every_gradient_equal_the_usual_formula(self, model, task):
        p, y = _case(model, task)
        argnums = (0, 1, 2, 3) if task == "regression" else (0, 1, 3)
        for w in (None, SW):
            args = (p, X, y, SW if w is None else w)
            if w is None:  # unweighted: gradients with respect to params and x only
                want = self.variant(jax.value_and_grad(lambda p, x: _loss(task, "samples_major")(p, x, y, None),
                                                       argnums=(0, 1)))(p, X)
                got = self.variant(jax.value_and_grad(lambda p, x: _loss(task, "samples_minor")(p, x, y, None),
                                                      argnums=(0, 1)))(p, X)
            else:
                want = self.variant(jax.value_and_grad(_loss(task, "samples_major"), argnums=argnums))(*args)
                got = self.variant(jax.value_and_grad(_loss(task, "samples_minor"), argnums=argnums))(*args)
            np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
            chex.assert_trees_all_close(got[1], want[1], rtol=1e-5, atol=1e-7)

    @parameterized.named_parameters(*CASES)
    def test_forward_mode_and_hessian(self, model, task):
        p, y = _case(model, task)
        t = jax.tree.map(lambda a: jnp.cos(jnp.arange(a.size, dtype=a.dtype).reshape(a.shape)), p)
        for w in (None, SW):
            f = {lay: (lambda p, lay=lay, w=w: _loss(task, lay)(p, X, y, w)) for lay in models.LAYOUTS}
            jvp = jax.jit(jax.jvp, static_argnums=0)
            want, got = jvp(f["samples_major"], (p,), (t,)), jvp(f["samples_minor"], (p,), (t,))
            chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-7)
            chex.assert_trees_all_close(jax.jit(jax.hessian(f["samples_minor"]))(p),
                                        jax.jit(jax.hessian(f["samples_major"]))(p),
                                        rtol=1e-4, atol=1e-6)
        # forward mode in x and in the weights, too
        fx = {lay: (lambda x, lay=lay: _loss(task, lay)(p, x, y, SW)) for lay in models.LAYOUTS}
        chex.assert_trees_all_close(jvp(fx["samples_minor"], (X,), (jnp.sin(X),)),
                                    jvp(fx["samples_major"], (X,), (jnp.sin(X),)), rtol=1e-5, atol=1e-7)

    @parameterized.named_parameters(*CASES)
    def test_vmap_over_params_and_over_data(self, model, task):
        p, y = _case(model, task)
        scales = jnp.array([1.0, 0.5, -0.25])
        def scaled(lay):
            return lambda s: _loss(task, lay)(jax.tree.map(lambda a: a * s, p), X, y, SW)

        for lay_f in (jax.grad, lambda f: f):
            per = {lay: jax.jit(jax.vmap(lay_f(scaled(lay)))) for lay in models.LAYOUTS}
            chex.assert_trees_all_close(per["samples_minor"](scales), per["samples_major"](scales),
                                        rtol=1e-5, atol=1e-7)
        xs = jnp.stack([X, 2 * X])  # data batched, params shared (CV folds)
        grad = {lay: jax.grad(lambda p, x, lay=lay: _loss(task, lay)(p, x, y, None)) for lay in models.LAYOUTS}
        g = {lay: jax.jit(jax.vmap(grad[lay], in_axes=(None, 0)))(p, xs) for lay in models.LAYOUTS}
        chex.assert_trees_all_close(g["samples_minor"], g["samples_major"], rtol=1e-5, atol=1e-7)

    def test_training_equals_the_usual_formula(self):
        p, y = _case("mlp", "classification")
        opt = optax.chain(jaxreg.add_l2_decay(1e-3), jaxreg.add_l1_sign(1e-3), optax.sgd(0.1))
        out = {lay: jaxreg.fit(lambda q, lay=lay: _loss("classification", lay)(q, X, y, None), p, opt,
                               steps=20).params for lay in models.LAYOUTS}
        chex.assert_trees_all_close(out["samples_minor"], out["samples_major"], rtol=1e-5, atol=1e-6)

    def test_dead_units_get_zero_gradient(self):
        """A hidden unit that is off for every sample (relu'(0) = 0, as jax.nn.relu) gets no gradient."""
        p, y = _case("mlp", "classification")
        p = dict(p, b1=p["b1"].at[0].set(-1e3))
        g = jax.grad(lambda q: _loss("classification", "samples_minor")(q, X, y, None))(p)
        assert float(jnp.abs(g["w1"][:, 0]).max()) == 0.0 and float(g["b1"][0]) == 0.0
        chex.assert_trees_all_close(g, jax.grad(lambda q: _loss("classification", "samples_major")(q, X, y, None))(p),
                                    rtol=1e-5, atol=1e-7)

    def test_all_zero_weights_as_the_usual_formula(self):
        p, y = _case("logistic", "classification")
        w = jnp.zeros(N)
        for argnums in (0, 3):
            want = jax.grad(_loss("classification", "samples_major"), argnums=argnums)(p, X, y, w)
            got = jax.grad(_loss("classification", "samples_minor"), argnums=argnums)(p, X, y, w)
            chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-7)


def test_labels_out_of_range_as_the_usual_formula():
    """A label ≥ n_classes makes the loss NaN (not a silent finite value); −1 is the last class (optax's indexing)."""
    p, _ = _case("logistic", "classification")
    for y in (Y_CLASS.at[3].set(C), Y_CLASS.at[3].set(-1)):
        want = _loss("classification", "samples_major")(p, X, y, None)
        got = _loss("classification", "samples_minor")(p, X, y, None)
        np.testing.assert_allclose(got, want, rtol=1e-6)  # NaN equals NaN here
    assert np.isnan(float(_loss("classification", "samples_minor")(p, X, Y_CLASS.at[3].set(C), None)))


def test_the_default_layout(monkeypatch):
    """CPU: samples_minor for classification, samples_major for regression and for a casting compute_dtype."""
    p, y = _case("mlp", "classification")
    calls = []
    real = samples_minor.data_loss
    monkeypatch.setattr(samples_minor, "data_loss", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    models.data_loss("classification", p, X, y)
    models.data_loss("classification", p, X, y, compute_dtype="float32")  # no cast: the same program
    assert calls == ["classification", "classification"]
    models.data_loss("regression", _case("mlp", "regression")[0], X, Y_REG)
    models.data_loss("classification", p, X, y, compute_dtype="bfloat16")
    models.data_loss("classification", p, X, y, layout="samples_major")
    assert len(calls) == 2
    models.data_loss("regression", _case("mlp", "regression")[0], X, Y_REG, layout="samples_minor")
    assert calls[-1] == "regression"
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    models.data_loss("classification", p, X, y, fused=False)
    assert len(calls) == 3


def test_bad_layout_names_the_choices():
    p, y = _case("mlp", "classification")
    with pytest.raises(ValueError, match="layout must be None .* samples_major, samples_minor"):
        models.data_loss("classification", p, X, y, layout="transposed")

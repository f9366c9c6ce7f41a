"""Proximal operators: closed forms and properties (hypothesis)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, strategies as st

import jaxreg
from jaxreg.core import prox as prox

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=32)
nonneg = st.floats(0, 10, allow_nan=False, allow_infinity=False, width=32)


class ProxClosedFormTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True, with_device=True)
    def test_soft_threshold(self):
        x = jnp.array([-2.0, -0.5, -0.1, 0.0, 0.3, 0.5, 1.5])
        got = self.variant(jaxreg.soft_threshold)(x, 0.5)
        np.testing.assert_array_equal(got, [-1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
        self.assertEqual(int(jnp.sum(got == 0)), 5)  # exact zeros

    def test_elastic_net_endpoints(self):
        x = jnp.linspace(-3, 3, 13)
        np.testing.assert_allclose(prox.elastic_net(x, 0.7, 1.0, 0.5), prox.lasso(x, 0.7, 0.5))
        np.testing.assert_allclose(prox.elastic_net(x, 0.7, 0.0, 0.5), prox.ridge(x, 0.7, 0.5))
        np.testing.assert_allclose(prox.ridge(x, 0.7, 0.5), x / 1.7, rtol=1e-6)

    def test_elastic_net_vmaps_over_ratio_and_lambda(self):
        x = jnp.linspace(-3, 3, 7)
        rhos = jnp.linspace(0, 1, 5)
        lams = jnp.linspace(0, 2, 5)
        got = jax.vmap(lambda r, l: prox.elastic_net(x, l, r))(rhos, lams)
        want = np.stack([prox.elastic_net(x, float(l), float(r)) for r, l in zip(rhos, lams)])
        np.testing.assert_allclose(got, want, rtol=1e-6)

    def test_group_lasso_block_threshold(self):
        k = jnp.array([[3.0, 0.1, 0.0], [4.0, 0.1, 0.0]])
        got = prox.group_lasso(k, 1.0, 1.0, axis=0)
        np.testing.assert_allclose(got, [[2.4, 0, 0], [3.2, 0, 0]], rtol=1e-6)
        self.assertTrue(jnp.all(got[:, 1:] == 0))
        # gradient through the prox w.r.t. λ at a zero column is 0, not NaN
        g = jax.grad(lambda lam: jnp.sum(prox.group_lasso(k, lam, 1.0, axis=0)))(1.0)
        self.assertTrue(np.isfinite(g))


@given(x=finite, t=nonneg, y=finite)
def test_soft_threshold_is_the_argmin(x, t, y):
    """S_t(x) minimises ½(x−y)² + t|y|: no y does better."""
    obj = lambda v: 0.5 * (x - v) ** 2 + t * abs(v)
    s = float(jaxreg.soft_threshold(np.float64(x), np.float64(t)))
    assert obj(s) <= obj(y) + 1e-6 * (1 + abs(obj(y)))
    # and it satisfies the optimality condition: x − s ∈ t·∂|s|
    if s != 0:
        assert abs((x - s) - t * np.sign(s)) <= 1e-4 * (1 + abs(x))
    else:
        assert abs(x) <= t + 1e-5 * (1 + t)


@given(
    a=st.lists(finite, min_size=4, max_size=4),
    b=st.lists(finite, min_size=4, max_size=4),
    lam=nonneg,
    rho=st.floats(0, 1),
)
def test_prox_operators_are_nonexpansive(a, b, lam, rho):
    a = jnp.asarray(a, jnp.float32).reshape(2, 2)
    b = jnp.asarray(b, jnp.float32).reshape(2, 2)
    dist = float(jnp.linalg.norm(a - b))
    for op in (
        lambda v: prox.lasso(v, lam),
        lambda v: prox.ridge(v, lam),
        lambda v: prox.elastic_net(v, lam, rho),
        lambda v: prox.group_lasso(v, lam, 1.0, axis=0),
    ):
        assert float(jnp.linalg.norm(op(a) - op(b))) <= dist * (1 + 1e-5) + 1e-4


@given(x=st.lists(finite, min_size=2, max_size=2), lam=nonneg)
def test_group_lasso_prox_is_the_argmin(x, lam):
    """Block soft threshold beats random nearby points on ½‖y−x‖² + λ‖y‖."""
    x = np.asarray(x, np.float64)
    obj = lambda v: 0.5 * np.sum((v - x) ** 2) + lam * np.linalg.norm(v)
    p = np.asarray(prox.group_lasso(jnp.asarray(x), lam, 1.0, axis=0), np.float64)
    rng = np.random.default_rng(0)
    for y in [np.zeros(2), x, *(p + rng.normal(size=(8, 2)) * 0.1)]:
        assert obj(p) <= obj(y) + 1e-4 * (1 + abs(obj(y)))

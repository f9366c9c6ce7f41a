"""Argument checks shared by every layer: mask forms (optax's, and the callable pytrees of equinox) and the
NaN semantics of traced hyperparameters (one bad value among many models must not raise, nor answer wrongly)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxreg


def _params():
    return {"w": jnp.array([1.0, -1.0, 1.0]), "b": jnp.array([0.5])}


@pytest.mark.parametrize(
    "fn",
    [
        lambda om: jaxreg.l1_penalty({"w": jnp.array([1.0, -1.0, 1.0])}, weights={"w": om}),
        lambda om: jaxreg.l2_penalty({"w": jnp.array([1.0, -1.0, 1.0])}, weights={"w": om}),
        lambda om: jaxreg.elastic_net_penalty({"w": jnp.array([1.0, -1.0, 1.0])}, 0.5, weights={"w": om}),
    ],
    ids=["l1", "l2", "elastic_net"],
)
def test_traced_negative_penalty_factor_gives_nan_not_a_wrong_value(fn):
    bad = jnp.array([1.0, -1.0, 1.0])
    assert np.isnan(float(jax.jit(fn)(bad)))
    good = jnp.array([1.0, 0.0, 2.0])
    assert float(jax.jit(fn)(good)) == pytest.approx(float(fn(good)))  # valid factors: unchanged


@pytest.mark.parametrize("factory", [jaxreg.prox_l1, lambda lam, lr, **kw: jaxreg.prox_elastic_net(lam, 0.5, lr, **kw)])
def test_traced_negative_penalty_factor_in_a_prox_gives_nan(factory):
    params = {"w": jnp.array([1.0, -1.0, 1.0])}

    def step(om):
        tx = factory(0.1, 1.0, weights={"w": om})
        u, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
        return u["w"]

    out = np.asarray(jax.jit(step)(jnp.array([1.0, -1.0, 1.0])))
    np.testing.assert_array_equal(np.isnan(out), [False, True, False])  # NaN where the factor is invalid
    np.testing.assert_allclose(jax.jit(step)(jnp.array([1.0, 2.0, 1.0])), step(np.array([1.0, 2.0, 1.0])), rtol=1e-6)


def test_traced_negative_factor_in_vmap_only_poisons_its_own_model():
    params = {"w": jnp.array([2.0, -2.0])}
    oms = jnp.array([[1.0, 1.0], [-1.0, 1.0], [0.5, 0.0]])
    out = np.asarray(jax.vmap(lambda om: jaxreg.l1_penalty(params, weights={"w": om}))(oms))
    np.testing.assert_allclose(out[[0, 2]], [4.0, 1.0])
    assert np.isnan(out[1])


def test_concrete_negative_factor_still_raises():
    with pytest.raises(ValueError, match="weights"):
        jaxreg.l1_penalty(_params(), weights={"w": -1.0, "b": 1.0})


def test_equinox_module_of_bools_is_a_mask_tree_not_a_function():
    eqx = pytest.importorskip("equinox")
    m = eqx.nn.Linear(3, 2, key=jax.random.key(0))
    mk = jax.tree.map(lambda _: True, m)
    mk = eqx.tree_at(lambda t: t.bias, mk, False)  # decay the weight, not the bias
    tx = optax.chain(jaxreg.add_l2_decay(0.1, mask=mk), optax.sgd(1.0))
    u, _ = tx.update(jax.tree.map(jnp.zeros_like, m), tx.init(m), m)
    np.testing.assert_allclose(u.weight, -0.2 * m.weight, rtol=1e-6)  # −α·2λ·w
    np.testing.assert_array_equal(u.bias, 0.0)
    # optax.masked agrees on the same mask
    ref = optax.chain(optax.masked(optax.add_decayed_weights(0.2), mk), optax.sgd(1.0))
    r, _ = ref.update(jax.tree.map(jnp.zeros_like, m), ref.init(m), m)
    np.testing.assert_allclose(u.weight, r.weight, rtol=1e-6)


def test_a_plain_function_is_still_a_mask_function():
    params = _params()
    tx = jaxreg.add_l2_decay(0.5, mask=lambda p: {"w": True, "b": False})
    u, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
    np.testing.assert_allclose(u["w"], params["w"])  # 2λw with λ = 0.5
    np.testing.assert_array_equal(u["b"], 0.0)



@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_low_precision_lambda_is_a_real_number(dtype):
    """A bfloat16 λ (a NumPy extension dtype) is checked like float16: accepted when valid, named when not."""
    jaxreg.add_l2_decay(jnp.asarray(0.1, dtype))
    with pytest.raises(ValueError, match="lam must be >= 0"):
        jaxreg.add_l2_decay(jnp.asarray(-0.1, dtype))


def test_soft_threshold_with_a_traced_negative_threshold_is_nan():
    x = jnp.array([2.0, -1.5, 0.0])
    assert np.isnan(np.asarray(jax.jit(jaxreg.soft_threshold)(x, -1.0))).all()
    np.testing.assert_allclose(jax.jit(jaxreg.soft_threshold)(x, 0.5), [1.5, -1.0, 0.0])
    assert jaxreg.soft_threshold(x.astype(jnp.bfloat16), 0.5).dtype == jnp.bfloat16

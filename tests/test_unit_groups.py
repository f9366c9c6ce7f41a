"""Group lasso over groups that span leaves (hidden units): closed form, both layouts, NaN/vmap/jit, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxreg

G = jaxreg.UnitGroup


def _mlp():
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    return {"l1": {"kernel": jax.random.normal(k1, (3, 4)), "bias": jax.random.normal(k2, (4,))},
            "l2": {"kernel": jax.random.normal(k3, (4, 2)), "bias": jnp.ones(2)}}


GROUPS = {"l1": {"kernel": G("h", 1), "bias": G("h", 0)}, "l2": {"kernel": G("h", 0), "bias": None}}


def _by_hand(params, t):
    """Block soft thresholding of the concatenated unit vectors [W1[:, i], b1[i], W2[i, :]]."""
    w1, b1, w2 = (np.asarray(a) for a in (params["l1"]["kernel"], params["l1"]["bias"], params["l2"]["kernel"]))
    out1, outb, out2 = w1.copy(), b1.copy(), w2.copy()
    for i in range(b1.size):
        v = np.concatenate([w1[:, i], b1[i:i + 1], w2[i]])
        f = max(0.0, 1 - t / np.linalg.norm(v))
        out1[:, i], outb[i], out2[i] = w1[:, i] * f, b1[i] * f, w2[i] * f
    return out1, outb, out2


@pytest.mark.parametrize("lam", [0.3, 2.5])
def test_prox_is_block_soft_thresholding_of_each_unit(lam):
    params, lr = _mlp(), 0.8
    tx = jaxreg.proximal_sgd(lr, lambda a: jaxreg.prox_unit_group_lasso(lam, a, GROUPS))
    zeros = jax.tree.map(jnp.zeros_like, params)
    new = optax.apply_updates(params, tx.update(zeros, tx.init(params), params)[0])
    w1, b1, w2 = _by_hand(params, lr * lam)
    np.testing.assert_allclose(new["l1"]["kernel"], w1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new["l1"]["bias"], b1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new["l2"]["kernel"], w2, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(new["l2"]["bias"], params["l2"]["bias"])  # in no group
    norms = np.asarray(jaxreg.unit_norms(new, GROUPS)["h"])
    assert ((norms == 0) == (np.asarray(jaxreg.unit_norms(params, GROUPS)["h"]) <= lr * lam)).all()


def test_penalty_is_the_sum_of_unit_norms_and_its_gradient_is_finite_at_zero():
    params = _mlp()
    w1, b1, w2 = (np.asarray(a) for a in (params["l1"]["kernel"], params["l1"]["bias"], params["l2"]["kernel"]))
    want = sum(np.linalg.norm(np.concatenate([w1[:, i], b1[i:i + 1], w2[i]])) for i in range(4))
    assert float(jaxreg.unit_group_lasso_penalty(params, GROUPS)) == pytest.approx(want, rel=1e-5)
    dead = jax.tree.map(jnp.zeros_like, params)
    assert jnp.isfinite(jax.grad(lambda p: jaxreg.unit_group_lasso_penalty(p, GROUPS))(dead)["l1"]["kernel"]).all()


def test_equinox_layout_prunes_the_same_units():
    eqx = pytest.importorskip("equinox")
    params = _mlp()
    model = eqx.nn.MLP(3, 2, width_size=4, depth=1, key=jax.random.key(1))
    model = eqx.tree_at(lambda m: (m.layers[0].weight, m.layers[0].bias, m.layers[1].weight, m.layers[1].bias),
                        model, (params["l1"]["kernel"].T, params["l1"]["bias"], params["l2"]["kernel"].T,
                                params["l2"]["bias"]))
    groups = jax.tree.map(lambda _: None, model)
    groups = eqx.tree_at(lambda m: (m.layers[0].weight, m.layers[0].bias, m.layers[1].weight), groups,
                         (G("h", 0), G("h", 0), G("h", 1)), is_leaf=lambda x: x is None)
    arrays = eqx.filter(model, eqx.is_inexact_array)
    np.testing.assert_allclose(jaxreg.unit_norms(arrays, groups)["h"], jaxreg.unit_norms(params, GROUPS)["h"],
                               rtol=1e-6)


def test_traced_bad_lambda_is_nan_and_vmap_over_lambda_equals_a_loop():
    params = _mlp()
    zeros = jax.tree.map(jnp.zeros_like, params)

    def step(lam):
        tx = jaxreg.prox_unit_group_lasso(lam, 0.5, GROUPS)
        return tx.update(zeros, tx.init(params), params)[0]["l1"]["kernel"]

    lams = jnp.array([0.1, 1.0, 3.0])
    np.testing.assert_allclose(jax.vmap(step)(lams), np.stack([step(float(v)) for v in lams]), rtol=1e-6)
    assert np.isnan(np.asarray(jax.jit(step)(jnp.float32(-1.0)))).all()


def test_bad_groups_are_errors_naming_groups():
    params = _mlp()
    with pytest.raises(ValueError, match="units along their axes"):
        jaxreg.unit_norms(params, {"l1": {"kernel": G("h", 0), "bias": G("h", 0)}, "l2": None})
    with pytest.raises(ValueError, match="groups must have the tree structure"):
        jaxreg.unit_norms(params, {"l1": G("h", 1)})
    with pytest.raises(ValueError, match="no UnitGroup leaf"):
        jaxreg.unit_norms(params, {"l1": None, "l2": None})
    with pytest.raises(ValueError, match="does not fit a leaf"):
        jaxreg.unit_norms(params, {"l1": {"kernel": G("h", 2), "bias": None}, "l2": None})
    with pytest.raises(ValueError, match="axis must be an int"):
        G("h", 1.0)

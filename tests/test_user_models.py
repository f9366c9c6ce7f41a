"""jaxreg's transforms with the models users bring: flax linen (BatchNorm), flax nnx (nnx.Optimizer), equinox.

Each model's weight matrices are decayed and its biases / norm scales left alone by ``mask=jaxreg.weights_mask``;
the update is checked against the closed form ``u = −α·2λ·w`` (zero data gradient, SGD step α)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxreg

LAM, LR = 0.1, 0.5


def _decay_only(params):
    tx = optax.chain(jaxreg.add_l2_decay(LAM, mask=jaxreg.weights_mask), optax.sgd(LR))
    zeros = jax.tree.map(jnp.zeros_like, params)
    u, _ = tx.update(zeros, tx.init(params), params)
    return u


def _check(params, updates):
    for (path, w), u in zip(jax.tree_util.tree_leaves_with_path(params), jax.tree.leaves(updates)):
        want = -LR * 2 * LAM * np.asarray(w) if np.ndim(w) >= 2 else np.zeros_like(w)
        np.testing.assert_allclose(u, want, rtol=1e-6, atol=1e-7, err_msg=jax.tree_util.keystr(path))


def test_raw_dict_and_exclude_by_name():
    params = {"embed": {"embedding": jnp.ones((5, 3))}, "dense": {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)}}
    mask = jaxreg.weights_mask(params, exclude=("embed",))
    assert mask == {"embed": {"embedding": False}, "dense": {"kernel": True, "bias": False}}
    bound = functools.partial(jaxreg.weights_mask, exclude=("embed",))  # as a mask function
    tx = jaxreg.add_l2_decay(LAM, mask=bound)
    u, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
    np.testing.assert_array_equal(u["embed"]["embedding"], 0.0)
    with pytest.raises(ValueError, match="exclude"):
        jaxreg.weights_mask(params, exclude="embed")


def test_lora_style_factors_named_a_and_b_are_both_penalised():
    """A raw / LoRA-style tree {"a": (d, r), "b": (r, d)}: ``b`` is a matrix, not haiku's bias (a vector)."""
    params = {"lora": {"a": jnp.ones((4, 2)), "b": jnp.full((2, 4), 0.5)}, "haiku_linear": {"w": jnp.ones((4, 3)),
                                                                                           "b": jnp.ones(3)}}
    assert jaxreg.weights_mask(params) == {"lora": {"a": True, "b": True},
                                           "haiku_linear": {"w": True, "b": False}}
    _check(params, _decay_only(params))  # the decay reaches both factors, exactly −2αλ·w


def test_flax_linen_with_batchnorm():
    nn = pytest.importorskip("flax.linen")

    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool):
            x = nn.Conv(4, (3, 3))(x)
            x = nn.BatchNorm(use_running_average=not train)(x)
            x = nn.Dropout(0.5, deterministic=not train)(nn.relu(x))
            return nn.Dense(3)(x.reshape(x.shape[0], -1))

    variables = CNN().init(jax.random.key(0), jnp.ones((2, 6, 6, 1)), train=False)
    params = variables["params"]
    _check(params, _decay_only(params))
    assert jaxreg.weights_mask(variables)["batch_stats"]["BatchNorm_0"] == {"mean": False, "var": False}


def test_flax_nnx_inside_nnx_optimizer():
    nnx = pytest.importorskip("flax.nnx")

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.l1 = nnx.Linear(4, 8, rngs=rngs)
            self.ln = nnx.LayerNorm(8, rngs=rngs)
            self.l2 = nnx.Linear(8, 2, rngs=rngs)

        def __call__(self, x):
            return self.l2(jax.nn.gelu(self.ln(self.l1(x))))

    model = MLP(nnx.Rngs(0))
    before = jax.tree.map(np.asarray, nnx.state(model, nnx.Param))
    # nnx.Optimizer initialises with nnx.Param nodes and updates with plain arrays: a mask *function* fits both
    opt = nnx.Optimizer(model, optax.chain(jaxreg.add_l2_decay(LAM, mask=jaxreg.weights_mask), optax.sgd(LR)),
                        wrt=nnx.Param)
    zero_grads = jax.tree.map(jnp.zeros_like, nnx.state(model, nnx.Param))
    opt.update(model, zero_grads)
    after = jax.tree.map(np.asarray, nnx.state(model, nnx.Param))
    np.testing.assert_allclose(after["l1"]["kernel"], before["l1"]["kernel"] * (1 - 2 * LR * LAM), rtol=1e-6)
    np.testing.assert_array_equal(after["l1"]["bias"], before["l1"]["bias"])
    np.testing.assert_array_equal(after["ln"]["scale"], before["ln"]["scale"])


def test_equinox_mlp():
    eqx = pytest.importorskip("equinox")
    model = eqx.nn.MLP(3, 2, width_size=4, depth=2, key=jax.random.key(0))  # holds activation functions too
    params = eqx.filter(model, eqx.is_inexact_array)
    u = _decay_only(params)
    for layer, ul in zip(model.layers, u.layers):
        np.testing.assert_allclose(ul.weight, -LR * 2 * LAM * layer.weight, rtol=1e-6)
        np.testing.assert_array_equal(ul.bias, 0.0)


def _by_path(mask):
    return {jax.tree_util.keystr(p): m for p, m in jax.tree_util.tree_leaves_with_path(mask)}


def test_linen_scanned_layers_leave_stacked_biases_and_scales_alone():
    nn = pytest.importorskip("flax.linen")

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            return nn.LayerNorm()(nn.relu(nn.Dense(16)(x))), None

    class Deep(nn.Module):
        @nn.compact
        def __call__(self, x):
            scan = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True}, length=4)
            return scan()(x, None)[0]

    params = Deep().init(jax.random.key(0), jnp.ones((2, 16)))["params"]
    assert params["ScanBlock_0"]["LayerNorm_0"]["scale"].shape == (4, 16)  # stacking made it 2-D
    assert jaxreg.weights_mask(params) == {"ScanBlock_0": {"Dense_0": {"bias": False, "kernel": True},
                                                           "LayerNorm_0": {"bias": False, "scale": False}}}
    u = _decay_only(params)
    np.testing.assert_allclose(u["ScanBlock_0"]["Dense_0"]["kernel"],
                               -LR * 2 * LAM * params["ScanBlock_0"]["Dense_0"]["kernel"], rtol=1e-6)
    for leaf in (u["ScanBlock_0"]["Dense_0"]["bias"], u["ScanBlock_0"]["LayerNorm_0"]["scale"]):
        np.testing.assert_array_equal(leaf, 0.0)


def test_nnx_vmapped_layers_leave_stacked_biases_and_scales_alone():
    nnx = pytest.importorskip("flax.nnx")

    class Block(nnx.Module):
        def __init__(self, rngs):
            self.linear = nnx.Linear(8, 8, rngs=rngs)
            self.norm = nnx.LayerNorm(8, rngs=rngs)

    @nnx.vmap(in_axes=0, out_axes=0)
    def make(key):
        return Block(nnx.Rngs(key))

    state = nnx.state(make(jax.random.split(jax.random.key(0), 3)), nnx.Param)
    want = {"['linear']['bias']": False, "['linear']['kernel']": True,
            "['norm']['bias']": False, "['norm']['scale']": False}
    as_params = {k.removesuffix(".value"): m for k, m in _by_path(jaxreg.weights_mask(state)).items()}
    assert as_params == want  # the Param nodes nnx.Optimizer initialises with
    plain = jax.tree.map(jnp.asarray, nnx.to_pure_dict(state))
    assert _by_path(jaxreg.weights_mask(plain)) == want  # the plain arrays it updates with


def test_equinox_stacked_layers_with_stacked_axes():
    eqx = pytest.importorskip("equinox")

    class Block(eqx.Module):
        linear: eqx.nn.Linear
        norm: eqx.nn.LayerNorm

        def __init__(self, key):
            self.linear, self.norm = eqx.nn.Linear(8, 8, key=key), eqx.nn.LayerNorm(8)

    class Net(eqx.Module):
        blocks: Block
        head: eqx.nn.Linear

    keys = jax.random.split(jax.random.key(0), 4)
    net = Net(eqx.filter_vmap(Block)(keys), eqx.nn.Linear(8, 2, key=keys[0]))
    params = eqx.filter(net, eqx.is_inexact_array)
    stacked = _by_path(jaxreg.weights_mask(params.blocks, stacked_axes=1))
    assert stacked == {".linear.weight": True, ".linear.bias": False, ".norm.weight": False, ".norm.bias": False}
    # a model with both: the stack's part of the mask on its own, as the docstring shows
    mask = eqx.tree_at(lambda m: m.blocks, jaxreg.weights_mask(params),
                       jaxreg.weights_mask(params.blocks, stacked_axes=1))
    assert _by_path(mask) == {".blocks.linear.weight": True, ".blocks.linear.bias": False,
                              ".blocks.norm.weight": False, ".blocks.norm.bias": False,
                              ".head.weight": True, ".head.bias": False}


@pytest.mark.parametrize("bad", [-1, 1.0, True, "1"])
def test_stacked_axes_must_be_a_non_negative_int(bad):
    with pytest.raises(ValueError, match="stacked_axes must be an int >= 0"):
        jaxreg.weights_mask({"w": jnp.ones((2, 2))}, stacked_axes=bad)

"""jaxreg.models.mlp_cross_entropy: the fused kernel equals the XLA formula (value, gradient, vmap, bf16, weights).

The kernel runs in Pallas' interpreter here (backend="interpret"); its Triton lowering is checked by lowering
for CUDA on this CPU machine. Speed is measured on a GPU by benchmarks/ (sweep_layouts.py, gpu.sh).
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreg import models
from jaxreg.models import KernelConfig, _fused as fused, mlp_cross_entropy

# shapes that are not powers of two and not multiples of the row tile: padding must add nothing
N, D, H, C = 45, 5, 12, 3
X = jax.random.normal(jax.random.key(1), (N, D))
Y = jnp.arange(N) % C
SW = jnp.linspace(0.2, 2.0, N)
P = models.init_params("mlp", jax.random.key(0), D, C, hidden=H)


def _xla(p, x=X, w=None, dt=None):
    return models.data_loss("classification", p, x, Y, w, compute_dtype=dt, fused=False)


def _kern(p, x=X, w=None, dt=None, config=None):
    return mlp_cross_entropy(p, x, Y, w, compute_dtype=dt, backend="interpret", config=config)


@pytest.mark.parametrize("weighted", [False, True])
def test_value_and_gradient_equal_the_xla_formula(weighted):
    w = SW if weighted else None
    want_l, want_g = jax.value_and_grad(_xla)(P, w=w)
    got_l, got_g = jax.value_and_grad(_kern)(P, w=w)
    np.testing.assert_allclose(got_l, want_l, rtol=1e-6)
    chex.assert_trees_all_close(got_g, want_g, rtol=1e-5, atol=1e-7)


def test_bfloat16_compute_is_close_to_the_xla_bfloat16_loss():
    want_l, want_g = jax.value_and_grad(_xla)(P, dt=jnp.bfloat16)
    got_l, got_g = jax.value_and_grad(_kern)(P, dt=jnp.bfloat16)
    np.testing.assert_allclose(got_l, want_l, rtol=1e-2)
    chex.assert_trees_all_close(got_g, want_g, rtol=0.05, atol=5e-3)
    chex.assert_trees_all_equal_dtypes(got_g, P)  # float32 gradients for float32 params


def test_vmap_over_models_with_shared_data_and_jit_with_data_arguments():
    ps = jax.tree.map(lambda a: jnp.stack([a, 1.1 * a, 0.9 * a]), P)
    want = jax.vmap(jax.grad(_xla))(ps)
    got = jax.jit(jax.vmap(jax.grad(_kern)))(ps)
    chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-7)
    # data as jit arguments (tracers), and batched data (one dataset per model, e.g. CV folds)
    f = jax.jit(jax.vmap(lambda p, x: jax.grad(_kern)(p, x), in_axes=(0, 0)))
    xs = jnp.stack([X, X + 0.1, X - 0.1])
    want = jax.vmap(lambda p, x: jax.grad(_xla)(p, x))(ps, xs)
    chex.assert_trees_all_close(f(ps, xs), want, rtol=1e-5, atol=1e-7)


def test_nested_vmap():
    ps = jax.tree.map(lambda a: jnp.stack([jnp.stack([a, 1.1 * a]), jnp.stack([0.9 * a, 1.2 * a])]), P)
    want = jax.vmap(jax.vmap(jax.grad(_xla)))(ps)
    got = jax.vmap(jax.vmap(jax.grad(_kern)))(ps)
    chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-7)


def test_gradients_with_respect_to_data_and_weights_come_from_the_xla_formula():
    gx = jax.grad(lambda x: _kern(P, x, SW))(X)
    np.testing.assert_allclose(gx, jax.grad(lambda x: _xla(P, x, SW))(X), rtol=1e-5, atol=1e-8)
    gw = jax.grad(lambda w: _kern(P, X, w))(SW)
    np.testing.assert_allclose(gw, jax.grad(lambda w: _xla(P, X, w))(SW), rtol=1e-5, atol=1e-8)


def test_training_with_the_kernel_equals_training_with_xla():
    import optax

    import jaxreg

    def train(loss):
        opt = optax.chain(jaxreg.add_l2_decay(1e-3), jaxreg.add_l1_sign(1e-3), optax.sgd(0.1))
        return jaxreg.fit(loss, P, opt, steps=20).params

    chex.assert_trees_all_close(train(_kern), train(_xla), rtol=1e-4, atol=1e-6)


def test_programs_per_model_follow_the_models_in_flight():
    config = KernelConfig()
    n_tiles = -(-1797 // config.tile)  # W1: 57 tiles of 32 rows
    assert fused._programs_per_model(1, n_tiles, config) == n_tiles  # one model: every tile its own program
    assert fused._programs_per_model(64, n_tiles, config) == 8  # 512 programs in all
    assert fused._programs_per_model(1024, n_tiles, config) == 1  # many models: one program each
    # the bytes one model moves: x and targets once, params and partial gradients once per program
    assert fused.kernel_hbm_bytes(1797, 64, 128, 10, 1024) == 4 * (1797 * 80 + 2 * (64 * 128 + 128 + 128 * 16 + 16)
                                                                  + 16)
    # bfloat16 operands: x, W1 and W2 are read as 2-byte words, the rest stays 4 bytes
    weights = 64 * 128 + 128 * 16
    assert fused.kernel_hbm_bytes(1797, 64, 128, 10, 1024, jnp.bfloat16) == (
        fused.kernel_hbm_bytes(1797, 64, 128, 10, 1024) - 2 * (1797 * 64 + weights))


def test_pretransposed_reads_xt_and_w2t_once_more():
    one = fused.kernel_hbm_bytes(1797, 64, 128, 10, 1024)
    pre = fused.kernel_hbm_bytes(1797, 64, 128, 10, 1024, config=KernelConfig(pretransposed=True))
    assert pre - one == 4 * (1797 * 64 + 128 * 16)


def _pallas_operands(closed) -> list[int]:
    """Operand counts of the pallas_calls in a jaxpr, sub-jaxprs (custom_vjp, custom_vmap, pjit) included."""
    found = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "pallas_call":
                found.append(len(eqn.invars))
            for v in eqn.params.values():
                for sub in v if isinstance(v, (list, tuple)) else [v]:
                    inner = getattr(sub, "jaxpr", sub)
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(closed.jaxpr)
    return found


@pytest.mark.parametrize("weights_once, pretransposed, dt", [(True, False, None), (False, True, None),
                                                             (True, True, jnp.bfloat16)])  # (interpreter: slow)
def test_launch_options_give_the_same_loss_and_gradient(weights_once, pretransposed, dt):
    """KernelConfig.weights_once (params held across the tile loop) and .pretransposed (xᵀ and W2ᵀ read as
    stored) change where loads happen, not the result; several tiles per program (tile 16 on 45 rows) so the held
    weights serve more than one tile."""
    base = KernelConfig(tile=16, weights_once=False, pretransposed=False)
    want = jax.value_and_grad(_kern)(P, dt=dt, config=base)
    config = KernelConfig(tile=16, weights_once=weights_once, pretransposed=pretransposed)
    chex.assert_trees_all_close(jax.value_and_grad(_kern)(P, dt=dt, config=config), want, rtol=1e-6, atol=1e-8)
    # the option took effect: with pretransposed the kernel takes xᵀ and W2ᵀ as two more operands
    grad = jax.grad(lambda q: _kern(q, config=config))
    assert _pallas_operands(jax.make_jaxpr(grad)(P)) == [8 if pretransposed else 6]
    ps = jax.tree.map(lambda a: jnp.stack([a, 1.1 * a]), P)
    chex.assert_trees_all_close(jax.vmap(grad)(ps), jax.vmap(jax.grad(_xla))(ps), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("hidden_blocks, dt", [(1, None), (2, jnp.bfloat16), (4, None)])
def test_two_pass_kernels_give_the_same_loss_and_gradient(hidden_blocks, dt):
    """KernelConfig.two_pass: dz through memory and W1's gradient by hidden blocks; hidden 40 (padded to 64) so that
    2 and 4 blocks of 32 and 16 columns exist; tile 16 so a program walks several tiles (and under vmap a model's
    rows are split over programs, each writing its own rows of dz)."""
    p = models.init_params("mlp", jax.random.key(3), D, C, hidden=40)
    config = KernelConfig(tile=16, two_pass=True, hidden_blocks=hidden_blocks)
    want_l, want_g = jax.value_and_grad(_xla)(p, dt=dt)
    got_l, got_g = jax.value_and_grad(_kern)(p, dt=dt, config=config)
    tol = (1e-6, 1e-5, 1e-7) if dt is None else (1e-2, 0.05, 5e-3)
    np.testing.assert_allclose(got_l, want_l, rtol=tol[0])
    chex.assert_trees_all_close(got_g, want_g, rtol=tol[1], atol=tol[2])
    ps = jax.tree.map(lambda a: jnp.stack([a, 1.1 * a, 0.9 * a]), p)
    chex.assert_trees_all_close(jax.jit(jax.vmap(jax.grad(lambda q: _kern(q, dt=dt, config=config))))(ps),
                                jax.vmap(jax.grad(lambda q: _xla(q, dt=dt)))(ps), rtol=tol[1], atol=tol[2])
    assert _pallas_operands(jax.make_jaxpr(jax.grad(lambda q: _kern(q, config=config)))(p)) == [6, 5]  # two kernels
    # the bytes two passes add: dz written once; x and dz read once per hidden block; W1, b1, W2 once more
    one = fused.kernel_hbm_bytes(1797, 64, 128, 10, 1024, config=KernelConfig())
    for blocks in (1, 2):
        two = fused.kernel_hbm_bytes(1797, 64, 128, 10, 1024, config=KernelConfig(two_pass=True, hidden_blocks=blocks))
        assert two - one == 1797 * 4 * 16 + blocks * 1797 * (4 * 64 + 4 * 16) + 4 * (64 * 128 + 128 * 16 + 128)


@pytest.mark.parametrize("bad, match", [
    ({"two_pass": True, "hidden_blocks": 3}, "hidden_blocks must be a power of two"),
    ({"two_pass": True, "pretransposed": True}, "pretransposed applies to the one-kernel mode"),
    ({"hidden_blocks": 2}, "hidden_blocks=2 applies to the two-pass kernels only"),
    ({"tile": 24}, "tile must be a power of two ≥ 16"), ({"tile": 8}, "tile must be a power of two ≥ 16"),
    ({"num_warps": 3}, "num_warps must be a power of two"), ({"programs": 0}, "programs must be an int ≥ 1"),
    ({"num_stages": 2.0}, "num_stages must be an int"), ({"hidden_blocks": True}, "hidden_blocks must be an int"),
    ({"weights_once": 1}, "weights_once must be True or False"),
])
def test_kernel_config_refuses_options_that_would_be_ignored_or_cannot_launch(bad, match):
    with pytest.raises(ValueError, match=match):  # at construction, naming the field
        KernelConfig(**bad)


def test_kernel_config_is_a_frozen_hashable_value_passed_explicitly():
    config = KernelConfig(tile=64)
    with pytest.raises(AttributeError):
        config.tile = 16  # type: ignore[misc]
    assert config == KernelConfig(tile=64) and hash(config) == hash(KernelConfig(tile=64))
    for bad in ({"tile": 64}, "tile=64"):  # the dict that used to be jaxreg.models._fused.CONFIG is refused
        with pytest.raises(ValueError, match="config must be None .* or a jaxreg.models.KernelConfig"):
            mlp_cross_entropy(P, X, Y, config=bad)
        with pytest.raises(ValueError, match="kernel_config must be None"):
            models.data_loss("classification", P, X, Y, kernel_config=bad)
        with pytest.raises(ValueError, match="config must be None"):
            fused.kernel_hbm_bytes(1797, 64, 128, 10, config=bad)
    assert not hasattr(fused, "CONFIG")  # nothing global left to patch
    # jit keys its cache on the configuration: a different tile is a different kernel
    lowered = [str(jax.make_jaxpr(jax.grad(lambda q, t=t: _kern(q, config=KernelConfig(tile=t))))(P)) for t in (16, 32)]
    assert lowered[0] != lowered[1]


@pytest.mark.parametrize("weights_once, pretransposed, two_pass, dt", [
    (False, False, False, None), (True, False, False, None), (True, False, False, jnp.bfloat16),
    (True, True, False, None), (False, True, False, jnp.bfloat16), (True, False, True, None),
    (False, False, True, jnp.bfloat16)])
def test_kernel_lowers_to_triton_for_a_gpu(weights_once, pretransposed, two_pass, dt):
    """The Pallas → Triton lowering runs here (no GPU needed); compiling Triton needs one (benchmarks/gpu.sh)."""
    ps = jax.tree.map(lambda a: jnp.stack([a] * 4), models.init_params("mlp", jax.random.key(3), D, C, hidden=40))

    def lowered(held):
        config = KernelConfig(pretransposed=pretransposed, two_pass=two_pass, hidden_blocks=2 if two_pass else 1,
                              weights_once=held)
        f = jax.jit(jax.vmap(jax.grad(lambda p: fused._fused_loss(p, X, Y, None, False, dt, config))))
        return f.trace(ps).lower(lowering_platforms=("cuda",)).as_text()

    try:
        text = lowered(weights_once)
    except Exception as e:  # a jaxlib built without the CUDA/Triton lowering
        pytest.skip(f"no CUDA lowering in this jaxlib: {type(e).__name__}")
    assert "triton" in text.lower()
    assert ("jaxreg_fused_mlp_hidden" in text) == two_pass
    assert lowered(not weights_once) != text  # weights_once changes the kernel (loads hoisted out of the loop)


def test_models_data_loss_uses_the_kernel_only_on_request_or_on_a_gpu():
    jaxpr = str(jax.make_jaxpr(jax.grad(lambda p: models.data_loss("classification", p, X, Y)))(P))
    assert "pallas_call" not in jaxpr  # this CPU machine: the XLA formula, unchanged
    with pytest.raises(ValueError, match="needs a GPU"):
        models.data_loss("classification", P, X, Y, fused=True)


@pytest.mark.parametrize("kwargs, match", [
    ({"backend": "cuda"}, "backend must be one of"),
    ({"compute_dtype": jnp.float16}, "compute_dtype must be None or bfloat16"),
    ({"sample_weight": jnp.ones(3)}, "sample_weight must have shape"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mlp_cross_entropy(P, X, Y, **kwargs)


def test_bad_params_and_data():
    with pytest.raises(ValueError, match="params must be the MLP's dict"):
        mlp_cross_entropy({"w": P["w1"], "b": P["b1"]}, X, Y)
    with pytest.raises(ValueError, match="params must be float32"):
        mlp_cross_entropy(jax.tree.map(lambda a: a.astype(jnp.bfloat16), P), X, Y)
    with pytest.raises(ValueError, match=r"x must be \(n, 5\)"):
        mlp_cross_entropy(P, X[:, :3], Y)


@pytest.mark.parametrize("cc, d, hidden, classes, expected", [
    ("9.0", 64, 128, 10, True), ("8.0", 5, 8, 3, True),  # W1 (the measured size) and smaller
    ("7.0", 64, 128, 10, False),  # no TF32 before compute capability 8.0
    ("9.0", 64, 512, 10, False), ("9.0", 64, 128, 100, False), ("9.0", 784, 8, 10, False),  # larger than measured
])
def test_the_kernel_is_used_on_recent_cuda_gpus_for_the_measured_sizes(monkeypatch, cc, d, hidden, classes,
                                                                        expected):
    class Gpu:
        compute_capability = cc

    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(jax, "devices", lambda *a: [Gpu()])
    p = models.init_params("mlp", jax.random.key(0), d, classes, hidden=hidden)
    assert fused.kernel_applies(p, jnp.zeros((7, d))) is expected
    if (cc, d, hidden, classes) == ("9.0", 64, 512, 10):  # the limits are the configuration's
        assert fused.kernel_applies(p, jnp.zeros((7, d)), KernelConfig(max_weight_words=64 * 512 + 512 * 16))

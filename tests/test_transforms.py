"""optax transforms: the seed's closed forms, jit/vmap/grad over λ, composition, errors."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl.testing import parameterized
from conftest import TINY_MASK, tiny_params

import jaxreg


def run_sgd(transform_first, lr, w0, steps, *, prox_last=None, data_grad=None):
    """`steps` SGD steps on the pure penalty (zero data gradient unless given)."""
    parts = ([transform_first] if transform_first is not None else []) + [optax.sgd(lr)]
    if prox_last is not None:
        parts.append(prox_last)
    opt = optax.chain(*parts)
    state = opt.init(w0)
    w = w0
    traj = [w]
    for _ in range(steps):
        g = jax.tree.map(jnp.zeros_like, w) if data_grad is None else data_grad(w)
        u, state = opt.update(g, state, w)
        w = optax.apply_updates(w, u)
        traj.append(w)
    return traj


class SeedClosedFormTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_l2_is_geometric(self):
        lam, lr, t = 0.3, 0.1, 7
        w0 = jnp.array([10.0, 1.0, 0.01, -3.0])

        @self.variant
        def train(w):
            opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(lr))

            def step(carry, _):
                w, s = carry
                u, s = opt.update(jnp.zeros_like(w), s, w)
                return (optax.apply_updates(w, u), s), None

            (w, _), _ = jax.lax.scan(step, (w, opt.init(w)), None, length=t)
            return w

        np.testing.assert_allclose(train(w0), w0 * (1 - 2 * lr * lam) ** t, rtol=1e-5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_one_step_exact(self):
        """One step: W(1 − 2αλ) for L2 and W − αλ·sign(W) for L1."""
        lam, lr = 0.25, 0.5
        w = jnp.array([10.0, 0.01, -0.01, 0.0])

        def one_step(t):  # through the variant: with and without jit
            opt = optax.chain(t, optax.sgd(lr))
            return self.variant(lambda w: optax.apply_updates(w, opt.update(jnp.zeros_like(w), opt.init(w), w)[0]))(w)

        l2 = one_step(jaxreg.add_l2_decay(lam))
        l1 = one_step(jaxreg.add_l1_sign(lam))
        np.testing.assert_allclose(l2, w * (1 - 2 * lr * lam), rtol=1e-6)
        np.testing.assert_allclose(l1, w - lr * lam * jnp.sign(w), rtol=1e-6)

    def test_l2_shrinks_big_weights_1000x_more_l1_the_same(self):
        lam, lr = 0.1, 0.1
        with jax.enable_x64(True):  # shrinks are differences of nearby numbers
            w = jnp.array([10.0, 0.01], jnp.float64)
            l2 = run_sgd(jaxreg.add_l2_decay(lam), lr, w, 1)[1]
            l1 = run_sgd(jaxreg.add_l1_sign(lam), lr, w, 1)[1]
            shrink_l2 = np.asarray(w - l2)
            shrink_l1 = np.asarray(w - l1)
        np.testing.assert_allclose(shrink_l2[0] / shrink_l2[1], 1000.0, rtol=1e-10)
        np.testing.assert_allclose(shrink_l1[0], shrink_l1[1], rtol=1e-10)
        np.testing.assert_allclose(shrink_l1[0], lr * lam, rtol=1e-10)

    def test_l1_sign_linear_until_crossing_then_oscillates(self):
        lam, lr = 0.1, 0.1  # step αλ = 0.01
        w0 = jnp.array([0.055, -0.2, 1.0], jnp.float32)
        traj = np.stack(run_sgd(jaxreg.add_l1_sign(lam), lr, w0, 40))
        step = lr * lam
        for t in range(41):
            want = np.asarray(w0) - t * step * np.sign(w0)
            uncrossed = np.sign(want) == np.sign(w0)
            # before the first crossing: exactly the seed's linear formula
            np.testing.assert_allclose(traj[t][uncrossed], want[uncrossed], rtol=1e-4, atol=1e-6)
        # first weight crossed after 6 steps, then stays within ±αλ and never lands on 0
        tail = traj[6:, 0]
        self.assertTrue(np.all(np.abs(tail) <= step * (1 + 1e-4)))
        self.assertFalse(np.any(tail == 0))

    @chex.variants(with_jit=True, without_jit=True)
    def test_prox_l1_exact_zeros(self):
        lam, lr = 0.5, 0.2  # threshold αλ = 0.1
        w = jnp.array([0.05, -0.1, 0.1000001, -3.0, 0.0])
        opt = optax.chain(optax.sgd(lr), jaxreg.prox_l1(lam, lr))
        new = self.variant(
            lambda w: optax.apply_updates(w, opt.update(jnp.zeros_like(w), opt.init(w), w)[0])
        )(w)
        small = np.abs(np.asarray(w)) <= 0.1
        self.assertTrue(np.all(np.asarray(new)[small] == 0.0))
        np.testing.assert_allclose(new[~small], (w - 0.1 * jnp.sign(w))[~small], rtol=1e-5, atol=1e-7)

    def test_prox_l1_stays_at_zero_sign_step_does_not(self):
        lam, lr = 0.1, 0.1
        w0 = jnp.array([0.055])
        sign = np.stack(run_sgd(jaxreg.add_l1_sign(lam), lr, w0, 30))
        proxed = np.stack(run_sgd(None, lr, w0, 30, prox_last=jaxreg.prox_l1(lam, lr)))
        self.assertTrue(np.all(proxed[6:] == 0.0))
        self.assertTrue(np.all(sign[6:] != 0.0))

    def test_ista_with_data_gradient(self):
        """prox_l1 after sgd = ISTA: w ← S_{αλ}(w − α∇L)."""
        lam, lr = 0.3, 0.05
        target = jnp.array([2.0, 0.01, -1.0])
        grad = lambda w: 2 * (w - target)
        w = jnp.zeros(3)
        traj = run_sgd(None, lr, w, 5, prox_last=jaxreg.prox_l1(lam, lr), data_grad=grad)
        ref = np.zeros(3, np.float32)
        for _ in range(5):
            ref = np.asarray(jaxreg.soft_threshold(ref - lr * 2 * (ref - target), lr * lam))
        np.testing.assert_allclose(traj[-1], ref, rtol=1e-6)

    def test_prox_elastic_net_and_group_lasso_formulas(self):
        lam, lr, rho = 0.5, 0.2, 0.25
        w = jnp.array([[0.02, 3.0], [-0.01, 4.0]])
        new = run_sgd(None, lr, w, 1, prox_last=jaxreg.prox_elastic_net(lam, rho, lr))[1]
        want = jaxreg.soft_threshold(w, lr * lam * rho) / (1 + 2 * lr * lam * (1 - rho))
        np.testing.assert_allclose(new, want, rtol=1e-6)
        new = run_sgd(None, lr, w, 1, prox_last=jaxreg.prox_group_lasso(lam, lr, axis=0))[1]
        np.testing.assert_array_equal(np.asarray(new)[:, 0], 0.0)
        np.testing.assert_allclose(np.asarray(new)[:, 1], np.array([3.0, 4.0]) * (1 - 0.1 / 5), rtol=1e-6)

    def test_add_elastic_net_endpoints(self):
        w = jnp.array([1.5, -0.2, 0.0])
        g = jnp.array([0.1, 0.2, 0.3])
        for rho, ref in ((1.0, jaxreg.add_l1_sign(0.3)), (0.0, jaxreg.add_l2_decay(0.3))):
            t = jaxreg.add_elastic_net(0.3, rho)
            chex.assert_trees_all_close(
                t.update(g, t.init(w), w)[0], ref.update(g, ref.init(w), w)[0], rtol=1e-6
            )

    @parameterized.named_parameters(
        ("l2", jaxreg.l2_penalty, jaxreg.add_l2_decay),
        ("l1", jaxreg.l1_penalty, jaxreg.add_l1_sign),
    )
    def test_add_penalty_grad_matches_builtin(self, penalty, builtin):
        params = tiny_params()
        g = jax.tree.map(jnp.ones_like, params)
        generic = jaxreg.add_penalty_grad(penalty, 0.7, mask=TINY_MASK)
        ours = builtin(0.7, mask=TINY_MASK)
        chex.assert_trees_all_close(
            generic.update(g, generic.init(params), params)[0],
            ours.update(g, ours.init(params), params)[0],
            rtol=1e-6,
        )


class TreeArgumentsTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_mask_passes_leaf_through(self):
        params = tiny_params()
        g = jax.tree.map(lambda x: jnp.full_like(x, 0.5), params)
        t = jaxreg.add_l2_decay(0.1, mask=TINY_MASK)
        u = self.variant(lambda g, p: t.update(g, t.init(p), p)[0])(g, params)
        chex.assert_trees_all_close(u[1]["layer"]["b"], g[1]["layer"]["b"])
        chex.assert_trees_all_close(u[0], g[0] + 0.2 * params[0], rtol=1e-6)

    def test_callable_mask_and_optax_masked_agree(self):
        params = tiny_params()
        g = jax.tree.map(jnp.ones_like, params)
        fn = lambda p: jax.tree.map(lambda x: x.ndim == 2, p)
        ours = jaxreg.add_l1_sign(0.2, mask=fn)
        theirs = optax.masked(jaxreg.add_l1_sign(0.2), fn)
        chex.assert_trees_all_close(
            ours.update(g, ours.init(params), params)[0],
            theirs.update(g, theirs.init(params), params)[0],
        )

    def test_center_decays_toward_reference(self):
        params = tiny_params()
        center = jax.tree.map(lambda x: jnp.full_like(x, 1.0), params)
        lam, lr = 0.2, 0.5
        new = run_sgd(jaxreg.add_l2_decay(lam, center=center), lr, params, 1)[1]
        want = jax.tree.map(lambda w, c: c + (w - c) * (1 - 2 * lr * lam), params, center)
        chex.assert_trees_all_close(new, want, rtol=1e-6, atol=1e-7)
        # prox_l1 toward a center: weights within αλ of c land on c
        w = jnp.array([1.05, 2.0])
        new = run_sgd(None, lr, w, 1, prox_last=jaxreg.prox_l1(lam, lr, center=jnp.ones(2)))[1]
        np.testing.assert_allclose(new, [1.0, 1.9], rtol=1e-6)

    def test_weights_are_penalty_factors(self):
        params = tiny_params()
        weights = (0.0, {"layer": {"w": jnp.array([[1.0, 2.0], [0.0, 1.0]]), "b": 3.0}})
        g = jax.tree.map(jnp.zeros_like, params)
        t = jaxreg.add_l1_sign(0.1, weights=weights)
        u = t.update(g, t.init(params), params)[0]
        np.testing.assert_array_equal(u[0], 0.0)  # factor 0 = unpenalised
        np.testing.assert_allclose(
            u[1]["layer"]["w"], 0.1 * np.array([[1.0, -2.0], [0.0, 0.0]]), rtol=1e-6
        )
        np.testing.assert_allclose(u[1]["layer"]["b"], 0.3 * np.array([1.0, -1.0]), rtol=1e-6)
        # prox with factors: a factor-0 weight is never thresholded
        w = jnp.array([0.01, 0.01])
        new = run_sgd(None, 1.0, w, 1, prox_last=jaxreg.prox_l1(1.0, 1.0, weights=jnp.array([0.0, 1.0])))
        np.testing.assert_allclose(new[1], [0.01, 0.0])

    def test_none_leaves_pass_through(self):
        params = {"w": jnp.array([1.0, 2.0]), "frozen": None}
        updates = {"w": jnp.zeros(2), "frozen": None}
        for t in (jaxreg.add_l2_decay(0.1), jaxreg.prox_l1(0.1, 0.1), jaxreg.add_l1_sign(0.1)):
            u, _ = t.update(updates, t.init(params), params)
            self.assertIsNone(u["frozen"])

    def test_flax_style_tree_with_adam(self):
        params = {"params": {"Dense_0": {"kernel": jnp.ones((3, 2)), "bias": jnp.zeros(2)}}}
        mask = {"params": {"Dense_0": {"kernel": True, "bias": False}}}
        opt = optax.chain(jaxreg.add_l1_sign(0.1, mask=mask), optax.adam(1e-2))
        state = opt.init(params)
        g = jax.tree.map(jnp.zeros_like, params)
        u, state = jax.jit(opt.update)(g, state, params)
        new = optax.apply_updates(params, u)
        self.assertTrue(jnp.all(new["params"]["Dense_0"]["kernel"] < 1.0))
        np.testing.assert_array_equal(new["params"]["Dense_0"]["bias"], 0.0)


class TransformationsOverLambdaTest(chex.TestCase):
    def _train(self, lam, w0, steps=20, lr=0.05):
        target = jnp.array([1.0, -0.5, 0.02, 3.0])
        opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(lr), jaxreg.prox_l1(lam, lr))

        def step(carry, _):
            w, s = carry
            g = 2 * (w - target)
            u, s = opt.update(g, s, w)
            return (optax.apply_updates(w, u), s), None

        (w, _), _ = jax.lax.scan(step, (w0, opt.init(w0)), None, length=steps)
        return w

    def test_vmap_over_64_lambdas_equals_loop(self):
        w0 = jnp.array([0.3, 0.2, -0.1, 1.0])
        lams = jnp.logspace(-3, 1, 64)
        vm = jax.jit(jax.vmap(lambda l: self._train(l, w0)))(lams)
        loop = np.stack([np.asarray(jax.jit(self._train)(l, w0)) for l in lams])
        np.testing.assert_allclose(vm, loop, rtol=1e-6, atol=1e-7)

    def test_grad_wrt_lambda_matches_finite_differences(self):
        w0 = jnp.array([0.3, 0.2, -0.1, 1.0])
        with jax.enable_x64(True):
            w0 = w0.astype(jnp.float64)
            f = lambda l: jnp.sum(self._train(l, w0) ** 2)
            lam = 0.037
            g = jax.grad(f)(lam)
            eps = 1e-6
            fd = (f(lam + eps) - f(lam - eps)) / (2 * eps)
            np.testing.assert_allclose(g, fd, rtol=1e-5)

    def test_no_retrace_for_new_lambda(self):
        w0 = jnp.array([0.3, 0.2, -0.1, 1.0])

        @jax.jit
        @chex.assert_max_traces(n=1)
        def train(lam):
            return self._train(lam, w0)

        for lam in (0.1, 0.2, 0.5):
            train(jnp.float32(lam))

    def test_inject_hyperparams(self):
        params = jnp.array([1.0, -2.0])
        opt = optax.chain(
            optax.inject_hyperparams(jaxreg.add_l2_decay)(lam=0.1),
            optax.sgd(0.1),
        )
        state = opt.init(params)
        u, state = jax.jit(opt.update)(jnp.zeros(2), state, params)
        np.testing.assert_allclose(optax.apply_updates(params, u), params * 0.98, rtol=1e-6)
        state[0].hyperparams["lam"] = jnp.asarray(0.5)
        u, _ = opt.update(jnp.zeros(2), state, params)
        np.testing.assert_allclose(optax.apply_updates(params, u), params * 0.9, rtol=1e-6)

    def test_prox_with_schedule_uses_the_step_count(self):
        sched = optax.exponential_decay(0.5, transition_steps=1, decay_rate=0.5)
        lam = 1.0
        w = jnp.array([2.0])
        opt = optax.chain(optax.sgd(sched), jaxreg.prox_l1(lam, sched))
        state = opt.init(w)
        self.assertIsInstance(state[-1], jaxreg.ProxState)
        expected = 2.0
        for k in range(4):
            u, state = opt.update(jnp.zeros(1), state, w)
            w = optax.apply_updates(w, u)
            expected -= 0.5 * 0.5**k  # threshold α_k λ
            np.testing.assert_allclose(w, [expected], rtol=1e-6)
        self.assertEqual(int(state[-1].count), 4)


class DtypeTest(chex.TestCase):
    @parameterized.named_parameters(("f32", jnp.float32), ("bf16", jnp.bfloat16), ("f16", jnp.float16))
    def test_updates_keep_dtype(self, dtype):
        w = jnp.array([1.0, -0.5, 0.0], dtype)
        for t in (jaxreg.add_l2_decay(0.1), jaxreg.add_l1_sign(0.1), jaxreg.prox_l1(0.1, 0.1)):
            u, _ = t.update(jnp.zeros_like(w), t.init(w), w)
            self.assertEqual(u.dtype, dtype)

    def test_float64(self):
        with jax.enable_x64(True):
            w = jnp.array([1.0, -0.5], jnp.float64)
            t = jaxreg.add_l2_decay(1e-9)
            u, _ = t.update(jnp.zeros_like(w), t.init(w), w)
            self.assertEqual(u.dtype, jnp.float64)
            np.testing.assert_allclose(u, 2e-9 * np.array([1.0, -0.5]), rtol=1e-15)

    def test_lambda_not_rounded_to_bf16(self):
        lam = 0.1234567  # not representable in bf16
        k1, k2 = jax.random.split(jax.random.key(0))
        w = jax.random.normal(k1, (512,)).astype(jnp.bfloat16)
        u = jax.random.normal(k2, (512,)).astype(jnp.bfloat16)
        t = jaxreg.add_l2_decay(lam)
        got, _ = t.update(u, t.init(w), w)
        want = (u.astype(jnp.float32) + 2 * lam * w.astype(jnp.float32)).astype(jnp.bfloat16)
        np.testing.assert_array_equal(np.asarray(got, np.float32), np.asarray(want, np.float32))
        rounded_first = (u + 2 * jnp.bfloat16(lam) * w).astype(jnp.bfloat16)
        self.assertFalse(np.array_equal(np.asarray(got, np.float32), np.asarray(rounded_first, np.float32)))


class BadInputTest(parameterized.TestCase):
    """The catalogue of bad inputs is tests/test_bad_input.py; these are the special cases."""

    def test_int_leaf_allowed_when_masked(self):
        params = {"w": jnp.ones(2), "step": jnp.array(3)}
        mask = {"w": True, "step": False}
        np.testing.assert_allclose(jaxreg.l2_penalty(params, mask=mask), 2.0)

    def test_missing_params_in_update(self):
        t = jaxreg.add_l2_decay(0.1)
        with self.assertRaisesRegex(ValueError, "params"):
            t.update(jnp.ones(2), t.init(jnp.ones(2)))

    def test_traced_bad_lambda_gives_nan_not_a_wrong_answer(self):
        w = jnp.array([1.0, 2.0])

        def step(lam):
            t = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(0.1), jaxreg.prox_l1(lam, 0.1))
            u, _ = t.update(jnp.zeros(2), t.init(w), w)
            return optax.apply_updates(w, u)

        out = jax.vmap(step)(jnp.array([0.1, -0.1, jnp.nan, jnp.inf]))
        self.assertTrue(np.all(np.isfinite(out[0])))
        self.assertTrue(np.all(np.isnan(out[1:])))


def test_proximal_sgd_gives_the_step_size_once_even_with_a_schedule():
    """The prox thresholds with the schedule's α at every step: ISTA's closed form S_{αₜλ}(w − αₜg)."""
    schedule = optax.exponential_decay(0.5, 1, 0.5)  # α_t = 0.5·0.5^t
    lam, w = 0.3, jnp.array([2.0, -0.1, 0.4])
    opt = jaxreg.proximal_sgd(schedule, lambda lr: jaxreg.prox_l1(lam, lr))
    state = opt.init(w)
    for t in range(4):
        g = jnp.array([0.1, 0.0, -0.2])
        u, state = opt.update(g, state, w)
        alpha = 0.5 * 0.5**t
        want = jaxreg.soft_threshold(w - alpha * g, alpha * lam)
        w = optax.apply_updates(w, u)
        np.testing.assert_allclose(w, want, rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError, match="prox must be a function of the learning rate"):
        jaxreg.proximal_sgd(0.1, jaxreg.prox_l1(0.1, 0.1))

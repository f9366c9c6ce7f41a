"""MCP and SCAD: penalties, proximal operators and optax transforms, in closed form and against skglm."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl.testing import parameterized
from conftest import TINY_MASK, tiny_params
from hypothesis import given, strategies as st

import jaxreg
from jaxreg.core import prox

#: (prox operator, penalty, derivative, transform, additive transform, γ used in the tests)
MCP = (prox.mcp, jaxreg.core.mcp_penalty, jaxreg.core.mcp_derivative, jaxreg.core.prox_mcp,
       jaxreg.core.add_mcp_grad, 3.0)
SCAD = (prox.scad, jaxreg.core.scad_penalty, jaxreg.core.scad_derivative, jaxreg.core.prox_scad,
        jaxreg.core.add_scad_grad, 3.7)
PENALTIES = (("mcp", *MCP), ("scad", *SCAD))


def rho(penalty, t, lam, gamma):
    """The elementwise penalty ρ(t) as a NumPy array (the penalty summed over one scalar at a time)."""
    return np.array([float(penalty(jnp.asarray(v), lam, gamma)) for v in np.ravel(t)]).reshape(np.shape(t))


def mcp_np(t, lam, gamma):
    a = np.abs(t)
    return np.where(a <= gamma * lam, lam * a - t * t / (2 * gamma), gamma * lam * lam / 2)


def scad_np(t, lam, gamma):
    a = np.abs(t)
    mid = (2 * gamma * lam * a - a * a - lam * lam) / (2 * (gamma - 1))
    return np.where(a <= lam, lam * a, np.where(a <= gamma * lam, mid, (gamma + 1) * lam * lam / 2))


RHO_NP = {"mcp": mcp_np, "scad": scad_np}


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


class PenaltyTest(parameterized.TestCase):
    @parameterized.named_parameters(*PENALTIES)
    def test_formula_and_flat_tail(self, op, penalty, deriv, transform, additive, gamma):
        lam, name = 0.8, "mcp" if penalty is MCP[1] else "scad"
        t = np.array([0.0, 0.3, -0.8, 1.5, -2.9, 2.96, 3.5, -10.0])
        np.testing.assert_allclose(rho(penalty, t, lam, gamma), RHO_NP[name](t, lam, gamma), rtol=1e-6)
        flat = gamma * lam**2 / 2 if name == "mcp" else (gamma + 1) * lam**2 / 2
        np.testing.assert_allclose(rho(penalty, np.array([gamma * lam + 0.01, 50.0]), lam, gamma), flat, rtol=1e-6)

    @parameterized.named_parameters(*PENALTIES)
    def test_mask_and_tree(self, op, penalty, deriv, transform, additive, gamma):
        params = tiny_params()
        got = float(penalty(params, 0.5, gamma, mask=TINY_MASK))
        leaves = [params[0], params[1]["layer"]["w"]]
        want = sum(float(penalty(leaf, 0.5, gamma)) for leaf in leaves)
        np.testing.assert_allclose(got, want, rtol=1e-6)

    @parameterized.named_parameters(*PENALTIES)
    def test_grad_is_the_derivative_zero_at_zero(self, op, penalty, deriv, transform, additive, gamma):
        w = jnp.array([0.0, 0.1, -0.5, 1.2, -2.0, 3.0, 9.0])
        g = jax.grad(penalty)(w, 0.9, gamma)
        np.testing.assert_allclose(g, deriv(w, 0.9, gamma), rtol=1e-5, atol=1e-7)
        self.assertEqual(float(g[0]), 0.0)
        self.assertEqual(float(g[-1]), 0.0)  # flat beyond γλ

    @parameterized.named_parameters(*PENALTIES)
    def test_grad_wrt_lambda_and_gamma_finite_differences(self, op, penalty, deriv, transform, additive, gamma):
        with jax.enable_x64(True):
            w = jnp.array([0.05, -0.7, 1.3, 2.2, -6.0], jnp.float64)
            for argnum, (lam, g) in ((1, (0.6, gamma)), (2, (0.6, gamma))):
                f = lambda lam, g: penalty(w, lam, g)
                grad = jax.grad(f, argnums=argnum - 1)(lam, g)
                h = 1e-6
                if argnum == 1:
                    fd = (f(lam + h, g) - f(lam - h, g)) / (2 * h)
                else:
                    fd = (f(lam, g + h) - f(lam, g - h)) / (2 * h)
                np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)

    @parameterized.named_parameters(*PENALTIES)
    def test_vmap_over_lambda_equals_a_loop(self, op, penalty, deriv, transform, additive, gamma):
        w = jnp.linspace(-4, 4, 9)
        lams = jnp.array([0.0, 0.3, 1.0, 2.5])
        got = jax.vmap(lambda lam: penalty(w, lam, gamma))(lams)
        want = [float(penalty(w, float(lam), gamma)) for lam in lams]
        np.testing.assert_allclose(got, want, rtol=1e-6)

    @parameterized.named_parameters(*PENALTIES)
    def test_traced_bad_values_give_nan(self, op, penalty, deriv, transform, additive, gamma):
        w = jnp.array([0.5, -2.0])
        minimum = 1.0 if penalty is MCP[1] else 2.0
        f = jax.jit(lambda lam, g: penalty(w, lam, g))
        self.assertTrue(np.isfinite(f(0.5, gamma)))
        for lam, g in ((-0.1, gamma), (jnp.nan, gamma), (jnp.inf, gamma), (0.5, minimum), (0.5, jnp.inf)):
            self.assertTrue(np.isnan(f(lam, g)), (lam, g))

    @parameterized.named_parameters(*PENALTIES)
    def test_concrete_bad_values_raise(self, op, penalty, deriv, transform, additive, gamma):
        minimum = 1.0 if penalty is MCP[1] else 2.0
        with self.assertRaisesRegex(ValueError, "gamma must be finite and > "):
            penalty(jnp.ones(2), 0.5, minimum)
        with self.assertRaisesRegex(ValueError, "gamma"):
            penalty(jnp.ones(2), 0.5, float("nan"))
        with self.assertRaisesRegex(ValueError, "lam must be >= 0"):
            penalty(jnp.ones(2), -0.5, gamma)
        with self.assertRaisesRegex(TypeError, "gamma is required"):
            penalty(jnp.ones(2), 0.5, None)


def grid_argmin(obj, x, lam, gamma, s, half_width=12.0, n=400_001):
    """The minimiser of ½(z − x)² + s·ρ(z) over a dense grid around x (float64)."""
    z = np.linspace(x - half_width, x + half_width, n)
    return z[np.argmin(0.5 * (z - x) ** 2 + s * obj(z, lam, gamma))], z[1] - z[0]


class ProxTest(chex.TestCase):
    @parameterized.named_parameters(
        ("mcp_unit_step", "mcp", 1.0, 3.0, 1.0), ("mcp_small_step", "mcp", 0.7, 1.5, 0.3),
        ("mcp_step_near_gamma", "mcp", 0.5, 2.0, 1.9), ("scad_unit_step", "scad", 1.0, 3.7, 1.0),
        ("scad_small_step", "scad", 0.7, 2.2, 0.4), ("scad_large_step", "scad", 0.5, 4.0, 2.5),
    )
    def test_prox_is_the_grid_argmin(self, name, lam, gamma, s):
        op = prox.mcp if name == "mcp" else prox.scad
        with jax.enable_x64(True):
            xs = np.linspace(-3 * gamma * lam, 3 * gamma * lam, 61)
            got = np.asarray(op(jnp.asarray(xs), lam, gamma, s))
        for x, p in zip(xs, got):
            z, dz = grid_argmin(RHO_NP[name], x, lam, gamma, s)
            self.assertLessEqual(abs(p - z), 2 * dz / (1 - s / gamma if name == "mcp" else 1 - s / (gamma - 1)),
                                 (x, p, z))

    @parameterized.named_parameters(*PENALTIES)
    def test_zeros_identity_and_continuity(self, op, penalty, deriv, transform, additive, gamma):
        lam, s = 0.6, 0.8
        x = jnp.linspace(-3 * gamma * lam, 3 * gamma * lam, 20_001)
        p = op(x, lam, gamma, s)
        below = jnp.abs(x) <= s * lam
        self.assertTrue(bool(jnp.all(p[below] == 0)))  # exact zeros, as the lasso
        beyond = jnp.abs(x) > gamma * lam
        np.testing.assert_array_equal(p[beyond], x[beyond])  # the identity: no bias on large coefficients
        lipschitz = 1 / (1 - s / gamma) if op is prox.mcp else 1 / (1 - s / (gamma - 1))
        jumps = jnp.abs(jnp.diff(p)) / jnp.diff(x)
        self.assertLessEqual(float(jumps.max()), lipschitz * (1 + 1e-3))  # continuous (Lipschitz)

    @parameterized.named_parameters(*PENALTIES)
    def test_vmap_over_lambda_and_gamma_equals_a_loop(self, op, penalty, deriv, transform, additive, gamma):
        x = jnp.linspace(-5, 5, 11)
        lams, gammas = jnp.array([0.0, 0.4, 1.0]), jnp.array([gamma, gamma + 1, gamma + 3])
        got = jax.vmap(lambda lam, g: op(x, lam, g, 0.5))(lams, gammas)
        want = np.stack([op(x, float(l), float(g), 0.5) for l, g in zip(lams, gammas)])
        np.testing.assert_allclose(got, want, rtol=1e-6)

    @parameterized.named_parameters(*PENALTIES)
    def test_traced_bad_values_give_nan(self, op, penalty, deriv, transform, additive, gamma):
        x = jnp.array([0.1, 2.0, 50.0])
        f = jax.jit(op)
        self.assertTrue(bool(jnp.all(jnp.isfinite(f(x, 1.0, gamma, 1.0)))))
        step_too_large = gamma if op is prox.mcp else gamma - 1
        for args in ((-1.0, gamma, 1.0), (1.0, 1.0, 0.1), (1.0, gamma, step_too_large), (1.0, gamma, -0.5),
                     (jnp.nan, gamma, 1.0)):
            self.assertTrue(bool(jnp.all(jnp.isnan(f(x, *args)))), args)

    @parameterized.named_parameters(*PENALTIES)
    def test_concrete_bad_values_raise(self, op, penalty, deriv, transform, additive, gamma):
        step_too_large = gamma if op is prox.mcp else gamma - 1
        with self.assertRaisesRegex(ValueError, "gamma must be > .*scaling"):
            op(jnp.ones(2), 1.0, gamma, step_too_large)
        with self.assertRaisesRegex(ValueError, "gamma must be finite and >"):
            op(jnp.ones(2), 1.0, 0.9, 0.1)
        with self.assertRaisesRegex(ValueError, "scaling must be >= 0"):
            op(jnp.ones(2), 1.0, gamma, -1.0)

    def test_grad_through_the_prox_wrt_lambda(self):
        x = jnp.array([0.2, 1.0, 2.5, 9.0])
        for op, gamma in ((prox.mcp, 3.0), (prox.scad, 3.7)):
            g = jax.grad(lambda lam, op=op, gamma=gamma: jnp.sum(op(x, lam, gamma, 0.5)))(1.0)
            self.assertTrue(np.isfinite(g))


@given(x=st.floats(-20, 20, allow_nan=False, width=32), y=st.floats(-20, 20, allow_nan=False, width=32),
       lam=st.floats(0, 3), s=st.floats(0.05, 1.5))
def test_prox_beats_any_point(x, y, lam, s):
    """No z does better than the prox on ½(z − x)² + s·ρ(z)."""
    for name, op, gamma in (("mcp", prox.mcp, s + 1.5), ("scad", prox.scad, s + 2.5)):
        obj = lambda z, name=name, gamma=gamma: 0.5 * (z - x) ** 2 + s * float(RHO_NP[name](np.float64(z), lam, gamma))
        with jax.enable_x64(True):
            p = float(op(np.float64(x), lam, gamma, s))
        assert obj(p) <= obj(y) + 1e-9 * (1 + abs(obj(y)))


class TransformTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(*PENALTIES)
    def test_one_proximal_sgd_step_is_the_prox(self, op, penalty, deriv, transform, additive, gamma):
        lam, lr = 0.7, 0.5
        w = jnp.array([5.0, 1.2, -0.3, 0.0, -2.0])
        g = jnp.array([0.1, -0.2, 0.05, 0.0, 0.3])
        opt = optax.chain(optax.sgd(lr), transform(lam, gamma, lr))
        step = self.variant(lambda w, g: optax.apply_updates(w, opt.update(g, opt.init(w), w)[0]))
        np.testing.assert_allclose(step(w, g), op(w - lr * g, lam, gamma, lr), rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(*PENALTIES)
    def test_additive_step_adds_the_derivative(self, op, penalty, deriv, transform, additive, gamma):
        lam, lr = 0.7, 0.1
        w = jnp.array([5.0, 1.2, -0.3, 0.0, -2.0])
        opt = optax.chain(additive(lam, gamma), optax.sgd(lr))
        step = self.variant(lambda w: optax.apply_updates(w, opt.update(jnp.zeros_like(w), opt.init(w), w)[0]))
        np.testing.assert_allclose(step(w), w - lr * jax.grad(penalty)(w, lam, gamma), rtol=1e-6)

    @parameterized.named_parameters(*PENALTIES)
    def test_mask_leaves_untouched(self, op, penalty, deriv, transform, additive, gamma):
        params = tiny_params()
        grads = jax.tree.map(lambda p: jnp.full_like(p, 0.1), params)
        proximal = optax.chain(optax.sgd(0.5), transform(0.5, gamma, 0.5, mask=TINY_MASK))
        new = optax.apply_updates(params, proximal.update(grads, proximal.init(params), params)[0])
        np.testing.assert_allclose(new[0], op(params[0] - 0.05, 0.5, gamma, 0.5), rtol=1e-6)
        np.testing.assert_allclose(new[1]["layer"]["b"], params[1]["layer"]["b"] - 0.05, rtol=1e-6)  # plain SGD
        t = additive(0.5, gamma, mask=TINY_MASK)
        u, _ = t.update(grads, t.init(params), params)
        np.testing.assert_allclose(u[0], 0.1 + deriv(params[0], 0.5, gamma), rtol=1e-6)
        np.testing.assert_array_equal(u[1]["layer"]["b"], grads[1]["layer"]["b"])

    @parameterized.named_parameters(*PENALTIES)
    def test_schedule_is_counted(self, op, penalty, deriv, transform, additive, gamma):
        schedule = optax.exponential_decay(0.5, 1, 0.5)  # α_k = 0.5 · 0.5^k
        opt = optax.chain(optax.sgd(schedule), transform(0.4, gamma, schedule))
        w = jnp.array([0.45, 0.9, 6.0])
        state = opt.init(w)
        for k in range(3):
            u, state = opt.update(jnp.zeros(3), state, w)
            want = op(w, 0.4, gamma, 0.5 * 0.5**k)
            w = optax.apply_updates(w, u)
            np.testing.assert_allclose(w, want, rtol=1e-6)
        self.assertIsInstance(state[1], jaxreg.ProxState)
        self.assertEqual(int(state[1].count), 3)

    @parameterized.named_parameters(*PENALTIES)
    def test_vmap_over_lambda_equals_a_loop(self, op, penalty, deriv, transform, additive, gamma):
        w = jnp.linspace(-4, 4, 9)
        g = jnp.linspace(1, -1, 9)

        def step(lam):
            opt = optax.chain(optax.sgd(0.5), transform(lam, gamma, 0.5))
            return optax.apply_updates(w, opt.update(g, opt.init(w), w)[0])

        lams = jnp.array([0.0, 0.3, 1.0])
        np.testing.assert_allclose(jax.vmap(step)(lams), np.stack([step(float(l)) for l in lams]), rtol=1e-6)

    @parameterized.named_parameters(*PENALTIES)
    def test_traced_bad_values_give_nan(self, op, penalty, deriv, transform, additive, gamma):
        w = jnp.array([0.3, 5.0])

        @jax.jit
        def step(lam, g, lr):
            opt = optax.chain(optax.sgd(lr), transform(lam, g, lr))
            return optax.apply_updates(w, opt.update(jnp.ones(2), opt.init(w), w)[0])

        @jax.jit
        def additive_step(lam, g):
            opt = optax.chain(additive(lam, g), optax.sgd(0.1))
            return optax.apply_updates(w, opt.update(jnp.ones(2), opt.init(w), w)[0])

        self.assertTrue(bool(jnp.all(jnp.isfinite(step(0.5, gamma, 0.5)))))
        too_large = gamma if op is prox.mcp else gamma - 1
        for args in ((-0.5, gamma, 0.5), (0.5, 0.5, 0.1), (0.5, gamma, too_large), (0.5, gamma, jnp.nan)):
            self.assertTrue(bool(jnp.all(jnp.isnan(step(*args)))), args)
        self.assertTrue(bool(jnp.all(jnp.isnan(additive_step(0.5, 0.5)))))
        self.assertTrue(bool(jnp.all(jnp.isnan(additive_step(-0.5, gamma)))))

    @parameterized.named_parameters(*PENALTIES)
    def test_concrete_bad_values_raise(self, op, penalty, deriv, transform, additive, gamma):
        too_large = gamma if op is prox.mcp else gamma - 1
        with self.assertRaisesRegex(ValueError, "gamma must be > .*learning_rate.*lower learning_rate"):
            transform(0.5, gamma, too_large)
        with self.assertRaisesRegex(ValueError, "gamma must be finite and >"):
            transform(0.5, 1.0, 0.1)
        with self.assertRaisesRegex(ValueError, "gamma must be finite and >"):
            additive(0.5, 1.0)
        with self.assertRaisesRegex(ValueError, "learning_rate must be >= 0"):
            transform(0.5, gamma, -0.1)
        with self.assertRaisesRegex(ValueError, "lam must be >= 0"):
            additive(-0.5, gamma)

    def test_needs_params(self):
        t = jaxreg.core.prox_mcp(0.5, 3.0, 0.1)
        with self.assertRaisesRegex(ValueError, "needs the current params"):
            t.update(jnp.zeros(2), t.init(jnp.zeros(2)))


def proximal_gradient(x, y, transform_factory, steps):
    """``steps`` proximal-gradient iterations on 1/(2n)‖y − Xw‖² + R(w) from 0, step 1/L."""
    n = x.shape[0]
    lr = 1.0 / float(np.linalg.eigvalsh(x.T @ x / n).max())
    opt = optax.chain(optax.sgd(lr), transform_factory(lr))
    loss = lambda w: 0.5 * jnp.mean((y - x @ w) ** 2)

    def body(carry, _):
        w, state = carry
        u, state = opt.update(jax.grad(loss)(w), state, w)
        return (optax.apply_updates(w, u), state), None

    w0 = jnp.zeros(x.shape[1], x.dtype)
    (w, _), _ = jax.lax.scan(body, (w0, opt.init(w0)), None, length=steps)
    return w


@pytest.mark.parametrize("name", ["mcp", "scad"])
def test_matches_skglm_objective(name, x64):
    """Proximal gradient with prox_mcp / prox_scad reaches skglm's objective to 1e-6 relative.

    The design is well conditioned (min eigenvalue of XᵀX/n above the penalty's concavity 1/γ or 1/(γ − 1)),
    so the objective is convex and both solvers must find its one minimiser.
    """
    skglm = pytest.importorskip("skglm", reason="skglm is optional: pip install -e '.[bench]'")
    from skglm.datafits import Quadratic
    from skglm.penalties import SCAD, MCPenalty
    from skglm.solvers import AndersonCD

    rng = np.random.default_rng(0)
    n, d = 200, 10
    x = rng.standard_normal((n, d))
    w_true = np.array([3.0, -2.0, 1.5, 0.4, -0.3] + [0.0] * 5)
    y = x @ w_true + 0.5 * rng.standard_normal(n)
    lam, gamma = 0.3, (3.0 if name == "mcp" else 3.7)
    assert np.linalg.eigvalsh(x.T @ x / n).min() > 1 / (gamma - (0 if name == "mcp" else 1))
    skglm_penalty = MCPenalty(lam, gamma) if name == "mcp" else SCAD(lam, gamma)
    est = skglm.GeneralizedLinearEstimator(Quadratic(), skglm_penalty,
                                          AndersonCD(tol=1e-12, fit_intercept=False, max_iter=1000))
    w_skglm = est.fit(x, y).coef_
    factory = (lambda lr: jaxreg.core.prox_mcp(lam, gamma, lr)) if name == "mcp" else (
        lambda lr: jaxreg.core.prox_scad(lam, gamma, lr))
    w = np.asarray(proximal_gradient(jnp.asarray(x), jnp.asarray(y), factory, 5000))
    penalty = jaxreg.core.mcp_penalty if name == "mcp" else jaxreg.core.scad_penalty
    objective = lambda w: 0.5 * np.mean((y - x @ w) ** 2) + float(penalty(jnp.asarray(w), lam, gamma))
    ours, theirs = objective(w), objective(w_skglm)
    assert abs(ours - theirs) <= 1e-6 * abs(theirs), (ours, theirs)
    np.testing.assert_array_equal(w == 0, w_skglm == 0)  # the same exact zeros
    # the unbiasedness MCP/SCAD promise: beyond γλ the penalty is flat, so the data gradient vanishes there
    big = np.abs(w) > gamma * lam
    assert big.sum() >= 3
    np.testing.assert_allclose((x.T @ (y - x @ w) / n)[big], 0.0, atol=1e-8)

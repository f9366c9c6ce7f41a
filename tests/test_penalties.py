"""Penalties R(W): closed-form values, masks, centers, weights, gradients."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized
from conftest import TINY_MASK, tiny_params

import jaxreg


def _flat(params, mask=None):
    leaves = jax.tree.leaves(params)
    if mask is not None:
        leaves = [p for p, m in zip(leaves, jax.tree.leaves(mask)) if m]
    return np.concatenate([np.ravel(np.asarray(p, np.float64)) for p in leaves])


class PenaltyValueTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_l2_l1_closed_form(self):
        params = tiny_params()
        flat = _flat(params)
        l2 = self.variant(jaxreg.l2_penalty)(params)
        l1 = self.variant(jaxreg.l1_penalty)(params)
        np.testing.assert_allclose(l2, np.sum(flat**2), rtol=1e-6)
        np.testing.assert_allclose(l1, np.sum(np.abs(flat)), rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_mask_excludes_leaf(self):
        params = tiny_params()
        flat = _flat(params, TINY_MASK)
        fn = self.variant(lambda p: jaxreg.l2_penalty(p, mask=TINY_MASK))
        np.testing.assert_allclose(fn(params), np.sum(flat**2), rtol=1e-6)
        # callable mask: only matrices
        only_2d = lambda p: jax.tree.map(lambda x: x.ndim == 2, p)
        w = np.asarray(params[1]["layer"]["w"])
        np.testing.assert_allclose(
            jaxreg.l1_penalty(params, mask=only_2d), np.abs(w).sum(), rtol=1e-6
        )
        # prefix mask
        np.testing.assert_allclose(
            jaxreg.l1_penalty(params, mask=(False, True)),
            np.abs(_flat(params[1])).sum(),
            rtol=1e-6,
        )

    def test_center_and_weights(self):
        params = tiny_params()
        center = jax.tree.map(lambda x: jnp.full_like(x, 0.5), params)
        weights = (2.0, {"layer": {"w": jnp.array([[1.0, 0.0], [1.0, 0.0]]), "b": 0.0}})
        expected_l2 = 2 * np.sum((np.asarray(params[0]) - 0.5) ** 2)
        w = np.asarray(params[1]["layer"]["w"])
        expected_l2 += np.sum((w[:, 0] - 0.5) ** 2)
        got = jaxreg.l2_penalty(params, center=center, weights=weights)
        np.testing.assert_allclose(got, expected_l2, rtol=1e-6)

    def test_elastic_net_interpolates(self):
        params = tiny_params()
        l1, l2 = jaxreg.l1_penalty(params), jaxreg.l2_penalty(params)
        for rho in (0.0, 0.3, 1.0):
            np.testing.assert_allclose(
                jaxreg.elastic_net_penalty(params, rho), rho * l1 + (1 - rho) * l2, rtol=1e-6
            )

    def test_group_lasso_columns_and_rows(self):
        kernel = jnp.array([[3.0, 0.0, 1.0], [4.0, 0.0, 1.0]])
        np.testing.assert_allclose(jaxreg.group_lasso_penalty(kernel, axis=0), 5 + 0 + np.sqrt(2))
        np.testing.assert_allclose(
            jaxreg.group_lasso_penalty(kernel, axis=1), np.sqrt(10) + np.sqrt(17), rtol=1e-6
        )
        # weights per group broadcast to the norms (shape (1, 3))
        np.testing.assert_allclose(
            jaxreg.group_lasso_penalty(kernel, axis=0, weights=jnp.array([[1.0, 1.0, 0.0]])), 5.0
        )

    def test_group_lasso_gradient_finite_at_zero(self):
        kernel = jnp.array([[3.0, 0.0], [4.0, 0.0]])
        g = jax.grad(lambda k: jaxreg.group_lasso_penalty(k, axis=0))(kernel)
        np.testing.assert_allclose(g, [[0.6, 0.0], [0.8, 0.0]], rtol=1e-6)

    @parameterized.named_parameters(
        ("l2", jaxreg.l2_penalty, lambda w: 2 * w),
        ("l1", jaxreg.l1_penalty, jnp.sign),
    )
    def test_gradient_matches_seed_formula(self, penalty, expected_grad):
        params = tiny_params()
        g = jax.grad(penalty)(params)
        chex.assert_trees_all_close(g, jax.tree.map(expected_grad, params), rtol=1e-6)

    def test_bf16_leaves_sum_in_float32(self):
        w = jnp.full((1000,), 1.001, jnp.bfloat16)
        got = jaxreg.l1_penalty(w)
        self.assertEqual(got.dtype, jnp.float32)
        np.testing.assert_allclose(got, 1000 * float(w[0]), rtol=1e-6)

    def test_none_leaves_are_skipped(self):
        params = {"w": jnp.array([1.0, 2.0]), "frozen": None}
        np.testing.assert_allclose(jaxreg.l2_penalty(params), 5.0)

    def test_flax_style_tree(self):
        params = {"params": {"Dense_0": {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)}}}
        mask = {"params": {"Dense_0": {"kernel": True, "bias": False}}}
        np.testing.assert_allclose(jaxreg.l2_penalty(params, mask=mask), 6.0)

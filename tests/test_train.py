"""fit(): closed forms, history, minibatches."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxreg


def test_fit_matches_manual_loop_and_closed_form():
    lam, lr, steps = 0.3, 0.1, 25
    opt = optax.chain(jaxreg.add_l2_decay(lam), optax.sgd(lr))
    res = jaxreg.fit(lambda w: 0.0 * jnp.sum(w), jnp.array([10.0, 0.01]), opt, steps=steps)
    np.testing.assert_allclose(res.params, np.array([10.0, 0.01]) * (1 - 2 * lr * lam) ** steps, rtol=1e-5)


def test_history_every_log_every_with_remainder():
    loss = lambda w: jnp.sum((w - 2.0) ** 2)
    res = jaxreg.fit(loss, jnp.zeros(1), optax.sgd(0.1), steps=23, log_every=5, metrics_fn=lambda w: {"w": w[0]})
    np.testing.assert_array_equal(res.history["step"], [5, 10, 15, 20])
    # GD on (w−2)²: w_t = 2(1 − 0.8^t)
    np.testing.assert_allclose(res.history["w"], 2 * (1 - 0.8 ** np.array([5, 10, 15, 20])), rtol=1e-5)
    np.testing.assert_allclose(res.params, 2 * (1 - 0.8**23), rtol=1e-5)


def test_minibatch_is_seeded_and_uses_data():
    x = jnp.arange(100.0)
    loss = lambda w, batch: jnp.mean((w - batch) ** 2)
    a = jaxreg.fit(loss, jnp.zeros(()), optax.sgd(0.05), steps=50, data=x, batch_size=10, key=jax.random.key(1))
    b = jaxreg.fit(loss, jnp.zeros(()), optax.sgd(0.05), steps=50, data=x, batch_size=10, key=jax.random.key(1))
    c = jaxreg.fit(loss, jnp.zeros(()), optax.sgd(0.05), steps=50, data=x, batch_size=10, key=jax.random.key(2))
    assert float(a.params) == float(b.params) != float(c.params)
    assert 30 < float(a.params) < 70  # near the mean 49.5


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(steps=0), "steps"),
        (dict(steps=10, log_every=20), "log_every"),
        (dict(steps=10, batch_size=3), "data"),
        (dict(steps=10, data=jnp.ones(5), batch_size=3), "key"),
        (dict(steps=10, data=jnp.ones(5), batch_size=9, key=jax.random.key(0)), "batch_size"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        jaxreg.fit(lambda w, *b: jnp.sum(w), jnp.zeros(2), optax.sgd(0.1), **kwargs)


def test_minibatch_draws_distinct_samples_every_subset_equally_likely():
    from itertools import combinations

    from jaxreg._train import _draw_batch

    keys = jax.random.split(jax.random.key(3), 20000)
    idx = np.asarray(jax.jit(jax.vmap(lambda k: _draw_batch(k, 5, 2)))(keys))
    assert idx.shape == (20000, 2) and idx.min() >= 0 and idx.max() <= 4
    assert np.all(idx[:, 0] != idx[:, 1])  # distinct within a draw
    counts = {s: 0 for s in combinations(range(5), 2)}
    for a, b in idx:
        counts[(min(a, b), max(a, b))] += 1
    expected = 20000 / 10  # 10 subsets of 2 out of 5, each with probability 1/10
    sd = np.sqrt(20000 * 0.1 * 0.9)
    assert all(abs(c - expected) < 5 * sd for c in counts.values()), counts
    # order within a draw is random too (the first index is not always the smaller)
    assert 0.45 < np.mean(idx[:, 0] < idx[:, 1]) < 0.55
    # larger n: every sample included with probability batch_size / n
    big = np.asarray(jax.vmap(lambda k: _draw_batch(k, 200, 30))(keys[:4000]))
    assert all(len(set(row)) == 30 for row in big[:50])
    inclusion = np.bincount(big.ravel(), minlength=200) / 4000
    assert np.abs(inclusion - 30 / 200).max() < 5 * np.sqrt(0.15 * 0.85 / 4000)

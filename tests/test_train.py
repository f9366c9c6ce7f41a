"""fit(): closed forms, history, minibatches."""

import warnings

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


# --- state, aux and per-step keys ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cnn():
    """A flax linen CNN with BatchNorm and Dropout, its variables and a learnable 2-class image task."""
    nn = pytest.importorskip("flax.linen")

    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool):
            x = nn.Conv(4, (3, 3), use_bias=False)(x)  # no bias before BatchNorm: its gradient is 0
            x = nn.BatchNorm(use_running_average=not train, momentum=0.8)(x)
            x = nn.Dropout(0.3, deterministic=not train)(nn.relu(x))
            return nn.Dense(2)(x.mean(axis=(1, 2)))

    model = CNN()
    x = jax.random.normal(jax.random.key(0), (32, 6, 6, 1))
    y = (x[:, :3].mean(axis=(1, 2, 3)) > x[:, 3:].mean(axis=(1, 2, 3))).astype(jnp.int32)
    x = x + 2.0 * jnp.where(y == 1, 1.0, -1.0)[:, None, None, None] * jnp.linspace(-1, 1, 6)[None, :, None, None]
    variables = model.init(jax.random.key(1), x, train=False)

    def loss_fn(params, state, batch, key):
        xb, yb = batch
        logits, new_state = model.apply({"params": params, **state}, xb, train=True, rngs={"dropout": key},
                                        mutable=list(state))
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean(), new_state

    def eval_loss(params, state):
        logits = model.apply({"params": params, **state}, x, train=False)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def train(lam, key):  # call it with float32 arrays for lam: one compilation serves every test
        opt = optax.chain(jaxreg.add_l2_decay(lam), optax.adam(0.05))
        return jaxreg.fit(loss_fn, variables["params"], opt, steps=30, data=(x, y), batch_size=16, key=key,
                          state={"batch_stats": variables["batch_stats"]}, pass_key=True, log_every=10,
                          metrics_fn=lambda p, s: {"eval_loss": eval_loss(p, s)})

    return dict(train=jax.jit(train), variables=variables, eval_loss=eval_loss)


def test_flax_cnn_with_batchnorm_and_dropout_trains_carrying_batch_stats(cnn):
    res = cnn["train"](jnp.float32(1e-3), jax.random.key(0))
    v = cnn["variables"]
    assert jax.tree.structure(res.state) == jax.tree.structure({"batch_stats": v["batch_stats"]})
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), res.state["batch_stats"], v["batch_stats"])
    assert all(m > 1e-3 for m in jax.tree.leaves(moved)), moved  # running mean and var were updated
    first = float(cnn["eval_loss"](v["params"], {"batch_stats": v["batch_stats"]}))
    np.testing.assert_array_equal(res.history["step"], [10, 20, 30])
    assert float(res.history["eval_loss"][-1]) < 0.5 * first, (first, res.history["eval_loss"])
    assert float(res.history["loss"][-1]) < first


def test_flax_cnn_fit_is_deterministic_given_key_and_differs_across_keys(cnn):
    a, b, c = (cnn["train"](jnp.float32(1e-3), jax.random.key(k)) for k in (0, 0, 1))
    leaves = lambda r: jax.tree.leaves((r.params, r.state, r.history))
    assert all(np.array_equal(u, v) for u, v in zip(leaves(a), leaves(b)))
    assert not np.array_equal(a.params["Dense_0"]["kernel"], c.params["Dense_0"]["kernel"])


def test_flax_cnn_vmap_over_lambda_equals_loop(cnn):
    lams = jnp.array([1e-3, 1e-1, 1.0])
    key = jax.random.key(2)
    batched = jax.jit(jax.vmap(lambda lam: cnn["train"](lam, key)))(lams)
    for i, lam in enumerate(lams):
        one = cnn["train"](lam, key)
        for u, v in zip(jax.tree.leaves((one.params, one.state, one.history)),
                        jax.tree.leaves((batched.params, batched.state, batched.history))):
            np.testing.assert_allclose(u, v[i], rtol=1e-4, atol=1e-5)


def test_step_keys_are_fresh_each_step_reproducible_and_not_the_minibatch_key():
    steps = 12

    def loss_fn(w, state, batch, key):  # records each step's key and minibatch in the state
        t, keys, batches = state
        # batch[:3]: the logged evaluation gets all the data (and its new state is dropped)
        new = (t + 1, keys.at[t].set(jax.random.key_data(key)), batches.at[t].set(batch[:3]))
        return jnp.mean((w - batch) ** 2), new

    state = (jnp.zeros((), jnp.int32), jnp.zeros((steps, 2), jnp.uint32), jnp.zeros((steps, 3)))
    run = lambda key: jaxreg.fit(loss_fn, jnp.zeros(()), optax.sgd(0.1), steps=steps, data=jnp.arange(10.0),
                                 batch_size=3, key=key, state=state, pass_key=True, log_every=5)
    a, b, c = run(7), run(7), run(8)
    t, keys, batches = a.state
    assert int(t) == steps  # the logged loss evaluations do not advance the state
    assert len({tuple(k) for k in np.asarray(keys)}) == steps  # a fresh key every step
    np.testing.assert_array_equal(keys, b.state[1])
    assert not np.array_equal(keys, c.state[1])
    # the model key is not the minibatch key: the batch drawn with it differs from the batch used
    from jaxreg._train import _draw_batch

    with_model_key = np.asarray([np.arange(10.0)[_draw_batch(jax.random.wrap_key_data(k), 10, 3)] for k in keys])
    assert np.mean(np.all(with_model_key == np.asarray(batches), axis=1)) < 0.5


def test_has_aux_records_the_aux_of_the_logged_step():
    def loss_fn(w, batch):
        err = w - batch
        return jnp.mean(err**2), {"mean_error": jnp.mean(err), "max_error": jnp.max(jnp.abs(err))}

    x = jnp.array([1.0, 2.0, 3.0, 6.0])
    res = jaxreg.fit(loss_fn, jnp.zeros(()), optax.sgd(0.25), steps=9, data=x, log_every=3, has_aux=True,
                     metrics_fn=lambda w: {"w": w})
    assert set(res.history) == {"step", "loss", "mean_error", "max_error", "w"}
    w = res.history["w"]  # GD on mean((w − x)²) with lr 0.25: w_t = 3 (1 − 0.5^t)
    np.testing.assert_allclose(w, 3 * (1 - 0.5 ** np.array([3, 6, 9])), rtol=1e-6)
    np.testing.assert_allclose(res.history["mean_error"], w - 3.0, rtol=1e-5)
    np.testing.assert_allclose(res.history["max_error"], np.maximum(np.abs(w - 1), np.abs(w - 6)), rtol=1e-6)
    np.testing.assert_allclose(res.history["loss"], np.mean((w[:, None] - np.asarray(x)) ** 2, axis=1), rtol=1e-5)


def test_fit_result_keeps_its_old_fields_first_and_state_none_without_state():
    res = jaxreg.fit(lambda w: jnp.sum(w**2), jnp.ones(2), optax.sgd(0.1), steps=3)
    assert jaxreg.FitResult._fields[:3] == ("params", "opt_state", "history") and res.state is None
    params, opt_state, history = res[:3]
    assert params is res.params and history is res.history


@pytest.mark.parametrize("seed", [0, 5, np.uint32(5), jnp.array(5)])
def test_int_seed_is_the_key_of_that_seed(seed):
    run = lambda key: jaxreg.fit(lambda w, b: jnp.mean((w - b) ** 2), jnp.zeros(()), optax.sgd(0.1), steps=20,
                                 data=jnp.arange(50.0), batch_size=5, key=key).params
    expected = run(jax.random.key(int(seed)))
    assert float(run(seed)) == float(expected) == float(run(jax.random.PRNGKey(int(seed))))  # legacy keys too


def test_a_key_that_changes_nothing_warns():
    loss = lambda w: jnp.sum((w - 1.0) ** 2)  # noqa: E731  full batch, no pass_key: nothing draws from the key
    with pytest.warns(UserWarning, match=r"key= changes nothing here"):
        jaxreg.fit(loss, jnp.zeros(2), optax.sgd(0.1), steps=3, key=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jaxreg.fit(loss, jnp.zeros(2), optax.sgd(0.1), steps=3)
        jaxreg.fit(lambda w, b: jnp.mean((w - b) ** 2), jnp.zeros(()), optax.sgd(0.1), steps=3,
                   data=jnp.arange(50.0), batch_size=5, key=0)


def test_vmap_over_traced_int_seeds_equals_loop():
    run = lambda seed: jaxreg.fit(lambda w, b: jnp.mean((w - b) ** 2), jnp.zeros(()), optax.sgd(0.1), steps=20,
                                  data=jnp.arange(50.0), batch_size=5, key=seed).params
    np.testing.assert_array_equal(jax.vmap(run)(jnp.arange(3)), [run(s) for s in range(3)])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(data=(jnp.ones((10, 2)), jnp.ones(7))), r"data.*\(10, 2\).*\(7,\)"),
        (dict(data=(jnp.ones((10, 2)), jnp.ones(7)), batch_size=3, key=0), r"data.*\(10, 2\).*\(7,\)"),
        (dict(data={"x": jnp.ones(4), "scale": jnp.float32(2.0)}), r"data.*\['scale'\]: \(\)"),
        (dict(key=1.5), "key must be an int seed"),
        (dict(key=-1), r"key as an int seed must be in \[0, 2\*\*32\)"),
        (dict(key=2**32), r"key as an int seed must be in \[0, 2\*\*32\)"),
        (dict(key=True), "key must be an int seed"),
        (dict(key=jax.random.split(jax.random.key(0), 3)), "key must be one PRNG key"),
        (dict(key=jnp.zeros(2, jnp.float32)), "key must be an int seed"),
        (dict(key=jnp.zeros(3, jnp.uint32)), "not a legacy PRNG key"),
        (dict(pass_key=True), "key is required for pass_key=True"),
        (dict(has_aux=1), "has_aux must be True or False"),
        (dict(pass_key="yes", key=0), "pass_key must be True or False"),
    ],
)
def test_bad_state_key_and_data_arguments(kwargs, match):
    loss = (lambda w, b: jnp.sum(w)) if "data" in kwargs else (lambda w, *k: jnp.sum(w))
    with pytest.raises((ValueError, TypeError), match=match):
        jaxreg.fit(loss, jnp.zeros(2), optax.sgd(0.1), steps=4, **kwargs)


@pytest.mark.parametrize(
    "loss_fn,kwargs,match",
    [
        (lambda w: (jnp.sum(w), {"a": 1.0}), {}, "has_aux=True"),
        (lambda w: jnp.sum(w), dict(has_aux=True), r"\(loss, aux\)"),
        (lambda w: (jnp.sum(w), 1.0), dict(has_aux=True), "dict"),
        (lambda w, s: (jnp.sum(w), {"other": s}), dict(state=jnp.zeros(())), "new state must have the tree"),
        (lambda w, s: (jnp.sum(w), (s, {})), dict(state=jnp.zeros(())), "new state must have the tree"),
        (lambda w, s: (jnp.sum(w), s.astype(jnp.int32)), dict(state=jnp.zeros(())), "shapes and dtypes"),
        (lambda w, s: (jnp.sum(w), s), dict(state=jnp.zeros(()), has_aux=True), r"\(new_state, aux\)"),
        (lambda w: (jnp.sum(w), {"loss": 1.0}), dict(has_aux=True), r"\['loss'\], names the history already"),
        (lambda w: w, {}, "must return a scalar loss"),
    ],
)
def test_loss_fn_returning_the_wrong_shape_is_named(loss_fn, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        jaxreg.fit(loss_fn, jnp.zeros(2), optax.sgd(0.1), steps=4, **kwargs)


# --- minibatches from some rows only (sample_mask: a CV fold's training rows) ------------------------------------


def _recorded_batches(mask, *, steps=200, batch_size=3, n=10, key=0):
    """The rows (ids) of every minibatch fit drew, recorded in the model state."""

    def loss_fn(w, state, batch):
        t, seen = state  # batch[:batch_size]: the logged evaluation gets all rows (and its state is dropped)
        return jnp.mean((w - batch) ** 2), (t + 1, seen.at[t].set(batch[:batch_size]))

    state = (jnp.zeros((), jnp.int32), jnp.full((steps, batch_size), -1.0))
    return jaxreg.fit(loss_fn, jnp.zeros(()), optax.sgd(0.1), steps=steps, data=jnp.arange(float(n)),
                      batch_size=batch_size, key=key, state=state, sample_mask=mask).state[1]


def test_sample_mask_every_minibatch_has_exactly_batch_size_rows_of_the_mask():
    mask = np.zeros(10, bool)
    mask[[1, 3, 4, 7, 8]] = True
    seen = np.asarray(_recorded_batches(mask)).astype(int)
    assert all(len(set(row)) == 3 for row in seen)  # b distinct rows every step, none missing
    assert set(seen.ravel()) == {1, 3, 4, 7, 8}  # only the mask's rows, and every one of them
    weights = mask.astype(np.float32)  # 0/1 weights work the same
    np.testing.assert_array_equal(_recorded_batches(weights), seen)


def test_sample_mask_traced_per_fold_under_vmap():
    held = jaxreg.kfold_masks(10, 3, seed=1)
    seen = np.asarray(jax.jit(jax.vmap(lambda m: _recorded_batches(m, steps=60)))(jnp.asarray(~held)))
    for f in range(3):
        assert set(seen[f].ravel().astype(int)) == set(np.flatnonzero(~held[f])), f


def test_sample_mask_rows_outside_never_enter_a_step():
    x = jnp.array([1.0, np.nan, 3.0, np.inf, 5.0, np.nan])  # the rows outside the mask would poison any step
    mask = jnp.isfinite(x)
    res = jaxreg.fit(lambda w, b: jnp.mean((w - b) ** 2), jnp.zeros(()), optax.sgd(0.1), steps=300, data=x,
                     batch_size=2, key=0, sample_mask=mask)
    assert abs(float(res.params) - 3.0) < 1.0  # SGD around the mean of 1, 3, 5


def test_sample_mask_of_every_row_draws_what_no_mask_draws():
    run = lambda **kw: jaxreg.fit(lambda w, b: jnp.mean((w - b) ** 2), jnp.zeros(()), optax.sgd(0.1), steps=20,
                                  data=jnp.arange(50.0), batch_size=5, key=3, **kw).params
    assert float(run()) == float(run(sample_mask=np.ones(50, bool)))


def test_sample_mask_draws_every_subset_of_its_rows_equally_likely():
    from itertools import combinations

    from jaxreg._train import _draw_batch

    mask = jnp.array([True, False, True, True, False, True])
    idx = np.asarray(jax.vmap(lambda k: _draw_batch(k, 6, 2, mask))(jax.random.split(jax.random.key(4), 12000)))
    pairs = {s: 0 for s in combinations([0, 2, 3, 5], 2)}
    for a, b in idx:
        pairs[(min(a, b), max(a, b))] += 1  # a KeyError would be a row outside the mask
    sd = np.sqrt(12000 * (1 / 6) * (5 / 6))
    assert all(abs(c - 2000) < 5 * sd for c in pairs.values()), pairs


def test_traced_sample_mask_with_fewer_rows_than_batch_size_makes_the_model_nan():
    run = jax.jit(lambda m: jaxreg.fit(lambda w, b: jnp.mean((w - b) ** 2), jnp.zeros(()), optax.sgd(0.1), steps=4,
                                       data=jnp.arange(6.0), batch_size=3, key=0, sample_mask=m))
    short, enough = run(jnp.arange(6) < 2), run(jnp.arange(6) < 3)
    assert np.all(np.isnan(short.params)) and np.all(np.isnan(short.history["loss"]))
    assert np.all(np.isfinite(enough.params)) and np.all(np.isfinite(enough.history["loss"]))


def test_command_cv_minibatches_come_from_the_fold_s_training_rows_only():
    """With --folds and --batch-size, a fold's model never sees its held-out rows: NaN there changes nothing."""
    import dataclasses

    from jaxreg.app import SweepConfig, load_dataset, make_train_fn

    cfg = SweepConfig(dataset="diabetes", penalties=("l2",), steps=40, lr=0.05, folds=2, batch_size=2, n_train=40)
    ds = load_dataset("diabetes", n_train=40)
    held = jaxreg.kfold_masks(len(ds.y_train), 2)
    x = ds.x_train.copy()
    x[held[0]] = np.nan  # fold 0's held-out rows
    poisoned = dataclasses.replace(ds, x_train=x)
    clean = make_train_fn(ds, cfg, "l2", held)(0.01, jax.random.key(0), 0)["params"]
    out = make_train_fn(poisoned, cfg, "l2", held)(0.01, jax.random.key(0), 0)["params"]
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(out))
    for a, b in zip(jax.tree.leaves(clean), jax.tree.leaves(out)):
        np.testing.assert_array_equal(a, b)

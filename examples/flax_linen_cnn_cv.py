"""A flax linen CNN with BatchNorm and Dropout, swept over λ × seeds × CV folds in one call; λ chosen safely.

`jaxreg.fit` carries BatchNorm's `batch_stats` (`state=`) and gives dropout a fresh key each step
(`pass_key=True`); `jaxreg.sweep` trains every (fold, seed, λ) model in one compiled call. Each step's minibatch
is drawn from the fold's training rows only (`sample_mask=`), so the held-out fold never reaches a gradient nor
BatchNorm's batch statistics. `SweepResult.from_sweep(...).cv()` gives glmnet's `lambda_min` and `lambda_1se` over
the folds, never a diverged or NaN model.

    python examples/flax_linen_cnn_cv.py [--quick]
"""

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import jaxreg
from jaxreg.app import load_dataset


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Conv(8, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.Dropout(0.2, deterministic=not train)(nn.relu(x))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


def weighted_ce(logits, y, w):
    return jnp.sum(w * optax.softmax_cross_entropy_with_integer_labels(logits, y)) / jnp.sum(w)


def main(quick: bool) -> None:
    ds = load_dataset("digits")
    x = jnp.asarray(ds.x_train).reshape(-1, 8, 8, 1)
    y = jnp.asarray(ds.y_train)
    n_folds, seeds = (2, [0, 1]) if quick else (4, [0, 1])
    held_out = jnp.asarray(jaxreg.kfold_masks(x.shape[0], n_folds, seed=0))  # (folds, n)
    model = CNN()
    lr = 0.05

    def train(lam, key, fold):
        init_key, fit_key = jax.random.split(key)
        variables = model.init(init_key, x[:2], train=False)
        params, state = variables["params"], {"batch_stats": variables["batch_stats"]}
        w = 1.0 - held_out[fold]  # train on the other folds

        def loss_fn(p, s, batch, k):
            xb, yb = batch  # rows of this fold's training split only: BatchNorm's statistics see no held-out row
            logits, new_s = model.apply({"params": p, **s}, xb, train=True, rngs={"dropout": k},
                                        mutable=["batch_stats"])
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean(), new_s

        opt = optax.chain(jaxreg.add_l2_decay(lam, mask=jaxreg.weights_mask), optax.sgd(lr, momentum=0.9))
        out = jaxreg.fit(loss_fn, params, opt, steps=20 if quick else 300, data=(x, y), batch_size=128,
                         sample_mask=w, key=fit_key, state=state, pass_key=True)
        logits = model.apply({"params": out.params, **out.state}, x, train=False)
        return {"train_loss": weighted_ce(logits, y, w), "val_loss": weighted_ce(logits, y, held_out[fold]),
                "initial_loss": jnp.log(10.0)}  # softmax at initialisation: about log(classes)

    lambdas = jaxreg.log_grid(1e-4, 0.1, 3 if quick else 12)
    out = jaxreg.sweep(train, lambdas, keys=seeds, folds=n_folds)  # leaves of shape (folds, seeds, λ)
    res = jaxreg.SweepResult.from_sweep(out, lambdas, keys=seeds, folds=n_folds)
    cv = res.cv("val_loss")
    for lam, m, se in zip(cv["lambdas"], cv["mean"], cv["se"]):
        print(f"λ {lam:.2e}: CV loss {m:.4f} ± {se:.4f}")
    print(f"{int(res.table['diverged'].sum())} of {len(res)} models diverged")
    print(f"lambda_min {cv['lambda_min']:.3g}, lambda_1se {cv['lambda_1se']:.3g}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few λ, folds and steps (the test suite's mode)")
    main(parser.parse_args().quick)

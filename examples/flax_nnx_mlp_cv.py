"""A flax nnx MLP (LayerNorm, GELU) swept over λ × seeds × CV folds in one call; λ chosen safely.

The model is split into its graph and its parameter state (`nnx.split`), which `jaxreg.fit` trains as any
pytree; `mask=jaxreg.weights_mask` decays the Linear kernels, not the biases or LayerNorm scales. Results go
through `SweepResult.from_sweep`: `cv()` for `lambda_min` / `lambda_1se`, `best()` for the best single λ, both
skipping diverged and NaN models.

    python examples/flax_nnx_mlp_cv.py [--quick]
"""

import argparse

import jax
import jax.numpy as jnp
import optax
from flax import nnx

import jaxreg
from jaxreg.app import load_dataset


class MLP(nnx.Module):
    def __init__(self, d_in: int, hidden: int, d_out: int, rngs: nnx.Rngs):
        self.l1 = nnx.Linear(d_in, hidden, rngs=rngs)
        self.ln = nnx.LayerNorm(hidden, rngs=rngs)
        self.l2 = nnx.Linear(hidden, d_out, rngs=rngs)

    def __call__(self, x):
        return self.l2(jax.nn.gelu(self.ln(self.l1(x))))


def weighted_ce(logits, y, w):
    return jnp.sum(w * optax.softmax_cross_entropy_with_integer_labels(logits, y)) / jnp.sum(w)


def main(quick: bool) -> None:
    ds = load_dataset("digits")
    x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
    n_folds, seeds = 3, [0, 1]
    held_out = jnp.asarray(jaxreg.kfold_masks(x.shape[0], n_folds, seed=0))  # (folds, n)
    graphdef, _ = nnx.split(MLP(ds.n_features, 64, ds.n_classes, nnx.Rngs(0)))

    def train(lam, key, fold):
        params = nnx.split(MLP(ds.n_features, 64, ds.n_classes, nnx.Rngs(key)))[1]
        w = 1.0 - held_out[fold]

        def loss_fn(p, batch):
            xb, yb, wb = batch
            return weighted_ce(nnx.merge(graphdef, p)(xb), yb, wb)

        opt = optax.chain(jaxreg.add_l2_decay(lam, mask=jaxreg.weights_mask), optax.sgd(0.1, momentum=0.9))
        p = jaxreg.fit(loss_fn, params, opt, steps=30 if quick else 200, data=(x, y, w)).params
        logits = nnx.merge(graphdef, p)(x)
        return {"train_loss": weighted_ce(logits, y, w), "val_loss": weighted_ce(logits, y, held_out[fold]),
                "initial_loss": loss_fn(params, (x, y, w))}

    lambdas = jaxreg.log_grid(1e-4, 0.3, 4 if quick else 16)
    out = jaxreg.sweep(train, lambdas, keys=seeds, folds=n_folds)
    res = jaxreg.SweepResult.from_sweep(out, lambdas, keys=seeds, folds=n_folds)
    cv, best = res.cv("val_loss"), res.best("val_loss")
    for lam, m, se in zip(cv["lambdas"], cv["mean"], cv["se"]):
        print(f"λ {lam:.2e}: CV loss {m:.4f} ± {se:.4f}")
    print(f"{int(res.table['diverged'].sum())} of {len(res)} models diverged")
    print(f"lambda_min {cv['lambda_min']:.3g}, lambda_1se {cv['lambda_1se']:.3g}, best λ {best['lambda']:.3g}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few λ and steps (the test suite's mode)")
    main(parser.parse_args().quick)

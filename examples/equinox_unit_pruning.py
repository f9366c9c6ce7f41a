"""Prune the hidden units of an equinox MLP with a group lasso whose groups span leaves, one model per λ.

Unit i of the hidden layer owns row i of the first layer's weight (equinox's Linear is (out, in)), its bias
b1[i] and column i of the second layer's weight: `prox_unit_group_lasso` removes all of them together. One
`jaxreg.sweep` call trains a model per λ; the script prints and plots the number of pruned units against λ.

    python examples/equinox_unit_pruning.py [--quick] [--out units.png]
"""

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg
from jaxreg.app import load_dataset

HIDDEN = 32


def unit_groups(model: eqx.nn.MLP):
    """UnitGroup specs for the hidden layer: equinox weights are (out, in)."""
    groups = jax.tree.map(lambda _: None, model)
    spec = (jaxreg.UnitGroup("hidden", 0), jaxreg.UnitGroup("hidden", 0), jaxreg.UnitGroup("hidden", 1))
    return eqx.tree_at(lambda m: (m.layers[0].weight, m.layers[0].bias, m.layers[1].weight), groups, spec,
                       is_leaf=lambda x: x is None)


def main(quick: bool, out: str | None) -> None:
    ds = load_dataset("digits")
    x, y, xv, yv = map(jnp.asarray, (ds.x_train, ds.y_train, ds.x_val, ds.y_val))
    model0 = eqx.nn.MLP(ds.n_features, ds.n_classes, HIDDEN, depth=1, key=jax.random.key(0))
    params0, static = eqx.partition(model0, eqx.is_inexact_array)
    groups = unit_groups(params0)

    def loss(params, batch):
        xb, yb = batch
        logits = jax.vmap(eqx.combine(params, static))(xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    def train(lam):
        opt = jaxreg.proximal_sgd(0.2, lambda lr: jaxreg.prox_unit_group_lasso(lam, lr, groups), momentum=0.9)
        params = jaxreg.fit(loss, params0, opt, steps=60 if quick else 400, data=(x, y)).params
        pruned = jnp.sum(jaxreg.unit_norms(params, groups)["hidden"] == 0)
        acc = jnp.mean(jnp.argmax(jax.vmap(eqx.combine(params, static))(xv), -1) == yv)
        return {"pruned_units": pruned, "val_accuracy": acc, "val_loss": loss(params, (xv, yv))}

    lambdas = jaxreg.log_grid(0.01, 1.0, 6 if quick else 12)
    res = jaxreg.sweep(train, lambdas)
    for lam, k, acc in zip(lambdas, res["pruned_units"], res["val_accuracy"]):
        print(f"λ {lam:8.4f}: {int(k):2d}/{HIDDEN} hidden units pruned, val accuracy {acc:.3f}")
    if out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.semilogx(lambdas, res["pruned_units"], "o-")
        ax.set(xlabel="λ (unit group lasso)", ylabel=f"pruned hidden units (of {HIDDEN})",
               title="equinox MLP on digits")
        ax2 = ax.twinx()
        ax2.semilogx(lambdas, res["val_accuracy"], "s--", color="tab:orange")
        ax2.set_ylabel("validation accuracy", color="tab:orange")
        fig.tight_layout()
        fig.savefig(out, dpi=120)
        print(f"wrote {out}")
    assert np.all(np.diff(res["pruned_units"]) >= -1), "more λ should not prune fewer units (±1)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few λ and steps (the test suite's mode)")
    parser.add_argument("--out", default=None, help="write the plot to this PNG")
    args = parser.parse_args()
    main(args.quick, args.out)

"""Per-layer L2 of an MLP on scikit-learn's digits, tuned by hypergradients through training.

A coarse `jaxreg.sweep` over one λ shared by both layers finds a region; its best 3 λ start three hypergradient
descents on (λ_hidden, λ_out), run side by side in one compiled call (`multi_start=True`). Each step trains the
MLP (`jaxreg.fit`, rematerialised so reverse mode keeps about 2√steps carries) and differentiates the validation
loss with respect to log λ through every optimizer step. The test split, untouched by both, judges the result.

    python examples/tune_per_layer_l2.py [--quick] [--plot tune.png]
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import jaxreg


def splits(n_train: int):
    x, y = load_digits(return_X_y=True)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, train_size=n_train, random_state=0, stratify=y)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, train_size=0.4, random_state=0, stratify=y_rest)
    scaler = StandardScaler().fit(x_train)
    return [(jnp.asarray(scaler.transform(a), jnp.float32), jnp.asarray(b)) for a, b in
            ((x_train, y_train), (x_val, y_val), (x_test, y_test))]


def main(quick: bool, plot: str | None) -> None:
    (x, y), (xv, yv), (xt, yt) = splits(n_train=200)
    steps, hidden = (80, 64) if quick else (300, 128)
    k1, k2 = jax.random.split(jax.random.key(0))
    init = {"hidden": {"w": jax.random.normal(k1, (64, hidden)) / 8, "b": jnp.zeros(hidden)},
            "out": {"w": jax.random.normal(k2, (hidden, 10)) / np.sqrt(hidden), "b": jnp.zeros(10)}}
    only = lambda layer: {name: {"w": name == layer, "b": False} for name in init}  # noqa: E731  (weights, not biases)

    def logits(p, a):
        return jax.nn.relu(a @ p["hidden"]["w"] + p["hidden"]["b"]) @ p["out"]["w"] + p["out"]["b"]

    def ce(p, a, b):
        return optax.softmax_cross_entropy_with_integer_labels(logits(p, a), b).mean()

    def train(lams):  # per-layer λ: one add_l2_decay per layer, each masked to its weight matrix
        opt = optax.chain(jaxreg.add_l2_decay(lams["hidden"], mask=only("hidden")),
                          jaxreg.add_l2_decay(lams["out"], mask=only("out")), optax.sgd(0.1, momentum=0.9))
        return jaxreg.fit(lambda p: ce(p, x, y), init, opt, steps=steps, log_every=int(np.sqrt(steps)),
                          remat=True).params

    def objective(lams):
        return ce(train(lams), xv, yv)

    lambdas = jaxreg.log_grid(1e-4, 1.0, 6 if quick else 16)
    out = jaxreg.sweep(lambda lam: {"val_loss": objective({"hidden": lam, "out": lam})}, lambdas)
    coarse = jaxreg.SweepResult.from_sweep(out, lambdas, initial_loss=False)  # val losses only
    print(f"coarse sweep (one λ for both layers): best λ {coarse.best()['lambda']:.3g}, "
          f"val loss {coarse.best()['val_loss']:.4f}")
    starts = jaxreg.tuning.starts_from_sweep(coarse, 3, like={"hidden": 0.0, "out": 0.0})
    res = jaxreg.tune_hyperparams(objective, starts, steps=15 if quick else 60, learning_rate=0.2,
                                  multi_start=True, bounds=(1e-6, 10.0))
    best = res.best_lams
    print(f"hypergradient descent, 3 starts: λ_hidden {best['hidden']:.3g}, λ_out {best['out']:.3g}, "
          f"val loss {res.best_loss:.4f} (start {res.best_start}, step {res.best_step})")
    for name, lams in (("coarse best", {"hidden": coarse.best()["lambda"]} | {"out": coarse.best()["lambda"]}),
                       ("tuned", best)):
        p = train(jax.tree.map(jnp.float32, lams))
        accuracy = float(jnp.mean(jnp.argmax(logits(p, xt), -1) == yt))
        print(f"{name}: test loss {float(ce(p, xt, yt)):.4f}, test accuracy {accuracy:.3f}")
    if plot:
        res.plot(title="per-layer L2 on digits").savefig(plot, dpi=120)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and λ (the test suite's mode)")
    parser.add_argument("--plot", help="write the trajectories' plot to this file")
    args = parser.parse_args()
    main(args.quick, args.plot)

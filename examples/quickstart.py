"""L1 on a small logistic regression: the sign step with adam vs the prox step (ISTA)."""
import jax
import jax.numpy as jnp
import optax
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import jaxreg

x, y = load_breast_cancer(return_X_y=True)
x, y = jnp.asarray(StandardScaler().fit_transform(x)), jnp.asarray(y)
params = {"w": jnp.zeros(x.shape[1]), "b": jnp.zeros(())}


def loss(p):  # mean log-loss: L_data
    return optax.sigmoid_binary_cross_entropy(x @ p["w"] + p["b"], y).mean()


def train(opt, p, steps=500):  # one jitted lax.scan over optimizer steps
    def step(carry, _):
        p, s = carry
        u, s = opt.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, u), s), None
    return jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), None, length=steps)[0][0])(p)


lam, mask = 0.02, {"w": True, "b": False}  # penalise the weights, not the bias
for name, opt in {
    "adam + add_l1_sign": optax.chain(jaxreg.add_l1_sign(lam, mask=mask), optax.adam(0.05)),
    "sgd + prox_l1     ": optax.chain(optax.sgd(0.5), jaxreg.prox_l1(lam, 0.5, mask=mask)),
}.items():
    p = train(opt, params)
    print(f"{name}: loss {loss(p):.4f}  L1 {jaxreg.l1_penalty(p['w']):.3f}  "
          f"exact zeros {int((p['w'] == 0).sum())}/{p['w'].size}")

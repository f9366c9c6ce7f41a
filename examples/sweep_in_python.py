"""The Python equivalent of `jaxreg sweep --penalty l1_prox`: 100 models in one call."""
import jax  # noqa: E401
import jax.numpy as jnp
import optax

import jaxreg
from jaxreg import models
from jaxreg.app import _data as data

ds = data.load_dataset("digits")  # fixed, stratified train/validation split, standardised
x, y, xv, yv = map(jnp.asarray, (ds.x_train, ds.y_train, ds.x_val, ds.y_val))

def train(lam):  # one model: logistic regression, ISTA (SGD + prox_l1) on the weights
    p0 = models.init_params("logistic", jax.random.key(0), ds.n_features, ds.n_classes)
    opt = optax.chain(optax.sgd(0.5), jaxreg.prox_l1(lam, 0.5, mask=models.weight_mask(p0)))
    p = jaxreg.fit(lambda p, b: models.data_loss(ds.task, p, *b), p0, opt, steps=300, data=(x, y)).params
    return {"val_loss": models.data_loss(ds.task, p, xv, yv), "zeros": jnp.mean(p["w"] == 0)}

lambdas = jaxreg.log_grid(1e-5, 0.2, 100)
out = jaxreg.sweep(train, lambdas)  # vmapped, jit-compiled once, chunked and sharded
best = out["val_loss"].argmin()
print(f"best λ {lambdas[best]:.3g}: val loss {out['val_loss'][best]:.4f}, {out['zeros'][best]:.0%} exact zeros")

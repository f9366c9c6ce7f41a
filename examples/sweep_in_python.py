"""The Python equivalent of `jaxreg sweep --penalty l1_prox`: 32 models in one call (the README's sweep example)."""
import jax
import jax.numpy as jnp

import jaxreg
from jaxreg import models
from jaxreg.app import load_dataset

ds = load_dataset("digits")  # fixed, stratified train/validation split, standardised
x, y, xv, yv = map(jnp.asarray, (ds.x_train, ds.y_train, ds.x_val, ds.y_val))


def train(lam):  # one model: logistic regression, ISTA on the weights
    p0 = models.init_params("logistic", jax.random.key(0), ds.n_features, ds.n_classes)
    opt = jaxreg.proximal_sgd(0.5, lambda lr: jaxreg.prox_l1(lam, lr, mask=models.weight_mask(p0)))
    p = jaxreg.fit(lambda p, b: models.data_loss(ds.task, p, *b), p0, opt, steps=200, data=(x, y)).params
    return {"val_loss": models.data_loss(ds.task, p, xv, yv), "zeros": jnp.mean(p["w"] == 0)}


lambdas = jaxreg.log_grid(1e-4, 0.1, 32)
out = jaxreg.sweep(train, lambdas)  # {"val_loss": (32,), "zeros": (32,)}, NumPy
best = out["val_loss"].argmin()
print(f"best λ {lambdas[best]:.3g}: val loss {out['val_loss'][best]:.4f}, {out['zeros'][best]:.0%} exact zeros")

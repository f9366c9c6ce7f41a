"""λ × seeds × CV folds in one call, λ chosen safely: never a NaN or diverged model (the README's sweep example)."""
import jax.numpy as jnp

import jaxreg
from jaxreg import models
from jaxreg.app import load_dataset

ds = load_dataset("digits")  # fixed, stratified train/validation split, standardised
x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
held = jnp.asarray(jaxreg.kfold_masks(len(y), 4), jnp.float32)  # (4, n): 1 = held out in that fold


def train(lam, key, fold):  # one model: logistic regression, ISTA on the weights, one fold held out
    p0 = models.init_params("logistic", key, ds.n_features, ds.n_classes)
    opt = jaxreg.proximal_sgd(0.5, lambda lr: jaxreg.prox_l1(lam, lr, mask=models.weight_mask(p0)))
    loss = lambda p, b: models.data_loss(ds.task, p, *b)  # weighted: b = (x, y, weights)
    w = 1 - held[fold]  # the other folds' rows; the seed draws the minibatches among them
    p = jaxreg.fit(loss, p0, opt, steps=200, data=(x, y, w), batch_size=256, sample_mask=w, key=key).params
    return {"val_loss": loss(p, (x, y, held[fold])), "zeros": jnp.mean(p["w"] == 0),  # and, to flag divergence:
            "train_loss": loss(p, (x, y, w)), "initial_loss": loss(p0, (x, y, w))}


lambdas = jaxreg.log_grid(1e-4, 0.1, 32)
out = jaxreg.sweep(train, lambdas, keys=[0, 1], folds=4)  # leaves of shape (folds, seeds, λ)
res = jaxreg.SweepResult.from_sweep(out, lambdas, keys=[0, 1], folds=4)  # one row per model
best, cv = res.best("val_loss"), res.cv("val_loss")  # skip NaN / diverged models; SE over folds
zeros = res.table["zeros"][best["row"]]  # the best single model at that λ
print(f"best λ {best['lambda']:.3g} (grid edge: {best['at_grid_edge']}): val loss {best['val_loss']:.4f} ± "
      f"{best['se']:.4f}, {zeros:.0%} exact zeros; CV λ_min {cv['lambda_min']:.3g}, λ_1se {cv['lambda_1se']:.3g}")

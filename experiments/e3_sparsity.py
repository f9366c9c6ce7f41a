"""Claim 3: L1 gives sparse models, L2 does not — measured on digits for the three penalties."""
import _common
import numpy as np

from jaxreg import app

args = _common.parse_args(__doc__)
q = args.quick
configs = {
    "logistic": app.SweepConfig(model="logistic", num_lambdas=8 if q else 200, steps=40 if q else 300, lr=0.5),
    "mlp": app.SweepConfig(model="mlp", hidden=32, num_lambdas=6 if q else 128, steps=40 if q else 300, lr=0.2),
}
measured, figures = {}, []
plt = _common.plt()
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for ax, (model, cfg) in zip(axes, configs.items()):
    res = app.run(cfg.validate(), progress=False)
    lr = cfg.lr
    t = res.table
    weights = np.concatenate([v.reshape(len(v), -1) for k, v in res.params.items() if k.startswith("w")], axis=1)
    dead = np.all(weights == 0, axis=0)  # weights of always-blank pixels never move from 0 under any penalty
    live = weights[:, ~dead]
    band = np.abs(live) <= (lr * t["lambda"])[:, None]  # within one sign step of zero
    per = {}
    for pen in cfg.penalties:
        sel = t["penalty"] == pen
        lam = t["lambda"][sel]
        exact = np.mean(live[sel] == 0, axis=1)
        near = t["near_zero"][sel]
        in_band = np.mean(band[sel], axis=1)
        best = res.best("val_loss")[pen]
        i = int(np.argmin(np.abs(lam - best["lambda"])))
        per[pen] = {
            "max_exact_zero_fraction": float(exact.max()),
            "max_near_zero_fraction": float(np.nanmax(near)),
            "max_fraction_within_alpha_lambda": float(in_band.max()),
            "best_lambda": best["lambda"], "best_val_loss": best["val_loss"],
            "exact_zero_fraction_at_best": float(exact[i]),
            "val_accuracy_at_best": float(t["val_accuracy"][sel][i]),
        }
        c = {"l2": "tab:blue", "l1": "tab:orange", "l1_prox": "tab:green"}[pen]
        ax.plot(lam, exact, "-", color=c, lw=1.8, label=f"{pen}: exact zeros")
        ax.plot(lam, in_band, ":", color=c, lw=1.4, label=f"{pen}: |w| ≤ αλ")
    ax.set_xscale("log")
    ax.set_xlabel("λ")
    ax.set_title(f"digits, {model} ({len(t['lambda']) // len(cfg.penalties)} λ per penalty, one call each)")
    ax.grid(alpha=0.3)
    measured[model] = {"penalties": per, "dead_pixel_weights_excluded": int(dead.sum()),
                       "n_weights": int(live.shape[1]), "models": len(t["lambda"]),
                       "timings_s": {p: round(v["wall_s"], 2) for p, v in res.info["timings"].items()}}
axes[0].set_ylabel("fraction of (live) weights")
axes[0].legend(fontsize=7)
fig.tight_layout()
fig_path = f"{args.out}/e3_sparsity.png"
fig.savefig(fig_path, dpi=110)
figures.append(fig_path)

lg, mlp = measured["logistic"]["penalties"], measured["mlp"]["penalties"]
result = (
    f"exact zeros, max over λ (logistic / MLP): prox_l1 {lg['l1_prox']['max_exact_zero_fraction']:.0%} / "
    f"{mlp['l1_prox']['max_exact_zero_fraction']:.0%}, sign step {lg['l1']['max_exact_zero_fraction']:.0%} / "
    f"{mlp['l1']['max_exact_zero_fraction']:.0%}, L2 {lg['l2']['max_exact_zero_fraction']:.0%} / "
    f"{mlp['l2']['max_exact_zero_fraction']:.0%}. The sign step does shrink weights to within one step (αλ) of "
    f"zero — up to {lg['l1']['max_fraction_within_alpha_lambda']:.0%} / "
    f"{mlp['l1']['max_fraction_within_alpha_lambda']:.0%} "
    "of them — but never onto it: it is L1's shrinkage without L1's sparsity. At the best λ (validation loss) "
    f"the proximal logistic model has {lg['l1_prox']['exact_zero_fraction_at_best']:.0%} exact zeros and validation "
    f"loss {lg['l1_prox']['best_val_loss']:.4f}, against {lg['l2']['best_val_loss']:.4f} for L2 and "
    f"{lg['l1']['best_val_loss']:.4f} for the sign step."
)
_common.save(args, "e3_sparsity",
             claim="L1 gives sparse models, L2 does not.",
             setup="bundled digits (1347 train / 450 validation), logistic regression and a 32-unit MLP, full-batch "
                   "SGD, L2 decay vs L1 sign step vs L1 prox, hundreds of λ per penalty in one vmapped call each; "
                   "weights of the always-blank pixels (0 under every penalty) excluded",
             measured=measured, result=result,
             verdict="refined: true for the proximal step only; the plain sign step gives no exact zeros",
             figures=figures)

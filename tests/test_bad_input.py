"""The bad-input catalogue: every entry must fail with a clear, named error.

API errors are ValueError/TypeError whose message names the argument (a
configuration problem is a ``jaxreg.app.ConfigError``, a ValueError naming the
field); the CLI prints exactly one line ``jaxreg: error: ...`` naming the flag
(no traceback) and exits 2.
Traced bad values (inside jit/vmap) are not in this table: they turn the model
into NaN (finite=False), see test_transforms.py and test_reliability.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxreg
from jaxreg import models
from jaxreg.app import ConfigError, _data as data, _runner as runner
from jaxreg.app._cli import main

PARAMS = (jnp.array([1.0, -2.0]), {"layer": {"w": jnp.ones((2, 2)), "b": jnp.zeros(2)}})
f = lambda lam, *rest: lam  # noqa: E731

API = [
    # hyperparameters
    ("negative λ", lambda: jaxreg.add_l2_decay(-0.1), ValueError, "lam must be >= 0"),
    ("NaN λ", lambda: jaxreg.add_l1_sign(float("nan")), ValueError, "lam must be finite"),
    ("inf λ", lambda: jaxreg.prox_l1(float("inf"), 0.1), ValueError, "lam must be finite"),
    ("array λ", lambda: jaxreg.add_l2_decay(jnp.ones(3)), ValueError, "lam must be a scalar"),
    ("string λ", lambda: jaxreg.add_l2_decay("0.1"), TypeError, "lam"),
    ("negative learning rate", lambda: jaxreg.prox_l1(0.1, -1.0), ValueError, "learning_rate"),
    ("NaN learning rate", lambda: jaxreg.prox_l1(0.1, float("nan")), ValueError, "learning_rate"),
    ("inf learning rate", lambda: jaxreg.prox_group_lasso(0.1, float("inf")), ValueError, "learning_rate"),
    ("l1_ratio > 1", lambda: jaxreg.add_elastic_net(0.1, 1.5), ValueError, "l1_ratio"),
    ("l1_ratio < 0", lambda: jaxreg.prox_elastic_net(0.1, -0.1, 0.1), ValueError, "l1_ratio"),
    ("NaN l1_ratio", lambda: jaxreg.elastic_net_penalty(PARAMS, float("nan")), ValueError, "l1_ratio"),
    # grids
    ("lambda_min > lambda_max", lambda: jaxreg.log_grid(1.0, 0.1, 5), ValueError, "lo must be <= hi"),
    ("num_lambdas 0", lambda: jaxreg.log_grid(1e-3, 1.0, 0), ValueError, "num"),
    ("empty grid", lambda: jaxreg.sweep(f, []), ValueError, "lambdas is empty"),
    ("2-D grid", lambda: jaxreg.sweep(f, [[0.1, 0.2]]), ValueError, "1-D"),
    ("negative grid value", lambda: jaxreg.sweep(f, [0.1, -1.0]), ValueError, ">= 0"),
    ("chunk_size 0", lambda: jaxreg.sweep(f, [0.1], chunk_size=0), ValueError, "chunk_size"),
    ("chunk_size negative", lambda: jaxreg.sweep(f, [0.1], chunk_size=-3), ValueError, "chunk_size"),
    ("vmap_size 0", lambda: jaxreg.sweep(f, [0.1], vmap_size=0), ValueError, "vmap_size"),
    ("float keys", lambda: jaxreg.sweep(f, [0.1], keys=np.zeros((2, 3), np.float32)), ValueError, "keys"),
    ("Python branch on λ", lambda: jaxreg.sweep(lambda lam: lam if lam > 0.5 else 0.0, [0.1]), TypeError,
     r"traced value as a Python value .* lam is an abstract array there\. Branch with jnp\.where"),
    ("int() of a fold", lambda: jaxreg.sweep(lambda lam, fold: lam * [1.0, 2.0][int(fold)], [0.1], folds=2),
     TypeError, "lam, fold are abstract arrays"),
    ("fit loss_fn(batch, params)", lambda: jaxreg.fit(lambda batch, params: jnp.sum(params["w"] * batch[0]),
                                                      {"w": jnp.ones(2)}, optax.sgd(0.1), steps=1,
                                                      data=(jnp.ones((4, 2)),)),
     TypeError, r"loss_fn\(batch, params, ...\) looks swapped: fit calls loss_fn\(params, batch, ...\)"),
    ("list indexed by a fold", lambda: jaxreg.sweep(lambda lam, fold: lam * [1.0, 2.0][fold], [0.1], folds=2),
     TypeError, "a Python list indexed by it"),
    ("np.asarray of λ", lambda: jaxreg.sweep(lambda lam: np.asarray(lam) * 2, [0.1]), TypeError,
     "traced value as a Python value"),
    ("repeated fold ids", lambda: jaxreg.sweep(f, [0.1], folds=[2, 2]), ValueError, r"folds \[2, 2\] repeat a fold"),
    ("repeated seeds", lambda: jaxreg.sweep(f, [0.1], keys=[3, 1, 3]), ValueError, r"keys: entries \[2\] repeat"),
    ("repeated PRNG keys", lambda: jaxreg.sweep(f, [0.1], keys=jnp.stack([jax.random.key(0)] * 2)), ValueError,
     r"keys: entries \[1\] repeat"),
    ("repeated seeds in from_sweep", lambda: jaxreg.SweepResult.from_sweep({"v": np.ones((2, 1))}, [0.1], keys=[1, 1]),
     ValueError, "repeat a seed"),
    # trees
    ("mask structure", lambda: jaxreg.add_l2_decay(0.1, mask={"w": True}).init(PARAMS), ValueError, "mask"),
    ("mask leaf not bool", lambda: jaxreg.l2_penalty(PARAMS, mask=(1.5, True)), TypeError, "mask"),
    ("mask leaf an array", lambda: jaxreg.l2_penalty(PARAMS, mask=(np.ones((40, 30), bool), True)), TypeError,
     r"got an array of shape \(40, 30\) and dtype bool; for per-element penalty factors use weights="),
    ("center structure", lambda: jaxreg.l1_penalty(PARAMS, center=(jnp.zeros(2),)), ValueError, "center"),
    ("center shapes", lambda: jaxreg.prox_l1(0.1, 0.1, center=jax.tree.map(lambda x: x[..., None], PARAMS))
     .init(PARAMS), ValueError, "center"),
    ("weights structure", lambda: jaxreg.add_l1_sign(0.1, weights=(1.0, 2.0, 3.0)).init(PARAMS), ValueError,
     "weights"),
    ("weights shape", lambda: jaxreg.l2_penalty(PARAMS, weights=(jnp.ones(5), 1.0)), ValueError, "weights"),
    ("negative weights", lambda: jaxreg.l2_penalty(PARAMS, weights=(-1.0, 1.0)), ValueError, "weights"),
    ("int leaf", lambda: jaxreg.l2_penalty({"n": jnp.arange(3)}), ValueError, "params leaves"),
    ("bool leaf", lambda: jaxreg.add_l1_sign(0.1).init({"b": jnp.array([True])}), ValueError, "params leaves"),
    ("complex leaf", lambda: jaxreg.l1_penalty({"c": jnp.ones(2, jnp.complex64)}), ValueError, "params leaves"),
    ("group axis", lambda: jaxreg.group_lasso_penalty(jnp.ones(3), axis=1), ValueError, "axis"),
    ("update without params", lambda: jaxreg.add_l2_decay(0.1).update(jnp.ones(2), None), ValueError, "params"),
    # data
    ("NaN in x", lambda: data.make_dataset(np.full((10, 2), np.nan), np.arange(10.0)), ValueError, "NaN"),
    ("inf in y", lambda: data.make_dataset(np.ones((10, 2)), np.r_[np.inf, np.arange(9.0)]), ValueError, "inf"),
    ("x wrong rank", lambda: data.make_dataset(np.ones(10), np.arange(10.0)), ValueError, "2-D"),
    ("y wrong rank", lambda: data.make_dataset(np.ones((10, 2)), np.ones((10, 2))), ValueError, "1-D"),
    ("x/y length", lambda: data.make_dataset(np.ones((10, 2)), np.arange(9.0)), ValueError, "same number"),
    ("single class", lambda: data.make_dataset(np.ones((10, 2)), np.zeros(10), task="classification"),
     ValueError, "2 classes"),
    # names
    ("unknown dataset", lambda: data.load_dataset("mnist"), ValueError, "dataset must be one of"),
    ("unknown model", lambda: models.init_params("resnet", jax.random.key(0), 3, 2), ValueError, "model"),
    ("unknown penalty", lambda: runner.make_optimizer("l3", 0.1), ValueError, "penalty"),
    ("unknown optimizer", lambda: runner.make_optimizer("l2", 0.1, optimizer="lbfgs"), ValueError, "optimizer"),
    ("unknown compute dtype", lambda: models.predict(PARAMS[1]["layer"], jnp.ones((1, 2)), compute_dtype="int32"),
     ValueError, "compute_dtype must be None or one of"),
    ("unknown config compute dtype", lambda: runner.SweepConfig(compute_dtype="banana").validate(), ConfigError,
     "^compute_dtype must be one of"),
    ("config num_lambdas 0", lambda: runner.SweepConfig(num_lambdas=0).validate(), ConfigError,
     "^num_lambdas must be an integer >= 1"),
    ("config lambda_min > lambda_max", lambda: runner.SweepConfig(lambda_min=1.0, lambda_max=0.1).validate(),
     ConfigError, r"^lambda_min \(1.0\) must be <= lambda_max \(0.1\); swap them"),
    ("config NaN lr", lambda: runner.SweepConfig(lr=float("nan")).validate(), ConfigError, "^lr must be finite"),
    ("unknown loss scaling", lambda: jaxreg.from_sklearn_lasso(1.0, loss="l2"), ValueError, "loss"),
    # nonconvex paths
    ("nonconvex_path penalty", lambda: nonconvex_path(penalty="lasso"), ValueError, "penalty must be 'mcp' or 'scad'"),
    ("nonconvex_path MCP gamma <= 1", lambda: nonconvex_path(gamma=1.0), ValueError, "gamma must be finite and > 1"),
    ("nonconvex_path SCAD gamma <= 2", lambda: nonconvex_path(penalty="scad", gamma=2.0), ValueError,
     "gamma must be finite and > 2"),
    ("nonconvex_path NaN gamma", lambda: nonconvex_path(gamma=float("nan")), ValueError, "gamma"),
    ("nonconvex_path gamma vs columns", lambda: nonconvex_path(x=0.3 * np.eye(4), gamma=3.0), ValueError,
     "gamma=3 is too small for this design.*standardise"),
    ("nonconvex_path tol", lambda: nonconvex_path(tol=0.0), ValueError, "tol must be a positive float"),
    ("nonconvex_path max_iter", lambda: nonconvex_path(max_iter=0), ValueError, "max_iter must be a positive int"),
    ("nonconvex_path λ = 0", lambda: nonconvex_path(lambdas=[0.5, 0.0]), ValueError, "lambdas must be > 0"),
    ("nonconvex_path negative λ", lambda: nonconvex_path(lambdas=[-0.5]), ValueError, "lambdas must be finite"),
    ("nonconvex_path NaN in x", lambda: nonconvex_path(x=np.full((4, 4), np.nan)), ValueError, "x has NaN"),
    ("nonconvex_path inf in y", lambda: nonconvex_path(y=np.r_[np.inf, 0, 0, 0]), ValueError, "y has NaN or inf"),
    ("nonconvex_path shapes", lambda: nonconvex_path(y=np.ones(3)), ValueError, r"x must be \(n, d\) and y \(n,\)"),
    # hypergradient tuning (more in test_tuning.py)
    ("tune λ0 = 0", lambda: jaxreg.tune_hyperparams(f, 0.0, steps=1), ValueError, "lams0 must be finite and > 0"),
    ("tune starts axis", lambda: jaxreg.tune_hyperparams(f, {"a": np.ones(2), "b": np.ones(3)}, steps=1,
                                                          multi_start=True), ValueError, "leading axis of starts"),
    ("tune bounds", lambda: jaxreg.tune_hyperparams(f, 0.1, steps=1, bounds=(1.0, 0.1)), ValueError, "0 < lo < hi"),
    ("weighted lasso l1_ratio 0", lambda: jaxreg.tune_weighted_lasso(np.eye(3), np.ones(3), np.eye(3), np.ones(3),
                                                                     0.1, steps=1, l1_ratio=0.0), ValueError,
     "l1_ratio must be in"),
]


def nonconvex_path(x=None, y=None, lambdas=(0.5,), **kwargs):
    """:func:`jaxreg.solvers.nonconvex_path` on a 4 × 4 standardised design unless told otherwise."""
    x = np.sqrt(4) * np.eye(4) if x is None else x
    y = np.array([1.0, -1.0, 0.5, 0.0]) if y is None else y
    return jaxreg.solvers.nonconvex_path(x, y, lambdas, **kwargs)


@pytest.mark.parametrize("name,call,exc,match", API, ids=[a[0] for a in API])
def test_api_bad_input(name, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def _files(tmp):
    paths = {}
    for name, content in {
        "empty.csv": "",
        "ragged.csv": "1,2,3\n4,5\n6,7,8\n",
        "text.csv": "a,b,y\n1,2,0\n3,oops,1\n",
        "one_class.csv": "\n".join(f"{i},{i * 2},1" for i in range(20)),
        "nan.csv": "\n".join(f"{i},nan,{i % 2}" for i in range(20)),
        "table.txt": "1,2,3\n",
        "fake.npz": "not a zip",
    }.items():
        p = tmp / name
        p.write_text(content)
        paths[name] = str(p)
    (tmp / "blocker").write_text("a file, not a directory")
    (tmp / "plain").mkdir()
    paths["plain_dir"] = str(tmp / "plain")
    paths["unwritable"] = str(tmp / "blocker" / "out")
    return paths


CLI = [
    ("unknown dataset", ["--dataset", "mnist"], "--dataset must be one of"),
    ("unknown model", ["--model", "resnet"], "--model must be one of"),
    ("unknown penalty", ["--penalty", "l3"], "--penalty must be one of"),
    ("unknown compute dtype", ["--compute-dtype", "int8"], "--compute-dtype must be one of"),
    ("unknown optimizer", ["--optimizer", "lbfgs"], "--optimizer must be one of"),
    ("model/task mismatch", ["--model", "linear"], "'linear' is least squares"),
    ("lambda-min > lambda-max", ["--lambda-min", "1", "--lambda-max", "0.1"], "swap them"),
    ("negative lambda-min", ["--lambda-min", "-1"], "--lambda-min"),
    ("num-lambdas 0", ["--num-lambdas", "0"], "--num-lambdas must be an integer >= 1"),
    ("negative lr", ["--lr", "-1"], "--lr"),
    ("NaN lr", ["--lr", "nan"], "--lr"),
    ("inf lr", ["--lr", "inf"], "--lr"),
    ("l1-ratio > 1", ["--l1-ratio", "2"], "--l1-ratio"),
    ("chunk-size 0", ["--chunk-size", "0"], "--chunk-size"),
    ("steps not a number", ["--steps", "abc"], "--steps"),
    ("folds 1 of too many", ["--folds", "-1"], "--folds"),
    ("missing data file", ["--data", "/nonexistent/d.csv"], "does not exist"),
    ("empty data file", ["--data", "{empty.csv}"], "is empty"),
    ("ragged rows", ["--data", "{ragged.csv}"], "ragged"),
    ("non-numeric cell", ["--data", "{text.csv}"], "non-numeric cell 'oops'"),
    ("single class file", ["--data", "{one_class.csv}"], "at least 2 classes"),
    ("NaN in file", ["--data", "{nan.csv}"], "NaN"),
    ("not CSV/NPZ", ["--data", "{table.txt}"], ".csv or .npz"),
    ("corrupt NPZ", ["--data", "{fake.npz}"], "not a readable NPZ"),
    ("unwritable out", ["--out", "{unwritable}"], "not a writable directory"),
    ("resume a file", ["--resume", "{empty.csv}"], "--resume"),
    ("resume a plain directory", ["--resume", "{plain_dir}"], "no manifest.json"),
    ("batch-size > samples", ["--batch-size", "100000"], "--batch-size (100000) must be <="),
    ("folds > samples", ["--folds", "8", "--n-train", "5"], "--folds (8) cannot exceed"),
    ("local-devices 0", ["--local-devices", "0"], "--local-devices must be >= 1"),
]


@pytest.mark.parametrize("name,argv,match", CLI, ids=[c[0] for c in CLI])
def test_cli_bad_input(name, argv, match, tmp_path, capsys):
    paths = _files(tmp_path)
    argv = [paths[a[1:-1]] if a.startswith("{") else a for a in argv]
    if "--out" not in argv and "--resume" not in argv:
        argv += ["--out", str(tmp_path / "run")]
    rc = main(["sweep", *argv, "--num-lambdas", "2", "--steps", "2"] if "--num-lambdas" not in argv
              else ["sweep", *argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("jaxreg: error: ") and err.count("\n") == 1, err
    assert match in err, err


def test_catalogue_size():
    assert len(API) + len(CLI) >= 25


# calling conventions of fit and sweep, named at the first trace (the TypeError Python raises is chained);
# minibatches restricted to some rows (fit's sample_mask, the command's CV folds)
_sq = lambda w, *b: jnp.sum(w**2)  # noqa: E731


def _fit(loss_fn, **kwargs):
    import optax

    return jaxreg.fit(loss_fn, jnp.zeros(3), optax.sgd(0.1), steps=2, **kwargs)


CALLS = [
    ("sweep: train_fn takes a key, no keys=", lambda: jaxreg.sweep(lambda lam, key: lam, [0.1, 0.2]), TypeError,
     r"train_fn <lambda>\(lam, key\) cannot be called as train_fn\(lam\): sweep passes train_fn a key only "
     r"with keys= \(e.g. keys=\[0, 1\]"),
    ("sweep: train_fn takes no key, keys= given", lambda: jaxreg.sweep(lambda lam: lam, [0.1], keys=[0, 1]),
     TypeError, r"cannot be called as train_fn\(lam, key\): sweep passes key because keys= is given: add"),
    ("sweep: train_fn takes no fold, folds= given", lambda: jaxreg.sweep(lambda lam, key: lam, [0.1], keys=[0],
                                                                          folds=2),
     TypeError, r"train_fn\(lam, key, fold\): sweep passes key because keys= is given, fold because folds="),
    ("sweep: keys= given to a train_fn(lam, fold)", lambda: jaxreg.sweep(
        lambda lam, fold: jnp.ones(3)[fold] * lam, [0.1], keys=[0, 1]), TypeError,
     r"train_fn's parameter 'fold' \(position 2\) received a key, because sweep passes train_fn\(lam, key\): "
     r"pass folds= for a fold"),
    ("fit: loss_fn without a batch, data= given", lambda: _fit(lambda p: jnp.sum(p**2), data=jnp.ones((4, 3))),
     TypeError, r"loss_fn <lambda>\(p\) cannot be called as loss_fn\(params, batch\): fit passes batch because "
     r"data= is given"),
    ("fit: loss_fn takes a batch, no data=", lambda: _fit(lambda p, batch: jnp.sum(p**2)), TypeError,
     r"cannot be called as loss_fn\(params\): fit passes params, then state only with state=, a batch only "
     r"with data="),
    ("fit: metrics_fn without state, state= given", lambda: _fit(
        lambda p, s: (jnp.sum(p**2), s), state=jnp.zeros(()), metrics_fn=lambda p: {"n": jnp.sum(p)}),
     TypeError, r"with state=, fit calls metrics_fn\(params, state\): add a state parameter"),
    ("fit: state= with a loss returning a scalar", lambda: _fit(lambda p, s: jnp.sum(p**2), state=jnp.zeros(())),
     TypeError, r"loss_fn must return \(loss, new_state\), got a scalar float32 array \(with state=, return the "
     r"state too"),
    ("fit: has_aux with a loss returning a scalar", lambda: _fit(lambda p: jnp.sum(p**2), has_aux=True),
     TypeError, r"must return \(loss, aux\), got a scalar float32 array\s"),
    ("fit: sample_mask without batch_size", lambda: _fit(_sq, data=jnp.ones(4), sample_mask=np.ones(4, bool)),
     ValueError, "sample_mask picks the rows minibatches are drawn from, so it needs batch_size="),
    ("fit: sample_mask shape", lambda: _fit(_sq, data=jnp.ones(4), batch_size=2, key=0,
                                            sample_mask=np.ones(5, bool)),
     ValueError, r"sample_mask must have shape \(n,\) = \(4,\)"),
    ("fit: sample_mask with too few rows", lambda: _fit(_sq, data=jnp.ones(4), batch_size=3, key=0,
                                                        sample_mask=np.array([1, 0, 1, 0])),
     ValueError, r"sample_mask selects 2 rows, fewer than batch_size \(3\)"),
]


@pytest.mark.parametrize("name,call,exc,match", CALLS, ids=[c[0] for c in CALLS])
def test_calling_convention_bad_input(name, call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call()
    if "cannot be called" in match:
        assert isinstance(info.value.__cause__, TypeError)  # Python's own message, chained


def test_a_type_error_inside_loss_fn_is_not_reworded():
    def penalty(p, scale):
        return scale * jnp.sum(p**2)

    def loss_fn(p, batch):
        return jnp.sum(p * batch) + penalty(p)  # the user's own call misses an argument: reported as it is

    with pytest.raises(TypeError, match="penalty.. missing 1 required positional argument: 'scale'") as info:
        _fit(loss_fn, data=jnp.ones((4, 3)))
    assert "cannot be called" not in str(info.value)


def test_cli_batch_size_larger_than_a_fold_s_training_rows(tmp_path, capsys):
    rc = main(["sweep", "--n-train", "20", "--folds", "4", "--batch-size", "18", "--num-lambdas", "2",
               "--steps", "2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("jaxreg: error: ") and err.count("\n") == 1, err
    assert "--batch-size (18) must be <= the rows each CV fold trains on (15 of 20)" in err, err


# --- the command's options a new user found accepted silently, or ending in a traceback ---

NEW_USER_CLI = [
    ("logistic on a regression target", ["--dataset", "diabetes", "--model", "logistic"],
     "--model 'logistic' needs class labels, but the task is regression"),
    ("folds 1", ["--folds", "1"], "--folds must be 0 (no cross-validation: the fixed validation split) or >= 2"),
    ("hidden without an MLP", ["--hidden", "3"], "--hidden sets the hidden units of --model mlp"),
    ("n-train without every class", ["--n-train", "5"], "of the 10 classes out of the training split"),
]


@pytest.mark.parametrize("name,argv,match", NEW_USER_CLI, ids=[c[0] for c in NEW_USER_CLI])
def test_cli_new_user_bad_input(name, argv, match, tmp_path, capsys):
    rc = main(["sweep", *argv, "--num-lambdas", "2", "--steps", "2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("jaxreg: error: ") and err.count("\n") == 1, err
    assert match in err, err


def test_choosing_lambda_by_a_metric_without_a_direction_names_mode():
    res = jaxreg.SweepResult.from_sweep({"zeros": np.array([0.1, 0.5])}, [0.1, 1.0])
    with pytest.raises(ValueError, match=r"cannot tell from the name 'zeros'.*pass mode='min'.*or mode='max'"):
        res.best("zeros")


def test_the_float32_tol_floor_is_printed_with_enough_digits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0, 0.0, 0.5], np.float32)).astype(np.float32)
    with pytest.warns(RuntimeWarning) as caught:
        jaxreg.elastic_net_path(x - x.mean(0), y - y.mean(), [0.1, 0.01], tol=1e-4)
    message = str(caught[0].message)
    assert "(~1.19e-04)" in message and "tol >= 1.19e-04" in message, message  # not "~0.0001 ... >= 0.0001"

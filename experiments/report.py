"""Write experiments/README.md from the JSON results: the table's numbers are the JSON's."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = ["e1_l2_geometric", "e2_l1_constant_step", "e3_sparsity", "e4_tradeoff", "e5_center_transfer", "e6_paths",
         "e7_support_recovery", "e8_per_layer_l2", "e8_optuna_tpe", "e9_weighted_lasso"]
# rows written by another row's script (they share its runs): row -> the script that writes it
WRITTEN_BY = {"e8_optuna_tpe": "e8_per_layer_l2"}

HEADER = """# Experiments: the classic claims about L1 and L2, measured

Each script is a thin entry point over the library; each writes `results/<name>.json` (the
numbers) and a PNG. `make experiments` reruns all of them from scratch and rewrites this page
from the JSON files (`python experiments/report.py`), so every number below is the JSON's.
`--quick` runs a tiny configuration (the test suite does).

"""

TUNING_NOTES = """## Tuning many λ at once (e8, e9)

`e8_per_layer_l2.py` writes two rows (`e8_per_layer_l2`, `e8_optuna_tpe`): the grid, the hypergradient tuner and
Optuna run on the same splits and initial weights. Their cost is counted in training runs of the same length: the
grid spends one per λ; the tuner its coarse sweep, its hypergradient check, (1 + 2) runs per hypergradient step and
start (reverse mode counted at twice a forward run, the usual nominal figure; the row also gives the ratio measured
on this machine), one run per start at its last λ and one to retrain the chosen λ; Optuna one per trial. Every
arm chooses on the validation split and is scored once on the test split. `e9_weighted_lasso.py` gives every method
the same training + validation samples (LassoCV and the adaptive lasso pool them and cross-validate; the hold-out
single λ and the tuner fit on training and choose on validation).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(results_dir: str) -> str:
    rows, figures, env = [], [], set()
    for name in ORDER:
        path = os.path.join(results_dir, f"{name}.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            r = json.load(f)
        script = WRITTEN_BY.get(name, name)
        rows.append(f"| {_cell(r['claim'])} | `{script}.py`: {_cell(r['setup'])} | {_cell(r['result'])} | "
                    f"**{_cell(r['verdict'])}** |")
        figures += [(name, fig) for fig in r["figures"]]
        env.add(f"{r['device']} ({r['machine']}), jax {r['jax']}" + (" — QUICK MODE" if r["quick"] else ""))
    out = [HEADER, "| claim | experiment | measured result | verdict |", "|---|---|---|---|", *rows, ""]
    out.append(f"Measured on: {'; '.join(sorted(env))}.")
    out.append("")
    out.append(TUNING_NOTES)
    out.append("## Figures")
    out.append("")
    for name, fig in figures:
        out.append(f"**{name}**\n\n![{name}](results/{fig})\n")
    return "\n".join(out)


if __name__ == "__main__":
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results")
    text = render(results)
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(text)
    print(os.path.join(HERE, "README.md"))

# The two commands a new user needs: `make demo` and `make test`.
# Each creates .venv when missing and installs the project into it (`make docs` too).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.jaxreg-installed

.PHONY: install demo test docs experiments bench lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m jaxreg sweep

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --durations=10

# The documentation site with the API reference, into site/; any warning fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

EXPERIMENTS := e1_l2_geometric e2_l1_constant_step e3_sparsity e4_tradeoff e5_center_transfer e6_paths \
	e7_support_recovery e8_per_layer_l2 e9_weighted_lasso

experiments: $(STAMP)
	rm -f experiments/results/*.json experiments/results/*.png
	cd experiments && for e in $(EXPERIMENTS); do ../$(PY) $$e.py || exit 1; done
	$(PY) experiments/report.py

bench: $(STAMP)
	$(PY) benchmarks/sweep_throughput.py --json | tee benchmarks/sweep_throughput.jsonl
	$(PY) benchmarks/sweep_throughput.py --scale --steps 2 | tee benchmarks/sweep_scale.jsonl
	$(PY) benchmarks/lasso_path.py --json | tee benchmarks/lasso_path.jsonl
	$(PY) benchmarks/nonconvex_peers.py | tee benchmarks/nonconvex_peers.jsonl
	$(PY) benchmarks/stability_selection.py | tee benchmarks/stability_selection.jsonl
	$(PY) benchmarks/report.py

lint: $(STAMP)
	$(PY) -m ruff check jaxreg tests examples

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build site *.egg-info

# The two commands a new user needs: `make demo` and `make test`.
# Each creates .venv when missing and installs the project into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.jaxreg-installed

.PHONY: install demo test experiments bench lint clean

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

lint: $(STAMP)
	$(PY) -m ruff check jaxreg tests examples

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info

# Two entry points for a fresh machine (Python >= 3.10 with venv):
#   make demo   -- set up .venv and run the main job
#   make test   -- set up .venv with the test extras and run the test suite
PYTHON ?= python3
VENV   := .venv
PIP    := $(VENV)/bin/pip
PY     := $(VENV)/bin/python
EXTRAS := test

.PHONY: demo test bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-$(EXTRAS): pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	touch $@

demo: $(VENV)/.installed-$(EXTRAS)
	$(PY) examples/demo.py

test: $(VENV)/.installed-$(EXTRAS)
	$(PY) -m pytest -q -n 2

bench: $(VENV)/.installed-$(EXTRAS)
	$(PY) benchmarks/op_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis src/*.egg-info

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
	$(VENV)/bin/locograd demo

# The optional PyTorch oracle tests: install the local CPU wheel when the machine has one
# (pip's find-links); never pull the multi-GB CUDA build from the index just for tests.
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-*cp311*.whl))

$(VENV)/.installed-oracle: | $(VENV)/bin/python
	$(if $(TORCH_WHEEL),$(PIP) install --quiet "$(TORCH_WHEEL)",@echo "no local torch wheel: the PyTorch oracle tests will be skipped")
	touch $@

test: $(VENV)/.installed-$(EXTRAS) $(VENV)/.installed-oracle
	$(PY) -m pytest -q -n 2

bench: $(VENV)/.installed-$(EXTRAS)
	$(PY) benchmarks/op_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis src/*.egg-info

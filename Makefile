# Two entry points for a fresh machine (Python >= 3.10 with venv):
#   make demo   -- set up .venv and run the main job
#   make test   -- set up .venv with the test extras and run the test suite
PYTHON ?= python3
VENV   := .venv
PIP    := $(VENV)/bin/pip
PY     := $(VENV)/bin/python
EXTRAS := test

.PHONY: demo test bench clean graphviz

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

# Graphviz's `dot` renders graph pictures (SVG/PNG): a system package, installed when we can.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q graphviz >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q graphviz >/dev/null 2>&1; } || \
	    echo "could not install graphviz: the SVG/PNG picture tests will be skipped"; \
	  else echo "Graphviz's dot is missing (apt install graphviz): SVG/PNG picture tests will be skipped"; fi; }

test: $(VENV)/.installed-$(EXTRAS) $(VENV)/.installed-oracle graphviz
	$(PY) -m pytest -q -n 2

# All benchmarks, one pinned core each, one Markdown table against the bars of issue 9
# (BENCH_ARGS=--quick for a smoke run, BENCH_ARGS="--json bench.json" to keep the figures);
# the local PyTorch wheel, when there is one, gives the PyTorch columns.
bench: $(VENV)/.installed-$(EXTRAS) $(VENV)/.installed-oracle
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis src/*.egg-info

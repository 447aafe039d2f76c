"""Every docstring example in ``locograd`` runs and gives what it shows (``doctest``).

One test per module, so the examples run in parallel with the rest of the suite. A module whose
optional dependency is not installed (mpi4py, graphviz, matplotlib...) is skipped, saying which.
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import locograd

MODULES = sorted(m.name for m in pkgutil.walk_packages(locograd.__path__, "locograd.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    try:
        module = importlib.import_module(name)
    except ImportError as e:  # an optional extra that is not installed
        pytest.skip(f"{name}: {e}")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    if not tests:
        pytest.skip(f"{name} has no examples")
    state = np.random.get_state()
    seed = locograd.default_generator.get_state()
    try:
        for test in tests:
            if test.name.startswith(name):  # not examples imported from elsewhere
                runner.run(test)
    finally:
        np.random.set_state(state)
        locograd.default_generator.set_state(seed)
        locograd.set_default_dtype(locograd.float32)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{name}: {results.failed} of {results.attempted} examples failed"

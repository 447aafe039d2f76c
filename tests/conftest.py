"""Shared test fixtures: the CUDA device of tests/test_device.py and tests/test_device_training.py.

CI has no GPU, so ``cuda`` is the CPU stand-in with two devices (``LOCOGRAD_CUDA_STANDIN``, see
``locograd.backend.standin``); ``benchmarks/gpu_check.sh`` sets ``LOCOGRAD_TEST_REAL_CUDA=1`` to run
the same tests on a real GPU.
"""
from __future__ import annotations

import os

import pytest

import locograd as lg
from locograd.backend import standin

REAL_CUDA = os.environ.get("LOCOGRAD_TEST_REAL_CUDA") == "1"


def host(t):
    """A tensor's values as a host NumPy array, whatever its device."""
    return t.detach().cpu().numpy()


@pytest.fixture
def cuda(monkeypatch):
    """CUDA devices for the test: the stand-in (two devices) unless a real GPU is asked for."""
    if not REAL_CUDA:
        monkeypatch.setenv("LOCOGRAD_CUDA_STANDIN", "2")
    elif not lg.cuda.is_available():
        pytest.skip("LOCOGRAD_TEST_REAL_CUDA=1 but no CUDA device is usable")
    yield lg.device("cuda:0")
    lg.set_default_device(None)
    if not REAL_CUDA:
        standin.set_current_device(0)

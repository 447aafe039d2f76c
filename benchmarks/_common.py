"""Shared benchmark setup: one pinned core and one BLAS thread (the machines are shared)."""
from __future__ import annotations

import os
import sys


def pin_one_core(core: int = 0) -> None:
    """Use one BLAS thread and pin this process to one CPU. Call before importing NumPy."""
    if "numpy" in sys.modules:
        raise RuntimeError("pin_one_core() must run before NumPy is imported")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})

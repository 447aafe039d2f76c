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


def best_time(fn, inner: int = 1, repeats: int = 3) -> float:
    """Seconds per call of ``fn``: the best of ``repeats`` batches of ``inner`` calls."""
    import time
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def median_ratio(per_round: dict, a: str, b: str) -> float:
    """Median over rounds of ``a``'s time divided by ``b``'s time *in the same round*."""
    import statistics
    return statistics.median(x / y for x, y in zip(per_round[a], per_round[b]))


def print_table(title: str, rows: list, cols=None) -> None:
    """Print ``rows`` (dicts) as a Markdown table under ``title`` with the machine's load."""
    import os
    cols = cols or list(rows[0])
    print(f"{title} (load average {os.getloadavg()[0]:.2f})\n")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(f"{row[c]:.2f}" if isinstance(row[c], float) else str(row[c])
                                for c in cols) + " |")


def write_json(path, payload) -> None:
    if path:
        import json
        with open(path, "w") as f:
            json.dump(payload, f, indent=1)

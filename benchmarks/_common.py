"""Shared benchmark setup: one pinned core and one BLAS thread (the machines are shared)."""
from __future__ import annotations

import os
import sys


def pin_one_core(core: int = 0) -> None:
    """Use one BLAS thread and pin this process to one CPU. Call before importing NumPy."""
    if "numpy" in sys.modules:
        raise RuntimeError("pin_one_core() must run before NumPy is imported")
    # LOCO_THREADS: the reference programs' (shared/reference) thread setting, for their peers
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "LOCO_THREADS"):
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


# ---- shared by ae_step, char_rnn, import_time and run_all ---------------------------------------

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REFERENCE = os.path.normpath(os.path.join(PROJECT_ROOT, "..", "shared", "reference"))
NOT_FOUND = "reference not found"


def add_reference_argument(parser) -> None:
    """``--reference DIR``: where the hand-written reference programs live."""
    parser.add_argument("--reference", default=DEFAULT_REFERENCE,
                        help=f"directory of the reference programs (default {DEFAULT_REFERENCE})")


def import_reference(name: str, directory: str):
    """The reference module ``name`` (e.g. ``'ae'``) imported from ``directory``, or None.

    The reference programs are imported at run time, never copied: they are the yardstick.
    ``LOCO_THREADS=1`` makes their PyTorch builders use one thread (``pin_one_core`` sets it).
    """
    import importlib
    if not os.path.isfile(os.path.join(directory, name + ".py")):
        return None
    os.environ["LOCO_THREADS"] = "1"
    directory = os.path.abspath(directory)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return importlib.import_module(name)


def torch_available() -> bool:
    """True when PyTorch can be imported (the peer columns are skipped otherwise)."""
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def run_rounds(fns: dict, rounds: int, measure) -> dict:
    """``{name: [measure(fn) for each round]}``, the implementations interleaved round by round
    (so a change of load on the shared machine hits them all alike)."""
    per_round = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            per_round[name].append(measure(fn))
    return per_round


def median_of_calls(fn, calls: int) -> float:
    """Median seconds of ``calls`` single calls of ``fn``."""
    import statistics
    import time
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_average() -> list:
    """The 1, 5 and 15 minute load averages (the machines are shared: report them)."""
    return [round(x, 2) for x in os.getloadavg()]


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB.

    Linux's ``VmHWM`` where there is one: ``ru_maxrss`` survives ``exec``, so in a worker started
    from a big parent it reports the parent's size at the fork, not the worker's own peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run_json_worker(argv: list, timeout: float = 1800) -> dict:
    """Run ``python argv...`` in a fresh process; its last stdout line is a JSON object."""
    import json
    import subprocess
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_profile(fn, calls: int, top: int = 25) -> None:
    """cProfile ``calls`` calls of ``fn`` and print the ``top`` functions by own time."""
    import cProfile
    import pstats
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)

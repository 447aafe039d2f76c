"""The time ``import locograd`` adds to importing NumPy, in fresh interpreters.

The bar's figure is measured inside each fresh interpreter: ``perf_counter`` around
``import locograd`` right after ``import numpy`` (the median over runs). For comparison, each
round also times whole ``python -c "import numpy"`` and ``python -c "import numpy, locograd"``
processes and takes the difference; that figure also contains the interpreter's teardown of the
extra modules and is noisier on a loaded machine. Before timing, a fresh interpreter checks that
``import locograd`` pulls in none of the optional heavy libraries (they must be imported where
used).

``--detail`` adds Python's ``-X importtime`` breakdown: the modules that ``import locograd``
brings in beyond NumPy, by their own (self) time, the largest first.

    python benchmarks/import_time.py [--runs 15] [--detail] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from _common import load_average, pin_one_core, print_table, write_json

pin_one_core()  # inherited by the child interpreters

NUMPY = "import numpy"
LOCOGRAD = "import numpy, locograd"
HEAVY = ("scipy", "sklearn", "matplotlib", "torch", "jax", "pandas", "safetensors", "tqdm",
         "PIL", "graphviz")


def wall_time(code: str) -> float:
    """Seconds from starting ``python -c code`` to its exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


IN_PROCESS = ("import time; t0 = time.perf_counter(); import numpy; t1 = time.perf_counter(); "
              "import locograd; print(time.perf_counter() - t1)")


def in_process_time() -> float:
    """Seconds ``import locograd`` takes right after ``import numpy``, in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", IN_PROCESS], check=True, capture_output=True,
                         text=True).stdout
    return float(out.strip().splitlines()[-1])


def check_no_heavy_imports() -> list:
    """The modules ``import locograd`` loads beyond NumPy's (fails if a heavy one is among them).
    """
    probe = ("import sys, json; import numpy; before = set(sys.modules); import locograd; "
             "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    added = json.loads(out.strip().splitlines()[-1])
    heavy = sorted({name.split(".")[0] for name in added} & set(HEAVY))
    if heavy:
        raise SystemExit(f"import_time: `import locograd` imports {heavy}; import them where "
                         f"they are used")
    return added


def importtime_detail(top: int) -> list:
    """The ``top`` modules by self time that ``import locograd`` adds (``-X importtime``)."""
    def parse(code):
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], check=True,
                             capture_output=True, text=True).stderr
        rows = {}
        for line in err.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cumulative_us, name = line[len("import time:"):].split("|")
            rows[name.strip()] = (int(self_us), int(cumulative_us))
        return rows
    base = parse(NUMPY)
    full = parse(LOCOGRAD)
    added = [{"module": name, "self_ms": s / 1e3, "cumulative_ms": c / 1e3}
             for name, (s, c) in full.items() if name not in base]
    added.sort(key=lambda row: -row["self_ms"])
    return added[:top]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="fresh interpreters of each kind")
    ap.add_argument("--detail", action="store_true", help="also show -X importtime's top modules")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--json", default=None, help="write the raw figures to this file")
    args = ap.parse_args(argv)

    added = check_no_heavy_imports()
    wall_time(LOCOGRAD)  # warm the file-system cache and the bytecode caches
    per_round = {"numpy": [], "numpy+locograd": [], "in_process": []}
    for _ in range(args.runs):
        per_round["numpy"].append(wall_time(NUMPY))
        per_round["numpy+locograd"].append(wall_time(LOCOGRAD))
        per_round["in_process"].append(in_process_time())
    beyond = [b - a for a, b in zip(per_round["numpy"], per_round["numpy+locograd"])]
    rows = [{"command": f'python -c "{code}"', "median_s": statistics.median(per_round[key])}
            for key, code in (("numpy", NUMPY), ("numpy+locograd", LOCOGRAD))]
    rows.append({"command": "process difference (includes teardown)",
                 "median_s": statistics.median(beyond)})
    rows.append({"command": "import locograd after import numpy, in process (the bar)",
                 "median_s": statistics.median(per_round["in_process"])})
    print_table(f"Import time, {args.runs} fresh interpreters of each, interleaved, one core; "
                f"`import locograd` adds {len(added)} modules", rows)
    detail = []
    if args.detail:
        detail = importtime_detail(args.top)
        print()
        print_table("Modules `import locograd` adds, by self time (-X importtime, one run)",
                    detail)
    write_json(args.json, {"rows": rows, "per_round": per_round, "beyond_numpy_s": beyond,
                           "median_beyond_numpy_s": statistics.median(per_round["in_process"]),
                           "median_process_difference_s": statistics.median(beyond),
                           "modules_added": len(added), "detail": detail,
                           "load_after": load_average()})
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

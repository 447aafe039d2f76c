"""Per-operation overhead: a chain of 100 small elementwise ops, forward + backward.

The chain (the same as ``shared/reference/overhead.py``) cycles ``x + c``, ``x * c`` and
``tanh(x)`` on a 32-element float32 vector, sums, and backpropagates. Every implementation runs
in this one process, interleaved in rounds on one pinned core; the table reports medians and,
more importantly, ratios taken within each round (the machines are shared, so absolute
microseconds drift; ratios within a round do not).

    python benchmarks/op_overhead.py [--rounds 7] [--json out.json]

Implementations:
    numpy_fwd       raw NumPy forward only (the floor of any NumPy engine)
    numpy_fwd_bwd   NumPy forward + hand-written backward (the floor of a NumPy autograd)
    locograd        locograd forward + ``backward()``
    torch           PyTorch eager forward + ``backward()`` (when PyTorch is installed)
"""
from __future__ import annotations

import argparse
import statistics
import sys

from _common import best_time, median_ratio, pin_one_core, print_table, write_json

pin_one_core()

import numpy as np  # noqa: E402  (after pinning: the BLAS reads its thread count at import)

N_OPS = 100
SIZE = 32


def _chain_data():
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(SIZE).astype(np.float32)
    cs = [rng.uniform(0.5, 1.0, SIZE).astype(np.float32) for _ in range(N_OPS)]
    return x0, cs


def build(impl: str):
    x0, cs = _chain_data()
    if impl == "numpy_fwd":
        def run():
            x = x0
            for i in range(N_OPS):
                k = i % 3
                x = x + cs[i] if k == 0 else (x * cs[i] if k == 1 else np.tanh(x))
            return x.sum()
        return run
    if impl == "numpy_fwd_bwd":
        def run():
            x, saved = x0, []
            for i in range(N_OPS):
                k = i % 3
                x = x + cs[i] if k == 0 else (x * cs[i] if k == 1 else np.tanh(x))
                saved.append(x if k == 2 else None)
            g = np.ones_like(x)
            for i in reversed(range(N_OPS)):
                k = i % 3
                if k == 1:
                    g = g * cs[i]
                elif k == 2:
                    g = g * (1 - saved[i] * saved[i])
            return g
        return run
    if impl == "locograd":
        import locograd as lg
        tcs = [lg.from_numpy(c) for c in cs]

        def run():
            x = lg.tensor(x0, requires_grad=True)
            h = x
            for i in range(N_OPS):
                k = i % 3
                h = h + tcs[i] if k == 0 else (h * tcs[i] if k == 1 else h.tanh())
            h.sum().backward()
            return x.grad
        return run
    if impl == "torch":
        import torch
        torch.set_num_threads(1)
        tcs = [torch.from_numpy(c) for c in cs]
        tx0 = torch.from_numpy(x0)

        def run():
            x = tx0.detach().requires_grad_(True)
            h = x
            for i in range(N_OPS):
                k = i % 3
                h = h + tcs[i] if k == 0 else (h * tcs[i] if k == 1 else torch.tanh(h))
            h.sum().backward()
            return x.grad
        return run
    raise ValueError(impl)


def available_impls():
    impls = ["numpy_fwd", "numpy_fwd_bwd", "locograd"]
    try:
        import torch  # noqa: F401
        impls.append("torch")
    except ImportError:
        pass
    return impls


def check_same_gradient():
    """The benchmark is only meaningful if locograd computes the hand-written gradient."""
    g_np = build("numpy_fwd_bwd")()
    g_lg = build("locograd")().numpy()
    if not np.allclose(g_np, g_lg, rtol=1e-5, atol=1e-6):
        raise SystemExit("op_overhead: locograd's gradient differs from the hand-written one")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--inner", type=int, default=30)
    ap.add_argument("--json", default=None, help="write the raw figures to this file")
    args = ap.parse_args(argv)

    check_same_gradient()
    impls = available_impls()
    fns = {name: build(name) for name in impls}
    for fn in fns.values():  # warm up
        for _ in range(10):
            fn()
    per_round = {name: [] for name in impls}
    for _ in range(args.rounds):
        for name in impls:
            per_round[name].append(best_time(fns[name], args.inner) / N_OPS * 1e6)

    rows = []
    for name in impls:
        row = {"impl": name, "us_per_op": statistics.median(per_round[name]),
               "x_numpy_fwd_bwd": median_ratio(per_round, name, "numpy_fwd_bwd")}
        if "torch" in per_round:
            row["x_torch"] = median_ratio(per_round, name, "torch")
        rows.append(row)
    print_table(f"Per-op forward+backward cost, chain of {N_OPS} ops on {SIZE} float32 values, "
                f"{args.rounds} rounds on one core", rows)
    write_json(args.json, {"rows": rows, "per_round": per_round})
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

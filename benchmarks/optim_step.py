"""Cost of one optimiser step: locograd against textbook NumPy and PyTorch.

Two parameter sets: ``small`` (an MLP 64-128-10, where the per-parameter Python overhead shows)
and ``large`` (the encoder half of the deep autoencoder, 784-1000-500-250-30, about 1.4M float32
weights, where memory traffic dominates). Gradients are fixed random arrays; only ``step()`` is
timed. Every implementation runs in this process, interleaved in rounds on one pinned core; the
table reports medians and ratios taken within each round.

    python benchmarks/optim_step.py [--rounds 7] [--json out.json]

Implementations:
    numpy       the update written as textbook NumPy expressions (temporaries allocated)
    locograd    ``locograd.optim`` (in place, no per-step allocation)
    torch       ``torch.optim`` with its CPU defaults (when PyTorch is installed)
"""
from __future__ import annotations

import argparse
import statistics
import sys

from _common import best_time, median_ratio, pin_one_core, print_table, write_json

pin_one_core()

import numpy as np  # noqa: E402  (after pinning: the BLAS reads its thread count at import)

# The gradients are the same at every step, so centred RMSprop's variance estimate v - m^2
# tends to 0 and rounds below it (NaN, as in PyTorch); the timing is unaffected.
np.seterr(invalid="ignore")

SHAPES = {
    "small": [(128, 64), (128,), (10, 128), (10,)],
    "large": [(1000, 784), (1000,), (500, 1000), (500,), (250, 500), (250,), (30, 250), (30,)],
}
ALGORITHMS = {
    "sgd_momentum": ("SGD", dict(lr=0.01, momentum=0.9, weight_decay=1e-4)),
    "rmsprop_centered": ("RMSprop", dict(lr=1e-3, centered=True)),
    "adam": ("Adam", dict(lr=1e-3)),
}


def make_arrays(size):
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES[size]]
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES[size]]
    return params, grads


def numpy_step(algorithm, kw, params, grads, state):
    """The update rules as one would first write them in NumPy."""
    if algorithm == "sgd_momentum":
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g + kw["weight_decay"] * p
            state[i] = g if i not in state else kw["momentum"] * state[i] + g
            p -= kw["lr"] * state[i]
    elif algorithm == "rmsprop_centered":
        for i, (p, g) in enumerate(zip(params, grads)):
            v, m = state.get(i, (0.0, 0.0))
            v = 0.99 * v + 0.01 * g * g
            m = 0.99 * m + 0.01 * g
            state[i] = (v, m)
            p -= kw["lr"] * g / (np.sqrt(v - m * m) + 1e-8)
    else:
        t = state["t"] = state.get("t", 0) + 1
        for i, (p, g) in enumerate(zip(params, grads)):
            m, v = state.get(i, (0.0, 0.0))
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            state[i] = (m, v)
            p -= kw["lr"] * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)


def build(impl, algorithm, size):
    name, kw = ALGORITHMS[algorithm]
    params, grads = make_arrays(size)
    if impl == "numpy":
        state = {}
        return lambda: numpy_step(algorithm, kw, params, grads, state), params
    if impl == "locograd":
        import locograd as lg
        from locograd import optim
        tensors = [lg.nn.Parameter(lg.from_numpy(p)) for p in params]
        for t, g in zip(tensors, grads):
            t.grad = lg.from_numpy(g)
        return getattr(optim, name)(tensors, **kw).step, params
    if impl == "torch":
        import torch
        torch.set_num_threads(1)
        tensors = [torch.from_numpy(p).requires_grad_(True) for p in params]
        for t, g in zip(tensors, grads):
            t.grad = torch.from_numpy(g)
        return getattr(torch.optim, name)(tensors, **kw).step, params
    raise ValueError(impl)


def available_impls():
    impls = ["numpy", "locograd"]
    try:
        import torch  # noqa: F401
        impls.append("torch")
    except ImportError:
        pass
    return impls


def check_same_updates():
    """The comparison is only meaningful if locograd computes the textbook update."""
    for algorithm in ALGORITHMS:
        results = []
        for impl in ("numpy", "locograd"):
            step, params = build(impl, algorithm, "small")
            for _ in range(3):
                step()
            results.append(params)
        for a, b in zip(*results):
            if not np.allclose(a, b, rtol=1e-4, atol=1e-6):
                raise SystemExit(f"optim_step: locograd's {algorithm} differs from NumPy's")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", default=None, help="write the raw figures to this file")
    args = ap.parse_args(argv)

    check_same_updates()
    impls = available_impls()
    rows, raw = [], {}
    for size in SHAPES:
        inner = 200 if size == "small" else 5
        for algorithm in ALGORITHMS:
            steps = {impl: build(impl, algorithm, size)[0] for impl in impls}
            for fn in steps.values():
                fn()
            per_round = {impl: [] for impl in impls}
            for _ in range(args.rounds):
                for impl in impls:
                    per_round[impl].append(best_time(steps[impl], inner) * 1e6)
            raw[f"{size}/{algorithm}"] = per_round
            row = {"case": f"{size} {algorithm}",
                   "locograd_us": statistics.median(per_round["locograd"])}
            for other in impls:
                if other != "locograd":
                    row[f"x_{other}"] = median_ratio(per_round, "locograd", other)
            rows.append(row)
    print_table(f"One optimiser step, {args.rounds} rounds on one core; x_other = locograd time "
                f"/ other time", rows)
    write_json(args.json, {"rows": rows, "per_round": raw})
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

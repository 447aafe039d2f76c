"""Seconds per step and peak memory of Shampoo and K-FAC against Adam on the deep autoencoder.

The model is the MNIST deep autoencoder (784-1000-500-250-30-250-500-1000-784, tanh, linear
code layer, sigmoid cross-entropy summed over pixels and averaged over a batch of 1000). Images
come from the MNIST test split in /work/shared/data/mnist when it is there (random [0, 1) pixels
otherwise). The peak resident memory (``ru_maxrss``) of each optimiser is measured in its own
subprocess (three steps); ``none`` is forward and backward without an optimiser.

The timings run in one process, the optimisers interleaved step by step (the machine is shared:
a change of load hits all alike). A step is timed in parts: forward (K-FAC's forward hooks
collect A), ``sample_fisher`` (K-FAC's extra backward pass from sampled targets, which collects
G), backward, and ``optimizer.step()``. The times are averaged over all steps, so refreshes of
the roots and inverses (every 20 steps) are amortised; the refresh steps are also reported on
their own. The FLOP model next to them
says what the statistics, directions and refreshes should cost on this machine: GEMM FLOPs at
the measured matmul rate, and the refreshes as the sum of standalone float64 ``eigh`` calls of
the same sizes plus the products that rebuild the roots and inverses from them.

    python benchmarks/second_order.py [--steps 40] [--core 0] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

from _common import pin_one_core, print_table, write_json


def _core() -> int:
    """``--core N`` (read before NumPy is imported, which pinning must precede)."""
    if "--core" in sys.argv:
        return int(sys.argv[sys.argv.index("--core") + 1])
    return 0


pin_one_core(_core())

import numpy as np  # noqa: E402  (after pinning: the BLAS reads its thread count at import)

SIZES = [784, 1000, 500, 250, 30, 250, 500, 1000, 784]
BATCH = 1000
REFRESH = 20
MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
CONFIGS = {
    "none": None,
    "adam": ("Adam", dict(lr=1e-3)),
    "shampoo": ("Shampoo", dict(lr=1e-3, start_preconditioning_step=1,
                                preconditioning_compute_steps=REFRESH)),
    # the adaptive form (the default; its step includes the quadratic model's J v products,
    # not the closure's re-evaluation every 5 steps, which costs one forward and backward)
    "kfac": ("KFAC", dict(damping=1.0, inv_update_freq=REFRESH, likelihood="bernoulli")),
    "kfac_fixed": ("KFAC", dict(lr=1e-3, damping=1e-3, inv_update_freq=REFRESH,
                                likelihood="bernoulli", adaptive=False)),
    "kfac_eigen": ("KFAC", dict(lr=1e-3, damping=1e-3, inv_update_freq=REFRESH,
                                likelihood="bernoulli", damping_method="eigen",
                                adaptive=False)),
}


def images():
    """(N, 784) float32 pixels in [0, 1] and where they came from."""
    try:
        from locograd.data import MNIST
        data = MNIST(MNIST_ROOT, split="test").data
        return (data.reshape(len(data), -1) / np.float32(255.0)).astype(np.float32), "MNIST test"
    except (ImportError, FileNotFoundError, OSError):
        rng = np.random.default_rng(0)
        return rng.random((10 * BATCH, 784), dtype=np.float32), "random [0, 1)"


MNIST_ROOT = os.path.normpath(MNIST)


def autoencoder():
    from locograd import nn
    layers = []
    for i, (d_in, d_out) in enumerate(zip(SIZES, SIZES[1:])):
        layers.append(nn.Linear(d_in, d_out))
        if i not in (3, len(SIZES) - 2):  # linear code layer; the sigmoid is in the loss
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def state_bytes(state) -> int:
    total = 0
    for record in state.values():
        for value in record.values():
            for item in value if isinstance(value, list) else [value]:
                total += getattr(item, "nbytes", 0)
    return total


class Trainer:
    """One model and optimiser; ``step(x)`` trains on a batch and returns the timed parts."""

    def __init__(self, name: str):
        import locograd as lg
        from locograd import optim
        lg.manual_seed(0)
        self.model = autoencoder()
        self.config = CONFIGS[name]
        self.opt = None if self.config is None else getattr(optim, self.config[0])(
            self.model if self.config[0] == "KFAC" else self.model.parameters(),
            **self.config[1])

    def step(self, x) -> tuple[dict, float]:
        from locograd.nn import functional as F
        clock = time.perf_counter()
        (self.opt or self.model).zero_grad()
        logits = self.model(x)
        t_forward = time.perf_counter()
        if self.config is not None and self.config[0] == "KFAC":
            self.opt.sample_fisher(logits)
        t_fisher = time.perf_counter()
        loss = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / BATCH
        loss.backward()
        t_backward = time.perf_counter()
        if self.opt is not None:
            self.opt.step()
        t_step = time.perf_counter()
        return {"forward": t_forward - clock, "fisher": t_fisher - t_forward,
                "backward": t_backward - t_fisher, "step": t_step - t_backward}, float(loss)


def memory_worker(name: str) -> dict:
    """Peak resident memory of ``name`` alone: three steps (the first refreshes)."""
    import resource

    import locograd as lg
    pixels, _ = images()
    trainer = Trainer(name)
    for index in range(3):
        trainer.step(lg.tensor(pixels[index * BATCH:(index + 1) * BATCH]))
    state = 0.0 if trainer.opt is None else state_bytes(trainer.opt.state) / 2**20
    return {"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "state_mb": state}


def time_all(steps: int) -> dict:
    """Per-step timings of every configuration, interleaved step by step in this process (a
    change of load on the shared machine hits all alike), with a GEMM probe in every round."""
    import locograd as lg
    pixels, source = images()
    trainers = {name: Trainer(name) for name in CONFIGS}
    parts = {name: {k: [] for k in ("forward", "fisher", "backward", "step")}
             for name in CONFIGS}
    losses = {name: [] for name in CONFIGS}
    probe = np.ones((1000, 1000), np.float32)
    probes = []
    for index in range(steps + 1):
        start = (index * BATCH) % len(pixels)
        x = lg.tensor(pixels[start:start + BATCH])
        probes.append(_timed(lambda: probe @ probe))
        for name, trainer in trainers.items():
            timed, loss = trainer.step(x)
            if index == 0:
                continue  # warm-up: first allocations (and the first refresh)
            losses[name].append(loss)
            for key, value in timed.items():
                parts[name][key].append(value)
    # timed step i (0-based) is the optimiser's step i + 2 (after the warm-up, step 1); steps s
    # with (s - 1) % REFRESH == 0 refresh the roots / inverses
    refresh = [(i + 1) % REFRESH == 0 for i in range(steps)]
    return {"source": source, "parts": parts, "losses": losses, "refresh": refresh,
            "gemm_rate": 2e9 / float(np.median(probes))}


def flop_model() -> dict:
    """Predicted seconds of the second-order work on this core, from FLOP counts.

    NumPy computes ``X @ X.T`` and ``X.T @ X`` by a symmetric rank-k update (half the FLOPs of
    a general product): the statistics and the matrices rebuilt from eigendecompositions.
    """
    rng = np.random.default_rng(0)
    rates = {}
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((1000, 1000)).astype(dtype)
        b = np.ascontiguousarray(a.T)
        rates[dtype] = 2e9 / min(_timed(lambda: a @ b) for _ in range(5))
    rate, rate64 = rates[np.float32], rates[np.float64]
    eigh = {}
    for n in sorted(set(SIZES) | {d + 1 for d in SIZES}):
        m = rng.standard_normal((n, n))
        m = m @ m.T
        eigh[n] = min(_timed(lambda: np.linalg.eigh(m)) for _ in range(2))
    pairs = list(zip(SIZES, SIZES[1:]))  # (inputs n, outputs m) of each layer
    # Shampoo, per step: G G^T and G^T G (mn(m + n), rank-k updates) and P_L G P_R
    # (2mn(m + n)); per refresh, an eigh and a rank-k rebuild (n^3, float64) per statistic.
    shampoo_step = sum(3 * m * n * (m + n) for n, m in pairs) / rate
    shampoo_refresh = sum(eigh[m] + eigh[n] + (m ** 3 + n ** 3) / rate64 for n, m in pairs)
    # K-FAC: A = a^T a (forward hooks) and G = g^T g (sample_fisher), B d^2 each; per step
    # G^-1 M A^-1 (two products; four for 'eigen'); per refresh, two eigh and two rebuilds.
    kfac_forward = sum(BATCH * (n + 1) ** 2 for n, _ in pairs) / rate
    kfac_fisher = sum(BATCH * m * m for _, m in pairs) / rate
    kfac_step = sum(2 * m * (n + 1) * (m + n + 1) for n, m in pairs) / rate
    kfac_refresh = sum(eigh[n + 1] + eigh[m] + ((n + 1) ** 3 + m ** 3) / rate64
                       for n, m in pairs)
    return {"gflops": rate / 1e9, "gflops64": rate64 / 1e9, "shampoo_step": shampoo_step,
            "shampoo_refresh": shampoo_refresh, "kfac_forward": kfac_forward,
            "kfac_fisher_gemm": kfac_fisher, "kfac_step": kfac_step,
            "kfac_eigen_step": 2 * kfac_step, "kfac_refresh": kfac_refresh,
            "eigh_1000": eigh[1000]}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_memory_worker(name: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory", name, "--core", str(_core())],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2 * REFRESH)
    ap.add_argument("--core", type=int, default=0, help="the CPU to pin to (default 0)")
    ap.add_argument("--json", default=None, help="write the raw figures to this file")
    ap.add_argument("--memory", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory:
        print(json.dumps(memory_worker(args.memory)))
        return True

    memory = {name: run_memory_worker(name) for name in CONFIGS}
    model = flop_model()
    timing = time_all(args.steps)
    # the FLOP model at the GEMM rate seen during the timed rounds (the machine is shared)
    slowdown = model["gflops"] * 1e9 / timing["gemm_rate"]
    parts, refresh = timing["parts"], np.array(timing["refresh"])
    mean = {name: {k: float(np.mean(v)) for k, v in p.items()} for name, p in parts.items()}
    adam_total = sum(mean["adam"].values())
    rows = []
    for name in CONFIGS:
        steps = np.array(parts[name]["step"])
        total = sum(mean[name].values())
        rows.append({
            "optimizer": name, "s/step": total, "x_adam": total / adam_total,
            **{k: mean[name][k] for k in ("forward", "fisher", "backward", "step")},
            "step_plain": float(np.median(steps[~refresh])),
            "step_refresh": float(np.mean(steps[refresh])) if refresh.any() else math.nan,
            "peak_rss_MB": memory[name]["maxrss_mb"], "state_MB": memory[name]["state_mb"],
            "loss_first_last": f"{timing['losses'][name][0]:.1f} -> "
                               f"{timing['losses'][name][-1]:.1f}"})
    print_table(f"Deep autoencoder, batch {BATCH}, {args.steps} steps after a warm-up, "
                f"interleaved on one core ({timing['source']} images); seconds; refreshes "
                f"every {REFRESH} steps amortised in s/step; peak RSS of each alone", rows)
    by_name = {row["optimizer"]: row for row in rows}
    hooks = mean["kfac"]["forward"] - mean["adam"]["forward"]
    predicted = [
        ("Shampoo step (statistics + P_L G P_R)", model["shampoo_step"],
         by_name["shampoo"]["step_plain"]),
        ("Shampoo refresh (roots, extra over a plain step)", model["shampoo_refresh"],
         by_name["shampoo"]["step_refresh"] - by_name["shampoo"]["step_plain"]),
        ("K-FAC forward hooks (A statistics)", model["kfac_forward"], hooks),
        ("K-FAC sample_fisher (at most a backward pass + G statistics)",
         mean["adam"]["backward"] + model["kfac_fisher_gemm"], mean["kfac"]["fisher"]),
        ("K-FAC step, Tikhonov (G^-1 M A^-1)", model["kfac_step"],
         by_name["kfac"]["step_plain"]),
        ("K-FAC step, eigen (4 products)", model["kfac_eigen_step"],
         by_name["kfac_eigen"]["step_plain"]),
        ("K-FAC refresh (eigh + inverses, extra over a plain step)", model["kfac_refresh"],
         by_name["kfac"]["step_refresh"] - by_name["kfac"]["step_plain"]),
    ]
    print()
    print_table(f"Measured against the FLOP model (measured before the rounds: GEMM at "
                f"{model['gflops']:.1f} GFLOP/s in float32, {model['gflops64']:.1f} in float64, "
                f"float64 eigh of 1000 x 1000 in {model['eigh_1000']:.3f} s; the rounds' GEMM "
                f"probes ran {slowdown:.2f}x slower, which predicted_s includes)",
                [{"part": p, "predicted_s": a * slowdown, "measured_s": b,
                  "ratio": b / (a * slowdown)} for p, a, b in predicted])
    write_json(args.json, {"rows": rows, "model": model, "timing": timing, "memory": memory})
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

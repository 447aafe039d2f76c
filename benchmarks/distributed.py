"""Seconds per step of data-parallel training on 1 and 2 MPI ranks, and the Allreduce time.

The deep autoencoder (``locograd.experiments.autoencoder``: 784-1000-500-250-30-250-500-1000-784,
tanh, linear code layer, sigmoid cross-entropy summed over pixels and averaged over the batch)
with RMSProp (lr 1e-4, alpha 0.9, eps 1e-8) on a total batch of 1000 random images: one rank
takes all 1000, two ranks take 500 each and average their gradients through
``DistributedDataParallel`` (buffer-based ``Allreduce`` in 25 MB buckets; 2.8 M float32
parameters, 11 MB). Each rank is pinned to its own core and uses one BLAS thread.

The launcher runs ``mpiexec -n 1`` and ``mpiexec -n 2`` workers alternately, ``--rounds``
times (the machine is shared: a change of load hits both alike), and reports medians:

* ``s/step``: wall time of one training step (zero_grad, forward, backward with the gradient
  averaging, optimiser step), the median over ``--steps`` steps after one warm-up step;
* ``allreduce s/step``: the time spent inside DDP's ``Allreduce`` calls per step; it includes
  the wait for the slower rank, so ``allreduce alone`` also gives the same ``Allreduce`` on
  the same 11 MB right after a barrier (the transfer itself);
* ``speed-up``: 1-rank time / 2-rank time, within each round, median over rounds.

Before timing, the losses after the warm-up must agree between 1 and 2 ranks (the same training
up to rounding); the table prints the largest relative difference.

``--locoprop`` times ``DistributedLocoProp.step`` instead (LocoProp-M, 10 inner steps, every
rank on the whole batch of 1000, the layers split over the ranks; ``allreduce`` is then the
``Allgatherv`` of the updated weights and inner states).

    python benchmarks/distributed.py [--rounds 3] [--steps 5] [--locoprop] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

from _common import load_average, pin_one_core, print_table, write_json

BATCH = 1000
LR, ALPHA, EPS = 1e-4, 0.9, 1e-8


def worker(steps: int, locoprop: bool) -> None:
    """One rank of a timed run; rank 0 prints a JSON line."""
    local_rank = int(os.environ.get("MPI_LOCALRANKID", os.environ.get("PMI_RANK", "0")))
    pin_one_core(local_rank % (os.cpu_count() or 1))
    import time

    import numpy as np

    import locograd as lg
    from locograd import distributed as dist
    from locograd import optim
    from locograd.experiments.autoencoder import build_autoencoder, reconstruction_loss

    dist.init_process_group()
    rank, size = dist.get_rank(), dist.get_world_size()
    images = lg.backend.rng(lg.Generator(0)).random((BATCH, 784), dtype=np.float32)
    model = build_autoencoder(generator=lg.Generator(1))
    if locoprop:
        trainer = dist.DistributedLocoProp(model, reconstruction_loss, inner_lr=1e-5,
                                           output_transfer="sigmoid", max_workers=1)

        def step():
            return trainer.step(images, images)

        counter = trainer
    else:
        ddp = dist.DistributedDataParallel(model)
        optimizer = optim.RMSprop(ddp.parameters(), lr=LR, alpha=ALPHA, eps=EPS)
        mine = lg.tensor(images[rank * BATCH // size:(rank + 1) * BATCH // size])

        def step():
            optimizer.zero_grad()
            loss = reconstruction_loss(ddp(mine), mine)
            loss.backward()
            optimizer.step()
            return float(loss.item())

        counter = ddp
    losses = [step()]  # warm-up: workspaces and state buffers are created here
    times, communication = [], []
    for _ in range(steps):
        dist.barrier()
        before = counter.communication_seconds
        started = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - started)
        communication.append(counter.communication_seconds - before)
    total = np.array([sum(p.data.size for p in model.parameters())], dtype=np.int64)
    buffer = np.ones(int(total[0]), dtype=np.float32)
    alone = []
    for _ in range(5):
        dist.barrier()
        started = time.perf_counter()
        dist.all_reduce(buffer)
        alone.append(time.perf_counter() - started)
    loss = np.array(losses, dtype=np.float64)
    dist.all_reduce(loss, dist.ReduceOp.AVG)  # the mean over the ranks' shards
    if rank == 0:
        print(json.dumps({"ranks": size, "step": statistics.median(times),
                          "allreduce": statistics.median(communication),
                          "alone": statistics.median(alone) if size > 1 else 0.0,
                          "losses": loss.tolist()}), flush=True)


def launch(ranks: int, steps: int, locoprop: bool) -> dict:
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.access(mpiexec, os.X_OK):
        mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        raise SystemExit("no mpiexec: pip install mpi4py mpich")
    argv = [mpiexec, "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--worker",
            "--steps", str(steps)] + (["--locoprop"] if locoprop else [])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}\n"
                           f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--locoprop", action="store_true",
                        help="time DistributedLocoProp.step instead of a DDP step")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 steps")
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.steps, args.locoprop)
        return
    if args.quick:
        args.rounds, args.steps = 1, 2
    runs = {1: [], 2: []}
    for _ in range(args.rounds):
        for ranks in (1, 2):
            runs[ranks].append(launch(ranks, args.steps, args.locoprop))
    first = min(len(runs[1][0]["losses"]), len(runs[2][0]["losses"]))
    drift = max(abs(a - b) / abs(a) for a, b in zip(runs[1][0]["losses"][:first],
                                                    runs[2][0]["losses"][:first]))
    speedups = [one["step"] / two["step"] for one, two in zip(runs[1], runs[2])]
    rows = []
    for ranks in (1, 2):
        rows.append({
            "ranks": ranks, "batch per rank": BATCH // ranks if not args.locoprop else BATCH,
            "s/step": statistics.median(r["step"] for r in runs[ranks]),
            "allreduce s/step": statistics.median(r["allreduce"] for r in runs[ranks]),
            "allreduce alone s": statistics.median(r["alone"] for r in runs[ranks]),
            "speed-up": 1.0 if ranks == 1 else statistics.median(speedups)})
    what = "DistributedLocoProp.step" if args.locoprop else "DDP + RMSprop step"
    for row in rows:
        for key in ("s/step", "allreduce s/step", "allreduce alone s"):
            row[key] = f"{row[key]:.3f}"
    print_table(f"{what}, deep autoencoder, total batch {BATCH}, one core per rank", rows)
    print(f"\nloss of 1 rank vs 2 ranks over the same steps: largest relative difference "
          f"{drift:.1e}; load average {load_average()}")
    write_json(args.json, {"runs": {str(k): v for k, v in runs.items()}, "rows": rows,
                           "loss_drift": drift, "load": load_average()})


if __name__ == "__main__":
    main()

"""Run under ``mpiexec -n 2`` by tests/test_distributed.py; rank 0 prints one ``RESULT`` line.

Checks, each against a single-process reference computed on every rank:

* data parallel: two ranks with per-rank batch b reach the parameters of one process with batch
  2b (float64; SGD, Adam, Shampoo, K-FAC, and SGD with no_sync gradient accumulation);
* DistributedSampler: every epoch the ranks' shards cover the dataset exactly once;
* DistributedLocoProp: the weights and inner states equal single-process LocoProp's, bit for bit.
"""
import json

import numpy as np

import locograd as lg
from locograd import distributed as dist
from locograd import nn, optim
from locograd.backend import Generator, rng
from locograd.locoprop import LocoProp

dist.init_process_group()
RANK, SIZE = dist.get_rank(), dist.get_world_size()
BATCH, STEPS = 8, 4  # per rank; the reference takes SIZE * BATCH


def make_model(seed):
    lg.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()


def make_optimizer(name, model):
    if name in ("sgd", "accumulate"):
        return optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    if name == "adam":
        return optim.Adam(model.parameters(), lr=0.01)
    if name == "shampoo":
        return optim.Shampoo(model.parameters(), lr=0.05)
    return optim.KFAC(model, lr=0.05, fisher="empirical", inv_update_freq=1, damping=1e-2,
                      adaptive=False)  # the fixed-lr form: its statistics are what is compared


def relative_difference(model, reference) -> float:
    worst = 0.0
    for p, q in zip(model.parameters(), reference.parameters()):
        worst = max(worst, float(np.abs(p.data - q.data).max() / np.abs(q.data).max()))
    return worst


def identical_on_all_ranks(arrays) -> bool:
    flat = np.concatenate([a.reshape(-1).astype(np.float64) for a in arrays])
    low, high = flat.copy(), flat.copy()
    dist.all_reduce(low, dist.ReduceOp.MIN)
    dist.all_reduce(high, dist.ReduceOp.MAX)
    return bool(np.array_equal(low, high))


def data_parallel(name):
    draw = rng(Generator(1))
    inputs = draw.standard_normal((STEPS, SIZE * BATCH, 5))
    targets = draw.integers(0, 3, (STEPS, SIZE * BATCH))
    loss_fn = nn.CrossEntropyLoss()

    reference = make_model(100)  # rank 0's weights, which DDP broadcasts
    reference_optimizer = make_optimizer(name, reference)
    for step in range(STEPS):
        reference_optimizer.zero_grad()
        loss_fn(reference(lg.tensor(inputs[step])), lg.tensor(targets[step])).backward()
        reference_optimizer.step()

    model = dist.DistributedDataParallel(make_model(100 + RANK), bucket_cap_mb=1e-4)
    optimizer = make_optimizer(name, model.module)
    if name == "kfac":  # (the unregistered K-FAC shows that the registration is needed)
        model.register_kfac(optimizer)
    mine = slice(RANK * BATCH, (RANK + 1) * BATCH)
    for step in range(STEPS):
        optimizer.zero_grad()
        x, y = inputs[step, mine], targets[step, mine]
        if name == "accumulate":  # two half batches, the first without averaging
            half = BATCH // 2
            with model.no_sync():
                (loss_fn(model(lg.tensor(x[:half])), lg.tensor(y[:half])) / 2).backward()
            (loss_fn(model(lg.tensor(x[half:])), lg.tensor(y[half:])) / 2).backward()
        else:
            loss_fn(model(lg.tensor(x)), lg.tensor(y)).backward()
        optimizer.step()
    return {"relative_difference": relative_difference(model.module, reference),
            "identical": identical_on_all_ranks([p.data for p in model.parameters()]),
            "buckets": len(model._buckets)}


def sampler_coverage():
    """For each case: every epoch, does the union of the shards cover the dataset once?"""
    results = {}
    for length, drop_last in ((10, False), (10, True), (12, False)):
        orders = []
        for epoch in range(2):
            sampler = dist.DistributedSampler(range(length), seed=3, drop_last=drop_last)
            sampler.set_epoch(epoch)
            shard = np.array(list(sampler), dtype=np.int64)
            gathered = np.concatenate([payload.view(np.int64) for payload in
                                       dist.process_group.all_gather_bytes(shard.view(np.uint8))])
            counts = np.bincount(gathered, minlength=length)
            if drop_last:
                ok = counts.max() == 1 and counts.sum() == length - length % SIZE
            else:
                extra = len(gathered) - length
                ok = counts.min() == 1 and counts.sum() == length + extra and extra < SIZE
            orders.append(gathered.tolist())
            results[f"{length}-{drop_last}-{epoch}"] = bool(ok)
        results[f"{length}-{drop_last}-reshuffled"] = orders[0] != orders[1]
    return results


def locoprop():
    def build():
        lg.manual_seed(5)
        return nn.Sequential(nn.Linear(12, 10), nn.Tanh(), nn.Linear(10, 8), nn.Tanh(),
                             nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 12))
    options = dict(inner_steps=3, inner_lr=1e-2, variant="M")
    draw = rng(Generator(2))
    batches = [draw.random((16, 12)).astype(np.float32) for _ in range(3)]
    reference_model = build()
    reference = LocoProp(reference_model, nn.BCEWithLogitsLoss(), **options)
    reference_losses = [reference.step(x, x) for x in batches]
    model = build()
    trainer = dist.DistributedLocoProp(model, nn.BCEWithLogitsLoss(), **options)
    losses = [trainer.step(x, x) for x in batches]
    same_weights = all(np.array_equal(p.data, q.data)
                       for p, q in zip(model.parameters(), reference_model.parameters()))
    mine, theirs = trainer.state_dict(), reference.state_dict()
    same_state = mine["outer_steps"] == theirs["outer_steps"] and all(
        sorted(mine["state"][k]) == sorted(theirs["state"][k]) and all(
            np.array_equal(np.asarray(mine["state"][k][key]), np.asarray(value))
            for key, value in theirs["state"][k].items())
        for k in theirs["state"])
    flags = np.array([same_weights, same_state, losses == reference_losses], dtype=np.int64)
    dist.all_reduce(flags, dist.ReduceOp.MIN)
    return {"weights": bool(flags[0]), "state": bool(flags[1]), "losses": bool(flags[2]),
            "owners": trainer.owners}


results = {name: data_parallel(name)
           for name in ("sgd", "adam", "shampoo", "kfac", "kfac-unregistered", "accumulate")}
results["sampler"] = sampler_coverage()
results["locoprop"] = locoprop()
if RANK == 0:
    print("RESULT " + json.dumps(results), flush=True)

"""Run under ``mpiexec -n 2`` by tests/test_distributed.py: ``fit`` unchanged, with a
``DistributedDataParallel`` model and a ``DistributedSampler``. Each rank writes its history and
final weights to ``OUT/rank<r>.json``; only rank 0 should print and write the checkpoint."""
import json
import os
import sys

import numpy as np

import locograd as lg
from locograd import distributed as dist
from locograd import nn, optim
from locograd.backend import Generator, rng
from locograd.data import DataLoader, TensorDataset
from locograd.train import accuracy, fit

out = sys.argv[1]
dist.init_process_group()
draw = rng(Generator(0))
x = draw.standard_normal((90, 4)).astype(np.float32)
y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
dataset = TensorDataset(lg.tensor(x), lg.tensor(y))
lg.manual_seed(dist.get_rank())  # different weights per rank: DDP broadcasts rank 0's
model = dist.DistributedDataParallel(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)))
loader = DataLoader(dataset, batch_size=10, sampler=dist.DistributedSampler(dataset, seed=1))
history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), loader,
              val_loader=DataLoader(dataset, batch_size=30), epochs=3,
              metrics={"accuracy": accuracy}, checkpoint_dir=out,
              history_csv=os.path.join(out, "history.csv"))
keep = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy")
record = {"history": [{k: row[k] for k in keep} for row in history],
          "weights": {k: v.data.tolist() for k, v in model.state_dict().items()}}
with open(os.path.join(out, f"rank{dist.get_rank()}.json"), "w") as handle:
    json.dump(record, handle)

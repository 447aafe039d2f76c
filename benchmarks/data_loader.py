"""Data loading speed: one epoch of the 10,000 MNIST test images in batches of 1,000.

Every epoch shuffles, slices the uint8 images, scales them to float32 [0, 1] and standardises
them per channel. Implementations, interleaved in rounds on one pinned core (ratios are taken
within each round; absolute times drift on shared machines):

    numpy            the floor: a plain NumPy loop doing the same slicing and arithmetic
    loader           DataLoader(MNIST(transform=Standardize), batch_size=1000, shuffle=True):
                     the batched fast path (``__getbatch__``, the transform once per batch)
    loader_samples   the same loader fetching sample by sample and stacking (what any custom
                     collate_fn gets): the per-sample overhead
    loader_workers2  the fast path with num_workers=2 (on the same single core: this shows the
                     cost of moving batches between processes, not a speed-up)
    train_epoch      for scale: forward + backward + SGD update of the deep autoencoder
                     784-1000-500-250-30-250-500-1000-784 (sigmoid, MSE) over the same 10
                     batches, i.e. the training work that loading must not slow down

    python benchmarks/data_loader.py [--rounds 5] [--root ../shared/data/mnist] [--json out.json]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from _common import median_ratio, pin_one_core, print_table, write_json

pin_one_core()

import numpy as np  # noqa: E402  (after pinning: the BLAS reads its thread count at import)

BATCH = 1000
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ROOT = os.path.join(HERE, "..", "..", "shared", "data", "mnist")


def build(impl: str, root: str):
    import locograd as lg
    from locograd import data

    dataset = data.MNIST(root, split="test")
    scale = data.Standardize(per_channel=True).fit(dataset)
    dataset.transform = scale
    if impl == "numpy":
        images, labels = dataset.data, dataset.targets
        mean = scale.mean.astype(np.float32)
        inverse_std = (1.0 / scale.std).astype(np.float32)
        random = np.random.default_rng(0)

        def run():
            order = random.permutation(len(images))
            total = 0.0
            for start in range(0, len(images), BATCH):
                index = order[start:start + BATCH]
                x = np.divide(images[index], 255, dtype=np.float32)[:, None]
                x -= mean
                x *= inverse_std
                y = labels[index]
                total += x[0, 0, 0, 0] + y[0]
            return total
        return run
    if impl.startswith("loader"):
        kwargs = {}
        if impl == "loader_samples":
            kwargs["collate_fn"] = lambda batch: data.default_collate(batch)
        if impl == "loader_workers2":
            kwargs.update(num_workers=2, persistent_workers=True)
        loader = data.DataLoader(dataset, batch_size=BATCH, shuffle=True,
                                 generator=lg.Generator(0), **kwargs)

        def run():
            total = 0.0
            for x, y in loader:
                total += x.data[0, 0, 0, 0] + y.data[0]
            return total
        return run
    if impl == "train_epoch":
        from locograd import nn
        sizes = [784, 1000, 500, 250, 30, 250, 500, 1000, 784]
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i + 2 < len(sizes):
                layers.append(nn.Sigmoid())
        model = nn.Sequential(*layers)
        params = list(model.parameters())
        loader = data.DataLoader(dataset, batch_size=BATCH, generator=lg.Generator(0))
        batches = [x.reshape(BATCH, 784) for x, _ in loader]  # loading excluded here

        def run():
            for x in batches:
                for p in params:
                    p.grad = None
                loss = ((model(x) - x) ** 2).mean()
                loss.backward()
                for p in params:
                    p.data -= 0.01 * p.grad.data
                    p._version[0] += 1
            return float(loss.item())
        return run
    raise ValueError(impl)


def check_same_batches(root: str):
    """The fast path and the per-sample path must give identical batches."""
    import locograd as lg
    from locograd import data
    dataset = data.MNIST(root, split="test")
    dataset.transform = data.Standardize(per_channel=True).fit(dataset)
    fast = data.DataLoader(dataset, batch_size=BATCH, shuffle=True, generator=lg.Generator(1))
    slow = data.DataLoader(dataset, batch_size=BATCH, shuffle=True, generator=lg.Generator(1),
                           collate_fn=lambda batch: data.default_collate(batch))
    for (a, b), (c, d) in zip(fast, slow):
        if not (np.array_equal(a.data, c.data) and np.array_equal(b.data, d.data)):
            raise SystemExit("data_loader: the batched fast path differs from per-sample loading")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--root", default=DEFAULT_ROOT, help="directory of the MNIST IDX files")
    ap.add_argument("--json", default=None, help="write the raw figures to this file")
    args = ap.parse_args(argv)
    if not os.path.isfile(os.path.join(args.root, "t10k-images-idx3-ubyte.gz")) and \
            not os.path.isfile(os.path.join(args.root, "t10k-images-idx3-ubyte")):
        print(f"data_loader: MNIST test split not found in {args.root}; nothing to measure")
        return []

    check_same_batches(args.root)
    impls = ["numpy", "loader", "loader_samples", "loader_workers2", "train_epoch"]
    fns = {name: build(name, args.root) for name in impls}
    for fn in fns.values():  # warm up (and start the persistent workers)
        fn()
    per_round = {name: [] for name in impls}
    for _ in range(args.rounds):
        for name in impls:
            repeats = 1 if name == "train_epoch" else 5
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                fns[name]()
                best = min(best, time.perf_counter() - start)
            per_round[name].append(best * 1e3)

    rows = [{"impl": name, "ms_per_epoch": statistics.median(per_round[name]),
             "x_numpy": median_ratio(per_round, name, "numpy"),
             "pct_of_train_epoch": 100 * median_ratio(per_round, name, "train_epoch")}
            for name in impls]
    print_table(f"One epoch of 10,000 MNIST images in batches of {BATCH}, shuffled and "
                f"standardised, {args.rounds} rounds on one core", rows)
    write_json(args.json, {"rows": rows, "per_round": per_round})
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)

"""Classify MNIST digits with an MLP or a small CNN, using ``locograd.train.fit``.

Reads the IDX files (``train-images-idx3-ubyte[.gz]``, ``t10k-...``) from a directory; nothing is
downloaded. With only the 10,000 test images present (as in ../shared/data/mnist), it trains on
five sixths of them and tests on the rest.

    python examples/mnist_classifier.py                         # ../shared/data/mnist
    python examples/mnist_classifier.py ~/data/mnist --model cnn --epochs 3
"""
from __future__ import annotations

import argparse
import os
import sys

import locograd as lg
from locograd import nn, optim
from locograd.data import MNIST, DataLoader, Standardize, Subset, random_split
from locograd.models import cnn, mlp
from locograd.train import accuracy, evaluate, fit

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ROOT = os.path.join(PROJECT_ROOT, "..", "shared", "data", "mnist")


def load_splits(root: str, seed: int):
    """``(train, test)`` datasets: MNIST's own split, or a fixed 5:1 split of the test images
    when the training files are absent. Raises ``FileNotFoundError`` when neither is there."""
    test = MNIST(root, "test")
    try:
        return MNIST(root, "train"), test
    except FileNotFoundError:
        cut = len(test) * 5 // 6
        return tuple(random_split(test, [cut, len(test) - cut], generator=lg.Generator(seed)))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=DEFAULT_ROOT,
                        help="directory of the MNIST IDX files (default ../shared/data/mnist)")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N training images only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    return parser.parse_args(argv)


def main(argv=None) -> float:
    """Train, print the test accuracy and return it."""
    args = parse_args(argv)
    try:
        train, test = load_splits(args.root, args.seed)
    except FileNotFoundError as error:
        sys.exit(f"mnist_classifier.py: no MNIST data in {os.path.normpath(args.root)}; give the "
                 f"directory of the IDX files as the first argument.\n({error})")
    if args.limit is not None:
        train = Subset(train, range(min(args.limit, len(train))))
    # Subsets share their underlying MNIST object: set the transform on the base dataset(s),
    # fitted on the training images only.
    scale = Standardize(per_channel=True).fit(train)
    for dataset in (train, test):
        while isinstance(dataset, Subset):
            dataset = dataset.dataset
        dataset.transform = scale
    lg.manual_seed(args.seed)
    model = mlp(28 * 28, 10, hidden=(256,)) if args.model == "mlp" else \
        cnn(1, 10, image_size=(28, 28))
    print(f"{args.model}: {model.num_parameters():,} parameters; {len(train):,} training and "
          f"{len(test):,} test images")
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=args.lr),
        DataLoader(train, batch_size=args.batch_size, shuffle=True,
                   generator=lg.Generator(args.seed)),
        DataLoader(test, batch_size=1000), epochs=args.epochs,
        metrics={"accuracy": accuracy}, progress=args.progress)
    result = evaluate(model, nn.CrossEntropyLoss(), DataLoader(test, batch_size=1000),
                      {"accuracy": accuracy})
    print(f"test accuracy {100 * result['accuracy']:.2f}%")
    return result["accuracy"]


if __name__ == "__main__":
    main()

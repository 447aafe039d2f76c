"""The classic PyTorch MNIST example (examples/mnist/main.py), ported with ``import locograd
as torch``: two convolutions, max pooling, dropout, two linear layers, log-softmax and NLL,
Adadelta with a StepLR schedule, the same training and test loops.

Reads the IDX files from a directory (default ../shared/data/mnist); with only the 10,000 test
images there, it trains on the first five sixths and tests on the rest.

    python examples/pytorch_mnist.py --epochs 1 --limit 2000
"""
from __future__ import annotations

import argparse
import os
import sys

import locograd as torch
import locograd.nn as nn
import locograd.nn.functional as F
import locograd.optim as optim
from locograd.data import MNIST, DataLoader, Subset
from locograd.optim.lr_scheduler import StepLR

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ROOT = os.path.join(PROJECT_ROOT, "..", "shared", "data", "mnist")


class Net(nn.Module):
    """PyTorch's MNIST network (``width`` scales the channels: 1 is the original)."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        c1, c2, hidden = int(32 * width), int(64 * width), int(128 * width)
        self.conv1 = nn.Conv2d(1, c1, 3, 1)
        self.conv2 = nn.Conv2d(c1, c2, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(c2 * 12 * 12, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def normalize(image):
    return (image - 0.1307) / 0.3081  # MNIST's mean and standard deviation, as the original


def train(model, train_loader, optimizer, epoch, log_interval):
    model.train()
    losses = []
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if batch_idx % log_interval == 0:
            print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)}]"
                  f"\tLoss: {loss.item():.6f}")
    return losses


def test(model, test_loader):
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            correct += int((output.argmax(dim=1) == target).sum().item())
    n = len(test_loader.dataset)
    print(f"\nTest set: Average loss: {test_loss / n:.4f}, Accuracy: {correct}/{n} "
          f"({100.0 * correct / n:.0f}%)\n")
    return correct / n


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=DEFAULT_ROOT)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-batch-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier")
    parser.add_argument("--limit", type=int, default=None, help="train on N images only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    return parser.parse_args(argv)


def main(argv=None):
    """Train and test; return ``(training losses, test accuracy)``."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    try:
        test_images = MNIST(args.root, "test", transform=normalize)
        try:
            train_set = MNIST(args.root, "train", transform=normalize)
            test_set = test_images
        except FileNotFoundError:
            cut = len(test_images) * 5 // 6
            train_set = Subset(test_images, range(cut))
            test_set = Subset(test_images, range(cut, len(test_images)))
    except FileNotFoundError as error:
        sys.exit(f"pytorch_mnist.py: no MNIST data in {os.path.normpath(args.root)} ({error})")
    if args.limit is not None:
        train_set = Subset(train_set, range(min(args.limit, len(train_set))))
        test_set = Subset(test_set, range(min(args.limit, len(test_set))))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size)
    model = Net(args.width)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    losses = []
    for epoch in range(1, args.epochs + 1):
        losses += train(model, train_loader, optimizer, epoch, args.log_interval)
        accuracy = test(model, test_loader)
        scheduler.step()
    return losses, accuracy


if __name__ == "__main__":
    main()

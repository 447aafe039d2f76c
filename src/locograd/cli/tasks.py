"""The data, model configuration, loss and metrics of a ``locograd train`` run (a ``Task``)."""
from __future__ import annotations

import numpy as np

from .. import nn
from ..backend import Generator
from ..data import MNIST, ArrayDataset, CharDataset, Digits, Standardize, Subset
from ..train import accuracy
from . import CommandError

__all__ = ["Task", "prepare_task", "check_combination"]

#: the kinds of data each model trains on
_NEEDS = {"mlp": "images", "cnn": "images", "autoencoder": "images", "char-rnn": "text"}


class Task:
    """What a training command needs besides the optimiser.

    Attributes:
        train_set, val_set, test_set: datasets of ``(inputs, targets)`` (val/test may be None).
        config: the model configuration (``locograd.models.build_model``).
        loss_fn, metrics: for ``fit``.
        kind: ``'classify'``, ``'reconstruct'`` or ``'text'``.
        extra: plain data for the checkpoint (vocabulary, normalisation statistics).
        summary: one line describing the data.
    """

    def __init__(self, **fields):
        self.val_set = self.test_set = None
        self.metrics = {}
        self.extra = {}
        self.__dict__.update(fields)


def check_combination(model: str, data: str) -> None:
    """Raise ``CommandError`` when ``model`` cannot train on ``data``."""
    kind = "text" if data.startswith("text:") else "images"
    if _NEEDS[model] == "text" and kind != "text":
        raise CommandError(f"--model {model} needs --data text:FILE (got {data!r})")
    if _NEEDS[model] == "images" and kind == "text":
        raise CommandError(f"--model {model} trains on images: use --data digits or "
                                f"mnist or mnist:DIR (text:FILE is for --model char-rnn)")


def _image_arrays(spec: str, seed: int):
    """``(train_x, train_y, test_x, test_y, description)`` as float32 images and int64 labels."""
    if spec == "digits":
        train, test = Digits("train"), Digits("test")
        return (train.inputs, train.targets, test.inputs, test.targets,
                "the bundled 8x8 digits")
    if spec == "mnist":  # downloaded (once) and verified, into the default cache
        train, test = MNIST(split="train", download=True), MNIST(split="test", download=True)
        return (*_mnist_arrays(train), *_mnist_arrays(test), f"MNIST from {train.root}")
    root = spec.partition(":")[2]
    test = MNIST(root, "test")
    try:
        train = MNIST(root, "train")
    except FileNotFoundError:
        # Only the 10,000 test images (as in ../shared/data/mnist): train on five sixths of
        # them, test on the rest (a fixed split), and say so.
        order = Generator(seed).numpy.permutation(len(test))
        cut = len(test) * 5 // 6
        x, y = _mnist_arrays(test)
        note = (f"MNIST from {root} (test split only: {cut:,} images to train, "
                f"{len(test) - cut:,} to test)")
        return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]], note
    return (*_mnist_arrays(train), *_mnist_arrays(test), f"MNIST from {root}")


def _mnist_arrays(dataset: MNIST):
    images = np.divide(dataset.data, 255, dtype=np.float32)[:, None]
    return images, np.asarray(dataset.targets)


def _split(x, y, fraction: float, seed: int):
    """Hold out ``fraction`` of the samples (a seeded random choice) for validation."""
    n_val = int(round(len(x) * fraction))
    if n_val == 0:
        return (x, y), None
    order = Generator(seed + 1).numpy.permutation(len(x))
    keep, held = order[n_val:], order[:n_val]
    return (x[keep], y[keep]), (x[held], y[held])


def _image_task(args) -> Task:
    train_x, train_y, test_x, test_y, source = _image_arrays(args.data, args.seed)
    if args.limit is not None:
        train_x, train_y = train_x[:args.limit], train_y[:args.limit]
    (train_x, train_y), val = _split(train_x, train_y, args.val_split, args.seed)
    if len(train_x) == 0:
        raise CommandError(f"--val-split {args.val_split} holds out all {len(val[0])} samples"
                           f"{' that --limit ' + str(args.limit) + ' keeps' if args.limit else ''}"
                           f": none is left to train on")
    image_shape = tuple(int(s) for s in train_x.shape[1:])
    classes = 10
    if args.model == "autoencoder":
        # targets are the images themselves (pixels in [0, 1], what BCEWithLogitsLoss needs)
        datasets = [ArrayDataset(x, x) if x is not None else None
                    for x in (train_x, None if val is None else val[0], test_x)]
        config = {"name": "autoencoder", "image_shape": image_shape,
                  "hidden": (args.hidden_size or 64,), "code": 16}
        task = Task(config=config, loss_fn=nn.BCEWithLogitsLoss(), kind="reconstruct")
    else:
        scale = Standardize(per_channel=True).fit(train_x)
        datasets = [ArrayDataset(x, y, transform=scale) if x is not None else None
                    for x, y in ((train_x, train_y), val or (None, None), (test_x, test_y))]
        if args.model == "mlp":
            config = {"name": "mlp", "in_features": int(np.prod(image_shape)),
                      "num_classes": classes, "hidden": (args.hidden_size or 128,)}
        else:
            config = {"name": "cnn", "in_channels": image_shape[0], "num_classes": classes,
                      "image_size": image_shape[1:]}
        task = Task(config=config, loss_fn=nn.CrossEntropyLoss(), kind="classify",
                    metrics={"accuracy": accuracy},
                    extra={"standardize": {"mean": scale.mean, "std": scale.std}})
    task.train_set, task.val_set, task.test_set = datasets
    task.summary = (f"{source}: {len(train_x):,} training, {0 if val is None else len(val[0]):,}"
                    f" validation, {len(test_x):,} test images")
    return task


def _text_task(args) -> Task:
    path = args.data.partition(":")[2]
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except UnicodeDecodeError as error:
        raise CommandError(f"{path} is not UTF-8 text ({error.reason} at byte "
                           f"{error.start})") from None
    seq_len = args.seq_len
    if len(text) <= 2 * seq_len:
        raise CommandError(f"{path} holds {len(text)} characters; with --seq-len "
                                f"{seq_len} it needs more than {2 * seq_len}")
    vocabulary = CharDataset(text, seq_len).itos
    cut = int(len(text) * (1.0 - args.val_split))
    if len(text) - cut <= seq_len:  # too little text left to validate on
        cut = len(text)
    train = CharDataset(text[:cut], seq_len, vocabulary=vocabulary)
    # non-overlapping windows: an epoch reads the text once
    starts = list(range(0, len(train), seq_len))[:args.limit]
    val = None
    if cut < len(text):
        val_full = CharDataset(text[cut:], seq_len, vocabulary=vocabulary)
        val = Subset(val_full, list(range(0, len(val_full), seq_len)))
    config = {"name": "char-rnn", "vocab_size": len(vocabulary),
              "hidden_size": args.hidden_size or 128, "embedding_dim": 32, "num_layers": 1,
              "cell": args.cell}
    return Task(config=config, loss_fn=nn.CrossEntropyLoss(), kind="text",
                metrics={"accuracy": accuracy}, train_set=Subset(train, starts), val_set=val,
                extra={"vocabulary": list(vocabulary)},
                summary=f"{path}: {len(text):,} characters, {len(vocabulary)} distinct; "
                        f"{len(starts):,} training and {0 if val is None else len(val):,} "
                        f"validation sequences of {seq_len}")


def prepare_task(args) -> Task:
    """The ``Task`` of parsed ``train`` arguments (``model``, ``data``, ``seed``, ``limit``,
    ``val_split``, ``hidden_size``, ``seq_len``, ``cell``)."""
    check_combination(args.model, args.data)
    return _text_task(args) if args.model == "char-rnn" else _image_task(args)

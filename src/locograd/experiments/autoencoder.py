"""The MNIST deep autoencoder of the optimiser comparisons: model, data, loss and floor.

The classic benchmark of second-order methods (Hinton & Salakhutdinov 2006; Martens 2010;
Martens & Grosse 2015; LocoProp): a 784-1000-500-250-30-250-500-1000-784 network with tanh
hidden layers, a linear 30-unit code and a sigmoid output, trained to reconstruct its input
with the sigmoid cross-entropy summed over the pixels and averaged over the images. As in
LocoProp's reference code: Glorot-uniform initialisation of the weights *and* the biases,
grey-level pixels scaled to [0, 1] (not binarised), minibatches of 1000.
"""
from __future__ import annotations

import math
import os

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..data.idx import find_idx_file, idx_magic, read_idx
from ..factory import from_numpy
from ..nn import functional as F
from ..nn import init

__all__ = ["LAYER_SIZES", "build_autoencoder", "reconstruction_loss", "load_images",
           "default_data_dir", "cross_entropy_floor", "evaluate"]

LAYER_SIZES = (784, 1000, 500, 250, 30, 250, 500, 1000, 784)
_IMAGE_FILES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")


def build_autoencoder(sizes=LAYER_SIZES, activation: str = "tanh", generator=None):
    """The deep autoencoder as an ``nn.Sequential`` whose output is the logits.

    Every layer but two is followed by the activation: the code layer (the one with the
    fewest units) is linear, and the output layer's sigmoid is inside the loss. Weights are
    Glorot-uniform, ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``, and so are the
    biases, as Keras initialises a vector of ``n``: ``U(-sqrt(3/n), sqrt(3/n))``.

    Args:
        sizes: the layer widths, input first (default ``LAYER_SIZES``).
        activation: ``'tanh'`` (default) or ``'relu'``.
        generator: the ``lg.Generator`` of the initialisation (default: the global one).

    Returns:
        The ``nn.Sequential`` model (float32).

    Example:
        >>> import locograd as lg
        >>> model = build_autoencoder((8, 4, 2, 4, 8), generator=lg.Generator().manual_seed(0))
        >>> [type(m).__name__ for m in model]
        ['Linear', 'Tanh', 'Linear', 'Linear', 'Tanh', 'Linear']
    """
    if activation not in ("tanh", "relu"):
        raise ValueError(f"build_autoencoder: activation must be 'tanh' or 'relu', got "
                         f"{activation!r}")
    sizes = [int(s) for s in sizes]
    if len(sizes) < 3 or min(sizes) < 1:
        raise ValueError(f"build_autoencoder: need at least 3 positive layer widths, got {sizes}")
    hidden = sizes[1:-1]
    code = 1 + hidden.index(min(hidden))  # the index of the code layer among the Linear layers
    modules = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        linear = nn.Linear(fan_in, fan_out)
        init.xavier_uniform_(linear.weight, generator=generator)
        bound = math.sqrt(3.0 / fan_out)
        init.uniform_(linear.bias, -bound, bound, generator=generator)
        modules.append(linear)
        if index != code and index != len(sizes) - 1:
            modules.append(nn.Tanh() if activation == "tanh" else nn.ReLU())
    return nn.Sequential(*modules)


def reconstruction_loss(logits, images):
    """Sigmoid cross-entropy summed over the pixels and averaged over the images.

    Args:
        logits: the model's output, (batch, pixels).
        images: the targets, pixels in [0, 1], same shape.

    Returns:
        A scalar tensor.

    Example:
        >>> import locograd as lg
        >>> round(reconstruction_loss(lg.zeros(2, 3), lg.ones(2, 3)).item(), 4)  # 3 log 2
        2.0794
    """
    return F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / logits.shape[0]


def default_data_dir() -> str:
    """Where the MNIST IDX files are looked for by default.

    ``$LOCOGRAD_MNIST`` if set, else ``../shared/data/mnist`` next to the project root (the
    checkout this package runs from), else the same path relative to the working directory.
    """
    if os.environ.get("LOCOGRAD_MNIST"):
        return os.environ["LOCOGRAD_MNIST"]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    candidate = os.path.normpath(os.path.join(root, "..", "shared", "data", "mnist"))
    if os.path.isdir(candidate):
        return candidate
    return os.path.normpath(os.path.join("..", "shared", "data", "mnist"))


def _image_file(path: str) -> str:
    if os.path.isfile(path):
        return path
    found, tried = find_idx_file(path, _IMAGE_FILES)
    if found is not None:
        return found
    raise FileNotFoundError(f"load_images: no IDX image file in {path}; looked for "
                            f"{', '.join(tried)}")


def load_images(path: str | None = None, limit: int | None = None):
    """Images from an IDX file, or a directory holding MNIST's, as float32 rows in [0, 1].

    A directory's training images (``train-images-idx3-ubyte[.gz]``) are used when present,
    else its test images (``t10k-images-idx3-ubyte[.gz]``). Pixels are divided by 255, not
    binarised.

    Args:
        path: an IDX image file or a directory (default: ``default_data_dir()``).
        limit: keep the first ``limit`` images.

    Returns:
        ``(images, source)``: an (N, pixels) float32 array and the file read.

    Example:
        >>> images, source = load_images(limit=100)  # doctest: +SKIP
        >>> images.shape, images.dtype  # doctest: +SKIP
        ((100, 784), dtype('float32'))
    """
    source = _image_file(path or default_data_dir())
    raw = read_idx(source, expected_magic=idx_magic(np.uint8, 3))
    if limit is not None:
        if limit < 1:
            raise ValueError(f"load_images: limit must be >= 1, got {limit}")
        raw = raw[:limit]
    images = raw.reshape(len(raw), -1).astype(np.float32)
    images /= np.float32(255.0)
    return images, source


def cross_entropy_floor(images: np.ndarray) -> float:
    """The lowest reachable reconstruction loss: the images' mean summed binary entropy.

    The sigmoid cross-entropy of a pixel ``x`` is at least its entropy ``H(x) = -x log x -
    (1 - x) log(1 - x)`` (reached by predicting ``x`` itself); grey-level pixels have
    ``H > 0``, so the loss cannot reach zero. Computed in float64.

    Example:
        >>> import numpy as np
        >>> round(cross_entropy_floor(np.array([[0.5, 0.0], [1.0, 0.5]])), 4)  # log 2
        0.6931
    """
    x = np.asarray(images, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(np.where(x > 0, x * np.log(x), 0.0)
                    + np.where(x < 1, (1 - x) * np.log1p(-x), 0.0))
    return float(entropy.sum(axis=1).mean())


def evaluate(model, images: np.ndarray, batch_size: int = 1000) -> float:
    """The reconstruction loss of ``model`` over all of ``images`` (in batches, no graph).

    Example:
        >>> import numpy as np, locograd as lg
        >>> model = build_autoencoder((4, 3, 2, 3, 4), generator=lg.Generator().manual_seed(0))
        >>> evaluate(model, np.full((10, 4), 0.5, np.float32), batch_size=4) > 4 * 0.69
        True
    """
    total = 0.0
    where = next(iter(model.parameters())).device  # a device model: its batches go there
    with no_grad():
        for start in range(0, len(images), batch_size):
            batch = from_numpy(images[start:start + batch_size]).to(where)
            total += float(reconstruction_loss(model(batch), batch).data) * len(batch)
    return total / len(images)

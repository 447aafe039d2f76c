"""Model builders for the ``locograd`` command: ``mlp``, ``cnn``, ``autoencoder`` and ``CharRNN``.

Every model is described by a plain configuration dict (``{"name": "cnn", ...}``) that
``build_model`` turns back into the module, so a checkpoint that stores the configuration next to
the weights is enough to rebuild and use the model later (``locograd sample``).

Example:
    >>> import locograd as lg
    >>> config = {"name": "cnn", "in_channels": 1, "image_size": (8, 8), "num_classes": 10}
    >>> model = build_model(config)
    >>> model(lg.zeros(2, 1, 8, 8)).shape
    (2, 10)
"""
from __future__ import annotations

import math

import numpy as np

from . import nn
from .autograd.grad_mode import no_grad
from .backend import Generator, rng
from .factory import tensor

__all__ = ["mlp", "cnn", "autoencoder", "CharRNN", "build_model", "MODELS"]


def mlp(in_features: int, num_classes: int, hidden=(128,)) -> nn.Sequential:
    """A multilayer perceptron on flattened inputs: ``Flatten``, then ``Linear`` + ``ReLU`` per
    hidden layer, then a ``Linear`` to the class scores (logits).

    Args:
        in_features: the number of input values per sample (64 for 8x8 digits).
        num_classes: the number of outputs.
        hidden: the widths of the hidden layers.

    Example:
        >>> import locograd as lg
        >>> mlp(64, 10, hidden=(32,))(lg.zeros(5, 1, 8, 8)).shape
        (5, 10)
    """
    layers, width = [nn.Flatten()], in_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def cnn(in_channels: int, num_classes: int, image_size=(8, 8), channels=(16, 32)) -> nn.Sequential:
    """A small convolutional classifier: per entry of ``channels`` a 3x3 convolution (padding 1),
    batch normalisation, ``ReLU`` and 2x2 max pooling; then a ``Linear`` to the class scores.

    Args:
        in_channels: channels of the input images.
        num_classes: the number of outputs.
        image_size: ``(height, width)`` of the input images.
        channels: output channels of the convolution blocks.

    Example:
        >>> import locograd as lg
        >>> cnn(1, 10, image_size=(28, 28))(lg.zeros(2, 1, 28, 28)).shape
        (2, 10)
    """
    height, width = image_size
    layers, previous = [], in_channels
    for size in channels:
        layers += [nn.Conv2d(previous, size, 3, padding=1), nn.BatchNorm2d(size), nn.ReLU(),
                   nn.MaxPool2d(2)]
        previous, height, width = size, height // 2, width // 2
    if height < 1 or width < 1:
        raise ValueError(f"cnn: {len(channels)} pooling stages shrink images of size "
                         f"{tuple(image_size)} to nothing; use fewer channels entries")
    layers += [nn.Flatten(), nn.Linear(previous * height * width, num_classes)]
    return nn.Sequential(*layers)


def autoencoder(image_shape=(1, 8, 8), hidden=(32,), code: int = 8) -> nn.Sequential:
    """A fully connected autoencoder: the flattened image through ``tanh`` layers of widths
    ``hidden`` down to a linear ``code``, and back up (mirrored) to one logit per pixel,
    reshaped to ``image_shape``. Train it with ``BCEWithLogitsLoss`` against the image itself
    (pixels in [0, 1]); ``sigmoid`` of the output is the reconstruction.

    Example:
        >>> import locograd as lg
        >>> autoencoder((1, 8, 8), hidden=(16,), code=4)(lg.zeros(3, 1, 8, 8)).shape
        (3, 1, 8, 8)
    """
    pixels = int(np.prod(image_shape))
    widths = [pixels, *hidden]
    layers = [nn.Flatten()]
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    layers.append(nn.Linear(widths[-1], code))
    back = [code, *reversed(hidden)]
    for a, b in zip(back[:-1], back[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    layers += [nn.Linear(back[-1], pixels), nn.Unflatten(1, tuple(image_shape))]
    return nn.Sequential(*layers)


_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class CharRNN(nn.Module):
    """A character-level language model: embedding, a recurrent layer (LSTM, GRU or tanh RNN),
    and a linear read-out to one score per character of the vocabulary.

    ``forward(ids)`` takes ``(N, L)`` character ids and returns logits ``(N, V, L)``: the class
    dimension second, as ``CrossEntropyLoss`` expects for sequences, so the loss against the
    next characters ``(N, L)`` is ``nn.CrossEntropyLoss()(model(ids), next_ids)``.

    Args:
        vocab_size: the number of distinct characters ``V``.
        hidden_size: the size of the recurrent state.
        embedding_dim: the size of the character vectors.
        num_layers: stacked recurrent layers.
        cell: ``'lstm'``, ``'gru'`` or ``'rnn'``.

    Example:
        >>> import locograd as lg
        >>> model = CharRNN(vocab_size=5, hidden_size=8)
        >>> model(lg.zeros(2, 7, dtype=lg.int64)).shape
        (2, 5, 7)
        >>> len(model.generate([0, 1], length=4, generator=lg.Generator(0)))
        4
    """

    def __init__(self, vocab_size: int, hidden_size: int = 128, embedding_dim: int = 32,
                 num_layers: int = 1, cell: str = "lstm"):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"CharRNN: cell must be one of {sorted(_CELLS)}, got {cell!r}")
        self.vocab_size, self.cell = vocab_size, cell
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = _CELLS[cell](embedding_dim, hidden_size, num_layers=num_layers,
                                     batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        logits, _ = self.forward_with_state(ids, state)
        return logits

    def forward_with_state(self, ids, state=None):
        """``(logits (N, V, L), final recurrent state)``, continuing from ``state``."""
        output, state = self.rnn(self.embedding(ids), state)
        return self.head(output).transpose(1, 2), state

    @no_grad()
    def generate(self, prime, length: int, temperature: float = 1.0,
                 generator: Generator | None = None) -> list[int]:
        """Sample ``length`` characters after the ids ``prime`` (at least one).

        Each next character is drawn from ``softmax(logits / temperature)``: below 1 the text
        is more conservative, above 1 more surprising. Runs in eval mode without a graph.

        Args:
            prime: the ids the text starts from (a non-empty sequence of ints).
            length: the number of characters to generate.
            temperature: a positive number.
            generator: the source of the draws (default: the default generator).

        Returns:
            The generated ids (without the prime).
        """
        prime = [int(i) for i in prime]
        if not prime:
            raise ValueError("CharRNN.generate: prime must hold at least one character id")
        if not (isinstance(temperature, (int, float)) and temperature > 0
                and math.isfinite(temperature)):
            raise ValueError(f"CharRNN.generate: temperature must be a positive number, got "
                             f"{temperature!r}")
        if min(prime) < 0 or max(prime) >= self.vocab_size:
            raise ValueError(f"CharRNN.generate: prime ids must lie in [0, {self.vocab_size})")
        was_training = self.training
        self.eval()
        random = rng(generator)
        try:
            logits, state = self.forward_with_state(tensor([prime]))
            out = []
            for _ in range(length):
                scores = logits.data[0, :, -1].astype(np.float64) / temperature
                p = np.exp(scores - scores.max())
                cumulative = np.cumsum(p)
                # inverse-CDF draw: one uniform number per character, robust to rounding
                nxt = int(np.searchsorted(cumulative, random.random() * cumulative[-1],
                                          side="right"))
                nxt = min(nxt, self.vocab_size - 1)
                out.append(nxt)
                logits, state = self.forward_with_state(tensor([[nxt]]), state)
        finally:
            self.train(was_training)
        return out


#: name -> builder taking the configuration's other entries as keyword arguments
MODELS = {"mlp": mlp, "cnn": cnn, "autoencoder": autoencoder, "char-rnn": CharRNN}


def build_model(config: dict) -> nn.Module:
    """The model a configuration describes: ``MODELS[config['name']](**other entries)``.

    Example:
        >>> build_model({"name": "mlp", "in_features": 4, "num_classes": 3, "hidden": (8,)})
        ... # doctest: +ELLIPSIS
        Sequential(...)
    """
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(f"build_model: expected a dict with a 'name' entry, got {config!r:.80}")
    options = {k: v for k, v in config.items() if k != "name"}
    name = config["name"]
    if name not in MODELS:
        raise ValueError(f"build_model: unknown model {name!r}; known: {sorted(MODELS)}")
    try:
        return MODELS[name](**options)
    except TypeError as error:
        raise ValueError(f"build_model: bad configuration for {name!r}: {error}") from None

"""OpSpecs for locograd.ops.activation (with dropout and embedding): every activation, kept
away from its kinks, against an independent NumPy reference (erf from ``math.erf``)."""
from __future__ import annotations

import math

import numpy as np

import locograd as lg
import locograd.nn.functional as F

from . import OpSpec
from ._shapes import away_from, normal, random_shape

_erf = np.vectorize(math.erf, otypes=[np.float64])
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _one(rng):
    return normal(rng, random_shape(rng, 0, 3))


def _one_large(rng):
    return normal(rng, random_shape(rng, 1, 3, max_size=8))


def _wide(rng):
    # values up to |x| ~ 8, where the stable forms (logsigmoid, silu) matter
    return (rng.standard_normal(random_shape(rng, 0, 3)) * 4.0,)


def _kinked(points, margin=0.1, scale=1.0):
    def inputs(rng):
        x = rng.standard_normal(random_shape(rng, 0, 3)) * scale
        for p in points:
            close = np.abs(x - p) < margin
            x = np.where(close, p + np.where(x >= p, 2 * margin, -2 * margin), x)
        return (x,)
    return inputs


def _rows(rng):
    return normal(rng, (int(rng.integers(1, 4)), 4))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _elu_ref(x, alpha=1.0, scale=1.0, input_scale=1.0):
    return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) * input_scale))


def _gelu_tanh_ref(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


# ------------------------------------------------------------------------------ prelu

def _prelu_channels(rng):
    shape = [(2, 3), (2, 3, 4), (1, 3, 2, 2)][rng.integers(3)]
    x = away_from(rng, shape, (0.0,), 0.1)
    return x, rng.uniform(0.1, 0.6, 3)


def _prelu_single(rng):
    return away_from(rng, random_shape(rng, 0, 3), (0.0,), 0.1), rng.uniform(0.1, 0.6, 1)


def _prelu_ref(x, w):
    wb = w.reshape((3,) + (1,) * (x.ndim - 2)) if w.size > 1 else w[0]
    return np.where(x > 0, x, wb * x)


# ------------------------------------------------------------------------------ dropout

def _mask(seed, shape, p):
    return np.random.Generator(np.random.PCG64(seed)).random(shape) >= p


def _dropout(x):
    return F.dropout(x, 0.3, generator=lg.Generator(7))


def _dropout_ref(x):
    return x * _mask(7, x.shape, 0.3) / 0.7


def _dropout2d_inputs(rng):
    return (rng.standard_normal((2, 5, 2, 3)),)


def _dropout2d(x):
    return F.dropout2d(x, 0.4, generator=lg.Generator(3))


def _dropout2d_ref(x):
    return x * _mask(3, (2, 5, 1, 1), 0.4) / 0.6


def _alpha_dropout(x):
    return F.alpha_dropout(x, 0.2, training=True, generator=lg.Generator(5))


def _alpha_dropout_ref(x):
    sat = -SELU_ALPHA * SELU_SCALE
    a = ((1 - 0.2) * (1 + 0.2 * sat ** 2)) ** -0.5
    b = -a * sat * 0.2
    return a * np.where(_mask(5, x.shape, 0.2), x, sat) + b


# ------------------------------------------------------------------------------ embedding

def _embedding_inputs(rng):
    # indices with repeats: the gradients of a repeated row accumulate
    return rng.standard_normal((5, 3)), rng.integers(0, 5, size=(2, 4))


def _embedding_inputs_without_2(rng):
    w, i = _embedding_inputs(rng)
    return w, np.where(i == 2, 3, i)


def _embedding_distinct(rng):
    return rng.standard_normal((7, 3)), rng.permutation(7)[:6].reshape(2, 3)


def _embedding_large(rng):
    return rng.standard_normal((9, 6)), rng.integers(0, 9, size=(5, 7))


SPECS = [
    OpSpec("erf", lg.erf, _wide, _erf, ("Erf",)),
    OpSpec("leaky_relu", lambda x: F.leaky_relu(x, 0.2), _kinked((0.0,)),
           lambda x: np.where(x > 0, x, 0.2 * x), ("LeakyRelu",), large_inputs=_one_large),
    OpSpec("elu", F.elu, _kinked((0.0,)), _elu_ref, ("Elu",)),
    OpSpec("selu", F.selu, _kinked((0.0,)),
           lambda x: _elu_ref(x, SELU_ALPHA, SELU_SCALE), ("Elu",)),
    OpSpec("celu", lambda x: F.celu(x, 2.0), _kinked((0.0,)),
           lambda x: _elu_ref(x, 2.0, 1.0, 0.5), ("Elu",)),
    OpSpec("gelu", F.gelu, _wide, lambda x: x * 0.5 * (1 + _erf(x / math.sqrt(2))),
           ("Gelu", "Erf"), large_inputs=_one_large),
    OpSpec("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), _wide, _gelu_tanh_ref,
           ("Gelu",)),
    OpSpec("prelu_channels", F.prelu, _prelu_channels, _prelu_ref, ("Prelu",)),
    OpSpec("prelu_single_slope", F.prelu, _prelu_single, _prelu_ref, ("Prelu",)),
    OpSpec("hardtanh", lambda x: F.hardtanh(x, -1.0, 1.5), _kinked((-1.0, 1.5)),
           lambda x: np.clip(x, -1.0, 1.5), ("Hardtanh",)),
    OpSpec("relu6", F.relu6, _kinked((0.0, 6.0), scale=4.0), lambda x: np.clip(x, 0, 6),
           ("Hardtanh",)),
    OpSpec("silu", F.silu, _wide, lambda x: x * _sigmoid(x), ("Silu",)),
    OpSpec("logsigmoid", F.logsigmoid, _wide, lambda x: -_softplus(-x), ("LogSigmoid",)),
    OpSpec("mish", F.mish, _wide, lambda x: x * np.tanh(_softplus(x))),
    OpSpec("softsign", F.softsign, _kinked((0.0,)), lambda x: x / (1 + np.abs(x))),
    OpSpec("tanhshrink", F.tanhshrink, _one, lambda x: x - np.tanh(x)),
    OpSpec("softmin", lambda x: F.softmin(x, dim=-1), _rows,
           lambda x: np.exp(-x) / np.exp(-x).sum(-1, keepdims=True)),
    OpSpec("hardsigmoid", F.hardsigmoid, _kinked((-3.0, 3.0), scale=3.0),
           lambda x: np.clip(x / 6 + 0.5, 0, 1), ("Hardsigmoid",)),
    OpSpec("hardswish", F.hardswish, _kinked((-3.0, 3.0), scale=3.0),
           lambda x: x * np.clip(x / 6 + 0.5, 0, 1), ("Hardswish",)),
    OpSpec("threshold", lambda x: F.threshold(x, 0.3, -2.0), _kinked((0.3,)),
           lambda x: np.where(x > 0.3, x, -2.0)),
    OpSpec("hardshrink", F.hardshrink, _kinked((-0.5, 0.5)),
           lambda x: np.where(np.abs(x) > 0.5, x, 0.0)),
    OpSpec("softshrink", F.softshrink, _kinked((-0.5, 0.5)),
           lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0.0), ("Softshrink",)),
    OpSpec("glu", F.glu, _rows, lambda x: x[:, :2] * _sigmoid(x[:, 2:])),
    OpSpec("dropout_fixed_mask", _dropout, _one, _dropout_ref, ("Dropout",),
           large_inputs=_one_large),
    OpSpec("dropout2d_fixed_mask", _dropout2d, _dropout2d_inputs, _dropout2d_ref, ("Dropout",)),
    OpSpec("alpha_dropout_fixed_mask", _alpha_dropout, _one, _alpha_dropout_ref, ("Dropout",)),
    OpSpec("embedding", lambda w, i: F.embedding(i, w), _embedding_inputs, lambda w, i: w[i],
           ("Embedding",), large_inputs=_embedding_large),
    # The padding row gets no gradient by design (finite differences would disagree), so the
    # indices avoid it here; tests/test_nn_layers.py checks that its gradient stays zero.
    OpSpec("embedding_padding_idx", lambda w, i: F.embedding(i, w, padding_idx=2),
           _embedding_inputs_without_2, lambda w, i: w[i], ("Embedding",)),
    # Scaling by frequency is deliberately not the gradient of the forward when an index
    # repeats, so the indices are distinct here (tests/test_nn_layers.py checks the scaling).
    OpSpec("embedding_scale_grad_by_freq",
           lambda w, i: F.embedding(i, w, scale_grad_by_freq=True), _embedding_distinct,
           lambda w, i: w[i], ("Embedding",)),
]

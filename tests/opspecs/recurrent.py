"""OpSpecs for locograd.ops.recurrent: the fused time steps of nn.RNN, nn.LSTM and nn.GRU."""
from __future__ import annotations

import numpy as np

from locograd.ops.recurrent import GRUStep, LSTMStep, RNNStep

from . import OpSpec
from ._shapes import normal


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _reference_lstm(gx, h, c, w):
    i, f, g, o = np.split(gx + h @ w.T, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def _reference_gru(gx, h, w, b=0.0):
    x_r, x_z, x_n = np.split(gx, 3, axis=-1)
    h_r, h_z, h_n = np.split(h @ w.T + b, 3, axis=-1)
    r, z = _sigmoid(x_r + h_r), _sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return (1.0 - z) * n + z * h


SPECS = [
    OpSpec("rnn_step_tanh", lambda gx, h, w: RNNStep.apply(gx, h, w, False),
           lambda rng: normal(rng, (2, 3), (2, 3), (3, 3)),
           reference=lambda gx, h, w: np.tanh(gx + h @ w.T), covers=("RNNStep", "TanhGrad"),
           large_inputs=lambda rng: normal(rng, (4, 6), (4, 6), (6, 6))),
    # The batch of one of a character RNN: the weight gradient is an outer product.
    OpSpec("rnn_step_tanh_batch_of_one", lambda gx, h, w: RNNStep.apply(gx, h, w, False),
           lambda rng: normal(rng, (1, 4), (1, 4), (4, 4)),
           reference=lambda gx, h, w: np.tanh(gx + h @ w.T), covers=("RNNStep",)),
    # ReLU's second derivative is zero wherever it exists: only first order is checked.
    OpSpec("rnn_step_relu", lambda gx, h, w: RNNStep.apply(gx, h, w, True),
           lambda rng: normal(rng, (2, 3), (2, 3), (3, 3)),
           reference=lambda gx, h, w: np.maximum(gx + h @ w.T, 0.0), covers=("RNNStep",),
           second_order=False),
    OpSpec("lstm_step", LSTMStep.apply,
           lambda rng: normal(rng, (2, 12), (2, 3), (2, 3), (12, 3)),
           reference=_reference_lstm, covers=("LSTMStep", "TanhGrad"),
           large_inputs=lambda rng: normal(rng, (3, 20), (3, 5), (3, 5), (20, 5))),
    OpSpec("gru_step", GRUStep.apply,
           lambda rng: normal(rng, (2, 9), (2, 3), (9, 3), (9,)),
           reference=_reference_gru, covers=("GRUStep", "TanhGrad"),
           large_inputs=lambda rng: normal(rng, (3, 15), (3, 5), (15, 5), (15,))),
    OpSpec("gru_step_no_hidden_bias", lambda gx, h, w: GRUStep.apply(gx, h, w, None),
           lambda rng: normal(rng, (2, 6), (2, 2), (6, 2)),
           reference=_reference_gru, covers=("GRUStep",)),
]

"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their cells, with PyTorch's parameters.

Training is backpropagation through time through the ordinary engine: the forward pass is a
Python loop over the time steps that builds the graph. To keep the graph small, the input
projection of every time step is one ``linear`` over the whole sequence, and each step is then
one fused node (``ops.recurrent``: the recurrent GEMM and the gates in one pass, with a
closed-form backward written once, which also serves higher derivatives).

Parameters (per layer ``k``, ``_reverse`` for the backward direction): ``weight_ih_l{k}``
(G*H, input), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), with
G = 1 (RNN), 4 (LSTM gates i, f, g, o) or 3 (GRU gates r, z, n), all initialised
U(-1/sqrt(H), 1/sqrt(H)). In the GRU, ``r`` multiplies ``W_hn h + b_hn``, as in PyTorch.
"""
from __future__ import annotations

import math


from .. import ops
from ..autograd.tensor_base import new_tensor
from ..backend import get_default_dtype, rng
from ..backend.devices import device_of, to_device
from ..factory import empty, zeros
from ..ops.recurrent import GRUStep, LSTMStep, RNNStep
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU"]


def _rnn_step(relu: bool, gx_t, h, w_hh):
    """tanh/ReLU RNN: ``act(gx_t + h W_hh^T)`` (both biases are already in ``gx_t``)."""
    return RNNStep.apply(gx_t, h, w_hh, relu)


def _lstm_step(gx_t, h, c, w_hh):
    """LSTM: one node with the GEMM and the gates; returns (h, c). Both biases are in gx_t."""
    return LSTMStep.apply(gx_t, h, c, w_hh)


def _gru_step(gx_t, h, w_hh, b_hh):
    return GRUStep.apply(gx_t, h, w_hh, b_hh)


_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _uniform_init(module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


# ------------------------------------------------------------------------------ cells

class RNNCellBase(Module):
    """``weight_ih`` (G*H, input), ``weight_hh`` (G*H, H), ``bias_ih`` and ``bias_hh`` (G*H,)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 dtype=None):
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"{type(self).__name__}: input_size and hidden_size must be "
                             f"positive, got ({input_size}, {hidden_size})")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dtype = dtype or get_default_dtype()
        g = num_chunks * hidden_size
        self.weight_ih = Parameter(empty(g, input_size, dtype=dtype))
        self.weight_hh = Parameter(empty(g, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(g, dtype=dtype))
            self.bias_hh = Parameter(empty(g, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    def _prepare(self, input, hx):
        """(batched input, batched hx or zeros, unbatched?) with the shapes checked."""
        d = input.data
        if d.ndim not in (1, 2) or d.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected an input of shape (N, "
                             f"{self.input_size}) or ({self.input_size},), got {tuple(d.shape)}")
        unbatched = d.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)
        n = input.data.shape[0]
        if hx is None:
            return input, zeros(n, self.hidden_size, dtype=d.dtype, device=input.device), \
                unbatched
        if unbatched:
            hx = hx.unsqueeze(0)
        if hx.data.shape != (n, self.hidden_size):
            raise ValueError(f"{type(self).__name__}: expected a hidden state of shape "
                             f"{(n, self.hidden_size)}, got {tuple(hx.data.shape)}")
        return input, hx, unbatched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class RNNCell(RNNCellBase):
    """Elman cell ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act tanh or relu.

    Example:
        >>> import locograd as lg
        >>> cell = lg.nn.RNNCell(3, 5)
        >>> cell(lg.ones(2, 3)).shape
        (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, 1, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, h, unbatched = self._prepare(input, hx)
        gx = ops.linear(x, self.weight_ih, self.bias_ih)
        if self.bias_hh is not None:
            gx = gx + self.bias_hh
        out = _rnn_step(self.nonlinearity == "relu", gx, h, self.weight_hh)
        return out.squeeze(0) if unbatched else out


class LSTMCell(RNNCellBase):
    """LSTM cell; ``forward(input, (h, c))`` returns ``(h', c')``.

    Example:
        >>> import locograd as lg
        >>> h, c = lg.nn.LSTMCell(3, 4)(lg.ones(2, 3))
        >>> h.shape, c.shape
        ((2, 4), (2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, input, hx=None):
        h0, c0 = (None, None) if hx is None else hx
        x, h, unbatched = self._prepare(input, h0)
        # The cell state has the hidden state's shape (checked by _prepare on a second call).
        c = zeros(*h.data.shape, dtype=h.data.dtype, device=h.device) if c0 is None else \
            self._prepare(input, c0)[1]
        gx = ops.linear(x, self.weight_ih, self.bias_ih)
        if self.bias_hh is not None:
            gx = gx + self.bias_hh
        h, c = _lstm_step(gx, h, c, self.weight_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """GRU cell: ``r, z = sigma(...)``, ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``,
    ``h' = (1 - z) n + z h``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.GRUCell(3, 4)(lg.ones(2, 3)).shape
        (2, 4)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, input, hx=None):
        x, h, unbatched = self._prepare(input, hx)
        out = _gru_step(ops.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                        self.bias_hh)
        return out.squeeze(0) if unbatched else out


# ------------------------------------------------------------------------------ sequences

class RNNBase(Module):
    """Multi-layer, optionally bidirectional recurrent layer over (L, N, input) sequences.

    ``forward(input, hx=None)`` returns ``(output, h_n)`` (``(output, (h_n, c_n))`` for LSTM):
    ``output`` (L, N, D*H) holds the last layer's hidden states (``batch_first``: (N, L, D*H)),
    ``h_n`` (num_layers*D, N, H) the final state of every layer and direction. Unbatched
    inputs (L, input) give (L, D*H) and (num_layers*D, H). Dropout (training only) is applied to
    the outputs of every layer but the last.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, dtype=None):
        super().__init__()
        name = type(self).__name__
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{name}: input_size, hidden_size and num_layers must be positive, "
                             f"got ({input_size}, {hidden_size}, {num_layers})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        dtype = dtype or get_default_dtype()
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                setattr(self, "weight_ih" + suffix,
                        Parameter(empty(gate_size, layer_input, dtype=dtype)))
                setattr(self, "weight_hh" + suffix,
                        Parameter(empty(gate_size, hidden_size, dtype=dtype)))
                if bias:
                    setattr(self, "bias_ih" + suffix, Parameter(empty(gate_size, dtype=dtype)))
                    setattr(self, "bias_hh" + suffix, Parameter(empty(gate_size, dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    def _weights(self, layer: int, direction: int):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        p = self._parameters
        return (p["weight_ih" + suffix], p["weight_hh" + suffix], p.get("bias_ih" + suffix),
                p.get("bias_hh" + suffix))

    def _initial_state(self, state, shape, dtype, what: str, device=None):
        if state is None:
            return zeros(*shape, dtype=dtype, device=device)  # on the input's device
        if state.data.shape != shape:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {shape}, got "
                             f"{tuple(state.data.shape)}")
        return state

    def forward(self, input, hx=None):
        name, d = type(self).__name__, input.data
        if d.ndim not in (2, 3) or d.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected an input of shape (L, N, {self.input_size}) "
                             f"(or (N, L, ...) with batch_first, or (L, {self.input_size}) "
                             f"unbatched), got {tuple(d.shape)}")
        unbatched = d.ndim == 2
        if unbatched:
            input = input.unsqueeze(1)
            if hx is not None:
                hx = tuple(s.unsqueeze(1) for s in hx) if self.mode == "LSTM" \
                    else hx.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        directions = 2 if self.bidirectional else 1
        shape = (self.num_layers * directions, input.data.shape[1], self.hidden_size)
        lstm = self.mode == "LSTM"
        if lstm:
            h0, c0 = (None, None) if hx is None else hx
            c0 = self._initial_state(c0, shape, d.dtype, "c_0", input.device)
        else:
            h0 = hx
        h0 = self._initial_state(h0, shape, d.dtype, "h_0", input.device)
        final_h, final_c = [], []
        layer_input = input
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                out, h, c = self._run_direction(layer_input, layer, direction, h0[k],
                                                c0[k] if lstm else None)
                outputs.append(out)
                final_h.append(h)
                final_c.append(c)
            layer_input = outputs[0] if directions == 1 else ops.cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = _dropout(layer_input, self.dropout)
        output, h_n = layer_input, ops.stack(final_h, 0)
        state = (h_n, ops.stack(final_c, 0)) if lstm else h_n
        if unbatched:
            output = output.squeeze(1)
            state = tuple(s.squeeze(1) for s in state) if lstm else state.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, state

    def _run_direction(self, x, layer: int, direction: int, h, c):
        """One layer in one direction over the sequence: (outputs (L, N, H), h_L, c_L)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        gx = ops.linear(x, w_ih, b_ih)  # every time step's input projection in one GEMM
        if b_hh is not None and self.mode != "GRU":  # GRU keeps b_hh inside r * (...)
            gx = gx + b_hh
        steps = ops.unbind(gx, 0)
        order = range(len(steps) - 1, -1, -1) if direction else range(len(steps))
        hs = [None] * len(steps)
        if self.mode == "LSTM":
            for t in order:
                h, c = _lstm_step(steps[t], h, c, w_hh)
                hs[t] = h
        elif self.mode == "GRU":
            for t in order:
                h = hs[t] = _gru_step(steps[t], h, w_hh, b_hh)
        else:
            relu = self.mode == "RNN_RELU"
            for t in order:
                h = hs[t] = _rnn_step(relu, steps[t], h, w_hh)
        return ops.stack(hs, 0), h, c

    def flatten_parameters(self) -> None:
        """A no-op, as in PyTorch on the CPU (there it packs the weights for cuDNN)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        for flag, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):
            if getattr(self, flag) != default:
                s += f", {flag}={getattr(self, flag)}"
        return s


def _dropout(x, p: float):
    """Inverted dropout with a mask from locograd's seeded generator (drawn on the host, copied
    to the input's device: one seed, the same masks everywhere)."""
    if p >= 1.0:
        return x * 0.0
    keep = rng(None).random(x.data.shape) >= p
    mask = (keep / (1.0 - p)).astype(x.data.dtype)
    return x * new_tensor(to_device(mask, device_of(x.data)))


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` per layer.

    Args:
        input_size, hidden_size: feature sizes.
        num_layers: stacked layers.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        bias: learn ``bias_ih``/``bias_hh``.
        batch_first: inputs and outputs are (N, L, features).
        dropout: dropout probability on the outputs of all layers but the last.
        bidirectional: also run each layer backwards in time (outputs concatenated).

    Example:
        >>> import locograd as lg
        >>> rnn = lg.nn.RNN(3, 5, num_layers=2)
        >>> out, h_n = rnn(lg.ones(7, 2, 3))
        >>> out.shape, h_n.shape
        ((7, 2, 5), (2, 2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory; ``forward(input, (h_0, c_0))`` returns
    ``(output, (h_n, c_n))``. Arguments as ``RNN`` (no nonlinearity; ``proj_size`` unsupported).

    Example:
        >>> import locograd as lg
        >>> out, (h, c) = lg.nn.LSTM(3, 4, batch_first=True)(lg.ones(2, 6, 3))
        >>> out.shape, h.shape, c.shape
        ((2, 6, 4), (1, 2, 4), (1, 2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, dtype)


class GRU(RNNBase):
    """Gated recurrent unit; arguments and outputs as ``RNN``.

    Example:
        >>> import locograd as lg
        >>> out, h = lg.nn.GRU(3, 4, bidirectional=True)(lg.ones(5, 3))
        >>> out.shape, h.shape
        ((5, 8), (2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype=dtype)

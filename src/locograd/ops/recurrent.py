"""One recurrent time step as one graph node: the recurrent GEMM and the pointwise update.

Backpropagation through time still runs through the ordinary engine: each time step is a node,
and the gradient of the shared recurrent weight sums over the steps like any fan-out. Fusing
the step keeps the graph at one node per step (instead of a GEMM, an add, the gate slices and
the activations), which is what makes a character-level RNN cheap per iteration. Used by
``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and their cells.

Every node takes ``gx``, the input projection of its time step with the biases already added
(computed for the whole sequence in one GEMM). Each backward is one rule over values: arrays
(NumPy or CuPy) on an unrecorded pass, tensors when it is recorded (``create_graph=True``). The
gates saved by the forward are arrays, constants on a recorded pass, so there the rule first
recomputes them from the saved inputs with the same gate function as the forward
(``_lstm_cell``, ``_gru_gates``), differentiably; the rest of the rule is shared. The tanh RNN's
activation derivative is the fused ``tanh_grad`` (one pass on arrays, a differentiable node on
tensors); the gated cells use plain products, cheaper at these sizes than several fused calls.
The 2-D products use ``xp.dot``: for the small shapes of a recurrence (a batch of 1: the weight
gradient is an outer product) it is up to 5x faster than ``matmul`` in NumPy, and the same BLAS
call for large ones.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase
from ..backend import namespace
from .unary import tanh_grad

__all__ = ["RNNStep", "LSTMStep", "GRUStep"]


def _sigmoid(xp, a):
    return 0.5 + 0.5 * xp.tanh(0.5 * a)  # an exact identity that never overflows


class RNNStep(Function):
    """``h = act(gx + h_prev @ W_hh^T)`` with act tanh or ReLU."""

    label = "RNNStep"

    @staticmethod
    def forward(ctx, gx, h_prev, w_hh, relu):
        hp = h_prev.data
        xp = namespace(hp)
        out = xp.dot(hp, w_hh.data.T)
        out += gx.data
        if relu:
            xp.maximum(out, 0, out=out)
        else:
            xp.tanh(out, out=out)
        need = ctx.needs_input_grad
        ctx.relu = relu
        ctx.save_for_backward(h_prev if need[2] else None, w_hh if need[1] else None, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        h_prev, w_hh, out = ctx.saved_tensors
        need = ctx.needs_input_grad
        xp = namespace(grad)
        da = grad * (out > 0) if ctx.relu else tanh_grad(out, grad)
        return (da if need[0] else None, xp.dot(da, w_hh) if need[1] else None,
                xp.dot(da.T, h_prev) if need[2] else None, None)


def _lstm_cell(xp, a, c_prev):
    """From the pre-activations ``a = gx + h_prev W_hh^T`` ([i, f, g, o]) and ``c_prev``:
    (the sigmoids of ``a`` (read for i, f, o), ``g``, ``c``, ``tanh(c)``)."""
    n = a.shape[-1] // 4
    s = _sigmoid(xp, a)
    g = xp.tanh(a[:, 2 * n:3 * n])
    c = s[:, n:2 * n] * c_prev + s[:, :n] * g
    return s, g, c, xp.tanh(c)


class LSTMStep(Function):
    """One LSTM step: ``gates = gx + h_prev @ W_hh^T`` ([i, f, g, o]),
    ``c = f c_prev + i g``, ``h = o tanh(c)``; returns ``(h, c)``."""

    label = "LSTMStep"

    @staticmethod
    def forward(ctx, gx, h_prev, c_prev, w_hh):
        xp = namespace(h_prev.data)
        a = xp.dot(h_prev.data, w_hh.data.T)
        a += gx.data
        s, g, c, tanh_c = _lstm_cell(xp, a, c_prev.data)
        ctx.save_for_backward(gx, h_prev, c_prev, w_hh, s, g, tanh_c)
        return s[:, 3 * g.shape[-1]:] * tanh_c, c

    @staticmethod
    def backward(ctx, grad_h, grad_c):
        gx, h_prev, c_prev, w_hh, s, g, tanh_c = ctx.saved_tensors
        need = ctx.needs_input_grad
        xp = namespace(grad_h)
        if isinstance(grad_h, TensorBase):  # recorded: the gates as functions of the inputs
            s, g, _, tanh_c = _lstm_cell(xp, xp.dot(h_prev, w_hh.T) + gx, c_prev)
        n = g.shape[-1]
        i, f, o = s[:, :n], s[:, n:2 * n], s[:, 3 * n:]
        # Plain products (not the fused tanh_grad/sigmoid_grad): at a recurrence's small sizes
        # the Python calls of five fused helpers cost more than they save.
        dc = grad_h * o * (1.0 - tanh_c * tanh_c) + grad_c  # (not +=: no in-place on tensors)
        d_gates = xp.concatenate([dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f),
                                  dc * i * (1.0 - g * g), grad_h * tanh_c * o * (1.0 - o)],
                                 axis=1)
        return (d_gates if need[0] else None,
                xp.dot(d_gates, w_hh) if need[1] else None,
                dc * f if need[2] else None,
                xp.dot(d_gates.T, h_prev) if need[3] else None)


def _gru_gates(xp, gx, gh):
    """From the input and hidden projections ``gx``, ``gh`` ([r, z, n]): (``[r, z]``, ``n``)."""
    n_h = gx.shape[-1] // 3
    rz = _sigmoid(xp, gx[:, :2 * n_h] + gh[:, :2 * n_h])
    return rz, xp.tanh(gx[:, 2 * n_h:] + rz[:, :n_h] * gh[:, 2 * n_h:])


class GRUStep(Function):
    """One GRU step: ``gh = h_prev @ W_hh^T + b_hh`` ([r, z, n]), ``r, z = sigma(gx + gh)``,
    ``n = tanh(gx_n + r * gh_n)``, ``h = (1 - z) n + z h_prev`` (PyTorch's GRU)."""

    label = "GRUStep"

    @staticmethod
    def forward(ctx, gx, h_prev, w_hh, b_hh):
        hp = h_prev.data
        xp = namespace(hp)
        gh = xp.dot(hp, w_hh.data.T)
        if b_hh is not None:
            gh += b_hh.data
        rz, n = _gru_gates(xp, gx.data, gh)
        ctx.save_for_backward(gx, h_prev, w_hh, b_hh, rz, n, gh)
        return n + rz[:, hp.shape[-1]:] * (hp - n)

    @staticmethod
    def backward(ctx, grad):
        gx, hp, w_hh, b_hh, rz, n, gh = ctx.saved_tensors
        need = ctx.needs_input_grad
        xp = namespace(grad)
        if isinstance(grad, TensorBase):  # recorded: the gates as functions of the inputs
            gh = xp.dot(hp, w_hh.T)
            if b_hh is not None:
                gh = gh + b_hh
            rz, n = _gru_gates(xp, gx, gh)
        n_h = hp.shape[-1]
        r, z = rz[:, :n_h], rz[:, n_h:]
        dn = grad * (1.0 - z) * (1.0 - n * n)  # plain products, as in LSTMStep
        dr = dn * gh[:, 2 * n_h:] * r * (1.0 - r)
        dz = grad * (hp - n) * z * (1.0 - z)
        d_gh = xp.concatenate([dr, dz, dn * r], axis=1)
        return (xp.concatenate([dr, dz, dn], axis=1) if need[0] else None,
                grad * z + xp.dot(d_gh, w_hh) if need[1] else None,
                xp.dot(d_gh.T, hp) if need[2] else None,
                d_gh if need[3] else None)

"""One recurrent time step as one graph node: the recurrent GEMM and the pointwise update.

Backpropagation through time still runs through the ordinary engine: each time step is a node,
and the gradient of the shared recurrent weight sums over the steps like any fan-out. Fusing
the step keeps the graph at one node per step (instead of a GEMM, an add, the gate slices and
the activations), which is what makes a character-level RNN cheap per iteration.

Every node takes ``gx``, the input projection of its time step with the biases already added
(computed for the whole sequence in one GEMM), and has a NumPy backward (``backward_np``) and a
tensor-op backward (``backward``) so that it can be differentiated again. The 2-D products use
``np.dot``: for the small shapes of a recurrence (a batch of 1: the weight gradient is an outer
product) it is up to 5x faster than ``np.matmul``, and the same BLAS call for large ones.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd.function import Function
from ..ops.unary import TanhGrad

_LEGACY_RULES = True  # TRANSITION: twin rules not yet merged (see Function)

__all__ = ["RNNStep", "LSTMStep", "GRUStep"]


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * a)  # an exact identity that never overflows


class RNNStep(Function):
    """``h = act(gx + h_prev @ W_hh^T)`` with act tanh or ReLU."""

    label = "RNNStep"

    @staticmethod
    def forward(ctx, gx, h_prev, w_hh, relu):
        out = np.dot(h_prev.data, w_hh.data.T)
        out += gx.data
        if relu:
            np.maximum(out, 0, out=out)
        else:
            np.tanh(out, out=out)
        need = ctx.needs_input_grad
        ctx.relu = relu
        ctx.save_for_backward(h_prev if need[2] else None, w_hh if need[1] else None, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        h_prev, w_hh, out = ctx.saved_tensors
        need = ctx.needs_input_grad
        da = grad * (out.data > 0) if ctx.relu else TanhGrad.apply(out, grad)
        return (da if need[0] else None, ops.matmul(da, w_hh) if need[1] else None,
                ops.matmul(da.mT, h_prev) if need[2] else None, None)

    @staticmethod
    def backward_np(ctx, grad):
        h_prev, w_hh, out = ctx.saved_arrays
        need = ctx.needs_input_grad
        if ctx.relu:
            da = grad * (out > 0)
        else:
            da = np.multiply(out, out)
            np.subtract(1.0, da, out=da)
            da *= grad
        return (da if need[0] else None, np.dot(da, w_hh) if need[1] else None,
                np.dot(da.T, h_prev) if need[2] else None, None)


class LSTMStep(Function):
    """One LSTM step: ``gates = gx + h_prev @ W_hh^T`` ([i, f, g, o]),
    ``c = f c_prev + i g``, ``h = o tanh(c)``; returns ``(h, c)``."""

    label = "LSTMStep"

    @staticmethod
    def forward(ctx, gx, h_prev, c_prev, w_hh):
        a = np.dot(h_prev.data, w_hh.data.T)
        a += gx.data
        n = a.shape[-1] // 4
        act = _sigmoid(a)
        act[:, 2 * n:3 * n] = np.tanh(a[:, 2 * n:3 * n])
        i, f, g, o = act[:, :n], act[:, n:2 * n], act[:, 2 * n:3 * n], act[:, 3 * n:]
        c = f * c_prev.data
        c += i * g
        tanh_c = np.tanh(c)
        ctx.save_for_backward(gx, h_prev, c_prev, w_hh, act, tanh_c)
        return o * tanh_c, c

    @staticmethod
    def backward(ctx, grad_h, grad_c):
        gx, h_prev, c_prev, w_hh, _, _ = ctx.saved_tensors
        need = ctx.needs_input_grad
        n = h_prev.data.shape[-1]
        a_i, a_f, a_g, a_o = ops.split(gx + ops.linear(h_prev, w_hh), n, -1)
        i, f, g, o = ops.sigmoid(a_i), ops.sigmoid(a_f), ops.tanh(a_g), ops.sigmoid(a_o)
        tanh_c = ops.tanh(f * c_prev + i * g)
        dc = grad_c + grad_h * o * (1.0 - tanh_c * tanh_c)
        d_gates = ops.cat([dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f),
                           dc * i * (1.0 - g * g), grad_h * tanh_c * o * (1.0 - o)], -1)
        return (d_gates if need[0] else None,
                ops.matmul(d_gates, w_hh) if need[1] else None,
                dc * f if need[2] else None,
                ops.matmul(d_gates.mT, h_prev) if need[3] else None)

    @staticmethod
    def backward_np(ctx, grad_h, grad_c):
        _, h_prev, c_prev, w_hh, act, tanh_c = ctx.saved_arrays
        need = ctx.needs_input_grad
        n = act.shape[-1] // 4
        i, f, g, o = act[:, :n], act[:, n:2 * n], act[:, 2 * n:3 * n], act[:, 3 * n:]
        dc = grad_h * o * (1.0 - tanh_c * tanh_c)
        dc += grad_c
        d_gates = np.empty_like(act)
        d_gates[:, :n] = dc * g * i * (1.0 - i)
        d_gates[:, n:2 * n] = dc * c_prev * f * (1.0 - f)
        d_gates[:, 2 * n:3 * n] = dc * i * (1.0 - g * g)
        d_gates[:, 3 * n:] = grad_h * tanh_c * o * (1.0 - o)
        return (d_gates if need[0] else None,
                np.dot(d_gates, w_hh) if need[1] else None,
                dc * f if need[2] else None,
                np.dot(d_gates.T, h_prev) if need[3] else None)


class GRUStep(Function):
    """One GRU step: ``gh = h_prev @ W_hh^T + b_hh`` ([r, z, n]), ``r, z = sigma(gx + gh)``,
    ``n = tanh(gx_n + r * gh_n)``, ``h = (1 - z) n + z h_prev`` (PyTorch's GRU)."""

    label = "GRUStep"

    @staticmethod
    def forward(ctx, gx, h_prev, w_hh, b_hh):
        hp = h_prev.data
        b = np.dot(hp, w_hh.data.T)
        if b_hh is not None:
            b += b_hh.data
        a = gx.data
        n_h = hp.shape[-1]
        rz = _sigmoid(a[:, :2 * n_h] + b[:, :2 * n_h])
        r, z = rz[:, :n_h], rz[:, n_h:]
        n = np.tanh(a[:, 2 * n_h:] + r * b[:, 2 * n_h:])
        ctx.save_for_backward(gx, h_prev, w_hh, b_hh, rz, n, b)
        return n + z * (hp - n)

    @staticmethod
    def backward(ctx, grad):
        gx, h_prev, w_hh, b_hh, _, _, _ = ctx.saved_tensors
        need = ctx.needs_input_grad
        n_h = h_prev.data.shape[-1]
        gh = ops.linear(h_prev, w_hh, b_hh)
        x_r, x_z, x_n = ops.split(gx, n_h, -1)
        h_r, h_z, h_n = ops.split(gh, n_h, -1)
        r, z = ops.sigmoid(x_r + h_r), ops.sigmoid(x_z + h_z)
        n = ops.tanh(x_n + r * h_n)
        dn = grad * (1.0 - z) * (1.0 - n * n)
        dr = dn * h_n * r * (1.0 - r)
        dz = grad * (h_prev - n) * z * (1.0 - z)
        d_gh = ops.cat([dr, dz, dn * r], -1)
        return (ops.cat([dr, dz, dn], -1) if need[0] else None,
                grad * z + ops.matmul(d_gh, w_hh) if need[1] else None,
                ops.matmul(d_gh.mT, h_prev) if need[2] else None,
                d_gh if need[3] else None)

    @staticmethod
    def backward_np(ctx, grad):
        _, hp, w_hh, b_hh, rz, n, b = ctx.saved_arrays
        need = ctx.needs_input_grad
        n_h = hp.shape[-1]
        r, z = rz[:, :n_h], rz[:, n_h:]
        dn = grad * (1.0 - z) * (1.0 - n * n)
        d_gx = np.empty_like(b)
        d_gx[:, :n_h] = dn * b[:, 2 * n_h:] * r * (1.0 - r)
        d_gx[:, n_h:2 * n_h] = grad * (hp - n) * z * (1.0 - z)
        d_gx[:, 2 * n_h:] = dn
        d_gh = d_gx.copy()
        d_gh[:, 2 * n_h:] *= r
        return (d_gx if need[0] else None,
                grad * z + np.dot(d_gh, w_hh) if need[1] else None,
                np.dot(d_gh.T, hp) if need[2] else None,
                d_gh if need[3] else None)

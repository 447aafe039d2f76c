"""Matrix products: ``matmul`` (1-D, 2-D and batched, PyTorch semantics), ``linear``, ``outer``.

The operands of a product must have the same dtype (as in PyTorch): a float32 model fed float64
data is an error that says so, not a silent upcast of the whole model to float64.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ._common import to_array

_LEGACY_RULES = True  # TRANSITION: twin rules not yet merged (see Function)

__all__ = ["MatMul", "Linear", "matmul", "mm", "bmm", "dot", "mv", "outer", "linear"]


def _check_matmul(a: np.ndarray, b: np.ndarray, name: str) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"{name}: both arguments need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"{name}: cannot multiply {_fmt(a.shape)} by {_fmt(b.shape)} "
                         f"(inner dimensions {k_a} and {k_b} differ)")
    if a.dtype != b.dtype:
        raise TypeError(f"{name}: expected both operands to have the same dtype, got {a.dtype} "
                        f"(shape {a.shape}) and {b.dtype} (shape {b.shape}); convert one with "
                        f".to() / .float() / .double()")
    if a.ndim > 2 and b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"{name}: the batch dimensions of {_fmt(a.shape)} and "
                             f"{_fmt(b.shape)} cannot be broadcast together") from None


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


class MatMul(Function):
    label = "MatMul"

    @staticmethod
    def forward(ctx, a, b):
        x, y = to_array(a, "matmul"), to_array(b, "matmul")
        _check_matmul(x, y, "matmul")
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        ctx.nd = (x.ndim, y.ndim)
        # np.dot is the same BLAS call for 2-D operands with less overhead on small ones.
        return np.dot(x, y) if x.ndim == 2 and y.ndim == 2 else np.matmul(x, y)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        nda, ndb = ctx.nd
        ga = gb = None
        if nda == 1 and ndb == 1:  # dot product
            ga = grad * b if need[0] else None
            gb = grad * a if need[1] else None
        elif nda == 1:  # (n,) @ (..., n, m) -> (..., m)
            if need[0]:
                ga = matmul(b, grad.unsqueeze(-1)).squeeze(-1)
            if need[1]:
                gb = a.unsqueeze(-1) * grad.unsqueeze(-2)
        elif ndb == 1:  # (..., k, n) @ (n,) -> (..., k)
            if need[0]:
                ga = grad.unsqueeze(-1) * b
            if need[1]:
                gb = matmul(a.mT, grad.unsqueeze(-1)).squeeze(-1)
        else:
            if need[0]:
                ga = matmul(grad, b.mT)
            if need[1]:
                gb = matmul(a.mT, grad)
        # Batch dimensions that were broadcast are summed by the engine.
        return ga, gb

    @staticmethod
    def backward_np(ctx, grad):
        a, b = ctx.saved_arrays
        need = ctx.needs_input_grad
        nda, ndb = ctx.nd
        ga = gb = None
        if nda == 1 and ndb == 1:
            ga = grad * b if need[0] else None
            gb = grad * a if need[1] else None
        elif nda == 1:
            if need[0]:
                ga = np.matmul(b, grad[..., None])[..., 0]
            if need[1]:
                gb = a[:, None] * grad[..., None, :]
        elif ndb == 1:
            if need[0]:
                ga = grad[..., None] * b
            if need[1]:
                gb = np.matmul(np.swapaxes(a, -1, -2), grad[..., None])[..., 0]
        elif nda == 2 and ndb == 2:
            if need[0]:
                ga = np.dot(grad, b.T)
            if need[1]:
                gb = np.dot(a.T, grad)
        else:
            if need[0]:
                ga = np.matmul(grad, np.swapaxes(b, -1, -2))
            if need[1]:
                gb = np.matmul(np.swapaxes(a, -1, -2), grad)
        return ga, gb


def matmul(a, b):
    """Matrix product with PyTorch semantics: 1-D operands are vectors, batch dims broadcast.

    Example:
        >>> import locograd as lg
        >>> lg.matmul(lg.ones(2, 3), lg.ones(3)).tolist()
        [3.0, 3.0]
    """
    return MatMul.apply(a, b)


def mm(a, b):
    """2-D matrix product."""
    x, y = to_array(a, "mm"), to_array(b, "mm")
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"mm: expects two 2-D tensors, got shapes {x.shape} and {y.shape}")
    return MatMul.apply(a, b)


def bmm(a, b):
    """Batched product of two 3-D tensors (b, n, k) @ (b, k, m)."""
    x, y = to_array(a, "bmm"), to_array(b, "bmm")
    if x.ndim != 3 or y.ndim != 3 or x.shape[0] != y.shape[0]:
        raise ValueError(f"bmm: expects two 3-D tensors with the same batch size, got shapes "
                         f"{x.shape} and {y.shape}")
    return MatMul.apply(a, b)


def dot(a, b):
    x, y = to_array(a, "dot"), to_array(b, "dot")
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"dot: expects two 1-D tensors, got shapes {x.shape} and {y.shape}")
    return MatMul.apply(a, b)


def mv(a, b):
    x, y = to_array(a, "mv"), to_array(b, "mv")
    if x.ndim != 2 or y.ndim != 1:
        raise ValueError(f"mv: expects a 2-D and a 1-D tensor, got shapes {x.shape} and "
                         f"{y.shape}")
    return MatMul.apply(a, b)


def outer(a, b):
    """Outer product of two vectors: ``a[:, None] * b[None, :]``."""
    x, y = to_array(a, "outer"), to_array(b, "outer")
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"outer: expects two 1-D tensors, got shapes {x.shape} and {y.shape}")
    return a.unsqueeze(1) * b


class Linear(Function):
    """``x @ weight.T + bias`` fused in one node (one GEMM, the bias added in place)."""

    label = "Linear"

    @staticmethod
    def forward(ctx, x, weight, bias):
        xd, w = x.data, weight.data
        if w.ndim != 2 or xd.ndim == 0 or xd.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: cannot multiply the input of shape {_fmt(xd.shape)} by "
                             f"weight.T with weight of shape {_fmt(w.shape)} (expected the "
                             f"input's last dimension to be in_features={w.shape[-1]})")
        if xd.dtype != w.dtype:
            raise TypeError(f"linear: the input has dtype {xd.dtype} but the weight has dtype "
                            f"{w.dtype}; convert the input with .to({w.dtype})")
        if bias is not None and (bias.data.shape != (w.shape[0],) or bias.data.dtype != w.dtype):
            raise ValueError(f"linear: the bias must have shape ({w.shape[0]},) and dtype "
                             f"{w.dtype} like the weight (shape {w.shape}), got shape "
                             f"{bias.data.shape} and dtype {bias.data.dtype}")
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] else None, weight if need[0] else None)
        out = np.dot(xd, w.T)  # x (..., in) . W^T (in, out): one GEMM for any leading dims
        if bias is not None:
            out += bias.data
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = matmul(grad, weight)
        if need[1]:
            if grad.data.ndim == 2:
                gw = matmul(grad.mT, x)
            else:  # (..., out) and (..., in): contract all the leading dims
                gw = matmul(grad.reshape(-1, grad.shape[-1]).mT, x.reshape(-1, x.shape[-1]))
        if need[2]:
            gb = grad  # the engine sums the broadcast dims back to (out,)
        return gx, gw, gb

    @staticmethod
    def backward_np(ctx, grad):
        x, weight = ctx.saved_arrays
        need = ctx.needs_input_grad
        gx = np.dot(grad, weight) if need[0] else None
        gw = None
        if need[1]:
            g2 = grad if grad.ndim == 2 else grad.reshape(-1, grad.shape[-1])
            x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
            gw = np.dot(g2.T, x2)
        gb = None
        if need[2]:
            gb = grad.sum(axis=tuple(range(grad.ndim - 1))) if grad.ndim > 1 else grad
        return gx, gw, gb


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` with ``weight`` of shape (out_features, in_features), as PyTorch."""
    return Linear.apply(x, weight, bias)

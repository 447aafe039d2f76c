"""Matrix products: ``matmul`` (1-D, 2-D and batched, PyTorch semantics), ``linear``, ``outer``.

The operands of a product must have the same dtype (as in PyTorch): a float32 model fed float64
data is an error that says so, not a silent upcast of the whole model to float64.

Each rule is written once over values (arrays on the fast path, tensors when the backward pass
is recorded). An N-D operand against a 2-D one (``(batch, time, features) @ weight``) is folded
into one 2-D GEMM in the forward and in both gradients.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backend import namespace
from ._common import is_array, to_array

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


def _folded_dot(xp, a, b):
    """``a (..., k) @ b (k, m)`` as one 2-D GEMM over the folded leading dimensions of ``a``
    (``np.dot`` on an N-D ``a`` loops in C without BLAS; ``matmul`` would batch small GEMMs)."""
    if a.ndim <= 2:
        return xp.dot(a, b)
    return xp.dot(a.reshape((-1, a.shape[-1])), b).reshape(tuple(a.shape[:-1]) + (b.shape[-1],))


def _rows(v):
    """``v`` as a matrix of rows: its leading dimensions folded into one (1-D: one row)."""
    return v if v.ndim == 2 else v.reshape((-1, v.shape[-1]))


def _sum_leading(xp, g):
    """``g`` summed over all but its last dimension (the bias gradient of ``linear``)."""
    if g.ndim <= 1:
        return g
    axes = tuple(range(g.ndim - 1))
    # an array's own .sum (NumPy's and CuPy's) skips np.sum's dispatch: ~2 us a call here
    return g.sum(axis=axes) if is_array(g) else xp.sum(g, axis=axes)


class MatMul(Function):
    label = "MatMul"

    @staticmethod
    def forward(ctx, a, b):
        x, y = to_array(a, "matmul"), to_array(b, "matmul")
        _check_matmul(x, y, "matmul")
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        ctx.nd = (x.ndim, y.ndim)
        xp = namespace(x)
        # np.dot is the same BLAS call for 2-D operands with less overhead on small ones.
        return _folded_dot(xp, x, y) if y.ndim == 2 else xp.matmul(x, y)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        nda, ndb = ctx.nd
        xp = namespace(grad)
        ga = gb = None
        if nda == 2 and ndb == 2:  # the common case first, without the folding helpers
            ga = xp.dot(grad, b.T) if need[0] else None
            gb = xp.dot(a.T, grad) if need[1] else None
        elif nda == 1 and ndb == 1:  # dot product
            ga = grad * b if need[0] else None
            gb = grad * a if need[1] else None
        elif nda == 1:  # (k,) @ (..., k, m) -> (..., m)
            if need[0]:
                ga = xp.dot(b, grad) if ndb == 2 else \
                    xp.squeeze(xp.matmul(b, xp.expand_dims(grad, -1)), -1)
            if need[1]:
                gb = xp.expand_dims(a, -1) * xp.expand_dims(grad, -2)
        elif ndb == 1:  # (..., n, k) @ (k,) -> (..., n)
            if need[0]:
                ga = xp.expand_dims(grad, -1) * b
            if need[1]:  # the batch dimensions folded into one contraction
                gb = xp.dot(_rows(a).T, grad.reshape((-1,)))
        elif ndb == 2:  # (..., n, k) @ (k, m): one GEMM each, the batch dims folded
            if need[0]:
                ga = _folded_dot(xp, grad, b.T)
            if need[1]:
                gb = xp.dot(_rows(a).T, _rows(grad))
        else:
            if need[0]:
                ga = xp.matmul(grad, xp.swapaxes(b, -1, -2))
            if need[1]:
                gb = xp.matmul(xp.swapaxes(a, -1, -2), grad)
        # Batch dimensions that were broadcast are summed by the engine.
        return ga, gb


def matmul(a, b):
    """Matrix product with PyTorch semantics: 1-D operands are vectors, batch dims broadcast.

    Example:
        >>> import locograd as lg
        >>> lg.matmul(lg.ones(2, 3), lg.ones(3)).tolist()
        [3.0, 3.0]
    """
    return MatMul.apply(a, b)


def _named_product(a, b, name: str, ndims, expects: str):
    """A named product (mm, bmm, dot, mv): its shape rule, then the checks of matmul under
    its own name, so that errors say ``dot`` rather than ``matmul``."""
    x, y = to_array(a, name), to_array(b, name)
    if (x.ndim, y.ndim) != ndims or (name == "bmm" and x.shape[0] != y.shape[0]):
        raise ValueError(f"{name}: expects {expects}, got shapes {x.shape} and {y.shape}")
    _check_matmul(x, y, name)
    return MatMul.apply(a, b)


def mm(a, b):
    """2-D matrix product."""
    return _named_product(a, b, "mm", (2, 2), "two 2-D tensors")


def bmm(a, b):
    """Batched product of two 3-D tensors (b, n, k) @ (b, k, m)."""
    return _named_product(a, b, "bmm", (3, 3), "two 3-D tensors with the same batch size")


def dot(a, b):
    """The inner product of two 1-D tensors of the same size and dtype.

    Example:
        >>> import locograd as lg
        >>> lg.dot(lg.tensor([1.0, 2.0]), lg.tensor([3.0, 4.0])).item()
        11.0
    """
    return _named_product(a, b, "dot", (1, 1), "two 1-D tensors")


def mv(a, b):
    """The product of a matrix (n, k) and a vector (k,)."""
    return _named_product(a, b, "mv", (2, 1), "a 2-D and a 1-D tensor")


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
        out = _folded_dot(namespace(xd), xd, w.T)  # x (..., in) . W^T (in, out): one GEMM
        if bias is not None:
            out += bias.data
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        xp = namespace(grad)
        gx = _folded_dot(xp, grad, weight) if need[0] else None
        # (..., out) and (..., in): all the leading dims contracted in one GEMM
        gw = xp.dot(_rows(grad).T, _rows(x)) if need[1] else None
        gb = _sum_leading(xp, grad) if need[2] else None
        return gx, gw, gb


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` with ``weight`` of shape (out_features, in_features), as PyTorch."""
    return Linear.apply(x, weight, bias)

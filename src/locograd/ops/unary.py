"""Unary math functions: exponentials, logarithms, roots, trigonometric and hyperbolic
functions, and the fused tanh/sigmoid nodes with their differentiable backward nodes.

Integer inputs are computed in the default float dtype. Each backward is written in tensor
operations (or a fused node with its own backward), so it can be differentiated again; the ops
on every model's hot path also have a NumPy ``backward_np``. Re-exported by ``elementwise``.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ._common import float_input

__all__ = ["exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "sin", "cos", "tan",
           "sinh", "cosh", "tanh", "sigmoid"]

_INV_LN2 = 1.0 / math.log(2.0)
_INV_LN10 = 1.0 / math.log(10.0)


class Exp(Function):
    label = "Exp"

    @staticmethod
    def forward(ctx, a):
        out = np.exp(float_input(a, "exp"))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out

    @staticmethod
    def backward_np(ctx, grad):
        (out,) = ctx.saved_arrays
        return grad * out


class Expm1(Function):
    label = "Expm1"

    @staticmethod
    def forward(ctx, a):
        out = np.expm1(float_input(a, "expm1"))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out + 1.0)


class Log(Function):
    label = "Log"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(float_input(a, "log"))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a

    @staticmethod
    def backward_np(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad / a


class Log1p(Function):
    label = "Log1p"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(float_input(a, "log1p"))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a + 1.0)


class Sqrt(Function):
    label = "Sqrt"

    @staticmethod
    def forward(ctx, a):
        with np.errstate(invalid="ignore"):
            out = np.sqrt(float_input(a, "sqrt"))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            return grad / (out * 2.0)

    @staticmethod
    def backward_np(ctx, grad):
        (out,) = ctx.saved_arrays
        with np.errstate(divide="ignore"):
            return grad / (out * 2.0)


class Rsqrt(Function):
    label = "Rsqrt"

    @staticmethod
    def forward(ctx, a):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 1.0 / np.sqrt(float_input(a, "rsqrt"))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * out * out * -0.5


class Sin(Function):
    label = "Sin"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(float_input(a, "sin"))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * cos(a)


class Cos(Function):
    label = "Cos"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(float_input(a, "cos"))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return -grad * sin(a)


class Tan(Function):
    label = "Tan"

    @staticmethod
    def forward(ctx, a):
        out = np.tan(float_input(a, "tan"))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out * out + 1.0)


class Sinh(Function):
    label = "Sinh"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sinh(float_input(a, "sinh"))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * cosh(a)


class Cosh(Function):
    label = "Cosh"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cosh(float_input(a, "cosh"))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * sinh(a)


class Tanh(Function):
    label = "Tanh"

    @staticmethod
    def forward(ctx, a):
        out = np.tanh(float_input(a, "tanh"))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return TanhGrad.apply(out, grad)

    @staticmethod
    def backward_np(ctx, grad):
        (out,) = ctx.saved_arrays
        # grad * (1 - y^2) as grad - grad * y * y: one buffer, and only array-array ufuncs
        # (a Python-float operand costs NumPy about twice as much per call on small arrays).
        d = np.multiply(out, out)
        d *= grad
        return np.subtract(grad, d, out=d) if d.ndim else grad - d


class TanhGrad(Function):
    """``grad * (1 - y^2)`` in one NumPy pass (the backward of tanh), itself differentiable."""

    label = "TanhGrad"

    @staticmethod
    def forward(ctx, y, grad):
        ctx.save_for_backward(y, grad)
        yd = y.data
        return grad.data * (1.0 - yd * yd)

    @staticmethod
    def backward(ctx, gg):
        y, grad = ctx.saved_tensors
        need = ctx.needs_input_grad
        gy = gg * grad * y * -2.0 if need[0] else None
        ggrad = TanhGrad.apply(y, gg) if need[1] else None
        return gy, ggrad


def sigmoid_np(x: np.ndarray) -> np.ndarray:
    """The logistic function of a float array, in its dtype (also used by silu, logsigmoid)."""
    e = np.exp(-np.abs(x))  # two-sided form: exp never overflows (exp(-|x|) <= 1)
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


class Sigmoid(Function):
    label = "Sigmoid"

    @staticmethod
    def forward(ctx, a):
        out = sigmoid_np(float_input(a, "sigmoid"))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return SigmoidGrad.apply(out, grad)

    @staticmethod
    def backward_np(ctx, grad):
        (out,) = ctx.saved_arrays
        # grad * y * (1 - y) as grad * (y - y * y): one buffer, array-array ufuncs only.
        d = np.multiply(out, out)
        d = np.subtract(out, d, out=d) if d.ndim else out - d
        d *= grad
        return d


class SigmoidGrad(Function):
    """``grad * y * (1 - y)`` in one NumPy pass (the backward of sigmoid), itself differentiable."""

    label = "SigmoidGrad"

    @staticmethod
    def forward(ctx, y, grad):
        ctx.save_for_backward(y, grad)
        yd = y.data
        return grad.data * yd * (1.0 - yd)

    @staticmethod
    def backward(ctx, gg):
        y, grad = ctx.saved_tensors
        need = ctx.needs_input_grad
        gy = gg * grad * (1.0 - y * 2.0) if need[0] else None
        ggrad = SigmoidGrad.apply(y, gg) if need[1] else None
        return gy, ggrad


# ------------------------------------------------------------------------------ public API

def exp(a):
    """Elementwise e**x."""
    return Exp.apply(a)


def expm1(a):
    """``exp(x) - 1``, accurate for small x."""
    return Expm1.apply(a)


def log(a):
    """Natural logarithm (``-inf`` at 0, ``nan`` below, as NumPy/PyTorch)."""
    return Log.apply(a)


def log1p(a):
    """``log(1 + x)``, accurate for small x."""
    return Log1p.apply(a)


def sqrt(a):
    return Sqrt.apply(a)


def rsqrt(a):
    """``1 / sqrt(x)``."""
    return Rsqrt.apply(a)


def sin(a):
    return Sin.apply(a)


def cos(a):
    return Cos.apply(a)


def tanh(a):
    return Tanh.apply(a)


def sigmoid(a):
    """Logistic function ``1 / (1 + exp(-x))``, computed without overflow."""
    return Sigmoid.apply(a)


def tan(a):
    """Elementwise tangent."""
    return Tan.apply(a)


def sinh(a):
    """Hyperbolic sine."""
    return Sinh.apply(a)


def cosh(a):
    """Hyperbolic cosine."""
    return Cosh.apply(a)


def log2(a):
    """Base-2 logarithm: ``log(x) / log(2)``."""
    return Log.apply(a) * _INV_LN2


def log10(a):
    """Base-10 logarithm: ``log(x) / log(10)``."""
    return Log.apply(a) * _INV_LN10

"""Unary math functions: exponentials, logarithms, roots, trigonometric and hyperbolic
functions, and the fused tanh/sigmoid nodes with their differentiable backward nodes.

Integer inputs are computed in the default float dtype. Each rule is written once against the
namespace of its values (``xp``: NumPy, CuPy, or the tensor namespace when the backward pass is
recorded), so it serves the fast path and higher-order gradients alike.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase
from ..backend import namespace
from ._common import float_input

__all__ = ["exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "sin", "cos", "tan",
           "sinh", "cosh", "tanh", "sigmoid"]

_ndarray = np.ndarray  # NumPy arrays skip the namespace lookup on the hottest kernels
_INV_LN2 = 1.0 / math.log(2.0)
_INV_LN10 = 1.0 / math.log(10.0)


class Exp(Function):
    label = "Exp"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "exp")
        xp = namespace(x)
        out = xp.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


def exp(a):
    """Elementwise e**x."""
    return Exp.apply(a)


class Expm1(Function):
    label = "Expm1"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "expm1")
        xp = namespace(x)
        out = xp.expm1(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out + 1.0)


def expm1(a):
    """``exp(x) - 1``, accurate for small x."""
    return Expm1.apply(a)


class Log(Function):
    label = "Log"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "log")
        xp = namespace(x)
        ctx.save_for_backward(a)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.log(x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a


def log(a):
    """Natural logarithm (``-inf`` at 0, ``nan`` below, as NumPy/PyTorch)."""
    return Log.apply(a)


def log2(a):
    """Base-2 logarithm: ``log(x) / log(2)``."""
    return Log.apply(a) * _INV_LN2


def log10(a):
    """Base-10 logarithm: ``log(x) / log(10)``."""
    return Log.apply(a) * _INV_LN10


class Log1p(Function):
    label = "Log1p"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "log1p")
        xp = namespace(x)
        ctx.save_for_backward(a)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.log1p(x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a + 1.0)


def log1p(a):
    """``log(1 + x)``, accurate for small x."""
    return Log1p.apply(a)


class Sqrt(Function):
    label = "Sqrt"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "sqrt")
        xp = namespace(x)
        with xp.errstate(invalid="ignore"):
            out = xp.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = namespace(out)
        with xp.errstate(divide="ignore"):
            return grad / (out * 2.0)


def sqrt(a):
    """Square root (``nan`` below 0); its gradient is ``1 / (2 sqrt(x))``, ``inf`` at 0."""
    return Sqrt.apply(a)


class Sin(Function):
    label = "Sin"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "sin")
        xp = namespace(x)
        ctx.save_for_backward(a)
        return xp.sin(x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = namespace(a)
        return grad * xp.cos(a)


def sin(a):
    """Elementwise sine."""
    return Sin.apply(a)


class Cos(Function):
    label = "Cos"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "cos")
        xp = namespace(x)
        ctx.save_for_backward(a)
        return xp.cos(x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = namespace(a)
        return -grad * xp.sin(a)


def cos(a):
    """Elementwise cosine."""
    return Cos.apply(a)


class Tan(Function):
    label = "Tan"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "tan")
        xp = namespace(x)
        out = xp.tan(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out * out + 1.0)


def tan(a):
    """Elementwise tangent."""
    return Tan.apply(a)


class Sinh(Function):
    label = "Sinh"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "sinh")
        xp = namespace(x)
        ctx.save_for_backward(a)
        return xp.sinh(x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = namespace(a)
        return grad * xp.cosh(a)


def sinh(a):
    """Hyperbolic sine."""
    return Sinh.apply(a)


class Cosh(Function):
    label = "Cosh"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "cosh")
        xp = namespace(x)
        ctx.save_for_backward(a)
        return xp.cosh(x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = namespace(a)
        return grad * xp.sinh(a)


def cosh(a):
    """Hyperbolic cosine."""
    return Cosh.apply(a)


class Rsqrt(Function):
    label = "Rsqrt"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "rsqrt")
        xp = namespace(x)
        with xp.errstate(divide="ignore", invalid="ignore"):
            out = 1.0 / xp.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * out * out * -0.5


def rsqrt(a):
    """``1 / sqrt(x)``."""
    return Rsqrt.apply(a)


class Tanh(Function):
    label = "Tanh"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "tanh")
        out = np.tanh(x) if type(x) is _ndarray else namespace(x).tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if type(out) is _ndarray:  # the fast path: the fused kernel straight away
            return _tanh_grad_kernel(out, grad)
        return tanh_grad(out, grad)


def tanh(a):
    """Hyperbolic tangent; its backward is the fused ``tanh_grad``."""
    return Tanh.apply(a)


def _tanh_grad_kernel(y, grad):
    # grad * (1 - y^2) as grad - grad * y * y: one buffer, and only array-array ufuncs
    # (a Python-float operand costs NumPy about twice as much per call on small arrays).
    d = y * y
    d *= grad
    if not d.ndim:
        return grad - d
    return (np.subtract if type(d) is _ndarray else namespace(d).subtract)(grad, d, out=d)


def tanh_grad(y, grad):
    """``grad * (1 - y^2)``, the backward of tanh: one fused pass on arrays, a ``TanhGrad``
    node on tensors (so that it can be differentiated again)."""
    if type(y) is _ndarray or not (isinstance(y, TensorBase) or isinstance(grad, TensorBase)):
        return _tanh_grad_kernel(y, grad)
    return TanhGrad.apply(y, grad)


class TanhGrad(Function):
    """``grad * (1 - y^2)`` in one pass (the backward of tanh), itself differentiable."""

    label = "TanhGrad"

    @staticmethod
    def forward(ctx, y, grad):
        ctx.save_for_backward(y, grad)
        return _tanh_grad_kernel(y.data, grad.data)

    @staticmethod
    def backward(ctx, gg):
        y, grad = ctx.saved_tensors
        need = ctx.needs_input_grad
        gy = gg * grad * y * -2.0 if need[0] else None
        ggrad = tanh_grad(y, gg) if need[1] else None
        return gy, ggrad


def sigmoid_array(x):
    """The logistic function of a float array, in its dtype (also used by silu, logsigmoid)."""
    xp = namespace(x)
    e = xp.exp(-xp.abs(x))  # two-sided form: exp never overflows (exp(-|x|) <= 1)
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


class Sigmoid(Function):
    label = "Sigmoid"

    @staticmethod
    def forward(ctx, a):
        out = sigmoid_array(float_input(a, "sigmoid"))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if type(out) is _ndarray:  # the fast path: the fused kernel straight away
            return _sigmoid_grad_kernel(out, grad)
        return sigmoid_grad(out, grad)


def sigmoid(a):
    """Logistic function ``1 / (1 + exp(-x))``, computed without overflow."""
    return Sigmoid.apply(a)


def _sigmoid_grad_kernel(y, grad):
    # grad * y * (1 - y) as grad * (y - y * y): one buffer, array-array ufuncs only.
    d = y * y
    if d.ndim:
        (np.subtract if type(d) is _ndarray else namespace(d).subtract)(y, d, out=d)
    else:
        d = y - d
    d *= grad
    return d


def sigmoid_grad(y, grad):
    """``grad * y * (1 - y)``, the backward of sigmoid: fused on arrays, a ``SigmoidGrad`` node
    on tensors."""
    if type(y) is _ndarray or not (isinstance(y, TensorBase) or isinstance(grad, TensorBase)):
        return _sigmoid_grad_kernel(y, grad)
    return SigmoidGrad.apply(y, grad)


class SigmoidGrad(Function):
    """``grad * y * (1 - y)`` in one pass (the backward of sigmoid), itself differentiable."""

    label = "SigmoidGrad"

    @staticmethod
    def forward(ctx, y, grad):
        ctx.save_for_backward(y, grad)
        return _sigmoid_grad_kernel(y.data, grad.data)

    @staticmethod
    def backward(ctx, gg):
        y, grad = ctx.saved_tensors
        need = ctx.needs_input_grad
        gy = gg * grad * (1.0 - y * 2.0) if need[0] else None
        ggrad = sigmoid_grad(y, gg) if need[1] else None
        return gy, ggrad

"""Elementwise operations: arithmetic, transcendental functions, activations, comparisons.

Each op is a ``Function`` whose forward works on NumPy arrays and whose backward is written in
locograd tensor ops (so it can be differentiated again), followed by its public function.
Binary ops broadcast like NumPy/PyTorch; their backward returns gradients in the broadcast shape
and the engine reduces them to each input's shape.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ._common import binary_operands, float_input, operand, to_array

__all__ = [
    "Add", "Sub", "Mul", "Div", "Neg", "Pow", "Cast", "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt",
    "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "clamp", "maximum",
    "minimum", "where", "square", "reciprocal", "floor_divide", "remainder", "eq", "ne", "lt",
    "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not", "isnan",
    "isinf", "isfinite", "floor", "ceil", "round", "trunc",
]


# ------------------------------------------------------------------------------ arithmetic

class Add(Function):
    label = "Add"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "add")
        return np.add(x, y)

    @staticmethod
    def backward(ctx, grad):
        return grad, grad

    @staticmethod
    def backward_np(ctx, grad):
        return grad, grad


class Sub(Function):
    label = "Sub"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "sub")
        return np.subtract(x, y)

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_np(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    label = "Mul"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "mul")
        need = ctx.needs_input_grad
        # Save only what the needed gradients use: x * 2.0 keeps nothing of x alive.
        b_tensor = isinstance(b, TensorBase)
        ctx.save_for_backward(a if need[1] else None, b if need[0] and b_tensor else None)
        if need[0] and not b_tensor:
            ctx.b_const = y
        return np.multiply(x, y)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = gb = None
        if need[0]:
            ga = grad * (b if b is not None else ctx.b_const)
        if need[1]:
            gb = grad * a
        return ga, gb

    @staticmethod
    def backward_np(ctx, grad):
        a, b = ctx.saved_arrays
        need = ctx.needs_input_grad
        return (grad * (b if b is not None else ctx.b_const) if need[0] else None,
                grad * a if need[1] else None)


class Div(Function):
    label = "Div"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "div")
        if type(x) is np.ndarray and x.dtype.kind in "biu" and \
                (type(y) is not np.ndarray or y.dtype.kind in "biu") and type(y) is not float:
            x = float_input(x, "div")  # true division of integers gives the default float dtype
        out = np.true_divide(x, y)
        need = ctx.needs_input_grad
        b_tensor = isinstance(b, TensorBase)
        ctx.save_for_backward(b if b_tensor else None, out if need[1] else None)
        if need[0] and not b_tensor:
            ctx.b_const = y
        return out

    @staticmethod
    def backward(ctx, grad):
        b, out = ctx.saved_tensors
        need = ctx.needs_input_grad
        if b is None:
            b = ctx.b_const
        ga = grad / b if need[0] else None
        gb = -grad * out / b if need[1] else None
        return ga, gb

    @staticmethod
    def backward_np(ctx, grad):
        b, out = ctx.saved_arrays
        need = ctx.needs_input_grad
        if b is None:
            b = ctx.b_const
        return (grad / b if need[0] else None, -grad * out / b if need[1] else None)


class Neg(Function):
    label = "Neg"

    @staticmethod
    def forward(ctx, a):
        return np.negative(a.data)

    @staticmethod
    def backward(ctx, grad):
        return -grad

    backward_np = backward


class Pow(Function):
    """``a ** b`` for tensor/scalar combinations."""

    label = "Pow"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "pow")
        if type(y) is int and y < 0 and type(x) is np.ndarray and x.dtype.kind in "biu":
            x = float_input(x, "pow")  # integer tensor to a negative power: float, as PyTorch
        out = np.power(x, y)
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if isinstance(a, TensorBase) else None,
                              b if isinstance(b, TensorBase) else None,
                              out if need[1] else None)
        ctx.a_const = None if isinstance(a, TensorBase) else x
        ctx.b_const = None if isinstance(b, TensorBase) else y
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = gb = None
        if need[0]:
            if b is None:
                p = ctx.b_const
                if p == 0:
                    ga = grad * 0.0
                elif p == 1:
                    ga = grad
                elif p == 2:
                    ga = grad * a * 2.0
                else:
                    ga = grad * (a ** (p - 1) * p)
            else:
                ga = grad * b * a ** (b - 1)
        if need[1]:
            base = a if a is not None else ctx.a_const
            if isinstance(base, TensorBase):
                # d/db a**b = a**b log a, with the PyTorch convention 0 where a == 0 and b >= 0.
                safe = where(base == 0, 1.0, base)
                gb = grad * out * log(safe)
            else:
                gb = grad * out * float(np.log(base))
        return ga, gb


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


class Abs(Function):
    label = "Abs"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a.data)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * sign(a)


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
        return grad * (1.0 - out * out)


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


class Sigmoid(Function):
    label = "Sigmoid"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "sigmoid")
        # Two-sided form: exp never overflows (exp(-|x|) <= 1).
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return SigmoidGrad.apply(out, grad)

    @staticmethod
    def backward_np(ctx, grad):
        (out,) = ctx.saved_arrays
        return grad * out * (1.0 - out)


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


class Relu(Function):
    label = "Relu"

    @staticmethod
    def forward(ctx, a):
        out = np.maximum(a.data, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # The gradient at exactly 0 is 0 (PyTorch's convention): mask on out > 0, not x >= 0.
        (out,) = ctx.saved_tensors
        return grad * (out.data > 0)

    @staticmethod
    def backward_np(ctx, grad):
        (out,) = ctx.saved_arrays
        return grad * (out > 0)


class Softplus(Function):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold`` (PyTorch)."""

    label = "Softplus"

    @staticmethod
    def forward(ctx, a, beta, threshold):
        x = float_input(a, "softplus")
        ctx.save_for_backward(a)
        ctx.beta, ctx.threshold = beta, threshold
        bx = x * beta
        out = np.logaddexp(0, bx) / beta
        return np.where(bx > threshold, x, out).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        bx = a * ctx.beta
        return grad * where(bx > ctx.threshold, 1.0, sigmoid(bx)), None, None


class Clamp(Function):
    label = "Clamp"

    @staticmethod
    def forward(ctx, a, lo, hi):
        x = a.data
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        if lo is not None and hi is not None:
            return np.clip(x, operand(lo), operand(hi))
        if lo is not None:
            return np.maximum(x, operand(lo))
        return np.minimum(x, operand(hi))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        x = a.data
        mask = np.ones(x.shape, dtype=bool)
        if ctx.lo is not None:
            mask &= x >= to_array(ctx.lo)
        if ctx.hi is not None:
            mask &= x <= to_array(ctx.hi)
        return grad * mask, None, None


class Maximum(Function):
    """Elementwise max; on ties the gradient is split evenly (as PyTorch)."""

    label = "Maximum"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "maximum")
        out = np.maximum(x, y)
        ctx.mask = _tie_mask(x > y, x == y, out.dtype)
        return out

    @staticmethod
    def backward(ctx, grad):
        m = ctx.mask
        return grad * m, grad * (1.0 - m)


class Minimum(Function):
    label = "Minimum"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "minimum")
        out = np.minimum(x, y)
        ctx.mask = _tie_mask(x < y, x == y, out.dtype)
        return out

    @staticmethod
    def backward(ctx, grad):
        m = ctx.mask
        return grad * m, grad * (1.0 - m)


def _tie_mask(wins, ties, dtype):
    """1 where the first input wins, 0.5 on ties, 0 elsewhere (in the result's float dtype)."""
    dt = dtype if dtype.kind == "f" else np.dtype(np.float32)
    m = np.asarray(wins, dtype=dt)
    m += np.asarray(ties, dtype=dt) * dt.type(0.5)
    return m


class Where(Function):
    label = "Where"

    @staticmethod
    def forward(ctx, cond, a, b):
        c = to_array(cond, "where")
        if c.dtype != np.bool_:
            raise TypeError(f"where: the condition must be a bool tensor, got dtype {c.dtype}")
        x, y = binary_operands(a, b, "where") if (isinstance(a, TensorBase) or
                                                    isinstance(b, TensorBase)) \
            else (to_array(a), to_array(b))
        ctx.cond = c
        return np.where(c, x, y)

    @staticmethod
    def backward(ctx, grad):
        c = ctx.cond
        need = ctx.needs_input_grad
        ga = grad * c if need[1] else None
        gb = grad * ~c if need[2] else None
        return None, ga, gb


class Cast(Function):
    """Convert to another dtype; the gradient is cast back to the input's dtype."""

    label = "Cast"

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.data.dtype
        return x.data.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        if ctx.in_dtype.kind not in "fc":
            return None, None
        return grad.to(ctx.in_dtype), None

    @staticmethod
    def backward_np(ctx, grad):
        if ctx.in_dtype.kind not in "fc":
            return None, None
        return grad.astype(ctx.in_dtype), None


# ------------------------------------------------------------------------------ public API

def add(a, b, *, alpha=1):
    """``a + alpha * b`` with broadcasting.

    Example:
        >>> import locograd as lg
        >>> lg.add(lg.tensor([1.0, 2.0]), 1.0).tolist()
        [2.0, 3.0]
    """
    if alpha != 1:
        b = mul(b, alpha)
    return Add.apply(a, b)


def sub(a, b, *, alpha=1):
    """``a - alpha * b`` with broadcasting."""
    if alpha != 1:
        b = mul(b, alpha)
    return Sub.apply(a, b)


def mul(a, b):
    """Elementwise product with broadcasting."""
    return Mul.apply(a, b)


def div(a, b, *, rounding_mode=None):
    """True division (``rounding_mode=None``), or ``'floor'``/``'trunc'`` (not differentiable)."""
    if rounding_mode is None:
        return Div.apply(a, b)
    x, y = binary_operands(a, b, "div")
    if rounding_mode == "floor":
        return new_tensor(np.asarray(np.floor_divide(x, y)))
    if rounding_mode == "trunc":
        return new_tensor(np.asarray(np.trunc(np.true_divide(x, y)).astype(np.result_type(x, y))))
    raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


def neg(a):
    return Neg.apply(a)


def pow(a, b):
    """``a ** b`` (tensor or scalar exponent/base)."""
    return Pow.apply(a, b)


def square(a):
    return Pow.apply(a, 2)


def reciprocal(a):
    return Div.apply(1.0, a)


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


def abs(a):
    """Absolute value; its gradient at 0 is 0."""
    return Abs.apply(a)


def sign(a):
    """-1, 0 or 1 (no gradient: it is zero almost everywhere)."""
    return new_tensor(np.sign(to_array(a, "sign")))


def sin(a):
    return Sin.apply(a)


def cos(a):
    return Cos.apply(a)


def tanh(a):
    return Tanh.apply(a)


def sigmoid(a):
    """Logistic function ``1 / (1 + exp(-x))``, computed without overflow."""
    return Sigmoid.apply(a)


def relu(a):
    """``max(x, 0)``; the gradient at 0 is 0."""
    return Relu.apply(a)


def softplus(a, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (PyTorch's definition)."""
    return Softplus.apply(a, beta, threshold)


def clamp(a, min=None, max=None):
    """Clip to ``[min, max]`` (either may be None); gradient 1 inside, 0 outside."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' and 'max' must be given")
    return Clamp.apply(a, min, max)


def maximum(a, b):
    """Elementwise maximum; the gradient goes to the larger input (half each on ties)."""
    return Maximum.apply(a, b)


def minimum(a, b):
    """Elementwise minimum; the gradient goes to the smaller input (half each on ties)."""
    return Minimum.apply(a, b)


def where(condition, a, b):
    """``a`` where ``condition`` is True, else ``b`` (broadcasting all three)."""
    return Where.apply(condition, a, b)


# ------------------------------------------------------------------------------ no gradient

def _nograd_binary(ufunc, name):
    def op(a, b):
        x, y = binary_operands(a, b, name)
        return new_tensor(np.asarray(ufunc(x, y)))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}``; returns a tensor without gradient."
    return op


eq = _nograd_binary(np.equal, "eq")
ne = _nograd_binary(np.not_equal, "ne")
lt = _nograd_binary(np.less, "lt")
le = _nograd_binary(np.less_equal, "le")
gt = _nograd_binary(np.greater, "gt")
ge = _nograd_binary(np.greater_equal, "ge")
floor_divide = _nograd_binary(np.floor_divide, "floor_divide")
remainder = _nograd_binary(np.remainder, "remainder")
logical_and = _nograd_binary(np.logical_and, "logical_and")
logical_or = _nograd_binary(np.logical_or, "logical_or")
logical_xor = _nograd_binary(np.logical_xor, "logical_xor")


def _nograd_unary(ufunc, name):
    def op(a):
        return new_tensor(np.asarray(ufunc(to_array(a, name))))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}``; returns a tensor without gradient."
    return op


logical_not = _nograd_unary(np.logical_not, "logical_not")
isnan = _nograd_unary(np.isnan, "isnan")
isinf = _nograd_unary(np.isinf, "isinf")
isfinite = _nograd_unary(np.isfinite, "isfinite")
floor = _nograd_unary(np.floor, "floor")
ceil = _nograd_unary(np.ceil, "ceil")
trunc = _nograd_unary(np.trunc, "trunc")


def round(a, decimals: int = 0):
    """Round half to even (as NumPy and PyTorch); no gradient."""
    return new_tensor(np.asarray(np.round(to_array(a, "round"), decimals)))

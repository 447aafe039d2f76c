"""Elementwise operations: arithmetic with broadcasting, abs/relu/softplus, clamp, max/min,
where, remainder, casts, device moves. The unary math functions (exp, log, tanh...) live in
``unary`` and the gradient-free ones (comparisons, rounding) in ``comparison``.

Each op is a ``Function`` whose rule is written once against the namespace of its values
(arrays on the fast path, tensors when the backward pass is recorded, so it can be
differentiated again), followed by its public function.
Binary ops broadcast like NumPy/PyTorch; their backward returns gradients in the broadcast shape
and the engine reduces them to each input's shape.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import _dtype_state, devices, namespace, promote_types
from ..backend.devices import device_of
from ._common import (binary_operands, broadcast_error, float_input, float_operands, is_array,
                      is_integral, namespace_of, operand, save_operands, saved_operands, to_array)
from .comparison import _check_integer_divisor
from .unary import sigmoid, sigmoid_array


__all__ = [
    "Add", "Sub", "Mul", "Div", "Neg", "Pow", "Cast", "ToDevice", "to_device", "add", "sub",
    "mul", "div", "neg", "pow",
    "square", "reciprocal", "abs", "sign", "relu", "softplus", "clamp", "clamp_min",
    "clamp_max", "clip", "maximum", "minimum", "where", "remainder", "fmod", "logaddexp",
    "exp2", "lerp", "addcmul", "addcdiv", "multiply", "divide", "true_divide", "subtract",
    "negative", "absolute",
]


# ------------------------------------------------------------------------------ arithmetic

class Add(Function):
    label = "Add"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "add")
        try:
            return x + y
        except ValueError:
            raise broadcast_error("add", x, y) from None

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


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


class Sub(Function):
    label = "Sub"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "sub")
        try:
            return x - y
        except ValueError:
            raise broadcast_error("sub", x, y) from None

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


def sub(a, b, *, alpha=1):
    """``a - alpha * b`` with broadcasting."""
    if alpha != 1:
        b = mul(b, alpha)
    return Sub.apply(a, b)


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
        try:
            return x * y
        except ValueError:
            raise broadcast_error("mul", x, y) from None

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (grad * (b if b is not None else ctx.b_const) if need[0] else None,
                grad * a if need[1] else None)


def mul(a, b):
    """Elementwise product with broadcasting."""
    return Mul.apply(a, b)


class Div(Function):
    label = "Div"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "div")
        if is_integral(x) and is_integral(y):
            # True division of integers gives the default float dtype (NumPy: float64).
            x, y = _as_default_float(x), _as_default_float(y)
        try:
            out = x / y
        except ValueError:
            raise broadcast_error("div", x, y) from None
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
        return (grad / b if need[0] else None, -grad * out / b if need[1] else None)


def div(a, b, *, rounding_mode=None):
    """True division (``rounding_mode=None``), or ``'floor'``/``'trunc'`` (not differentiable)."""
    if rounding_mode is None:
        return Div.apply(a, b)
    x, y = binary_operands(a, b, "div")
    _check_integer_divisor(x, y, "div")
    xp = namespace_of(x, y)
    if rounding_mode == "floor":
        return new_tensor(xp.asarray(xp.floor_divide(x, y)))
    if rounding_mode == "trunc":
        return new_tensor(xp.asarray(xp.trunc(x / y).astype(xp.result_type(x, y))))
    raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


def reciprocal(a):
    """``1 / a`` (integers give the default float dtype)."""
    return Div.apply(1.0, a)


def _as_default_float(v):
    return v.astype(_dtype_state.default_float) if is_array(v) else float(v)


class Neg(Function):
    label = "Neg"

    @staticmethod
    def forward(ctx, a):
        return -a.data

    @staticmethod
    def backward(ctx, grad):
        return -grad


def neg(a):
    """``-a``."""
    return Neg.apply(a)


class Pow(Function):
    """``a ** b`` for tensor/scalar combinations."""

    label = "Pow"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "pow")
        if type(y) is int and y < 0 and is_array(x) and x.dtype.kind in "biu":
            x = float_input(x, "pow")  # integer tensor to a negative power: float, as PyTorch
        try:
            out = namespace_of(x, y).power(x, y)
        except ValueError:
            raise broadcast_error("pow", x, y) from None
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
        xp = namespace(grad)
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
                # b * a**(b - 1), and 0 where b == 0 (PyTorch: the derivative of a**0 is 0,
                # also at a == 0 where the formula gives 0 * inf).
                with xp.errstate(divide="ignore", invalid="ignore"):
                    ga = grad * xp.where(b == 0, 0.0, b * a ** (b - 1))
        if need[1]:
            base = a if a is not None else ctx.a_const
            if is_array(base) or isinstance(base, TensorBase):
                # d/db a**b = a**b log a, with the PyTorch convention 0 where a == 0 and b >= 0.
                with xp.errstate(divide="ignore", invalid="ignore"):
                    gb = grad * out * xp.log(xp.where(base == 0, 1.0, base))
            elif base > 0:
                gb = grad * out * math.log(base)
            elif base == 0:  # PyTorch's convention, as for a tensor base
                gb = grad * 0.0
            else:
                gb = grad * out * math.nan
        return ga, gb


def pow(a, b):
    """``a ** b`` (tensor or scalar exponent/base)."""
    return Pow.apply(a, b)


def square(a):
    """``a ** 2``."""
    return Pow.apply(a, 2)


def exp2(a):
    """``2 ** x``."""
    return Pow.apply(2.0, a)


class Abs(Function):
    label = "Abs"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        x = a.data
        return namespace(x).abs(x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        sign = namespace(a).sign(a)
        return grad * namespace(a).where(sign == sign, sign, 0.0)  # 0 at NaN, as PyTorch


def abs(a):
    """Absolute value; its gradient at 0 is 0."""
    return Abs.apply(a)


class Relu(Function):
    label = "Relu"

    @staticmethod
    def forward(ctx, a):
        x = a.data
        out = namespace(x).maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # The gradient at exactly 0 is 0 (PyTorch's convention), and 1 at NaN (as PyTorch's):
        # mask on not (out <= 0), not on x >= 0.
        (out,) = ctx.saved_tensors
        return grad * ~(out <= 0)


def relu(a):
    """``max(x, 0)``; the gradient at 0 is 0."""
    return Relu.apply(a)


class Softplus(Function):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold`` (PyTorch)."""

    label = "Softplus"

    @staticmethod
    def forward(ctx, a, beta, threshold):
        x = float_input(a, "softplus")
        xp = namespace(x)
        ctx.save_for_backward(a)
        ctx.beta, ctx.threshold = beta, threshold
        bx = x * beta
        out = xp.logaddexp(0, bx) / beta
        return xp.where(bx > threshold, x, out).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = namespace(a)
        bx = a * ctx.beta
        return grad * xp.where(bx > ctx.threshold, 1.0, _sigmoid_value(bx)), None, None


def softplus(a, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (PyTorch's definition)."""
    return Softplus.apply(a, beta, threshold)


def _sigmoid_value(x):
    """The logistic function of a value inside a rule: a node on tensors, a kernel on arrays."""
    return sigmoid(x) if isinstance(x, TensorBase) else sigmoid_array(x)


class Clamp(Function):
    """Clip to ``[lo, hi]``. A tensor bound gets a gradient where it is the result, as in
    PyTorch: ``lo`` where ``x < lo < hi``, ``hi`` where ``x > hi`` or ``hi < lo``."""

    label = "Clamp"

    @staticmethod
    def forward(ctx, a, lo, hi):
        x = a.data
        xp = namespace(x)
        if x.dtype.kind in "biu" and (type(lo) is float or type(hi) is float):
            x = float_input(x, "clamp")  # an integer tensor clamped to float bounds: float32
        # tensor bounds are saved (version-checked); numbers are kept as given
        tensors = [b if isinstance(b, TensorBase) else None for b in (lo, hi)]
        ctx.save_for_backward(a, *tensors)
        ctx.numbers = [b if t is None else None for b, t in zip((lo, hi), tensors)]
        # Tensor bounds take part in type promotion (a float32 input stays float32 against
        # integer bounds, as in PyTorch), never with NumPy's wider result.
        lo_v, hi_v = (_bound(b, x, "clamp") for b in (lo, hi))
        if lo is not None and hi is not None:
            out = xp.minimum(xp.maximum(x, lo_v), hi_v)
        elif lo is not None:
            out = xp.maximum(x, lo_v)
        else:
            out = xp.minimum(x, hi_v)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, *tensors = ctx.saved_tensors
        lo, hi = (t if t is not None else n for t, n in zip(tensors, ctx.numbers))
        inside = True
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            inside = (x <= hi) if lo is None else inside & (x <= hi)
        need = ctx.needs_input_grad
        grad_lo = grad_hi = None
        if need[1]:
            grad_lo = grad * ((x < lo) if hi is None else (x < lo) & (lo < hi))
        if need[2]:
            grad_hi = grad * ((x > hi) if lo is None else (x > hi) | (hi < lo))
        return (grad * inside if need[0] else None), grad_lo, grad_hi


def clamp(a, min=None, max=None):
    """Clip to ``[min, max]`` (either may be None, a number or a tensor); the gradient is 1
    inside, 0 outside, and tensor bounds get the gradient where they are the result."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' and 'max' must be given")
    return Clamp.apply(a, min, max)


def _bound(b, x, name):
    """A clamp bound as an operand of ``x``'s promoted dtype (None stays None)."""
    if b is None or not isinstance(b, TensorBase):
        return operand(b) if b is not None else None
    d = b.data
    dtype = promote_types(x.dtype, d.dtype)
    return d if d.dtype == dtype else d.astype(dtype)


class Maximum(Function):
    """Elementwise max; on ties the gradient is split evenly (as PyTorch)."""

    label = "Maximum"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "maximum")
        try:
            out = namespace_of(x, y).maximum(x, y)
        except ValueError:
            raise broadcast_error("maximum", x, y) from None
        ctx.mask = _tie_mask(x > y, x == y, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (m, other), need = ctx.mask, ctx.needs_input_grad
        return (grad * m if need[0] else None), (grad * other if need[1] else None)


def maximum(a, b):
    """Elementwise maximum; the gradient goes to the larger input (half each on ties)."""
    return Maximum.apply(a, b)


class Minimum(Function):
    label = "Minimum"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_operands(a, b, "minimum")
        try:
            out = namespace_of(x, y).minimum(x, y)
        except ValueError:
            raise broadcast_error("minimum", x, y) from None
        ctx.mask = _tie_mask(x < y, x == y, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (m, other), need = ctx.mask, ctx.needs_input_grad
        return (grad * m if need[0] else None), (grad * other if need[1] else None)


def minimum(a, b):
    """Elementwise minimum; the gradient goes to the smaller input (half each on ties)."""
    return Minimum.apply(a, b)


def _tie_mask(wins, ties, out):
    """Both inputs' shares of the gradient: the first's is 1 where it wins, 0.5 on ties, 0
    elsewhere, the second's the rest; where either input is NaN both get 1 (as PyTorch). In the
    result's float dtype."""
    dtype = out.dtype
    dt = dtype if dtype.kind == "f" else np.dtype(np.float32)
    if not is_array(wins):  # two scalars compared: a 0-d host array
        wins, ties, out = np.asarray(wins), np.asarray(ties), np.asarray(out)
    m = wins.astype(dt)
    m += ties.astype(dt) * dt.type(0.5)
    other = 1.0 - m
    if dtype.kind == "f":
        m += (out != out).astype(dt)
    return m, other


class Where(Function):
    label = "Where"

    @staticmethod
    def forward(ctx, cond, a, b):
        c = to_array(cond, "where")
        if c.dtype != np.bool_:
            raise TypeError(f"where: the condition must be a bool tensor, got dtype {c.dtype}")
        if isinstance(a, TensorBase) or isinstance(b, TensorBase):
            x, y = binary_operands(a, b, "where")
        else:  # two numbers (or arrays): numbers go to the condition's device, as in PyTorch
            x, y = (_on_device_of(c, v) for v in (a, b))
        ctx.cond = c
        try:
            return namespace(c).where(c, x, y)
        except ValueError:
            raise broadcast_error("where", c, x, y) from None

    @staticmethod
    def backward(ctx, grad):
        c = ctx.cond
        need = ctx.needs_input_grad
        ga = grad * c if need[1] else None
        gb = grad * ~c if need[2] else None
        return None, ga, gb


def where(condition, a, b):
    """``a`` where ``condition`` is True, else ``b`` (broadcasting all three)."""
    return Where.apply(condition, a, b)


def _on_device_of(c, v):
    """A non-tensor operand of ``where`` as an array: a number becomes a 0-d array of
    locograd's dtype for it, on the device of the condition ``c`` (an array stays as given)."""
    if is_array(v) or type(c) is np.ndarray:
        return to_array(v, "where")
    return devices.to_device(to_array(v, "where"), device_of(c))


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
        return grad.astype(ctx.in_dtype), None


class ToDevice(Function):
    """Copy to another device; the gradient is copied back to the input's device."""

    label = "ToDevice"

    @staticmethod
    def forward(ctx, x, target):
        ctx.source = device_of(x.data)
        return devices.to_device(x.data, target)

    @staticmethod
    def backward(ctx, grad):
        return to_device(grad, ctx.source), None


def to_device(x, target):
    """``x`` (a tensor, or a value inside a rule) on the resolved device ``target``."""
    if isinstance(x, TensorBase):
        return ToDevice.apply(x, target)
    return devices.to_device(x, target)


class Remainder(Function):
    """``remainder`` (the sign of the divisor, as Python's ``%``) or ``fmod`` (``truncate``:
    the sign of the dividend). The quotient is piecewise constant, so the gradient is 1 for the
    dividend and ``-quotient`` for the divisor (as PyTorch)."""

    label = "Remainder"

    @staticmethod
    def forward(ctx, a, b, truncate):
        name = "fmod" if truncate else "remainder"
        x, y = binary_operands(a, b, name)
        _check_integer_divisor(x, y, name)
        xp = namespace_of(x, y)
        try:
            out = xp.fmod(x, y) if truncate else xp.remainder(x, y)
        except ValueError:
            raise broadcast_error(name, x, y) from None
        if ctx.needs_input_grad[1]:
            ctx.quotient = xp.trunc(x / y) if truncate else xp.floor_divide(x, y)
        return out

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        return (grad if need[0] else None), (grad * -ctx.quotient if need[1] else None), None


def remainder(a, b):
    """``a - b * floor(a / b)``: the result has the sign of ``b`` (Python's ``%``)."""
    return Remainder.apply(a, b, False)


def fmod(a, b):
    """``a - b * trunc(a / b)``: the result has the sign of ``a`` (C's ``fmod``)."""
    return Remainder.apply(a, b, True)


class LogAddExp(Function):
    """``log(exp(a) + exp(b))`` without overflow; the gradients are sigmoid(a - b) and
    sigmoid(b - a)."""

    label = "LogAddExp"

    @staticmethod
    def forward(ctx, a, b):
        x, y = float_operands(a, b, "logaddexp")
        save_operands(ctx, a, b, x, y)
        try:
            return namespace_of(x, y).logaddexp(x, y)
        except ValueError:
            raise broadcast_error("logaddexp", x, y) from None

    @staticmethod
    def backward(ctx, grad):
        a, b = saved_operands(ctx)
        need = ctx.needs_input_grad
        return (grad * _sigmoid_value(a - b) if need[0] else None,
                grad * _sigmoid_value(b - a) if need[1] else None)


def logaddexp(a, b):
    """``log(exp(a) + exp(b))``, computed stably.

    Example:
        >>> import locograd as lg
        >>> lg.logaddexp(lg.tensor(1000.0), lg.tensor(1000.0))  # 1000 + log 2, no overflow
        tensor(1000.6932, dtype=float32)
    """
    return LogAddExp.apply(a, b)


def sign(a):
    """-1, 0 or 1 (no gradient: it is zero almost everywhere)."""
    x = to_array(a, "sign")
    return new_tensor(namespace(x).sign(x))


def clamp_min(a, min):
    """``clamp(a, min=min)``."""
    return clamp(a, min=min)


def clamp_max(a, max):
    """``clamp(a, max=max)``."""
    return clamp(a, max=max)


def lerp(start, end, weight):
    """``start + weight * (end - start)`` (``weight`` a number or a tensor)."""
    return start + weight * (end - start)


def addcmul(a, tensor1, tensor2, *, value=1):
    """``a + value * tensor1 * tensor2``."""
    return a + tensor1 * tensor2 * value if value != 1 else a + tensor1 * tensor2


def addcdiv(a, tensor1, tensor2, *, value=1):
    """``a + value * tensor1 / tensor2``."""
    return a + tensor1 / tensor2 * value if value != 1 else a + tensor1 / tensor2


# NumPy/PyTorch alternative names.
multiply, divide, true_divide, subtract, negative, absolute, clip = \
    mul, div, div, sub, neg, abs, clamp

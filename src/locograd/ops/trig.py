"""Inverse trigonometric and hyperbolic functions, ``atan2``, ``hypot``, ``sinc`` and the
degree/radian conversions (PyTorch's names, with NumPy's ``arc*`` aliases as PyTorch has them).

Integer inputs are computed in the default float dtype, as PyTorch. Each rule is written once
against the namespace of its values (``xp``: NumPy, CuPy, or the tensor namespace when the
backward pass is recorded), so it serves the fast path and higher-order gradients alike. Outside
their domains (``asin(2)``, ``acosh(0.5)``) the values are NaN, as in PyTorch, without warnings.
"""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase
from ..backend import namespace
from ._common import (broadcast_error, float_input, float_operands, namespace_of, save_operands,
                      saved_operands)

__all__ = ["asin", "acos", "atan", "asinh", "acosh", "atanh", "atan2", "hypot", "sinc",
           "deg2rad", "rad2deg", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
           "arctan2"]

_DEG2RAD = math.pi / 180.0
_RAD2DEG = 180.0 / math.pi
_SINC_CURVATURE = -math.pi ** 2 / 3.0  # sinc''(0)


def _unary_forward(ctx, a, name: str, fn: str):
    """Save the input, then ``xp.<fn>`` of its float array (NaN outside the domain, silently)."""
    x = float_input(a, name)
    xp = namespace(x)
    ctx.save_for_backward(a)
    with xp.errstate(invalid="ignore", divide="ignore"):
        return getattr(xp, fn)(x)


class Asin(Function):
    label = "Asin"

    @staticmethod
    def forward(ctx, a):
        return _unary_forward(ctx, a, "asin", "arcsin")

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = namespace(a)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return grad / xp.sqrt(1.0 - a * a)


def asin(a):
    """Elementwise arcsine (NaN outside ``[-1, 1]``); the derivative is ``1 / sqrt(1 - x^2)``.

    Args:
        a: a tensor (integers are computed in the default float dtype).

    Returns:
        A tensor of ``a``'s shape.

    Example:
        >>> import locograd as lg
        >>> round(lg.asin(lg.tensor(1.0)).item(), 4)
        1.5708
    """
    return Asin.apply(a)


class Acos(Function):
    label = "Acos"

    @staticmethod
    def forward(ctx, a):
        return _unary_forward(ctx, a, "acos", "arccos")

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = namespace(a)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return -grad / xp.sqrt(1.0 - a * a)


def acos(a):
    """Elementwise arccosine (NaN outside ``[-1, 1]``); the derivative is
    ``-1 / sqrt(1 - x^2)``.

    Example:
        >>> import locograd as lg
        >>> lg.acos(lg.tensor(1.0)).item()
        0.0
    """
    return Acos.apply(a)


class Atan(Function):
    label = "Atan"

    @staticmethod
    def forward(ctx, a):
        return _unary_forward(ctx, a, "atan", "arctan")

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * a + 1.0)


def atan(a):
    """Elementwise arctangent; the derivative is ``1 / (1 + x^2)``.

    Example:
        >>> import locograd as lg
        >>> round(lg.atan(lg.tensor(1.0)).item(), 4)
        0.7854
    """
    return Atan.apply(a)


class Asinh(Function):
    label = "Asinh"

    @staticmethod
    def forward(ctx, a):
        return _unary_forward(ctx, a, "asinh", "arcsinh")

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / namespace(a).sqrt(a * a + 1.0)


def asinh(a):
    """Elementwise inverse hyperbolic sine; the derivative is ``1 / sqrt(x^2 + 1)``.

    Example:
        >>> import locograd as lg
        >>> lg.asinh(lg.tensor(0.0)).item()
        0.0
    """
    return Asinh.apply(a)


class Acosh(Function):
    label = "Acosh"

    @staticmethod
    def forward(ctx, a):
        return _unary_forward(ctx, a, "acosh", "arccosh")

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = namespace(a)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return grad / xp.sqrt(a * a - 1.0)


def acosh(a):
    """Elementwise inverse hyperbolic cosine (NaN below 1); the derivative is
    ``1 / sqrt(x^2 - 1)``.

    Example:
        >>> import locograd as lg
        >>> lg.acosh(lg.tensor(1.0)).item()
        0.0
    """
    return Acosh.apply(a)


class Atanh(Function):
    label = "Atanh"

    @staticmethod
    def forward(ctx, a):
        return _unary_forward(ctx, a, "atanh", "arctanh")

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = namespace(a)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return grad / (1.0 - a * a)


def atanh(a):
    """Elementwise inverse hyperbolic tangent (``+-inf`` at ``+-1``, NaN beyond); the
    derivative is ``1 / (1 - x^2)``.

    Example:
        >>> import locograd as lg
        >>> lg.atanh(lg.tensor(0.0)).item()
        0.0
    """
    return Atanh.apply(a)


# ------------------------------------------------------------------------------ binary

class Atan2(Function):
    """``atan2(y, x)``: the angle of the point ``(x, y)``; the gradients are
    ``x / (x^2 + y^2)`` and ``-y / (x^2 + y^2)``, 0 at the origin (PyTorch's)."""

    label = "Atan2"

    @staticmethod
    def forward(ctx, a, b):
        y, x = float_operands(a, b, "atan2")
        save_operands(ctx, a, b, y, x)
        try:
            return namespace_of(y, x).arctan2(y, x)
        except ValueError:
            raise broadcast_error("atan2", y, x) from None

    @staticmethod
    def backward(ctx, grad):
        y, x = saved_operands(ctx)
        need = ctx.needs_input_grad
        xp = namespace(grad)
        squared = x * x + y * y
        with xp.errstate(divide="ignore", invalid="ignore"):
            # at the origin (also where x^2 + y^2 underflows) both gradients are 0, as PyTorch
            scale = grad / xp.where(squared == 0, math.inf, squared)
            return (scale * x if need[0] else None), (scale * -y if need[1] else None)


def atan2(input, other):
    """The angle of the point ``(other, input)`` in ``(-pi, pi]`` (``torch.atan2(y, x)``),
    broadcasting the two.

    Args:
        input: the y coordinates (a tensor).
        other: the x coordinates (a tensor or a number).

    Returns:
        The angles, in the promoted float dtype.

    Example:
        >>> import locograd as lg
        >>> round(lg.atan2(lg.tensor(1.0), lg.tensor(-1.0)).item(), 4)
        2.3562
    """
    return Atan2.apply(input, other)


class Hypot(Function):
    """``sqrt(a^2 + b^2)`` without overflow; the gradients are ``a / out`` and ``b / out``."""

    label = "Hypot"

    @staticmethod
    def forward(ctx, a, b):
        x, y = float_operands(a, b, "hypot")
        try:
            out = namespace_of(x, y).hypot(x, y)
        except ValueError:
            raise broadcast_error("hypot", x, y) from None
        ctx.save_for_backward(*(t if isinstance(t, TensorBase) else None for t in (a, b)), out)
        ctx.constants = (x, y)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        a = ctx.constants[0] if a is None else a
        b = ctx.constants[1] if b is None else b
        need = ctx.needs_input_grad
        with namespace(out).errstate(divide="ignore", invalid="ignore"):  # 0 / 0, inf / inf
            scale = grad / out
            return (scale * a if need[0] else None), (scale * b if need[1] else None)


def hypot(input, other):
    """The hypotenuse ``sqrt(input^2 + other^2)``, computed without overflow, broadcasting.

    Example:
        >>> import locograd as lg
        >>> lg.hypot(lg.tensor(3.0), lg.tensor(4.0)).item()
        5.0
    """
    return Hypot.apply(input, other)


# ------------------------------------------------------------------------------ sinc, angles

class Sinc(Function):
    """The normalised sinc ``sin(pi x) / (pi x)``, 1 at 0. Its derivative is
    ``(cos(pi x) - sinc(x)) / x``, 0 at x = 0 (as PyTorch), where the second derivative is
    ``-pi^2 / 3`` (PyTorch gives NaN)."""

    label = "Sinc"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "sinc")
        xp = namespace(x)
        with xp.errstate(invalid="ignore"):  # sinc(inf) is NaN
            out = xp.sinc(x)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        xp = namespace(a)
        zero = a == 0
        safe = xp.where(zero, 1.0, a)  # keeps the masked branch (and its gradient) finite
        # At 0: a * sinc''(0) is 0 with the right derivative (PyTorch's second derivative
        # there is NaN).
        with xp.errstate(invalid="ignore"):  # at +-inf: NaN, as PyTorch
            slope = xp.where(zero, a * _SINC_CURVATURE, (xp.cos(safe * math.pi) - out) / safe)
        return grad * slope


def sinc(a):
    """The normalised sinc function ``sin(pi x) / (pi x)`` (1 at 0), as ``torch.sinc``.

    Example:
        >>> import locograd as lg
        >>> lg.sinc(lg.tensor([0.0, 1.0])).tolist()[0]
        1.0
    """
    return Sinc.apply(a)


def deg2rad(a):
    """Degrees to radians: ``a * pi / 180`` (integers give the default float dtype).

    Example:
        >>> import locograd as lg
        >>> round(lg.deg2rad(lg.tensor(180.0)).item(), 4)
        3.1416
    """
    return a * _DEG2RAD


def rad2deg(a):
    """Radians to degrees: ``a * 180 / pi`` (integers give the default float dtype).

    Example:
        >>> import locograd as lg
        >>> round(lg.rad2deg(lg.tensor(3.14159265)).item(), 3)
        180.0
    """
    return a * _RAD2DEG


# NumPy's names, which PyTorch also has.
arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = \
    asin, acos, atan, asinh, acosh, atanh, atan2

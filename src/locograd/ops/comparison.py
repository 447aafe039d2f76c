"""Operations without a gradient: comparisons, logical ops, rounding, and tests of values.

Comparisons and logical ops return bool tensors; rounding (``floor``, ``ceil``, ``trunc``,
``round``) and ``floor_divide`` have a zero derivative almost everywhere, so their result is a
constant (no ``grad_fn``), which is the same as PyTorch's zero gradient.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor_base import new_tensor
from ..backend import namespace
from ._common import (as_array, binary_operands, broadcast_error, is_array, is_integral,
                      namespace_of, to_array)

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
           "logical_not", "isnan", "isinf", "isfinite", "floor", "ceil", "trunc", "round",
           "floor_divide", "isclose", "allclose", "equal", "greater", "less", "not_equal",
           "greater_equal", "less_equal"]


def _check_integer_divisor(x, y, name):
    """Integer division by zero raises, as in PyTorch (NumPy gives 0 and only warns)."""
    if is_integral(x) and is_integral(y) and bool((y == 0).any() if is_array(y) else y == 0):
        raise ZeroDivisionError(f"{name}: integer division by zero (divisor dtype "
                                f"{getattr(y, 'dtype', type(y).__name__)})")


def _nograd_binary(ufunc, name):
    def op(a, b):
        x, y = binary_operands(a, b, name)
        if ufunc == "floor_divide":
            _check_integer_divisor(x, y, name)
        try:
            return new_tensor(as_array(getattr(namespace_of(x, y), ufunc)(x, y)))
        except ValueError:
            raise broadcast_error(name, x, y) from None
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` with broadcasting; a tensor without gradient."
    return op


eq = _nograd_binary("equal", "eq")
ne = _nograd_binary("not_equal", "ne")
lt = _nograd_binary("less", "lt")
le = _nograd_binary("less_equal", "le")
gt = _nograd_binary("greater", "gt")
ge = _nograd_binary("greater_equal", "ge")
# PyTorch's (and NumPy's) long names of the comparisons
greater, less, not_equal, greater_equal, less_equal = gt, lt, ne, ge, le
floor_divide = _nograd_binary("floor_divide", "floor_divide")
logical_and = _nograd_binary("logical_and", "logical_and")
logical_or = _nograd_binary("logical_or", "logical_or")
logical_xor = _nograd_binary("logical_xor", "logical_xor")


def _nograd_unary(ufunc, name):
    def op(a):
        x = to_array(a, name)
        return new_tensor(as_array(getattr(namespace(x), ufunc)(x)))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}``; a tensor without gradient."
    return op


logical_not = _nograd_unary("logical_not", "logical_not")
isnan = _nograd_unary("isnan", "isnan")
isinf = _nograd_unary("isinf", "isinf")
isfinite = _nograd_unary("isfinite", "isfinite")
floor = _nograd_unary("floor", "floor")
ceil = _nograd_unary("ceil", "ceil")
trunc = _nograd_unary("trunc", "trunc")


def round(a, decimals: int = 0):
    """Round half to even (as NumPy and PyTorch); no gradient."""
    x = to_array(a, "round")
    return new_tensor(as_array(namespace(x).round(x, decimals)))


def isclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False):
    """Elementwise ``|a - b| <= atol + rtol |b|`` (a bool tensor), as ``torch.isclose``."""
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, "
                         f"atol={atol}")
    x, y = binary_operands(a, b, "isclose")
    try:
        return new_tensor(as_array(namespace_of(x, y).isclose(x, y, rtol=rtol, atol=atol,
                                                               equal_nan=equal_nan)))
    except ValueError:
        raise broadcast_error("isclose", x, y) from None


def allclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """True if every pair of entries is close (a Python bool).

    Example:
        >>> import locograd as lg
        >>> lg.allclose(lg.tensor([1.0, 2.0]), lg.tensor([1.0, 2.0 + 1e-9]))
        True
    """
    return bool(isclose(a, b, rtol, atol, equal_nan).data.all())


def equal(a, b) -> bool:
    """True if both tensors have the same shape and the same values (a Python bool)."""
    x, y = to_array(a, "equal"), to_array(b, "equal")
    return x.shape == y.shape and bool(namespace(x).array_equal(x, y))

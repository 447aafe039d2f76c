"""Operations without a gradient: comparisons, logical ops, rounding, and tests of values.

Comparisons and logical ops return bool tensors; rounding (``floor``, ``ceil``, ``trunc``,
``round``) and ``floor_divide`` have a zero derivative almost everywhere, so their result is a
constant (no ``grad_fn``), which is the same as PyTorch's zero gradient. They are re-exported by
``elementwise``.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor_base import new_tensor
from ._common import binary_operands, broadcast_error, to_array

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
           "logical_not", "isnan", "isinf", "isfinite", "floor", "ceil", "trunc", "round",
           "floor_divide", "isclose", "allclose", "equal"]


def _nograd_binary(ufunc, name):
    def op(a, b):
        x, y = binary_operands(a, b, name)
        try:
            return new_tensor(np.asarray(ufunc(x, y)))
        except ValueError:
            raise broadcast_error(name, x, y) from None
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` with broadcasting; a tensor without gradient."
    return op


eq = _nograd_binary(np.equal, "eq")
ne = _nograd_binary(np.not_equal, "ne")
lt = _nograd_binary(np.less, "lt")
le = _nograd_binary(np.less_equal, "le")
gt = _nograd_binary(np.greater, "gt")
ge = _nograd_binary(np.greater_equal, "ge")
floor_divide = _nograd_binary(np.floor_divide, "floor_divide")
logical_and = _nograd_binary(np.logical_and, "logical_and")
logical_or = _nograd_binary(np.logical_or, "logical_or")
logical_xor = _nograd_binary(np.logical_xor, "logical_xor")


def _nograd_unary(ufunc, name):
    def op(a):
        return new_tensor(np.asarray(ufunc(to_array(a, name))))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}``; a tensor without gradient."
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


def isclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False):
    """Elementwise ``|a - b| <= atol + rtol |b|`` (a bool tensor), as ``torch.isclose``."""
    x, y = binary_operands(a, b, "isclose")
    try:
        return new_tensor(np.asarray(np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan)))
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
    return x.shape == y.shape and bool(np.array_equal(x, y))

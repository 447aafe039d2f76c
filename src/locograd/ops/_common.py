"""Helpers shared by the op families: operand conversion and the dtype promotion rule.

"Array" here means an array of any backend (a NumPy ndarray, a CuPy array, the CPU stand-in of
a device array): anything with a ``shape`` and a ``dtype`` that is not a NumPy scalar.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor_base import TensorBase
from ..backend import _CATEGORY, _dtype_state, namespace, promote_types

_ndarray = np.ndarray
_SCALARS = (float, int, bool)


def is_array(x) -> bool:
    """True for an array of any backend (not a tensor, not a number)."""
    return type(x) is _ndarray or (hasattr(x, "dtype") and hasattr(x, "shape")
                                   and not isinstance(x, (np.generic, TensorBase)))


def is_integral(v) -> bool:
    """True for an integer or bool operand (an array of such a dtype, or a Python int/bool)."""
    return v.dtype.kind in "biu" if is_array(v) else type(v) is not float


def as_array(value):
    """A result as an array: NumPy gives a scalar for 0-d operands of its functions; arrays of
    any backend are left as they are."""
    return value if is_array(value) else np.asarray(value)


def to_array(x, name: str = "op") -> np.ndarray:
    """The array of a tensor; a non-tensor operand as an array with locograd's dtype rules."""
    if isinstance(x, TensorBase):
        return x.data
    if is_array(x):
        return x
    return scalar_array(x, name)


def scalar_array(x, name: str = "op") -> np.ndarray:
    if isinstance(x, np.generic):
        x = x.item()
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and not isinstance(x, np.ndarray):
        arr = arr.astype(_dtype_state.default_float, copy=False)
    elif arr.dtype.kind == "O":
        raise TypeError(f"{name}: cannot use an operand of type {type(x).__name__}")
    return arr


def operand(x):
    """An operand for NumPy: the array of a tensor, or a *weak* Python scalar.

    Python and NumPy scalars stay scalars so that NumPy's weak-scalar rule (NEP 50) keeps the
    tensor's dtype: ``float32 * 0.5`` stays float32.
    """
    if isinstance(x, TensorBase):
        return x.data
    if type(x) in _SCALARS or is_array(x):
        return x
    if isinstance(x, np.generic):
        return x.item()
    return scalar_array(x)


def binary_operands(a, b, name: str):
    """Arrays/scalars for a binary elementwise op, cast so NumPy applies PyTorch's promotion.

    Tensor-tensor: the higher category wins with its own dtype (int64 + float32 -> float32,
    where NumPy would give float64); within a category NumPy's promotion (the wider) applies.
    Tensor-scalar: a float scalar turns an integer/bool tensor into the default float dtype.
    """
    # Fast path: two tensors of one dtype, or a float tensor and a Python scalar.
    if isinstance(a, TensorBase):
        x = a.data
        if isinstance(b, TensorBase):
            y = b.data
            if x.dtype is y.dtype:
                return x, y
        elif type(b) is float or type(b) is int:
            if x.dtype.kind in "fc" or type(b) is int:
                return x, b
    return _binary_operands(a, b, name)


def _binary_operands(a, b, name: str):
    x = operand(a)
    y = operand(b)
    tx = is_array(x)
    ty = is_array(y)
    if tx and ty:
        dx, dy = x.dtype, y.dtype
        if dx == dy:
            return x, y
        cx, cy = _CATEGORY.get(dx.kind, 9), _CATEGORY.get(dy.kind, 9)
        if cx < cy:
            x = x.astype(dy)
        elif cy < cx:
            y = y.astype(dx)
        return x, y
    if tx:
        if type(y) is float and x.dtype.kind in "biu":
            x = x.astype(_dtype_state.default_float)
        return x, y
    if ty:
        if type(x) is float and y.dtype.kind in "biu":
            y = y.astype(_dtype_state.default_float)
        return x, y
    raise TypeError(f"{name}: at least one operand must be a tensor, got "
                    f"{type(a).__name__} and {type(b).__name__}")


def broadcast_error(name: str, *operands) -> ValueError:
    """The error for operands whose shapes do not broadcast, naming the op, shapes and dtypes."""
    parts = ", ".join(f"{tuple(getattr(o, 'shape', ()))} "
                      f"({getattr(o, 'dtype', type(o).__name__)})" for o in operands)
    return ValueError(f"{name}: the shapes of the operands cannot be broadcast together: {parts}")


def common_dtype(arrays) -> np.dtype:
    """The dtype several tensors combine to (``cat``, ``stack``): the highest category wins
    with its own dtype, the wider within a category (int64 and float32 give float32)."""
    result = arrays[0].dtype
    for a in arrays[1:]:
        if a.dtype != result:
            result = promote_types(result, a.dtype)
    return result


def same_dtype_arrays(tensors, name: str) -> list:
    """The arrays of ``tensors`` converted to their ``common_dtype`` (no copy when equal)."""
    arrays = [to_array(t, name) for t in tensors]
    dtype = common_dtype(arrays)
    return [a if a.dtype == dtype else a.astype(dtype) for a in arrays]


def namespace_of(x, y):
    """The array namespace of a binary op's operands (either may be a Python scalar)."""
    return namespace(y if type(x) in _SCALARS else x)


def float_input(x, name: str) -> np.ndarray:
    """The array of ``x`` for a float-only op (exp, log...): integers become the default float."""
    d = to_array(x, name)
    if d.dtype.kind not in "fc":
        d = d.astype(_dtype_state.default_float)
    return d


def normalize_dim(dim: int, ndim: int, name: str) -> int:
    """``dim`` in ``[-ndim, ndim)`` as a non-negative index, or a clear IndexError."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{name}: dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return dim % n


def normalize_dims(dim, ndim: int, name: str):
    """``None`` (all dims) or a sorted tuple of non-negative dims."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        return (normalize_dim(int(dim), ndim, name),)
    dims = tuple(normalize_dim(int(d), ndim, name) for d in dim)
    if len(set(dims)) != len(dims):
        raise ValueError(f"{name}: dim {tuple(dim)} appears multiple times")
    return tuple(sorted(dims))


def is_tensor(x) -> bool:
    return isinstance(x, TensorBase)


def float_operands(a, b, name: str):
    """A binary op's operands with PyTorch's promotion, integer arrays in the default float
    dtype (for ops that are defined on floats only: atan2, hypot, xlogy...)."""
    x, y = binary_operands(a, b, name)
    if is_array(x) and x.dtype.kind not in "fc":
        x = float_input(x, name)
    if is_array(y) and y.dtype.kind not in "fc":
        y = float_input(y, name)
    return x, y


def save_operands(ctx, a, b, x, y):
    """Save a binary op's tensor operands; keep the others (numbers, arrays) as constants.
    ``saved_operands`` gives both back in a rule."""
    a_tensor, b_tensor = isinstance(a, TensorBase), isinstance(b, TensorBase)
    ctx.save_for_backward(a if a_tensor else None, b if b_tensor else None)
    ctx.constants = (None if a_tensor else x, None if b_tensor else y)


def saved_operands(ctx):
    a, b = ctx.saved_tensors
    return (ctx.constants[0] if a is None else a), (ctx.constants[1] if b is None else b)

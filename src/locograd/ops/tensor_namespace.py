"""NumPy's names over locograd's differentiable ops: the ``xp`` of a rule that runs on tensors.

An op's rule is written once against ``xp = backend.namespace(value)``. On an unrecorded backward
pass the values are arrays and ``xp`` is NumPy (or CuPy); under ``create_graph=True`` they are
tensors and ``xp`` is this module, so ``xp.where(mask, grad, 0.0)`` or ``xp.sum(g, axis=0)``
records differentiable nodes and higher-order gradients need no second copy of the rule.

Only what the rules use is here, each with NumPy's signature. A name not defined below is looked
up in ``locograd.ops`` where NumPy and PyTorch agree (``exp``, ``log``, ``tanh``, ``maximum``,
``matmul``...). Constants (``zeros``, ``ones``, ``asarray``) are tensors that need no gradient.
"""
from __future__ import annotations

import builtins
import importlib

import numpy as np

from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace, register_namespace

errstate = np.errstate  # a context manager for warnings; harmless around tensor ops
newaxis = None
float32, float64, int64, bool_ = np.float32, np.float64, np.int64, np.bool_


def _ops():
    return importlib.import_module("locograd.ops")


def __getattr__(name: str):
    try:
        return getattr(_ops(), name)
    except AttributeError:
        raise AttributeError(f"the tensor namespace has no {name!r}: a rule uses a NumPy "
                             f"function that locograd has no differentiable form of") from None


def asarray(value, dtype=None):
    """A tensor for ``value`` (a tensor stays itself; an array or number becomes a constant)."""
    if isinstance(value, TensorBase):
        return value if dtype is None or value.dtype == dtype else value.to(dtype)
    if hasattr(value, "device") and not isinstance(value, (np.ndarray, np.generic)):
        # a device array stays on its device (np.asarray would refuse it, as CuPy does)
        return new_tensor(value if dtype is None else value.astype(dtype))
    return new_tensor(np.asarray(value, dtype=dtype))


def astype(x, dtype, copy: bool = True):
    return x.to(dtype)


def _like(x, fill, dtype=None, shape=None):
    """A constant on the backend (and device) of ``x``."""
    arr = x.data if isinstance(x, TensorBase) else x
    if not hasattr(arr, "shape"):
        arr = np.asarray(arr)
    return new_tensor(namespace(arr).full(arr.shape if shape is None else shape, fill,
                                          dtype=arr.dtype if dtype is None else dtype))


def zeros_like(x, dtype=None, shape=None):
    return _like(x, 0, dtype, shape)


def ones_like(x, dtype=None, shape=None):
    return _like(x, 1, dtype, shape)


def full_like(x, fill_value, dtype=None, shape=None):
    return _like(x, fill_value, dtype, shape)


def zeros(shape, dtype=float):
    return new_tensor(np.zeros(shape, dtype))


def ones(shape, dtype=float):
    return new_tensor(np.ones(shape, dtype))


def full(shape, fill_value, dtype=None):
    return new_tensor(np.full(shape, fill_value, dtype))


def _dims(axis):
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


def sum(x, axis=None, dtype=None, keepdims: bool = False):
    return _ops().sum(x, _dims(axis), keepdims, dtype=dtype)


def mean(x, axis=None, keepdims: bool = False):
    return _ops().mean(x, _dims(axis), keepdims)


def reshape(x, shape):
    return _ops().reshape(x, shape)


def broadcast_to(x, shape):
    return _ops().broadcast_to(asarray(x), tuple(shape))


def transpose(x, axes=None):
    return _ops().permute(x, tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))


def swapaxes(x, axis1: int, axis2: int):
    return _ops().transpose(x, axis1, axis2)


def moveaxis(x, source, destination):
    return _ops().movedim(x, source, destination)


def expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = x.ndim + len(axes)
    axes = sorted(a % ndim for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return _ops().reshape(x, tuple(shape))


def squeeze(x, axis=None):
    return _ops().squeeze(x, axis)


def concatenate(values, axis: int = 0):
    return _ops().cat([asarray(v) for v in values], axis)


def stack(values, axis: int = 0):
    return _ops().stack([asarray(v) for v in values], axis)


def split(x, indices_or_sections, axis: int = 0):
    """NumPy's ``split``: at the given cut indices, or into that many equal sections (torch's
    ``split`` takes sizes instead)."""
    n = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0 or n % sections:
            raise ValueError(f"split: {sections} sections do not divide a dimension of size {n}")
        sizes = [n // sections] * sections
    else:
        cuts = [0] + [builtins.min(builtins.max(int(c), 0), n) for c in indices_or_sections]
        sizes = [builtins.max(b - a, 0) for a, b in zip(cuts, cuts[1:] + [n])]
    return list(_ops().split(x, sizes, axis))


def dot(a, b):
    """NumPy's ``dot`` (not ``torch.dot``, which takes only vectors): ``matmul`` where ``b`` has
    one or two dimensions (there the two agree), a product for a 0-d operand."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim > 2:
        raise TypeError(f"the tensor namespace's dot takes b of at most 2 dimensions (where it "
                        f"is matmul), got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return _ops().matmul(a, b)


class _Linalg:
    """``xp.linalg``: NumPy's linalg names (``inv``, ``solve``, ``svd``...) over the
    differentiable decompositions of ``ops.decompositions`` (``numpy_linalg`` there)."""

    def __getattr__(self, name: str):
        return getattr(importlib.import_module("locograd.ops.decompositions").numpy_linalg, name)


linalg = _Linalg()


def where(condition, a, b):
    return _ops().where(condition, a, b)


def take_along_axis(x, indices, axis: int):
    return _ops().take_along_dim(x, indices, axis)


def clip(x, a_min=None, a_max=None):
    return _ops().clamp(x, a_min, a_max)


def multiply(a, b):
    return a * b


def divide(a, b):
    return a / b


def add(a, b):
    return a + b


def subtract(a, b):
    return a - b


def negative(a):
    return -a


register_namespace(TensorBase, importlib.import_module(__name__), subclasses=True)

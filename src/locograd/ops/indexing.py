"""Indexing: ``x[idx]``, ``x[idx] = v``, gather/scatter_add, index_select, masked_fill, one_hot.

Basic indices (ints, slices, None, Ellipsis) give views; integer-array and boolean-mask indices
give copies. The gradient of an integer-array index *accumulates* on repeated indices
(``x[[0, 0]]`` sends twice the gradient to ``x[0]``).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ._common import normalize_dim, to_array, operand
from .shape import _as_view

__all__ = ["IndexPut", "getitem", "index_put", "gather", "scatter_add", "index_select", "masked_fill",
           "one_hot", "take_along_dim", "convert_index"]


def _index_item(i):
    if isinstance(i, TensorBase):
        i = i.data
    elif isinstance(i, (list, tuple)):
        i = np.asarray(i)
        if i.dtype.kind == "f" or (i.size == 0 and i.dtype.kind != "b"):
            i = i.astype(np.int64)
    if isinstance(i, np.ndarray) and i.dtype.kind not in "biu":
        raise IndexError(f"index: tensors used as indices must be long, int or bool, got "
                         f"dtype {i.dtype}")
    return i


def convert_index(idx):
    """A NumPy index from a locograd index (tensors and lists become arrays)."""
    if isinstance(idx, tuple):
        return tuple(_index_item(i) for i in idx)
    return _index_item(idx)


def _accumulates(idx) -> bool:
    """True when the index may select an element several times (integer arrays)."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)


class Getitem(Function):
    label = "Index"

    @staticmethod
    def forward(ctx, x, idx):
        ctx.in_shape = x.data.shape
        ctx.idx = idx
        try:
            return x.data[idx]
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor of shape {x.data.shape})") from None

    @staticmethod
    def backward(ctx, grad):
        return IndexAddZeros.apply(grad, ctx.in_shape, ctx.idx), None

    @staticmethod
    def backward_np(ctx, grad):
        return _index_add_zeros(grad, ctx.in_shape, ctx.idx), None


def _index_add_zeros(g: np.ndarray, shape, idx) -> np.ndarray:
    z = np.zeros(shape, dtype=g.dtype)
    if _accumulates(idx):
        np.add.at(z, idx, g)
    else:
        z[idx] = g
    return z


class IndexAddZeros(Function):
    """``zeros(shape); z[idx] += grad`` (accumulating repeated indices): getitem's backward."""

    label = "IndexBackward"

    @staticmethod
    def forward(ctx, grad, shape, idx):
        ctx.idx = idx
        return _index_add_zeros(grad.data, shape, idx)

    @staticmethod
    def backward(ctx, gg):
        return Getitem.apply(gg, ctx.idx), None, None


def getitem(x, idx):
    """``x[idx]`` with NumPy/PyTorch indexing semantics."""
    idx = convert_index(idx)
    out = Getitem.apply(x, idx)
    return _as_view(out, x) if not _accumulates(idx) and not _has_mask(idx) else out


def _has_mask(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind == "b" for i in items)


class IndexPut(Function):
    """``out = x.copy(); out[idx] = value``: the out-of-place form of ``x[idx] = value``."""

    label = "IndexPut"

    @staticmethod
    def forward(ctx, x, idx, value):
        out = x.data.copy()
        v = operand(value)
        try:
            out[idx] = v
        except (IndexError, ValueError) as e:
            vs = np.shape(v)
            raise type(e)(f"index_put: cannot assign a value of shape {vs} to the index of a "
                          f"tensor of shape {x.data.shape}: {e}") from None
        ctx.idx = idx
        ctx.in_shape = x.data.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        gx = gv = None
        if need[0]:
            keep = np.ones(ctx.in_shape, dtype=grad.data.dtype)
            keep[ctx.idx] = 0
            gx = grad * keep
        if need[2]:
            gv = Getitem.apply(grad, ctx.idx)
        return gx, None, gv


def index_put(x, idx, value):
    """Out-of-place ``x[idx] = value``; returns the new tensor."""
    return IndexPut.apply(x, convert_index(idx), value)


def _full_index(index: np.ndarray, dim: int) -> tuple:
    """Index tuple selecting ``x[..., index, ...]`` along ``dim`` over ``index``'s grid."""
    nd = index.ndim
    grid = []
    for ax in range(nd):
        if ax == dim:
            grid.append(index)
        else:
            shape = [1] * nd
            shape[ax] = index.shape[ax]
            grid.append(np.arange(index.shape[ax]).reshape(shape))
    return tuple(grid)


def _check_gather(x_shape, dim, index, name):
    if index.dtype.kind not in "iu":
        raise TypeError(f"{name}: the index must be an integer tensor, got dtype {index.dtype}")
    if index.ndim != len(x_shape):
        raise ValueError(f"{name}: the index (shape {index.shape}) must have as many dimensions "
                         f"as the input (shape {x_shape})")
    for ax, (s, t) in enumerate(zip(index.shape, x_shape)):
        if ax != dim and s > t:
            raise ValueError(f"{name}: the index has size {s} in dimension {ax}, larger than "
                             f"the input's {t} (index shape {index.shape}, input {x_shape})")
    if index.size and (index.max() >= x_shape[dim] or index.min() < -x_shape[dim]):
        raise IndexError(f"{name}: index {int(index.max())} is out of bounds for dimension "
                         f"{dim} with size {x_shape[dim]}")


class Gather(Function):
    label = "Gather"

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.full = _full_index(index, dim)
        ctx.in_shape = x.data.shape
        return x.data[ctx.full]

    @staticmethod
    def backward(ctx, grad):
        return ScatterAddZeros.apply(grad, ctx.in_shape, ctx.full), None, None


class ScatterAddZeros(Function):
    """``zeros(shape)`` with ``grad`` added at the gathered positions: gather's backward."""

    label = "GatherBackward"

    @staticmethod
    def forward(ctx, grad, shape, full):
        ctx.full = full
        z = np.zeros(shape, dtype=grad.data.dtype)
        np.add.at(z, full, grad.data)
        return z

    @staticmethod
    def backward(ctx, gg):
        return Getitem.apply(gg, ctx.full), None, None


def gather(x, dim: int, index):
    """``out[i][j] = x[i][index[i][j]]`` for ``dim=1`` (``torch.gather``)."""
    d = normalize_dim(dim, x.data.ndim, "gather")
    idx = to_array(index, "gather")
    _check_gather(x.data.shape, d, idx, "gather")
    return Gather.apply(x, d, idx)


def take_along_dim(x, indices, dim: int):
    return gather(x, dim, indices)


class ScatterAdd(Function):
    label = "ScatterAdd"

    @staticmethod
    def forward(ctx, x, dim, index, src):
        full = _full_index(index, dim)
        region = tuple(slice(0, s) for s in index.shape)
        ctx.full, ctx.src_shape, ctx.region = full, src.data.shape, region
        out = x.data.copy()
        np.add.at(out, full, src.data[region])
        return out

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        gsrc = None
        if need[3]:
            gsrc = Getitem.apply(grad, ctx.full)
            if gsrc.data.shape != ctx.src_shape:
                gsrc = IndexAddZeros.apply(gsrc, ctx.src_shape, ctx.region)
        return (grad if need[0] else None), None, None, gsrc


def scatter_add(x, dim: int, index, src):
    """``out = x.clone(); out[i][index[i][j]] += src[i][j]`` for ``dim=1`` (``torch.scatter_add``)."""
    d = normalize_dim(dim, x.data.ndim, "scatter_add")
    idx = to_array(index, "scatter_add")
    _check_gather(x.data.shape, d, idx, "scatter_add")
    if any(s < i for s, i in zip(src.data.shape, idx.shape)):
        raise ValueError(f"scatter_add: src (shape {src.data.shape}) must be at least as large "
                         f"as the index (shape {idx.shape}) in every dimension")
    return ScatterAdd.apply(x, d, idx, src)


def index_select(x, dim: int, index):
    """The entries of ``x`` at positions ``index`` (1-D integers) along ``dim``."""
    d = normalize_dim(dim, x.data.ndim, "index_select")
    idx = to_array(index, "index_select")
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(f"index_select: the index must be a 1-D integer tensor, got shape "
                         f"{idx.shape} and dtype {idx.dtype}")
    return getitem(x, (slice(None),) * d + (idx,))


def masked_fill(x, mask, value):
    """``value`` where ``mask`` (bool, broadcastable) is True, ``x`` elsewhere."""
    from .elementwise import where
    m = to_array(mask, "masked_fill")
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: the mask must be a bool tensor, got dtype {m.dtype}")
    if isinstance(value, TensorBase) and value.data.ndim != 0:
        raise ValueError(f"masked_fill: the value must be a scalar or a 0-dim tensor, got shape "
                         f"{value.data.shape}")
    if not isinstance(value, TensorBase):
        value = new_tensor(np.asarray(value, dtype=x.data.dtype))
    return where(m, value, x)


def one_hot(indices, num_classes: int = -1):
    """``int64`` tensor with a 1 at each index along a new last dimension (no gradient)."""
    idx = to_array(indices, "one_hot")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects an integer tensor of class indices, got dtype "
                        f"{idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    out = np.zeros(idx.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.intp), 1, axis=-1)
    return new_tensor(out)

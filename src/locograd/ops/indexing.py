"""Indexing: ``x[idx]``, ``x[idx] = v``, gather/scatter_add, index_select, masked_fill, one_hot.

Basic indices (ints, slices, None, Ellipsis) give views; integer-array and boolean-mask indices
give copies. The gradient of an integer-array index *accumulates* on repeated indices
(``x[[0, 0]]`` sends twice the gradient to ``x[0]``).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ._common import normalize_dim, to_array, operand
from .shape import _as_view

_LEGACY_RULES = True  # TRANSITION: twin rules not yet merged (see Function)

values_indices = namedtuple("values_indices", ["values", "indices"])

__all__ = ["IndexPut", "getitem", "index_put", "gather", "scatter_add", "scatter", "index_select",
           "index_add", "masked_fill", "masked_select", "one_hot", "take_along_dim",
           "convert_index", "narrow", "select", "nonzero", "sort", "argsort", "topk"]


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
            gx = _grad_where_not_written(grad, ctx.in_shape, ctx.idx)
        if need[2]:
            gv = Getitem.apply(grad, ctx.idx)
        return gx, None, gv


def _grad_where_not_written(grad, shape, idx):
    """``grad`` with zeros at ``idx``: overwritten entries do not affect the output."""
    keep = np.ones(shape, dtype=grad.data.dtype)
    keep[idx] = 0
    return grad * keep


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
            gsrc = _source_grad(ctx, grad)
        return (grad if need[0] else None), None, None, gsrc


def _source_grad(ctx, grad):
    """The gradient of scatter's ``src``: ``grad`` at the scattered positions, placed in the
    leading region of a ``src`` that is larger than the index."""
    gsrc = Getitem.apply(grad, ctx.full)
    if gsrc.data.shape != ctx.src_shape:
        gsrc = IndexAddZeros.apply(gsrc, ctx.src_shape, ctx.region)
    return gsrc


def scatter_add(x, dim: int, index, src):
    """``out = x.clone(); out[i][index[i][j]] += src[i][j]`` for ``dim=1``
    (``torch.scatter_add``); repeated indices accumulate."""
    d = normalize_dim(dim, x.data.ndim, "scatter_add")
    idx = to_array(index, "scatter_add")
    _check_gather(x.data.shape, d, idx, "scatter_add")
    if any(s < i for s, i in zip(src.data.shape, idx.shape)):
        raise ValueError(f"scatter_add: src (shape {src.data.shape}) must be at least as large "
                         f"as the index (shape {idx.shape}) in every dimension")
    return ScatterAdd.apply(x, d, idx, src)


class Scatter(Function):
    """``out = x.clone(); out[i][index[i][j]] = src[i][j]`` (``dim=1``): the overwritten entries
    of ``x`` get no gradient; ``src`` (a tensor or a number) gets the gradient of where it went.
    With repeated indices the written value is unspecified, as in PyTorch."""

    label = "Scatter"

    @staticmethod
    def forward(ctx, x, dim, index, src):
        full = _full_index(index, dim)
        out = x.data.copy()
        if isinstance(src, TensorBase):
            region = tuple(slice(0, s) for s in index.shape)
            ctx.src_shape, ctx.region = src.data.shape, region
            out[full] = src.data[region]
        else:
            out[full] = operand(src)
        ctx.full, ctx.in_shape = full, x.data.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        gx = gsrc = None
        if need[0]:
            gx = _grad_where_not_written(grad, ctx.in_shape, ctx.full)
        if need[3]:
            gsrc = _source_grad(ctx, grad)
        return gx, None, None, gsrc


def scatter(x, dim: int, index, src):
    """Write ``src`` (a tensor or a number) into a copy of ``x`` at ``index`` along ``dim``
    (``torch.scatter``).

    Example:
        >>> import locograd as lg
        >>> lg.zeros(2, 3).scatter(1, lg.tensor([[2], [0]]), 1.0).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    d = normalize_dim(dim, x.data.ndim, "scatter")
    idx = to_array(index, "scatter")
    _check_gather(x.data.shape, d, idx, "scatter")
    if isinstance(src, TensorBase) and any(s < i for s, i in zip(src.data.shape, idx.shape)):
        raise ValueError(f"scatter: src (shape {src.data.shape}) must be at least as large as "
                         f"the index (shape {idx.shape}) in every dimension")
    return Scatter.apply(x, d, idx, src)


def index_select(x, dim: int, index):
    """The entries of ``x`` at positions ``index`` (1-D integers) along ``dim``."""
    d = normalize_dim(dim, x.data.ndim, "index_select")
    idx = to_array(index, "index_select")
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(f"index_select: the index must be a 1-D integer tensor, got shape "
                         f"{idx.shape} and dtype {idx.dtype}")
    return getitem(x, (slice(None),) * d + (idx,))


def index_add(x, dim: int, index, source, *, alpha=1):
    """``out = x.clone(); out[..., index[j], ...] += alpha * source[..., j, ...]`` along ``dim``;
    repeated indices accumulate (``torch.index_add``)."""
    d = normalize_dim(dim, x.data.ndim, "index_add")
    idx = to_array(index, "index_add")
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(f"index_add: the index must be a 1-D integer tensor, got shape "
                         f"{idx.shape} and dtype {idx.dtype}")
    expected = x.data.shape[:d] + (idx.shape[0],) + x.data.shape[d + 1:]
    source_shape = to_array(source, "index_add").shape
    if source_shape != expected:
        raise ValueError(f"index_add: source has shape {source_shape}, expected "
                         f"{expected} for x of shape {x.data.shape}, dim {d} and "
                         f"{idx.shape[0]} indices")
    if alpha != 1:
        source = source * alpha
    added = IndexAddZeros.apply(source, x.data.shape, (slice(None),) * d + (idx,))
    return x + added


def narrow(x, dim: int, start: int, length: int):
    """``length`` entries from ``start`` along ``dim`` (a view)."""
    d = normalize_dim(dim, x.data.ndim, "narrow")
    n = x.data.shape[d]
    start = start + n if start < 0 else start
    if not (0 <= start and 0 <= length and start + length <= n):
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension {d} of "
                         f"size {n} (tensor of shape {x.data.shape})")
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def select(x, dim: int, index: int):
    """The slice at ``index`` along ``dim``, with that dimension removed (a view)."""
    d = normalize_dim(dim, x.data.ndim, "select")
    return getitem(x, (slice(None),) * d + (int(index),))


def masked_select(x, mask):
    """The entries of ``x`` where ``mask`` (bool, broadcastable) is True, as a 1-D tensor."""
    m = to_array(mask, "masked_select")
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: the mask must be a bool tensor, got dtype {m.dtype}")
    if m.shape != x.data.shape:
        from .shape import broadcast_shapes, broadcast_to
        shape = broadcast_shapes(m.shape, x.data.shape)
        x, m = broadcast_to(x, shape), np.broadcast_to(m, shape)
    return getitem(x, m)


def nonzero(x, as_tuple: bool = False):
    """Indices of the non-zero entries: an (n, ndim) int64 tensor, or a tuple of 1-D ones."""
    idx = np.nonzero(to_array(x, "nonzero"))
    if as_tuple:
        return tuple(new_tensor(i.astype(np.int64)) for i in idx)
    return new_tensor(np.stack(idx, axis=1).astype(np.int64))


def argsort(x, dim: int = -1, descending: bool = False, stable: bool = False):
    """Indices that sort ``x`` along ``dim`` (int64, no gradient); ties keep their order."""
    d = to_array(x, "argsort")
    ax = normalize_dim(dim, d.ndim, "argsort")
    if d.ndim == 0:
        return new_tensor(np.zeros((), np.int64))
    keys = d if not descending else (-d if d.dtype.kind in "fi" else ~d)
    return new_tensor(np.argsort(keys, axis=ax, kind="stable").astype(np.int64))


def sort(x, dim: int = -1, descending: bool = False, stable: bool = False):
    """``(values, indices)`` sorted along ``dim``; the values are differentiable (a gather)."""
    indices = argsort(x, dim, descending)
    if x.data.ndim == 0:
        return values_indices(x, indices)
    return values_indices(gather(x, dim, indices), indices)


def topk(x, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) entries along ``dim`` with their indices."""
    d = normalize_dim(dim, x.data.ndim, "topk")
    n = x.data.shape[d] if x.data.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k ({k}) must be in [0, {n}] for dimension {d} of shape "
                         f"{x.data.shape}")
    order = argsort(x, d, descending=largest).data
    indices = new_tensor(np.ascontiguousarray(np.take(order, np.arange(k), axis=d)))
    return values_indices(gather(x, d, indices), indices)


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

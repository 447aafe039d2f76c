"""Indexing: ``x[idx]``, ``x[idx] = v``, gather/scatter, index_select/index_add, masks, sorting.

Basic indices (ints, slices, None, Ellipsis) give views; integer-array and boolean-mask indices
give copies. The gradient of an integer-array index *accumulates* on repeated indices
(``x[[0, 0]]`` sends twice the gradient to ``x[0]``).

Each rule is written once against the values it is given (arrays on the fast path, tensors
when the backward pass is recorded). The two scatter-like writes NumPy has no differentiable
form of, "zeros plus ``grad`` at ``idx``" and "``grad`` with zeros at ``idx``", are the value-level
helpers ``index_add_zeros`` and ``zero_at``: one array kernel on arrays, a node on tensors.

The index ops of PyTorch (gather, scatter, scatter_add, index_select, index_add,
take_along_dim) refuse out-of-range indices, negative ones included, as PyTorch does; only
``x[idx]`` counts negative indices from the end.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import is_array, normalize_dim, operand, to_array
from .shape import _as_view, broadcast_shapes, broadcast_to, reshape

values_indices = namedtuple("values_indices", ["values", "indices"])

__all__ = ["IndexPut", "getitem", "index_put", "gather", "scatter_add", "scatter", "index_select",
           "index_add", "masked_fill", "masked_select", "one_hot", "take_along_dim",
           "convert_index", "narrow", "select", "nonzero", "sort", "argsort", "topk"]


def _index_item(i):
    if isinstance(i, TensorBase):
        i = i.data
    elif isinstance(i, (list, tuple)):
        # host-only: a Python list of indices becomes a NumPy index array
        i = np.asarray(i)
        if i.dtype.kind == "f" or (i.size == 0 and i.dtype.kind != "b"):
            i = i.astype(np.int64)
    if is_array(i) and i.dtype.kind not in "biu":
        raise IndexError(f"index: tensors used as indices must be long, int or bool, got "
                         f"dtype {i.dtype}")
    return i


def convert_index(idx):
    """An array index from a locograd index (tensors and lists become arrays)."""
    if isinstance(idx, tuple):
        return tuple(_index_item(i) for i in idx)
    return _index_item(idx)


def _on_device_of(data, idx):
    """``idx`` with its host index arrays (from Python lists) copied to the backend of ``data``
    (explicitly: a device array refuses to be indexed by a host array, as CuPy's does)."""
    xp = namespace(data)
    if xp is np:
        return idx
    if isinstance(idx, tuple):
        return tuple(xp.asarray(i) if type(i) is np.ndarray else i for i in idx)
    return xp.asarray(idx) if type(idx) is np.ndarray else idx


def _items(idx) -> tuple:
    return idx if isinstance(idx, tuple) else (idx,)


def _accumulates(idx) -> bool:
    """True when the index may select an element several times (integer arrays)."""
    return any(is_array(i) and i.dtype.kind in "iu" for i in _items(idx))


def _has_mask(idx) -> bool:
    return any(is_array(i) and i.dtype.kind == "b" for i in _items(idx))


# ------------------------------------------------------------------ value-level scatter helpers

def _index_add_zeros_kernel(grad, shape, idx):
    xp = namespace(grad)
    z = xp.zeros(shape, dtype=grad.dtype)
    if _accumulates(idx):
        xp.add.at(z, idx, grad)
    else:
        z[idx] = grad
    return z


def index_add_zeros(grad, shape, idx, node=None):
    """``zeros(shape)`` with ``grad`` added at ``idx`` (repeated indices accumulate): the
    backward of ``x[idx]``. One kernel on arrays; on tensors an ``IndexAddZeros`` node (or the
    given subclass ``node``), whose backward is ``gg[idx]``, so it can be differentiated again."""
    if isinstance(grad, TensorBase):
        return (node or IndexAddZeros).apply(grad, shape, idx)
    return _index_add_zeros_kernel(grad, shape, idx)


def _zero_at_kernel(grad, idx):
    out = grad.copy()
    out[idx] = 0
    return out


def zero_at(grad, idx):
    """``grad`` with zeros at ``idx`` (entries that were overwritten get no gradient): an array
    copy on arrays, an ``IndexPut`` of 0 on tensors."""
    if isinstance(grad, TensorBase):
        return IndexPut.apply(grad, idx, 0.0)
    return _zero_at_kernel(grad, idx)


# ------------------------------------------------------------------ x[idx], x[idx] = v

class Getitem(Function):
    label = "Index"

    @staticmethod
    def forward(ctx, x, idx):
        idx = _on_device_of(x.data, idx)
        ctx.in_shape = x.data.shape
        ctx.idx = idx
        try:
            return x.data[idx]
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor of shape {x.data.shape})") from None

    @staticmethod
    def backward(ctx, grad):
        return index_add_zeros(grad, ctx.in_shape, ctx.idx), None


class IndexAddZeros(Function):
    """``zeros(shape); z[idx] += grad`` (accumulating repeated indices): getitem's backward."""

    label = "IndexBackward"

    @staticmethod
    def forward(ctx, grad, shape, idx):
        ctx.idx = idx
        return _index_add_zeros_kernel(grad.data, shape, idx)

    @staticmethod
    def backward(ctx, gg):
        return gg[ctx.idx], None, None


class ScatterAddZeros(IndexAddZeros):
    """``zeros(shape)`` with ``grad`` added at the gathered positions: gather's backward."""

    label = "GatherBackward"


def getitem(x, idx):
    """``x[idx]`` with NumPy/PyTorch indexing semantics."""
    idx = convert_index(idx)
    out = Getitem.apply(x, idx)
    return _as_view(out, x) if not _accumulates(idx) and not _has_mask(idx) else out


class IndexPut(Function):
    """``out = x.copy(); out[idx] = value``: the out-of-place form of ``x[idx] = value``."""

    label = "IndexPut"

    @staticmethod
    def forward(ctx, x, idx, value):
        idx = _on_device_of(x.data, idx)
        out = x.data.copy()
        v = operand(value)
        try:
            out[idx] = v
        except (IndexError, ValueError) as e:
            raise type(e)(f"index_put: cannot assign a value of shape {getattr(v, 'shape', ())} "
                          f"to the index of a tensor of shape {x.data.shape}: {e}") from None
        ctx.idx = idx
        return out

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        gx = zero_at(grad, ctx.idx) if need[0] else None
        gv = grad[ctx.idx] if need[2] else None  # the engine sums a broadcast value back
        return gx, None, gv


def index_put(x, idx, value):
    """Out-of-place ``x[idx] = value``; returns the new tensor."""
    return IndexPut.apply(x, convert_index(idx), value)


# ------------------------------------------------------------------ gather / scatter

def _full_index(index, dim: int) -> tuple:
    """Index tuple selecting ``x[..., index, ...]`` along ``dim`` over ``index``'s grid."""
    xp = namespace(index)
    nd = index.ndim
    grid = []
    for ax in range(nd):
        if ax == dim:
            grid.append(index)
        else:
            shape = [1] * nd
            shape[ax] = index.shape[ax]
            grid.append(xp.arange(index.shape[ax]).reshape(shape))
    return tuple(grid)


def _integer_index(index, name: str):
    idx = to_array(index, name)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: the index must be an integer tensor, got dtype {idx.dtype}")
    return idx


def _check_range(index, size: int, dim: int, name: str) -> None:
    """An IndexError naming the op, the first bad value, the dim and its size, for any index
    outside ``[0, size)`` (PyTorch's index ops do not count negative indices from the end)."""
    if index.size == 0:
        return
    lo, hi = int(index.min()), int(index.max())
    if lo < 0 or hi >= size:
        raise IndexError(f"{name}: index {lo if lo < 0 else hi} is out of bounds for dimension "
                         f"{dim} with size {size}")


def _check_gather(x_shape, dim, index, name):
    if index.ndim != len(x_shape):
        raise ValueError(f"{name}: the index (shape {index.shape}) must have as many dimensions "
                         f"as the input (shape {x_shape})")
    for ax, (s, t) in enumerate(zip(index.shape, x_shape)):
        if ax != dim and s > t:
            raise ValueError(f"{name}: the index has size {s} in dimension {ax}, larger than "
                             f"the input's {t} (index shape {index.shape}, input {x_shape})")
    _check_range(index, x_shape[dim], dim, name)


def _check_source(x, src, index, name: str) -> None:
    """``src`` of scatter/scatter_add: as large as the index, and of ``x``'s dtype."""
    s = src.data
    if s.dtype != x.data.dtype:
        raise TypeError(f"{name}: expected scalar type {x.data.dtype} for src (the dtype of "
                        f"self, shape {x.data.shape}), got {s.dtype} (shape {s.shape}); "
                        f"convert it with .to({x.data.dtype})")
    if s.ndim != index.ndim or any(a < i for a, i in zip(s.shape, index.shape)):
        raise ValueError(f"{name}: src (shape {s.shape}) must be at least as large as the "
                         f"index (shape {index.shape}) in every dimension")


class Gather(Function):
    label = "Gather"

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.full = _full_index(index, dim)
        ctx.in_shape = x.data.shape
        return x.data[ctx.full]

    @staticmethod
    def backward(ctx, grad):
        return index_add_zeros(grad, ctx.in_shape, ctx.full, ScatterAddZeros), None, None


def _scalar_as_vector(x, index, name: str):
    """A 0-d ``x`` (and its index) as 1-D, as PyTorch treats them in gather and scatter."""
    if index.ndim > 1:
        raise ValueError(f"{name}: the index (shape {index.shape}) of a 0-d tensor must have "
                         f"at most one dimension")
    return reshape(x, (1,)), index.reshape(-1)


def gather(x, dim: int, index):
    """``out[i][j] = x[i][index[i][j]]`` for ``dim=1`` (``torch.gather``).

    Example:
        >>> import locograd as lg
        >>> lg.tensor([[1.0, 2.0], [3.0, 4.0]]).gather(1, lg.tensor([[1], [0]])).tolist()
        [[2.0], [3.0]]
    """
    d = normalize_dim(dim, x.data.ndim, "gather")
    idx = _integer_index(index, "gather")
    if x.data.ndim == 0:
        x1, i1 = _scalar_as_vector(x, idx, "gather")
        return reshape(gather(x1, 0, i1), idx.shape)
    _check_gather(x.data.shape, d, idx, "gather")
    return Gather.apply(x, d, idx)


def take_along_dim(x, indices, dim=None):
    """The entries of ``x`` at ``indices`` along ``dim`` (``torch.take_along_dim``): ``x`` and
    ``indices`` broadcast against each other in every other dimension; with ``dim=None`` both
    are flattened first.

    Example:
        >>> import locograd as lg
        >>> x = lg.tensor([[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
        >>> lg.take_along_dim(x, lg.tensor([[0], [2]]), 1).tolist()
        [[10.0], [50.0]]
        >>> lg.take_along_dim(x, lg.tensor([5, 0])).tolist()
        [50.0, 10.0]
    """
    idx = _integer_index(indices, "take_along_dim")
    if dim is None:
        return gather(reshape(x, (-1,)), 0, idx.reshape(-1))
    xs, js = tuple(x.data.shape), tuple(idx.shape)
    if not xs:
        raise IndexError(f"take_along_dim: dim {dim} given for a 0-d tensor (pass dim=None)")
    d = normalize_dim(dim, len(xs), "take_along_dim")
    if len(js) != len(xs):
        raise ValueError(f"take_along_dim: input and indices should have the same number of "
                         f"dimensions, got shapes {xs} and {js}")
    try:
        batch = broadcast_shapes(xs[:d] + (1,) + xs[d + 1:], js[:d] + (1,) + js[d + 1:])
    except ValueError:
        raise ValueError(f"take_along_dim: the input (shape {xs}) and indices (shape {js}) do "
                         f"not broadcast outside dimension {d}") from None
    x_shape, i_shape = batch[:d] + (xs[d],) + batch[d + 1:], batch[:d] + (js[d],) + batch[d + 1:]
    if x_shape != xs:
        x = broadcast_to(x, x_shape)
    if i_shape != js:
        idx = namespace(idx).broadcast_to(idx, i_shape)
    return gather(x, d, idx)


def _source_grad(ctx, grad):
    """The gradient of scatter's ``src``: ``grad`` at the scattered positions, placed in the
    leading region of a ``src`` that is larger than the index."""
    gsrc = grad[ctx.full]
    if tuple(gsrc.shape) != ctx.src_shape:
        gsrc = index_add_zeros(gsrc, ctx.src_shape, ctx.region)
    return gsrc


class ScatterAdd(Function):
    label = "ScatterAdd"

    @staticmethod
    def forward(ctx, x, dim, index, src):
        full = _full_index(index, dim)
        region = tuple(slice(0, s) for s in index.shape)
        ctx.full, ctx.src_shape, ctx.region = full, src.data.shape, region
        out = x.data.copy()
        namespace(out).add.at(out, full, src.data[region])
        return out

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        gsrc = _source_grad(ctx, grad) if need[3] else None
        return (grad if need[0] else None), None, None, gsrc


def _scatter_args(x, dim, index, src, name: str):
    d = normalize_dim(dim, x.data.ndim, name)
    idx = _integer_index(index, name)
    if x.data.ndim == 0:
        x, idx = _scalar_as_vector(x, idx, name)
        if isinstance(src, TensorBase) and src.data.ndim == 0:
            src = reshape(src, (1,))
    if isinstance(src, TensorBase):
        _check_source(x, src, idx, name)
    _check_gather(x.data.shape, d, idx, name)
    return x, d, idx, src


def scatter_add(x, dim: int, index, src):
    """``out = x.clone(); out[i][index[i][j]] += src[i][j]`` for ``dim=1``
    (``torch.scatter_add``); repeated indices accumulate.

    Example:
        >>> import locograd as lg
        >>> lg.zeros(3).scatter_add(0, lg.tensor([2, 2]), lg.ones(2)).tolist()
        [0.0, 0.0, 2.0]
    """
    if not isinstance(src, TensorBase):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    x1, d, idx, src = _scatter_args(x, dim, index, src, "scatter_add")
    out = ScatterAdd.apply(x1, d, idx, src)
    return out if x1 is x else reshape(out, ())


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
        ctx.full = full
        return out

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        gx = zero_at(grad, ctx.full) if need[0] else None
        gsrc = _source_grad(ctx, grad) if need[3] else None
        return gx, None, None, gsrc


def scatter(x, dim: int, index, src):
    """Write ``src`` (a tensor or a number) into a copy of ``x`` at ``index`` along ``dim``
    (``torch.scatter``).

    Example:
        >>> import locograd as lg
        >>> lg.zeros(2, 3).scatter(1, lg.tensor([[2], [0]]), 1.0).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    x1, d, idx, src = _scatter_args(x, dim, index, src, "scatter")
    out = Scatter.apply(x1, d, idx, src)
    return out if x1 is x else reshape(out, ())


def _vector_index(index, x, dim: int, name: str):
    """The index of index_select/index_add: integers of at most one dimension, in range."""
    idx = to_array(index, name)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise ValueError(f"{name}: the index must be a 1-D (or 0-d) integer tensor, got shape "
                         f"{idx.shape} and dtype {idx.dtype}")
    shape = x.data.shape
    if not shape and idx.size > 1:
        raise ValueError(f"{name}: the index of a 0-d tensor can have only 1 value, got "
                         f"{idx.size}")
    _check_range(idx, shape[dim] if shape else 1, dim, name)
    return idx.reshape(-1)


def index_select(x, dim: int, index):
    """The entries of ``x`` at positions ``index`` (1-D integers) along ``dim``.

    Example:
        >>> import locograd as lg
        >>> lg.tensor([[1.0, 2.0], [3.0, 4.0]]).index_select(0, lg.tensor([1, 1])).tolist()
        [[3.0, 4.0], [3.0, 4.0]]
    """
    d = normalize_dim(dim, x.data.ndim, "index_select")
    idx = _vector_index(index, x, d, "index_select")
    if x.data.ndim == 0:
        return getitem(x, ())
    return getitem(x, (slice(None),) * d + (idx,))


def index_add(x, dim: int, index, source, *, alpha=1):
    """``out = x.clone(); out[..., index[j], ...] += alpha * source[..., j, ...]`` along ``dim``;
    repeated indices accumulate (``torch.index_add``).

    Example:
        >>> import locograd as lg
        >>> lg.zeros(3).index_add(0, lg.tensor([0, 0]), lg.tensor([1.0, 2.0])).tolist()
        [3.0, 0.0, 0.0]
    """
    d = normalize_dim(dim, x.data.ndim, "index_add")
    idx = _vector_index(index, x, d, "index_add")
    shape = x.data.shape
    src = to_array(source, "index_add")
    expected = shape[:d] + (idx.shape[0],) + shape[d + 1:] if shape else ()
    if src.shape != expected:
        raise ValueError(f"index_add: source has shape {src.shape}, expected {expected} for x "
                         f"of shape {shape}, dim {d} and {idx.shape[0]} indices")
    if src.dtype != x.data.dtype:
        raise TypeError(f"index_add: self ({x.data.dtype}) and source ({src.dtype}) must have "
                        f"the same dtype")
    if alpha != 1:
        source = source * alpha
    where = () if not shape else (slice(None),) * d + (idx,)
    return x + index_add_zeros(source, shape, where)


def _int_arg(v, name: str, what: str) -> int:
    """``v`` as a Python int (an int, a NumPy integer or a 0-d integer tensor); bools, floats
    and other types are a TypeError, as in PyTorch."""
    if isinstance(v, TensorBase) and v.data.ndim == 0 and v.data.dtype.kind in "iu":
        return int(v.data)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: {what} must be an integer, got {type(v).__name__} {v!r}")
    return int(v)


def narrow(x, dim: int, start: int, length: int):
    """``length`` entries from ``start`` along ``dim`` (a view).

    Example:
        >>> import locograd as lg
        >>> lg.arange(5.0).narrow(0, -2, 2).tolist()
        [3.0, 4.0]
    """
    d = normalize_dim(dim, x.data.ndim, "narrow")
    start, length = _int_arg(start, "narrow", "start"), _int_arg(length, "narrow", "length")
    n = x.data.shape[d]
    start = start + n if start < 0 else start
    if not (0 <= start and 0 <= length and start + length <= n):
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension {d} of "
                         f"size {n} (tensor of shape {x.data.shape})")
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def select(x, dim: int, index: int):
    """The slice at ``index`` along ``dim``, with that dimension removed (a view)."""
    d = normalize_dim(dim, x.data.ndim, "select")
    return getitem(x, (slice(None),) * d + (_int_arg(index, "select", "index"),))


# ------------------------------------------------------------------ masks

def masked_select(x, mask):
    """The entries of ``x`` where ``mask`` (bool, broadcastable) is True, as a 1-D tensor."""
    m = to_array(mask, "masked_select")
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: the mask must be a bool tensor, got dtype {m.dtype}")
    if m.shape != x.data.shape:
        shape = broadcast_shapes(m.shape, x.data.shape)
        x, m = broadcast_to(x, shape), namespace(m).broadcast_to(m, shape)
    return getitem(x, m)


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
        value = new_tensor(namespace(x.data).asarray(value, dtype=x.data.dtype))
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
    xp = namespace(idx)
    return new_tensor((idx[..., None] == xp.arange(num_classes)).astype(xp.int64))


def nonzero(x, as_tuple: bool = False):
    """Indices of the non-zero entries: an (n, ndim) int64 tensor, or a tuple of 1-D ones.

    A 0-d tensor counts as one entry (as in PyTorch): ``(1, 0)`` or ``(0, 0)`` indices, or a
    1-tuple with ``[0]`` or ``[]``."""
    d = to_array(x, "nonzero")
    xp = namespace(d)
    idx = xp.nonzero(d.reshape(1) if d.ndim == 0 else d)
    if as_tuple:
        return tuple(new_tensor(i.astype(xp.int64)) for i in idx)
    if d.ndim == 0:
        return new_tensor(xp.zeros((idx[0].shape[0], 0), dtype=xp.int64))
    return new_tensor(xp.stack(idx, axis=1).astype(xp.int64))


# ------------------------------------------------------------------ sorting

def argsort(x, dim: int = -1, descending: bool = False, stable: bool = False):
    """Indices that sort ``x`` along ``dim`` (int64, no gradient); ties keep their order."""
    d = to_array(x, "argsort")
    ax = normalize_dim(dim, d.ndim, "argsort")
    xp = namespace(d)
    if d.ndim == 0:
        return new_tensor(xp.zeros((), xp.int64))
    keys = d if not descending else (-d if d.dtype.kind in "fi" else ~d)
    return new_tensor(xp.argsort(keys, axis=ax, kind="stable").astype(xp.int64))


def sort(x, dim: int = -1, descending: bool = False, stable: bool = False):
    """``(values, indices)`` sorted along ``dim``; the values are differentiable (a gather)."""
    indices = argsort(x, dim, descending)
    if x.data.ndim == 0:
        return values_indices(x, indices)
    return values_indices(gather(x, dim, indices), indices)


def topk(x, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) entries along ``dim`` with their indices.

    A 0-d tensor takes ``k`` of 0 or 1 and gives itself and index 0, as in PyTorch."""
    d = normalize_dim(dim, x.data.ndim, "topk")
    n = x.data.shape[d] if x.data.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k ({k}) must be in [0, {n}] for dimension {d} of shape "
                         f"{x.data.shape}")
    order = argsort(x, d, descending=largest).data
    if x.data.ndim == 0:
        indices = new_tensor(order)
    else:
        indices = new_tensor(namespace(order).ascontiguousarray(order[(slice(None),) * d
                                                                      + (slice(0, k),)]))
    return values_indices(gather(x, d, indices), indices)

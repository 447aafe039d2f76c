"""Writes into a copy of a tensor at indices: ``index_fill``, ``index_copy``,
``masked_scatter`` and ``scatter_reduce`` (sum, prod, mean, amax, amin, with or without the
tensor's own values).

``index_fill``, ``index_copy``, ``masked_scatter`` and the sum and mean reductions are
compositions of ``index_put``, ``scatter`` and ``scatter_add`` (differentiable to any order).
The prod, amax and amin reductions are nodes of their own with PyTorch's gradients: prod's is
the product of the other factors (exact with zeros, through a product without them), and amax's
and amin's are shared evenly among the entries equal to the result. Each rule is written once
against the namespace of its values.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import normalize_dim, to_array
from .indexing import (_full_index, _scatter_args, _vector_index, getitem, index_put, scatter,
                       scatter_add, zero_at)
from .shape import broadcast_shapes, broadcast_to, reshape

__all__ = ["index_fill", "index_copy", "masked_scatter", "scatter_reduce"]


def _as_vector(x):
    """A 0-d tensor as shape ``(1,)`` (PyTorch treats it so in the index ops), else itself."""
    return reshape(x, (1,)) if to_array(x).ndim == 0 else x


def _restore(out, x):
    return reshape(out, ()) if to_array(x).ndim == 0 else out


def index_fill(input, dim: int, index, value):
    """A copy of ``input`` with ``value`` in every slice ``index`` along ``dim``
    (``torch.index_fill``); ``value`` (a number or a 0-d tensor, which gets a gradient) is
    cast to the input's dtype. Indices must lie in ``[0, size)``, as in the other index ops.

    Example:
        >>> import locograd as lg
        >>> lg.index_fill(lg.zeros(2, 3), 1, lg.tensor([0, 2]), 1.0).tolist()
        [[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]]
    """
    name = "index_fill"
    x = _as_vector(input)
    d = normalize_dim(dim, to_array(input, name).ndim, name)
    idx = _vector_index(index, x, d, name)
    if isinstance(value, TensorBase):
        if value.ndim != 0:
            raise ValueError(f"{name}: only supports a 0-dimensional value tensor, but got a "
                             f"tensor of shape {value.shape}")
        if value.dtype != x.dtype:
            value = value.to(x.dtype)
    idx = namespace(idx).unique(idx)  # each slice once: the value's gradient counts it once
    out = index_put(x, (slice(None),) * d + (idx,), value)
    return _restore(out, input)


def index_copy(input, dim: int, index, source):
    """A copy of ``input`` with ``source[..., j, ...]`` written at ``index[j]`` along ``dim``
    (``torch.index_copy``); both get gradients (none for the overwritten entries).

    Example:
        >>> import locograd as lg
        >>> lg.index_copy(lg.zeros(3), 0, lg.tensor([2, 0]), lg.tensor([5.0, 6.0])).tolist()
        [6.0, 0.0, 5.0]
    """
    name = "index_copy"
    d = normalize_dim(dim, to_array(input, name).ndim, name)
    x = _as_vector(input)
    idx = _vector_index(index, x, d, name)
    src = to_array(source, name)
    if src.dtype != x.dtype:
        raise TypeError(f"{name}: self and source expected to have the same dtype, but got "
                        f"(self) {x.dtype} and (source) {src.dtype}")
    shape = x.shape
    expected = shape[:d] + (idx.shape[0],) + shape[d + 1:]
    if to_array(input).ndim == 0 and src.size == 1:
        source = reshape(source, (1,))
    elif src.shape != expected:
        raise ValueError(f"{name}: source has shape {src.shape}, expected {expected} for self "
                         f"of shape {tuple(shape)}, dim {d} and {idx.shape[0]} indices")
    return _restore(index_put(x, (slice(None),) * d + (idx,), source), input)


def masked_scatter(input, mask, source):
    """A copy of ``input`` (broadcast with ``mask``) with the first entries of ``source``, in
    row-major order, written where ``mask`` is True (``torch.masked_scatter``).

    Example:
        >>> import locograd as lg
        >>> m = lg.tensor([True, False, True])
        >>> lg.masked_scatter(lg.zeros(3), m, lg.tensor([1.0, 2.0, 3.0])).tolist()
        [1.0, 0.0, 2.0]
    """
    name = "masked_scatter"
    m = to_array(mask, name)
    if m.dtype != np.bool_:
        raise TypeError(f"{name}: only supports boolean masks, but got a mask of dtype {m.dtype}")
    d, s = to_array(input, name), to_array(source, name)
    if s.dtype != d.dtype:
        raise TypeError(f"{name}: expected self and source to have the same dtype, but got "
                        f"{d.dtype} and {s.dtype}")
    try:
        shape = broadcast_shapes(d.shape, m.shape)
    except ValueError:
        raise ValueError(f"{name}: the mask (shape {m.shape}) and the input (shape {d.shape}) "
                         f"do not broadcast") from None
    x = broadcast_to(input, shape) if d.shape != shape else input
    if m.shape != shape:
        m = namespace(m).broadcast_to(m, shape)
    k = int(m.sum())
    if s.size < k:
        raise ValueError(f"{name}: the source has {s.size} elements, fewer than the {k} True "
                         f"entries of the mask")
    return index_put(x, m, getitem(reshape(source, (-1,)), slice(0, k)))


# ------------------------------------------------------------------ scatter_reduce

_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _linear_positions(full, shape):
    """The flat position in ``shape`` of each scattered entry (the index grid ``full``)."""
    strides = np.cumprod((1,) + tuple(shape[:0:-1]))[::-1]  # host: Python ints of a shape
    lin = 0
    for f, s in zip(full, strides):
        lin = lin + f * int(s)
    return lin


def _scatter_prod_kernel(x, full, src, include_self: bool):
    """``x`` times the product of ``src`` scattered at ``full`` (or the product alone where
    ``include_self`` is False). In passes of distinct positions: CuPy has no multiply.at."""
    xp = namespace(x)
    out = x.copy()
    if not include_self:
        out[full] = 1
    if src.size == 0:
        return out
    lin = xp.broadcast_to(_linear_positions(full, x.shape), src.shape).reshape(-1)
    values = src.reshape(-1)
    order = xp.argsort(lin, kind="stable")
    ordered = lin[order]
    rank = xp.arange(ordered.shape[0]) - xp.searchsorted(ordered, ordered, side="left")
    flat = out.reshape(-1)  # a view: out is a fresh contiguous copy
    for r in range(int(rank.max()) + 1):
        pick = order[rank == r]
        where = lin[pick]
        flat[where] = flat[where] * values[pick]
    return out


def _scatter_prod(x, dim, index, src, include_self):
    """The prod reduction of values: the kernel on arrays, a ``ScatterProd`` node on tensors."""
    if isinstance(x, TensorBase) or isinstance(src, TensorBase):
        return ScatterProd.apply(x, dim, index, src, include_self)
    return _scatter_prod_kernel(x, _full_index(index, dim), src, include_self)


class ScatterProd(Function):
    """``scatter_reduce(..., 'prod')``. The gradient of each factor is the product of the
    others, computed as a product without the factor where it is the only zero (a division
    elsewhere), as PyTorch does; so it is exact with zeros, and differentiable again."""

    label = "ScatterProd"

    @staticmethod
    def forward(ctx, x, dim, index, src, include_self):
        xd = x.data
        s = src.data if isinstance(src, TensorBase) else src
        full = _full_index(index, dim)
        out = _scatter_prod_kernel(xd, full, s, include_self)
        xp = namespace(xd)
        zero = s == 0
        zeros_at = xp.zeros(xd.shape, dtype=xp.int64)
        xp.add.at(zeros_at, full, zero.astype(xp.int64))
        ctx.args = (dim, index, full, include_self)
        ctx.src_zero, ctx.single = zero, zero & (zeros_at[full] == 1)
        ctx.zeros_at = zeros_at
        ctx.save_for_backward(x, src, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, src, out = ctx.saved_tensors
        dim, index, full, include_self = ctx.args
        xp = namespace(grad)
        need = ctx.needs_input_grad
        gx = gsrc = None
        if need[0]:
            if include_self:
                nonzero_x = xp.where(x == 0, xp.ones_like(x), x)
                gx = grad * _scatter_prod(nonzero_x, dim, index, src, True) / nonzero_x
            else:
                gx = zero_at(grad, full)
        if need[3]:
            if isinstance(grad, TensorBase) and bool((ctx.zeros_at > 1).any()):
                # the product of the others is 0 there, but its derivative is not (PyTorch
                # refuses this case too)
                raise RuntimeError("scatter_reduce: double backward is not supported for src "
                                   "when several zeros of src are scattered to one position "
                                   "with reduce='prod'")
            ones = xp.ones_like(src)
            without = _scatter_prod(x, dim, index, xp.where(ctx.single, ones, src), include_self)
            divided = (grad * out)[full] / xp.where(ctx.src_zero, ones, src)
            gsrc = xp.where(ctx.single, (grad * without)[full], divided)
        return gx, None, None, gsrc, None


def _identity(dtype, largest: bool):
    """The value no entry is below (amax; above for amin) for ``dtype``."""
    if dtype.kind == "f":
        return -np.inf if largest else np.inf
    if dtype.kind == "b":
        return not largest
    info = np.iinfo(dtype)
    return info.min if largest else info.max


class ScatterExtreme(Function):
    """``scatter_reduce(..., 'amax' | 'amin')``: the gradient of each position is shared
    evenly among the entries (of ``x``, where included, and of ``src``) equal to its result,
    as PyTorch shares it."""

    label = "ScatterExtreme"

    @staticmethod
    def forward(ctx, x, dim, index, src, largest, include_self):
        xd, s = x.data, src.data
        xp = namespace(xd)
        full = _full_index(index, dim)
        out = xd.copy()
        if not include_self:
            out[full] = _identity(xd.dtype, largest)
        (xp.maximum if largest else xp.minimum).at(out, full, s)
        if xd.dtype.kind == "f":
            counted = xp.ones(xd.shape, dtype=bool)
            if not include_self:
                counted[full] = False
            self_hit = counted & (xd == out)
            src_hit = s == out[full]
            count = self_hit.astype(xd.dtype)
            xp.add.at(count, full, src_hit.astype(xd.dtype))
            ctx.self_hit, ctx.src_hit, ctx.full = self_hit, src_hit, full
            ctx.count = xp.maximum(count, 1)  # 0 only where a NaN won: no share to give
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = namespace(grad)
        share = grad / ctx.count
        need = ctx.needs_input_grad
        gx = xp.where(ctx.self_hit, share, 0.0) if need[0] else None
        gsrc = xp.where(ctx.src_hit, share[ctx.full], 0.0) if need[3] else None
        return gx, None, None, gsrc, None, None


def scatter_reduce(input, dim: int, index, src, reduce: str, *, include_self: bool = True):
    """Reduce the entries of ``src`` into a copy of ``input`` at ``index`` along ``dim``
    (``torch.scatter_reduce``): for ``dim=1``, ``out[i][index[i][j]]`` combines
    ``src[i][j]`` (and ``input[i][index[i][j]]`` itself when ``include_self``).

    Args:
        input: the tensor to reduce into.
        dim: the dimension ``index`` indexes.
        index: integer indices, of ``input``'s number of dims, at most ``src``'s size.
        src: the values, of ``input``'s dtype.
        reduce: ``'sum'``, ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'``; ``'mean'`` of
            integers rounds down, as PyTorch.
        include_self: whether ``input``'s own values at the scattered positions take part.

    Returns:
        A new tensor; positions no index names keep ``input``'s value.

    Example:
        >>> import locograd as lg
        >>> x = lg.tensor([1.0, 2.0])
        >>> lg.scatter_reduce(x, 0, lg.tensor([0, 0]), lg.tensor([3.0, 4.0]), "amax").tolist()
        [4.0, 2.0]
    """
    name = "scatter_reduce"
    if reduce not in _REDUCTIONS:
        raise ValueError(f"{name}: reduce argument must be one of {', '.join(_REDUCTIONS)}, "
                         f"got {reduce!r}")
    if not isinstance(src, TensorBase):
        raise TypeError(f"{name}: src must be a tensor, got {type(src).__name__}")
    x, d, idx, src = _scatter_args(input, dim, index, src, name)
    if tuple(src.shape) != tuple(idx.shape):  # only the leading region of src takes part
        src = getitem(src, tuple(slice(0, s) for s in idx.shape))
    dtype = x.dtype
    if reduce in ("sum", "mean"):
        if reduce == "mean" and dtype == np.bool_:
            raise TypeError(f"{name}: reduce='mean' is not supported for bool tensors")
        base = x if include_self else scatter(x, d, idx, 0)
        out = scatter_add(base, d, idx, src)
        if reduce == "mean":
            xp = namespace(idx)
            count = xp.ones(x.shape, dtype=dtype)
            full = _full_index(idx, d)
            if not include_self:
                count[full] = 0
            xp.add.at(count, full, xp.ones(idx.shape, dtype=dtype))
            count = new_tensor(count)
            out = out / count if dtype.kind in "fc" else out // count
    elif reduce == "prod":
        out = ScatterProd.apply(x, d, idx, src, include_self)
    else:
        out = ScatterExtreme.apply(x, d, idx, src, reduce == "amax", include_self)
    return _restore(out, input)

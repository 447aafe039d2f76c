"""Order statistics and counting: median, nanmedian, kthvalue, mode, quantile, nanquantile,
bincount and unique (PyTorch's names, results and NaN conventions).

The statistics along a dimension find their indices from a stable sort (NaN sorts last, as the
largest value) and take their values with ``gather``, so the gradient goes to the returned index
and second order is free. ``median()`` of a whole tensor shares its gradient between the entries
equal to the median, as PyTorch does. ``quantile`` interpolates between two gathered order
statistics. ``bincount`` and ``unique`` count, and have no gradient (nor in PyTorch).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import normalize_dim, to_array
from .indexing import gather, sort, values_indices
from .reduce import _on_1d
from .scan import accumulate
from .shape import movedim, reshape, squeeze

__all__ = ["median", "nanmedian", "kthvalue", "mode", "quantile", "nanquantile", "bincount",
           "unique"]

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


# ------------------------------------------------------------------------------ a chosen entry

class SelectedValue(Function):
    """An entry chosen from ``x`` (its median): the gradient is shared evenly between the
    entries equal to it, or between the NaN entries for a NaN result (PyTorch's)."""

    label = "SelectedValue"

    @staticmethod
    def forward(ctx, x, value):
        d = x.data
        if d.dtype.kind == "f":
            mask = (d == value) | ((d != d) & (value != value))
            with namespace(d).errstate(invalid="ignore", divide="ignore"):
                ctx.save_for_backward(mask / mask.sum().astype(d.dtype))
        return value

    @staticmethod
    def backward(ctx, grad):
        (weights,) = ctx.saved_tensors
        return grad * weights, None


def _whole(name, input, ignore_nan):
    """The (nan)median of all entries: the lower of the two middle values."""
    data = input.data
    xp = namespace(data)
    s = xp.sort(data.reshape(-1))
    nans = int((s != s).sum()) if data.dtype.kind == "f" else 0
    if s.size == 0 or (nans == s.size):
        value = xp.full((), float("nan"), dtype=data.dtype) if s.size == 0 else s[0]
    elif nans and not ignore_nan:
        value = s[-1]
    else:
        value = s[(s.size - nans - 1) // 2]
    return SelectedValue.apply(input, value)


def _along(name, input, dim, keepdim, rank):
    """``values_indices`` of the entry of sorted position ``rank(n, nan_count, xp)`` (an array
    of keepdims shape) along ``dim``."""
    data = input.data
    if data.ndim == 0:
        normalize_dim(dim, 0, name)
        return values_indices(*_on_1d(input, lambda t: tuple(_along(name, t, 0, False, rank))))
    d = normalize_dim(dim, data.ndim, name)
    n = data.shape[d]
    if n == 0:
        raise IndexError(f"{name}: expected reduction dim {d} to have non-zero size (shape "
                         f"{data.shape})")
    xp = namespace(data)
    order = xp.argsort(data, axis=d, kind="stable")  # NaN last
    nan_count = (data != data).sum(axis=d, keepdims=True)
    indices = xp.take_along_axis(order, rank(n, nan_count, xp), axis=d).astype(np.int64)
    values = gather(input, d, new_tensor(indices))
    if not keepdim:
        values, indices = squeeze(values, d), xp.squeeze(indices, axis=d)
    return values_indices(values, new_tensor(indices))


def median(input, dim=None, keepdim: bool = False):
    """The median: the lower of the two middle values (as PyTorch, not their mean), NaN where
    there is a NaN.

    ``median(x)`` gives a 0-d tensor (the gradient shared between the entries equal to it);
    ``median(x, dim)`` a named tuple ``(values, indices)``, the gradient going to the index.

    Example:
        >>> import locograd as lg
        >>> lg.median(lg.tensor([3.0, 1.0, 4.0, 2.0])).item()
        2.0
        >>> lg.median(lg.tensor([[3.0, 1.0, 2.0]]), 1).indices.tolist()
        [2]
    """
    if dim is None:
        return _whole("median", input, False)
    return _along("median", input, dim, keepdim,
                  lambda n, nans, xp: xp.where(nans > 0, n - nans, (n - 1) // 2))


def nanmedian(input, dim=None, keepdim: bool = False):
    """The median of the non-NaN entries (NaN where all are NaN); see ``median``.

    Example:
        >>> import locograd as lg
        >>> lg.nanmedian(lg.tensor([3.0, float("nan"), 1.0])).item()
        1.0
    """
    if dim is None:
        return _whole("nanmedian", input, True)
    return _along("nanmedian", input, dim, keepdim,
                  lambda n, nans, xp: xp.maximum((n - nans - 1) // 2, 0))


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False):
    """``(values, indices)``: the ``k``-th smallest entry along ``dim`` (``k`` from 1; NaN
    counts as the largest), as ``torch.kthvalue``.

    Example:
        >>> import locograd as lg
        >>> lg.kthvalue(lg.tensor([5.0, 1.0, 3.0]), 2).values.item()
        3.0
    """
    size = input.data.shape[normalize_dim(dim, input.data.ndim, "kthvalue")] \
        if input.data.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= size:
        raise IndexError(f"kthvalue: k ({k!r}) out of range for dimension {dim} of size {size}")
    return _along("kthvalue", input, dim, keepdim, lambda n, nans, xp: nans * 0 + (int(k) - 1))


def mode(input, dim: int = -1, keepdim: bool = False):
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest of them on a
    tie) and the last index where it appears, as ``torch.mode``.

    Example:
        >>> import locograd as lg
        >>> m = lg.mode(lg.tensor([3.0, 1.0, 1.0, 2.0, 2.0]))
        >>> m.values.item(), m.indices.item()
        (1.0, 2)
    """
    data = input.data
    if data.ndim == 0:
        normalize_dim(dim, 0, "mode")
        return values_indices(*_on_1d(input, lambda t: tuple(mode(t, 0))))
    d = normalize_dim(dim, data.ndim, "mode")
    n = data.shape[d]
    if n == 0:
        raise IndexError(f"mode: expected reduction dim {d} to have non-zero size (shape "
                         f"{data.shape})")
    xp = namespace(data)
    order = xp.argsort(xp.moveaxis(data, d, -1), axis=-1, kind="stable")
    s = xp.take_along_axis(xp.moveaxis(data, d, -1), order, axis=-1)
    # Runs of equal values in the sorted rows: each position's run start and end.
    change = s[..., 1:] != s[..., :-1]
    edge = xp.ones(s.shape[:-1] + (1,), dtype=bool)
    positions = xp.arange(n, dtype=np.int64)
    start = accumulate("maximum", xp.where(xp.concatenate([edge, change], -1), positions, 0), -1)
    ends = xp.where(xp.concatenate([change, edge], -1), positions, n)
    end = xp.flip(accumulate("minimum", xp.flip(ends, -1), -1), -1)
    longest = xp.argmax(end - start, axis=-1, keepdims=True)  # the first: the smallest value
    last = xp.take_along_axis(end, longest, axis=-1)  # stable: the run's latest index
    indices = xp.moveaxis(xp.take_along_axis(order, last, axis=-1), -1, d).astype(np.int64)
    values = gather(input, d, new_tensor(indices))
    if not keepdim:
        values, indices = squeeze(values, d), xp.squeeze(indices, axis=d)
    return values_indices(values, new_tensor(indices))


# ------------------------------------------------------------------------------ quantile

def _quantile_levels(name, q, data):
    """``q`` as a 1-D array of the input's dtype and backend, checked; and whether it was a
    single number (or a 0-d tensor)."""
    xp = namespace(data)
    if isinstance(q, TensorBase):
        if q.data.ndim > 1:
            raise ValueError(f"{name}: q must be a number or a 0-d or 1-D tensor, got shape "
                             f"{tuple(q.shape)}")
        if q.dtype != data.dtype:
            raise TypeError(f"{name}: q (dtype {q.dtype}) must have the input's dtype "
                            f"{data.dtype}")
        levels, single = q.data.reshape(-1), q.data.ndim == 0
    else:
        levels, single = xp.asarray([float(q)], dtype=data.dtype), True
    if levels.size and bool(((levels < 0) | (levels > 1) | (levels != levels)).any()):
        raise ValueError(f"{name}: q values must be in the range [0, 1]")
    return levels, single


def _quantile(name, input, q, dim, keepdim, interpolation, ignore_nan):
    data = input.data
    if data.dtype.kind != "f":
        raise TypeError(f"{name}: the input must be a floating-point tensor, got {data.dtype}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{name}: interpolation must be one of {', '.join(_INTERPOLATIONS)}; "
                         f"got {interpolation!r}")
    if data.size == 0:
        raise ValueError(f"{name}: the input must be non-empty (shape {data.shape})")
    levels, single = _quantile_levels(name, q, data)
    xp = namespace(data)
    if dim is None or data.ndim == 0:
        if dim is not None:
            normalize_dim(dim, 0, name)
        rows, shape, kept = reshape(input, (-1,)), (), (1,) * data.ndim
    else:
        d = normalize_dim(dim, data.ndim, name)
        rows = movedim(input, d, -1)
        shape = data.shape[:d] + data.shape[d + 1:]
        kept = data.shape[:d] + (1,) + data.shape[d + 1:]
    s = sort(rows, -1).values  # NaN last
    sd, n = s.data, s.shape[-1]
    if ignore_nan:
        valid = (sd == sd).sum(axis=-1, keepdims=True).astype(data.dtype)
        ranks = levels * (valid - 1.0)
        ranks = xp.where(ranks < 0, 0.0, ranks)  # a row of NaN only: its first NaN
    else:
        ranks = xp.broadcast_to(levels * float(n - 1), sd.shape[:-1] + levels.shape)
        ranks = xp.where(sd[..., -1:] != sd[..., -1:], float(n - 1), ranks)  # a NaN: NaN
    if interpolation == "lower":
        ranks = xp.floor(ranks)
    elif interpolation == "higher":
        ranks = xp.ceil(ranks)
    elif interpolation == "nearest":
        ranks = xp.round(ranks)  # half to even, as torch.round
    below = gather(s, -1, new_tensor(xp.floor(ranks).astype(np.int64)))
    if interpolation in ("linear", "midpoint"):
        above = gather(s, -1, new_tensor(xp.ceil(ranks).astype(np.int64)))
        weight = 0.5 if interpolation == "midpoint" else \
            new_tensor((ranks - xp.floor(ranks)).astype(data.dtype))
        out = below + (above - below) * weight
    else:
        out = below
    out = movedim(out, -1, 0)  # the levels first, as PyTorch
    return reshape(out, (() if single else (levels.shape[0],)) + (kept if keepdim else shape))


def quantile(input, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
    """The ``q``-quantiles of ``input`` over ``dim`` (all entries by default), NaN where a
    reduced row has a NaN, as ``torch.quantile``.

    Args:
        input: a floating-point tensor.
        q: a number in [0, 1], or a 0-d or 1-D tensor of them (input's dtype); a 1-D ``q``
            puts its dimension first in the result.
        dim: one dimension, or None for all entries.
        keepdim: keep the reduced dimension(s) as size 1.
        interpolation: between the two nearest order statistics: ``'linear'``, ``'lower'``,
            ``'higher'``, ``'midpoint'`` or ``'nearest'``.

    Returns:
        A tensor of the input's dtype; the gradient flows to the (two) order statistics used.

    Example:
        >>> import locograd as lg
        >>> lg.quantile(lg.tensor([1.0, 2.0, 3.0, 4.0]), 0.5).item()
        2.5
        >>> lg.quantile(lg.tensor([[1.0, 2.0, 3.0]]), lg.tensor([0.0, 1.0]), dim=1).tolist()
        [[1.0], [3.0]]
    """
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
    """``quantile`` of the non-NaN entries of each reduced row (NaN where all are NaN).

    Example:
        >>> import locograd as lg
        >>> lg.nanquantile(lg.tensor([1.0, float("nan"), 3.0]), 0.5).item()
        2.0
    """
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


# ------------------------------------------------------------------------------ counting

def bincount(input, weights=None, minlength: int = 0):
    """The number of occurrences of each value 0, 1, ... in a 1-D tensor of non-negative
    integers (the sum of ``weights`` at them, if given), at least ``minlength`` long.

    The result is int64 without weights; float32 weights give float32, others float64 (as
    PyTorch). It has no gradient.

    Example:
        >>> import locograd as lg
        >>> lg.bincount(lg.tensor([0, 2, 2])).tolist()
        [1, 0, 2]
    """
    data = to_array(input, "bincount")
    if data.ndim != 1 or data.dtype.kind not in "iu":
        raise ValueError(f"bincount: only supports 1-D non-negative integral inputs, got shape "
                         f"{data.shape} ({data.dtype})")
    if isinstance(minlength, bool) or not isinstance(minlength, (int, np.integer)) \
            or minlength < 0:
        raise ValueError(f"bincount: minlength must be a non-negative int, got {minlength!r}")
    xp = namespace(data)
    if data.size and bool((data < 0).any()):
        raise ValueError(f"bincount: only supports non-negative inputs, got a minimum of "
                         f"{int(data.min())}")
    dtype = np.dtype(np.int64)
    w = None
    if weights is not None:
        w = to_array(weights, "bincount")
        if w.shape != data.shape:
            raise ValueError(f"bincount: weights (shape {w.shape}) must have the shape of the "
                             f"input {data.shape}")
        dtype = w.dtype if w.dtype == np.float32 else np.dtype(np.float64)
    out = xp.bincount(data.astype(np.int64, copy=False), weights=w, minlength=int(minlength))
    return new_tensor(out.astype(dtype, copy=False))


def unique(input, sorted: bool = True, return_inverse: bool = False,  # noqa: A002 (torch's)
           return_counts: bool = False, dim=None):
    """The distinct values of ``input`` (of the whole tensor, or the distinct slices along
    ``dim``), in ascending order; with ``return_inverse`` also where each entry went (the
    input's shape, or ``dim``'s size), with ``return_counts`` how often each occurs. NaN
    entries are each distinct, as in PyTorch. No gradient (nor in PyTorch).

    Returns:
        A tensor, or a tuple ``(values, inverse, counts)`` of those asked for.

    Example:
        >>> import locograd as lg
        >>> values, counts = lg.unique(lg.tensor([3, 1, 3]), return_counts=True)
        >>> values.tolist(), counts.tolist()
        ([1, 3], [1, 2])
    """
    data = to_array(input, "unique")
    xp = namespace(data)
    options = {"return_inverse": return_inverse, "return_counts": return_counts}
    if data.dtype.kind == "f":
        options["equal_nan"] = False
    if dim is None or data.ndim == 0:
        if dim is not None:
            normalize_dim(dim, 0, "unique")
        result = xp.unique(data.reshape(-1), **options)
        inverse_shape = data.shape
    else:
        d = normalize_dim(dim, data.ndim, "unique")
        result = xp.unique(data, axis=d, **options)
        inverse_shape = (-1,)
    if not (return_inverse or return_counts):
        return new_tensor(result)
    values, *rest = result
    out = [new_tensor(values)]
    if return_inverse:
        out.append(new_tensor(rest.pop(0).reshape(inverse_shape).astype(np.int64)))
    if return_counts:
        out.append(new_tensor(rest.pop(0).astype(np.int64)))
    return tuple(out)

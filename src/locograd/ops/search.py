"""Lookups by position or by value: ``take`` (entries of the flattened tensor, differentiable),
``argwhere`` and the sorted-sequence searches ``searchsorted`` and ``bucketize`` (integer
results, no gradient), with PyTorch's signatures and checks.
"""
from __future__ import annotations

from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import to_array
from .indexing import getitem, nonzero
from .shape import reshape

__all__ = ["take", "argwhere", "searchsorted", "bucketize"]


def take(input, index):
    """The entries of ``input`` viewed as 1-d at ``index`` (an integer tensor; negative
    indices count from the end), in the shape of ``index`` (``torch.take``).

    Example:
        >>> import locograd as lg
        >>> lg.take(lg.tensor([[1.0, 2.0], [3.0, 4.0]]), lg.tensor([0, -1])).tolist()
        [1.0, 4.0]
    """
    idx = to_array(index, "take")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"take: expected an integer (long) tensor for the index, got dtype "
                        f"{idx.dtype}")
    n = to_array(input, "take").size
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            raise IndexError(f"take: out of range: tried to access index "
                             f"{lo if lo < -n else hi} on a tensor of {n} elements")
    return getitem(reshape(input, (-1,)), idx)


def argwhere(input):
    """The indices of the non-zero entries, one row per entry: an ``(n, ndim)`` int64 tensor
    (``torch.argwhere``, the same as ``nonzero(as_tuple=False)``).

    Example:
        >>> import locograd as lg
        >>> lg.argwhere(lg.tensor([[0, 1], [2, 0]])).tolist()
        [[0, 1], [1, 0]]
    """
    return nonzero(input)


def _side(right: bool, side) -> str:
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side can only be 'left' or 'right', got {side!r}")
    if right and side == "left":
        raise ValueError("searchsorted: side and right can't be set to opposites, got side of "
                         "left while right was True")
    return side


def searchsorted(sorted_sequence, input, *, out_int32: bool = False, right: bool = False,
                 side=None, sorter=None):
    """Where each value of ``input`` would be inserted into ``sorted_sequence`` to keep it
    sorted (``torch.searchsorted``): the number of entries ``< v`` (``side='left'``) or
    ``<= v`` (``'right'``, or ``right=True``).

    Args:
        sorted_sequence: a 1-d tensor sorted along its last dim, or an N-d one whose leading
            dims match ``input``'s (each row searched with its own values).
        input: the values (a tensor or a number, which gives a 0-d result).
        out_int32: int32 results instead of int64.
        right, side: which end of a run of equal entries to insert at.
        sorter: indices that sort ``sorted_sequence`` along its last dim, if it is not sorted.

    Returns:
        An integer tensor of ``input``'s shape (no gradient).

    Example:
        >>> import locograd as lg
        >>> lg.searchsorted(lg.tensor([1.0, 3.0, 5.0]), lg.tensor([3.0, 6.0])).tolist()
        [1, 3]
    """
    name = "searchsorted"
    how = _side(right, side)
    seq = to_array(sorted_sequence, name)
    xp = namespace(seq)
    scalar = not isinstance(input, TensorBase) and not hasattr(input, "shape")
    values = xp.asarray(input) if scalar else to_array(input, name)
    if seq.ndim == 0:
        raise ValueError(f"{name}: the boundaries tensor should have a positive number of "
                         f"dimensions, but got a 0-d tensor")
    if scalar and seq.ndim != 1:
        raise ValueError(f"{name}: the input value can be a scalar only when the boundaries "
                         f"tensor has 1 dimension, but it has shape {seq.shape}")
    if seq.ndim > 1 and (values.ndim != seq.ndim or values.shape[:-1] != seq.shape[:-1]):
        raise ValueError(f"{name}: the boundaries tensor should be 1-d, or its first N-1 "
                         f"dimensions should match the input's, but got boundaries of shape "
                         f"{seq.shape} and input of shape {values.shape}")
    if sorter is not None:
        order = to_array(sorter, name)
        if order.shape != seq.shape:
            raise ValueError(f"{name}: the boundaries and sorter must have the same shape, got "
                             f"{seq.shape} and {order.shape}")
        if order.dtype.kind not in "iu":
            raise TypeError(f"{name}: the sorter must be an integer tensor, got {order.dtype}")
        seq = xp.take_along_axis(seq, order, axis=-1)
    if seq.ndim == 1:
        result = xp.searchsorted(seq, values, side=how)
    elif values.size == 0:  # no rows (or no values in them): nothing to search
        result = xp.zeros(values.shape, dtype=xp.int64)
    else:
        rows_seq = seq.reshape(-1, seq.shape[-1])
        rows_val = values.reshape(rows_seq.shape[0], -1)
        result = xp.stack([xp.searchsorted(s, v, side=how)
                           for s, v in zip(rows_seq, rows_val)]).reshape(values.shape)
    dtype = xp.int32 if out_int32 else xp.int64
    return new_tensor(xp.asarray(result).astype(dtype).reshape(values.shape))


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False):
    """The bucket of each value of ``input`` among the sorted 1-d ``boundaries``
    (``torch.bucketize``): ``i`` with ``boundaries[i-1] < v <= boundaries[i]``, or with
    ``right=True``, ``boundaries[i-1] <= v < boundaries[i]`` (``searchsorted`` with its
    arguments swapped).

    Example:
        >>> import locograd as lg
        >>> lg.bucketize(lg.tensor([0.5, 2.0, 9.0]), lg.tensor([1.0, 2.0, 3.0])).tolist()
        [0, 1, 3]
    """
    b = to_array(boundaries, "bucketize")
    if b.ndim != 1:
        raise ValueError(f"bucketize: the boundaries tensor must be 1-d, but got shape {b.shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


"""Splitting and joining in NumPy's manner, with PyTorch's names: ``tensor_split`` (and
``hsplit``, ``vsplit``, ``dsplit``), ``atleast_1d/2d/3d``, ``column_stack``, ``dstack`` and
``meshgrid``.

All are compositions of the view ops of ``ops.shape`` (split, slicing, reshape, broadcast) and
``cat``, so they are differentiable to any order and their results are views where PyTorch's
are. Split points are host-side Python ints.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor_base import TensorBase
from ._common import normalize_dim, to_array
from .indexing import getitem
from .shape import broadcast_to, cat, reshape, split

__all__ = ["tensor_split", "hsplit", "vsplit", "dsplit", "atleast_1d", "atleast_2d",
           "atleast_3d", "column_stack", "dstack", "meshgrid"]


def _split_points(indices_or_sections, name: str):
    """An int (a number of sections) or a list of split indices."""
    v = indices_or_sections
    if isinstance(v, TensorBase) or hasattr(v, "dtype") and hasattr(v, "shape"):
        a = to_array(v, name)
        if a.dtype.kind not in "iu":
            raise TypeError(f"{name}: expected indices_or_sections to have an integer dtype "
                            f"(long), got {a.dtype}")
        if a.ndim > 1:
            raise ValueError(f"{name}: expected indices_or_sections to be a 0-d or 1-d tensor, "
                             f"got shape {a.shape}")
        return int(a.reshape(())) if a.ndim == 0 else [int(i) for i in a.tolist()]
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name}: indices_or_sections must be an int or a sequence of ints, "
                        f"got a bool")
    if isinstance(v, (int, np.integer)):
        return int(v)
    return [int(i) for i in v]


def tensor_split(input, indices_or_sections, dim: int = 0):
    """Split ``input`` along ``dim`` into views (``torch.tensor_split``, ``numpy.array_split``).

    Args:
        input: a tensor of at least 1 dimension.
        indices_or_sections: an int ``n`` (or a 0-d integer tensor): ``n`` parts, the first
            ``size % n`` one entry longer; or split indices (a list, tuple or 1-d integer
            tensor): the parts ``[:i0]``, ``[i0:i1]``, ..., ``[ik:]`` with slicing's rules
            (negative indices count from the end, out-of-range ones clamp, empty parts allowed).
        dim: the dimension to split.

    Returns:
        A tuple of tensors.

    Example:
        >>> import locograd as lg
        >>> [t.tolist() for t in lg.tensor_split(lg.arange(5), 2)]
        [[0, 1, 2], [3, 4]]
    """
    name = "tensor_split"
    d_in = to_array(input, name)
    if d_in.ndim == 0:
        raise ValueError(f"{name}: expected at least a 1-dimensional tensor, but got a 0-d "
                         f"tensor ({d_in.dtype})")
    d = normalize_dim(dim, d_in.ndim, name)
    n = d_in.shape[d]
    points = _split_points(indices_or_sections, name)
    if isinstance(points, int):
        if points <= 0:
            raise ValueError(f"{name}: number of sections must be larger than 0, got {points}")
        size, extra = divmod(n, points)
        return split(input, [size + 1] * extra + [size] * (points - extra), d)
    bounds = [0] + points + [n]
    ranges = [slice(a, b).indices(n)[:2] for a, b in zip(bounds, bounds[1:])]
    ranges = [(a, max(a, b)) for a, b in ranges]
    if all(b == c for (_, b), (c, _) in zip(ranges, ranges[1:])) and ranges[0][0] == 0 \
            and ranges[-1][1] == n:
        return split(input, [b - a for a, b in ranges], d)  # one node, views
    lead = (slice(None),) * d
    return tuple(getitem(input, lead + (slice(a, b),)) for a, b in ranges)


def _even_split(input, sections, dim: int, name: str):
    points = _split_points(sections, name)
    n = to_array(input).shape[dim]
    if isinstance(points, int) and (points <= 0 or n % points):
        raise ValueError(f"{name}: attempted to split along dimension {dim}, but the size of the "
                         f"dimension {n} is not divisible by the split_size {points}!")
    return tensor_split(input, points, dim)


def _require_ndim(input, least: int, name: str) -> int:
    nd = to_array(input, name).ndim
    if nd < least:
        raise ValueError(f"{name}: requires a tensor with at least {least} dimension(s), but got "
                         f"a tensor with {nd} dimensions")
    return nd


def hsplit(input, indices_or_sections):
    """``tensor_split`` along dim 1 (dim 0 of a 1-d tensor); an int must divide the size.

    Example:
        >>> import locograd as lg
        >>> [t.shape for t in lg.hsplit(lg.zeros(2, 4), 2)]
        [(2, 2), (2, 2)]
    """
    nd = _require_ndim(input, 1, "hsplit")
    return _even_split(input, indices_or_sections, 1 if nd > 1 else 0, "hsplit")


def vsplit(input, indices_or_sections):
    """``tensor_split`` along dim 0 of a tensor of at least 2 dims; an int must divide the size.

    Example:
        >>> import locograd as lg
        >>> [t.shape for t in lg.vsplit(lg.zeros(4, 2), [1])]
        [(1, 2), (3, 2)]
    """
    _require_ndim(input, 2, "vsplit")
    return _even_split(input, indices_or_sections, 0, "vsplit")


def dsplit(input, indices_or_sections):
    """``tensor_split`` along dim 2 of a tensor of at least 3 dims; an int must divide the size.

    Example:
        >>> import locograd as lg
        >>> [t.shape for t in lg.dsplit(lg.zeros(1, 2, 4), 2)]
        [(1, 2, 2), (1, 2, 2)]
    """
    _require_ndim(input, 3, "dsplit")
    return _even_split(input, indices_or_sections, 2, "dsplit")


def _atleast(tensors, name: str, promote):
    """One tensor gives a tensor; several, none, or one list of them give a tuple."""
    as_tuple = len(tensors) != 1
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors, as_tuple = tuple(tensors[0]), True
    for t in tensors:
        if not isinstance(t, TensorBase):
            raise TypeError(f"{name}: expected tensors, got {type(t).__name__}")
    out = tuple(promote(t) for t in tensors)
    return out if as_tuple else out[0]


def _at_least_1d(t):
    return t if t.ndim >= 1 else reshape(t, (1,))


def _at_least_2d(t):
    return t if t.ndim >= 2 else reshape(t, (1, -1))


def _at_least_3d(t):
    if t.ndim >= 3:
        return t
    if t.ndim == 2:
        return reshape(t, t.shape + (1,))
    return reshape(t, (1, -1, 1))


def atleast_1d(*tensors):
    """Each tensor viewed with at least 1 dim (a 0-d tensor becomes shape ``(1,)``); one tensor
    gives a tensor, several (or a list) a tuple (``torch.atleast_1d``).

    Example:
        >>> import locograd as lg
        >>> lg.atleast_1d(lg.tensor(1.0)).shape
        (1,)
    """
    return _atleast(tensors, "atleast_1d", _at_least_1d)


def atleast_2d(*tensors):
    """Each tensor viewed with at least 2 dims (0-d: ``(1, 1)``, ``(n,)``: ``(1, n)``).

    Example:
        >>> import locograd as lg
        >>> lg.atleast_2d(lg.zeros(3)).shape
        (1, 3)
    """
    return _atleast(tensors, "atleast_2d", _at_least_2d)


def atleast_3d(*tensors):
    """Each tensor viewed with at least 3 dims (0-d: ``(1, 1, 1)``, ``(n,)``: ``(1, n, 1)``,
    ``(m, n)``: ``(m, n, 1)``), as ``numpy.atleast_3d``.

    Example:
        >>> import locograd as lg
        >>> lg.atleast_3d(lg.zeros(2, 3)).shape
        (2, 3, 1)
    """
    return _atleast(tensors, "atleast_3d", _at_least_3d)


def _non_empty(tensors, name: str) -> list:
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{name}: expects a non-empty list of tensors")
    return tensors


def column_stack(tensors):
    """Join tensors as the columns of a matrix: 0-d and 1-d ones become columns, the others
    are joined along dim 1 (``torch.column_stack``).

    Example:
        >>> import locograd as lg
        >>> lg.column_stack([lg.tensor([1.0, 2.0]), lg.tensor([3.0, 4.0])]).tolist()
        [[1.0, 3.0], [2.0, 4.0]]
    """
    tensors = _non_empty(tensors, "column_stack")
    return cat([reshape(t, (-1, 1)) if to_array(t, "column_stack").ndim <= 1 else t
                for t in tensors], 1)


def dstack(tensors):
    """Join tensors along dim 2 after ``atleast_3d`` (``torch.dstack``).

    Example:
        >>> import locograd as lg
        >>> lg.dstack([lg.zeros(2), lg.ones(2)]).shape
        (1, 2, 2)
    """
    tensors = _non_empty(tensors, "dstack")
    return cat([_at_least_3d(t) for t in tensors], 2)


def meshgrid(*tensors, indexing: str | None = None):
    """Coordinate grids from 0-d or 1-d tensors (``torch.meshgrid``): output ``i`` holds
    ``tensors[i]`` along its own dim, broadcast over the others (views).

    Args:
        *tensors: 0-d or 1-d tensors of one dtype (or one list of them).
        indexing: ``'ij'`` (matrix indexing; the default, as PyTorch's, which warns when it is
            not given and locograd does not) or ``'xy'`` (Cartesian: the first two dims
            swapped, as ``numpy.meshgrid``'s default).

    Returns:
        A tuple of tensors, one per input, all of the grid's shape.

    Example:
        >>> import locograd as lg
        >>> x, y = lg.meshgrid(lg.tensor([1, 2]), lg.tensor([3, 4, 5]), indexing="ij")
        >>> x.shape, y[0].tolist()
        ((2, 3), [3, 4, 5])
    """
    name = "meshgrid"
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f'{name}: indexing must be one of "xy" or "ij", but received: '
                         f'{indexing}')
    if not tensors:
        raise ValueError(f"{name}: expects a non-empty list of tensors")
    arrays = [to_array(t, name) for t in tensors]
    for i, a in enumerate(arrays):
        if a.ndim > 1:
            raise ValueError(f"{name}: expected 0-d or 1-d tensors, but tensor {i} has shape "
                             f"{a.shape}")
        if a.dtype != arrays[0].dtype:
            raise TypeError(f"{name}: expects all tensors to have the same dtype, got "
                            f"{arrays[0].dtype} and {a.dtype} (tensor {i})")
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(axes) >= 2:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(tensors)
    for a, ax in zip(arrays, axes):
        shape[ax] = a.size
    out = []
    for t, ax in zip(tensors, axes):
        along = [1] * len(shape)
        along[ax] = -1
        out.append(broadcast_to(reshape(t, tuple(along)), tuple(shape)))
    return tuple(out)

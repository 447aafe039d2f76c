"""Arrangement ops: diagonals (``diagonal``, ``diag_embed``, ``block_diag``, the triangle index
lists), flips and rotations (``fliplr``, ``flipud``, ``rot90``), ``repeat_interleave`` and the
sliding windows of ``Tensor.unfold`` (here ``tensor_unfold``).

``diagonal`` and ``tensor_unfold`` return views of their input, as PyTorch's do (read-only: the
windows overlap). Their backward is a write into zeros, ``DiagEmbed`` and ``UnfoldBackward``,
each a node whose own backward is the forward op again, so every order of derivative exists.
The other ops are compositions of differentiable ops (flip, transpose, reshape, expand,
indexing, pad, cat). Each rule is written once against the namespace of its values (``xp``).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import normalize_dim, to_array
from .indexing import getitem
from .shape import _as_view, broadcast_to, cat, clone, flip, pad, reshape, transpose

__all__ = ["diagonal", "diag_embed", "fliplr", "flipud", "rot90", "repeat_interleave",
           "tensor_unfold", "block_diag", "tril_indices", "triu_indices"]


# ------------------------------------------------------------------ diagonals

def _diagonal_positions(xp, n: int, offset: int):
    """Row and column indices of the ``n`` entries of diagonal ``offset``."""
    i = xp.arange(n)
    return (i, i + offset) if offset >= 0 else (i - offset, i)


def _embed_kernel(values, shape, offset: int, dim1: int, dim2: int):
    """``zeros(shape)`` with ``values`` (batch dims in order, diagonal last) on the diagonal
    ``offset`` of dims ``dim1``, ``dim2``."""
    xp = namespace(values)
    out = xp.zeros(shape, dtype=values.dtype)
    n = values.shape[-1]
    if n and values.size:
        rows, cols = _diagonal_positions(xp, n, offset)
        xp.moveaxis(out, (dim1, dim2), (-2, -1))[..., rows, cols] = values
    return out


def _on_values(node, kernel, value, *args):
    """``kernel(value, *args)`` on arrays; on tensors (a recorded pass) the node ``node``, whose
    own backward makes the result differentiable again."""
    return node.apply(value, *args) if isinstance(value, TensorBase) else kernel(value, *args)


class Diagonal(Function):
    """The diagonal ``offset`` of dims ``dim1``, ``dim2``, as a new last dim (a view)."""

    label = "Diagonal"

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        d = x.data
        ctx.args = (d.shape, offset, dim1, dim2)
        return namespace(d).diagonal(d, offset, dim1, dim2)

    @staticmethod
    def backward(ctx, grad):
        return _on_values(DiagEmbed, _embed_kernel, grad, *ctx.args), None, None, None


class DiagEmbed(Function):
    """Zeros of ``shape`` with the input on a diagonal: ``diag_embed``, and ``Diagonal``'s
    backward; its own backward takes the diagonal again."""

    label = "DiagEmbed"

    @staticmethod
    def forward(ctx, values, shape, offset, dim1, dim2):
        ctx.args = (offset, dim1, dim2)
        return _embed_kernel(values.data, shape, offset, dim1, dim2)

    @staticmethod
    def backward(ctx, grad):
        offset, dim1, dim2 = ctx.args
        # positional: NumPy's diagonal(a, offset, axis1, axis2) and ours agree
        return namespace(grad).diagonal(grad, offset, dim1, dim2), None, None, None, None


def _diagonal_dims(dim1: int, dim2: int, ndim: int, name: str) -> tuple:
    d1, d2 = normalize_dim(dim1, ndim, name), normalize_dim(dim2, ndim, name)
    if d1 == d2:
        raise ValueError(f"{name}: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """The diagonal ``offset`` (above the main one if positive) of the 2-D slices spanned by
    ``dim1`` and ``dim2``, as the last dimension of the result (``torch.diagonal``; a view).

    Args:
        input: a tensor of at least 2 dimensions.
        offset: which diagonal: 0 the main one, > 0 above it, < 0 below it.
        dim1, dim2: the two dimensions the diagonal is taken over (distinct).

    Returns:
        The other dimensions in order, then the diagonal (empty if ``offset`` is out of range).

    Example:
        >>> import locograd as lg
        >>> lg.diagonal(lg.arange(6.0).reshape(2, 3), 1).tolist()
        [1.0, 5.0]
    """
    d = to_array(input, "diagonal")
    d1, d2 = _diagonal_dims(dim1, dim2, d.ndim, "diagonal")
    return _as_view(Diagonal.apply(input, int(offset), d1, d2), input)


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """A tensor whose diagonals (of dims ``dim1``, ``dim2`` of the result) are the last
    dimension of ``input``, zeros elsewhere (``torch.diag_embed``).

    Args:
        input: a tensor of at least 1 dimension; its last dim goes on the diagonal.
        offset: which diagonal to fill (0 the main one, > 0 above, < 0 below).
        dim1, dim2: dims of the *result* (which has one more dim than ``input``).

    Returns:
        A tensor of ``input.ndim + 1`` dims, of size ``n + |offset|`` in ``dim1`` and ``dim2``.

    Example:
        >>> import locograd as lg
        >>> lg.diag_embed(lg.tensor([[1.0, 2.0]])).tolist()
        [[[1.0, 0.0], [0.0, 2.0]]]
    """
    d = to_array(input, "diag_embed")
    nd = d.ndim + 1
    if d.ndim == 0:
        raise ValueError(f"diag_embed: the input must have at least 1 dimension, got a 0-d "
                         f"tensor ({d.dtype})")
    d1, d2 = _diagonal_dims(dim1, dim2, nd, "diag_embed")
    n = d.shape[-1] + abs(int(offset))
    batch = iter(d.shape[:-1])
    shape = tuple(n if i in (d1, d2) else next(batch) for i in range(nd))
    return DiagEmbed.apply(input, shape, int(offset), d1, d2)


def _block(t, i: int):
    d = to_array(t, "block_diag")
    if d.ndim > 2:
        raise ValueError(f"block_diag: input tensors must have 2 or fewer dimensions; input {i} "
                         f"has {d.ndim} (shape {d.shape})")
    return t if d.ndim == 2 else reshape(t, (1, -1))


def block_diag(*tensors):
    """The tensors (0-d, 1-d as a row, or 2-d) as blocks along the diagonal of a matrix, zeros
    elsewhere (``torch.block_diag``); the dtype is the promoted one.

    Args:
        *tensors: the blocks, in order.

    Returns:
        A matrix of ``sum(rows)`` by ``sum(columns)`` (``(1, 0)`` with no input, as PyTorch).

    Example:
        >>> import locograd as lg
        >>> lg.block_diag(lg.tensor([[1.0]]), lg.tensor([2.0, 3.0])).tolist()
        [[1.0, 0.0, 0.0], [0.0, 2.0, 3.0]]
    """
    if not tensors:
        from .. import factory
        return factory.zeros(1, 0)
    blocks = [_block(t, i) for i, t in enumerate(tensors)]
    widths = [to_array(b).shape[1] for b in blocks]
    total, left, rows = sum(widths), 0, []
    for b, w in zip(blocks, widths):
        # each block padded to the full width (pad and cat are differentiable)
        rows.append(pad(b, (left, total - left - w)))
        left += w
    return cat(rows, 0)


def _triangle_indices(name: str, row: int, col: int, offset: int, dtype, device, lower: bool):
    from .. import factory
    from ..backend import as_dtype
    if row < 0 or col < 0:
        raise ValueError(f"{name}: row and col must be non-negative, got row={row}, col={col}")
    dt = np.dtype(as_dtype(dtype))
    if dt.kind not in "iu":
        raise TypeError(f"{name}: dtype must be an integer type, got {dt}")
    make = np.tril_indices if lower else np.triu_indices
    rows, cols = make(int(row), int(offset), int(col))  # host work on Python ints
    return factory.as_tensor(np.stack([rows, cols]).astype(dt), device=device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=np.int64, device=None):
    """The indices (a ``(2, N)`` tensor: rows, then columns, in row-major order) of the lower
    triangle of a ``row`` x ``col`` matrix, entries ``j - i <= offset`` (``torch.tril_indices``).

    Example:
        >>> import locograd as lg
        >>> lg.tril_indices(2, 2).tolist()
        [[0, 1, 1], [0, 0, 1]]
    """
    return _triangle_indices("tril_indices", row, col, offset, dtype, device, True)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=np.int64, device=None):
    """The indices (``(2, N)``, row-major) of the upper triangle of a ``row`` x ``col`` matrix,
    entries ``j - i >= offset`` (``torch.triu_indices``).

    Example:
        >>> import locograd as lg
        >>> lg.triu_indices(2, 2).tolist()
        [[0, 0, 1], [0, 1, 1]]
    """
    return _triangle_indices("triu_indices", row, col, offset, dtype, device, False)


# ------------------------------------------------------------------ flips and rotations

def fliplr(input):
    """Reverse the columns (dim 1) of a tensor of at least 2 dims (``torch.fliplr``).

    Example:
        >>> import locograd as lg
        >>> lg.fliplr(lg.tensor([[1.0, 2.0]])).tolist()
        [[2.0, 1.0]]
    """
    d = to_array(input, "fliplr")
    if d.ndim < 2:
        raise ValueError(f"fliplr: the input must be >= 2-d, got shape {d.shape}")
    return flip(input, 1)


def flipud(input):
    """Reverse the rows (dim 0) of a tensor of at least 1 dim (``torch.flipud``).

    Example:
        >>> import locograd as lg
        >>> lg.flipud(lg.tensor([1.0, 2.0])).tolist()
        [2.0, 1.0]
    """
    d = to_array(input, "flipud")
    if d.ndim < 1:
        raise ValueError(f"flipud: the input must be >= 1-d, got a 0-d tensor ({d.dtype})")
    return flip(input, 0)


def rot90(input, k: int = 1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first dim towards
    the second (``torch.rot90``, the same as ``numpy.rot90``).

    Args:
        input: a tensor of at least 2 dims.
        k: the number of quarter turns (any integer; negative turns the other way).
        dims: two distinct dims.

    Example:
        >>> import locograd as lg
        >>> lg.rot90(lg.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
        [[2.0, 4.0], [1.0, 3.0]]
    """
    d = to_array(input, "rot90")
    dims = tuple(dims)
    if len(dims) != 2:
        raise ValueError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if d.ndim < 2:
        raise ValueError(f"rot90: expected total dims >= 2, but got total dims = {d.ndim}")
    d0, d1 = (normalize_dim(int(a), d.ndim, "rot90") for a in dims)
    if d0 == d1:
        raise ValueError(f"rot90: expected rotation dims to be different, but got dim0 = "
                         f"{dims[0]} and dim1 = {dims[1]}")
    k = int(k) % 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return transpose(flip(input, d0), d0, d1)
    return clone(input)


# ------------------------------------------------------------------ repeat_interleave

def _repeat_counts(repeats, name: str):
    """``repeats`` as an integer array (0-d or 1-d) of non-negative counts, or a Python int."""
    if isinstance(repeats, TensorBase) or hasattr(repeats, "dtype"):
        r = to_array(repeats, name)
        if r.dtype.kind not in "iu":
            raise TypeError(f"{name}: repeats must be an integer tensor, got dtype {r.dtype}")
        if r.ndim > 1:
            raise ValueError(f"{name}: repeats must be a 0-d or 1-d tensor, got shape {r.shape}")
        if r.size and int(r.min()) < 0:
            raise ValueError(f"{name}: repeats must be non-negative, got {int(r.min())}")
        return int(r.reshape(())) if r.size == 1 and r.ndim == 0 else r
    if isinstance(repeats, (bool, np.bool_)) or not isinstance(repeats, (int, np.integer)):
        raise TypeError(f"{name}: repeats must be an int or an integer tensor, got "
                        f"{type(repeats).__name__}")
    if repeats < 0:
        raise ValueError(f"{name}: repeats must be non-negative, got {repeats}")
    return int(repeats)


def _repeated_positions(counts):
    """``[0]*counts[0] + [1]*counts[1] + ...`` on the counts' backend (a search over the
    cumulative counts: no host round trip of the counts, and CuPy's repeat takes no array)."""
    xp = namespace(counts)
    ends = xp.cumsum(counts)
    total = int(ends[-1]) if counts.size else 0
    return xp.searchsorted(ends, xp.arange(total), side="right"), total


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each entry (each slice along ``dim``) ``repeats`` times in place, as
    ``torch.repeat_interleave``: ``[a, b]`` with 2 gives ``[a, a, b, b]``.

    Args:
        input: the tensor; with ``repeats=None`` it is itself the counts (1-d integers) and
            the result is ``arange(len(input))`` repeated by them.
        repeats: an int, or an integer tensor of one count per slice (or of one count).
        dim: the dimension to repeat along; None repeats the flattened tensor.
        output_size: the total size along ``dim``, if known (checked).

    Example:
        >>> import locograd as lg
        >>> lg.repeat_interleave(lg.tensor([1.0, 2.0]), lg.tensor([1, 2])).tolist()
        [1.0, 2.0, 2.0]
    """
    name = "repeat_interleave"
    if repeats is None:
        counts = to_array(input, name)
        if counts.ndim != 1:
            raise ValueError(f"{name}: the counts must be a 1-d tensor, got shape {counts.shape}")
        counts = _repeat_counts(input, name)
        positions, _ = _repeated_positions(counts)
        return new_tensor(positions.astype(namespace(positions).int64))
    reps = _repeat_counts(repeats, name)
    if dim is None:
        input, d = reshape(input, (-1,)), 0
    else:
        nd = to_array(input, name).ndim
        if nd == 0:
            raise IndexError(f"{name}: dim {dim} given for a 0-d tensor (pass dim=None)")
        d = normalize_dim(dim, nd, name)
    shape = to_array(input).shape
    n = shape[d]
    if not isinstance(reps, int) and reps.size == 1:
        reps = int(reps.reshape(()))
    if isinstance(reps, int):
        total = n * reps
        # a broadcast along a new axis, folded into dim: its backward is a sum, not a scatter
        expanded = broadcast_to(reshape(input, shape[:d + 1] + (1,) + shape[d + 1:]),
                                shape[:d + 1] + (reps,) + shape[d + 1:])
        out = reshape(expanded, shape[:d] + (total,) + shape[d + 1:])
    else:
        if reps.shape[0] != n:
            raise ValueError(f"{name}: repeats must have the same size as input along dim, but "
                             f"got {reps.shape[0]} repeats for size {n} (shape {shape}, dim {d})")
        positions, total = _repeated_positions(reps)
        out = getitem(input, (slice(None),) * d + (positions,))
    if output_size is not None and int(output_size) != total:
        raise ValueError(f"{name}: output_size={output_size} does not match the {total} "
                         f"entries the repeats give")
    return out


# ------------------------------------------------------------------ sliding windows

def _windows_kernel(d, dim: int, size: int, step: int):
    xp = namespace(d)
    win = xp.lib.stride_tricks.sliding_window_view(d, size, axis=dim)
    return win[(slice(None),) * dim + (slice(None, None, step),)] if step != 1 else win


def _fold_kernel(grad, shape, dim: int, size: int, step: int):
    """Sum the windows' gradients back into ``zeros(shape)`` (overlapping windows add)."""
    xp = namespace(grad)
    out = xp.zeros(shape, dtype=grad.dtype)
    count = grad.shape[dim]
    o = xp.moveaxis(out, dim, -1)    # (..., n)
    g = xp.moveaxis(grad, dim, -2)   # (..., count, size)
    if count <= size:  # one pass per window
        for j in range(count):
            o[..., j * step:j * step + size] += g[..., j, :]
    else:              # one pass per offset in the window: a strided slice, no repeats in it
        for k in range(size):
            o[..., k:k + step * (count - 1) + 1:step] += g[..., k]
    return out


class TensorUnfold(Function):
    """The windows of ``size`` entries every ``step`` along ``dim`` (a new last dim; a view)."""

    label = "Unfold"

    @staticmethod
    def forward(ctx, x, dim, size, step):
        d = x.data
        ctx.args = (d.shape, dim, size, step)
        return _windows_kernel(d, dim, size, step)

    @staticmethod
    def backward(ctx, grad):
        return _on_values(UnfoldBackward, _fold_kernel, grad, *ctx.args), None, None, None


class UnfoldBackward(Function):
    """The windows' gradients summed back into the input's shape; its backward takes the
    windows again."""

    label = "UnfoldBackward"

    @staticmethod
    def forward(ctx, grad, shape, dim, size, step):
        ctx.args = (dim, size, step)
        return _fold_kernel(grad.data, shape, dim, size, step)

    @staticmethod
    def backward(ctx, gg):
        return _on_values(TensorUnfold, _windows_kernel, gg, *ctx.args), None, None, None, None


def tensor_unfold(input, dimension: int, size: int, step: int):
    """All windows of ``size`` entries, every ``step`` entries, along ``dimension``
    (PyTorch's ``Tensor.unfold``; named so, and bound as the method ``unfold``, because
    ``nn.functional.unfold`` is im2col, another op).

    Args:
        input: the tensor (a 0-d tensor counts as one entry).
        dimension: the dim the windows slide along; it becomes the number of windows,
            ``(n - size) // step + 1``.
        size: the window length (at most the dim's size), a new last dimension.
        step: the distance between window starts (positive).

    Returns:
        A read-only view of ``input``.

    Example:
        >>> import locograd as lg
        >>> lg.tensor_unfold(lg.arange(5.0), 0, 2, 2).tolist()
        [[0.0, 1.0], [2.0, 3.0]]
    """
    name = "unfold"
    d = to_array(input, name)
    size, step = int(size), int(step)
    if step <= 0:
        raise ValueError(f"{name}: step is {step} but must be > 0")
    if size < 0:
        raise ValueError(f"{name}: size is {size} but must be >= 0")
    if d.ndim == 0:
        normalize_dim(dimension, 0, name)
        if size > 1:
            raise ValueError(f"{name}: maximum size for a 0-d tensor is 1 but size is {size}")
        return getitem(reshape(input, (1,)), slice(0, size))
    dim = normalize_dim(dimension, d.ndim, name)
    if size > d.shape[dim]:
        raise ValueError(f"{name}: maximum size for tensor at dimension {dim} is "
                         f"{d.shape[dim]} but size is {size} (shape {d.shape})")
    return _as_view(TensorUnfold.apply(input, dim, size, step), input)

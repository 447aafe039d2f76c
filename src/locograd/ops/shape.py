"""Shape operations: reshape/view, transposes, broadcasting, concatenation, splitting, padding,
triangles and diagonals.

View operations (reshape when NumPy can, transpose, permute, squeeze, unsqueeze, expand, split)
return tensors that share memory with their input; they share its version counter too, so an
in-place change through either is seen by the in-place check of a pending backward. Each rule is
written once against the namespace of its values (``xp``: NumPy, CuPy, or the tensor namespace
when the backward pass is recorded). Shapes, dims and split points are host-side Python ints.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import normalize_dim, same_dtype_arrays, to_array
from .elementwise import where

__all__ = [
    "reshape", "view", "flatten", "unflatten", "squeeze", "unsqueeze", "transpose", "permute",
    "movedim", "moveaxis", "t", "expand", "broadcast_to", "sum_to_size", "cat", "concatenate",
    "concat", "stack", "split", "chunk", "unbind", "pad", "repeat", "tile", "flip", "clone",
    "contiguous", "broadcast_shapes", "hstack", "vstack", "swapaxes", "swapdims", "ravel", "roll",
    "broadcast_tensors", "tril", "triu", "diag",
]


def _as_view(out: TensorBase, x: TensorBase) -> TensorBase:
    """Mark ``out`` as a view of ``x`` if their memory overlaps (share the version counter)."""
    if isinstance(x, TensorBase) and namespace(x.data).may_share_memory(out.data, x.data):
        out._version = x._version
        out._is_view = True
    return out


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"expected a shape (ints), got {shape!r}") from None


def _check_size(in_shape, shape, name) -> None:
    """A clear ValueError if ``shape`` (with at most one -1) cannot hold ``in_shape``'s size."""
    size = int(np.prod(in_shape, dtype=np.int64))
    unknown = [s for s in shape if s == -1]
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    if len(unknown) > 1 or any(s < -1 for s in shape):
        raise ValueError(f"{name}: invalid shape {tuple(shape)}: only one dimension can be -1 "
                         f"and sizes must be non-negative")
    if (known != size) if not unknown else (known == 0 or size % known):
        raise ValueError(f"{name}: cannot reshape a tensor of shape {tuple(in_shape)} "
                         f"({size} elements) into shape {tuple(shape)}")


class Reshape(Function):
    label = "Reshape"

    @staticmethod
    def forward(ctx, x, shape, copy):
        d = x.data
        ctx.in_shape = d.shape
        try:
            return d.reshape(shape) if copy is None else namespace(d).reshape(d, shape, copy=copy)
        except ValueError:
            _check_size(x.data.shape, shape, "reshape" if copy is None else "view")
            if copy is False:
                raise RuntimeError(
                    f"view: the shape {tuple(shape)} is not compatible with the input's size and "
                    f"strides (shape {x.data.shape}, strides {x.data.strides}); use .reshape(), "
                    f"which copies when needed") from None
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.data.shape} "
                             f"({x.data.size} elements) into shape {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None, None


def reshape(x, *shape):
    """Same data with a new shape (a view when possible, else a copy); ``-1`` infers one size.

    Example:
        >>> import locograd as lg
        >>> lg.arange(6).reshape(2, 3).shape
        (2, 3)
    """
    return _as_view(Reshape.apply(x, _shape_arg(shape), None), x)


def view(x, *shape):
    """Like ``reshape`` but never copies: an error if the strides do not allow a view."""
    return _as_view(Reshape.apply(x, _shape_arg(shape), False), x)


def flatten(x, start_dim: int = 0, end_dim: int = -1):
    """Merge dimensions ``start_dim..end_dim`` into one."""
    nd = x.data.ndim
    if nd == 0:
        return reshape(x, 1)
    s = normalize_dim(start_dim, nd, "flatten")
    e = normalize_dim(end_dim, nd, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim "
                         f"({end_dim})")
    shp = x.data.shape
    return reshape(x, shp[:s] + (int(np.prod(shp[s:e + 1])),) + shp[e + 1:])


def ravel(x):
    """The entries as a 1-D tensor (a view when possible)."""
    return reshape(x, -1)


def unflatten(x, dim: int, sizes):
    d = normalize_dim(dim, x.data.ndim, "unflatten")
    shp = x.data.shape
    return reshape(x, shp[:d] + tuple(sizes) + shp[d + 1:])


def squeeze(x, dim=None):
    """Remove dimensions of size 1 (all of them, or only ``dim`` if it has size 1)."""
    shp = x.data.shape
    if dim is None:
        new = tuple(s for s in shp if s != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = {normalize_dim(d, len(shp), "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shp) if not (i in dims and s == 1))
    return reshape(x, new)


def unsqueeze(x, dim: int):
    """Insert a dimension of size 1 at ``dim``."""
    shp = x.data.shape
    d = normalize_dim(dim, len(shp) + 1, "unsqueeze")
    return reshape(x, shp[:d] + (1,) + shp[d:])


class Permute(Function):
    label = "Permute"

    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(sorted(range(len(dims)), key=dims.__getitem__))
        return x.data.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return namespace(grad).transpose(grad, ctx.inverse), None


def permute(x, *dims):
    """Reorder the dimensions (a view)."""
    dims = _shape_arg(dims)
    nd = x.data.ndim
    if len(dims) != nd:
        raise ValueError(f"permute: the number of dims ({len(dims)}) does not match the "
                         f"tensor's {nd} dimensions (shape {x.data.shape})")
    dims = tuple(normalize_dim(d, nd, "permute") for d in dims)
    if sorted(dims) != list(range(nd)):
        raise ValueError(f"permute: {dims} is not a permutation of the dimensions")
    return _as_view(Permute.apply(x, dims), x)


def transpose(x, dim0: int, dim1: int):
    """Swap two dimensions (a view)."""
    nd = x.data.ndim
    if nd < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    a, b = normalize_dim(dim0, nd, "transpose"), normalize_dim(dim1, nd, "transpose")
    dims = list(range(nd))
    dims[a], dims[b] = dims[b], dims[a]
    return _as_view(Permute.apply(x, tuple(dims)), x)


swapaxes = swapdims = transpose


def _dim_list(dims, nd: int, name: str) -> list:
    dims = [dims] if isinstance(dims, (int, np.integer)) else list(dims)
    out = [normalize_dim(int(d), nd, name) for d in dims]
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated dim in {tuple(dims)}")
    return out


def movedim(x, source, destination):
    """Move the dims ``source`` (an int or a sequence) to the positions ``destination`` (a view).

    Example:
        >>> import locograd as lg
        >>> lg.zeros(2, 3, 4).movedim((0, 1), (2, 0)).shape
        (3, 4, 2)
    """
    nd = x.data.ndim
    src = _dim_list(source, nd, "movedim")
    dst = _dim_list(destination, nd, "movedim")
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {source} and destination {destination} must name the "
                         f"same number of dims")
    if nd == 0:
        return x
    dims = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        dims.insert(d, s)
    return _as_view(Permute.apply(x, tuple(dims)), x)


moveaxis = movedim


def t(x):
    """Transpose a tensor of at most 2 dimensions."""
    if x.data.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got shape {x.data.shape}; "
                         f"use .transpose(dim0, dim1) or .mT")
    return transpose(x, 0, -1) if x.data.ndim == 2 else x


def broadcast_shapes(*shapes) -> tuple:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(f"broadcast_shapes: shapes {', '.join(str(tuple(s)) for s in shapes)} "
                         f"cannot be broadcast together") from None


class BroadcastTo(Function):
    """Broadcast to ``shape`` (a read-only view); backward sums back with ``SumTo``."""

    label = "BroadcastTo"

    @staticmethod
    def forward(ctx, x, shape):
        d = x.data
        ctx.in_shape = d.shape
        try:
            return namespace(d).broadcast_to(d, shape)
        except ValueError:
            raise ValueError(f"expand: the shape {x.data.shape} cannot be broadcast to "
                             f"{tuple(shape)}") from None

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # the engine sums it back to the input's shape (a SumTo on tensors)


class SumTo(Function):
    """Sum a broadcast gradient back to ``shape`` (the engine's unbroadcast, differentiable)."""

    label = "SumTo"

    @staticmethod
    def forward(ctx, x, shape):
        d = x.data
        ctx.in_shape = d.shape
        lead = d.ndim - len(shape)
        if lead < 0 or any(s != 1 and s != ds for s, ds in zip(shape, d.shape[lead:])):
            raise ValueError(f"sum_to_size: the shape {d.shape} cannot be summed to "
                             f"{tuple(shape)}")
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                          if s == 1 and d.shape[lead + i] != 1)
        out = d.sum(axis=axes, keepdims=True) if axes else d
        return out.reshape(shape) if lead else out

    @staticmethod
    def backward(ctx, grad):
        return namespace(grad).broadcast_to(grad, ctx.in_shape), None


def broadcast_to(x, *shape):
    """Broadcast to ``shape`` without copying (a read-only view)."""
    shape = _shape_arg(shape)
    if x.data.shape == shape:
        return x
    return _as_view(BroadcastTo.apply(x, shape), x)


def broadcast_tensors(*tensors):
    """The tensors broadcast to their common shape (read-only views)."""
    shape = broadcast_shapes(*(to_array(t, "broadcast_tensors").shape for t in tensors))
    return tuple(broadcast_to(t, shape) for t in tensors)


def expand(x, *sizes):
    """Broadcast to ``sizes``; ``-1`` keeps a dimension (PyTorch's ``expand``)."""
    sizes = _shape_arg(sizes)
    shp = x.data.shape
    lead = len(sizes) - len(shp)
    if lead < 0:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the number "
                         f"of dimensions ({len(shp)}) of the tensor of shape {shp}")
    full = tuple(shp[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return broadcast_to(x, full)


def sum_to_size(x, *shape):
    """Sum ``x`` down to ``shape`` (which must broadcast to ``x.shape``)."""
    shape = _shape_arg(shape)
    if x.data.shape == shape:
        return x
    return SumTo.apply(x, shape)


class Cat(Function):
    label = "Cat"

    @staticmethod
    def forward(ctx, dim, *tensors):
        arrays = same_dtype_arrays(tensors, "cat")
        ctx.cuts = list(itertools.accumulate(a.shape[dim] for a in arrays))[:-1]
        ctx.dim = dim
        return namespace(arrays[0]).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        if not ctx.cuts:
            return None, grad
        return (None,) + tuple(namespace(grad).split(grad, ctx.cuts, axis=ctx.dim))


def cat(tensors, dim: int = 0):
    """Concatenate tensors along an existing dimension.

    Example:
        >>> import locograd as lg
        >>> lg.cat([lg.zeros(2, 3), lg.ones(1, 3)]).shape
        (3, 3)
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    nd = to_array(tensors[0]).ndim
    if nd == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    d = normalize_dim(dim, nd, "cat")
    ref = to_array(tensors[0]).shape
    for i, t in enumerate(tensors):
        s = to_array(t).shape
        if len(s) != nd or s[:d] + s[d + 1:] != ref[:d] + ref[d + 1:]:
            raise ValueError(f"cat: sizes of tensors must match except in dimension {d}: "
                             f"tensor 0 has shape {ref}, tensor {i} has shape {s}")
    return Cat.apply(d, *tensors)


concatenate = concat = cat


class Stack(Function):
    label = "Stack"

    @staticmethod
    def forward(ctx, dim, *tensors):
        ctx.dim = dim
        arrays = same_dtype_arrays(tensors, "stack")
        return namespace(arrays[0]).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return (None,) + _unstack(grad, ctx.dim)


def _unstack(value, dim: int) -> tuple:
    """The slices of ``value`` along ``dim``: one ``Unbind`` node on tensors (NumPy has no
    such function before 2.1, nor CuPy), views of the array otherwise."""
    if isinstance(value, TensorBase):
        return unbind(value, dim)
    return tuple(namespace(value).moveaxis(value, dim, 0))


def stack(tensors, dim: int = 0):
    """Join tensors of the same shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    ref = to_array(tensors[0]).shape
    for i, t in enumerate(tensors):
        if to_array(t).shape != ref:
            raise ValueError(f"stack: expects each tensor to be equal size, but got {ref} at "
                             f"entry 0 and {to_array(t).shape} at entry {i}")
    d = normalize_dim(dim, len(ref) + 1, "stack")
    return Stack.apply(d, *tensors)


def hstack(tensors):
    tensors = list(tensors)
    return cat(tensors, 0 if to_array(tensors[0]).ndim == 1 else 1)


def vstack(tensors):
    tensors = [t if to_array(t).ndim > 1 else reshape(t, 1, -1) for t in tensors]
    return cat(tensors, 0)


class Split(Function):
    """Split along ``dim`` at the given sizes; the outputs are views of the input."""

    label = "Split"

    @staticmethod
    def forward(ctx, x, sizes, dim):
        d = x.data
        ctx.dim = dim
        cuts = list(itertools.accumulate(sizes))[:-1]
        return tuple(namespace(d).split(d, cuts, axis=dim))

    @staticmethod
    def backward(ctx, *grads):
        return namespace(grads[0]).concatenate(grads, axis=ctx.dim), None, None


def split(x, split_size_or_sections, dim: int = 0):
    """Split into chunks of ``split_size`` (the last may be smaller) or of the given sizes."""
    d = normalize_dim(dim, x.data.ndim, "split")
    n = x.data.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
        if not sizes:
            sizes = [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: the sizes {sizes} sum to {sum(sizes)}, but dimension {d} "
                             f"of the tensor (shape {x.data.shape}) has size {n}")
    outs = Split.apply(x, tuple(sizes), d)
    return tuple(_as_view(o, x) for o in outs)


def chunk(x, chunks: int, dim: int = 0):
    """Split into ``chunks`` pieces of (nearly) equal size, as ``torch.chunk``."""
    if chunks <= 0:
        raise ValueError(f"chunk: the number of chunks must be positive, got {chunks}")
    d = normalize_dim(dim, x.data.ndim, "chunk")
    n = x.data.shape[d]
    size = -(-n // chunks) if n else 1
    return split(x, max(size, 1), d)


class Unbind(Function):
    """The slices along ``dim`` in one node (views of the input); backward stacks them."""

    label = "Unbind"

    @staticmethod
    def forward(ctx, x, dim):
        d = x.data
        ctx.dim = dim
        moved = namespace(d).moveaxis(d, dim, 0)
        return tuple(moved[i] for i in range(moved.shape[0]))

    @staticmethod
    def backward(ctx, *grads):
        return namespace(grads[0]).stack(grads, axis=ctx.dim), None


def unbind(x, dim: int = 0):
    """The slices along ``dim``, as a tuple of tensors with that dimension removed.

    Example:
        >>> import locograd as lg
        >>> [t.tolist() for t in lg.arange(6).reshape(2, 3).unbind(1)]
        [[0, 3], [1, 4], [2, 5]]
    """
    d = normalize_dim(dim, x.data.ndim, "unbind")
    if x.data.shape[d] == 0:
        return ()
    outs = Unbind.apply(x, d)
    return tuple(_as_view(o, x) for o in outs) if type(outs) is tuple else (_as_view(outs, x),)


class Pad(Function):
    label = "Pad"

    @staticmethod
    def forward(ctx, x, widths, value):
        d = x.data
        ctx.slices = tuple(slice(lo, lo + s) for (lo, _), s in zip(widths, d.shape))
        return namespace(d).pad(d, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.slices], None, None


def pad(x, pad, mode: str = "constant", value: float = 0.0):
    """Pad with a constant; ``pad`` lists (before, after) pairs from the *last* dimension
    backwards, as ``torch.nn.functional.pad``: ``pad(x, (1, 1))`` pads the last dim by one.
    """
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; only 'constant'")
    pad = tuple(int(p) for p in pad)
    nd = x.data.ndim
    if len(pad) % 2 or len(pad) // 2 > nd:
        raise ValueError(f"pad: the padding {pad} must have an even length of at most "
                         f"2 * ndim = {2 * nd} (tensor shape {x.data.shape})")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {pad} is not supported")
    widths = [(0, 0)] * nd
    for i in range(len(pad) // 2):
        widths[nd - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return Pad.apply(x, tuple(widths), value)


class Repeat(Function):
    label = "Repeat"

    @staticmethod
    def forward(ctx, x, reps):
        d = x.data.reshape((1,) * (len(reps) - x.data.ndim) + x.data.shape)
        ctx.in_shape, ctx.shape, ctx.reps = x.data.shape, d.shape, reps
        return namespace(d).tile(d, reps)

    @staticmethod
    def backward(ctx, grad):
        inter = []
        for r, s in zip(ctx.reps, ctx.shape):
            inter += [r, s]
        g = namespace(grad).sum(grad.reshape(tuple(inter)),
                                axis=tuple(range(0, 2 * len(ctx.reps), 2)))
        return g.reshape(ctx.in_shape), None


def repeat(x, *sizes):
    """Tile the tensor ``sizes`` times along each dimension (``torch.Tensor.repeat``)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < x.data.ndim:
        raise ValueError(f"repeat: the number of repeat dims ({len(sizes)}) can not be smaller "
                         f"than the number of tensor dimensions ({x.data.ndim})")
    return Repeat.apply(x, sizes)


def tile(x, *dims):
    dims = _shape_arg(dims)
    dims = (1,) * (x.data.ndim - len(dims)) + dims
    return repeat(x, *dims)


class Flip(Function):
    label = "Flip"

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        d = x.data
        return namespace(d).flip(d, dims)

    @staticmethod
    def backward(ctx, grad):
        return namespace(grad).flip(grad, ctx.dims), None


def flip(x, dims):
    """Reverse the order of elements along ``dims``."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    dims = tuple(normalize_dim(d, x.data.ndim, "flip") for d in dims)
    return Flip.apply(x, dims)


class Roll(Function):
    label = "Roll"

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        d = x.data
        return namespace(d).roll(d, shifts, dims)

    @staticmethod
    def backward(ctx, grad):
        return namespace(grad).roll(grad, tuple(-s for s in ctx.shifts), ctx.dims), None, None


def roll(x, shifts, dims=None):
    """Shift the entries cyclically by ``shifts`` along ``dims`` (the flattened tensor if None).

    Example:
        >>> import locograd as lg
        >>> lg.arange(4).roll(1).tolist()
        [3, 0, 1, 2]
    """
    if dims is None:
        return reshape(roll(reshape(x, -1), shifts, 0), x.data.shape)
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    dims = tuple(normalize_dim(d, x.data.ndim, "roll") for d in dims)
    return Roll.apply(x, tuple(int(s) for s in shifts), dims)


class Clone(Function):
    label = "Clone"

    @staticmethod
    def forward(ctx, x):
        return x.data.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


def clone(x):
    """A copy with its own memory, still connected to the graph."""
    return Clone.apply(x)


def contiguous(x):
    """``x`` itself if C-contiguous, else a contiguous copy (connected to the graph)."""
    if x.data.flags.c_contiguous:
        return x
    return Clone.apply(x)


# ------------------------------------------------------------------ triangles, diagonals

def _triangle(name: str, x, diagonal: int, lower: bool):
    d = to_array(x, name)
    if d.ndim < 2:
        raise ValueError(f"{name}: the input must have at least 2 dimensions, got a "
                         f"{d.ndim}-D tensor of shape {d.shape} ({d.dtype})")
    xp = namespace(d)
    part = xp.tril if lower else xp.triu
    if not (isinstance(x, TensorBase) and x.requires_grad):
        return new_tensor(part(d, diagonal))
    # A constant mask through where, not a multiply: inf * 0 would be NaN above the triangle.
    keep = new_tensor(part(xp.ones(d.shape[-2:], dtype=bool), diagonal))
    return where(keep, x, new_tensor(xp.zeros((), dtype=d.dtype)))


def tril(x, diagonal: int = 0):
    """The lower triangle of the last two dims (entries ``j - i <= diagonal``), zeros above.

    Example:
        >>> import locograd as lg
        >>> lg.tril(lg.ones(2, 2)).tolist()
        [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle("tril", x, diagonal, True)


def triu(x, diagonal: int = 0):
    """The upper triangle of the last two dims (entries ``j - i >= diagonal``), zeros below."""
    return _triangle("triu", x, diagonal, False)


def diag(x, diagonal: int = 0):
    """1-D: the square matrix with ``x`` on diagonal ``diagonal``; 2-D: that diagonal of the
    matrix (both differentiable, through ``index_put`` and indexing).

    Example:
        >>> import locograd as lg
        >>> lg.diag(lg.tensor([1.0, 2.0])).tolist()
        [[1.0, 0.0], [0.0, 2.0]]
    """
    d = to_array(x, "diag")
    xp = namespace(d)
    if d.ndim == 1:
        n = d.shape[0] + abs(diagonal)
        idx = xp.arange(d.shape[0])
        rows, cols = (idx, idx + diagonal) if diagonal >= 0 else (idx - diagonal, idx)
        return new_tensor(xp.zeros((n, n), dtype=d.dtype)).index_put((rows, cols), x)
    if d.ndim != 2:
        raise ValueError(f"diag: expected a 1-D (vector) or 2-D (matrix) tensor, got a "
                         f"{d.ndim}-D tensor of shape {d.shape} ({d.dtype})")
    n = min(d.shape[0], d.shape[1] - diagonal) if diagonal >= 0 else \
        min(d.shape[0] + diagonal, d.shape[1])
    idx = xp.arange(max(n, 0))
    rows, cols = (idx, idx + diagonal) if diagonal >= 0 else (idx - diagonal, idx)
    return x[rows, cols]

"""Pooling: ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d`` (and their 1-D forms).

Windows are read as strided slices, one per kernel position: loops run over the kernel positions
only, never over the batch or the pixels. Output sizes, padding rules and ``ceil_mode`` follow
PyTorch exactly.

Each op's backward is one rule over values. Max pooling routes the gradient to the argmax of
each window, a scatter with fixed positions (``MaxPool2dBackward``), whose backward is the gather
at those positions (``MaxPool2dSelect``), whose backward is the scatter again; average pooling is
linear and its backward (``AvgPool2dBackward``) is its adjoint, whose backward is average
pooling again. Value-level forms (``_scatter_to_argmax``, ``_avg_pool``...) dispatch once:
arrays (NumPy or CuPy, the unrecorded pass) run the slice kernels, tensors (a recorded pass)
build the nodes. The kernels read and write the windows as basic strided slices, which NumPy and
CuPy both treat as views (no scatter-add needed: within one kernel position the windows do not
overlap).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from .linalg import matmul
from .shape import reshape

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "max_pool1d", "avg_pool1d",
           "adaptive_avg_pool1d"]


def _pair(value, name: str, op: str) -> tuple:
    """An int or a 1- or 2-sequence as a pair of ints (kernel sizes, strides, paddings)."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * 2
    if len(value) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value}")
    return value


def _out_size(size, k, s, p, d, ceil_mode) -> int:
    """PyTorch's pooling output size (``pooling_output_shape``)."""
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input
        out -= 1
    return out


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """(kernel, stride, padding, dilation, output size), all pairs, validated."""
    shape = x.data.shape
    if x.data.ndim != 4:
        raise ValueError(f"{op}: expected a 3-D or 4-D input, got shape {tuple(shape)}")
    kernel = _pair(kernel_size, "kernel_size", op)
    no_stride = stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0)
    stride = kernel if no_stride else _pair(stride, "stride", op)
    padding, dilation = _pair(padding, "padding", op), _pair(dilation, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: kernel_size {kernel}, stride {stride} and dilation {dilation} "
                         f"must be positive")
    if padding[0] < 0 or padding[1] < 0 or padding[0] > kernel[0] // 2 \
            or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be non-negative and at most half of the "
                         f"kernel size {kernel}")
    out = tuple(_out_size(shape[2 + i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode)
                for i in range(2))
    if min(out) < 1:
        raise ValueError(f"{op}: the output size {out} is too small (input shape "
                         f"{tuple(shape)}, kernel {kernel}, padding {padding}, dilation "
                         f"{dilation})")
    return kernel, stride, padding, dilation, out


def _padded(x, geometry, value):
    """``x`` padded so that every window of the output lies inside (ceil_mode adds rows)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = geometry
    h, w = x.shape[2:]
    bottom = max((ho - 1) * sh + (kh - 1) * dh + 1 - h - ph, 0)
    right = max((wo - 1) * sw + (kw - 1) * dw + 1 - w - pw, 0)
    if not (ph or pw or bottom or right):
        return x
    return namespace(x).pad(x, ((0, 0), (0, 0), (ph, bottom), (pw, right)),
                            constant_values=value)


def _unbatch(out):
    """A batch of one (1, ...) as the unbatched result (...)."""
    return reshape(out, out.data.shape[1:])


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


# ------------------------------------------------------------------------------ max pooling

def _positions(geometry):
    """(k, rows, cols) per kernel position: the slices of the padded input it reads."""
    (kh, kw), (sh, sw), _, (dh, dw), (ho, wo) = geometry
    for i in range(kh):
        for j in range(kw):
            yield (i * kw + j, slice(i * dh, i * dh + (ho - 1) * sh + 1, sh),
                   slice(j * dw, j * dw + (wo - 1) * sw + 1, sw))


class MaxPool2d(Function):
    """Max over each window; the gradient goes to the first maximum (as PyTorch).

    The forward keeps, per output, the kernel position of its maximum (one loop over the kernel
    positions, each a vectorised pass over the whole batch); the backward adds the gradient
    back at those positions the same way.
    """

    label = "MaxPool2d"

    @staticmethod
    def forward(ctx, x, geometry, return_indices):
        xd = x.data
        xn = namespace(xd)
        xpad = _padded(xd, geometry, _lowest(xd.dtype))
        size = geometry[0][0] * geometry[0][1]
        best = argmax = None
        for k, rows, cols in _positions(geometry):
            values = xpad[:, :, rows, cols]
            if best is None:
                best = values.copy()
                argmax = xn.zeros(best.shape, dtype=np.int16 if size < 2 ** 15 else np.int64)
                continue
            # Strictly greater keeps the first maximum (PyTorch's tie rule); maximum
            # propagates NaN to the output, as PyTorch. Arithmetic, not masked assignment: it
            # is several times faster in NumPy.
            better = values > best
            xn.maximum(best, values, out=best)
            step = k - argmax
            step *= better
            argmax += step
        ctx.pick = _Argmax(argmax, geometry, xd.shape, xpad.shape)
        if return_indices:
            index = _flat_index(argmax, geometry, xd.shape)
            ctx.mark_non_differentiable(index)
            return best, index
        return best

    @staticmethod
    def backward(ctx, grad, *unused):
        return _scatter_to_argmax(grad, ctx.pick), None, None


class _Argmax:
    """Where each window's maximum is: its kernel position (an array of the input's backend),
    the pooling geometry, the input's shape and its padded shape."""

    __slots__ = ("argmax", "geometry", "in_shape", "padded_shape")

    def __init__(self, argmax, geometry, in_shape, padded_shape):
        self.argmax, self.geometry = argmax, geometry
        self.in_shape, self.padded_shape = in_shape, padded_shape


def _scatter_to_argmax(grad, pick: _Argmax):
    """Each output gradient added at its window's maximum (an input-shaped result), of values."""
    if isinstance(grad, TensorBase):
        return MaxPool2dBackward.apply(grad, pick)
    xn = namespace(grad)
    _, _, h, w = pick.in_shape
    ph, pw = pick.geometry[2]
    out = xn.zeros(pick.padded_shape, dtype=grad.dtype)
    argmax = pick.argmax
    for k, rows, cols in _positions(pick.geometry):
        out[:, :, rows, cols] += grad * (argmax == k)
    return xn.ascontiguousarray(out[:, :, ph:ph + h, pw:pw + w])


def _select_argmax(x, pick: _Argmax):
    """The value of ``x`` (input-shaped) at each window's maximum (output-shaped), of values:
    the adjoint of ``_scatter_to_argmax``."""
    if isinstance(x, TensorBase):
        return MaxPool2dSelect.apply(x, pick)
    xn = namespace(x)
    xpad = _padded(x, pick.geometry, 0)
    out = None
    for k, rows, cols in _positions(pick.geometry):
        values = xpad[:, :, rows, cols]
        if out is None:
            out = values.copy()
        else:
            xn.copyto(out, values, where=pick.argmax == k)
    return out


class MaxPool2dBackward(Function):
    """The gradient of ``max_pool2d``: a scatter to the fixed argmax positions (linear in
    ``grad``); its own gradient is the gather at those positions (``MaxPool2dSelect``)."""

    label = "MaxPool2dBackward"

    @staticmethod
    def forward(ctx, grad, pick):
        ctx.pick = pick
        return _scatter_to_argmax(grad.data, pick)

    @staticmethod
    def backward(ctx, gg):
        return _select_argmax(gg, ctx.pick), None


class MaxPool2dSelect(Function):
    """An input-shaped value read at the argmax positions of a max pooling (the adjoint of
    ``MaxPool2dBackward``, and its gradient)."""

    label = "MaxPool2dSelect"

    @staticmethod
    def forward(ctx, x, pick):
        ctx.pick = pick
        return _select_argmax(x.data, pick)

    @staticmethod
    def backward(ctx, grad):
        return _scatter_to_argmax(grad, ctx.pick), None


def _flat_index(argmax, geometry, in_shape):
    """PyTorch's indices: ``row * W + col`` of each maximum in its (H, W) plane (int64)."""
    xn = namespace(argmax)
    (_, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = geometry
    rows = (xn.arange(ho) * sh - ph)[:, None] + (argmax // kw) * dh
    cols = (xn.arange(wo) * sw - pw) + (argmax % kw) * dw
    return (rows * in_shape[3] + cols).astype(np.int64)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling over (N, C, H, W) or (C, H, W) inputs (``torch.nn.functional``).

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: an int or a pair.
        stride: defaults to ``kernel_size``.
        padding: implicit ``-inf`` padding, at most half the kernel size.
        dilation: spacing between the window's elements.
        ceil_mode: round the output size up (windows may run past the input's end).
        return_indices: also return the flat index (``row * W + col``) of each maximum.

    Returns:
        (N, C, Ho, Wo), and the int64 indices if ``return_indices``.

    Example:
        >>> import locograd as lg
        >>> x = lg.arange(16.0).reshape(1, 1, 4, 4)
        >>> lg.nn.functional.max_pool2d(x, 2).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    if input.data.ndim == 3:
        out = max_pool2d(reshape(input, (1,) + input.data.shape), kernel_size, stride, padding,
                         dilation, ceil_mode, return_indices)
        if return_indices:
            return _unbatch(out[0]), new_tensor(out[1].data[0])
        return _unbatch(out)
    geometry = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation,
                              ceil_mode)
    return MaxPool2d.apply(input, geometry, bool(return_indices))


# ------------------------------------------------------------------------------ average pooling

def _avg_divisor(size, k, s, p, out, count_include_pad) -> np.ndarray:
    """Per output position along one axis: the window's size (PyTorch's rule; host-only
    bookkeeping of the geometry, moved to the input's backend by ``_Windows``)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    pool = end - start  # clipped to the padded input, padding included
    if count_include_pad:
        return pool
    return np.minimum(end, size) - np.maximum(start, 0)


def _sum_windows(xpad, geometry):
    """The sum of each window of the padded input array (one pass per kernel position)."""
    total = None
    for _, rows, cols in _positions(geometry):
        if total is None:
            total = xpad[:, :, rows, cols].copy()
        else:
            total += xpad[:, :, rows, cols]
    return total


def _spread_windows(g, in_shape, geometry):
    """The adjoint of ``_sum_windows``: add each output value to every element of its window."""
    xn = namespace(g)
    (kh, kw), (sh, sw), (ph, pw), _, (ho, wo) = geometry
    h, w = in_shape[2:]
    # Rows and columns of the padded input that some window reaches (``_padded``'s extent).
    out = xn.zeros(in_shape[:2] + (max((ho - 1) * sh + kh, h + ph),
                                   max((wo - 1) * sw + kw, w + pw)), dtype=g.dtype)
    for _, rows, cols in _positions(geometry):
        out[:, :, rows, cols] += g
    return xn.ascontiguousarray(out[:, :, ph:ph + h, pw:pw + w])


class _Windows:
    """An average pooling's geometry, its divisor per output position (host float64) and the
    divisor's inverse in the input's dtype and backend."""

    __slots__ = ("geometry", "divisor", "inverse")

    def __init__(self, geometry, divisor, like):
        self.geometry, self.divisor = geometry, divisor
        self.inverse = namespace(like).asarray((1.0 / divisor).astype(like.dtype))


def _avg_pool(x, pool: _Windows):
    """``avg_pool2d`` of values (the gradient of its adjoint)."""
    if isinstance(x, TensorBase):
        return AvgPool2d.apply(x, pool)
    out = _sum_windows(_padded(x, pool.geometry, 0), pool.geometry)
    out *= pool.inverse
    return out


def _avg_pool_adjoint(grad, pool: _Windows, in_shape):
    """The gradient of ``avg_pool2d`` of values: each output's share spread over its window."""
    if isinstance(grad, TensorBase):
        return AvgPool2dBackward.apply(grad, pool, in_shape)
    return _spread_windows(grad * pool.inverse, in_shape, pool.geometry)


class AvgPool2d(Function):
    """Mean over each window (the divisor follows ``count_include_pad``/``divisor_override``)."""

    label = "AvgPool2d"

    @staticmethod
    def forward(ctx, x, pool):
        ctx.pool, ctx.in_shape = pool, x.data.shape
        return _avg_pool(x.data, pool)

    @staticmethod
    def backward(ctx, grad):
        return _avg_pool_adjoint(grad, ctx.pool, ctx.in_shape), None


class AvgPool2dBackward(Function):
    """The gradient of ``avg_pool2d`` (its adjoint); its own gradient is ``avg_pool2d`` again."""

    label = "AvgPool2dBackward"

    @staticmethod
    def forward(ctx, grad, pool, in_shape):
        ctx.pool = pool
        return _avg_pool_adjoint(grad.data, pool, in_shape)

    @staticmethod
    def backward(ctx, gg):
        return _avg_pool(gg, ctx.pool), None, None


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling over (N, C, H, W) or (C, H, W) inputs (``torch.nn.functional``).

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: an int or a pair; ``stride`` defaults to it.
        padding: implicit zero padding, at most half the kernel size.
        ceil_mode: round the output size up.
        count_include_pad: count the padding zeros in the divisor (not the rows ``ceil_mode``
            adds past the padding, as PyTorch).
        divisor_override: divide every window's sum by this number instead.

    Returns:
        (N, C, Ho, Wo).

    Example:
        >>> import locograd as lg
        >>> x = lg.arange(16.0).reshape(1, 1, 4, 4)
        >>> lg.nn.functional.avg_pool2d(x, 2).tolist()
        [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    if input.data.ndim == 3:
        out = avg_pool2d(reshape(input, (1,) + input.data.shape), kernel_size, stride, padding,
                         ceil_mode, count_include_pad, divisor_override)
        return _unbatch(out)
    if input.data.dtype.kind != "f":
        raise TypeError(f"avg_pool2d: expected a floating-point input, got dtype "
                        f"{input.data.dtype}")
    geometry = _pool_geometry("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    (kh, kw), (sh, sw), (ph, pw), _, (ho, wo) = geometry
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must not be zero")
        divisor = np.full((ho, wo), float(divisor_override))
    else:
        h, w = input.data.shape[2:]
        divisor = np.outer(_avg_divisor(h, kh, sh, ph, ho, count_include_pad),
                           _avg_divisor(w, kw, sw, pw, wo, count_include_pad)).astype(float)
    return AvgPool2d.apply(input, _Windows(geometry, divisor, input.data))


def _adaptive_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size) averaging matrix: row i averages [floor(i size/out), ceil((i+1) size/out)).
    Built on the host from the sizes; the caller moves it to the input's backend."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size, with PyTorch's window boundaries.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: an int or a pair; ``None`` keeps that input dimension.

    Returns:
        (N, C, *output_size).

    Example:
        >>> import locograd as lg
        >>> x = lg.arange(16.0).reshape(1, 1, 4, 4)
        >>> lg.nn.functional.adaptive_avg_pool2d(x, 1).tolist()
        [[[[7.5]]]]
    """
    d = input.data
    if d.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-D or 4-D input, got shape "
                         f"{tuple(d.shape)}")
    h, w = d.shape[-2:]
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    oh, ow = (h if output_size[0] is None else int(output_size[0]),
              w if output_size[1] is None else int(output_size[1]))
    if oh < 1 or ow < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {(oh, ow)}")
    if (oh, ow) == (1, 1):
        return input.mean((-2, -1), keepdim=True)
    if h % oh == 0 and w % ow == 0:  # equal windows: plain average pooling
        return avg_pool2d(input, (h // oh, w // ow))
    # General sizes: overlapping windows of varying length, as two averaging matrices.
    xn = namespace(d)
    rows = new_tensor(xn.asarray(_adaptive_matrix(h, oh, d.dtype)))
    cols = new_tensor(xn.asarray(_adaptive_matrix(w, ow, d.dtype).T.copy()))
    return matmul(matmul(rows, input), cols)


# ------------------------------------------------------------------------------ 1-D forms

def _as_2d(input, op):
    d = input.data
    if d.ndim not in (2, 3):
        raise ValueError(f"{op}: expected a 2-D or 3-D input, got shape {tuple(d.shape)}")
    return reshape(input, d.shape[:-1] + (1, d.shape[-1]))


def _from_2d(out):
    return reshape(out, out.data.shape[:-2] + out.data.shape[-1:])


def _single(value, default=None):
    if value is None:
        return default
    return (1, int(value)) if isinstance(value, (int, np.integer)) else (1, int(value[0]))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling of (N, C, L) or (C, L) inputs (see ``max_pool2d``)."""
    k = _single(kernel_size)
    pad = (0, _single(padding)[1])
    out = max_pool2d(_as_2d(input, "max_pool1d"), k, _single(stride, k), pad,
                     _single(dilation), ceil_mode, return_indices)
    if return_indices:
        return _from_2d(out[0]), new_tensor(out[1].data[..., 0, :])
    return _from_2d(out)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling of (N, C, L) or (C, L) inputs (see ``avg_pool2d``)."""
    k = _single(kernel_size)
    pad = (0, _single(padding)[1])
    return _from_2d(avg_pool2d(_as_2d(input, "avg_pool1d"), k, _single(stride, k), pad,
                               ceil_mode, count_include_pad))


def adaptive_avg_pool1d(input, output_size):
    """1-D adaptive average pooling of (N, C, L) or (C, L) inputs."""
    size = int(output_size if isinstance(output_size, (int, np.integer)) else output_size[0])
    return _from_2d(adaptive_avg_pool2d(_as_2d(input, "adaptive_avg_pool1d"), (1, size)))

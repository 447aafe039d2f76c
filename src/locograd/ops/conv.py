"""Convolutions: ``conv2d`` (stride, padding, dilation, groups) and ``conv1d`` through it.

A convolution is computed as im2col + one matrix product per group: the input is copied once to
channels-last layout (padding included), the windows are gathered with one strided-slice copy
per kernel position into a ``(N*Ho*Wo, G, kh*kw*Cg)`` matrix, which multiplies the flattened
weight. No Python loop runs over the batch or the pixels: the loops run over the ``kh*kw``
kernel positions only, in im2col and in col2im (the input gradient).

A convolution is bilinear in (input, weight), and so are its two gradients: with respect to the
input (a transposed convolution of the output gradient, ``Conv2dInputGrad``) and with respect to
the weight (a correlation of the input with the output gradient, ``Conv2dWeightGrad``). Each of
the three is a ``Function`` whose one backward rule is written with the other two through
value-level forms (``_conv``, ``_conv_input_grad``, ``_conv_weight_grad``): on arrays (NumPy or
CuPy, the unrecorded pass) they run the im2col kernels directly, on tensors (a recorded pass)
they build the nodes, so gradients of any order exist (``gradgradcheck`` passes).

The pooling ops live in ``ops/pooling.py``, the normalisation ops in ``ops/normalization.py``.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase
from ..backend import namespace
from .pooling import _pair, _unbatch
from .shape import reshape

# The im2col helpers (im2col, col2im, conv_params, weight_matrix, ...) are public names of this
# module (K-FAC uses them), not ops of the top-level namespace.
__all__ = ["conv2d", "conv1d", "conv_transpose2d"]

#: stride (sh, sw), padding (top, bottom, left, right), dilation (dh, dw), groups, and the
#: output size (Ho, Wo): the windows computed (a transposed convolution with output_padding
#: >= stride maps back to fewer windows than its output holds).
ConvParams = namedtuple("ConvParams", ["stride", "padding", "dilation", "groups", "out"])


# ------------------------------------------------------------------------------ im2col / col2im
# Array kernels (NumPy or CuPy, ``xp = namespace(x)``), public for K-FAC, which builds its
# factors from the same columns. Layout: channels last. The input is copied once to
# (N, Hp, Wp, G, Cg) (padding included), and the columns are (N*Ho*Wo, G, kh*kw*Cg) with the
# channels innermost: every copy below moves contiguous runs of channels, several times faster
# than gathering 3-element kernel rows. The windows are basic strided slices, one per kernel
# position, which both backends write and read as views (no stride tricks, no scatter-add), and
# every reshape names its sizes, so an empty batch gives empty columns.

def im2col(x, kernel, p: ConvParams):
    """The windows of the array ``x`` (N, C, H, W) as a contiguous (N*Ho*Wo, G, kh*kw*Cg) array.

    Args:
        x: an array (NumPy or CuPy) of shape (N, C, H, W).
        kernel: the kernel size (kh, kw).
        p: the convolution's ``ConvParams`` (see ``conv_params``).

    Returns:
        The columns: row ``(n, i, j)`` holds window (i, j) of example n, per group, ordered
        (kernel row, kernel column, channel) as ``weight_matrix`` orders the weight.

    Example:
        >>> import numpy as np
        >>> p = conv_params("conv2d", (1, 1, 3, 3), (1, 1, 2, 2), 1, 0, 1, 1)
        >>> im2col(np.arange(9.0).reshape(1, 1, 3, 3), (2, 2), p)[:, 0].tolist()[0]
        [0.0, 1.0, 3.0, 4.0]
    """
    xp = namespace(x)
    n, c, h, w = x.shape
    kh, kw = kernel
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = p.stride, p.padding, p.dilation
    g = p.groups
    ho, wo = p.out
    if pt or pb or pl or pr:
        xh = xp.zeros((n, h + pt + pb, w + pl + pr, c), dtype=x.dtype)
        xh[:, pt:pt + h, pl:pl + w] = x.transpose(0, 2, 3, 1)
    else:
        xh = xp.ascontiguousarray(x.transpose(0, 2, 3, 1))
    xh = xh.reshape(xh.shape[:3] + (g, c // g))
    cols = xp.empty((n, ho, wo, g, kh, kw, c // g), dtype=x.dtype)
    for i in range(kh):  # one strided copy per kernel position, each over the whole batch
        r0 = i * dh
        for j in range(kw):
            c0 = j * dw
            cols[:, :, :, :, i, j] = xh[:, r0:r0 + sh * (ho - 1) + 1:sh,
                                        c0:c0 + sw * (wo - 1) + 1:sw]
    return cols.reshape(n * ho * wo, g, kh * kw * (c // g))


def col2im(cols, x_shape, kernel, p: ConvParams):
    """The adjoint of ``im2col``: sum (N*Ho*Wo, G, kh*kw*Cg) columns into an (N, C, H, W) array.

    Args:
        cols: an array shaped as ``im2col``'s result.
        x_shape: the image shape (N, C, H, W).
        kernel: the kernel size (kh, kw).
        p: the convolution's ``ConvParams``.

    Returns:
        A contiguous array of shape ``x_shape``: each element the sum of the column entries
        that read it (so ``<im2col(x), cols> == <x, col2im(cols)>``).

    Example:
        >>> import numpy as np
        >>> p = conv_params("conv2d", (1, 1, 3, 3), (1, 1, 2, 2), 1, 0, 1, 1)
        >>> col2im(np.ones((4, 1, 4)), (1, 1, 3, 3), (2, 2), p)[0, 0].tolist()
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    xp = namespace(cols)
    n, c, h, w = x_shape
    (kh, kw), (ho, wo), g = kernel, p.out, p.groups
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = p.stride, p.padding, p.dilation
    cols = cols.reshape(n, ho, wo, g, kh, kw, c // g)
    out = xp.zeros((n, h + pt + pb, w + pl + pr, g, c // g), dtype=cols.dtype)
    for i in range(kh):
        r0 = i * dh
        for j in range(kw):
            c0 = j * dw
            out[:, r0:r0 + sh * (ho - 1) + 1:sh, c0:c0 + sw * (wo - 1) + 1:sw] += \
                cols[:, :, :, :, i, j]
    out = out[:, pt:pt + h, pl:pl + w].reshape(n, h, w, c)
    return xp.ascontiguousarray(out.transpose(0, 3, 1, 2))


def weight_matrix(w, groups: int):
    """A weight array (O, Cg, kh, kw) as (G, Og, kh*kw*Cg), the column order of ``im2col``."""
    o, cg, kh, kw = w.shape
    return w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(
        groups, o // groups, kh * kw * cg)


def weight_from_matrix(m, w_shape):
    """The inverse of ``weight_matrix``: (G, Og, kh*kw*Cg) -> an (O, Cg, kh, kw) array."""
    _, cg, kh, kw = w_shape
    return namespace(m).ascontiguousarray(
        m.reshape(m.shape[:2] + (kh, kw, cg)).transpose(0, 1, 4, 2, 3)).reshape(w_shape)


def grad_matrix(grad):
    """An output gradient array (N, O, Ho, Wo) as the (N*Ho*Wo, O) matrix of the GEMMs (its
    rows match ``im2col``'s)."""
    n, o, ho, wo = grad.shape
    return grad.transpose(0, 2, 3, 1).reshape(n * ho * wo, o)


def _cols_times_weight(cols, wm):
    """(N*L, G, Kg) x (G, Og, Kg) -> (N*L, O): the convolution's GEMM, one per group."""
    if wm.shape[0] == 1:
        return cols[:, 0] @ wm[0].T
    out = namespace(cols).matmul(cols.transpose(1, 0, 2), wm.transpose(0, 2, 1))  # (G, N*L, Og)
    return out.transpose(1, 0, 2).reshape(cols.shape[0], wm.shape[0] * wm.shape[1])


def _grad_times_weight(g2, wm):
    """(N*L, O) x (G, Og, Kg) -> the columns (N*L, G, Kg) of the input gradient."""
    if wm.shape[0] == 1:
        return (g2 @ wm[0])[:, None, :]
    g = g2.reshape(g2.shape[0], wm.shape[0], wm.shape[1]).transpose(1, 0, 2)  # (G, N*L, Og)
    return namespace(g2).matmul(g, wm).transpose(1, 0, 2)


def _grad_times_cols(g2, cols):
    """(N*L, O) x (N*L, G, Kg) -> (G, Og, Kg): the weight gradient, one GEMM per group."""
    groups = cols.shape[1]
    if groups == 1:
        return (g2.T @ cols[:, 0])[None]
    g = g2.reshape(g2.shape[0], groups, g2.shape[1] // groups).transpose(1, 2, 0)  # (G, Og, N*L)
    return namespace(g2).matmul(g, cols.transpose(1, 0, 2))


def _conv_forward(x, w, bias, p: ConvParams):
    """(output (N, O, Ho, Wo), the im2col columns), on arrays."""
    cols = im2col(x, w.shape[2:], p)
    out = _cols_times_weight(cols, weight_matrix(w, p.groups))
    if bias is not None:
        out += bias
    out = out.reshape((x.shape[0],) + p.out + (w.shape[0],)).transpose(0, 3, 1, 2)
    return namespace(out).ascontiguousarray(out), cols


def _input_grad(g, w, x_shape, p: ConvParams):
    cols = _grad_times_weight(grad_matrix(g), weight_matrix(w, p.groups))
    return col2im(cols, x_shape, w.shape[2:], p)


def _weight_grad(g, cols, w_shape):
    return weight_from_matrix(_grad_times_cols(grad_matrix(g), cols), w_shape)


# ------------------------------------------------------------------------------ value-level forms
# Each dispatches once: tensors (a recorded backward pass) -> the differentiable node; arrays ->
# the kernel, with no node and no tensor wrapping (the unrecorded pass).

def _recorded(*values) -> bool:
    return any(isinstance(v, TensorBase) for v in values)


def _conv(x, w, p: ConvParams):
    """``conv2d`` of values without bias (a gradient of the two gradients below)."""
    if _recorded(x, w):
        return Conv2d.apply(x, w, None, p)
    return _conv_forward(x, w, None, p)[0]


def _conv_input_grad(grad, w, x_shape, p: ConvParams):
    """The input gradient of ``conv2d`` (a transposed convolution) of values."""
    if _recorded(grad, w):
        return Conv2dInputGrad.apply(grad, w, x_shape, p)
    return _input_grad(grad, w, x_shape, p)


def _conv_weight_grad(x, grad, w_shape, p: ConvParams, cols=None):
    """The weight gradient of ``conv2d`` of values; ``cols``: ``im2col(x)`` when at hand."""
    if _recorded(x, grad):
        return Conv2dWeightGrad.apply(x, grad, w_shape, p)
    return _weight_grad(grad, im2col(x, w_shape[2:], p) if cols is None else cols, w_shape)


# ------------------------------------------------------------------------------ Functions

class Conv2d(Function):
    """``conv2d(x, weight) + bias`` as im2col and one GEMM per group."""

    label = "Conv2d"

    @staticmethod
    def forward(ctx, x, weight, bias, p):
        out, cols = _conv_forward(x.data, weight.data, None if bias is None else bias.data, p)
        need = ctx.needs_input_grad
        # The im2col matrix is kept for the weight gradient (no second im2col in backward).
        ctx.save_for_backward(x if need[1] else None, weight if need[0] else None,
                              cols if need[1] else None)
        ctx.p, ctx.x_shape, ctx.w_shape = p, x.data.shape, weight.data.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, cols = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = _conv_input_grad(grad, weight, ctx.x_shape, ctx.p) if need[0] else None
        # A recorded pass differentiates through x (the saved columns are constants there).
        gw = _conv_weight_grad(x, grad, ctx.w_shape, ctx.p, cols) if need[1] else None
        gb = namespace(grad).sum(grad, axis=(0, 2, 3)) if need[2] else None
        return gx, gw, gb, None


class Conv2dInputGrad(Function):
    """The input gradient of ``conv2d``: a transposed convolution of ``grad`` by ``weight``.

    Bilinear in (grad, weight): its own gradients are a convolution (for ``grad``) and a weight
    gradient (for ``weight``), so it is differentiable again (and it is ``conv_transpose2d``).
    """

    label = "Conv2dInputGrad"

    @staticmethod
    def forward(ctx, grad, weight, x_shape, p):
        need = ctx.needs_input_grad
        ctx.save_for_backward(grad if need[1] else None, weight if need[0] else None)
        ctx.p, ctx.w_shape = p, weight.data.shape
        return _input_grad(grad.data, weight.data, x_shape, p)

    @staticmethod
    def backward(ctx, gg):
        grad, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        d_grad = _conv(gg, weight, ctx.p) if need[0] else None
        d_weight = _conv_weight_grad(gg, grad, ctx.w_shape, ctx.p) if need[1] else None
        return d_grad, d_weight, None, None


class Conv2dWeightGrad(Function):
    """The weight gradient of ``conv2d``: ``grad`` correlated with the input's windows.

    Bilinear in (x, grad): its gradients are an input gradient (for ``x``) and a convolution of
    ``x`` (for ``grad``), so it is differentiable again.
    """

    label = "Conv2dWeightGrad"

    @staticmethod
    def forward(ctx, x, grad, w_shape, p):
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] else None, grad if need[0] else None)
        ctx.p, ctx.x_shape = p, x.data.shape
        return _weight_grad(grad.data, im2col(x.data, w_shape[2:], p), w_shape)

    @staticmethod
    def backward(ctx, gw):
        x, grad = ctx.saved_tensors
        need = ctx.needs_input_grad
        d_x = _conv_input_grad(grad, gw, ctx.x_shape, ctx.p) if need[0] else None
        d_grad = _conv(x, gw, ctx.p) if need[1] else None
        return d_x, d_grad, None, None


# ------------------------------------------------------------------------------ public API

def conv_params(op, x_shape, w_shape, stride, padding, dilation, groups) -> ConvParams:
    """Validate the arguments of a convolution and return its ``ConvParams``.

    Args:
        op: the name for error messages.
        x_shape, w_shape: the input (N, C, H, W) and weight (O, C / groups, kh, kw) shapes.
        stride, padding, dilation, groups: as ``conv2d`` takes them.

    Returns:
        ``ConvParams(stride, padding (top, bottom, left, right), dilation, groups, out)``.

    Example:
        >>> conv_params("conv2d", (1, 1, 5, 5), (1, 1, 3, 3), 2, 1, 1, 1).out
        (3, 3)
    """
    stride, dilation = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride and dilation must be positive, got stride {stride} and "
                         f"dilation {dilation}")
    kernel = w_shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride {stride})")
            # Total padding d*(k-1) per side pair; the odd extra row/column goes at the end,
            # as in PyTorch.
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        else:
            raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got "
                             f"{padding!r}")
    else:
        ph, pw = _pair(padding, "padding", op)
        if ph < 0 or pw < 0:
            raise ValueError(f"{op}: negative padding {(ph, pw)} is not supported")
        pads = (ph, ph, pw, pw)
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    _, c, h, w = x_shape
    if c != w_shape[1] * groups:
        raise ValueError(f"{op}: the input (shape {tuple(x_shape)}) has {c} channels but the "
                         f"weight of shape {tuple(w_shape)} with groups={groups} expects "
                         f"{w_shape[1] * groups}")
    if w_shape[0] % groups:
        raise ValueError(f"{op}: out_channels ({w_shape[0]}) must be divisible by groups "
                         f"({groups})")
    eff_h, eff_w = dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1
    if h + pads[0] + pads[1] < eff_h or w + pads[2] + pads[3] < eff_w:
        raise ValueError(f"{op}: the padded input ({h + pads[0] + pads[1]} x "
                         f"{w + pads[2] + pads[3]}) is smaller than the dilated kernel "
                         f"({eff_h} x {eff_w}); input shape {tuple(x_shape)}, weight shape "
                         f"{tuple(w_shape)}")
    out = ((h + pads[0] + pads[1] - eff_h) // stride[0] + 1,
           (w + pads[2] + pads[3] - eff_w) // stride[1] + 1)
    return ConvParams(stride, pads, dilation, int(groups), out)


def _check_operands(op, x, weight, bias, ndim):
    xd, wd = x.data, weight.data
    if wd.ndim != ndim or xd.ndim not in (ndim - 1, ndim):
        raise ValueError(f"{op}: expected a {ndim - 1}-D (unbatched) or {ndim}-D input and a "
                         f"{ndim}-D weight, got shapes {tuple(xd.shape)} and {tuple(wd.shape)}")
    if xd.dtype != wd.dtype or xd.dtype.kind != "f":
        raise TypeError(f"{op}: the input (dtype {xd.dtype}) and the weight (dtype {wd.dtype}) "
                        f"must have the same floating-point dtype")
    _check_bias(op, bias, wd.shape[0], wd.dtype)


def _check_bias(op, bias, channels, dtype):
    """A bias needs one value per output channel, in the weight's dtype (no silent upcast)."""
    if bias is None:
        return
    if bias.data.shape != (channels,):
        raise ValueError(f"{op}: the bias must have shape ({channels},), got "
                         f"{tuple(bias.data.shape)}")
    if bias.data.dtype != dtype:
        raise TypeError(f"{op}: the bias (dtype {bias.data.dtype}) must have the weight's dtype "
                        f"{dtype}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) of an (N, C, H, W) input.

    Args:
        input: (N, C_in, H, W), or (C_in, H, W) unbatched.
        weight: (C_out, C_in / groups, kh, kw).
        bias: optional (C_out,).
        stride, dilation: an int or a pair.
        padding: an int, a pair, ``'valid'`` (no padding) or ``'same'`` (output as large as the
            input; stride 1 only; an odd total padding puts the extra row/column at the end).
        groups: split the channels into ``groups`` independent convolutions.

    Returns:
        (N, C_out, Ho, Wo) with ``Ho = (H + 2 p - d (kh - 1) - 1) // s + 1``.

    Example:
        >>> import locograd as lg
        >>> x, w = lg.ones(1, 1, 4, 4), lg.ones(2, 1, 3, 3)
        >>> lg.nn.functional.conv2d(x, w, padding=1)[0, 0].tolist()[0]
        [4.0, 6.0, 6.0, 4.0]
    """
    _check_operands("conv2d", input, weight, bias, 4)
    if input.data.ndim == 3:
        return _unbatch(conv2d(reshape(input, (1,) + input.data.shape), weight, bias, stride,
                               padding, dilation, groups))
    p = conv_params("conv2d", input.data.shape, weight.data.shape, stride, padding, dilation,
                     groups)
    return Conv2d.apply(input, weight, bias, p)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of an (N, C, L) input: ``conv2d`` on a height-1 image.

    Args:
        input: (N, C_in, L), or (C_in, L) unbatched.
        weight: (C_out, C_in / groups, k).
        bias: optional (C_out,).
        stride, padding, dilation: ints (``padding`` may also be ``'same'`` or ``'valid'``).
        groups: number of channel groups.

    Returns:
        (N, C_out, Lo) with ``Lo = (L + 2 p - d (k - 1) - 1) // s + 1``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.conv1d(lg.ones(1, 1, 5), lg.ones(1, 1, 3)).tolist()
        [[[3.0, 3.0, 3.0]]]
    """
    _check_operands("conv1d", input, weight, bias, 3)
    if input.data.ndim == 2:
        return _unbatch(conv1d(reshape(input, (1,) + input.data.shape), weight, bias, stride,
                               padding, dilation, groups))

    def one(v, name):
        v = (v,) if isinstance(v, (int, np.integer)) else tuple(v)
        if len(v) != 1:
            raise ValueError(f"conv1d: {name} must be an int, got {v}")
        return (1, int(v[0])) if name != "padding" else (0, int(v[0]))

    pad = padding if isinstance(padding, str) else one(padding, "padding")
    x_shape, w_shape = input.data.shape, weight.data.shape
    p = conv_params("conv1d", x_shape[:2] + (1,) + x_shape[2:], w_shape[:2] + (1,) + w_shape[2:],
                     one(stride, "stride"), pad, one(dilation, "dilation"), groups)
    out = Conv2d.apply(reshape(input, x_shape[:2] + (1,) + x_shape[2:]),
                       reshape(weight, w_shape[:2] + (1,) + w_shape[2:]), bias, p)
    return reshape(out, out.data.shape[:2] + out.data.shape[3:])


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution (the gradient of ``conv2d`` with respect to its input).

    Args:
        input: (N, C_in, H, W), or (C_in, H, W) unbatched.
        weight: (C_in, C_out / groups, kh, kw), as PyTorch.
        bias: optional (C_out,).
        stride, padding, dilation: an int or a pair (``padding`` removes rows/columns from the
            output's borders).
        output_padding: extra rows/columns added at the end of the output (less than the stride
            or the dilation), to pick among the input sizes a strided convolution maps alike.
        groups: number of channel groups.

    Returns:
        (N, C_out, Ho, Wo) with ``Ho = (H - 1) s - 2 p + d (kh - 1) + output_padding + 1``.

    Example:
        >>> import locograd as lg
        >>> x, w = lg.ones(1, 1, 2, 2), lg.ones(1, 1, 2, 2)
        >>> lg.nn.functional.conv_transpose2d(x, w, stride=2).shape
        (1, 1, 4, 4)
    """
    _check_operands("conv_transpose2d", input, weight, None, 4)
    if input.data.ndim == 3:
        return _unbatch(conv_transpose2d(reshape(input, (1,) + input.data.shape), weight, bias,
                                         stride, padding, output_padding, groups, dilation))
    n, c_in, h, w = input.data.shape
    w_shape = weight.data.shape
    if c_in != w_shape[0]:
        raise ValueError(f"conv_transpose2d: the input (shape {(n, c_in, h, w)}) has {c_in} "
                         f"channels but the weight (shape {tuple(w_shape)}) expects {w_shape[0]}")
    if not isinstance(groups, (int, np.integer)) or groups < 1 or c_in % groups:
        raise ValueError(f"conv_transpose2d: in_channels ({c_in}) must be divisible by groups "
                         f"({groups})")
    stride = _pair(stride, "stride", "conv_transpose2d")
    dilation = _pair(dilation, "dilation", "conv_transpose2d")
    ph, pw = _pair(padding, "padding", "conv_transpose2d")
    oph, opw = _pair(output_padding, "output_padding", "conv_transpose2d")
    if not (0 <= oph < max(stride[0], dilation[0]) and 0 <= opw < max(stride[1], dilation[1])):
        raise ValueError(f"conv_transpose2d: output_padding {(oph, opw)} must be smaller than "
                         f"either the stride {stride} or the dilation {dilation}")
    ho = (h - 1) * stride[0] - 2 * ph + dilation[0] * (w_shape[2] - 1) + oph + 1
    wo = (w - 1) * stride[1] - 2 * pw + dilation[1] * (w_shape[3] - 1) + opw + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"conv_transpose2d: the output size ({ho} x {wo}) is too small; input "
                         f"shape {(n, c_in, h, w)}, weight shape {tuple(w_shape)}")
    out_shape = (n, w_shape[1] * groups, ho, wo)
    # The forward convolution that maps out_shape back to the input's shape: its input gradient.
    p = conv_params("conv_transpose2d", out_shape, w_shape, stride, (ph, pw), dilation, groups)
    p = p._replace(out=(h, w))  # fewer windows than out_shape holds when output_padding >= s
    out = Conv2dInputGrad.apply(input, weight, out_shape, p)
    if bias is not None:
        _check_bias("conv_transpose2d", bias, out_shape[1], weight.data.dtype)
        out = out + reshape(bias, (-1, 1, 1))
    return out

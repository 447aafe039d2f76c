"""Normalisation: ``batch_norm`` and ``layer_norm``, each one fused node.

Forward normalises with the biased variance, ``xhat = (x - mean) / sqrt(var + eps)``, then applies
the affine map ``xhat * weight + bias``. The backward is the textbook closed form

    dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),   dxhat = dy * weight,

with the means over the normalised axes, written once against the namespace of its values. On the
fast path it uses the ``xhat`` and ``invstd`` saved by the forward; when the backward pass is
recorded it recomputes them from the input with the same ``_normalize``, so that the gradient is
differentiable again.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend import namespace
from ._common import is_tensor

__all__ = ["batch_norm", "layer_norm"]


def _normalize(x, axes: tuple, eps: float):
    """(xhat, mean, biased variance, 1 / sqrt(var + eps)), statistics over ``axes`` (keepdims).

    For an array (the forward) or a tensor (a recorded backward, differentiably)."""
    xp = namespace(x)
    mean = xp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = xp.mean(centred * centred, axis=axes, keepdims=True)
    invstd = 1.0 / xp.sqrt(var + eps)
    if is_tensor(centred):
        return centred * invstd, mean, var, invstd
    centred *= invstd  # in place on arrays: the forward's one big temporary
    return centred, mean, var, invstd


def _input_grad(gxhat, xhat, invstd, axes):
    xp = namespace(gxhat)
    m1 = xp.mean(gxhat, axis=axes, keepdims=True)
    m2 = xp.mean(gxhat * xhat, axis=axes, keepdims=True)
    return (gxhat - m1 - xhat * m2) * invstd


class BatchNorm(Function):
    """Batch normalisation with batch statistics (training mode), updating the running stats.

    Statistics are over every axis but the channels (axis 1): (N,), (N, L) or (N, H, W).
    """

    label = "BatchNorm"

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps):
        xd = x.data
        axes = (0,) + tuple(range(2, xd.ndim))
        view = (1, -1) + (1,) * (xd.ndim - 2)
        xhat, mean, var, invstd = _normalize(xd, axes, eps)
        out = xhat * weight.data.reshape(view) if weight is not None else xhat.copy()
        if bias is not None:
            out += bias.data.reshape(view)
        count = xd.size // xd.shape[1]
        if running_mean is not None:
            _update(running_mean, mean.reshape(-1), momentum)
        if running_var is not None:  # the running variance is unbiased, as PyTorch's
            _update(running_var, var.reshape(-1) * (count / (count - 1)), momentum)
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[0] or need[1] else None, weight, xhat, invstd)
        ctx.axes, ctx.view, ctx.eps, ctx.count = axes, view, eps, count
        return out

    @staticmethod
    def backward(ctx, grad):
        x, w, xhat, invstd = ctx.saved_tensors
        xp = namespace(grad)
        need = ctx.needs_input_grad
        axes, view, m = ctx.axes, ctx.view, ctx.count
        gb = xp.sum(grad, axis=axes)
        if not (need[0] or need[1]):
            return None, None, gb, None, None, None, None
        if is_tensor(x):  # recorded: xhat and invstd as differentiable functions of x
            xhat, _, _, invstd = _normalize(x, axes, ctx.eps)
        # Both sums serve the input gradient too (the weight is constant over the axes).
        gw = xp.sum(grad * xhat, axis=axes)
        gx = None
        if need[0]:
            scale = invstd if w is None else invstd * w.reshape(view)
            gx = (grad - (gb.reshape(view) + xhat * gw.reshape(view)) * (1.0 / m)) * scale
        return gx, gw if need[1] else None, gb if need[2] else None, None, None, None, None


def _update(running, value, momentum: float) -> None:
    """``running = (1 - momentum) * running + momentum * value``, in place."""
    r = running.data
    r *= 1.0 - momentum
    r += momentum * value.astype(r.dtype, copy=False)
    running._version[0] += 1


def _check_dtypes(op: str, input, weight, bias) -> None:
    """A float input, and affine parameters of its dtype (no silent upcast of the output)."""
    d = input.data.dtype
    if d.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {d}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.data.dtype != d:
            raise TypeError(f"{op}: the input has dtype {d} but the {name} has dtype "
                            f"{t.data.dtype}; convert the input with .to({t.data.dtype})")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over the channel axis 1 of (N, C), (N, C, L) or (N, C, H, W) inputs.

    In training, normalises with the batch statistics (biased variance) and, when given, updates
    ``running_mean`` and ``running_var`` in place with ``momentum`` (the running variance is the
    unbiased one, as PyTorch). Otherwise normalises with the running statistics.

    Args:
        input: (N, C, ...).
        running_mean, running_var: (C,) tensors or None (then ``training`` must be True).
        weight, bias: optional (C,) affine parameters.
        training: use batch statistics.
        momentum: weight of the new batch in the running averages.
        eps: added to the variance.

    Returns:
        A tensor shaped like ``input``.

    Example:
        >>> import locograd as lg
        >>> x = lg.tensor([[1.0], [3.0]])
        >>> lg.nn.functional.batch_norm(x, None, None, training=True, eps=0.0).tolist()
        [[-1.0], [1.0]]
    """
    d = input.data
    if d.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dimensions (N, C, ...), "
                         f"got shape {tuple(d.shape)}")
    channels = d.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.data.shape != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape ({channels},) for an input of "
                             f"shape {tuple(d.shape)}, got {tuple(t.data.shape)}")
    _check_dtypes("batch_norm", input, weight, bias)
    if training:
        if d.size // max(channels, 1) <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {tuple(d.shape)}")
        return BatchNorm.apply(input, weight, bias, running_mean, running_var, momentum, eps)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are required when "
                         "training=False")
    # Evaluation: an affine map per channel with the running statistics, in one node.
    view = (1, -1) + (1,) * (d.ndim - 2)
    mean = running_mean.data.astype(d.dtype, copy=False).reshape(view)
    invstd = (1.0 / namespace(d).sqrt(running_var.data + eps)).astype(d.dtype, copy=False)
    invstd = invstd.reshape(view)
    return BatchNormEval.apply(input, weight, bias, mean, invstd)


class BatchNormEval(Function):
    """``(x - mean) * invstd * weight + bias`` per channel, with fixed (running) statistics."""

    label = "BatchNorm"

    @staticmethod
    def forward(ctx, x, weight, bias, mean, invstd):
        xd = x.data
        view = mean.shape
        ctx.axes = (0,) + tuple(range(2, xd.ndim))
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] else None, weight, mean, invstd)
        out = xd - mean
        out *= invstd if weight is None else invstd * weight.data.reshape(view)
        if bias is not None:
            out += bias.data.reshape(view)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, mean, invstd = ctx.saved_tensors
        xp = namespace(grad)
        need = ctx.needs_input_grad
        scale = invstd if weight is None else weight.reshape(invstd.shape) * invstd
        return (grad * scale if need[0] else None,
                xp.sum(grad * ((x - mean) * invstd), axis=ctx.axes) if need[1] else None,
                xp.sum(grad, axis=ctx.axes) if need[2] else None, None, None)


class LayerNorm(Function):
    """Layer normalisation over the last ``k`` dimensions, with an elementwise affine map."""

    label = "LayerNorm"

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        xd = x.data
        axes = tuple(range(xd.ndim - k, xd.ndim))
        xhat, _, _, invstd = _normalize(xd, axes, eps)
        out = xhat * weight.data if weight is not None else xhat.copy()
        if bias is not None:
            out += bias.data
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[0] or need[1] else None, weight, xhat, invstd)
        ctx.axes, ctx.lead, ctx.eps = axes, tuple(range(xd.ndim - k)), eps
        return out

    @staticmethod
    def backward(ctx, grad):
        x, w, xhat, invstd = ctx.saved_tensors
        xp = namespace(grad)
        need = ctx.needs_input_grad
        gb = xp.sum(grad, axis=ctx.lead) if need[2] else None
        if not (need[0] or need[1]):
            return None, None, gb, None, None
        if is_tensor(x):  # recorded: xhat and invstd as differentiable functions of x
            xhat, _, _, invstd = _normalize(x, ctx.axes, ctx.eps)
        gw = xp.sum(grad * xhat, axis=ctx.lead) if need[1] else None
        gx = None
        if need[0]:
            gx = _input_grad(grad * w if w is not None else grad, xhat, invstd, ctx.axes)
        return gx, gw, gb, None, None


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing dimensions ``normalized_shape`` (``torch.nn.functional``).

    Args:
        input: (..., *normalized_shape).
        normalized_shape: an int or a tuple: the trailing dimensions to normalise over.
        weight, bias: optional tensors of shape ``normalized_shape``.
        eps: added to the (biased) variance.

    Returns:
        A tensor shaped like ``input``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.layer_norm(lg.tensor([[1.0, 3.0]]), (2,), eps=0.0).tolist()
        [[-1.0, 1.0]]
    """
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(int(s) for s in normalized_shape)
    d = input.data
    k = len(shape)
    if k == 0 or d.shape[d.ndim - k:] != shape or d.ndim < k:
        raise ValueError(f"layer_norm: the input's trailing dimensions must be normalized_shape "
                         f"{shape}, got input shape {tuple(d.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.data.shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got "
                             f"{tuple(t.data.shape)}")
    _check_dtypes("layer_norm", input, weight, bias)
    if math.prod(shape) == 0:
        raise ValueError(f"layer_norm: cannot normalise over an empty shape {shape}")
    return LayerNorm.apply(input, weight, bias, k, eps)

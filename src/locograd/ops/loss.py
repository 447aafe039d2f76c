"""Loss functions with PyTorch's names, arguments and reduction rules.

``reduction`` is ``'mean'`` (the default), ``'sum'`` or ``'none'``. Each loss is one fused node:
the forward computes the elementwise loss and reduces it, and the backward applies the closed-form
derivative, written once against the namespace of its values: arrays on the fast path (reusing
what the forward saved), tensors when the backward pass is recorded (recomputing those saved
intermediates from the inputs, so that second derivatives exist). ``cross_entropy`` fuses
log-softmax and the negative log-likelihood: its gradient is ``softmax - onehot`` (scaled),
computed without overflow for logits of any size.

The inputs must be floating point (PyTorch raises for integer inputs to these losses too).

Class weights (``weight`` of ``cross_entropy``/``nll_loss``) are constants: as in PyTorch, no
gradient flows to them. The ``weight`` and ``pos_weight`` of the binary losses do get gradients.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import is_tensor

from .cross_entropy import _reduce, _reduction, _scale
from .elementwise import softplus
from .unary import sigmoid, sigmoid_array

__all__ = [
    "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div"]


def _as_target(target, input, op: str):
    """``target`` as a tensor of the input's float dtype, broadcast-checked like PyTorch."""
    x = input.data
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype} (convert "
                        f"it with .float() or .to(float64))")
    if not isinstance(target, TensorBase):
        target = new_tensor(namespace(x).asarray(target, dtype=x.dtype))
    if target.data.dtype != input.data.dtype:
        raise TypeError(f"{op}: the input (dtype {input.data.dtype}) and the target (dtype "
                        f"{target.data.dtype}) must have the same dtype")
    if target.data.shape != input.data.shape:
        try:
            np.broadcast_shapes(target.data.shape, input.data.shape)
        except ValueError:
            raise ValueError(f"{op}: the target (shape {tuple(target.data.shape)}) cannot be "
                             f"broadcast to the input (shape {tuple(input.data.shape)})") from None
        warnings.warn(f"{op}: using a target size {tuple(target.data.shape)} that is different "
                      f"from the input size {tuple(input.data.shape)}; they will be broadcast, "
                      f"which is likely not what you want", UserWarning, stacklevel=3)
    return target


# ------------------------------------------------------------------------------ regression

class SquaredError(Function):
    """``(input - target)^2``, reduced (``mse_loss``)."""

    label = "MseLoss"

    @staticmethod
    def forward(ctx, input, target, reduction):
        diff = input.data - target.data
        ctx.save_for_backward(input, target, diff)
        ctx.reduction, ctx.count = reduction, diff.size
        return _reduce(diff * diff, reduction)

    @staticmethod
    def backward(ctx, grad):
        diff = _difference(*ctx.saved_tensors)
        g = _scale(ctx, grad) * diff * 2.0
        return g, (-g if ctx.needs_input_grad[1] else None), None


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean squared error ``(input - target)^2`` (reduced).

    Args:
        input, target: tensors of the same shape (a different, broadcastable shape warns).
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Returns:
        A scalar, or the elementwise loss for ``'none'``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.mse_loss(lg.tensor([1.0, 2.0]), lg.tensor([1.0, 4.0])).item()
        2.0
    """
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    return SquaredError.apply(input, _as_target(target, input, "mse_loss"), reduction)


def _difference(input, target, diff):
    """``input - target``: saved by the forward, recomputed (differentiably) when recorded."""
    return input - target if is_tensor(input) else diff


class AbsoluteError(Function):
    """``|input - target|``, reduced (``l1_loss``); the gradient at 0 is 0."""

    label = "L1Loss"

    @staticmethod
    def forward(ctx, input, target, reduction):
        diff = input.data - target.data
        xp = namespace(diff)
        # sign(NaN) is 0 for the gradient, as PyTorch's sgn
        ctx.direction = xp.nan_to_num(xp.sign(diff, out=xp.empty_like(diff)), copy=False)
        ctx.reduction, ctx.count = reduction, diff.size
        return _reduce(xp.abs(diff), reduction)

    @staticmethod
    def backward(ctx, grad):
        g = _scale(ctx, grad) * ctx.direction  # piecewise linear: a constant mask
        return g, (-g if ctx.needs_input_grad[1] else None), None


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error ``|input - target|`` (reduced).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.l1_loss(lg.tensor([1.0, 2.0]), lg.tensor([0.0, 4.0])).item()
        1.5
    """
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    return AbsoluteError.apply(input, _as_target(target, input, "l1_loss"), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1: ``0.5 d^2 / beta`` for ``|d| < beta``, else ``|d| - 0.5 beta`` (L1 if beta=0).

    Example:
        >>> import locograd as lg
        >>> F = lg.nn.functional
        >>> F.smooth_l1_loss(lg.tensor([0.5, 3.0]), lg.zeros(2), reduction="none").tolist()
        [0.125, 2.5]
    """
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    target = _as_target(target, input, "smooth_l1_loss")
    if beta == 0:
        return AbsoluteError.apply(input, target, reduction)
    return Huber.apply(input, target, float(beta), 1.0 / beta, reduction)


class Huber(Function):
    """``0.5 d^2`` for ``|d| < delta``, else ``delta (|d| - 0.5 delta)``; times ``factor``.

    ``huber_loss`` has ``factor = 1``; ``smooth_l1_loss(beta)`` is
    ``huber_loss(delta=beta) / beta``.
    The derivative is ``clamp(d, -delta, delta)``.
    """

    label = "HuberLoss"

    @staticmethod
    def forward(ctx, input, target, delta, factor, reduction):
        diff = input.data - target.data
        xp = namespace(diff)
        size = xp.abs(diff)
        loss = xp.where(size < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))
        if factor != 1.0:
            loss *= factor
        ctx.save_for_backward(input, target, diff)
        ctx.delta, ctx.factor, ctx.reduction, ctx.count = delta, factor, reduction, diff.size
        return _reduce(loss.astype(diff.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        diff = _difference(*ctx.saved_tensors)
        g = _scale(ctx, grad) * namespace(diff).clip(diff, -ctx.delta, ctx.delta) * ctx.factor
        return g, (-g if ctx.needs_input_grad[1] else None), None, None, None


def huber_loss(input, target, reduction="mean", delta=1.0):
    """Huber loss: quadratic for ``|d| < delta``, linear (slope ``delta``) beyond.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.huber_loss(lg.tensor([0.5, 3.0]), lg.zeros(2), "none").tolist()
        [0.125, 2.5]
    """
    reduction = _reduction("huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return Huber.apply(input, _as_target(target, input, "huber_loss"), float(delta), 1.0,
                       reduction)


# ------------------------------------------------------------------------------ binary

_LOG_FLOOR = -100.0  # PyTorch clamps the logs of binary_cross_entropy at -100


class BinaryCrossEntropy(Function):
    """``-w (y log x + (1 - y) log(1 - x))`` with both logs clamped at -100 (as PyTorch)."""

    label = "BinaryCrossEntropy"

    @staticmethod
    def forward(ctx, input, target, weight, reduction):
        x, y = input.data, target.data
        loss = _bce(y, *_clamped_logs(x))
        need = ctx.needs_input_grad
        ctx.save_for_backward(input, target, weight, loss if need[2] else None)
        if weight is not None:
            loss = loss * weight.data
        ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y, w, loss = ctx.saved_tensors
        need = ctx.needs_input_grad
        recorded = is_tensor(x)
        g = _scale(ctx, grad)
        gx = gy = gw = None
        if need[1] or (need[2] and recorded):
            log_x, log_1mx = _clamped_logs(x)
        if need[2]:  # the unweighted loss (recomputed from the inputs when recorded)
            gw = g * (_bce(y, log_x, log_1mx) if recorded else loss)
        if w is not None:
            g = g * w
        if need[0]:  # PyTorch's form: (x - y) / max(x (1 - x), 1e-12)
            gx = g * (x - y) / namespace(x).clip(x * (1.0 - x), 1e-12, None)
        if need[1]:
            gy = g * (log_1mx - log_x)
        return gx, gy, gw, None


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against ``target``.

    Args:
        input: probabilities (e.g. a sigmoid's output).
        target: same shape, values in [0, 1].
        weight: optional rescaling, broadcast to the input.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Returns:
        The loss; its logs are clamped at -100, so a wrong certain prediction costs 100.

    Example:
        >>> import locograd as lg
        >>> loss = lg.nn.functional.binary_cross_entropy(lg.tensor([0.5]), lg.tensor([1.0]))
        >>> round(loss.item(), 4)
        0.6931
    """
    reduction = _reduction("binary_cross_entropy", reduction, size_average, reduce)
    target = _as_target(target, input, "binary_cross_entropy")
    if target.data.shape != input.data.shape:
        raise ValueError(f"binary_cross_entropy: the target (shape {tuple(target.data.shape)}) "
                         f"must have the input's shape {tuple(input.data.shape)}")
    x = input.data
    if x.size and not (x.min() >= 0 and x.max() <= 1):
        raise ValueError("binary_cross_entropy: all elements of the input should be between 0 "
                         "and 1 (use binary_cross_entropy_with_logits for logits)")
    return BinaryCrossEntropy.apply(input, target, _as_weight(weight, input), reduction)


def _clamped_logs(x):
    """``log(x)`` and ``log(1 - x)``, each clamped at -100 (PyTorch's floor)."""
    xp = namespace(x)
    with xp.errstate(divide="ignore"):
        return xp.clip(xp.log(x), _LOG_FLOOR, None), xp.clip(xp.log1p(-x), _LOG_FLOOR, None)


def _bce(y, log_x, log_1mx):
    return -(y * log_x + (1.0 - y) * log_1mx)


def _as_weight(weight, input):
    if weight is None or isinstance(weight, TensorBase):
        return weight
    x = input.data
    return new_tensor(namespace(x).asarray(weight, dtype=x.dtype))


def _softplus_array(x):
    """``log(1 + exp(x))`` of an array without overflow: ``max(x, 0) + log1p(exp(-|x|))``.

    Written as in-place passes over one buffer (also for 0-d ``x``): about 9x faster than
    ``np.logaddexp(0, x)``.
    """
    xp = namespace(x)
    out = xp.abs(x, out=xp.empty_like(x))
    xp.negative(out, out=out)
    xp.exp(out, out=out)
    xp.log1p(out, out=out)
    out += xp.maximum(x, 0)
    return out


def _sigmoid_minus(x, y):
    """``sigmoid(x) - y``: a node on tensors; on arrays one buffer (also for 0-d ``x``;
    ``exp`` may overflow to inf: 1/(1+inf) is 0)."""
    if is_tensor(x):
        return sigmoid(x) - y
    xp = namespace(x)
    out = xp.negative(x, out=xp.empty_like(x))
    with xp.errstate(over="ignore"):
        xp.exp(out, out=out)
    out += 1
    xp.reciprocal(out, out=out)
    out -= y
    return out


def _logits_loss(x, y, pos_weight, softplus_neg):
    """The unweighted elementwise loss ``(1 - y) x + (1 + (p - 1) y) softplus(-x)``."""
    if pos_weight is None:
        return (1.0 - y) * x + softplus_neg
    return (1.0 - y) * x + (1.0 + (pos_weight - 1.0) * y) * softplus_neg


class BinaryCrossEntropyWithLogits(Function):
    """``w [(1 - y) x + (1 + (p - 1) y) softplus(-x)]``: sigmoid + BCE, stable for any logit."""

    label = "BinaryCrossEntropyWithLogits"

    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, reduction):
        x, y = input.data, target.data
        need = ctx.needs_input_grad
        if weight is None and pos_weight is None and reduction != "none" and not need[1] \
                and x.shape == y.shape:
            # The common case (an autoencoder's loss): the summed loss is
            # sum(max(x, 0)) - sum(x * y) + sum(log1p(exp(-|x|))), with no elementwise array.
            ctx.save_for_backward(input, target, None, None, None, None)
            ctx.reduction, ctx.count = reduction, x.size
            xp = namespace(x)
            t = xp.abs(x, out=xp.empty_like(x))  # a buffer, also for 0-d x
            xp.negative(t, out=t)
            xp.exp(t, out=t)
            xp.log1p(t, out=t)
            total = t.sum(dtype=x.dtype)
            xp.maximum(x, 0, out=t)
            total += t.sum(dtype=x.dtype) - xp.vdot(x, y).astype(x.dtype)
            if reduction == "mean":
                total = total / x.dtype.type(x.size) if x.size else x.dtype.type(np.nan)
            return xp.asarray(total, dtype=x.dtype)
        softplus_neg = _softplus_array(-x)  # log(1 + exp(-x)) without overflow
        loss = _logits_loss(x, y, None if pos_weight is None else pos_weight.data, softplus_neg)
        ctx.save_for_backward(input, target, weight, pos_weight, loss if need[2] else None,
                              softplus_neg if need[1] or need[3] else None)
        if weight is not None:
            loss = loss * weight.data
        ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y, w, pw, loss, sp = ctx.saved_tensors
        need = ctx.needs_input_grad
        recorded = is_tensor(x)
        g = _scale(ctx, grad)
        gw = gx = gy = gp = None
        if recorded and (need[1] or need[2] or need[3]):
            sp = softplus(-x)  # differentiable, with the loss below (saved as constants)
        if need[2]:
            gw = g * (_logits_loss(x, y, pw, sp) if recorded else loss)
        if w is not None:
            g = g * w
        if need[0]:
            if pw is None:
                gx = _sigmoid_minus(x, y) * g
            else:
                sig_neg = sigmoid(-x) if recorded else sigmoid_array(-x)
                gx = g * ((1.0 - y) - (1.0 + (pw - 1.0) * y) * sig_neg)
        if need[1]:
            gy = g * (-x) if pw is None else g * ((pw - 1.0) * sp - x)
        if need[3]:
            gp = g * y * sp
        return gx, gy, gw, gp, None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable node (finite for logits of +-1e4).

    Args:
        input: logits.
        target: same shape, values in [0, 1].
        weight: optional rescaling of each element, broadcast to the input.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        pos_weight: weight of the positive term, broadcast to the input (e.g. one per class
            along the last dimension).

    Returns:
        The loss.

    Example:
        >>> import locograd as lg
        >>> F = lg.nn.functional
        >>> F.binary_cross_entropy_with_logits(lg.tensor([1e4, -1e4]), lg.tensor([1.0, 0.0])).item()
        0.0
    """
    reduction = _reduction("binary_cross_entropy_with_logits", reduction, size_average, reduce)
    target = _as_target(target, input, "binary_cross_entropy_with_logits")
    if target.data.shape != input.data.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: the target (shape "
                         f"{tuple(target.data.shape)}) must have the input's shape "
                         f"{tuple(input.data.shape)}")
    return BinaryCrossEntropyWithLogits.apply(input, target, _as_weight(weight, input),
                                              _as_weight(pos_weight, input), reduction)


# ------------------------------------------------------------------------------ divergence

class KLDivergence(Function):
    """``target (log target - input)``, or ``exp(target) (target - input)`` for log targets."""

    label = "KLDivLoss"

    @staticmethod
    def forward(ctx, input, target, reduction, log_target):
        x, y = input.data, target.data
        xp = namespace(x)
        if log_target:
            loss = xp.exp(y) * (y - x)
        else:  # xlogy(y, y) - y x: a zero target contributes 0 (where log y is -inf)
            with xp.errstate(divide="ignore", invalid="ignore"):
                loss = xp.where(y == 0, 0.0, y * xp.log(y)).astype(x.dtype, copy=False) - y * x
        ctx.save_for_backward(input, target)
        ctx.log_target = log_target
        ctx.reduction, ctx.count = reduction, loss.size
        if reduction == "batchmean":  # the sum over the batch's distributions, averaged
            ctx.reduction, ctx.count = "mean", x.shape[0] if x.ndim else 1
        return _reduce(loss, ctx.reduction, ctx.count)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        xp = namespace(x)
        need = ctx.needs_input_grad
        g = _scale(ctx, grad)
        p = xp.exp(y) if ctx.log_target else y
        gx = -(g * p) if need[0] else None
        gy = None
        if need[1]:
            if ctx.log_target:
                gy = g * p * (y - x + 1.0)
            else:
                with xp.errstate(divide="ignore"):
                    gy = g * (xp.log(y) + 1.0 - x)
        return gx, gy, None, None


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence ``sum target (log target - input)`` for log-probs ``input``.

    Args:
        input: log-probabilities.
        target: probabilities (log-probabilities if ``log_target``), same shape.
        reduction: ``'mean'`` (over all elements, as PyTorch), ``'batchmean'`` (sum divided by
            the batch size: the mathematically correct KL), ``'sum'`` or ``'none'``.
        log_target: the target is given as log-probabilities.

    Returns:
        The loss; a zero target contributes zero.

    Example:
        >>> import locograd as lg
        >>> p = lg.tensor([[0.5, 0.5]])
        >>> lg.nn.functional.kl_div(p.log(), p, reduction="batchmean").item()
        0.0
    """
    if reduction != "batchmean":
        reduction = _reduction("kl_div", reduction, size_average, reduce)
    target = _as_target(target, input, "kl_div")
    return KLDivergence.apply(input, target, reduction, bool(log_target))

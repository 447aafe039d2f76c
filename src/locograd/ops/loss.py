"""Loss functions with PyTorch's names, arguments and reduction rules.

``reduction`` is ``'mean'`` (the default), ``'sum'`` or ``'none'``. Each loss is one fused node:
the forward computes the elementwise loss and reduces it, the NumPy backward applies the closed-
form derivative, and the tensor backward writes the same derivative with locograd ops (so second
derivatives exist). ``cross_entropy`` fuses log-softmax and the negative log-likelihood: its
gradient is ``softmax - onehot`` (scaled), computed without overflow for logits of any size.

Class weights (``weight`` of ``cross_entropy``/``nll_loss``) are constants: as in PyTorch, no
gradient flows to them. The ``weight`` and ``pos_weight`` of the binary losses do get gradients.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from .cross_entropy import *  # noqa: F401,F403  (cross_entropy, nll_loss: re-exported)
from .cross_entropy import __all__ as _cross_entropy_all
from .cross_entropy import _reduce, _reduction, _scale
from .elementwise import clamp, log, sigmoid, softplus

_LEGACY_RULES = True  # TRANSITION: twin rules not yet merged (see Function)

__all__ = list(_cross_entropy_all) + [
    "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div"]


def _as_target(target, input, op: str):
    """``target`` as a tensor of the input's float dtype, broadcast-checked like PyTorch."""
    if not isinstance(target, TensorBase):
        target = new_tensor(np.asarray(target, dtype=input.data.dtype))
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
        input, target, _ = ctx.saved_tensors
        g = _scale(ctx, grad) * (input - target) * 2.0
        return g, (-g if ctx.needs_input_grad[1] else None), None

    @staticmethod
    def backward_np(ctx, grad):
        diff = ctx.saved_arrays[2]
        g = _scale(ctx, grad) * diff * 2.0
        return g, (-g if ctx.needs_input_grad[1] else None), None


class AbsoluteError(Function):
    """``|input - target|``, reduced (``l1_loss``); the gradient at 0 is 0."""

    label = "L1Loss"

    @staticmethod
    def forward(ctx, input, target, reduction):
        diff = input.data - target.data
        ctx.direction = np.sign(diff)
        ctx.reduction, ctx.count = reduction, diff.size
        return _reduce(np.abs(diff), reduction)

    @staticmethod
    def backward(ctx, grad):
        g = _scale(ctx, grad) * ctx.direction  # piecewise linear: a constant mask
        return g, (-g if ctx.needs_input_grad[1] else None), None

    backward_np = backward


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
        size = np.abs(diff)
        loss = np.where(size < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))
        if factor != 1.0:
            loss *= factor
        ctx.save_for_backward(input, target, diff)
        ctx.delta, ctx.factor, ctx.reduction, ctx.count = delta, factor, reduction, diff.size
        return _reduce(loss.astype(diff.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        input, target, _ = ctx.saved_tensors
        g = _scale(ctx, grad) * clamp(input - target, -ctx.delta, ctx.delta) * ctx.factor
        return g, (-g if ctx.needs_input_grad[1] else None), None, None, None

    @staticmethod
    def backward_np(ctx, grad):
        diff = ctx.saved_arrays[2]
        g = _scale(ctx, grad) * np.clip(diff, -ctx.delta, ctx.delta) * ctx.factor
        return g, (-g if ctx.needs_input_grad[1] else None), None, None, None


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


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error ``|input - target|`` (reduced).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.l1_loss(lg.tensor([1.0, 2.0]), lg.tensor([0.0, 4.0])).item()
        1.5
    """
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    return AbsoluteError.apply(input, _as_target(target, input, "l1_loss"), reduction)


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


# ------------------------------------------------------------------------------ binary

_LOG_FLOOR = -100.0  # PyTorch clamps the logs of binary_cross_entropy at -100


class BinaryCrossEntropy(Function):
    """``-w (y log x + (1 - y) log(1 - x))`` with both logs clamped at -100 (as PyTorch)."""

    label = "BinaryCrossEntropy"

    @staticmethod
    def forward(ctx, input, target, weight, reduction):
        x, y = input.data, target.data
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), _LOG_FLOOR)
            log_1mx = np.maximum(np.log1p(-x), _LOG_FLOOR)
        loss = -(y * log_x + (1.0 - y) * log_1mx)
        need = ctx.needs_input_grad
        ctx.save_for_backward(input, target, weight, loss if need[2] else None)
        if weight is not None:
            loss = loss * weight.data
        ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        input, target, weight, _ = ctx.saved_tensors
        need = ctx.needs_input_grad
        g = _scale(ctx, grad)
        gw = None
        if need[1] or need[2]:
            log_x = clamp(log(input), _LOG_FLOOR, None)
            log_1mx = clamp(log(1.0 - input), _LOG_FLOOR, None)
            if need[2]:  # the unweighted loss, as a function of the input and the target
                gw = -(g * (target * log_x + (1.0 - target) * log_1mx))
        if weight is not None:
            g = g * weight
        gx = gy = None
        if need[0]:  # PyTorch's form: (x - y) / max(x (1 - x), 1e-12)
            gx = g * (input - target) / clamp(input * (1.0 - input), 1e-12, None)
        if need[1]:
            gy = g * (log_1mx - log_x)
        return gx, gy, gw, None

    @staticmethod
    def backward_np(ctx, grad):
        x, y, w, loss = ctx.saved_arrays
        need = ctx.needs_input_grad
        g = _scale(ctx, grad)
        gw = g * loss if need[2] else None
        if w is not None:
            g = g * w
        gx = g * (x - y) / np.maximum(x * (1.0 - x), 1e-12) if need[0] else None
        gy = None
        if need[1]:
            with np.errstate(divide="ignore"):
                gy = g * (np.maximum(np.log1p(-x), _LOG_FLOOR) -
                          np.maximum(np.log(x), _LOG_FLOOR))
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


def _as_weight(weight, input):
    if weight is None or isinstance(weight, TensorBase):
        return weight
    return new_tensor(np.asarray(weight, dtype=input.data.dtype))


def _softplus_np(x):
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``.

    Written as in-place passes over one buffer: about 9x faster than ``np.logaddexp(0, x)``.
    """
    out = np.abs(x)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(x, 0)
    return out


def _sigmoid_minus_np(x, y):
    """``sigmoid(x) - y`` in one buffer (``exp`` may overflow to inf: 1/(1+inf) is 0)."""
    out = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    out -= y
    return out


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
            t = np.abs(x)
            np.negative(t, out=t)
            np.exp(t, out=t)
            np.log1p(t, out=t)
            total = t.sum(dtype=x.dtype)
            np.maximum(x, 0, out=t)
            total += t.sum(dtype=x.dtype) - np.vdot(x, y).astype(x.dtype)
            if reduction == "mean":
                total = total / x.dtype.type(x.size) if x.size else x.dtype.type(np.nan)
            return np.asarray(total, dtype=x.dtype)
        softplus_neg = _softplus_np(-x)  # log(1 + exp(-x)) without overflow
        if pos_weight is None:
            loss = (1.0 - y) * x + softplus_neg
        else:
            loss = (1.0 - y) * x + (1.0 + (pos_weight.data - 1.0) * y) * softplus_neg
        ctx.save_for_backward(input, target, weight, pos_weight, loss if need[2] else None,
                              softplus_neg if need[1] or need[3] else None)
        if weight is not None:
            loss = loss * weight.data
        ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        input, target, weight, pos_weight, _, _ = ctx.saved_tensors
        need = ctx.needs_input_grad
        g = _scale(ctx, grad)
        gw = gx = gy = gp = None
        if need[1] or need[2] or need[3]:
            sp = softplus(-input)
            if need[2]:  # the unweighted loss, as a function of its inputs
                positive = sp if pos_weight is None else (1.0 + (pos_weight - 1.0) * target) * sp
                gw = g * ((1.0 - target) * input + positive)
        if weight is not None:
            g = g * weight
        if need[0]:
            if pos_weight is None:
                gx = g * (sigmoid(input) - target)
            else:
                gx = g * ((1.0 - target) - (1.0 + (pos_weight - 1.0) * target) * sigmoid(-input))
        if need[1]:
            gy = g * (-input) if pos_weight is None else g * ((pos_weight - 1.0) * sp - input)
        if need[3]:
            gp = g * target * sp
        return gx, gy, gw, gp, None

    @staticmethod
    def backward_np(ctx, grad):
        x, y, w, pw, loss, sp = ctx.saved_arrays
        need = ctx.needs_input_grad
        g = _scale(ctx, grad)
        gw = g * loss if need[2] else None
        if w is not None:
            g = g * w
        gx = gy = gp = None
        if need[0]:
            if pw is None:
                gx = _sigmoid_minus_np(x, y)  # sigmoid(x) - y, one buffer
                gx *= g
            else:
                sig_neg = np.exp(-_softplus_np(x))  # sigmoid(-x) = exp(-softplus(x)), stable
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
        if log_target:
            loss = np.exp(y) * (y - x)
        else:  # xlogy(y, y) - y x: a zero target contributes 0 (where log y is -inf)
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = np.where(y == 0, 0.0, y * np.log(y)).astype(x.dtype, copy=False) - y * x
        ctx.save_for_backward(input, target)
        ctx.log_target = log_target
        ctx.reduction, ctx.count = reduction, loss.size
        if reduction == "batchmean":  # the sum over the batch's distributions, averaged
            ctx.reduction, ctx.count = "mean", x.shape[0] if x.ndim else 1
        return _reduce(loss, ctx.reduction, ctx.count)

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        need = ctx.needs_input_grad
        g = _scale(ctx, grad)
        p = target.exp() if ctx.log_target else target
        gx = -(g * p) if need[0] else None
        gy = None
        if need[1]:
            gy = g * p * (target - input + 1.0) if ctx.log_target else \
                g * (log(target) + 1.0 - input)
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

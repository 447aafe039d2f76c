"""``cross_entropy`` (log-softmax + negative log-likelihood fused) and ``nll_loss``.

Also the reduction rules shared by every loss (``ops/loss.py`` imports them from here).

The fused node computes ``log_softmax`` with the maximum subtracted (finite for logits of any
size) and keeps the softmax for the backward, which is ``softmax * sum(q) - q`` for the per-class
coefficients ``q`` of the loss: the one-hot target times its class weight, plus the label
smoothing's ``eps / C * weight``; for probability targets ``q`` is the (smoothed) target times the
class weights. Without weights or smoothing this is the familiar ``softmax - onehot``. The rule is
written once: on the fast path it uses the saved softmax and, for class indices, a sparse form
(no one-hot array); when the backward pass is recorded the softmax is recomputed from the input
and ``q`` is a dense constant.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import is_array, is_tensor
from .indexing import gather
from .reduce import log_softmax, softmax
from .shape import reshape

__all__ = ["cross_entropy", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(op: str, reduction: str, size_average=None, reduce=None) -> str:
    """The reduction, from PyTorch's legacy ``size_average``/``reduce`` flags if given."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduction = "none" if reduce is False else ("mean" if size_average else "sum")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def _reduce(loss, reduction: str, count=None):
    """Sum, or divide the sum by ``count`` (default: the number of elements; 0/0 is NaN).

    ``count`` is a number or a 0-d array of the loss's dtype (a sum of weights)."""
    if reduction == "none":
        return loss
    xp = namespace(loss)
    total = loss.sum(dtype=loss.dtype)
    if reduction == "sum":
        return xp.asarray(total)
    if not is_array(count):
        count = loss.dtype.type(loss.size if count is None else count)
    with xp.errstate(divide="ignore", invalid="ignore"):
        return xp.asarray(total / count)


def _scale(ctx, grad):
    """The upstream gradient per element: ``grad`` ('none'/'sum') or ``grad / n`` ('mean')."""
    return grad * (1.0 / ctx.count) if ctx.reduction == "mean" and ctx.count else grad


class CrossEntropy(Function):
    """``-sum_c q_c log_softmax(x)_c`` per sample, for class indices or class probabilities.

    ``target`` is an integer ndarray of class indices (no gradient) or a tensor of class
    probabilities shaped like the input (differentiable).
    """

    label = "CrossEntropyLoss"

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, label_smoothing):
        x = input.data
        xp = namespace(x)
        c = x.shape[1]
        shifted = x - x.max(axis=1, keepdims=True)
        probs = xp.exp(shifted)
        sums = probs.sum(axis=1, keepdims=True)
        log_sums = xp.log(sums)
        probs /= sums
        eps = label_smoothing
        w_view = None if weight is None else weight.reshape((1, c) + (1,) * (x.ndim - 2))
        ctx.indices = is_array(target)
        if ctx.indices:
            valid = target != ignore_index
            safe = xp.where(valid, target, 0)
            log_p = xp.take_along_axis(shifted, safe[:, None], axis=1)[:, 0] - log_sums[:, 0]
            picked = (weight[safe] * valid) if weight is not None else valid.astype(x.dtype)
            loss = log_p * picked * -(1.0 - eps)
            if eps:  # smoothing: -eps/C sum_c w_c log_softmax_c
                w_total = weight.sum() if weight is not None else c
                weighted = (shifted * w_view).sum(axis=1) if weight is not None \
                    else shifted.sum(axis=1)
                loss -= (weighted - log_sums[:, 0] * w_total) * valid * (eps / c)
                ctx.w_total = w_total
            ctx.safe, ctx.picked, ctx.valid = safe, picked, valid
            count = picked.sum()  # 'mean' divides by the weights of the non-ignored targets
        else:
            q = _probability_coefficients(target.data, eps, w_view)
            loss = -(q * (shifted - log_sums)).sum(axis=1)
            ctx.q = q
            count = loss.size
        ctx.save_for_backward(input, None if ctx.indices else target, probs)
        ctx.w_view, ctx.eps = w_view, eps
        ctx.reduction, ctx.count = reduction, count
        return _reduce(loss.astype(x.dtype, copy=False), reduction, count)

    @staticmethod
    def backward(ctx, grad):
        x, target, probs = ctx.saved_tensors
        xp = namespace(grad)
        recorded = is_tensor(x)
        need = ctx.needs_input_grad
        s = _scale(ctx, grad)
        if ctx.reduction == "none":
            s = xp.expand_dims(s, 1)
        eps, w_view = ctx.eps, ctx.w_view
        gx = gy = None
        if need[0]:
            if recorded:  # the saved softmax would be a constant
                probs = softmax(x, 1)
            if ctx.indices:
                gx = _index_input_grad(ctx, probs, s)
            else:
                q = _probability_coefficients(target, eps, w_view) if recorded else ctx.q
                gx = (probs * xp.sum(q, axis=1, keepdims=True) - q) * s
        if need[1]:
            lsm = log_softmax(x, 1) if recorded else _log_softmax_array(x)
            gy = -(lsm * ((1.0 - eps) if w_view is None else w_view * (1.0 - eps))) * s
        return gx, gy, None, None, None, None


def _probability_coefficients(target, eps: float, w_view):
    """q of probability targets: the smoothed target times the class weights."""
    q = target * (1.0 - eps) + eps / target.shape[1] if eps else target
    return q if w_view is None else q * w_view


def _log_softmax_array(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - namespace(x).log(namespace(x).exp(shifted).sum(axis=1, keepdims=True))


def _index_input_grad(ctx, probs, s):
    """``(softmax * sum(q) - q) * s`` for class-index targets: on arrays a sparse form (no
    one-hot array), on tensors (a recorded pass) with the dense constant q."""
    eps, w_view = ctx.eps, ctx.w_view
    c = probs.shape[1]
    hit = ctx.picked * (1.0 - eps)  # the one-hot part of q
    row = hit + ctx.valid * (ctx.w_total * eps / c) if eps else hit  # sum(q)
    if is_tensor(probs) or is_tensor(s):
        return (probs * row[:, None] - _index_coefficients(ctx, hit, c, probs.dtype)) * s
    xp = namespace(probs)
    gx = probs * (row[:, None] * s)
    target = ctx.safe[:, None]
    at_target = xp.take_along_axis(gx, target, axis=1)
    xp.put_along_axis(gx, target, at_target - hit[:, None] * s, axis=1)
    if eps:
        smooth = ctx.valid[:, None] * (eps / c)
        gx -= (smooth * w_view if w_view is not None else smooth) * s
    return gx


def _index_coefficients(ctx, hit, c: int, dtype):
    """The dense (N, C, ...) coefficients q of class-index targets (for a recorded backward)."""
    safe = ctx.safe[:, None]
    xp = namespace(safe)
    q = xp.zeros(safe.shape[:1] + (c,) + safe.shape[2:], dtype=dtype)
    xp.put_along_axis(q, safe, hit[:, None].astype(dtype, copy=False), axis=1)
    if ctx.eps:
        smooth = ctx.valid[:, None] * (ctx.eps / c)
        q += smooth * ctx.w_view if ctx.w_view is not None else smooth
    return q


def _class_weight(weight, c: int, like, op: str):
    """The (C,) class weights as an array of ``like``'s dtype and backend (or None)."""
    if weight is None:
        return None
    w = weight.data if isinstance(weight, TensorBase) else namespace(like).asarray(weight)
    if w.shape != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},) (one per class), got "
                         f"{tuple(w.shape)}")
    return w.astype(like.dtype, copy=False)


def _index_target(target, x, c: int, ignore_index: int, op: str):
    """The class-index target as an integer array of ``x``'s backend, checked against ``x``."""
    x_shape = x.shape
    t = target.data if isinstance(target, TensorBase) else namespace(x).asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-index targets must be integers, got dtype {t.dtype}")
    expected = (x_shape[0],) + tuple(x_shape[2:])
    if t.shape != expected:
        raise ValueError(f"{op}: expected a target of shape {expected} for an input of shape "
                         f"{tuple(x_shape)}, got {tuple(t.shape)}")
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"{op}: target {int(t[bad].reshape(-1)[0])} is out of bounds for "
                         f"{c} classes")
    return t


def _batched(input, target, op: str):
    """(input, target, unbatched): a 1-D input (C,) becomes (1, C) and its target (1, ...)."""
    d = input.data
    if d.ndim == 0:
        raise ValueError(f"{op}: the input must have at least 1 dimension (classes), got a "
                         f"scalar")
    if d.dtype.kind != "f":
        raise TypeError(f"{op}: the input must be floating point, got dtype {d.dtype}")
    if d.ndim > 1:
        return input, target, False
    if isinstance(target, TensorBase):
        target = reshape(target, (1,) + target.data.shape)
    else:
        target = namespace(d).asarray(target)[None]
    return reshape(input, (1,) + d.shape), target, True


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits ``input`` against class indices or class probabilities.

    One fused log-softmax + NLL node: stable for any logits, gradient ``softmax - onehot``.

    Args:
        input: logits (N, C), (N, C, d1, ...) or (C,).
        target: class indices (N,) / (N, d1, ...) / () of an integer dtype, or class
            probabilities shaped like ``input`` (differentiable).
        weight: optional (C,) class weights (constant).
        ignore_index: class-index targets equal to it contribute nothing (nor to the mean).
        reduction: ``'mean'`` (divides by the summed weights of the non-ignored targets; by the
            number of samples for probability targets), ``'sum'`` or ``'none'``.
        label_smoothing: ``eps`` in [0, 1]: the target becomes ``(1 - eps) onehot + eps / C``.

    Returns:
        The loss (per sample for ``'none'``).

    Example:
        >>> import locograd as lg
        >>> loss = lg.nn.functional.cross_entropy(lg.zeros(2, 4), lg.tensor([0, 3]))
        >>> round(loss.item(), 6)  # log(4)
        1.386294
    """
    reduction = _reduction("cross_entropy", reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    input, target, unbatched = _batched(input, target, "cross_entropy")
    x_shape = input.data.shape
    c = x_shape[1]
    weight = _class_weight(weight, c, input.data, "cross_entropy")
    t = target.data if isinstance(target, TensorBase) else namespace(input.data).asarray(target)
    if t.dtype.kind == "f":  # class probabilities
        if ignore_index != -100:
            raise ValueError("cross_entropy: ignore_index is not supported for probability "
                             "(floating-point) targets")
        if t.shape != x_shape:
            raise ValueError(f"cross_entropy: probability targets must have the input's shape "
                             f"{tuple(x_shape)}, got {tuple(t.shape)}")
        if t.dtype != input.data.dtype:
            raise TypeError(f"cross_entropy: the input (dtype {input.data.dtype}) and the "
                            f"probability target (dtype {t.dtype}) must have the same dtype")
        if not isinstance(target, TensorBase):
            target = new_tensor(t)
    else:
        target = _index_target(target, input.data, c, ignore_index, "cross_entropy")
    out = CrossEntropy.apply(input, target, weight, ignore_index, reduction,
                             float(label_smoothing))
    return reshape(out, ()) if unbatched and reduction == "none" else out


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` at the class indices ``target``.

    Args:
        input: log-probabilities (N, C), (N, C, d1, ...) or (C,).
        target: class indices (N,), (N, d1, ...) or ().
        weight: optional (C,) class weights (constant).
        ignore_index: targets equal to it contribute nothing.
        reduction: ``'mean'`` (divides by the summed weights of the non-ignored targets),
            ``'sum'`` or ``'none'``.

    Returns:
        The loss.

    Example:
        >>> import locograd as lg
        >>> logp = lg.tensor([[-1.0, -2.0], [-3.0, -0.5]])
        >>> lg.nn.functional.nll_loss(logp, lg.tensor([0, 1])).item()
        0.75
    """
    reduction = _reduction("nll_loss", reduction, size_average, reduce)
    input, target, unbatched = _batched(input, target, "nll_loss")
    x = input.data
    weight = _class_weight(weight, x.shape[1], x, "nll_loss")
    t = _index_target(target, x, x.shape[1], ignore_index, "nll_loss")
    valid = t != ignore_index
    safe = namespace(t).where(valid, t, 0)
    picked = (weight[safe] * valid) if weight is not None else valid.astype(x.dtype)
    log_p = gather(input, 1, safe[:, None]).squeeze(1)
    loss = log_p * new_tensor(-picked)
    if reduction == "none":
        return reshape(loss, ()) if unbatched else loss
    if reduction == "sum":
        return loss.sum()
    total = float(picked.sum())
    return loss.sum() * (1.0 / total if total else float("nan"))

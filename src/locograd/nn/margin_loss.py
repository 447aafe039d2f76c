"""More losses, composed of existing ops (``torch.nn`` names and functional forms):
``GaussianNLLLoss``, ``PoissonNLLLoss``, ``HingeEmbeddingLoss``, ``MarginRankingLoss``,
``TripletMarginLoss``, ``CosineEmbeddingLoss``, ``MultiMarginLoss``, ``SoftMarginLoss``."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..factory import tensor, zeros_like
from ..ops.cross_entropy import _reduction
from .distance import pairwise_distance
from .loss import _buffer, _Loss

__all__ = ["GaussianNLLLoss", "PoissonNLLLoss", "HingeEmbeddingLoss", "MarginRankingLoss",
           "TripletMarginLoss", "CosineEmbeddingLoss", "MultiMarginLoss", "SoftMarginLoss",
           "gaussian_nll_loss", "poisson_nll_loss", "hinge_embedding_loss", "margin_ranking_loss",
           "triplet_margin_loss", "cosine_embedding_loss", "multi_margin_loss",
           "soft_margin_loss"]


def _reduce(loss, reduction: str, name: str, size_average=None, reduce=None):
    reduction = _reduction(name, reduction, size_average, reduce)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _select(condition, values):
    """``values`` where ``condition`` holds (a NumPy bool array), else 0."""
    return ops.where(tensor(condition), values, zeros_like(values))


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean"):
    """``0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps))`` (+ ``0.5 log 2 pi``
    with ``full``). ``var`` has the input's shape, or it without the last dimension, or with a
    last dimension of 1 (one variance per sample). As PyTorch, the clamp to ``eps`` passes the
    gradient to ``var`` unchanged.

    Example:
        >>> import locograd as lg
        >>> loss = lg.nn.functional.gaussian_nll_loss(lg.tensor([1.0]), lg.tensor([3.0]),
        ...                                           lg.tensor([2.0]))
        >>> round(loss.item(), 6)  # 0.5 * (log 2 + 4 / 2)
        1.346574
    """
    name = "gaussian_nll_loss"
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError(f"{name}: var of shape {var.shape} does not fit input of shape "
                             f"{input.shape}")
    if np.any(var.numpy() < 0):
        raise ValueError(f"{name}: var has negative entries")
    raw = var.detach()
    var = var + (ops.clamp(raw, min=eps) - raw)  # the clamped value, the identity's gradient
    diff = input - target
    loss = 0.5 * (ops.log(var) + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, name)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean"):
    """Poisson negative log-likelihood: ``exp(input) - target * input`` (``log_input``) or
    ``input - target * log(input + eps)``; ``full`` adds Stirling's term
    ``target log target - target + 0.5 log(2 pi target)`` where ``target > 1``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.poisson_nll_loss(lg.tensor([0.0]), lg.tensor([2.0])).item()
        1.0
    """
    if log_input:
        loss = ops.exp(input) - target * input
    else:
        loss = input - target * ops.log(input + eps)
    if full:
        t = target.detach().numpy()
        safe = np.where(t > 1, t, 1.0)
        stirling = np.where(t > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe),
                            0.0).astype(loss.dtype)
        loss = loss + tensor(stirling)
    return _reduce(loss, reduction, "poisson_nll_loss", size_average, reduce)


def _target_values(target):
    return target.numpy() if hasattr(target, "numpy") else np.asarray(target)


def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """``x`` where ``y = 1``, ``max(0, margin - x)`` where ``y = -1`` (x: a distance).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.hinge_embedding_loss(lg.tensor([0.5, 2.0]),
        ...                                       lg.tensor([-1.0, 1.0])).item()
        1.25
    """
    y = _target_values(target)
    loss = _select(y != -1, input) + _select(y != 1, ops.clamp(margin - input, min=0.0))
    return _reduce(loss, reduction, "hinge_embedding_loss", size_average, reduce)


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, size_average=None,
                        reduce=None, reduction: str = "mean"):
    """``max(0, -y * (x1 - x2) + margin)``: ``x1`` should rank above ``x2`` where ``y = 1``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.margin_ranking_loss(lg.tensor([1.0]), lg.tensor([2.0]),
        ...                                      lg.tensor([1.0])).item()
        1.0
    """
    loss = ops.clamp(-target * (input1 - input2) + margin, min=0.0)
    return _reduce(loss, reduction, "margin_ranking_loss", size_average, reduce)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean"):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the pairwise p-norm distance;
    ``swap`` uses ``min(d(a, n), d(p, n))`` (Balntas et al., 2016).

    Example:
        >>> import locograd as lg
        >>> a = lg.tensor([[0.0, 0.0]])
        >>> lg.nn.functional.triplet_margin_loss(a, a, lg.tensor([[3.0, 4.0]]), eps=0.0).item()
        0.0
    """
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError(f"triplet_margin_loss: anchor, positive and negative must have the "
                         f"same number of dimensions, got shapes {anchor.shape}, "
                         f"{positive.shape}, {negative.shape}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = ops.clamp(d_pos - d_neg + margin, min=0.0)
    return _reduce(loss, reduction, "triplet_margin_loss", size_average, reduce)


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, size_average=None,
                          reduce=None, reduction: str = "mean"):
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) - margin)`` where ``y = -1``
    (cosine along dimension 1, with 1e-12 added to each squared norm, as PyTorch).

    Example:
        >>> import locograd as lg
        >>> x = lg.tensor([[1.0, 0.0]])
        >>> lg.nn.functional.cosine_embedding_loss(x, x, lg.tensor([1.0])).item()
        0.0
    """
    dim = input1.ndim - 1
    dot = ops.sum(input1 * input2, dim)
    squares = ops.sum(input1 * input1, dim) + 1e-12, ops.sum(input2 * input2, dim) + 1e-12
    cos = dot / ops.sqrt(squares[0] * squares[1])
    y = _target_values(target)
    loss = _select(y == 1, 1.0 - cos) + _select(y == -1, ops.clamp(cos - margin, min=0.0))
    return _reduce(loss, reduction, "cosine_embedding_loss", size_average, reduce)


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None,
                      size_average=None, reduce=None, reduction: str = "mean"):
    """Multi-class hinge loss: ``sum_{j != y} max(0, margin - x_y + x_j)^p / C`` per sample
    (times ``weight[y]``), for (N, C) or (C,) scores and class indices ``target``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.multi_margin_loss(lg.tensor([[0.1, 0.2, 0.4, 0.8]]),
        ...                                    lg.tensor([3])).item()
        0.32499998807907104
    """
    name = "multi_margin_loss"
    if p not in (1, 2):
        raise ValueError(f"{name}: only p = 1 and p = 2 are supported, got {p!r}")
    scores = input if input.ndim == 2 else input.reshape(1, -1)
    labels = _target_values(target).reshape(-1).astype(np.int64)
    if scores.ndim != 2 or labels.shape[0] != scores.shape[0]:
        raise ValueError(f"{name}: expected (N, C) or (C,) input and N targets, got shapes "
                         f"{input.shape} and {np.shape(_target_values(target))}")
    index = tensor(labels.reshape(-1, 1))
    correct = ops.gather(scores, 1, index)
    hinge = ops.clamp(margin - correct + scores, min=0.0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * ops.gather(weight, 0, tensor(labels)).reshape(-1, 1)
    others = np.ones(scores.shape, dtype=bool)
    others[np.arange(len(labels)), labels] = False  # the true class does not count
    loss = ops.sum(_select(others, hinge), 1) / scores.shape[1]
    if input.ndim != 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction, name, size_average, reduce)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """Two-class logistic loss ``log(1 + exp(-y x))`` for labels ``y`` in {-1, 1}.

    Example:
        >>> import locograd as lg
        >>> round(lg.nn.functional.soft_margin_loss(lg.tensor([0.0]), lg.tensor([1.0])).item(), 6)
        0.693147
    """
    return _reduce(ops.softplus(-target * input), reduction, "soft_margin_loss", size_average,
                   reduce)


class _LossModule(_Loss):
    """A loss module whose ``forward`` passes its inputs and the stored options on."""

    _fn = None
    _options: tuple = ()

    def forward(self, *inputs):
        options = {name: getattr(self, name) for name in self._options}
        return type(self)._fn(*inputs, reduction=self.reduction, **options)


class GaussianNLLLoss(_LossModule):
    """``F.gaussian_nll_loss`` as a module: ``forward(input, target, var)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.GaussianNLLLoss()(lg.zeros(3), lg.ones(3), lg.ones(3)).item()
        0.5
    """

    _fn = staticmethod(gaussian_nll_loss)
    _options = ("full", "eps")

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps


class PoissonNLLLoss(_LossModule):
    """``F.poisson_nll_loss`` as a module.

    Example:
        >>> import locograd as lg
        >>> lg.nn.PoissonNLLLoss()(lg.zeros(2), lg.zeros(2)).item()
        1.0
    """

    _fn = staticmethod(poisson_nll_loss)
    _options = ("log_input", "full", "eps")

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None,
                 eps: float = 1e-8, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps


class HingeEmbeddingLoss(_LossModule):
    """``F.hinge_embedding_loss`` as a module.

    Example:
        >>> import locograd as lg
        >>> lg.nn.HingeEmbeddingLoss()(lg.tensor([2.0]), lg.tensor([-1.0])).item()
        0.0
    """

    _fn = staticmethod(hinge_embedding_loss)
    _options = ("margin",)

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class MarginRankingLoss(_LossModule):
    """``F.margin_ranking_loss`` as a module: ``forward(input1, input2, target)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.MarginRankingLoss(0.5)(lg.tensor([2.0]), lg.tensor([1.0]), lg.tensor([1.0])).item()
        0.0
    """

    _fn = staticmethod(margin_ranking_loss)
    _options = ("margin",)

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class TripletMarginLoss(_LossModule):
    """``F.triplet_margin_loss`` as a module: ``forward(anchor, positive, negative)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.TripletMarginLoss()(lg.randn(4, 3), lg.randn(4, 3), lg.randn(4, 3)).shape
        ()
    """

    _fn = staticmethod(triplet_margin_loss)
    _options = ("margin", "p", "eps", "swap")

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap


class CosineEmbeddingLoss(_LossModule):
    """``F.cosine_embedding_loss`` as a module: ``forward(input1, input2, target)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.CosineEmbeddingLoss()(lg.randn(4, 3), lg.randn(4, 3), lg.ones(4)).shape
        ()
    """

    _fn = staticmethod(cosine_embedding_loss)
    _options = ("margin",)

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class MultiMarginLoss(_LossModule):
    """``F.multi_margin_loss`` as a module; ``weight`` (per class) is a buffer.

    Example:
        >>> import locograd as lg
        >>> lg.nn.MultiMarginLoss()(lg.randn(4, 3), lg.tensor([0, 1, 2, 0])).shape
        ()
    """

    _fn = staticmethod(multi_margin_loss)
    _options = ("p", "margin", "weight")

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, size_average=None,
                 reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p = 1 and p = 2 are supported, got {p!r}")
        self.p, self.margin = p, margin
        self.register_buffer("weight", _buffer(weight))


class SoftMarginLoss(_LossModule):
    """``F.soft_margin_loss`` as a module.

    Example:
        >>> import locograd as lg
        >>> round(lg.nn.SoftMarginLoss()(lg.zeros(2), lg.ones(2)).item(), 6)
        0.693147
    """

    _fn = staticmethod(soft_margin_loss)

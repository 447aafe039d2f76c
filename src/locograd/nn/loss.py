"""Loss modules (``torch.nn`` names): thin wrappers over ``locograd.nn.functional``.

``forward(input, target)`` returns the loss; ``reduction`` is ``'mean'`` (default), ``'sum'`` or
``'none'``. Class weights and ``pos_weight`` are registered as buffers, as in PyTorch, so they
follow ``Module.to(dtype)`` and appear in ``state_dict``.
"""
from __future__ import annotations

from .. import ops
from ..autograd.tensor_base import TensorBase
from ..factory import tensor
from ..ops.cross_entropy import _reduction
from .module import Module

__all__ = ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "CrossEntropyLoss", "NLLLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction if reduction == "batchmean" else \
            _reduction(type(self).__name__, reduction, size_average, reduce)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


def _buffer(value):
    if value is None or isinstance(value, TensorBase):
        return value
    return tensor(value)


class MSELoss(_Loss):
    """Mean squared error (``F.mse_loss``).

    Example:
        >>> import locograd as lg
        >>> lg.nn.MSELoss()(lg.tensor([1.0, 2.0]), lg.tensor([1.0, 4.0])).item()
        2.0
    """

    def forward(self, input, target):
        return ops.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error (``F.l1_loss``).

    Example:
        >>> import locograd as lg
        >>> lg.nn.L1Loss(reduction="sum")(lg.tensor([1.0, 2.0]), lg.tensor([0.0, 4.0])).item()
        3.0
    """

    def forward(self, input, target):
        return ops.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Huber loss with threshold ``delta`` (``F.huber_loss``).

    Example:
        >>> import locograd as lg
        >>> lg.nn.HuberLoss(delta=2.0)(lg.tensor([3.0]), lg.tensor([0.0])).item()
        4.0
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return ops.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """Smooth L1 loss with threshold ``beta`` (``F.smooth_l1_loss``).

    Example:
        >>> import locograd as lg
        >>> lg.nn.SmoothL1Loss()(lg.tensor([0.5]), lg.tensor([0.0])).item()
        0.125
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return ops.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits against class indices or probabilities (``F.cross_entropy``).

    Args:
        weight: optional (C,) class weights (a buffer).
        ignore_index: class-index targets to skip.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        label_smoothing: in [0, 1].

    Example:
        >>> import locograd as lg
        >>> loss = lg.nn.CrossEntropyLoss()(lg.zeros(3, 5), lg.tensor([0, 1, 4]))
        >>> round(loss.item(), 4)  # log(5)
        1.6094
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight))
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return ops.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                                 reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (``F.nll_loss``).

    Example:
        >>> import locograd as lg
        >>> lg.nn.NLLLoss()(lg.tensor([[-1.0, -2.0]]), lg.tensor([1])).item()
        2.0
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight))
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return ops.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                            reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (``F.binary_cross_entropy``).

    Example:
        >>> import locograd as lg
        >>> round(lg.nn.BCELoss()(lg.tensor([0.5]), lg.tensor([0.0])).item(), 4)
        0.6931
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight))

    def forward(self, input, target):
        return ops.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one node, stable for large logits.

    The module form of ``F.binary_cross_entropy_with_logits``.

    Args:
        weight: optional rescaling broadcast to the input (a buffer).
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        pos_weight: optional weight of positive examples, broadcast to the input (a buffer).

    Example:
        >>> import locograd as lg
        >>> lg.nn.BCEWithLogitsLoss()(lg.tensor([1e4]), lg.tensor([0.0])).item()
        10000.0
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight))
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input, target):
        return ops.binary_cross_entropy_with_logits(input, target, self.weight,
                                                    reduction=self.reduction,
                                                    pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities ``input`` from ``target`` (``F.kl_div``).

    ``reduction='batchmean'`` gives the true KL per sample; ``'mean'`` averages over elements.

    Example:
        >>> import locograd as lg
        >>> p = lg.tensor([[0.25, 0.75]])
        >>> lg.nn.KLDivLoss(reduction="batchmean")(p.log(), p).item()
        0.0
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return ops.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

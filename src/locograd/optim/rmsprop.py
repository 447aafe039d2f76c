"""``RMSprop``: gradients divided by a moving root-mean-square of their recent values."""
from __future__ import annotations

from ._rules import AddL1Decay, AddL2Decay, CountStep, Descend, Maximize, Momentum, ScaleByRms
from .optimizer import Optimizer, check_common, check_non_negative, check_unit_interval

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``: same arguments, defaults and update).

    The update of a parameter ``p`` with gradient ``g``::

        g <- -g                                          if maximize
        g <- g + weight_decay * p + l1_decay * sign(p)
        v <- alpha * v + (1 - alpha) * g^2
        m <- alpha * m + (1 - alpha) * g                 (centered: mean gradient)
        s <- sqrt(v - m^2) + eps   if centered   else   sqrt(v) + eps
        b <- momentum * b + g / s;  p <- p - lr * b      if momentum > 0
        p <- p - lr * g / s                              otherwise

    ``v`` and ``b`` start at zero and ``eps`` is added outside the square root; TensorFlow 1's
    RMSProp differs on both (LocoProp's reference code uses that one).

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the moving averages (default 0.99).
        eps: added to the denominator (default 1e-8).
        weight_decay: coupled L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by an estimate of the gradient's variance instead of its second
            moment (default False). If ``v - m^2`` rounds below zero (a gradient that stays
            the same over very many steps), the square root is NaN as in PyTorch, and NumPy
            warns ("invalid value encountered in sqrt").
        capturable, foreach: accepted and ignored. differentiable: must be False.
        maximize: maximise the objective.
        l1_decay: locograd addition: coupled L1 penalty, ``g <- g + l1_decay * sign(p)``.

    References:
        Hinton, Srivastava & Swersky, "Neural Networks for Machine Learning", lecture 6e
        (Coursera, 2012). Centred variant: Graves, "Generating Sequences With Recurrent Neural
        Networks", arXiv:1308.0850, 2013.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([1.0]))
        >>> opt = optim.RMSprop([w], lr=0.01, alpha=0.75, eps=0.0)
        >>> (w * w).sum().backward(); _ = opt.step()
        >>> round(w.item(), 6)  # v = 0.25 * 4 = 1: 1 - 0.01 * 2 / 1
        0.98
    """

    rules = (CountStep(), Maximize(), AddL2Decay(), AddL1Decay(), ScaleByRms(), Momentum(),
             Descend())

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False, *, l1_decay=0.0):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, capturable=capturable,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        l1_decay=l1_decay)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_common("RMSprop", group)
        check_non_negative("RMSprop", "eps", group["eps"])
        check_non_negative("RMSprop", "momentum", group["momentum"])
        check_unit_interval("RMSprop", "alpha", group["alpha"], closed=True)

"""``Adagrad``: per-coordinate learning rates from the sum of squared gradients."""
from __future__ import annotations

from ._rules import AddL1Decay, AddL2Decay, CountStep, Descend, Maximize, ScaleByAdagrad
from .optimizer import Optimizer, check_common, check_non_negative

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``: same arguments, defaults and update).

    The update of a parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``::

        g   <- -g                                          if maximize
        g   <- g + weight_decay * p + l1_decay * sign(p)
        sum <- sum + g^2                  (sum starts at initial_accumulator_value)
        p   <- p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)

    Coordinates with large past gradients get small steps, rare ones large steps.

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay ``lr / (1 + (t - 1) lr_decay)`` (default 0).
        weight_decay: coupled L2 penalty (default 0).
        initial_accumulator_value: starting value of ``sum`` (default 0).
        eps: added to the denominator for stability (default 1e-10).
        foreach, fused: accepted and ignored. differentiable: must be False.
        maximize: maximise the objective.
        l1_decay: locograd addition: coupled L1 penalty, ``g <- g + l1_decay * sign(p)``.

    Deviation: the state (``step``, ``sum``) is created at the first step that sees a gradient
    (PyTorch creates it in the constructor); the updates are the same.

    References:
        Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization", JMLR 12, 2011.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([3.0]))
        >>> opt = optim.Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward(); _ = opt.step()
        >>> w.item()  # 3 - 0.5 * 6 / sqrt(36)
        2.5
    """

    rules = (CountStep(), Maximize(), AddL2Decay(), AddL1Decay(), ScaleByAdagrad(), Descend())

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None, l1_decay=0.0):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        fused=fused, l1_decay=l1_decay)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_common("Adagrad", group)
        for key in ("lr_decay", "initial_accumulator_value", "eps"):
            check_non_negative("Adagrad", key, group[key])

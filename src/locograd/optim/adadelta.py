"""``Adadelta``: steps scaled by the ratio of two running RMS values (no learning rate needed)."""
from __future__ import annotations

import numpy as np

from ._rules import (AddL2Decay, CountStep, Descend, Maximize, Rule, _average_square,
                     _materialize, _state_buffer)
from .optimizer import Optimizer, check_common, check_non_negative, check_unit_interval

__all__ = ["Adadelta"]


class ScaleByAdadelta(Rule):
    """Adadelta's scaling (Zeiler, 2012), as in PyTorch::

        v  <- rho * v + (1 - rho) * d^2
        d  <- sqrt(u + eps) / sqrt(v + eps) * d
        u  <- rho * u + (1 - rho) * d^2             (with the new d)
    """

    state_keys = ("square_avg", "acc_delta")

    def update(self, direction, scale, param, state, group, workspace):
        direction = _materialize(direction, scale, workspace)
        rho, eps = float(group["rho"]), float(group["eps"])
        square_avg = _state_buffer(state, "square_avg", param)
        acc_delta = _state_buffer(state, "acc_delta", param)
        temp = workspace.scratch(avoid=direction)
        _average_square(square_avg, direction, rho, temp)
        out = direction if workspace.owns(direction) else workspace.scratch(avoid=temp)
        np.add(square_avg, eps, out=temp)
        np.sqrt(temp, out=temp)
        np.divide(direction, temp, out=out)
        np.add(acc_delta, eps, out=temp)
        np.sqrt(temp, out=temp)
        out *= temp
        _average_square(acc_delta, out, rho, temp)
        return out, 1.0


class Adadelta(Optimizer):
    """Adadelta (``torch.optim.Adadelta``: same arguments, defaults and update).

    The update of a parameter ``p`` with gradient ``g``::

        g <- -g                                          if maximize
        g <- g + weight_decay * p
        v <- rho * v + (1 - rho) * g^2
        delta <- sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho * u + (1 - rho) * delta^2
        p <- p - lr * delta

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: a factor on the step (default 1.0, Zeiler's method has none).
        rho: decay of the running averages (default 0.9), in [0, 1].
        eps: added inside both square roots (default 1e-6).
        weight_decay: coupled L2 penalty (default 0).
        foreach, capturable: accepted and ignored. differentiable: must be False.
        maximize: maximise the objective.

    References:
        Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([1.0], dtype=lg.float64))
        >>> opt = optim.Adadelta([w], rho=0.0, eps=1e-2)
        >>> (w * w).sum().backward(); _ = opt.step()
        >>> round(w.item(), 6)  # delta = sqrt(0.01) / sqrt(4.01) * 2
        0.900125
    """

    rules = (CountStep(), Maximize(), AddL2Decay(), ScaleByAdadelta(), Descend())

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        capturable=capturable, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_common("Adadelta", group)
        check_non_negative("Adadelta", "eps", group["eps"])
        check_unit_interval("Adadelta", "rho", group["rho"], closed=True)

"""``RAdam``: Adam whose adaptive step is switched on as the variance of its estimate allows."""
from __future__ import annotations

import math

import numpy as np

from ._rules import (AddL2Decay, CountStep, DecoupledDecay, Descend, Maximize, Rule, _average,
                     _average_square, _materialize, _state_buffer)
from .adam import check_betas
from .optimizer import Optimizer, check_common, check_non_negative

__all__ = ["RAdam", "update_moments"]


def update_moments(direction, param, state, group, temp):
    """Adam's moment estimates, updated in place and returned (``temp`` is scratch)::

        m <- beta1 * m + (1 - beta1) * d,    v <- beta2 * v + (1 - beta2) * d^2
    """
    beta1, beta2 = (float(b) for b in group["betas"])
    exp_avg = _state_buffer(state, "exp_avg", param)
    exp_avg_sq = _state_buffer(state, "exp_avg_sq", param)
    _average(exp_avg, direction, beta1, temp)
    _average_square(exp_avg_sq, direction, beta2, temp)
    return exp_avg, exp_avg_sq


class ScaleByRAdam(Rule):
    """RAdam's scaling (Liu et al., 2020), as in PyTorch, with ``rho_inf = 2 / (1 - beta2) - 1``
    and ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``::

        m <- beta1 * m + (1 - beta1) * d
        v <- beta2 * v + (1 - beta2) * d^2
        d <- m / (1 - beta1^t) * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps)    if rho_t > 5
        d <- m / (1 - beta1^t)                                                otherwise

    with the rectification ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf /
    ((rho_inf - 4)(rho_inf - 2) rho_t))``.
    """

    state_keys = ("exp_avg", "exp_avg_sq")

    def update(self, direction, scale, param, state, group, workspace):
        direction = _materialize(direction, scale, workspace)
        beta1, beta2 = (float(b) for b in group["betas"])
        step = state["step"]
        temp = workspace.scratch(avoid=direction)
        exp_avg, exp_avg_sq = update_moments(direction, param, state, group, temp)
        correction1, correction2 = 1.0 - beta1 ** step, 1.0 - beta2 ** step
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * step * beta2 ** step / correction2
        if rho_t <= 5.0:  # too few steps for a trustworthy variance: plain momentum SGD
            return exp_avg, 1.0 / correction1
        rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                         / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
        np.sqrt(exp_avg_sq, out=temp)
        temp += float(group["eps"])
        np.divide(exp_avg, temp, out=temp)
        return temp, rect * math.sqrt(correction2) / correction1


class RAdam(Optimizer):
    """RAdam (``torch.optim.RAdam``: same arguments, defaults and update).

    The update of a parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``::

        g <- -g                                          if maximize
        p <- p * (1 - lr * weight_decay)                 if decoupled_weight_decay
        g <- g + weight_decay * p                        otherwise
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        p <- p - lr * m / (1 - beta1^t) * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps)
                                                         if rho_t > 5, else
        p <- p - lr * m / (1 - beta1^t)

    (``rho_t`` and the rectification ``r_t`` as in ``ScaleByRAdam``.)

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: ``(beta1, beta2)`` (default (0.9, 0.999)), each in [0, 1).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0), coupled unless ``decoupled_weight_decay``.
        decoupled_weight_decay: shrink the weights directly (RAdamW).
        foreach, capturable: accepted and ignored. differentiable: must be False.
        maximize: maximise the objective.

    References:
        Liu, Jiang, He, Chen, Liu, Gao & Han, "On the Variance of the Adaptive Learning Rate and
        Beyond", ICLR 2020, arXiv:1908.03265.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([1.0], dtype=lg.float64))
        >>> opt = optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); _ = opt.step()
        >>> round(w.item(), 6)  # the first steps are momentum SGD: 1 - 0.1 * 2
        0.8
    """

    rules = (CountStep(), Maximize(), DecoupledDecay(), AddL2Decay(), ScaleByRAdam(), Descend())

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                        maximize=maximize, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_common("RAdam", group)
        check_non_negative("RAdam", "eps", group["eps"])
        check_betas("RAdam", group["betas"])

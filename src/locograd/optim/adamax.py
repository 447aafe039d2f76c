"""``Adamax``: Adam with the infinity norm of past gradients in place of their RMS."""
from __future__ import annotations

import numpy as np

from ._rules import (AddL2Decay, CountStep, Descend, Maximize, Rule, _average, _materialize,
                     _state_buffer)
from .adam import check_betas
from .optimizer import Optimizer, check_common, check_non_negative

__all__ = ["Adamax"]


class ScaleByAdamax(Rule):
    """Adamax's scaling (Kingma & Ba, 2015, section 7.1), as in PyTorch::

        m <- beta1 * m + (1 - beta1) * d
        u <- max(beta2 * u, |d| + eps)
        d <- m / u,   scale *= 1 / (1 - beta1^t)
    """

    state_keys = ("exp_avg", "exp_inf")

    def update(self, direction, scale, param, state, group, workspace):
        direction = _materialize(direction, scale, workspace)
        beta1, beta2 = (float(b) for b in group["betas"])
        exp_avg = _state_buffer(state, "exp_avg", param)
        exp_inf = _state_buffer(state, "exp_inf", param)
        temp = workspace.scratch(avoid=direction)
        _average(exp_avg, direction, beta1, temp)
        exp_inf *= beta2
        np.abs(direction, out=temp)
        temp += float(group["eps"])  # eps inside the max, as PyTorch: u never reaches zero
        np.maximum(exp_inf, temp, out=exp_inf)
        np.divide(exp_avg, exp_inf, out=temp)
        return temp, 1.0 / (1.0 - beta1 ** state["step"])


class Adamax(Optimizer):
    """Adamax (``torch.optim.Adamax``: same arguments, defaults and update).

    The update of a parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``::

        g <- -g                                          if maximize
        g <- g + weight_decay * p
        m <- beta1 * m + (1 - beta1) * g
        u <- max(beta2 * u, |g| + eps)
        p <- p - lr / (1 - beta1^t) * m / u

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 2e-3).
        betas: ``(beta1, beta2)`` (default (0.9, 0.999)), each in [0, 1).
        eps: added to ``|g|`` (default 1e-8).
        weight_decay: coupled L2 penalty (default 0).
        foreach, capturable: accepted and ignored. differentiable: must be False.
        maximize: maximise the objective.

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, arXiv:1412.6980,
        section 7.1.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([1.0], dtype=lg.float64))
        >>> opt = optim.Adamax([w], lr=0.1, eps=0.0)
        >>> (w * w).sum().backward(); _ = opt.step()
        >>> round(w.item(), 6)  # m / (1 - beta1) = 2, u = 2: one step of length lr
        0.9
    """

    rules = (CountStep(), Maximize(), AddL2Decay(), ScaleByAdamax(), Descend())

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_common("Adamax", group)
        check_non_negative("Adamax", "eps", group["eps"])
        check_betas("Adamax", group["betas"])

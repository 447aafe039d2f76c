"""``NAdam``: Adam with Nesterov momentum and a momentum schedule."""
from __future__ import annotations

import numpy as np

from ._rules import AddL2Decay, CountStep, DecoupledDecay, Descend, Maximize, Rule, _materialize
from .adam import check_betas
from .optimizer import Optimizer, check_common, check_non_negative
from .radam import update_moments

__all__ = ["NAdam"]


class ScaleByNAdam(Rule):
    """NAdam's scaling (Dozat, 2016), as in PyTorch, with ``mu_t = beta1 (1 - 0.96^(t psi) / 2)``
    (``psi`` = ``momentum_decay``) and ``P_t = mu_1 ... mu_t``::

        m <- beta1 * m + (1 - beta1) * d
        v <- beta2 * v + (1 - beta2) * d^2
        d <- ((1 - mu_t) / (1 - P_t) * d + mu_{t+1} / (1 - P_{t+1}) * m)
             / (sqrt(v / (1 - beta2^t)) + eps)

    ``P_t`` is kept in the state as ``mu_product`` (a float: it is not shaped like the
    parameter, so it is not in ``state_keys``).
    """

    state_keys = ("exp_avg", "exp_avg_sq")

    def update(self, direction, scale, param, state, group, workspace):
        direction = _materialize(direction, scale, workspace)
        beta1, beta2 = (float(b) for b in group["betas"])
        psi, step = float(group["momentum_decay"]), state["step"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        mu_product = float(state.get("mu_product", 1.0)) * mu
        state["mu_product"] = mu_product
        temp = workspace.scratch(avoid=direction)
        exp_avg, exp_avg_sq = update_moments(direction, param, state, group, temp)
        out = direction if workspace.owns(direction) else workspace.scratch(avoid=temp)
        np.multiply(direction, (1.0 - mu) / (1.0 - mu_product), out=out)
        np.multiply(exp_avg, mu_next / (1.0 - mu_product * mu_next), out=temp)
        out += temp
        np.multiply(exp_avg_sq, 1.0 / (1.0 - beta2 ** step), out=temp)
        np.sqrt(temp, out=temp)
        temp += float(group["eps"])
        out /= temp
        return out, 1.0


class NAdam(Optimizer):
    """NAdam (``torch.optim.NAdam``: same arguments, defaults and update).

    The update of a parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``, with the
    momentum schedule ``mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))``::

        g <- -g                                          if maximize
        p <- p * (1 - lr * weight_decay)                 if decoupled_weight_decay
        g <- g + weight_decay * p                        otherwise
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        p <- p - lr * ((1 - mu_t) / (1 - prod_{i<=t} mu_i) * g
                       + mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m) / (sqrt(v / (1 - beta2^t)) + eps)

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 2e-3).
        betas: ``(beta1, beta2)`` (default (0.9, 0.999)), each in [0, 1).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0), coupled unless ``decoupled_weight_decay``.
        momentum_decay: ``psi`` of the momentum schedule (default 4e-3).
        decoupled_weight_decay: shrink the weights directly (NAdamW).
        foreach, capturable: accepted and ignored. differentiable: must be False.
        maximize: maximise the objective.

    References:
        Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([1.0], dtype=lg.float64))
        >>> opt = optim.NAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); _ = opt.step()
        >>> 0.85 < w.item() < 0.95
        True
    """

    rules = (CountStep(), Maximize(), DecoupledDecay(), AddL2Decay(), ScaleByNAdam(), Descend())

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                        maximize=maximize, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_common("NAdam", group)
        check_non_negative("NAdam", "eps", group["eps"])
        check_non_negative("NAdam", "momentum_decay", group["momentum_decay"])
        check_betas("NAdam", group["betas"])

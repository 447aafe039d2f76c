"""``SGD``: stochastic gradient descent with momentum, Nesterov momentum and weight decay."""
from __future__ import annotations

from ._rules import AddL1Decay, AddL2Decay, Descend, Maximize, Momentum
from .optimizer import Optimizer, check_common, check_non_negative, check_unit_interval

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (``torch.optim.SGD``: same arguments, defaults and update).

    Full-batch gradient descent, mini-batch SGD and online (one example at a time) SGD are all
    this class: which one runs is decided by the batch the loss, hence the gradient, was computed
    on (the whole training set, a mini-batch, or a single example), not by the optimiser.

    The update of a parameter ``p`` with gradient ``g`` at step ``t``::

        g <- -g                                          if maximize
        g <- g + weight_decay * p + l1_decay * sign(p)   coupled L2 and L1 decay
        b <- g                                           if t == 1      } if momentum != 0
        b <- momentum * b + (1 - dampening) * g          if t > 1       }
        g <- g + momentum * b   if nesterov   else   g <- b             }
        p <- p - lr * g

    As in PyTorch, the learning rate multiplies the momentum buffer (Sutskever et al. put it
    inside the velocity), so changing ``lr`` rescales the whole step at once.

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-3, as PyTorch).
        momentum: momentum factor (default 0).
        dampening: dampening of the gradient's contribution to the momentum (default 0).
        weight_decay: coupled L2 penalty coefficient (default 0).
        nesterov: use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: maximise the objective instead of minimising it.
        foreach, fused: accepted for compatibility and ignored (one NumPy path).
        differentiable: must be False (updates are in place, outside the graph).
        l1_decay: a locograd addition: coupled L1 penalty coefficient ``lambda``; the gradient
            of ``lambda * ||p||_1`` (``lambda * sign(p)``, 0 at 0) is added to ``g`` as above.
            It pulls every weight towards zero by ``lr * lambda`` per step, so weights the loss
            does not need shrink to (within ``lr * lambda`` of) zero: sparse weights.

    References:
        Robbins & Monro, "A Stochastic Approximation Method", Ann. Math. Stat. 1951.
        Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
        Nesterov, "A method for solving the convex programming problem with convergence rate
        O(1/k^2)", 1983. Sutskever, Martens, Dahl & Hinton, "On the importance of
        initialization and momentum in deep learning", ICML 2013.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([1.0]))
        >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (w * w).sum().backward(); _ = opt.step()
        >>> round(w.item(), 4)  # 1 - 0.2 = 0.8, then b = 0.9 * 2 + 1.6 = 3.4: 0.8 - 0.34
        0.46
    """

    rules = (Maximize(), AddL2Decay(), AddL1Decay(), Momentum(), Descend())

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None, l1_decay=0.0):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused,
                        l1_decay=l1_decay)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_common("SGD", group)
        check_non_negative("SGD", "momentum", group["momentum"])
        check_unit_interval("SGD", "dampening", group["dampening"], closed=True)
        if group["nesterov"] and (float(group["momentum"]) <= 0.0
                                  or float(group["dampening"]) != 0.0):
            raise ValueError(f"SGD: Nesterov momentum requires momentum > 0 and zero dampening, "
                             f"got momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")

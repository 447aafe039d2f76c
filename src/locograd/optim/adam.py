"""``Adam`` and ``AdamW``: moment estimates with bias correction; coupled or decoupled decay."""
from __future__ import annotations

from ._rules import (AddL1Decay, AddL2Decay, CountStep, DecoupledDecay, Descend, Maximize,
                     ScaleByAdam)
from .optimizer import Optimizer, check_common, check_non_negative, check_unit_interval

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``: same arguments, defaults and update).

    The update of a parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``::

        g <- -g                                          if maximize
        p <- p * (1 - lr * weight_decay)                 if decoupled_weight_decay (AdamW)
        g <- g + weight_decay * p                        otherwise (coupled L2)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v), used instead of v        if amsgrad
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: decay rates ``(beta1, beta2)`` of the two moment estimates (default
            (0.9, 0.999)), each in [0, 1).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty, coupled unless ``decoupled_weight_decay`` (default 0).
        amsgrad: use the running maximum of ``v`` (default False).
        foreach, capturable, fused: accepted and ignored. differentiable: must be False.
        maximize: maximise the objective.
        decoupled_weight_decay: apply the decay to the weights directly (AdamW).
        l1_decay: locograd addition: L1 penalty coefficient; coupled (``g <- g + l1_decay *
            sign(p)``), or decoupled (``p <- p - lr * l1_decay * sign(p)``, after the L2 decay)
            with ``decoupled_weight_decay``.

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, arXiv:1412.6980.
        Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018 (AMSGrad).

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([1.0]))
        >>> opt = optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); _ = opt.step()
        >>> round(w.item(), 6)  # the first Adam step has length lr: m_hat / sqrt(v_hat) = 1
        0.9
    """

    rules = (CountStep(), Maximize(), DecoupledDecay(), AddL2Decay(), AddL1Decay(),
             ScaleByAdam(), Descend())

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False, l1_decay=0.0):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay, l1_decay=l1_decay)
        super().__init__(params, defaults)

    def _check_group(self, group):
        owner = type(self).__name__
        check_common(owner, group)
        check_non_negative(owner, "eps", group["eps"])
        check_betas(owner, group["betas"])


def check_betas(owner: str, betas) -> None:
    """Raise ``ValueError`` unless ``betas`` is a pair of numbers in [0, 1) (the Adam family)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        check_unit_interval(owner, f"beta parameter at index {i}", beta)


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``; default ``weight_decay=1e-2``).

    Same as ``Adam(..., decoupled_weight_decay=True)``: the step first shrinks the weights,
    ``p <- p * (1 - lr * weight_decay)``, then takes the Adam step on the raw gradient, so the
    decay is not rescaled by the adaptive denominator (unlike L2 added to the gradient).

    References:
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
        arXiv:1711.05101.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([1.0]))
        >>> opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward(); _ = opt.step()
        >>> round(w.item(), 6)  # 1 * (1 - 0.05), then the Adam step of length 0.1
        0.85
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None, l1_decay=0.0):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True, l1_decay=l1_decay)

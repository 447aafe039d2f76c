"""The inner optimisers of LocoProp's local problems, and TensorFlow 1's RMSProp.

Each layer's local problem is solved by a few steps of a first-order method. The methods are
chains of ``locograd.optim`` update rules (``optim/_rules.py``), so they keep their state in the
same per-parameter records as the ordinary optimisers (and save with ``state_dict``), plus one
rule written here: TensorFlow 1's RMSProp, the reference code's inner optimiser, whose semantics
differ from PyTorch's ``RMSprop`` on three points (see ``TF1RMSpropStep``).

``INNER_OPTIMIZERS`` maps each name accepted by ``LocoProp(inner_optimizer=...)`` to its rules,
its hyper-parameters with their defaults, and their checks.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ..optim._rules import (CountStep, Descend, Momentum, Rule, ScaleByAdagrad, ScaleByAdam,
                            ScaleByRms, _state_buffer)
from ..optim.optimizer import Optimizer, check_common, check_non_negative, check_unit_interval

__all__ = ["TF1RMSpropStep", "RMSpropTF1", "InnerOptimizer", "INNER_OPTIMIZERS"]


class TF1RMSpropStep(Rule):
    """TensorFlow 1's ``RMSPropOptimizer`` update (``ApplyRMSProp``), the last rule of a chain::

        ms  <- alpha * ms + (1 - alpha) * d^2          (ms starts at 1, not 0)
        mom <- momentum * mom + lr * d / sqrt(ms + eps)   (eps inside the square root)
        p   <- p - mom

    Three differences from PyTorch's ``RMSprop`` (``ScaleByRms`` + ``Momentum``): the mean
    square starts at one, ``eps`` is added inside the square root, and the momentum buffer
    accumulates the learning-rate-scaled step (so a change of ``lr`` acts on new steps only,
    while the buffer keeps the old ones). TensorFlow names ``alpha`` ``decay``.
    """

    state_keys = ("ms", "mom")

    def update(self, direction, scale, param, state, group, workspace):
        alpha = float(group["alpha"])
        ms = _state_buffer(state, "ms", param, 1.0)
        mom = _state_buffer(state, "mom", param, 0.0)
        temp = workspace.scratch(avoid=direction)
        np.multiply(direction, direction, out=temp)
        if scale != 1.0:
            temp *= scale * scale
        temp *= 1.0 - alpha
        ms *= alpha
        ms += temp
        np.add(ms, float(group["eps"]), out=temp)
        np.sqrt(temp, out=temp)
        np.divide(direction, temp, out=temp)
        temp *= float(group["lr"]) * scale
        mom *= float(group["momentum"])
        mom += temp
        param -= mom
        return direction, scale


def _check_tf1_rmsprop(owner: str, group: dict) -> None:
    check_non_negative(owner, "eps", group["eps"])
    check_unit_interval(owner, "momentum", group["momentum"])
    check_unit_interval(owner, "alpha", group["alpha"], closed=True)


class RMSpropTF1(Optimizer):
    """TensorFlow 1's RMSProp as an ordinary optimiser (``tf.compat.v1.train.RMSPropOptimizer``).

    The update of a parameter ``p`` with gradient ``g``::

        ms  <- alpha * ms + (1 - alpha) * g^2            (ms starts at 1)
        mom <- momentum * mom + lr * g / sqrt(ms + eps)
        p   <- p - mom

    It is LocoProp's default inner optimiser (the reference code's), offered here for backprop
    baselines with the same semantics. PyTorch's ``optim.RMSprop`` starts the mean square at
    zero, adds ``eps`` outside the square root and keeps ``g / sqrt(v)`` in its momentum buffer.

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-3, TensorFlow's).
        alpha: decay of the mean square (TensorFlow's ``decay``; default 0.9).
        momentum: momentum factor (default 0).
        eps: added to the mean square inside the square root (default 1e-10, TensorFlow's).

    References:
        Hinton, Srivastava & Swersky, "Neural Networks for Machine Learning", lecture 6e
        (Coursera, 2012); TensorFlow 1.15, ``tf.compat.v1.train.RMSPropOptimizer``.

    Example:
        >>> import locograd as lg
        >>> from locograd.locoprop import RMSpropTF1
        >>> w = lg.nn.Parameter(lg.tensor([1.0], dtype=lg.float64))
        >>> opt = RMSpropTF1([w], lr=0.1, alpha=0.5, eps=0.0)
        >>> (w * w).sum().backward(); _ = opt.step()
        >>> round(w.item(), 6)  # ms = 0.5 * 1 + 0.5 * 4 = 2.5: 1 - 0.1 * 2 / sqrt(2.5)
        0.873509
    """

    rules = (CountStep(), TF1RMSpropStep())

    def __init__(self, params, lr=1e-3, alpha=0.9, momentum=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, alpha=alpha, momentum=momentum, eps=eps))

    def _check_group(self, group):
        check_common("RMSpropTF1", group)
        _check_tf1_rmsprop("RMSpropTF1", group)


class InnerOptimizer(NamedTuple):
    """An inner optimiser: its update rules, hyper-parameter defaults and their checks."""

    rules: tuple
    defaults: dict
    check: Callable[[str, dict], None]
    description: str


def _check_momentum(owner, group):
    check_non_negative(owner, "momentum", group["momentum"])
    check_non_negative(owner, "dampening", group["dampening"])
    if group["nesterov"] and (float(group["momentum"]) <= 0 or float(group["dampening"]) != 0):
        raise ValueError(f"{owner}: nesterov momentum requires momentum > 0 and dampening 0")


def _check_torch_rmsprop(owner, group):
    check_non_negative(owner, "eps", group["eps"])
    check_non_negative(owner, "momentum", group["momentum"])
    check_unit_interval(owner, "alpha", group["alpha"], closed=True)


def _check_adam(owner, group):
    check_non_negative(owner, "eps", group["eps"])
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    check_unit_interval(owner, "beta1", betas[0])
    check_unit_interval(owner, "beta2", betas[1])


def _check_adagrad(owner, group):
    for key in ("eps", "initial_accumulator_value", "lr_decay"):
        check_non_negative(owner, key, group[key])


_SGD_RULES = (Momentum(), Descend())

#: name -> InnerOptimizer; the defaults of 'rmsprop' are the reference code's flags
INNER_OPTIMIZERS = {
    "rmsprop": InnerOptimizer(
        (CountStep(), TF1RMSpropStep()), dict(alpha=0.9, momentum=0.999, eps=1e-5),
        _check_tf1_rmsprop, "TensorFlow 1 RMSProp (the reference code's inner optimiser)"),
    "rmsprop_torch": InnerOptimizer(
        (CountStep(), ScaleByRms(), Momentum(), Descend()),
        dict(alpha=0.9, momentum=0.999, eps=1e-5, centered=False), _check_torch_rmsprop,
        "PyTorch's RMSprop update (v0 = 0, eps outside the square root)"),
    "sgd": InnerOptimizer(_SGD_RULES, dict(momentum=0.0, dampening=0.0, nesterov=False),
                          _check_momentum, "plain gradient steps"),
    "momentum": InnerOptimizer(_SGD_RULES, dict(momentum=0.9, dampening=0.0, nesterov=False),
                               _check_momentum, "heavy-ball momentum (PyTorch's SGD form)"),
    "nesterov": InnerOptimizer(_SGD_RULES, dict(momentum=0.9, dampening=0.0, nesterov=True),
                               _check_momentum, "Nesterov momentum (PyTorch's SGD form)"),
    "adam": InnerOptimizer(
        (CountStep(), ScaleByAdam(), Descend()), dict(betas=(0.9, 0.999), eps=1e-8,
                                                      amsgrad=False),
        _check_adam, "PyTorch's Adam"),
    "adagrad": InnerOptimizer(
        (CountStep(), ScaleByAdagrad(), Descend()),
        dict(eps=1e-10, initial_accumulator_value=0.1, lr_decay=0.0), _check_adagrad,
        "PyTorch's Adagrad (accumulator starting at 0.1, as TensorFlow's)"),
}


def inner_param_like_keys() -> set:
    """The names of all parameter-shaped state arrays the inner optimisers keep."""
    keys = set()
    for spec in INNER_OPTIMIZERS.values():
        for rule in spec.rules:
            if rule.param_like:
                keys.update(rule.state_keys)
    return keys

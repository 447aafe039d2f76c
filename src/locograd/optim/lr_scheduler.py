"""Learning-rate schedules (``torch.optim.lr_scheduler``: same names, arguments and sequences).

A scheduler rewrites ``group['lr']`` of its optimiser's parameter groups at every ``step()``;
call it after ``optimizer.step()``. Constructing one performs the first step (``last_epoch``
becomes 0) and records each group's starting rate as ``group['initial_lr']``.

Most schedules are *chainable*, as in PyTorch: ``get_lr`` multiplies the current ``group['lr']``
by a ratio rather than recomputing from ``base_lrs``, so several schedules can act on one
optimiser together (``ChainedScheduler``); ``SequentialLR`` hands over from one schedule to the
next at milestones (warm-up, then decay). ``LambdaLR`` and ``OneCycleLR`` compute absolute values.

locograd additions: ``InverseTimeDecay`` (``lr / (1 + k t)``).

Example:
    >>> import locograd as lg
    >>> from locograd import optim
    >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=1.0)
    >>> warmup = optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> decay = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> sched = optim.lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[3])
    >>> lrs = []
    >>> for _ in range(6):
    ...     lrs.append(sched.get_last_lr()[0]); _ = opt.step(); sched.step()
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
"""
from __future__ import annotations

import copy
import math
import types
from bisect import bisect_right
from collections import Counter

from ._lr_base import LRScheduler, _group_values, _per_group
from ._lr_cycles import OneCycleLR, ReduceLROnPlateau

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
           "LinearLR", "ExponentialLR", "CosineAnnealingLR", "InverseTimeDecay",
           "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau", "OneCycleLR"]


class _LambdaScheduler(LRScheduler):
    """Shared by ``LambdaLR`` and ``MultiplicativeLR``: one function of the step per group.

    ``state_dict`` leaves the functions out (plain functions cannot be saved) but keeps the
    attributes of callable objects, as PyTorch does.
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.optimizer = optimizer
        self.lr_lambdas = _per_group(type(self).__name__, "lr_lambda", optimizer, lr_lambda)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"{type(self).__name__}: lr_lambda must be callable, got "
                                f"{type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self):
        state = super().state_dict()
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType)
                               else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for fn, saved in zip(self.lr_lambdas, state_dict.get("lr_lambdas", [])):
            if saved is not None:
                fn.__dict__.update(copy.deepcopy(saved))


class LambdaLR(_LambdaScheduler):
    """``lr = base_lr * lr_lambda(last_epoch)`` (one function, or one per group).

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=0.5)
        >>> s = optim.lr_scheduler.LambdaLR(opt, lambda t: 1 / (t + 1))
        >>> _ = opt.step(); s.step(); s.get_last_lr()
        [0.25]
    """

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaScheduler):
    """``lr <- lr * lr_lambda(last_epoch)`` at every step after the first.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=1.0)
        >>> s = optim.lr_scheduler.MultiplicativeLR(opt, lambda t: 0.5)
        >>> _ = opt.step(); s.step(); _ = opt.step(); s.step(); s.get_last_lr()
        [0.25]
    """

    def get_lr(self):
        if self._is_initial:
            return self._current()
        return [group["lr"] * fn(self.last_epoch)
                for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups)]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps:
    ``lr = base_lr * gamma ** (last_epoch // step_size)``.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=1.0)
        >>> s = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(s.get_last_lr()[0]); _ = opt.step(); s.step()
        >>> lrs
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if int(step_size) != step_size or step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size)
                for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone (a milestone listed twice counts twice).

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=1.0)
        >>> s = optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.1)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(s.get_last_lr()[0]); _ = opt.step(); s.step()
        >>> [round(lr, 6) for lr in lrs]
        [1.0, 0.1, 0.1, 0.01]
    """

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base in self.base_lrs]


class ConstantLR(LRScheduler):
    """``lr = base_lr * factor`` for the first ``total_iters`` steps, then ``base_lr``."""

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        if not 0.0 <= factor <= 1.0:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor!r}")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return self._current()
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        done = self.last_epoch >= self.total_iters
        return [base * (self.factor + done * (1 - self.factor)) for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear change of the rate factor from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps, then constant: the usual linear *warm-up* with ``start_factor < 1``.

    ``lr = base_lr * (start + (end - start) * min(last_epoch, total_iters) / total_iters)``.

    References:
        Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour",
        arXiv:1706.02677, 2017 (gradual warm-up).

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=1.0)
        >>> s = optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(s.get_last_lr()[0]); _ = opt.step(); s.step()
        >>> lrs
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not 0.0 < start_factor <= 1.0:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0.0 <= end_factor <= 1.0:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current()
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor
                                + (self.last_epoch - 1) * change)
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        fraction = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (self.start_factor + (self.end_factor - self.start_factor) * fraction)
                for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """``lr = base_lr * gamma ** last_epoch``.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=1.0)
        >>> s = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> _ = opt.step(); s.step(); _ = opt.step(); s.step(); s.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from ``base_lr`` down to ``eta_min`` over ``T_max`` steps (and back up
    over the next ``T_max``, as PyTorch's recursive form continues):
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * last_epoch / T_max)) / 2``.

    References:
        Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
        ICLR 2017, arXiv:1608.03983.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=1.0)
        >>> s = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
        >>> lrs = []
        >>> for _ in range(3):
        ...     lrs.append(round(s.get_last_lr()[0], 6)); _ = opt.step(); s.step()
        >>> lrs
        [1.0, 0.5, 0.0]
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803 (torch name)
                 last_epoch: int = -1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current()
        t, period, low = self.last_epoch, self.T_max, self.eta_min
        if (t - 1 - period) % (2 * period) == 0:
            # restarting the climb from eta_min: the ratio form would divide by zero
            rise = (1 - math.cos(math.pi / period)) / 2
            return [group["lr"] + (base - low) * rise
                    for base, group in zip(self.base_lrs, self.optimizer.param_groups)]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [ratio * (group["lr"] - low) + low for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]


class InverseTimeDecay(LRScheduler):
    """Inverse-time decay, a locograd addition: ``lr = base_lr / (1 + decay_rate * s)`` with
    ``s = last_epoch / decay_steps`` (``floor`` of it when ``staircase``).

    With ``decay_steps=1`` this is ``lr / (1 + k t)``, the classic Robbins-Monro schedule whose
    steps sum to infinity while their squares do not. Chainable: each step multiplies the
    current rate by ``(1 + k s_{t-1}) / (1 + k s_t)``.

    References:
        Robbins & Monro, "A Stochastic Approximation Method", Ann. Math. Stat. 1951.
        Bottou, "Stochastic Gradient Descent Tricks", Neural Networks: Tricks of the Trade,
        2012 (``lr_t = lr_0 / (1 + lr_0 lambda t)``).

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=1.0)
        >>> s = optim.lr_scheduler.InverseTimeDecay(opt, decay_rate=1.0)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(round(s.get_last_lr()[0], 6)); _ = opt.step(); s.step()
        >>> lrs
        [1.0, 0.5, 0.333333, 0.25]
    """

    def __init__(self, optimizer, decay_rate: float, decay_steps: int = 1,
                 staircase: bool = False, last_epoch: int = -1):
        if not decay_rate >= 0:
            raise ValueError(f"InverseTimeDecay: decay_rate must be >= 0, got {decay_rate!r}")
        if decay_steps <= 0:
            raise ValueError(f"InverseTimeDecay: decay_steps must be positive, got "
                             f"{decay_steps!r}")
        self.decay_rate = decay_rate
        self.decay_steps = decay_steps
        self.staircase = staircase
        super().__init__(optimizer, last_epoch)

    def _denominator(self, t: int) -> float:
        s = t // self.decay_steps if self.staircase else t / self.decay_steps
        return 1.0 + self.decay_rate * s

    def get_lr(self):
        if self._is_initial or self.last_epoch == 0:
            return self._current()
        ratio = self._denominator(self.last_epoch - 1) / self._denominator(self.last_epoch)
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base / self._denominator(self.last_epoch) for base in self.base_lrs]


def _check_schedulers(owner, optimizer, schedulers):
    if len(schedulers) < 1:
        raise ValueError(f"{owner}: expects at least one scheduler, got none")
    for i, scheduler in enumerate(schedulers):
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{owner}: ReduceLROnPlateau (scheduler {i}) cannot be composed: "
                             f"its step() needs the metric")
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(f"{owner}: scheduler {i} is a {type(scheduler).__name__}, not a "
                            f"learning-rate scheduler")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{owner}: all schedulers must belong to the same optimizer, but "
                             f"scheduler {i} ({type(scheduler).__name__}) has another one")


class _CompositeScheduler(LRScheduler):
    """Saves and restores its schedulers' states along with its own."""

    _not_saved = ("optimizer", "_schedulers")

    def state_dict(self):
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for scheduler, saved in zip(self._schedulers, state_dict["_schedulers"]):
            scheduler.load_state_dict(saved)

    def _check_state(self, state_dict) -> None:
        """The schedules' states too, so that a mismatch in one of them changes nothing."""
        super()._check_state(state_dict)
        saved = state_dict.get("_schedulers")
        if not isinstance(saved, list) or len(saved) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected the states of "
                             f"{len(self._schedulers)} schedulers, got "
                             f"{len(saved) if isinstance(saved, list) else saved!r}")
        for scheduler, state in zip(self._schedulers, saved):
            scheduler._check_state(state)


class SequentialLR(_CompositeScheduler):
    """Run ``schedulers[i]`` between ``milestones[i-1]`` and ``milestones[i]``: each schedule
    restarts from its closed form at step 0 when its turn comes (e.g. warm-up, then decay).

    See the module docstring for an example.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        _check_schedulers("SequentialLR", optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expects one milestone fewer than schedulers, got "
                             f"{len(schedulers)} schedulers and {len(milestones)} milestones")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        # undo the first step that each scheduler's constructor took, then start the first one
        self._undo_initial_steps(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_initial_steps(self, scheduler):
        for inner in getattr(scheduler, "_schedulers", ()):
            if hasattr(inner, "_schedulers"):
                self._undo_initial_steps(inner)
            else:
                inner.last_epoch -= 1

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_CompositeScheduler):
    """Step several chainable schedulers together; their factors multiply.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=1.0)
        >>> warm = optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> decay = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> s = optim.lr_scheduler.ChainedScheduler([warm, decay])
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(s.get_last_lr()[0]); _ = opt.step(); s.step()
        >>> lrs  # (0.5, 0.75, 1, 1) * (1, 0.5, 0.25, 0.125)
        [0.5, 0.375, 0.25, 0.125]
    """

    def __init__(self, schedulers, optimizer=None):
        optimizer = optimizer or (schedulers[0].optimizer if schedulers else None)
        _check_schedulers("ChainedScheduler", optimizer, schedulers)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = _group_values(optimizer, "lr")

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _group_values(self.optimizer, "lr")

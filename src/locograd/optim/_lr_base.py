"""``LRScheduler``, the base of the learning-rate schedules (see ``lr_scheduler.py``)."""
from __future__ import annotations

import copy
import warnings

from .optimizer import Optimizer

__all__ = ["LRScheduler"]


def _group_values(optimizer, key):
    return [group[key] for group in optimizer.param_groups]


def _per_group(owner, name, optimizer, value):
    """One value per parameter group: ``value`` repeated, or a list/tuple of the right length."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{owner}: expected {n} values for {name} (one per parameter "
                             f"group), got {len(value)}")
        return list(value)
    return [value] * n


class LRScheduler:
    """Base class of the schedules (``torch.optim.lr_scheduler.LRScheduler``).

    Args:
        optimizer: the optimiser whose groups' ``lr`` this schedule sets.
        last_epoch: index of the last step taken; -1 (the default) starts a new schedule.
            Another value resumes one and needs ``group['initial_lr']`` in every group.

    Subclasses implement ``get_lr()`` (the next rates, from ``last_epoch``), and optionally
    ``_get_closed_form_lr()`` (the rate at any ``last_epoch`` from ``base_lrs``).
    """

    _is_initial = False
    _not_saved = ("optimizer",)

    def __init__(self, optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no "
                                   f"'initial_lr', needed to resume with last_epoch="
                                   f"{last_epoch}; load the optimizer's state dict first")
        self.base_lrs = _group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one step (call after ``optimizer.step()``).

        Args:
            epoch: deprecated (as in PyTorch): jump to this ``last_epoch``, using the closed
                form where there is one.
        """
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn("Detected call of `lr_scheduler.step()` before `optimizer.step()`: "
                          "the first value of the schedule is skipped. Call optimizer.step() "
                          "first.", UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn("The epoch argument of lr_scheduler.step() is deprecated; call "
                          "step() without arguments.", UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = float(lr)
        self._last_lr = _group_values(self.optimizer, "lr")

    def state_dict(self) -> dict:
        """Every attribute except the optimiser (copied, so later steps do not change it), and
        the schedule's ``'kind'`` (its class name), which ``load_state_dict`` checks."""
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in self._not_saved}
        state["kind"] = type(self).__name__
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the attributes saved by ``state_dict()``; the state of another kind of
        schedule is refused, before anything changes."""
        self._check_state(state_dict)
        self.__dict__.update({key: copy.deepcopy(value) for key, value in state_dict.items()
                              if key not in self._not_saved and key != "kind"})

    def _check_state(self, state_dict) -> None:
        name = type(self).__name__
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}.load_state_dict: expected a dict (from state_dict()), got "
                            f"a {type(state_dict).__name__}")
        kind = state_dict.get("kind")
        if kind is not None and kind != name:
            raise ValueError(f"{name}.load_state_dict: the state dict is that of a {kind} "
                             f"schedule, not of a {name}")

    def _current(self) -> list:
        return _group_values(self.optimizer, "lr")

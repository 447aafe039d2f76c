"""Grad mode: whether new operations are recorded in the graph. Thread-local, as in PyTorch."""
from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode"]


class _State(threading.local):
    # Class attributes are the per-thread defaults: a new thread records graphs.
    enabled = True


state = _State()


class _DebugState:
    """Process-wide debugging switches (as PyTorch's anomaly mode, they are not per thread).

    ``active`` is the one flag the hot path reads: it is True when anomaly detection or value
    capture (``autograd.graph.retain_values``) is on.
    """

    __slots__ = ("anomaly", "check_nan", "capture", "active")

    def __init__(self):
        self.anomaly = False
        self.check_nan = True
        self.capture = 0
        self.active = False

    def refresh(self) -> None:
        self.active = self.anomaly or self.capture > 0


debug_state = _DebugState()


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are being recorded."""
    return state.enabled


class _GradModeContext:
    """Base of the grad-mode switches: usable as a context manager and as a decorator."""

    _target = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._target
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Context manager and decorator that stops recording operations.

    Example:
        >>> import locograd as lg
        >>> w = lg.ones(2, requires_grad=True)
        >>> with lg.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    _target = False


class enable_grad(_GradModeContext):
    """Context manager and decorator that turns recording back on inside ``no_grad``."""

    _target = True


class inference_mode(no_grad):
    """Alias of ``no_grad`` (locograd has no separate inference tensors)."""

    def __init__(self, mode: bool = True):
        self._target = not mode


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode``; takes effect at once, and also works as a context manager.

    Example:
        >>> import locograd as lg
        >>> with lg.set_grad_enabled(False):
        ...     lg.is_grad_enabled()
        False
    """

    def __init__(self, mode: bool):
        self._prev = state.enabled
        self._target = bool(mode)
        state.enabled = self._target

    def __enter__(self):
        return self

    def __call__(self, fn):
        state.enabled = self._prev  # used as a decorator: undo the immediate switch

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self._target):
                return fn(*args, **kwargs)
        return wrapper

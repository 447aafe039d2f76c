"""Anomaly mode: find the operation whose backward first produced NaN or Inf."""
from __future__ import annotations

from .grad_mode import debug_state as state

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


class detect_anomaly:
    """Context manager (and decorator) enabling anomaly detection.

    While enabled, every node records where in the user's code it was created, and the engine
    checks each gradient a backward produces: the first NaN or Inf raises a ``RuntimeError``
    naming the operation and showing that place. It slows training; use it to debug.

    Example:
        >>> import locograd as lg
        >>> x = lg.tensor([0.0], requires_grad=True)
        >>> with lg.autograd.detect_anomaly():
        ...     y = lg.sqrt(x).sum()
        ...     try:
        ...         y.backward()
        ...     except RuntimeError as e:
        ...         print(str(e).split(":")[0])
        detect_anomaly
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = (state.anomaly, state.check_nan)
        state.anomaly = True
        state.check_nan = self.check_nan
        state.refresh()
        return self

    def __exit__(self, *exc):
        state.anomaly, state.check_nan = self._prev
        state.refresh()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly detection on or off (immediately, or as a context manager)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._prev = (state.anomaly, state.check_nan)
        state.anomaly = bool(mode)
        state.check_nan = check_nan
        state.refresh()

    def __enter__(self):
        return self


def is_anomaly_enabled() -> bool:
    return state.anomaly

"""Callbacks of ``fit``: the ``Callback`` base, ``EarlyStopping`` and the progress display."""
from __future__ import annotations

import math
import sys
import time

__all__ = ["Callback", "EarlyStopping", "FitState"]


class FitState:
    """What ``fit`` shares with its callbacks while it runs.

    Attributes:
        model, optimizer, scheduler: the objects being trained.
        history: the ``History`` so far.
        epoch: the current epoch (1-based; 0 before the first).
        epochs: the last epoch of the run.
        stop_training: set it to ``True`` in a callback to end the run after this epoch.
    """

    def __init__(self, model, optimizer, scheduler, history, epochs: int):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.history = history
        self.epoch = 0
        self.epochs = epochs
        self.stop_training = False


class Callback:
    """Base class of ``fit`` callbacks: override the methods you need (all do nothing here).

    A plain function given in ``callbacks`` is called as ``fn(row)`` at the end of each epoch
    instead (``row`` is that epoch's history row).

    Example:
        >>> class StopBelow(Callback):
        ...     def __init__(self, threshold):
        ...         self.threshold = threshold
        ...     def on_epoch_end(self, state, row):
        ...         if row["train_loss"] < self.threshold:
        ...             state.stop_training = True
    """

    def on_train_begin(self, state: FitState) -> None:
        """Before the first epoch (after a resume has restored the state)."""

    def on_epoch_begin(self, state: FitState) -> None:
        """Before the epoch ``state.epoch``."""

    def on_batch_end(self, state: FitState, batch: int, loss: float) -> None:
        """After the optimiser step of training batch ``batch`` (0-based) of the epoch."""

    def on_epoch_end(self, state: FitState, row: dict) -> None:
        """After the epoch, with its history row (before the checkpoint is written)."""

    def on_train_end(self, state: FitState) -> None:
        """After the last epoch (also when stopped early)."""


class EarlyStopping:
    """Stop when a monitored value has not improved for ``patience`` epochs.

    Args:
        patience: epochs without improvement tolerated before stopping.
        min_delta: smallest change that counts as an improvement.
        monitor: the history column to watch (default: ``'val_loss'`` when there is validation
            data, else ``'train_loss'``).
        mode: ``'min'`` or ``'max'``; default ``'min'`` for columns ending in ``loss``,
            ``'max'`` otherwise (accuracies).

    Its state (best value, epochs waited) is saved in ``fit``'s checkpoints, so a resumed run
    stops where the uninterrupted one would.

    Example:
        >>> stopper = EarlyStopping(patience=1, monitor="val_loss")
        >>> [stopper.update({"val_loss": v}) for v in (1.0, 0.8, 0.9, 0.85)]
        [False, False, False, True]
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, monitor: str | None = None,
                 mode: str | None = None):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be a non-negative integer, got "
                             f"{patience!r}")
        if not float(min_delta) >= 0.0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        if mode not in (None, "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.patience, self.min_delta = patience, float(min_delta)
        self.monitor, self.mode = monitor, mode
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0

    def resolve(self, has_validation: bool) -> None:
        """Fill in the defaults of ``monitor`` and ``mode`` (``fit`` calls it)."""
        if self.monitor is None:
            self.monitor = "val_loss" if has_validation else "train_loss"
        if self.mode is None:
            self.mode = "min" if self.monitor.endswith("loss") else "max"

    def update(self, row: dict) -> bool:
        """Take one epoch's row; return ``True`` when training should stop."""
        self.resolve(has_validation="val_loss" in row)
        if self.monitor not in row or row[self.monitor] is None:
            raise ValueError(f"EarlyStopping: the monitored value {self.monitor!r} is not in the "
                             f"history (columns: {sorted(row)})")
        value = float(row[self.monitor])
        sign = 1.0 if self.mode == "min" else -1.0
        if self.best is None or sign * (self.best - value) > self.min_delta:
            self.best, self.best_epoch, self.wait = value, row.get("epoch"), 0
            return False
        self.wait += 1
        return self.wait > self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "monitor": self.monitor, "mode": self.mode}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.monitor, self.mode = state["monitor"], state["mode"]


def as_early_stopping(value) -> EarlyStopping | None:
    """``fit``'s ``early_stopping`` argument as an ``EarlyStopping``: ``None``, an instance, a
    patience (int) or a dict of its arguments."""
    if value is None or value is False:
        return None
    if isinstance(value, EarlyStopping):
        return value
    if isinstance(value, dict):
        return EarlyStopping(**value)
    if isinstance(value, int) and not isinstance(value, bool):
        return EarlyStopping(patience=value)
    raise TypeError(f"fit: early_stopping must be None, an EarlyStopping, a patience (int) or a "
                    f"dict of EarlyStopping's arguments, got {type(value).__name__}")


# ------------------------------------------------------------------------------ progress

def _format_row(row: dict) -> str:
    parts = [f"epoch {row['epoch']:3d}"]
    for key, value in row.items():
        if key in ("epoch", "seconds", "throughput", "lr") or value is None:
            continue
        parts.append(f"{key} {value:.4f}")
    if row.get("lr") is not None:
        parts.append(f"lr {row['lr']:.3g}")
    parts.append(f"{row['seconds']:.1f}s ({row['throughput']:,.0f} samples/s)")
    return "  ".join(parts)


class Progress:
    """The display of ``fit``: a tqdm bar per epoch (loss and throughput) when ``tqdm`` is
    installed and stderr is a terminal, one summary line per epoch on stdout in any case,
    nothing at all when disabled."""

    def __init__(self, enabled: bool, epochs: int):
        self.enabled, self.epochs = enabled, epochs
        self.tqdm = None
        if enabled and getattr(sys.stderr, "isatty", lambda: False)():
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            self.tqdm = tqdm
        self.bar = None
        self.started = 0.0

    def start_epoch(self, epoch: int, batches: int | None) -> None:
        self.started = time.perf_counter()
        if self.tqdm is not None:
            self.bar = self.tqdm(total=batches, desc=f"epoch {epoch}/{self.epochs}",
                                 unit="batch", leave=False, dynamic_ncols=True)

    def update(self, loss: float, samples: int) -> None:
        if self.bar is not None:
            elapsed = max(time.perf_counter() - self.started, 1e-9)
            self.bar.update(1)
            self.bar.set_postfix_str(f"loss {loss:.4f}, {samples / elapsed:,.0f} samples/s",
                                     refresh=False)

    def end_epoch(self, row: dict) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.enabled:
            print(_format_row(row), flush=True)

    def message(self, text: str) -> None:
        if self.enabled:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def is_finite(value: float) -> bool:
    return value is not None and math.isfinite(value)

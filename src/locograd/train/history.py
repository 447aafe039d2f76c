"""``History``: the per-epoch record of a training run, written as CSV and drawn as curves.

Each row is a plain dict (numbers, ``None`` where a value does not apply), so a history is saved
in a checkpoint as it is and reloaded exactly.
"""
from __future__ import annotations

import csv
import math
import os

__all__ = ["History", "write_csv", "plot_history"]

#: columns that come first, in this order; metric columns follow, then the timing columns
_LEADING = ("epoch", "train_loss", "val_loss")
_TRAILING = ("lr", "seconds", "throughput")


class History:
    """Per-epoch rows of a run: ``epoch``, ``train_loss``, ``val_loss``, ``train_<metric>``,
    ``val_<metric>``, ``lr``, ``seconds`` (wall-clock time of the epoch, validation included)
    and ``throughput`` (training samples per second).

    Args:
        rows: the rows so far (dicts), e.g. from a checkpoint.

    Example:
        >>> h = History([{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.5}])
        >>> len(h), h["train_loss"], h.last["epoch"]
        (2, [0.9, 0.5], 2)
    """

    def __init__(self, rows=None):
        self.rows: list[dict] = [dict(row) for row in (rows or [])]

    def append(self, row: dict) -> None:
        """Add one epoch's row."""
        self.rows.append(dict(row))

    @property
    def columns(self) -> list[str]:
        """Every column any row has: epoch and losses first, timings last."""
        seen = []
        for row in self.rows:
            for key in row:
                if key not in seen:
                    seen.append(key)
        middle = [k for k in seen if k not in _LEADING and k not in _TRAILING]
        return ([k for k in _LEADING if k in seen] + middle
                + [k for k in _TRAILING if k in seen])

    @property
    def last(self) -> dict | None:
        """The last row, or ``None`` before the first epoch."""
        return self.rows[-1] if self.rows else None

    def __getitem__(self, column: str) -> list:
        if not isinstance(column, str):
            raise TypeError(f"History: index by column name (one of {self.columns}), got "
                            f"{type(column).__name__}")
        if self.rows and column not in self.columns:
            raise KeyError(f"History: no column {column!r}; the columns are {self.columns}")
        return [row.get(column) for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs, columns={self.columns})"

    def to_csv(self, path) -> None:
        """Write the rows as CSV (see ``write_csv``)."""
        write_csv(self, path)

    def plot(self, path) -> None:
        """Draw the curves to a PNG (see ``plot_history``)."""
        plot_history(self, path)


def write_csv(history: History, path) -> None:
    """Write ``history`` as CSV with a header line, atomically (a temporary file renamed over
    ``path``), so a reader never sees half a file.

    Args:
        history: a ``History``.
        path: the file to write; its directory must exist.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "history.csv")
        >>> write_csv(History([{"epoch": 1, "train_loss": 0.5, "val_loss": None}]), path)
        >>> with open(path) as f:
        ...     f.read().splitlines()
        ['epoch,train_loss,val_loss', '1,0.5,']
    """
    path = os.fspath(path)
    columns = history.columns
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in history.rows:
            writer.writerow(["" if row.get(k) is None else _format(row[k]) for k in columns])
    os.replace(tmp, path)


def _format(value):
    return repr(value) if isinstance(value, float) else value


def plot_history(history: History, path) -> None:
    """Draw the loss curves (and one panel per metric) against epochs to a PNG.

    Uses matplotlib's Agg canvas directly (no pyplot, no display, no global state); needs the
    ``plot`` extra (``pip install 'locograd[plot]'``).

    Args:
        history: a ``History`` with at least one row.
        path: the image file; the format follows the extension (``.png``, ``.svg``, ``.pdf``).

    Example:
        >>> import os, tempfile
        >>> h = History([{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2, "val_accuracy": 0.5},
        ...              {"epoch": 2, "train_loss": 0.6, "val_loss": 0.9, "val_accuracy": 0.7}])
        >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
        >>> plot_history(h, path); os.path.getsize(path) > 0
        True
    """
    from ..diagnostics.plots import new_figure, save_figure
    if not history.rows:
        raise ValueError("plot_history: the history is empty (no epoch has finished)")
    epochs = history["epoch"]
    panels = [("loss", "train_loss", "val_loss")]
    for column in history.columns:
        for prefix in ("train_", "val_"):
            if column.startswith(prefix) and column != prefix + "loss":
                name = column[len(prefix):]
                if all(p[0] != name for p in panels):
                    panels.append((name, "train_" + name, "val_" + name))
    figure, axes = new_figure(1, len(panels), size=(5.0 * len(panels), 3.8),
                              what="plotting the training curves")
    axes = axes[0]
    columns = set(history.columns)
    for ax, (name, train_column, val_column) in zip(axes, panels):
        for column, label, style in ((train_column, "training", "-o"),
                                     (val_column, "validation", "-s")):
            if column not in columns:
                continue
            points = [(e, v) for e, v in zip(epochs, history[column])
                      if v is not None and math.isfinite(v)]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, style, markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(figure, path, dpi=100)

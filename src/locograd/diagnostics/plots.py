"""Small plotting helpers shared by the monitor and the experiments (matplotlib, Agg canvas).

matplotlib is imported only when a plot is drawn, and drawing never touches pyplot's global
state: each figure gets its own Agg canvas, so it works without a display and in threads.
"""
from __future__ import annotations

import io
import os

from ..io import _atomic_write

__all__ = ["new_figure", "save_figure", "layer_axis"]


def new_figure(rows: int, columns: int, size=(10.0, 7.0), what: str = "this plot"):
    """``(figure, axes)``: a Figure on an Agg canvas with a ``rows x columns`` grid of axes
    (``axes`` is always 2-D). Raises ImportError naming the extra to install."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"{what} needs matplotlib: pip install 'locograd[plot]' "
                          f"(or pip install matplotlib)") from None
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False)
    return figure, axes


def save_figure(figure, path, dpi: int = 110) -> str:
    """Write ``figure`` (the format follows the extension), creating missing directories.

    The image is rendered in memory and then replaces ``path`` atomically, so a failed or
    interrupted render never leaves a truncated file behind.
    """
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    image_format = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, dpi=dpi)
    _atomic_write(path, buffer.getvalue())
    return path


def layer_axis(ax, names, log: bool = True) -> None:
    """Layer names along the x axis (input on the left), optional log scale on y."""
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30 if max((len(n) for n in names), default=0) > 6 else 0,
                       ha="right" if max((len(n) for n in names), default=0) > 6 else "center",
                       fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")

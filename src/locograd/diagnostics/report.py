"""Reporting helpers of the gradient experiments: text tables, CSV files, optional plots and
argument types shared by ``locograd experiment ...`` commands."""
from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import re

__all__ = ["format_table", "write_csv", "plot_if_available", "positive_int", "command_main"]

_NUMBER = re.compile(r"[-+]?(\d[\d.,]*(e[-+]?\d+)?%?|inf|nan)x?|-")


def format_table(header: list, rows: list, text_columns: int = 1) -> str:
    """A plain-text table: the first ``text_columns`` columns (names) and columns of text
    left-aligned, columns of numbers right-aligned, a rule under the header.

    Example:
        >>> print(format_table(["layer", "value"], [["fc1", "0.5"], ["fc2", "12"]]))
        layer  value
        -----  -----
        fc1      0.5
        fc2       12
    """
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [i >= text_columns and bool(rows) and all(_NUMBER.fullmatch(row[i])
                                                        for row in cells[1:])
               for i in range(len(header))]

    def line(row):
        return "  ".join(c.rjust(w) if right else c.ljust(w)
                         for c, w, right in zip(row, widths, numeric)).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])]
                     + [line(row) for row in cells[1:]])


def write_csv(path, header: list, rows) -> str:
    """Write ``rows`` under ``header`` as CSV (floats written exactly, with ``repr``),
    creating missing directories. Returns the path."""
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for row in rows:
            writer.writerow([repr(float(c)) if isinstance(c, float) else c for c in row])
    return path


def plot_if_available(draw, *args):
    """``draw(*args)`` when matplotlib is installed (its result, the path); else a note on
    stdout and None, so that a command without the ``plot`` extra still writes its tables."""
    if importlib.util.find_spec("matplotlib") is None:
        print("(plot skipped: matplotlib is not installed; pip install 'locograd[plot]')")
        return None
    return draw(*args)


def positive_int(text: str) -> int:
    """An argparse type: a positive integer, with a clear message otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def command_main(module, argv=None) -> int:
    """Run an experiment module as a program: its ``add_arguments(parser)`` and ``run(args)``,
    with the first line of its docstring as the description. Returns the exit code."""
    parser = argparse.ArgumentParser(prog=f"python -m {module.__name__}",
                                     description=module.__doc__.splitlines()[0])
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(argv)) or 0)

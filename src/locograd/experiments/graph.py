"""``locograd experiment graph``: the textbook computational graphs, drawn with their numbers.

Each example runs a small computation forward and backward with values retained and draws it
with ``locograd.viz``: the forward value above every edge (green), the gradient below it (red).
Files: ``NAME.dot`` always, ``NAME.svg`` and ``NAME.png`` when Graphviz's ``dot`` is installed.

Run:
    locograd experiment graph --out runs/graph
    python -m locograd.experiments.graph --out runs/graph
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

import numpy as np

from .. import nn
from ..diagnostics.report import command_main
from ..factory import tensor
from ..nn import functional as F
from ..ops import maximum, tanh
from ..viz import trace

__all__ = ["EXAMPLES", "draw_examples", "add_arguments", "run", "main"]


def _add_mul():
    """f = (x + y) z with x = -2, y = 5, z = -4 (the classic first example)."""
    x, y, z = (tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    return trace(lambda: (x + y) * z, params={"x": x, "y": y, "z": z})


def _fan_out():
    """f = x y + x with x = 3, y = -2: x feeds two ops, so its gradient is a sum."""
    x, y = tensor(3.0, requires_grad=True), tensor(-2.0, requires_grad=True)
    return trace(lambda: x * y + x, params={"x": x, "y": y})


def _max():
    """f = max(x, y) z with x = 4, y = 2, z = 3: max routes the gradient to the winner."""
    x, y, z = (tensor(v, requires_grad=True) for v in (4.0, 2.0, 3.0))
    return trace(lambda: maximum(x, y) * z, params={"x": x, "y": y, "z": z})


def _softmax_cross_entropy():
    """Logits of a linear layer into softmax cross-entropy (one example, 4 classes)."""
    rng = np.random.default_rng(0)
    weight = tensor(rng.normal(0.0, 0.8, (4, 3)).astype(np.float32), requires_grad=True)
    bias = tensor(np.zeros(4, np.float32), requires_grad=True)
    x = tensor([[1.0, -0.5, 2.0]])
    target = tensor([2])
    return trace(lambda: F.cross_entropy(F.linear(x, weight, bias), target),
                 params={"W": weight, "b": bias})


def _rnn_two_steps():
    """Two steps of h_t = tanh(W h_{t-1} + U x_t), loss = sum(h_2): W is shared by both steps."""
    rng = np.random.default_rng(1)
    w = tensor(rng.normal(0.0, 0.7, (2, 2)).astype(np.float32), requires_grad=True)
    u = tensor(rng.normal(0.0, 0.7, (2, 2)).astype(np.float32), requires_grad=True)
    h0 = tensor([0.5, -0.5], requires_grad=True)
    x1, x2 = tensor([1.0, 0.0], requires_grad=True), tensor([0.0, 1.0], requires_grad=True)

    def two_steps():
        h1 = tanh(w @ h0 + u @ x1)
        h2 = tanh(w @ h1 + u @ x2)
        return h2.sum()

    return trace(two_steps, params={"W": w, "U": u, "h0": h0, "x1": x1, "x2": x2})


def _mlp():
    """A two-layer classifier: one box per module (Linear, Tanh, Linear), batch of 2."""
    rng = np.random.default_rng(2)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    for p in model.parameters():
        p.data[...] = rng.normal(0.0, 0.5, p.data.shape).astype(p.data.dtype)
    x = tensor(rng.normal(0.0, 1.0, (2, 4)).astype(np.float32))
    target = tensor([0, 2])
    return trace(lambda: F.cross_entropy(model(x), target), params=model)


#: name -> (draw function, what to look at)
EXAMPLES = {
    "add_mul": (_add_mul, "f = (x + y) z: Add copies the gradient -4 to x and y; Mul gives z "
                          "the other factor's value (3)"),
    "fan_out": (_fan_out, "f = x y + x: x feeds two ops; its gradient is the sum y + 1 = -1"),
    "max": (_max, "f = max(x, y) z: the gradient goes to the larger input x; y gets 0"),
    "softmax_cross_entropy": (_softmax_cross_entropy,
                              "logits -> cross-entropy: the logits' gradient is "
                              "softmax(logits) - onehot(target)"),
    "rnn_two_steps": (_rnn_two_steps, "two RNN steps: W is used twice, its gradient is the sum "
                                      "over both steps"),
    "mlp": (_mlp, "Linear -> Tanh -> Linear -> cross-entropy, one box per module"),
}


def draw_examples(out: str, names=None, formats=None) -> list:
    """Draw the examples into ``out``.

    Args:
        out: the directory (created if missing).
        names: which examples (default all, see ``EXAMPLES``).
        formats: file formats (default ``dot``, plus ``svg`` and ``png`` when Graphviz's
            ``dot`` program is installed).

    Returns:
        ``[(name, description, [paths])]``.

    Example:
        >>> import tempfile
        >>> [(name, len(paths) >= 1) for name, _, paths in
        ...  draw_examples(tempfile.mkdtemp(), names=["add_mul"], formats=["dot"])]
        [('add_mul', True)]
    """
    names = list(EXAMPLES) if names is None else list(names)
    unknown = [n for n in names if n not in EXAMPLES]
    if unknown:
        raise ValueError(f"experiment graph: unknown example(s) {unknown}; choose from "
                         f"{', '.join(EXAMPLES)}")
    if formats is None:
        formats = ["dot"] + (["svg", "png"] if shutil.which("dot") else [])
    os.makedirs(out, exist_ok=True)
    results = []
    for name in names:
        draw, description = EXAMPLES[name]
        picture = draw()
        paths = [picture.save(os.path.join(out, f"{name}.{fmt}")) for fmt in formats]
        results.append((name, description, paths))
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments (``--out``, ``--only``, ``--format``)."""
    parser.add_argument("--out", default=os.path.join("runs", "graph"),
                        help="directory for the pictures (default runs/graph)")
    parser.add_argument("--only", nargs="+", choices=list(EXAMPLES), metavar="NAME",
                        help=f"draw only these examples ({', '.join(EXAMPLES)})")
    parser.add_argument("--format", nargs="+", choices=["dot", "svg", "png", "pdf"],
                        dest="formats", metavar="FORMAT",
                        help="file formats (default: dot, plus svg and png when Graphviz is "
                             "installed)")


def run(args) -> int:
    """Draw the examples and print where they are. Returns the exit code."""
    has_dot = shutil.which("dot") is not None
    if args.formats and not has_dot and set(args.formats) - {"dot"}:
        print("locograd experiment graph: error: --format svg/png/pdf needs Graphviz's 'dot' "
              "program (Debian/Ubuntu: apt install graphviz; conda: conda install graphviz)",
              file=sys.stderr)
        return 2
    results = draw_examples(args.out, args.only, args.formats)
    print("textbook computational graphs: forward values above the edges (green), "
          "gradients below (red)\n")
    width = max(len(name) for name, _, _ in results)
    for name, description, paths in results:
        print(f"{name.ljust(width)}  {description}")
        print(f"{' ' * width}  -> {', '.join(os.path.basename(p) for p in paths)}")
    print(f"\nwrote {sum(len(p) for _, _, p in results)} files to {args.out}")
    if not has_dot and not args.formats:
        print("(only .dot files: install Graphviz for SVG and PNG, e.g. apt install graphviz)")
    return 0


def main(argv=None) -> int:
    """``python -m locograd.experiments.graph [options]``; returns the exit code."""
    return command_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    raise SystemExit(main())

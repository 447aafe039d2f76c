"""``locograd experiment rnn-gradients``: how far back gradients reach in a tanh RNN and an LSTM.

A loss that reads only the last hidden state, ``L = v . h_T`` (v a fixed unit vector, so
``|dL/dh_T| = 1``), is back-propagated through time, and the norm of ``dL/dh_t`` is recorded
against the distance ``d = T - t`` to the loss.

In a tanh RNN ``h_t = tanh(W h_{t-1} + U x_t)`` that gradient is multiplied at every step by
``W^T diag(1 - h_t^2)``. With ``W = sigma Q`` (Q orthogonal, so every singular value of W is
sigma) and inputs small enough that tanh works in its linear regime, the norm is sigma^d:
it vanishes for sigma < 1 and explodes for sigma > 1. With inputs of ordinary size the units
saturate and ``1 - h^2`` holds the gradient far below sigma^d.
An LSTM carries the gradient along its cell state, multiplied by the forget gate (about
sigmoid(1) = 0.73 here, with the customary forget-gate bias of 1), so it decays far more
slowly than the tanh RNN with sigma = 0.5. (Its first step back drops more: ``h_{T-1}`` reaches
``h_T`` only through the gates' small recurrent weights; from there on the cell state carries
it.)

Run:
    locograd experiment rnn-gradients --out runs/rnn-gradients
    python -m locograd.experiments.rnn_gradients --sigmas 0.5 1.0 1.5 2.0 --length 30
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from .. import nn
from ..autograd.engine import grad
from ..backend import Generator, rng
from ..diagnostics.report import (
    command_main,
    format_table,
    plot_if_available,
    positive_int,
    write_csv,
)
from ..factory import from_numpy
from ..nn import init

__all__ = ["gradient_norms", "measure", "add_arguments", "run", "main"]


def gradient_norms(cell: str = "tanh", sigma: float = 1.0, hidden: int = 64, length: int = 40,
                   batch: int = 16, input_size: int = 16, input_scale: float | None = None,
                   forget_bias: float = 1.0, seed: int = 0) -> np.ndarray:
    """Mean over the batch of ``|dL/dh_t|`` for ``L = v . h_T``, indexed by distance ``T - t``.

    Args:
        cell: ``'tanh'`` (an ``nn.RNNCell`` with ``W_hh = sigma Q``, Q orthogonal, ``W_ih``
            N(0, 1/input_size), no biases) or ``'lstm'`` (an ``nn.LSTMCell`` with its default
            initialisation and the forget-gate bias set to ``forget_bias``).
        sigma: the largest (here: every) singular value of the tanh RNN's recurrent matrix.
        hidden, length, batch, input_size: the sizes; inputs are N(0, input_scale^2).
        input_scale: small keeps tanh in its linear regime; 1 makes it saturate. None:
            ``linear_scale(sigma, length)``, small enough for the whole sequence.
        forget_bias: the LSTM's forget-gate bias (in ``bias_ih``; ``bias_hh``'s is zeroed).
        seed: seeds the weights, the inputs and v.

    Returns:
        An array of ``length`` norms; entry ``d`` is for ``h_{T-d}`` (entry 0 is 1).

    Example:
        >>> norms = gradient_norms("tanh", sigma=0.5, hidden=8, length=6, batch=2)
        >>> [round(float(n), 3) for n in norms[:3]]
        [1.0, 0.5, 0.25]
    """
    if cell not in ("tanh", "lstm"):
        raise ValueError(f"rnn-gradients: cell must be 'tanh' or 'lstm', got {cell!r}")
    if input_scale is None:
        input_scale = linear_scale(sigma if cell == "tanh" else 1.0, length)
    generator = Generator().manual_seed(seed)
    draw = rng(generator)
    if cell == "tanh":
        module = nn.RNNCell(input_size, hidden, nonlinearity="tanh")
        init.orthogonal_(module.weight_hh, gain=sigma, generator=generator)
        init.normal_(module.weight_ih, 0.0, 1.0 / np.sqrt(input_size), generator=generator)
        init.zeros_(module.bias_ih)
        init.zeros_(module.bias_hh)
    else:
        module = nn.LSTMCell(input_size, hidden)
        bound = 1.0 / np.sqrt(hidden)
        for p in module.parameters():
            init.uniform_(p, -bound, bound, generator=generator)
        module.bias_ih.data[hidden:2 * hidden] = forget_bias  # gates are [i, f, g, o]
        module.bias_hh.data[hidden:2 * hidden] = 0.0
    xs = (draw.standard_normal((length, batch, input_size)) * input_scale).astype(np.float32)
    v = draw.standard_normal(hidden)
    v = from_numpy((v / np.linalg.norm(v)).astype(np.float32))
    states = []
    h = c = None
    for t in range(length):
        x = from_numpy(xs[t])
        if cell == "tanh":
            h = module(x, h)
        else:
            h, c = module(x, None if h is None else (h, c))
        states.append(h)
    loss = (states[-1] * v).sum()
    gradients = grad(loss, states)
    norms = [float(np.linalg.norm(g.data.astype(np.float64), axis=1).mean()) for g in gradients]
    return np.array(norms[::-1])


def linear_scale(sigma: float, length: int) -> float:
    """An input scale that keeps a tanh RNN with ``W = sigma Q`` linear for ``length`` steps:
    the hidden state grows like ``scale * sigma^t``, so ``1e-3 / max(1, sigma)^length``.

    Example:
        >>> linear_scale(0.5, 40), linear_scale(2.0, 10)
        (0.001, 9.765625e-07)
    """
    return 1e-3 / max(1.0, float(sigma)) ** length


def measure(sigmas=(0.5, 1.0, 1.5), hidden: int = 64, length: int = 40, batch: int = 16,
            input_size: int = 16, input_scale: float | None = None,
            big_input_scale: float = 1.0, forget_bias: float = 1.0, seed: int = 0) -> dict:
    """The gradient norms of every configuration: ``{name: array over distance}``.

    One tanh RNN per sigma, the largest sigma again with inputs at ``big_input_scale``
    (skipped when 0), and an LSTM. The other runs share ``input_scale`` (None:
    ``linear_scale(max(sigmas), length)``, the linear regime of every tanh run).

    Example:
        >>> curves = measure(sigmas=(0.5,), hidden=8, length=5, batch=2, big_input_scale=0)
        >>> list(curves)
        ['tanh sigma=0.5', 'lstm']
    """
    if input_scale is None:
        input_scale = linear_scale(max(sigmas, default=1.0), length)
    options = dict(hidden=hidden, length=length, batch=batch, input_size=input_size, seed=seed)
    curves = {}
    for sigma in sigmas:
        curves[f"tanh sigma={sigma:g}"] = gradient_norms("tanh", sigma, input_scale=input_scale,
                                                          **options)
    if big_input_scale and sigmas:
        sigma = max(sigmas)
        curves[f"tanh sigma={sigma:g}, inputs x{big_input_scale:g}"] = gradient_norms(
            "tanh", sigma, input_scale=big_input_scale, **options)
    curves["lstm"] = gradient_norms("lstm", input_scale=input_scale, forget_bias=forget_bias,
                                    **options)
    return curves


def table(curves: dict, distances=None) -> str:
    """|dL/dh_t| at a few distances (rows) for every configuration (columns)."""
    length = len(next(iter(curves.values())))
    if distances is None:
        distances = sorted({d for d in (0, 1, 2, 5, 10, 15, 20, 30, 40, 60, 80, 100)
                            if d < length} | {length - 1})
    rows = [[str(d)] + [f"{curve[d]:.3g}" for curve in curves.values()] for d in distances]
    return format_table(["T - t"] + list(curves), rows)


def plot(curves: dict, path) -> str:
    """|dL/dh_t| against the distance to the loss, log scale, one line per configuration."""
    from ..diagnostics.plots import new_figure, save_figure
    figure, axes = new_figure(1, 1, size=(7.5, 4.5), what="the rnn-gradients plot")
    ax = axes[0, 0]
    for name, curve in curves.items():
        ax.plot(np.arange(len(curve)), curve, marker="o" if len(curve) <= 40 else None,
                markersize=3, label=name, linestyle="--" if name == "lstm" else "-")
    ax.set_yscale("log")
    ax.set_xlabel("distance to the loss, T - t (steps back in time)")
    ax.set_ylabel("mean |dL/dh_t|")
    ax.set_title("gradient norm through time: tanh RNN (W = sigma Q) against LSTM", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_figure(figure, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("--out", default=os.path.join("runs", "rnn-gradients"),
                        help="directory for the CSV and the plot (default runs/rnn-gradients)")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.5, 1.0, 1.5],
                        help="singular values of the tanh RNN's recurrent matrix "
                             "(default 0.5 1.0 1.5)")
    parser.add_argument("--length", type=positive_int, default=40, help="time steps T (40)")
    parser.add_argument("--hidden", type=positive_int, default=64, help="hidden units (64)")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="sequences (16)")
    parser.add_argument("--input-size", type=positive_int, default=16, help="input units (16)")
    parser.add_argument("--input-scale", type=float, default=None,
                        help="standard deviation of the inputs (default: small enough to keep "
                             "every tanh run linear, 1e-3 / max(sigma)^length)")
    parser.add_argument("--big-input-scale", type=float, default=1.0,
                        help="the largest sigma again with inputs this large, to show "
                             "saturation (1.0; 0 skips it)")
    parser.add_argument("--forget-bias", type=float, default=1.0,
                        help="the LSTM's forget-gate bias (1.0)")
    parser.add_argument("--seed", type=int, default=0, help="seed (0)")


def run(args) -> int:
    """Measure, print the table, write ``rnn_gradients.csv`` and ``rnn_gradients.png``."""
    if any(s <= 0 for s in args.sigmas) or (args.input_scale or 0) < 0 \
            or args.big_input_scale < 0:
        print("locograd experiment rnn-gradients: error: --sigmas must be positive and the "
              "input scales non-negative", file=sys.stderr)
        return 2
    curves = measure(args.sigmas, args.hidden, args.length, args.batch_size, args.input_size,
                     args.input_scale, args.big_input_scale, args.forget_bias, args.seed)
    scale = args.input_scale if args.input_scale is not None else \
        linear_scale(max(args.sigmas), args.length)
    print(f"mean |dL/dh_t| for L = v . h_T (|v| = 1), T = {args.length}, {args.hidden} hidden "
          f"units, inputs x{scale:.3g} unless stated\n")
    print(table(curves))
    rows = [[d] + [float(curve[d]) for curve in curves.values()] for d in range(args.length)]
    written = [write_csv(os.path.join(args.out, "rnn_gradients.csv"), ["distance"] + list(curves),
                         rows),
               plot_if_available(plot, curves, os.path.join(args.out, "rnn_gradients.png"))]
    print("\nwrote " + ", ".join(p for p in written if p))
    return 0


def main(argv=None) -> int:
    """``python -m locograd.experiments.rnn_gradients [options]``; returns the exit code."""
    return command_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""``locograd experiment paralysis``: vanishing gradients in a deep sigmoid network, and the cures.

The classic experiment: a network with 841 inputs (29 x 29 pixels), five sigmoid hidden layers
of 100 units and 26 outputs (letters), freshly initialised. The mean gradient magnitude of each
layer's weights falls by orders of magnitude from the output toward the input, so the first
layers barely learn: the net is "paralysed". The same net with ReLU units and Kaiming
initialisation keeps the gradients of the same order in every layer; standardising the inputs
is shown alone and with ReLU + Kaiming, side by side.

The data is a structured synthetic task, seeded: 26 random binary 29 x 29 prototypes (30% of
the pixels on) and examples that are prototypes with 10% of their pixels flipped, so the inputs
are raw {0, 1} pixels with a positive mean, as images are before standardisation. The
"default" initialisation is PyTorch's ``nn.Linear`` one, U(-1/sqrt(fan_in), 1/sqrt(fan_in));
Kaiming is N(0, 2/fan_in) with zero biases. Each number is the mean over ``--seeds``
initialisations of the mean |dL/dW| over one batch, measured with ``GradientMonitor``.

Run:
    locograd experiment paralysis --out runs/paralysis
    python -m locograd.experiments.paralysis --seeds 10
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from .. import nn
from ..backend import Generator, rng
from ..data.transforms import Standardize
from ..diagnostics import GradientMonitor
from ..diagnostics.report import (
    command_main,
    format_table,
    plot_if_available,
    positive_int,
    write_csv,
)
from ..factory import from_numpy
from ..nn import functional as F
from ..nn import init

__all__ = ["VARIANTS", "make_letters", "build_net", "measure", "add_arguments", "run", "main"]

#: variant -> (activation, initialisation, standardised inputs)
VARIANTS = {
    "sigmoid": ("sigmoid", "default", False),
    "sigmoid+std": ("sigmoid", "default", True),
    "relu+kaiming": ("relu", "kaiming", False),
    "relu+kaiming+std": ("relu", "kaiming", True),
}


def make_letters(n: int, inputs: int = 841, classes: int = 26, density: float = 0.3,
                 flip: float = 0.1, generator=None):
    """The synthetic letters: ``(x, y)`` with x (n, inputs) float32 in {0, 1}, y (n,) int64.

    Args:
        n: number of examples.
        inputs: pixels per example (841 = 29 x 29).
        classes: number of prototypes.
        density: share of pixels on in a prototype.
        flip: share of pixels flipped in an example.
        generator: an ``lg.Generator`` (default: the global one).

    Example:
        >>> import locograd as lg
        >>> x, y = make_letters(4, generator=lg.Generator().manual_seed(0))
        >>> x.shape, y.shape, sorted(set(x.ravel().tolist()))
        ((4, 841), (4,), [0.0, 1.0])
    """
    draw = rng(generator)
    prototypes = draw.random((classes, inputs)) < density
    labels = draw.integers(0, classes, n)
    flips = draw.random((n, inputs)) < flip
    x = (prototypes[labels] ^ flips).astype(np.float32)
    return x, labels.astype(np.int64)


def build_net(inputs: int = 841, hidden: int = 100, layers: int = 5, outputs: int = 26,
              activation: str = "sigmoid", initialisation: str = "default", generator=None):
    """The deep net as ``nn.Sequential(Linear, act, ..., Linear)`` with ``layers`` hidden layers.

    Args:
        inputs, hidden, layers, outputs: the sizes.
        activation: ``'sigmoid'`` or ``'relu'``.
        initialisation: ``'default'`` (``nn.Linear``'s uniform) or ``'kaiming'`` (He normal,
            zero biases).
        generator: an ``lg.Generator`` for the weights.

    Example:
        >>> [type(m).__name__ for m in build_net(8, 4, 2, 3)]
        ['Linear', 'Sigmoid', 'Linear', 'Sigmoid', 'Linear']
    """
    if activation not in ("sigmoid", "relu"):
        raise ValueError(f"build_net: activation must be 'sigmoid' or 'relu', got {activation!r}")
    if initialisation not in ("default", "kaiming"):
        raise ValueError(f"build_net: initialisation must be 'default' or 'kaiming', got "
                         f"{initialisation!r}")
    sizes = [inputs] + [hidden] * layers + [outputs]
    modules = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        if initialisation == "kaiming":
            init.kaiming_normal_(linear.weight, nonlinearity="relu", generator=generator)
            init.zeros_(linear.bias)
        else:
            # Linear's own initialisation, drawn from ``generator``
            init._reset_linear_(linear.weight, linear.bias, generator)
        modules.append(linear)
        if index < layers:
            modules.append(nn.Sigmoid() if activation == "sigmoid" else nn.ReLU())
    return nn.Sequential(*modules)


def layer_names(layers: int) -> list:
    """``['hidden 1', ..., 'hidden L', 'output']``: the weight layers, input first."""
    return [f"hidden {i}" for i in range(1, layers + 1)] + ["output"]


def measure(inputs: int = 841, hidden: int = 100, layers: int = 5, classes: int = 26,
            batch_size: int = 256, seeds: int = 5, seed: int = 0, variants=None) -> dict:
    """Mean gradient magnitudes per layer after initialisation, for each variant.

    Returns:
        ``{variant: {"weight_grad": {layer: value}, "activation_grad": {layer: value}}}`` with
        the layers of ``layer_names(layers)``, averaged over ``seeds`` initialisations.

    Example:
        >>> result = measure(inputs=16, hidden=8, layers=2, classes=3, batch_size=8, seeds=1,
        ...                  variants=["sigmoid"])
        >>> list(result["sigmoid"]["weight_grad"])
        ['hidden 1', 'hidden 2', 'output']
    """
    variants = list(VARIANTS) if variants is None else list(variants)
    x, y = make_letters(batch_size, inputs, classes, generator=Generator().manual_seed(seed))
    standardised = Standardize().fit(x)(x)
    names = layer_names(layers)
    results = {}
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"paralysis: unknown variant {variant!r}; choose from "
                             f"{', '.join(VARIANTS)}")
        activation, initialisation, standardise = VARIANTS[variant]
        inputs_used = from_numpy(standardised if standardise else x)
        targets = from_numpy(y)
        per_seed = {"weight_grad": [], "activation_grad": []}
        for k in range(seeds):
            generator = Generator().manual_seed(seed + 1000 * (k + 1))
            model = build_net(inputs, hidden, layers, classes, activation, initialisation,
                              generator)
            linear = [str(i) for i, m in enumerate(model) if isinstance(m, nn.Linear)]
            with GradientMonitor(model, layers=linear) as monitor:
                F.cross_entropy(model(inputs_used), targets).backward()
            for metric in per_seed:
                values = monitor.metric(metric)
                per_seed[metric].append([values[i] for i in linear])
        results[variant] = {metric: dict(zip(names, np.mean(rows, axis=0).tolist()))
                            for metric, rows in per_seed.items()}
    return results


def table(results: dict, metric: str = "weight_grad") -> str:
    """The side-by-side table of one metric, input layer first, with the ratio of the last
    hidden layer to the first."""
    variants = list(results)
    names = list(results[variants[0]][metric])
    rows = [[name] + [f"{results[v][metric][name]:.3g}" for v in variants] for name in names]
    hidden = [n for n in names if n.startswith("hidden")]
    if len(hidden) >= 2:
        rows.append([f"{hidden[-1]} / {hidden[0]}"] +
                    [f"{results[v][metric][hidden[-1]] / results[v][metric][hidden[0]]:.3g}x"
                     for v in variants])
    return format_table(["layer"] + variants, rows)


def plot(results: dict, path) -> str:
    """Mean |dL/dW| and |dL/dy| per layer, one line per variant, log scale."""
    from ..diagnostics.plots import layer_axis, new_figure, save_figure
    figure, axes = new_figure(1, 2, size=(11.0, 4.2), what="the paralysis plot")
    for ax, metric, title in ((axes[0, 0], "weight_grad", "mean |dL/dW| per layer"),
                              (axes[0, 1], "activation_grad",
                               "mean |dL/d(pre-activation)| per layer")):
        for variant, values in results.items():
            ax.plot(range(len(values[metric])), list(values[metric].values()), marker="o",
                    label=variant)
        layer_axis(ax, list(next(iter(results.values()))[metric]))
        ax.set_title(title + " at initialisation", fontsize=10)
        ax.legend(fontsize=8)
    return save_figure(figure, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments (sizes default to the classic experiment)."""
    parser.add_argument("--out", default=os.path.join("runs", "paralysis"),
                        help="directory for the table (CSV) and the plot (default "
                             "runs/paralysis)")
    parser.add_argument("--inputs", type=positive_int, default=841, help="input units (841)")
    parser.add_argument("--hidden", type=positive_int, default=100,
                        help="units per hidden layer (100)")
    parser.add_argument("--layers", type=positive_int, default=5, help="hidden layers (5)")
    parser.add_argument("--classes", type=positive_int, default=26, help="output units (26)")
    parser.add_argument("--batch-size", type=positive_int, default=256,
                        help="examples in the measured batch (256)")
    parser.add_argument("--seeds", type=positive_int, default=5,
                        help="initialisations averaged per variant (5)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")


def run(args) -> int:
    """Measure, print the tables, write ``paralysis.csv`` and ``paralysis.png``."""
    results = measure(args.inputs, args.hidden, args.layers, args.classes, args.batch_size,
                      args.seeds, args.seed)
    print(f"net: {args.inputs} inputs, {args.layers} hidden layers of {args.hidden}, "
          f"{args.classes} outputs; batch {args.batch_size}, mean over {args.seeds} "
          f"initialisations\n")
    print("mean |dL/dW| per layer after initialisation (input layer first):")
    print(table(results, "weight_grad"))
    print("\nmean |dL/d(pre-activation)| per layer:")
    print(table(results, "activation_grad"))
    rows = [(variant, layer, value, values["activation_grad"][layer])
            for variant, values in results.items()
            for layer, value in values["weight_grad"].items()]
    written = [write_csv(os.path.join(args.out, "paralysis.csv"),
                         ["variant", "layer", "weight_grad", "activation_grad"], rows),
               plot_if_available(plot, results, os.path.join(args.out, "paralysis.png"))]
    print("\nwrote " + ", ".join(p for p in written if p))
    return 0


def main(argv=None) -> int:
    """``python -m locograd.experiments.paralysis [options]``; returns the exit code."""
    return command_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""``GradientMonitor``: how gradients flow through a model, layer by layer and step by step.

It only observes, through hooks: a forward hook on each monitored layer (weight norm,
saturation, and a tensor hook on the layer's output for the gradient with respect to it) and a
tensor hook on each layer's ``weight`` (its gradient of this backward pass). Removing the
monitor removes every hook.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..autograd.tensor_base import TensorBase
from ..nn import activation as _activation
from ..nn.module import Module
from ..nn.parameter import Parameter
from .report import format_table

__all__ = ["GradientMonitor", "METRICS"]

#: what the monitor records per layer and step (``history`` rows hold these keys)
METRICS = {
    "weight_grad": "mean |dL/dW|",
    "activation_grad": "mean |dL/dy|",
    "weight_norm": "||W||",
    "saturation": "saturated",
}
_SATURATION = ((_activation.Sigmoid, "sigmoid"), (_activation.Tanh, "tanh"),
               (_activation.ReLU, "relu"), (_activation.ReLU6, "relu"))


@dataclass
class _Pending:
    """What one layer gathered during the current step (sums, so several calls average)."""

    # metric -> [sum of |gradient|, number of elements], for "weight_grad", "activation_grad"
    gradients: dict = field(default_factory=dict)
    weight_norm: float | None = None
    saturated: float = 0.0
    saturation_calls: int = 0

    def mean(self, metric: str):
        total, count = self.gradients.get(metric, (0.0, 0))
        return total / count if count else None


class GradientMonitor:
    """Record, per layer and per training step, how large the gradients are.

    Per layer (in the order the layers run) and step it records:

    - ``weight_grad``: mean absolute gradient of the layer's ``weight`` in this step's backward
      (not its bias; None for layers without a weight);
    - ``activation_grad``: mean absolute gradient with respect to the layer's output;
    - ``weight_norm``: Frobenius norm of the weight when the layer ran;
    - ``saturation``: the share of saturated units, for activation modules only: ``Sigmoid``
      outputs within ``eps`` of 0 or 1, ``Tanh`` outputs with ``|y| > 1 - eps``, and for
      ``ReLU``/``ReLU6`` the share of dead units: units (axis 1: features or channels) whose
      output is 0 for every example (and position) of the batch. None for other layers.

    By default it watches every leaf submodule with a ``weight`` parameter (``Linear``,
    ``Conv2d``, ``Embedding``, normalisation layers...) and every activation module of
    ``nn`` (``Sigmoid``, ``Tanh``, ``ReLU``, ...). Activations applied as functions
    (``F.relu`` inside a ``forward``) are invisible to it: use the modules. A layer called
    several times in a step (an RNN cell) is averaged over its calls.

    A step ends by itself when a monitored layer runs a forward after gradients arrived, or
    explicitly with ``step()``. Forward passes that do not record a graph (``no_grad``,
    evaluation) are ignored. Use it as a context manager, or call ``remove()``.

    Args:
        model: the ``nn.Module`` to watch.
        layers: which submodules: None (default, as above), or a list of names (as in
            ``model.named_modules()``) or of modules.
        eps: the distance to the bounds that counts as saturated (default 0.01).

    Example:
        >>> import locograd as lg
        >>> model = lg.nn.Sequential(lg.nn.Linear(4, 8), lg.nn.Sigmoid(), lg.nn.Linear(8, 2))
        >>> with lg.diagnostics.GradientMonitor(model) as monitor:
        ...     model(lg.randn(16, 4)).pow(2).mean().backward()
        >>> [row["layer"] for row in monitor.history]
        ['0', '1', '2']
        >>> text = monitor.table(echo=False)  # or monitor.table() to print it
    """

    def __init__(self, model, layers=None, eps: float = 0.01):
        if not isinstance(model, Module):
            raise TypeError(f"GradientMonitor: expected an nn.Module, got {type(model).__name__}")
        if not 0.0 <= eps < 0.5:
            raise ValueError(f"GradientMonitor: eps must be in [0, 0.5), got {eps}")
        self.model = model
        self.eps = float(eps)
        self.layers = _select_layers(model, layers)
        self._history = []
        self._steps = 0
        self._order = []          # layer names in the order they first ran
        self._pending = {}
        self._has_grad = False
        self._handles = []
        for name, module in self.layers:
            self._handles.append(module.register_forward_hook(partial(self._forward, name)))
            weight = module._parameters.get("weight")
            if isinstance(weight, Parameter) and weight.requires_grad:
                self._handles.append(weight.register_hook(partial(self._gradient, name,
                                                                  "weight_grad")))

    # ------------------------------------------------------------------ hooks
    def _forward(self, name, module, args, output):
        out = output[0] if isinstance(output, (tuple, list)) and output else output
        if not isinstance(out, TensorBase) or not out.requires_grad:
            return  # not a training forward: nothing will come back
        if self._has_grad:  # the previous step's backward is over: close it
            self.step()
        pending = self._pending.get(name)
        if pending is None:
            pending = self._pending[name] = _Pending()
            if name not in self._order:
                self._order.append(name)
        weight = module._parameters.get("weight")
        if pending.weight_norm is None and isinstance(weight, TensorBase):
            pending.weight_norm = float(np.linalg.norm(weight.data.ravel()))  # no copy
        kind = next((k for cls, k in _SATURATION if isinstance(module, cls)), None)
        if kind is not None:
            pending.saturated += _saturated_share(kind, out.data, self.eps)
            pending.saturation_calls += 1
        out.register_hook(partial(self._gradient, name, "activation_grad"))

    def _gradient(self, name, metric, grad):
        """A tensor hook: the gradient of a layer's weight or output in this backward."""
        sums = self._pending.setdefault(name, _Pending()).gradients.setdefault(metric, [0.0, 0])
        sums[0] += float(np.abs(grad.data).sum(dtype=np.float64))
        sums[1] += grad.data.size
        self._has_grad = True

    # ------------------------------------------------------------------ results
    def step(self) -> list:
        """Close the current step: append its rows to ``history`` and return them (empty if
        nothing was recorded since the last step)."""
        if not self._pending:
            return []
        types = dict(self.layers)
        rows = []
        for name in self._order:
            pending = self._pending.get(name)
            if pending is None:
                continue
            rows.append({
                "step": self._steps,
                "layer": name,
                "type": type(types[name]).__name__,
                "weight_grad": pending.mean("weight_grad"),
                "activation_grad": pending.mean("activation_grad"),
                "weight_norm": pending.weight_norm,
                "saturation": pending.saturated / pending.saturation_calls
                if pending.saturation_calls else None,
            })
        self._history.extend(rows)
        self._steps += 1
        self._pending = {}
        self._has_grad = False
        return rows

    @property
    def history(self) -> list:
        """One dict per layer and step: ``step``, ``layer``, ``type`` and the ``METRICS`` (a step
        whose backward is over is closed first)."""
        self._close_if_done()
        return self._history

    @property
    def steps(self) -> int:
        """How many steps are in ``history`` (after closing a step with gradients pending)."""
        self._close_if_done()
        return self._steps

    def _close_if_done(self) -> None:
        if self._has_grad:
            self.step()

    def metric(self, name: str, step: int = -1, average: bool = False) -> dict:
        """``{layer: value}`` of one metric (a key of ``METRICS``) at one step (default: the
        latest; negative counts from the end) or averaged over all steps (None values skipped).
        """
        if name not in METRICS:
            raise ValueError(f"GradientMonitor.metric: unknown metric {name!r}; choose from "
                             f"{', '.join(METRICS)}")
        self._close_if_done()
        if not self._steps:
            return {}
        if not average:
            if not -self._steps <= step < self._steps:
                raise IndexError(f"GradientMonitor.metric: step {step} out of range "
                                 f"({self._steps} steps recorded)")
            step %= self._steps
        values = {}
        for row in self.history:
            if average or row["step"] == step:
                values.setdefault(row["layer"], [])
                if row[name] is not None:
                    values[row["layer"]].append(row[name])
        return {layer: float(np.mean(v)) if v else None for layer, v in values.items()}

    def table(self, step: int = -1, average: bool = False, echo: bool = True, file=None) -> str:
        """A readable table, one row per layer (input first): the latest step, another
        ``step``, or the ``average`` over all steps. Printed to ``file`` (default stdout)
        unless ``echo=False``; returned either way.
        """
        self._close_if_done()
        if not self._steps:
            text = "GradientMonitor: no step recorded yet (run a forward and a backward pass)"
        else:
            columns = {name: self.metric(name, step, average) for name in METRICS}
            types = {row["layer"]: row["type"] for row in self.history}
            title = f"average of {self._steps} steps" if average else \
                f"step {step % self._steps + 1} of {self._steps}"
            header = ["layer", "type"] + list(METRICS.values())
            rows = [[layer, types[layer]] + [_cell(columns[m].get(layer), m) for m in METRICS]
                    for layer in columns["weight_grad"]]
            text = f"gradient flow ({title})\n" + format_table(header, rows)
        if echo:
            print(text, file=file if file is not None else sys.stdout)
        return text

    def plot(self, path) -> str:
        """Write a PNG (or any matplotlib format, by extension) of the gradient flow: mean
        |dL/dW| and |dL/dy| per layer at the latest step, |dL/dW| per layer over the steps, and
        the saturation of the activation layers. Needs matplotlib. Returns the path."""
        from .plots import layer_axis, new_figure, save_figure
        self._close_if_done()
        if not self._steps:
            raise RuntimeError("GradientMonitor.plot: no step recorded yet (run a forward and a "
                               "backward pass first)")
        figure, axes = new_figure(2, 2, what="GradientMonitor.plot")
        types = dict(self.layers)

        def shown_name(layer):  # Sequential's "0", "1"... say little without the type
            return f"{layer} {type(types[layer]).__name__}" if layer.isdigit() else layer

        for ax, name in ((axes[0, 0], "weight_grad"), (axes[0, 1], "activation_grad")):
            values = self.metric(name)
            shown = [(k, v) for k, v in values.items() if v is not None and v > 0]
            if shown:
                ax.bar(range(len(shown)), [v for _, v in shown], color="#4c72b0")
                layer_axis(ax, [shown_name(k) for k, _ in shown])
            ax.set_title(f"{METRICS[name]} per layer (step {self._steps})", fontsize=10)
        ax = axes[1, 0]
        for layer in self._order:
            points = [(row["step"], row["weight_grad"]) for row in self.history
                      if row["layer"] == layer and row["weight_grad"]]
            if points:
                ax.plot(*zip(*points), marker="o" if len(points) < 30 else None, markersize=3,
                        label=shown_name(layer))
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(f"{METRICS['weight_grad']} over steps", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        if ax.lines:
            ax.legend(fontsize=7, ncol=2)
        ax = axes[1, 1]
        saturation = {k: v for k, v in self.metric("saturation").items() if v is not None}
        if saturation:
            ax.bar(range(len(saturation)), list(saturation.values()), color="#dd8452")
            layer_axis(ax, [shown_name(k) for k in saturation], log=False)
            ax.set_ylim(0, 1)
        ax.set_title(f"saturated / dead units (eps {self.eps:g})", fontsize=10)
        return save_figure(figure, path)

    # ------------------------------------------------------------------ lifetime
    def remove(self) -> None:
        """Remove every hook (a step with gradients pending is closed first)."""
        self._close_if_done()
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self):
        return f"GradientMonitor({len(self.layers)} layers, {self._steps} steps)"


# ------------------------------------------------------------------------------ helpers

def _select_layers(model, layers) -> list:
    """``[(name, module)]`` of the layers to watch."""
    named = list(model.named_modules())
    if layers is None:
        chosen = [(name, m) for name, m in named
                  if not m._modules and (isinstance(m._parameters.get("weight"), Parameter)
                                         or type(m).__module__ == _activation.__name__)]
        if not chosen:
            raise ValueError(f"GradientMonitor: {type(model).__name__} has no layer with a "
                             f"weight and no activation module; pass layers=[...]")
        return [(name or type(m).__name__, m) for name, m in chosen]
    by_name = dict(named)
    by_id = {id(m): name for name, m in named}
    chosen = []
    for layer in layers:
        if isinstance(layer, str):
            if layer not in by_name:
                names = ", ".join(n for n in by_name if n)
                raise ValueError(f"GradientMonitor: no submodule named {layer!r} in "
                                 f"{type(model).__name__} (names: {names})")
            chosen.append((layer, by_name[layer]))
        elif isinstance(layer, Module):
            if id(layer) not in by_id:
                raise ValueError(f"GradientMonitor: the {type(layer).__name__} given in layers "
                                 f"is not a submodule of the model")
            chosen.append((by_id[id(layer)] or type(layer).__name__, layer))
        else:
            raise TypeError(f"GradientMonitor: layers must be names or modules, got "
                            f"{type(layer).__name__}")
    if not chosen:
        raise ValueError("GradientMonitor: layers is empty")
    return chosen


def _saturated_share(kind: str, y: np.ndarray, eps: float) -> float:
    """The share of saturated (sigmoid, tanh) or dead (relu) units in one output."""
    if y.size == 0:
        return 0.0
    if kind == "sigmoid":
        return float(np.mean((y < eps) | (y > 1.0 - eps)))
    if kind == "tanh":
        return float(np.mean(np.abs(y) > 1.0 - eps))
    if y.ndim < 2:  # one example: each element is a unit
        return float(np.mean(y == 0))
    other = (0,) + tuple(range(2, y.ndim))
    return float(np.mean(np.all(y == 0, axis=other)))


def _cell(value, metric: str) -> str:
    if value is None:
        return "-"
    if metric == "saturation":
        return f"{100.0 * value:.1f}%"
    return f"{value:.3g}"

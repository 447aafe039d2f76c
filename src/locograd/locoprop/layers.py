"""Decompose a model into LocoProp's layers: a ``Linear`` map and the transfer function after it.

LocoProp trains each ``Linear`` layer on its own local problem, so it needs the model as a
chain ``x -> Linear -> f -> Linear -> f -> ...``. Supported: an ``nn.Sequential`` (nested ones
are flattened) of ``Linear`` layers, each followed by at most one transfer function:
``Tanh``, ``Sigmoid``, ``ReLU``, ``Softmax`` or ``LogSoftmax`` over the last dimension (both
matched by the softmax's matching loss), or none (the identity; ``Identity`` modules are
skipped). ``Flatten`` is allowed before the first ``Linear``. The last layer's transfer may sit
inside the loss: sigmoid for ``BCEWithLogitsLoss``, softmax for ``CrossEntropyLoss``.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

from ..nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ..nn.container import Sequential
from ..nn.linear import Flatten, Identity, Linear
from ..nn.module import Module
from .matching import Transfer, get_transfer

__all__ = ["LocalLayer", "decompose", "loss_transfer", "check_softmax_dim"]

#: activation module type -> the transfer function whose matching loss trains the layer
_ACTIVATIONS = {Tanh: "tanh", Sigmoid: "sigmoid", ReLU: "relu", Softmax: "softmax",
                LogSoftmax: "softmax"}
#: losses that apply a transfer function to their input themselves
_LOSS_TRANSFERS = {
    "binary_cross_entropy_with_logits": "sigmoid", "BCEWithLogitsLoss": "sigmoid",
    "cross_entropy": "softmax", "CrossEntropyLoss": "softmax",
    "mse_loss": "identity", "MSELoss": "identity",
}
_SUPPORTED = ("an nn.Sequential (nested ones are flattened) of Linear layers, each followed by "
              "at most one of Tanh, Sigmoid, ReLU, Softmax/LogSoftmax (over the last dimension) "
              "or nothing (identity; Identity modules are skipped), with Flatten allowed before "
              "the first Linear")


class LocalLayer(NamedTuple):
    """One local problem: the ``Linear`` module, the activation module applied after it in the
    forward pass (``None`` if none), and the transfer function of its matching loss."""

    name: str
    linear: Linear
    activation: Module | None
    transfer: Transfer

    def trainable_parameters(self) -> list:
        """The ``Linear``'s weight and bias, less an absent bias and frozen parameters."""
        return [p for p in (self.linear.weight, self.linear.bias)
                if p is not None and p.requires_grad]


def _leaves(module: Module, prefix: str):
    """``(qualified name, module)`` of the non-container modules, in forward order."""
    if isinstance(module, Sequential):
        for name, child in module._modules.items():
            if child is not None:
                yield from _leaves(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix or "(model)", module


def loss_transfer(loss_fn) -> str | None:
    """The transfer function a loss applies to its input itself (``None`` if unknown).

    Example:
        >>> import locograd as lg
        >>> loss_transfer(lg.nn.BCEWithLogitsLoss()), loss_transfer(lg.nn.functional.mse_loss)
        ('sigmoid', 'identity')
    """
    while isinstance(loss_fn, functools.partial):
        loss_fn = loss_fn.func
    name = getattr(loss_fn, "__name__", None) or type(loss_fn).__name__
    return _LOSS_TRANSFERS.get(name)


def check_softmax_dim(layer: "LocalLayer", ndim: int) -> None:
    """Raise ``ValueError`` unless the layer's Softmax/LogSoftmax runs over the last of the
    ``ndim`` dimensions of its pre-activation (the features, which the matching loss sums)."""
    module = layer.activation
    dim = getattr(module, "dim", None)
    if type(module) in (Softmax, LogSoftmax) and isinstance(dim, int) \
            and -ndim <= dim < ndim and dim % ndim != ndim - 1:
        raise ValueError(f"LocoProp: {type(module).__name__}(dim={dim}) after the Linear layer "
                         f"'{layer.name}' runs over dimension {dim} of its {ndim}-d input; "
                         f"only the last dimension (the features) is supported")


def decompose(model: Module, loss_fn=None, output_transfer=None):
    """Split ``model`` into its input modules and its ``LocalLayer``s.

    Args:
        model: the network (see the module docstring for what is supported).
        loss_fn: the training loss, to infer the last layer's transfer function when no
            activation module follows the last ``Linear``.
        output_transfer: the last layer's transfer function when it is inside the loss (a name
            of ``matching.TRANSFERS``); overrides the inference from ``loss_fn``.

    Returns:
        ``(prefix, layers)``: the modules applied to the input before the first ``Linear``
        (``Flatten``), and the list of ``LocalLayer``.

    Raises:
        TypeError: naming the first module that does not fit, and what is supported.
        ValueError: no ``Linear`` layer; an unknown last transfer function.

    Example:
        >>> import locograd as lg
        >>> net = lg.nn.Sequential(lg.nn.Linear(4, 3), lg.nn.Tanh(), lg.nn.Linear(3, 2))
        >>> _, layers = decompose(net, lg.nn.CrossEntropyLoss())
        >>> [(layer.name, layer.transfer.name) for layer in layers]
        [('0', 'tanh'), ('2', 'softmax')]
    """
    if not isinstance(model, Module):
        raise TypeError(f"LocoProp: expected the model (an nn.Module), got "
                        f"{type(model).__name__}")
    prefix: list[Module] = []
    # each entry: [name, linear, activation module or None, transfer name or None]
    found: list[list] = []
    for name, module in _leaves(model, ""):
        if isinstance(module, Linear):
            found.append([name, module, None, None])
        elif isinstance(module, Identity):
            continue
        elif isinstance(module, Flatten) and not found:
            prefix.append(module)
        elif type(module) in _ACTIVATIONS:
            if not found:
                raise TypeError(f"LocoProp: {type(module).__name__} at '{name}' comes before any "
                                f"Linear layer; supported models: {_SUPPORTED}")
            if found[-1][2] is not None:
                raise TypeError(f"LocoProp: {type(module).__name__} at '{name}' follows "
                                f"{type(found[-1][2]).__name__} after the Linear layer "
                                f"'{found[-1][0]}'; a layer has at most one transfer function; "
                                f"supported models: {_SUPPORTED}")
            found[-1][2] = module
            found[-1][3] = _ACTIVATIONS[type(module)]
        else:
            where = "the model" if name == "(model)" else f"'{name}'"
            raise TypeError(f"LocoProp: cannot decompose {where} ({type(module).__name__}) into "
                            f"local problems; supported models: {_SUPPORTED}")
    if not found:
        raise ValueError(f"LocoProp: the model has no Linear layer; supported models: "
                         f"{_SUPPORTED}")
    last = found[-1]
    if output_transfer is not None:
        output_transfer = get_transfer(output_transfer).name
        if last[2] is not None and output_transfer != last[3]:
            raise ValueError(f"LocoProp: output_transfer={output_transfer!r} but the last "
                             f"Linear layer '{last[0]}' is followed by "
                             f"{type(last[2]).__name__} ({last[3]})")
        last[3] = output_transfer
    elif last[2] is None:
        last[3] = loss_transfer(loss_fn)
        if last[3] is None:
            name = getattr(loss_fn, "__name__", None) or type(loss_fn).__name__
            raise ValueError(f"LocoProp: cannot tell the transfer function of the last layer "
                             f"'{last[0]}' from the loss {name}; give output_transfer (one of "
                             f"'identity', 'sigmoid', 'softmax', 'tanh', 'relu'), e.g. "
                             f"'sigmoid' if the loss applies a sigmoid to the logits")
    layers = [LocalLayer(name, linear, activation, get_transfer(transfer or "identity"))
              for name, linear, activation, transfer in found]
    return prefix, layers

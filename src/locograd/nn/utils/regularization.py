"""Regularisation helpers: L1 and L2 penalties over a model's weights.

Which parameters count: by default the *weights*, i.e. the parameters with two or more
dimensions (the matrices and kernels of ``Linear``, ``Conv2d``, ``Embedding`` and the recurrent
layers). One-dimensional parameters (biases, the scale and shift of normalisation layers,
``PReLU`` slopes) are left out, as is common practice; ``include_bias=True`` includes every
parameter. The rule is the same whether you pass a module, an iterable of parameters, or
``named_parameters()`` pairs.
"""
from __future__ import annotations

from ...autograd.tensor_base import TensorBase, new_tensor
from ...backend import get_default_dtype, np
from ..module import Module

__all__ = ["l1_penalty", "l2_penalty", "penalized_parameters"]


def penalized_parameters(params, include_bias: bool = False) -> list:
    """The parameters a penalty applies to (see the module docstring), each once.

    Args:
        params: a ``Module``, an iterable of tensors, or of ``(name, tensor)`` pairs.
        include_bias: also include the one-dimensional parameters.

    Returns:
        A list of tensors.

    Example:
        >>> import locograd as lg
        >>> [tuple(p.shape) for p in penalized_parameters(lg.nn.Linear(3, 2))]
        [(2, 3)]
    """
    if isinstance(params, Module):
        params = params.parameters()
    elif isinstance(params, TensorBase):
        params = [params]
    out, seen = [], set()
    for item in params:
        p = item[1] if isinstance(item, tuple) else item
        if not isinstance(p, TensorBase):
            raise TypeError(f"penalty: expected a Module, tensors or (name, tensor) pairs, got "
                            f"{type(p).__name__}")
        if id(p) in seen or not (include_bias or p.data.ndim >= 2):
            continue
        seen.add(id(p))
        out.append(p)
    return out


def _penalty(params, weight, include_bias, term):
    total = None
    for p in penalized_parameters(params, include_bias):
        t = term(p).sum()
        total = t if total is None else total + t
    if total is None:
        return new_tensor(np.zeros((), dtype=get_default_dtype()))
    return total * weight


def l1_penalty(params, weight: float = 1.0, include_bias: bool = False):
    """``weight * sum(|w|)`` over the weights, as a differentiable scalar.

    Args:
        params: a ``Module``, an iterable of tensors, or ``named_parameters()`` pairs.
        weight: the regularisation strength.
        include_bias: also penalise biases and other 1-D parameters.

    Returns:
        A 0-d tensor (0 if no parameter qualifies). Add it to the loss before ``backward()``.

    Example:
        >>> import locograd as lg
        >>> fc = lg.nn.Linear(2, 1)
        >>> with lg.no_grad():
        ...     _ = fc.weight.fill_(-0.5)
        >>> l1_penalty(fc, weight=0.1).item()
        0.10000000149011612
    """
    return _penalty(params, weight, include_bias, lambda p: p.abs())


def l2_penalty(params, weight: float = 1.0, include_bias: bool = False):
    """``weight * sum(w ** 2)`` over the weights, as a differentiable scalar.

    Its gradient is ``2 * weight * w``: SGD's ``weight_decay=wd`` matches
    ``l2_penalty(model, weight=wd / 2)``.

    Args:
        params: a ``Module``, an iterable of tensors, or ``named_parameters()`` pairs.
        weight: the regularisation strength.
        include_bias: also penalise biases and other 1-D parameters.

    Returns:
        A 0-d tensor (0 if no parameter qualifies).

    Example:
        >>> import locograd as lg
        >>> fc = lg.nn.Linear(2, 1)
        >>> with lg.no_grad():
        ...     _ = fc.weight.fill_(3.0)
        >>> l2_penalty(fc, weight=0.5).item()
        9.0
    """
    return _penalty(params, weight, include_bias, lambda p: p * p)

"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (``torch.nn.utils`` names).

Clipping is the standard remedy for exploding gradients, in recurrent nets above all: rescaling
the whole gradient when its norm exceeds a threshold keeps its direction and bounds the step.

References:
    Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent neural networks",
    ICML 2013, arXiv:1211.5063.
"""
from __future__ import annotations

import numpy as np

from ...autograd.tensor_base import TensorBase, new_tensor
from ...backend import namespace, writeable
from ...backend.devices import device, device_of, to_device

_CPU = device("cpu")

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_tensor_list(tensors, op: str) -> list:
    if isinstance(tensors, TensorBase):
        return [tensors]
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, TensorBase):
            raise TypeError(f"{op}: expected tensors, but item {i} is a {type(t).__name__}")
    return tensors


def _grads(parameters, op: str) -> list:
    return [p.grad for p in _as_tensor_list(parameters, op) if p.grad is not None]


def _vector_norm(array: np.ndarray, norm_type: float):
    """The ``norm_type``-norm of all entries of ``array``, in its dtype (0 when empty)."""
    xp = namespace(array)
    if array.size == 0:
        return array.dtype.type(0) if xp is np else xp.zeros((), array.dtype)
    return xp.linalg.norm(array.reshape(-1), ord=norm_type)


def _scale_in_place(grad, factor) -> None:
    data = grad.data
    factor = data.dtype.type(factor)  # a float64 coefficient must not upcast float32 gradients
    with np.errstate(invalid="ignore"):  # inf * 0 -> NaN, silently, as in PyTorch
        if writeable(data):
            data *= factor
        else:
            grad.data = data * factor
    grad._version[0] += 1


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None):
    """The norm of the norms of ``tensors`` (for p > 0, the norm of all their entries as one
    vector).

    Args:
        tensors: a tensor or an iterable of tensors (typically gradients).
        norm_type: the order of the norm: any real p, ``inf`` (largest magnitude) or
            ``-inf`` (smallest), or 0 (number of non-zeros).
        error_if_nonfinite: raise if the total is NaN or infinite.
        foreach: accepted for compatibility and ignored.

    Returns:
        A 0-d tensor (0 when there are no tensors).

    Example:
        >>> import locograd as lg
        >>> lg.nn.utils.get_total_norm([lg.tensor([3.0]), lg.tensor([4.0])]).item()
        5.0
    """
    tensors = _as_tensor_list(tensors, "get_total_norm")
    norm_type = float(norm_type)
    if not tensors:
        return new_tensor(np.array(0.0, dtype=np.float32))
    dtype = np.result_type(*[t.data.dtype for t in tensors])
    first = tensors[0].data
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported as inf below
        if isinstance(first, np.ndarray):
            norms = np.array([_vector_norm(t.data, norm_type) for t in tensors], dtype=dtype)
            total = np.asarray(_vector_norm(norms, norm_type), dtype=dtype)
        else:  # on a device: the norms stay there (on the first tensor's device, as PyTorch)
            where, xp = device_of(first), namespace(first)
            norms = xp.stack([to_device(_vector_norm(t.data, norm_type), where).astype(dtype)
                              for t in tensors])
            total = _vector_norm(norms, norm_type).astype(dtype)
    if error_if_nonfinite and not bool(namespace(total).isfinite(total)):
        raise RuntimeError(f"get_total_norm: the total norm of order {norm_type} of the "
                           f"gradients is {total}, so they cannot be clipped; pass "
                           f"error_if_nonfinite=False to scale them by it anyway")
    return new_tensor(total)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale the gradients of ``parameters`` in place by ``min(1, max_norm / (total_norm +
    1e-6))``, given their precomputed ``total_norm`` (a tensor or number).

    Example:
        >>> import locograd as lg
        >>> w = lg.ones(4, requires_grad=True); (w * 2).sum().backward()
        >>> lg.nn.utils.clip_grads_with_norm_([w], 1.0, lg.tensor(4.0))
        >>> [round(v, 4) for v in w.grad.tolist()]
        [0.5, 0.5, 0.5, 0.5]
    """
    _scale_to_norm(_grads(parameters, "clip_grads_with_norm_"), max_norm, total_norm)


def _scale_to_norm(grads: list, max_norm: float, total_norm) -> None:
    """``clip_grads_with_norm_`` on a list of gradients already gathered."""
    if not grads:
        return
    total = total_norm.data if isinstance(total_norm, TensorBase) else total_norm
    if not isinstance(total, (np.ndarray, np.generic, float, int)):
        total = to_device(total, _CPU)  # a device norm: the one scalar the step reads back
    total = np.asarray(total)
    coefficient = np.minimum(float(max_norm) / (total + 1e-6), 1.0)
    if coefficient >= 1.0:  # scaling by exactly 1 would change nothing; NaN still scales
        return
    for grad in grads:
        _scale_in_place(grad, coefficient)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None):
    """Rescale the gradients of ``parameters`` in place so that their total norm is at most
    ``max_norm`` (``torch.nn.utils.clip_grad_norm_``).

    The total norm ``N`` is taken over all gradients together, as if concatenated into one
    vector; every gradient is multiplied by ``min(1, max_norm / (N + 1e-6))``, which keeps the
    direction of the whole update. Parameters without a gradient are skipped.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped.
        max_norm: the largest allowed total norm.
        norm_type: order of the norm (2 by default; ``float('inf')`` for the largest entry).
        error_if_nonfinite: raise ``RuntimeError`` if the total norm is NaN or infinite
            (otherwise the gradients are scaled by it, as PyTorch does).
        foreach: accepted for compatibility and ignored.

    Returns:
        The total norm of the gradients before clipping, as a 0-d tensor.

    Example:
        >>> import locograd as lg
        >>> w = lg.ones(4, requires_grad=True); (w * 3).sum().backward()
        >>> lg.nn.utils.clip_grad_norm_([w], max_norm=1.0).item()  # sqrt(4 * 9)
        6.0
        >>> round(float(lg.nn.utils.get_total_norm([w.grad])), 4)
        1.0
    """
    grads = _grads(parameters, "clip_grad_norm_")
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    _scale_to_norm(grads, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient entry of ``parameters`` into ``[-clip_value, clip_value]`` in place.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped.
        clip_value: the largest allowed magnitude (>= 0; PyTorch does not check the sign).
        foreach: accepted for compatibility and ignored.

    Example:
        >>> import locograd as lg
        >>> w = lg.tensor([1.0, -2.0], requires_grad=True); (w * w).sum().backward()
        >>> lg.nn.utils.clip_grad_value_([w], 0.5); w.grad.tolist()
        [0.5, -0.5]
    """
    clip_value = float(clip_value)
    if not clip_value >= 0.0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for grad in _grads(parameters, "clip_grad_value_"):
        data = grad.data
        xp = namespace(data)
        if writeable(data):
            xp.clip(data, -clip_value, clip_value, out=data)
        else:
            grad.data = xp.clip(data, -clip_value, clip_value)
        grad._version[0] += 1

"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights."""
from __future__ import annotations

from ..autograd.tensor_base import TensorBase
from ..factory import _to_array
from ..tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and registers itself on a ``Module``.

    ``Parameter(t)`` shares memory with the tensor ``t`` (as in PyTorch). Operations on a
    parameter return plain tensors.

    Example:
        >>> import locograd as lg
        >>> p = lg.nn.Parameter(lg.zeros(2, 3))
        >>> p.requires_grad, p.shape
        (True, (2, 3))
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = []
        arr = data.data if isinstance(data, TensorBase) else _to_array(data)
        self.data = arr
        self.requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version = data._version if isinstance(data, TensorBase) else [0]
        self._hooks = None
        self._is_view = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

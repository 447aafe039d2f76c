"""``Linear``, ``Identity``, ``Flatten``, ``Unflatten``."""
from __future__ import annotations

import math

from .. import ops
from ..backend import get_default_dtype
from ..factory import empty
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Linear", "Bilinear", "Identity", "Flatten", "Unflatten"]


class Linear(Module):
    """``y = x @ weight.T + bias`` with ``weight`` of shape (out_features, in_features).

    Initialised as PyTorch does (``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(in),
    1/sqrt(in)) for the weight and the bias), so results are comparable.

    Example:
        >>> import locograd as lg
        >>> fc = lg.nn.Linear(3, 2)
        >>> fc.weight.shape, fc(lg.ones(5, 3)).shape
        ((2, 3), (5, 2))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None,
                 device=None):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear: in_features and out_features must be positive, got "
                             f"({in_features}, {out_features})")
        self.in_features = in_features
        self.out_features = out_features
        dtype = dtype or get_default_dtype()
        self.weight = Parameter(empty(out_features, in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init._reset_linear_(self.weight, self.bias)

    def forward(self, x):
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """``y_k = x1 @ weight[k] @ x2 + bias_k`` with ``weight`` of shape (out, in1, in2)."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        dtype = dtype or get_default_dtype()
        self.weight = Parameter(empty(out_features, in1_features, in2_features, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        bound = 1.0 / math.sqrt(in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x1, x2):
        # (B, in1) -> (B, out, in2) via the weight, then contract with x2.
        left = ops.matmul(x1.unsqueeze(1).unsqueeze(1), self.weight).squeeze(-2)
        out = (left * x2.unsqueeze(1)).sum(-1)
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged (accepts and ignores any constructor arguments)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` (by default all but the batch dimension)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        return ops.unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

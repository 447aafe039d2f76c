"""Activation modules: ``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU``, ``SELU``, ``GELU``, ``Sigmoid``,
``Tanh``, ``Softplus``, ``Softmax``, ``LogSoftmax`` and friends, with PyTorch's names, arguments and
reprs.

Each module calls its functional form in ``locograd.nn.functional``. The ``inplace`` arguments
are accepted (and shown in the repr) for compatibility; the result is always computed out of
place, with the same values.
"""
from __future__ import annotations

from .. import ops
from ..backend import get_default_dtype
from ..factory import empty
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "CELU", "SELU", "GELU", "Sigmoid", "Tanh",
           "Softplus", "Softmax", "LogSoftmax", "Softmin", "Hardtanh", "ReLU6", "SiLU", "Mish",
           "LogSigmoid", "Hardsigmoid", "Hardswish", "Softsign", "Tanhshrink", "Threshold",
           "Hardshrink", "Softshrink", "GLU"]


class _Elementwise(Module):
    """An activation without parameters that applies ``_fn`` with fixed keyword arguments."""

    _fn = None

    def __init__(self, **kwargs):
        super().__init__()
        self._kwargs = kwargs
        for name, value in kwargs.items():
            object.__setattr__(self, name, value)

    def forward(self, x):
        if not self._kwargs:
            return type(self)._fn(x)
        return type(self)._fn(x, **{k: getattr(self, k) for k in self._kwargs})

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={getattr(self, k)!r}" for k in self._kwargs)


class _Inplace(_Elementwise):
    """An activation whose only option is ``inplace``; the repr shows it only when True."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    """``max(x, 0)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.ReLU()(lg.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    _fn = staticmethod(ops.relu)


class ReLU6(_Inplace):
    """``min(max(x, 0), 6)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.ReLU6()(lg.tensor([7.0])).tolist()
        [6.0]
    """

    _fn = staticmethod(ops.relu6)


class SiLU(_Inplace):
    """``x * sigmoid(x)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.SiLU()(lg.tensor([0.0])).tolist()
        [0.0]
    """

    _fn = staticmethod(ops.silu)


class Mish(_Inplace):
    """``x * tanh(softplus(x))``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Mish()(lg.tensor([0.0])).tolist()
        [0.0]
    """

    _fn = staticmethod(ops.mish)


class Hardsigmoid(_Inplace):
    """``relu6(x + 3) / 6``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Hardsigmoid()(lg.tensor([0.0])).tolist()
        [0.5]
    """

    _fn = staticmethod(ops.hardsigmoid)


class Hardswish(_Inplace):
    """``x * relu6(x + 3) / 6``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Hardswish()(lg.tensor([4.0])).tolist()
        [4.0]
    """

    _fn = staticmethod(ops.hardswish)


class SELU(_Inplace):
    """Scaled ELU with the self-normalising constants.

    Example:
        >>> import locograd as lg
        >>> lg.nn.SELU()(lg.tensor([0.0])).tolist()
        [0.0]
    """

    _fn = staticmethod(ops.selu)


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Sigmoid()(lg.tensor([0.0])).tolist()
        [0.5]
    """

    _fn = staticmethod(ops.sigmoid)


class Tanh(_Elementwise):
    """Hyperbolic tangent.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Tanh()(lg.tensor([0.0])).tolist()
        [0.0]
    """

    _fn = staticmethod(ops.tanh)


class LogSigmoid(_Elementwise):
    """``log(sigmoid(x))``, stable for large ``|x|``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.LogSigmoid()(lg.tensor([-100.0])).tolist()
        [-100.0]
    """

    _fn = staticmethod(ops.logsigmoid)


class Softsign(_Elementwise):
    """``x / (1 + |x|)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Softsign()(lg.tensor([1.0])).tolist()
        [0.5]
    """

    _fn = staticmethod(ops.softsign)


class Tanhshrink(_Elementwise):
    """``x - tanh(x)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Tanhshrink()(lg.tensor([0.0])).tolist()
        [0.0]
    """

    _fn = staticmethod(ops.tanhshrink)


class LeakyReLU(_Elementwise):
    """``x`` where positive, ``negative_slope * x`` elsewhere.

    Example:
        >>> import locograd as lg
        >>> lg.nn.LeakyReLU(0.5)(lg.tensor([-2.0])).tolist()
        [-1.0]
    """

    _fn = staticmethod(ops.leaky_relu)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__(negative_slope=negative_slope)
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(_Elementwise):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere.

    Example:
        >>> import locograd as lg
        >>> lg.nn.ELU()(lg.tensor([0.0, 1.0])).tolist()
        [0.0, 1.0]
    """

    _fn = staticmethod(ops.elu)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(alpha=alpha)
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """``x`` where positive, ``alpha * (exp(x / alpha) - 1)`` elsewhere.

    Example:
        >>> import locograd as lg
        >>> lg.nn.CELU(2.0)(lg.tensor([1.0])).tolist()
        [1.0]
    """

    _fn = staticmethod(ops.celu)


class GELU(_Elementwise):
    """Gaussian error linear unit, exact (``approximate='none'``) or with tanh.

    Example:
        >>> import locograd as lg
        >>> lg.nn.GELU(approximate="tanh")
        GELU(approximate='tanh')
    """

    _fn = staticmethod(ops.gelu)

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        super().__init__(approximate=approximate)


class Softplus(_Elementwise):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Softplus()
        Softplus(beta=1.0, threshold=20.0)
    """

    _fn = staticmethod(ops.softplus)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__(beta=beta, threshold=threshold)


class Hardtanh(_Elementwise):
    """Clip to ``[min_val, max_val]``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Hardtanh()(lg.tensor([-2.0, 2.0])).tolist()
        [-1.0, 1.0]
    """

    _fn = staticmethod(ops.hardtanh)

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
        super().__init__(min_val=min_val, max_val=max_val)
        self.inplace = inplace


class Threshold(_Elementwise):
    """``x`` where ``x > threshold``, else ``value``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Threshold(0.5, -1.0)(lg.tensor([0.0, 1.0])).tolist()
        [-1.0, 1.0]
    """

    _fn = staticmethod(ops.threshold)

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__(threshold=threshold, value=value)
        self.inplace = inplace


class Hardshrink(_Elementwise):
    """``x`` where ``|x| > lambd``, else 0.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Hardshrink()
        Hardshrink(0.5)
    """

    _fn = staticmethod(ops.hardshrink)

    def __init__(self, lambd: float = 0.5):
        super().__init__(lambd=lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Softshrink(1.0)(lg.tensor([3.0])).tolist()
        [2.0]
    """

    _fn = staticmethod(ops.softshrink)


class _DimActivation(_Elementwise):
    def __init__(self, dim=None):
        super().__init__(dim=dim)


class Softmax(_DimActivation):
    """``exp(x) / sum(exp(x), dim)`` along ``dim``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Softmax(dim=1)(lg.zeros(1, 2)).tolist()
        [[0.5, 0.5]]
    """

    _fn = staticmethod(ops.softmax)


class LogSoftmax(_DimActivation):
    """``x - logsumexp(x, dim)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.LogSoftmax(dim=1)
        LogSoftmax(dim=1)
    """

    _fn = staticmethod(ops.log_softmax)


class Softmin(_DimActivation):
    """``softmax(-x, dim)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Softmin(dim=0)(lg.tensor([0.0, 0.0])).tolist()
        [0.5, 0.5]
    """

    _fn = staticmethod(ops.softmin)


class GLU(_Elementwise):
    """Gated linear unit along ``dim``: ``a * sigmoid(b)`` for the two halves ``a, b``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.GLU()(lg.ones(2, 4)).shape
        (2, 2)
    """

    _fn = staticmethod(ops.glu)

    def __init__(self, dim: int = -1):
        super().__init__(dim=dim)


class PReLU(Module):
    """``x`` where positive, ``weight[c] * x`` elsewhere, with learnable slopes.

    Args:
        num_parameters: 1 (one slope shared by all channels) or the number of channels (dim 1
            of the input).
        init: initial value of the slopes (PyTorch's default 0.25).

    Example:
        >>> import locograd as lg
        >>> act = lg.nn.PReLU(3)
        >>> act.weight.tolist(), act(lg.full((1, 3), -2.0)).tolist()
        ([0.25, 0.25, 0.25], [[-0.5, -0.5, -0.5]])
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=None, device=None):
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be at least 1, got {num_parameters}")
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, dtype=dtype or get_default_dtype()))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, x):
        return ops.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

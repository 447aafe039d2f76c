"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d`` (``torch.nn`` names and init)."""
from __future__ import annotations

from .. import ops
from ..backend import get_default_dtype
from ..factory import empty
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]


def _tuple(value, n: int, name: str, layer: str) -> tuple:
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value}")
    return value


class _ConvNd(Module):
    """Shared parameters, initialisation and repr of the convolution layers.

    The weight is (out_channels, in_channels / groups, *kernel_size) for convolutions and
    (in_channels, out_channels / groups, *kernel_size) for transposed convolutions, as PyTorch;
    both are initialised with ``kaiming_uniform_(a=sqrt(5))`` and the bias with
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's defaults.
    """

    _dims = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        name, n = type(self).__name__, self._dims
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f"{name}: in_channels and out_channels must be positive, got "
                             f"({in_channels}, {out_channels})")
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode {padding_mode!r} is not supported; "
                                      f"only 'zeros'")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be 'same', 'valid', an int or a tuple, "
                                 f"got {padding!r}")
        else:
            padding = _tuple(padding, n, "padding", name)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", name)
        self.stride = _tuple(stride, n, "stride", name)
        self.padding = padding
        self.dilation = _tuple(dilation, n, "dilation", name)
        self.padding_mode = padding_mode
        dtype = dtype or get_default_dtype()
        shape = (in_channels, out_channels // groups) if self._transposed else \
            (out_channels, in_channels // groups)
        self.weight = Parameter(empty(*shape, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init._reset_linear_(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
            f"stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) \
                else f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if getattr(self, "output_padding", (0,) * self._dims) != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) inputs (``F.conv2d``).

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, dilation: an int or a pair.
        padding: an int, a pair, ``'same'`` (stride 1) or ``'valid'``.
        groups: channel groups (``in_channels`` and ``out_channels`` divisible by it).
        bias: learn an additive bias.
        padding_mode: only ``'zeros'``.

    Example:
        >>> import locograd as lg
        >>> conv = lg.nn.Conv2d(3, 8, 3, padding=1)
        >>> conv.weight.shape, conv(lg.zeros(2, 3, 5, 5)).shape
        ((8, 3, 3, 3), (2, 8, 5, 5))
    """

    def forward(self, input):
        return ops.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) inputs (``F.conv1d``); arguments as ``Conv2d``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.Conv1d(4, 2, 3)(lg.zeros(1, 4, 10)).shape
        (1, 2, 8)
    """

    _dims = 1

    def forward(self, input):
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return ops.conv1d(input, self.weight, self.bias, self.stride[0], padding,
                          self.dilation[0], self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (``F.conv_transpose2d``); weight (C_in, C_out / groups, kh, kw).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias:
            as ``Conv2d`` (``padding`` an int or a pair).
        output_padding: extra rows/columns at the end of the output (``forward`` does not take
            PyTorch's ``output_size`` argument: set ``output_padding`` instead).

    Example:
        >>> import locograd as lg
        >>> lg.nn.ConvTranspose2d(4, 2, 2, stride=2)(lg.zeros(1, 4, 3, 3)).shape
        (1, 2, 6, 6)
    """

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        if isinstance(padding, str):
            raise TypeError(f"ConvTranspose2d: padding must be an int or a pair, got "
                            f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.output_padding = _tuple(output_padding, 2, "output_padding", "ConvTranspose2d")

    def forward(self, input):
        return ops.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                    self.output_padding, self.groups, self.dilation)

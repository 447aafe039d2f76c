"""More normalisation layers, composed of existing ops: ``GroupNorm``, ``InstanceNorm1d/2d``,
``RMSNorm``, ``LocalResponseNorm`` and their functional forms (``torch.nn`` names)."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd.grad_mode import no_grad
from ..backend import get_default_dtype
from ..factory import ones, tensor, zeros
from . import init
from .module import Module
from .normalization import _BatchNorm
from .parameter import Parameter

__all__ = ["GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "RMSNorm", "LocalResponseNorm",
           "group_norm", "instance_norm", "rms_norm", "local_response_norm"]


def _channel_affine(x, weight, bias):
    """``x * weight + bias`` with per-channel (dimension 1) vectors."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if weight is not None:
        x = x * weight.reshape(shape)
    if bias is not None:
        x = x + bias.reshape(shape)
    return x


def _standardize(x, dims, eps):
    """``(x - mean) / sqrt(var + eps)`` over ``dims`` (biased variance)."""
    mean = ops.mean(x, dims, keepdim=True)
    centered = x - mean
    var = ops.mean(centered * centered, dims, keepdim=True)
    return centered * ops.rsqrt(var + eps)


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """Normalise (N, C, *) inputs over each group of ``C / num_groups`` channels (and all
    spatial positions), then scale and shift per channel.

    Example:
        >>> import locograd as lg
        >>> y = lg.nn.functional.group_norm(lg.randn(2, 4, 3), 2)
        >>> round(abs(y[0, :2].mean().item()), 5)
        0.0
    """
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise ValueError(f"group_norm: expected an (N, C, *) input with C divisible by "
                         f"num_groups={num_groups}, got shape {input.shape}")
    n = input.shape[0]
    grouped = input.reshape(n, num_groups, -1)
    x = _standardize(grouped, -1, eps).reshape(input.shape)
    return _channel_affine(x, weight, bias)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5):
    """Normalise each channel of each sample over its spatial positions ((N, C, *) input).

    With ``use_input_stats`` and running buffers, the buffers are updated in place with the
    batch's mean of the per-instance statistics (unbiased variance), as ``batch_norm``'s are;
    without ``use_input_stats`` the running statistics normalise instead.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.instance_norm(lg.randn(2, 3, 5)).shape
        (2, 3, 5)
    """
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an (N, C, *) input with spatial dimensions, "
                         f"got shape {input.shape}")
    dims = tuple(range(2, input.ndim))
    shape = (1, -1) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                             "running_var")
        x = (input - running_mean.reshape(shape)) * ops.rsqrt(running_var.reshape(shape) + eps)
        return _channel_affine(x, weight, bias)
    if running_mean is not None and running_var is not None:
        with no_grad():
            values = input.detach().numpy()
            count = int(np.prod([input.shape[d] for d in dims]))
            mean = values.mean(dims).mean(0)
            var = values.var(dims, ddof=1 if count > 1 else 0).mean(0)
            for buffer, new in ((running_mean, mean), (running_var, var)):
                buffer.copy_(buffer * (1.0 - momentum) + tensor(new.astype(buffer.dtype))
                             * momentum)
    return _channel_affine(_standardize(input, dims, eps), weight, bias)


def rms_norm(input, normalized_shape, weight=None, eps: float | None = None):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape``
    dimensions (``eps`` default: the machine epsilon of the input's dtype, as PyTorch).

    Example:
        >>> import locograd as lg
        >>> y = lg.nn.functional.rms_norm(lg.tensor([[3.0, 4.0]]), (2,))
        >>> [round(v, 4) for v in y[0].tolist()]
        [0.8485, 1.1314]
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise ValueError(f"rms_norm: normalized_shape {shape} must be the input's trailing "
                         f"dimensions, got input shape {input.shape}")
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    x = input * ops.rsqrt(ops.mean(input * input, dims, keepdim=True) + eps)
    return x if weight is None else x * weight


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0):
    """``x / (k + alpha / size * sum of x^2 over `size` neighbouring channels)^beta``
    (Krizhevsky et al., 2012); the window is zero-padded at the channel ends.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.local_response_norm(lg.ones(1, 4, 2, 2), 2).shape
        (1, 4, 2, 2)
    """
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected an (N, C, *) input with spatial "
                         f"dimensions, got shape {input.shape}")
    channels = input.shape[1]
    squares = (input * input).movedim(1, -1)
    padded = ops.pad(squares, (size // 2, (size - 1) // 2))
    window = padded[..., 0:channels]
    for offset in range(1, size):
        window = window + padded[..., offset:offset + channels]
    div = (window.movedim(-1, 1) * (alpha / size) + k) ** beta
    return input / div


class GroupNorm(Module):
    """Group normalisation (Wu & He, 2018): ``F.group_norm`` with learnt per-channel
    ``weight`` (ones) and ``bias`` (zeros) when ``affine``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.GroupNorm(2, 6)(lg.randn(3, 6, 4, 4)).shape
        (3, 6, 4, 4)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = \
            num_groups, num_channels, eps, affine
        dtype = dtype or get_default_dtype()
        if affine:
            self.weight = Parameter(ones(num_channels, dtype=dtype))
            self.bias = Parameter(zeros(num_channels, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input):
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(_BatchNorm):
    """Parameters, buffers and their resets as batch normalisation's (PyTorch's ``_NormBase``);
    the defaults differ: no affine parameters and no running statistics."""

    _spatial = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype=dtype)

    def forward(self, input):
        name = type(self).__name__
        if input.ndim not in (self._spatial + 1, self._spatial + 2):
            raise ValueError(f"{name}: expected a {self._spatial + 1}-D (unbatched) or "
                             f"{self._spatial + 2}-D input, got shape {input.shape}")
        batched = input.ndim == self._spatial + 2
        x = input if batched else input.unsqueeze(0)
        if x.shape[1] != self.num_features and self.affine:
            raise ValueError(f"{name}: expected {self.num_features} channels, got shape "
                             f"{input.shape}")
        use_input_stats = self.training or not self.track_running_stats
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          use_input_stats, self.momentum, self.eps)
        return y if batched else y.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L) inputs (Ulyanov et al., 2016); by default
    no affine parameters and no running statistics, as PyTorch.

    Example:
        >>> import locograd as lg
        >>> lg.nn.InstanceNorm1d(3)(lg.randn(2, 3, 5)).shape
        (2, 3, 5)
    """


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) inputs.

    Example:
        >>> import locograd as lg
        >>> lg.nn.InstanceNorm2d(3, affine=True)(lg.randn(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    _spatial = 2


class RMSNorm(Module):
    """Root-mean-square normalisation (Zhang & Sennrich, 2019) over the trailing
    ``normalized_shape`` dimensions, with a learnt ``weight`` (ones) when
    ``elementwise_affine``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.RMSNorm(4)(lg.randn(2, 4)).shape
        (2, 4)
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape,
                                         dtype=dtype or get_default_dtype()))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input):
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """``F.local_response_norm`` as a module.

    Example:
        >>> import locograd as lg
        >>> lg.nn.LocalResponseNorm(3)(lg.randn(2, 5, 4)).shape
        (2, 5, 4)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"

"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm`` (``torch.nn`` names)."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..backend import get_default_dtype
from ..factory import ones, tensor, zeros
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    """Batch normalisation over the channel dimension (1) with running statistics as buffers.

    Buffers: ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked`` (an
    int64 counter), when ``track_running_stats``. In training, batch statistics normalise the
    input and update the running ones (the running variance is unbiased); ``momentum=None`` makes
    them a cumulative average. In evaluation the running statistics are used (batch statistics
    if they are not tracked).
    """

    _input_dims = (2, 3)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__()
        if num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, got "
                             f"{num_features}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = dtype or get_default_dtype()
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype))
            self.bias = Parameter(zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input):
        if input.data.ndim not in self._input_dims:
            dims = " or ".join(f"{d}-D" for d in self._input_dims)
            raise ValueError(f"{type(self).__name__}: expected a {dims} input, got shape "
                             f"{tuple(input.data.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            counter = self.num_batches_tracked
            counter.data += 1
            counter._version[0] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / int(counter.data)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return ops.batch_norm(input, self.running_mean if track else None,
                              self.running_var if track else None, self.weight, self.bias,
                              use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs.

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: weight of each new batch in the running statistics (None: cumulative average).
        affine: learn ``weight`` (ones) and ``bias`` (zeros).
        track_running_stats: keep running statistics (else batch statistics are always used).

    Example:
        >>> import locograd as lg
        >>> bn = lg.nn.BatchNorm1d(3)
        >>> _ = bn(lg.randn(8, 3))
        >>> int(bn.num_batches_tracked), bn.running_mean.shape
        (1, (3,))
    """


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs (arguments as ``BatchNorm1d``).

    Example:
        >>> import locograd as lg
        >>> lg.nn.BatchNorm2d(4)(lg.randn(2, 4, 3, 3)).shape
        (2, 4, 3, 3)
    """

    _input_dims = (4,)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dimensions (``F.layer_norm``).

    Args:
        normalized_shape: an int or a tuple (the trailing dimensions of the input).
        eps: added to the variance.
        elementwise_affine: learn ``weight`` (ones) and ``bias`` of that shape.
        bias: learn the bias (when ``elementwise_affine``).

    Example:
        >>> import locograd as lg
        >>> ln = lg.nn.LayerNorm(4)
        >>> ln.weight.shape, ln(lg.randn(2, 3, 4)).shape
        ((4,), (2, 3, 4))
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dtype = dtype or get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(*self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        return ops.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")

"""Resampling: ``PixelShuffle``, ``PixelUnshuffle``, ``Upsample`` and ``F.interpolate``
(nearest, linear, bilinear), ``F.pixel_shuffle``, ``F.pixel_unshuffle`` (``torch.nn`` names),
composed of ``reshape``/``permute`` and ``index_select``."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..factory import tensor
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle", "Upsample", "interpolate", "pixel_shuffle",
           "pixel_unshuffle"]


def pixel_shuffle(input, upscale_factor: int):
    """(*, C r^2, H, W) -> (*, C, H r, W r): sub-pixel convolution's rearrangement (Shi et al.,
    2016).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.pixel_shuffle(lg.randn(1, 8, 3, 3), 2).shape
        (1, 2, 6, 6)
    """
    r = upscale_factor
    *lead, c, h, w = input.shape
    if input.ndim < 3 or c % (r * r):
        raise ValueError(f"pixel_shuffle: expected (*, C, H, W) with C divisible by "
                         f"upscale_factor^2 = {r * r}, got shape {input.shape}")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor: int):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of ``pixel_shuffle``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.pixel_unshuffle(lg.randn(1, 2, 6, 6), 2).shape
        (1, 8, 3, 3)
    """
    r = downscale_factor
    *lead, c, h, w = input.shape
    if input.ndim < 3 or h % r or w % r:
        raise ValueError(f"pixel_unshuffle: expected (*, C, H, W) with H and W divisible by "
                         f"downscale_factor={r}, got shape {input.shape}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def _source_coordinates(size_in, size_out, scale, mode, align_corners):
    """Where each output position samples the input along one dimension."""
    out = np.arange(size_out, dtype=np.float64)
    if mode == "nearest":
        return np.minimum(np.floor(out * scale).astype(np.int64), size_in - 1)
    if align_corners:
        step = (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
        return out * step
    return np.maximum((out + 0.5) * scale - 0.5, 0.0)


_MODES = {"nearest": 1, "linear": 1, "bilinear": 2}


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None, recompute_scale_factor=None, antialias: bool = False):
    """Resize the spatial dimensions of (N, C, *) inputs.

    Args:
        input: (N, C, L) for ``'nearest'``/``'linear'``, (N, C, H, W) for ``'nearest'``/
            ``'bilinear'``.
        size: the output's spatial size (an int or one per dimension), or
        scale_factor: a factor (or one per dimension); the output size is ``floor(in * s)``
            and, as PyTorch without ``recompute_scale_factor``, positions map back with ``1/s``.
        mode: ``'nearest'``, ``'linear'`` or ``'bilinear'``.
        align_corners: for the linear modes: map the corner pixels' centres onto each other
            (default False).
        recompute_scale_factor: map positions back with ``in / out`` instead of ``1 / s``.
        antialias: must be False.

    Example:
        >>> import locograd as lg
        >>> x = lg.tensor([[[1.0, 2.0]]])
        >>> lg.nn.functional.interpolate(x, scale_factor=2).tolist()
        [[[1.0, 1.0, 2.0, 2.0]]]
        >>> lg.nn.functional.interpolate(x, size=3, mode="linear", align_corners=True).tolist()
        [[[1.0, 1.5, 2.0]]]
    """
    name = "interpolate"
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be 'nearest', 'linear' or 'bilinear' (others are not "
                         f"supported), got {mode!r}")
    spatial = input.ndim - 2
    if spatial < 1 or (mode != "nearest" and spatial != _MODES[mode]) or spatial > 2:
        raise ValueError(f"{name}: mode {mode!r} does not fit an input of shape {input.shape}")
    if align_corners is not None and mode == "nearest":
        raise ValueError(f"{name}: align_corners only applies to the linear modes")
    if antialias:
        raise ValueError(f"{name}: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: give exactly one of size and scale_factor")
    sizes_in = input.shape[2:]
    if size is not None:
        sizes = (size,) * spatial if isinstance(size, int) else tuple(size)
        scales = [i / o for i, o in zip(sizes_in, sizes)]
    else:
        factors = (scale_factor,) * spatial if isinstance(scale_factor, (int, float)) \
            else tuple(scale_factor)
        sizes = tuple(int(math.floor(i * f)) for i, f in zip(sizes_in, factors))
        scales = [i / o if recompute_scale_factor else 1.0 / f
                  for i, o, f in zip(sizes_in, sizes, factors)]
    if len(sizes) != spatial or min(sizes) < 1:
        raise ValueError(f"{name}: the output size {sizes} does not fit an input of shape "
                         f"{input.shape}")
    x = input
    for axis, (size_in, size_out, scale) in enumerate(zip(sizes_in, sizes, scales), start=2):
        source = _source_coordinates(size_in, size_out, scale, mode, bool(align_corners))
        if mode == "nearest":
            x = ops.index_select(x, axis, tensor(source))
            continue
        low = np.minimum(np.floor(source).astype(np.int64), size_in - 1)
        high = np.minimum(low + 1, size_in - 1)
        shape = [1] * x.ndim
        shape[axis] = size_out
        weight = tensor((source - low).astype(x.dtype).reshape(shape))
        below = ops.index_select(x, axis, tensor(low))
        x = below + (ops.index_select(x, axis, tensor(high)) - below) * weight
    return x


class PixelShuffle(Module):
    """``F.pixel_shuffle`` as a module.

    Example:
        >>> import locograd as lg
        >>> lg.nn.PixelShuffle(3)(lg.randn(2, 9, 4, 4)).shape
        (2, 1, 12, 12)
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``F.pixel_unshuffle`` as a module.

    Example:
        >>> import locograd as lg
        >>> lg.nn.PixelUnshuffle(2)(lg.randn(2, 1, 4, 4)).shape
        (2, 4, 2, 2)
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class Upsample(Module):
    """``F.interpolate`` as a module (``size`` or ``scale_factor``, ``mode``,
    ``align_corners``).

    Example:
        >>> import locograd as lg
        >>> lg.nn.Upsample(scale_factor=2, mode="bilinear")(lg.randn(1, 3, 4, 4)).shape
        (1, 3, 8, 8)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else \
            f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"

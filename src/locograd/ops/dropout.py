"""Dropout: inverted dropout, channel-wise (feature) dropout and alpha dropout.

Every mask is drawn from ``generator`` (default: locograd's seeded default generator), so a
seed makes a run repeatable and a fixed generator gives a fixed mask (for gradient checks).
All draws go through ``_uniform``, the one place that decides where random numbers come from.
The ``inplace`` arguments are accepted for compatibility with PyTorch; the result is always
computed out of place.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend import namespace, rng
from ..backend.devices import device_of, to_device

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout"]

# SELU's constants (Klambauer et al., 2017); alpha dropout keeps SELU's fixed point.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class Dropout(Function):
    """``x * mask`` with a fixed (scaled) mask drawn in the public function."""

    label = "Dropout"

    @staticmethod
    def forward(ctx, a, mask):
        ctx.mask = mask
        return a.data * mask

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.mask, None  # a constant mask


def _check_probability(p: float, name: str) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")


def _uniform(generator, shape, like):
    """Uniform draws in [0, 1) of ``shape``, as an array of the backend of ``like``.

    The one place dropout draws random numbers. Today they come from the NumPy generator behind
    ``generator`` on the host (so a seed gives the same masks everywhere) and are copied to the
    device for device data; a device generator would be routed here.
    """
    u = rng(generator).random(shape)
    return u if type(like) is np.ndarray else to_device(u, device_of(like))


def _keep_mask(x, p: float, shape, generator, name: str):
    if x.data.dtype.kind != "f":
        raise TypeError(f"{name}: expects a floating-point tensor, got {x.data.dtype}")
    return _uniform(generator, shape, x.data) >= p


def _dropout(x, p, training, generator, shape, name):
    if not training or p == 0.0:
        return x
    keep = _keep_mask(x, p, shape, generator, name)
    # Inverted dropout: scale at training time so evaluation is the identity. p == 1 drops all.
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return Dropout.apply(x, keep.astype(x.data.dtype) * x.data.dtype.type(scale))


def dropout(x, p: float = 0.5, training: bool = True, inplace: bool = False, generator=None):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    The mask is drawn from ``generator`` (default: locograd's seeded generator). In evaluation
    (``training=False``) or with ``p = 0`` the input is returned unchanged; ``p = 1`` gives zeros.

    Example:
        >>> import locograd as lg
        >>> y = lg.nn.functional.dropout(lg.ones(1000), 0.5, generator=lg.Generator(0))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
    """
    _check_probability(p, "dropout")
    return _dropout(x, p, training, generator, x.data.shape, "dropout")


def _feature_dropout(x, p, training, generator, n_spatial: int, name: str):
    nd = x.data.ndim
    if nd not in (n_spatial + 1, n_spatial + 2):
        raise ValueError(f"{name}: expects a {n_spatial + 1}-D (unbatched) or {n_spatial + 2}-D "
                         f"(batched) input, got shape {x.data.shape}")
    _check_probability(p, name)
    shape = x.data.shape[:nd - n_spatial] + (1,) * n_spatial  # one draw per channel
    return _dropout(x, p, training, generator, shape, name)


def dropout1d(x, p: float = 0.5, training: bool = True, inplace: bool = False, generator=None):
    """Zero whole channels of an (N, C, L) or (C, L) input with probability ``p``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.dropout1d(lg.ones(2, 3, 4), training=False).shape
        (2, 3, 4)
    """
    return _feature_dropout(x, p, training, generator, 1, "dropout1d")


def dropout2d(x, p: float = 0.5, training: bool = True, inplace: bool = False, generator=None):
    """Zero whole channels of an (N, C, H, W) or (C, H, W) input with probability ``p``.

    Example:
        >>> import locograd as lg
        >>> y = lg.nn.functional.dropout2d(lg.ones(1, 8, 2, 2), generator=lg.Generator(0))
        >>> bool(((y.numpy() == 0).all((2, 3)) | (y.numpy() == 2).all((2, 3))).all())
        True
    """
    return _feature_dropout(x, p, training, generator, 2, "dropout2d")


def dropout3d(x, p: float = 0.5, training: bool = True, inplace: bool = False, generator=None):
    """Zero whole channels of an (N, C, D, H, W) or (C, D, H, W) input with probability ``p``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.dropout3d(lg.ones(1, 2, 1, 1, 1), p=0.0).shape
        (1, 2, 1, 1, 1)
    """
    return _feature_dropout(x, p, training, generator, 3, "dropout3d")


def alpha_dropout(x, p: float = 0.5, training: bool = False, inplace: bool = False,
                  generator=None):
    """Dropout that keeps SELU's zero mean and unit variance (Klambauer et al., 2017).

    Dropped elements are set to SELU's negative saturation value, then an affine map restores
    the mean and variance.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.alpha_dropout(lg.ones(3), 0.5, training=False).tolist()
        [1.0, 1.0, 1.0]
    """
    _check_probability(p, "alpha_dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = _keep_mask(x, p, x.data.shape, generator, "alpha_dropout")
    dt = x.data.dtype
    saturation = -_SELU_ALPHA * _SELU_SCALE
    a = 1.0 / math.sqrt((1.0 - p) * (1.0 + p * saturation * saturation))
    b = -a * saturation * p
    offset = namespace(keep).where(keep, b, a * saturation + b).astype(dt)
    return Dropout.apply(x, keep.astype(dt) * dt.type(a)) + offset

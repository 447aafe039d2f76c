"""Dropout modules: ``Dropout``, ``Dropout1d``, ``Dropout2d``, ``Dropout3d``, ``AlphaDropout``.

Active in training mode only (``module.train()``), the identity after ``module.eval()``. Masks
are drawn from the ``generator`` given to the constructor, or from locograd's seeded default
generator.
"""
from __future__ import annotations

import warnings

from .. import ops
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"]


class _DropoutNd(Module):
    _fn = None

    def __init__(self, p: float = 0.5, inplace: bool = False, generator=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 "
                             f"and 1, but got {p!r}")
        self.p = float(p)
        self.inplace = inplace
        self.generator = generator

    def forward(self, x):
        return type(self)._fn(x, self.p, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` during training; scale the rest by
    ``1 / (1 - p)`` (inverted dropout), so evaluation needs no rescaling.

    Args:
        p: probability of dropping an element.
        inplace: accepted for compatibility; the result is computed out of place.
        generator: optional ``lg.Generator`` for the masks (locograd extension).

    Example:
        >>> import locograd as lg
        >>> drop = lg.nn.Dropout(0.5).eval()
        >>> drop(lg.ones(3)).tolist()
        [1.0, 1.0, 1.0]
    """

    _fn = staticmethod(ops.dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) inputs with probability ``p`` (training only).

    Example:
        >>> import locograd as lg
        >>> lg.nn.Dropout1d(0.2)
        Dropout1d(p=0.2, inplace=False)
    """

    _fn = staticmethod(ops.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) inputs with probability ``p`` (training only).

    Example:
        >>> import locograd as lg
        >>> lg.nn.Dropout2d()(lg.ones(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    _fn = staticmethod(ops.dropout2d)

    def forward(self, x):
        if x.ndim == 2:
            # PyTorch warns, then drops elements (there are no channels to drop)
            warnings.warn("dropout2d: Received a 2-D input to dropout2d, which is deprecated "
                          "and will result in an error in a future release. To retain the "
                          "behavior and silence this warning, please use dropout instead.",
                          UserWarning, stacklevel=2)
            return ops.dropout(x, self.p, self.training, generator=self.generator)
        return super().forward(x)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) inputs with probability ``p`` (training only).

    Example:
        >>> import locograd as lg
        >>> lg.nn.Dropout3d()
        Dropout3d(p=0.5, inplace=False)
    """

    _fn = staticmethod(ops.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: keeps zero mean and unit variance (training only).

    Example:
        >>> import locograd as lg
        >>> lg.nn.AlphaDropout(0.1)
        AlphaDropout(p=0.1, inplace=False)
    """

    _fn = staticmethod(ops.alpha_dropout)

"""Shape helpers for op specs: random small shapes and broadcasting pairs."""
from __future__ import annotations

import numpy as np

BROADCAST_PAIRS = [
    ((), (4,)), ((4,), ()), ((4,), (4,)), ((3, 4), (4,)), ((3, 4), (1, 4)), ((3, 1), (1, 4)),
    ((3, 4), (3, 4)), ((2, 3, 4), (3, 1)), ((1,), (2, 3)),
]


def broadcast_pair(rng: np.random.Generator):
    """Two shapes that broadcast together (scalar, (4,), (3, 4), (1, 4) and friends)."""
    return BROADCAST_PAIRS[rng.integers(len(BROADCAST_PAIRS))]


def random_shape(rng: np.random.Generator, min_ndim: int = 0, max_ndim: int = 3,
                 max_size: int = 4) -> tuple:
    ndim = int(rng.integers(min_ndim, max_ndim + 1))
    return tuple(int(s) for s in rng.integers(1, max_size + 1, size=ndim))


def normal(rng: np.random.Generator, *shapes):
    """Standard normal float64 arrays of the given shapes."""
    return tuple(rng.standard_normal(s) for s in shapes)


def positive(rng: np.random.Generator, *shapes, low: float = 0.5, high: float = 2.0):
    return tuple(rng.uniform(low, high, s) for s in shapes)


def away_from(rng: np.random.Generator, shape, points=(0.0,), margin: float = 0.05):
    """Normal values kept ``margin`` away from non-differentiable ``points`` (kinks)."""
    x = rng.standard_normal(shape)
    for p in points:
        close = np.abs(x - p) < margin
        x = np.where(close, p + np.sign(x - p + 1e-12) * margin * 2, x)
    return x

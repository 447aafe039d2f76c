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
    """Normal values kept ``margin`` away from non-differentiable ``points`` (kinks).

    Values that fall too close to any point are redrawn, so several nearby points are safe.
    """
    x = np.asarray(rng.standard_normal(shape))
    pts = np.asarray(points, dtype=np.float64)
    for _ in range(200):
        close = (np.abs(x[..., None] - pts) < margin).any(axis=-1)
        if not close.any():
            return x
        x = np.where(close, rng.standard_normal(shape), x)
    raise ValueError(f"away_from: cannot draw normal values {margin} away from {points}")


def lattice(rng: np.random.Generator, shape, odd: bool, spacing: float = 0.2,
            jitter: float = 0.02):
    """Values on odd (or even) multiples of ``spacing / 2``, plus a little jitter.

    Two arrays drawn with ``odd=True`` and ``odd=False`` never come closer than
    ``spacing / 2 - 2 * jitter``, whatever their shapes: the pair for max/min-like ops, whose
    derivative jumps where the operands tie.
    """
    k = rng.integers(-8, 8, size=shape) * 2 + (1 if odd else 0)
    return k * (spacing / 2) + rng.uniform(-jitter, jitter, size=shape)


def distinct(rng: np.random.Generator, shape, spacing: float = 0.25, jitter: float = 0.05):
    """Values that are pairwise at least ``spacing - 2 * jitter`` apart (no ties in max/sort)."""
    n = int(np.prod(shape, dtype=np.int64))
    grid = (rng.permutation(n) - n / 2) * spacing
    return (grid + rng.uniform(-jitter, jitter, n)).reshape(shape)


def checker(shape) -> np.ndarray:
    """A deterministic bool pattern of ``shape`` (True on even flat positions)."""
    n = int(np.prod(shape, dtype=np.int64))
    return (np.arange(n) % 2 == 0).reshape(shape)


def broadcast_triple(rng: np.random.Generator):
    """Three shapes that broadcast together (for ``where``)."""
    return [((3, 4), (4,), ()), ((4,), (3, 1), (1, 4)), ((), (2, 3), (3,)),
            ((2, 1, 4), (3, 1), (4,))][rng.integers(4)]


def fixed(*shapes):
    """An ``inputs`` function: standard normal arrays of the given fixed shapes."""
    def inputs(rng: np.random.Generator):
        return normal(rng, *shapes)
    return inputs


def position_weights(shape) -> np.ndarray:
    """A fixed weight per position (``linspace(-1, 2)``): ``sum(out * w)`` tells entries apart,
    where a plain sum of the gradient would hide a wrong permutation or a wrong index."""
    n = int(np.prod(shape, dtype=np.int64))
    return np.linspace(-1.0, 2.0, n).reshape(shape)


def weighted(fn):
    """``fn`` with its output multiplied by ``position_weights`` (in the output's dtype)."""
    def weighted_fn(*tensors):
        import locograd as lg
        out = fn(*tensors)
        return out * lg.tensor(position_weights(out.shape), dtype=out.dtype)
    return weighted_fn


def weighted_ref(reference):
    """The NumPy reference of ``weighted(fn)``."""
    def weighted_reference(*arrays):
        out = np.asarray(reference(*arrays))
        return out * position_weights(out.shape)
    return weighted_reference


def random_normal(min_ndim: int = 0, max_ndim: int = 3, max_size: int = 4):
    """An ``inputs`` function: one standard normal array of a random shape."""
    def inputs(rng: np.random.Generator):
        return normal(rng, random_shape(rng, min_ndim, max_ndim, max_size))
    return inputs

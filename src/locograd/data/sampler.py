"""Samplers: the order in which a ``DataLoader`` visits a map-style dataset (PyTorch's names).

Every random sampler draws from its ``generator`` (default: the generator ``lg.manual_seed``
seeds) when a new epoch's iterator is created, so every epoch is a fresh, reproducible draw.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..autograd.tensor_base import TensorBase
from ..backend import Generator, rng

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "ClassBalancedBatchSampler"]


def _positive_int(value, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{where}: {name} should be a positive integer value, but got "
                         f"{name}={value!r}")
    return int(value)


def _as_numpy(values, where: str) -> np.ndarray:
    array = np.asarray(values.data if isinstance(values, TensorBase) else values)
    if array.ndim != 1:
        raise ValueError(f"{where}: expected a 1-D sequence, got shape {array.shape}")
    return array


class Sampler:
    """Base class: ``__iter__`` yields dataset indices (batch samplers yield lists of them).

    Example:
        >>> class Reverse(Sampler):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter(range(self.n - 1, -1, -1))
        ...     def __len__(self):
        ...         return self.n
        >>> list(Reverse(3))
        [2, 1, 0]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``.

    Example:
        >>> list(SequentialSampler(range(3)))
        [0, 1, 2]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices: a permutation per epoch, or draws with replacement.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw ``num_samples`` indices independently (with repeats), lazily, 32 at
            a time, so a huge ``num_samples`` allocates nothing.
        num_samples: how many indices per epoch (default ``len(data_source)``). Without
            replacement and more than ``len(data_source)``, whole permutations follow each other.
        generator: the generator to draw from.

    Example:
        >>> import locograd as lg
        >>> sorted(RandomSampler(range(5), generator=lg.Generator(0)))
        [0, 1, 2, 3, 4]
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _positive_int(self.num_samples, "num_samples", "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, count, random = len(self.data_source), self.num_samples, rng(self.generator)
        if self.replacement:
            return _draws_with_replacement(random, n, count)
        pieces = [random.permutation(n) for _ in range(count // n)]
        if count % n:
            pieces.append(random.permutation(n)[:count % n])
        return iter(np.concatenate(pieces).tolist())

    def __len__(self) -> int:
        return self.num_samples


def _draws_with_replacement(random, n: int, count: int, chunk: int = 32):
    """``count`` uniform indices below ``n``, drawn lazily ``chunk`` at a time (as PyTorch):
    ``num_samples=10**10`` costs nothing until it is iterated, and memory stays constant."""
    while count > 0:
        size = min(chunk, count)
        yield from random.integers(0, n, size=size).tolist()
        count -= size


class SubsetRandomSampler(Sampler):
    """The given indices in a random order, a new order every epoch.

    Example:
        >>> import locograd as lg
        >>> sorted(SubsetRandomSampler([4, 8, 15], generator=lg.Generator(0)))
        [4, 8, 15]
    """

    def __init__(self, indices, generator: Generator | None = None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        order = rng(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in order.tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices drawn with probability proportional to ``weights`` (show hard examples more often).

    Args:
        weights: one non-negative, finite weight per sample (not necessarily summing to one).
        num_samples: how many indices per epoch.
        replacement: draw with replacement (default); without, at most the number of samples
            with a positive weight.
        generator: the generator to draw from.

    Example:
        >>> import locograd as lg
        >>> draws = list(WeightedRandomSampler([0.0, 1.0, 0.0], 4, generator=lg.Generator(0)))
        >>> draws
        [1, 1, 1, 1]
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True,
                 generator: Generator | None = None):
        where = "WeightedRandomSampler"
        self.num_samples = _positive_int(num_samples, "num_samples", where)
        if not isinstance(replacement, bool):
            raise TypeError(f"{where}: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        w = _as_numpy(weights, where).astype(np.float64)
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"{where}: weights must be finite and non-negative")
        if w.sum() <= 0:
            raise ValueError(f"{where}: the weights sum to zero; at least one must be positive")
        if not replacement and self.num_samples > np.count_nonzero(w):
            raise ValueError(f"{where}: cannot draw {self.num_samples} samples without replacement "
                             f"from {np.count_nonzero(w)} samples of positive weight")
        self.weights = w
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        draws = rng(self.generator).choice(len(p), size=self.num_samples,
                                           replace=self.replacement, p=p)
        return iter(draws.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=True))
        [[0, 1], [2, 3]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        self.batch_size = _positive_int(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def __iter__(self):
        indices = iter(self.sampler)
        while True:
            batch = list(itertools.islice(indices, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return math.ceil(len(self.sampler) / self.batch_size)


class ClassBalancedBatchSampler(Sampler):
    """Batches that hold as many different classes as possible (locograd; not in PyTorch).

    Every epoch each class's indices are shuffled; each batch is then filled in passes, and
    one pass takes one index from each class that still has unused indices, classes with the
    most unused indices first (ties broken at random), until the batch is full.

    Guarantees, for every epoch:

    * every index appears exactly once (with ``drop_last``, except those of the final short
      batch, which is dropped);
    * a batch of ``s`` indices holds ``min(s, k)`` different classes, where ``k`` is the number
      of classes with unused indices when the batch starts: the most any batch can hold;
    * within a batch, the counts of two classes differ by at most one, unless one of them ran
      out of indices during that batch.

    Taking the largest classes first keeps the classes' remainders even, so that as many classes
    as possible are left for the later batches. The order inside a batch is shuffled.

    Args:
        labels: one class label per sample (any hashable values NumPy can sort).
        batch_size: indices per batch.
        drop_last: drop the final batch if it is short.
        generator: the generator to draw from.

    Example:
        >>> import locograd as lg
        >>> labels = [0, 0, 0, 1, 1, 1, 2, 2, 2]
        >>> batches = list(ClassBalancedBatchSampler(labels, 3, generator=lg.Generator(0)))
        >>> [sorted(labels[i] for i in b) for b in batches]
        [[0, 1, 2], [0, 1, 2], [0, 1, 2]]
    """

    def __init__(self, labels, batch_size: int, drop_last: bool = False,
                 generator: Generator | None = None):
        where = "ClassBalancedBatchSampler"
        labels = _as_numpy(labels, where)
        if labels.size == 0:
            raise ValueError(f"{where}: labels must not be empty")
        self.batch_size = _positive_int(batch_size, "batch_size", where)
        if not isinstance(drop_last, bool):
            raise ValueError(f"{where}: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.classes, inverse = np.unique(labels, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(np.bincount(inverse, minlength=len(self.classes)))[:-1]
        self.class_indices = np.split(order, bounds)
        self.num_samples = labels.size
        self.drop_last = drop_last
        self.generator = generator

    def __iter__(self):
        random = rng(self.generator)
        pools = [random.permutation(members).tolist() for members in self.class_indices]
        remaining = np.array([len(p) for p in pools], dtype=np.int64)
        used = [0] * len(pools)
        left = self.num_samples
        while left:
            size = min(self.batch_size, left)
            if size < self.batch_size and self.drop_last:
                return
            batch = []
            while len(batch) < size:
                available = np.flatnonzero(remaining)
                ranked = available[np.lexsort((random.random(available.size),
                                               -remaining[available]))]
                for c in ranked[:size - len(batch)].tolist():
                    batch.append(pools[c][used[c]])
                    used[c] += 1
                    remaining[c] -= 1
            left -= size
            random.shuffle(batch)
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

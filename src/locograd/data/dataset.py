"""Datasets with PyTorch's names: ``Dataset``, ``IterableDataset``, ``TensorDataset``, ``Subset``,
``ConcatDataset``, ``ChainDataset`` and ``random_split``.

A map-style dataset answers ``dataset[i]`` with one sample and ``len(dataset)``. It may also
define locograd's batched fast path ``__getbatch__(indices)``: it returns the batch that
``default_collate([dataset[i] for i in indices])`` would build, in one vectorised step.
``DataLoader`` uses it whenever the collate function is the default one (``TensorDataset``,
``Subset`` of those, ``MNIST``, ``Digits`` and ``CharDataset`` have it). PyTorch's
``__getitems__(indices)`` (a list of samples, collated afterwards) is honoured too.
"""
from __future__ import annotations

import bisect
import itertools
import math

import numpy as np

from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import Generator, rng
from .collate import default_collate

__all__ = ["Dataset", "IterableDataset", "ChainDataset", "TensorDataset", "Subset",
           "ConcatDataset", "random_split"]


class Dataset:
    """Base class of map-style datasets: ``__getitem__(index)`` and ``__len__()``.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, index):
        ...         return index * index
        >>> [Squares()[i] for i in range(4)]
        [0, 1, 4, 9]
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of datasets that are streams: ``__iter__()`` yields the samples.

    With ``num_workers > 0`` every worker iterates its own copy; use ``get_worker_info()``
    inside ``__iter__`` to give each worker its own share (as in PyTorch).

    Example:
        >>> class Count(IterableDataset):
        ...     def __iter__(self):
        ...         return iter(range(3))
        >>> list(Count())
        [0, 1, 2]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other: "IterableDataset") -> "ChainDataset":
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several iterable datasets one after the other.

    Example:
        >>> class Count(IterableDataset):
        ...     def __iter__(self):
        ...         return iter(range(2))
        >>> list(ChainDataset([Count(), Count()]))
        [0, 1, 0, 1]
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        for i, d in enumerate(self.datasets):
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: dataset {i} ({type(d).__name__}) is not an "
                                f"IterableDataset")

    def __iter__(self):
        return itertools.chain.from_iterable(self.datasets)

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class TensorDataset(Dataset):
    """Samples are the ``index``-th rows of the given tensors (or arrays), as a tuple.

    Args:
        *tensors: tensors, arrays or nested lists with the same first dimension. Arrays keep
            their dtype; nested lists follow ``lg.tensor``'s rules (Python floats -> float32).

    Samples are tensors that share memory with the stored data and never require gradients
    (PyTorch would keep an indexing graph for a dataset tensor that requires grad).

    Example:
        >>> import locograd as lg
        >>> ds = TensorDataset(lg.arange(6).reshape(3, 2), lg.tensor([0, 1, 0]))
        >>> x, y = ds[1]
        >>> x.tolist(), y.item(), len(ds)
        ([2, 3], 1, 3)
    """

    def __init__(self, *tensors):
        from ..factory import as_tensor  # the factory builds on tensor.py; import when used
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        arrays = [as_tensor(t).data for t in tensors]
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-dimensional; every tensor needs "
                                 f"a first (sample) dimension")
            if a.shape[0] != arrays[0].shape[0]:
                raise ValueError(f"TensorDataset: size mismatch between tensors: tensor 0 has "
                                 f"{arrays[0].shape[0]} samples (shape {arrays[0].shape}), tensor "
                                 f"{i} has {a.shape[0]} (shape {a.shape})")
        self.arrays = arrays

    @property
    def tensors(self) -> tuple:
        """The stored data as tensors (sharing memory)."""
        return tuple(new_tensor(a) for a in self.arrays)

    def __getitem__(self, index):
        # ``a[i, ...]`` is a 0-d array for a 1-D ``a`` (plain ``a[i]`` would be a NumPy scalar).
        return tuple(new_tensor(a[index, ...]) for a in self.arrays)

    def __getbatch__(self, indices):
        index = np.asarray(indices, dtype=np.intp)
        return tuple(new_tensor(a[index]) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]


def _index_array(indices, where: str) -> np.ndarray:
    if isinstance(indices, TensorBase):
        indices = indices.data
    array = np.asarray(indices)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be a 1-D sequence of integers, got shape "
                        f"{array.shape} and dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Args:
        dataset: a map-style dataset.
        indices: integer indices into ``dataset`` (stored as an int64 array; PyTorch keeps the
            sequence as given). Out-of-range indices raise at construction.

    Example:
        >>> import locograd as lg
        >>> sub = Subset(TensorDataset(lg.arange(10)), [7, 2])
        >>> [sub[i][0].item() for i in range(len(sub))]
        [7, 2]
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = _index_array(indices, "Subset")
        if hasattr(dataset, "__len__") and self.indices.size:
            n = len(dataset)
            bad = (self.indices >= n) | (self.indices < -n)
            if bad.any():
                raise IndexError(f"Subset: index {int(self.indices[bad][0])} is out of range for "
                                 f"a dataset of {n} samples")

    def __getitem__(self, index):
        if isinstance(index, list):
            return [self.dataset[int(self.indices[i])] for i in index]
        return self.dataset[int(self.indices[index])]

    def __getbatch__(self, indices):
        mapped = self.indices[np.asarray(indices, dtype=np.intp)]
        fetch = getattr(self.dataset, "__getbatch__", None)
        if fetch is not None:
            return fetch(mapped)
        return default_collate([self.dataset[int(i)] for i in mapped])

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets end to end: index ``len(a)`` is the first sample of ``b``.

    Example:
        >>> import locograd as lg
        >>> both = ConcatDataset([TensorDataset(lg.arange(2)), TensorDataset(lg.arange(10, 13))])
        >>> len(both), both[2][0].item(), both[-1][0].item()
        (5, 10, 12)
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for i, d in enumerate(self.datasets):
            if isinstance(d, IterableDataset):
                raise TypeError(f"ConcatDataset: dataset {i} is an IterableDataset; use "
                                f"ChainDataset for streams")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        index = int(index)
        if index < 0:
            if -index > n:
                raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
            index += n
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset, lengths, generator: Generator | None = None) -> list:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    Args:
        dataset: a map-style dataset.
        lengths: integer lengths summing to ``len(dataset)``, or fractions summing to 1 (each
            split gets ``floor(fraction * n)`` and the remainder goes one by one to the first
            splits, as in PyTorch).
        generator: the generator of the permutation (default: the one ``lg.manual_seed`` seeds).

    Returns:
        A list of ``Subset``.

    Example:
        >>> import locograd as lg
        >>> train, test = random_split(range(10), [0.8, 0.2], generator=lg.Generator(0))
        >>> together = sorted(list(train.indices) + list(test.indices))
        >>> len(train), len(test), together == list(range(10))
        (8, 2, True)
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if any(isinstance(v, float) for v in lengths) and math.isclose(sum(lengths), 1.0):
        if any(v < 0 or v > 1 for v in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(v) != v or v < 0 for v in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions "
                         f"summing to 1, got {lengths}")
    lengths = [int(v) for v in lengths]
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, but the "
                         f"dataset has {n} samples")
    permutation = rng(generator).permutation(n)
    bounds = np.cumsum([0] + lengths)
    return [Subset(dataset, permutation[bounds[i]:bounds[i + 1]]) for i in range(len(lengths))]

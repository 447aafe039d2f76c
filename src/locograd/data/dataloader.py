"""``DataLoader``: mini-batches from a dataset, in the main process or in worker processes.

Reproducibility: every time an iterator is created (one epoch), the loader draws one seed
from its ``generator`` (default: the generator ``lg.manual_seed`` seeds), as PyTorch does; the
shuffling sampler draws its permutation from the same generator. Two loaders built alike with
equally seeded generators give the same batches, and each epoch gets a new shuffle. Random
transforms without their own generator draw, while batch ``k`` is fetched, from a generator
seeded with ``(epoch seed, k)`` (see ``locograd.data._fetch``), so batches do not depend on
``num_workers``.
"""
from __future__ import annotations

import itertools
import math

from ..backend import Generator, rng
from ._fetch import fetch_in_scope, make_fetcher
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over a dataset in mini-batches (``torch.utils.data.DataLoader``).

    Args:
        dataset: a map-style ``Dataset`` (anything with ``__getitem__`` and ``__len__``) or an
            ``IterableDataset``.
        batch_size: samples per batch; ``None`` turns batching off (each sample is converted
            with ``default_convert``).
        shuffle: a new random order every epoch (a ``RandomSampler`` on ``generator``).
        sampler: the order of the indices (exclusive with ``shuffle``).
        batch_sampler: yields whole lists of indices (exclusive with ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: worker processes loading batches in parallel (0: the main process).
            Batches come back in order; a worker's exception is raised again here with the
            worker's traceback in its message.
        collate_fn: builds a batch from a list of samples (default ``default_collate``).
        pin_memory: accepted, as PyTorch's, and a no-op: batches stay ordinary host arrays
            (locograd has no page-locked memory); ``x.to("cuda")`` or ``fit`` copies them to
            the device.
        drop_last: drop the final batch if it is smaller than ``batch_size``.
        timeout: seconds to wait for a batch from the workers before raising (0: no limit;
            a dead worker is detected in any case).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: a ``multiprocessing`` context or its name (``"fork"``,
            ``"spawn"``, ``"forkserver"``); with spawn-like contexts the dataset and the
            functions must be picklable.
        generator: the generator of the per-epoch seeds and of the shuffle.
        prefetch_factor: batches each worker has in flight (default 2; needs workers).
        persistent_workers: keep the workers alive from one epoch to the next.

    Example:
        >>> import locograd as lg
        >>> from locograd.data import TensorDataset, DataLoader
        >>> ds = TensorDataset(lg.arange(10).float(), lg.arange(10))
        >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=lg.Generator(0))
        >>> [len(y) for x, y in loader]
        [4, 4, 2]
        >>> sorted(int(v) for _, y in loader for v in y.tolist())
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0, collate_fn=None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, multiprocessing_context=None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False):
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers should be a non-negative integer, but got "
                             f"num_workers={num_workers!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                or not timeout >= 0:  # NaN too: it compares false and meant "no timeout"
            raise ValueError(f"DataLoader: timeout should be a non-negative number of seconds, "
                             f"got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor needs num_workers > 0 (it is the "
                             "number of batches each worker loads in advance)")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int)
                                            or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor should be a positive integer, got "
                             f"{prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, int) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer or None, but "
                             f"got batch_size={batch_size!r}")
        self.is_iterable = isinstance(dataset, IterableDataset)
        if self.is_iterable:
            if shuffle:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 "option, but got shuffle=True (a stream cannot be shuffled)")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: samplers cannot be used; the "
                                 "dataset decides the order")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if sampler is None and not self.is_iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not self.is_iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.auto_collation = batch_sampler is not None or (self.is_iterable
                                                            and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self.auto_collation else default_convert
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.persistent_workers = persistent_workers
        self._iterator = None

    # ------------------------------------------------------------------ used by the iterators
    def _draw_seed(self) -> int:
        """The seed of one epoch (below 2**62, so that seed + worker_id stays an int64)."""
        return int(rng(self.generator).integers(0, 2**62))

    def _index_iter(self):
        """A fresh iterator over the epoch's index lists (map-style) or placeholders (streams)."""
        if self.is_iterable:
            return itertools.repeat(None)
        return iter(self.batch_sampler if self.auto_collation else self.sampler)

    def _make_fetcher(self):
        return make_fetcher(self.dataset, self.is_iterable, self.auto_collation,
                            self.collate_fn, self.batch_size, self.drop_last)

    # ------------------------------------------------------------------ public
    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIterator(self)
        from ._worker import MultiProcessIterator
        if not self.persistent_workers:
            return MultiProcessIterator(self)
        if self._iterator is None or self._iterator.is_shut_down:
            self._iterator = MultiProcessIterator(self)
        else:
            self._iterator.reset(self)
        return self._iterator

    def __len__(self) -> int:
        if self.is_iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return len(self.batch_sampler if self.auto_collation else self.sampler)


class _BaseDataLoaderIterator:
    """What the single- and multi-process iterators share: ``_length``, the number of batches
    of the epoch (``None`` when the sampler or the stream has no length), and ``len()``."""

    _length: int | None = None

    def _set_length(self, loader: DataLoader) -> None:
        try:
            self._length = len(loader)
        except TypeError:
            self._length = None

    def __iter__(self):
        return self

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("this DataLoader iterator has no length (its sampler or dataset "
                            "has none)")
        return self._length


class _SingleProcessIterator(_BaseDataLoaderIterator):
    """One epoch of batches, loaded in the calling process."""

    def __init__(self, loader: DataLoader):
        self._seed = loader._draw_seed()
        self._indices = loader._index_iter()
        self._fetcher = loader._make_fetcher()
        self._batch_index = 0
        self._set_length(loader)

    def __next__(self):
        indices = next(self._indices)
        data = fetch_in_scope(self._fetcher.fetch, indices, self._seed, self._batch_index)
        self._batch_index += 1
        return data

"""Fetching one batch: the code that both the main process and the worker processes run.

Randomness while fetching (the "batch scope"): while the loader fetches batch ``k`` of an
epoch whose seed is ``s``, the default generator (the one behind every unseeded random draw in
locograd, e.g. a ``RandomRotation()`` without ``generator=``) is temporarily replaced by a
generator seeded with ``(s, k)``. Hence

* augmentations are reproducible from the loader's seed, and the *same* whatever
  ``num_workers`` is (PyTorch seeds each worker instead, so its augmentations depend on the
  number of workers);
* the main process's own random stream (initialisation, dropout) is not advanced by data
  loading, so a training run does not change when workers are added.

The swap is process-wide: do not draw from the default generator in another thread while a
``num_workers=0`` loader fetches in a background thread (give that code its own generator).
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import backend
from .collate import default_collate


def fetch_in_scope(fetch, indices, seed: int, batch_index: int):
    """Run ``fetch(indices)`` with the default generator seeded from ``(seed, batch_index)``."""
    generator = backend.default_generator
    saved = generator.numpy
    generator.numpy = np.random.Generator(np.random.PCG64([seed, batch_index]))
    try:
        return fetch(indices)
    finally:
        generator.numpy = saved


class MapFetcher:
    """Builds the batch of a map-style dataset from a list of indices (or one index)."""

    def __init__(self, dataset, auto_collation: bool, collate_fn):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        # The batched fast path builds exactly what default_collate would: only with it.
        self.get_batch = (getattr(dataset, "__getbatch__", None)
                          if collate_fn is default_collate else None)
        self.get_items = getattr(dataset, "__getitems__", None)

    def fetch(self, indices):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[indices])
        if self.get_batch is not None:
            return self.get_batch(indices)
        if self.get_items is not None:
            return self.collate_fn(self.get_items(indices))
        dataset = self.dataset
        return self.collate_fn([dataset[i] for i in indices])


class IterableFetcher:
    """Takes the next batch from an iterable dataset's iterator; ``StopIteration`` at the end."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, batch_size, drop_last: bool):
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, _indices):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        batch = list(itertools.islice(self.iterator, self.batch_size))
        if len(batch) < self.batch_size:
            self.ended = True
            if not batch or self.drop_last:
                raise StopIteration
        return self.collate_fn(batch)


def make_fetcher(dataset, is_iterable: bool, auto_collation: bool, collate_fn, batch_size,
                 drop_last: bool):
    if is_iterable:
        return IterableFetcher(dataset, auto_collation, collate_fn, batch_size, drop_last)
    return MapFetcher(dataset, auto_collation, collate_fn)

"""RandomSampler with replacement draws lazily (makemore asks for 10**10 samples)."""
import itertools
import tracemalloc

import numpy as np

import locograd as lg
from locograd.data import BatchSampler, DataLoader, RandomSampler, TensorDataset


def test_huge_num_samples_allocates_nothing_and_is_reproducible():
    sampler = RandomSampler(range(7), replacement=True, num_samples=10**10,
                            generator=lg.Generator(3))
    assert len(sampler) == 10**10
    tracemalloc.start()
    first = list(itertools.islice(iter(sampler), 100))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20  # well under a megabyte (10**10 indices would be 80 GB)
    assert set(first) <= set(range(7)) and len(set(first)) == 7
    again = RandomSampler(range(7), replacement=True, num_samples=10**10,
                          generator=lg.Generator(3))
    assert list(itertools.islice(iter(again), 100)) == first
    # a new epoch draws again, from the generator's moved state
    assert list(itertools.islice(iter(sampler), 100)) != first


def test_exact_count_and_batches_over_chunk_boundaries():
    sampler = RandomSampler(range(5), replacement=True, num_samples=70,
                            generator=lg.Generator(0))
    draws = list(sampler)
    assert len(draws) == 70 and all(isinstance(i, int) for i in draws)
    counts = np.bincount(draws, minlength=5)
    assert counts.min() > 0
    batches = list(BatchSampler(sampler, batch_size=32, drop_last=False))
    assert [len(b) for b in batches] == [32, 32, 6]


def test_dataloader_with_a_huge_sampler_starts_at_once():
    data = TensorDataset(lg.arange(10).float())
    sampler = RandomSampler(data, replacement=True, num_samples=10**10,
                            generator=lg.Generator(1))
    loader = DataLoader(data, batch_size=4, sampler=sampler)
    (batch,) = next(iter(loader))
    assert batch.shape == (4,)

"""Samplers: orders, reproducibility, weights, batching and the class-balanced guarantee."""
import numpy as np
import pytest

import locograd as lg
from locograd import data


def test_sequential_sampler():
    assert list(data.SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert len(data.SequentialSampler(range(4))) == 4


def test_random_sampler_permutations_are_fresh_and_reproducible():
    sampler = data.RandomSampler(range(30), generator=lg.Generator(0))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == list(range(30))
    assert first != second
    again = data.RandomSampler(range(30), generator=lg.Generator(0))
    assert list(again) == first and list(again) == second
    assert all(isinstance(i, int) for i in first)


def test_random_sampler_num_samples_and_replacement():
    more = list(data.RandomSampler(range(5), num_samples=12, generator=lg.Generator(1)))
    assert len(more) == 12
    assert sorted(more[:5]) == sorted(more[5:10]) == list(range(5))  # whole permutations first
    assert len(set(more[10:])) == 2
    drawn = list(data.RandomSampler(range(3), replacement=True, num_samples=300,
                                    generator=lg.Generator(2)))
    assert len(drawn) == 300 and set(drawn) == {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        data.RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="num_samples"):
        data.RandomSampler([])
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        data.RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    sampler = data.SubsetRandomSampler([10, 20, 30, 40], generator=lg.Generator(0))
    a, b = list(sampler), list(sampler)
    assert sorted(a) == sorted(b) == [10, 20, 30, 40] and len(sampler) == 4


def test_weighted_random_sampler_frequencies():
    draws = np.array(list(data.WeightedRandomSampler([1.0, 2.0, 0.0, 7.0], 20000,
                                                     generator=lg.Generator(0))))
    frequencies = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(frequencies, [0.1, 0.2, 0.0, 0.7], atol=0.015)
    unique = list(data.WeightedRandomSampler([1, 1, 5, 0, 1], 4, replacement=False,
                                             generator=lg.Generator(0)))
    assert sorted(unique) == [0, 1, 2, 4]


def test_weighted_random_sampler_errors():
    with pytest.raises(ValueError, match="non-negative"):
        data.WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(ValueError, match="finite"):
        data.WeightedRandomSampler([1.0, np.nan], 2)
    with pytest.raises(ValueError, match="sum to zero"):
        data.WeightedRandomSampler([0.0, 0.0], 2)
    with pytest.raises(ValueError, match="without replacement"):
        data.WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False)
    with pytest.raises(ValueError, match="num_samples"):
        data.WeightedRandomSampler([1.0], 0)
    with pytest.raises(ValueError, match="1-D"):
        data.WeightedRandomSampler([[1.0]], 1)


def test_batch_sampler():
    sampler = data.BatchSampler(range(7), batch_size=3, drop_last=False)
    assert list(sampler) == [[0, 1, 2], [3, 4, 5], [6]] and len(sampler) == 3
    sampler = data.BatchSampler(range(7), batch_size=3, drop_last=True)
    assert list(sampler) == [[0, 1, 2], [3, 4, 5]] and len(sampler) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        data.BatchSampler(range(3), batch_size=True, drop_last=False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        data.BatchSampler(range(3), batch_size=2, drop_last=None)


def _check_class_balance(labels, batches, batch_size):
    """Check the documented guarantees; return the number of distinct classes per batch."""
    labels = np.asarray(labels)
    remaining = {c: int((labels == c).sum()) for c in np.unique(labels)}
    distinct = []
    for i, batch in enumerate(batches):
        active = sum(1 for v in remaining.values() if v > 0)
        classes, counts = np.unique(labels[batch], return_counts=True)
        assert len(classes) == min(len(batch), active), \
            f"batch {i}: {len(classes)} classes, {active} were available"
        # counts of classes that did not run out in this batch differ by at most one
        full = [n for c, n in zip(classes, counts) if remaining[c] > n]
        if full:
            assert max(full) - min(full) <= 1, f"batch {i}: class counts {counts}"
        for c, n in zip(classes, counts):
            remaining[c] -= n
        distinct.append(len(classes))
    return distinct


def test_class_balanced_batches_on_digits():
    _, labels = data.load_digits()
    sampler = data.ClassBalancedBatchSampler(labels, batch_size=32, generator=lg.Generator(0))
    batches = list(sampler)
    assert len(batches) == len(sampler) == 57
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(labels)))  # every index exactly once
    distinct = _check_class_balance(labels, batches, 32)
    assert all(d == 10 for d in distinct[:-1])  # balanced classes: all ten in every batch
    assert list(sampler) != batches  # a new draw every epoch


def test_class_balanced_batches_with_imbalanced_classes():
    labels = np.array([0] * 50 + [1] * 10 + [2] * 3 + [3] * 1 + [4] * 20)
    rng = np.random.default_rng(0)
    labels = labels[rng.permutation(labels.size)]
    for batch_size in (2, 3, 5, 8):
        sampler = data.ClassBalancedBatchSampler(labels, batch_size, generator=lg.Generator(1))
        batches = list(sampler)
        assert sorted(np.concatenate(batches).tolist()) == list(range(labels.size))
        _check_class_balance(labels, batches, batch_size)
    dropped = list(data.ClassBalancedBatchSampler(labels, 8, drop_last=True,
                                                  generator=lg.Generator(1)))
    assert len(dropped) == labels.size // 8 and all(len(b) == 8 for b in dropped)


def test_class_balanced_sampler_in_a_loader_is_reproducible():
    images, labels = data.load_digits()
    ds = data.TensorDataset(images, labels)

    def epoch(seed):
        sampler = data.ClassBalancedBatchSampler(labels, 20, generator=lg.Generator(seed))
        return [y.tolist() for _, y in data.DataLoader(ds, batch_sampler=sampler)]

    assert epoch(3) == epoch(3) and epoch(3) != epoch(4)
    # two of each class per batch until the smallest class (174 images) runs out
    assert all(len(set(batch)) == 10 for batch in epoch(3)[:87])


def test_class_balanced_sampler_errors():
    with pytest.raises(ValueError, match="empty"):
        data.ClassBalancedBatchSampler([], 4)
    with pytest.raises(ValueError, match="batch_size"):
        data.ClassBalancedBatchSampler([0, 1], 0)
    with pytest.raises(ValueError, match="1-D"):
        data.ClassBalancedBatchSampler([[0, 1]], 2)

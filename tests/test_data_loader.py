"""DataLoader: epochs, seeds, drop_last, collation paths, and worker processes."""
import multiprocessing
import os
import signal
import threading
import time

import numpy as np
import pytest

import locograd as lg
from locograd import data
from locograd.data import _worker


def _labels_dataset(n=23):
    return data.TensorDataset(lg.arange(n).float().reshape(n, 1), lg.arange(n))


def _epoch(loader):
    return [tuple(t.data.copy() for t in batch) for batch in loader]


def _assert_same_batches(a, b):
    assert len(a) == len(b), f"{len(a)} batches vs {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        for u, v in zip(x, y):
            assert u.dtype == v.dtype and np.array_equal(u, v), f"batch {i} differs"


def _no_live_workers():
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return multiprocessing.active_children() == []


# ---------------------------------------------------------------- epochs and seeds
@pytest.mark.parametrize("batch_size", [1, 4, 7, 23, 50])
def test_every_sample_exactly_once_per_epoch(batch_size):
    loader = data.DataLoader(_labels_dataset(), batch_size=batch_size, shuffle=True,
                             generator=lg.Generator(1))
    for _ in range(3):
        seen = np.concatenate([y.data for _, y in loader])
        assert sorted(seen.tolist()) == list(range(23))


def test_same_seed_same_batches_and_epochs_differ():
    first = data.DataLoader(_labels_dataset(), batch_size=5, shuffle=True,
                            generator=lg.Generator(7))
    second = data.DataLoader(_labels_dataset(), batch_size=5, shuffle=True,
                             generator=lg.Generator(7))
    epochs_a = [_epoch(first) for _ in range(3)]
    epochs_b = [_epoch(second) for _ in range(3)]
    for a, b in zip(epochs_a, epochs_b):
        _assert_same_batches(a, b)
    orders = [np.concatenate([y for _, y in epoch]).tolist() for epoch in epochs_a]
    assert orders[0] != orders[1] and orders[1] != orders[2]
    assert orders[0] != list(range(23))


def test_seed_from_manual_seed_without_generator():
    loader = data.DataLoader(_labels_dataset(), batch_size=6, shuffle=True)
    lg.manual_seed(11)
    a = _epoch(loader) + _epoch(loader)
    lg.manual_seed(11)
    b = _epoch(loader) + _epoch(loader)
    _assert_same_batches(a, b)
    lg.manual_seed(12)
    c = _epoch(loader)
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c))


def test_unshuffled_order_is_sequential():
    loader = data.DataLoader(_labels_dataset(10), batch_size=4)
    assert [y.tolist() for _, y in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    pinned = data.DataLoader(_labels_dataset(10), batch_size=4, pin_memory=True)  # ignored
    assert [y.tolist() for _, y in pinned] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.parametrize("drop_last, sizes", [(True, [3, 3, 3]), (False, [3, 3, 3, 1])])
def test_drop_last(drop_last, sizes):
    loader = data.DataLoader(_labels_dataset(10), batch_size=3, shuffle=True, drop_last=drop_last,
                             generator=lg.Generator(0))
    assert [len(y) for _, y in loader] == sizes
    assert len(loader) == len(sizes)


def test_batch_size_none_converts_single_samples():
    ds = data.ArrayDataset(np.arange(6, dtype=np.float32).reshape(3, 2), np.arange(3))
    out = list(data.DataLoader(ds, batch_size=None))
    assert len(out) == 3
    x, y = out[2]
    assert isinstance(x, lg.Tensor) and x.tolist() == [4.0, 5.0] and int(y.item()) == 2


def test_batch_sampler_and_sampler_arguments():
    ds = _labels_dataset(6)
    batches = [[5, 0], [3], [1, 2, 4]]
    out = [y.tolist() for _, y in data.DataLoader(ds, batch_sampler=batches)]
    assert out == batches
    out = [y.tolist() for _, y in data.DataLoader(ds, batch_size=2, sampler=[5, 4, 3, 2])]
    assert out == [[5, 4], [3, 2]]


def test_argument_errors():
    ds = _labels_dataset(6)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        data.DataLoader(ds, shuffle=True, sampler=[0, 1])
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        data.DataLoader(ds, batch_size=2, batch_sampler=[[0, 1]])
    with pytest.raises(ValueError, match="num_workers"):
        data.DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        data.DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers"):
        data.DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="drop_last"):
        data.DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="shuffle"):
        data.DataLoader(_Stream(4), shuffle=True)


def test_batched_fast_path_equals_per_sample_collation():
    ds = data.TensorDataset(lg.randn(17, 3, generator=lg.Generator(0)), lg.arange(17))
    fast = data.DataLoader(ds, batch_size=5, shuffle=True, generator=lg.Generator(3))
    slow = data.DataLoader(ds, batch_size=5, shuffle=True, generator=lg.Generator(3),
                           collate_fn=lambda batch: data.default_collate(batch))
    assert fast._make_fetcher().get_batch is not None and slow._make_fetcher().get_batch is None
    _assert_same_batches(_epoch(fast), _epoch(slow))
    sub = data.Subset(ds, [16, 3, 8, 1, 0, 9])
    _assert_same_batches(_epoch(data.DataLoader(sub, batch_size=4)),
                         _epoch(data.DataLoader(sub, batch_size=4,
                                                collate_fn=lambda b: data.default_collate(b))))


class _GetItemsDataset(data.Dataset):
    """Has PyTorch's __getitems__: a list of samples, collated by the loader afterwards."""

    def __init__(self):
        self.calls = 0

    def __len__(self):
        return 6

    def __getitem__(self, index):
        raise AssertionError("the loader should use __getitems__")

    def __getitems__(self, indices):
        self.calls += 1
        return [(np.float32(i), i) for i in indices]


def test_getitems_protocol():
    ds = _GetItemsDataset()
    out = [x.tolist() for x, _ in data.DataLoader(ds, batch_size=4)]
    assert out == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0]] and ds.calls == 2


# ---------------------------------------------------------------- augmentation randomness
def _augmented_digits():
    return data.Digits("test", transform=data.Compose([data.RandomRotation(15),
                                                       data.RandomShift(1)]))


def test_augmentation_is_reproducible_and_independent_of_the_main_stream():
    def run(seed):
        loader = data.DataLoader(_augmented_digits(), batch_size=64, shuffle=True,
                                 generator=lg.Generator(seed))
        return _epoch(loader)

    _assert_same_batches(run(0), run(0))
    assert not np.array_equal(run(0)[0][0], run(1)[0][0])

    # Loading (with the default generator driving the loader) advances the main stream by the
    # same draws whether or not the samples are augmented.
    lg.manual_seed(5)
    list(data.DataLoader(_augmented_digits(), batch_size=64, shuffle=True))
    after_augmented = lg.rand(4).tolist()
    lg.manual_seed(5)
    list(data.DataLoader(data.Digits("test"), batch_size=64, shuffle=True))
    assert lg.rand(4).tolist() == after_augmented


def test_two_epochs_augment_differently():
    loader = data.DataLoader(_augmented_digits(), batch_size=400, generator=lg.Generator(0))
    first, second = _epoch(loader), _epoch(loader)
    assert not np.array_equal(first[0][0], second[0][0])
    assert np.array_equal(first[0][1], second[0][1])  # unshuffled: same labels


# ---------------------------------------------------------------- iterable datasets
class _Stream(data.IterableDataset):
    """0..n-1, split between workers by get_worker_info()."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = data.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(np.arange(start, self.n, step, dtype=np.int64))

    def __len__(self):
        return self.n


def test_iterable_dataset_batches_and_drop_last():
    assert [b.tolist() for b in data.DataLoader(_Stream(7), batch_size=3)] == \
        [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in data.DataLoader(_Stream(7), batch_size=3, drop_last=True)] == \
        [[0, 1, 2], [3, 4, 5]]
    assert len(data.DataLoader(_Stream(7), batch_size=3)) == 3


def test_iterable_dataset_with_workers_covers_the_stream():
    loader = data.DataLoader(_Stream(20), batch_size=3, num_workers=2)
    values = np.concatenate([b.data for b in loader])
    assert sorted(values.tolist()) == list(range(20))
    assert _no_live_workers()


# ---------------------------------------------------------------- worker processes
@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_workers_give_the_same_batches_as_the_main_process(num_workers):
    ds = _augmented_digits()
    reference = data.DataLoader(ds, batch_size=50, shuffle=True, generator=lg.Generator(4))
    parallel = data.DataLoader(ds, batch_size=50, shuffle=True, generator=lg.Generator(4),
                               num_workers=num_workers)
    for _ in range(2):
        _assert_same_batches(_epoch(reference), _epoch(parallel))
    assert _no_live_workers()


def test_persistent_workers_across_epochs_and_after_an_early_break():
    ds = _labels_dataset(40)
    reference = data.DataLoader(ds, batch_size=6, shuffle=True, generator=lg.Generator(2))
    loader = data.DataLoader(ds, batch_size=6, shuffle=True, generator=lg.Generator(2),
                             num_workers=2, persistent_workers=True)
    _assert_same_batches(_epoch(reference), _epoch(loader))
    pids = [w.pid for w in loader._iterator._workers]
    for batch in loader:  # abandon an epoch half-way: its late batches must not leak
        break
    next(iter(reference))
    _assert_same_batches(_epoch(reference), _epoch(loader))
    assert [w.pid for w in loader._iterator._workers] == pids
    loader._iterator.shutdown()
    assert _no_live_workers()


class _WhoLoads(data.Dataset):
    """Returns the id of the worker process that loaded each sample (set by worker_init_fn)."""

    worker = -1

    def __len__(self):
        return 12

    def __getitem__(self, index):
        info = data.get_worker_info()
        return np.array([index, self.worker, info.id, info.seed - info.id])


def _remember_worker(worker_id):
    data.get_worker_info().dataset.worker = worker_id


def test_worker_init_fn_and_worker_info():
    loader = data.DataLoader(_WhoLoads(), batch_size=2, num_workers=3,
                             worker_init_fn=_remember_worker, generator=lg.Generator(0))
    rows = np.concatenate([b.data for b in loader])
    assert rows[:, 0].tolist() == list(range(12))  # in order
    assert np.array_equal(rows[:, 1], rows[:, 2])  # init_fn ran in the worker that loads
    assert sorted(set(rows[:, 1].tolist())) == [0, 1, 2]
    assert len(set(rows[:, 3].tolist())) == 1  # seeds are base_seed + worker_id
    assert data.get_worker_info() is None


class _Failing(data.Dataset):
    def __init__(self, bad=7, error=ValueError):
        self.bad, self.error = bad, error

    def __len__(self):
        return 20

    def __getitem__(self, index):
        if index == self.bad:
            raise self.error(f"bad sample {index}")
        return np.float32(index)


def test_worker_exception_surfaces_with_message_and_traceback():
    loader = data.DataLoader(_Failing(), batch_size=4, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    message = str(info.value)
    assert "bad sample 7" in message
    assert "DataLoader worker process" in message
    assert "Traceback (most recent call last)" in message and "__getitem__" in message
    assert _no_live_workers()


def test_main_process_exception_is_the_plain_one():
    with pytest.raises(ValueError, match="^bad sample 7$"):
        list(data.DataLoader(_Failing(), batch_size=4))


class _TwoArgumentError(Exception):
    def __init__(self, code, text):
        super().__init__(f"{code}: {text}")


class _NeedsTwo(_Failing):
    def __getitem__(self, index):
        raise _TwoArgumentError(3, "needs two arguments")


def test_worker_key_error_and_odd_exception_types():
    with pytest.raises(KeyError) as info:
        list(data.DataLoader(_Failing(error=KeyError), batch_size=4, num_workers=1))
    assert "bad sample 7" in str(info.value) and "\n" in str(info.value)
    with pytest.raises(RuntimeError, match="needs two arguments"):
        list(data.DataLoader(_NeedsTwo(), batch_size=4, num_workers=1))
    assert _no_live_workers()


def _unpicklable_collate(batch):
    return lambda: batch


def _failing_init(worker_id):
    raise OSError(f"cannot open the shard of worker {worker_id}")


def test_unpicklable_batch_and_failing_init_raise_instead_of_hanging():
    with pytest.raises(Exception, match="must be picklable"):
        list(data.DataLoader(_labels_dataset(), batch_size=4, num_workers=1,
                             collate_fn=_unpicklable_collate))
    with pytest.raises(OSError, match="cannot open the shard of worker 0"):
        list(data.DataLoader(_labels_dataset(), batch_size=4, num_workers=1,
                             worker_init_fn=_failing_init))
    assert _no_live_workers()


class _Dies(_Failing):
    def __getitem__(self, index):
        if index == self.bad:
            os._exit(3)
        return np.float32(index)


def test_dead_worker_is_detected():
    with pytest.raises(RuntimeError, match="exited unexpectedly.*exit code 3"):
        list(data.DataLoader(_Dies(), batch_size=4, num_workers=2))
    assert _no_live_workers()


class _Slow(data.Dataset):
    def __init__(self, seconds):
        self.seconds = seconds

    def __len__(self):
        return 1000

    def __getitem__(self, index):
        time.sleep(self.seconds)
        return np.float32(index)


def test_early_break_stops_the_workers():
    loader = data.DataLoader(_Slow(0.001), batch_size=2, num_workers=2)
    for batch in loader:
        assert batch.tolist() == [0.0, 1.0]
        break
    assert _no_live_workers()


def test_timeout_and_stuck_workers_are_terminated(monkeypatch):
    monkeypatch.setattr(_worker, "_SHUTDOWN_TIMEOUT", 0.5)
    loader = data.DataLoader(_Slow(60), batch_size=2, num_workers=2, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        next(iter(loader))
    assert _no_live_workers()
    assert time.monotonic() - start < 20


def test_keyboard_interrupt_does_not_hang(monkeypatch):
    monkeypatch.setattr(_worker, "_SHUTDOWN_TIMEOUT", 0.5)
    loader = data.DataLoader(_Slow(60), batch_size=2, num_workers=2)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in loader:
                pass
    finally:
        timer.cancel()
    assert _no_live_workers()
    assert time.monotonic() - start < 20

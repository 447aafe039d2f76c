"""Dataset containers, random_split and default_collate."""
import collections

import numpy as np
import pytest

import locograd as lg
from locograd import data


def test_tensor_dataset_samples_and_batches():
    x = lg.randn(5, 3, generator=lg.Generator(0))
    y = lg.tensor([4, 3, 2, 1, 0])
    ds = data.TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[2]
    assert isinstance(xi, lg.Tensor) and xi.tolist() == x.data[2].tolist()
    assert yi.shape == () and yi.item() == 2 and not xi.requires_grad
    bx, by = ds.__getbatch__([4, 0])
    assert np.array_equal(bx.data, x.data[[4, 0]]) and by.tolist() == [0, 4]
    assert ds.tensors[1].tolist() == [4, 3, 2, 1, 0]


def test_tensor_dataset_dtypes_and_errors():
    ds = data.TensorDataset(np.zeros((2, 2), np.float64), [[1.0], [2.0]])
    assert ds[0][0].dtype == np.float64 and ds[0][1].dtype == np.float32
    with pytest.raises(ValueError, match="size mismatch.*tensor 1 has 2"):
        data.TensorDataset(lg.zeros(3, 1), lg.zeros(2))
    with pytest.raises(ValueError, match="0-dimensional"):
        data.TensorDataset(lg.tensor(1.0))
    with pytest.raises(ValueError, match="at least one"):
        data.TensorDataset()


def test_subset_and_errors():
    ds = data.TensorDataset(lg.arange(10))
    sub = data.Subset(ds, [9, 0, 5])
    assert len(sub) == 3 and sub[0][0].item() == 9 and sub[-1][0].item() == 5
    assert [s[0].item() for s in sub[[2, 1]]] == [5, 0]
    assert sub.__getbatch__([1, 2])[0].tolist() == [0, 5]
    nested = data.Subset(sub, [2, 0])
    assert nested.__getbatch__([0, 1])[0].tolist() == [5, 9]
    with pytest.raises(IndexError, match="index 10 is out of range for a dataset of 10"):
        data.Subset(ds, [1, 10])
    with pytest.raises(TypeError, match="integers"):
        data.Subset(ds, [0.5])


def test_concat_dataset():
    a = data.TensorDataset(lg.arange(3))
    b = data.TensorDataset(lg.arange(10, 12))
    both = a + b
    assert isinstance(both, data.ConcatDataset) and len(both) == 5
    assert [both[i][0].item() for i in range(-5, 5)] == [0, 1, 2, 10, 11] * 2
    with pytest.raises(IndexError, match="out of range"):
        both[5]
    with pytest.raises(IndexError, match="out of range"):
        both[-6]
    with pytest.raises(ValueError, match="empty"):
        data.ConcatDataset([])


class _Stream(data.IterableDataset):
    def __init__(self, values):
        self.values = values

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)


def test_chain_dataset():
    chained = _Stream([1, 2]) + _Stream([3])
    assert isinstance(chained, data.ChainDataset) and list(chained) == [1, 2, 3]
    assert len(chained) == 3
    with pytest.raises(TypeError, match="ChainDataset"):
        data.ConcatDataset([_Stream([1])])
    with pytest.raises(TypeError, match="not an IterableDataset"):
        data.ChainDataset([data.TensorDataset(lg.arange(2))])


def test_random_split_lengths_fractions_and_seed():
    parts = data.random_split(range(10), [3, 7], generator=lg.Generator(0))
    assert [len(p) for p in parts] == [3, 7]
    together = sorted(np.concatenate([p.indices for p in parts]).tolist())
    assert together == list(range(10))
    again = data.random_split(range(10), [3, 7], generator=lg.Generator(0))
    assert all(np.array_equal(p.indices, q.indices) for p, q in zip(parts, again))
    fractions = data.random_split(range(11), [0.5, 0.3, 0.2], generator=lg.Generator(0))
    assert [len(p) for p in fractions] == [6, 3, 2]  # floors 5, 3, 2 and the remainder first
    with pytest.raises(ValueError, match="sum to 9, but the dataset has 10"):
        data.random_split(range(10), [4, 5])
    with pytest.raises(ValueError, match="non-negative"):
        data.random_split(range(10), [11, -1])


# ---------------------------------------------------------------- default_collate
def test_collate_arrays_tensors_numbers():
    batch = data.default_collate([np.zeros((2, 2), np.float64), np.ones((2, 2), np.float64)])
    assert isinstance(batch, lg.Tensor) and batch.shape == (2, 2, 2) and batch.dtype == np.float64
    stacked = data.default_collate([lg.tensor([1.0, 2.0]), lg.tensor([3.0, 4.0])])
    assert stacked.tolist() == [[1.0, 2.0], [3.0, 4.0]] and stacked.dtype == np.float32
    assert data.default_collate([1, 2]).dtype == np.int64
    assert data.default_collate([1.5, 2.5]).dtype == np.float32  # PyTorch: float64
    assert data.default_collate([True, False]).dtype == np.bool_
    assert data.default_collate([np.float64(1), np.float64(2)]).dtype == np.float64
    assert data.default_collate([np.int32(1), np.int32(2)]).dtype == np.int32
    assert data.default_collate(["a", "b"]) == ["a", "b"]


Pair = collections.namedtuple("Pair", "image label")


def test_collate_structures():
    out = data.default_collate([{"x": np.zeros(2, np.float32), "y": 1},
                                {"x": np.ones(2, np.float32), "y": 0}])
    assert set(out) == {"x", "y"} and out["x"].shape == (2, 2) and out["y"].tolist() == [1, 0]
    out = data.default_collate([(np.zeros(3), 1, "a"), (np.ones(3), 2, "b")])
    assert isinstance(out, tuple) and out[0].shape == (2, 3) and out[2] == ["a", "b"]
    out = data.default_collate([[1, 2.0], [3, 4.0]])
    assert isinstance(out, list) and out[0].tolist() == [1, 3] and out[1].tolist() == [2.0, 4.0]
    out = data.default_collate([Pair(np.zeros(1), 3), Pair(np.ones(1), 4)])
    assert isinstance(out, Pair) and out.label.tolist() == [3, 4]


def test_collate_errors():
    with pytest.raises(RuntimeError, match=r"sample 0 has shape \(3,\) and sample 1 has shape "
                                           r"\(4,\)"):
        data.default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(RuntimeError, match="same length"):
        data.default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="found object"):
        data.default_collate([object(), object()])
    with pytest.raises(TypeError, match="dtype <U1"):
        data.default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(ValueError, match="empty"):
        data.default_collate([])


def test_default_convert():
    out = data.default_convert((np.arange(3), {"a": np.float32(2)}, "text", 5))
    assert isinstance(out, tuple) and isinstance(out[0], lg.Tensor)
    assert isinstance(out[1]["a"], lg.Tensor) and out[1]["a"].dtype == np.float32
    assert out[2:] == ("text", 5)

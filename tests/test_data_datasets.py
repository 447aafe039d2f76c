"""Bundled datasets: digits, MNIST (IDX files, validated), CharDataset."""
import gzip
import os
import shutil

import numpy as np
import pytest

import locograd as lg
from locograd import data

MNIST_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
if not os.path.isdir(MNIST_DIR):
    MNIST_DIR = "/work/shared/data/mnist"
HAVE_MNIST = os.path.isfile(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz"))
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST test split not found in "
                                                        f"{MNIST_DIR}")
# The official MNIST test split: images per digit 0-9.
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _batches(dataset, batch_size, fast):
    collate = None if fast else (lambda batch: data.default_collate(batch))
    loader = data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                             generator=lg.Generator(0), collate_fn=collate)
    return [tuple(t.data.copy() for t in batch) for batch in loader]


def _assert_fast_path_matches(dataset, batch_size):
    fast, slow = _batches(dataset, batch_size, True), _batches(dataset, batch_size, False)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        for u, v in zip(a, b):
            assert u.dtype == v.dtype and np.array_equal(u, v)


# ---------------------------------------------------------------- digits
def test_load_digits():
    images, labels = data.load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    images[0] = 5.0  # a copy: the cache is not touched
    assert data.load_digits()[0].max() == 1.0


def test_digits_split_is_stratified_disjoint_and_fixed():
    train, test, everything = data.Digits("train"), data.Digits("test"), data.Digits("all")
    assert len(train) + len(test) == len(everything) == 1797
    assert len(test) == 359
    shares = np.bincount(test.targets) / np.bincount(everything.targets)
    np.testing.assert_allclose(shares, 0.2, atol=0.005)
    rows = {image.tobytes() + bytes([label]) for image, label in zip(train.inputs, train.targets)}
    overlap = [1 for image, label in zip(test.inputs, test.targets)
               if image.tobytes() + bytes([label]) in rows]
    assert len(overlap) <= 5  # only the few duplicated images of the dataset itself
    assert np.array_equal(data.Digits("test").targets, test.targets)
    assert not np.array_equal(data.Digits("test", seed=1).targets, test.targets)
    with pytest.raises(ValueError, match="split must be"):
        data.Digits("valid")


def test_digits_with_transforms_in_a_loader():
    train = data.Digits("train")
    train.transform = data.Standardize(per_channel=True).fit(train)
    _assert_fast_path_matches(train, 100)
    x, y = next(iter(data.DataLoader(train, batch_size=1438)))
    assert x.dtype == np.float32 and abs(float(x.data.mean())) < 1e-5
    augmented = data.Digits("test", transform=data.RandomRotation(10),
                            target_transform=lambda label: label + 10)
    _assert_fast_path_matches(augmented, 64)
    assert int(augmented[0][1]) >= 10


# ---------------------------------------------------------------- MNIST
@needs_mnist
def test_mnist_shared_test_split():
    test = data.MNIST(MNIST_DIR, split="test")
    assert len(test) == 10000
    assert test.data.shape == (10000, 28, 28) and test.data.dtype == np.uint8
    assert test.targets.dtype == np.int64
    assert np.bincount(test.targets).tolist() == MNIST_TEST_COUNTS
    image, label = test[0]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and int(label) == 7
    assert image.min() == 0.0 and image.max() == 1.0
    assert np.array_equal(image[0], test.data[0] / np.float32(255))
    x, y = test.__getbatch__(np.arange(1000))
    assert x.shape == (1000, 1, 28, 28) and y.shape == (1000,)
    _assert_fast_path_matches(data.Subset(test, np.arange(0, 10000, 7)), 250)


@needs_mnist
def test_mnist_raw_files_and_torchvision_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.MNIST.files["test"]:
        with gzip.open(os.path.join(MNIST_DIR, name + ".gz")) as src, open(raw / name, "wb") \
                as dst:
            shutil.copyfileobj(src, dst)
    from_raw = data.MNIST(tmp_path, split="test")
    reference = data.MNIST(MNIST_DIR, split="test")
    assert np.array_equal(from_raw.data, reference.data)
    assert np.array_equal(from_raw.targets, reference.targets)


def _write_mnist(root, n=5, labels=None, image_size=(28, 28), gz=True):
    suffix = ".gz" if gz else ""
    images = np.random.default_rng(0).integers(0, 256, (n,) + image_size).astype(np.uint8)
    labels = np.arange(n) % 10 if labels is None else labels
    data.write_idx(os.path.join(root, "t10k-images-idx3-ubyte" + suffix), images)
    data.write_idx(os.path.join(root, "t10k-labels-idx1-ubyte" + suffix),
                   np.asarray(labels, np.uint8))
    return images


def test_mnist_small_generated_files(tmp_path):
    images = _write_mnist(tmp_path, n=6)
    small = data.MNIST(tmp_path, split="test")
    assert np.array_equal(small.data, images) and small.targets.tolist() == [0, 1, 2, 3, 4, 5]


def test_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.*looked for"):
        data.MNIST(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        data.MNIST(tmp_path, split="train")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        data.MNIST(tmp_path, split="validation")


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_truncated_images(tmp_path, gz):
    _write_mnist(tmp_path, gz=gz)
    path = tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
    raw = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    cut = raw[:-100]
    path.write_bytes(gzip.compress(cut) if gz else cut)
    with pytest.raises(ValueError, match=rf"{path.name} is truncated: its header announces "
                                         rf"shape \(5, 28, 28\)"):
        data.MNIST(tmp_path, split="test")


def test_mnist_truncated_and_corrupt_gzip(tmp_path):
    _write_mnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    compressed = path.read_bytes()
    path.write_bytes(compressed[:len(compressed) // 2])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz is a truncated or corrupt "
                                         r"gzip file"):
        data.MNIST(tmp_path, split="test")
    path.write_bytes(compressed[:10] + b"\x00" * (len(compressed) - 10))
    with pytest.raises(ValueError, match="truncated or corrupt gzip"):
        data.MNIST(tmp_path, split="test")


def test_mnist_wrong_magic_counts_sizes_and_labels(tmp_path):
    _write_mnist(tmp_path)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    good_labels, good_images = labels.read_bytes(), images.read_bytes()
    labels.write_bytes(good_images)  # the images where the labels belong
    with pytest.raises(ValueError, match=r"labels-idx1-ubyte.gz has magic number 2051, "
                                         r"expected 2049"):
        data.MNIST(tmp_path, split="test")
    labels.write_bytes(gzip.compress(b"\x12\x34\x56\x78" + bytes(10)))
    with pytest.raises(ValueError, match="is not an IDX file"):
        data.MNIST(tmp_path, split="test")
    labels.write_bytes(gzip.compress(b"\x00\x00"))
    with pytest.raises(ValueError, match="truncated: 2 bytes"):
        data.MNIST(tmp_path, split="test")
    raw = gzip.decompress(good_labels)
    labels.write_bytes(gzip.compress(raw + b"\x01"))
    with pytest.raises(ValueError, match="1 bytes more than the shape"):
        data.MNIST(tmp_path, split="test")
    data.write_idx(labels, np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="holds 5 images but .* holds 4 labels"):
        data.MNIST(tmp_path, split="test")
    data.write_idx(labels, np.array([0, 1, 2, 3, 12], np.uint8))
    with pytest.raises(ValueError, match="holds label 12"):
        data.MNIST(tmp_path, split="test")
    labels.write_bytes(good_labels)
    _write_mnist(tmp_path, image_size=(20, 20))
    with pytest.raises(ValueError, match=r"images of size \(20, 20\), expected \(28, 28\)"):
        data.MNIST(tmp_path, split="test")


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, dtype):
    values = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a-idx3", "a-idx3.gz"):
        data.write_idx(tmp_path / name, values)
        back = data.read_idx(tmp_path / name)
        assert back.dtype == np.dtype(dtype) and np.array_equal(back, values)
    with pytest.raises(TypeError, match="IDX stores"):
        data.write_idx(tmp_path / "b", np.zeros(2, np.int64))
    with pytest.raises(FileNotFoundError, match="no such file"):
        data.read_idx(tmp_path / "missing")


# ---------------------------------------------------------------- CharDataset
def test_char_dataset_pairs_and_vocabulary():
    text = "to be or not to be"
    ds = data.CharDataset(text, seq_len=4)
    assert ds.itos == sorted(set(text)) and ds.vocab_size == len(set(text))
    assert ds.stoi[ds.itos[3]] == 3
    assert len(ds) == len(text) - 4
    for i in (0, 5, len(ds) - 1, -1):
        x, y = ds[i]
        start = i % len(ds)
        assert x.dtype == np.int64 and ds.decode(x) == text[start:start + 4]
        assert ds.decode(y) == text[start + 1:start + 5]
    assert ds.decode(ds.encode("not to")) == "not to"
    assert ds.decode(lg.tensor(ds.encode("be"))) == "be"
    with pytest.raises(IndexError, match="out of range"):
        ds[len(ds)]
    with pytest.raises(ValueError, match="'z' is not in the vocabulary"):
        ds.encode("zebra")
    with pytest.raises(ValueError, match="ids must lie in"):
        ds.decode([99])


def test_char_dataset_loader_file_and_errors(tmp_path):
    text = "héllo wörld, hello world! " * 20
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    ds = data.CharDataset.from_file(path, seq_len=8)
    assert "é" in ds.stoi and len(ds) == len(text) - 8
    _assert_fast_path_matches(ds, 32)
    x, y = next(iter(data.DataLoader(ds, batch_size=16)))
    assert x.shape == (16, 8) and x.dtype == np.int64
    assert np.array_equal(x.data[:, 1:], y.data[:, :-1])
    shared = data.CharDataset("hello", seq_len=2, vocabulary=ds.itos)
    assert shared.itos == ds.itos
    with pytest.raises(ValueError, match="needs more than seq_len=5"):
        data.CharDataset("abcde", seq_len=5)
    with pytest.raises(ValueError, match="seq_len must be a positive integer"):
        data.CharDataset("abcde", seq_len=0)
    with pytest.raises(TypeError, match="must be a str"):
        data.CharDataset(b"abc", seq_len=1)

"""Datasets: ``Digits``/``load_digits`` (scikit-learn's 1,797 handwritten digits, offline),
``MNIST`` and ``FashionMNIST`` (IDX files from a directory, or downloaded and verified),
``CharDataset`` (text for character-level language models), and ``ArrayDataset`` under them.

Images are float32 ``(1, H, W)`` in [0, 1] (the default float dtype), labels int64: a batch
from a ``DataLoader`` feeds a float32 model without any cast.
"""
from __future__ import annotations

import functools
import os

import numpy as np

from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import Generator, get_default_dtype
from .dataset import Dataset
from .download import default_data_root, download_file, file_md5
from .idx import idx_magic, read_idx
from .transforms import apply_to_batch

__all__ = ["ArrayDataset", "load_digits", "Digits", "MNIST", "FashionMNIST", "CharDataset"]


class ArrayDataset(Dataset):
    """Samples ``(transform(inputs[i]), target_transform(targets[i]))`` from arrays.

    Args:
        inputs: an array or tensor ``(N, ...)``.
        targets: an array or tensor ``(N, ...)``, or ``None`` (samples are then inputs only).
        transform: applied to each input (e.g. augmentation, ``Standardize``).
        target_transform: applied to each target.

    In a ``DataLoader`` a batch is built in one step (``__getbatch__``); batched transforms
    (``Standardize``, ``Whiten``, ``Compose`` of them) then run once per batch.

    Example:
        >>> import numpy as np
        >>> ds = ArrayDataset(np.zeros((4, 2), np.float32), np.arange(4))
        >>> x, y = ds[3]
        >>> x.shape, int(y), len(ds)
        ((2,), 3, 4)
    """

    def __init__(self, inputs, targets=None, transform=None, target_transform=None):
        self.inputs = inputs.data if isinstance(inputs, TensorBase) else np.asarray(inputs)
        self.targets = None if targets is None else (
            targets.data if isinstance(targets, TensorBase) else np.asarray(targets))
        if self.targets is not None and len(self.targets) != len(self.inputs):
            raise ValueError(f"{type(self).__name__}: {len(self.inputs)} inputs but "
                             f"{len(self.targets)} targets")
        self.transform = transform
        self.target_transform = target_transform

    def _inputs(self, index):
        """The stored input(s) at ``index`` (an int or an index array) as the model sees them."""
        return self.inputs[index]

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index):
        x = self._inputs(index)
        if self.transform is not None:
            x = self.transform(x)
        if self.targets is None:
            return x
        y = self.targets[index]
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def __getbatch__(self, indices):
        index = np.asarray(indices, dtype=np.intp)
        x = self._inputs(index)
        if self.transform is not None:
            x = apply_to_batch(self.transform, x)
        if self.targets is None:
            return new_tensor(x)
        y = self.targets[index]
        if self.target_transform is not None:
            y = apply_to_batch(self.target_transform, y)
        return new_tensor(x), new_tensor(y)


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:  # pragma: no cover - the data extra is missing
        raise ImportError("load_digits needs scikit-learn: pip install 'locograd[data]'") from None
    bunch = sklearn_digits()
    images = (bunch.images / 16.0).astype(get_default_dtype())[:, None]
    return images, bunch.target.astype(np.int64)


def load_digits():
    """The 1,797 8x8 handwritten digits that scikit-learn ships, as arrays.

    Returns:
        ``(images, labels)``: float32 ``(1797, 1, 8, 8)`` in [0, 1] (scikit-learn's 0..16
        grey levels divided by 16) and int64 ``(1797,)`` labels 0-9.

    Example:
        >>> images, labels = load_digits()
        >>> images.shape, images.dtype, labels[:5].tolist()
        ((1797, 1, 8, 8), dtype('float32'), [0, 1, 2, 3, 4])
    """
    images, labels = _digits_arrays()
    return images.copy(), labels.copy()


class Digits(ArrayDataset):
    """The scikit-learn digits as a dataset, with a fixed stratified train/test split.

    Args:
        split: ``'train'``, ``'test'`` or ``'all'``.
        test_fraction: share of each class in the test split (rounded per class).
        seed: seed of the split (not the global one: the split is the same in every run).
        transform, target_transform: as in ``ArrayDataset``.

    With the defaults the test split holds 359 images (a fifth of each class, rounded) and
    the training split the other 1,438.

    Example:
        >>> train, test = Digits("train"), Digits("test")
        >>> len(train), len(test), train[0][0].shape
        (1438, 359, (1, 8, 8))
    """

    def __init__(self, split: str = "train", test_fraction: float = 0.2, seed: int = 0,
                 transform=None, target_transform=None):
        if split not in ("train", "test", "all"):
            raise ValueError(f"Digits: split must be 'train', 'test' or 'all', got {split!r}")
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"Digits: test_fraction must lie in (0, 1), got {test_fraction}")
        images, labels = load_digits()
        if split != "all":
            random = Generator(seed).numpy
            test = []
            for c in np.unique(labels):
                members = random.permutation(np.flatnonzero(labels == c))
                test.append(members[:int(round(test_fraction * len(members)))])
            is_test = np.zeros(len(labels), dtype=bool)
            is_test[np.concatenate(test)] = True
            keep = is_test if split == "test" else ~is_test
            images, labels = images[keep], labels[keep]
        self.split = split
        super().__init__(images, labels, transform, target_transform)


class MNIST(ArrayDataset):
    """MNIST from its IDX files (raw or ``.gz``), validated; downloaded and verified on request.

    Args:
        root: the directory holding ``train-images-idx3-ubyte[.gz]``,
            ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]`` and
            ``t10k-labels-idx1-ubyte[.gz]``, directly or in torchvision's ``root/MNIST/raw``
            (downloads go there). Default: ``$LOCOGRAD_DATA``, else ``~/.cache/locograd``.
        split: ``'train'`` (60,000 images) or ``'test'`` (10,000).
        train: torchvision's spelling: ``True`` is ``split='train'``, ``False`` ``'test'``.
        download: fetch the split's two files when they are missing (or a ``.gz`` fails its
            published MD5): from each of ``mirrors`` in turn, verified against ``resources``,
            written atomically, resumed when a transfer breaks off, with a tqdm progress bar
            when tqdm is installed (``progress=False``: none). Files already there with the
            right checksum are not downloaded again.
        transform: applied to each image, a float32 ``(1, 28, 28)`` array in [0, 1]
            (torchvision hands a PIL image to its transforms instead).
        target_transform: applied to each label.

    Attributes:
        data: the raw uint8 images ``(N, 28, 28)``; ``targets``: int64 labels ``(N,)``.
        mirrors: class attribute, base URLs tried in order (replace it to use your own).
        resources: class attribute, ``{file name: published MD5}``.

    Raises:
        FileNotFoundError: naming the files looked for (and saying ``download=True`` fetches
        them); ``DownloadError`` naming how each mirror failed; ``ValueError`` naming the file
        for a truncated or corrupt file, a wrong magic number, image size, label value, or a
        count of images that differs from the count of labels.

    Example:
        >>> test = MNIST("/work/shared/data/mnist", split="test")  # doctest: +SKIP
        >>> len(test), test[0][0].shape, int(test[0][1])  # doctest: +SKIP
        (10000, (1, 28, 28), 7)
        >>> train = MNIST(train=True, download=True)  # ~/.cache/locograd/MNIST/raw  # doctest: +SKIP
    """

    files = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    # the published MD5s of the gzip files (as torchvision lists them)
    resources = {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                 "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                 "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                 "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, split: str | None = None, transform=None,
                 target_transform=None, *, train: bool | None = None, download: bool = False,
                 progress: bool = True):
        name = type(self).__name__
        if train is not None:
            if split is not None and split != ("train" if train else "test"):
                raise ValueError(f"{name}: split={split!r} contradicts train={train}; give one")
            split = "train" if train else "test"
        split = "train" if split is None else split
        if split not in self.files:
            raise ValueError(f"{name}: split must be 'train' or 'test', got {split!r}")
        self.root = os.fspath(default_data_root() if root is None else root)
        self.split = split
        if download:
            self.download(progress)
        image_file, label_file = (self._find(file) for file in self.files[split])
        images = read_idx(image_file, expected_magic=idx_magic(np.uint8, 3))
        labels = read_idx(label_file, expected_magic=idx_magic(np.uint8, 1))
        if images.shape[1:] != (28, 28):
            raise ValueError(f"{name}: {image_file} holds images of size {images.shape[1:]}, "
                             f"expected (28, 28)")
        if len(images) != len(labels):
            raise ValueError(f"{name}: {image_file} holds {len(images)} images but "
                             f"{label_file} holds {len(labels)} labels")
        if labels.size and labels.max() > 9:
            raise ValueError(f"{name}: {label_file} holds label {int(labels.max())}; labels "
                             f"are 0-9")
        self.data = images
        super().__init__(images, labels.astype(np.int64), transform, target_transform)

    @property
    def raw_folder(self) -> str:
        """Where downloads go: ``root/<class name>/raw``, torchvision's layout."""
        return os.path.join(self.root, type(self).__name__, "raw")

    def _candidates(self, file: str) -> list:
        return [os.path.join(directory, file + suffix)
                for directory in (self.root, self.raw_folder) for suffix in ("", ".gz")]

    def _find(self, file: str) -> str:
        tried = self._candidates(file)
        for path in tried:
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(f"{type(self).__name__}: cannot find the {self.split} split's "
                                f"file {file}[.gz]; looked for: {', '.join(tried)} (pass "
                                f"download=True to fetch it)")

    def _present(self, file: str) -> bool:
        """A usable copy is there: a raw file, or a ``.gz`` with the published MD5."""
        for path in self._candidates(file):
            if not os.path.isfile(path):
                continue
            gz_name = os.path.basename(path)
            if not path.endswith(".gz") or self.resources.get(gz_name) is None \
                    or file_md5(path) == self.resources[gz_name]:
                return True
        return False

    def download(self, progress: bool = True) -> None:
        """Fetch the split's files that are not already there (see the class docstring)."""
        for file in self.files[self.split]:
            if not self._present(file):
                gz_name = file + ".gz"
                download_file(gz_name, type(self).mirrors, self.raw_folder,
                              self.resources[gz_name], progress=progress)

    def _inputs(self, index):
        images = np.divide(self.data[index], 255, dtype=get_default_dtype())
        return np.expand_dims(images, -3)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): Zalando's 28x28 grey article images, ten
    classes, MNIST's layout and file names (60,000 training and 10,000 test images), its own
    mirrors and checksums; downloads go to ``root/FashionMNIST/raw``. Arguments as ``MNIST``.

    Example:
        >>> test = FashionMNIST(split="test", download=True)  # doctest: +SKIP
        >>> test.classes[int(test[0][1])]  # doctest: +SKIP
        'Ankle boot'
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    # the published MD5s (the dataset's README)
    resources = {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                 "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                 "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                 "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class CharDataset(Dataset):
    """Text as ``(input, target)`` pairs of int64 sequences, the target shifted by one character.

    Sample ``i`` is ``(encode(text[i:i + seq_len]), encode(text[i + 1:i + seq_len + 1]))``:
    every window of the text, overlapping, so a model learns to predict each next character.

    Args:
        text: the training text.
        seq_len: characters per sequence.
        vocabulary: the characters to use (default: the sorted distinct characters of
            ``text``); pass a training set's ``itos`` to encode validation text alike.

    Attributes:
        itos: list of characters by id; ``stoi``: dict from character to id;
        ``data``: the whole text encoded (int64).

    Example:
        >>> ds = CharDataset("hello", seq_len=3)
        >>> ds.itos, len(ds)
        (['e', 'h', 'l', 'o'], 2)
        >>> x, y = ds[0]
        >>> ds.decode(x), ds.decode(y)
        ('hel', 'ell')
    """

    def __init__(self, text: str, seq_len: int, vocabulary=None):
        if not isinstance(text, str):
            raise TypeError(f"CharDataset: text must be a str, got {type(text).__name__}")
        if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
            raise ValueError(f"CharDataset: seq_len must be a positive integer, got {seq_len!r}")
        if len(text) <= seq_len:
            raise ValueError(f"CharDataset: the text has {len(text)} characters; it needs more "
                             f"than seq_len={seq_len} to make one (input, target) pair")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if vocabulary is None:
            self._codes = np.unique(codes)
        else:
            self._codes = np.array(sorted({ord(c) for c in vocabulary}), dtype=np.uint32)
        self.itos = [chr(c) for c in self._codes.tolist()]
        self.stoi = {c: i for i, c in enumerate(self.itos)}
        self.seq_len = seq_len
        self.data = self._encode_codes(codes)
        self._windows = np.lib.stride_tricks.sliding_window_view(self.data, seq_len + 1)

    @classmethod
    def from_file(cls, path, seq_len: int, encoding: str = "utf-8", vocabulary=None):
        """Read a text file and build the dataset.

        Example:
            >>> import tempfile, os
            >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
            >>> with open(path, "w") as f:
            ...     _ = f.write("abcabc")
            >>> len(CharDataset.from_file(path, seq_len=2))
            4
        """
        with open(path, encoding=encoding) as f:
            return cls(f.read(), seq_len, vocabulary)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def _encode_codes(self, codes: np.ndarray) -> np.ndarray:
        ids = np.searchsorted(self._codes, codes)
        ids = np.minimum(ids, len(self._codes) - 1)
        unknown = self._codes[ids] != codes
        if unknown.any():
            raise ValueError(f"CharDataset.encode: character {chr(int(codes[unknown][0]))!r} is "
                             f"not in the vocabulary of {len(self._codes)} characters")
        return ids.astype(np.int64)

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text`` (int64)."""
        return self._encode_codes(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32))

    def decode(self, ids) -> str:
        """The text of a sequence of ids (a list, an array or a tensor)."""
        ids = np.asarray(ids.data if isinstance(ids, TensorBase) else ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.itos)):
            raise ValueError(f"CharDataset.decode: ids must lie in [0, {len(self.itos)}), got "
                             f"values from {int(ids.min())} to {int(ids.max())}")
        return "".join(self.itos[i] for i in ids.tolist())

    def __len__(self) -> int:
        return len(self.data) - self.seq_len

    def __getitem__(self, index):
        index = int(index)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"CharDataset: index {index} is out of range for {n} sequences")
        window = self._windows[index % n]
        return window[:-1], window[1:]

    def __getbatch__(self, indices):
        windows = self._windows[np.asarray(indices, dtype=np.intp)]
        return new_tensor(windows[:, :-1]), new_tensor(windows[:, 1:])

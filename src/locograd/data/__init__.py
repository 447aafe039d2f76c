"""Data loading with PyTorch's names (``torch.utils.data``), plus preprocessing, augmentation
and datasets (offline, or downloaded and verified).

Data flows one way: datasets yield arrays, ``DataLoader`` stacks them into batches of
locograd tensors (float32 for the bundled datasets), models take it from there.

Example:
    >>> import locograd as lg
    >>> from locograd import data
    >>> train = data.Digits("train")
    >>> scale = data.Standardize(per_channel=True).fit(train)
    >>> train.transform = scale
    >>> loader = data.DataLoader(train, batch_size=256, shuffle=True, generator=lg.Generator(0))
    >>> images, labels = next(iter(loader))
    >>> images.shape, images.dtype, labels.dtype
    ((256, 1, 8, 8), dtype('float32'), dtype('int64'))
"""
from ._worker import WorkerInfo, get_worker_info
from .augment import (ColorJitter, RandomCrop, RandomHorizontalFlip, RandomRotation, RandomShift,
                      RandomTransform, RandomTranslation, RandomVerticalFlip)
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset,
                      TensorDataset, random_split)
from .datasets import MNIST, ArrayDataset, CharDataset, Digits, FashionMNIST, load_digits
from .download import DownloadError, default_data_root
from .idx import read_idx, write_idx
from .sampler import (BatchSampler, ClassBalancedBatchSampler, RandomSampler, Sampler,
                      SequentialSampler, SubsetRandomSampler, WeightedRandomSampler)
from .transforms import (Center, Compose, Lambda, Standardize, ToTensor, Transform, Whiten,
                         apply_to_batch)

__all__ = [
    "Dataset", "IterableDataset", "ChainDataset", "TensorDataset", "Subset", "ConcatDataset",
    "random_split", "ArrayDataset", "DataLoader", "default_collate", "default_convert",
    "get_worker_info", "WorkerInfo", "Sampler", "SequentialSampler", "RandomSampler",
    "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "ClassBalancedBatchSampler",
    "Transform", "Compose", "Lambda", "ToTensor", "Center", "Standardize", "Whiten",
    "apply_to_batch", "RandomTransform", "RandomHorizontalFlip", "RandomVerticalFlip",
    "RandomRotation", "RandomShift", "RandomTranslation", "RandomCrop", "ColorJitter",
    "load_digits", "Digits", "MNIST", "FashionMNIST", "CharDataset", "read_idx", "write_idx",
    "DownloadError", "default_data_root",
]

"""``DistributedSampler``: each rank's share of a dataset, reshuffled every epoch."""
from __future__ import annotations

import math

import numpy as np

from ..backend import Generator, rng
from ..data.sampler import Sampler
from . import process_group as pg

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The indices of rank ``rank``'s shard of ``dataset`` (``torch.utils.data.
    DistributedSampler``), for a ``DataLoader(dataset, batch_size, sampler=...)``.

    Every epoch the ranks draw the same permutation (from ``seed + epoch``, so no rank needs to
    tell the others) and rank ``r`` takes its positions ``r, r + N, r + 2N, ...``. When the
    dataset does not split evenly, the permutation is padded by repeating its first indices
    (every rank then has ``ceil(len / N)`` samples), or with ``drop_last`` its tail is dropped
    (``floor(len / N)`` samples each). Call ``set_epoch(epoch)`` before each epoch
    (``locograd.train.fit`` does it), or every epoch repeats the first one's order.

    Args:
        dataset: a map-style dataset (only its length is used).
        num_replicas: the number of ranks (default: the process group's world size).
        rank: this rank (default: the process group's rank).
        shuffle: permute the indices every epoch (default True); otherwise in order.
        seed: the shared seed of the permutations (the same on every rank).
        drop_last: drop the tail instead of padding.

    Example:
        >>> sampler = DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False)
        >>> list(sampler), len(sampler)   # 0..9 then 0, 1 as padding; rank 1 takes 1, 4, 7, 0
        ([1, 4, 7, 0], 4)
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None:
            num_replicas = pg.get_world_size()
        if rank is None:
            rank = pg.get_rank()
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, (int, np.integer)) \
                or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got "
                             f"{num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) \
                or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        length = len(dataset)
        if self.drop_last:
            self.num_samples = length // self.num_replicas
        else:
            self.num_samples = math.ceil(length / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        length = len(self.dataset)
        if self.shuffle:
            indices = rng(Generator(self.seed + self.epoch)).permutation(length)
        else:
            indices = np.arange(length)
        if self.total_size > length:  # pad by repeating the permutation from its start
            indices = np.resize(indices, self.total_size)
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` (the same on every rank) in the next iteration."""
        self.epoch = int(epoch)

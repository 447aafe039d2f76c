"""``EmbeddingBag``: sums, means or maxima of bags of embeddings, without materialising the
per-bag lists (``torch.nn`` name), and ``F.embedding_bag``."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd.tensor_base import TensorBase
from ..factory import tensor, zeros
from .sparse import Embedding

__all__ = ["EmbeddingBag", "embedding_bag"]


def _bags(input, offsets, include_last_offset, name):
    """Flat indices and the bag of each, from a 2-D input (a bag per row) or 1-D + offsets."""
    indices = input.numpy() if isinstance(input, TensorBase) else np.asarray(input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{name}: input must hold integer indices, got dtype {indices.dtype}")
    if indices.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{name}: offsets must be None for a 2-D input (each row is a bag)")
        bags, length = indices.shape
        return indices.reshape(-1), np.repeat(np.arange(bags), length), bags
    if indices.ndim != 1 or offsets is None:
        raise ValueError(f"{name}: expected a 2-D input, or a 1-D input with offsets, got shape "
                         f"{indices.shape} and offsets={'None' if offsets is None else 'given'}")
    starts = offsets.numpy() if isinstance(offsets, TensorBase) else np.asarray(offsets)
    starts = starts.astype(np.int64).reshape(-1)
    if starts.size == 0 or starts[0] != 0 or np.any(np.diff(starts) < 0) \
            or starts[-1] > indices.size:
        raise ValueError(f"{name}: offsets must start at 0, not decrease and not exceed the "
                         f"input's length {indices.size}, got {starts.tolist()}")
    if include_last_offset:
        starts = starts[:-1]
    bag_of = np.searchsorted(starts, np.arange(indices.size), side="right") - 1
    return indices, bag_of, starts.size


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type: float = 2.0,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights=None, include_last_offset: bool = False, padding_idx=None):
    """Reduce bags of rows of ``weight``: ``'sum'``, ``'mean'`` or ``'max'`` per bag.

    Args:
        input: (B, N) indices (each row a bag), or 1-D indices with ``offsets``, the start of
            each bag (with ``include_last_offset``, the last offset is the end of the last bag).
        weight: (num_embeddings, embedding_dim).
        per_sample_weights: weights of the indices, like ``input`` (``mode='sum'`` only).
        padding_idx: an index that is left out of its bag (and of a mean's count).
        max_norm, norm_type, scale_grad_by_freq, sparse: as ``F.embedding``.

    Returns:
        (B, embedding_dim); an empty bag gives zeros.

    Example:
        >>> import locograd as lg
        >>> weight = lg.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
        >>> lg.nn.functional.embedding_bag(lg.tensor([0, 1, 2]), weight, lg.tensor([0, 2]),
        ...                                mode="sum").tolist()
        [[1.0, 1.0], [2.0, 2.0]]
    """
    name = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{name}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise ValueError(f"{name}: per_sample_weights is only supported for mode='sum', got "
                         f"mode={mode!r}")
    flat, bag_of, bags = _bags(input, offsets, include_last_offset, name)
    keep = np.ones(flat.size, dtype=bool) if padding_idx is None else flat != padding_idx
    flat_kept, bag_kept = flat[keep], bag_of[keep]
    rows = ops.embedding(tensor(flat_kept), weight, None, max_norm, norm_type,
                         scale_grad_by_freq, sparse)
    if per_sample_weights is not None:
        if tuple(per_sample_weights.shape) != tuple(np.shape(input.numpy()
                                                             if isinstance(input, TensorBase)
                                                             else input)):
            raise ValueError(f"{name}: per_sample_weights must have the input's shape, got "
                             f"{per_sample_weights.shape}")
        rows = rows * per_sample_weights.reshape(-1)[tensor(np.flatnonzero(keep))].unsqueeze(1)
    dim = weight.shape[1]
    if mode == "max":
        out = []
        for b in range(bags):
            members = np.flatnonzero(bag_kept == b)
            out.append(ops.amax(rows[tensor(members)], 0) if members.size
                       else zeros(dim, dtype=weight.dtype))
        return ops.stack(out) if out else zeros(0, dim, dtype=weight.dtype)
    total = ops.index_add(zeros(bags, dim, dtype=weight.dtype), 0, tensor(bag_kept), rows)
    if mode == "sum":
        return total
    counts = np.bincount(bag_kept, minlength=bags).astype(weight.dtype)
    return total / tensor(np.maximum(counts, 1).reshape(-1, 1))


class EmbeddingBag(Embedding):
    """A table of embeddings reduced per bag (``torch.nn.EmbeddingBag``: same arguments).

    ``weight`` (num_embeddings, embedding_dim) starts N(0, 1) (its ``padding_idx`` row zero), as
    ``Embedding``'s.

    Example:
        >>> import locograd as lg
        >>> bag = lg.nn.EmbeddingBag(10, 3, mode="max")
        >>> bag(lg.tensor([1, 2, 4, 5, 4]), lg.tensor([0, 2])).shape
        (2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight=None, include_last_offset: bool = False,
                 padding_idx=None, device=None, dtype=None):
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        super().__init__(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                         scale_grad_by_freq, sparse, _weight, dtype=dtype)
        self.mode, self.include_last_offset = mode, include_last_offset

    def forward(self, input, offsets=None, per_sample_weights=None):
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                             self.scale_grad_by_freq, self.mode, self.sparse, per_sample_weights,
                             self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mode={self.mode!r}"

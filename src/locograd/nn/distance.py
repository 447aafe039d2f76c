"""Distances between vectors: ``CosineSimilarity``, ``PairwiseDistance`` and their functional
forms (``torch.nn`` names), composed of existing ops."""
from __future__ import annotations

from .. import ops
from .module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance", "cosine_similarity", "pairwise_distance"]


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """``sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (inputs
    broadcast); each vector is scaled by its clamped norm first, as PyTorch does.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.cosine_similarity(lg.tensor([[1.0, 0.0]]),
        ...                                    lg.tensor([[1.0, 1.0]])).tolist()
        [0.7071067690849304]
    """
    x1, x2 = ops.broadcast_tensors(x1, x2)
    unit1 = x1 / ops.clamp(ops.norm(x1, 2, dim, keepdim=True), min=eps)
    unit2 = x2 / ops.clamp(ops.norm(x2, 2, dim, keepdim=True), min=eps)
    return ops.sum(unit1 * unit2, dim)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """``||x1 - x2 + eps||_p`` over the last dimension (inputs broadcast).

    Example:
        >>> import locograd as lg
        >>> d = lg.nn.functional.pairwise_distance(lg.tensor([[0.0, 0.0]]),
        ...                                        lg.tensor([[3.0, 4.0]]), eps=0.0)
        >>> d.tolist()
        [5.0]
    """
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError(f"pairwise_distance: expected inputs of at least 1 dimension, got "
                         f"shapes {x1.shape} and {x2.shape}")
    return ops.norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


class CosineSimilarity(Module):
    """``F.cosine_similarity`` as a module.

    Example:
        >>> import locograd as lg
        >>> lg.nn.CosineSimilarity(dim=1)(lg.randn(4, 3), lg.randn(4, 3)).shape
        (4,)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """``F.pairwise_distance`` as a module.

    Example:
        >>> import locograd as lg
        >>> lg.nn.PairwiseDistance()(lg.randn(4, 3), lg.randn(4, 3)).shape
        (4,)
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

"""``Embedding``: a lookup table of learnable vectors indexed by integers."""
from __future__ import annotations

from .. import ops
from ..autograd.grad_mode import no_grad
from ..autograd.tensor_base import TensorBase
from ..backend import get_default_dtype
from ..factory import empty
from ..ops.embedding import check_padding_idx
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by index.

    ``weight`` has shape (num_embeddings, embedding_dim) and is initialised from N(0, 1) as in
    PyTorch, with the ``padding_idx`` row (if any) set to zeros. Gradients of repeated indices
    accumulate; the ``padding_idx`` row never receives a gradient.

    Args:
        num_embeddings: size of the table.
        embedding_dim: size of each vector.
        padding_idx: a row that stays fixed (no gradient); negative counts from the end.
        max_norm: renormalise looked-up rows (in place) to at most this ``norm_type``-norm.
        norm_type: the p of the norm for ``max_norm``.
        scale_grad_by_freq: divide the gradients by the frequency of each index in the batch.
        sparse: sparse gradients are not supported (an error if True).
        _weight: an initial weight tensor (used as is), as in PyTorch.

    Example:
        >>> import locograd as lg
        >>> emb = lg.nn.Embedding(10, 3, padding_idx=0)
        >>> emb(lg.tensor([[1, 2], [0, 9]])).shape, emb.weight[0].tolist()
        ((2, 2, 3), [0.0, 0.0, 0.0])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None,
                 max_norm=None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight=None, _freeze: bool = False, dtype=None,
                 device=None):
        super().__init__()
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(f"Embedding: num_embeddings and embedding_dim must be positive, got "
                             f"({num_embeddings}, {embedding_dim})")
        padding_idx = check_padding_idx(padding_idx, num_embeddings, "Embedding")
        if sparse:
            raise NotImplementedError("Embedding: sparse gradients are not supported; use "
                                      "sparse=False")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim,
                                          dtype=dtype or get_default_dtype()),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            shape = tuple(_weight.shape)
            if shape != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {shape}, expected "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            with no_grad():
                self.weight.data[self.padding_idx] = 0
                self.weight._version[0] += 1

    def forward(self, input):
        return ops.embedding(input, self.weight, self.padding_idx, self.max_norm,
                             self.norm_type, self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An ``Embedding`` whose weight is ``embeddings`` (2-D), frozen unless ``freeze=False``.

        The weight shares memory with ``embeddings`` (a tensor or an array), as in PyTorch.

        Example:
            >>> import locograd as lg
            >>> emb = lg.nn.Embedding.from_pretrained(lg.tensor([[1.0, 2.0], [3.0, 4.0]]))
            >>> emb(lg.tensor([1])).tolist(), emb.weight.requires_grad
            ([[3.0, 4.0]], False)
        """
        data = embeddings.data if isinstance(embeddings, TensorBase) else embeddings
        if getattr(data, "ndim", None) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{getattr(data, 'shape', None)}")
        rows, cols = data.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=freeze)

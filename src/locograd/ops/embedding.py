"""The embedding lookup: rows of a weight matrix picked by integer indices.

Its rule is written once over values (arrays on the fast path, tensors when the backward pass
is recorded): the rows' gradients are summed by ``indexing.index_add_zeros``.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase
from ..backend import namespace
from .indexing import index_add_zeros, zero_at

__all__ = ["embedding"]


class Embedding(Function):
    """Rows of ``weight`` picked by integer ``indices``; the gradient accumulates per row."""

    label = "Embedding"

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, row_scale):
        ctx.indices, ctx.shape = indices, weight.data.shape
        ctx.padding_idx, ctx.row_scale = padding_idx, row_scale
        return weight.data[indices]

    @staticmethod
    def backward(ctx, grad):
        if ctx.row_scale is not None:
            grad = grad * ctx.row_scale
        g = index_add_zeros(grad, ctx.shape, ctx.indices)
        if ctx.padding_idx is not None:
            g = zero_at(g, ctx.padding_idx)
        return g, None, None, None


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False):
    """Look up rows of ``weight`` (num_embeddings, dim) for integer ``input`` of any shape.

    Args:
        input: integer tensor (or array) of indices in ``[0, num_embeddings)``.
        weight: the embedding matrix.
        padding_idx: a row that receives no gradient (negative counts from the end).
        max_norm: if given, rows looked up are first renormalised in place (under no_grad) to
            a ``norm_type``-norm of at most ``max_norm``, as PyTorch.
        scale_grad_by_freq: divide each row's gradient by how often it occurs in ``input``.
        sparse: sparse gradients are not supported (an error if True).

    Returns:
        A tensor of shape ``input.shape + (dim,)``. Repeated indices accumulate their gradients.

    Example:
        >>> import locograd as lg
        >>> w = lg.arange(6.0).reshape(3, 2)
        >>> lg.nn.functional.embedding(lg.tensor([[2, 0]]), w).tolist()
        [[[4.0, 5.0], [0.0, 1.0]]]
    """
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported; use "
                                  "sparse=False (dense gradients)")
    w = weight.data
    xp = namespace(w)
    idx = input.data if isinstance(input, TensorBase) else xp.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got dtype {idx.dtype}")
    if w.ndim != 2:
        raise ValueError(f"embedding: the weight must be 2-D (num_embeddings, embedding_dim), "
                         f"got shape {w.shape}")
    n = w.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"embedding: index out of range: indices must be in [0, {n}), got "
                         f"values in [{idx.min()}, {idx.max()}] (input shape {idx.shape})")
    padding_idx = check_padding_idx(padding_idx, n, "embedding")
    if max_norm is not None:
        _renorm_rows(weight, xp.unique(idx), max_norm, norm_type)
    row_scale = None
    if scale_grad_by_freq:
        counts = xp.bincount(idx.reshape(-1), minlength=n)
        row_scale = (1.0 / xp.maximum(counts, 1)[idx])[..., None].astype(w.dtype)
    return Embedding.apply(weight, idx, padding_idx, row_scale)


def check_padding_idx(padding_idx, num_embeddings: int, name: str):
    """``padding_idx`` as a non-negative row index (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{name}: padding_idx {padding_idx} is out of range for "
                         f"{num_embeddings} embeddings")
    return padding_idx % num_embeddings


def _renorm_rows(weight, rows, max_norm: float, norm_type: float) -> None:
    """Scale the given rows of ``weight`` in place so that their norm is at most ``max_norm``."""
    sub = weight.data[rows]
    norms = namespace(sub).linalg.norm(sub, ord=norm_type, axis=1)
    too_big = norms > max_norm
    if too_big.any():
        scale = (max_norm / (norms[too_big] + 1e-7)).astype(sub.dtype)
        weight.data[rows[too_big]] = sub[too_big] * scale[:, None]
        weight._version[0] += 1

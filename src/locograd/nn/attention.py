"""Attention: ``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` (torch names).

Both are compositions of existing ops (``matmul``, ``softmax``, ``dropout``, ``linear``), so
their gradients, higher-order ones included, come from those ops' rules. Masks follow
PyTorch's conventions, which differ between the two on purpose (PyTorch's):

* ``scaled_dot_product_attention``: a boolean ``attn_mask`` is True where a query *may* attend
  to a key; a float mask is added to the scores.
* ``MultiheadAttention``: a boolean ``attn_mask`` or ``key_padding_mask`` is True where
  attention is *not* allowed (padding); a float mask is added.

A query row whose keys are all masked gets zero weights and a zero output (PyTorch's
``scaled_dot_product_attention`` does the same; its ``MultiheadAttention`` gives NaN there when
it returns the weights).
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd.tensor_base import TensorBase
from ..backend import get_default_dtype
from ..factory import empty, tensor
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["scaled_dot_product_attention", "MultiheadAttention"]


def _mask_array(mask) -> np.ndarray:
    return mask.numpy() if isinstance(mask, TensorBase) else np.asarray(mask)


def additive_mask(mask, dtype, blocked_when: bool, name: str):
    """A float mask to add to attention scores: a boolean mask becomes 0 / -inf (``-inf`` where
    it equals ``blocked_when``), a float mask is returned as it is (a tensor, so a learned mask
    keeps its gradient). ``None`` stays ``None``."""
    if mask is None:
        return None
    if not isinstance(mask, TensorBase):
        mask = tensor(np.asarray(mask))
    if mask.dtype == np.bool_:
        blocked = _mask_array(mask) == blocked_when
        return tensor(np.where(blocked, -np.inf, 0.0).astype(dtype))
    if mask.dtype.kind != "f":
        raise TypeError(f"{name}: a mask must be bool or floating point, got dtype {mask.dtype}")
    if mask.dtype != dtype:
        raise TypeError(f"{name}: a float mask must have the query's dtype {dtype}, got "
                        f"{mask.dtype}")
    return mask


def attend(query, key, value, mask=None, dropout_p: float = 0.0, scale: float | None = None,
           generator=None):
    """``softmax(query key^T * scale + mask) value`` and the weights, over the last two
    dimensions; rows whose scores are all ``-inf`` get zero weights (not NaN)."""
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    scores = ops.matmul(query, ops.transpose(key, -2, -1)) * scale
    dead = None
    if mask is not None:
        scores = scores + mask
        dead = np.isneginf(scores.numpy()).all(-1, keepdims=True)
    if dead is not None and dead.any():
        dead = tensor(dead)
        # a finite row keeps softmax (and its gradient) free of NaN; its weights are then zeroed
        weights = ops.softmax(scores.masked_fill(dead, 0.0), -1).masked_fill(dead, 0.0)
    else:
        weights = ops.softmax(scores, -1)
    if dropout_p > 0.0:
        weights = ops.dropout(weights, dropout_p, True, generator=generator)
    return ops.matmul(weights, value), weights


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False, *, generator=None):
    """Attention ``softmax(Q K^T * scale + mask) V`` over the last two dimensions.

    Args:
        query: (..., L, E). key: (..., S, E). value: (..., S, Ev); leading dimensions broadcast.
        attn_mask: broadcastable to (..., L, S): bool (True: the query may attend to the key)
            or float (added to the scores).
        dropout_p: dropout on the attention weights (applied whenever > 0, as in PyTorch).
        is_causal: mask out the keys after each query (the upper triangle); then ``attn_mask``
            must be None.
        scale: the factor on the scores (default ``1 / sqrt(E)``).
        enable_gqa: grouped-query attention is not supported (must be False).
        generator: a locograd addition: the generator of the dropout mask.

    Returns:
        (..., L, Ev).

    Example:
        >>> import locograd as lg
        >>> import locograd.nn.functional as F
        >>> q = k = v = lg.randn(2, 4, 5, 8)
        >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
        (2, 4, 5, 8)
    """
    name = "scaled_dot_product_attention"
    for label, x in (("query", query), ("key", key), ("value", value)):
        if x.ndim < 2:
            raise ValueError(f"{name}: {label} must have at least 2 dimensions, got shape "
                             f"{x.shape}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{name}: expected query (..., L, E), key (..., S, E) and value "
                         f"(..., S, Ev), got shapes {query.shape}, {key.shape}, {value.shape}")
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(f"{name}: query, key and value must have the same dtype, got "
                        f"{query.dtype}, {key.dtype}, {value.dtype}")
    if enable_gqa:
        raise ValueError(f"{name}: enable_gqa=True (grouped-query attention) is not supported")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{name}: dropout_p must be in [0, 1], got {dropout_p}")
    mask = additive_mask(attn_mask, query.dtype, False, name)
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{name}: give either attn_mask or is_causal=True, not both")
        length, source = query.shape[-2], key.shape[-2]
        allowed = np.tril(np.ones((length, source), dtype=bool))
        mask = tensor(np.where(allowed, 0.0, -np.inf).astype(query.dtype))
    output, _ = attend(query, key, value, mask, dropout_p, scale, generator)
    return output


class MultiheadAttention(Module):
    """Multi-head attention (``torch.nn.MultiheadAttention``: same arguments, parameter names
    and initialisation, so a PyTorch ``state_dict`` loads).

    ``MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_out^T + b_out`` with
    ``head_i = Attention(Q W_qi^T, K W_ki^T, V W_vi^T)`` and scale ``1 / sqrt(embed_dim / h)``.

    Parameters: ``in_proj_weight`` (3E, E) packing the query, key and value projections when
    ``kdim == vdim == embed_dim``, else ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim); ``in_proj_bias`` (3E) when ``bias``; ``out_proj`` (a Linear).

    Args:
        embed_dim: E. num_heads: h (must divide E).
        dropout: dropout on the attention weights (training only).
        bias: learn the projections' biases.
        add_bias_kv, add_zero_attn: not supported (must be False).
        kdim, vdim: feature sizes of key and value (default E).
        batch_first: inputs and outputs are (N, L, E) instead of (L, N, E).

    Example:
        >>> import locograd as lg
        >>> mha = lg.nn.MultiheadAttention(8, 2, batch_first=True)
        >>> x = lg.randn(3, 5, 8)
        >>> out, weights = mha(x, x, x)
        >>> out.shape, weights.shape
        ((3, 5, 8), (3, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        name = "MultiheadAttention"
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"{name}: embed_dim and num_heads must be positive, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"{name}: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise ValueError(f"{name}: add_bias_kv and add_zero_attn are not supported")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.add_zero_attn = False
        self.bias_k = self.bias_v = None
        dtype = dtype or get_default_dtype()
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, dtype=dtype))
            for key in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(key, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, dtype=dtype))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, dtype=dtype))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self):
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:e], w[e:2 * e], w[2 * e:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return weights, biases

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        """Attend from ``query`` to ``key``/``value``.

        Args:
            query: (L, N, E), or (N, L, E) with ``batch_first``, or unbatched (L, E).
            key: (S, N, kdim) (batch-first / unbatched likewise). value: (S, N, vdim).
            key_padding_mask: (N, S) (or (S,) unbatched): bool, True for keys to ignore, or
                float, added to the scores.
            need_weights: also return the attention weights.
            attn_mask: (L, S) or (N * num_heads, L, S): bool, True where attention is not
                allowed, or float, added.
            average_attn_weights: average the returned weights over the heads.
            is_causal: a hint that ``attn_mask`` is the causal mask (which must be given).

        Returns:
            ``(output, weights)``: output shaped like ``query`` with E features; weights (N, L,
            S) averaged, or (N, h, L, S), or None without ``need_weights``.
        """
        name = "MultiheadAttention"
        if is_causal and attn_mask is None:
            raise ValueError(f"{name}: is_causal=True is a hint and needs attn_mask (for "
                             f"example nn.Transformer.generate_square_subsequent_mask(L))")
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{name}: expected query, key and value all 3-D (batched) or all "
                             f"2-D (unbatched), got shapes {query.shape}, {key.shape}, "
                             f"{value.shape}")
        if not batched:
            query, key, value = (x.unsqueeze(0) for x in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        n, length, e = query.shape
        source = key.shape[1]
        if e != self.embed_dim or key.shape[2] != self.kdim or value.shape[2] != self.vdim \
                or key.shape[:2] != (n, source) or value.shape[:2] != (n, source):
            raise ValueError(f"{name}: expected query (N, L, {self.embed_dim}), key (N, S, "
                             f"{self.kdim}) and value (N, S, {self.vdim}) (batch first), got "
                             f"{query.shape}, {key.shape}, {value.shape}")
        mask = self._merged_mask(attn_mask, key_padding_mask, n, length, source, query.dtype)
        (wq, wk, wv), (bq, bk, bv) = self._projections()
        h, d = self.num_heads, self.head_dim

        def heads(x, weight, bias, size):  # (N, T, features) -> (N, h, T, d)
            return ops.linear(x, weight, bias).reshape(n, size, h, d).transpose(1, 2)

        q, k, v = heads(query, wq, bq, length), heads(key, wk, bk, source), \
            heads(value, wv, bv, source)
        dropout_p = self.dropout if self.training else 0.0
        output, weights = attend(q, k, v, mask, dropout_p)
        output = self.out_proj(output.transpose(1, 2).reshape(n, length, e))
        if not batched:
            output = output.squeeze(0)
        elif not self.batch_first:
            output = output.transpose(0, 1)
        if not need_weights:
            return output, None
        if average_attn_weights:
            weights = weights.mean(1)
        return output, (weights if batched else weights.squeeze(0))

    def _merged_mask(self, attn_mask, key_padding_mask, n, length, source, dtype):
        """One float mask broadcastable to (N, h, L, S), or None."""
        name = "MultiheadAttention"
        mask = additive_mask(attn_mask, dtype, True, name)
        if mask is not None:
            if mask.shape == (length, source):
                pass
            elif mask.shape == (n * self.num_heads, length, source):
                mask = mask.reshape(n, self.num_heads, length, source)
            else:
                raise ValueError(f"{name}: attn_mask must have shape ({length}, {source}) or "
                                 f"({n * self.num_heads}, {length}, {source}), got {mask.shape}")
        padding = additive_mask(key_padding_mask, dtype, True, name)
        if padding is not None:
            if padding.shape != (n, source):
                raise ValueError(f"{name}: key_padding_mask must have shape ({n}, {source}), "
                                 f"got {padding.shape}")
            padding = padding.reshape(n, 1, 1, source)
            mask = padding if mask is None else mask + padding
        return mask

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")

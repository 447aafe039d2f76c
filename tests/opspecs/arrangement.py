"""OpSpecs for locograd.ops.arrangement: diagonals (diagonal, diag_embed, block_diag), flips and
rotations, repeat_interleave and the sliding windows of tensor_unfold (overlapping, touching
and gapped windows)."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import fixed, normal, weighted, weighted_ref

_windows = np.lib.stride_tricks.sliding_window_view


def _diag_embed_ref(x, offset, dim1, dim2):
    n = x.shape[-1] + abs(offset)
    out = np.zeros(x.shape[:-1] + (n, n))
    i = np.arange(x.shape[-1])
    rows, cols = (i, i + offset) if offset >= 0 else (i - offset, i)
    out[..., rows, cols] = x
    return np.moveaxis(out, (-2, -1), (dim1, dim2))


def _block_diag_ref(*blocks):
    blocks = [np.atleast_2d(b) for b in blocks]
    out = np.zeros((sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)))
    r = c = 0
    for b in blocks:
        out[r:r + b.shape[0], c:c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    return out


def _rot90_all(x):
    return sum((k + 1.0) * lg.rot90(x, k) for k in range(-1, 4))


def _rot90_all_ref(x):
    return sum((k + 1.0) * np.rot90(x, k) for k in range(-1, 4))


def _unfold_large(rng):
    return normal(rng, (int(rng.integers(2, 4)), int(rng.integers(5, 9)), 2))


SPECS = [
    OpSpec("diagonal", weighted(lambda x: lg.diagonal(x, 1, -1, 0)), fixed((3, 2, 4)),
           weighted_ref(lambda x: np.diagonal(x, 1, 2, 0)), ("Diagonal", "DiagEmbed")),
    OpSpec("diagonal_below_and_empty",
           lambda x: (weighted(lambda t: lg.diagonal(t, -1))(x), lg.diagonal(x, 7) * 2.0),
           fixed((4, 3)), lambda x: (weighted_ref(lambda t: np.diagonal(t, -1))(x),
                                     np.diagonal(x, 7) * 2.0), ("Diagonal",)),
    OpSpec("diag_embed", weighted(lambda x: lg.diag_embed(x, -1, 2, 0)), fixed((2, 3)),
           weighted_ref(lambda x: _diag_embed_ref(x, -1, 2, 0)), ("DiagEmbed", "Diagonal")),
    OpSpec("diag_embed_default_dims", weighted(lambda x: lg.diag_embed(x, 2)), fixed((3,)),
           weighted_ref(lambda x: _diag_embed_ref(x, 2, 0, 1)), ("DiagEmbed",)),
    OpSpec("block_diag", weighted(lg.block_diag), fixed((2, 3), (4,), ()),
           weighted_ref(_block_diag_ref), ("Pad", "Cat", "Reshape")),
    OpSpec("fliplr_flipud", lambda x: weighted(lg.fliplr)(x) + 2.0 * weighted(lg.flipud)(x),
           fixed((3, 2, 2)), lambda x: weighted_ref(np.fliplr)(x) + 2.0 *
           weighted_ref(np.flipud)(x), ("Flip",)),
    OpSpec("rot90_every_k", weighted(_rot90_all), fixed((3, 3)), weighted_ref(_rot90_all_ref),
           ("Flip", "Permute", "Clone")),
    OpSpec("rot90_dims", weighted(lambda x: lg.rot90(x, 1, (2, 0))), fixed((2, 3, 4)),
           weighted_ref(lambda x: np.rot90(x, 1, (2, 0))), ("Flip", "Permute")),
    OpSpec("repeat_interleave_int", weighted(lambda x: lg.repeat_interleave(x, 2, -1)),
           fixed((2, 3)), weighted_ref(lambda x: np.repeat(x, 2, -1)),
           ("BroadcastTo", "Reshape")),
    OpSpec("repeat_interleave_flat", weighted(lambda x: lg.repeat_interleave(x, 3)),
           fixed((2, 2)), weighted_ref(lambda x: np.repeat(x, 3)), ("BroadcastTo", "Reshape")),
    OpSpec("repeat_interleave_tensor",
           weighted(lambda x: lg.repeat_interleave(x, lg.tensor([1, 0, 3]), dim=0)),
           fixed((3, 2)), weighted_ref(lambda x: np.repeat(x, [1, 0, 3], 0)),
           ("Getitem", "IndexAddZeros")),
    # windows that overlap (more windows than their length, then fewer), touch, leave gaps
    OpSpec("unfold_overlapping", weighted(lambda x: lg.tensor_unfold(x, 1, 3, 1)),
           fixed((2, 7, 2)), weighted_ref(lambda x: _windows(x, 3, axis=1)),
           ("TensorUnfold", "UnfoldBackward"), large_inputs=_unfold_large),
    OpSpec("unfold_long_windows", weighted(lambda x: lg.tensor_unfold(x, -1, 4, 1)),
           fixed((5,)), weighted_ref(lambda x: _windows(x, 4)),
           ("TensorUnfold", "UnfoldBackward")),
    OpSpec("unfold_touching_and_gapped",
           lambda x: (weighted(lambda t: lg.tensor_unfold(t, 0, 2, 2))(x),
                      weighted(lambda t: lg.tensor_unfold(t, 0, 2, 3))(x)),
           fixed((7, 2)), lambda x: (weighted_ref(lambda t: _windows(t, 2, axis=0)[::2])(x),
                                     weighted_ref(lambda t: _windows(t, 2, axis=0)[::3])(x)),
           ("TensorUnfold", "UnfoldBackward")),
]

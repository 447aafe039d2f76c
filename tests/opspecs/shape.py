"""OpSpecs for locograd.ops.shape: views (reshape, permute, expand...), concatenation,
splitting, padding, tiling and flips. The outputs are multiplied by a fixed pattern where a
plain sum of the gradient would hide a wrong permutation."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import fixed, random_normal, weighted, weighted_ref

_any = random_normal()
_3d = random_normal(3)
_3d_large = random_normal(3, max_size=6)


def _split_sizes(x):
    return x.split([1, 2], dim=1)


def _pad_ref(x):
    return np.pad(x, [(0, 0), (2, 0), (1, 3)], constant_values=0.5)


SPECS = [
    OpSpec("reshape", lambda x: x.reshape(-1, 2), fixed((3, 4)), lambda x: x.reshape(-1, 2),
           ("Reshape",)),
    OpSpec("reshape_from_scalar", lambda x: lg.reshape(x, (1, 1)), fixed(()),
           lambda x: x.reshape(1, 1), ("Reshape",)),
    OpSpec("reshape_noncontiguous", lambda x: x.T.reshape(12) * lg.arange(12.0).to(x.dtype),
           fixed((3, 4)), lambda x: x.T.reshape(12) * np.arange(12.0), ("Reshape", "Permute")),
    OpSpec("view", lambda x: x.view(2, 3, 2), fixed((3, 4)), lambda x: x.reshape(2, 3, 2),
           ("Reshape",)),
    OpSpec("view_as_reshape_as", lambda x, y: x.view_as(y) + x.reshape_as(y), fixed((6,),
           (2, 3)), lambda x, y: 2 * x.reshape(2, 3), ("Reshape", "Add")),
    OpSpec("flatten", lambda x: x.flatten(1), _3d, lambda x: x.reshape(x.shape[0], -1),
           ("Reshape",)),
    OpSpec("flatten_all_and_unflatten", lambda x: lg.flatten(x).unflatten(0, x.shape[::-1]),
           _3d, lambda x: x.reshape(x.shape[::-1]), ("Reshape",)),
    OpSpec("squeeze", lambda x: x.squeeze(), fixed((1, 3, 1, 2)),
           lambda x: x.reshape(3, 2), ("Reshape",)),
    OpSpec("squeeze_dim", lambda x: lg.squeeze(x, 2) * 1.5, fixed((1, 3, 1, 2)),
           lambda x: 1.5 * x.reshape(1, 3, 2), ("Reshape",)),
    OpSpec("unsqueeze", lambda x: x.unsqueeze(-1) * lg.tensor([[1.0, -2.0]], dtype=x.dtype),
           _any, lambda x: x[..., None] * np.array([[1.0, -2.0]]), ("Reshape", "Mul")),
    OpSpec("transpose", weighted(lambda x: x.transpose(0, 2)), _3d,
           weighted_ref(lambda x: x.transpose(2, 1, 0)), ("Permute",),
           large_inputs=_3d_large),
    OpSpec("permute", weighted(lambda x: x.permute(2, 0, 1)), _3d,
           weighted_ref(lambda x: x.transpose(2, 0, 1)), ("Permute",)),
    OpSpec("T_and_mT", weighted(lambda x: x.T + x.mT.transpose(0, 2)), fixed((2, 3, 3)),
           weighted_ref(lambda x: x.transpose(2, 1, 0) + np.swapaxes(x, 1, 2).transpose(2, 1, 0)),
           ("Permute",)),
    OpSpec("t_matrix", weighted(lambda x: x.t()), fixed((2, 3)), weighted_ref(np.transpose),
           ("Permute",)),
    OpSpec("movedim", weighted(lambda x: lg.movedim(x, 0, -1)), _3d,
           weighted_ref(lambda x: np.moveaxis(x, 0, -1)), ("Permute",)),
    OpSpec("movedim_sequences", weighted(lambda x: x.movedim([0, -1], (2, 0))), _3d,
           weighted_ref(lambda x: np.moveaxis(x, [0, -1], (2, 0))), ("Permute",)),
    OpSpec("expand", weighted(lambda x: x.expand(2, -1, 4)), fixed((3, 1)),
           weighted_ref(lambda x: np.broadcast_to(x, (2, 3, 4))),
           ("BroadcastTo", "SumTo")),
    OpSpec("broadcast_to", weighted(lambda x: lg.broadcast_to(x, (3, 2, 4))), fixed((2, 1)),
           weighted_ref(lambda x: np.broadcast_to(x, (3, 2, 4))), ("BroadcastTo", "SumTo")),
    OpSpec("expand_as", weighted(lambda x, y: x.expand_as(y) * y), fixed((4,), (3, 4)),
           weighted_ref(lambda x, y: x * y), ("BroadcastTo", "Mul")),
    OpSpec("sum_to_size", lambda x: x.sum_to_size(3, 1), fixed((2, 3, 4)),
           lambda x: x.sum(axis=(0, 2)).reshape(3, 1), ("SumTo", "BroadcastTo")),
    OpSpec("cat", weighted(lambda a, b, c: lg.cat([a, b, c], 1)),
           fixed((2, 1), (2, 3), (2, 2)),
           weighted_ref(lambda a, b, c: np.concatenate([a, b, c], 1)), ("Cat", "Split")),
    OpSpec("cat_single_and_repeated", weighted(lambda a: lg.cat([a]) + lg.cat([a, a], 0)[:2]),
           fixed((2, 3)), weighted_ref(lambda a: 2 * a), ("Cat",)),
    OpSpec("stack", weighted(lambda a, b: lg.stack([a, b, a], -1)), fixed((2, 3), (2, 3)),
           weighted_ref(lambda a, b: np.stack([a, b, a], -1)), ("Stack", "Unbind")),
    OpSpec("hstack_vstack", lambda a, b: lg.hstack([a, b]).sum() * lg.vstack([a, b]),
           fixed((3,), (3,)), lambda a, b: (a.sum() + b.sum()) * np.vstack([a, b]),
           ("Cat", "Mul")),
    OpSpec("split_sizes", lambda x: tuple(p * (i + 1.0) for i, p in enumerate(_split_sizes(x))),
           fixed((2, 3)), lambda x: (x[:, :1], 2 * x[:, 1:]), ("Split", "Cat")),
    OpSpec("split_int_uneven", lambda x: lg.split(x, 2, 0)[-1] * 3.0, fixed((5, 2)),
           lambda x: 3.0 * x[4:], ("Split",)),
    OpSpec("chunk", lambda x: x.chunk(3, -1)[1] - x.chunk(2, -1)[0][:, 1:], fixed((2, 6)),
           lambda x: x[:, 2:4] - x[:, 1:3], ("Split", "Getitem")),
    OpSpec("unbind", lambda x: tuple(r * (i - 1.0) for i, r in enumerate(x.unbind(1))),
           fixed((2, 3)), lambda x: tuple(x[:, i] * (i - 1.0) for i in range(3)),
           ("Unbind", "Stack")),
    OpSpec("pad", weighted(lambda x: lg.pad(x, (1, 3, 2, 0), value=0.5)), fixed((2, 2, 3)),
           weighted_ref(_pad_ref), ("Pad", "Getitem")),
    OpSpec("repeat", weighted(lambda x: x.repeat(2, 1, 3)), fixed((2, 3)),
           weighted_ref(lambda x: np.tile(x, (2, 1, 3))), ("Repeat",)),
    OpSpec("tile", weighted(lambda x: lg.tile(x, (2,))), fixed((3, 2)),
           weighted_ref(lambda x: np.tile(x, (1, 2))), ("Repeat",)),
    OpSpec("flip", weighted(lambda x: x.flip((0, -1))), _3d,
           weighted_ref(lambda x: x[::-1, :, ::-1]), ("Flip",)),
    OpSpec("roll", weighted(lambda x: x.roll((1, -2), (0, 2))), _3d,
           weighted_ref(lambda x: np.roll(x, (1, -2), (0, 2))), ("Roll",)),
    OpSpec("roll_flattened", weighted(lambda x: lg.roll(x, 3)), fixed((2, 3)),
           weighted_ref(lambda x: np.roll(x, 3)), ("Roll", "Reshape")),
    OpSpec("swapaxes_swapdims_ravel", weighted(lambda x: x.swapaxes(0, 1).ravel()
                                                + lg.swapdims(x, 1, 0).reshape(-1)),
           fixed((2, 3)), weighted_ref(lambda x: 2 * x.T.reshape(-1)), ("Permute", "Reshape")),
    OpSpec("broadcast_tensors", lambda a, b: tuple(weighted(lambda t: t)(t)
                                                   for t in lg.broadcast_tensors(a, b)),
           fixed((3, 1), (4,)), lambda a, b: tuple(weighted_ref(lambda t: t)(t)
                                                     for t in np.broadcast_arrays(a, b)),
           ("BroadcastTo",)),
    # a constant mask through where (inf above the triangle stays out of the result)
    OpSpec("tril_triu_batched", weighted(lambda x: lg.tril(x, -1) - lg.triu(x, 2)),
           fixed((2, 3, 4)), weighted_ref(lambda x: np.tril(x, -1) - np.triu(x, 2)),
           ("Where", "Sub")),
    OpSpec("diag_both_ways", lambda x: lg.diag(lg.diag(x, -1), 1) * 2.0, fixed((3, 4)),
           lambda x: 2.0 * np.diag(np.diag(x, -1), 1), ("Getitem", "IndexPut")),
    OpSpec("clone", lambda x: x.clone() * 2.0, _any, lambda x: 2 * x, ("Clone",)),
    OpSpec("contiguous", lambda x: x.T.contiguous() * lg.arange(6.0, dtype=x.dtype).reshape(3, 2),
           fixed((2, 3)), lambda x: x.T * np.arange(6.0).reshape(3, 2), ("Clone", "Permute")),
]

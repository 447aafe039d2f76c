"""OpSpecs for locograd.ops.split_join: tensor_split (sections, in-order and out-of-order
indices), hsplit/vsplit/dsplit, atleast_1d/2d/3d, column_stack, dstack and meshgrid."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import fixed, weighted, weighted_ref


def _scaled(parts):
    """Each part times a different constant (a plain sum would hide a swapped part)."""
    return tuple(p * (i + 1.0) for i, p in enumerate(parts))


def _pieces(x, cuts):
    bounds = [0] + cuts + [x.shape[0]]
    return tuple(x[a:b] for a, b in zip(bounds, bounds[1:]))


SPECS = [
    OpSpec("tensor_split_sections", lambda x: _scaled(lg.tensor_split(x, 3, 1)), fixed((2, 7)),
           lambda x: _scaled(np.array_split(x, 3, 1)), ("Split",)),
    OpSpec("tensor_split_indices", lambda x: _scaled(lg.tensor_split(x, lg.tensor([1, -2]))),
           fixed((6, 2)), lambda x: _scaled(np.split(x, [1, 4])), ("Split",)),
    # overlapping and empty parts: slices, each a view of its own
    OpSpec("tensor_split_out_of_order", lambda x: _scaled(lg.tensor_split(x, [3, 1, 9])),
           fixed((5, 2)), lambda x: _scaled(_pieces(x, [3, 1, 9])), ("Getitem",)),
    OpSpec("hsplit_vsplit_dsplit",
           lambda x: (lg.hsplit(x, 2)[1] * 2.0, lg.vsplit(x, [1])[1] * 3.0, lg.dsplit(x, 3)[2]),
           fixed((2, 4, 6)), lambda x: (np.hsplit(x, 2)[1] * 2.0, np.vsplit(x, [1])[1] * 3.0,
                                        np.dsplit(x, 3)[2]), ("Split",)),
    OpSpec("atleast_nd", lambda a, b, c: (lg.atleast_1d(a) * 2.0,) + lg.atleast_2d(a, b) +
           lg.atleast_3d([a, b, c]), fixed((), (3,), (2, 3)),
           lambda a, b, c: (np.atleast_1d(a) * 2.0,) + tuple(np.atleast_2d(a, b)) +
           tuple(np.atleast_3d(a, b, c)), ("Reshape",)),
    OpSpec("column_stack", weighted(lambda a, b: lg.column_stack([a, b, a])), fixed((3,), (3, 2)),
           weighted_ref(lambda a, b: np.column_stack([a, b, a])), ("Cat", "Reshape")),
    OpSpec("dstack", weighted(lambda a, b: lg.dstack([a, b])), fixed((2, 3), (2, 3, 2)),
           weighted_ref(lambda a, b: np.dstack([a, b])), ("Cat", "Reshape")),
    OpSpec("meshgrid_ij", lambda a, b, c: tuple(weighted(lambda t: t)(t) for t in
                                              lg.meshgrid(a, b, c, indexing="ij")),
           fixed((2,), (3,), ()), lambda a, b, c: tuple(weighted_ref(lambda t: t)(t) for t in
                                                      np.meshgrid(a, b, c, indexing="ij")),
           ("BroadcastTo", "Reshape")),
    OpSpec("meshgrid_xy", lambda a, b, c: tuple(weighted(lambda t: t)(t) for t in
                                              lg.meshgrid([a, b, c], indexing="xy")),
           fixed((2,), (3,), (4,)), lambda a, b, c: tuple(weighted_ref(lambda t: t)(t) for t in
                                                        np.meshgrid(a, b, c, indexing="xy")),
           ("BroadcastTo", "Reshape")),
]

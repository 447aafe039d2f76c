"""OpSpecs for locograd.ops.indexing: basic, integer-array (with repeated indices: the
gradient accumulates) and boolean-mask indexing, index assignment, gather/scatter_add,
index_select, masked_fill, and the triangular/diagonal factories built on them."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import checker, distinct, fixed, normal, weighted, weighted_ref

ROWS = np.array([0, 2, 0, 0])                       # repeated: row 0 three times
GATHER_1 = np.array([[0, 0, 3], [3, 3, 3], [2, 1, 0]])  # (3, 3) into (3, 4) along dim 1
GATHER_0 = np.array([[2, 2, 0, 1], [2, 2, 2, 0]])       # (2, 4) into (3, 4) along dim 0
MASK = checker((3, 4)) ^ np.eye(3, 4, dtype=bool)


_x34 = fixed((3, 4))


def _x34_large(rng):
    return normal(rng, (int(rng.integers(3, 7)), int(rng.integers(4, 8))))


def _setitem(x, v, w):
    h = x * 1.0
    h[0] = v                 # a row: v broadcast over it
    h[1:, [3, 1]] = w        # an integer-array index on a slice
    h[h.detach() > 1.5] = 0.0  # a mask with a constant: no gradient to the overwritten entries
    return h


def _setitem_ref(x, v, w):
    h = x.copy()
    h[0] = v
    h[1:, [3, 1]] = w
    h[h > 1.5] = 0.0
    return h


def _setitem_inputs(rng):
    x, v, w = normal(rng, (3, 4), (4,), (2, 2))
    # keep entries away from the mask's threshold
    x = np.where(np.abs(x - 1.5) < 0.1, x - 0.3, x)
    v = np.where(np.abs(v - 1.5) < 0.1, v - 0.3, v)
    w = np.where(np.abs(w - 1.5) < 0.1, w - 0.3, w)
    return x, v, w


def _setitem_into_constant(x):
    buf = lg.zeros(2, 3, 4, dtype=x.dtype)  # a leaf that does not require grad
    buf[1, :, 1:] = x[:, :3]
    buf[0] = x * 2.0
    return buf


def _setitem_into_constant_ref(x):
    buf = np.zeros((2, 3, 4))
    buf[1, :, 1:] = x[:, :3]
    buf[0] = x * 2.0
    return buf


TAKE_BROADCAST = np.array([[[3, 0], [1, 1], [2, 3]]])     # (1, 3, 2) against (2, 1, 4)
FLAT = np.array([11, 0, 5, 5])                           # into the flattened (12,)


def _index_ops_0d(s, v):
    """gather, scatter, scatter_add, index_select, index_add and topk of a 0-d tensor."""
    zero = lg.tensor(0)
    out = lg.gather(s, 0, lg.tensor([0, 0])) * v                       # (2,)
    out = out + s.scatter_add(0, zero, v[0] * 3.0) + s.scatter(0, zero, v[1])
    out = out + s.index_select(0, zero) * v + s.index_add(0, lg.tensor([0]), v[1] * v[0])
    return out + s.topk(1, dim=0).values * 2.0


def _index_ops_0d_ref(s, v):
    s = float(s)
    return (s * v + (s + v[0] * 3.0) + v[1] + s * v + (s + v[1] * v[0]) + s * 2.0)


SCATTER_1 = np.array([[0, 2, 3], [3, 1, 0], [2, 0, 1]])  # no repeats within a row
SCATTER_0 = np.array([[2, 0, 1, 0], [1, 2, 0, 2]])       # (2, 4) into (3, 4) along dim 0


def _np_scatter(x, dim, index, src, add=False):
    """``torch.scatter`` (or ``scatter_add``) written as the loop of its definition."""
    out = x.copy()
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] = out[tuple(target)] + src[pos] if add else src[pos]
    return out


def _np_scatter_add(x, dim, index, src):
    return _np_scatter(x, dim, index, src, add=True)


def _np_index_add(x, rows, src):
    out = x.copy()
    np.add.at(out, rows, src)
    return out


def _inplace_index_methods(x, s, t):
    h = x * 1.0
    h.scatter_(1, lg.tensor(SCATTER_1), s)
    h.index_add_(0, lg.tensor(ROWS), t)
    h.index_put_((lg.tensor([0, 2]), lg.tensor([1, 1])), s[0, :2] * 3.0)
    return h


def _inplace_index_methods_ref(x, s, t):
    h = _np_index_add(_np_scatter(x, 1, SCATTER_1, s), ROWS, t)
    h[[0, 2], [1, 1]] = s[0, :2] * 3.0
    return h


def _inplace_index_ops(x, src):
    h = x * 1.0
    h.masked_fill_(lg.tensor(MASK), -0.5)
    h.scatter_add_(1, lg.tensor(GATHER_1), src)
    return h


def _inplace_index_ops_ref(x, src):
    return _np_scatter_add(np.where(MASK, -0.5, x), 1, GATHER_1, src)


SPECS = [
    # ------------------------------------------------------------------ x[idx]
    OpSpec("getitem_basic", weighted(lambda x: x[1:, ::-1][..., None, 1:3]), _x34,
           weighted_ref(lambda x: x[1:, ::-1][..., None, 1:3]), ("Getitem", "IndexAddZeros"),
           large_inputs=_x34_large),
    OpSpec("getitem_int_and_negative", lambda x: x[-1] * 2.0 + x[0, 1], _x34,
           lambda x: x[-1] * 2.0 + x[0, 1], ("Getitem",)),
    OpSpec("getitem_step_slices", weighted(lambda x: x[::2, 1::2]), _x34,
           weighted_ref(lambda x: x[::2, 1::2]), ("Getitem",)),
    OpSpec("getitem_repeated_rows", weighted(lambda x: x[ROWS.tolist()]), _x34,
           weighted_ref(lambda x: x[ROWS]), ("Getitem", "IndexAddZeros")),
    OpSpec("getitem_repeated_tensor_index", weighted(lambda x: x[:, lg.tensor([2, 2, 0])]),
           _x34, weighted_ref(lambda x: x[:, [2, 2, 0]]), ("Getitem", "IndexAddZeros")),
    OpSpec("getitem_repeated_pairs", weighted(lambda x: x[[0, 0, 2], [1, 1, 3]]), _x34,
           weighted_ref(lambda x: x[[0, 0, 2], [1, 1, 3]]), ("Getitem", "IndexAddZeros")),
    OpSpec("getitem_bool_mask", weighted(lambda x: x[lg.tensor(MASK)]), _x34,
           weighted_ref(lambda x: x[MASK]), ("Getitem", "IndexAddZeros")),
    OpSpec("getitem_bool_rows_and_slice",
           weighted(lambda x: x[lg.tensor([True, False, True]), 1:]), _x34,
           weighted_ref(lambda x: x[[True, False, True], 1:]), ("Getitem",)),
    # ------------------------------------------------------------------ x[idx] = v
    OpSpec("index_put", lambda x, v: lg.index_put(x, ([0, 2], [1, 3]), v), fixed((3, 4), (2,)),
           lambda x, v: _put(x, ([0, 2], [1, 3]), v), ("IndexPut", "Getitem")),
    OpSpec("setitem_records", _setitem, _setitem_inputs, _setitem_ref,
           ("IndexPut", "Getitem")),
    OpSpec("setitem_into_constant_buffer", _setitem_into_constant, _x34,
           _setitem_into_constant_ref, ("IndexPut", "Getitem")),
    OpSpec("inplace_masked_fill_scatter_add", _inplace_index_ops, fixed((3, 4), (3, 3)),
           _inplace_index_ops_ref, ("Where", "ScatterAdd")),
    # ------------------------------------------------------------------ gather / scatter
    OpSpec("gather_repeated_dim1", weighted(lambda x: x.gather(1, lg.tensor(GATHER_1))), _x34,
           weighted_ref(lambda x: np.take_along_axis(x, GATHER_1, 1)),
           ("Gather", "ScatterAddZeros", "Getitem")),
    OpSpec("gather_repeated_dim0", weighted(lambda x: lg.gather(x, 0, lg.tensor(GATHER_0))),
           _x34, weighted_ref(lambda x: np.take_along_axis(x, GATHER_0, 0)),
           ("Gather", "ScatterAddZeros")),
    OpSpec("take_along_dim", weighted(lambda x: lg.take_along_dim(x, lg.tensor(GATHER_1), 1)),
           _x34, weighted_ref(lambda x: np.take_along_axis(x, GATHER_1, 1)), ("Gather",)),
    # the index (1, 3, 2) and the input (2, 1, 4) broadcast outside dim 2 (issue 13)
    OpSpec("take_along_dim_broadcast",
           weighted(lambda x: lg.take_along_dim(x, lg.tensor(TAKE_BROADCAST), 2)),
           fixed((2, 1, 4)), weighted_ref(lambda x: np.take_along_axis(x, TAKE_BROADCAST, 2)),
           ("Gather", "BroadcastTo")),
    OpSpec("take_along_dim_flattened", weighted(lambda x: x.take_along_dim(lg.tensor(FLAT))),
           _x34, weighted_ref(lambda x: x.reshape(-1)[FLAT]), ("Gather", "Reshape")),
    OpSpec("index_ops_on_0d", _index_ops_0d, fixed((), (2,)), _index_ops_0d_ref,
           ("Gather", "ScatterAdd", "Scatter", "Getitem", "IndexAddZeros", "Reshape")),
    OpSpec("scatter_add_repeated", weighted(lambda x, s: x.scatter_add(1, lg.tensor(GATHER_1), s)),
           fixed((3, 4), (3, 3)),
           weighted_ref(lambda x, s: _np_scatter_add(x, 1, GATHER_1, s)),
           ("ScatterAdd", "Getitem")),
    OpSpec("scatter_add_larger_src",
           weighted(lambda x, s: lg.scatter_add(x, 0, lg.tensor(GATHER_0), s)),
           fixed((3, 4), (3, 5)),
           weighted_ref(lambda x, s: _np_scatter_add(x, 0, GATHER_0, s)),
           ("ScatterAdd", "Getitem", "IndexAddZeros")),
    OpSpec("index_select_repeated", weighted(lambda x: x.index_select(0, lg.tensor(ROWS))), _x34,
           weighted_ref(lambda x: x[ROWS]), ("Getitem", "IndexAddZeros")),
    OpSpec("index_select_dim1", weighted(lambda x: lg.index_select(x, -1, lg.tensor([3, 0, 3]))),
           _x34, weighted_ref(lambda x: x[:, [3, 0, 3]]), ("Getitem",)),
    OpSpec("scatter_tensor_source",
           weighted(lambda x, s: x.scatter(1, lg.tensor(SCATTER_1), s)),
           fixed((3, 4), (3, 3)),
           weighted_ref(lambda x, s: _np_scatter(x, 1, SCATTER_1, s)), ("Scatter", "Getitem")),
    OpSpec("scatter_larger_source_and_number",
           weighted(lambda x, s: lg.scatter(x, 0, lg.tensor(SCATTER_0), s)
                     + x.scatter(0, lg.tensor(SCATTER_0), 0.5)),
           fixed((3, 4), (3, 5)),
           weighted_ref(lambda x, s: _np_scatter(x, 0, SCATTER_0, s)
                         + _np_scatter(x, 0, SCATTER_0, np.full((2, 4), 0.5))),
           ("Scatter", "Getitem", "IndexAddZeros")),
    OpSpec("index_add_repeated", weighted(lambda x, s: x.index_add(0, lg.tensor(ROWS), s,
                                                                     alpha=2.0)),
           fixed((3, 4), (4, 4)), weighted_ref(lambda x, s: _np_index_add(x, ROWS, 2.0 * s)),
           ("IndexAddZeros", "Getitem", "Add")),
    OpSpec("narrow_select", lambda x: x.narrow(1, 1, 2) * 2.0 + lg.select(x, 1, -1)[:, None],
           _x34, lambda x: x[:, 1:3] * 2.0 + x[:, -1:], ("Getitem",)),
    OpSpec("masked_select", weighted(lambda x: x.masked_select(lg.tensor(MASK[0]))),
           _x34, weighted_ref(lambda x: x[np.broadcast_to(MASK[0], x.shape)]), ("Getitem",)),
    OpSpec("masked_select_broadcast_input",
           weighted(lambda x: lg.masked_select(x, lg.tensor(MASK))),
           fixed((4,)), weighted_ref(lambda x: np.broadcast_to(x, MASK.shape)[MASK]),
           ("Getitem", "BroadcastTo")),
    OpSpec("sort", lambda x: weighted(lambda t: lg.sort(t, 1, descending=True).values)(x),
           lambda rng: (distinct(rng, (3, 4)),),
           weighted_ref(lambda x: -np.sort(-x, 1)), ("Gather",)),
    OpSpec("topk", lambda x: tuple(x.topk(2, dim=0)), lambda rng: (distinct(rng, (3, 4)),),
           lambda x: (-np.sort(-x, 0)[:2], np.argsort(-x, 0, kind="stable")[:2]), ("Gather",)),
    OpSpec("inplace_index_methods", _inplace_index_methods, fixed((3, 4), (3, 3), (4, 4)),
           _inplace_index_methods_ref, ("Scatter", "IndexAddZeros", "IndexPut")),
    # ------------------------------------------------------------------ masks
    OpSpec("masked_fill", lambda x: x.masked_fill(lg.tensor(MASK), 2.5) * 3.0, _x34,
           lambda x: np.where(MASK, 2.5, x) * 3.0, ("Where",)),
    OpSpec("masked_fill_tensor_value", lambda x, v: lg.masked_fill(x, lg.tensor(MASK[0]), v),
           fixed((3, 4), ()), lambda x, v: np.where(MASK[0], v, x), ("Where",)),
    # ------------------------------------------------------------------ triangles, diagonals
    OpSpec("tril_triu", lambda x: lg.tril(x) * 2.0 + lg.triu(x, 1), _x34,
           lambda x: np.tril(x) * 2.0 + np.triu(x, 1), ("Mul", "Add")),
    OpSpec("diag_of_matrix", lambda x: lg.diag(x, 1) * 2.0 + lg.diag(x).sum(), _x34,
           lambda x: np.diag(x, 1) * 2.0 + np.diag(x).sum(), ("Getitem",)),
    OpSpec("diag_to_matrix", lambda v: lg.diag(v, -1), fixed((3,)),
           lambda v: np.diag(v, -1), ("IndexPut",)),
]


def _put(x, idx, v):
    out = x.copy()
    out[idx] = v
    return out

"""OpSpecs for locograd.ops.index_write: index_fill (with a tensor value), index_copy,
masked_scatter (the mask broadcasting the input) and scatter_reduce with every reduction, with
and without the input's own values, a source larger than the index, and exact zeros in prod."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import distinct, fixed, normal, weighted, weighted_ref

FILL = np.array([0, 2, 4, 0])  # a repeated index: the value counts once
ROWS = np.array([[0, 2, 0, 1], [2, 2, 2, 0]])  # (2, 4) into (3, 4) along dim 0; row 1 col 1..2
MASK = np.array([[True, False, True, True], [False, True, False, True]])


def _index_fill_ref(x, v):
    out = x.copy()
    out[:, FILL] = v
    return out


def _index_copy_ref(x, s):
    out = x.copy()
    out[[2, 0]] = s
    return out


def _masked_scatter_ref(x, s):
    out = np.broadcast_to(x, MASK.shape).copy()
    out[MASK] = s.reshape(-1)[:MASK.sum()]
    return out


def _reduce_ref(reduce, include_self):
    ufunc = {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}

    def ref(x, src):
        out, seen = x.copy(), {}
        for (i, j), r in np.ndenumerate(ROWS):
            seen.setdefault((r, j), [x[r, j]] if include_self else []).append(src[i, j])
        for (r, j), values in seen.items():
            out[r, j] = np.mean(values) if reduce == "mean" else ufunc[reduce].reduce(values)
        return out
    return ref


def _reduce(reduce, include_self):
    index = ROWS

    def fn(x, src):
        return lg.scatter_reduce(x, 0, lg.tensor(index), src, reduce, include_self=include_self)
    return fn


def _distinct_pair(rng):
    values = distinct(rng, (3 * 4 + 2 * 5,))
    return values[:12].reshape(3, 4), values[12:].reshape(2, 5)


def _with_zeros(rng):
    x, src = normal(rng, (3, 4), (2, 5))
    x[0, 0] = 0.0             # a zero of the input at a reduced position
    src[0, 0] = 0.0           # the only zero at (0, 0) of the result
    src[1, 1] = 0.0           # the only zero at (2, 1)
    return x, src


def _reduce_specs():
    specs = []
    for reduce in ("sum", "mean", "prod", "amax", "amin"):
        for include_self in (True, False):
            covers = {"sum": ("ScatterAdd",), "mean": ("ScatterAdd", "Div"),
                      "prod": ("ScatterProd",), "amax": ("ScatterExtreme",),
                      "amin": ("ScatterExtreme",)}[reduce]
            if not include_self and reduce in ("sum", "mean"):
                covers += ("Scatter",)
            inputs = _distinct_pair if reduce in ("amax", "amin") else fixed((3, 4), (2, 5))
            specs.append(OpSpec(f"scatter_reduce_{reduce}_{'with' if include_self else 'no'}"
                                f"_self", weighted(_reduce(reduce, include_self)), inputs,
                                weighted_ref(_reduce_ref(reduce, include_self)), covers))
    for include_self in (True, False):
        specs.append(OpSpec(f"scatter_reduce_prod_zeros_{include_self}",
                            weighted(_reduce("prod", include_self)), _with_zeros,
                            weighted_ref(_reduce_ref("prod", include_self)), ("ScatterProd",)))
    return specs


SPECS = [
    OpSpec("index_fill_tensor_value",
           weighted(lambda x, v: lg.index_fill(x, 1, lg.tensor(FILL), v)), fixed((3, 5), ()),
           weighted_ref(_index_fill_ref), ("IndexPut",)),
    OpSpec("index_copy", weighted(lambda x, s: lg.index_copy(x, 0, lg.tensor([2, 0]), s)),
           fixed((3, 2), (2, 2)), weighted_ref(_index_copy_ref), ("IndexPut",)),
    OpSpec("masked_scatter_broadcast",
           weighted(lambda x, s: lg.masked_scatter(x, lg.tensor(MASK), s)), fixed((4,), (3, 3)),
           weighted_ref(_masked_scatter_ref), ("IndexPut", "BroadcastTo", "Getitem")),
] + _reduce_specs()

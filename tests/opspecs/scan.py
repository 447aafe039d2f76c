"""OpSpecs for locograd.ops.scan and locograd.ops.statistics: cumprod (with and without
zeros), cummax/cummin, logcumsumexp, diff, the NaN-aware reductions (NaN put in by ``where``
inside ``fn``, so the leaves stay finite for the finite differences), aminmax, trace, and the
order statistics (values kept distinct: a tie is a kink)."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import away_from, distinct, normal, random_shape

NAN = float("nan")


def _matrix(rng):
    return normal(rng, random_shape(rng, 2, 3))


def _distinct(min_ndim, max_size=4):
    def inputs(rng):
        return (distinct(rng, random_shape(rng, min_ndim, 3, max_size)),)
    return inputs


def _away_from_zero(rng):
    return (away_from(rng, random_shape(rng, 1, 3), margin=0.3),)


def _zeros_in_rows(rng):
    # a zero in one row, two in another (the first zero and the entries after it differ)
    x = rng.standard_normal((3, 4))
    x[0, rng.integers(4)] = 0.0
    x[2, 1] = x[2, 3] = 0.0
    return (x,)


def _checker_nan(shape):
    """A fixed NaN pattern (every third entry) for the NaN-aware reductions."""
    n = int(np.prod(shape, dtype=np.int64))
    return (np.arange(n) % 3 == 1).reshape(shape)


def _nan_matrix(rng):
    # (3, 4) with _checker_nan: every row and every column keeps entries that are not NaN
    return (distinct(rng, (3, 4)),)


def _with_nan(x):
    return lg.where(lg.tensor(_checker_nan(x.shape)), NAN, x)


def _np_with_nan(x):
    return np.where(_checker_nan(x.shape), np.nan, x)


def _np_cum_extreme(x, axis, is_max):
    """Running extreme and its (latest) index along ``axis``, by a plain loop."""
    moved = np.moveaxis(x, axis, -1)
    values, indices = np.empty_like(moved), np.empty(moved.shape, dtype=np.int64)
    for pos in np.ndindex(moved.shape[:-1]):
        best = 0
        for i in range(moved.shape[-1]):
            v = moved[pos + (i,)]
            if (v >= moved[pos + (best,)]) if is_max else (v <= moved[pos + (best,)]):
                best = i
            values[pos + (i,)], indices[pos + (i,)] = moved[pos + (best,)], best
    return np.moveaxis(values, -1, axis), np.moveaxis(indices, -1, axis)


def _np_select(x, axis, position, keepdims=False):
    """The entry of sorted position ``position`` along ``axis``, and its index."""
    order = np.argsort(x, axis=axis, kind="stable")
    idx = np.take(order, [position], axis=axis)
    values = np.take_along_axis(x, idx, axis=axis)
    if not keepdims:
        values, idx = np.squeeze(values, axis), np.squeeze(idx, axis)
    return values, idx


def _np_median_dim(x, axis, keepdims=False):
    return _np_select(x, axis, (x.shape[axis] - 1) // 2, keepdims)


def _np_logcumsumexp(x, axis):
    return np.logaddexp.accumulate(x, axis=axis)


def _np_trace(x):
    return np.trace(x)


SPECS = [
    # ------------------------------------------------------------------ cumprod
    OpSpec("cumprod", lambda x: lg.cumprod(x, -1),
           _away_from_zero, lambda x: np.cumprod(x, -1), ("Cumprod", "Cumsum", "Flip")),
    OpSpec("cumprod_dim0", lambda x: lg.cumprod(x, 0), _away_from_zero,
           lambda x: np.cumprod(x, 0), ("Cumprod",)),
    # zeros: the exact rule on arrays (O(n)) and on tensors (differentiable again)
    OpSpec("cumprod_with_zeros", lambda x: lg.cumprod(x, 1), _zeros_in_rows,
           lambda x: np.cumprod(x, 1), ("Cumprod", "Where")),
    OpSpec("cumprod_0d", lambda x: lg.cumprod(x, 0) * 2.0, lambda rng: normal(rng, ()),
           lambda x: 2.0 * x, ("Cumprod", "Reshape")),
    # ------------------------------------------------------------------ cummax, cummin
    OpSpec("cummax", lambda x: tuple(lg.cummax(x, 1)), _distinct(2),
           lambda x: _np_cum_extreme(x, 1, True), ("Gather",)),
    OpSpec("cummin_last_dim", lambda x: tuple(lg.cummin(x, -1)), _distinct(1),
           lambda x: _np_cum_extreme(x, -1, False), ("Gather",)),
    OpSpec("cummax_cummin_0d", lambda x: lg.cummax(x, 0).values + lg.cummin(x, -1)[0],
           lambda rng: normal(rng, ()), lambda x: 2 * x, ("Gather", "Reshape")),
    # ------------------------------------------------------------------ logcumsumexp
    OpSpec("logcumsumexp", lambda x: lg.logcumsumexp(x, 1), _matrix,
           lambda x: _np_logcumsumexp(x, 1), ("LogCumSumExp", "Exp", "Log", "Where")),
    OpSpec("logcumsumexp_dim0_large_values", lambda x: lg.logcumsumexp(x * 300.0, 0),
           _matrix, lambda x: _np_logcumsumexp(x * 300.0, 0), ("LogCumSumExp",), atol=1e-4),
    # ------------------------------------------------------------------ diff
    OpSpec("diff", lambda x: lg.diff(x), _matrix, lambda x: np.diff(x), ("Getitem", "Sub")),
    OpSpec("diff_n2_prepend_append",
           lambda x, p, a: lg.diff(x, n=2, dim=0, prepend=p, append=a),
           lambda rng: normal(rng, (3, 4), (1, 4), (2, 4)),
           lambda x, p, a: np.diff(x, n=2, axis=0, prepend=p, append=a),
           ("Cat", "Getitem", "Sub")),
    # ------------------------------------------------------------------ NaN-aware, aminmax
    OpSpec("nansum", lambda x: lg.nansum(_with_nan(x)) + lg.nansum(_with_nan(x), 1).sum(),
           _nan_matrix, lambda x: 2 * np.nansum(_np_with_nan(x)), ("Where", "Sum")),
    OpSpec("nanmean_dim_keepdim", lambda x: lg.nanmean(_with_nan(x), -1, keepdim=True),
           _nan_matrix, lambda x: np.nanmean(_np_with_nan(x), -1, keepdims=True),
           ("Where", "Sum", "Div")),
    OpSpec("aminmax", lambda x: tuple(lg.aminmax(x, dim=1, keepdim=True)), _distinct(2),
           lambda x: (x.min(1, keepdims=True), x.max(1, keepdims=True)), ("AmaxAmin",)),
    OpSpec("aminmax_all", lambda x: tuple(lg.aminmax(x)), _distinct(0),
           lambda x: (x.min(), x.max()), ("AmaxAmin",)),
    OpSpec("trace", lg.trace, lambda rng: normal(rng, random_shape(rng, 2, 2)), _np_trace,
           ("Getitem", "Sum", "Reshape")),
    # ------------------------------------------------------------------ order statistics
    OpSpec("median_all", lambda x: lg.median(x), _distinct(0),
           lambda x: np.sort(x.reshape(-1))[(x.size - 1) // 2], ("SelectedValue",)),
    OpSpec("median_dim", lambda x: tuple(lg.median(x, 1)), _distinct(2),
           lambda x: _np_median_dim(x, 1), ("Gather", "Reshape")),
    OpSpec("median_dim_keepdim_0d", lambda x: lg.median(x, -1, keepdim=True).values
           + lg.median(x, 0).values, lambda rng: normal(rng, ()), lambda x: 2 * x,
           ("Gather",)),
    OpSpec("nanmedian", lambda x: lg.nanmedian(_with_nan(x)) + lg.nanmedian(_with_nan(x),
                                                                             0).values.sum(),
           _nan_matrix,
           lambda x: np.sort(_np_with_nan(x).reshape(-1))[
               (int((~_checker_nan(x.shape)).sum()) - 1) // 2]
           + sum(np.sort(c[~np.isnan(c)])[(int((~np.isnan(c)).sum()) - 1) // 2]
                 for c in _np_with_nan(x).T), ("SelectedValue", "Gather")),
    OpSpec("kthvalue", lambda x: tuple(lg.kthvalue(x, 2, 0, keepdim=True)),
           lambda rng: (distinct(rng, (3, int(rng.integers(1, 5)))),),
           lambda x: _np_select(x, 0, 1, True), ("Gather",)),
    # all distinct: the mode is the smallest value (each occurs once)
    OpSpec("mode", lambda x: tuple(lg.mode(x, -1)), _distinct(1),
           lambda x: _np_select(x, -1, 0), ("Gather",)),
    OpSpec("quantile_all", lambda x: lg.quantile(x, 0.3) + lg.quantile(x, 0.75),
           _distinct(1), lambda x: np.quantile(x, 0.3) + np.quantile(x, 0.75),
           ("Gather", "Sub", "Mul", "Add")),
    OpSpec("quantile_levels_dim_keepdim",
           lambda x: lg.quantile(x, lg.tensor([0.1, 0.5, 0.9], dtype=x.dtype), dim=1,
                                 keepdim=True),
           _distinct(2), lambda x: np.quantile(x, [0.1, 0.5, 0.9], axis=1, keepdims=True),
           ("Gather", "Permute")),
    OpSpec("quantile_interpolations",
           lambda x: sum(lg.quantile(x, 0.4, dim=0, interpolation=m) * w
                         for m, w in (("lower", 1.0), ("higher", 2.0), ("midpoint", 3.0),
                                      ("nearest", 4.0))),
           _distinct(1),
           lambda x: sum(np.quantile(x, 0.4, axis=0, method=m) * w
                         for m, w in (("lower", 1.0), ("higher", 2.0), ("midpoint", 3.0),
                                      ("nearest", 4.0))), ("Gather",)),
    OpSpec("nanquantile", lambda x: lg.nanquantile(_with_nan(x), 0.6, dim=-1),
           _nan_matrix, lambda x: np.nanquantile(_np_with_nan(x), 0.6, axis=-1),
           ("Gather", "Where")),
]

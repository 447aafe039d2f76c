"""OpSpecs for locograd.ops.reduce: sums, means, variances, products, max/min (values kept
distinct: a tie is a kink), logsumexp, softmax, log_softmax, cumsum and norms."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import away_from, distinct, normal, positive, random_normal, random_shape

_any = random_normal()
_matrix = random_normal(2)  # dim=1 and dim=-2 exist
_matrix_large = random_normal(2, max_size=7)
_at_least_1d = random_normal(1)


def _distinct_positive(rng):
    return (distinct(rng, random_shape(rng, 1, 3)) + 10.0,)


def _distinct(min_ndim):
    def inputs(rng):
        return (distinct(rng, random_shape(rng, min_ndim, 3)),)
    return inputs


def _var_inputs(rng):
    # at least two entries along every reduced dim, so that N - 1 > 0
    return (rng.standard_normal((int(rng.integers(2, 4)), int(rng.integers(2, 5)))),)


def _prod_inputs(rng):
    # away from 0: prod/x is the first-order rule there
    return (away_from(rng, random_shape(rng, 1, 3), margin=0.3),)


def _with_one_zero(rng):
    x = rng.standard_normal((3, 4))
    x[rng.integers(3), rng.integers(4)] = 0.0
    return (x,)


def _with_two_zeros(rng):
    x = rng.standard_normal((3, 4))
    row = rng.integers(3)
    x[row, :2] = 0.0
    return (x,)


def _np_values_at(x, dim, is_max, keepdim=False):
    idx = (np.argmax if is_max else np.argmin)(x, axis=dim, keepdims=True)
    v = np.take_along_axis(x, idx, axis=dim)
    return v if keepdim else np.squeeze(v, dim)


def _np_softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


SPECS = [
    OpSpec("sum_all", lambda x: x.sum(), _any, np.sum, ("Sum",)),
    OpSpec("sum_dim", lambda x: x.sum(1), _matrix, lambda x: x.sum(1), ("Sum",),
           large_inputs=_matrix_large),
    OpSpec("sum_dims_keepdim", lambda x: lg.sum(x, dim=(0, -1), keepdim=True), _matrix,
           lambda x: x.sum(axis=(0, -1), keepdims=True), ("Sum",)),
    OpSpec("mean_all", lambda x: x.mean(), _any, np.mean, ("Mean",)),
    OpSpec("mean_dim_keepdim", lambda x: x.mean(-1, keepdim=True), _matrix,
           lambda x: x.mean(-1, keepdims=True), ("Mean",)),
    OpSpec("var_unbiased", lambda x: x.var(), _var_inputs, lambda x: x.var(ddof=1),
           ("Var", "Mean")),
    OpSpec("var_dim_biased", lambda x: x.var(1, unbiased=False), _var_inputs,
           lambda x: x.var(1), ("Var", "Mean")),
    OpSpec("var_dim_correction_keepdim", lambda x: lg.var(x, 0, keepdim=True, correction=1),
           _var_inputs, lambda x: x.var(0, ddof=1, keepdims=True), ("Var",)),
    OpSpec("std", lambda x: x.std(-1), _var_inputs, lambda x: x.std(-1, ddof=1),
           ("Var", "Sqrt")),
    OpSpec("var_mean_std_mean", lambda x: lg.var_mean(x, 1) + lg.std_mean(x, 0), _var_inputs,
           lambda x: (x.var(1, ddof=1), x.mean(1), x.std(0, ddof=1), x.mean(0)),
           ("Var", "Mean", "Sqrt")),
    OpSpec("prod_all", lambda x: x.prod(), _prod_inputs, np.prod, ("Prod",)),
    OpSpec("prod_dim", lambda x: x.prod(-1), _prod_inputs, lambda x: x.prod(-1), ("Prod",)),
    OpSpec("prod_dim_keepdim", lambda x: lg.prod(x, 0, keepdim=True), _prod_inputs,
           lambda x: x.prod(0, keepdims=True), ("Prod",)),
    # A zero among the factors: the gradient there is the product of the others.
    OpSpec("prod_with_a_zero", lambda x: x.prod(1), _with_one_zero, lambda x: x.prod(1),
           ("Prod",)),
    OpSpec("prod_all_with_a_zero", lambda x: x.prod(), _with_one_zero, np.prod, ("Prod",)),
    OpSpec("prod_with_two_zeros", lambda x: x.prod(1), _with_two_zeros, lambda x: x.prod(1),
           ("Prod",)),
    OpSpec("amax_all", lambda x: x.amax(), _distinct(0), np.max, ("AmaxAmin",)),
    OpSpec("amax_dims", lambda x: lg.amax(x, (0, 1)), _distinct(2), lambda x: x.max((0, 1)),
           ("AmaxAmin",)),
    OpSpec("amin_dim_keepdim", lambda x: x.amin(-1, keepdim=True), _distinct(1),
           lambda x: x.min(-1, keepdims=True), ("AmaxAmin",)),
    OpSpec("max_all", lambda x: x.max(), _distinct(0), np.max, ("AmaxAmin",)),
    OpSpec("min_all", lambda x: lg.min(x), _distinct(0), np.min, ("AmaxAmin",)),
    OpSpec("max_dim_values", lambda x: x.max(1).values, _distinct(2),
           lambda x: _np_values_at(x, 1, True), ("MaxMinDim", "Where")),
    OpSpec("max_dim_keepdim_with_indices", lambda x: tuple(lg.max(x, 0, keepdim=True)),
           _distinct(1),
           lambda x: (_np_values_at(x, 0, True, True), np.argmax(x, 0, keepdims=True)),
           ("MaxMinDim", "Where")),
    OpSpec("min_dim_values", lambda x: x.min(-1)[0], _distinct(1),
           lambda x: _np_values_at(x, -1, False), ("MaxMinDim", "Where")),
    OpSpec("logsumexp_all", lambda x: x.logsumexp(), _any, _np_logsumexp,
           ("LogSumExp", "Exp")),
    OpSpec("logsumexp_dim", lambda x: lg.logsumexp(x, 1), _matrix,
           lambda x: _np_logsumexp(x, 1), ("LogSumExp",)),
    OpSpec("logsumexp_dims_keepdim", lambda x: x.logsumexp((0, 1), keepdim=True), _matrix,
           lambda x: _np_logsumexp(x, (0, 1), True), ("LogSumExp",)),
    OpSpec("logsumexp_large_values", lambda x: (x * 200.0).logsumexp(-1), _matrix,
           lambda x: _np_logsumexp(x * 200.0, -1), ("LogSumExp",), atol=1e-4),
    OpSpec("softmax", lambda x: x.softmax(-1), _matrix, lambda x: _np_softmax(x, -1),
           ("Softmax",), large_inputs=_matrix_large),
    OpSpec("softmax_dim0_large_values", lambda x: lg.softmax(x * 100.0, 0), _matrix,
           lambda x: _np_softmax(x * 100.0, 0), ("Softmax",), atol=1e-4),
    OpSpec("log_softmax", lambda x: x.log_softmax(1), _matrix,
           lambda x: x - _np_logsumexp(x, 1, True), ("LogSoftmax", "Exp"),
           large_inputs=_matrix_large),
    OpSpec("log_softmax_large_values", lambda x: lg.log_softmax(x * 300.0, -1), _matrix,
           lambda x: 300.0 * x - _np_logsumexp(300.0 * x, -1, True), ("LogSoftmax",),
           atol=1e-4),
    OpSpec("cumsum", lambda x: x.cumsum(-1), _matrix, lambda x: np.cumsum(x, -1),
           ("Cumsum", "Flip")),
    OpSpec("cumsum_dim0", lambda x: lg.cumsum(x, 0), _at_least_1d, lambda x: np.cumsum(x, 0),
           ("Cumsum",)),
    OpSpec("dim_ops_on_a_0d_tensor",
           lambda x: x.softmax(0) * x + x.cumsum(0) + x.max(0).values * 2.0 + x.log_softmax(-1)
           + lg.min(x, -1)[0] + x.sum(0) + x.logsumexp(0),
           lambda rng: normal(rng, ()), lambda x: x + x + 2 * x + 0.0 + x + x + x,
           ("Softmax", "Cumsum", "MaxMinDim", "LogSoftmax", "Sum", "LogSumExp", "Reshape")),
    OpSpec("norm_2", lambda x: x.norm(), _prod_inputs, np.linalg.norm, ("Mul", "Sum", "Sqrt")),
    OpSpec("norm_with_a_zero_row", lambda x: x.norm(dim=1) + x.norm(3, dim=1),
           lambda rng: (np.concatenate([np.zeros((1, 3)), rng.standard_normal((2, 3))]),),
           lambda x: np.linalg.norm(x, axis=1) + (np.abs(x) ** 3).sum(1) ** (1 / 3),
           ("Where", "Sqrt", "Pow"), second_order=False),
    OpSpec("norm_1_dim", lambda x: lg.norm(x, 1, dim=-1), _prod_inputs,
           lambda x: np.abs(x).sum(-1), ("Abs", "Sum")),
    OpSpec("norm_inf", lambda x: x.norm(float("inf")), _distinct_positive,
           lambda x: np.abs(x).max(), ("Abs", "AmaxAmin")),
    OpSpec("norm_minus_inf", lambda x: lg.norm(x, -float("inf"), dim=-1), _distinct_positive,
           lambda x: np.abs(x).min(-1), ("Abs", "AmaxAmin")),
    # norm(x, 0) counts the non-zero entries; its gradient is zero (the sum keeps a second
    # order to check)
    OpSpec("norm_0", lambda x: lg.norm(x, 0, dim=1) + (x * x).sum(1), _with_one_zero,
           lambda x: np.count_nonzero(x, 1) + (x * x).sum(1), ("NormZero", "Sum")),
    # var(x, unbiased) and std(x, dim, unbiased, keepdim): a positional bool is not a dim
    OpSpec("var_std_unbiased_overloads",
           lambda x: lg.var(x, False) + x.std(True) + lg.std(x, 1, False, True).sum(),
           _var_inputs, lambda x: x.var() + x.std(ddof=1) + x.std(1, keepdims=True).sum(),
           ("Var", "Sqrt")),
    OpSpec("numpy_axis_keepdims_names",
           lambda x: lg.sum(x, axis=1, keepdims=True) + x.mean(axis=-1, keepdims=True)
           + lg.logsumexp(x, axis=1, keepdims=True) + x.var(axis=1, keepdims=True),
           _var_inputs,
           lambda x: x.sum(1, keepdims=True) + x.mean(-1, keepdims=True)
           + _np_logsumexp(x, 1, True) + x.var(1, ddof=1, keepdims=True),
           ("Sum", "Mean", "LogSumExp", "Var")),
    OpSpec("reductions_of_a_0d_tensor_over_dim_0",
           lambda x: x.mean(0) + lg.var(x, -1, correction=0) + x.prod(0) * x.amax(-1)
           + x.norm(dim=0) + x.logsumexp(dim=-1, keepdim=True),
           lambda rng: (away_from(rng, (), margin=0.3),),
           lambda x: x + 0.0 + x * x + np.abs(x) + x, ("Mean", "Var", "Prod", "AmaxAmin")),
    OpSpec("prod_of_a_0d_zero", lambda x: x.prod() + lg.prod(x, 0) * 2.0,
           lambda rng: (np.zeros(()),), lambda x: 3 * x, ("Prod",)),
    OpSpec("norm_3_keepdim", lambda x: x.norm(3, dim=0, keepdim=True),
           lambda rng: positive(rng, random_shape(rng, 1, 3)),
           lambda x: (np.abs(x) ** 3).sum(0, keepdims=True) ** (1 / 3), ("Pow", "Sum")),
]

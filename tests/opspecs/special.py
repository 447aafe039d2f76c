"""OpSpecs for locograd.ops.trig and locograd.ops.special: inverse trigonometric and
hyperbolic functions, atan2, hypot, sinc, the special functions (values kept inside their
domains and away from poles) and the float manipulations (kept away from their kinks)."""
from __future__ import annotations

import math

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import away_from, broadcast_pair, lattice, normal, positive, random_shape

try:
    import scipy.special as sp
except ImportError:  # the special functions' forwards need SciPy: their specs are left out
    sp = None


def _uniform(low, high, min_ndim=0):
    def inputs(rng):
        return (rng.uniform(low, high, random_shape(rng, min_ndim, 3)),)
    return inputs


def _normal(rng):
    return normal(rng, random_shape(rng, 0, 3))


def _pair(rng):
    return normal(rng, *broadcast_pair(rng))


def _pair_first_away(rng):
    sa, sb = broadcast_pair(rng)
    return away_from(rng, sa, margin=0.1), rng.standard_normal(sb)


def _pair_both_away(rng):
    return tuple(away_from(rng, s, margin=0.1) for s in broadcast_pair(rng))


def _positive_pair(rng):
    return positive(rng, *broadcast_pair(rng))


def _apart_pair(rng):
    sa, sb = broadcast_pair(rng)
    return lattice(rng, sa, odd=True), lattice(rng, sb, odd=False)


def _with_zeros(rng):
    x = rng.standard_normal((3, 4))
    x[rng.integers(3), :2] = 0.0
    return (x,)


def _xlogy_inputs(rng):
    # x with exact zeros (0 log y is 0, its x-derivative log y); y positive
    sa, sb = broadcast_pair(rng)
    x = rng.standard_normal(sa) * (rng.uniform(size=sa) > 0.3)
    return x, rng.uniform(0.5, 2.0, sb)


def _logit_eps_inputs(rng):
    # eps = 0.2: kinks at 0.2 and 0.8; values in (0.05, 0.95) kept 0.05 away from both
    x = rng.uniform(0.05, 0.95, random_shape(rng, 1, 3))
    close = (np.abs(x - 0.2) < 0.05) | (np.abs(x - 0.8) < 0.05)
    return (np.where(close, 0.5, x),)


def _frac_inputs(rng):
    shape = random_shape(rng, 0, 3)
    return (rng.integers(-3, 3, shape) + rng.uniform(0.1, 0.9, shape),)


def _np_logit(x, eps=None):
    z = x if eps is None else np.clip(x, eps, 1 - eps)
    return np.log(z / (1 - z))


def _unary(name, fn, reference, inputs, covers, **kw):
    return OpSpec(name, fn, inputs, reference, covers, **kw)


SPECS = [
    # ------------------------------------------------------------------ inverse trigonometric
    _unary("asin", lg.asin, np.arcsin, _uniform(-0.9, 0.9), ("Asin", "Sqrt")),
    _unary("acos", lg.acos, np.arccos, _uniform(-0.9, 0.9), ("Acos",)),
    _unary("atan", lg.atan, np.arctan, _normal, ("Atan",)),
    _unary("asinh", lg.asinh, np.arcsinh, _normal, ("Asinh",)),
    _unary("acosh", lg.acosh, np.arccosh, _uniform(1.2, 3.0), ("Acosh",)),
    _unary("atanh", lg.atanh, np.arctanh, _uniform(-0.9, 0.9), ("Atanh",)),
    _unary("arc_aliases", lambda a: lg.arcsin(a) + lg.arccos(a) * 2.0 + lg.arctan(a)
           + lg.arcsinh(a) + lg.arctanh(a) + lg.arccosh(a + 2.0) + lg.arctan2(a, 2.0),
           lambda a: np.arcsin(a) + 2 * np.arccos(a) + np.arctan(a) + np.arcsinh(a)
           + np.arctanh(a) + np.arccosh(a + 2.0) + np.arctan2(a, 2.0),
           _uniform(-0.8, 0.8), ("Asin", "Acos", "Atan", "Asinh", "Atanh", "Acosh", "Atan2")),
    # y kept away from 0 (atan2 jumps by 2 pi across the negative x axis)
    OpSpec("atan2", lg.atan2, _pair_first_away, np.arctan2, ("Atan2",)),
    _unary("atan2_number", lambda a: lg.atan2(a, -0.5) + lg.atan2(a * 0.5, 1.5),
           lambda a: np.arctan2(a, -0.5) + np.arctan2(a * 0.5, 1.5),
           lambda rng: (away_from(rng, random_shape(rng), margin=0.1),), ("Atan2",)),
    OpSpec("hypot", lg.hypot, _pair_first_away, np.hypot, ("Hypot",)),
    _unary("sinc", lg.sinc, np.sinc, _normal, ("Sinc",)),
    # at 0 the gradient is 0 and the second derivative -pi^2 / 3 (PyTorch's is NaN)
    _unary("sinc_at_zero", lg.sinc, np.sinc, _with_zeros, ("Sinc",)),
    _unary("deg2rad_rad2deg", lambda a: lg.deg2rad(a) + lg.rad2deg(a) * 0.01,
           lambda a: a * math.pi / 180 + a * 180 / math.pi * 0.01, _normal, ("Mul", "Add")),
    # ------------------------------------------------------------------ logit, xlogy
    _unary("logit", lg.logit, _np_logit, _uniform(0.1, 0.9), ("Logit",)),
    _unary("logit_eps", lambda a: lg.logit(a, eps=0.2), lambda a: _np_logit(a, 0.2),
           _logit_eps_inputs, ("Logit", "Where")),
    OpSpec("xlogy", lg.xlogy, _xlogy_inputs,
           lambda x, y: np.where(x == 0, 0.0, x * np.log(y)), ("Xlogy", "Where")),
    _unary("xlogy_numbers", lambda a: lg.xlogy(a * a + 0.5, 2.0) + lg.xlogy(0.5, a * a + 1.0),
           lambda a: (a * a + 0.5) * np.log(2.0) + 0.5 * np.log(a * a + 1.0), _normal,
           ("Xlogy",)),
    # ------------------------------------------------------------------ float manipulations
    _unary("nan_to_num", lambda a: lg.nan_to_num(a * 2.0, nan=1.0, posinf=3.0, neginf=-3.0),
           lambda a: a * 2.0, _normal, ("NanToNum", "Mul")),
    # a sign flip where b < 0; both kept away from 0, where copysign's gradients jump
    OpSpec("copysign", lg.copysign, _pair_both_away, np.copysign, ("Copysign",)),
    _unary("copysign_number", lambda a: lg.copysign(a, -1.0) + lg.copysign(a, 0.0),
           lambda a: -np.abs(a) + np.abs(a), lambda rng: (away_from(rng, random_shape(rng)),),
           ("Copysign",)),
    _unary("frac", lg.frac, lambda a: a - np.trunc(a), _frac_inputs, ("Sub",)),
    OpSpec("fmax", lg.fmax, _apart_pair, np.fmax, ("FmaxFmin",)),
    OpSpec("fmin", lg.fmin, _apart_pair, np.fmin, ("Fmin",)),
    OpSpec("logaddexp2", lg.logaddexp2, _pair, np.logaddexp2, ("LogAddExp", "Mul")),
    # float_power computes in float64 whatever the inputs' dtype: no float32 check
    OpSpec("float_power", lambda a, b: lg.float_power(a, b) + lg.float_power(a, 2)
           + lg.float_power(1.5, b), _positive_pair,
           lambda a, b: a ** b + a ** 2 + 1.5 ** b, ("Pow",), float32=False),
]

if sp is not None:
    SPECS += [
        _unary("erfc", lg.erfc, sp.erfc, _normal, ("Erfc", "Exp")),
        _unary("erfinv", lg.erfinv, sp.erfinv, _uniform(-0.9, 0.9), ("Erfinv", "Exp")),
        _unary("lgamma", lg.lgamma, sp.gammaln, _uniform(0.3, 4.0),
               ("Lgamma", "Digamma", "Polygamma")),
        _unary("lgamma_negative", lg.lgamma, sp.gammaln, _uniform(-0.8, -0.2),
               ("Lgamma", "Digamma")),
        _unary("digamma", lg.digamma, sp.psi, _uniform(0.5, 4.0), ("Digamma", "Polygamma")),
        _unary("polygamma", lambda a: lg.polygamma(1, a) + lg.polygamma(2, a) * 0.5,
               lambda a: sp.polygamma(1, a) + 0.5 * sp.polygamma(2, a), _uniform(0.5, 4.0),
               ("Polygamma",)),
    ]

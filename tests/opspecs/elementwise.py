"""OpSpecs for locograd.ops.elementwise: arithmetic (with broadcasting), unary functions,
max/min-like ops kept away from their kinks, ``where``, casts and the in-place operators."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import (away_from, broadcast_pair, broadcast_triple, checker, lattice, normal,
                      positive, random_normal, random_shape)

_one = random_normal()
_one_large = random_normal(1, max_size=8)


def _pair(rng):
    return normal(rng, *broadcast_pair(rng))


def _pair_nonzero_second(rng):
    sa, sb = broadcast_pair(rng)
    return rng.standard_normal(sa), away_from(rng, sb, margin=0.3)


def _positive_one(rng):
    return positive(rng, random_shape(rng, 0, 3))


def _positive_pair(rng):
    return positive(rng, *broadcast_pair(rng))


def _kinked(points, margin=0.1):
    def inputs(rng):
        return (away_from(rng, random_shape(rng, 0, 3), points, margin),)
    return inputs


def _apart_pair(rng):
    sa, sb = broadcast_pair(rng)
    return lattice(rng, sa, odd=True), lattice(rng, sb, odd=False)


def _clamp_bounds(rng):
    # x on odd, the bounds on even multiples of 0.1 (never tied with x); hi is lo shifted by a
    # nonzero even multiple, sometimes below lo (where clamp returns hi)
    sa, sb = broadcast_pair(rng)
    lo = lattice(rng, sb, odd=False)
    return lattice(rng, sa, odd=True), lo, lo + rng.choice([-0.4, 0.6, 1.0], size=sb)


def _remainder_inputs(rng):
    # b close to one value c, a = (k + f) c with f in [0.3, 0.7]: a / b stays away from the
    # integers (where the quotient jumps) for every pair that broadcasting forms
    sa, sb = broadcast_pair(rng)
    c = rng.choice([-1.3, -0.6, 0.9, 1.7])
    b = c * (1.0 + rng.uniform(-0.01, 0.01, size=sb))
    a = (rng.integers(-3, 3, size=sa) + rng.uniform(0.3, 0.7, size=sa)) * c
    return a, b


def unary(name, fn, reference, inputs=_one, covers=(), large=None, **kw):
    return OpSpec(name, fn, inputs, reference, covers, large_inputs=large, **kw)


def _where(a, b):
    cond = lg.tensor(checker(np.broadcast_shapes(a.shape, b.shape)))
    return lg.where(cond, a, b)


def _where_ref(a, b):
    return np.where(checker(np.broadcast_shapes(a.shape, b.shape)), a, b)


def _where3(a, b, c):
    # The condition broadcasts too: it comes from the shape of the third operand.
    return lg.where(lg.tensor(checker(c.shape)), a, b) * c


def _where3_ref(a, b, c):
    return np.where(checker(c.shape), a, b) * c


def _inplace_arith(x, y):
    """The in-place operators on a non-leaf: every one records, including those that save self."""
    h = x * 1.0
    h += y
    h *= y          # Mul saves h (y requires grad): the old value must stay available
    h -= x
    h /= y
    h **= 2
    h.add_(y, alpha=0.5)
    h.sub_(y, alpha=2.0)
    return h


def _inplace_arith_ref(x, y):
    h = x * 1.0
    h = (((h + y) * y - x) / y) ** 2
    return h + 0.5 * y - 2.0 * y


def _inplace_unary(x):
    h = x * 1.0
    h.clamp_(-2.0, 2.0)
    h.tanh_()
    h.exp_()
    h.sqrt_()
    h.neg_()
    h.sigmoid_()
    h.mul_(3.0)
    h.sub_(1.0)
    h.relu_()
    return h


def _inplace_unary_ref(x):
    h = np.sqrt(np.exp(np.tanh(np.clip(x, -2.0, 2.0))))
    return np.maximum(3.0 / (1.0 + np.exp(h)) - 1.0, 0.0)


def _inplace_unary_inputs(rng):
    # clamp's kinks at +-2; relu's kink where 3 sigmoid(-h) = 1, i.e. h = log 2.
    x = away_from(rng, random_shape(rng, 0, 3), (-2.0, 2.0), 0.1)
    h = np.sqrt(np.exp(np.tanh(np.clip(x, -2.0, 2.0))))
    near = np.abs(h - np.log(2.0)) < 0.02
    return (np.where(near, x + 0.3, x),)


def _inplace_more_unary(x, y):
    h = x * 1.0
    h.abs_()
    h.log_()          # Log saves its input: the node keeps the old value
    h.square_()
    h.reciprocal_()
    h.sin_()
    h.lerp_(y, 0.25)
    h.addcmul_(y, y, value=0.5)
    h.clamp_min_(-0.9)
    return h


def _inplace_more_unary_ref(x, y):
    h = np.sin(1.0 / np.log(np.abs(x)) ** 2)
    h = h + 0.25 * (y - h) + 0.5 * y * y
    return np.maximum(h, -0.9)


def _inplace_more_unary_inputs(rng):
    # |x| away from 0 and 1 (log |x| = 0), and h away from the clamp at -0.9
    while True:
        x = rng.uniform(1.3, 2.5, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
        y = rng.standard_normal(4)
        if np.abs(_inplace_more_unary_ref(x, y) + 0.9).min() > 0.05:
            return x, y


def _reflected(x):
    return (1.0 - x) + (2.0 / x) * (3.0 * x) + 2.0 ** x + (0.5 + x) - (-x) + abs(x) ** 1.5 / 4.0


def _reflected_ref(x):
    return (1.0 - x) + (2.0 / x) * (3.0 * x) + 2.0 ** x + (0.5 + x) + x + np.abs(x) ** 1.5 / 4.0


SPECS = [
    # ------------------------------------------------------------------ binary arithmetic
    OpSpec("add", lambda a, b: a + b, _pair, np.add, ("Add",)),
    OpSpec("add_alpha", lambda a, b: lg.add(a, b, alpha=2.5), _pair, lambda a, b: a + 2.5 * b,
           ("Add", "Mul")),
    OpSpec("sub", lambda a, b: a - b, _pair, np.subtract, ("Sub",)),
    OpSpec("sub_alpha", lambda a, b: lg.sub(a, b, alpha=-0.5), _pair,
           lambda a, b: a + 0.5 * b, ("Sub", "Mul")),
    OpSpec("mul", lambda a, b: a * b, _pair, np.multiply, ("Mul",)),
    OpSpec("mul_self", lambda a: a * a, _one, lambda a: a * a, ("Mul",)),
    OpSpec("div", lambda a, b: a / b, _pair_nonzero_second, np.divide, ("Div",)),
    OpSpec("div_self", lambda a: a / (a * a + 1.0), _one, lambda a: a / (a * a + 1.0),
           ("Div",)),
    OpSpec("neg", lambda a: -a, _one, np.negative, ("Neg",)),
    OpSpec("reflected_operators", _reflected, _kinked((0.0,), 0.3), _reflected_ref,
           ("Sub", "Div", "Mul", "Pow", "Add", "Neg", "Abs")),
    # ------------------------------------------------------------------ powers
    OpSpec("pow_scalar_2", lambda a: a ** 2, _one, lambda a: a ** 2, ("Pow",)),
    OpSpec("pow_scalar_3", lambda a: a ** 3, _one, lambda a: a ** 3, ("Pow",)),
    OpSpec("pow_scalar_0_1", lambda a: a ** 0 + a ** 1, _one, lambda a: 1.0 + a, ("Pow",)),
    OpSpec("pow_scalar_fractional", lambda a: a ** -1.5 + a ** 0.5, _positive_one,
           lambda a: a ** -1.5 + a ** 0.5, ("Pow",)),
    OpSpec("pow_scalar_base", lambda a: 2.5 ** a, _one, lambda a: 2.5 ** a, ("Pow",)),
    OpSpec("pow_tensor_tensor", lambda a, b: a ** b, _positive_pair, np.power, ("Pow",)),
    OpSpec("square", lambda a: lg.square(a), _one, np.square, ("Pow",)),
    OpSpec("reciprocal", lambda a: lg.reciprocal(a), _kinked((0.0,), 0.3), np.reciprocal,
           ("Div",)),
    # ------------------------------------------------------------------ unary functions
    unary("exp", lg.exp, np.exp, covers=("Exp",), large=_one_large),
    unary("expm1", lg.expm1, np.expm1, covers=("Expm1",)),
    unary("log", lg.log, np.log, _positive_one, ("Log",)),
    unary("log1p", lg.log1p, np.log1p, lambda rng: positive(rng, random_shape(rng), low=-0.5),
          ("Log1p",)),
    unary("sqrt", lg.sqrt, np.sqrt, _positive_one, ("Sqrt",)),
    unary("rsqrt", lg.rsqrt, lambda a: 1.0 / np.sqrt(a), _positive_one, ("Rsqrt",)),
    unary("abs", lg.abs, np.abs, _kinked((0.0,)), ("Abs",)),
    unary("sin", lg.sin, np.sin, covers=("Sin", "Cos")),
    unary("cos", lg.cos, np.cos, covers=("Cos", "Sin")),
    unary("tanh", lg.tanh, np.tanh, covers=("Tanh", "TanhGrad"), large=_one_large),
    unary("sigmoid", lg.sigmoid, lambda a: 1.0 / (1.0 + np.exp(-a)),
          covers=("Sigmoid", "SigmoidGrad"), large=_one_large),
    unary("sigmoid_large_inputs", lambda a: lg.sigmoid(a * 30.0),
          lambda a: 1.0 / (1.0 + np.exp(-30.0 * a)), covers=("Sigmoid", "SigmoidGrad"),
          atol=1e-4),
    unary("relu", lg.relu, lambda a: np.maximum(a, 0.0), _kinked((0.0,)), ("Relu",),
          large=_one_large),
    unary("softplus", lg.softplus, lambda a: np.logaddexp(0.0, a), covers=("Softplus",)),
    unary("softplus_beta_threshold", lambda a: lg.softplus(a, beta=2.0, threshold=1.0),
          lambda a: np.where(2 * a > 1.0, a, np.logaddexp(0.0, 2 * a) / 2),
          _kinked((0.5,)), ("Softplus",)),
    unary("clamp", lambda a: lg.clamp(a, -0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7),
          _kinked((-0.5, 0.7)), ("Clamp",)),
    unary("clamp_min", lambda a: a.clamp(min=0.2), lambda a: np.maximum(a, 0.2),
          _kinked((0.2,)), ("Clamp",)),
    unary("clamp_max", lambda a: a.clip(max=-0.1), lambda a: np.minimum(a, -0.1),
          _kinked((-0.1,)), ("Clamp",)),
    OpSpec("clamp_tensor_bounds", lambda a, lo, hi: a.clamp(lo, hi) + a.clamp(max=hi) * 2.0,
           _clamp_bounds, lambda a, lo, hi: np.clip(a, lo, hi) + np.minimum(a, hi) * 2.0,
           ("Clamp", "Mul", "Add")),
    unary("tan", lg.tan, np.tan, lambda rng: (rng.uniform(-1.2, 1.2, random_shape(rng)),),
          ("Tan",)),
    unary("sinh", lg.sinh, np.sinh, covers=("Sinh", "Cosh")),
    unary("cosh", lg.cosh, np.cosh, covers=("Cosh", "Sinh")),
    unary("log2_log10", lambda a: lg.log2(a) + a.log10() * 3.0,
          lambda a: np.log2(a) + 3.0 * np.log10(a), _positive_one, ("Log", "Mul")),
    unary("exp2", lg.exp2, np.exp2, covers=("Pow",)),
    OpSpec("remainder", lambda a, b: lg.remainder(a, b) + (a % b) * 0.5, _remainder_inputs,
           lambda a, b: 1.5 * np.remainder(a, b), ("Remainder",)),
    OpSpec("fmod", lg.fmod, _remainder_inputs, np.fmod, ("Remainder",)),
    OpSpec("logaddexp", lg.logaddexp, _pair, np.logaddexp, ("LogAddExp", "Sigmoid")),
    unary("logaddexp_scalar", lambda a: lg.logaddexp(a, 0.3) + lg.logaddexp(-0.2, a),
          lambda a: np.logaddexp(a, 0.3) + np.logaddexp(-0.2, a), covers=("LogAddExp",)),
    OpSpec("logaddexp_large_values", lambda a, b: lg.logaddexp(a * 500.0, b * 500.0), _pair,
           lambda a, b: np.logaddexp(a * 500.0, b * 500.0), ("LogAddExp",), atol=1e-4),
    OpSpec("lerp_addcmul_addcdiv",
           lambda a, b, c: lg.lerp(a, b, 0.3) + lg.lerp(a, b, c) + lg.addcmul(a, b, c, value=0.5)
           + lg.addcdiv(a, b, c * c + 1.0, value=2.0),
           lambda rng: normal(rng, (3, 4), (4,), (3, 1)),
           lambda a, b, c: (a + 0.3 * (b - a)) + (a + c * (b - a)) + a + 0.5 * b * c
           + a + 2.0 * b / (c * c + 1.0), ("Add", "Sub", "Mul", "Div")),
    OpSpec("aliases", lambda a, b: lg.multiply(a, b) - lg.divide(a, lg.absolute(b) + 1.0)
           + lg.subtract(lg.negative(a), lg.true_divide(b, 2.0)) + lg.clip(a, -0.5, 0.5)
           + lg.clamp_min(b, 0.1) + lg.clamp_max(a, 0.2),
           lambda rng: tuple(away_from(rng, s, (-0.5, 0.5, 0.1, 0.2, 0.0), 0.05)
                             for s in broadcast_pair(rng)),
           lambda a, b: a * b - a / (np.abs(b) + 1.0) - a - b / 2.0 + np.clip(a, -0.5, 0.5)
           + np.maximum(b, 0.1) + np.minimum(a, 0.2), ("Mul", "Div", "Sub", "Neg", "Clamp")),
    # ------------------------------------------------------------------ max/min-like
    OpSpec("maximum", lg.maximum, _apart_pair, np.maximum, ("Maximum",)),
    OpSpec("minimum", lg.minimum, _apart_pair, np.minimum, ("Minimum",)),
    OpSpec("maximum_scalar", lambda a: lg.maximum(a, 0.1) + lg.minimum(-0.2, a),
           _kinked((0.1, -0.2)), lambda a: np.maximum(a, 0.1) + np.minimum(-0.2, a),
           ("Maximum", "Minimum")),
    OpSpec("max_binary_method", lambda a, b: a.max(b) - lg.min(a, b), _apart_pair,
           lambda a, b: np.maximum(a, b) - np.minimum(a, b), ("Maximum", "Minimum", "Sub")),
    OpSpec("where", _where, _pair, _where_ref, ("Where",)),
    OpSpec("where_scalar", lambda a: lg.where(a > 0, a, 0.5) + a.where(a < 0, -1.0),
           _kinked((0.0,)), lambda a: np.where(a > 0, a, 0.5) + np.where(a < 0, a, -1.0),
           ("Where",)),
    OpSpec("where_broadcast_condition", _where3,
           lambda rng: normal(rng, *broadcast_triple(rng)), _where3_ref, ("Where", "Mul")),
    OpSpec("cast_same_dtype_copy", lambda a: a.to(a.dtype, copy=True) * 2.0, _one,
           lambda a: a * 2.0, ("Cast", "Mul")),
    # The node of a device move, here to the input's own device (tests/test_device moves
    # between the host and the device stand-in).
    OpSpec("to_device_same", lambda a: lg.ops.to_device(a * 2.0, a.device), _one,
           lambda a: a * 2.0, ("ToDevice", "Mul")),
    # ------------------------------------------------------------------ in-place forms
    OpSpec("inplace_arithmetic", _inplace_arith,
           lambda rng: (rng.standard_normal((3, 4)), away_from(rng, (4,), margin=0.3)),
           _inplace_arith_ref, ("Add", "Mul", "Sub", "Div", "Pow")),
    OpSpec("inplace_more_unary", _inplace_more_unary, _inplace_more_unary_inputs,
           _inplace_more_unary_ref, ("Abs", "Log", "Pow", "Div", "Sin", "Add", "Mul", "Clamp")),
    OpSpec("inplace_unary", _inplace_unary, _inplace_unary_inputs, _inplace_unary_ref,
           ("Clamp", "Tanh", "Exp", "Sqrt", "Neg", "Sigmoid", "Mul", "Sub", "Relu")),
]

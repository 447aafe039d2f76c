"""Activation functions beyond the core, and the error function ``erf``.

The activations used on every model's hot path (leaky_relu, elu/selu/celu, gelu, prelu,
hardtanh/relu6, hardsigmoid/hardswish, softshrink, silu, logsigmoid) are fused ``Function``
nodes whose rule is written once against the namespace of its values (arrays on the fast path,
tensors when the backward pass is recorded, so it can be differentiated again). The rarer ones
(mish, softsign, glu...) are compositions of existing ops, differentiable to any order by
construction.

NaN inputs follow PyTorch: the value stays NaN, and the piecewise ops pass the gradient through
where PyTorch's masks do (relu6/hardtanh, threshold, hard/softshrink, elu/selu/celu, hardswish: a
NaN is "not in the flat part"; hardsigmoid: a NaN gets gradient 0).

Deliberate difference from PyTorch: the ``inplace`` arguments are accepted for compatibility but
the result is always computed out of place (the values are the same; the input is not modified).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend import namespace
from ._common import float_input, is_tensor, normalize_dim
from .elementwise import abs as _abs
from .elementwise import softplus, where
from .reduce import softmax
from .shape import split
from .dropout import _SELU_ALPHA, _SELU_SCALE
from .unary import sigmoid, sigmoid_array, tanh

__all__ = ["erf", "leaky_relu", "elu", "selu", "celu", "gelu", "prelu", "hardtanh", "relu6",
           "silu", "mish", "softsign", "tanhshrink", "logsigmoid", "softmin", "hardsigmoid",
           "hardswish", "threshold", "hardshrink", "softshrink", "glu"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ------------------------------------------------------------------------------ erf

def _polynomial_fit(f, a: float, b: float, degree: int) -> np.ndarray:
    """Power-series coefficients in ``t = (2x - a - b) / (b - a)`` of the polynomial that
    interpolates ``f`` at the Chebyshev points of ``[a, b]`` (lowest degree first)."""
    n = degree + 1
    theta = np.pi * (np.arange(n) + 0.5) / n
    values = np.array([f(0.5 * (b - a) * math.cos(t) + 0.5 * (b + a)) for t in theta])
    # Chebyshev coefficients, then the power basis (T_{k+1} = 2 t T_k - T_{k-1}). On the short
    # intervals used here the coefficients decay fast, so the power form stays accurate and
    # Horner's rule costs two array operations per degree instead of Clenshaw's three.
    chebyshev = (2.0 / n) * (np.cos(np.outer(np.arange(n), theta)) @ values)
    chebyshev[0] *= 0.5
    power = np.zeros(n)
    previous, current = np.zeros(n), np.zeros(n)
    current[0] = 1.0  # T_0 = 1
    previous[min(1, degree)] = 1.0  # T_{-1} = T_1 = t, so that the recurrence gives T_1 too
    for k in range(n):
        power += chebyshev[k] * current
        following = np.concatenate([[0.0], 2.0 * current[:-1]]) - previous
        previous, current = current, following
    return power


def _horner(t, coeffs: np.ndarray):
    out = namespace(t).full_like(t, coeffs[-1])
    for c in coeffs[-2::-1]:
        out *= t
        out += c
    return out


_ERF_TABLES = []
_ERF_PIECES = ((1.0, 2.0), (2.0, 3.0), (3.0, 4.5), (4.5, 6.0))


def _erf_tables():
    # Fitted once, on first use, from the standard library's erf/erfc (accurate to ~1 ulp):
    # erf(x)/x as a function of x^2 on |x| < 1, and erfc(x) exp(x^2) (smooth and slowly
    # varying) on the pieces of [1, 6]. Beyond 6, erfc(x) < 2.2e-17: erf is +-1 in float64.
    if not _ERF_TABLES:
        def small(u):
            return math.erf(math.sqrt(u)) / math.sqrt(u) if u > 0 else _TWO_OVER_SQRT_PI

        def scaled_erfc(x):
            return math.erfc(x) * math.exp(x * x)

        _ERF_TABLES.append(_polynomial_fit(small, 0.0, 1.0, 10))
        _ERF_TABLES.extend((lo, hi, _polynomial_fit(scaled_erfc, lo, hi, 14))
                           for lo, hi in _ERF_PIECES)
    return _ERF_TABLES


def _erf_small(x, coeffs):
    return x * _horner(2.0 * x * x - 1.0, coeffs)


def _erf_large(x, lo: float, hi: float, coeffs):
    xp = namespace(x)
    ax = xp.abs(x)
    erfc = xp.exp(-ax * ax) * _horner((2.0 * ax - (lo + hi)) / (hi - lo), coeffs)
    return xp.copysign(1.0 - erfc, x)


def erf_array(x):
    """The Gauss error function of a float array (any backend), vectorised, accurate to about
    2e-15 (float64). Computed in float64 and returned in ``x``'s dtype.
    """
    xp = namespace(x)
    d = x.astype(xp.float64, copy=False).reshape(-1)  # 1-D: masked assignment works for 0-d too
    small, *pieces = _erf_tables()
    ax = xp.abs(d)
    if not d.size or ax.max() < 1.0:  # the common case for activations: no masking needed
        out = _erf_small(d, small)
    else:
        out = xp.sign(d)  # erf(+-inf) = +-1, NaN stays NaN, and |x| >= 6 is already right
        m = ax < 1.0
        if m.any():
            out[m] = _erf_small(d[m], small)
        for lo, hi, coeffs in pieces:
            m = (ax >= lo) & (ax < hi)
            if m.any():
                out[m] = _erf_large(d[m], lo, hi, coeffs)
    return out.reshape(x.shape).astype(x.dtype, copy=False)


def _erf_value(x):
    """erf of a value inside a rule: a differentiable node on tensors, the kernel on arrays."""
    return Erf.apply(x) if is_tensor(x) else erf_array(x)


class Erf(Function):
    label = "Erf"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "erf")
        ctx.save_for_backward(a)
        return erf_array(x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * namespace(a).exp(-(a * a)) * _TWO_OVER_SQRT_PI


def erf(x):
    """The Gauss error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt`` (``torch.erf``).

    Example:
        >>> import locograd as lg
        >>> round(float(lg.erf(lg.tensor(1.0))), 6)
        0.842701
    """
    return Erf.apply(x)


# ------------------------------------------------------------------------------ fused activations

class LeakyRelu(Function):
    label = "LeakyRelu"

    @staticmethod
    def forward(ctx, a, negative_slope):
        x = float_input(a, "leaky_relu")
        # The gradient at exactly 0 is the slope (PyTorch's convention: the mask is x > 0).
        ctx.scale = namespace(x).where(x > 0, 1.0, negative_slope).astype(x.dtype, copy=False)
        return x * ctx.scale

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None  # a constant mask


def leaky_relu(x, negative_slope: float = 0.01, inplace: bool = False):
    """``x`` where positive, ``negative_slope * x`` elsewhere.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.leaky_relu(lg.tensor([-2.0, 3.0]), 0.1).tolist()
        [-0.20000000298023224, 3.0]
    """
    return LeakyRelu.apply(x, negative_slope)


class Elu(Function):
    """``scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1))``: elu, selu and celu."""

    label = "Elu"

    @staticmethod
    def forward(ctx, a, alpha, scale, input_scale):
        x = float_input(a, "elu")
        xp = namespace(x)
        positive = ~(x <= 0)  # NaN counts as positive: its gradient is scale (PyTorch)
        negative = xp.expm1(xp.minimum(x, 0) * input_scale) * (scale * alpha)
        out = xp.where(positive, x * scale, negative).astype(x.dtype, copy=False)
        ctx.positive, ctx.params = positive, (alpha, scale, input_scale)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # d/dx on the negative side is input_scale * (out + scale * alpha).
        (out,) = ctx.saved_tensors
        alpha, scale, input_scale = ctx.params
        slope = namespace(out).where(ctx.positive, scale, (out + scale * alpha) * input_scale)
        return grad * slope, None, None, None


def elu(x, alpha: float = 1.0, inplace: bool = False):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere (Clevert et al., 2016).

    Example:
        >>> import locograd as lg
        >>> round(lg.nn.functional.elu(lg.tensor(-1.0)).item(), 4)
        -0.6321
    """
    return Elu.apply(x, alpha, 1.0, 1.0)


def selu(x, inplace: bool = False):
    """``scale * elu(x, alpha)`` with the self-normalising constants (Klambauer et al., 2017).

    Example:
        >>> import locograd as lg
        >>> round(lg.nn.functional.selu(lg.tensor(1.0)).item(), 4)
        1.0507
    """
    return Elu.apply(x, _SELU_ALPHA, _SELU_SCALE, 1.0)


def celu(x, alpha: float = 1.0, inplace: bool = False):
    """``x`` where positive, ``alpha * (exp(x / alpha) - 1)`` elsewhere.

    Example:
        >>> import locograd as lg
        >>> round(lg.nn.functional.celu(lg.tensor(-1.0), alpha=2.0).item(), 4)
        -0.7869
    """
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return Elu.apply(x, alpha, 1.0, 1.0 / alpha)


class Gelu(Function):
    """``x * Phi(x)`` (exact, with erf) or its tanh approximation (``approximate='tanh'``)."""

    label = "Gelu"

    @staticmethod
    def forward(ctx, a, approximate):
        x = float_input(a, "gelu")
        ctx.tanh = approximate == "tanh"
        aux = _gelu_aux(x, ctx.tanh)
        ctx.save_for_backward(a, aux)
        return 0.5 * x * (1.0 + aux) if ctx.tanh else x * aux

    @staticmethod
    def backward(ctx, grad):
        x, aux = ctx.saved_tensors
        xp = namespace(x)
        if is_tensor(x):  # recorded: the saved aux would be a constant; recompute it from x
            aux = _gelu_aux(x, ctx.tanh)
        if ctx.tanh:
            inner = (x * x * (3 * 0.044715) + 1.0) * _SQRT_2_OVER_PI
            return grad * ((aux + 1.0) * 0.5 + x * 0.5 * (1.0 - aux * aux) * inner), None
        return grad * (aux + x * xp.exp(x * x * -0.5) * _INV_SQRT_2PI), None


def gelu(x, approximate: str = "none"):
    """Gaussian error linear unit ``x * Phi(x)`` (Hendrycks & Gimpel, 2016).

    Args:
        x: input tensor.
        approximate: ``'none'`` (exact, with erf) or ``'tanh'`` (the tanh approximation).

    Example:
        >>> import locograd as lg
        >>> round(lg.nn.functional.gelu(lg.tensor(1.0)).item(), 4)
        0.8413
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(x, approximate)


def _gelu_aux(x, tanh_form: bool):
    """``tanh(sqrt(2/pi) (x + 0.044715 x^3))`` (tanh form) or the normal CDF ``Phi(x)``."""
    if tanh_form:
        return namespace(x).tanh((x + x * x * x * 0.044715) * _SQRT_2_OVER_PI)
    return (_erf_value(x * _INV_SQRT_2) + 1.0) * 0.5


class Prelu(Function):
    """``x if x > 0 else weight[c] * x`` with one learnable slope per channel (dim 1)."""

    label = "Prelu"

    @staticmethod
    def forward(ctx, a, weight):
        x, w = float_input(a, "prelu"), weight.data
        ctx.shape = _prelu_shape(x, w)
        ctx.positive = x > 0
        ctx.save_for_backward(a, weight)
        return namespace(x).where(ctx.positive, x, w.reshape(ctx.shape) * x)

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        xp = namespace(x)
        need = ctx.needs_input_grad
        gx = grad * xp.where(ctx.positive, 1.0, w.reshape(ctx.shape)) if need[0] else None
        gw = None
        if need[1]:
            gw = xp.sum(xp.where(ctx.positive, 0.0, grad * x), axis=_prelu_axes(x, ctx.shape))
            gw = gw.reshape(w.shape)
        return gx, gw


def prelu(x, weight):
    """``x`` where positive, ``weight[c] * x`` elsewhere, with ``c`` the channel (dim 1).

    Args:
        x: input; dim 1 holds the channels when ``weight`` has more than one slope.
        weight: 1-D tensor of ``1`` or ``C`` slopes (learnable).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.prelu(lg.tensor([[-1.0, -1.0]]), lg.tensor([0.5, 2.0])).tolist()
        [[-0.5, -2.0]]
    """
    return Prelu.apply(x, weight)


def _prelu_shape(x, w) -> tuple:
    """The shape that broadcasts ``w`` along dim 1 of ``x`` (or a scalar for one slope)."""
    if w.ndim != 1:
        raise ValueError(f"prelu: the weight must be 1-D (num_parameters,), got shape {w.shape}")
    if w.size == 1:
        return ()
    if x.ndim < 2 or x.shape[1] != w.size:
        raise ValueError(f"prelu: the weight has {w.size} slopes but the input of shape "
                         f"{x.shape} has {x.shape[1] if x.ndim >= 2 else 1} channels (dim 1)")
    return (w.size,) + (1,) * (x.ndim - 2)


def _prelu_axes(x, shape: tuple) -> tuple:
    return tuple(i for i in range(x.ndim) if not (shape and i == 1))


class Hardtanh(Function):
    """Clip to ``[min_val, max_val]``; gradient 1 strictly inside, 0 on the bounds and outside,
    1 at NaN (PyTorch's mask is "not at or beyond a bound")."""

    label = "Hardtanh"

    @staticmethod
    def forward(ctx, a, min_val, max_val):
        x = float_input(a, "hardtanh")
        ctx.inside = ~((x <= min_val) | (x >= max_val))
        return namespace(x).clip(x, min_val, max_val)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.inside, None, None  # a constant mask, as LeakyRelu


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """Clip ``x`` to ``[min_val, max_val]``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.hardtanh(lg.tensor([-3.0, 0.5, 3.0])).tolist()
        [-1.0, 0.5, 1.0]
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return Hardtanh.apply(x, min_val, max_val)


def relu6(x, inplace: bool = False):
    """``min(max(x, 0), 6)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.relu6(lg.tensor([-1.0, 7.0])).tolist()
        [0.0, 6.0]
    """
    return Hardtanh.apply(x, 0.0, 6.0)


class Softshrink(Function):
    """``x - clip(x, -lambd, lambd)``; gradient 0 on ``[-lambd, lambd]``, 1 outside and at NaN
    (as PyTorch)."""

    label = "Softshrink"

    @staticmethod
    def forward(ctx, a, lambd):
        x = float_input(a, "softshrink")
        ctx.outside = ~((x >= -lambd) & (x <= lambd))
        return x - namespace(x).clip(x, -lambd, lambd)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.outside, None  # a constant mask


def softshrink(x, lambd: float = 0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.softshrink(lg.tensor([0.2, -1.0])).tolist()
        [0.0, -0.5]
    """
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be non-negative, got {lambd}")
    return Softshrink.apply(x, float(lambd))


class Hardsigmoid(Function):
    """``relu6(x + 3) / 6``; gradient 1/6 strictly inside ``(-3, 3)``, else 0 (also at NaN, as
    PyTorch)."""

    label = "Hardsigmoid"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "hardsigmoid")
        xp = namespace(x)
        ctx.slope = xp.where((x > -3.0) & (x < 3.0), 1.0 / 6.0, 0.0).astype(x.dtype, copy=False)
        return xp.clip(x + 3.0, 0.0, 6.0) / 6.0

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.slope  # a constant mask


def hardsigmoid(x, inplace: bool = False):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear in between.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.hardsigmoid(lg.tensor([-4.0, 0.0, 4.0])).tolist()
        [0.0, 0.5, 1.0]
    """
    return Hardsigmoid.apply(x)


class Hardswish(Function):
    """``x * relu6(x + 3) / 6``: 0 below -3, ``x`` above 3; gradient ``x / 3 + 1/2`` strictly
    inside ``(-3, 3)``, 0 at and below -3, 1 at and above 3 and at NaN (PyTorch's branches)."""

    label = "Hardswish"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "hardswish")
        ctx.save_for_backward(a)
        return x * namespace(x).clip(x + 3.0, 0.0, 6.0) / 6.0

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = namespace(x)
        slope = xp.where(x <= -3.0, 0.0, xp.where(x < 3.0, x * (1.0 / 3.0) + 0.5, 1.0))
        return grad * slope


def hardswish(x, inplace: bool = False):
    """``x * hardsigmoid(x)`` (Howard et al., 2019).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.hardswish(lg.tensor([-4.0, 0.0, 4.0])).tolist()
        [-0.0, 0.0, 4.0]
    """
    return Hardswish.apply(x)


class Silu(Function):
    """``x * sigmoid(x)`` (swish)."""

    label = "Silu"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "silu")
        s = sigmoid_array(x)
        ctx.save_for_backward(a, s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        if is_tensor(x):  # recorded: the saved sigmoid would be a constant; recompute it
            s = sigmoid(x)
        return grad * (s * (x * (1.0 - s) + 1.0))


def silu(x, inplace: bool = False):
    """``x * sigmoid(x)`` (also called swish).

    Example:
        >>> import locograd as lg
        >>> round(lg.nn.functional.silu(lg.tensor(1.0)).item(), 4)
        0.7311
    """
    return Silu.apply(x)


class LogSigmoid(Function):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, finite for any x."""

    label = "LogSigmoid"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "logsigmoid")
        xp = namespace(x)
        ctx.save_for_backward(a)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (sigmoid(-x) if is_tensor(x) else sigmoid_array(-x))


def logsigmoid(x):
    """``log(sigmoid(x))``, computed without overflow (finite at x = -1e4).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.logsigmoid(lg.tensor([-1e4])).tolist()
        [-10000.0]
    """
    return LogSigmoid.apply(x)


# ------------------------------------------------------------------------------ compositions

def mish(x, inplace: bool = False):
    """``x * tanh(softplus(x))`` (Misra, 2019).

    Example:
        >>> import locograd as lg
        >>> round(lg.nn.functional.mish(lg.tensor(1.0)).item(), 4)
        0.8651
    """
    return x * tanh(softplus(x))


def softsign(x):
    """``x / (1 + |x|)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.softsign(lg.tensor([1.0, -3.0])).tolist()
        [0.5, -0.75]
    """
    return x / (_abs(x) + 1.0)


def tanhshrink(x):
    """``x - tanh(x)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.tanhshrink(lg.tensor([0.0])).tolist()
        [0.0]
    """
    return x - tanh(x)


def softmin(x, dim=None, dtype=None):
    """``softmax(-x, dim)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.softmin(lg.tensor([0.0, 0.0]), dim=0).tolist()
        [0.5, 0.5]
    """
    return softmax(-x, dim, dtype)


def threshold(x, threshold: float, value: float, inplace: bool = False):
    """``x`` where ``x > threshold``, else ``value`` (NaN stays NaN, as PyTorch).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.threshold(lg.tensor([0.5, 2.0]), 1.0, -1.0).tolist()
        [-1.0, 2.0]
    """
    return where(x.data <= threshold, value, x)  # "not above" would turn NaN into value


def hardshrink(x, lambd: float = 0.5):
    """``x`` where ``|x| > lambd``, else 0 (NaN stays NaN, as PyTorch).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.hardshrink(lg.tensor([0.2, -1.0])).tolist()
        [0.0, -1.0]
    """
    d = x.data
    return where(namespace(d).abs(d) <= lambd, 0.0, x)


def glu(x, dim: int = -1):
    """Gated linear unit: split ``x`` in halves ``a, b`` along ``dim``; ``a * sigmoid(b)``.

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.glu(lg.tensor([[2.0, 0.0]])).tolist()
        [[1.0]]
    """
    d = normalize_dim(dim, x.data.ndim, "glu")
    if x.data.shape[d] % 2:
        raise ValueError(f"glu: dimension {dim} of the input (shape {x.data.shape}) must have an "
                         f"even size")
    a, b = split(x, x.data.shape[d] // 2, d)
    return a * sigmoid(b)

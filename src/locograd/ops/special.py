"""Special functions (erfc, erfinv, lgamma, digamma, polygamma, logit, xlogy) and the float
manipulations PyTorch has beside them (nan_to_num, copysign, frac, fmax/fmin, logaddexp2,
float_power).

erfc, erfinv, lgamma, digamma and polygamma compute their forward with the ``scipy.special`` of
the data's backend, which ``special_namespace`` gives: SciPy (an optional dependency, in the
``data`` extra) for NumPy arrays, ``cupyx.scipy.special`` on CuPy, SciPy wrapped by the stand-in's
``StandInNamespace`` on the CPU stand-in of a device, and this module's own differentiable ops
under SciPy's names for tensors (so a recorded rule, ``grad * psi(x)``, is differentiable again).
Each rule is written once against the namespace of its values, as in ``unary``.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase
from ..backend import float64, namespace, standin
from . import tensor_namespace
from ._common import (binary_operands, broadcast_error, float_input, float_operands, is_array,
                      namespace_of, save_operands, saved_operands)
from .comparison import trunc
from .elementwise import logaddexp
from .elementwise import pow as _pow

__all__ = ["special_namespace", "erfc", "erfinv", "lgamma", "digamma", "polygamma", "logit",
           "xlogy", "nan_to_num", "copysign", "frac", "fmax", "fmin", "logaddexp2",
           "float_power"]

_LN2 = math.log(2.0)
_INV_LN2 = 1.0 / _LN2
_ERFC_SLOPE = -2.0 / math.sqrt(math.pi)  # d/dx erfc(x) = -2/sqrt(pi) exp(-x^2)
_ERFINV_SLOPE = math.sqrt(math.pi) / 2.0  # d/dx erfinv(x) = sqrt(pi)/2 exp(erfinv(x)^2)

_SPECIAL: dict = {}  # array namespace -> its scipy.special


def special_namespace(x, name: str = "special_namespace"):
    """The ``scipy.special`` of the array namespace of ``x`` (an array or a tensor).

    NumPy arrays: ``scipy.special``; CuPy arrays: ``cupyx.scipy.special``; the CPU stand-in of a
    device: ``scipy.special`` wrapped by ``backend.standin.StandInNamespace`` (stand-in arrays in
    and out, as CuPy's); tensors: this module's differentiable ops under SciPy's names
    (``erfc``, ``erfinv``, ``gammaln``, ``psi``, ``polygamma``). SciPy is imported on first use
    only; without it an ImportError names the op ``name`` and how to install it.

    Example:
        >>> import numpy as np
        >>> float(special_namespace(np.ones(1)).gammaln(np.array([3.0]))[0])  # log(2!)
        0.6931471805599453
    """
    xp = namespace(x)
    ns = _SPECIAL.get(xp)
    if ns is None:
        ns = _SPECIAL[xp] = _special_of(xp, name)
    return ns


def _special_of(xp, name):
    if xp is tensor_namespace:
        return _TENSOR_SPECIAL
    if getattr(xp, "__name__", "") == "cupy":
        import cupyx.scipy.special
        return cupyx.scipy.special
    try:
        import scipy.special
    except ImportError:
        raise ImportError(f"{name}: needs SciPy for its values (pip install scipy, or "
                          f"pip install 'locograd[data]')") from None
    if xp is np:
        return scipy.special
    if xp is standin.NAMESPACE:
        return standin.StandInNamespace(scipy.special, "scipy.special")
    raise TypeError(f"{name}: no scipy.special for the array namespace {xp!r}")


def _in_dtype(out, x):
    """A SciPy result in the input's float dtype (some compute float32 in float64)."""
    return out.astype(x.dtype, copy=False) if out.dtype != x.dtype else out


class Erfc(Function):
    label = "Erfc"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "erfc")
        ctx.save_for_backward(a)
        return _in_dtype(special_namespace(x, "erfc").erfc(x), x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * namespace(a).exp(-(a * a)) * _ERFC_SLOPE


def erfc(a):
    """The complementary error function ``1 - erf(x)``, accurate for large x (needs SciPy,
    see ``special_namespace``).

    Example:
        >>> import locograd as lg
        >>> lg.erfc(lg.tensor(0.0)).item()
        1.0
    """
    return Erfc.apply(a)


class Erfinv(Function):
    label = "Erfinv"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "erfinv")
        out = _in_dtype(special_namespace(x, "erfinv").erfinv(x), x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * namespace(out).exp(out * out) * _ERFINV_SLOPE


def erfinv(a):
    """The inverse error function on ``(-1, 1)`` (``+-inf`` at ``+-1``, NaN beyond; needs
    SciPy, see ``special_namespace``).

    Example:
        >>> import locograd as lg
        >>> lg.erfinv(lg.tensor(0.0)).item()
        0.0
    """
    return Erfinv.apply(a)


class Lgamma(Function):
    label = "Lgamma"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "lgamma")
        ctx.save_for_backward(a)
        out = _in_dtype(special_namespace(x, "lgamma").gammaln(x), x)
        return namespace(x).where(x == -math.inf, math.inf, out)  # SciPy: -inf; PyTorch: inf

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * special_namespace(a, "lgamma").psi(a)


def lgamma(a):
    """``log|Gamma(x)|`` (``inf`` at the non-positive integers); its derivative is
    ``digamma(x)`` (needs SciPy, see ``special_namespace``).

    Example:
        >>> import locograd as lg
        >>> round(lg.lgamma(lg.tensor(4.0)).item(), 4)  # log(3!)
        1.7918
    """
    return Lgamma.apply(a)


class Digamma(Function):
    label = "Digamma"

    @staticmethod
    def forward(ctx, a):
        x = float_input(a, "digamma")
        ctx.save_for_backward(a)
        return _in_dtype(special_namespace(x, "digamma").psi(x), x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * special_namespace(a, "digamma").polygamma(1, a)


def digamma(a):
    """The digamma function ``d/dx log Gamma(x)`` (``-inf`` at 0 as PyTorch, NaN at the
    negative integers); its derivative is ``polygamma(1, x)`` (needs SciPy).

    Example:
        >>> import locograd as lg
        >>> round(lg.digamma(lg.tensor(1.0)).item(), 4)  # minus the Euler-Mascheroni constant
        -0.5772
    """
    return Digamma.apply(a)


class Polygamma(Function):
    label = "Polygamma"

    @staticmethod
    def forward(ctx, n, a):
        x = float_input(a, "polygamma")
        ctx.n = n
        ctx.save_for_backward(a)
        return _in_dtype(special_namespace(x, "polygamma").polygamma(n, x), x)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return None, grad * special_namespace(a, "polygamma").polygamma(ctx.n + 1, a)


def polygamma(n: int, input):
    """The n-th derivative of the digamma function (``polygamma(0, x)`` is ``digamma(x)``);
    its derivative is ``polygamma(n + 1, x)`` (needs SciPy).

    Args:
        n: the order, an int >= 0.
        input: a tensor.

    Example:
        >>> import locograd as lg
        >>> round(lg.polygamma(1, lg.tensor(1.0)).item(), 4)  # pi^2 / 6
        1.6449
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"polygamma: n must be a non-negative int, got {n!r}")
    if int(n) == 0:
        return Digamma.apply(input)
    return Polygamma.apply(int(n), input)


class Logit(Function):
    """``log(z / (1 - z))`` of ``z = clamp(x, eps, 1 - eps)``; the gradient is
    ``1 / (x (1 - x))``, and 0 outside ``[eps, 1 - eps]`` (without ``eps``: NaN outside
    ``[0, 1]``), as PyTorch's."""

    label = "Logit"

    @staticmethod
    def forward(ctx, a, eps):
        x = float_input(a, "logit")
        xp = namespace(x)
        ctx.save_for_backward(a)
        ctx.eps = eps
        z = x if eps is None else xp.clip(x, eps, 1.0 - eps)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.log(z / (1.0 - z))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = namespace(a)
        with xp.errstate(divide="ignore", invalid="ignore"):
            g = grad / (a * (1.0 - a))
        eps = ctx.eps
        if eps is None:  # NaN outside [0, 1], as PyTorch
            return xp.where((a < 0) | (a > 1), math.nan, g), None
        return xp.where((a < eps) | (a > 1.0 - eps), 0.0, g), None


def logit(input, eps=None):
    """The log-odds ``log(p / (1 - p))``; with ``eps``, ``p`` is first clamped to
    ``[eps, 1 - eps]`` (a negative ``eps`` means none, as PyTorch).

    Args:
        input: probabilities (a tensor).
        eps: the clamp's margin, or None.

    Example:
        >>> import locograd as lg
        >>> lg.logit(lg.tensor([0.5, 0.0]), eps=1e-6).tolist()[0]
        0.0
    """
    if eps is not None and float(eps) < 0:
        eps = None
    return Logit.apply(input, None if eps is None else float(eps))


def _xlogy_kernel(x, y):
    """``x * log(y)``, 0 where ``x == 0`` unless ``y`` is NaN (PyTorch's)."""
    xp = namespace_of(x, y)
    with xp.errstate(divide="ignore", invalid="ignore"):
        # a number's log stays a Python float (weak: float32 x stays float32)
        log_y = xp.log(y) if is_array(y) else float(np.log(y))
        return xp.where((x == 0) & (y == y), 0.0, x * log_y)


def _xlogy_value(x, y):
    """``xlogy`` inside a rule: a node on tensors (differentiable again), the kernel on
    arrays."""
    if isinstance(x, TensorBase) or isinstance(y, TensorBase):
        return Xlogy.apply(x, y)
    return _xlogy_kernel(x, y)


class Xlogy(Function):
    """``x * log(y)`` with ``0 log 0 = 0``; the gradients are ``xlogy(grad, y)`` (0 where
    ``x == 0`` and ``y <= 0``) and ``grad * x / y`` (PyTorch's)."""

    label = "Xlogy"

    @staticmethod
    def forward(ctx, a, b):
        x, y = float_operands(a, b, "xlogy")
        save_operands(ctx, a, b, x, y)
        try:
            return _xlogy_kernel(x, y)
        except ValueError:
            raise broadcast_error("xlogy", x, y) from None

    @staticmethod
    def backward(ctx, grad):
        x, y = saved_operands(ctx)
        need = ctx.needs_input_grad
        xp = namespace(grad)
        gx = gy = None
        if need[0]:
            gx = xp.where((x == 0) & (y <= 0), 0.0, _xlogy_value(grad, y))
        if need[1]:
            with xp.errstate(divide="ignore", invalid="ignore"):
                gy = grad * x / y
        return gx, gy


def xlogy(input, other):
    """``input * log(other)``, 0 where ``input`` is 0 (unless ``other`` is NaN), broadcasting;
    either may be a number.

    Example:
        >>> import locograd as lg
        >>> lg.xlogy(lg.tensor([0.0, 2.0]), lg.tensor([0.0, 1.0])).tolist()
        [0.0, 0.0]
    """
    return Xlogy.apply(input, other)


class NanToNum(Function):
    """NaN and infinities replaced by numbers; the gradient is 0 at the replaced entries."""

    label = "NanToNum"

    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        x = a.data
        xp = namespace(x)
        if x.dtype.kind not in "fc":
            return x.copy()
        ctx.finite = xp.isfinite(x)
        with xp.errstate(over="ignore"):  # a replacement beyond the dtype's range: inf
            return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.finite, None, None, None


def nan_to_num(input, nan: float = 0.0, posinf=None, neginf=None):
    """``input`` with NaN replaced by ``nan``, ``+inf`` by ``posinf`` and ``-inf`` by
    ``neginf`` (None: the dtype's largest and smallest finite values), as ``torch.nan_to_num``.

    Example:
        >>> import locograd as lg
        >>> lg.nan_to_num(lg.tensor([float("nan"), 1.0, float("inf")]), posinf=9.0).tolist()
        [0.0, 1.0, 9.0]
    """
    return NanToNum.apply(input, float(nan), posinf, neginf)


class Copysign(Function):
    """``|a|`` with the sign of ``b``; the gradient of ``a`` is ``copysign(a, b) / a`` (0 where
    ``a == 0``), that of ``b`` zero (as PyTorch's)."""

    label = "Copysign"

    @staticmethod
    def forward(ctx, a, b):
        x, y = float_operands(a, b, "copysign")
        xp = namespace_of(x, y)
        try:
            out = xp.copysign(x, y)
        except ValueError:
            raise broadcast_error("copysign", x, y) from None
        if ctx.needs_input_grad[0]:
            with xp.errstate(divide="ignore", invalid="ignore"):
                ctx.ratio = xp.where(x == 0, 0.0, out / x).astype(out.dtype, copy=False)
        return out

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        return (grad * ctx.ratio if need[0] else None), \
            (namespace(grad).zeros_like(grad) if need[1] else None)


def copysign(input, other):
    """The magnitude of ``input`` with the sign of ``other`` (a tensor or a number),
    broadcasting; integers give the default float dtype.

    Example:
        >>> import locograd as lg
        >>> lg.copysign(lg.tensor([1.0, -2.0]), -0.0).tolist()
        [-1.0, -2.0]
    """
    return Copysign.apply(input, other)


def frac(input):
    """The fractional part ``x - trunc(x)`` (with the sign of ``x``); the gradient is 1.

    Example:
        >>> import locograd as lg
        >>> lg.frac(lg.tensor([1.5, -2.25])).tolist()
        [0.5, -0.25]
    """
    if input.dtype.kind not in "fc":
        raise TypeError(f"frac: expects a floating-point tensor, got {input.dtype} "
                        f"(shape {tuple(input.shape)})")
    with namespace(input.data).errstate(invalid="ignore"):  # frac(inf) is NaN
        return input - trunc(input)


class FmaxFmin(Function):
    """Elementwise max/min that ignore NaN. The gradient goes wholly to ``a`` where it is the
    result (ties included, and where ``b`` is NaN), else to ``b`` (PyTorch's)."""

    label = "Fmax"

    @staticmethod
    def forward(ctx, a, b, is_max):
        name = "fmax" if is_max else "fmin"
        x, y = binary_operands(a, b, name)
        xp = namespace_of(x, y)
        try:
            out = xp.fmax(x, y) if is_max else xp.fmin(x, y)
        except ValueError:
            raise broadcast_error(name, x, y) from None
        ctx.first = ((x >= y) if is_max else (x <= y)) | (y != y)
        return out

    @staticmethod
    def backward(ctx, grad):
        first, need = ctx.first, ctx.needs_input_grad
        return (grad * first if need[0] else None), (grad * ~first if need[1] else None), None


class Fmin(FmaxFmin):
    """``FmaxFmin`` under its own label, so that graphs and errors of ``fmin`` name it."""

    label = "Fmin"


def fmax(input, other):
    """Elementwise maximum where NaN loses: the other value is taken (NaN only where both
    are), as ``torch.fmax``.

    Example:
        >>> import locograd as lg
        >>> lg.fmax(lg.tensor([1.0, float("nan")]), lg.tensor([float("nan"), 2.0])).tolist()
        [1.0, 2.0]
    """
    return FmaxFmin.apply(input, other, True)


def fmin(input, other):
    """Elementwise minimum where NaN loses (``torch.fmin``).

    Example:
        >>> import locograd as lg
        >>> lg.fmin(lg.tensor([1.0, float("nan")]), lg.tensor([0.5, 2.0])).tolist()
        [0.5, 2.0]
    """
    return Fmin.apply(input, other, False)


def logaddexp2(input, other):
    """``log2(2**input + 2**other)``, computed stably (``logaddexp`` in base 2).

    Example:
        >>> import locograd as lg
        >>> lg.logaddexp2(lg.tensor(3.0), lg.tensor(3.0)).item()
        4.0
    """
    with np.errstate(invalid="ignore"):  # logaddexp(inf, inf) is inf
        return logaddexp(input * _LN2, other * _LN2) * _INV_LN2


def float_power(input, exponent):
    """``input ** exponent`` computed in float64 (the result is float64, as
    ``torch.float_power``); either may be a number. Gradients come back in each input's dtype.

    Example:
        >>> import locograd as lg
        >>> lg.float_power(lg.tensor([2.0], dtype=lg.float32), 3).dtype
        dtype('float64')
    """
    if not isinstance(input, TensorBase) and not isinstance(exponent, TensorBase):
        raise TypeError(f"float_power: at least one operand must be a tensor, got "
                        f"{type(input).__name__} and {type(exponent).__name__}")
    base = input.to(float64) if isinstance(input, TensorBase) else float(input)
    if isinstance(exponent, TensorBase):
        exponent = exponent.to(float64)
    elif not isinstance(exponent, int) or isinstance(exponent, bool):
        exponent = float(exponent)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 is inf, (-1) ** 0.5 NaN
        return _pow(base, exponent)


_TENSOR_SPECIAL = SimpleNamespace(erfc=erfc, erfinv=erfinv, gammaln=lgamma, psi=digamma,
                                  polygamma=polygamma)

"""Scans and NaN-aware reductions: cumprod, cummax/cummin, logcumsumexp, diff, nansum,
nanmean, aminmax and trace (PyTorch's names and conventions).

A 0-d tensor has one dimension for ``dim`` purposes (0 or -1), as in PyTorch. Each rule is
written once against the namespace of its values. NumPy's ufuncs accumulate any binary ufunc
(``maximum.accumulate``); CuPy's accumulate only ``add`` and ``multiply``, so on other backends
``accumulate`` runs a log-step scan of elementwise operations instead (the CPU stand-in of a
device takes that path too, so CI proves it).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import normalize_dim
from .comparison import isnan, ne
from .elementwise import where
from .indexing import gather, values_indices
from .reduce import _on_1d, amax, amin
from .reduce import sum as _sum
from .shape import cat, reshape

__all__ = ["cumprod", "cummax", "cummin", "logcumsumexp", "diff", "nansum", "nanmean",
           "aminmax", "trace"]

aminmax_result = namedtuple("aminmax", ["min", "max"])


def accumulate(ufunc: str, x, axis: int):
    """``xp.<ufunc>.accumulate(x, axis)`` for an associative, commutative binary ufunc
    (``maximum``, ``minimum``, ``logaddexp``): NumPy's ufunc method on the host, a log-step
    (Hillis-Steele) scan of ``ceil(log2 n)`` elementwise passes on other backends."""
    xp = namespace(x)
    if xp is np:
        return getattr(np, ufunc).accumulate(x, axis=axis)
    op = getattr(xp, ufunc)
    out = xp.moveaxis(x, axis, -1)
    n, k = out.shape[-1], 1
    while k < n:
        out = xp.concatenate([out[..., :k], op(out[..., k:], out[..., :-k])], axis=-1)
        k *= 2
    return xp.moveaxis(out, -1, axis)


def _reverse_cumsum(v, dim):
    xp = namespace(v)
    return xp.flip(xp.cumsum(xp.flip(v, dim), dim), dim)


def _dim_of(x, dim, name):
    return normalize_dim(dim, x.data.ndim, name)


def _scan(function, x, dim, name):
    """``function.apply(x, dim)``; a 0-d ``x`` is scanned as a 1-D tensor of one entry."""
    d = _dim_of(x, dim, name)
    return function.apply(x, d) if x.data.ndim else _on_1d(x, lambda t: function.apply(t, 0))


# ------------------------------------------------------------------------------ cumprod

class Cumprod(Function):
    """Cumulative product. Without zeros the gradient is ``revcumsum(grad * out) / x``; with
    zeros it is exact: on arrays in O(n) (entries after a row's first zero get 0, the first
    zero the reverse sum of ``grad`` times the products that skip it), on tensors (a recorded
    pass) through the products that skip each entry in turn, so it is differentiable again."""

    label = "Cumprod"

    @staticmethod
    def forward(ctx, x, dim):
        d = x.data
        out = namespace(d).cumprod(d, axis=dim, dtype=np.int64 if d.dtype.kind in "biu" else None)
        ctx.save_for_backward(x, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        xp, dim = namespace(x), ctx.dim
        if not bool(xp.any(x == 0)):
            return _reverse_cumsum(grad * out, dim) / x, None
        if isinstance(x, TensorBase):
            return _cumprod_grad_skipping(x, grad, dim), None
        zero = x == 0
        zeros_so_far = xp.cumsum(zero, axis=dim)
        before = zeros_so_far == 0
        first = zero & (zeros_so_far == 1)
        g = xp.where(before, _reverse_cumsum(grad * out, dim) / xp.where(before, x, 1), 0)
        skipped = xp.cumprod(xp.where(first, 1, x), axis=dim)
        return xp.where(first, _reverse_cumsum(grad * skipped, dim), g), None


def _cumprod_grad_skipping(x, grad, dim):
    """``sum_{i >= k} grad_i prod_{j <= i, j != k} x_j`` for every k, from an (n, n) block per
    row: row k is x with x_k replaced by 1 (tensors; differentiable again)."""
    xp = namespace(x)
    ax = namespace(x.data)
    last = xp.moveaxis(x, dim, -1)
    n = last.shape[-1]
    eye = xp.asarray(ax.eye(n, dtype=bool))
    upper = xp.asarray(ax.triu(ax.ones((n, n), dtype=bool)))  # i >= k
    skipping = xp.cumprod(xp.where(eye, 1.0, xp.expand_dims(last, -2)), -1)  # [..., k, i]
    g = xp.expand_dims(xp.moveaxis(grad, dim, -1), -2)
    return xp.moveaxis(xp.sum(xp.where(upper, skipping * g, 0.0), axis=-1), -1, dim)


def cumprod(input, dim: int, *, dtype=None):
    """Cumulative product along ``dim`` (integers accumulate in int64), differentiable also
    where entries are zero.

    Args:
        input: a tensor.
        dim: the dimension to scan.
        dtype: convert the input to this dtype first.

    Returns:
        A tensor of ``input``'s shape.

    Example:
        >>> import locograd as lg
        >>> lg.cumprod(lg.tensor([1.0, 2.0, 3.0]), 0).tolist()
        [1.0, 2.0, 6.0]
    """
    if dtype is not None:
        input = input.to(dtype)
    return _scan(Cumprod, input, dim, "cumprod")


# ------------------------------------------------------------------------------ cummax/cummin

def _cum_extreme(name, x, dim, is_max):
    d = _dim_of(x, dim, name)
    if x.data.ndim == 0:
        return values_indices(*_on_1d(x, lambda t: tuple(_cum_extreme(name, t, 0, is_max))))
    data = x.data
    xp = namespace(data)
    running = accumulate("maximum" if is_max else "minimum", data, d)  # NaN propagates
    # The index is the last position (up to here) where the entry is the running extreme (or
    # is NaN): PyTorch's, whose scan moves the index on ties and on every NaN.
    positions = xp.arange(data.shape[d], dtype=np.int64).reshape(
        (-1,) + (1,) * (data.ndim - 1 - d))
    hits = (data == running) | (data != data)
    indices = new_tensor(accumulate("maximum", xp.where(hits, positions, 0), d))
    return values_indices(gather(x, d, indices), indices)


def cummax(input, dim: int):
    """``(values, indices)``: the running maximum along ``dim`` and where it was reached (the
    latest position on ties; NaN propagates), as ``torch.cummax``. The gradient of each value
    goes to its index.

    Example:
        >>> import locograd as lg
        >>> v, i = lg.cummax(lg.tensor([1.0, 3.0, 2.0, 3.0]), 0)
        >>> v.tolist(), i.tolist()
        ([1.0, 3.0, 3.0, 3.0], [0, 1, 1, 3])
    """
    return _cum_extreme("cummax", input, dim, True)


def cummin(input, dim: int):
    """``(values, indices)``: the running minimum along ``dim`` (see ``cummax``).

    Example:
        >>> import locograd as lg
        >>> lg.cummin(lg.tensor([2.0, 1.0, 3.0]), 0).values.tolist()
        [2.0, 1.0, 1.0]
    """
    return _cum_extreme("cummin", input, dim, False)


# ------------------------------------------------------------------------------ logcumsumexp

def _logcumsumexp_value(v, dim):
    """logcumsumexp inside a rule: a node on tensors, the scan on arrays."""
    if isinstance(v, TensorBase):
        return LogCumSumExp.apply(v, dim)
    return accumulate("logaddexp", v, dim)


def _reverse_logcumsumexp(v, dim):
    xp = namespace(v)
    return xp.flip(_logcumsumexp_value(xp.flip(v, dim), dim), dim)


class LogCumSumExp(Function):
    """``log(cumsum(exp(x)))`` without overflow or underflow (a scan of ``logaddexp``). The
    gradient ``sum_{i >= j} grad_i exp(x_j - out_i)`` is computed in log space, the positive
    and negative parts of ``grad`` apart (PyTorch's and TensorFlow's stable form)."""

    label = "LogCumSumExp"

    @staticmethod
    def forward(ctx, x, dim):
        d = x.data
        if d.dtype.kind not in "fc":
            raise TypeError(f"logcumsumexp: expects a floating-point tensor, got {d.dtype} "
                            f"(shape {d.shape})")
        out = accumulate("logaddexp", d, dim)
        ctx.save_for_backward(x, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        xp, dim = namespace(grad), ctx.dim
        lowest = float(np.finfo(grad.dtype).min)  # log 0, kept finite (no inf - inf)
        positive, negative = grad > 0, grad < 0
        log_abs = xp.log(xp.where(positive | negative, xp.abs(grad), 1.0))
        log_pos = xp.where(positive, log_abs, lowest)
        log_neg = xp.where(negative, log_abs, lowest)
        # lowest + x overflows to -inf, whose exp is the 0 it stands for; inf - inf (infinite
        # inputs) is NaN, as in PyTorch
        with xp.errstate(over="ignore", invalid="ignore"):
            return (xp.exp(_reverse_logcumsumexp(log_pos - out, dim) + x)
                    - xp.exp(_reverse_logcumsumexp(log_neg - out, dim) + x)), None


def logcumsumexp(input, dim: int):
    """``log(cumsum(exp(input), dim))``, computed stably (floating-point tensors).

    Example:
        >>> import locograd as lg
        >>> lg.logcumsumexp(lg.tensor([-1000.0, 0.0]), 0).tolist()
        [-1000.0, 0.0]
    """
    return _scan(LogCumSumExp, input, dim, "logcumsumexp")


# ------------------------------------------------------------------------------ diff

def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim`` (``out[i] = x[i + 1] - x[i]``, applied
    ``n`` times), after concatenating ``prepend`` and ``append`` (tensors with ``input``'s
    number of dimensions) along ``dim``; bool tensors give ``x[i + 1] != x[i]``, as PyTorch.

    Example:
        >>> import locograd as lg
        >>> lg.diff(lg.tensor([1.0, 4.0, 9.0])).tolist()
        [3.0, 5.0]
        >>> lg.diff(lg.tensor([1.0, 4.0, 9.0]), n=2, prepend=lg.tensor([0.0])).tolist()
        [2.0, 2.0]
    """
    ndim = input.data.ndim
    if ndim == 0:
        raise RuntimeError("diff: expects input to be at least one-dimensional, got a 0-d "
                           "tensor")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"diff: the order n must be a non-negative int, got {n!r}")
    d = normalize_dim(dim, ndim, "diff")
    parts = [input]
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            continue
        if not isinstance(extra, TensorBase):
            raise TypeError(f"diff: {name} must be a tensor, got {type(extra).__name__}")
        if extra.data.ndim != ndim:
            raise ValueError(f"diff: {name} (shape {tuple(extra.shape)}) must have as many "
                             f"dimensions as the input (shape {tuple(input.shape)})")
        parts.insert(0 if name == "prepend" else len(parts), extra)
    x = cat(parts, d) if len(parts) > 1 else input
    head = (slice(None),) * d
    for _ in range(int(n)):
        if x.shape[d] == 0:
            break
        later, earlier = x[head + (slice(1, None),)], x[head + (slice(None, -1),)]
        x = ne(later, earlier) if x.dtype == np.bool_ else later - earlier
    return x


# ------------------------------------------------------------------------------ NaN-aware

def nansum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """The sum over ``dim`` (all by default) treating NaN as zero; the gradient is 0 at the
    NaN entries.

    Example:
        >>> import locograd as lg
        >>> lg.nansum(lg.tensor([1.0, float("nan"), 2.0])).item()
        3.0
    """
    if input.dtype.kind in "fc":
        input = where(isnan(input), 0.0, input)
    return _sum(input, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None):
    """The mean of the non-NaN entries over ``dim`` (NaN where there are none), for
    floating-point tensors.

    Example:
        >>> import locograd as lg
        >>> lg.nanmean(lg.tensor([1.0, float("nan"), 2.0])).item()
        1.5
    """
    if dtype is not None:
        input = input.to(dtype)
    if input.dtype.kind not in "fc":
        raise TypeError(f"nanmean: expects a floating-point tensor, got {input.dtype} (shape "
                        f"{tuple(input.shape)}); use .float() or dtype=")
    counts = _sum(~isnan(input), dim, keepdim).data
    xp = namespace(counts)
    none = counts == 0
    mean = nansum(input, dim, keepdim) / new_tensor(
        xp.where(none, 1, counts).astype(input.dtype))
    return where(new_tensor(none), float("nan"), mean) if bool(xp.any(none)) else mean


def aminmax(input, *, dim=None, keepdim: bool = False):
    """``(min, max)`` over ``dim`` (one int, or all dimensions), as ``torch.aminmax``; tied
    entries share each gradient (as ``amin``/``amax``).

    Example:
        >>> import locograd as lg
        >>> low, high = lg.aminmax(lg.tensor([3.0, -1.0, 2.0]))
        >>> low.item(), high.item()
        (-1.0, 3.0)
    """
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"aminmax: dim must be an int or None, got {dim!r}")
    return aminmax_result(amin(input, dim, keepdim), amax(input, dim, keepdim))


def trace(input):
    """The sum of the main diagonal of a 2-D tensor (integers sum in int64).

    Example:
        >>> import locograd as lg
        >>> lg.trace(lg.tensor([[1.0, 2.0], [3.0, 4.0]])).item()
        5.0
    """
    if input.data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix (2-D tensor), got shape "
                           f"{tuple(input.shape)}")
    rows, cols = input.shape
    step = cols + 1
    return _sum(reshape(input, (-1,))[: min(rows, cols) * step: step])

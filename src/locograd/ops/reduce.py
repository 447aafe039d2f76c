"""Reductions (sum, mean, var, std, prod, max/min, logsumexp...) and softmax/log_softmax.

``dim`` is an int, a tuple of ints or None (all dimensions); ``keepdim`` keeps reduced dims as
size 1, as in PyTorch. The backward of a reduction re-expands the gradient with ``broadcast_to``,
so it is differentiable again.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import state as _grad_state
from ..autograd.tensor_base import TensorBase, new_tensor
from ._common import normalize_dim, normalize_dims, to_array
from .elementwise import exp, maximum, minimum, where
from .indexing import ScatterAddZeros, _full_index, values_indices
from .shape import BroadcastTo, movedim, reshape

_LEGACY_RULES = True  # TRANSITION: twin rules not yet merged (see Function)

__all__ = ["sum", "mean", "var", "std", "var_mean", "std_mean", "prod", "max", "min", "amax",
           "amin", "argmax", "argmin", "logsumexp", "softmax", "log_softmax", "all", "any",
           "cumsum", "norm", "count_nonzero"]


def _keepdim_shape(shape, dims):
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_grad(grad, in_shape, dims, keepdim):
    """Bring a reduced gradient back to ``in_shape`` (reshape to keepdim form, broadcast)."""
    if not keepdim:
        grad = grad.reshape(_keepdim_shape(in_shape, dims))
    return BroadcastTo.apply(grad, in_shape)


def _expand_np(grad, in_shape, dims, keepdim):
    """``_expand_grad`` on arrays (the NumPy fast path)."""
    if not keepdim:
        grad = grad.reshape(_keepdim_shape(in_shape, dims))
    return np.broadcast_to(grad, in_shape)


def _axis(dims):
    return dims if dims is None else (dims[0] if len(dims) == 1 else dims)


class Sum(Function):
    label = "Sum"

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        d = x.data
        ctx.in_shape, ctx.dims, ctx.keepdim = d.shape, dims, keepdim
        if dtype is None and d.dtype.kind in "biu":
            dtype = np.int64  # integer sums accumulate in int64, as PyTorch
        return np.asarray(d.sum(axis=_axis(dims), keepdims=keepdim, dtype=dtype))

    @staticmethod
    def backward(ctx, grad):
        return _expand_grad(grad, ctx.in_shape, ctx.dims, ctx.keepdim), None, None, None

    @staticmethod
    def backward_np(ctx, grad):
        return _expand_np(grad, ctx.in_shape, ctx.dims, ctx.keepdim), None, None, None


def sum(x, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum over ``dim`` (all dimensions by default).

    Example:
        >>> import locograd as lg
        >>> lg.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=0).tolist()
        [4.0, 6.0]
    """
    return Sum.apply(x, normalize_dims(dim, x.data.ndim, "sum"), keepdim, dtype)


class Mean(Function):
    label = "Mean"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        d = x.data
        if d.dtype.kind not in "fc":
            raise TypeError(f"mean: could not infer the output dtype: the input must be a "
                            f"floating-point tensor, got {d.dtype} (use .float() first)")
        ctx.in_shape, ctx.dims, ctx.keepdim = d.shape, dims, keepdim
        ctx.count = _count(d.shape, dims)
        return np.asarray(d.mean(axis=_axis(dims), keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        g = _expand_grad(grad, ctx.in_shape, ctx.dims, ctx.keepdim)
        return g * (1.0 / ctx.count) if ctx.count else g, None, None

    @staticmethod
    def backward_np(ctx, grad):
        g = _expand_np(grad, ctx.in_shape, ctx.dims, ctx.keepdim)
        return g * (1.0 / ctx.count) if ctx.count else g, None, None


def mean(x, dim=None, keepdim: bool = False):
    """Mean over ``dim`` (all dimensions by default); floating-point tensors only."""
    dims = normalize_dims(dim, x.data.ndim, "mean")
    return Mean.apply(x, dims, keepdim)


def _count(shape, dims):
    if dims is None:
        return int(np.prod(shape))
    return int(np.prod([shape[d] for d in dims]))


class Var(Function):
    label = "Var"

    @staticmethod
    def forward(ctx, x, dims, correction, keepdim):
        d = x.data
        if d.dtype.kind not in "fc":
            raise TypeError(f"var: the input must be a floating-point tensor, got {d.dtype}")
        n = _count(d.shape, dims)
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim, ctx.in_shape = dims, keepdim, d.shape
        ctx.denom = builtin_max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(d.var(axis=_axis(dims), ddof=correction, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        centred = x - mean(x, ctx.dims, keepdim=True)
        g = _expand_grad(grad, ctx.in_shape, ctx.dims, ctx.keepdim)
        scale = 2.0 / ctx.denom if ctx.denom else float("nan")
        return g * centred * scale, None, None, None


builtin_max = max
builtin_min = min
builtin_any = any
builtin_all = all


def var(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance over ``dim``; ``correction=1`` (default, unbiased) divides by ``N - 1``."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return Var.apply(x, normalize_dims(dim, x.data.ndim, "var"), correction, keepdim)


def std(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Standard deviation: ``sqrt(var)`` (same ``correction`` convention)."""
    return var(x, dim, unbiased, keepdim, correction=correction).sqrt()


def var_mean(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return var(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


def std_mean(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return std(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


class Prod(Function):
    label = "Prod"

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        d = x.data
        out = np.asarray(d.prod(axis=dim, keepdims=keepdim))
        ctx.save_for_backward(x, out)
        ctx.dim, ctx.keepdim, ctx.in_shape = dim, keepdim, d.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        dims = None if ctx.dim is None else (ctx.dim,)
        g = _expand_grad(grad, ctx.in_shape, dims, ctx.keepdim)
        if not (x.data == 0).any():
            if not ctx.keepdim:
                out = out.reshape(_keepdim_shape(ctx.in_shape, dims))
            # prod / x through the saved output: differentiable again (second derivatives).
            return g * (out / x), None, None
        # With zeros: the product of all the *other* entries.
        if _grad_state.enabled:  # create_graph: keep it differentiable (second derivatives)
            return g * _prod_of_others(x, ctx.dim, ctx.in_shape), None, None
        # By exclusive cumulative products from both sides, O(n).
        d = x.data
        flat = d.reshape(-1) if ctx.dim is None else np.moveaxis(d, ctx.dim, -1)
        left = np.cumprod(np.concatenate([np.ones_like(flat[..., :1]), flat[..., :-1]], -1), -1)
        rflat = flat[..., ::-1]
        right = np.cumprod(np.concatenate([np.ones_like(rflat[..., :1]), rflat[..., :-1]], -1),
                           -1)[..., ::-1]
        others = left * right
        others = others.reshape(ctx.in_shape) if ctx.dim is None else \
            np.moveaxis(others, -1, ctx.dim)
        return g * others, None, None


def _prod_of_others(x, dim, in_shape):
    """``others[i] = prod_{j != i} x[j]`` along ``dim`` (all entries if None), in tensor ops:
    row i of an (n, n) matrix holds x with entry i replaced by 1, and Prod reduces the rows."""
    last = reshape(x, -1) if dim is None else movedim(x, dim, -1)
    n = last.data.shape[-1]
    rows = where(np.eye(n, dtype=bool), 1.0, last.unsqueeze(-2))
    others = rows.prod(-1)
    return reshape(others, in_shape) if dim is None else movedim(others, -1, dim)


def prod(x, dim=None, keepdim: bool = False):
    """Product over one dimension ``dim`` (or all)."""
    if isinstance(dim, (tuple, list)):
        raise TypeError("prod: dim must be an int or None (one dimension at a time, as PyTorch)")
    d = None if dim is None else normalize_dim(dim, x.data.ndim, "prod")
    return Prod.apply(x, d, keepdim)


class AmaxAmin(Function):
    """max/min over dims; the gradient is split evenly between tied maxima (``torch.amax``)."""

    label = "Amax"

    @staticmethod
    def forward(ctx, x, dims, keepdim, is_max):
        d = x.data
        if d.size == 0:
            raise RuntimeError(f"{'amax' if is_max else 'amin'}: cannot reduce an empty tensor "
                               f"(shape {d.shape})")
        f = np.max if is_max else np.min
        out_k = f(d, axis=_axis(dims), keepdims=True)
        ctx.dims, ctx.keepdim, ctx.in_shape = dims, keepdim, d.shape
        mask = d == out_k
        ctx.weights = mask / mask.sum(axis=_axis(dims), keepdims=True).astype(d.dtype)
        return out_k if keepdim else np.asarray(out_k.reshape(
            tuple(s for i, s in enumerate(d.shape) if dims is not None and i not in dims)))

    @staticmethod
    def backward(ctx, grad):
        g = _expand_grad(grad, ctx.in_shape, ctx.dims, ctx.keepdim)
        return g * ctx.weights.astype(grad.data.dtype, copy=False), None, None, None


def amax(x, dim=None, keepdim: bool = False):
    """Maximum over ``dim`` (all by default); ties share the gradient."""
    return AmaxAmin.apply(x, normalize_dims(dim, x.data.ndim, "amax"), keepdim, True)


def amin(x, dim=None, keepdim: bool = False):
    """Minimum over ``dim`` (all by default); ties share the gradient."""
    return AmaxAmin.apply(x, normalize_dims(dim, x.data.ndim, "amin"), keepdim, False)


class MaxMinDim(Function):
    """max/min along one dim with indices; the gradient goes to the returned index."""

    label = "MaxDim"

    @staticmethod
    def forward(ctx, x, dim, keepdim, is_max):
        d = x.data
        if d.shape[dim] == 0:
            raise RuntimeError(f"{'max' if is_max else 'min'}: cannot reduce dimension {dim} of "
                               f"size 0 (shape {d.shape})")
        idx = (np.argmax if is_max else np.argmin)(d, axis=dim, keepdims=True)
        vals = np.take_along_axis(d, idx, axis=dim)
        ctx.full = _full_index(idx, dim)
        ctx.in_shape, ctx.keepdim, ctx.dim = d.shape, keepdim, dim
        if not keepdim:
            vals, idx = np.squeeze(vals, dim), np.squeeze(idx, dim)
        idx = idx.astype(np.int64, copy=False)
        ctx.mark_non_differentiable(idx)
        return vals, idx

    @staticmethod
    def backward(ctx, grad, grad_idx):
        if not ctx.keepdim:
            grad = grad.unsqueeze(ctx.dim)
        return ScatterAddZeros.apply(grad, ctx.in_shape, ctx.full), None, None, None


def max(x, dim=None, keepdim: bool = False):
    """``max(x)``: the largest value (ties share the gradient); ``max(x, dim)``: a named tuple
    ``(values, indices)``; ``max(x, other_tensor)``: elementwise maximum.
    """
    if isinstance(dim, TensorBase):
        return maximum(x, dim)
    if dim is None:
        return amax(x)
    if x.data.ndim == 0:  # a 0-d tensor is its own maximum, at index 0
        return values_indices(*_on_1d(x, lambda t: MaxMinDim.apply(t, 0, False, True)))
    d = normalize_dim(dim, x.data.ndim, "max")
    return values_indices(*MaxMinDim.apply(x, d, keepdim, True))


def min(x, dim=None, keepdim: bool = False):
    """Like ``max`` for the smallest values."""
    if isinstance(dim, TensorBase):
        return minimum(x, dim)
    if dim is None:
        return amin(x)
    if x.data.ndim == 0:
        return values_indices(*_on_1d(x, lambda t: MaxMinDim.apply(t, 0, False, False)))
    d = normalize_dim(dim, x.data.ndim, "min")
    return values_indices(*MaxMinDim.apply(x, d, keepdim, False))


def argmax(x, dim=None, keepdim: bool = False):
    """Index of the maximum (over the flattened tensor when ``dim`` is None); int64, no grad."""
    d = to_array(x, "argmax")
    if dim is None:
        out = np.argmax(d)
        return new_tensor(np.asarray(out, dtype=np.int64).reshape((1,) * d.ndim if keepdim
                                                                   else ()))
    return new_tensor(np.argmax(d, axis=normalize_dim(dim, d.ndim, "argmax"),
                                keepdims=keepdim).astype(np.int64))


def argmin(x, dim=None, keepdim: bool = False):
    d = to_array(x, "argmin")
    if dim is None:
        out = np.argmin(d)
        return new_tensor(np.asarray(out, dtype=np.int64).reshape((1,) * d.ndim if keepdim
                                                                   else ()))
    return new_tensor(np.argmin(d, axis=normalize_dim(dim, d.ndim, "argmin"),
                                keepdims=keepdim).astype(np.int64))


class LogSumExp(Function):
    label = "LogSumExp"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        d = x.data
        m = np.max(d, axis=_axis(dims), keepdims=True) if d.size else np.zeros((), d.dtype)
        m = np.where(np.isfinite(m), m, 0).astype(d.dtype, copy=False)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(d - m), axis=_axis(dims), keepdims=True)) + m
        ctx.dims, ctx.keepdim, ctx.in_shape = dims, keepdim, d.shape
        ctx.out_shape = out.shape
        if not keepdim:
            out = out.reshape(tuple(s for i, s in enumerate(d.shape)
                                    if dims is not None and i not in dims))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        g = _expand_grad(grad, ctx.in_shape, ctx.dims, ctx.keepdim)
        if not ctx.keepdim:
            out = out.reshape(ctx.out_shape)
        return g * exp(x - out), None, None


def logsumexp(x, dim=None, keepdim: bool = False):
    """``log(sum(exp(x), dim))`` computed without overflow."""
    return LogSumExp.apply(x, normalize_dims(dim, x.data.ndim, "logsumexp"), keepdim)


def _softmax_array(d, dim):
    e = np.exp(d - d.max(axis=dim, keepdims=True))
    e /= e.sum(axis=dim, keepdims=True)
    return e


class Softmax(Function):
    label = "Softmax"

    @staticmethod
    def forward(ctx, x, dim):
        out = _softmax_array(x.data, dim)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        gy = grad * y
        return gy - y * gy.sum(ctx.dim, keepdim=True), None

    @staticmethod
    def backward_np(ctx, grad):
        (y,) = ctx.saved_arrays
        gy = grad * y
        return gy - y * gy.sum(ctx.dim, keepdims=True), None


class LogSoftmax(Function):
    label = "LogSoftmax"

    @staticmethod
    def forward(ctx, x, dim):
        d = x.data
        shifted = d - d.max(axis=dim, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad - exp(out) * grad.sum(ctx.dim, keepdim=True), None

    @staticmethod
    def backward_np(ctx, grad):
        (out,) = ctx.saved_arrays
        return grad - np.exp(out) * grad.sum(ctx.dim, keepdims=True), None


def _softmax_dim(x, dim, name):
    if dim is None:
        raise TypeError(f"{name}: 'dim' is required (PyTorch's implicit dim choice is deprecated)")
    if x.data.dtype.kind not in "fc":
        raise TypeError(f"{name}: expects a floating-point tensor, got {x.data.dtype}")
    return normalize_dim(dim, x.data.ndim, name)


def softmax(x, dim=None, dtype=None):
    """``exp(x) / sum(exp(x), dim)``, computed stably (the max is subtracted first)."""
    if dtype is not None:
        x = x.to(dtype)
    d = _softmax_dim(x, dim, "softmax")
    return Softmax.apply(x, d) if x.data.ndim else _on_1d(x, lambda t: Softmax.apply(t, 0))


def log_softmax(x, dim=None, dtype=None):
    """``x - logsumexp(x, dim)``, computed stably."""
    if dtype is not None:
        x = x.to(dtype)
    d = _softmax_dim(x, dim, "log_softmax")
    return LogSoftmax.apply(x, d) if x.data.ndim else \
        _on_1d(x, lambda t: LogSoftmax.apply(t, 0))


class Cumsum(Function):
    label = "Cumsum"

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        d = x.data
        return np.cumsum(d, axis=dim, dtype=np.int64 if d.dtype.kind in "biu" else None)

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim), None


def cumsum(x, dim: int):
    """Cumulative sum along ``dim``."""
    d = normalize_dim(dim, x.data.ndim, "cumsum")
    return Cumsum.apply(x, d) if x.data.ndim else _on_1d(x, lambda t: Cumsum.apply(t, 0))


def _on_1d(x, fn):
    """``fn`` applied to a 0-d tensor seen as 1-D, the results made 0-d again (PyTorch treats
    a 0-d tensor as having one dimension of size 1 for dim arguments)."""
    out = fn(reshape(x, 1))
    if isinstance(out, tuple):
        return tuple(reshape(o, ()) for o in out)
    return reshape(out, ())


def norm(x, p=2, dim=None, keepdim: bool = False):
    """Vector p-norm over ``dim`` (all entries by default): ``p`` in {1, 2, inf} or any float.

    The gradient of a zero norm is zero (as PyTorch), not the NaN of ``sqrt`` at 0.

    Example:
        >>> import locograd as lg
        >>> lg.tensor([3.0, 4.0]).norm().item()
        5.0
    """
    if p == 1:
        return x.abs().sum(dim, keepdim)
    if p == float("inf"):
        return x.abs().amax(dim, keepdim)
    if p == 2 or p == "fro":
        return _root_of_nonnegative((x * x).sum(dim, keepdim), 2)
    return _root_of_nonnegative((x.abs() ** p).sum(dim, keepdim), p)


def _root_of_nonnegative(s, p):
    """``s ** (1/p)`` for ``s >= 0`` with a zero (not infinite) gradient where ``s == 0``."""
    positive = s.data > 0
    if positive.all():
        return s.sqrt() if p == 2 else s ** (1.0 / p)
    safe = where(positive, s, 1.0)  # the gradient does not flow through the replaced entries
    return (safe.sqrt() if p == 2 else safe ** (1.0 / p)) * positive


def all(x, dim=None, keepdim: bool = False):
    d = to_array(x, "all")
    return new_tensor(np.asarray(np.all(d, axis=_axis(normalize_dims(dim, d.ndim, "all")),
                                        keepdims=keepdim)))


def any(x, dim=None, keepdim: bool = False):
    d = to_array(x, "any")
    return new_tensor(np.asarray(np.any(d, axis=_axis(normalize_dims(dim, d.ndim, "any")),
                                        keepdims=keepdim)))


def count_nonzero(x, dim=None):
    d = to_array(x, "count_nonzero")
    return new_tensor(np.asarray(np.count_nonzero(
        d, axis=_axis(normalize_dims(dim, d.ndim, "count_nonzero")))).astype(np.int64))

"""Reductions (sum, mean, var, std, prod, max/min, logsumexp...) and softmax/log_softmax.

``dim`` is an int, a tuple of ints or None (all dimensions); ``keepdim`` keeps reduced dims as
size 1, as in PyTorch, which also accepts NumPy's names ``axis`` and ``keepdims`` (not both
names of one argument). A 0-d tensor has one dimension for ``dim`` purposes (0 or -1), as in
PyTorch. Each rule is written once against the namespace of its values (``xp``: NumPy, CuPy, or
the tensor namespace when the backward pass is recorded): the backward of a reduction
re-expands the gradient with ``xp.broadcast_to``, so it is differentiable again.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import normalize_dim, normalize_dims, to_array
from .elementwise import maximum, minimum, where
from .indexing import values_indices
from .shape import reshape

__all__ = ["sum", "mean", "var", "std", "var_mean", "std_mean", "prod", "max", "min", "amax",
           "amin", "argmax", "argmin", "logsumexp", "softmax", "log_softmax", "all", "any",
           "cumsum", "norm", "count_nonzero"]

builtin_max = max
builtin_min = min
builtin_any = any
builtin_all = all
_generic = np.generic


def _array(value):
    """A reduction's result as an array: NumPy gives a scalar for a full reduction (a device
    backend gives a 0-d array already)."""
    return np.asarray(value) if isinstance(value, _generic) else value


def _numpy_names(name: str, dim, keepdim, names: dict):
    """``dim`` and ``keepdim`` given PyTorch's NumPy-style aliases ``axis`` and ``keepdims``."""
    for key in names:
        if key not in ("axis", "keepdims"):
            raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
    if "axis" in names:
        if dim is not None:
            raise TypeError(f"{name}: got both 'dim' and its NumPy alias 'axis'")
        dim = names["axis"]
    if "keepdims" in names:
        if keepdim:
            raise TypeError(f"{name}: got both 'keepdim' and its NumPy alias 'keepdims'")
        keepdim = names["keepdims"]
    return dim, bool(keepdim)


def _dims(dim, ndim: int, name: str):
    """``normalize_dims``; on a 0-d tensor dim 0 or -1 names its one entry: all of it (None)."""
    if ndim == 0 and dim is not None:
        normalize_dims(dim, 0, name)  # out of range and repeated dims still raise
        return None
    return normalize_dims(dim, ndim, name)


def _keepdim_shape(shape, dims):
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _reduced_shape(shape, dims):
    return tuple(s for i, s in enumerate(shape) if dims is not None and i not in dims)


def _expand(grad, in_shape, dims, keepdim):
    """A reduced gradient back in ``in_shape``: reshaped to the keepdim form, then broadcast
    (a view on arrays, a ``BroadcastTo`` node on tensors)."""
    if not keepdim:
        grad = grad.reshape(_keepdim_shape(in_shape, dims))
    return namespace(grad).broadcast_to(grad, in_shape)


def _axis(dims):
    return dims if dims is None else (dims[0] if len(dims) == 1 else dims)


def _count(shape, dims):
    if dims is None:
        return int(np.prod(shape))
    return int(np.prod([shape[d] for d in dims]))


class Sum(Function):
    label = "Sum"

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        d = x.data
        ctx.in_shape, ctx.dims, ctx.keepdim = d.shape, dims, keepdim
        if dtype is None and d.dtype.kind in "biu":
            dtype = np.int64  # integer sums accumulate in int64, as PyTorch
        return _array(d.sum(axis=_axis(dims), keepdims=keepdim, dtype=dtype))

    @staticmethod
    def backward(ctx, grad):
        return _expand(grad, ctx.in_shape, ctx.dims, ctx.keepdim), None, None, None


def sum(x, dim=None, keepdim: bool = False, *, dtype=None, **numpy_names):
    """Sum over ``dim`` (all dimensions by default).

    Example:
        >>> import locograd as lg
        >>> lg.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=0).tolist()
        [4.0, 6.0]
    """
    if numpy_names:
        dim, keepdim = _numpy_names("sum", dim, keepdim, numpy_names)
    return Sum.apply(x, _dims(dim, x.data.ndim, "sum"), keepdim, dtype)


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
        return _array(d.mean(axis=_axis(dims), keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        g = _expand(grad, ctx.in_shape, ctx.dims, ctx.keepdim)
        return g * (1.0 / ctx.count) if ctx.count else g, None, None


def mean(x, dim=None, keepdim: bool = False, **numpy_names):
    """Mean over ``dim`` (all dimensions by default); floating-point tensors only."""
    if numpy_names:
        dim, keepdim = _numpy_names("mean", dim, keepdim, numpy_names)
    return Mean.apply(x, _dims(dim, x.data.ndim, "mean"), keepdim)


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
        with namespace(d).errstate(divide="ignore", invalid="ignore"):
            return _array(d.var(axis=_axis(dims), ddof=correction, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = namespace(x)
        centred = x - xp.mean(x, axis=_axis(ctx.dims), keepdims=True)
        g = _expand(grad, ctx.in_shape, ctx.dims, ctx.keepdim)
        scale = 2.0 / ctx.denom if ctx.denom else float("nan")
        return g * centred * scale, None, None, None


def _var_args(name, x, dim, unbiased, keepdim, correction, numpy_names):
    """PyTorch's overloads of var/std: ``(x, unbiased)``, ``(x, dim, unbiased, keepdim)`` and
    ``(x, dim, *, correction, keepdim)``. A positional bool is ``unbiased``, never a dim (a
    bool is an int)."""
    if isinstance(dim, (bool, np.bool_)):
        if unbiased is not None:
            raise TypeError(f"{name}: got 'unbiased' twice ({dim!r} and {unbiased!r}); "
                            f"the overloads are {name}(x, unbiased) and "
                            f"{name}(x, dim, unbiased, keepdim)")
        dim, unbiased = None, bool(dim)
    if numpy_names:
        dim, keepdim = _numpy_names(name, dim, keepdim, numpy_names)
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    elif unbiased is not None:
        raise TypeError(f"{name}: give 'unbiased' or 'correction', not both")
    return _dims(dim, x.data.ndim, name), correction, keepdim


def var(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, **numpy_names):
    """Variance over ``dim``; ``correction=1`` (default, unbiased) divides by ``N - 1``.

    As in PyTorch, ``var(x, False)`` is the biased variance over all entries and
    ``var(x, dim, unbiased, keepdim)`` the older spelling of ``correction``.

    Example:
        >>> import locograd as lg
        >>> lg.tensor([1.0, 3.0]).var(False).item()
        1.0
    """
    dims, correction, keepdim = _var_args("var", x, dim, unbiased, keepdim, correction,
                                          numpy_names)
    return Var.apply(x, dims, correction, keepdim)


def std(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, **numpy_names):
    """Standard deviation: ``sqrt(var)`` (the same overloads and ``correction``)."""
    dims, correction, keepdim = _var_args("std", x, dim, unbiased, keepdim, correction,
                                          numpy_names)
    return Var.apply(x, dims, correction, keepdim).sqrt()


def var_mean(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None,
             **numpy_names):
    """``(var, mean)`` over ``dim`` (the overloads of ``var``)."""
    dims, correction, keepdim = _var_args("var_mean", x, dim, unbiased, keepdim, correction,
                                          numpy_names)
    return Var.apply(x, dims, correction, keepdim), Mean.apply(x, dims, keepdim)


def std_mean(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None,
             **numpy_names):
    """``(std, mean)`` over ``dim`` (the overloads of ``var``)."""
    dims, correction, keepdim = _var_args("std_mean", x, dim, unbiased, keepdim, correction,
                                          numpy_names)
    return Var.apply(x, dims, correction, keepdim).sqrt(), Mean.apply(x, dims, keepdim)


class Prod(Function):
    label = "Prod"

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        d = x.data
        out = _array(d.prod(axis=dim, keepdims=keepdim))
        ctx.save_for_backward(x, out)
        ctx.dim, ctx.keepdim, ctx.in_shape = dim, keepdim, d.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        xp = namespace(x)
        dims = None if ctx.dim is None else (ctx.dim,)
        g = _expand(grad, ctx.in_shape, dims, ctx.keepdim)
        if not bool(xp.any(x == 0)):
            if not ctx.keepdim:
                out = out.reshape(_keepdim_shape(ctx.in_shape, dims))
            # prod / x through the saved output: differentiable again (second derivatives).
            return g * (out / x), None, None
        # With zeros: the product of all the *other* entries.
        return g * _prod_of_others(x, ctx.dim, ctx.in_shape), None, None


def _prod_of_others(x, dim, in_shape):
    """``others[i] = prod_{j != i} x[j]`` along ``dim`` (all entries if None).

    Arrays: exclusive cumulative products from both sides, O(n) (NumPy has no differentiable
    form of ``cumprod`` for tensors). Tensors: row i of an (n, n) matrix holds x with entry i
    replaced by 1, and ``prod`` reduces the rows, so it is differentiable again."""
    xp = namespace(x)
    last = x.reshape(-1) if dim is None else xp.moveaxis(x, dim, -1)
    if isinstance(x, TensorBase):
        n = last.shape[-1]
        eye = xp.asarray(namespace(x.data).eye(n, dtype=bool))
        others = xp.prod(xp.where(eye, 1.0, xp.expand_dims(last, -2)), -1)
    else:
        ones = xp.ones_like(last[..., :1])
        left = xp.cumprod(xp.concatenate([ones, last[..., :-1]], -1), -1)
        reverse = last[..., ::-1]
        right = xp.cumprod(xp.concatenate([ones, reverse[..., :-1]], -1), -1)[..., ::-1]
        others = left * right
    return others.reshape(in_shape) if dim is None else xp.moveaxis(others, -1, dim)


def prod(x, dim=None, keepdim: bool = False, *, dtype=None, **numpy_names):
    """Product over one dimension ``dim`` (or all)."""
    if numpy_names:
        dim, keepdim = _numpy_names("prod", dim, keepdim, numpy_names)
    if isinstance(dim, (tuple, list)):
        raise TypeError("prod: dim must be an int or None (one dimension at a time, as PyTorch)")
    if dtype is not None:
        x = x.to(dtype)
    nd = x.data.ndim
    d = None if dim is None or nd == 0 else normalize_dim(dim, nd, "prod")
    if nd == 0 and dim is not None:
        normalize_dim(dim, 0, "prod")  # 0 and -1 name the one entry; others are out of range
    return Prod.apply(x, d, keepdim)


class AmaxAmin(Function):
    """max/min over dims; the gradient is split evenly between tied maxima (``torch.amax``).
    ``nan_ties`` (the full ``max()``/``min()``, as PyTorch): a NaN result's gradient is split
    between the NaN entries (``amax`` gives NaN gradients there, as PyTorch's)."""

    label = "Amax"

    @staticmethod
    def forward(ctx, x, dims, keepdim, is_max, nan_ties=False):
        d = x.data
        if d.size == 0:
            raise RuntimeError(f"{'amax' if is_max else 'amin'}: cannot reduce an empty tensor "
                               f"(shape {d.shape})")
        axis = _axis(dims)
        out_k = d.max(axis=axis, keepdims=True) if is_max else d.min(axis=axis, keepdims=True)
        ctx.dims, ctx.keepdim, ctx.in_shape = dims, keepdim, d.shape
        mask = d == out_k
        if nan_ties and d.dtype.kind == "f":
            mask |= (d != d) & (out_k != out_k)
        with namespace(d).errstate(invalid="ignore"):  # a NaN maximum of amax: NaN gradients
            ctx.save_for_backward(mask / mask.sum(axis=axis, keepdims=True).astype(d.dtype))
        return out_k if keepdim else out_k.reshape(_reduced_shape(d.shape, dims))

    @staticmethod
    def backward(ctx, grad):
        (weights,) = ctx.saved_tensors
        return _expand(grad, ctx.in_shape, ctx.dims, ctx.keepdim) * weights, None, None, None, \
            None


def amax(x, dim=None, keepdim: bool = False, **numpy_names):
    """Maximum over ``dim`` (all by default); ties share the gradient."""
    if numpy_names:
        dim, keepdim = _numpy_names("amax", dim, keepdim, numpy_names)
    return AmaxAmin.apply(x, _dims(dim, x.data.ndim, "amax"), keepdim, True)


def amin(x, dim=None, keepdim: bool = False, **numpy_names):
    """Minimum over ``dim`` (all by default); ties share the gradient."""
    if numpy_names:
        dim, keepdim = _numpy_names("amin", dim, keepdim, numpy_names)
    return AmaxAmin.apply(x, _dims(dim, x.data.ndim, "amin"), keepdim, False)


class MaxMinDim(Function):
    """max/min along one dim with indices; the gradient goes to the returned index."""

    label = "MaxDim"

    @staticmethod
    def forward(ctx, x, dim, keepdim, is_max):
        d = x.data
        xp = namespace(d)
        if d.shape[dim] == 0:
            raise RuntimeError(f"{'max' if is_max else 'min'}: cannot reduce dimension {dim} of "
                               f"size 0 (shape {d.shape})")
        idx = (xp.argmax if is_max else xp.argmin)(d, axis=dim, keepdims=True)
        vals = xp.take_along_axis(d, idx, axis=dim)
        # Where the gradient goes: the returned index along dim (a one-hot mask).
        positions = xp.arange(d.shape[dim]).reshape((-1,) + (1,) * (d.ndim - 1 - dim))
        ctx.save_for_backward(positions == idx)
        ctx.keepdim, ctx.dim = keepdim, dim
        if not keepdim:
            vals, idx = xp.squeeze(vals, dim), xp.squeeze(idx, dim)
        idx = idx.astype(np.int64, copy=False)
        ctx.mark_non_differentiable(idx)
        return vals, idx

    @staticmethod
    def backward(ctx, grad, grad_idx):
        (mask,) = ctx.saved_tensors
        xp = namespace(grad)
        if not ctx.keepdim:
            grad = xp.expand_dims(grad, ctx.dim)
        return xp.where(mask, grad, xp.zeros_like(grad, shape=())), None, None, None


def _max_min(name, x, dim, keepdim, is_max, numpy_names):
    if numpy_names:
        dim, keepdim = _numpy_names(name, dim, keepdim, numpy_names)
    if isinstance(dim, TensorBase):
        return (maximum if is_max else minimum)(x, dim)
    if dim is None:
        return AmaxAmin.apply(x, None, keepdim, is_max, True)
    if x.data.ndim == 0:  # a 0-d tensor is its own maximum, at index 0
        normalize_dim(dim, 0, name)
        return values_indices(*_on_1d(x, lambda t: MaxMinDim.apply(t, 0, False, is_max)))
    d = normalize_dim(dim, x.data.ndim, name)
    return values_indices(*MaxMinDim.apply(x, d, keepdim, is_max))


def max(x, dim=None, keepdim: bool = False, **numpy_names):
    """``max(x)``: the largest value (ties share the gradient); ``max(x, dim)``: a named tuple
    ``(values, indices)``; ``max(x, other_tensor)``: elementwise maximum.
    """
    return _max_min("max", x, dim, keepdim, True, numpy_names)


def min(x, dim=None, keepdim: bool = False, **numpy_names):
    """Like ``max`` for the smallest values."""
    return _max_min("min", x, dim, keepdim, False, numpy_names)


def _arg_extreme(name, x, dim, keepdim, numpy_names):
    if numpy_names:
        dim, keepdim = _numpy_names(name, dim, keepdim, numpy_names)
    d = to_array(x, name)
    xp = namespace(d)
    find = xp.argmax if name == "argmax" else xp.argmin
    if dim is None or d.ndim == 0:
        if dim is not None:
            normalize_dim(dim, 0, name)
        out = xp.asarray(find(d), dtype=np.int64)
        return new_tensor(out.reshape((1,) * d.ndim if keepdim else ()))
    return new_tensor(find(d, axis=normalize_dim(dim, d.ndim, name),
                           keepdims=keepdim).astype(np.int64))


def argmax(x, dim=None, keepdim: bool = False, **numpy_names):
    """Index of the maximum (over the flattened tensor when ``dim`` is None); int64, no grad."""
    return _arg_extreme("argmax", x, dim, keepdim, numpy_names)


def argmin(x, dim=None, keepdim: bool = False, **numpy_names):
    """Index of the minimum (over the flattened tensor when ``dim`` is None); int64, no grad."""
    return _arg_extreme("argmin", x, dim, keepdim, numpy_names)


class LogSumExp(Function):
    label = "LogSumExp"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        d = x.data
        xp = namespace(d)
        axis = _axis(dims)
        m = d.max(axis=axis, keepdims=True) if d.size else xp.zeros((), d.dtype)
        m = xp.where(xp.isfinite(m), m, 0).astype(d.dtype, copy=False)
        with xp.errstate(divide="ignore"):
            out = xp.log(xp.sum(xp.exp(d - m), axis=axis, keepdims=True)) + m
        ctx.dims, ctx.keepdim, ctx.in_shape = dims, keepdim, d.shape
        ctx.out_shape = out.shape
        if not keepdim:
            out = out.reshape(_reduced_shape(d.shape, dims))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        g = _expand(grad, ctx.in_shape, ctx.dims, ctx.keepdim)
        if not ctx.keepdim:
            out = out.reshape(ctx.out_shape)
        return g * namespace(x).exp(x - out), None, None


def logsumexp(x, dim=None, keepdim: bool = False, **numpy_names):
    """``log(sum(exp(x), dim))`` computed without overflow."""
    if numpy_names:
        dim, keepdim = _numpy_names("logsumexp", dim, keepdim, numpy_names)
    return LogSumExp.apply(x, _dims(dim, x.data.ndim, "logsumexp"), keepdim)


class Softmax(Function):
    label = "Softmax"

    @staticmethod
    def forward(ctx, x, dim):
        d = x.data
        xp = namespace(d)
        if d.size == 0:  # an empty dimension (or tensor): an empty result, as PyTorch
            out = xp.empty_like(d)
        else:
            out = xp.exp(d - d.max(axis=dim, keepdims=True))
            out /= out.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        gy = grad * y
        return gy - y * namespace(gy).sum(gy, axis=ctx.dim, keepdims=True), None


class LogSoftmax(Function):
    label = "LogSoftmax"

    @staticmethod
    def forward(ctx, x, dim):
        d = x.data
        xp = namespace(d)
        if d.size == 0:
            out = xp.empty_like(d)
        else:
            shifted = d - d.max(axis=dim, keepdims=True)
            out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = namespace(out)
        return grad - xp.exp(out) * xp.sum(grad, axis=ctx.dim, keepdims=True), None


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
        return namespace(d).cumsum(d, axis=dim, dtype=np.int64 if d.dtype.kind in "biu" else None)

    @staticmethod
    def backward(ctx, grad):
        xp = namespace(grad)
        return xp.flip(xp.cumsum(xp.flip(grad, ctx.dim), ctx.dim), ctx.dim), None


def cumsum(x, dim: int, *, dtype=None):
    """Cumulative sum along ``dim``."""
    if dtype is not None:
        x = x.to(dtype)
    d = normalize_dim(dim, x.data.ndim, "cumsum")
    return Cumsum.apply(x, d) if x.data.ndim else _on_1d(x, lambda t: Cumsum.apply(t, 0))


def _on_1d(x, fn):
    """``fn`` applied to a 0-d tensor seen as 1-D, the results made 0-d again (PyTorch treats
    a 0-d tensor as having one dimension of size 1 for dim arguments)."""
    out = fn(reshape(x, 1))
    if isinstance(out, tuple):
        return tuple(reshape(o, ()) for o in out)
    return reshape(out, ())


class NormZero(Function):
    """``norm(x, 0)``: the number of non-zero entries, in the input's dtype. The count is
    piecewise constant, so its gradient is zero (PyTorch's too)."""

    label = "NormZero"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        d = x.data
        ctx.in_shape = d.shape
        count = (d != 0).sum(axis=_axis(dims), keepdims=keepdim)
        return _array(count.astype(d.dtype))

    @staticmethod
    def backward(ctx, grad):
        return namespace(grad).zeros_like(grad, shape=ctx.in_shape), None, None


def norm(x, p=2, dim=None, keepdim: bool = False, dtype=None, **numpy_names):
    """Vector p-norm over ``dim`` (all entries by default), as ``torch.norm``.

    ``p`` is any number: ``inf`` is the largest ``|x|``, ``-inf`` the smallest, ``0`` the number
    of non-zero entries (gradient zero); ``"fro"`` is the 2-norm. The gradient of a zero norm is
    zero (as PyTorch), not the NaN of ``sqrt`` at 0. ``"nuc"`` is the nuclear norm (the sum of
    the singular values) of a 2-D input, or over the pair of dims ``dim``.

    Example:
        >>> import locograd as lg
        >>> lg.tensor([3.0, 4.0]).norm().item()
        5.0
    """
    if numpy_names:
        dim, keepdim = _numpy_names("norm", dim, keepdim, numpy_names)
    if dtype is not None:
        x = x.to(dtype)
    if isinstance(p, str):
        if p == "nuc":  # the sum of the singular values, over dim (a pair) or a 2-D input
            from .matrix_functions import matrix_norm
            if dim is None and x.data.ndim != 2:
                raise ValueError(f"norm: p='nuc' needs a 2-D input or a pair of dims, got "
                                 f"shape {x.data.shape}")
            return matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim)
        if p != "fro":
            raise ValueError(f"norm: unknown p {p!r}; expected a number, 'fro' or 'nuc'")
        p = 2
    if p == 1:
        return x.abs().sum(dim, keepdim)
    if p == float("inf"):
        return x.abs().amax(dim, keepdim)
    if p == -float("inf"):
        return x.abs().amin(dim, keepdim)
    if p == 0:
        return NormZero.apply(x, _dims(dim, x.data.ndim, "norm"), keepdim)
    if p == 2:
        return _root_of_nonnegative((x * x).sum(dim, keepdim), 2)
    return _root_of_nonnegative((x.abs() ** p).sum(dim, keepdim), p)


def _root_of_nonnegative(s, p):
    """``s ** (1/p)`` for ``s >= 0`` with a zero (not infinite) gradient where ``s == 0``."""
    positive = s.data > 0
    if positive.all():
        return s.sqrt() if p == 2 else s ** (1.0 / p)
    safe = where(positive, s, 1.0)  # the gradient does not flow through the replaced entries
    return (safe.sqrt() if p == 2 else safe ** (1.0 / p)) * positive


def _logical_reduction(name, x, dim, keepdim, numpy_names):
    if numpy_names:
        dim, keepdim = _numpy_names(name, dim, keepdim, numpy_names)
    d = to_array(x, name)
    xp = namespace(d)
    reduce = xp.all if name == "all" else xp.any
    return new_tensor(_array(reduce(d, axis=_axis(_dims(dim, d.ndim, name)), keepdims=keepdim)))


def all(x, dim=None, keepdim: bool = False, **numpy_names):
    """True where every entry along ``dim`` (all by default) is non-zero; a bool tensor."""
    return _logical_reduction("all", x, dim, keepdim, numpy_names)


def any(x, dim=None, keepdim: bool = False, **numpy_names):
    """True where some entry along ``dim`` (all by default) is non-zero; a bool tensor."""
    return _logical_reduction("any", x, dim, keepdim, numpy_names)


def count_nonzero(x, dim=None, **numpy_names):
    """The number of non-zero entries along ``dim`` (all by default); int64."""
    if numpy_names:
        dim, _ = _numpy_names("count_nonzero", dim, False, numpy_names)
    d = to_array(x, "count_nonzero")
    xp = namespace(d)
    out = xp.count_nonzero(d, axis=_axis(_dims(dim, d.ndim, "count_nonzero")))
    return new_tensor(xp.asarray(out).astype(np.int64))

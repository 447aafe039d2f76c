"""Functions of matrices built on the decompositions: ``pinv`` and ``lstsq``, the norms
(``vector_norm``, ``matrix_norm``, ``linalg.norm``), ``multi_dot``, ``matrix_power`` and
``matrix_rank``, as ``torch.linalg``.

``pinv`` is one node with PyTorch's gradient (written with matrix products, so differentiable
again); the others compose differentiable ops (``svdvals``, ``inv``, ``matmul``, reductions), so
their gradients, second order included, are PyTorch's. The public names live in
``locograd.linalg``; ``pinverse``, ``matrix_power`` and ``chain_matmul`` are also top-level.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import normalize_dim, to_array
from .decompositions import _fmt, _is_vector_rhs, _mT, inv, matrix_input, svdvals

__all__ = ["chain_matmul", "matrix_power", "pinverse"]

linalg_lstsq = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])

# ------------------------------------------------------------------------------ pinv

def _pinv_array(xp, x, atol, rtol, hermitian):
    """The pseudo-inverse by the SVD (eigh when ``hermitian``), singular values at or below
    ``max(atol, rtol * largest)`` dropped, as PyTorch."""
    m, n = x.shape[-2], x.shape[-1]
    if x.size == 0:
        return xp.zeros(x.shape[:-2] + (n, m), dtype=x.dtype)
    if rtol is None:
        rtol = np.finfo(x.dtype).eps * max(m, n) if not atol else 0.0
    if hermitian:
        w, v = xp.linalg.eigh(x)
        s, left, right = w, v, xp.swapaxes(v, -1, -2)
        size = xp.abs(w)
    else:
        u, s, vh = xp.linalg.svd(x, full_matrices=False)
        left, right, size = xp.swapaxes(vh, -1, -2), xp.swapaxes(u, -1, -2), s
    tol = xp.maximum(xp.max(size, axis=-1, keepdims=True) * rtol, atol or 0.0)
    keep = size > tol
    inv_s = xp.where(keep, 1.0 / xp.where(keep, s, 1.0), 0.0).astype(x.dtype)
    if hermitian:
        return xp.matmul(v * inv_s[..., None, :], right)
    return xp.matmul(left * inv_s[..., None, :], right)


class Pinv(Function):
    label = "Pinv"

    @staticmethod
    def forward(ctx, a, atol, rtol, hermitian):
        x = matrix_input(a, "linalg.pinv", square=hermitian)
        out = _pinv_array(namespace(x), x, atol, rtol, hermitian)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, p = ctx.saved_tensors
        xp = namespace(grad)
        mm = xp.matmul
        p_t, g_t = _mT(p), _mT(grad)
        if a.shape[-2] <= a.shape[-1]:
            k = mm(g_t, p)
            kp = mm(k, p_t)
            out = -_mT(mm(p, k)) + kp - mm(mm(a, p), kp) + mm(mm(p_t, p), g_t - mm(k, a))
        else:
            k = mm(p, g_t)
            pk = mm(p_t, k)
            out = -_mT(mm(k, p)) + mm(mm(g_t - mm(a, k), p), p_t) + pk - mm(mm(pk, p), a)
        return out, None, None, None


def pinv(A, *, atol=None, rtol=None, hermitian: bool = False):
    """The Moore-Penrose pseudo-inverse, as ``torch.linalg.pinv``: singular values at or below
    ``max(atol, rtol * largest)`` count as zero (by default ``rtol = eps * max(m, n)``).

    Args:
        A: tensor of shape (*, m, n), float.
        atol, rtol: absolute and relative tolerances (floats).
        hermitian: ``A`` is symmetric (its lower triangle is used, through ``eigh``).

    Returns:
        A tensor of shape (*, n, m).

    Example:
        >>> import locograd as lg
        >>> lg.linalg.pinv(lg.tensor([[2.0, 0.0], [0.0, 0.0]])).tolist()
        [[0.5, 0.0], [0.0, 0.0]]
    """
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if isinstance(tol, TensorBase):
            raise TypeError(f"linalg.pinv: {name} must be a float, not a tensor")
    return Pinv.apply(A, None if atol is None else float(atol),
                      None if rtol is None else float(rtol), bool(hermitian))


def pinverse(input, rcond: float = 1e-15):
    """``torch.pinverse``: ``linalg.pinv`` with ``rtol=rcond``."""
    return pinv(input, rtol=rcond)


# ------------------------------------------------------------------------------ lstsq, rank

_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution of ``A X = B``, as ``torch.linalg.lstsq``.

    The solution is ``pinv(A) @ B`` (differentiable in ``A`` and ``B``, with PyTorch's
    gradient); the other fields follow PyTorch's CPU drivers: ``rank`` for every driver but
    ``"gels"``, ``residuals`` (the squared residual norms, shape (*, k)) for ``"gels"``,
    ``"gelsd"`` and ``"gelss"`` when m > n and every matrix has full rank, ``singular_values``
    for ``"gelsd"`` and ``"gelss"``; empty otherwise (the default driver is ``"gelsy"``).

    Args:
        A: tensor of shape (*, m, n), float.
        B: tensor of shape (*, m, k), or (*, m) (PyTorch's vector rule); batch dims broadcast.
        rcond: singular values below ``rcond`` times the largest count as zero (default
            ``eps * max(m, n)``).
        driver: ``"gelsy"`` (default), ``"gels"``, ``"gelsd"`` or ``"gelss"``.

    Returns:
        A named tuple ``(solution, residuals, rank, singular_values)``.

    Example:
        >>> import locograd as lg
        >>> a = lg.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
        >>> lg.linalg.lstsq(a, lg.tensor([[1.0], [2.0], [3.0]])).solution.tolist()
        [[1.0], [2.0]]
    """
    from .linalg import matmul
    from .reduce import sum
    from .shape import squeeze, unsqueeze
    x = matrix_input(A, "linalg.lstsq")
    y = to_array(B, "linalg.lstsq")
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise ValueError(f"linalg.lstsq: parameter `driver` should be one of {_DRIVERS}, got "
                         f"{driver!r}")
    if y.dtype != x.dtype:
        raise TypeError(f"linalg.lstsq: expected A and B to have the same dtype, got {x.dtype} "
                        f"and {y.dtype}")
    vector = y.ndim >= 1 and _is_vector_rhs(x, y)
    m, n = x.shape[-2], x.shape[-1]
    if y.ndim == 0 or y.shape[-1 if vector else -2] != m:
        raise ValueError(f"linalg.lstsq: A {_fmt(x.shape)} and B {_fmt(y.shape)} do not have "
                         f"the same number of rows")
    b = unsqueeze(B, -1) if vector else B
    solution = matmul(pinv(A, rtol=rcond), b)
    xp = namespace(x)
    s = xp.linalg.svd(x, compute_uv=False) if x.size else xp.zeros(x.shape[:-2] + (0,), x.dtype)
    tol = (np.finfo(x.dtype).eps * max(m, n) if rcond is None else rcond) * \
        (xp.max(s, axis=-1, keepdims=True) if s.shape[-1] else 0)
    rank = xp.sum(s > tol, axis=-1).astype(np.int64)
    empty = new_tensor(xp.zeros((0,), dtype=x.dtype))
    residuals = empty
    if driver != "gelsy" and m > n and bool(xp.all(rank == n)):
        r = matmul(A.detach(), solution.detach()) - b.detach()
        residuals = sum(r * r, -2).detach()
        if vector:
            residuals = squeeze(residuals, -1)
    return linalg_lstsq(squeeze(solution, -1) if vector else solution, residuals,
                        new_tensor(xp.zeros((0,), dtype=np.int64)) if driver == "gels"
                        else new_tensor(rank),
                        new_tensor(s) if driver in ("gelsd", "gelss") else empty)


def matrix_rank(A, *, atol=None, rtol=None, hermitian: bool = False):
    """The number of singular values above ``max(atol, rtol * largest)`` (by default ``rtol =
    eps * max(m, n)``), as ``torch.linalg.matrix_rank``; an int64 tensor of shape (*).

    Example:
        >>> import locograd as lg
        >>> lg.linalg.matrix_rank(lg.ones(3, 3)).item()
        1
    """
    x = matrix_input(A, "linalg.matrix_rank")
    xp = namespace(x)
    if x.size == 0:
        return new_tensor(xp.zeros(x.shape[:-2], dtype=np.int64))
    s = xp.abs(xp.linalg.eigvalsh(x)) if hermitian else xp.linalg.svd(x, compute_uv=False)
    if rtol is None:
        rtol = np.finfo(x.dtype).eps * max(x.shape[-2:]) if not atol else 0.0
    tol = xp.maximum(xp.max(s, axis=-1, keepdims=True) * rtol, atol or 0.0)
    return new_tensor(xp.sum(s > tol, axis=-1).astype(np.int64))


# ------------------------------------------------------------------------------ norms

def _float_matrix_or_vector(x, name):
    d = to_array(x, name)
    if d.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point tensor as input, got {d.dtype}")
    return d


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None):
    """The vector ``ord``-norm over ``dim`` (all entries, flattened, by default), as
    ``torch.linalg.vector_norm``: ``ord`` any number, ``inf`` (max ``|x|``), ``-inf`` (min),
    ``0`` (the number of non-zeros). The gradient of a zero norm is zero.

    Example:
        >>> import locograd as lg
        >>> lg.linalg.vector_norm(lg.tensor([[3.0, 0.0], [0.0, 4.0]])).item()
        5.0
    """
    from .reduce import norm
    if dtype is not None:
        x = x.to(dtype)
    _float_matrix_or_vector(x, "linalg.vector_norm")
    if isinstance(ord, str):
        raise ValueError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    return norm(x, ord, dim, keepdim)


def _squeeze_dims(t, dims):
    from .shape import reshape
    return reshape(t, tuple(s for i, s in enumerate(t.shape) if i not in dims))


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None):
    """The matrix norm over the two dimensions ``dim``, as ``torch.linalg.matrix_norm``:
    ``"fro"``, ``"nuc"`` (the sum of the singular values), ``2`` / ``-2`` (the largest /
    smallest singular value), ``1`` / ``-1`` (max / min column sum of ``|A|``), ``inf`` /
    ``-inf`` (max / min row sum).

    Example:
        >>> import locograd as lg
        >>> lg.linalg.matrix_norm(lg.tensor([[1.0, -2.0], [3.0, 4.0]]), 1).item()
        6.0
    """
    from .reduce import amax, amin, sum
    from .shape import movedim, unsqueeze
    if dtype is not None:
        A = A.to(dtype)
    x = _float_matrix_or_vector(A, "linalg.matrix_norm")
    if x.ndim < 2:
        raise ValueError(f"linalg.matrix_norm: the input tensor A must have at least 2 "
                         f"dimensions, got shape {_fmt(x.shape)}")
    if len(tuple(dim)) != 2:
        raise ValueError(f"linalg.matrix_norm: dim must be a 2-tuple, got {dim}")
    d0, d1 = (normalize_dim(d, x.ndim, "linalg.matrix_norm") for d in dim)
    if d0 == d1:
        raise ValueError(f"linalg.matrix_norm: dims must be different, got ({d0}, {d1})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(movedim(A, (d0, d1), (-2, -1)))
        out = sum(s, -1) if ord == "nuc" else (amax if ord == 2 else amin)(s, -1)
        if keepdim:
            out = unsqueeze(unsqueeze(out, min(d0, d1)), max(d0, d1))
        return out
    if ord in (1, -1, np.inf, -np.inf):
        inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = sum(A.abs(), inner, True)
        out = (amax if ord > 0 else amin)(sums, outer, True)
        return out if keepdim else _squeeze_dims(out, (d0, d1))
    raise ValueError(f"linalg.matrix_norm: order {ord!r} not supported; expected 'fro', "
                     f"'nuc', 2, -2, 1, -1, inf or -inf")


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None):
    """``torch.linalg.norm``: a vector norm when ``dim`` is an int (or ``A`` is 1-D), a matrix
    norm when ``dim`` is a pair (or ``A`` is 2-D and ``ord`` is given); with neither ``ord`` nor
    ``dim``, the 2-norm of all entries.

    Example:
        >>> import locograd as lg
        >>> lg.linalg.norm(lg.tensor([[1.0, 0.0], [0.0, 2.0]]), "nuc").item()
        3.0
    """
    x = to_array(A, "linalg.norm")
    if dim is not None:
        dim = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if x.ndim not in (1, 2):
            raise ValueError(f"linalg.norm: if dim is not specified but ord is, the input must be "
                             f"1D or 2D, got {x.ndim}D")
        dim = tuple(range(x.ndim))
    if len(dim) == 2:
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype)
    if len(dim) == 1:
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: dim must be an int or a pair of ints, got {dim}")


# ------------------------------------------------------------------------------ chains, powers

def _chain_order(sizes):
    """The cheapest parenthesisation of a matrix chain (sizes p0..pn): ``split[i][j]``."""
    n = len(sizes) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + sizes[i] * sizes[k + 1] * sizes[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(tensors):
    """The product of a chain of matrices in the cheapest order, as ``torch.linalg.multi_dot``;
    the first may be 1-D (a row vector), the last 1-D (a column vector).

    Example:
        >>> import locograd as lg
        >>> lg.linalg.multi_dot([lg.ones(3), lg.ones(3, 2), lg.ones(2)]).item()
        6.0
    """
    from .linalg import mm
    from .shape import squeeze, unsqueeze
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ValueError(f"multi_dot: expected at least 2 tensors but got {len(tensors)}")
    arrays = [to_array(t, "multi_dot") for t in tensors]
    first, last = arrays[0].ndim == 1, arrays[-1].ndim == 1
    for i, a in enumerate(arrays):
        if a.ndim != 2 and not ((i == 0 and first) or (i == len(arrays) - 1 and last)):
            raise ValueError(f"multi_dot: tensor {i} must be 2D (the first and last may be 1D), "
                             f"got shape {_fmt(a.shape)}")
        if a.dtype != arrays[0].dtype:
            raise TypeError(f"multi_dot: all tensors must have the same dtype, got "
                            f"{arrays[0].dtype} and {a.dtype} (tensor {i})")
    if first:
        tensors[0] = unsqueeze(tensors[0], 0)
    if last:
        tensors[-1] = unsqueeze(tensors[-1], -1)
    shapes = [tuple(to_array(t).shape) for t in tensors]
    for i in range(len(shapes) - 1):
        if shapes[i][1] != shapes[i + 1][0]:
            raise ValueError(f"multi_dot: tensors {i} and {i + 1} with shapes "
                             f"{_fmt(arrays[i].shape)} and {_fmt(arrays[i + 1].shape)} cannot "
                             f"be multiplied")
    split = _chain_order([s[0] for s in shapes] + [shapes[-1][1]])

    def product(i, j):
        if i == j:
            return tensors[i]
        k = split[i][j]
        return mm(product(i, k), product(k + 1, j))
    out = product(0, len(tensors) - 1)
    if first:
        out = squeeze(out, 0)
    if last:
        out = squeeze(out, -1)
    return out


def chain_matmul(*matrices):
    """``torch.chain_matmul`` (deprecated there): ``linalg.multi_dot`` of 2-D matrices."""
    return multi_dot(matrices)


def matrix_power(A, n: int):
    """``A`` to the integer power ``n`` by repeated squaring (a negative ``n`` inverts first;
    ``n = 0`` gives the identity), as ``torch.linalg.matrix_power``.

    Example:
        >>> import locograd as lg
        >>> lg.linalg.matrix_power(lg.tensor([[1.0, 1.0], [0.0, 1.0]]), 3).tolist()
        [[1.0, 3.0], [0.0, 1.0]]
    """
    from .linalg import matmul
    from .shape import clone
    x = to_array(A, "linalg.matrix_power")
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"linalg.matrix_power: A must be batches of square matrices, got shape "
                         f"{_fmt(x.shape)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {type(n).__name__}")
    n = int(n)
    if n == 0:
        xp = namespace(x)
        return new_tensor(xp.broadcast_to(xp.eye(x.shape[-1], dtype=x.dtype), x.shape).copy())
    if n < 0:
        A, n = inv(A), -n
    result = None
    base = A
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return clone(result) if result is A else result

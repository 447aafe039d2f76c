"""Matrix decompositions and inverses: ``det``, ``slogdet``, ``inv``, ``solve``, ``cholesky``,
``qr``, ``svd``, ``eigh`` (and their eigen-/singular-value forms), as ``torch.linalg``.

Every op works on the last two dimensions and is batched over the leading ones. The forward is
the array namespace's ``linalg`` (NumPy's or CuPy's); the backward is PyTorch's formula, written
once over values with matrix products, ``xp.tril`` and ``xp.linalg.solve``: on a recorded pass
those are differentiable tensor ops (the tensor namespace's ``linalg`` is ``numpy_linalg``
below), so second-order gradients come for free.

Real dtypes only (float32, float64): integer inputs are refused, as PyTorch refuses them.
The public names live in ``locograd.linalg``; ``det``, ``slogdet``, ``logdet`` and ``inverse``
are also top-level, as in PyTorch.
"""
from __future__ import annotations

import types
from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import to_array

__all__ = ["det", "inverse", "logdet", "slogdet"]

linalg_slogdet = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
linalg_qr = namedtuple("linalg_qr", ["Q", "R"])
linalg_svd = namedtuple("linalg_svd", ["U", "S", "Vh"])
linalg_eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])


class LinAlgError(RuntimeError, np.linalg.LinAlgError):
    """A matrix the operation cannot handle (singular, not positive-definite), as
    ``torch.linalg.LinAlgError``; also a NumPy ``LinAlgError``."""


# ------------------------------------------------------------------------------ helpers

def _mT(v):
    """``v`` with its last two dimensions swapped (an array or a tensor)."""
    return namespace(v).swapaxes(v, -1, -2)


def _col(v):
    return namespace(v).expand_dims(v, -1)


def _row(v):
    return namespace(v).expand_dims(v, -2)


def _eye_like(value, n: int):
    """The n x n identity on the backend (and dtype) of ``value``: a constant tensor for a
    tensor value."""
    arr = value.data if isinstance(value, TensorBase) else value
    eye = namespace(arr).eye(n, dtype=arr.dtype)
    return new_tensor(eye) if isinstance(value, TensorBase) else eye


def _right_solve_t(xp, x, r):
    """``x @ inv(r).T`` (``x r^{-T}``) without forming the inverse."""
    return xp.swapaxes(xp.linalg.solve(r, xp.swapaxes(x, -1, -2)), -1, -2)


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def matrix_input(a, name: str, square: bool = False):
    """The array of ``a``, checked: a floating tensor with at least 2 dimensions (square in the
    last two where ``square``)."""
    x = to_array(a, name)
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point tensor as input, got {x.dtype} "
                        f"(shape {_fmt(x.shape)})")
    if x.ndim < 2:
        raise ValueError(f"{name}: the input must have at least 2 dimensions, got shape "
                         f"{_fmt(x.shape)}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name}: A must be batches of square matrices, but they are "
                         f"{x.shape[-2]} by {x.shape[-1]} matrices (shape {_fmt(x.shape)})")
    return x


def _call(name: str, what: str, fn, *args, **kwargs):
    """``fn(*args)``, NumPy's LinAlgError turned into one that names the op and the input."""
    try:
        return fn(*args, **kwargs)
    except np.linalg.LinAlgError as e:
        shape = _fmt(args[0].shape)
        raise LinAlgError(f"{name}: {what} (input of shape {shape}, {args[0].dtype}; "
                          f"NumPy: {e})") from None


def _needs_grad(*tensors) -> bool:
    return is_grad_enabled() and any(isinstance(t, TensorBase) and t.requires_grad
                                     for t in tensors)


# ------------------------------------------------------------------------------ det, slogdet

def _cofactor(xp, a):
    """The cofactor matrix ``det(a) inv(a).T`` through the SVD, defined for singular ``a`` too:
    ``det(U) det(Vh) U diag(prod_{j != i} s_j) Vh``."""
    u, s, vh = xp.linalg.svd(a)
    eye = _eye_like(s, s.shape[-1])
    others = xp.prod(_row(s) * (1 - eye) + eye, -1)  # row i: the product of all s_j but s_i
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return _col(_col(sign)) * xp.matmul(u, _col(others) * vh)


class Det(Function):
    label = "Det"

    @staticmethod
    def forward(ctx, a):
        x = matrix_input(a, "linalg.det", square=True)
        d = namespace(x).linalg.det(x)
        ctx.save_for_backward(a, d)
        return d

    @staticmethod
    def backward(ctx, grad):
        a, d = ctx.saved_tensors
        xp = namespace(grad)
        if not bool(xp.all(d != 0)):  # a singular matrix: its cofactors
            return _col(_col(grad)) * _cofactor(xp, a)
        return _col(_col(grad * d)) * _mT(xp.linalg.inv(a))


def det(A):
    """The determinant of a square matrix (or a batch of them).

    The gradient is the cofactor matrix (PyTorch's; defined at singular matrices too).

    Args:
        A: tensor of shape (*, n, n), float.

    Returns:
        A tensor of shape (*).

    Example:
        >>> import locograd as lg
        >>> round(lg.linalg.det(lg.tensor([[2.0, 1.0], [1.0, 3.0]])).item(), 4)
        5.0
    """
    return Det.apply(A)


class SlogDet(Function):
    label = "SlogDet"

    @staticmethod
    def forward(ctx, a):
        x = matrix_input(a, "linalg.slogdet", square=True)
        sign, logabs = namespace(x).linalg.slogdet(x)
        ctx.save_for_backward(a)
        ctx.mark_non_differentiable(sign)
        return sign, logabs

    @staticmethod
    def backward(ctx, grad_sign, grad_logabs):
        (a,) = ctx.saved_tensors
        xp = namespace(grad_logabs)
        return _col(_col(grad_logabs)) * _mT(xp.linalg.inv(a))


def slogdet(A):
    """The sign and the log of the absolute value of the determinant, as ``torch.linalg.slogdet``.

    Args:
        A: tensor of shape (*, n, n), float.

    Returns:
        A named tuple ``(sign, logabsdet)`` of tensors of shape (*); ``sign`` is -1, 0 or 1 and
        carries no gradient.

    Example:
        >>> import locograd as lg
        >>> lg.linalg.slogdet(lg.tensor([[-2.0, 0.0], [0.0, 1.0]])).sign.item()
        -1.0
    """
    return linalg_slogdet(*SlogDet.apply(A))


def logdet(A):
    """``log(det(A))``: NaN where the determinant is negative, -inf where it is zero (as
    ``torch.logdet``).

    Example:
        >>> import locograd as lg
        >>> round(lg.logdet(lg.eye(2) * 3.0).item(), 6)
        2.197225
    """
    sign, logabs = slogdet(A)
    xp = namespace(sign.data)
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = xp.log(sign.data)  # 0 for a positive determinant, -inf at 0, NaN below
    return logabs + new_tensor(offset)


# ------------------------------------------------------------------------------ inv, solve

class Inv(Function):
    label = "Inv"

    @staticmethod
    def forward(ctx, a):
        x = matrix_input(a, "linalg.inv", square=True)
        out = _call("linalg.inv", "the input matrix is singular", namespace(x).linalg.inv, x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (inv_t,) = ctx.saved_tensors
        inv_t = _mT(inv_t)
        xp = namespace(grad)
        return -xp.matmul(xp.matmul(inv_t, grad), inv_t)


def inv(A):
    """The inverse of a square matrix (or a batch of them); a singular matrix raises
    ``LinAlgError``.

    Args:
        A: tensor of shape (*, n, n), float.

    Returns:
        A tensor of shape (*, n, n).

    Example:
        >>> import locograd as lg
        >>> lg.linalg.inv(lg.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
        [[0.5, 0.0], [0.0, 0.25]]
    """
    return Inv.apply(A)


def inverse(A):
    """``torch.inverse``: the same as ``linalg.inv``."""
    return Inv.apply(A)


class Solve(Function):
    """``A X = B`` for matrices ``B`` (..., n, k); batch dimensions broadcast."""

    label = "Solve"

    @staticmethod
    def forward(ctx, a, b):
        x, y = to_array(a, "linalg.solve"), to_array(b, "linalg.solve")
        xp = namespace(x)
        batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
        ctx.batch = batch
        out = _call("linalg.solve", "the input matrix is singular", xp.linalg.solve,
                    xp.broadcast_to(x, batch + x.shape[-2:]), xp.broadcast_to(y, batch + y.shape[-2:]))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        xp = namespace(grad)
        a_t = xp.broadcast_to(_mT(a), ctx.batch + tuple(a.shape[-2:]))
        grad_b = xp.linalg.solve(a_t, grad)
        grad_a = -xp.matmul(grad_b, _mT(out)) if ctx.needs_input_grad[0] else None
        return grad_a, grad_b  # the engine sums broadcast batch dimensions


def _is_vector_rhs(x, y) -> bool:
    """PyTorch's rule: ``B`` is a vector (or a batch of vectors) when it is 1-D or has the
    shape of ``A`` without its last dimension."""
    return y.ndim == 1 or (y.ndim == x.ndim - 1 and tuple(y.shape) == tuple(x.shape[:-1]))


def solve(A, B, *, left: bool = True):
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``), as
    ``torch.linalg.solve``.

    Args:
        A: tensor of shape (*, n, n), float.
        B: tensor of shape (*, n, k), or (*, n) (a vector per matrix, see PyTorch's rule);
            the batch dimensions broadcast.
        left: solve ``A X = B`` (True) or ``X A = B``.

    Returns:
        ``X``, with the broadcast batch shape and ``B``'s trailing shape.

    Example:
        >>> import locograd as lg
        >>> lg.linalg.solve(lg.tensor([[2.0, 0.0], [0.0, 4.0]]), lg.tensor([2.0, 2.0])).tolist()
        [1.0, 0.5]
    """
    x = matrix_input(A, "linalg.solve", square=True)
    y = to_array(B, "linalg.solve")
    if y.dtype != x.dtype:
        raise TypeError(f"linalg.solve: expected A and B to have the same dtype, got {x.dtype} "
                        f"and {y.dtype}")
    vector = _is_vector_rhs(x, y)
    n = x.shape[-1]
    if y.ndim == 0 or (y.shape[-1] if vector else y.shape[-2 if left else -1]) != n:
        raise ValueError(f"linalg.solve: incompatible shapes of A {_fmt(x.shape)} and B "
                         f"{_fmt(y.shape)}")
    from .shape import transpose
    if not left:
        A = transpose(A, -2, -1)
        if not vector:
            return transpose(Solve.apply(A, transpose(B, -2, -1)), -2, -1)
    if vector:
        from .shape import squeeze, unsqueeze
        return squeeze(Solve.apply(A, unsqueeze(B, -1)), -1)
    return Solve.apply(A, B)


# ------------------------------------------------------------------------------ cholesky, qr

class Cholesky(Function):
    label = "Cholesky"

    @staticmethod
    def forward(ctx, a):
        x = matrix_input(a, "linalg.cholesky", square=True)
        out = _call("linalg.cholesky", "the input is not positive-definite",
                    namespace(x).linalg.cholesky, x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (low,) = ctx.saved_tensors
        xp = namespace(grad)
        low_t = _mT(low)
        phi = xp.tril(xp.matmul(low_t, grad))
        phi = 0.5 * (phi + _mT(xp.tril(phi, -1)))  # symmetric, the diagonal halved
        # L^{-T} phi L^{-1}, by two solves
        return _right_solve_t(xp, xp.linalg.solve(low_t, phi), low_t)


def cholesky(A, *, upper: bool = False):
    """The Cholesky factor of a symmetric positive-definite matrix: lower ``L`` with
    ``A = L L^T`` (upper ``U = L^T`` with ``upper=True``). Only the lower triangle is read; a
    matrix that is not positive-definite raises ``LinAlgError``.

    Args:
        A: tensor of shape (*, n, n), float.
        upper: return the upper factor.

    Returns:
        A tensor of shape (*, n, n).

    Example:
        >>> import locograd as lg
        >>> lg.linalg.cholesky(lg.tensor([[4.0, 2.0], [2.0, 2.0]])).tolist()
        [[2.0, 0.0], [1.0, 1.0]]
    """
    low = Cholesky.apply(A)
    if upper:
        from .shape import transpose
        return transpose(low, -2, -1)
    return low


def _qr_grad_deep(xp, q, r, grad_q, grad_r):
    """The QR gradient for m >= n (TensorFlow's and PyTorch's formula)."""
    qdq = xp.matmul(_mT(q), grad_q)
    rdr = xp.matmul(r, _mT(grad_r))
    m = xp.tril(qdq - _mT(qdq) + rdr - _mT(rdr))
    rest = xp.matmul(q, m) + grad_q - xp.matmul(q, qdq)
    return xp.matmul(q, grad_r) + _right_solve_t(xp, rest, r)


class QR(Function):
    label = "QR"

    @staticmethod
    def forward(ctx, a, mode):
        x = matrix_input(a, "linalg.qr")
        xp = namespace(x)
        ctx.mode = mode
        if mode == "r":
            r = xp.linalg.qr(x, mode="r")
            q = xp.zeros((0,), dtype=x.dtype)
        else:
            q, r = xp.linalg.qr(x, mode=mode)
        ctx.save_for_backward(a, q, r)
        return q, r

    @staticmethod
    def backward(ctx, grad_q, grad_r):
        a, q, r = ctx.saved_tensors
        m, n = a.shape[-2], a.shape[-1]
        if ctx.mode == "r":
            raise RuntimeError("linalg.qr: the derivative of linalg.qr depends on Q, which is not "
                               "computed when mode='r'; use mode='reduced'")
        if ctx.mode == "complete" and m > n:
            raise RuntimeError(f"linalg.qr: the QR decomposition is not differentiable when "
                               f"mode='complete' and nrows > ncols (input {m} x {n})")
        xp = namespace(grad_q)
        if m >= n:
            return _qr_grad_deep(xp, q, r, grad_q, grad_r), None
        # wide: A = Q [X | Y] with X square
        dv = grad_r[..., :, m:]
        grad_x = _qr_grad_deep(xp, q, r[..., :, :m], grad_q + xp.matmul(a[..., :, m:], _mT(dv)),
                               grad_r[..., :, :m])
        return xp.concatenate([grad_x, xp.matmul(q, dv)], -1), None


def qr(A, mode: str = "reduced"):
    """The QR decomposition ``A = Q R`` (``Q`` orthonormal columns, ``R`` upper triangular), as
    ``torch.linalg.qr``.

    Args:
        A: tensor of shape (*, m, n), float.
        mode: ``"reduced"`` (Q (*, m, k), R (*, k, n), k = min(m, n)), ``"complete"`` (Q
            (*, m, m), R (*, m, n)) or ``"r"`` (R only; Q is empty and nothing is
            differentiable).

    Returns:
        A named tuple ``(Q, R)``.

    Example:
        >>> import locograd as lg
        >>> q, r = lg.linalg.qr(lg.tensor([[3.0, 1.0], [4.0, 2.0]]))
        >>> [round(r[i, i].item(), 4) for i in range(2)]
        [-5.0, 0.4]
    """
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: qr received unrecognized mode {mode!r} but expected one of "
                         f"'reduced' (default), 'r', or 'complete'")
    return linalg_qr(*QR.apply(A, mode))


# ------------------------------------------------------------------------------ svd, eigh

class SVD(Function):
    label = "SVD"

    @staticmethod
    def forward(ctx, a, full_matrices):
        x = matrix_input(a, "linalg.svd")
        u, s, vh = _call("linalg.svd", "the SVD did not converge", namespace(x).linalg.svd, x,
                         full_matrices=full_matrices)
        ctx.full = full_matrices
        ctx.save_for_backward(u, s, vh)
        ctx.set_materialize_grads(False)
        return u, s, vh

    @staticmethod
    def backward(ctx, grad_u, grad_s, grad_vh):
        u, s, vh = ctx.saved_tensors
        k = s.shape[-1]
        if ctx.full:  # the complete bases' extra vectors are arbitrary: their gradient ignored
            u, vh = u[..., :, :k], vh[..., :k, :]
            grad_u = None if grad_u is None else grad_u[..., :, :k]
            grad_vh = None if grad_vh is None else grad_vh[..., :k, :]
        some = grad_s if grad_s is not None else grad_u if grad_u is not None else grad_vh
        xp = namespace(some)
        if grad_u is None and grad_vh is None:
            return xp.matmul(u, _col(grad_s) * vh), None
        m, n = u.shape[-2], vh.shape[-1]
        eye = _eye_like(s, k)
        s2 = s * s
        inner = 0
        if grad_u is not None:
            uhgu = xp.matmul(_mT(u), grad_u)
            inner = (uhgu - _mT(uhgu)) * _row(s)
        if grad_vh is not None:
            vhgv = xp.matmul(vh, _mT(grad_vh))
            inner = inner + _col(s) * (vhgv - _mT(vhgv))
        g = inner / (_row(s2) - _col(s2) + eye)
        if grad_s is not None:
            g = g + eye * _row(grad_s)
        if m > n and grad_u is not None:
            g_sinv = grad_u / _row(s)
            g = xp.matmul(u, g) + g_sinv - xp.matmul(u, xp.matmul(_mT(u), g_sinv))
            return xp.matmul(g, vh), None
        if m < n and grad_vh is not None:
            sinv_gvh = grad_vh / _col(s)
            g = xp.matmul(g, vh) + sinv_gvh - xp.matmul(xp.matmul(sinv_gvh, _mT(vh)), vh)
            return xp.matmul(u, g), None
        return xp.matmul(u, xp.matmul(g, vh)), None


def svd(A, full_matrices: bool = True):
    """The singular value decomposition ``A = U diag(S) Vh``, as ``torch.linalg.svd``.

    The gradient is PyTorch's: defined where the singular values are distinct (and non-zero
    for the vectors of a non-square matrix); with ``full_matrices=True`` the gradient of the
    extra columns of ``U`` (rows of ``Vh``) is ignored, as they are an arbitrary basis.

    Args:
        A: tensor of shape (*, m, n), float.
        full_matrices: complete ``U`` (*, m, m) and ``Vh`` (*, n, n), or reduced ones (k =
            min(m, n) columns / rows).

    Returns:
        A named tuple ``(U, S, Vh)``; ``S`` of shape (*, k), in descending order.

    Example:
        >>> import locograd as lg
        >>> lg.linalg.svd(lg.tensor([[3.0, 0.0], [0.0, -4.0]])).S.tolist()
        [4.0, 3.0]
    """
    return linalg_svd(*SVD.apply(A, bool(full_matrices)))


def svdvals(A):
    """The singular values of ``A`` (*, m, n), descending, shape (*, min(m, n)); differentiable
    (through the reduced SVD), as ``torch.linalg.svdvals``.

    Example:
        >>> import locograd as lg
        >>> lg.linalg.svdvals(lg.tensor([[0.0, 2.0], [1.0, 0.0]])).tolist()
        [2.0, 1.0]
    """
    if not _needs_grad(A):
        x = matrix_input(A, "linalg.svdvals")
        return new_tensor(_call("linalg.svdvals", "the SVD did not converge",
                                namespace(x).linalg.svd, x, compute_uv=False))
    return SVD.apply(A, False)[1]


def _check_uplo(uplo, name):
    if uplo not in ("L", "U"):
        raise ValueError(f"{name}: UPLO must be 'L' or 'U', got {uplo!r}")


class Eigh(Function):
    label = "Eigh"

    @staticmethod
    def forward(ctx, a, uplo):
        x = matrix_input(a, "linalg.eigh", square=True)
        w, v = _call("linalg.eigh", "the eigenvalue algorithm did not converge",
                     namespace(x).linalg.eigh, x, UPLO=uplo)
        ctx.save_for_backward(w, v)
        ctx.set_materialize_grads(False)
        return w, v

    @staticmethod
    def backward(ctx, grad_w, grad_v):
        w, v = ctx.saved_tensors
        xp = namespace(grad_w if grad_w is not None else grad_v)
        v_t = _mT(v)
        if grad_v is None:
            return xp.matmul(v, _col(grad_w) * v_t), None
        eye = _eye_like(w, w.shape[-1])
        vhgv = xp.matmul(v_t, grad_v)
        g = 0.5 * (vhgv - _mT(vhgv)) / (_row(w) - _col(w) + eye)
        if grad_w is not None:
            g = g + eye * _row(grad_w)
        return xp.matmul(v, xp.matmul(g, v_t)), None


def eigh(A, UPLO: str = "L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix, as
    ``torch.linalg.eigh``. Only the triangle ``UPLO`` is read; the gradient (PyTorch's) is
    symmetric and defined where the eigenvalues are distinct.

    Args:
        A: tensor of shape (*, n, n), float, symmetric.
        UPLO: ``"L"`` (lower triangle) or ``"U"``.

    Returns:
        A named tuple ``(eigenvalues (*, n), eigenvectors (*, n, n))``.

    Example:
        >>> import locograd as lg
        >>> lg.linalg.eigh(lg.tensor([[2.0, 0.0], [0.0, 1.0]])).eigenvalues.tolist()
        [1.0, 2.0]
    """
    _check_uplo(UPLO, "linalg.eigh")
    return linalg_eigh(*Eigh.apply(A, UPLO))


def eigvalsh(A, UPLO: str = "L"):
    """The eigenvalues (ascending) of a symmetric matrix, shape (*, n); differentiable, as
    ``torch.linalg.eigvalsh``.

    Example:
        >>> import locograd as lg
        >>> lg.linalg.eigvalsh(lg.tensor([[2.0, 1.0], [1.0, 2.0]])).tolist()
        [1.0, 3.0]
    """
    _check_uplo(UPLO, "linalg.eigvalsh")
    if not _needs_grad(A):
        x = matrix_input(A, "linalg.eigvalsh", square=True)
        return new_tensor(_call("linalg.eigvalsh", "the eigenvalue algorithm did not converge",
                                namespace(x).linalg.eigvalsh, x, UPLO=UPLO))
    return Eigh.apply(A, UPLO)[0]


# ------------------------------------------------------------------------------ the tensor xp

def _numpy_solve(a, b):
    """NumPy 2's ``linalg.solve``: ``b`` is a vector only when 1-D."""
    if b.ndim == 1:
        from .shape import squeeze, unsqueeze
        return squeeze(Solve.apply(a, unsqueeze(b, -1)), -1)
    return Solve.apply(a, b)


def _numpy_svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    return svd(a, full_matrices) if compute_uv else svdvals(a)


def _numpy_cholesky(a, upper: bool = False):
    return cholesky(a, upper=upper)


#: NumPy's ``linalg`` names over these ops (NumPy's signatures): what ``xp.linalg`` is in a rule
#: that runs on tensors (a recorded backward pass).
numpy_linalg = types.SimpleNamespace(
    det=det, slogdet=slogdet, inv=inv, solve=_numpy_solve, cholesky=_numpy_cholesky, qr=qr,
    svd=_numpy_svd, eigh=eigh, eigvalsh=eigvalsh)

"""Products beyond ``matmul``: ``einsum``, ``tensordot``, ``inner``, ``kron``, ``cross``, the
fused-looking ``addmm``/``addmv``/``addr``/``baddbmm``/``addbmm``, and ``cdist``, as PyTorch.

``einsum`` is one node whose gradient for each operand is again an ``einsum`` (of the output
gradient and the other operands), so second order is free. The others are compositions of
``matmul``, ``reshape``, ``permute`` and elementwise ops (differentiable to any order).
The operands of a product must have one dtype, as in PyTorch (``kron`` promotes, as ``mul``).
"""
from __future__ import annotations

import math
import string

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace
from ._common import normalize_dim, to_array
from .decompositions import _eye_like
from .linalg import _fmt, matmul

__all__ = ["Einsum", "addbmm", "addmm", "addmv", "addr", "baddbmm", "cdist", "cross", "einsum",
           "inner", "kron", "tensordot"]

_LETTERS = string.ascii_uppercase + string.ascii_lowercase


# ------------------------------------------------------------------------------ einsum

def _expand_equation(equation: str, shapes) -> tuple:
    """PyTorch's einsum equation with every dimension named by its own letter: the ellipsis
    spelled out, the implicit output made explicit (the letters seen once, in alphabetical
    order, after the ellipsis), and a size-1 dimension that broadcasts against a larger one
    renamed to a letter of its own. Returns (input subscripts, output subscripts)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} has {len(terms)} operand(s) but "
                         f"{len(shapes)} were given")
    used = {c for c in eq if c.isalpha()}
    for t in terms + ([rhs] if arrow else []):
        bad = set(t.replace("...", "")) - set(_LETTERS)
        if bad or t.count("...") > 1:
            raise ValueError(f"einsum: invalid subscript {min(bad) if bad else '...'!r} "
                             f"in the equation {equation!r}: expected letters [a-zA-Z] and at "
                             f"most one ellipsis per operand")
    fresh = iter(c for c in _LETTERS if c not in used)
    n_ell = []
    for t, shape in zip(terms, shapes):
        named = len(t.replace("...", ""))
        n = len(shape) - named
        if ("..." in t and n < 0) or ("..." not in t and n != 0):
            raise ValueError(f"einsum: the subscripts {t!r} do not match the dimensions of an "
                             f"operand of shape {_fmt(shape)}")
        n_ell.append(n)
    ell = "".join(next(fresh) for _ in range(max(n_ell, default=0)))
    subs = [t.replace("...", ell[len(ell) - n:] if n else "") for t, n in zip(terms, n_ell)]
    if arrow:
        out = rhs.replace("...", ell)  # without "..." there, the ellipsis dims are summed
    else:
        counts = {c: lhs.count(c) for c in used}
        out = ell + "".join(sorted((c for c in used if counts[c] == 1), key=_LETTERS.index))
    for c in out:
        if out.count(c) > 1:
            raise ValueError(f"einsum: output subscript {c!r} appears more than once in "
                             f"{equation!r}")
        if not any(c in s for s in subs):
            raise ValueError(f"einsum: output subscript {c!r} does not appear in the inputs of "
                             f"{equation!r}")
    size = {}
    for s, shape in zip(subs, shapes):
        for c, n in zip(s, shape):
            if size.get(c, 1) == 1:
                size[c] = n
            elif n not in (1, size[c]):
                raise ValueError(f"einsum: subscript {c!r} has sizes that cannot broadcast "
                                 f"(operand shapes {', '.join(_fmt(x) for x in shapes)})")
    subs = ["".join(next(fresh) if n == 1 and size[c] != 1 else c for c, n in zip(s, shape))
            for s, shape in zip(subs, shapes)]
    return subs, out


class Einsum(Function):
    label = "Einsum"

    @staticmethod
    def forward(ctx, subs, out, *operands):
        arrays = [to_array(o, "einsum") for o in operands]
        if any(a.dtype != arrays[0].dtype for a in arrays):
            raise TypeError(f"einsum: expected all operands to have the same dtype, got "
                            f"{', '.join(str(a.dtype) for a in arrays)}")
        xp = namespace(arrays[0])
        result = xp.asarray(xp.einsum(",".join(subs) + "->" + out, *arrays,
                                      optimize=len(arrays) > 2))
        if len(arrays) == 1:
            result = result.copy()  # NumPy may return a view of the operand
        ctx.subs, ctx.out = subs, out
        ctx.save_for_backward(*operands)
        return result

    @staticmethod
    def backward(ctx, grad):
        values = ctx.saved_tensors
        subs, out = ctx.subs, ctx.out
        grads = [None, None]
        for i, target in enumerate(subs):
            if not ctx.needs_input_grad[i + 2]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(subs) if j != i]
            terms, operands = [out] + others, [grad] + [v for j, v in enumerate(values) if j != i]
            seen = set("".join(terms))
            used = set("".join(subs) + out)
            fresh = iter(c for c in _LETTERS if c not in used)
            named = []
            for c, n in zip(target, values[i].shape):
                if c not in seen:  # summed in this operand only: broadcast back by ones
                    terms.append(c)
                    operands.append(_ones_like(grad, n))
                    seen.add(c)
                if c in named:  # a repeated subscript (a diagonal): a delta puts it back
                    c2 = next(fresh)
                    terms.append(c + c2)
                    operands.append(_eye_like(grad, n))
                    c = c2
                named.append(c)
            xp = namespace(grad)
            grads.append(xp.einsum(",".join(terms) + "->" + "".join(named), *operands))
        return tuple(grads)


def _ones_like(value, n: int):
    arr = value.data if isinstance(value, TensorBase) else value
    ones = namespace(arr).ones((n,), dtype=arr.dtype)
    return new_tensor(ones) if isinstance(value, TensorBase) else ones


def einsum(equation: str, *operands):
    """Einstein summation, as ``torch.einsum``: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``.

    Subscripts are letters (``a-z``, ``A-Z``) with at most one ``...`` per operand (the
    broadcast dimensions); without ``->`` the output is the letters seen once, in alphabetical
    order, after the ellipsis. Size-1 dimensions broadcast. The operands may also be given as
    one list. Differentiable in every operand (the gradient is an einsum too).

    Args:
        equation: the subscripts, e.g. ``"bij,bjk->bik"`` or ``"ii"`` (the trace).
        *operands: tensors of one dtype.

    Returns:
        The tensor of the output subscripts.

    Example:
        >>> import locograd as lg
        >>> lg.einsum("ii", lg.eye(3)).item()
        3.0
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if not operands:
        raise ValueError("einsum: must provide at least one operand")
    shapes = [tuple(to_array(o, "einsum").shape) for o in operands]
    subs, out = _expand_equation(equation, shapes)
    return Einsum.apply(subs, out, *operands)


# ------------------------------------------------------------------------------ tensordot & co

def _same_dtype(name, a, b):
    x, y = to_array(a, name), to_array(b, name)
    if x.dtype != y.dtype:
        raise TypeError(f"{name}: expected both inputs to have the same dtype, got {x.dtype} "
                        f"(shape {_fmt(x.shape)}) and {y.dtype} (shape {_fmt(y.shape)})")
    return x, y


def tensordot(a, b, dims=2):
    """Sum of products over the given dimensions, as ``torch.tensordot``.

    Args:
        a, b: tensors of one dtype.
        dims: an int ``d`` (the last ``d`` dims of ``a`` with the first ``d`` of ``b``), or a
            pair of lists of dims ``([dims of a], [dims of b])``.

    Returns:
        A tensor of shape (``a``'s free dims) + (``b``'s free dims).

    Example:
        >>> import locograd as lg
        >>> lg.tensordot(lg.ones(2, 3), lg.ones(3, 4), dims=1).shape
        (2, 4)
    """
    from .shape import permute, reshape
    x, y = _same_dtype("tensordot", a, b)
    if isinstance(dims, TensorBase):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0 or dims > min(x.ndim, y.ndim):
            raise ValueError(f"tensordot: dims must be between 0 and {min(x.ndim, y.ndim)} for "
                             f"shapes {_fmt(x.shape)} and {_fmt(y.shape)}, got {dims}")
        da, db = list(range(x.ndim - dims, x.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
        if len(da) != len(db):
            raise ValueError(f"tensordot: both dimension lists should have the same length, got "
                             f"{da} and {db}")
        da = [normalize_dim(d, x.ndim, "tensordot") for d in da]
        db = [normalize_dim(d, y.ndim, "tensordot") for d in db]
    for i, j in zip(da, db):
        if x.shape[i] != y.shape[j]:
            raise ValueError(f"tensordot: contracted dimensions need to match, but the first has "
                             f"size {x.shape[i]} in dim {i} and the second has size "
                             f"{y.shape[j]} in dim {j}")
    free_a = [i for i in range(x.ndim) if i not in da]
    free_b = [j for j in range(y.ndim) if j not in db]
    k = math.prod(x.shape[i] for i in da)
    left = reshape(permute(a, free_a + da), (math.prod(x.shape[i] for i in free_a), k))
    right = reshape(permute(b, db + free_b), (k, math.prod(y.shape[j] for j in free_b)))
    return reshape(matmul(left, right),
                   tuple(x.shape[i] for i in free_a) + tuple(y.shape[j] for j in free_b))


def inner(a, b):
    """The inner product over the last dimension (a product where one is 0-d), as
    ``torch.inner``: shape ``a.shape[:-1] + b.shape[:-1]``.

    Example:
        >>> import locograd as lg
        >>> lg.inner(lg.tensor([1.0, 2.0]), lg.tensor([3.0, 4.0])).item()
        11.0
    """
    x, y = _same_dtype("inner", a, b)
    if x.ndim == 0 or y.ndim == 0:
        return a * b
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"inner: the last dimensions must match, got shapes {_fmt(x.shape)} "
                         f"and {_fmt(y.shape)}")
    return tensordot(a, b, ([x.ndim - 1], [y.ndim - 1]))


def kron(a, b):
    """The Kronecker product, as ``torch.kron``: block (i, j) of the result is ``a[i, j] * b``
    (any number of dimensions; the fewer are padded with leading ones).

    Example:
        >>> import locograd as lg
        >>> lg.kron(lg.tensor([1.0, 2.0]), lg.tensor([1.0, 10.0])).tolist()
        [1.0, 10.0, 2.0, 20.0]
    """
    from .shape import reshape
    x, y = to_array(a, "kron"), to_array(b, "kron")
    nd = max(x.ndim, y.ndim)
    sa = (1,) * (nd - x.ndim) + tuple(x.shape)
    sb = (1,) * (nd - y.ndim) + tuple(y.shape)
    left = reshape(a, tuple(v for s in sa for v in (s, 1)))
    right = reshape(b, tuple(v for s in sb for v in (1, s)))
    return reshape(left * right, tuple(p * q for p, q in zip(sa, sb)))


def cross(input, other, dim=None):
    """The cross product of 3-vectors along ``dim``, as ``torch.cross``; the shapes broadcast.
    Without ``dim``: the first dimension of size 3 (PyTorch's deprecated default; prefer
    ``linalg.cross``, whose default is the last dimension).

    Example:
        >>> import locograd as lg
        >>> lg.cross(lg.tensor([1.0, 0.0, 0.0]), lg.tensor([0.0, 1.0, 0.0])).tolist()
        [0.0, 0.0, 1.0]
    """
    from .shape import broadcast_to, roll
    x, y = _same_dtype("cross", input, other)
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(f"cross: the shapes {_fmt(x.shape)} and {_fmt(y.shape)} cannot be "
                         f"broadcast together") from None
    if dim is None:
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise ValueError(f"cross: no dimension of size 3 in input (shape {_fmt(shape)})")
    d = normalize_dim(dim, len(shape), "cross")
    if not shape or shape[d] != 3:
        raise ValueError(f"cross: inputs dimension {dim} must have length 3, got shapes "
                         f"{_fmt(x.shape)} and {_fmt(y.shape)}")
    if x.shape != shape:
        input = broadcast_to(input, shape)
    if y.shape != shape:
        other = broadcast_to(other, shape)
    return roll(input, -1, d) * roll(other, -2, d) - roll(input, -2, d) * roll(other, -1, d)


def linalg_cross(input, other, *, dim: int = -1):
    """``torch.linalg.cross``: the cross product along ``dim`` (the last by default)."""
    return cross(input, other, dim)


# ------------------------------------------------------------------------------ add*mm

def _scaled_sum(name, input, product, beta, alpha):
    """``beta * input + alpha * product`` as PyTorch: ``input`` ignored (NaN included) when
    ``beta == 0``; it must broadcast to the product's shape."""
    x = to_array(input, name)
    try:
        if np.broadcast_shapes(x.shape, product.shape) != product.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name}: the input of shape {_fmt(x.shape)} cannot be broadcast to "
                         f"the product's shape {_fmt(product.shape)}") from None
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return product + (input if beta == 1 else input * beta)


def _check_ndims(name, expected, *tensors):
    for t, n in zip(tensors, expected):
        x = to_array(t, name)
        if x.ndim != n:
            raise ValueError(f"{name}: expected {n}-D operands, got shapes "
                             f"{', '.join(_fmt(to_array(u, name).shape) for u in tensors)}")


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``, as ``torch.addmm`` (``input`` broadcasts to
    (n, m) and is ignored when ``beta`` is 0).

    Example:
        >>> import locograd as lg
        >>> lg.addmm(lg.ones(2), lg.eye(2), lg.eye(2), beta=2.0).tolist()
        [[3.0, 2.0], [2.0, 3.0]]
    """
    _check_ndims("addmm", (2, 2), mat1, mat2)
    from .linalg import mm
    return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``, as ``torch.addmv``."""
    _check_ndims("addmv", (2, 1), mat, vec)
    from .linalg import mv
    return _scaled_sum("addmv", input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``, as ``torch.addr``."""
    from .linalg import outer
    return _scaled_sum("addr", input, outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * (batch1 @ batch2)`` for batches (b, n, k) and (b, k, m), as
    ``torch.baddbmm``."""
    _check_ndims("baddbmm", (3, 3), batch1, batch2)
    from .linalg import bmm
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``, as ``torch.addbmm``: the sum of
    the batch's products is one GEMM of (n, b k) by (b k, m)."""
    _check_ndims("addbmm", (3, 3), batch1, batch2)
    from .shape import permute, reshape
    x, y = _same_dtype("addbmm", batch1, batch2)
    if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[1]:
        raise ValueError(f"addbmm: cannot multiply batches of shapes {_fmt(x.shape)} and "
                         f"{_fmt(y.shape)}")
    b, n, k = x.shape
    left = reshape(permute(batch1, (1, 0, 2)), (n, b * k))
    return _scaled_sum("addbmm", input, matmul(left, reshape(batch2, (b * k, y.shape[2]))),
                       beta, alpha)


# ------------------------------------------------------------------------------ cdist

_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between each pair of rows of ``x1`` (*, P, M) and ``x2`` (*, R, M),
    as ``torch.cdist``: a tensor (*, P, R); the batch dimensions broadcast.

    For ``p=2`` with more than 25 rows on a side (or ``compute_mode="use_mm_for_euclid_dist"``)
    the distances come from one matrix product, ``|a|^2 + |b|^2 - 2 a.b``, as in PyTorch (faster,
    slightly less exact). The gradient at a zero distance is zero.

    Example:
        >>> import locograd as lg
        >>> lg.cdist(lg.tensor([[0.0, 0.0]]), lg.tensor([[3.0, 4.0]])).tolist()
        [[5.0]]
    """
    from .elementwise import clamp_min
    from .reduce import norm, sum
    from .shape import unsqueeze
    x, y = _same_dtype("cdist", x1, x2)
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError(f"cdist: only supports at least 2D tensors, got shapes {_fmt(x.shape)} "
                         f"and {_fmt(y.shape)}")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"cdist: X1 and X2 must have the same number of columns. X1: "
                         f"{x.shape[-1]} X2: {y.shape[-1]}")
    if x.dtype.kind != "f":
        raise TypeError(f"cdist: only supports floating-point dtypes, X1 got: {x.dtype}")
    if p < 0:
        raise ValueError(f"cdist: only supports non-negative p values, got {p}")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"cdist: {compute_mode!r} is not a valid value for compute_mode; "
                         f"expected one of {_CDIST_MODES}")
    big = x.shape[-2] > 25 or y.shape[-2] > 25
    if p == 2 and (compute_mode == _CDIST_MODES[1] or (compute_mode == _CDIST_MODES[0] and big)):
        from .shape import transpose
        sq = sum(x1 * x1, -1, True) + transpose(sum(x2 * x2, -1, True), -2, -1) \
            - 2.0 * matmul(x1, transpose(x2, -2, -1))
        return clamp_min(sq, 1e-30).sqrt()
    return norm(unsqueeze(x1, -2) - unsqueeze(x2, -3), p, -1)

"""OpSpecs for locograd.ops.decompositions and matrix_functions (``locograd.linalg``): det,
slogdet, inv, solve, cholesky, qr, svd, eigh, pinv, lstsq, the norms, multi_dot and
matrix_power, batched where PyTorch batches. Inputs are kept well-conditioned (a multiple of the
identity added; symmetric positive-definite matrices built inside ``fn``) so that finite
differences are meaningful; decompositions return their raw factors (LAPACK's branch is
continuous at these points)."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import fixed


def _conditioned(*shapes):
    """Standard normal square matrices plus ``n`` times the identity (well away from
    singular); other shapes plain normal."""
    def inputs(rng):
        out = []
        for s in shapes:
            a = rng.standard_normal(s)
            if len(s) >= 2 and s[-1] == s[-2]:
                a = a + s[-1] * np.eye(s[-1])
            out.append(a)
        return tuple(out)
    return inputs


def _spd(a):
    """A symmetric positive-definite matrix from any square ``a`` (tensor or array)."""
    n = a.shape[-1]
    if isinstance(a, np.ndarray):
        return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
    return a @ a.mT + lg.eye(n, dtype=a.dtype) * n


def _sym(a):
    return a + (a.mT if not isinstance(a, np.ndarray) else np.swapaxes(a, -1, -2))


def _first_columns(u, s, vh):
    """The complete SVD's factors with ``U`` cut to its first k columns."""
    return u[..., :, :s.shape[-1]], s, vh


def _np_solve(a, b):
    return np.linalg.solve(a, b)


SPECS = [
    OpSpec("det", lg.linalg.det, fixed((3, 3)), np.linalg.det, ("Det",)),
    OpSpec("det_batched", lg.linalg.det, fixed((2, 2, 2)), np.linalg.det, ("Det",)),
    OpSpec("slogdet", lambda a: tuple(lg.linalg.slogdet(a)), _conditioned((2, 3, 3)),
           lambda a: tuple(np.linalg.slogdet(a)), ("SlogDet", "Inv")),
    OpSpec("logdet", lambda a: lg.logdet(_spd(a)), fixed((3, 3)),
           lambda a: np.linalg.slogdet(_spd(a))[1], ("SlogDet", "MatMul")),
    OpSpec("inv", lg.linalg.inv, _conditioned((2, 3, 3)), np.linalg.inv, ("Inv",)),
    OpSpec("solve", lg.linalg.solve, _conditioned((3, 3), (3, 2)), _np_solve, ("Solve",)),
    OpSpec("solve_broadcast", lg.linalg.solve, _conditioned((3, 3), (2, 3, 1)),
           lambda a, b: np.linalg.solve(a, b), ("Solve",)),
    OpSpec("solve_batched_vector", lg.linalg.solve, _conditioned((2, 3, 3), (2, 3)),
           lambda a, b: np.linalg.solve(a, b[..., None])[..., 0], ("Solve", "Reshape")),
    OpSpec("solve_right", lambda a, b: lg.linalg.solve(a, b, left=False),
           _conditioned((3, 3), (2, 3)),
           lambda a, b: np.linalg.solve(a.T, b.T).T, ("Solve", "Permute")),
    OpSpec("cholesky", lambda a: lg.linalg.cholesky(_spd(a)), fixed((2, 3, 3)),
           lambda a: np.linalg.cholesky(_spd(a)), ("Cholesky", "MatMul")),
    OpSpec("cholesky_upper", lambda a: lg.linalg.cholesky(_spd(a), upper=True), fixed((3, 3)),
           lambda a: np.linalg.cholesky(_spd(a)).T, ("Cholesky", "Permute")),
    OpSpec("qr_tall", lambda a: tuple(lg.linalg.qr(a)), fixed((2, 3, 2)),
           lambda a: tuple(np.linalg.qr(a)), ("QR",)),
    OpSpec("qr_square", lambda a: tuple(lg.linalg.qr(a)), fixed((3, 3)),
           lambda a: tuple(np.linalg.qr(a)), ("QR",)),
    OpSpec("qr_wide_complete", lambda a: tuple(lg.linalg.qr(a, "complete")), fixed((2, 4)),
           lambda a: tuple(np.linalg.qr(a, "complete")), ("QR",)),
    OpSpec("svd_tall", lambda a: tuple(lg.linalg.svd(a, full_matrices=False)), fixed((4, 3)),
           lambda a: tuple(np.linalg.svd(a, full_matrices=False)), ("SVD",)),
    OpSpec("svd_wide_batched", lambda a: tuple(lg.linalg.svd(a, full_matrices=False)),
           fixed((2, 2, 3)), lambda a: tuple(np.linalg.svd(a, full_matrices=False)), ("SVD",)),
    # full_matrices: the extra columns of U are an arbitrary basis (their gradient ignored)
    OpSpec("svd_full", lambda a: _first_columns(*lg.linalg.svd(a)), fixed((3, 2)),
           lambda a: _first_columns(*np.linalg.svd(a)), ("SVD",)),
    OpSpec("svdvals", lg.linalg.svdvals, fixed((2, 3, 4)),
           lambda a: np.linalg.svd(a, compute_uv=False), ("SVD",)),
    OpSpec("eigh", lambda a: tuple(lg.linalg.eigh(_sym(a))), fixed((2, 3, 3)),
           lambda a: tuple(np.linalg.eigh(_sym(a))), ("Eigh", "Add")),
    OpSpec("eigh_upper", lambda a: tuple(lg.linalg.eigh(_sym(a), UPLO="U")), fixed((3, 3)),
           lambda a: tuple(np.linalg.eigh(_sym(a), UPLO="U")), ("Eigh",)),
    OpSpec("eigvalsh", lambda a: lg.linalg.eigvalsh(_sym(a)), fixed((3, 3)),
           lambda a: np.linalg.eigvalsh(_sym(a)), ("Eigh",)),
    OpSpec("pinv_tall", lg.linalg.pinv, fixed((2, 4, 3)), np.linalg.pinv, ("Pinv",)),
    OpSpec("pinv_wide", lg.linalg.pinv, fixed((2, 3)), np.linalg.pinv, ("Pinv",)),
    OpSpec("pinv_hermitian", lambda a: lg.linalg.pinv(_spd(a), hermitian=True), fixed((3, 3)),
           lambda a: np.linalg.inv(_spd(a)), ("Pinv",)),
    OpSpec("lstsq", lambda a, b: lg.linalg.lstsq(a, b).solution, fixed((4, 3), (4, 2)),
           lambda a, b: np.linalg.pinv(a) @ b, ("Pinv", "MatMul")),
    OpSpec("lstsq_vector", lambda a, b: lg.linalg.lstsq(a, b).solution, fixed((4, 2), (4,)),
           lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], ("Pinv", "MatMul")),
    OpSpec("matrix_norm_nuc", lambda a: lg.linalg.matrix_norm(a, "nuc"), fixed((2, 3, 2)),
           lambda a: np.linalg.norm(a, "nuc", axis=(-2, -1)), ("SVD", "Sum")),
    OpSpec("matrix_norm_2", lambda a: lg.linalg.matrix_norm(a, 2), fixed((3, 3)),
           lambda a: np.linalg.norm(a, 2), ("SVD",)),
    OpSpec("matrix_norm_minus2_dims", lambda a: lg.linalg.matrix_norm(a, -2, dim=(0, 2),
                                                                       keepdim=True),
           fixed((3, 2, 2)), lambda a: np.linalg.norm(a, -2, axis=(0, 2), keepdims=True),
           ("SVD",)),
    OpSpec("matrix_norm_1", lambda a: lg.linalg.matrix_norm(a, 1), fixed((2, 3, 3)),
           lambda a: np.linalg.norm(a, 1, axis=(-2, -1)), ("AmaxAmin", "Sum")),
    OpSpec("matrix_norm_inf_keepdim", lambda a: lg.linalg.matrix_norm(a, -np.inf, keepdim=True),
           fixed((3, 4)), lambda a: np.linalg.norm(a, -np.inf, keepdims=True), ("AmaxAmin",)),
    OpSpec("matrix_norm_fro", lambda a: lg.linalg.matrix_norm(a), fixed((2, 3, 2)),
           lambda a: np.linalg.norm(a, axis=(-2, -1)), ("Sum",)),
    OpSpec("vector_norm_3", lambda a: lg.linalg.vector_norm(a, 3, dim=(0, 2)), fixed((2, 3, 2)),
           lambda a: np.sum(np.abs(a) ** 3, axis=(0, 2)) ** (1 / 3), ("Sum",)),
    OpSpec("linalg_norm", lambda a: lg.linalg.norm(a), fixed((2, 3)),
           lambda a: np.linalg.norm(a), ("Sum",)),
    OpSpec("norm_nuc", lambda a: lg.norm(a, "nuc"), fixed((3, 2)),
           lambda a: np.linalg.norm(a, "nuc"), ("SVD",)),
    OpSpec("multi_dot", lambda a, b, c, d: lg.linalg.multi_dot([a, b, c, d]),
           fixed((3,), (3, 4), (4, 2), (2, 2)), lambda a, b, c, d: a @ b @ c @ d, ("MatMul",)),
    OpSpec("matrix_power_3", lambda a: lg.linalg.matrix_power(a, 3), fixed((2, 3, 3)),
           lambda a: np.linalg.matrix_power(a, 3), ("MatMul",)),
    OpSpec("matrix_power_minus2", lambda a: lg.linalg.matrix_power(a, -2), _conditioned((3, 3)),
           lambda a: np.linalg.matrix_power(a, -2), ("MatMul", "Inv")),
]

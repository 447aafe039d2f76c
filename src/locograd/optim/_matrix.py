"""Matrix functions for the second-order optimisers: symmetric eigendecompositions, the largest
eigenvalue by power iteration, and inverse p-th roots by ``eigh`` or by coupled Newton iteration.

Everything here works in float64 on symmetric positive semi-definite matrices (curvature
statistics such as Shampoo's ``G G^T`` sums and K-FAC's Kronecker factors) and reports a failure
by raising ``RootError``, which the optimisers catch: a failed root keeps the previous
preconditioner instead of stopping training.

A matrix on a device stays there: every function computes with its array namespace (``xp``:
NumPy, CuPy's ``cupy.linalg.eigh`` on a GPU, the CPU stand-in in tests), and only the scalars
that steer the iterations (the largest eigenvalue, Newton's error) come back to the host.

References:
    Guo & Higham, "A Schur-Newton Method for the Matrix p-th Root and its Inverse", SIAM J.
    Matrix Anal. Appl. 28(3), 2006 (the coupled Newton iteration).
    Anil, Gupta, Koren, Regan & Singer, "Scalable Second Order Optimization for Deep Learning",
    arXiv:2002.09018, 2020 (the ridge relative to the largest eigenvalue, the failure check).
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import namespace
from ..backend.devices import device_of, to_device

__all__ = ["RootError", "symmetric_eigh", "from_eigen", "power_iteration", "inverse_pth_root",
           "root_error"]


class RootError(ArithmeticError):
    """A matrix function could not be computed (non-finite input or result, no convergence)."""


def _xp(matrix):
    """``(matrix as an array, its namespace)``: lists and the like become NumPy arrays."""
    try:
        return matrix, namespace(matrix)
    except TypeError:
        matrix = np.asarray(matrix)
        return matrix, np


def _eye_like(matrix, n: int, dtype=None):
    """The n x n identity on ``matrix``'s device."""
    xp = namespace(matrix)
    if xp is np:
        return np.eye(n, dtype=dtype or matrix.dtype)
    eye = xp.zeros_like(matrix, dtype=dtype or matrix.dtype, shape=(n, n))
    xp.fill_diagonal(eye, 1)
    return eye


def _as_square64(matrix, op: str) -> np.ndarray:
    matrix, xp = _xp(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"{op}: expected a square matrix, got shape {matrix.shape}")
    if matrix.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point matrix, got dtype {matrix.dtype}")
    matrix = matrix.astype(np.float64, copy=False)
    if not bool(xp.isfinite(matrix).all()):
        raise RootError(f"{op}: the {matrix.shape[0]}x{matrix.shape[0]} matrix has non-finite "
                        f"entries")
    return matrix


def symmetric_eigh(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending, negative rounding errors clipped to 0) and eigenvectors of a
    symmetric positive semi-definite matrix, computed in float64.

    Args:
        matrix: a square symmetric matrix (only its lower triangle is read, as LAPACK does).

    Returns:
        ``(eigenvalues, eigenvectors)`` with ``matrix ~= eigenvectors @ diag(eigenvalues) @
        eigenvectors.T``, both float64.

    Raises:
        RootError: non-finite entries, or LAPACK did not converge.

    Example:
        >>> import numpy as np
        >>> values, vectors = symmetric_eigh(np.diag([3.0, 1.0]))
        >>> values.tolist()
        [1.0, 3.0]
    """
    matrix = _as_square64(matrix, "symmetric_eigh")
    xp = namespace(matrix)
    try:
        values, vectors = xp.linalg.eigh(matrix)
    except np.linalg.LinAlgError as error:
        raise RootError(f"symmetric_eigh: eigh did not converge on the {matrix.shape[0]}x"
                        f"{matrix.shape[0]} matrix ({error})") from None
    if xp is not np and not bool(xp.isfinite(values).all()):  # cuSOLVER: NaN, no exception
        raise RootError(f"symmetric_eigh: eigh did not converge on the {matrix.shape[0]}x"
                        f"{matrix.shape[0]} matrix (non-finite eigenvalues)")
    xp.maximum(values, 0.0, out=values)  # a PSD matrix: tiny negative values are rounding
    return values, vectors


def from_eigen(vectors: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``vectors @ diag(values) @ vectors.T`` for non-negative ``values``, as ``W W^T`` with
    ``W = vectors * sqrt(values)``: NumPy computes a product with its own transpose by a
    symmetric rank-k update, half the FLOPs of a general matrix product.

    Example:
        >>> import numpy as np
        >>> from_eigen(np.eye(2), np.array([4.0, 9.0])).tolist()
        [[4.0, 0.0], [0.0, 9.0]]
    """
    half = vectors * namespace(values).sqrt(values)
    return half @ half.T


def power_iteration(matrix, iterations: int = 100, tolerance: float = 1e-6) -> float:
    """The largest eigenvalue of a symmetric positive semi-definite matrix, by power iteration.

    The start vector is a fixed irregular vector (not all-ones, which is an eigenvector of the
    smallest eigenvalue of matrices such as ``[[2, -1], [-1, 2]]``); the result is never below
    the largest diagonal entry, a lower bound of the largest eigenvalue of a PSD matrix.

    Args:
        matrix: a square symmetric PSD matrix.
        iterations: the most matrix-vector products.
        tolerance: stop when the Rayleigh quotient changes by less than this, relatively.

    Returns:
        The estimate, a Python float (0.0 for the zero matrix).

    Example:
        >>> import numpy as np
        >>> round(power_iteration(np.array([[2.0, -1.0], [-1.0, 2.0]])), 6)
        3.0
    """
    matrix = _as_square64(matrix, "power_iteration")
    xp = namespace(matrix)
    n = matrix.shape[0]
    vector = 1.0 + 0.5 * np.cos(np.arange(n) * 2.399963)  # golden-angle samples: no symmetry
    vector /= np.linalg.norm(vector)
    vector = to_device(vector, device_of(matrix))  # the start vector, copied to the device
    estimate = 0.0
    for _ in range(iterations):
        product = matrix @ vector
        new_estimate = float(vector @ product)
        norm = float(xp.linalg.norm(product))
        if norm == 0.0:
            break
        vector = product / norm
        if abs(new_estimate - estimate) <= tolerance * abs(new_estimate):
            estimate = new_estimate
            break
        estimate = new_estimate
    return max(estimate, float(xp.diag(matrix).max()) if n else 0.0, 0.0)


def inverse_pth_root(matrix, p: int, epsilon: float = 1e-6, method: str = "eigh",
                     iterations: int = 100, tolerance: float = 1e-6,
                     failure_threshold: float = 0.1) -> np.ndarray:
    """``(matrix + epsilon * lambda_max * I)^(-1/p)`` of a symmetric PSD matrix, in float64.

    The ridge is relative to the largest eigenvalue ``lambda_max`` (from the eigenvalues with
    ``'eigh'``, by power iteration with ``'newton'``), so it bounds the condition number by
    about ``1/epsilon`` whatever the scale of the matrix.

    Methods:
        ``'eigh'``: ``Q diag((lambda + ridge)^(-1/p)) Q^T`` from a float64 eigendecomposition
        (negative rounding errors in lambda clipped to 0).

        ``'newton'``: the coupled Newton iteration of Guo & Higham, with ``A = matrix + ridge``
        and ``z = (1 + p) / (2 lambda_max(A))``::

            X_0 = z^(1/p) I,  M_0 = z A                      (M_k = X_k^p A throughout)
            T_k = ((p + 1) I - M_k) / p
            X_{k+1} = X_k T_k,  M_{k+1} = T_k^p M_k           until max|M_k - I| <= tolerance

        ``X_k -> A^(-1/p)`` as ``M_k -> I``. The entry-wise error may grow in the first steps;
        once it is below ``failure_threshold``, growth by more than 1.2x means rounding has
        taken over and stops the iteration. The best iterate is returned.

    Args:
        matrix: a square symmetric PSD matrix (any float dtype).
        p: the root's order, a positive int.
        epsilon: the ridge, relative to the largest eigenvalue (>= 0).
        method: ``'eigh'`` or ``'newton'``.
        iterations, tolerance: the most Newton steps and the target ``max|M - I|``.
        failure_threshold: Newton only: a final ``max|M - I|`` above this is a failure.

    Returns:
        The root, a float64 array of the matrix's shape.

    Raises:
        RootError: non-finite input or result, a zero matrix (no scale to take a root of),
            eigh not converging, or Newton's error above ``failure_threshold``.

    Example:
        >>> import numpy as np
        >>> root = inverse_pth_root(np.diag([16.0, 1.0]), p=4, epsilon=0.0)
        >>> np.round(np.diag(root), 6).tolist()
        [0.5, 1.0]
    """
    if not isinstance(p, (int, np.integer)) or isinstance(p, bool) or p < 1:
        raise ValueError(f"inverse_pth_root: p must be a positive int, got {p!r}")
    if not epsilon >= 0.0:
        raise ValueError(f"inverse_pth_root: epsilon must be >= 0, got {epsilon!r}")
    if method == "eigh":
        values, vectors = symmetric_eigh(matrix)
        largest = float(values[-1]) if values.size else 0.0
        if not largest > 0.0:
            raise RootError("inverse_pth_root: the matrix is zero, it has no inverse root")
        values += epsilon * largest
        with np.errstate(all="ignore"):  # a zero eigenvalue without ridge: caught below
            root = from_eigen(vectors, values ** (-1.0 / p))
    elif method == "newton":
        root = _coupled_newton(_as_square64(matrix, "inverse_pth_root"), int(p), epsilon,
                               iterations, tolerance, failure_threshold)
    else:
        raise ValueError(f"inverse_pth_root: method must be 'eigh' or 'newton', got {method!r}")
    if not bool(namespace(root).isfinite(root).all()):
        raise RootError(f"inverse_pth_root: the {p}-th root of the {root.shape[0]}x"
                        f"{root.shape[0]} matrix is not finite (raise epsilon)")
    return root


def _coupled_newton(matrix, p, epsilon, iterations, tolerance, failure_threshold):
    n = matrix.shape[0]
    xp = namespace(matrix)
    largest = power_iteration(matrix)
    if not largest > 0.0:
        raise RootError("inverse_pth_root: the matrix is zero, it has no inverse root")
    identity = _eye_like(matrix, n)
    z = (1.0 + p) / (2.0 * largest * (1.0 + epsilon))
    root = identity * z ** (1.0 / p)
    m = (matrix + (epsilon * largest) * identity) * z
    error = float(xp.abs(m - identity).max())
    best, best_error = root, error
    with np.errstate(all="ignore"):  # an ill-posed input may overflow: the error check decides
        for _ in range(iterations):
            if error <= tolerance:
                break
            t = ((p + 1.0) * identity - m) / p
            root = root @ t
            m = xp.linalg.matrix_power(t, p) @ m
            error = float(xp.abs(m - identity).max())
            if not math.isfinite(error):
                break
            if error < best_error:
                best, best_error = root, error
            elif best_error < failure_threshold and error > 1.2 * best_error:
                break  # growing after it had converged: rounding has taken over
    if not best_error <= failure_threshold:
        raise RootError(f"inverse_pth_root: coupled Newton reached max|X^p A - I| = "
                        f"{best_error:.3g} > {failure_threshold} on the {n}x{n} matrix (raise "
                        f"epsilon)")
    return best


def root_error(matrix, root, p: int) -> float:
    """``max|root^p @ matrix - I|``: how far ``root`` is from ``matrix^(-1/p)`` (0 when exact).

    A root of the wrong order fails this check on any matrix whose eigenvalues are not all 1.

    Example:
        >>> import numpy as np
        >>> a = np.diag([16.0, 1.0])
        >>> root_error(a, np.diag([0.5, 1.0]), 4), root_error(a, np.diag([0.5, 1.0]), 2)
        (0.0, 3.0)
    """
    matrix, xp = _xp(matrix)
    matrix = matrix.astype(np.float64)
    root, _ = _xp(root)
    power = xp.linalg.matrix_power(root.astype(np.float64), p)
    return float(xp.abs(power @ matrix - _eye_like(matrix, matrix.shape[0])).max())

"""Inverse p-th roots, power iteration and eigendecompositions of ``optim._matrix``.

Every check uses random SPD matrices with a known spectrum, ``Q diag(lambda) Q^T`` with a random
orthogonal ``Q``: the exact root ``Q diag(lambda^(-1/p)) Q^T`` is known, and a root of the wrong
order fails (identity matrices, whose roots of every order agree, would prove nothing).
"""
import numpy as np
import pytest

from locograd.optim._matrix import (RootError, inverse_pth_root, power_iteration, root_error,
                                    symmetric_eigh)


def random_orthogonal(n, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # a uniformly random orthogonal matrix


def spd_with_spectrum(spectrum, seed=0):
    q = random_orthogonal(len(spectrum), seed)
    return (q * spectrum) @ q.T, q


def exact_root(spectrum, q, p):
    return (q * np.asarray(spectrum, dtype=np.float64) ** (-1.0 / p)) @ q.T


SPECTRUM = np.logspace(-2, 2, 12)  # condition number 1e4, eigenvalues spread over 4 decades


@pytest.mark.parametrize("method", ["eigh", "newton"])
@pytest.mark.parametrize("p", [2, 4, 8])
def test_inverse_root_matches_the_known_spectrum(method, p):
    matrix, q = spd_with_spectrum(SPECTRUM, seed=p)
    root = inverse_pth_root(matrix, p, epsilon=0.0, method=method)
    expected = exact_root(SPECTRUM, q, p)
    scale = np.abs(expected).max()
    assert np.abs(root - expected).max() <= 1e-5 * scale, \
        f"{method} p={p}: max error {np.abs(root - expected).max():.3g}"
    np.testing.assert_allclose(np.linalg.eigvalsh(root), np.sort(SPECTRUM ** (-1.0 / p)),
                               rtol=1e-5)
    assert root_error(matrix, root, p) < 1e-5


@pytest.mark.parametrize("method", ["eigh", "newton"])
@pytest.mark.parametrize("p, wrong", [(2, 4), (4, 2), (4, 8), (8, 4)])
def test_a_root_of_the_wrong_order_fails_the_check(method, p, wrong):
    matrix, _ = spd_with_spectrum(SPECTRUM, seed=10 + p)
    right_root = inverse_pth_root(matrix, p, epsilon=0.0, method=method)
    wrong_root = inverse_pth_root(matrix, wrong, epsilon=0.0, method=method)
    assert root_error(matrix, right_root, p) < 1e-5
    # The wrong order leaves lambda^(1 - p/wrong) of the spectrum: far from 1 at both ends.
    assert root_error(matrix, wrong_root, p) > 1.0
    assert root_error(matrix, right_root, wrong) > 1.0


def test_the_ridge_is_relative_to_the_largest_eigenvalue():
    spectrum = np.array([1e-9, 1e-3, 1.0, 50.0])
    matrix, q = spd_with_spectrum(spectrum, seed=3)
    epsilon = 1e-4
    for scale in (1e-6, 1.0, 1e6):  # the ridge scales with the matrix: same root up to scale
        root = inverse_pth_root(scale * matrix, 4, epsilon=epsilon, method="eigh")
        shifted = scale * (spectrum + epsilon * 50.0)
        np.testing.assert_allclose(root, exact_root(shifted, q, 4), rtol=1e-6)
    newton = inverse_pth_root(matrix, 4, epsilon=epsilon, method="newton")
    np.testing.assert_allclose(newton, exact_root(spectrum + epsilon * 50.0, q, 4), rtol=1e-5)


def test_a_singular_matrix_needs_the_ridge():
    spectrum = np.array([0.0, 0.0, 1.0, 3.0])  # rank 2: no inverse root without a ridge
    matrix, q = spd_with_spectrum(spectrum, seed=4)
    with pytest.raises(RootError, match="Newton"):
        inverse_pth_root(matrix, 4, epsilon=0.0, method="newton", iterations=30)
    with pytest.raises(RootError, match="not finite"):
        inverse_pth_root(np.diag([0.0, 1.0]), 4, epsilon=0.0, method="eigh")
    root = inverse_pth_root(matrix, 4, epsilon=1e-3, method="newton")
    np.testing.assert_allclose(root, exact_root(spectrum + 3e-3, q, 4), rtol=1e-5, atol=1e-8)


def test_failures_raise_root_error():
    bad = np.eye(3)
    bad[1, 1] = np.nan
    for method in ("eigh", "newton"):
        with pytest.raises(RootError, match="non-finite"):
            inverse_pth_root(bad, 4, method=method)
        with pytest.raises(RootError, match="zero"):
            inverse_pth_root(np.zeros((3, 3)), 4, method=method)
    with pytest.raises(ValueError, match="method"):
        inverse_pth_root(np.eye(2), 4, method="svd")
    with pytest.raises(ValueError, match="positive int"):
        inverse_pth_root(np.eye(2), 0)
    with pytest.raises(ValueError, match="square"):
        inverse_pth_root(np.ones((2, 3)), 2)


def test_power_iteration_finds_the_largest_eigenvalue():
    for seed in range(3):  # gap 10 : 5 between the two largest: converges like 2^-k
        spectrum = np.append(np.random.default_rng(seed).uniform(0.1, 5.0, 19), 10.0)
        matrix, _ = spd_with_spectrum(spectrum, seed)
        assert power_iteration(matrix, iterations=200, tolerance=1e-14) == \
            pytest.approx(10.0, rel=1e-9)
    # all-ones is the eigenvector of the *smallest* eigenvalue here; the start vector is not
    assert power_iteration(np.array([[2.0, -1.0], [-1.0, 2.0]])) == pytest.approx(3.0)
    assert power_iteration(np.zeros((3, 3))) == 0.0
    # never below 0 (as before the device path): a negative-definite input is not "largest < 0"
    assert power_iteration(np.array([[-2.0, 0.0], [0.0, -1.0]])) == 0.0
    assert power_iteration(np.zeros((0, 0))) == 0.0


def test_symmetric_eigh_clips_rounding_below_zero():
    matrix, _ = spd_with_spectrum(np.array([0.0, 0.0, 2.0, 5.0]), seed=5)
    values, vectors = symmetric_eigh(matrix.astype(np.float32))
    assert values.dtype == np.float64 and values.min() >= 0.0
    np.testing.assert_allclose(values, [0.0, 0.0, 2.0, 5.0], atol=1e-5)
    np.testing.assert_allclose((vectors * values) @ vectors.T, matrix, atol=1e-5)

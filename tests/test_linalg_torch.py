"""locograd.linalg, einsum and the products against PyTorch: values and float64 gradients
(through gauge-invariant functions of eigen-/singular vectors), second order where PyTorch has
it, named results, lstsq's fields, singular and empty matrices, dtypes and errors."""
from __future__ import annotations

import numpy as np
import pytest

import locograd as lg

torch = pytest.importorskip("torch")
rng = np.random.default_rng(13)


def _compare(lfn, tfn, *arrays, second=False, atol=1e-8):
    """Values, gradients (and gradients of gradients) of ``lfn`` and ``tfn`` on ``arrays``."""
    lt = [lg.tensor(a, requires_grad=True) for a in arrays]
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    lo, to = lfn(*lt), tfn(*tt)
    lo, to = (tuple(lo), tuple(to)) if isinstance(lo, tuple) else ((lo,), (to,))
    for a, b in zip(lo, to):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=1e-7)
    live = [(a, b) for a, b in zip(lo, to) if b.requires_grad]
    ws = [rng.standard_normal(tuple(b.shape)) for _, b in live]
    ls = sum((a * lg.tensor(w)).sum() for (a, _), w in zip(live, ws))
    ts = sum((b * torch.tensor(w)).sum() for (_, b), w in zip(live, ws))
    lgr = lg.grad(ls, lt, create_graph=second, allow_unused=True)
    tgr = torch.autograd.grad(ts, tt, create_graph=second, allow_unused=True)
    for a, b in zip(lgr, tgr):
        if b is not None:
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-7,
                                       rtol=1e-6)
    used = [(a, b) for a, b in zip(lgr, tgr) if b is not None and b.requires_grad]
    if second and used:
        vs = [rng.standard_normal(tuple(b.shape)) for _, b in used]
        l2 = lg.grad(sum((a * lg.tensor(v)).sum() for (a, _), v in zip(used, vs)), lt,
                     allow_unused=True)
        t2 = torch.autograd.grad(sum((b * torch.tensor(v)).sum() for (_, b), v in zip(used, vs)),
                                 tt, allow_unused=True)
        for a, b in zip(l2, t2):
            if b is not None:
                np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, rtol=1e-5)


def _both(name):
    return getattr(lg.linalg, name), getattr(torch.linalg, name)


def _spd(a):
    return a @ a.mT + 3 * (lg.eye(3, dtype=lg.float64) if isinstance(a, lg.Tensor)
                           else torch.eye(3, dtype=torch.float64))


SQ = rng.standard_normal((2, 3, 3))
TALL, WIDE = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 3, 5))


@pytest.mark.parametrize("name", ["det", "inv", "svdvals"])
def test_square_ops_match_torch_to_second_order(name):
    _compare(*_both(name), SQ, second=True)


def test_slogdet_logdet_cholesky_solve_match_torch():
    _compare(lambda a: tuple(lg.linalg.slogdet(a)), lambda a: tuple(torch.linalg.slogdet(a)), SQ,
             second=True)
    _compare(lambda a: lg.logdet(_spd(a)), lambda a: torch.logdet(_spd(a)), SQ)
    for upper in (False, True):
        _compare(lambda a: lg.linalg.cholesky(_spd(a), upper=upper),
                 lambda a: torch.linalg.cholesky(_spd(a), upper=upper), SQ, second=True)
    for b in (rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3)),
              rng.standard_normal((4, 1, 3, 2))):
        _compare(*_both("solve"), SQ, b, second=True)
    _compare(lambda a, b: lg.linalg.solve(a, b, left=False),
             lambda a, b: torch.linalg.solve(a, b, left=False), SQ, rng.standard_normal((2, 4, 3)))


@pytest.mark.parametrize("shape", [(2, 4, 3), (2, 3, 5), (3, 3)])
def test_qr_svd_pinv_match_torch(shape):
    a = rng.standard_normal(shape)
    _compare(lambda x: tuple(lg.linalg.qr(x)), lambda x: tuple(torch.linalg.qr(x)), a,
             second=True)
    gauge = lambda u, s, vh: (u * u, s, vh * vh, u[..., :, :1] * vh[..., :1, :])  # noqa: E731
    _compare(lambda x: gauge(*lg.linalg.svd(x, full_matrices=False)),
             lambda x: gauge(*torch.linalg.svd(x, full_matrices=False)), a, second=True)
    full = lambda u, s, vh: (s, u[..., :, :1] * vh[..., :1, :])  # noqa: E731
    _compare(lambda x: full(*lg.linalg.svd(x)), lambda x: full(*torch.linalg.svd(x)), a)
    _compare(*_both("pinv"), a, second=True)


def test_eigh_eigvalsh_and_hermitian_pinv_match_torch():
    sym = lambda a: a + a.mT  # noqa: E731
    gauge = lambda w, v: (w, v * v, v[..., :, :1] * v)  # noqa: E731
    for uplo in ("L", "U"):
        _compare(lambda a: gauge(*lg.linalg.eigh(sym(a), UPLO=uplo)),
                 lambda a: gauge(*torch.linalg.eigh(sym(a), UPLO=uplo)), SQ, second=True)
    _compare(lambda a: lg.linalg.eigvalsh(sym(a)), lambda a: torch.linalg.eigvalsh(sym(a)), SQ)
    _compare(lambda a: lg.linalg.pinv(sym(a), hermitian=True),
             lambda a: torch.linalg.pinv(sym(a), hermitian=True), SQ)
    # named results, as torch.return_types
    w, v = lg.linalg.eigh(lg.tensor(SQ))
    assert lg.linalg.eigh(lg.tensor(SQ)).eigenvectors.shape == v.shape == (2, 3, 3)
    assert lg.linalg.svd(lg.tensor(TALL)).Vh.shape == (2, 3, 3)
    assert lg.linalg.qr(lg.tensor(WIDE), mode="complete").Q.shape == (2, 3, 3)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf])
def test_matrix_norm_every_order_matches_torch(ord):
    for a in (TALL, WIDE):
        _compare(lambda x: lg.linalg.matrix_norm(x, ord), lambda x: torch.linalg.matrix_norm(x, ord),
                 a)
    _compare(lambda x: lg.linalg.matrix_norm(x, ord, dim=(2, 0), keepdim=True),
             lambda x: torch.linalg.matrix_norm(x, ord, dim=(2, 0), keepdim=True), TALL)


def test_vector_norm_linalg_norm_and_torch_norm_nuc():
    for ord, dim in ((2, None), (3, (0, 2)), (np.inf, -1), (-np.inf, 1), (0.5, (1,))):
        _compare(lambda x: lg.linalg.vector_norm(x, ord, dim),
                 lambda x: torch.linalg.vector_norm(x, ord, dim), TALL)
    _compare(lambda x: lg.linalg.norm(x), lambda x: torch.linalg.norm(x), TALL)
    _compare(lambda x: lg.linalg.norm(x, "nuc"), lambda x: torch.linalg.norm(x, "nuc"), TALL[0])
    _compare(lambda x: lg.linalg.norm(x, 1, dim=1), lambda x: torch.linalg.norm(x, 1, dim=1), TALL)
    _compare(lambda x: lg.norm(x, "nuc"), lambda x: torch.norm(x, "nuc"), TALL[0], second=True)
    _compare(lambda x: lg.norm(x, "nuc", dim=(0, 2), keepdim=True),
             lambda x: torch.norm(x, "nuc", dim=(0, 2), keepdim=True), TALL)
    with pytest.raises(ValueError, match="nuc"):
        lg.norm(lg.tensor(TALL), "nuc")
    with pytest.raises(TypeError, match="vector_norm.*floating"):
        lg.linalg.vector_norm(lg.tensor([1, 2]))


def test_lstsq_fields_follow_torch_drivers():
    a, b = TALL, rng.standard_normal((2, 4, 2))
    _compare(lambda x, y: lg.linalg.lstsq(x, y).solution,
             lambda x, y: torch.linalg.lstsq(x, y).solution, a, b, second=True)
    _compare(lambda x, y: lg.linalg.lstsq(x, y).solution,
             lambda x, y: torch.linalg.lstsq(x, y).solution, a, b[..., 0])
    for driver in (None, "gels", "gelsd", "gelss"):
        mine = lg.linalg.lstsq(lg.tensor(a), lg.tensor(b), driver=driver)
        ref = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        for field in ("solution", "residuals", "rank", "singular_values"):
            got, want = getattr(mine, field), getattr(ref, field)
            assert got.shape == tuple(want.shape), (driver, field)
            assert got.dtype == (np.int64 if want.dtype == torch.int64 else np.float64)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-7, atol=1e-10)
    deficient = np.concatenate([a[..., :2], a[..., :1]], -1)
    assert lg.linalg.lstsq(lg.tensor(deficient), lg.tensor(b)).rank.tolist() == [2, 2]
    with pytest.raises(ValueError, match="driver"):
        lg.linalg.lstsq(lg.tensor(a), lg.tensor(b), driver="gelsx")
    assert lg.linalg.matrix_rank(lg.tensor(deficient)).tolist() == \
        torch.linalg.matrix_rank(torch.tensor(deficient)).tolist()


def test_multi_dot_matrix_power_and_chain_order():
    shapes = [(4,), (4, 6), (6, 2), (2, 5)]
    _compare(lambda *t: lg.linalg.multi_dot(t), lambda *t: torch.linalg.multi_dot(t),
             *[rng.standard_normal(s) for s in shapes], second=True)
    for n in (-3, -1, 1, 2, 5):
        _compare(lambda a: lg.linalg.matrix_power(a, n),
                 lambda a: torch.linalg.matrix_power(a, n), SQ, second=True)
    eye = lg.linalg.matrix_power(lg.tensor(SQ), 0)
    np.testing.assert_array_equal(eye.numpy(), np.broadcast_to(np.eye(3), SQ.shape))
    x = lg.tensor(SQ)
    assert lg.linalg.matrix_power(x, 1) is not x


EINSUMS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ii", [(3, 3)]), ("ii->i", [(3, 3)]),
           ("bij,bjk", [(2, 2, 3), (2, 3, 2)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
           ("i,j", [(3,), (2,)]), ("ij->", [(2, 3)]), ("i,i->i", [(1,), (3,)]),
           ("iij,jk->ik", [(2, 2, 3), (3, 2)]), ("ab,bc,cd->ad", [(2, 3), (3, 4), (4, 2)]),
           ("...i->i", [(2, 3)]), ("ba", [(2, 3)]), ("ij,k->jk", [(2, 3), (2,)]),
           ("b i j , b j k -> b i k", [(2, 2, 3), (2, 3, 2)]), ("Aa,aB->AB", [(2, 3), (3, 2)])]


@pytest.mark.parametrize("eq,shapes", EINSUMS, ids=[e for e, _ in EINSUMS])
def test_einsum_matches_torch_to_second_order(eq, shapes):
    _compare(lambda *t: lg.einsum(eq, *t), lambda *t: torch.einsum(eq, *t),
             *[rng.standard_normal(s) for s in shapes], second=True)


def test_einsum_list_form_dtypes_and_errors():
    a = lg.ones(2, 3)
    assert lg.einsum("ij,jk", [a, lg.ones(3, 2)]).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert lg.einsum("ij->j", lg.ones(2, 3, dtype=lg.int64)).dtype == np.int64
    assert lg.einsum("ij->j", lg.ones(2, 3, dtype=lg.float32)).dtype == np.float32
    with pytest.raises(TypeError, match="einsum.*same dtype"):
        lg.einsum("ij,j->i", a, lg.ones(3, dtype=lg.float64).float().double())
    with pytest.raises(ValueError, match="einsum.*operand"):
        lg.einsum("ij,jk", a)
    with pytest.raises(ValueError, match="einsum.*do not match"):
        lg.einsum("ijk", a)
    with pytest.raises(ValueError, match="einsum.*broadcast"):
        lg.einsum("ij,ij->ij", a, lg.ones(3, 3))
    with pytest.raises(ValueError, match="einsum.*output subscript"):
        lg.einsum("ij->iz", a)
    v = lg.eye(3)
    d = lg.einsum("ii->i", v)
    d += 1.0  # not a view of the operand
    assert v.tolist() == np.eye(3).tolist()


def test_products_match_torch():
    r = rng.standard_normal
    _compare(lambda a, b: lg.tensordot(a, b, ([0, 2], [1, 0])),
             lambda a, b: torch.tensordot(a, b, ([0, 2], [1, 0])), r((2, 3, 4)), r((4, 2, 5)))
    _compare(lg.tensordot, torch.tensordot, r((2, 3, 4)), r((3, 4, 5)), second=True)
    _compare(lambda a, b: lg.tensordot(a, b, 0), lambda a, b: torch.tensordot(a, b, 0),
             r((2,)), r((3,)))
    _compare(lg.inner, torch.inner, r((2, 3)), r((4, 3)), second=True)
    _compare(lg.inner, torch.inner, r(()), r((4, 3)))
    _compare(lg.kron, torch.kron, r((2, 3)), r((2, 2, 2)), second=True)
    _compare(lambda a, b: lg.linalg.cross(a, b), lambda a, b: torch.linalg.cross(a, b),
             r((4, 3)), r((1, 3)), second=True)
    _compare(lambda a, b: lg.cross(a, b, dim=0), lambda a, b: torch.cross(a, b, dim=0),
             r((3, 2)), r((3, 2)))
    with pytest.warns(UserWarning):
        want = torch.cross(torch.ones(2, 3, 3), torch.eye(3).expand(2, 3, 3))
    np.testing.assert_allclose(lg.cross(lg.ones(2, 3, 3), lg.eye(3).expand(2, 3, 3)).numpy(),
                               want.numpy())
    kw = {"beta": 0.5, "alpha": 2.0}
    _compare(lambda i, a, b: lg.addmm(i, a, b, **kw), lambda i, a, b: torch.addmm(i, a, b, **kw),
             r(4), r((2, 3)), r((3, 4)), second=True)
    _compare(lambda i, a, b: lg.addmv(i, a, b, **kw), lambda i, a, b: torch.addmv(i, a, b, **kw),
             r(2), r((2, 3)), r(3))
    _compare(lambda i, a, b: lg.addr(i, a, b, **kw), lambda i, a, b: torch.addr(i, a, b, **kw),
             r((2, 4)), r(2), r(4))
    _compare(lambda i, a, b: lg.baddbmm(i, a, b, **kw),
             lambda i, a, b: torch.baddbmm(i, a, b, **kw), r((2, 1, 4)), r((2, 2, 3)), r((2, 3, 4)))
    _compare(lambda i, a, b: lg.addbmm(i, a, b, **kw),
             lambda i, a, b: torch.addbmm(i, a, b, **kw), r((2, 4)), r((3, 2, 3)), r((3, 3, 4)))
    nan = lg.addmm(lg.tensor([np.nan]), lg.eye(2), lg.eye(2), beta=0)
    assert nan.tolist() == [[1.0, 0.0], [0.0, 1.0]]  # beta=0 ignores the input, NaN included
    with pytest.raises(TypeError, match="tensordot.*same dtype"):
        lg.tensordot(lg.ones(2, 2), lg.ones(2, 2, dtype=lg.float64), 1)
    with pytest.raises(ValueError, match="tensordot: contracted dimensions"):
        lg.tensordot(lg.ones(2, 3), lg.ones(2, 3), 1)
    with pytest.raises(ValueError, match="cross.*length 3"):
        lg.linalg.cross(lg.ones(2, 4), lg.ones(2, 4))


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, np.inf, 0.5, 0.0])
def test_cdist_matches_torch(p):
    r = rng.standard_normal
    _compare(lambda a, b: lg.cdist(a, b, p), lambda a, b: torch.cdist(a, b, p),
             r((2, 3, 4)), r((2, 5, 4)))
    if p == 2.0:  # more than 25 rows: the matrix-product form, as torch
        _compare(lg.cdist, torch.cdist, r((30, 4)), r((5, 4)))
        same = lg.tensor(np.ones((2, 3)), requires_grad=True)
        lg.cdist(same, lg.tensor(np.ones((1, 3)))).sum().backward()
        assert same.grad.tolist() == [[0.0] * 3] * 2  # zero distance: zero gradient, as torch


def test_singular_empty_and_invalid_matrices():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    for a in (singular, np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [5.0, 7.0, 9.0]])):
        # the cofactor matrix (torch's recorded backward; its fast one gives 0 here)
        t = torch.tensor(a, requires_grad=True)
        (want,) = torch.autograd.grad(torch.linalg.det(t), t, create_graph=True)
        for create_graph in (False, True):
            x = lg.tensor(a, requires_grad=True)
            (got,) = lg.grad(lg.linalg.det(x), x, create_graph=create_graph)
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-12)
    with pytest.raises(lg.linalg.LinAlgError, match="linalg.inv.*singular"):
        lg.linalg.inv(lg.tensor(singular))
    with pytest.raises(lg.linalg.LinAlgError, match="linalg.cholesky.*positive-definite"):
        lg.linalg.cholesky(lg.tensor(-np.eye(2)))
    with pytest.raises(np.linalg.LinAlgError):  # also NumPy's error class
        lg.linalg.solve(lg.tensor(singular), lg.ones(2, dtype=lg.float64))
    with pytest.raises(TypeError, match="linalg.det.*floating"):
        lg.linalg.det(lg.tensor([[1, 2], [3, 4]]))
    with pytest.raises(ValueError, match="linalg.inv.*square"):
        lg.linalg.inv(lg.ones(2, 3))
    with pytest.raises(ValueError, match="linalg.qr.*at least 2"):
        lg.linalg.qr(lg.ones(3))
    with pytest.raises(ValueError, match="linalg.qr.*mode"):
        lg.linalg.qr(lg.ones(3, 3), mode="full")
    for name in ("det", "inv", "pinv", "svdvals"):
        mine = getattr(lg.linalg, name)(lg.zeros(2, 0, 0))
        want = getattr(torch.linalg, name)(torch.zeros(2, 0, 0))
        assert mine.shape == tuple(want.shape)
        np.testing.assert_allclose(mine.numpy(), want.numpy())
    assert lg.linalg.pinv(lg.zeros(0, 3)).shape == (3, 0)
    r = lg.linalg.qr(lg.tensor(TALL, requires_grad=True), mode="r")
    with pytest.raises(RuntimeError, match="mode='r'"):
        r.R.sum().backward()


def test_float32_stays_float32_and_is_close():
    for name in ("det", "inv", "svdvals", "pinv"):
        f32 = getattr(lg.linalg, name)(lg.tensor(SQ, dtype=lg.float32))
        assert f32.dtype == np.float32
        np.testing.assert_allclose(f32.numpy(), getattr(lg.linalg, name)(lg.tensor(SQ)).numpy(),
                                   rtol=1e-3, atol=1e-4)
    x = lg.tensor(SQ, dtype=lg.float32, requires_grad=True)
    lg.linalg.matrix_norm(x, "nuc").sum().backward()
    assert x.grad.dtype == np.float32
    assert lg.cdist(lg.ones(2, 3), lg.zeros(4, 3)).dtype == np.float32

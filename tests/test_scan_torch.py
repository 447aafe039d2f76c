"""The scans, NaN-aware reductions and order statistics of issue 13 against PyTorch: cumprod,
cummax/cummin, logcumsumexp, diff, nansum/nanmean, aminmax, trace, median/nanmedian, kthvalue,
mode, quantile/nanquantile, bincount and unique. Values, indices, dtypes and float64 gradients,
on ties, zeros, NaN, infinities, 0-d and empty tensors, negative dims and keepdim."""
from __future__ import annotations

import numpy as np
import pytest

import locograd as lg

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")
A = np.array([[0.5, -1.5, 2.0, 0.25], [3.0, -0.75, 1.25, -2.5], [1.0, 0.0, -0.5, 4.0]])
TIES = np.array([[1.0, 2.0, 2.0, 1.0, 3.0], [5.0, 5.0, 4.0, 4.0, 4.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
ZEROS = np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 2.0, -1.0, 0.5,
                                                                          0.0]])
WITH_NAN = np.array([[1.0, NAN, 3.0, 2.0], [NAN, NAN, NAN, NAN], [4.0, -1.0, 0.5, 7.0]])


def _as_tuple(out):
    return tuple(out) if isinstance(out, tuple) else (out,)


def _compare(ours_fn, theirs_fn, array, indices=True, grad=True, rtol=1e-12):
    """Values (NaN where torch's are), shapes, dtypes, indices (unless ``indices`` is False:
    which of tied entries is implementation-defined), then the gradient of a random output
    gradient given to backward."""
    x = lg.tensor(np.array(array, dtype=np.float64), requires_grad=grad)
    t = torch.tensor(np.array(array, dtype=np.float64), requires_grad=grad)
    outs, refs = _as_tuple(ours_fn(x)), _as_tuple(theirs_fn(t))
    assert len(outs) == len(refs)
    for k, (o, r) in enumerate(zip(outs, refs)):
        r = r.detach().numpy()
        assert o.shape == r.shape and o.dtype == r.dtype, (k, o.shape, o.dtype, r.shape, r.dtype)
        if o.dtype.kind == "f" or indices:
            np.testing.assert_allclose(o.numpy(), r, rtol=rtol, atol=1e-12, err_msg=f"output {k}")
    if not grad:
        return
    rng = np.random.default_rng(0)
    live = [(o, r, rng.standard_normal(o.shape)) for o, r in zip(outs, refs) if o.requires_grad]
    lg.autograd.backward([o for o, _, _ in live], [lg.tensor(w) for _, _, w in live])
    torch.autograd.backward([r for _, r, _ in live], [torch.tensor(w) for _, _, w in live])
    expected = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=rtol, atol=1e-12)


# ------------------------------------------------------------------ scans

@pytest.mark.parametrize("array", [A, ZEROS, np.zeros((3, 2)), np.array([0.0, 0.0, 2.0])],
                         ids=["plain", "zeros", "all-zero", "leading-zeros"])
@pytest.mark.parametrize("dim", [0, -1])
def test_cumprod_matches_torch_with_zeros(array, dim):
    _compare(lambda x: lg.cumprod(x, dim), lambda t: torch.cumprod(t, dim), array)


def test_cumprod_second_order_with_zeros_matches_torch():
    x = lg.tensor(ZEROS, requires_grad=True)
    t = torch.tensor(ZEROS, requires_grad=True)
    w = np.random.default_rng(1).standard_normal(ZEROS.shape)
    (g,) = lg.grad((lg.cumprod(x, 1) * lg.tensor(w)).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((torch.cumprod(t, 1) * torch.tensor(w)).sum(), t,
                                create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-12)
    (gg,) = lg.grad((g * g).sum(), x)
    (tgg,) = torch.autograd.grad((tg * tg).sum(), t)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-10, atol=1e-12)


def test_cumprod_dtypes_0d_and_empty_match_torch():
    ints = lg.cumprod(lg.tensor([1, 2, 3], dtype=lg.int32), 0)
    assert ints.dtype == np.int64 and ints.tolist() == [1, 2, 6]
    assert lg.cumprod(lg.tensor([1.0, 2.0]), 0, dtype=lg.float64).dtype == np.float64
    _compare(lambda x: lg.cumprod(x, 0), lambda t: torch.cumprod(t, 0), np.array(-1.5))
    _compare(lambda x: lg.cumprod(x, 1), lambda t: torch.cumprod(t, 1), np.zeros((2, 0)))
    with pytest.raises(IndexError, match="cumprod: dimension out of range"):
        lg.cumprod(lg.ones(2), 1)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("array", [A, TIES, np.array([1.0, NAN, 3.0, NAN, -2.0]),
                                   np.array([[-INF, 2.0, INF]]), np.array(0.5),
                                   np.zeros((0, 2))],
                         ids=["plain", "ties", "nan", "inf", "0d", "empty"])
def test_cummax_cummin_values_indices_and_gradients_match_torch(name, array):
    for dim in ((0, -1) if np.ndim(array) else (0,)):
        _compare(lambda x: tuple(getattr(lg, name)(x, dim)),
                 lambda t: tuple(getattr(torch, name)(t, dim)), array)


@pytest.mark.parametrize("array", [A, np.array([-1000.0, 0.0, -1000.0, 5.0]),
                                   np.array([[-INF, 0.0, -INF], [1e300, 1.0, -1e300]]),
                                   np.array(2.0), np.zeros((0, 3))],
                         ids=["plain", "wide-range", "infinite", "0d", "empty"])
def test_logcumsumexp_matches_torch(array):
    for dim in ((0, -1) if np.ndim(array) else (0,)):
        _compare(lambda x: lg.logcumsumexp(x, dim), lambda t: torch.logcumsumexp(t, dim),
                 array, rtol=1e-10)
    with pytest.raises(TypeError, match="logcumsumexp: expects a floating-point tensor"):
        lg.logcumsumexp(lg.tensor([1, 2]), 0)


@pytest.mark.parametrize("kwargs", [{}, {"n": 2}, {"n": 0}, {"n": 9}, {"dim": 0},
                                    {"n": 2, "dim": 0}])
def test_diff_matches_torch(kwargs):
    _compare(lambda x: lg.diff(x, **kwargs), lambda t: torch.diff(t, **kwargs), A)


def test_diff_prepend_append_and_bool_match_torch():
    p, a = np.array([[9.0], [8.0], [7.0]]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    ours = lg.diff(lg.tensor(A), n=2, prepend=lg.tensor(p), append=lg.tensor(a))
    theirs = torch.diff(torch.tensor(A), n=2, prepend=torch.tensor(p), append=torch.tensor(a))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    b = np.array([True, True, False, True])
    assert lg.diff(lg.tensor(b)).tolist() == torch.diff(torch.tensor(b)).tolist()
    with pytest.raises(RuntimeError, match="diff: expects input to be at least one-dimen"):
        lg.diff(lg.tensor(1.0))
    with pytest.raises(ValueError, match="diff: prepend"):
        lg.diff(lg.tensor(A), prepend=lg.tensor(1.0))


# ------------------------------------------------------------------ NaN-aware, aminmax, trace

@pytest.mark.parametrize("name", ["nansum", "nanmean"])
@pytest.mark.parametrize("args", [(), (0,), (1, True), ((0, 1),), (-1,)])
def test_nansum_nanmean_match_torch(name, args):
    _compare(lambda x: getattr(lg, name)(x, *args), lambda t: getattr(torch, name)(t, *args),
             WITH_NAN[[0, 2]])
    # A row of NaN only: the mean is NaN as torch's. Its entries' gradient is 0 here (they are
    # NaN entries, which nanmean ignores); torch gives NaN there (0 * inf through its 0 count).
    _compare(lambda x: getattr(lg, name)(x, *args), lambda t: getattr(torch, name)(t, *args),
             WITH_NAN, grad=name == "nansum")


def test_nansum_of_integers_and_nanmean_refusing_them():
    ours, theirs = lg.nansum(lg.tensor([1, 2, 3])), torch.nansum(torch.tensor([1, 2, 3]))
    assert ours.dtype == np.int64 and ours.item() == theirs.item()
    with pytest.raises(TypeError, match="nanmean: expects a floating-point tensor"):
        lg.nanmean(lg.tensor([1, 2]))


@pytest.mark.parametrize("kwargs", [{}, {"keepdim": True}, {"dim": 0}, {"dim": -1,
                                                                       "keepdim": True}])
def test_aminmax_matches_torch(kwargs):
    for array in (A, TIES):  # ties share the gradient, as torch's
        _compare(lambda x: tuple(lg.aminmax(x, **kwargs)),
                 lambda t: tuple(torch.aminmax(t, **kwargs)), array)
    assert lg.aminmax(lg.tensor(A)).max.item() == 4.0


@pytest.mark.parametrize("array", [A, A[:, :3], A.T, np.zeros((0, 3))],
                         ids=["wide", "square", "tall", "empty"])
def test_trace_matches_torch(array):
    _compare(lg.trace, torch.trace, array)
    ints = np.arange(6).reshape(2, 3)
    assert lg.trace(lg.tensor(ints)).dtype == np.int64
    assert lg.trace(lg.tensor(ints)).item() == torch.trace(torch.tensor(ints)).item()
    with pytest.raises(RuntimeError, match="trace: expected a matrix"):
        lg.trace(lg.ones(3))


# ------------------------------------------------------------------ order statistics

@pytest.mark.parametrize("name", ["median", "nanmedian"])
@pytest.mark.parametrize("array", [A, TIES, WITH_NAN, np.array([NAN, NAN]), np.array(1.5),
                                   np.array([])],
                         ids=["plain", "ties", "nan", "all-nan", "0d", "empty"])
def test_median_of_everything_matches_torch(name, array):
    """The gradient is shared between the entries equal to the median (or NaN), as torch's."""
    _compare(getattr(lg, name), getattr(torch, name), array)


@pytest.mark.parametrize("name", ["median", "nanmedian"])
@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, True), (-1, False)])
def test_median_along_a_dim_matches_torch(name, dim, keepdim):
    # distinct values: indices too; NaN rows: the first NaN's index, as torch
    _compare(lambda x: tuple(getattr(lg, name)(x, dim, keepdim)),
             lambda t: tuple(getattr(torch, name)(t, dim, keepdim)), A)
    _compare(lambda x: tuple(getattr(lg, name)(x, dim, keepdim)),
             lambda t: tuple(getattr(torch, name)(t, dim, keepdim)), WITH_NAN[[0, 2]])
    # a row of NaN only: which NaN nanmedian's index names is implementation-defined
    _compare(lambda x: getattr(lg, name)(x, dim, keepdim).values,
             lambda t: getattr(torch, name)(t, dim, keepdim).values, WITH_NAN, grad=False)
    # ties: which of the tied entries is returned is implementation-defined
    _compare(lambda x: getattr(lg, name)(x, dim, keepdim).values,
             lambda t: getattr(torch, name)(t, dim, keepdim).values, TIES, grad=False)


@pytest.mark.parametrize("k, dim", [(1, 0), (3, 0), (2, -1), (4, 1)])
def test_kthvalue_matches_torch(k, dim):
    _compare(lambda x: tuple(lg.kthvalue(x, k, dim)), lambda t: tuple(torch.kthvalue(t, k, dim)),
             A)
    _compare(lambda x: tuple(lg.kthvalue(x, k, dim, keepdim=True)),
             lambda t: tuple(torch.kthvalue(t, k, dim, keepdim=True)), A)
    with pytest.raises(IndexError, match="kthvalue: k"):
        lg.kthvalue(lg.tensor(A), 5, 0)


@pytest.mark.parametrize("array, dim", [(TIES, -1), (TIES, 0), (A, 1),
                                        (np.array([3.0, 1.0, 1.0, 2.0, 2.0, 5.0]), 0),
                                        (np.array(2.0), 0)])
def test_mode_matches_torch_with_ties(array, dim):
    """The smallest most frequent value and its last index, as torch."""
    _compare(lambda x: tuple(lg.mode(x, dim)), lambda t: tuple(torch.mode(t, dim)), array)
    _compare(lambda x: tuple(lg.mode(x, dim, keepdim=True)),
             lambda t: tuple(torch.mode(t, dim, keepdim=True)), array)


def test_order_statistics_refuse_empty_dims():
    for fn in (lambda x: lg.median(x, 1), lambda x: lg.mode(x, 1),
               lambda x: lg.nanmedian(x, -1)):
        with pytest.raises(IndexError, match="to have non-zero size"):
            fn(lg.zeros(2, 0))


Q = [0.0, 0.1, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_matches_torch(name, interpolation):
    ours, theirs = getattr(lg, name), getattr(torch, name)
    for q in (0.3, 0.5):
        for kwargs in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"keepdim": True}):
            _compare(lambda x: ours(x, q, interpolation=interpolation, **kwargs),
                     lambda t: theirs(t, q, interpolation=interpolation, **kwargs), A)
    _compare(lambda x: ours(x, lg.tensor(Q, dtype=lg.float64), dim=-1,
                            interpolation=interpolation),
             lambda t: theirs(t, torch.tensor(Q, dtype=torch.float64), dim=-1,
                              interpolation=interpolation), A)
    # NaN rows: NaN for quantile, the other entries for nanquantile
    _compare(lambda x: ours(x, lg.tensor(Q, dtype=lg.float64), dim=1, keepdim=True,
                            interpolation=interpolation),
             lambda t: theirs(t, torch.tensor(Q, dtype=torch.float64), dim=1, keepdim=True,
                              interpolation=interpolation), WITH_NAN)


def test_quantile_edge_cases_and_errors_match_torch():
    _compare(lambda x: lg.quantile(x, 0.4), lambda t: torch.quantile(t, 0.4), np.array(2.5))
    _compare(lambda x: lg.quantile(x, lg.tensor(0.4, dtype=lg.float64), dim=0),
             lambda t: torch.quantile(t, torch.tensor(0.4, dtype=torch.float64), dim=0), A)
    f32 = lg.quantile(lg.tensor(A, dtype=lg.float32), 0.25, dim=1)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(
        f32.numpy(), torch.quantile(torch.tensor(A, dtype=torch.float32), 0.25, dim=1).numpy())
    x = lg.tensor(A)
    with pytest.raises(ValueError, match=r"quantile: q values must be in the range \[0, 1\]"):
        lg.quantile(x, 1.5)
    with pytest.raises(TypeError, match="quantile: q .* must have the input's dtype"):
        lg.quantile(x, lg.tensor([0.5], dtype=lg.float32))
    with pytest.raises(TypeError, match="quantile: the input must be a floating-point"):
        lg.quantile(lg.tensor([1, 2]), 0.5)
    with pytest.raises(ValueError, match="quantile: interpolation must be one of"):
        lg.quantile(x, 0.5, interpolation="cubic")
    with pytest.raises(ValueError, match="quantile: the input must be non-empty"):
        lg.quantile(lg.zeros(0), 0.5)


# ------------------------------------------------------------------ counting

@pytest.mark.parametrize("values, weights, minlength", [
    ([0, 1, 1, 4], None, 0), ([2, 2], None, 5), ([], None, 3), ([0, 3, 3], [0.5, 1.0, 2.0], 0),
    ([1, 1], np.array([1.5, 2.5], np.float32), 4), ([0, 2], np.array([3, 4]), 0)])
def test_bincount_matches_torch(values, weights, minlength):
    x = np.array(values, dtype=np.int64)
    w = None if weights is None else np.asarray(weights)
    ours = lg.bincount(lg.tensor(x), None if w is None else lg.tensor(w), minlength)
    theirs = torch.bincount(torch.tensor(x), None if w is None else torch.tensor(w), minlength)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())


def test_bincount_refuses_what_torch_refuses():
    with pytest.raises(ValueError, match="bincount: only supports non-negative"):
        lg.bincount(lg.tensor([1, -1]))
    with pytest.raises(ValueError, match="bincount: only supports 1-D"):
        lg.bincount(lg.tensor([[1]]))
    with pytest.raises(ValueError, match="bincount: only supports 1-D"):
        lg.bincount(lg.tensor([1.0]))
    with pytest.raises(ValueError, match="bincount: weights"):
        lg.bincount(lg.tensor([1, 2]), lg.tensor([1.0]))


@pytest.mark.parametrize("flags", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("array", [np.array([[3, 1, 2], [1, 3, 3]]), np.array([2.5, NAN, 1.0,
                                                                               NAN, 2.5]),
                                   np.array(4), np.zeros(0, dtype=np.int64)],
                         ids=["ints", "nan", "0d", "empty"])
def test_unique_matches_torch(flags, array):
    inverse, counts = flags
    ours = _as_tuple(lg.unique(lg.tensor(array), return_inverse=inverse, return_counts=counts))
    theirs = _as_tuple(torch.unique(torch.tensor(array), return_inverse=inverse,
                                    return_counts=counts))
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert o.shape == tuple(t.shape) and str(o.dtype) == str(t.dtype).replace("torch.", "")
        np.testing.assert_array_equal(o.numpy(), t.numpy())


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unique_along_a_dim_matches_torch(dim):
    array = np.array([[1, 2, 1], [3, 4, 3], [1, 2, 1]])
    ours = lg.unique(lg.tensor(array), dim=dim, return_inverse=True, return_counts=True)
    theirs = torch.unique(torch.tensor(array), dim=dim, return_inverse=True, return_counts=True)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())

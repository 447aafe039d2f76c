"""Reductions and shape ops against PyTorch: the issue 13 cases of ops/reduce.py and ops/shape.py
(var/std overloads, norm's p=-inf/0/'nuc', empty softmax dims, movedim with sequences, dim 0 of
a 0-d tensor, the 0-d prod at zero, NumPy's axis/keepdims names, tril/triu/diag input checks)."""
from __future__ import annotations

import numpy as np
import pytest

import locograd as lg

torch = pytest.importorskip("torch")

X = np.array([[0.5, -1.5, 2.0, 0.25], [3.0, -0.75, 1.25, -2.5], [1.0, 0.0, -0.5, 4.0]])


def _pair(array):
    """The same float64 leaf in locograd and in torch."""
    return (lg.tensor(np.array(array, dtype=np.float64), requires_grad=True),
            torch.tensor(np.array(array, dtype=np.float64), requires_grad=True))


def _check(fn_lg, fn_torch, array=X, grad=True):
    """Values (and shapes, dtypes) agree, and the gradients of ``sum(out * w)`` too."""
    x, t = _pair(array)
    out, ref = fn_lg(x), fn_torch(t)
    outs = out if isinstance(out, tuple) else (out,)
    refs = ref if isinstance(ref, tuple) else (ref,)
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        r = r.detach().numpy()
        assert o.shape == r.shape, (o.shape, r.shape)
        assert o.dtype == r.dtype, (o.dtype, r.dtype)
        np.testing.assert_allclose(o.numpy(), r, rtol=1e-12, atol=1e-12)
    if not grad:
        return
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(o.shape) for o in outs]
    live = [(o, w) for o, w in zip(outs, ws) if o.requires_grad]
    lg.autograd.backward([o for o, _ in live], [lg.tensor(w) for _, w in live])
    torch.autograd.backward([r for r, o in zip(refs, outs) if o.requires_grad],
                            [torch.tensor(w) for _, w in live])
    expected = np.zeros_like(x.numpy()) if t.grad is None else t.grad.numpy()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ var/std overloads

@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("args, kwargs", [
    ((False,), {}), ((True,), {}), ((1, False), {}), ((0, True, True), {}),
    ((1,), {"unbiased": False, "keepdim": True}), ((1,), {"correction": 0}),
    ((), {"dim": (0, 1), "correction": 2}),
])
def test_var_std_overloads_match_torch(name, args, kwargs):
    _check(lambda x: getattr(lg, name)(x, *args, **kwargs),
           lambda t: getattr(torch, name)(t, *args, **kwargs))
    _check(lambda x: getattr(x, name)(*args, **kwargs),
           lambda t: getattr(t, name)(*args, **kwargs))


@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
@pytest.mark.parametrize("args", [(False,), (True,), (1, False), (0, True, True)])
def test_var_mean_std_mean_overloads_match_torch(name, args):
    _check(lambda x: getattr(lg, name)(x, *args), lambda t: getattr(torch, name)(t, *args))


def test_unbiased_and_correction_together_are_refused():
    x = lg.tensor(X)
    with pytest.raises(TypeError, match="unbiased"):
        lg.var(x, 0, True, correction=1)
    with pytest.raises(TypeError, match="unbiased"):
        lg.std(x, True, False)


# ------------------------------------------------------------------ norm

@pytest.mark.parametrize("p", [-float("inf"), float("inf"), 0, 1, 2, 3, "fro"])
@pytest.mark.parametrize("dim", [None, 1, 0])
def test_norm_matches_torch(p, dim):
    # ties in |x| (-1 and 1; 0 counts for -inf) share the gradient as in torch
    a = np.array([[3.0, -1.0, 1.0, 2.0], [0.0, 2.0, -4.0, 0.5], [1.5, -2.5, 2.5, -3.0]])
    _check(lambda x: lg.norm(x, p, dim), lambda t: torch.norm(t, p, dim), a)
    _check(lambda x: x.norm(p, dim, keepdim=True), lambda t: t.norm(p, dim, keepdim=True), a)


def test_norm_zero_counts_nonzeros_with_zero_gradient():
    x = lg.tensor([[1.5, 0.0, -2.0], [0.0, 0.0, 3.0]], requires_grad=True)
    n = lg.norm(x, 0)
    assert n.dtype == lg.float32 and n.item() == 3.0
    np.testing.assert_array_equal(lg.norm(x, 0, dim=1).numpy(), [2.0, 1.0])
    (g,) = lg.grad(n, x)
    np.testing.assert_array_equal(g.numpy(), np.zeros((2, 3)))


def test_normalize_with_p_zero_matches_torch():
    a = np.array([[1.5, 0.0, -2.0], [0.0, 0.0, 3.0]])
    _check(lambda x: lg.nn.functional.normalize(x, p=0, dim=1),
           lambda t: torch.nn.functional.normalize(t, p=0, dim=1), a)


def test_nuclear_norm_matches_torch():
    _check(lambda x: lg.norm(x, "nuc"), lambda t: torch.norm(t, "nuc"))
    with pytest.raises(ValueError, match="nuc.*2-D"):
        lg.norm(lg.tensor(X[None]), "nuc")


# ------------------------------------------------------------------ softmax over nothing

@pytest.mark.parametrize("shape, dim", [((2, 0), 1), ((2, 0), 0), ((0, 3), 0), ((0,), 0)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_softmax_family_over_an_empty_dimension(shape, dim, name):
    fn_lg = getattr(lg.nn.functional, name)
    fn_torch = getattr(torch.nn.functional, name)
    _check(lambda x: fn_lg(x, dim), lambda t: fn_torch(t, dim), np.zeros(shape))


# ------------------------------------------------------------------ movedim

@pytest.mark.parametrize("source, destination", [
    ([0, 1], [2, 0]), ((0, 2), (1, 0)), ([-1], [0]), (1, -1), ([], []), ((0, 1, 2), (2, 1, 0)),
])
def test_movedim_with_sequences_matches_torch(source, destination):
    a = np.arange(24.0).reshape(2, 3, 4)
    w = np.linspace(-1.0, 2.0, 24)
    _check(lambda x: lg.movedim(x, source, destination).reshape(-1) * lg.tensor(w),
           lambda t: torch.movedim(t, source, destination).reshape(-1) * torch.tensor(w), a)
    assert lg.moveaxis(lg.tensor(a), source, destination).shape == \
        tuple(np.moveaxis(a, source, destination).shape)


def test_movedim_refuses_mismatched_or_repeated_dims():
    x = lg.zeros(2, 3, 4)
    with pytest.raises(ValueError, match="movedim"):
        lg.movedim(x, [0, 1], [2])
    with pytest.raises(ValueError, match="repeated"):
        lg.movedim(x, [0, 0], [1, 2])


# ------------------------------------------------------------------ dim 0 of a 0-d tensor

ZERO_D_REDUCTIONS = {
    "sum": lambda m, x, d: m.sum(x, d),
    "sum_keepdim": lambda m, x, d: m.sum(x, d, keepdim=True),
    "mean": lambda m, x, d: m.mean(x, d),
    "var_biased": lambda m, x, d: m.var(x, d, correction=0),
    "amax": lambda m, x, d: m.amax(x, d),
    "amin": lambda m, x, d: m.amin(x, d),
    "logsumexp": lambda m, x, d: m.logsumexp(x, d),
    "prod": lambda m, x, d: m.prod(x, d),
    "max_values": lambda m, x, d: m.max(x, d)[0],
    "norm": lambda m, x, d: m.norm(x, 2, d),
    "softmax": lambda m, x, d: m.softmax(x, d),
    "cumsum": lambda m, x, d: m.cumsum(x, d),
}


@pytest.mark.parametrize("name", sorted(ZERO_D_REDUCTIONS))
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("value", [1.75, 0.0])
def test_reductions_of_a_0d_tensor_over_dim_0(name, dim, value):
    if name == "norm" and value == 0.0:
        value = -1.25  # the gradient of a zero norm is a convention; tested in the op table
    fn = ZERO_D_REDUCTIONS[name]
    _check(lambda x: fn(lg, x, dim), lambda t: fn(torch, t, dim), np.array(value))


@pytest.mark.parametrize("name", ["all", "any", "argmax", "argmin", "count_nonzero"])
@pytest.mark.parametrize("dim", [0, -1])
def test_gradient_free_reductions_of_a_0d_tensor_over_dim_0(name, dim):
    for value in (0.0, 2.0):
        out = getattr(lg, name)(lg.tensor(value), dim)
        ref = getattr(torch, name)(torch.tensor(value), dim)
        assert out.shape == tuple(ref.shape) and out.item() == ref.item()


def test_dim_out_of_range_of_a_0d_tensor_raises():
    with pytest.raises(IndexError, match="out of range"):
        lg.mean(lg.tensor(1.0), 1)


# ------------------------------------------------------------------ prod at zero

@pytest.mark.parametrize("fn", [lambda m, x: m.prod(x), lambda m, x: m.prod(x, 0),
                                lambda m, x: m.prod(x, -1, keepdim=True)])
def test_prod_of_a_0d_zero(fn):
    _check(lambda x: fn(lg, x), lambda t: fn(torch, t), np.array(0.0))
    x, t = _pair(0.0)
    (g,) = lg.grad(fn(lg, x), x, create_graph=True)
    (gt,) = torch.autograd.grad(fn(torch, t), t, create_graph=True)
    assert g.item() == gt.item() == 1.0


# ------------------------------------------------------------------ NumPy's names

ALIASED = ["sum", "mean", "amax", "amin", "std", "var", "prod", "logsumexp", "any", "all"]


@pytest.mark.parametrize("name", ALIASED)
@pytest.mark.parametrize("keepdims", [False, True])
def test_numpy_style_axis_and_keepdims(name, keepdims):
    axis = 1
    grad = name not in ("any", "all")
    _check(lambda x: getattr(lg, name)(x, axis=axis, keepdims=keepdims),
           lambda t: getattr(torch, name)(t, axis=axis, keepdims=keepdims), grad=grad)
    _check(lambda x: getattr(x, name)(axis=axis, keepdims=keepdims),
           lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), grad=grad)


@pytest.mark.parametrize("name", ALIASED)
def test_both_names_of_one_argument_are_a_type_error(name):
    x = lg.tensor(X)
    with pytest.raises(TypeError):
        getattr(torch, name)(torch.tensor(X), dim=0, axis=0)
    with pytest.raises(TypeError, match="axis"):
        getattr(lg, name)(x, dim=0, axis=0)
    with pytest.raises(TypeError, match="keepdims"):
        getattr(lg, name)(x, 0, keepdim=True, keepdims=True)
    with pytest.raises(TypeError, match="unexpected keyword"):
        getattr(lg, name)(x, axes=0)


# ------------------------------------------------------------------ tril, triu, diag

@pytest.mark.parametrize("name", ["tril", "triu"])
@pytest.mark.parametrize("diagonal", [0, 1, -2])
def test_tril_triu_match_torch(name, diagonal):
    a = X.copy()
    a[0, 3] = np.inf  # outside the lower triangle: zero, not inf * 0 = NaN
    a[2, 0] = -np.inf
    w = np.linspace(-1.0, 2.0, 12).reshape(3, 4)
    _check(lambda x: getattr(lg, name)(x, diagonal) * lg.tensor(w),
           lambda t: getattr(torch, name)(t, diagonal) * torch.tensor(w), a, grad=False)
    _check(lambda x: getattr(lg, name)(x * 1.0, diagonal) * lg.tensor(w),
           lambda t: getattr(torch, name)(t * 1.0, diagonal) * torch.tensor(w), X)
    batch = lg.tensor(np.arange(18).reshape(2, 3, 3))
    ref = getattr(torch, name)(torch.arange(18).reshape(2, 3, 3), diagonal)
    assert getattr(lg, name)(batch, diagonal).dtype == lg.int64
    np.testing.assert_array_equal(getattr(lg, name)(batch, diagonal).numpy(), ref.numpy())


@pytest.mark.parametrize("diagonal", [0, 1, -1, 5])
def test_diag_matches_torch(diagonal):
    _check(lambda x: lg.diag(x, diagonal), lambda t: torch.diag(t, diagonal))
    _check(lambda x: lg.diag(x, diagonal), lambda t: torch.diag(t, diagonal), X[1])


@pytest.mark.parametrize("fn, shape", [(lg.tril, (3,)), (lg.triu, (3,)), (lg.tril, ()),
                                       (lg.diag, (2, 2, 2)), (lg.diag, ())])
def test_tril_triu_diag_refuse_what_torch_refuses(fn, shape):
    name = fn.__name__
    with pytest.raises(RuntimeError):
        getattr(torch, name)(torch.zeros(shape))
    with pytest.raises(ValueError, match=rf"{name}: .*{len(shape)}-D"):
        fn(lg.zeros(*shape))

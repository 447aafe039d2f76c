"""Products against PyTorch: N-D inputs against a 2-D weight (linear, matmul) folded into one
GEMM (issue 13), and the named products' errors naming themselves (issue 15: ``dot`` says dot).
"""
from __future__ import annotations

import numpy as np
import pytest

import locograd as lg

RNG = np.random.default_rng(5)


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("x_shape", [(5,), (4, 5), (2, 3, 5), (2, 1, 3, 5)])
def test_linear_of_nd_input_matches_torch(x_shape):
    torch = _torch()
    x, w, b = RNG.standard_normal(x_shape), RNG.standard_normal((3, 5)), RNG.standard_normal(3)
    g = RNG.standard_normal(x_shape[:-1] + (3,))
    ours = [lg.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out, t_out = lg.linear(*ours), torch.nn.functional.linear(*theirs)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-12)
    out.backward(lg.tensor(g))
    t_out.backward(torch.tensor(g))
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("shapes", [((2, 3, 4), (4, 2)), ((2, 2, 3, 4), (4, 2)),
                                    ((2, 3, 4), (4,)), ((3,), (2, 3, 2)), ((2, 4, 3), (2, 3, 2))])
def test_matmul_gradients_match_torch(shapes):
    torch = _torch()
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    ours = [lg.tensor(v, requires_grad=True) for v in (a, b)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (a, b)]
    out, t_out = ours[0] @ ours[1], theirs[0] @ theirs[1]
    g = RNG.standard_normal(out.shape)
    out.backward(lg.tensor(g))
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-12)
    for v, t in zip(ours, theirs):
        np.testing.assert_allclose(v.grad.numpy(), t.grad.numpy(), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("op", ["linear", "matmul"])
def test_nd_input_is_the_folded_2d_product(op):
    """A (batch, time, features) input gives bit for bit what its (batch * time, features)
    reshape gives, forward and backward: the same one GEMM (float32)."""
    x = RNG.standard_normal((4, 6, 8)).astype(np.float32)
    w = RNG.standard_normal((5, 8)).astype(np.float32)
    g = RNG.standard_normal((4, 6, 5)).astype(np.float32)

    def run(x_array):
        xt, wt = lg.tensor(x_array, requires_grad=True), lg.tensor(w, requires_grad=True)
        out = lg.linear(xt, wt) if op == "linear" else xt @ wt.T
        out.backward(lg.tensor(g.reshape(out.shape)))
        return out.numpy().reshape(g.shape), xt.grad.numpy().reshape(x.shape), wt.grad.numpy()

    for got, want in zip(run(x), run(x.reshape(-1, 8))):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)


def test_nd_linear_second_order_matches_torch():
    torch = _torch()
    x, w = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4))
    ours = [lg.tensor(a, requires_grad=True) for a in (x, w)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w)]
    (gx,) = lg.grad(lg.tanh(lg.linear(*ours)).sum(), [ours[0]], create_graph=True)
    (t_gx,) = torch.autograd.grad(torch.tanh(torch.nn.functional.linear(*theirs)).sum(),
                                  [theirs[0]], create_graph=True)
    (gw,) = lg.grad((gx * gx).sum(), [ours[1]])
    (t_gw,) = torch.autograd.grad((t_gx * t_gx).sum(), [theirs[1]])
    np.testing.assert_allclose(gw.numpy(), t_gw.numpy(), rtol=1e-10)


NAMED_ERRORS = [  # (op, shapes, dtypes)
    ("dot", ((3,), (4,)), ("float64", "float64")),
    ("dot", ((3,), (3,)), ("float32", "float64")),
    ("dot", ((3, 3), (3,)), ("float64", "float64")),
    ("mv", ((2, 3), (4,)), ("float64", "float64")),
    ("mv", ((2, 3), (3,)), ("float64", "float32")),
    ("mm", ((2, 3), (4, 2)), ("float64", "float64")),
    ("mm", ((2, 3), (3, 2)), ("float32", "float64")),
    ("bmm", ((2, 2, 3), (2, 4, 2)), ("float64", "float64")),
    ("bmm", ((2, 2, 3), (3, 3, 2)), ("float64", "float64")),
]


@pytest.mark.parametrize("name, shapes, dtypes", NAMED_ERRORS)
def test_named_products_raise_under_their_own_name(name, shapes, dtypes):
    torch = _torch()
    arrays = [np.ones(s, dtype=d) for s, d in zip(shapes, dtypes)]
    with pytest.raises(RuntimeError):
        getattr(torch, name)(*[torch.tensor(a) for a in arrays])
    with pytest.raises((ValueError, TypeError)) as info:
        getattr(lg, name)(*[lg.tensor(a) for a in arrays])
    assert str(info.value).startswith(f"{name}: ") and "matmul" not in str(info.value)
    if dtypes[0] != dtypes[1]:
        assert info.type is TypeError and "float32" in str(info.value)

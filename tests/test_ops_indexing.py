"""Index ops against PyTorch: out-of-range (negative) indices refused, take_along_dim's
broadcasting and flattening, dtype checks of scatter/index_add sources, narrow's integer
arguments, and the 0-d cases of gather, scatter, scatter_add, index_select, index_add, topk and
nonzero (issues 13 and 17)."""
from __future__ import annotations

import numpy as np
import pytest

import locograd as lg


def _torch():
    return pytest.importorskip("torch")


X = np.arange(12.0).reshape(3, 4) / 7.0


def _both(fn, *arrays):
    """``fn`` on locograd and on torch tensors of ``arrays`` (float64 ones require grad);
    returns both outputs and the gradients of ``(out * weights).sum()``."""
    torch = _torch()
    lg_in = [lg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    t_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    lg_out, t_out = fn(lg, lg_in), fn(torch, t_in)
    np.testing.assert_allclose(lg_out.numpy(), t_out.detach().numpy(), rtol=1e-12)
    assert lg_out.shape == tuple(t_out.shape)
    weights = np.random.default_rng(0).standard_normal(lg_out.shape)
    (lg_out * lg.tensor(weights)).sum().backward()
    (t_out * torch.tensor(weights)).sum().backward()
    for a, b in zip(lg_in, t_in):
        if a.requires_grad and (a.grad is None or b.grad is None):
            assert a.grad is None and b.grad is None, "an input unused on one side only"
        elif a.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    return lg_out, t_out


# ------------------------------------------------------------------ out-of-range indices

OUT_OF_RANGE = {  # op: call with a bad index ``i`` (an int array) along dim 1 of X
    "gather": lambda m, x, i: m.gather(x, 1, i.reshape(1, 1)),
    "index_select": lambda m, x, i: m.index_select(x, 1, i.reshape(1)),
    "scatter": lambda m, x, i: x.scatter(1, i.reshape(1, 1), 1.0),
    "scatter_add": lambda m, x, i: x.scatter_add(1, i.reshape(1, 1), x[:1, :1] * 1.0),
    "index_add": lambda m, x, i: x.index_add(1, i.reshape(1), x[:, :1] * 1.0),
}


@pytest.mark.parametrize("bad", [-1, -4, 4])
@pytest.mark.parametrize("name", sorted(OUT_OF_RANGE))
def test_out_of_range_and_negative_indices_raise_as_in_torch(name, bad):
    torch = _torch()
    call = OUT_OF_RANGE[name]
    with pytest.raises(RuntimeError):
        call(torch, torch.tensor(X), torch.tensor([bad]))
    with pytest.raises(IndexError) as info:
        call(lg, lg.tensor(X), lg.tensor([bad]))
    message = str(info.value)
    assert message.startswith(f"{name}: index {bad} ") and "dimension 1 with size 4" in message


@pytest.mark.parametrize("bad", [-1, 12])
def test_take_along_dim_flattened_refuses_out_of_range_as_torch(bad):
    torch = _torch()
    with pytest.raises(RuntimeError):
        torch.take_along_dim(torch.tensor(X), torch.tensor([bad]))
    with pytest.raises(IndexError, match=rf"take_along_dim|gather: index {bad} .*size 12"):
        lg.take_along_dim(lg.tensor(X), lg.tensor([bad]))


@pytest.mark.parametrize("bad", [-1, 4])
def test_take_along_dim_refuses_out_of_range_along_a_dim(bad):
    # torch on the CPU wraps these modulo the size without a word (take_along_dim(x, [[4]], 1)
    # reads column 0); locograd refuses them as torch's gather, which it is defined by, does.
    with pytest.raises(IndexError, match=f"index {bad} is out of bounds for dimension 1 "
                                         f"with size 4"):
        lg.take_along_dim(lg.tensor(X), lg.tensor([[bad]]), 1)


def test_plain_indexing_still_counts_negative_indices_from_the_end():
    x = lg.tensor(X)
    np.testing.assert_array_equal(x[lg.tensor([-1, 0])].numpy(), X[[-1, 0]])


# ------------------------------------------------------------------ take_along_dim

@pytest.mark.parametrize("x_shape, index, dim", [
    ((3, 4), [[0], [3], [1]], 1),              # no broadcasting
    ((3, 4), [[0, 3]], 1),                     # the index broadcasts over the rows
    ((1, 4), [[0], [1], [3]], 1),              # the input broadcasts over the index's rows
    ((2, 1, 4), [[[3, 0], [1, 1], [2, 3]]], 2),  # both broadcast
    ((3, 4), [[2, 0, 1, 2]], 0),               # along dim 0, over the columns
])
def test_take_along_dim_broadcasts_like_torch(x_shape, index, dim):
    x = np.random.default_rng(1).standard_normal(x_shape)
    _both(lambda m, t: m.take_along_dim(t[0], t[1], dim), x, np.array(index))


def test_take_along_dim_without_dim_flattens_like_torch():
    out, _ = _both(lambda m, t: m.take_along_dim(t[0], t[1]), X, np.array([[11, 0], [5, 5]]))
    assert out.shape == (4,)  # the index is flattened too


def test_take_along_dim_refuses_other_ranks_and_non_broadcasting_shapes():
    torch = _torch()
    x = np.zeros((3, 4))
    for index in (np.zeros((1,), np.int64), np.zeros((2, 1), np.int64)):
        with pytest.raises(RuntimeError):
            torch.take_along_dim(torch.tensor(x), torch.tensor(index), 1)
        with pytest.raises(ValueError, match="take_along_dim"):
            lg.take_along_dim(lg.tensor(x), lg.tensor(index), 1)


# ------------------------------------------------------------------ dtypes and arguments

@pytest.mark.parametrize("name", ["scatter", "scatter_add"])
def test_scatter_refuses_a_source_of_another_dtype(name):
    torch = _torch()
    index = np.array([[0]])
    with pytest.raises(RuntimeError, match="dtype"):
        getattr(torch.zeros(2, 2, dtype=torch.float64), name)(1, torch.tensor(index),
                                                               torch.ones(1, 1))
    with pytest.raises(TypeError, match=f"{name}: expected scalar type float64 .* got float32"):
        getattr(lg.zeros(2, 2, dtype=lg.float64), name)(1, lg.tensor(index),
                                                          lg.ones(1, 1, dtype=lg.float32))


def test_index_add_refuses_a_source_of_another_dtype():
    torch = _torch()
    with pytest.raises(RuntimeError, match="same scalar type"):
        torch.zeros(2, dtype=torch.float64).index_add(0, torch.tensor([0]), torch.ones(1))
    with pytest.raises(TypeError, match="index_add: self .*float64.* source .*float32"):
        lg.zeros(2, dtype=lg.float64).index_add(0, lg.tensor([0]), lg.ones(1, dtype=lg.float32))


@pytest.mark.parametrize("start", [True, 1.0])
def test_narrow_refuses_a_bool_or_float_start(start):
    torch = _torch()
    with pytest.raises(TypeError):
        torch.zeros(3, 4).narrow(0, start, 1)
    with pytest.raises(TypeError, match="narrow: start must be an integer"):
        lg.zeros(3, 4).narrow(0, start, 1)


def test_narrow_takes_an_integer_0d_tensor_start_as_torch():
    _both(lambda m, t: t[0].narrow(1, m.tensor(1), 2), X)


# ------------------------------------------------------------------ 0-d tensors, dim=0

ZERO_D = {
    "gather_0d_index": lambda m, t: m.gather(t[0], 0, m.tensor(0)),
    "gather_1d_index": lambda m, t: m.gather(t[0], -1, m.tensor([0, 0])),
    "scatter_tensor": lambda m, t: t[0].scatter(0, m.tensor(0), t[1][0]),
    "scatter_number": lambda m, t: t[0].scatter(0, m.tensor([0]), 7.0),
    "scatter_add": lambda m, t: t[0].scatter_add(0, m.tensor(0), t[1][1]),
    "index_select": lambda m, t: t[0].index_select(0, m.tensor([0])),
    "index_select_0d_index": lambda m, t: t[0].index_select(0, m.tensor(0)),
    "index_add": lambda m, t: t[0].index_add(0, m.tensor([0]), t[1][0] * 2.0),
    "index_add_0d_index": lambda m, t: t[0].index_add(0, m.tensor(0), t[1][1]),
    "topk_values": lambda m, t: t[0].topk(1, dim=0).values,
    "topk_k0_values": lambda m, t: t[0].topk(0).values,
}


@pytest.mark.parametrize("name", sorted(ZERO_D))
def test_0d_tensors_with_dim_0_as_in_torch(name):
    out, t_out = _both(ZERO_D[name], np.array(2.5), np.array([0.5, -1.5]))
    assert out.ndim == t_out.ndim


def test_topk_of_a_0d_tensor_gives_index_0_as_torch():
    torch = _torch()
    values, indices = lg.tensor(2.5).topk(1, dim=0)
    t_values, t_indices = torch.tensor(2.5).topk(1, dim=0)
    assert indices.shape == tuple(t_indices.shape) == () and int(indices) == int(t_indices) == 0
    assert float(values) == float(t_values)
    with pytest.raises(RuntimeError):
        torch.tensor(2.5).topk(2)
    with pytest.raises(ValueError, match="topk"):
        lg.tensor(2.5).topk(2)


@pytest.mark.parametrize("value", [2.5, 0.0])
def test_nonzero_of_a_0d_tensor_as_torch(value):
    torch = _torch()
    out, t_out = lg.nonzero(lg.tensor(value)), torch.nonzero(torch.tensor(value))
    assert out.shape == tuple(t_out.shape) and out.dtype == np.int64
    (got,), (want,) = lg.nonzero(lg.tensor(value), as_tuple=True), \
        torch.nonzero(torch.tensor(value), as_tuple=True)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_0d_index_ops_refuse_what_torch_refuses():
    torch = _torch()
    cases = [
        (lambda m: m.tensor(2.5).index_select(0, m.tensor([0, 0])), ValueError),
        (lambda m: m.tensor(2.5).index_add(0, m.tensor([0]), m.tensor([7.0])), ValueError),
        (lambda m: m.gather(m.tensor(2.5), 0, m.tensor(1)), IndexError),
        (lambda m: m.gather(m.tensor(2.5), 1, m.tensor(0)), IndexError),
    ]
    for call, error in cases:
        with pytest.raises((RuntimeError, IndexError)):
            call(torch)
        with pytest.raises(error):
            call(lg)

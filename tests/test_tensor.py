"""The Tensor class: attributes, conversions, repr, comparisons, indexing assignment, splits
and the shape errors."""
import numpy as np
import pytest

import locograd as lg


def leaf(values, dtype=lg.float64):
    return lg.tensor(values, dtype=dtype, requires_grad=True)


# ------------------------------------------------------------------------------ attributes

def test_attributes():
    x = lg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.shape == (2, 3) and x.ndim == 2 and x.dim() == 2 and x.numel() == 6
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3 and len(x) == 2
    assert x.dtype == lg.float32 and x.device == "cpu" and x.is_floating_point()
    assert x.requires_grad is False and x.grad is None and x.is_leaf and x.grad_fn is None
    assert x.T.shape == (3, 2) and x.mT.shape == (3, 2)
    assert lg.Tensor([1, 2]).dtype == lg.int64


def test_grad_fn_and_is_leaf():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    assert not y.is_leaf and y.grad_fn.name() == "Mul" and y.grad_fn_name == "Mul"
    assert y.grad_fn.next_functions == ((x, 0), None)


# ------------------------------------------------------------------------------ conversions

def test_item_tolist_numpy():
    x = lg.tensor([[1.5, 2.0]])
    assert lg.tensor(2.5).item() == 2.5 and isinstance(lg.tensor(2.5).item(), float)
    assert lg.tensor([7]).item() == 7 and isinstance(lg.tensor([7]).item(), int)
    with pytest.raises(ValueError, match=r"item: only one-element tensors.*shape \(1, 2\)"):
        x.item()
    assert x.tolist() == [[1.5, 2.0]]
    arr = x.numpy()
    assert isinstance(arr, np.ndarray) and np.shares_memory(arr, x.data)  # no copy
    assert float(lg.tensor(2.0)) == 2.0 and int(lg.tensor(3)) == 3
    assert bool(lg.tensor([1])) is True
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(lg.tensor([1, 2]))
    assert [0, 1, 2][lg.tensor(1)] == 1  # __index__ for integer scalars
    with pytest.raises(TypeError):
        [0, 1][lg.tensor(1.0)]


def test_astype_float_double_long_are_differentiable_casts():
    x = leaf([1.25, -2.5], dtype=lg.float32)
    d = x.double()
    assert d.dtype == lg.float64 and d.requires_grad
    assert x.astype(lg.float64).dtype == lg.float64
    assert x.float() is x  # no-op when the dtype already matches
    (d * d).sum().backward()
    assert x.grad.dtype == lg.float32  # the gradient comes back in the input's dtype
    np.testing.assert_array_equal(x.grad.numpy(), [2.5, -5.0])
    n = x.long()
    assert n.dtype == lg.int64 and n.tolist() == [1, -2] and not n.requires_grad
    assert x.half().dtype == lg.float16 and x.int().dtype == lg.int32
    assert x.bool().dtype == lg.bool and x.type_as(n).dtype == lg.int64
    assert x.to(lg.float64).dtype == lg.float64 and x.to("cpu") is x


def test_repr_shows_values_dtype_and_grad_fn():
    x = leaf([1.0, 2.5])
    assert repr(x) == "tensor([1. , 2.5], dtype=float64, requires_grad=True)"
    assert repr(x * 2.0) == "tensor([2., 5.], dtype=float64, grad_fn=<MulBackward>)"
    assert repr(lg.tensor([1, 2])) == "tensor([1, 2], dtype=int64)"
    assert repr(lg.tensor(3.5)) == "tensor(3.5, dtype=float32)"
    assert repr(lg.zeros(0, 3)) == "tensor([], size=(0, 3), dtype=float32)"
    assert str(x.sum()) == "tensor(3.5, dtype=float64, grad_fn=<SumBackward>)"


def test_detach_shares_memory_and_leaves_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.numpy(), y.numpy())
    y2 = x * 3.0
    y2.detach_()
    assert y2.is_leaf and not y2.requires_grad


# ------------------------------------------------------------------------------ comparisons

@pytest.mark.parametrize("op, expected", [
    (lambda a, b: a == b, [False, True, False]),
    (lambda a, b: a != b, [True, False, True]),
    (lambda a, b: a < b, [True, False, False]),
    (lambda a, b: a <= b, [True, True, False]),
    (lambda a, b: a > b, [False, False, True]),
    (lambda a, b: a >= b, [False, True, True]),
])
def test_comparisons_return_bool_tensors_without_grad(op, expected):
    a = leaf([1.0, 2.0, 3.0])
    b = lg.tensor([2.0, 2.0, 2.0], dtype=lg.float64)
    for other in (b, 2.0, 2):
        out = op(a, other)
        assert out.dtype == lg.bool and not out.requires_grad and out.grad_fn is None
        assert out.tolist() == expected


def test_comparison_with_none_is_false_not_an_error():
    x = lg.tensor([1.0])
    assert (x == None) is False  # noqa: E711
    assert (x != None) is True  # noqa: E711


def test_logical_and_bitwise_operators():
    a = lg.tensor([True, False, True])
    b = lg.tensor([True, True, False])
    assert (a & b).tolist() == [True, False, False]
    assert (a | b).tolist() == [True, True, True]
    assert (a ^ b).tolist() == [False, True, True]
    assert (~a).tolist() == [False, True, False]
    assert (~lg.tensor([1, 0])).tolist() == [-2, -1]


# ------------------------------------------------------------------------------ setitem

def test_setitem_gradient_flows_to_the_value_not_to_overwritten_entries():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    v = leaf([10.0, 20.0])
    h = x * 1.0
    h[1:3] = v
    (h * lg.tensor([1.0, 2.0, 3.0, 4.0], dtype=lg.float64)).sum().backward()
    np.testing.assert_array_equal(h.detach().numpy(), [1.0, 10.0, 20.0, 4.0])
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0, 4.0])
    np.testing.assert_array_equal(v.grad.numpy(), [2.0, 3.0])


def test_setitem_broadcast_value_and_mask_index():
    w = leaf(5.0)
    buf = lg.zeros(2, 3, dtype=lg.float64)  # a constant buffer that becomes part of the graph
    buf[:, 1] = w
    buf[lg.tensor([[True, False, False], [False, False, True]])] = w * 2.0
    assert buf.requires_grad and buf.grad_fn is not None
    buf.sum().backward()
    assert w.grad.item() == 2 + 2 * 2
    np.testing.assert_array_equal(buf.detach().numpy(), [[10, 5, 0], [0, 5, 10]])


def test_setitem_without_grad_writes_in_place_and_bumps_the_version():
    x = lg.zeros(3)
    x[[0, 2]] = 1.5
    assert x.tolist() == [1.5, 0.0, 1.5] and x._version[0] == 1
    with pytest.raises(ValueError, match=r"__setitem__: .*tensor shape \(3,\)"):
        x[:2] = lg.ones(3)


def test_setitem_on_a_leaf_that_requires_grad_is_refused():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="__setitem__: a leaf tensor that requires grad"):
        x[0] = 3.0


# ------------------------------------------------------------------------------ splitting

def test_split_chunk_unbind_gradients():
    x = leaf(np.arange(12.0).reshape(3, 4))
    a, b = x.split([1, 3], dim=1)
    c = x.chunk(2, dim=0)  # sizes 2 and 1
    rows = x.unbind(0)
    assert [t.shape for t in c] == [(2, 4), (1, 4)] and len(rows) == 3
    loss = (a * 2.0).sum() + (b * 3.0).sum() + c[1].sum() * 10.0 + (rows[0] * rows[2]).sum()
    loss.backward()
    expected = np.array([[2, 3, 3, 3]] * 3, dtype=float)
    expected[2] += 10.0
    expected[0] += x.detach().numpy()[2]
    expected[2] += x.detach().numpy()[0]
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_split_pieces_are_views_sharing_the_version_counter():
    x = lg.arange(6.0)
    a, b = x.split(3)
    assert np.shares_memory(a.numpy(), x.numpy()) and a._version is x._version


def test_split_and_chunk_errors():
    x = lg.zeros(2, 5)
    with pytest.raises(ValueError, match=r"split: the sizes \[1, 2\] sum to 3.*size 5"):
        x.split([1, 2], dim=1)
    with pytest.raises(ValueError, match="chunk: the number of chunks must be positive"):
        x.chunk(0)
    with pytest.raises(IndexError, match=r"split: dimension out of range.*got 2"):
        x.split(1, dim=2)


def test_iteration_over_a_tensor_that_requires_grad_keeps_the_graph():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    total = sum(row.sum() * (i + 1) for i, row in enumerate(x))
    total.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 1.0], [2.0, 2.0]])


# ------------------------------------------------------------------------------ shape errors

def test_reshape_and_view_errors():
    x = lg.zeros(2, 3)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) "
                                         r"\(6 elements\) into shape \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"view: invalid shape \(-1, -1\)"):
        x.view(-1, -1)
    with pytest.raises(RuntimeError, match=r"view: the shape \(6,\) is not compatible with the "
                                           r"input's size and strides.*use \.reshape\(\)"):
        x.T.view(6)
    assert x.T.reshape(6).shape == (6,)  # reshape copies when it must
    assert x.view(3, -1).shape == (3, 2)


def test_reshape_is_a_view_when_possible():
    x = lg.arange(6.0)
    r = x.reshape(2, 3)
    assert np.shares_memory(r.numpy(), x.numpy()) and r._version is x._version
    c = x.reshape(2, 3).T.reshape(6)
    assert not np.shares_memory(c.numpy(), x.numpy())


def test_matmul_shape_and_dtype_errors():
    with pytest.raises(ValueError, match=r"^matmul: cannot multiply \(3, 4\) by \(5, 2\)"):
        lg.ones(3, 4) @ lg.ones(5, 2)
    with pytest.raises(ValueError, match=r"^matmul: cannot multiply \(3,\) by \(4,\)"):
        lg.matmul(lg.ones(3), lg.ones(4))
    with pytest.raises(ValueError, match="batch dimensions"):
        lg.ones(2, 3, 4) @ lg.ones(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        lg.ones(()) @ lg.ones(3)
    with pytest.raises(ValueError, match=r"^mm: expects two 2-D tensors"):
        lg.mm(lg.ones(3), lg.ones(3, 2))
    with pytest.raises(ValueError, match=r"^linear: cannot multiply the input of shape \(2, 3\)"):
        lg.linear(lg.ones(2, 3), lg.ones(4, 5))
    with pytest.raises(ValueError, match=r"^linear: the bias must have shape \(4,\) and dtype "
                                         r"float32.*got shape \(3,\)"):
        lg.linear(lg.ones(2, 5), lg.ones(4, 5), lg.ones(3))


@pytest.mark.parametrize("call, message", [
    (lambda: lg.ones(2, 3) + lg.ones(4), r"add.*\(2, 3\).*\(4,\)"),
    (lambda: lg.ones(2, 3) * lg.ones(2), r"mul.*\(2, 3\).*\(2,\)"),
    (lambda: lg.cat([lg.ones(2, 3), lg.ones(2, 4)]), r"cat: sizes of tensors must match"),
    (lambda: lg.stack([lg.ones(2), lg.ones(3)]), r"stack: expects each tensor to be equal"),
    (lambda: lg.ones(2, 3).permute(0, 0), r"permute: .* is not a permutation"),
    (lambda: lg.ones(2, 3).expand(4, 3, 2), r"expand: the shape \(2, 3\) cannot be broadcast"),
    (lambda: lg.ones(2, 3).sum(dim=2), r"sum: dimension out of range"),
    (lambda: lg.ones(2, 3)[5], r"index: .*\(tensor of shape \(2, 3\)\)"),
    (lambda: lg.ones(2, 3).gather(1, lg.tensor([[0, 3]])), r"gather: index 3 is out of bounds"),
    (lambda: lg.where(lg.tensor([1, 0]), lg.ones(2), lg.zeros(2)), r"where: the condition"),
])
def test_shape_errors_name_the_operation(call, message):
    with pytest.raises((ValueError, IndexError, RuntimeError, TypeError), match=message):
        call()


# ------------------------------------------------------------------------------ no-gradient ops

def test_one_hot():
    out = lg.one_hot(lg.tensor([2, 0, 2]))
    assert out.dtype == lg.int64 and not out.requires_grad
    assert out.tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 1]]
    assert lg.one_hot(lg.tensor([[1], [0]]), num_classes=4).shape == (2, 1, 4)
    with pytest.raises(ValueError, match=r"one_hot: class values must be in \[0, 2\)"):
        lg.one_hot(lg.tensor([0, 2]), num_classes=2)
    with pytest.raises(TypeError, match="one_hot: expects an integer tensor"):
        lg.one_hot(lg.tensor([0.0]))


def test_sorting_and_selection_indices():
    x = lg.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 5.0]])
    values, indices = x.sort(1)
    assert values.tolist() == [[1, 2, 3], [0, 5, 5]] and indices.tolist() == [[1, 2, 0], [0, 1, 2]]
    assert x.argsort(1, descending=True).tolist() == [[0, 2, 1], [1, 2, 0]]  # stable on ties
    top = x.topk(1, dim=1)
    assert top.values.tolist() == [[3.0], [5.0]] and top.indices.tolist() == [[0], [1]]
    assert lg.nonzero(x > 2).tolist() == [[0, 0], [1, 1], [1, 2]]
    rows, cols = (x > 2).nonzero(as_tuple=True)
    assert rows.tolist() == [0, 1, 1] and cols.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"topk: k \(4\) must be in \[0, 3\]"):
        x.topk(4)


def test_rounding_and_value_tests():
    x = lg.tensor([-1.5, -0.5, 0.5, 2.7], requires_grad=True)
    assert x.floor().tolist() == [-2, -1, 0, 2] and x.ceil().tolist() == [-1, -0, 1, 3]
    assert x.round().tolist() == [-2, -0, 0, 3] and x.trunc().tolist() == [-1, -0, 0, 2]
    assert not x.floor().requires_grad  # zero derivative almost everywhere: a constant
    assert (x // 1.0).tolist() == [-2, -1, 0, 2]
    assert lg.isnan(lg.tensor([float("nan"), 1.0])).tolist() == [True, False]
    assert lg.isinf(lg.tensor([float("inf"), 1.0])).tolist() == [True, False]
    assert lg.isfinite(lg.tensor([float("inf"), 1.0])).tolist() == [False, True]
    assert lg.isclose(x, x + 1e-9).tolist() == [True] * 4
    assert lg.allclose(x, x + 1e-9) and not lg.allclose(x, x + 1e-3)
    assert lg.equal(x, x.detach().clone()) and not lg.equal(x, x[:2])
    assert lg.logical_and(x > 0, x < 1).tolist() == [False, False, True, False]


def test_sign_values_and_gradient():
    x = lg.tensor([-1.5, 0.0, 2.0], dtype=lg.float64, requires_grad=True)
    s = lg.sign(x)
    assert s.tolist() == [-1.0, 0.0, 1.0] and s.dtype == lg.float64
    assert x.sign().tolist() == s.tolist() and lg.sign(lg.tensor([-3, 0, 4])).tolist() == [-1, 0, 1]
    assert not s.requires_grad  # zero derivative almost everywhere: a constant, like floor
    (x * s).sum().backward()  # x sign(x) = |x|: the gradient is sign(x), and 0 at 0
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]


def test_remainder_and_fmod_follow_the_sign_conventions():
    a = lg.tensor([-3.0, 3.0])
    assert (a % 2.0).tolist() == [1.0, 1.0] and lg.fmod(a, 2.0).tolist() == [-1.0, 1.0]
    assert (7 % lg.tensor([3, 4])).tolist() == [1, 3]


def test_new_tensor_methods_keep_the_dtype():
    x = lg.ones(2, dtype=lg.float64)
    assert x.new_zeros(2, 3).dtype == lg.float64 and x.new_ones((1,)).shape == (1,)
    assert x.new_full((2,), 4.0).tolist() == [4.0, 4.0] and x.new_empty(3).shape == (3,)
    assert x.new_tensor([1, 2]).dtype == lg.float64
    assert x.new_zeros(2, dtype=lg.int64).dtype == lg.int64


def test_in_place_methods_refuse_leaves_that_require_grad_even_for_constants():
    w = lg.ones(2, requires_grad=True)
    for call in (lambda: w.fill_(3.0), lambda: w.zero_(), lambda: w.floor_(),
                 lambda: w.uniform_()):
        with pytest.raises(RuntimeError, match="a leaf tensor that requires grad"):
            call()
    with lg.no_grad():
        w.fill_(2.0)
    assert w.tolist() == [2.0, 2.0]


def test_pytorch_spellings_programs_use():
    """``f"{loss:.4f}"``, ``nelement``, ``is_floating_point()`` and ``get_device`` as in PyTorch."""
    loss = lg.tensor(3.14159)
    assert f"{loss:.4f}" == "3.1416" and f"{lg.tensor([2.5]):.1f}" == "2.5"
    assert f"{lg.ones(2)}" == str(lg.ones(2))
    with pytest.raises(TypeError, match="only one-element tensors take a format"):
        f"{lg.ones(2):.2f}"
    assert lg.ones(2, 3).nelement() == 6
    assert lg.ones(2).is_floating_point() is True
    assert lg.tensor([1, 2]).is_floating_point() is False
    assert lg.ones(2).get_device() == -1


def test_new_ops_are_tensor_methods_as_in_pytorch():
    x = lg.arange(12.0).reshape(3, 4)
    assert x.diagonal().tolist() == [0.0, 5.0, 10.0]
    assert x.unfold(1, 2, 2).shape == (3, 2, 2)  # Tensor.unfold, not nn.functional.unfold
    assert x.fliplr()[0].tolist() == [3.0, 2.0, 1.0, 0.0]
    assert lg.eye(2).mul(3.0).det().item() == pytest.approx(9.0)
    y = x.clone()
    assert y.index_fill_(1, lg.tensor([0]), -1.0) is y and y[:, 0].tolist() == [-1.0] * 3
    assert x.greater(5.0).sum().item() == 6
    assert x.cumprod(1)[0].tolist() == [0.0, 0.0, 0.0, 0.0] and x.trace().item() == 15.0
    assert x.median().item() == 5.0 and x.asin().shape == x.shape
    t = lg.tensor([1.0, 2.0], dtype=lg.float64)
    assert t.polygamma(1).tolist() == pytest.approx(lg.polygamma(1, t).tolist())


def test_copy_between_two_devices_and_where_of_numbers_on_a_device(monkeypatch):
    monkeypatch.setenv("LOCOGRAD_CUDA_STANDIN", "2")
    a = lg.zeros(2, device="cuda:0")
    a.copy_(lg.tensor([1.0, 2.0], device="cuda:1"))
    assert a.device == lg.device("cuda:0") and a.cpu().tolist() == [1.0, 2.0]
    cond = lg.tensor([True, False, True]).to("cuda:1")
    w = lg.where(cond, 1.0, 0.0)
    assert w.device == lg.device("cuda:1") and w.dtype == np.float32
    assert w.cpu().tolist() == [1.0, 0.0, 1.0]
    i = lg.where(cond, 2, -1)
    assert i.dtype == np.int64 and i.cpu().tolist() == [2, -1, 2]

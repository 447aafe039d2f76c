"""User-defined graph nodes: ``locograd.autograd.Function`` with ``forward``/``backward``, as in
PyTorch."""
import numpy as np
import pytest

import locograd as lg
from locograd.autograd import Function, gradcheck, gradgradcheck, once_differentiable


def leaf(values, dtype=lg.float64):
    return lg.tensor(values, dtype=dtype, requires_grad=True)


class Cube(Function):
    """Saves its input; backward in tensor ops, so it is differentiable again."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3.0 * x * x


class Exp(Function):
    """Saves its output (no reference cycle: kept as an array, rebuilt on demand)."""

    @staticmethod
    def forward(ctx, x):
        out = np.exp(x.data)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


class ScaledMul(Function):
    """Two tensors and a number; records which inputs need a gradient."""

    seen = []

    @staticmethod
    def forward(ctx, a, b, scale):
        ScaledMul.seen.append(ctx.needs_input_grad)
        ctx.save_for_backward(a, b)
        ctx.scale = scale  # plain attributes carry non-tensor state to backward
        return a.data * b.data * scale

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = grad * b * ctx.scale if ctx.needs_input_grad[0] else None
        gb = grad * a * ctx.scale if ctx.needs_input_grad[1] else None
        return ga, gb, None


def test_saving_an_input_first_and_second_order():
    x = leaf([0.5, -1.0, 2.0])
    y = Cube.apply(x)
    assert y.grad_fn.label == "Cube" and repr(y.grad_fn) == "<CubeBackward>"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2)
    assert gradcheck(Cube.apply, (x,)) and gradgradcheck(Cube.apply, (x,))


def test_saving_an_output_first_and_second_order():
    x = leaf([0.5, -1.0])
    assert gradcheck(Exp.apply, (x,)) and gradgradcheck(Exp.apply, (x,))
    y = Exp.apply(x)
    (g,) = lg.grad(y.sum(), x, create_graph=True)
    (gg,) = lg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.exp(x.numpy()))


def test_needs_input_grad_and_none_for_non_tensor_arguments():
    ScaledMul.seen.clear()
    a, b = leaf([1.0, 2.0]), lg.tensor([3.0, 4.0], dtype=lg.float64)
    out = ScaledMul.apply(a, b, 0.5)
    assert ScaledMul.seen[-1] == (True, False, False)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.5, 2.0])
    assert gradcheck(lambda p, q: ScaledMul.apply(p, q, 2.0), (leaf([1.0, 2.0]), leaf([3.0, 1.0])))


def test_no_input_requires_grad_means_no_node():
    out = Cube.apply(lg.tensor([2.0]))
    assert not out.requires_grad and out.grad_fn is None and out.tolist() == [8.0]


def test_forward_may_use_tensor_ops_without_recording_them():
    class TensorForward(Function):
        @staticmethod
        def forward(ctx, x):
            assert not lg.is_grad_enabled()
            return (x * 2.0).exp()  # a tensor is accepted as the result

        @staticmethod
        def backward(ctx, grad):
            return grad * 0.0

    y = TensorForward.apply(leaf([0.0]))
    assert y.grad_fn.label == "TensorForward" and y.tolist() == [1.0]


def test_mark_non_differentiable_outputs():
    class SortWithRanks(Function):
        @staticmethod
        def forward(ctx, x):
            order = np.argsort(x.data)
            ctx.order = order
            ranks = order.astype(x.data.dtype)  # float, yet not differentiable
            ctx.mark_non_differentiable(ranks)
            return x.data[order], ranks

        @staticmethod
        def backward(ctx, grad_values, grad_ranks):
            return lg.index_put(lg.zeros_like(grad_values), (ctx.order,), grad_values)

    x = leaf([3.0, 1.0, 2.0])
    values, ranks = SortWithRanks.apply(x)
    assert values.requires_grad and not ranks.requires_grad and ranks.grad_fn is None
    (values * lg.tensor([1.0, 2.0, 3.0], dtype=lg.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 1.0, 2.0])


def test_unused_outputs_reach_backward_as_zeros_or_none():
    received = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            return x.data * 2.0, x.data * 3.0

        @staticmethod
        def backward(ctx, g1, g2):
            received.append((g1, g2))
            return (g1 if g1 is not None else 0.0) * 2.0 + (g2 if g2 is not None else 0.0) * 3.0

    class TwoNoMaterialize(Two):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x.data * 2.0, x.data * 3.0

    x = leaf([1.0])
    Two.apply(x)[1].sum().backward()
    np.testing.assert_array_equal(received[-1][0].numpy(), [0.0])
    assert x.grad.item() == 3.0
    TwoNoMaterialize.apply(x)[0].sum().backward()
    assert received[-1][1] is None and x.grad.item() == 3.0 + 2.0


def test_once_differentiable_first_order_works_second_order_raises():
    class CubeNumpy(Cube):
        @staticmethod
        @once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad.data * 3.0 * x.data ** 2  # raw arrays: not differentiable

    x = leaf([1.0, 2.0])
    assert gradcheck(CubeNumpy.apply, (x,))
    (g,) = lg.grad(CubeNumpy.apply(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [3.0, 12.0])
    with pytest.raises(RuntimeError, match=r"CubeNumpy: trying to differentiate twice.*"
                                           r"@once_differentiable"):
        lg.grad(g.sum(), x)
    assert CubeNumpy.backward.__wrapped__ is not None


def test_wrong_backward_is_caught_by_gradcheck_naming_input_and_entries():
    class BadSquare(Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x)
            return x.data ** 2 + y.data

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x, grad  # should be 2x

    x, y = leaf([1.0, -2.0, 3.0]), leaf([0.0, 0.0, 0.0])
    with pytest.raises(lg.autograd.GradcheckError) as info:
        gradcheck(BadSquare.apply, (x, y))
    message = str(info.value)
    assert "with respect to input 0 (shape (3,))" in message
    assert "d output(2,) / d input(2,): analytical 3, numerical 6" in message
    assert "d output(1,) / d input(1,): analytical -2, numerical -4" in message
    assert "input 1" not in message  # the correct input is not blamed


def test_wrong_number_of_gradients_is_an_error_naming_the_node():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a.data + b.data

        @staticmethod
        def backward(ctx, grad):
            return (grad,)

    with pytest.raises(RuntimeError, match=r"TooFew.backward returned 1 gradients, but its "
                                           r"forward took 2 arguments"):
        TooFew.apply(leaf([1.0]), leaf([2.0])).sum().backward()


def test_gradient_of_a_wrong_shape_is_an_error_naming_the_node_and_shapes():
    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.data.sum()

        @staticmethod
        def backward(ctx, grad):
            return lg.ones(2, dtype=lg.float64)

    with pytest.raises(RuntimeError, match=r"WrongShape backward: the gradient for input 0 has "
                                           r"shape \(2,\), which does not reduce to the input's "
                                           r"shape \(3,\)"):
        WrongShape.apply(leaf([1.0, 2.0, 3.0])).backward()


def test_gradient_of_a_wrong_type_is_an_error():
    class WrongType(Function):
        @staticmethod
        def forward(ctx, x):
            return x.data * 1.0

        @staticmethod
        def backward(ctx, grad):
            return "oops"

    with pytest.raises(TypeError, match=r"WrongType.backward returned a str"):
        WrongType.apply(leaf([1.0])).sum().backward()


def test_broadcast_gradient_from_a_custom_backward_is_reduced_by_the_engine():
    class AddRow(Function):
        @staticmethod
        def forward(ctx, m, row):
            return m.data + row.data

        @staticmethod
        def backward(ctx, grad):
            return grad, grad  # full shape for both: the engine sums the row's back

    m, row = leaf(np.ones((3, 2))), leaf([1.0, 2.0])
    AddRow.apply(m, row).sum().backward()
    np.testing.assert_array_equal(row.grad.numpy(), [3.0, 3.0])


def test_in_place_change_of_a_tensor_saved_by_a_custom_node_is_detected():
    x = leaf([1.0, 2.0])
    h = x * 1.0
    y = Cube.apply(h)
    with lg.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match=r"^Cube: one of the tensors needed for its gradient"):
        y.sum().backward()


def test_custom_label():
    class Fancy(Function):
        label = "MyFancyOp"

        @staticmethod
        def forward(ctx, x):
            return x.data.copy()

        @staticmethod
        def backward(ctx, grad):
            return grad

    y = Fancy.apply(leaf([1.0]))
    assert y.grad_fn.name() == "MyFancyOp" and "MyFancyOpBackward" in repr(y)


def test_custom_function_on_float32_keeps_float32():
    x = leaf([0.5, 1.5], dtype=lg.float32)
    y = Cube.apply(x)
    y.sum().backward()
    assert y.dtype == lg.float32 and x.grad.dtype == lg.float32

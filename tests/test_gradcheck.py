"""``gradcheck`` and ``gradgradcheck`` themselves: they pass correct gradients, catch wrong ones
(full Jacobian and random directions, first and second order) and report clearly."""
import inspect

import numpy as np
import pytest

import locograd as lg
from locograd.autograd import Function, GradcheckError, gradcheck, gradgradcheck


def leaf(values):
    return lg.tensor(values, dtype=lg.float64, requires_grad=True)


class FirstOrderOnly(Function):
    """x**3 with a correct first derivative whose backward is not differentiable in x
    (it uses the raw array), so the second derivative comes out wrong."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (3.0 * x.data ** 2)


class WrongSign(Function):
    @staticmethod
    def forward(ctx, x):
        return np.sin(x.data)

    @staticmethod
    def backward(ctx, grad):
        raise AssertionError("replaced below")


def test_defaults_follow_the_issue():
    params = inspect.signature(gradcheck).parameters
    assert (params["eps"].default, params["atol"].default, params["rtol"].default) == \
        (1e-6, 1e-5, 1e-3)


def test_passes_correct_gradients_with_several_inputs_and_outputs():
    a, b = leaf([[0.3, -1.2], [2.0, 0.5]]), leaf([1.5, -0.5])
    assert gradcheck(lambda x, y: (x * y, (x @ y).tanh(), y.exp()), (a, b))
    assert gradcheck(lambda x, y: (x * y, (x @ y).tanh()), (a, b), fast_mode=True)
    assert gradgradcheck(lambda x, y: ((x * y).sin(), x @ y), (a, b))


def test_non_differentiable_arguments_and_integer_outputs_are_allowed():
    x = leaf([[3.0, 1.0], [0.5, 2.0]])
    assert gradcheck(lambda t, k: tuple(t.max(k)), (x, 1))  # values and int64 indices


def test_restores_the_inputs():
    x = leaf([1.0, 2.0])
    before = x.numpy().copy()
    gradcheck(lambda t: t.exp(), (x,))
    gradcheck(lambda t: t.exp(), (x,), fast_mode=True)
    np.testing.assert_array_equal(x.numpy(), before)


def test_full_jacobian_check_catches_a_wrong_backward():
    class Bad(WrongSign):
        @staticmethod
        def backward(ctx, grad):
            return grad * 0.0 + 1.0

    x = leaf([0.1, 0.2, 0.3])
    with pytest.raises(GradcheckError, match=r"^gradcheck: Jacobian mismatch for output 0 "
                                             r"\(shape \(3,\)\) with respect to input 0"):
        gradcheck(Bad.apply, (x,))
    assert gradcheck(Bad.apply, (x,), raise_exception=False) is False


def test_report_lists_the_worst_entries_first():
    class OffByIndex(WrongSign):
        @staticmethod
        def backward(ctx, grad):
            scale = lg.tensor([1.0, 1.0, 2.0, 1.1], dtype=lg.float64)
            return grad * scale  # wrong for entries 2 (badly) and 3 (a little); sin' is cos

    x = leaf([0.0, 0.0, 0.0, 0.0])  # cos(0) = 1: entries 0 and 1 are right
    with pytest.raises(GradcheckError) as info:
        gradcheck(OffByIndex.apply, (x,))
    lines = str(info.value).splitlines()[1:]
    assert lines[0].strip().startswith("d output(2,) / d input(2,): analytical 2, numerical 1")
    assert lines[1].strip().startswith("d output(3,) / d input(3,): analytical 1.1, numerical 1")
    assert len(lines) == 2


def test_random_direction_check_catches_a_wrong_backward():
    class Bad(WrongSign):
        @staticmethod
        def backward(ctx, grad):
            return grad * 1.01

    x = leaf(np.linspace(-1.0, 1.0, 10))
    with pytest.raises(GradcheckError, match=r"fast mode.*<v, J u>"):
        gradcheck(Bad.apply, (x,), fast_mode=True)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = leaf([0.5, -1.5])
    assert gradcheck(FirstOrderOnly.apply, (x,))  # the first derivative is right
    with pytest.raises(GradcheckError, match="with respect to input 0"):
        gradgradcheck(FirstOrderOnly.apply, (x,))
    with pytest.raises(GradcheckError, match=r"random projection .* analytically but .* "
                                             r"numerically"):
        gradgradcheck(FirstOrderOnly.apply, (x,), fast_mode=True)


def test_input_errors():
    with pytest.raises(ValueError, match=r"input 0 requires grad but has dtype float32.*double"):
        gradcheck(lambda t: t * 2.0, (lg.tensor([1.0], requires_grad=True),))
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2.0, (lg.tensor([1.0], dtype=lg.float64),))
    with pytest.raises(TypeError, match="output 0 of fn is a float"):
        gradcheck(lambda t: 1.0, (leaf([1.0]),))


def test_non_contiguous_inputs_are_checked_element_by_element():
    base = np.arange(6.0).reshape(2, 3) / 7.0
    transposed = lg.from_numpy(base.T).requires_grad_()  # strides of a transpose
    assert not transposed.is_contiguous()
    assert gradcheck(lambda t: t.exp() * lg.tensor([1.0, 2.0], dtype=lg.float64), (transposed,))
    np.testing.assert_array_equal(base, np.arange(6.0).reshape(2, 3) / 7.0)


def test_a_single_tensor_input_needs_no_tuple():
    assert gradcheck(lambda t: t.tanh(), leaf([0.3, 0.7]))

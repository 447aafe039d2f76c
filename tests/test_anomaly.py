"""Anomaly mode: the first backward that produces NaN or Inf is named, with the place in the
user's code where its operation was created."""
import numpy as np
import pytest

import locograd as lg
from locograd.autograd import Function, detect_anomaly, is_anomaly_enabled, set_detect_anomaly


class NanBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return x.data * 2.0

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


def test_names_the_op_and_the_users_line():
    x = lg.tensor([0.0, 1.0], requires_grad=True)
    with detect_anomaly():
        y = lg.sqrt(x)  # the culprit: d sqrt / dx is infinite at 0
        z = (y * 2.0).sum()
        with pytest.raises(RuntimeError) as info:
            z.backward()
    message = str(info.value)
    assert message.startswith("detect_anomaly: function 'SqrtBackward' returned Inf values in "
                              "its output 0 (the gradient for its input 0, shape (2,))")
    assert f"created in your code at {__file__}:" in message
    assert "in test_names_the_op_and_the_users_line: y = lg.sqrt(x)" in message
    assert not is_anomaly_enabled()


def test_nan_from_a_custom_function_and_the_decorator_form():
    @detect_anomaly()
    def run():
        assert is_anomaly_enabled()
        x = lg.tensor([1.0], requires_grad=True)
        out = NanBackward.apply(x * 3.0).exp().sum()
        out.backward()

    with pytest.raises(RuntimeError, match=r"function 'NanBackwardBackward' returned NaN"):
        run()


def test_the_first_bad_node_is_reported_not_its_consumers():
    x = lg.tensor([1.0], requires_grad=True)
    with detect_anomaly():
        h = NanBackward.apply(x)
        out = (h.exp() * 2.0).log().sum()  # every node after NanBackward sees NaN only later
        with pytest.raises(RuntimeError, match="NanBackwardBackward"):
            out.backward()


def test_without_anomaly_mode_nan_gradients_pass_silently():
    x = lg.tensor([0.0], requires_grad=True)
    lg.sqrt(x).sum().backward()
    assert np.isinf(x.grad.numpy()).all()


def test_check_nan_false_records_traces_but_does_not_raise():
    x = lg.tensor([0.0], requires_grad=True)
    with detect_anomaly(check_nan=False):
        y = lg.sqrt(x)
        assert y.grad_fn._trace is not None
        y.sum().backward()
    assert np.isinf(x.grad.numpy()).all()


def test_set_detect_anomaly_switches_immediately_and_as_a_context():
    try:
        set_detect_anomaly(True)
        assert is_anomaly_enabled()
    finally:
        set_detect_anomaly(False)
    assert not is_anomaly_enabled()
    with set_detect_anomaly(True):
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()


def test_anomaly_mode_gives_the_same_gradients():
    x = lg.tensor([0.5, 2.0], dtype=lg.float64, requires_grad=True)
    (x.exp() * x).sum().backward()
    expected = x.grad.numpy().copy()
    x.grad = None
    with detect_anomaly():
        (x.exp() * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), expected)

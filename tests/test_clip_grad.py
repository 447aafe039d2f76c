"""Gradient clipping: clip_grad_norm_, clip_grad_value_, get_total_norm, clip_grads_with_norm_."""
import math

import numpy as np
import pytest

import locograd as lg
from locograd.nn.utils import (clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                               get_total_norm)


def with_grads(*grads, dtype=np.float64):
    params = []
    for g in grads:
        p = lg.zeros(np.shape(g), dtype=dtype, requires_grad=True)
        p.grad = lg.tensor(np.asarray(g, dtype=dtype)) if g is not None else None
        params.append(p)
    return params


def test_clip_grad_norm_scales_all_gradients_together():
    a, b = with_grads([3.0, 4.0], [12.0])  # total 2-norm sqrt(9 + 16 + 144) = 13
    total = clip_grad_norm_([a, b], max_norm=1.3)
    assert total.item() == 13.0 and total.shape == ()
    coefficient = 1.3 / (13.0 + 1e-6)
    assert a.grad.tolist() == pytest.approx([3 * coefficient, 4 * coefficient], rel=1e-15)
    assert b.grad.tolist() == pytest.approx([12 * coefficient], rel=1e-15)
    assert get_total_norm([a.grad, b.grad]).item() == pytest.approx(1.3, rel=1e-6)


def test_no_change_below_the_threshold():
    a, b = with_grads([3.0, 4.0], [12.0])
    version = a.grad._version[0]
    assert clip_grad_norm_([a, b], max_norm=13.1).item() == 13.0
    assert a.grad.tolist() == [3.0, 4.0] and b.grad.tolist() == [12.0]
    assert a.grad._version[0] == version


def test_other_norms():
    grads = ([3.0, -4.0], [[12.0, 0.0]])
    a, b = with_grads(*grads)
    assert clip_grad_norm_([a, b], 6.0, norm_type=float("inf")).item() == 12.0
    assert a.grad.tolist() == pytest.approx([3 * 6 / (12 + 1e-6), -4 * 6 / (12 + 1e-6)])
    a, b = with_grads(*grads)
    assert clip_grad_norm_([a, b], 100.0, norm_type=1).item() == 19.0
    a, b = with_grads(*grads)
    assert clip_grad_norm_([a, b], 100.0, norm_type=3).item() == pytest.approx(
        (27 + 64 + 1728) ** (1 / 3), rel=1e-14)
    a, b = with_grads(*grads)
    # as PyTorch, the norm of the per-tensor norms: for order 0, the tensors with a non-zero
    assert get_total_norm([a.grad, b.grad], norm_type=0).item() == 2.0


def test_parameters_without_gradients_a_single_tensor_and_a_generator():
    a, b = with_grads([6.0, 8.0], None)
    assert clip_grad_norm_(a, 5.0).item() == 10.0  # a single tensor
    assert a.grad.tolist() == pytest.approx([3.0, 4.0], rel=1e-6)
    assert b.grad is None
    a, = with_grads([6.0, 8.0])
    assert clip_grad_norm_((p for p in [a, b]), 5.0).item() == 10.0
    assert a.grad.tolist() == pytest.approx([3.0, 4.0], rel=1e-6)
    total = clip_grad_norm_([b], 1.0)
    assert total.item() == 0.0 and total.dtype == np.float32


def test_float32_stays_float32():
    a, = with_grads([3.0, 4.0], dtype=np.float32)
    total = clip_grad_norm_([a], 1.0)
    assert total.dtype == np.float32 and a.grad.dtype == np.float32
    assert a.grad.tolist() == pytest.approx([0.6, 0.8], rel=1e-6)


def test_non_finite_norms():
    a, b = with_grads([1.0, math.inf], [1.0])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is inf"):
        clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    assert a.grad.tolist() == [1.0, math.inf]  # untouched on error
    # without the error, PyTorch's behaviour: scaled by max_norm / inf = 0 (inf * 0 is NaN)
    assert clip_grad_norm_([a, b], 1.0).item() == math.inf
    assert b.grad.tolist() == [0.0] and a.grad.tolist()[0] == 0.0 and math.isnan(a.grad.tolist()[1])
    a, = with_grads([math.nan, 1.0])
    assert math.isnan(clip_grad_norm_([a], 1.0).item())
    assert all(math.isnan(v) for v in a.grad.tolist())


def test_clip_grads_with_norm_uses_the_given_total():
    a, = with_grads([2.0, 2.0])
    clip_grads_with_norm_([a], 1.0, 4.0)
    assert a.grad.tolist() == pytest.approx([0.5, 0.5], rel=1e-6)


def test_clip_grad_value():
    a, b = with_grads([0.5, -3.0, 2.0], [-0.1])
    assert clip_grad_value_([a, b], 1.0) is None
    assert a.grad.tolist() == [0.5, -1.0, 1.0] and b.grad.tolist() == [-0.1]
    c, = with_grads([0.5, -3.0], dtype=np.float32)
    clip_grad_value_(c, 0.25)
    assert c.grad.tolist() == [0.25, -0.25] and c.grad.dtype == np.float32
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be >= 0, got -1.0"):
        clip_grad_value_([a], -1.0)


def test_non_tensor_input():
    with pytest.raises(TypeError, match="clip_grad_norm_: expected tensors, but item 1 is a list"):
        clip_grad_norm_([lg.zeros(1), [1.0]], 1.0)


def test_clipping_a_recurrent_gradient_keeps_its_direction():
    # the remedy for exploding gradients: h_t = w * h_{t-1} with |w| > 1 over 30 steps
    w = lg.tensor([1.5], dtype=lg.float64, requires_grad=True)
    h = lg.tensor([1.0], dtype=lg.float64)
    for _ in range(30):
        h = w * h
    h.sum().backward()
    raw = w.grad.item()  # 30 * 1.5^29
    assert raw == pytest.approx(30 * 1.5 ** 29, rel=1e-12)
    total = clip_grad_norm_([w], 1.0)
    assert total.item() == pytest.approx(raw) and w.grad.item() == pytest.approx(1.0, rel=1e-6)

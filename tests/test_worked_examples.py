"""The classic backpropagation examples, with exact values.

Each test states the upstream, local and downstream gradients the textbook derives by hand.
"""
import math

import numpy as np
import pytest

import locograd as lg


def test_f_equals_z_times_x_plus_y():
    # f = z (x + y) at x = -2, y = 5, z = -4: q = x + y = 3, f = -12.
    x = lg.tensor(-2.0, requires_grad=True)
    y = lg.tensor(5.0, requires_grad=True)
    z = lg.tensor(-4.0, requires_grad=True)
    q = x + y
    q.retain_grad()
    f = q * z
    assert f.item() == -12.0
    f.backward()
    # multiply node: swaps the inputs (df/dq = z, df/dz = q)
    assert q.grad.item() == -4.0
    assert z.grad.item() == 3.0
    # add node: distributes the upstream gradient unchanged (local gradient 1)
    assert x.grad.item() == -4.0
    assert y.grad.item() == -4.0


def test_add_distributes_multiply_swaps_max_routes():
    a = lg.tensor(3.0, requires_grad=True)
    b = lg.tensor(-1.0, requires_grad=True)
    c = lg.tensor(2.0, requires_grad=True)
    d = lg.tensor(5.0, requires_grad=True)
    out = (a + b) * 2.0 + lg.maximum(c, d) + a * b
    out.backward()
    # a: 2 (through the add, times 2) + b (the multiply swaps) = 2 - 1
    assert a.grad.item() == 1.0
    # b: 2 + a = 5
    assert b.grad.item() == 5.0
    # max routes the whole gradient to the larger input and nothing to the other
    assert d.grad.item() == 1.0
    assert c.grad.item() == 0.0


def test_fan_out_sums_what_comes_back():
    x = lg.tensor(3.0, requires_grad=True)
    y = x * x + x * 4.0 + x  # x used three times (four edges)
    y.backward()
    assert x.grad.item() == 2 * 3.0 + 4.0 + 1.0


def test_sigmoid_node_local_gradient():
    # The fused sigmoid node: d sigma / dx = sigma (1 - sigma).
    w = lg.tensor([2.0, -3.0, -3.0], requires_grad=True, dtype=lg.float64)
    x = lg.tensor([-1.0, -2.0, 1.0], dtype=lg.float64)
    f = (w[:2] * x[:2]).sum() + w[2]  # = 1
    s = f.sigmoid()
    s.backward()
    sig = 1.0 / (1.0 + math.exp(-1.0))
    local = sig * (1 - sig)
    np.testing.assert_allclose(w.grad.numpy(), [-1.0 * local, -2.0 * local, local], rtol=1e-12)


def test_softmax_with_nll_gradient_is_s_minus_onehot():
    logits = lg.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=lg.float64,
                       requires_grad=True)
    target = lg.tensor([1, 2])
    loss = -logits.log_softmax(1)[lg.arange(2), target].sum()
    loss.backward()
    s = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(1, keepdims=True)
    onehot = np.eye(3)[[1, 2]]
    np.testing.assert_allclose(logits.grad.numpy(), s - onehot, rtol=1e-12, atol=1e-15)


def test_scalar_recurrence_sums_over_time_steps():
    # h_t = tanh(w h_{t-1} + x_t), L = h_T: dL/dw = sum_t dL/dh_t * (1 - h_t^2) * h_{t-1}.
    xs = [0.5, -0.3, 0.8, 0.1]
    w_val = 0.7
    w = lg.tensor(w_val, dtype=lg.float64, requires_grad=True)
    h = lg.tensor(0.2, dtype=lg.float64)
    for x in xs:
        h = (w * h + x).tanh()
    h.backward()
    # Hand-written BPTT.
    hs = [0.2]
    for x in xs:
        hs.append(math.tanh(w_val * hs[-1] + x))
    dh, dw = 1.0, 0.0
    for t in range(len(xs), 0, -1):
        da = dh * (1 - hs[t] ** 2)
        dw += da * hs[t - 1]  # each time step contributes: the recurrence sums them
        dh = da * w_val
    assert w.grad.item() == pytest.approx(dw, rel=1e-12)

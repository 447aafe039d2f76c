"""Activations against PyTorch on NaN, infinities and the kinks (issue 13): the value and the
gradient, element by element, on the fast path and on the recorded (``create_graph``) path.

The reference is PyTorch's per-element formula, evaluated one element at a time. PyTorch itself is
not consistent at NaN: its CPU kernels for hardtanh/relu6, hardshrink, softshrink, elu/selu/celu
and hardswish take a vectorised path on tensors of 8 or more float64 elements (16 float32) whose
NaN gradient differs from the scalar formula (0 instead of 1 for the hardtanh family, NaN instead
of ``scale`` for elu/selu/celu/hardswish), and the scalar formula again on the tail. Its CUDA
kernels apply the scalar formula to every element; so does locograd, whatever the length.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import locograd as lg
import locograd.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

NAN, INF = math.nan, math.inf
# NaN, the infinities, the kinks of every op below and ordinary points on each side of them.
POINTS = [NAN, -INF, INF, -7.0, -6.0, -3.0, -2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0,
          3.0, 6.0, 7.0]

ACTIVATIONS = {
    "relu6": (F.relu6, TF.relu6),
    "hardtanh": (lambda x: F.hardtanh(x, -1.0, 2.0), lambda x: TF.hardtanh(x, -1.0, 2.0)),
    "threshold": (lambda x: F.threshold(x, 0.25, -2.0), lambda x: TF.threshold(x, 0.25, -2.0)),
    "hardshrink": (F.hardshrink, TF.hardshrink),
    "softshrink": (F.softshrink, TF.softshrink),
    "elu": (F.elu, TF.elu),
    "celu": (lambda x: F.celu(x, 2.0), lambda x: TF.celu(x, 2.0)),
    "selu": (F.selu, TF.selu),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
    "hardswish": (F.hardswish, TF.hardswish),
    "prelu": (lambda x: F.prelu(x, lg.tensor([0.25])),
              lambda x: TF.prelu(x, torch.tensor([0.25], dtype=x.dtype))),
    "gelu": (F.gelu, TF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (F.silu, TF.silu),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
}


def _torch_value_and_grad(fn, points):
    """PyTorch's value and gradient at each point, one element at a time (its scalar formula)."""
    values, grads = [], []
    for p in points:
        x = torch.tensor([p], dtype=torch.float64, requires_grad=True)
        y = fn(x)
        y.sum().backward()
        values.append(y.item())
        grads.append(x.grad.item())
    return np.array(values), np.array(grads)


def _ours(fn, points, create_graph):
    x = lg.tensor(points, dtype=lg.float64, requires_grad=True)
    y = fn(x)
    (g,) = lg.grad(y.sum(), [x], create_graph=create_graph)
    return y.numpy(), g.numpy()


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("create_graph", [False, True], ids=["fast", "recorded"])
def test_value_and_gradient_match_torch_at_nan_inf_and_kinks(name, create_graph):
    ours, theirs = ACTIVATIONS[name]
    points = POINTS
    if name in ("gelu", "gelu_tanh", "silu", "logsigmoid"):
        points = [p for p in POINTS if not math.isinf(p)]  # 0 * inf in both: NaN vs NaN
    with np.errstate(all="ignore"):
        value, grad = _ours(ours, points, create_graph)
    t_value, t_grad = _torch_value_and_grad(theirs, points)
    # rtol: PyTorch's hardsigmoid slope is float32(1/6) even in float64; erf differs by ~1e-15.
    np.testing.assert_allclose(value, t_value, rtol=1e-7, atol=1e-14, equal_nan=True,
                               err_msg=f"{name}: values at {points}")
    np.testing.assert_allclose(grad, t_grad, rtol=1e-7, atol=1e-14, equal_nan=True,
                               err_msg=f"{name}: gradients at {points}")


def test_threshold_and_hardshrink_keep_nan_and_its_gradient():
    x = lg.tensor([NAN, 1.0], requires_grad=True)
    y = F.threshold(x, 0.5, -1.0) + F.hardshrink(x) * 2.0
    y.sum().backward()
    assert np.isnan(y.numpy()[0]) and y.numpy()[1] == 3.0
    assert x.grad.tolist() == [3.0, 3.0]


def test_float32_nan_masks_keep_float32():
    x = lg.tensor([NAN, -1.0, 0.5], dtype=lg.float32, requires_grad=True)
    for name in ("relu6", "hardsigmoid", "hardswish", "elu", "threshold", "hardshrink"):
        y = ACTIVATIONS[name][0](x)
        (g,) = lg.grad(y.sum(), [x])
        assert y.dtype == lg.float32 and g.dtype == lg.float32, name
        assert np.isnan(y.numpy()[0]), name

"""NaN inputs: values and gradients of the elementwise ops as PyTorch gives them (issue 13).

PyTorch's choices at NaN: relu's gradient is 1 (its mask is ``not (x <= 0)``), abs's is 0 (its
sign of NaN is 0), and maximum/minimum give *both* inputs the full gradient wherever either is
NaN. Compared element by element with torch in float64.
"""
from __future__ import annotations

import numpy as np
import pytest

import locograd as lg

torch = pytest.importorskip("torch")

NAN = float("nan")
X = np.array([NAN, 1.0, -2.0, NAN, 0.0, 3.0])
Y = np.array([1.0, NAN, NAN, 2.0, 0.0, -1.0])


def _ours(fn, *arrays):
    leaves = [lg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    out.backward(lg.ones_like(out))
    return out.detach().numpy(), [t.grad.numpy() for t in leaves]


def _torch(fn, *arrays):
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    out.backward(torch.ones_like(out))
    return out.detach().numpy(), [t.grad.numpy() for t in leaves]


@pytest.mark.parametrize("name, ours, theirs, arity", [
    ("relu", lg.relu, torch.relu, 1),
    ("abs", lg.abs, torch.abs, 1),
    ("maximum", lg.maximum, torch.maximum, 2),
    ("minimum", lg.minimum, torch.minimum, 2),
    ("clamp", lambda a: lg.clamp(a, -1.0, 2.0), lambda a: torch.clamp(a, -1.0, 2.0), 1),
])
def test_nan_values_and_gradients_match_pytorch(name, ours, theirs, arity):
    arrays = (X, Y)[:arity]
    value, grads = _ours(ours, *arrays)
    want_value, want_grads = _torch(theirs, *arrays)
    np.testing.assert_array_equal(value, want_value, err_msg=f"{name}: value")
    for i, (g, w) in enumerate(zip(grads, want_grads)):
        np.testing.assert_array_equal(g, w, err_msg=f"{name}: gradient of input {i}")


@pytest.mark.parametrize("reduce", ["max", "min", "amax", "amin"])
def test_full_reductions_at_nan_match_pytorch(reduce):
    """``max()``/``min()`` split a NaN result's gradient over the NaN entries; ``amax``/``amin``
    give NaN gradients there (both as PyTorch)."""
    x = np.array([1.0, NAN, 3.0, NAN])
    value, (grad,) = _ours(getattr(lg, reduce), x)
    want_value, (want_grad,) = _torch(getattr(torch, reduce), x)
    np.testing.assert_array_equal(value, want_value)
    np.testing.assert_array_equal(grad, want_grad)


def test_ties_still_split_the_gradient_evenly():
    _, (gx, gy) = _ours(lg.maximum, np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    np.testing.assert_array_equal(gx, [0.5, 1.0])
    np.testing.assert_array_equal(gy, [0.5, 0.0])

"""The dtype promotion rules (``locograd.backend``): float32 stays float32 unless a float64
tensor or array takes part; integers divide into the default float; products need equal
dtypes."""
import numpy as np
import pytest

import locograd as lg

f32 = lg.tensor([1.0, 2.0])
f64 = lg.tensor([1.0, 2.0], dtype=lg.float64)
i64 = lg.tensor([1, 2])
i32 = lg.tensor([1, 2], dtype=lg.int32)
b = lg.tensor([True, False])


@pytest.mark.parametrize("name, make, expected", [
    # float32 with Python and NumPy scalars: the scalar never widens the tensor
    ("f32 + python float", lambda: f32 + 0.5, lg.float32),
    ("python float * f32", lambda: 0.5 * f32, lg.float32),
    ("f32 * python int", lambda: f32 * 3, lg.float32),
    ("f32 + numpy float64 scalar", lambda: f32 + np.float64(0.5), lg.float32),
    ("numpy float64 scalar - f32", lambda: np.float64(0.5) - f32, lg.float32),
    ("f32 / numpy float64 scalar", lambda: f32 / np.float64(3.0), lg.float32),
    ("numpy float64 scalar ** f32", lambda: np.float64(2.0) ** f32, lg.float32),
    ("f32 ** python float", lambda: f32 ** 1.5, lg.float32),
    ("maximum(f32, numpy scalar)", lambda: lg.maximum(f32, np.float64(1.5)), lg.float32),
    ("where(f32, python float)", lambda: lg.where(f32 > 1, f32, 0.5), lg.float32),
    ("masked_fill(f32, numpy scalar)", lambda: f32.masked_fill(f32 > 1, np.float64(9)),
     lg.float32),
    ("clamp(f32, python floats)", lambda: f32.clamp(0.5, 1.5), lg.float32),
    # integers
    ("int / int", lambda: i64 / i64, lg.float32),
    ("int / python int", lambda: i64 / 2, lg.float32),
    ("python int / int", lambda: 2 / i64, lg.float32),
    ("int + python float", lambda: i64 + 0.5, lg.float32),
    ("int * python int", lambda: i64 * 2, lg.int64),
    ("int32 + int64", lambda: i32 + i64, lg.int64),
    ("int ** negative int", lambda: i64 ** -1, lg.float32),
    ("exp(int)", lambda: i64.exp(), lg.float32),
    ("clamp(int, float bounds)", lambda: i64.clamp(0.5, 1.5), lg.float32),
    ("clamp(int, int bounds)", lambda: i64.clamp(0, 1), lg.int64),
    ("sum(int)", lambda: i32.sum(), lg.int64),
    ("bool + int", lambda: b + i64, lg.int64),
    ("bool * python float", lambda: b * 0.5, lg.float32),
    # tensors of two dtypes: category first, then width
    ("f32 + f64", lambda: f32 + f64, lg.float64),
    ("int64 + float32", lambda: i64 + f32, lg.float32),
    ("int32 * float64", lambda: i32 * f64, lg.float64),
    ("f32 + float64 ndarray", lambda: f32 + np.ones(2), lg.float64),
    ("cat(int64, float32)", lambda: lg.cat([i64, f32]), lg.float32),
    ("stack(float32, float64)", lambda: lg.stack([f32, f64]), lg.float64),
    # reductions and the rest keep float32
    ("mean / var / std", lambda: f32.mean() + f32.var() + f32.std(), lg.float32),
    ("softmax, logsumexp", lambda: f32.softmax(0) + f32.logsumexp(0), lg.float32),
    ("norm", lambda: f32.norm() + f32.norm(3), lg.float32),
    ("comparisons", lambda: f32 > 1.5, lg.bool),
])
def test_promotion_table(name, make, expected):
    assert make().dtype == expected, name


def test_python_floats_and_numpy_arrays_in_factories():
    assert lg.tensor([1.0, 2.0]).dtype == lg.float32
    assert lg.tensor(1.5).dtype == lg.float32
    assert lg.tensor([1, 2]).dtype == lg.int64 and lg.tensor([True]).dtype == lg.bool
    assert lg.tensor(np.array([1.0])).dtype == lg.float64  # NumPy arrays keep their dtype
    assert lg.tensor([np.float64(1.0)]).dtype == lg.float64
    assert lg.from_numpy(np.ones(2, np.float32)).dtype == lg.float32


def test_set_default_dtype_changes_python_floats_and_float_factories():
    try:
        lg.set_default_dtype(lg.float64)
        assert lg.tensor(1.0).dtype == lg.float64 and lg.zeros(2).dtype == lg.float64
        assert (i64 / i64).dtype == lg.float64
    finally:
        lg.set_default_dtype(lg.float32)
    assert lg.get_default_dtype() == lg.float32
    with pytest.raises(TypeError, match="only floating dtypes"):
        lg.set_default_dtype(lg.int64)


def test_matmul_and_linear_require_equal_dtypes():
    with pytest.raises(TypeError, match=r"^matmul: expected both operands to have the same dtype, "
                                        r"got float32 \(shape \(2,\)\) and float64"):
        f32 @ f64
    with pytest.raises(TypeError, match=r"^linear: the input has dtype float64 but the weight "
                                        r"has dtype float32"):
        lg.linear(lg.ones(2, 3, dtype=lg.float64), lg.ones(4, 3))


def test_gradients_come_back_in_each_leaf_dtype():
    x = lg.tensor([1.0, 2.0], requires_grad=True)               # float32
    w = lg.tensor([3.0, 4.0], dtype=lg.float64, requires_grad=True)
    out = (x * w).sum()                                          # float64
    assert out.dtype == lg.float64
    out.backward()
    assert x.grad.dtype == lg.float32 and w.grad.dtype == lg.float64
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_float32_training_step_stays_float32():
    lg.manual_seed(0)
    w = lg.randn(3, 2, requires_grad=True)
    x = lg.randn(4, 3)
    loss = ((x @ w).tanh() * 0.5 - 1.0).pow(2).mean()
    loss.backward()
    assert loss.dtype == lg.float32 and w.grad.dtype == lg.float32
    with lg.no_grad():
        w -= 0.1 * w.grad
    assert w.dtype == lg.float32


def test_promote_types():
    assert lg.promote_types(lg.float32, lg.float64) == lg.float64
    assert lg.promote_types(lg.int32, lg.int64) == lg.int64
    assert lg.promote_types(lg.int64, lg.float32) == lg.float32  # NumPy would say float64
    assert lg.promote_types(lg.bool, lg.int32) == lg.int32
    assert lg.promote_types("float", lg.float16) == lg.float32
    for a in (lg.bool, lg.int32, lg.int64, lg.float32, lg.float64):
        for b_ in (lg.bool, lg.int32, lg.int64, lg.float32, lg.float64):
            got = (lg.zeros(1, dtype=a) + lg.zeros(1, dtype=b_)).dtype
            if not (a == b_ == lg.bool):  # bool + bool is logical or in NumPy: stays bool
                assert got == lg.promote_types(a, b_), (a, b_)
    assert lg.as_dtype("float") == lg.float32 and lg.as_dtype("long") == lg.int64
    assert lg.as_dtype(float) == lg.float32 and lg.as_dtype(np.float64) == lg.float64
    with pytest.raises(TypeError, match="not a dtype"):
        lg.as_dtype("floaty")

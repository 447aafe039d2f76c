"""nn.init: PyTorch's formulas, checked by the statistics of large draws, and reproducibility.

Sampling tolerances: for n draws the relative standard error of a sample variance is
sqrt(2 / n) (normal) or sqrt(0.8 / n) (uniform); the checks allow about five of those.
"""
import math

import numpy as np
import pytest

import locograd as lg
from locograd import nn
from locograd.nn import init


def _rel_var_error(values, expected_var):
    return abs(values.var() / expected_var - 1.0)


def test_calculate_gain_table():
    for name in ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose2d",
                 "sigmoid"):
        assert init.calculate_gain(name) == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", 0) == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a number"):
        init.calculate_gain("leaky_relu", "0.1")


def test_calculate_gain_matches_pytorch():
    torch = pytest.importorskip("torch")
    for args in [("linear",), ("tanh",), ("relu",), ("leaky_relu",), ("leaky_relu", 0.3),
                 ("selu",), ("sigmoid",), ("conv2d",)]:
        assert init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args))


def test_kaiming_normal_variance_fan_in():
    lg.manual_seed(0)
    w = init.kaiming_normal_(lg.empty(200, 300))  # leaky_relu with a=0: gain sqrt(2)
    assert w.dtype == np.float32
    assert _rel_var_error(w.numpy(), 2.0 / 300) < 5 * math.sqrt(2 / 60000)
    assert abs(w.numpy().mean()) < 5 * math.sqrt(2.0 / 300 / 60000)


def test_kaiming_uniform_fan_out_on_a_conv_weight():
    lg.manual_seed(1)
    w = init.kaiming_uniform_(lg.empty(64, 16, 3, 3), mode="fan_out", nonlinearity="relu")
    fan_out = 64 * 9
    bound = math.sqrt(2) * math.sqrt(3 / fan_out)
    values = w.numpy()
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert _rel_var_error(values, 2.0 / fan_out) < 5 * math.sqrt(0.8 / values.size)


def test_kaiming_with_negative_slope_and_errors():
    lg.manual_seed(2)
    w = init.kaiming_normal_(lg.empty(300, 200), a=0.5)
    assert _rel_var_error(w.numpy(), 2.0 / (1 + 0.25) / 200) < 5 * math.sqrt(2 / 60000)
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(lg.empty(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform_(lg.empty(5))


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier_variances(gain):
    lg.manual_seed(3)
    fan_in, fan_out = 250, 150
    expected = gain ** 2 * 2.0 / (fan_in + fan_out)
    u = init.xavier_uniform_(lg.empty(fan_out, fan_in), gain=gain).numpy()
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(u).max() <= bound
    assert _rel_var_error(u, expected) < 5 * math.sqrt(0.8 / u.size)
    n = init.xavier_normal_(lg.empty(fan_out, fan_in), gain=gain).numpy()
    assert _rel_var_error(n, expected) < 5 * math.sqrt(2 / n.size)


@pytest.mark.parametrize("shape", [(30, 10), (10, 30), (8, 2, 3, 3), (16, 16)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = init.orthogonal_(lg.empty(*shape, dtype=lg.float64), gain=2.0).numpy()
    flat = w.reshape(shape[0], -1)
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-12)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(lg.empty(3))


def test_every_draw_is_reproducible_with_manual_seed_and_generators():
    fills = [init.normal_, init.uniform_, init.xavier_uniform_, init.xavier_normal_,
             init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_, init.trunc_normal_,
             lambda t: init.sparse_(t, 0.5)]
    for fill in fills:
        lg.manual_seed(123)
        a = fill(lg.empty(6, 5)).numpy().copy()
        lg.manual_seed(123)
        b = fill(lg.empty(6, 5)).numpy()
        np.testing.assert_array_equal(a, b)
    g1 = init.normal_(lg.empty(4), generator=lg.Generator(5)).numpy()
    g2 = init.normal_(lg.empty(4), generator=lg.Generator(5)).numpy()
    np.testing.assert_array_equal(g1, g2)
    lg.manual_seed(0)
    l1 = nn.Linear(4, 3)
    lg.manual_seed(0)
    l2 = nn.Linear(4, 3)
    np.testing.assert_array_equal(l1.weight.numpy(), l2.weight.numpy())


def test_simple_fills_and_in_place_semantics():
    p = nn.Parameter(lg.empty(3, 4))
    out = init.constant_(p, 0.3)
    assert out is p and p.requires_grad and p.grad_fn is None
    np.testing.assert_allclose(p.numpy(), 0.3)
    v = p._version[0]
    init.zeros_(p)
    assert p._version[0] > v and not p.numpy().any()
    assert init.ones_(lg.empty(2)).tolist() == [1.0, 1.0]
    assert init.eye_(lg.empty(2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]
    lg.manual_seed(4)
    u = init.uniform_(lg.empty(10000), -2.0, 3.0).numpy()
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.1
    n = init.normal_(lg.empty(10000), mean=1.0, std=0.5).numpy()
    assert abs(n.mean() - 1.0) < 0.03 and abs(n.std() - 0.5) < 0.03
    t = init.trunc_normal_(lg.empty(10000), std=1.0, a=-1.0, b=0.5).numpy()
    assert t.min() >= -1.0 and t.max() <= 0.5


def test_sparse_and_dirac():
    lg.manual_seed(5)
    w = init.sparse_(lg.empty(10, 7), sparsity=0.3).numpy()
    assert ((w == 0).sum(axis=0) == 3).all()  # ceil(0.3 * 10) zeros in every column
    d = init.dirac_(lg.empty(4, 2, 3, 3), groups=2).numpy()
    assert d.sum() == 4 and d[0, 0, 1, 1] == d[1, 1, 1, 1] == d[2, 0, 1, 1] == d[3, 1, 1, 1] == 1


def test_layers_use_pytorch_default_initialisation():
    lg.manual_seed(6)
    fc = nn.Linear(400, 300)
    # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)): variance 1/(3 fan_in)
    assert _rel_var_error(fc.weight.numpy(), 1.0 / (3 * 400)) < 5 * math.sqrt(0.8 / 120000)
    assert np.abs(fc.bias.numpy()).max() <= 1 / math.sqrt(400)
    assert nn.PReLU(4).weight.tolist() == [0.25] * 4

"""Layers: Linear, activations, PReLU, Dropout, Embedding and the regularisation penalties.

Every layer's gradients are gradchecked in float64 (inputs and parameters); values are checked
against NumPy formulas, and against PyTorch when it is installed (oracle only).
"""
import math

import numpy as np
import pytest

import locograd as lg
from locograd import nn
from locograd.autograd import gradcheck, gradgradcheck
from locograd.nn import functional as F
from locograd.nn.utils import l1_penalty, l2_penalty, penalized_parameters


def _x(*shape, seed=0, avoid=(0.0,), margin=0.05):
    """float64 input that requires grad, kept away from the activations' kinks."""
    x = np.random.default_rng(seed).standard_normal(shape) * 2
    for p in avoid:
        close = np.abs(x - p) < margin
        x = np.where(close, p + 3 * margin, x)
    return lg.tensor(x, requires_grad=True)


# ------------------------------------------------------------------------------ Linear

def test_linear_shapes_default_init_and_gradcheck():
    lg.manual_seed(0)
    fc = nn.Linear(20, 5)
    assert fc.weight.shape == (5, 20) and fc.bias.shape == (5,)
    bound = 1 / math.sqrt(20)
    assert np.abs(fc.weight.numpy()).max() <= bound and np.abs(fc.bias.numpy()).max() <= bound
    assert np.abs(fc.weight.numpy()).max() > 0.8 * bound  # U(-b, b), not something narrower
    assert fc.weight.dtype == np.float32

    fc = nn.Linear(3, 2).double()
    x = _x(4, 3)
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), (x, fc.weight, fc.bias))
    y = fc(x)
    np.testing.assert_allclose(y.numpy(), x.numpy() @ fc.weight.numpy().T + fc.bias.numpy())
    assert nn.Linear(3, 2, bias=False).bias is None
    with pytest.raises(ValueError, match="positive"):
        nn.Linear(0, 2)


def test_bilinear_flatten_unflatten():
    lg.manual_seed(0)
    bil = nn.Bilinear(3, 4, 2).double()
    x1, x2 = _x(5, 3), _x(5, 4, seed=1)
    expected = np.einsum("bi,oij,bj->bo", x1.numpy(), bil.weight.numpy(), x2.numpy())
    np.testing.assert_allclose(bil(x1, x2).numpy(), expected + bil.bias.numpy())
    # the parameters are read from the module: gradcheck perturbs them in place
    assert gradcheck(lambda a, b, w, c: bil(a, b), (x1, x2, bil.weight, bil.bias))
    assert np.abs(nn.Bilinear(9, 4, 2).weight.numpy()).max() <= 1 / 3  # U(+-1/sqrt(in1))
    x = lg.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Unflatten(1, (6, 10))(nn.Flatten()(x)).shape == (2, 6, 10)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert gradcheck(nn.Sequential(nn.Flatten(), nn.Unflatten(1, (4, 3))), (_x(2, 3, 4),))


# ------------------------------------------------------------------------------ activations

ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0), (0.0,)),
    (nn.LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x), (0.0,)),
    (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), (0.0,)),
    (nn.CELU(1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x / 1.5)), (0.0,)),
    (nn.SELU(), lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 *
                                                        np.expm1(x)), (0.0,)),
    (nn.GELU(), lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))), ()),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) *
                                                       (x + 0.044715 * x ** 3))), ()),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x)), ()),
    (nn.Tanh(), np.tanh, ()),
    (nn.Softplus(beta=2.0), lambda x: np.logaddexp(0, 2 * x) / 2, ()),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True), ()),
    (nn.LogSoftmax(dim=1), lambda x: x - np.log(np.exp(x).sum(1, keepdims=True)), ()),
    (nn.Softmin(dim=1), lambda x: np.exp(-x) / np.exp(-x).sum(1, keepdims=True), ()),
    (nn.Hardtanh(-1.0, 2.0), lambda x: np.clip(x, -1, 2), (-1.0, 2.0)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6), (0.0, 6.0)),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x)), ()),
    (nn.Mish(), lambda x: x * np.tanh(np.logaddexp(0, x)), ()),
    (nn.LogSigmoid(), lambda x: -np.logaddexp(0, -x), ()),
    (nn.Hardsigmoid(), lambda x: np.clip(x / 6 + 0.5, 0, 1), (-3.0, 3.0)),
    (nn.Hardswish(), lambda x: x * np.clip(x / 6 + 0.5, 0, 1), (-3.0, 3.0)),
    (nn.Softsign(), lambda x: x / (1 + np.abs(x)), (0.0,)),
    (nn.Tanhshrink(), lambda x: x - np.tanh(x), ()),
    (nn.Threshold(0.5, -1.0), lambda x: np.where(x > 0.5, x, -1.0), (0.5,)),
    (nn.Hardshrink(0.5), lambda x: np.where(np.abs(x) > 0.5, x, 0), (-0.5, 0.5)),
    (nn.Softshrink(0.5), lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0), (-0.5, 0.5)),
    (nn.Identity(), lambda x: x, ()),
]


@pytest.mark.parametrize("module, reference, kinks", ACTIVATIONS,
                         ids=[type(a[0]).__name__ + str(i) for i, a in enumerate(ACTIVATIONS)])
def test_activation_values_and_gradcheck(module, reference, kinks):
    x = _x(3, 4, avoid=kinks)
    np.testing.assert_allclose(module(x).numpy(), reference(x.numpy()), rtol=1e-12, atol=1e-12)
    assert gradcheck(module, (x,))
    assert gradgradcheck(module, (x,))
    assert module(lg.randn(2, 4)).dtype == np.float32  # float32 stays float32


def test_glu_halves_the_dimension():
    x = _x(2, 6)
    out = nn.GLU(dim=1)(x)
    a, b = x.numpy()[:, :3], x.numpy()[:, 3:]
    np.testing.assert_allclose(out.numpy(), a / (1 + np.exp(-b)))
    assert gradcheck(nn.GLU(1), (x,))
    with pytest.raises(ValueError, match="even size"):
        nn.GLU(0)(_x(3, 6))


def test_activation_reprs_match_pytorch():
    assert repr(nn.ReLU()) == "ReLU()" and repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.GELU(approximate="tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Softmax(dim=-1)) == "Softmax(dim=-1)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert repr(nn.Hardshrink()) == "Hardshrink(0.5)"
    assert repr(nn.Dropout2d(0.2)) == "Dropout2d(p=0.2, inplace=False)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"


def test_stable_extremes():
    big = lg.tensor([-1e4, -50.0, 50.0, 1e4], dtype=lg.float64, requires_grad=True)
    out = F.logsigmoid(big)
    np.testing.assert_allclose(out.numpy(), [-1e4, -50.0, -np.exp(-50.0), 0.0], rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(big.grad.numpy(), [1.0, 1.0, np.exp(-50.0), 0.0], rtol=1e-12)
    for fn in (F.silu, F.gelu, F.mish, F.elu, F.selu):
        y = fn(big)
        assert np.all(np.isfinite(y.numpy())), fn.__name__
        (g,) = lg.grad(y.sum(), big)
        assert np.all(np.isfinite(g.numpy())), fn.__name__


def test_erf_against_math_erf():
    x = np.concatenate([np.linspace(-8, 8, 40001), [0.0, 1e-300, -1e-12, np.inf, -np.inf]])
    expected = np.array([math.erf(v) for v in x])
    got = lg.erf(lg.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    assert np.isnan(lg.erf(lg.tensor([np.nan])).numpy()).all()
    assert lg.erf(lg.tensor([0.5])).dtype == np.float32


def test_activations_match_pytorch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = np.random.default_rng(3).standard_normal((4, 5)) * 3
    pairs = [(F.gelu, tf.gelu), (lambda v: F.gelu(v, approximate="tanh"),
                                 lambda v: tf.gelu(v, approximate="tanh")),
             (F.elu, tf.elu), (F.selu, tf.selu), (F.silu, tf.silu), (F.mish, tf.mish),
             (F.logsigmoid, tf.logsigmoid), (F.hardswish, tf.hardswish),
             (F.hardsigmoid, tf.hardsigmoid), (lambda v: F.celu(v, 0.5),
                                               lambda v: tf.celu(v, 0.5)),
             (lambda v: F.leaky_relu(v, 0.2), lambda v: tf.leaky_relu(v, 0.2)),
             (F.relu6, tf.relu6), (F.softsign, tf.softsign), (F.tanhshrink, tf.tanhshrink)]
    for ours, theirs in pairs:
        a = lg.tensor(x, requires_grad=True)
        t = torch.tensor(x, requires_grad=True)
        ours(a).sum().backward()
        theirs(t).sum().backward()
        np.testing.assert_allclose(ours(a).numpy(), theirs(t).detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        # (PyTorch's hardsigmoid backward uses a float32 1/6 even in float64: rtol 1e-7)
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-12)


# ------------------------------------------------------------------------------ PReLU

def test_prelu_values_gradients_and_gradcheck():
    act = nn.PReLU(3).double()
    assert act.weight.tolist() == [0.25, 0.25, 0.25]
    with lg.no_grad():
        act.weight.copy_(lg.tensor([0.1, 0.2, 0.3], dtype=lg.float64))
    x = _x(2, 3, 4)
    out = act(x)
    w = np.array([0.1, 0.2, 0.3])[None, :, None]
    np.testing.assert_allclose(out.numpy(), np.where(x.numpy() > 0, x.numpy(), w * x.numpy()))
    out.sum().backward()
    expected = np.where(x.numpy() > 0, 0.0, x.numpy()).sum(axis=(0, 2))
    np.testing.assert_allclose(act.weight.grad.numpy(), expected)
    assert gradcheck(F.prelu, (x, act.weight))
    assert gradgradcheck(F.prelu, (x, act.weight))
    single = nn.PReLU().double()
    assert gradcheck(F.prelu, (_x(5), single.weight))
    with pytest.raises(ValueError, match="3 slopes but the input of shape \\(2, 4\\)"):
        act(lg.randn(2, 4, dtype=lg.float64))


def test_prelu_learns_its_slope():
    act = nn.PReLU()
    x = lg.tensor([-1.0, -2.0, 3.0])
    target = lg.tensor([-0.5, -1.0, 3.0])  # slope 0.5
    for _ in range(200):
        act.zero_grad()
        ((act(x) - target) ** 2).mean().backward()
        with lg.no_grad():
            act.weight -= 0.2 * act.weight.grad
    assert abs(act.weight.item() - 0.5) < 1e-4


# ------------------------------------------------------------------------------ Dropout

def test_dropout_fixed_mask_gradcheck_and_values():
    x = _x(4, 5)

    def fn(t):
        return F.dropout(t, 0.4, training=True, generator=lg.Generator(11))

    assert gradcheck(fn, (x,))
    keep = np.random.Generator(np.random.PCG64(11)).random((4, 5)) >= 0.4
    np.testing.assert_allclose(fn(x).numpy(), x.numpy() * keep / 0.6)
    (g,) = lg.grad(fn(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), keep / 0.6)


def test_dropout_modes_and_edge_probabilities():
    x = lg.randn(100, 100)
    drop = nn.Dropout(0.3)
    assert drop.eval()(x) is x  # identity in evaluation
    assert nn.Dropout(0.0)(x) is x
    zeros = nn.Dropout(1.0)(x)
    assert not zeros.numpy().any() and zeros.dtype == np.float32
    drop.train()
    lg.manual_seed(0)
    y = drop(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02  # 10,000 draws: std of the mean is 0.005
    np.testing.assert_allclose(y[kept], x.numpy()[kept] / 0.7, rtol=1e-6)
    lg.manual_seed(0)
    np.testing.assert_array_equal(drop(x).numpy(), y)  # reproducible from the seed
    assert abs(nn.Dropout(0.5)(lg.ones(200, 200)).numpy().mean() - 1.0) < 0.02  # unbiased
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)


def test_dropout2d_drops_whole_channels_and_alpha_dropout_keeps_statistics():
    y = nn.Dropout2d(0.5)(lg.ones(4, 16, 3, 3)).numpy()
    per_channel = y.reshape(4, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0 < (per_channel == 0).all(-1).sum() < 64
    lg.manual_seed(0)
    z = nn.AlphaDropout(0.2)(lg.randn(400, 500)).numpy()
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02
    assert nn.AlphaDropout(0.2).eval()(lg.ones(3)).tolist() == [1.0, 1.0, 1.0]


# ------------------------------------------------------------------------------ Embedding

def test_embedding_default_init_lookup_and_gradcheck():
    lg.manual_seed(0)
    emb = nn.Embedding(1000, 20)
    w = emb.weight.numpy()
    # N(0, 1), as PyTorch: 20,000 draws, so the mean's std is 0.007 and the std's 0.005
    assert abs(w.mean()) < 0.03 and abs(w.std() - 1.0) < 0.02
    idx = lg.tensor([[3, 999], [0, 3]])
    np.testing.assert_array_equal(emb(idx).numpy(), w[idx.numpy()])
    small = nn.Embedding(5, 3).double()
    assert gradcheck(lambda weight: F.embedding(idx.numpy() % 5, weight), (small.weight,))


def test_embedding_repeated_indices_accumulate_and_padding_gets_no_gradient():
    emb = nn.Embedding(4, 2, padding_idx=1)
    assert emb.weight[1].tolist() == [0.0, 0.0]
    out = emb(lg.tensor([0, 0, 1, 3, 0]))
    (out * lg.tensor([[1.0], [2.0], [5.0], [1.0], [3.0]])).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.numpy(), [[6, 6], [0, 0], [0, 0], [1, 1]])


def test_embedding_scale_grad_by_freq_and_max_norm():
    emb = nn.Embedding(3, 2, scale_grad_by_freq=True)
    emb(lg.tensor([0, 0, 0, 2])).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.numpy(), [[1, 1], [0, 0], [1, 1]])

    emb = nn.Embedding.from_pretrained(lg.tensor([[3.0, 4.0], [0.3, 0.4]]), max_norm=1.0)
    out = emb(lg.tensor([0, 1]))
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    np.testing.assert_allclose(emb.weight.numpy()[0], [0.6, 0.8], rtol=1e-6)  # renormed in place


def test_embedding_from_pretrained_and_errors():
    table = lg.tensor([[1.0, 2.0], [3.0, 4.0]])
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    assert np.shares_memory(frozen.weight.numpy(), table.numpy())
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    emb = nn.Embedding(3, 2)
    with pytest.raises(IndexError, match="indices must be in \\[0, 3\\)"):
        emb(lg.tensor([0, 3]))
    with pytest.raises(IndexError, match="got values in \\[-1, 0\\]"):
        emb(lg.tensor([-1, 0]))
    with pytest.raises(TypeError, match="integer tensor"):
        emb(lg.tensor([0.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(3, 2, sparse=True)


# ------------------------------------------------------------------------------ penalties

def test_penalties_cover_weights_not_biases_by_default():
    net = nn.Sequential(nn.Linear(3, 4), nn.PReLU(), nn.Linear(4, 2))
    chosen = penalized_parameters(net)
    assert [tuple(p.shape) for p in chosen] == [(4, 3), (2, 4)]
    assert len(penalized_parameters(net, include_bias=True)) == 5
    w1, w2 = net[0].weight.numpy(), net[2].weight.numpy()
    np.testing.assert_allclose(l1_penalty(net, weight=0.1).item(),
                               0.1 * (np.abs(w1).sum() + np.abs(w2).sum()), rtol=1e-6)
    np.testing.assert_allclose(l2_penalty(net.named_parameters(), weight=0.5).item(),
                               0.5 * ((w1 ** 2).sum() + (w2 ** 2).sum()), rtol=1e-6)
    l2_penalty(net, weight=0.5).backward()
    np.testing.assert_allclose(net[0].weight.grad.numpy(), w1, rtol=1e-6)  # d/dw 0.5 w^2 = w
    assert net[0].bias.grad is None
    assert l1_penalty([]).item() == 0.0
    with pytest.raises(TypeError, match="expected a Module"):
        l1_penalty([1.0])

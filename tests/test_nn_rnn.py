"""Recurrent layers: parameters, gradients over several steps, PyTorch oracle, BPTT training."""
import math

import numpy as np
import pytest

import locograd as lg
from locograd.autograd.gradcheck import gradcheck, gradgradcheck
from locograd.ops.recurrent import GRUStep, LSTMStep, RNNStep

nn = lg.nn


def _double(module):
    lg.manual_seed(0)
    module.reset_parameters()
    return module.double()


def _randn(*shape, seed=0):
    return lg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# ------------------------------------------------------------------------------ parameters

def test_parameter_names_shapes_and_init_follow_pytorch():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    shapes = {name: p.shape for name, p in lstm.named_parameters()}
    assert list(shapes) == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse",
        "bias_hh_l1_reverse"]
    assert shapes["weight_ih_l0"] == (16, 3)      # 4 gates (i, f, g, o) x hidden 4
    assert shapes["weight_ih_l1"] == (16, 8)      # the layer below is bidirectional
    assert shapes["weight_hh_l1_reverse"] == (16, 4)
    assert nn.GRU(3, 5).weight_hh_l0.shape == (15, 5)
    assert [n for n, _ in nn.RNN(3, 5, bias=False).named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0"]
    assert [n for n, _ in nn.GRUCell(2, 3).named_parameters()] == [
        "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    big = nn.LSTM(10, 400)
    values = np.concatenate([p.data.ravel() for p in big.parameters()])
    bound = 1 / math.sqrt(400)
    assert values.dtype == np.float32
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert abs(values.mean()) < 0.01 * bound and abs(values.std() - bound / math.sqrt(3)) < 0.01


def test_shapes_batch_first_unbatched_and_initial_state():
    gru = nn.GRU(3, 4, num_layers=2, batch_first=True)
    out, h = gru(lg.randn(5, 7, 3))
    assert out.shape == (5, 7, 4) and h.shape == (2, 5, 4)
    out, h = gru(lg.randn(7, 3))  # unbatched: (L, features)
    assert out.shape == (7, 4) and h.shape == (2, 4)
    lstm = nn.LSTM(3, 4, bidirectional=True)
    h0, c0 = lg.randn(2, 2, 4), lg.randn(2, 2, 4)
    out, (h, c) = lstm(lg.randn(6, 2, 3), (h0, c0))
    assert out.shape == (6, 2, 8) and h.shape == c.shape == (2, 2, 4)
    # The forward direction's last output is h_n[0]; the reverse one's first output is h_n[1].
    np.testing.assert_allclose(out.data[-1, :, :4], h.data[0])
    np.testing.assert_allclose(out.data[0, :, 4:], h.data[1])


def test_initial_state_is_used():
    rnn = nn.RNN(2, 3)
    x = lg.randn(4, 1, 2)
    out0, _ = rnn(x)
    out1, _ = rnn(x, lg.ones(1, 1, 3))
    assert not np.allclose(out0.data[0], out1.data[0])
    # A zero initial state is the default.
    np.testing.assert_array_equal(rnn(x, lg.zeros(1, 1, 3))[0].data, out0.data)


def test_bad_shapes_raise_clear_errors():
    lstm = nn.LSTM(3, 4)
    with pytest.raises(ValueError, match=r"LSTM: expected an input of shape \(L, N, 3\)"):
        lstm(lg.randn(5, 2, 4))
    with pytest.raises(ValueError, match=r"h_0 of shape \(1, 2, 4\)"):
        lstm(lg.randn(5, 2, 3), (lg.zeros(2, 2, 4), lg.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"GRUCell: expected a hidden state of shape \(2, 3\)"):
        nn.GRUCell(2, 3)(lg.randn(2, 2), lg.randn(2, 4))


# ------------------------------------------------------------------------------ gradients

@pytest.mark.parametrize("make", [lambda: nn.RNNCell(3, 4), lambda: nn.RNNCell(3, 4, "relu"),
                                  lambda: nn.GRUCell(3, 4), lambda: nn.LSTMCell(3, 4)],
                         ids=["rnn_tanh", "rnn_relu", "gru", "lstm"])
def test_cells_gradcheck_over_several_steps(make):
    cell = _double(make())
    x = _randn(3, 2, 3)
    h0 = _randn(2, 4, seed=1)
    lstm = isinstance(cell, nn.LSTMCell)

    def run(x, h0, *params):
        state = (h0, h0 * 0.5) if lstm else h0
        for t in range(x.shape[0]):
            state = cell(x[t], state)
        return state[0] + state[1] if lstm else state

    assert gradcheck(run, (x, h0) + tuple(cell.parameters()))


@pytest.mark.parametrize("mode", ["RNN", "GRU", "LSTM"])
def test_sequence_layers_gradcheck_multilayer_bidirectional(mode):
    layer = _double(getattr(nn, mode)(3, 3, num_layers=2, bidirectional=True))
    x = _randn(4, 2, 3)
    h0 = _randn(4, 2, 3, seed=1)

    def run(x, h0, *params):
        if mode == "LSTM":
            out, (h, c) = layer(x, (h0, h0 * 0.5))
            return out, h, c
        out, h = layer(x, h0)
        return out, h

    assert gradcheck(run, (x, h0) + tuple(layer.parameters()))


def _fused_step_cases():
    rng = np.random.default_rng(0)

    def t(*shape):
        return lg.tensor(rng.standard_normal(shape), requires_grad=True)
    h, c = t(2, 3), t(2, 3)
    return [
        ("rnn_tanh", lambda gx, h, w: RNNStep.apply(gx, h, w, False), (t(2, 3), h, t(3, 3))),
        ("rnn_relu", lambda gx, h, w: RNNStep.apply(gx, h, w, True), (t(2, 3), h, t(3, 3))),
        ("lstm", LSTMStep.apply, (t(2, 12), h, c, t(12, 3))),
        ("gru", GRUStep.apply, (t(2, 9), h, t(9, 3), t(9))),
    ]


@pytest.mark.parametrize("name,fn,args", _fused_step_cases(), ids=lambda v: v if
                         isinstance(v, str) else "")
def test_fused_steps_first_and_second_order_and_numpy_path(name, fn, args):
    rng = np.random.default_rng(1)
    assert gradcheck(fn, args)
    if name != "rnn_relu":  # ReLU has no second derivative to check
        assert gradgradcheck(fn, args)
    # The NumPy fast path (plain backward) agrees with the tensor-op backward.
    outs = fn(*args)
    outs = outs if isinstance(outs, tuple) else (outs,)
    vs = [lg.tensor(rng.standard_normal(o.shape)) for o in outs]
    recorded = lg.grad(outs, args, vs, create_graph=True)
    for a in args:
        a.grad = None
    outs = fn(*args)
    lg.autograd.backward(outs if isinstance(outs, tuple) else (outs,), vs)
    for a, g in zip(args, recorded):
        np.testing.assert_allclose(a.grad.data, g.data, rtol=1e-12, atol=1e-12)


def test_gru_second_order_through_the_layer():
    gru = _double(nn.GRU(2, 2))
    x = _randn(3, 1, 2)
    assert gradgradcheck(lambda x, *p: gru(x)[0], (x,) + tuple(gru.parameters()),
                         fast_mode=True)


# ------------------------------------------------------------------------------ oracle

def _copy_to_torch(ours, theirs, torch):
    with torch.no_grad():
        for name, p in ours.named_parameters():
            getattr(theirs, name).copy_(torch.from_numpy(p.data.copy()))


@pytest.mark.parametrize("mode,kwargs", [
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(num_layers=2, nonlinearity="relu")),
    ("LSTM", dict(batch_first=True, bias=False)),
    ("GRU", dict(batch_first=True)),
])
def test_matches_pytorch_with_copied_weights(mode, kwargs):
    torch = pytest.importorskip("torch")
    ours = _double(getattr(nn, mode)(3, 4, **kwargs))
    theirs = getattr(torch.nn, mode)(3, 4, **kwargs).double()
    _copy_to_torch(ours, theirs, torch)
    directions = 2 if kwargs.get("bidirectional") else 1
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal((2, 5, 3) if kwargs.get("batch_first") else (5, 2, 3))
    h_np = rng.standard_normal((kwargs.get("num_layers", 1) * directions, 2, 4))
    x, tx = lg.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    h, th = lg.tensor(h_np, requires_grad=True), torch.tensor(h_np, requires_grad=True)
    if mode == "LSTM":
        out, (hn, cn) = ours(x, (h, h * 2.0))
        tout, (thn, tcn) = theirs(tx, (th, th * 2.0))
        np.testing.assert_allclose(cn.data, tcn.detach().numpy(), atol=1e-10)
    else:
        out, hn = ours(x, h)
        tout, thn = theirs(tx, th)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(hn.data, thn.detach().numpy(), atol=1e-10)
    v = rng.standard_normal(out.shape)
    ((out * lg.tensor(v)).sum() + hn.sum()).backward()
    ((tout * torch.tensor(v)).sum() + thn.sum()).backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(h.grad.data, th.grad.numpy(), atol=1e-9)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, getattr(theirs, name).grad.numpy(), atol=1e-9,
                                   err_msg=name)


def test_cells_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x_np, h_np = rng.standard_normal((3, 2)), rng.standard_normal((3, 5))
    for name in ("RNNCell", "GRUCell", "LSTMCell"):
        ours = _double(getattr(nn, name)(2, 5))
        theirs = getattr(torch.nn, name)(2, 5).double()
        _copy_to_torch(ours, theirs, torch)
        state = (lg.tensor(h_np), lg.tensor(-h_np)) if name == "LSTMCell" else lg.tensor(h_np)
        tstate = (torch.tensor(h_np), torch.tensor(-h_np)) if name == "LSTMCell" \
            else torch.tensor(h_np)
        out, tout = ours(lg.tensor(x_np), state), theirs(torch.tensor(x_np), tstate)
        for o, t in zip(out if name == "LSTMCell" else (out,),
                        tout if name == "LSTMCell" else (tout,)):
            np.testing.assert_allclose(o.data, t.detach().numpy(), atol=1e-12, err_msg=name)


# ------------------------------------------------------------------------------ dropout, training

def test_dropout_between_layers_only_in_training():
    lg.manual_seed(0)
    rnn = nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = lg.randn(4, 2, 3)
    a, b = rnn(x)[0].data, rnn(x)[0].data
    assert not np.allclose(a, b)  # a new mask per call
    rnn.eval()
    np.testing.assert_array_equal(rnn(x)[0].data, rnn(x)[0].data)
    single = nn.GRU(3, 8, dropout=0.5)  # one layer: nothing to drop between layers
    np.testing.assert_array_equal(single(x)[0].data, single(x)[0].data)


def test_char_rnn_learns_a_repeated_string_by_bptt():
    """A tiny char-level RNN + Linear, Adagrad written here, truncated BPTT over 12 steps."""
    text = "hello locograd! " * 30
    chars = sorted(set(text))
    ids = np.array([chars.index(ch) for ch in text])
    vocab, hidden, steps = len(chars), 32, 12
    lg.manual_seed(0)
    rnn, head = nn.RNN(vocab, hidden), nn.Linear(hidden, vocab)
    params = list(rnn.parameters()) + list(head.parameters())
    memory = [np.zeros_like(p.data) for p in params]
    eye = np.eye(vocab, dtype=np.float32)
    h = lg.zeros(1, 1, hidden)
    losses = []
    for it in range(150):
        start = (it * steps) % (len(ids) - steps - 1)
        x = lg.tensor(eye[ids[start:start + steps]][:, None, :])
        y = lg.tensor(ids[start + 1:start + steps + 1])
        out, h = rnn(x, h)
        loss = nn.functional.cross_entropy(head(out[:, 0]), y)
        for p in params:
            p.grad = None
        loss.backward()
        h = h.detach()
        for p, m in zip(params, memory):  # Adagrad with gradient clipping
            g = np.clip(p.grad.data, -5, 5)
            m += g * g
            p.data -= 0.1 * g / (np.sqrt(m) + 1e-8)
        losses.append(loss.item())
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert first > 0.8 * math.log(vocab)  # starts near chance
    assert last < 0.3, f"the loss went from {first:.3f} to only {last:.3f}"

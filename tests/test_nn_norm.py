"""BatchNorm1d/2d and LayerNorm: running statistics, modes, gradients and a PyTorch oracle."""
import numpy as np
import pytest

import locograd as lg
from locograd.autograd.gradcheck import gradcheck, gradgradcheck

nn, F = lg.nn, lg.nn.functional


def _tensor(*shape, seed=0, requires_grad=True, scale=1.0, shift=0.0):
    values = np.random.default_rng(seed).standard_normal(shape) * scale + shift
    return lg.tensor(values, requires_grad=requires_grad)


def test_batch_norm_buffers_and_state_dict():
    bn = nn.BatchNorm2d(3)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert bn.running_var.tolist() == [1.0, 1.0, 1.0] and bn.num_batches_tracked.dtype == np.int64
    plain = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert list(plain.state_dict()) == [] and plain.weight is None


def test_batch_norm_training_normalises_and_updates_running_stats():
    bn = nn.BatchNorm1d(2, momentum=0.25)
    x = _tensor(64, 2, requires_grad=False, scale=3.0, shift=5.0).float()
    out = bn(x)
    np.testing.assert_allclose(out.data.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.data.var(0), 1.0, atol=1e-3)  # biased variance, eps 1e-5
    xd = x.data.astype(np.float32)
    np.testing.assert_allclose(bn.running_mean.data, 0.25 * xd.mean(0), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, 0.75 + 0.25 * xd.var(0, ddof=1), rtol=1e-5)
    assert int(bn.num_batches_tracked) == 1


def test_batch_norm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(3, momentum=None)
    batches = [_tensor(10, 3, seed=s, requires_grad=False, shift=s).float() for s in range(4)]
    for b in batches:
        bn(b)
    np.testing.assert_allclose(bn.running_mean.data, np.mean([b.data.mean(0) for b in batches],
                                                             0), rtol=1e-5)
    assert int(bn.num_batches_tracked) == 4


def test_batch_norm_eval_uses_running_stats_and_no_update():
    bn = nn.BatchNorm2d(2)
    bn.running_mean.data[:] = [1.0, -2.0]
    bn.running_var.data[:] = [4.0, 0.25]
    bn.weight.data[:] = [2.0, 1.0]
    bn.eval()
    x = _tensor(3, 2, 2, 2, requires_grad=False).to(lg.float32)
    expected = (x.data - np.array([1.0, -2.0]).reshape(1, 2, 1, 1)) / np.sqrt(
        np.array([4.0, 0.25]).reshape(1, 2, 1, 1) + 1e-5) * np.array([2.0, 1.0]).reshape(
        1, 2, 1, 1)
    np.testing.assert_allclose(bn(x).data, expected, rtol=1e-5, atol=1e-6)
    assert bn.running_mean.tolist() == [1.0, -2.0] and int(bn.num_batches_tracked) == 0
    untracked = nn.BatchNorm1d(2, track_running_stats=False).eval()
    out = untracked(_tensor(8, 2, requires_grad=False).float())
    np.testing.assert_allclose(out.data.mean(0), 0, atol=1e-6)  # batch statistics even in eval


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(lg.randn(1, 3))
    with pytest.raises(ValueError, match="BatchNorm2d: expected a 4-D input"):
        nn.BatchNorm2d(3)(lg.randn(4, 3))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.batch_norm(lg.randn(4, 3), None, None, lg.ones(2), training=True)
    with pytest.raises(ValueError, match="layer_norm: the input's trailing dimensions"):
        F.layer_norm(lg.randn(4, 3), (4,))
    with pytest.raises(TypeError, match="batch_norm: the input has dtype float64 but the "
                                        "weight has dtype float32"):
        nn.BatchNorm1d(3)(lg.randn(4, 3, dtype=lg.float64))


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("make,shape", [(lambda: nn.BatchNorm1d(3), (4, 3)),
                                        (lambda: nn.BatchNorm1d(2), (3, 2, 4)),
                                        (lambda: nn.BatchNorm2d(2), (3, 2, 2, 2))],
                         ids=["bn1d", "bn1d_sequence", "bn2d"])
def test_batch_norm_gradcheck(make, shape, train):
    lg.manual_seed(0)
    bn = make().double()
    bn.weight.data[:] = np.linspace(0.5, 1.5, bn.num_features)
    bn.bias.data[:] = np.linspace(-1, 1, bn.num_features)
    bn.running_var.data[:] = 2.0
    bn.train(train)
    x = _tensor(*shape)
    assert gradcheck(lambda x, w, b: bn(x), (x, bn.weight, bn.bias))
    if train:  # the fused node's tensor backward is differentiable again
        assert gradgradcheck(lambda x, w, b: bn(x), (x, bn.weight, bn.bias))


def test_layer_norm_module_gradcheck():
    ln = nn.LayerNorm((3, 4)).double()
    ln.weight.data[:] = np.random.default_rng(1).standard_normal((3, 4))
    x = _tensor(2, 3, 4)
    assert gradcheck(lambda x, w, b: ln(x), (x, ln.weight, ln.bias))
    assert gradgradcheck(lambda x, w, b: ln(x), (x, ln.weight, ln.bias))
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None
    assert nn.LayerNorm(4, bias=False).bias is None


# ------------------------------------------------------------------------------ oracle

@pytest.mark.parametrize("shape,momentum", [((8, 3), 0.1), ((4, 3, 5), None),
                                            ((4, 3, 2, 5), 0.3)])
def test_batch_norm_matches_pytorch_in_train_and_eval(shape, momentum):
    torch = pytest.importorskip("torch")
    layer = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d"}[len(shape)]
    ours = getattr(nn, layer)(3, momentum=momentum).double()
    theirs = getattr(torch.nn, layer)(3, momentum=momentum).double()
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    ours.weight.data[:], ours.bias.data[:] = w, b
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    for step, train in enumerate([True, True, True, False]):
        ours.train(train)
        theirs.train(train)
        x_np = rng.standard_normal(shape) * (step + 1) + step
        v = rng.standard_normal(shape)
        x, tx = lg.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        out, tout = ours(x), theirs(tx)
        np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=1e-10)
        ours.zero_grad()
        theirs.zero_grad()
        (out * lg.tensor(v)).sum().backward()
        (tout * torch.tensor(v)).sum().backward()
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(),
                                   atol=1e-12)
        np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(),
                                   atol=1e-12)
        assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked)


@pytest.mark.parametrize("normalized_shape,affine", [((5,), True), ((4, 5), True),
                                                     ((5,), False)])
def test_layer_norm_matches_pytorch(normalized_shape, affine):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((3, 4, 5)) * 2 + 1
    w_np, b_np = rng.standard_normal(normalized_shape), rng.standard_normal(normalized_shape)
    x, tx = lg.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    w, tw = lg.tensor(w_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    b, tb = lg.tensor(b_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    out = F.layer_norm(x, normalized_shape, w if affine else None, b if affine else None,
                       eps=1e-3)
    tout = torch.nn.functional.layer_norm(tx, normalized_shape, tw if affine else None,
                                          tb if affine else None, eps=1e-3)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=1e-10)
    v = rng.standard_normal(x_np.shape)
    (out * lg.tensor(v)).sum().backward()
    (tout * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), atol=1e-9)
    if affine:
        np.testing.assert_allclose(w.grad.data, tw.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(b.grad.data, tb.grad.numpy(), atol=1e-9)

"""LocoProp's parts: matching losses, the TF1 RMSProp rule, decomposition errors, the schedule."""
import copy

import numpy as np
import pytest

import locograd as lg
from locograd import nn
from locograd.locoprop import (INNER_OPTIMIZERS, TRANSFERS, LocoProp, RMSpropTF1,
                               WarmupLinearDecay, decompose, local_gradients, local_loss,
                               local_residual, reference_schedule)


def _potential(name, z):
    """The potential F of each transfer function, written out in locograd ops."""
    if name == "identity":
        return 0.5 * z * z
    if name == "tanh":  # log cosh
        return lg.log(lg.cosh(z))
    if name == "sigmoid":  # softplus
        return lg.log1p(lg.exp(z))
    if name == "relu":
        return 0.5 * lg.relu(z) ** 2
    if name == "softmax":
        return lg.logsumexp(z, dim=-1, keepdim=True)
    raise AssertionError(name)


def _transfer(name, a):
    return {"identity": lambda t: t, "tanh": lg.tanh, "sigmoid": lg.sigmoid, "relu": lg.relu,
            "softmax": lambda t: lg.softmax(t, dim=-1)}[name](a)


@pytest.mark.parametrize("name", sorted(TRANSFERS))
def test_matching_gradient_is_autograd_gradient_of_bregman_divergence(name):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 4))
    w = lg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = lg.tensor(rng.standard_normal(3), requires_grad=True)
    a_star = lg.tensor(rng.standard_normal((6, 3)) * 1.5)
    y = _transfer(name, a_star)
    z = lg.tensor(x) @ w.mT + b
    # D_F(z, a*) = F(z) - F(a*) - f(a*) (z - a*), summed over rows and units
    divergence = (_potential(name, z).sum() - _potential(name, a_star).sum()
                  - (y * (z - a_star)).sum())
    divergence.backward()
    transfer = TRANSFERS[name]
    z_np = z.data.copy()
    residual = local_residual(z_np, y.data, transfer, "M")
    grad_w, grad_b = local_gradients(x, residual)
    np.testing.assert_allclose(grad_w, w.grad.data, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_b, b.grad.data, rtol=1e-10, atol=1e-12)
    # the NumPy divergence and the matching loss (up to a constant) agree with it
    assert transfer.divergence(z.data, a_star.data) == pytest.approx(divergence.item(),
                                                                     rel=1e-10, abs=1e-12)
    other = z.data + rng.standard_normal(z.shape)
    change = local_loss(other, y.data, transfer, "M") - local_loss(z.data, y.data, transfer, "M")
    expected = transfer.divergence(other, a_star.data) - transfer.divergence(z.data, a_star.data)
    assert change == pytest.approx(expected, rel=1e-9, abs=1e-10)


def test_squared_local_loss_gradient_and_residual_out_argument():
    rng = np.random.default_rng(2)
    x, z, target = rng.standard_normal((5, 3)), rng.standard_normal((5, 2)), \
        rng.standard_normal((5, 2))
    residual = local_residual(z.copy(), target, TRANSFERS["tanh"], "S")
    np.testing.assert_array_equal(residual, z - target)  # S ignores the transfer function
    buffer = z.copy()
    out = local_residual(buffer, target, TRANSFERS["tanh"], "M", out=buffer)
    assert out is buffer
    np.testing.assert_allclose(out, np.tanh(z) - target, rtol=1e-15)
    assert local_loss(z, target, TRANSFERS["tanh"], "S") == pytest.approx(
        0.5 * np.sum((z - target) ** 2))
    gw, gb = local_gradients(x, residual, with_bias=False)
    assert gb is None
    np.testing.assert_allclose(gw, (z - target).T @ x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transfer_functions_are_stable_and_keep_dtype(dtype):
    a = np.array([[-800.0, -30.0, 0.0, 30.0, 800.0]], dtype)
    with np.errstate(all="raise", under="ignore"):  # underflow to 0 is the right answer
        sigmoid = TRANSFERS["sigmoid"](a)
        potentials = {name: t.potential(a) for name, t in TRANSFERS.items()}
    assert sigmoid.dtype == dtype
    np.testing.assert_allclose(sigmoid[0, 1:4], [1 / (1 + np.exp(30.0)), 0.5,
                                                 1 / (1 + np.exp(-30.0))], rtol=1e-6)
    assert sigmoid[0, 0] == 0.0 and sigmoid[0, 4] == 1.0
    np.testing.assert_allclose(potentials["tanh"][0], np.abs(a[0]) - np.log(2.0) *
                               np.array([1, 1, 0, 1, 1]), rtol=1e-6)  # log cosh 0 = 0
    np.testing.assert_allclose(potentials["sigmoid"][0], [0.0, np.log1p(np.exp(-30.0)),
                                                          np.log(2.0), 30.0, 800.0], rtol=1e-6)
    softmax = TRANSFERS["softmax"](a)
    assert softmax.dtype == dtype and softmax.sum() == pytest.approx(1.0)
    for t in TRANSFERS.values():
        assert t(a).dtype == dtype and np.all(np.isfinite(t.potential(a)))


# ---- TensorFlow 1 RMSProp -------------------------------------------------------------------

def test_tf1_rmsprop_matches_hand_transcription_of_the_notes():
    rng = np.random.default_rng(3)
    start = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) * scale for scale in (1.0, 0.1, 5.0, 0.01, 2.0)]
    rates = [0.1, 0.05, 0.2, 0.01, 0.1]  # the rate changes: it scales only the new steps
    decay, momentum, eps = 0.9, 0.999, 1e-5
    w = nn.Parameter(lg.tensor(start.copy()))
    opt = RMSpropTF1([w], lr=rates[0], alpha=decay, momentum=momentum, eps=eps)
    ms, mom, expected = np.ones_like(start), np.zeros_like(start), start.copy()
    for g, lr in zip(grads, rates):
        # the notes (section 1.5): ms starts at 1, eps inside the sqrt, momentum on lr * g
        ms = decay * ms + (1 - decay) * g ** 2
        mom = momentum * mom + lr * g / np.sqrt(ms + eps)
        expected = expected - mom
        opt.param_groups[0]["lr"] = lr
        w.grad = lg.tensor(g)
        opt.step()
    np.testing.assert_allclose(w.data, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(opt.state[w]["ms"], ms, rtol=1e-13)
    np.testing.assert_allclose(opt.state[w]["mom"], mom, rtol=1e-13)
    assert opt.state[w]["step"] == len(grads)


def test_tf1_rmsprop_differs_from_pytorch_rmsprop():
    """The three TF1 differences change the first step: here by a factor of about 3."""
    w_tf = nn.Parameter(lg.tensor([1.0], dtype=lg.float64))
    w_pt = nn.Parameter(lg.tensor([1.0], dtype=lg.float64))
    tf = RMSpropTF1([w_tf], lr=0.1, alpha=0.9, eps=0.0)
    pt = lg.optim.RMSprop([w_pt], lr=0.1, alpha=0.9, eps=0.0)
    for w, opt in ((w_tf, tf), (w_pt, pt)):
        w.grad = lg.tensor([2.0], dtype=lg.float64)
        opt.step()
    # TF1: ms = 0.9 + 0.4 = 1.3, step 0.2 / sqrt(1.3); PyTorch: v = 0.4, step 0.2 / sqrt(0.4)
    assert 1.0 - w_tf.item() == pytest.approx(0.2 / np.sqrt(1.3), rel=1e-12)
    assert 1.0 - w_pt.item() == pytest.approx(0.2 / np.sqrt(0.4), rel=1e-12)


def test_rmsprop_tf1_validates():
    w = nn.Parameter(lg.zeros(2))
    with pytest.raises(ValueError, match="momentum"):
        RMSpropTF1([w], momentum=1.0)
    with pytest.raises(ValueError, match="eps"):
        RMSpropTF1([w], eps=-1.0)
    with pytest.raises(ValueError, match="lr"):
        RMSpropTF1([w], lr=-0.1)


def test_inner_optimizer_table_is_complete():
    assert set(INNER_OPTIMIZERS) == {"rmsprop", "rmsprop_torch", "sgd", "momentum",
                                     "nesterov", "adam", "adagrad"}
    assert INNER_OPTIMIZERS["rmsprop"].defaults == dict(alpha=0.9, momentum=0.999, eps=1e-5)


# ---- decomposition and errors ---------------------------------------------------------------

def _mlp(*extra):
    return nn.Sequential(nn.Linear(4, 5), *extra, nn.Linear(5, 2))


def test_decompose_nested_sequential_flatten_identity_and_loss_transfers():
    model = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 5), nn.ReLU()),
                          nn.Identity(), nn.Linear(5, 5), nn.Sequential(nn.Linear(5, 3),
                                                                        nn.LogSoftmax(dim=-1)))
    prefix, layers = decompose(model, nn.NLLLoss())
    assert [type(m).__name__ for m in prefix] == ["Flatten"]
    assert [(layer.name, layer.transfer.name) for layer in layers] == [
        ("1.0", "relu"), ("3", "identity"), ("4.0", "softmax")]
    for loss, transfer in ((nn.BCEWithLogitsLoss(), "sigmoid"),
                           (nn.functional.binary_cross_entropy_with_logits, "sigmoid"),
                           (nn.CrossEntropyLoss(), "softmax"),
                           (nn.functional.cross_entropy, "softmax"),
                           (nn.MSELoss(), "identity")):
        assert decompose(_mlp(nn.Tanh()), loss)[1][-1].transfer.name == transfer
    assert decompose(_mlp(), lambda o, t: o.sum(), output_transfer="tanh")[1][-1] \
        .transfer.name == "tanh"


@pytest.mark.parametrize("model, message", [
    (nn.Sequential(nn.Linear(4, 5), nn.Dropout(0.5), nn.Linear(5, 2)),
     r"'1' \(Dropout\)"),
    (nn.Sequential(nn.Linear(4, 5), nn.Sequential(nn.Tanh(), nn.GELU()), nn.Linear(5, 2)),
     r"'1.1' \(GELU\)"),
    (nn.Sequential(nn.Tanh(), nn.Linear(4, 2)), r"Tanh at '0' comes before any Linear"),
    (nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Sigmoid(), nn.Linear(5, 2)),
     r"Sigmoid at '2' follows Tanh"),
    (nn.Sequential(nn.Linear(4, 5), nn.Flatten(), nn.Linear(5, 2)), r"'1' \(Flatten\)"),
    (nn.Module(), r"the model \(Module\)"),
])
def test_undecomposable_models_name_the_offending_layer(model, message):
    with pytest.raises(TypeError, match=message) as info:
        LocoProp(model, nn.MSELoss())
    assert "supported models" in str(info.value)


def test_configuration_errors():
    with pytest.raises(ValueError, match="no Linear layer"):
        LocoProp(nn.Sequential(nn.Identity()), nn.MSELoss())
    with pytest.raises(ValueError, match="output_transfer"):
        LocoProp(_mlp(nn.Tanh()), lambda output, target: (output - target).abs().sum())
    with pytest.raises(ValueError, match="output_transfer='sigmoid' but the last"):
        LocoProp(nn.Sequential(nn.Linear(2, 2), nn.Tanh()), nn.MSELoss(),
                 output_transfer="sigmoid")
    with pytest.raises(ValueError, match="unknown transfer"):
        LocoProp(_mlp(), nn.MSELoss(), output_transfer="gelu")
    bad = [(dict(variant="X"), "variant"), (dict(inner_steps=0), "inner_steps"),
           (dict(inner_steps=2.5), "inner_steps"), (dict(gamma=-1.0), "gamma"),
           (dict(inner_lr=-1.0), "lr"), (dict(prox=0.0), "prox"),
           (dict(inner_optimizer="lbfgs"), "inner_optimizer"),
           (dict(inner_options={"betas": (0.9, 0.99)}), r"\['betas'\]"),
           (dict(inner_options={"momentum": 1.5}), "momentum"),
           (dict(max_workers=0), "max_workers")]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            LocoProp(_mlp(nn.Tanh()), nn.MSELoss(), **kwargs)
    with pytest.raises(TypeError, match="callable"):
        LocoProp(_mlp(), "mse")
    opt = LocoProp(_mlp(nn.Tanh()), nn.MSELoss())
    with pytest.raises(RuntimeError, match="fixed at construction"):
        opt.add_param_group({"params": [nn.Parameter(lg.zeros(1))]})


def test_step_errors_softmax_dimension_and_non_scalar_loss():
    model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=0), nn.Linear(3, 2))
    opt = LocoProp(model, nn.MSELoss())
    with pytest.raises(ValueError, match=r"Softmax\(dim=0\) after the Linear layer '0'"):
        opt.step(lg.ones(5, 4), lg.zeros(5, 2))
    opt = LocoProp(_mlp(nn.Tanh()), nn.MSELoss(reduction="none"), output_transfer="identity")
    with pytest.raises(ValueError, match=r"scalar tensor, got \(6, 2\)"):
        opt.step(lg.ones(6, 4), lg.zeros(6, 2))


# ---- the outer schedule ---------------------------------------------------------------------

def test_reference_schedule_values_and_zero_first_epoch():
    schedule = WarmupLinearDecay()
    factors = [schedule(e) for e in range(100)]
    np.testing.assert_allclose(factors[:6], [0.2, 0.4, 0.6, 0.8, 1.0, 1 - 1 / 95])
    assert factors[98] == pytest.approx(1 / 95) and factors[99] == 0.0
    quirk = WarmupLinearDecay(zero_first_epoch=True)
    assert [quirk(e) for e in range(6)] == [0.0, 0.2, 0.4, 0.6, 0.8, schedule(5)]
    with pytest.raises(ValueError, match="warmup_epochs"):
        WarmupLinearDecay(warmup_epochs=5, total_epochs=5)


def test_reference_schedule_drives_locoprop_and_epoch_zero_does_not_train():
    lg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    opt = LocoProp(model, nn.MSELoss(), inner_lr=1e-3, inner_steps=3)
    schedule = reference_schedule(opt, warmup_epochs=2, total_epochs=10, zero_first_epoch=True)
    before = copy.deepcopy(model.state_dict())
    x, y = lg.randn(8, 4), lg.randn(8, 3)
    opt.step(x, y)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.data, before[name].data)  # lr = 0 in epoch 0
    assert opt.state[model[0].weight]["ms"].min() < 1.0  # ... but the statistics moved
    schedule.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5e-3)
    opt.step(x, y)
    assert not np.array_equal(model[0].weight.data, before["0.weight"].data)

"""LocoProp: the first-step identity, the local solves, threads, resuming, and training."""
import copy
import os

import numpy as np
import pytest

import locograd as lg
from locograd import nn, optim
from locograd.locoprop import LocoProp, RMSpropTF1

F64 = lg.float64


def _regression_net(dtype=F64):
    """Every supported hidden transfer function, a sigmoid output inside the loss."""
    return nn.Sequential(nn.Linear(5, 7, dtype=dtype), nn.Tanh(),
                         nn.Linear(7, 6, dtype=dtype), nn.ReLU(),
                         nn.Linear(6, 6, dtype=dtype), nn.Sigmoid(),
                         nn.Linear(6, 3, dtype=dtype, bias=False),
                         nn.Linear(3, 4, dtype=dtype))


def _classifier(dtype=F64, final=()):
    return nn.Sequential(nn.Linear(5, 8, dtype=dtype), nn.Tanh(), nn.Linear(8, 4, dtype=dtype),
                         *final)


def _data(rows=12, seed=0):
    rng = np.random.default_rng(seed)
    x = lg.tensor(rng.standard_normal((rows, 5)))
    soft = lg.tensor(rng.random((rows, 4)))
    labels = lg.tensor(rng.integers(0, 4, rows))
    return x, soft, labels


CASES = {  # name -> (model factory, loss, targets index in _data())
    "bce_with_logits": (_regression_net, nn.BCEWithLogitsLoss(), 1),
    "cross_entropy": (_classifier, nn.CrossEntropyLoss(), 2),
    "log_softmax_nll": (lambda: _classifier(final=(nn.LogSoftmax(dim=1),)), nn.NLLLoss(), 2),
    "mse": (lambda: _classifier(final=(nn.Sigmoid(),)), nn.MSELoss(), 1),
}


@pytest.mark.parametrize("variant", ["S", "M"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_first_inner_step_is_gamma_times_the_backprop_step(case, variant):
    """The identity LocoProp rests on: at W = W_t both local gradients are gamma dL/dW."""
    make, loss_fn, which = CASES[case]
    lg.manual_seed(1)
    model = make()
    reference = copy.deepcopy(model)
    x, *targets = _data()
    y = targets[which - 1]
    loss_fn(reference(x), y).backward()
    eta, gamma = 0.05, 7.0
    opt = LocoProp(model, loss_fn, variant=variant, gamma=gamma, inner_steps=1, inner_lr=eta,
                   inner_optimizer="sgd")
    loss = opt.step(x, y)
    assert loss == pytest.approx(loss_fn(reference(x), y).item(), rel=1e-14)
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        expected = q.data - eta * gamma * q.grad.data
        np.testing.assert_allclose(p.data, expected, rtol=1e-12, atol=1e-14, err_msg=name)
        assert not np.allclose(p.data, q.data), name  # the step is not trivially zero


INNER_EQUIVALENTS = {  # inner optimiser -> the optimiser taking the same steps on gamma * L
    "sgd": lambda ps, lr: optim.SGD(ps, lr=lr),
    "momentum": lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.9),
    "nesterov": lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.9, nesterov=True),
    "adam": lambda ps, lr: optim.Adam(ps, lr=lr),
    "adagrad": lambda ps, lr: optim.Adagrad(ps, lr=lr, initial_accumulator_value=0.1,
                                            eps=1e-10),
    "rmsprop_torch": lambda ps, lr: optim.RMSprop(ps, lr=lr, alpha=0.9, momentum=0.999,
                                                  eps=1e-5),
    "rmsprop": lambda ps, lr: RMSpropTF1(ps, lr=lr, alpha=0.9, momentum=0.999, eps=1e-5),
}


@pytest.mark.parametrize("inner", sorted(INNER_EQUIVALENTS))
def test_one_inner_step_is_backprop_with_the_inner_optimizer(inner):
    """With inner_steps=1 every outer step is a backprop step on gamma * L, so the inner
    optimiser's state must carry over from step to step exactly as that optimiser's."""
    lg.manual_seed(2)
    model = _regression_net()
    reference = copy.deepcopy(model)
    x, y, _ = _data()
    gamma, lr = 3.0, 1e-2
    opt = LocoProp(model, nn.BCEWithLogitsLoss(), variant="M", gamma=gamma, inner_steps=1,
                   inner_lr=lr, inner_optimizer=inner)
    ref_opt = INNER_EQUIVALENTS[inner](reference.parameters(), lr)
    for _ in range(4):
        opt.step(x, y)
        ref_opt.zero_grad()
        (gamma * nn.BCEWithLogitsLoss()(reference(x), y)).backward()
        ref_opt.step()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-10, atol=1e-12, err_msg=name)


def _backprop_records(model):
    """A batch ``(x, y)`` and each Linear layer's input, pre-activation and dL/da under
    ``BCEWithLogitsLoss`` (for the closed-form checks)."""
    x, y, _ = _data(rows=10)
    records, h = [], x
    for module in model:
        if isinstance(module, nn.Linear):
            a = module(h)
            a.retain_grad()
            records.append([module, h.data, a])
            h = a
        else:
            h = module(h)
    nn.BCEWithLogitsLoss()(h, y).backward()
    return x, y, records


def test_locoprop_s_with_prox_converges_to_the_closed_form_solution():
    """S with the proximal term solves a ridge regression per layer: with [W b] = Theta and
    X = [x 1], Theta_new = Theta_t - gamma g^T X (X^T X + I/eta)^-1 (the notes, section 1.4)."""
    lg.manual_seed(3)
    model = nn.Sequential(nn.Linear(5, 6, dtype=F64), nn.Tanh(), nn.Linear(6, 4, dtype=F64))
    x, y, records = _backprop_records(model)
    gamma, eta = 2.0, 0.2
    expected, largest = [], 0.0  # largest: the step size 1 / L that makes SGD converge
    for module, inputs, a in records:
        X = np.hstack([inputs, np.ones((len(inputs), 1))])
        hessian = X.T @ X + np.eye(X.shape[1]) / eta
        theta = np.hstack([module.weight.data, module.bias.data[:, None]])
        expected.append(theta - gamma * a.grad.data.T @ X @ np.linalg.inv(hessian))
        largest = max(largest, np.linalg.eigvalsh(hessian).max())
    opt = LocoProp(model, nn.BCEWithLogitsLoss(), variant="S", gamma=gamma, prox=eta,
                   inner_steps=3000, inner_lr=1.0 / largest, inner_optimizer="sgd",
                   inner_lr_decay=False)
    opt.step(x, y)
    for (module, _, _), solved in zip(records, expected):
        np.testing.assert_allclose(module.weight.data, solved[:, :-1], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(module.bias.data, solved[:, -1], rtol=1e-8, atol=1e-10)


def test_locoprop_m_with_prox_reaches_a_stationary_point_of_the_matching_loss():
    lg.manual_seed(4)
    model = nn.Sequential(nn.Linear(5, 6, dtype=F64), nn.Sigmoid(), nn.Linear(6, 4, dtype=F64))
    x, y, records = _backprop_records(model)
    gamma, eta = 2.0, 0.5
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    setup = [(m, i, sigmoid(a.data) - gamma * a.grad.data, m.weight.data.copy(),
              m.bias.data.copy()) for m, i, a in records]
    opt = LocoProp(model, nn.BCEWithLogitsLoss(), variant="M", gamma=gamma, prox=eta,
                   inner_steps=4000, inner_lr=0.05, inner_optimizer="sgd", inner_lr_decay=False)
    opt.step(x, y)
    for module, inputs, target, w0, b0 in setup:
        residual = sigmoid(inputs @ module.weight.data.T + module.bias.data) - target
        grad_w = residual.T @ inputs + (module.weight.data - w0) / eta
        grad_b = residual.sum(0) + (module.bias.data - b0) / eta
        assert np.abs(grad_w).max() < 1e-9 and np.abs(grad_b).max() < 1e-9
        assert np.abs(module.weight.data - w0).max() > 1e-3  # it moved


def _autoencoder(seed, dtype=lg.float32):
    lg.manual_seed(seed)
    return nn.Sequential(nn.Linear(96, 160, dtype=dtype), nn.Tanh(),
                         nn.Linear(160, 24, dtype=dtype),
                         nn.Linear(24, 160, dtype=dtype), nn.ReLU(),
                         nn.Linear(160, 96, dtype=dtype))


@pytest.mark.parametrize("variant", ["S", "M"])
@pytest.mark.parametrize("max_workers", [None, 3])
def test_parallel_and_sequential_solves_agree_bit_for_bit(variant, max_workers):
    serial, threaded = _autoencoder(5), _autoencoder(5)
    loss = nn.BCEWithLogitsLoss(reduction="sum")
    options = dict(variant=variant, inner_lr=1e-4, inner_steps=4, prox=3.0)
    opt_serial = LocoProp(serial, loss, parallel=False, **options)
    opt_threaded = LocoProp(threaded, loss, parallel=True, max_workers=max_workers, **options)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = lg.tensor(rng.random((256, 96), dtype=np.float32))
        assert opt_serial.step(x, x) == opt_threaded.step(x, x)
    for (name, p), q in zip(serial.named_parameters(), threaded.parameters()):
        assert np.array_equal(p.data, q.data), name
    for p, q in zip(serial.parameters(), threaded.parameters()):
        for key, value in opt_serial.state[p].items():
            assert np.array_equal(value, opt_threaded.state[q][key]), key


@pytest.mark.parametrize("inner", ["rmsprop", "adam"])
def test_state_dict_resumes_bit_for_bit(tmp_path, inner):
    loss = nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(1)
    batches = [lg.tensor(rng.random((64, 96), dtype=np.float32)) for _ in range(4)]
    model = _autoencoder(6)
    opt = LocoProp(model, loss, inner_lr=1e-3, inner_steps=3, inner_optimizer=inner)
    for x in batches[:2]:
        opt.step(x, x)
    path = os.path.join(tmp_path, "checkpoint.lg")
    lg.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    for x in batches[2:]:
        opt.step(x, x)

    resumed = _autoencoder(99)  # other weights, overwritten by the checkpoint
    resumed_opt = LocoProp(resumed, loss, inner_lr=0.5, inner_steps=1, inner_optimizer=inner)
    checkpoint = lg.load(path)
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    assert resumed_opt.outer_steps == 2
    assert resumed_opt.param_groups[0]["inner_steps"] == 3  # hyper-parameters come back too
    for x in batches[2:]:
        resumed_opt.step(x, x)
    for (name, p), q in zip(model.named_parameters(), resumed.parameters()):
        assert np.array_equal(p.data, q.data), name
        assert p.data.dtype == np.float32
    assert resumed_opt.outer_steps == opt.outer_steps == 4
    saved = opt.state_dict()
    assert saved["state"][0]["step"] == 4 * 3  # inner steps of the first weight


def test_step_does_not_touch_gradients_and_accepts_arrays():
    model = _autoencoder(7)
    opt = LocoProp(model, nn.BCEWithLogitsLoss())
    x = np.random.default_rng(2).random((16, 96), dtype=np.float32)
    loss = opt.step(x, x)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert all(p.grad is None for p in model.parameters())
    opt.zero_grad()  # API compatibility
    assert LocoProp.needs_batch is True


def test_frozen_parameters_stay_and_the_others_train():
    model = _autoencoder(9)
    model[0].weight.requires_grad_(False)
    model[5].bias.requires_grad_(False)
    frozen = [model[0].weight.data.copy(), model[5].bias.data.copy()]
    opt = LocoProp(model, nn.BCEWithLogitsLoss(), inner_lr=1e-3, inner_steps=2)
    assert len(opt.param_groups[0]["params"]) == 8 - 2
    x = lg.tensor(np.random.default_rng(3).random((32, 96), dtype=np.float32))
    before = [p.data.copy() for p in model.parameters()]
    opt.step(x, x)
    np.testing.assert_array_equal(model[0].weight.data, frozen[0])
    np.testing.assert_array_equal(model[5].bias.data, frozen[1])
    changed = [not np.array_equal(p.data, b) for p, b in zip(model.parameters(), before)]
    assert changed == [False, True, True, True, True, True, True, False]
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="frozen"):
        LocoProp(model, nn.BCEWithLogitsLoss())


def _mnist_or_synthetic(rows):
    """Images, and the fraction of the gap to the loss floor that training must close."""
    path = "/work/shared/data/mnist/t10k-images-idx3-ubyte.gz"
    if os.path.exists(path):
        from locograd.data.idx import read_idx
        images = read_idx(path)[:rows].reshape(rows, -1) / np.float32(255)
        return images.astype(np.float32), 0.5
    rng = np.random.default_rng(0)  # grey images of rank 8 behind a sigmoid
    logits = rng.standard_normal((rows, 8)) @ rng.standard_normal((8, 784)) * 1.5
    return (1 / (1 + np.exp(-logits))).astype(np.float32), 0.3


@pytest.mark.parametrize("variant", ["S", "M"])
def test_small_autoencoder_trains(variant):
    from locograd.experiments.autoencoder import build_autoencoder, cross_entropy_floor, \
        evaluate, reconstruction_loss
    images, closed = _mnist_or_synthetic(500)
    model = build_autoencoder((784, 32, 8, 32, 784), generator=lg.Generator().manual_seed(0))
    opt = LocoProp(model, reconstruction_loss, variant=variant, inner_lr=1e-4, inner_steps=5,
                   output_transfer="sigmoid")
    start, floor = evaluate(model, images), cross_entropy_floor(images)
    for epoch in range(3):
        for batch in range(5):
            x = lg.from_numpy(images[batch * 100:(batch + 1) * 100])
            opt.step(x, x)
    end = evaluate(model, images)
    # 15 steps close half of the gap to the floor on MNIST (S: 545 -> 260, M: 545 -> 203,
    # floor 45); 40% on the synthetic images
    assert end - floor < (1 - closed) * (start - floor), (start, end, floor)


def test_classifier_trains_with_cross_entropy():
    lg.manual_seed(8)
    rng = np.random.default_rng(3)
    centers = rng.standard_normal((4, 5)) * 2
    labels = rng.integers(0, 4, 200)
    x = lg.tensor((centers[labels] + rng.standard_normal((200, 5))).astype(np.float32))
    y = lg.tensor(labels)
    model = _classifier(dtype=lg.float32)
    opt = LocoProp(model, nn.CrossEntropyLoss(), inner_lr=3e-3, inner_steps=5)
    losses = [opt.step(x, y) for _ in range(40)]
    accuracy = (model(x).argmax(1).data == labels).mean()
    assert losses[-1] < 0.5 * losses[0] and accuracy > 0.8, (losses[0], losses[-1], accuracy)


def test_fit_trains_with_locoprop_and_resumes_bit_for_bit(tmp_path):
    from locograd import train
    from locograd.data import DataLoader, TensorDataset
    from locograd.locoprop import reference_schedule

    def setup(seed):
        lg.manual_seed(seed)
        rng = np.random.default_rng(0)
        x = lg.tensor(rng.standard_normal((128, 6)).astype(np.float32))
        y = lg.tensor((x.data[:, 0] + x.data[:, 1] > 0).astype(np.int64))
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))
        opt = LocoProp(model, nn.CrossEntropyLoss(), inner_lr=3e-3, inner_steps=3)
        loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
        return model, opt, reference_schedule(opt, 1, 6), loader

    model, opt, schedule, loader = setup(0)
    history = train.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=4, scheduler=schedule,
                        progress=False, seed=1)
    losses = [row["train_loss"] for row in history]
    assert losses[-1] < 0.8 * losses[0], losses
    first, first_opt, first_schedule, first_loader = setup(0)
    train.fit(first, nn.CrossEntropyLoss(), first_opt, first_loader, epochs=2,
              scheduler=first_schedule, progress=False, seed=1, checkpoint_dir=str(tmp_path))
    resumed, resumed_opt, resumed_schedule, resumed_loader = setup(5)
    train.fit(resumed, nn.CrossEntropyLoss(), resumed_opt, resumed_loader, epochs=4,
              scheduler=resumed_schedule, progress=False, resume=True,
              checkpoint_dir=str(tmp_path))
    for (name, p), q in zip(model.named_parameters(), resumed.parameters()):
        assert np.array_equal(p.data, q.data), name
    assert resumed_opt.outer_steps == opt.outer_steps == 16


@pytest.mark.parametrize("parallel", [False, True])
def test_solve_seconds_time_each_layer_of_the_last_step(parallel):
    lg.manual_seed(5)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4), nn.Tanh(),
                          nn.Linear(4, 6))
    model[2].requires_grad_(False)  # a frozen layer solves nothing
    opt = LocoProp(model, nn.BCEWithLogitsLoss(), inner_steps=3, parallel=parallel,
                   max_workers=2)
    assert opt.solve_seconds == [0.0, 0.0, 0.0]
    x = lg.rand(16, 6)
    opt.step(x, x)
    first, frozen, last = opt.solve_seconds
    assert first > 0 and last > 0 and frozen < min(first, last)
    # the phase holds every solve: at least the longest, at most (threads aside) their sum
    assert max(opt.solve_seconds) <= opt.solve_phase_seconds
    if not parallel:
        assert opt.solve_phase_seconds >= sum(opt.solve_seconds)

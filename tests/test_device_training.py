"""Training on the device: everything above the ops (optimisers and their state, gradient
clipping, RNN and CNN modules, LocoProp, ``fit`` and checkpoints, diagnostics, graph pictures,
random draws) runs on "cuda" and gives the CPU's numbers.

CI has no GPU, so "cuda" is the CPU stand-in (``LOCOGRAD_CUDA_STANDIN``, see
``locograd.backend.standin``), which refuses implicit conversion to NumPy and mixing with host
arrays as CuPy does: any place above the ops that still computes with NumPy on device data fails
here. ``benchmarks/gpu_check.sh`` runs this file on a real GPU (``LOCOGRAD_TEST_REAL_CUDA=1``).
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

# the cuda fixture (the stand-in with two devices, or a real GPU with LOCOGRAD_TEST_REAL_CUDA=1)
# lives in conftest.py, with these helpers
from conftest import REAL_CUDA, host

import locograd as lg
from locograd import nn, optim

F = nn.functional
# float32 on a GPU differs from the host's BLAS in the last bits: a loose tolerance there
RTOL, ATOL = (1e-4, 1e-5) if REAL_CUDA else (1e-6, 1e-7)


def close(a, b, what="", rtol=RTOL, atol=ATOL):
    if REAL_CUDA:  # cuBLAS/cuSOLVER round differently from the host's libraries
        rtol, atol = max(rtol, RTOL), max(atol, ATOL)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def mlp(seed=0, sizes=(5, 7, 3)):
    lg.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def data(n=16, inputs=5, outputs=3, seed=1):
    rng = np.random.default_rng(seed)
    return (lg.tensor(rng.standard_normal((n, inputs)).astype(np.float32)),
            lg.tensor(rng.standard_normal((n, outputs)).astype(np.float32)))


def params_equal(device_model, host_model, what=""):
    for (name, p), q in zip(device_model.named_parameters(), host_model.parameters()):
        assert p.device.type == "cuda", f"{what} {name} is on {p.device}"
        close(host(p), host(q), f"{what}: {name}")


def state_on_device(opt, what=""):
    """Every array in the optimiser's state lives on its parameter's device."""
    from locograd.backend.devices import device_of
    for p, record in opt.state.items():
        for key, value in record.items():
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, lg.Tensor):
                    v = v.data
                if hasattr(v, "shape") and not isinstance(v, np.generic):
                    assert device_of(v) == p.device, \
                        f"{what}: state {key!r} is on {device_of(v)}, the parameter on {p.device}"


# ------------------------------------------------------------------------------ optimisers

OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd_momentum_wd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1,
                                            weight_decay=1e-2),
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=1e-3),
    "adam_amsgrad": lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True, maximize=False),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.5),
    "rmsprop_centered": lambda ps: optim.RMSprop(ps, lr=1e-2, centered=True),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
    "adadelta": lambda ps: optim.Adadelta(ps, lr=1.0),
    "adamax": lambda ps: optim.Adamax(ps, lr=1e-2),
    "nadam": lambda ps: optim.NAdam(ps, lr=1e-2),
    "radam": lambda ps: optim.RAdam(ps, lr=1e-2),
    "shampoo_eigh": lambda ps: optim.Shampoo(ps, lr=0.1, preconditioning_compute_steps=2,
                                             start_preconditioning_step=2),
    "shampoo_newton": lambda ps: optim.Shampoo(ps, lr=0.1, root_method="newton",
                                               grafting="rmsprop",
                                               start_preconditioning_step=1),
}


def _train(model, make_opt, steps=4, closure=False):
    x, y = data()
    x, y = x.to(model[0].weight.device), y.to(model[0].weight.device)
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(steps):
        def step_closure():
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss
        if closure:
            losses.append(float(opt.step(step_closure)))
        else:
            losses.append(float(step_closure()))
            opt.step()
    return opt, losses


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_on_the_device_as_on_the_host(name, cuda):
    make = OPTIMIZERS[name]
    host_model = mlp()
    host_opt, host_losses = _train(host_model, make)
    device_model = mlp().to(cuda)
    device_opt, device_losses = _train(device_model, make)
    close(device_losses, host_losses, f"{name}: losses")
    params_equal(device_model, host_model, name)
    state_on_device(device_opt, name)
    # the state dict round trip: into a fresh device optimiser, and it continues as the host's
    saved = device_opt.state_dict()
    fresh = make(device_model.parameters())
    fresh.load_state_dict(saved)
    state_on_device(fresh, f"{name} (loaded)")
    for opt, model in ((fresh, device_model), (host_opt, host_model)):
        x, y = data(seed=5)
        x, y = x.to(model[0].weight.device), y.to(model[0].weight.device)
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
    params_equal(device_model, host_model, f"{name} after the reload")


def test_lbfgs_on_the_device_as_on_the_host(cuda):
    def make(ps):
        ps = list(ps)  # and a parameter the loss does not use (no gradient: zeros in the flat one)
        unused = nn.Parameter(lg.zeros(2, device=ps[0].device))
        return optim.LBFGS(ps + [unused], lr=0.5, max_iter=5, history_size=3,
                           line_search_fn="strong_wolfe")
    host_model = mlp()
    _, host_losses = _train(host_model, make, steps=2, closure=True)
    device_model = mlp().to(cuda)
    opt, device_losses = _train(device_model, make, steps=2, closure=True)
    close(device_losses, host_losses, "LBFGS losses", rtol=1e-5, atol=1e-6)
    params_equal(device_model, host_model, "LBFGS")


def test_a_device_optimizer_state_saves_to_the_host_and_loads_back_to_the_device(cuda, tmp_path):
    model = mlp().to(cuda)
    opt, _ = _train(model, OPTIMIZERS["adam"], steps=2)
    path = tmp_path / "opt.safetensors"
    lg.save({"model": model.state_dict(), "optim": opt.state_dict()}, path)
    loaded = lg.load(path)  # no map_location: on the host
    assert all(t.device == "cpu" for t in loaded["model"].values())
    back = lg.load(path, map_location="cuda")
    assert all(t.device == "cuda:0" for t in back["model"].values())
    fresh = OPTIMIZERS["adam"](model.parameters())
    fresh.load_state_dict(loaded["optim"])  # host state into a device optimiser
    state_on_device(fresh, "host state loaded")


def _kfac_run(model, steps=3, adaptive=True, conv=False):
    """K-FAC steps on a regression MLP (Gaussian likelihood) or a small CNN classifier
    (categorical; the convolution's factors come from im2col patches)."""
    dev = next(model.parameters()).device
    if conv:
        rng = np.random.default_rng(6)
        x = lg.tensor(rng.standard_normal((8, 2, 6, 6)).astype(np.float32), device=dev)
        y = lg.tensor(rng.integers(0, 3, 8), device=dev)
        loss_fn, likelihood = F.cross_entropy, "categorical"
    else:
        x, y = (t.to(dev) for t in data())
        loss_fn, likelihood = F.mse_loss, "gaussian"
    lg.manual_seed(7)
    opt = optim.KFAC(model, lr=0.5, damping=1.0, adaptive=adaptive, likelihood=likelihood,
                     inv_update_freq=1)
    losses = []
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            return loss
        losses.append(float(opt.step(closure)))
    opt.remove_hooks()
    return opt, losses


def _small_convnet():
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 4 * 4, 3))


@pytest.mark.parametrize("form", ["adaptive", "fixed", "conv"])
def test_kfac_on_the_device_as_on_the_host(form, cuda):
    def build():
        lg.manual_seed(0)
        return _small_convnet() if form == "conv" else mlp()
    host_model = build()
    _, host_losses = _kfac_run(host_model, adaptive=form != "fixed", conv=form == "conv")
    device_model = build().to(cuda)
    opt, device_losses = _kfac_run(device_model, adaptive=form != "fixed", conv=form == "conv")
    close(device_losses, host_losses, "K-FAC losses", rtol=1e-5, atol=1e-6)
    params_equal(device_model, host_model, "K-FAC")
    state_on_device(opt, "K-FAC")
    opt.load_state_dict(opt.state_dict())
    state_on_device(opt, "K-FAC (reloaded)")


def test_lr_schedulers_drive_a_device_optimizer(cuda):
    model = mlp().to(cuda)
    opt = optim.SGD(model.parameters(), lr=0.1)
    schedule = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = (t.to(cuda) for t in data())
    for _ in range(2):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
        schedule.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)


# ------------------------------------------------------------------------------ clipping

def test_gradient_clipping_on_the_device(cuda):
    results = {}
    for where in ("cpu", "cuda:0"):
        model = mlp().to(where)
        x, y = (t.to(where) for t in data())
        F.mse_loss(model(x), y).backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 0.05)
        inf_norm = nn.utils.clip_grad_norm_(model.parameters(), 0.04, norm_type="inf")
        assert norm.device == where and inf_norm.device == where
        nn.utils.clip_grad_value_(model.parameters(), 0.01)
        results[where] = (host(norm), host(inf_norm), [host(p.grad) for p in model.parameters()])
        assert all(p.grad.device == where for p in model.parameters())
    (n_c, i_c, g_c), (n_d, i_d, g_d) = results["cpu"], results["cuda:0"]
    close(n_d, n_c, "norm")
    close(i_d, i_c, "inf norm")
    for a, b in zip(g_d, g_c):
        close(a, b, "clipped gradients")


# ------------------------------------------------------------------------------ modules

@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_modules_train_on_the_device(kind, cuda):
    results = {}
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    target = rng.standard_normal((5, 3, 6)).astype(np.float32)
    for where in ("cpu", "cuda:0"):
        lg.manual_seed(0)
        rnn = getattr(nn, kind)(4, 6, num_layers=2, bidirectional=True, dropout=0.25)
        head = nn.Linear(12, 6)
        model = nn.ModuleList([rnn, head]).to(where)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        xs, ts = lg.tensor(x, device=where), lg.tensor(target, device=where)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            out, _ = rnn(xs)
            loss = F.mse_loss(head(out), ts)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        results[where] = (losses, [host(p) for p in model.parameters()])
    close(results["cuda:0"][0], results["cpu"][0], f"{kind} losses", rtol=1e-5, atol=1e-6)
    for a, b in zip(results["cuda:0"][1], results["cpu"][1]):
        close(a, b, f"{kind} parameters", rtol=1e-5, atol=1e-6)


def _cnn():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.3), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def test_a_small_cnn_trains_on_the_device(cuda):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 2, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 3, 6)
    results = {}
    for where in ("cpu", "cuda:0"):
        lg.manual_seed(0)
        model = _cnn().to(where)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        xs, ys = lg.tensor(x, device=where), lg.tensor(labels, device=where)
        lg.manual_seed(11)  # the dropout masks
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(model(xs), ys)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        evaluated = host(model(xs))
        results[where] = (losses, evaluated, {k: host(v) for k, v in model.state_dict().items()})
    close(results["cuda:0"][0], results["cpu"][0], "CNN losses", rtol=1e-5, atol=1e-6)
    close(results["cuda:0"][1], results["cpu"][1], "CNN eval outputs", rtol=1e-5, atol=1e-5)
    for k, v in results["cpu"][2].items():
        close(results["cuda:0"][2][k], v, f"CNN {k}", rtol=1e-5, atol=1e-6)


def test_dropout_on_a_second_device(cuda):
    if lg.cuda.device_count() < 2:
        pytest.skip("one CUDA device")
    lg.manual_seed(1)
    assert F.dropout(lg.ones(8, device="cuda:1"), 0.5).device == "cuda:1"


def test_dropout_on_the_device_is_reproducible_from_one_seed(cuda):
    x = lg.ones(200)
    masks = []
    for where in ("cuda:0", "cuda:0", "cpu"):
        lg.manual_seed(123)
        masks.append(host(F.dropout(x.to(where), 0.5, training=True)))
    np.testing.assert_array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(masks[0], masks[2])  # one stream: the host's draws
    assert 0 < (masks[0] == 0).sum() < 200


# ------------------------------------------------------------------------------ LocoProp

@pytest.mark.parametrize("variant", ["S", "M"])
def test_locoprop_steps_on_the_device_as_on_the_host(variant, cuda):
    from locograd.locoprop import LocoProp
    rng = np.random.default_rng(2)
    x = rng.random((32, 6)).astype(np.float32)
    results = {}
    for where in ("cpu", "cuda:0"):
        lg.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4), nn.ReLU(),
                              nn.Linear(4, 6)).to(where)
        opt = LocoProp(model, nn.BCEWithLogitsLoss(), variant=variant, inner_lr=1e-3,
                       inner_steps=4, prox=10.0, parallel=where == "cpu")
        xs = lg.tensor(x, device=where)
        losses = [opt.step(xs, xs) for _ in range(3)]
        results[where] = (losses, [host(p) for p in model.parameters()], opt)
    close(results["cuda:0"][0], results["cpu"][0], "LocoProp losses", rtol=1e-5, atol=1e-6)
    for a, b in zip(results["cuda:0"][1], results["cpu"][1]):
        close(a, b, "LocoProp parameters", rtol=1e-5, atol=1e-6)
    opt = results["cuda:0"][2]
    state_on_device(opt, "LocoProp")
    opt.load_state_dict(opt.state_dict())
    state_on_device(opt, "LocoProp (reloaded)")


# ------------------------------------------------------------------------------ fit, checkpoints

def _loader(pin_memory=False):
    from locograd.data import DataLoader, TensorDataset
    x, y = data(n=32)
    return DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, pin_memory=pin_memory)


def test_fit_trains_a_device_model_on_host_batches(cuda, tmp_path):
    from locograd.train import fit
    histories = {}
    for where in ("cpu", "cuda:0"):
        model = mlp()
        opt = optim.Adam(model.parameters(), lr=1e-2)
        histories[where] = fit(model, nn.MSELoss(), opt, _loader(pin_memory=True),
                               val_loader=_loader(), epochs=2, progress=False, seed=3,
                               grad_clip=1.0, device=where,
                               checkpoint_dir=tmp_path / where.replace(":", ""))
        assert all(p.device == where for p in model.parameters())
        histories[where] = ([row["train_loss"] for row in histories[where].rows],
                            [host(p) for p in model.parameters()])
    close(histories["cuda:0"][0], histories["cpu"][0], "fit losses", rtol=1e-5, atol=1e-6)
    for a, b in zip(histories["cuda:0"][1], histories["cpu"][1]):
        close(a, b, "fit parameters", rtol=1e-5, atol=1e-6)
    from locograd.train.checkpoint import checkpoint_path
    path = checkpoint_path(tmp_path / "cuda0")
    state = lg.load(path)
    assert state["model"] and all(t.device == "cpu" for t in state["model"].values())


def test_fit_moves_each_batch_to_the_models_device(cuda):
    from locograd.train import fit
    model = mlp().to(cuda)
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), _loader(),
                  epochs=1, progress=False)
    assert np.isfinite(history.last["train_loss"])


def test_load_puts_tensors_where_map_location_asks(cuda, tmp_path):
    path = tmp_path / "t.safetensors"
    last = f"cuda:{lg.cuda.device_count() - 1}"  # the stand-in has two devices
    model = mlp().to(last)
    lg.save({"w": model.state_dict(), "n": 3, "a": np.arange(3)}, path)
    for where, expected in (("cpu", "cpu"), ("cuda", "cuda:0"), (lg.device(last), last),
                            ({last: "cuda:0"}, "cuda:0"), ({last: "cpu"}, "cpu"),
                            (lambda storage, location: storage.to(location), last),
                            (lambda storage, location: storage, "cpu"), (None, "cpu")):
        loaded = lg.load(path, map_location=where)
        assert {str(t.device) for t in loaded["w"].values()} == {expected}, where
        assert isinstance(loaded["a"], np.ndarray) and loaded["n"] == 3
    for k, v in lg.load(path, map_location="cuda")["w"].items():
        close(host(v), host(model.state_dict()[k]), k)


def test_a_gpu_trained_checkpoint_loads_on_a_machine_without_a_gpu(cuda, tmp_path):
    model = mlp().to(cuda)
    opt, _ = _train(model, OPTIMIZERS["adam"], steps=2)
    path = tmp_path / "gpu.safetensors"
    lg.save({"model": model.state_dict(), "optim": opt.state_dict()}, path)
    expected = {k: host(v) for k, v in model.state_dict().items()}
    script = (
        "import sys, numpy as np, locograd as lg\n"
        "assert not lg.cuda.is_available()\n"
        "s = lg.load(sys.argv[1])\n"
        "m = lg.nn.Sequential(lg.nn.Linear(5, 7), lg.nn.Tanh(), lg.nn.Linear(7, 3))\n"
        "m.load_state_dict(s['model'])\n"
        "o = lg.optim.Adam(m.parameters(), lr=1e-2); o.load_state_dict(s['optim'])\n"
        "np.savez(sys.argv[2], **{k: v.numpy() for k, v in m.state_dict().items()})\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOCOGRAD_CUDA_STANDIN", "CUDA_VISIBLE_DEVICES")}
    env["CUDA_VISIBLE_DEVICES"] = ""  # on a GPU machine too: no GPU for the child
    out = tmp_path / "weights.npz"
    subprocess.run([sys.executable, "-c", script, str(path), str(out)], env=env, check=True,
                   timeout=60)
    with np.load(out) as weights:
        for k, v in expected.items():
            np.testing.assert_array_equal(weights[k], v, err_msg=k)


# ------------------------------------------------------------------------------ diagnostics, viz

def test_gradient_monitor_watches_a_device_model(cuda):
    from locograd.diagnostics import METRICS, GradientMonitor
    tables = {}
    for where in ("cpu", "cuda:0"):
        model = mlp().to(where)
        monitor = GradientMonitor(model)
        x, y = (t.to(where) for t in data())
        for _ in range(2):
            model.zero_grad()
            F.mse_loss(model(x), y).backward()
            monitor.step()
        tables[where] = {m: monitor.metric(m) for m in METRICS}
        assert monitor.table()
        monitor.remove()
    for metric, by_layer in tables["cpu"].items():
        for layer, value in by_layer.items():
            on_device = tables["cuda:0"][metric][layer]
            assert (value is None) == (on_device is None), f"{metric} of {layer}"
            if value is not None:
                close(on_device, value, f"{metric} of {layer}", rtol=1e-5, atol=1e-7)


def test_graph_pictures_of_a_device_model(cuda):
    sources = {}
    for where in ("cpu", "cuda:0"):
        model = mlp().to(where)
        x, y = (t.to(where) for t in data(n=2))
        graph = lg.viz.trace(lambda a: F.mse_loss(model(a), y), x, params=model)
        sources[where] = _renumbered(graph.source)
    assert "mean" in sources["cpu"] or "[" in sources["cpu"]  # values are on the edges
    assert sources["cuda:0"] == sources["cpu"]


def _renumbered(source: str) -> str:
    """DOT text with its node ids (global counters) numbered by first appearance."""
    import re
    ids: dict = {}
    return re.sub(r"\b(n|node )(\d+)\b",
                  lambda m: m.group(1) + str(ids.setdefault((m.group(2)), len(ids))), source)

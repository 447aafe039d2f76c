"""The optimiser surface: groups, closures, zero_grad, state_dict round trips and errors."""
import importlib.util

import numpy as np
import pytest

import locograd as lg
from locograd import nn, optim

ALL_CONFIGS = [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.1, momentum=0.5, dampening=0.2, l1_decay=0.01)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.1)),
    (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)),
    (optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    (optim.AdamW, dict(lr=0.01, amsgrad=True, l1_decay=0.01)),
    (optim.Adadelta, dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    (optim.Adamax, dict(lr=0.01, weight_decay=0.1)),
    (optim.NAdam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    (optim.RAdam, dict(lr=0.01, weight_decay=0.1)),
]


def config_id(config):
    return config[0].__name__ + "-" + "-".join(f"{k}={v}" for k, v in config[1].items())


def make_model(seed=0):
    lg.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 2))


def copy_model(model):
    fresh = make_model(seed=99)  # different weights, then overwritten with copies
    for p, q in zip(fresh.parameters(), model.parameters()):
        p.data = q.data.copy()
    return fresh


def train(model, opt, steps, start, scheduler=None):
    """Steps on a loss that changes with the step index (a stream of mini-batches)."""
    for k in range(start, start + steps):
        rng = np.random.default_rng(k)
        x = lg.tensor(rng.standard_normal((4, 3)).astype(np.float32))
        target = lg.tensor(rng.standard_normal((4, 2)).astype(np.float32))
        opt.zero_grad()
        ((model(x) - target) ** 2).mean().backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()


def two_groups(model, cls, kw):
    first, second = list(model.parameters())[:2], list(model.parameters())[2:]
    return cls([{"params": first}, {"params": second, "lr": kw["lr"] / 2}], **kw)


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=config_id)
def test_state_dict_resume_is_bit_for_bit(config):
    cls, kw = config
    reference = make_model()
    ref_opt = two_groups(reference, cls, kw)
    train(reference, ref_opt, 7, start=0)

    first = make_model()
    opt = two_groups(first, cls, kw)
    train(first, opt, 4, start=0)
    saved = opt.state_dict()
    resumed = copy_model(first)
    new_opt = two_groups(resumed, cls, {**kw, "lr": 123.0})  # the lr comes from the state dict
    new_opt.load_state_dict(saved)
    assert new_opt.param_groups[0]["lr"] == kw["lr"]
    train(resumed, new_opt, 3, start=4)
    for p, q in zip(resumed.parameters(), reference.parameters()):
        assert np.array_equal(p.data, q.data)
    for p, q in zip(resumed.parameters(), reference.parameters()):
        for key, value in ref_opt.state[q].items():
            got = new_opt.state[p][key]
            assert np.array_equal(got, value), key


def test_state_dict_layout_and_copies():
    model = make_model()
    opt = optim.Adam(model.parameters(), lr=0.1, amsgrad=True)
    train(model, opt, 2, start=0)
    sd = opt.state_dict()
    assert sorted(sd) == ["kind", "param_groups", "state"] and sd["kind"] == "Adam"
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert sd["state"][0]["step"] == 2
    weight = next(model.parameters())
    # a copy: later steps do not change the saved dict, and loading does not alias it
    saved = sd["state"][0]["exp_avg"].copy()
    train(model, opt, 1, start=2)
    assert np.array_equal(sd["state"][0]["exp_avg"], saved)
    opt.load_state_dict(sd)
    assert opt.state[weight]["exp_avg"] is not sd["state"][0]["exp_avg"]
    train(model, opt, 1, start=3)
    assert np.array_equal(sd["state"][0]["exp_avg"], saved)


def test_load_state_dict_casts_to_the_parameter_dtype_and_converts_counters():
    p = nn.Parameter(lg.zeros(3))
    opt = optim.Adam([p])
    sd = {"state": {0: {"step": np.array(5), "exp_avg": np.ones(3),  # float64, 0-d counter
                        "exp_avg_sq": lg.ones(3, dtype=lg.float64)}},
          "param_groups": [{**opt.state_dict()["param_groups"][0]}]}
    opt.load_state_dict(sd)
    record = opt.state[p]
    assert record["step"] == 5 and type(record["step"]) is int
    assert record["exp_avg"].dtype == np.float32 and record["exp_avg_sq"].dtype == np.float32


def test_resume_with_a_scheduler():
    def build(model):
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return opt, optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    reference = make_model()
    ref_opt, ref_sched = build(reference)
    train(reference, ref_opt, 6, start=0, scheduler=ref_sched)

    model = make_model()
    opt, sched = build(model)
    train(model, opt, 3, start=0, scheduler=sched)
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    resumed = copy_model(model)
    new_opt, new_sched = build(resumed)
    new_opt.load_state_dict(saved_opt)
    new_sched.load_state_dict(saved_sched)
    train(resumed, new_opt, 3, start=3, scheduler=new_sched)
    assert new_sched.get_last_lr() == ref_sched.get_last_lr()
    for p, q in zip(resumed.parameters(), reference.parameters()):
        assert np.array_equal(p.data, q.data)


def test_resume_through_a_file(tmp_path):
    if importlib.util.find_spec("locograd.io") is None:
        pytest.skip("locograd.io does not exist yet: the file round trip needs its save/load")
    pytest.importorskip("safetensors", reason="locograd.io needs the io extra (safetensors)")
    from locograd import io
    reference = make_model()
    ref_opt = optim.Adam(reference.parameters(), lr=0.01, amsgrad=True)
    train(reference, ref_opt, 5, start=0)
    model = make_model()
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    train(model, opt, 3, start=0)
    io.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ckpt")
    loaded = io.load(tmp_path / "ckpt")
    resumed = make_model(seed=5)
    resumed.load_state_dict(loaded["model"])
    new_opt = optim.Adam(resumed.parameters(), lr=0.01, amsgrad=True)
    new_opt.load_state_dict(loaded["optimizer"])
    train(resumed, new_opt, 2, start=3)
    for p, q in zip(resumed.parameters(), reference.parameters()):
        assert np.array_equal(p.data, q.data)


def test_load_state_dict_errors_leave_the_optimizer_unchanged():
    model = make_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train(model, opt, 1, start=0)
    sd = opt.state_dict()
    other = optim.SGD([{"params": list(model.parameters())[:2]},
                       {"params": list(model.parameters())[2:]}], lr=0.1)
    with pytest.raises(ValueError, match="1 parameter groups but the optimizer has 2"):
        other.load_state_dict(sd)
    smaller = optim.SGD(list(model.parameters())[:3], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 4 parameters in the state dict but 3"):
        smaller.load_state_dict(sd)
    swapped = optim.SGD(list(model.parameters())[::-1], lr=0.5, momentum=0.9)
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(5, 3\) "
                                         r"but the parameter has shape \(2,\)"):
        swapped.load_state_dict(sd)
    assert swapped.param_groups[0]["lr"] == 0.5 and not swapped.state
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    bad = opt.state_dict()
    bad["state"][7] = {}
    with pytest.raises(ValueError, match="parameter index 7"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    bad["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="SGD: invalid lr -1.0"):
        opt.load_state_dict(bad)


# ---- step, closure, zero_grad -------------------------------------------------------------------


def test_step_with_closure_returns_the_loss_and_runs_with_grad_enabled():
    w = nn.Parameter(lg.tensor([2.0]))
    opt = optim.SGD([w], lr=0.25)
    calls = []

    def closure():
        calls.append(lg.is_grad_enabled())
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with lg.no_grad():
        loss = opt.step(closure)
    assert calls == [True] and loss.item() == 4.0
    assert w.item() == 1.0  # 2 - 0.25 * 4
    assert opt.step() is None


def test_zero_grad():
    w = nn.Parameter(lg.ones(3))
    opt = optim.SGD([w])
    (w * 2).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and w.grad.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None
    # a gradient that is part of a graph (create_graph=True) is replaced, not written through
    (w * w).sum().backward(create_graph=True)
    graph_grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is not graph_grad and w.grad.tolist() == [0.0, 0.0, 0.0]
    assert graph_grad.tolist() == [2.0, 2.0, 2.0]


def test_step_checks_the_gradient_shape_and_dtype():
    w = nn.Parameter(lg.ones(3))
    opt = optim.SGD([w], lr=0.1)
    w.grad = lg.ones(4)
    with pytest.raises(RuntimeError, match=r"parameter 0 of group 0 has shape \(3,\) and dtype "
                                           r"float32 but its gradient has shape \(4,\)"):
        opt.step()
    w.grad = lg.ones(3, dtype=lg.float64)
    with pytest.raises(RuntimeError, match="gradient has shape .3,. and dtype float64"):
        opt.step()


def test_named_parameters_and_add_param_group():
    model = make_model()
    opt = optim.SGD(model.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert opt.state_dict()["param_groups"][0]["param_names"][0] == "0.weight"
    extra = nn.Parameter(lg.zeros(2))
    with pytest.raises(ValueError, match="all parameter groups must be given with names"):
        opt.add_param_group({"params": [extra]})
    opt.add_param_group({"params": [("extra", extra)], "lr": 0.5, "momentum": 0.9})
    group = opt.param_groups[1]
    assert group["lr"] == 0.5 and group["momentum"] == 0.9 and group["dampening"] == 0.0


def test_repr_lists_the_groups():
    opt = optim.Adam([nn.Parameter(lg.zeros(1))], lr=0.5)
    text = repr(opt)
    assert text.startswith("Adam (\nParameter Group 0\n") and "    lr: 0.5\n" in text
    assert "    betas: (0.9, 0.999)\n" in text


# ---- errors -------------------------------------------------------------------------------------


def test_bad_parameter_lists():
    w = nn.Parameter(lg.zeros(2))
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"got a single tensor of shape \(2,\)"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="ordered iterable"):
        optim.SGD({w}, lr=0.1)
    with pytest.raises(ValueError, match=r"parameter 1 of the group \(shape \(2,\)\) is the same "
                                         r"tensor as parameter 0"):
        optim.Adam([w, w])
    with pytest.raises(ValueError, match="appear in more than one parameter group"):
        optim.Adam([{"params": [w]}, {"params": [w]}])
    with pytest.raises(ValueError, match=r"can't optimize a non-leaf tensor \(parameter 0.*Mul"):
        optim.SGD([w * 2])
    with pytest.raises(TypeError, match="only optimize floating-point tensors.*int64"):
        optim.SGD([lg.tensor([1, 2])])
    with pytest.raises(TypeError, match="parameter 1 of the group is a ndarray"):
        optim.SGD([w, np.zeros(2)])
    with pytest.raises(TypeError, match="a param group must be a dict"):
        optim.SGD([w]).add_param_group([w])
    with pytest.raises(ValueError, match="no 'params' entry"):
        optim.SGD([w]).add_param_group({"lr": 0.1})


def test_required_hyperparameter():
    class Plain(optim.Optimizer):
        def __init__(self, params, lr=optim.required):
            super().__init__(params, dict(lr=lr))

    with pytest.raises(ValueError, match="does not set the required hyper-parameter 'lr'"):
        Plain([nn.Parameter(lg.zeros(1))])
    assert Plain([{"params": [nn.Parameter(lg.zeros(1))], "lr": 0.1}]).param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("make, message", [
    (lambda w: optim.SGD([w], lr=-0.1), "SGD: invalid lr -0.1: it must be >= 0"),
    (lambda w: optim.SGD([w], lr=float("nan")), "SGD: invalid lr nan"),
    (lambda w: optim.SGD([w], momentum=-1.0), "SGD: invalid momentum -1.0"),
    (lambda w: optim.SGD([w], dampening=1.5),
     r"SGD: invalid dampening 1.5: it must be in \[0, 1\]"),
    (lambda w: optim.SGD([w], weight_decay=-1e-4), "SGD: invalid weight_decay"),
    (lambda w: optim.SGD([w], l1_decay=-1.0), "SGD: invalid l1_decay"),
    (lambda w: optim.SGD([w], nesterov=True), "Nesterov momentum requires momentum > 0"),
    (lambda w: optim.SGD([w], momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda w: optim.SGD([w], differentiable=True), "differentiable=True is not supported"),
    (lambda w: optim.Adagrad([w], lr_decay=-1.0), "Adagrad: invalid lr_decay"),
    (lambda w: optim.Adagrad([w], initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (lambda w: optim.Adagrad([w], eps=-1.0), "Adagrad: invalid eps"),
    (lambda w: optim.RMSprop([w], alpha=1.5),
     r"RMSprop: invalid alpha 1.5: it must be in \[0, 1\]"),
    (lambda w: optim.RMSprop([w], eps=-1.0), "RMSprop: invalid eps"),
    (lambda w: optim.RMSprop([w], momentum=-0.5), "RMSprop: invalid momentum"),
    (lambda w: optim.Adam([w], betas=(1.0, 0.999)),
     r"Adam: invalid beta parameter at index 0 1.0: it must be in \[0, 1\)"),
    (lambda w: optim.Adam([w], betas=(0.9, -0.1)), "beta parameter at index 1"),
    (lambda w: optim.Adam([w], betas=0.9), "betas must be a pair"),
    (lambda w: optim.Adam([w], eps=-1e-8), "Adam: invalid eps"),
    (lambda w: optim.AdamW([w], weight_decay=-0.01), "AdamW: invalid weight_decay"),
    (lambda w: optim.Adadelta([w], rho=1.5), r"Adadelta: invalid rho 1.5: it must be in \[0, 1\]"),
    (lambda w: optim.Adadelta([w], eps=-1.0), "Adadelta: invalid eps"),
    (lambda w: optim.Adadelta([w], lr=-1.0), "Adadelta: invalid lr"),
    (lambda w: optim.Adamax([w], betas=(0.9, 1.0)), "Adamax: invalid beta parameter at index 1"),
    (lambda w: optim.Adamax([w], eps=-1.0), "Adamax: invalid eps"),
    (lambda w: optim.NAdam([w], momentum_decay=-1.0), "NAdam: invalid momentum_decay"),
    (lambda w: optim.NAdam([w], betas=(-0.1, 0.9)), "NAdam: invalid beta parameter at index 0"),
    (lambda w: optim.RAdam([w], betas=(0.9,)), "RAdam: betas must be a pair"),
    (lambda w: optim.RAdam([w], weight_decay=-1.0), "RAdam: invalid weight_decay"),
    (lambda w: optim.LBFGS([w], history_size=0), "LBFGS: history_size must be a positive int"),
    (lambda w: optim.LBFGS([w], max_iter=2.5), "LBFGS: max_iter must be a positive int"),
    (lambda w: optim.LBFGS([w], tolerance_grad=-1.0), "LBFGS: invalid tolerance_grad"),
    (lambda w: optim.LBFGS([w], line_search_fn="armijo"), "line_search_fn must be None or"),
    (lambda w: optim.LBFGS([{"params": [w]}, {"params": [lg.nn.Parameter(lg.zeros(1))]}]),
     "LBFGS doesn't support per-parameter options"),
    (lambda w: optim.SGD([{"params": [w], "lr": -1.0}], lr=0.1), "SGD: invalid lr -1.0"),
])
def test_invalid_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make(nn.Parameter(lg.zeros(2)))


def test_non_numeric_hyperparameter():
    with pytest.raises(TypeError, match="SGD: lr must be a real number, got 'fast'"):
        optim.SGD([nn.Parameter(lg.zeros(2))], lr="fast")

"""Oracle: 50-step trajectories of every optimiser and schedule against ``torch.optim``.

Same initial weights, same gradient sequence (a quadratic's gradient at the current weights plus
a fixed noise sequence, computed in NumPy on each side), float64, compared to 1e-6 relative.
Skipped when PyTorch is not installed (it is an optional extra, never a dependency).
"""
import numpy as np
import pytest

import locograd as lg
from locograd import nn, optim
from locograd.optim import lr_scheduler as sched

torch = pytest.importorskip("torch")

STEPS = 50
RNG = np.random.default_rng(11)
CURVATURE = RNG.standard_normal((4, 4))
CURVATURE = CURVATURE @ CURVATURE.T / 4 + 0.5 * np.eye(4)
NOISE = [(RNG.standard_normal((3, 4)), RNG.standard_normal(4)) for _ in range(STEPS)]
STARTS = (RNG.standard_normal((3, 4)), RNG.standard_normal(4))


def gradients(step, matrix, vector):
    return (matrix @ CURVATURE + NOISE[step][0], CURVATURE @ vector - 1.0 + NOISE[step][1])


OPTIMIZER_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.02, momentum=0.95, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True, weight_decay=0.05)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.8, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, maximize=True, eps=1e-4)),
    ("Adam", dict(lr=0.02)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), amsgrad=True)),
    ("Adam", dict(lr=0.02, weight_decay=0.2, eps=1e-4)),
    ("Adam", dict(lr=0.02, maximize=True, amsgrad=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.02)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, maximize=True, betas=(0.5, 0.7))),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.7, eps=1e-3, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.02)),
    ("Adamax", dict(lr=0.02, betas=(0.7, 0.9), eps=1e-3, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.02)),
    ("NAdam", dict(lr=0.02, momentum_decay=0.05, weight_decay=0.1, betas=(0.8, 0.95))),
    ("NAdam", dict(lr=0.02, weight_decay=0.2, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.02)),
    ("RAdam", dict(lr=0.02, betas=(0.8, 0.9), weight_decay=0.1, eps=1e-4)),
    ("RAdam", dict(lr=0.02, weight_decay=0.2, decoupled_weight_decay=True, maximize=True)),
]


def case_id(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def build_pair(name, kw, groups=False):
    ours = [nn.Parameter(lg.tensor(x.copy())) for x in STARTS]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in STARTS]
    if groups:  # the second parameter in its own group, at half the rate
        ours = [{"params": [ours[0]]}, {"params": [ours[1]], "lr": kw["lr"] / 2}]
        theirs = [{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": kw["lr"] / 2}]
    return getattr(optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)


def params_of(opt):
    return [p for g in opt.param_groups for p in g["params"]]


def step_both(step, ours, theirs):
    for opt, to_array, to_grad in ((ours, lambda p: p.data, lg.tensor),
                                   (theirs, lambda p: p.detach().numpy(), torch.tensor)):
        params = params_of(opt)
        for p, g in zip(params, gradients(step, *[to_array(p) for p in params])):
            p.grad = to_grad(g)
        opt.step()


def assert_same(ours, theirs):
    for p, q in zip(params_of(ours), params_of(theirs)):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("groups", [False, True], ids=["one-group", "two-groups"])
@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=case_id)
def test_optimizer_trajectory_matches_torch(case, groups):
    ours, theirs = build_pair(*case, groups=groups)
    for step in range(STEPS):
        step_both(step, ours, theirs)
        assert_same(ours, theirs)
    # the state records have PyTorch's keys and values
    for p, q in zip(params_of(ours), params_of(theirs)):
        mine, reference = ours.state[p], theirs.state[q]
        assert sorted(mine) == sorted(reference)
        for key, value in reference.items():
            np.testing.assert_allclose(mine[key], value.numpy(), rtol=1e-6, atol=1e-12)


SCHEDULE_CASES = {
    "step": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.93),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=17, eta_min=0.003),
    "lambda": lambda m, o: m.LambdaLR(o, lambda t: 1.0 / (1.0 + 0.1 * t)),
    "multiplicative": lambda m, o: m.MultiplicativeLR(o, lambda t: 0.97 if t % 2 else 1.01),
    "constant": lambda m, o: m.ConstantLR(o, factor=0.4, total_iters=6),
    "linear": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=12),
    "onecycle-cos": lambda m, o: m.OneCycleLR(o, max_lr=0.8, total_steps=STEPS),
    "onecycle-linear-3": lambda m, o: m.OneCycleLR(
        o, max_lr=[0.8, 0.4], epochs=5, steps_per_epoch=10, pct_start=0.25,
        anneal_strategy="linear", three_phase=True, base_momentum=0.8, max_momentum=0.9),
    "sequential": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.05, total_iters=8),
            m.CosineAnnealingLR(o, T_max=20, eta_min=0.01),
            m.StepLR(o, step_size=4, gamma=0.7)], milestones=[8, 30]),
    "chained": lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, start_factor=0.2, total_iters=10), m.ExponentialLR(o, gamma=0.95),
         m.MultiStepLR(o, milestones=[20, 35], gamma=0.5)]),
}


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name", sorted(SCHEDULE_CASES))
def test_schedule_matches_torch(name, optimizer_name):
    build = SCHEDULE_CASES[name]
    kw = dict(lr=0.5, momentum=0.9) if optimizer_name == "SGD" else dict(lr=0.5)
    ours, theirs = build_pair(optimizer_name, kw, groups=True)
    ours_sched, theirs_sched = build(sched, ours), build(torch.optim.lr_scheduler, theirs)
    for step in range(STEPS):
        np.testing.assert_allclose(ours_sched.get_last_lr(), theirs_sched.get_last_lr(),
                                   rtol=1e-12, atol=1e-15, err_msg=f"step {step}")
        for mine, reference in zip(ours.param_groups, theirs.param_groups):
            for key in ("momentum", "betas"):
                if key in reference:
                    np.testing.assert_allclose(mine[key], reference[key], rtol=1e-12)
        step_both(step, ours, theirs)
        ours_sched.step()
        theirs_sched.step()
    assert_same(ours, theirs)


def test_inverse_time_decay_equals_a_torch_lambda():
    ours, theirs = build_pair("SGD", dict(lr=0.5, momentum=0.9))
    ours_sched = sched.InverseTimeDecay(ours, decay_rate=0.2)
    theirs_sched = torch.optim.lr_scheduler.LambdaLR(theirs, lambda t: 1 / (1 + 0.2 * t))
    for step in range(STEPS):
        np.testing.assert_allclose(ours_sched.get_last_lr(), theirs_sched.get_last_lr(),
                                   rtol=1e-12)
        step_both(step, ours, theirs)
        ours_sched.step()
        theirs_sched.step()
    assert_same(ours, theirs)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.05, threshold_mode="abs", cooldown=2),
    dict(factor=0.3, patience=1, cooldown=1, min_lr=[0.05, 0.02], eps=1e-3),
])
def test_reduce_on_plateau_matches_torch(kw):
    ours, theirs = build_pair("Adam", dict(lr=0.5), groups=True)
    ours_sched = sched.ReduceLROnPlateau(ours, **kw)
    theirs_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kw)
    metrics = np.cumsum(np.random.default_rng(5).standard_normal(STEPS) * 0.1)
    metrics[10:25] = metrics[10]  # a plateau
    for step, metric in enumerate(metrics):
        step_both(step, ours, theirs)
        ours_sched.step(float(metric))
        theirs_sched.step(float(metric))
        assert ours_sched.get_last_lr() == pytest.approx(theirs_sched.get_last_lr(), rel=1e-12)
    assert_same(ours, theirs)


def test_clip_grad_norm_matches_torch():
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((3, 4)) * 5, rng.standard_normal(7)]
    for norm_type in (2.0, 1.0, 3.0, float("inf")):
        ours = [lg.tensor(a.copy(), requires_grad=True) for a in arrays]
        theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
        for p, q, a in zip(ours, theirs, arrays):
            p.grad, q.grad = lg.tensor(a.copy()), torch.tensor(a.copy())
        total = lg.nn.utils.clip_grad_norm_(ours, 1.5, norm_type=norm_type)
        expected = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type=norm_type)
        assert total.item() == pytest.approx(expected.item(), rel=1e-12)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-12)

"""Learning-rate schedules produce their documented sequences (values written out by hand)."""
import math

import pytest

import locograd as lg
from locograd import nn, optim
from locograd.optim import lr_scheduler as sched


def make_opt(lr=1.0, cls=optim.SGD, **kw):
    return cls([nn.Parameter(lg.zeros(1))], lr=lr, **kw)


def run(scheduler, opt, n, group=0):
    """The rate used at each of ``n`` steps (read before the step, as a training loop would)."""
    out = []
    for _ in range(n):
        out.append(scheduler.get_last_lr()[group])
        opt.step()
        scheduler.step()
    return out


def test_step_lr():
    opt = make_opt()
    assert run(sched.StepLR(opt, step_size=3, gamma=0.1), opt, 8) == pytest.approx(
        [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01], rel=1e-12)


def test_multi_step_lr_counts_repeated_milestones():
    opt = make_opt()
    got = run(sched.MultiStepLR(opt, milestones=[2, 5, 5], gamma=0.5), opt, 7)
    assert got == pytest.approx([1, 1, 0.5, 0.5, 0.5, 0.125, 0.125], rel=1e-12)


def test_exponential_lr():
    opt = make_opt(lr=2.0)
    assert run(sched.ExponentialLR(opt, gamma=0.5), opt, 4) == [2.0, 1.0, 0.5, 0.25]


def test_cosine_annealing_goes_down_and_back_up():
    opt = make_opt()
    got = run(sched.CosineAnnealingLR(opt, T_max=4, eta_min=0.1), opt, 9)
    # eta_min + (1 - eta_min) (1 + cos(pi t / 4)) / 2
    expected = [1.0, 0.8681980515339464, 0.55, 0.23180194846605362, 0.1,
                0.23180194846605362, 0.55, 0.8681980515339464, 1.0]
    assert got == pytest.approx(expected, rel=1e-12)


def test_lambda_and_multiplicative():
    opt = make_opt()
    got = run(sched.LambdaLR(opt, lambda t: 1 / (t + 1)), opt, 4)
    assert got == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4], rel=1e-15)
    opt = make_opt()
    got = run(sched.MultiplicativeLR(opt, lambda t: 0.9), opt, 4)
    assert got == pytest.approx([1, 0.9, 0.81, 0.729], rel=1e-12)


def test_linear_and_constant():
    opt = make_opt()
    assert run(sched.LinearLR(opt, start_factor=0.25, total_iters=3), opt, 5) == pytest.approx(
        [0.25, 0.5, 0.75, 1.0, 1.0], rel=1e-12)
    opt = make_opt()
    got = run(sched.LinearLR(opt, start_factor=1.0, end_factor=0.5, total_iters=2), opt, 4)
    assert got == pytest.approx([1.0, 0.75, 0.5, 0.5], rel=1e-12)
    opt = make_opt()
    got = run(sched.ConstantLR(opt, factor=0.5, total_iters=2), opt, 4)
    assert got == pytest.approx([0.5, 0.5, 1.0, 1.0], rel=1e-12)


def test_inverse_time_decay():
    opt = make_opt()
    got = run(sched.InverseTimeDecay(opt, decay_rate=0.5), opt, 4)
    assert got == pytest.approx([1, 1 / 1.5, 1 / 2, 1 / 2.5], rel=1e-14)
    opt = make_opt()
    got = run(sched.InverseTimeDecay(opt, decay_rate=1.0, decay_steps=2, staircase=True), opt, 5)
    assert got == pytest.approx([1, 1, 1 / 2, 1 / 2, 1 / 3], rel=1e-14)
    opt = make_opt()
    got = run(sched.InverseTimeDecay(opt, decay_rate=1.0, decay_steps=2), opt, 3)
    assert got == pytest.approx([1, 1 / 1.5, 1 / 2], rel=1e-14)


def test_one_cycle_cosine_with_momentum():
    opt = make_opt(momentum=0.9)
    s = sched.OneCycleLR(opt, max_lr=1.0, total_steps=10, div_factor=10.0,
                         final_div_factor=100.0)
    lrs, momenta = [], []
    for _ in range(10):
        lrs.append(s.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
        opt.step()
        s.step()
    # rise over steps 0..2 (0.3 * 10 - 1) from 0.1 to 1, then cosine down to 0.001 at step 9
    assert lrs[:3] == pytest.approx([0.1, 0.55, 1.0], rel=1e-12)
    assert momenta[:3] == pytest.approx([0.95, 0.9, 0.85], rel=1e-12)
    for t in range(3, 10):
        f = (t - 2) / 7
        assert lrs[t] == pytest.approx(0.001 + 0.999 / 2 * (math.cos(math.pi * f) + 1))
        assert momenta[t] == pytest.approx(0.95 + (0.85 - 0.95) / 2 * (math.cos(math.pi * f) + 1))
    assert lrs[9] == pytest.approx(0.001) and momenta[9] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 11 times, but total_steps "
                                         "is 10"):
        s.step()


def test_one_cycle_three_phase_linear_cycles_adam_beta1():
    opt = make_opt(cls=optim.Adam, betas=(0.9, 0.99))
    s = sched.OneCycleLR(opt, max_lr=1.0, total_steps=10, div_factor=10.0,
                         final_div_factor=100.0, anneal_strategy="linear", three_phase=True)
    lrs, betas = [], []
    for _ in range(10):
        lrs.append(s.get_last_lr()[0])
        betas.append(opt.param_groups[0]["betas"])
        opt.step()
        s.step()
    assert lrs == pytest.approx([0.1, 0.55, 1.0, 0.55, 0.1, 0.0802, 0.0604, 0.0406, 0.0208,
                                 0.001], rel=1e-12)
    assert [b[0] for b in betas] == pytest.approx([0.95, 0.9, 0.85, 0.9, 0.95] + [0.95] * 5)
    assert all(b[1] == 0.99 for b in betas)


def test_reduce_on_plateau_with_cooldown_and_min_lr():
    opt = make_opt()
    s = sched.ReduceLROnPlateau(opt, factor=0.5, patience=2, threshold=0.1, cooldown=1,
                                min_lr=0.2)
    lrs = []
    for metric in [10, 9.5, 9.2, 9.1, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]:
        opt.step()
        s.step(metric)
        lrs.append(s.get_last_lr()[0])
    # 9.5, 9.2, 9.1 are not below 10 * (1 - 0.1): the third bad step halves the rate; 8 is
    # better (absorbed by the cooldown), then three bad steps halve again; after the next
    # cooldown the rate is clamped at min_lr 0.2, where it stays
    assert lrs == [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2]


def test_reduce_on_plateau_max_mode_absolute_threshold():
    opt = make_opt()
    s = sched.ReduceLROnPlateau(opt, mode="max", threshold=0.5, threshold_mode="abs",
                                patience=0)
    lrs = []
    for metric in [1.0, 1.4, 2.0, 2.3]:
        opt.step()
        s.step(metric)
        lrs.append(s.get_last_lr()[0])
    assert lrs == pytest.approx([1.0, 0.1, 0.1, 0.01], rel=1e-12)


def test_sequential_warmup_then_cosine():
    opt = make_opt()
    warmup = sched.LinearLR(opt, start_factor=0.25, total_iters=3)
    cosine = sched.CosineAnnealingLR(opt, T_max=4)
    s = sched.SequentialLR(opt, [warmup, cosine], milestones=[3])
    got = run(s, opt, 8)
    assert got == pytest.approx([0.25, 0.5, 0.75, 1.0, 0.8535533905932737, 0.5,
                                 0.14644660940672624, 0.0], rel=1e-12, abs=1e-15)


def test_chained_constant_and_exponential():
    opt = make_opt()
    s = sched.ChainedScheduler([sched.ConstantLR(opt, factor=0.5, total_iters=2),
                                sched.ExponentialLR(opt, gamma=0.9)])
    assert run(s, opt, 4) == pytest.approx([0.5, 0.45, 0.81, 0.729], rel=1e-12)


def test_each_group_follows_its_own_base_rate():
    opt = optim.SGD([{"params": [nn.Parameter(lg.zeros(1))]},
                     {"params": [nn.Parameter(lg.zeros(1))], "lr": 0.1}], lr=1.0)
    s = sched.StepLR(opt, step_size=1, gamma=0.5)
    opt.step()
    s.step()
    assert s.get_last_lr() == [0.5, 0.05]
    assert [g["initial_lr"] for g in opt.param_groups] == [1.0, 0.1]


class Halving:
    """A callable object: its attributes are saved by LambdaLR.state_dict."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, t):
        return self.base ** t


@pytest.mark.parametrize("build", [
    lambda o: sched.StepLR(o, step_size=2, gamma=0.5),
    lambda o: sched.MultiStepLR(o, milestones=[3, 6, 6], gamma=0.5),
    lambda o: sched.ExponentialLR(o, gamma=0.8),
    lambda o: sched.LinearLR(o, start_factor=0.25, total_iters=6),
    lambda o: sched.MultiplicativeLR(o, Halving()),
    lambda o: sched.ConstantLR(o, factor=0.5, total_iters=5),
    lambda o: sched.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
    lambda o: sched.OneCycleLR(o, max_lr=2.0, total_steps=12),
    lambda o: sched.InverseTimeDecay(o, decay_rate=0.3),
    lambda o: sched.LambdaLR(o, Halving()),
    lambda o: sched.SequentialLR(o, [sched.LinearLR(o, start_factor=0.5, total_iters=3),
                                     sched.ExponentialLR(o, gamma=0.8)], milestones=[3]),
    lambda o: sched.ChainedScheduler([sched.LinearLR(o, start_factor=0.5, total_iters=3),
                                      sched.ExponentialLR(o, gamma=0.8)]),
], ids=["step", "multistep", "exponential", "linear_warmup", "multiplicative", "constant",
        "cosine", "onecycle", "inverse_time", "lambda", "sequential", "chained"])
def test_scheduler_state_dict_resume(build):
    opt = make_opt(momentum=0.9)
    reference = run(build(opt), opt, 10)
    opt = make_opt(momentum=0.9)
    first = build(opt)
    head = run(first, opt, 4)
    saved_opt, saved = opt.state_dict(), first.state_dict()
    assert "optimizer" not in saved
    new_opt = make_opt(momentum=0.9)
    resumed = build(new_opt)
    new_opt.load_state_dict(saved_opt)
    resumed.load_state_dict(saved)
    assert head + run(resumed, new_opt, 6) == reference


def test_reduce_on_plateau_state_dict_resume():
    metrics = [5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3]

    def build(opt):
        return sched.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1)

    def run_plateau(scheduler, opt, values):
        out = []
        for metric in values:
            opt.step()
            scheduler.step(metric)
            out.append(scheduler.get_last_lr()[0])
        return out

    opt = make_opt(momentum=0.9)
    reference = run_plateau(build(opt), opt, metrics)
    # two steps without improvement exceed patience 1: halve, then one step of cooldown
    assert reference == [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125]
    opt = make_opt(momentum=0.9)
    first = build(opt)
    head = run_plateau(first, opt, metrics[:7])  # stop in a bad streak (one bad step so far)
    new_opt = make_opt(momentum=0.9)
    resumed = build(new_opt)
    new_opt.load_state_dict(opt.state_dict())
    resumed.load_state_dict(first.state_dict())
    assert head + run_plateau(resumed, new_opt, metrics[7:]) == reference


def test_lambda_state_dict_leaves_out_functions_but_keeps_object_attributes():
    opt = make_opt()
    halving = Halving()
    s = sched.LambdaLR(opt, [halving])
    halving.base = 0.25
    state = s.state_dict()
    assert state["lr_lambdas"] == [{"base": 0.25}]
    assert sched.LambdaLR(make_opt(), lambda t: 1.0).state_dict()["lr_lambdas"] == [None]
    other = Halving()
    sched.LambdaLR(make_opt(), other).load_state_dict(state)
    assert other.base == 0.25


def test_warnings():
    opt = make_opt()
    s = sched.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        s.step()
    opt = make_opt()
    s = sched.StepLR(opt, step_size=2, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="epoch argument"):
        s.step(5)  # deprecated: jumps with the closed form
    assert s.get_last_lr() == [0.25]


def test_errors():
    opt = make_opt()
    with pytest.raises(TypeError, match="StepLR: expected an optimizer, got list"):
        sched.StepLR([], step_size=1)
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'"):
        sched.StepLR(opt, step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        sched.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="LambdaLR: expected 1 values for lr_lambda"):
        sched.LambdaLR(opt, [lambda t: 1, lambda t: 1])
    with pytest.raises(TypeError, match="lr_lambda must be callable"):
        sched.MultiplicativeLR(opt, 0.5)
    with pytest.raises(ValueError, match="T_max must be positive"):
        sched.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="start_factor must be in"):
        sched.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="factor must be < 1"):
        sched.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        sched.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="give total_steps, or epochs and steps_per_epoch"):
        sched.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="cycle_momentum needs an optimizer with momentum or "
                                         "betas, Adagrad has neither"):
        sched.OneCycleLR(make_opt(cls=optim.Adagrad), max_lr=1.0, total_steps=5)
    with pytest.raises(ValueError, match="one milestone fewer than schedulers"):
        sched.SequentialLR(opt, [sched.StepLR(opt, 1), sched.StepLR(opt, 1)], milestones=[])
    with pytest.raises(ValueError, match="cannot be composed"):
        sched.ChainedScheduler([sched.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="same optimizer"):
        sched.ChainedScheduler([sched.StepLR(opt, 1), sched.StepLR(make_opt(), 1)])

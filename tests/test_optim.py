"""Optimisers against their published update rules.

The expected values are computed here from the rules as PyTorch's documentation writes them
(a few lines of NumPy per algorithm, written without looking at locograd's implementation), or
by hand for the first steps of a scalar problem. Everything is float64 unless the test is about
dtypes.
"""
import math
import tracemalloc

import numpy as np
import pytest

import locograd as lg
from locograd import nn, optim

# ---- reference rules: plain NumPy transcriptions of the published pseudo-code ----------------


class RefSGD:
    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False, l1_decay=0.0):
        self.h = dict(lr=lr, mu=momentum, tau=dampening, wd=weight_decay, nesterov=nesterov,
                      maximize=maximize, l1=l1_decay)
        self.buf, self.t = {}, {}

    def step(self, i, x, g):
        h = self.h
        self.t[i] = t = self.t.get(i, 0) + 1
        g = -g if h["maximize"] else g
        g = g + h["wd"] * x + h["l1"] * np.sign(x)
        if h["mu"] != 0:
            self.buf[i] = g if t == 1 else h["mu"] * self.buf[i] + (1 - h["tau"]) * g
            g = g + h["mu"] * self.buf[i] if h["nesterov"] else self.buf[i]
        return x - h["lr"] * g


class RefAdagrad:
    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, maximize=False, l1_decay=0.0):
        self.h = dict(lr=lr, eta=lr_decay, wd=weight_decay, init=initial_accumulator_value,
                      eps=eps, maximize=maximize, l1=l1_decay)
        self.sum, self.t = {}, {}

    def step(self, i, x, g):
        h = self.h
        self.t[i] = t = self.t.get(i, 0) + 1
        g = -g if h["maximize"] else g
        lr_t = h["lr"] / (1 + (t - 1) * h["eta"])
        g = g + h["wd"] * x + h["l1"] * np.sign(x)
        self.sum[i] = self.sum.get(i, np.full_like(x, h["init"])) + g * g
        return x - lr_t * g / (np.sqrt(self.sum[i]) + h["eps"])


class RefRMSprop:
    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, maximize=False, l1_decay=0.0):
        self.h = dict(lr=lr, alpha=alpha, eps=eps, wd=weight_decay, mu=momentum,
                      centered=centered, maximize=maximize, l1=l1_decay)
        self.v, self.g_ave, self.b = {}, {}, {}

    def step(self, i, x, g):
        h = self.h
        g = -g if h["maximize"] else g
        g = g + h["wd"] * x + h["l1"] * np.sign(x)
        self.v[i] = h["alpha"] * self.v.get(i, 0.0) + (1 - h["alpha"]) * g * g
        v_tilde = self.v[i]
        if h["centered"]:
            self.g_ave[i] = h["alpha"] * self.g_ave.get(i, 0.0) + (1 - h["alpha"]) * g
            v_tilde = v_tilde - self.g_ave[i] ** 2
        if h["mu"] > 0:
            self.b[i] = h["mu"] * self.b.get(i, 0.0) + g / (np.sqrt(v_tilde) + h["eps"])
            return x - h["lr"] * self.b[i]
        return x - h["lr"] * g / (np.sqrt(v_tilde) + h["eps"])


class RefAdam:
    """Adam (coupled L2) and, with ``decoupled=True``, AdamW."""

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False, decoupled=False, l1_decay=0.0):
        self.h = dict(lr=lr, b1=betas[0], b2=betas[1], eps=eps, wd=weight_decay,
                      amsgrad=amsgrad, maximize=maximize, decoupled=decoupled, l1=l1_decay)
        self.m, self.v, self.v_max, self.t = {}, {}, {}, {}

    def step(self, i, x, g):
        h = self.h
        self.t[i] = t = self.t.get(i, 0) + 1
        g = -g if h["maximize"] else g
        if h["decoupled"]:
            x = x - h["lr"] * h["wd"] * x
            x = x - h["lr"] * h["l1"] * np.sign(x)
        else:
            g = g + h["wd"] * x + h["l1"] * np.sign(x)
        self.m[i] = h["b1"] * self.m.get(i, 0.0) + (1 - h["b1"]) * g
        self.v[i] = h["b2"] * self.v.get(i, 0.0) + (1 - h["b2"]) * g * g
        m_hat = self.m[i] / (1 - h["b1"] ** t)
        if h["amsgrad"]:
            self.v_max[i] = np.maximum(self.v_max.get(i, 0.0), self.v[i])
            v_hat = self.v_max[i] / (1 - h["b2"] ** t)
        else:
            v_hat = self.v[i] / (1 - h["b2"] ** t)
        return x - h["lr"] * m_hat / (np.sqrt(v_hat) + h["eps"])


def RefAdamW(weight_decay=1e-2, **kw):  # noqa: N802 (mirrors the class name)
    return RefAdam(weight_decay=weight_decay, decoupled=True, **kw)


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, maximize=True, momentum=0.5)),
    ("SGD", dict(lr=0.1, l1_decay=0.05, momentum=0.5)),
    ("Adagrad", dict(lr=0.3)),
    ("Adagrad", dict(lr=0.3, lr_decay=0.2, weight_decay=0.1, initial_accumulator_value=0.4)),
    ("Adagrad", dict(lr=0.3, l1_decay=0.1, maximize=True, eps=1e-3)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.7, weight_decay=0.1, eps=1e-4)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True, l1_decay=0.02)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.2, eps=1e-3)),
    ("Adam", dict(lr=0.05, maximize=True, amsgrad=True, l1_decay=0.1)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, l1_decay=0.05, betas=(0.5, 0.6))),
]
REFERENCES = {"SGD": RefSGD, "Adagrad": RefAdagrad, "RMSprop": RefRMSprop, "Adam": RefAdam,
              "AdamW": RefAdamW}


def case_id(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


# ---- the first steps on a scalar quadratic, by hand --------------------------------------------


def run_scalar(opt_class, steps, x0=1.0, **kw):
    """Minimise f(x) = x^2 (gradient 2x) from x0; return the iterates."""
    x = nn.Parameter(lg.tensor([x0], dtype=lg.float64))
    opt = opt_class([x], **kw)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (x * x).sum().backward()
        opt.step()
        out.append(x.item())
    return out


def test_sgd_by_hand():
    # plain: x <- x - 0.1 * 2x = 0.8 x
    assert run_scalar(optim.SGD, 2, lr=0.1) == pytest.approx([0.8, 0.64], rel=1e-15)
    # momentum 0.9, dampening 0.5, weight decay 0.1: g = 2x + 0.1x
    # t1: g = 2.1, b = 2.1 (no dampening at the first step), x = 1 - 0.21 = 0.79
    # t2: g = 2.1 * 0.79 = 1.659, b = 0.9 * 2.1 + 0.5 * 1.659 = 2.7195, x = 0.79 - 0.27195
    got = run_scalar(optim.SGD, 2, lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)
    assert got == pytest.approx([0.79, 0.51805], rel=1e-14)
    # nesterov: t1: b = 2.1, g = 2.1 + 0.9 * 2.1 = 3.99, x = 0.601
    # t2: g = 2.1 * 0.601 = 1.2621, b = 1.89 + 1.2621 = 3.1521, g = 1.2621 + 2.83689 = 4.09899
    got = run_scalar(optim.SGD, 2, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)
    assert got == pytest.approx([0.601, 0.191101], rel=1e-14)
    # maximize climbs: x <- x + 0.1 * 2x
    assert run_scalar(optim.SGD, 1, lr=0.1, maximize=True) == pytest.approx([1.2], rel=1e-15)
    # L1: g = 2x + 0.5 sign(x): 1 - 0.1 * 2.5
    assert run_scalar(optim.SGD, 1, lr=0.1, l1_decay=0.5) == pytest.approx([0.75], rel=1e-15)


def test_adagrad_by_hand():
    # t1: sum = 36, x = 3 - 0.5 * 6 / 6 = 2.5; t2: g = 5, sum = 61, x = 2.5 - 0.5 * 5 / sqrt(61)
    got = run_scalar(optim.Adagrad, 2, x0=3.0, lr=0.5, eps=0.0)
    assert got == pytest.approx([2.5, 2.5 - 2.5 / math.sqrt(61)], rel=1e-15)
    # lr_decay 1: the second step uses lr / (1 + 1) ; initial accumulator 0.5 adds to sum
    got = run_scalar(optim.Adagrad, 2, x0=3.0, lr=0.5, eps=0.0, lr_decay=1.0,
                     initial_accumulator_value=0.5)
    x1 = 3 - 0.5 * 6 / math.sqrt(36.5)
    x2 = x1 - 0.25 * 2 * x1 / math.sqrt(36.5 + 4 * x1 * x1)
    assert got == pytest.approx([x1, x2], rel=1e-15)


def test_rmsprop_by_hand():
    # alpha 0.75: v = 0.25 * 4 = 1, x = 1 - 0.01 * 2 / 1
    assert run_scalar(optim.RMSprop, 1, lr=0.01, alpha=0.75, eps=0.0) == pytest.approx([0.98])
    # centered: mean gradient 0.25 * 2 = 0.5, v - 0.25 = 0.75
    got = run_scalar(optim.RMSprop, 1, lr=0.01, alpha=0.75, eps=0.0, centered=True)
    assert got == pytest.approx([1 - 0.02 / math.sqrt(0.75)], rel=1e-15)
    # momentum 0.5: b1 = 2 / 1 = 2, x1 = 0.98; g2 = 1.96, v2 = 0.75 + 0.25 * 1.96^2,
    # b2 = 0.5 * 2 + 1.96 / sqrt(v2), x2 = 0.98 - 0.01 * b2
    got = run_scalar(optim.RMSprop, 2, lr=0.01, alpha=0.75, eps=0.0, momentum=0.5)
    v2 = 0.75 + 0.25 * 1.96 ** 2
    assert got == pytest.approx([0.98, 0.98 - 0.01 * (1 + 1.96 / math.sqrt(v2))], rel=1e-14)


def test_adam_by_hand():
    # the first step: m_hat = g and v_hat = g^2, so the step is lr * sign(g) (eps = 0)
    assert run_scalar(optim.Adam, 1, lr=0.1, eps=0.0) == pytest.approx([0.9], rel=1e-15)
    # second step: g = 1.8, m = 0.9 * 0.2 + 0.1 * 1.8 = 0.36, v = 0.999 * 0.004 + 0.001 * 3.24
    got = run_scalar(optim.Adam, 2, lr=0.1, eps=0.0)
    m_hat, v_hat = 0.36 / (1 - 0.9 ** 2), 0.007236 / (1 - 0.999 ** 2)
    assert got[1] == pytest.approx(0.9 - 0.1 * m_hat / math.sqrt(v_hat), rel=1e-14)
    # coupled L2: g = 2 + 1 = 3, the first step still has length lr
    assert run_scalar(optim.Adam, 1, lr=0.1, eps=0.0, weight_decay=1.0)[0] == pytest.approx(0.9)
    # AdamW: shrink by 1 - 0.1 * 1.0 first, then the step of length lr
    got = run_scalar(optim.AdamW, 1, lr=0.1, eps=0.0, weight_decay=1.0)
    assert got == pytest.approx([0.8], rel=1e-15)


def test_amsgrad_uses_the_running_maximum():
    # gradients 10 then 0.1 (set by hand): v falls at step 2 but v_max does not
    x = nn.Parameter(lg.tensor([0.0], dtype=lg.float64))
    opt = optim.Adam([x], lr=1.0, betas=(0.0, 0.5), eps=0.0, amsgrad=True)
    for g in (10.0, 0.1):
        x.grad = lg.tensor([g], dtype=lg.float64)
        opt.step()
    # beta1 = 0: m_hat = g. v = (50, 25.005), v_max = 50 at step 2, bias 1 - 0.25
    step2 = 0.1 / math.sqrt(50 / 0.75)
    assert x.item() == pytest.approx(-1.0 - step2, rel=1e-14)
    assert opt.state[x]["max_exp_avg_sq"].item() == 50.0
    assert opt.state[x]["exp_avg_sq"].item() == pytest.approx(25.005, rel=1e-15)


# ---- longer runs: a fixed quadratic with several parameters, and a small MLP ------------------

RNG = np.random.default_rng(7)
A_MATRIX = RNG.standard_normal((4, 4))
A_MATRIX = A_MATRIX @ A_MATRIX.T / 4 + np.eye(4)
B_VECTOR = RNG.standard_normal(4)


def quadratic_grads(xs):
    """f(X, y) = 1/2 sum(X A . X) - b.y + 1/2 y A y: gradients X A and A y - b."""
    return [xs[0] @ A_MATRIX, A_MATRIX @ xs[1] - B_VECTOR]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_quadratic_trajectory_matches_reference(case):
    name, kw = case
    starts = [RNG.standard_normal((3, 4)), RNG.standard_normal(4)]
    params = [nn.Parameter(lg.tensor(x.copy())) for x in starts]
    opt = getattr(optim, name)(params, **kw)
    ref = REFERENCES[name](**kw)
    xs = [x.copy() for x in starts]
    for _ in range(8):
        grads = quadratic_grads([p.data for p in params])
        for p, g in zip(params, grads):
            p.grad = lg.tensor(g)
        opt.step()
        xs = [ref.step(i, x, g) for i, (x, g) in enumerate(zip(xs, quadratic_grads(xs)))]
        for p, x in zip(params, xs):
            np.testing.assert_allclose(p.data, x, rtol=1e-12, atol=1e-14)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4, dtype=lg.float64)
        self.fc2 = nn.Linear(4, 2, dtype=lg.float64)

    def forward(self, x):
        return self.fc2(lg.tanh(self.fc1(x)))


MLP_X = RNG.standard_normal((5, 3))
MLP_T = RNG.standard_normal((5, 2))


def mlp_loss_and_grads(w1, b1, w2, b2):
    """L = 1/(2B) sum (y - t)^2 for y = tanh(x W1^T + b1) W2^T + b2, back-propagated by hand."""
    h = np.tanh(MLP_X @ w1.T + b1)
    r = (h @ w2.T + b2 - MLP_T) / len(MLP_X)
    dh = (r @ w2) * (1 - h * h)
    return [dh.T @ MLP_X, dh.sum(0), r.T @ h, r.sum(0)]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_mlp_trajectory_matches_reference(case):
    name, kw = case
    lg.manual_seed(3)
    model = MLP()
    params = [model.fc1.weight, model.fc1.bias, model.fc2.weight, model.fc2.bias]
    xs = [p.data.copy() for p in params]
    opt = getattr(optim, name)(model.parameters(), **kw)
    ref = REFERENCES[name](**kw)
    x_in, target = lg.tensor(MLP_X), lg.tensor(MLP_T)
    for _ in range(4):
        opt.zero_grad()
        loss = ((model(x_in) - target) ** 2).sum() / (2 * len(MLP_X))
        loss.backward()
        opt.step()
        xs = [ref.step(i, x, g) for i, (x, g) in enumerate(zip(xs, mlp_loss_and_grads(*xs)))]
        for p, x in zip(params, xs):
            np.testing.assert_allclose(p.data, x, rtol=1e-11, atol=1e-13)


def test_parameter_groups_use_their_own_options():
    a = nn.Parameter(lg.tensor([1.0], dtype=lg.float64))
    b = nn.Parameter(lg.tensor([1.0], dtype=lg.float64))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    for _ in range(2):
        a.grad = lg.tensor([1.0], dtype=lg.float64)
        b.grad = lg.tensor([1.0], dtype=lg.float64)
        opt.step()
    assert a.item() == pytest.approx(0.8)           # 1 - 0.1 - 0.1
    assert b.item() == pytest.approx(1 - 0.5 - 0.5 * 1.9)  # buffer 1, then 1.9
    assert "momentum_buffer" not in opt.state[a] and "momentum_buffer" in opt.state[b]


def test_parameters_without_gradient_are_skipped():
    a = nn.Parameter(lg.ones(2))
    b = nn.Parameter(lg.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = lg.ones(2)
    version = b._version[0]
    opt.step()
    assert b.tolist() == [1.0, 1.0] and b._version[0] == version
    assert b not in opt.state and opt.state[a]["step"] == 1
    assert a._version[0] > 0


def test_hyperparameter_changes_take_effect_at_the_next_step():
    x = nn.Parameter(lg.tensor([1.0], dtype=lg.float64))
    opt = optim.SGD([x], lr=0.1)
    x.grad = lg.tensor([1.0], dtype=lg.float64)
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    assert x.item() == pytest.approx(1 - 0.1 - 0.5)


# ---- dtypes and memory ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_float32_stays_float32_and_numpy_scalars_do_not_upcast(case):
    name, kw = case

    def run(hyper):
        p = nn.Parameter(lg.tensor(np.linspace(-1, 1, 6, dtype=np.float32)))
        opt = getattr(optim, name)([p], **hyper)
        for k in range(3):
            p.grad = lg.tensor(np.cos(p.data * (k + 1)).astype(np.float32))
            opt.step()
        return p, opt

    p, opt = run(kw)
    assert p.dtype == np.float32
    for key, value in opt.state[p].items():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32, f"state {key} is {value.dtype}"
    # NumPy float64 scalars as hyper-parameters (e.g. from np.cos in a schedule) must give the
    # same float32 arithmetic, bit for bit
    numpy_kw = {k: (tuple(np.float64(b) for b in v) if isinstance(v, tuple) else
                    np.float64(v) if isinstance(v, float) else v) for k, v in kw.items()}
    q, _ = run(numpy_kw)
    assert q.dtype == np.float32 and np.array_equal(p.data, q.data)
    # and float32 agrees with the float64 reference to float32 precision
    ref = REFERENCES[name](**kw)
    x = np.linspace(-1, 1, 6)
    for k in range(3):
        x = ref.step(0, x, np.cos(x * (k + 1)))
    np.testing.assert_allclose(p.data, x, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_step_allocates_no_arrays(case):
    name, kw = case
    p = nn.Parameter(lg.randn(100_000))
    p.grad = lg.randn(100_000)
    opt = getattr(optim, name)([p], **kw)
    opt.step()
    opt.step()  # state buffers and scratch arrays now exist
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < p.data.nbytes // 20, f"{name} step allocated {peak} bytes"

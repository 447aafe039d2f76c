"""L-BFGS against ``torch.optim.LBFGS``: same closure, same steps, same iterates (float64)."""
import numpy as np
import pytest

import locograd as lg
from locograd import nn, optim
from locograd.optim.lbfgs import cubic_minimum

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)
X = RNG.standard_normal((20, 3))
Y = np.tanh(X @ np.array([1.5, -2.0, 0.5])) + 0.1 * RNG.standard_normal(20)
STARTS = (RNG.standard_normal(3) * 0.3, np.array([0.1]))


def make_closure(module, opt, params):
    """A small non-convex fit, ``mean((tanh(X w + b) - Y)^2) + (w_0 - 1)^4``, on either side."""
    x, y = module.tensor(X), module.tensor(Y)

    def closure():
        opt.zero_grad()
        w, b = params
        loss = ((module.tanh(x @ w + b) - y) ** 2).mean() + (w[0] - 1.0) ** 4
        loss.backward()
        return loss
    return closure


def build_pair(kw):
    ours = [nn.Parameter(lg.tensor(s.copy())) for s in STARTS]
    theirs = [torch.tensor(s.copy(), requires_grad=True) for s in STARTS]
    opt_ours, opt_theirs = optim.LBFGS(ours, **kw), torch.optim.LBFGS(theirs, **kw)
    return (opt_ours, make_closure(lg, opt_ours, ours), ours), \
        (opt_theirs, make_closure(torch, opt_theirs, theirs), theirs)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.5, max_iter=4, history_size=2),
    dict(max_iter=7, max_eval=9, history_size=3, line_search_fn="strong_wolfe"),
    dict(lr=0.8, max_iter=50, tolerance_change=1e-5, tolerance_grad=1e-4),
], ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
def test_lbfgs_matches_torch(kw):
    (opt, closure, params), (ref, ref_closure, ref_params) = build_pair(kw)
    for step in range(4):
        loss, ref_loss = opt.step(closure), ref.step(ref_closure)
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-9), f"step {step}"
        for p, q in zip(params, ref_params):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-7, atol=1e-10,
                                       err_msg=f"step {step}")
        state, ref_state = opt.state[params[0]], ref.state[ref_params[0]]
        for key in ("func_evals", "n_iter", "t"):
            assert state[key] == pytest.approx(float(ref_state[key]), rel=1e-7), key
        np.testing.assert_allclose(state["d"], ref_state["d"].numpy(), rtol=1e-6, atol=1e-10)
        assert len(state["old_dirs"]) == len(ref_state["old_dirs"])
    start = [nn.Parameter(lg.tensor(s.copy())) for s in STARTS]
    start_loss = make_closure(lg, optim.SGD(start), start)().item()
    assert closure().item() < 0.5 * start_loss  # and the fit got better


def test_lbfgs_minimises_a_quadratic_exactly_in_few_iterations():
    a = RNG.standard_normal((5, 5))
    a = a @ a.T + 5 * np.eye(5)
    target = RNG.standard_normal(5)
    w = nn.Parameter(lg.zeros(5, dtype=lg.float64))
    opt = optim.LBFGS([w], line_search_fn="strong_wolfe", max_iter=30, tolerance_grad=1e-12,
                      tolerance_change=1e-15)
    curvature = lg.tensor(a)

    def closure():
        opt.zero_grad()
        diff = w - lg.tensor(target)
        loss = 0.5 * (diff @ (curvature @ diff))
        loss.backward()
        return loss
    opt.step(closure)
    np.testing.assert_allclose(w.data, target, atol=1e-6)
    assert opt.state[w]["n_iter"] <= 12


def test_lbfgs_state_dict_resume():
    kw = dict(max_iter=3, history_size=2)
    (reference, reference_closure, reference_params), _ = build_pair(kw)
    (first, first_closure, first_params), _ = build_pair(kw)
    (resumed, resumed_closure, resumed_params), _ = build_pair(kw)
    reference.step(reference_closure)
    reference.step(reference_closure)
    first.step(first_closure)
    for p, q in zip(resumed_params, first_params):
        p.data[...] = q.data
    resumed.load_state_dict(first.state_dict())
    resumed.step(resumed_closure)
    for p, q in zip(resumed_params, reference_params):
        np.testing.assert_array_equal(p.data, q.data)
    state, reference_state = resumed.state[resumed_params[0]], reference.state[reference_params[0]]
    assert state["n_iter"] == reference_state["n_iter"] > 3


def test_lbfgs_needs_a_closure():
    w = nn.Parameter(lg.zeros(2))
    with pytest.raises(ValueError, match="LBFGS.step: .* pass a closure"):
        optim.LBFGS([w]).step()
    with pytest.raises(ValueError, match="per-parameter options"):
        optim.LBFGS([w]).add_param_group({"params": [nn.Parameter(lg.zeros(1))]})


def test_lbfgs_stops_at_once_at_a_stationary_point():
    w = nn.Parameter(lg.ones(2, dtype=lg.float64))
    opt = optim.LBFGS([w])

    def closure():
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss
    assert opt.step(closure).item() == 0.0
    assert opt.state[w]["func_evals"] == 1 and opt.state[w]["n_iter"] == 0


def test_cubic_minimum():
    # f(x) = (x - 1)^2 sampled at 0 and 3 (a quadratic is a cubic): the minimiser is 1
    assert cubic_minimum(0.0, 1.0, -2.0, 3.0, 4.0, 4.0) == pytest.approx(1.0)
    assert cubic_minimum(3.0, 4.0, 4.0, 0.0, 1.0, -2.0) == pytest.approx(1.0)
    # clipped to the bounds
    assert cubic_minimum(0.0, 1.0, -2.0, 3.0, 4.0, 4.0, bounds=(2.0, 5.0)) == 2.0

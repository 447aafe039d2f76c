"""``optim.Shampoo``: steps computed by hand in NumPy, grafting norms, blocking, fallbacks,
state_dict round trips and the handling of failed roots."""
import numpy as np
import pytest

import locograd as lg
from locograd import nn, optim


def root_by_hand(statistic, epsilon, p=4):
    """``(S + epsilon * lambda_max I)^(-1/p)`` by plain float64 eigh."""
    values, vectors = np.linalg.eigh(statistic.astype(np.float64))
    values = np.maximum(values, 0.0) + epsilon * values.max()
    return (vectors * values ** (-1.0 / p)) @ vectors.T


def make_param(array):
    return nn.Parameter(lg.tensor(np.array(array, dtype=np.float64)))


def step_with(opt, params, grads):
    for p, g in zip(params, grads):
        p.grad = lg.tensor(np.array(g, dtype=p.data.dtype))
    opt.step()


def test_two_steps_by_hand():
    rng = np.random.default_rng(0)
    weight0, bias0 = rng.standard_normal((3, 2)), rng.standard_normal(3)
    weight, bias = make_param(weight0), make_param(bias0)
    lr, beta1, beta2, eps, wd, graft_eps = 0.1, 0.9, 0.5, 1e-3, 0.01, 1e-8
    opt = optim.Shampoo([weight, bias], lr=lr, betas=(beta1, beta2), epsilon=eps,
                        start_preconditioning_step=1, preconditioning_compute_steps=1,
                        grafting="adagrad", graft_epsilon=graft_eps, weight_decay=wd)
    grads = [(rng.standard_normal((3, 2)), rng.standard_normal(3)) for _ in range(2)]

    w, b = weight0.copy(), bias0.copy()
    left, right = np.zeros((3, 3)), np.zeros((2, 2))
    acc_w, acc_b = np.zeros((3, 2)), np.zeros(3)
    mom_w, mom_b = np.zeros((3, 2)), np.zeros(3)
    for gw, gb in grads:
        step_with(opt, [weight, bias], [gw, gb])
        # weight: Shampoo direction grafted onto AdaGrad's norm
        acc_w += gw * gw
        graft = gw / (np.sqrt(acc_w) + graft_eps)
        left = beta2 * left + (1 - beta2) * gw @ gw.T
        right = beta2 * right + (1 - beta2) * gw.T @ gw
        shampoo = root_by_hand(left, eps) @ gw @ root_by_hand(right, eps)
        shampoo *= np.linalg.norm(graft) / np.linalg.norm(shampoo)
        update = shampoo + wd * w
        mom_w = beta1 * mom_w + (1 - beta1) * update
        w = w - lr * (beta1 * mom_w + (1 - beta1) * update)
        # bias (1-D): the AdaGrad graft direction alone
        acc_b += gb * gb
        update = gb / (np.sqrt(acc_b) + graft_eps) + wd * b
        mom_b = beta1 * mom_b + (1 - beta1) * update
        b = b - lr * (beta1 * mom_b + (1 - beta1) * update)
        np.testing.assert_allclose(weight.data, w, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(bias.data, b, rtol=1e-12, atol=1e-14)
    state = opt.state[weight]
    np.testing.assert_allclose(state["left_statistics"][0], left, rtol=1e-12)
    np.testing.assert_allclose(state["right_roots"][0], root_by_hand(right, eps), rtol=1e-10)
    assert "left_statistics" not in opt.state[bias]


def graft_by_hand(kind, g, beta2, graft_eps):
    if kind == "sgd":
        return g
    if kind == "adagrad":
        return g / (np.sqrt(g * g) + graft_eps)
    if kind == "rmsprop_normalized":
        g = g / np.linalg.norm(g)
    return g / (np.sqrt((1 - beta2) * g * g) + graft_eps)


@pytest.mark.parametrize("grafting", ["sgd", "adagrad", "rmsprop", "rmsprop_normalized"])
def test_grafting_takes_the_norm_of_the_graft_and_the_direction_of_shampoo(grafting):
    rng = np.random.default_rng(1)
    weight = make_param(rng.standard_normal((4, 3)))
    before = weight.data.copy()
    g = rng.standard_normal((4, 3)) * np.array([100.0, 1.0, 0.01])  # badly scaled columns
    lr, eps = 0.5, 1e-4
    opt = optim.Shampoo([weight], lr=lr, betas=(0.0, 0.9), epsilon=eps, grafting=grafting,
                        start_preconditioning_step=1)
    step_with(opt, [weight], [g])
    update = (before - weight.data) / lr
    graft = graft_by_hand(grafting, g, 0.9, 1e-8)
    assert np.linalg.norm(update) == pytest.approx(np.linalg.norm(graft), rel=1e-10)
    shampoo = root_by_hand(g @ g.T * 0.1, eps) @ g @ root_by_hand(g.T @ g * 0.1, eps)
    cosine = np.vdot(update, shampoo) / (np.linalg.norm(update) * np.linalg.norm(shampoo))
    assert cosine == pytest.approx(1.0, abs=1e-12)
    cosine_graft = np.vdot(update, graft) / (np.linalg.norm(update) * np.linalg.norm(graft))
    assert cosine_graft < 0.99, "the update should not be the graft direction itself"


def test_no_grafting_uses_the_preconditioned_gradient_as_is():
    rng = np.random.default_rng(2)
    weight = make_param(rng.standard_normal((3, 4)))
    before = weight.data.copy()
    g = rng.standard_normal((3, 4))
    opt = optim.Shampoo([weight], lr=1.0, betas=(0.0, 1.0), epsilon=1e-2, grafting="none",
                        start_preconditioning_step=1)
    step_with(opt, [weight], [g])
    expected = root_by_hand(g @ g.T, 1e-2) @ g @ root_by_hand(g.T @ g, 1e-2)
    np.testing.assert_allclose(before - weight.data, expected, rtol=1e-10)


def test_blocks_have_their_own_statistics():
    rng = np.random.default_rng(3)
    weight = make_param(rng.standard_normal((5, 7)))
    before = weight.data.copy()
    g = rng.standard_normal((5, 7))
    eps = 1e-3
    opt = optim.Shampoo([weight], lr=1.0, betas=(0.0, 1.0), epsilon=eps, block_size=3,
                        grafting="none", start_preconditioning_step=1)
    step_with(opt, [weight], [g])
    state = opt.state[weight]
    rows, cols = [(0, 3), (3, 5)], [(0, 3), (3, 6), (6, 7)]
    assert [s.shape for s in state["left_statistics"]] == [(3, 3)] * 3 + [(2, 2)] * 3
    assert [s.shape for s in state["right_statistics"]] == [(3, 3), (3, 3), (1, 1)] * 2
    expected = np.empty_like(g)
    for r0, r1 in rows:
        for c0, c1 in cols:
            block = g[r0:r1, c0:c1]
            expected[r0:r1, c0:c1] = root_by_hand(block @ block.T, eps) @ block @ \
                root_by_hand(block.T @ block, eps)
    np.testing.assert_allclose(before - weight.data, expected, rtol=1e-10)


def test_vectors_and_oversized_parameters_take_the_graft_direction():
    rng = np.random.default_rng(4)
    shapes = {"bias": (6,), "row": (1, 6), "scalar": (), "wide": (3, 10)}
    params = {k: make_param(rng.standard_normal(s)) for k, s in shapes.items()}
    before = {k: p.data.copy() for k, p in params.items()}
    grads = {k: rng.standard_normal(s) for k, s in shapes.items()}
    opt = optim.Shampoo(list(params.values()), lr=0.1, betas=(0.0, 0.99), grafting="rmsprop",
                        start_preconditioning_step=1, max_preconditioner_dim=8)
    step_with(opt, list(params.values()), list(grads.values()))
    for key, p in params.items():
        assert "left_statistics" not in opt.state[p], key
        expected = 0.1 * graft_by_hand("rmsprop", grads[key], 0.99, 1e-8)
        np.testing.assert_allclose(before[key] - p.data, expected, rtol=1e-12, err_msg=key)


def test_higher_rank_parameters_are_reshaped_to_a_balanced_matrix():
    rng = np.random.default_rng(5)
    kernel = make_param(rng.standard_normal((4, 3, 2, 2)))  # a Conv2d weight: 4 x 12
    before = kernel.data.copy()
    g = rng.standard_normal((4, 3, 2, 2))
    opt = optim.Shampoo([kernel], lr=1.0, betas=(0.0, 1.0), epsilon=1e-3, grafting="none",
                        start_preconditioning_step=1)
    step_with(opt, [kernel], [g])
    state = opt.state[kernel]
    assert state["left_statistics"][0].shape == (4, 4)
    assert state["right_statistics"][0].shape == (12, 12)
    m = g.reshape(4, 12)
    expected = root_by_hand(m @ m.T, 1e-3) @ m @ root_by_hand(m.T @ m, 1e-3)
    np.testing.assert_allclose(before - kernel.data, expected.reshape(g.shape), rtol=1e-10)


def test_preconditioning_starts_late_and_roots_refresh_every_few_steps():
    rng = np.random.default_rng(6)
    weight = make_param(rng.standard_normal((3, 3)))
    opt = optim.Shampoo([weight], lr=0.1, betas=(0.0, 1.0), grafting="sgd",
                        start_preconditioning_step=3, preconditioning_compute_steps=2)
    roots = []
    for step in range(1, 7):
        before = weight.data.copy()
        g = rng.standard_normal((3, 3))
        step_with(opt, [weight], [g])
        state = opt.state[weight]
        if step < 3:  # graft (SGD) steps while the statistics accumulate
            np.testing.assert_allclose(before - weight.data, 0.1 * g, rtol=1e-12)
            assert "left_roots" not in state
        roots.append(state.get("left_roots", [None])[0])
        roots[-1] = None if roots[-1] is None else roots[-1].copy()
    assert np.array_equal(roots[2], roots[3]), "no refresh at step 4"
    assert not np.array_equal(roots[3], roots[4]), "refresh at step 5"
    assert np.array_equal(roots[4], roots[5])
    # the roots of step 5 are those of the statistics summed over steps 1..5
    np.testing.assert_allclose(opt.state[weight]["left_statistics"][0].trace(),
                               opt.state[weight]["right_statistics"][0].trace(), rtol=1e-12)


def test_sparse_statistics_and_heavy_ball_momentum_by_hand():
    # statistics at steps 1 and 3 only; p <- p - lr m with m <- beta1 m + S (no Nesterov, w = 1)
    rng = np.random.default_rng(11)
    weight0 = rng.standard_normal((3, 2))
    weight = make_param(weight0)
    lr, beta1, beta2, eps = 0.2, 0.8, 0.7, 1e-3
    opt = optim.Shampoo([weight], lr=lr, betas=(beta1, beta2), epsilon=eps, grafting="sgd",
                        start_preconditioning_step=1, preconditioning_compute_steps=1,
                        statistics_compute_steps=2, nesterov=False,
                        moving_average_for_momentum=False)
    w, left, right, momentum = weight0.copy(), np.zeros((3, 3)), np.zeros((2, 2)), np.zeros((3, 2))
    for step in range(1, 5):
        g = rng.standard_normal((3, 2))
        step_with(opt, [weight], [g])
        if step in (1, 3):
            left = beta2 * left + (1 - beta2) * g @ g.T
            right = beta2 * right + (1 - beta2) * g.T @ g
        shampoo = root_by_hand(left, eps) @ g @ root_by_hand(right, eps)
        momentum = beta1 * momentum + shampoo * np.linalg.norm(g) / np.linalg.norm(shampoo)
        w = w - lr * momentum
        np.testing.assert_allclose(weight.data, w, rtol=1e-12, atol=1e-14, err_msg=f"step {step}")
    np.testing.assert_allclose(opt.state[weight]["right_statistics"][0], right, rtol=1e-12)


def test_state_dict_round_trip_is_bit_for_bit(tmp_path):
    lg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
    twin = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
    twin.load_state_dict(model.state_dict())
    x, y = lg.randn(16, 6), lg.randn(16, 3)
    settings = dict(lr=0.05, start_preconditioning_step=2, preconditioning_compute_steps=3,
                    block_size=4)

    def train(net, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.mse_loss(net(x), y).backward()
            opt.step()

    opt = optim.Shampoo(model.parameters(), **settings)
    train(model, opt, 4)
    lg.save(opt.state_dict(), tmp_path / "shampoo.lg")
    train(model, opt, 5)  # N + M steps in one run

    twin_opt = optim.Shampoo(twin.parameters(), **settings)
    train(twin, twin_opt, 4)
    resumed = optim.Shampoo(twin.parameters(), **settings)
    resumed.load_state_dict(lg.load(tmp_path / "shampoo.lg"))
    train(twin, resumed, 5)  # N steps, save, load into a fresh optimizer, M more
    for a, b in zip(model.parameters(), twin.parameters()):
        assert np.array_equal(a.data, b.data)
    left = opt.state_dict()["state"][0]
    right = resumed.state_dict()["state"][0]
    assert sorted(left) == sorted(right)
    for key in ("left_statistics", "right_roots"):
        assert len(left[key]) == 4  # (5, 6) in blocks of 4: 2 x 2
        assert all(np.array_equal(u, v) and u.dtype == v.dtype == np.float32
                   for u, v in zip(left[key], right[key]))


def test_a_non_finite_statistic_keeps_the_previous_root_and_is_counted():
    rng = np.random.default_rng(7)
    weight = nn.Parameter(lg.tensor(rng.standard_normal((4, 3)).astype(np.float32)))
    opt = optim.Shampoo([weight], lr=0.01, start_preconditioning_step=1,
                        preconditioning_compute_steps=1)
    step_with(opt, [weight], [rng.standard_normal((4, 3))])
    state = opt.state[weight]
    previous = [r.copy() for r in state["left_roots"] + state["right_roots"]]
    assert opt.root_failures == 0 and state["root_failures"] == 0
    state["left_statistics"][0][1, 2] = np.nan
    step_with(opt, [weight], [rng.standard_normal((4, 3))])
    assert state["root_failures"] == 1 and opt.root_failures == 1
    assert np.array_equal(state["left_roots"][0], previous[0]), "the failed root is kept"
    assert not np.array_equal(state["right_roots"][0], previous[1]), "the other side refreshed"
    assert np.isfinite(weight.data).all()
    step_with(opt, [weight], [rng.standard_normal((4, 3))])  # training goes on
    assert opt.root_failures == 2 and np.isfinite(weight.data).all()


def test_a_newton_root_above_the_failure_threshold_is_counted():
    # Newton stops at max|X^p A - I| <= 1e-6; a threshold below that fails every root
    rng = np.random.default_rng(10)
    weight = make_param(np.ones((3, 2)))
    opt = optim.Shampoo([weight], lr=0.1, root_method="newton", inverse_failure_threshold=1e-14,
                        start_preconditioning_step=1, grafting="sgd", betas=(0.0, 1.0))
    step_with(opt, [weight], [rng.standard_normal((3, 2))])
    state = opt.state[weight]
    assert state["root_failures"] == 2
    assert np.array_equal(state["left_roots"][0], np.eye(3))
    assert np.array_equal(state["right_roots"][0], np.eye(2))
    assert np.isfinite(weight.data).all()


def test_newton_and_eigh_roots_give_the_same_steps():
    results = []
    for method in ("eigh", "newton"):
        weight = make_param(np.zeros((4, 3)))
        opt = optim.Shampoo([weight], lr=0.1, root_method=method, start_preconditioning_step=1,
                            preconditioning_compute_steps=1)
        local = np.random.default_rng(9)
        for _ in range(4):
            step_with(opt, [weight], [local.standard_normal((4, 3))])
        results.append(weight.data.copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-8)


def test_shampoo_trains_a_small_network():
    lg.manual_seed(1)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4))
    x = lg.randn(64, 8)
    y = x[:, :4] * 2.0 - x[:, 4:]
    opt = optim.Shampoo(model.parameters(), lr=0.02, start_preconditioning_step=5,
                        preconditioning_compute_steps=5)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.2 * losses[0], losses[::10]
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    assert all(r.dtype == np.float32 for r in opt.state[model[0].weight]["left_roots"])


@pytest.mark.parametrize("kwargs, message", [
    (dict(grafting="adam"), "grafting"),
    (dict(betas=(0.9, 1.0)), "beta2 < 1"),
    (dict(betas=(1.0, 0.9)), "beta1"),
    (dict(betas=0.9), "pair"),
    (dict(root_method="svd"), "root_method"),
    (dict(block_size=0), "block_size"),
    (dict(exponent_override=2.5), "exponent_override"),
    (dict(epsilon=-1.0), "epsilon"),
    (dict(lr=-0.1), "lr"),
])
def test_invalid_hyper_parameters_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.Shampoo([make_param(np.ones((2, 2)))], **kwargs)


def test_exponent_override_changes_the_root():
    g = np.array([[2.0, 0.0], [0.0, 0.5]])
    weight = make_param(np.zeros((2, 2)))
    opt = optim.Shampoo([weight], lr=1.0, betas=(0.0, 1.0), epsilon=0.0, grafting="none",
                        start_preconditioning_step=1, exponent_override=2)
    step_with(opt, [weight], [g])
    # L = R = diag(4, 0.25): L^(-1/2) G R^(-1/2) = diag(2 / 4, 0.5 / 0.25)
    np.testing.assert_allclose(-weight.data, np.diag([0.5, 2.0]), rtol=1e-10)

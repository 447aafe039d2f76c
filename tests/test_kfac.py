"""``optim.KFAC``: steps against dense Kronecker and Fisher solves, the two damping paths, Conv2d
factors, sampling of the true Fisher, conditioning fallbacks and the step API."""
import numpy as np
import pytest

import locograd as lg
from locograd import nn, optim
from locograd.optim.kfac import sample_output_gradients

F = nn.functional


def FixedKFAC(model, *args, **kwargs):
    """The fixed-lr form (with KL clipping), which these tests check against dense solves."""
    return optim.KFAC(model, *args, adaptive=False, **kwargs)


def vec(matrix):
    return matrix.ravel(order="F")  # column-major: (A kron G) vec(X) = vec(G X A^T)


def kron_solve(a, g, matrix, damping):
    """``(A kron G + damping I)^-1 vec(matrix)``, densely."""
    dense = np.kron(a, g) + damping * np.eye(a.shape[0] * g.shape[0])
    return np.linalg.solve(dense, vec(matrix)).reshape(matrix.shape, order="F")


def linear_problem(batch=10, d_in=4, d_out=3, seed=0, same_input=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, d_in))
    if same_input:
        x[:] = x[0]
    y = rng.standard_normal((batch, d_out))
    lg.manual_seed(seed)
    layer = nn.Linear(d_in, d_out, dtype=lg.float64)
    return layer, x, y


def squared_loss(out, y):
    """The batch mean of ``||f - y||^2 / 2``: per-example gradients at f are ``f - y``."""
    return 0.5 * ((out - lg.tensor(y)) ** 2).sum() / out.shape[0]


def gradient_matrix(layer):
    return np.concatenate([layer.weight.grad.data, layer.bias.grad.data[:, None]], axis=1)


def take_step(opt, layer, x, y):
    """One step; returns the update direction ``(before - after) / lr`` as [dW, db] and M."""
    before = np.concatenate([layer.weight.data, layer.bias.data[:, None]], axis=1)
    opt.zero_grad()
    out = layer(lg.tensor(x))
    opt.sample_fisher(out)
    squared_loss(out, y).backward()
    matrix = gradient_matrix(layer)
    opt.step()
    after = np.concatenate([layer.weight.data, layer.bias.data[:, None]], axis=1)
    return (before - after) / opt.param_groups[0]["lr"], matrix


def batch_factors(layer, x, y):
    """A and G of one batch, straight from their definitions (mean-reduced squared loss)."""
    rows = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    residual = x @ layer.weight.data.T + layer.bias.data - y  # per-example gradients
    return rows.T @ rows / len(x), residual.T @ residual / len(x)


PLAIN = dict(lr=1.0, momentum=0.0, kl_clip=None, fisher="empirical")


def test_eigen_step_is_the_damped_kronecker_solve():
    layer, x, y = linear_problem()
    a, g = batch_factors(layer, x, y)
    opt = FixedKFAC(layer, damping=0.1, damping_method="eigen", **PLAIN)
    direction, matrix = take_step(opt, layer, x, y)
    np.testing.assert_allclose(opt.state[layer.weight]["A"], a, rtol=1e-12)
    np.testing.assert_allclose(opt.state[layer.weight]["G"], g, rtol=1e-12)
    np.testing.assert_allclose(direction, kron_solve(a, g, matrix, 0.1), rtol=1e-9, atol=1e-12)


def test_eigen_damping_changes_take_effect_at_the_next_step():
    layer, x, y = linear_problem(seed=18)
    a, g = batch_factors(layer, x, y)
    opt = FixedKFAC(layer, damping=0.1, damping_method="eigen", inv_update_freq=10, **PLAIN)
    take_step(opt, layer, x, y)
    opt.param_groups[0]["damping"] = 2.0  # a schedule; the eigendecompositions are step 1's
    direction, matrix = take_step(opt, layer, x, y)
    np.testing.assert_allclose(direction, kron_solve(a, g, matrix, 2.0), rtol=1e-9, atol=1e-12)


def test_running_factors_momentum_and_weight_decay_over_three_steps():
    # decay = min(1 - 1/k, stat_decay) at the k-th factor update: 0 (the batch), 0.5, then 0.6
    layer, x, y = linear_problem(seed=19)
    lr, momentum, weight_decay, damping, stat_decay = 0.1, 0.9, 0.01, 0.1, 0.6
    opt = FixedKFAC(layer, lr=lr, damping=damping, stat_decay=stat_decay, inv_update_freq=1,
                     momentum=momentum, weight_decay=weight_decay, kl_clip=None,
                     fisher="empirical", damping_method="eigen")
    rng = np.random.default_rng(19)
    running_a = running_g = buffer = None
    for k, decay in enumerate((0.0, 0.5, 0.6), start=1):
        batch_x = x + rng.standard_normal(x.shape)
        a, g = batch_factors(layer, batch_x, y)
        running_a = a if k == 1 else decay * running_a + (1 - decay) * a
        running_g = g if k == 1 else decay * running_g + (1 - decay) * g
        weights = np.concatenate([layer.weight.data, layer.bias.data[:, None]], axis=1)
        direction, matrix = take_step(opt, layer, batch_x, y)
        update = kron_solve(running_a, running_g, matrix, damping) + weight_decay * weights
        buffer = update if buffer is None else momentum * buffer + update
        np.testing.assert_allclose(direction, buffer, rtol=1e-9, atol=1e-12, err_msg=f"step {k}")
    np.testing.assert_allclose(opt.state[layer.weight]["A"], running_a, rtol=1e-12)
    np.testing.assert_allclose(opt.state[layer.weight]["G"], running_g, rtol=1e-12)


def per_example_fisher(layer, x, y):
    """``E_b[vec(grad_b) vec(grad_b)^T]`` from per-example gradients taken by autograd."""
    columns = []
    for b in range(len(x)):
        layer.zero_grad()
        squared_loss(layer(lg.tensor(x[b:b + 1])), y[b:b + 1]).backward()
        columns.append(vec(gradient_matrix(layer)))
    grads = np.array(columns)
    layer.zero_grad()
    return grads.T @ grads / len(x)


def test_the_step_is_the_exact_damped_natural_gradient_when_the_fisher_is_kronecker():
    # All examples share one input (different targets): the empirical Fisher of a linear
    # layer, E[(a a^T) kron (g g^T)], is then exactly A kron G, and K-FAC is exact.
    layer, x, y = linear_problem(same_input=True, seed=1)
    fisher = per_example_fisher(layer, x, y)
    a, g = batch_factors(layer, x, y)
    np.testing.assert_allclose(fisher, np.kron(a, g), rtol=1e-10, atol=1e-12)
    opt = FixedKFAC(layer, damping=0.05, damping_method="eigen", **PLAIN)
    direction, matrix = take_step(opt, layer, x, y)
    exact = np.linalg.solve(fisher + 0.05 * np.eye(len(fisher)), vec(matrix))
    np.testing.assert_allclose(vec(direction), exact, rtol=1e-9, atol=1e-12)


def test_with_distinct_inputs_the_dense_fisher_is_not_kronecker():
    # So the equality above is a property of the data, not of the test: in general K-FAC
    # solves with A kron G, which differs from the dense Fisher.
    layer, x, y = linear_problem(seed=2)
    fisher = per_example_fisher(layer, x, y)
    a, g = batch_factors(layer, x, y)
    gap = np.abs(fisher - np.kron(a, g)).max() / np.abs(fisher).max()
    assert gap > 0.05


def test_tikhonov_step_inverts_the_damped_factors_with_the_pi_correction():
    layer, x, y = linear_problem(seed=3)
    a, g = batch_factors(layer, x, y)
    damping = 0.3
    pi = np.sqrt((np.trace(a) / len(a)) / (np.trace(g) / len(g)))
    opt = FixedKFAC(layer, damping=damping, damping_method="tikhonov", **PLAIN)
    direction, matrix = take_step(opt, layer, x, y)
    damped_a = a + pi * np.sqrt(damping) * np.eye(len(a))
    damped_g = g + np.sqrt(damping) / pi * np.eye(len(g))
    np.testing.assert_allclose(direction, kron_solve(damped_a, damped_g, matrix, 0.0),
                               rtol=1e-9, atol=1e-12)


def test_eigen_and_tikhonov_agree_without_damping_on_well_conditioned_factors():
    directions = []
    for method in ("eigen", "tikhonov"):
        layer, x, y = linear_problem(batch=40, seed=4)  # 40 examples: A (5 x 5) full rank
        a, g = batch_factors(layer, x, y)
        opt = FixedKFAC(layer, damping=0.0, damping_method=method, **PLAIN)
        direction, matrix = take_step(opt, layer, x, y)
        directions.append(direction)
    exact = np.linalg.solve(g, matrix) @ np.linalg.inv(a)  # G^-1 M A^-1
    np.testing.assert_allclose(directions[0], exact, rtol=1e-8)
    np.testing.assert_allclose(directions[1], exact, rtol=1e-8)


@pytest.mark.parametrize("method", ["eigen", "tikhonov"])
@pytest.mark.parametrize("damping", [0.0, 1e-30])
def test_tiny_damping_on_singular_factors_warns_once_and_stays_finite(method, damping):
    lg.manual_seed(5)
    model = nn.Sequential(nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 6))
    x = lg.randn(3, 10) * 1e-3  # 3 examples: A (11 x 11) has rank <= 3
    y = lg.randn(3, 6)
    opt = FixedKFAC(model, lr=0.1, damping=damping, damping_method=method,
                     inv_update_freq=1, likelihood="gaussian")
    with pytest.warns(RuntimeWarning, match="too small") as record:
        for _ in range(4):
            opt.zero_grad()
            out = model(x)
            opt.sample_fisher(out)
            F.mse_loss(out, y).backward()
            opt.step()
            assert all(np.isfinite(p.data).all() for p in model.parameters())
    assert sum("too small" in str(w.message) for w in record) == 1, "warned once"


def test_a_non_finite_factor_keeps_the_previous_inverse():
    layer, x, y = linear_problem(batch=20, seed=6)
    opt = FixedKFAC(layer, damping=0.01, inv_update_freq=1, **PLAIN)
    take_step(opt, layer, x, y)
    state = opt.state[layer.weight]
    previous = state["A_inverse"].copy()
    state["A"][0, 0] = np.nan
    with pytest.warns(RuntimeWarning, match="could not decompose"):
        take_step(opt, layer, x, y)
    assert state["inverse_failures"] == 1
    assert np.array_equal(state["A_inverse"], previous)
    assert np.isfinite(layer.weight.data).all() and np.isfinite(layer.bias.data).all()


def conv_patches(x, kernel, stride, padding, dilation):
    """(N * Ho * Wo, C * kh * kw) patches by explicit loops, in the weight's (C, kh, kw) order."""
    n, _, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    span = dilation * (kernel - 1) + 1
    ho = (h + 2 * padding - span) // stride + 1
    wo = (w + 2 * padding - span) // stride + 1
    rows = [padded[b, :, i * stride:i * stride + span:dilation,
                   j * stride:j * stride + span:dilation].ravel()
            for b in range(n) for i in range(ho) for j in range(wo)]
    return np.array(rows), ho * wo


@pytest.mark.parametrize("stride, padding, dilation", [(1, 1, 1), (2, 1, 1), (1, 2, 2)])
def test_conv2d_factors_and_step_follow_kfc(stride, padding, dilation):
    rng = np.random.default_rng(7)
    lg.manual_seed(7)
    conv = nn.Conv2d(2, 3, 3, stride=stride, padding=padding, dilation=dilation,
                     dtype=lg.float64)
    x = rng.standard_normal((4, 2, 7, 7))
    opt = FixedKFAC(conv, damping=0.2, damping_method="eigen", **PLAIN)
    out = conv(lg.tensor(x))
    target = rng.standard_normal(out.shape)
    loss = 0.5 * ((out - lg.tensor(target)) ** 2).sum() / len(x)
    (grad_out,) = lg.grad(loss, out, retain_graph=True)
    loss.backward()
    before = conv.weight.data.copy(), conv.bias.data.copy()
    matrix = np.concatenate([conv.weight.grad.data.reshape(3, -1),
                             conv.bias.grad.data[:, None]], axis=1)
    opt.step()

    patches, positions = conv_patches(x, 3, stride, padding, dilation)
    rows = np.concatenate([patches, np.ones((len(patches), 1))], axis=1)
    a = rows.T @ rows / len(x)  # E[sum over positions of a a^T]
    per_example = grad_out.data.transpose(0, 2, 3, 1).reshape(-1, 3) * len(x)
    g = per_example.T @ per_example / (len(x) * positions)  # E[sum_t g g^T] / T
    state = opt.state[conv.weight]
    assert state["A"].shape == (2 * 9 + 1,) * 2 and state["G"].shape == (3, 3)
    np.testing.assert_allclose(state["G"], g, rtol=1e-12)
    np.testing.assert_allclose(np.trace(state["A"]), np.trace(a), rtol=1e-12)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(state["A"])),
                               np.sort(np.linalg.eigvalsh(a)), rtol=1e-9, atol=1e-9)
    direction = kron_solve(a, g, matrix, 0.2)
    np.testing.assert_allclose(before[0] - conv.weight.data, direction[:, :-1].reshape(3, 2, 3, 3),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(before[1] - conv.bias.data, direction[:, -1], rtol=1e-9,
                               atol=1e-12)


def test_a_small_cnn_trains_with_the_true_fisher():
    lg.manual_seed(8)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 3))
    x = lg.randn(24, 1, 6, 6)
    y = lg.randint(0, 3, (24,))
    opt = FixedKFAC(model, lr=0.05, damping=1e-2, likelihood=nn.CrossEntropyLoss())
    losses = []
    for _ in range(15):
        opt.zero_grad()
        logits = model(x)
        opt.sample_fisher(logits)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.3 * losses[0], losses
    assert opt.state[model[0].weight]["A"].shape == (10, 10)
    assert opt.state[model[3].weight]["A"].shape == (145, 145)
    assert all(p.data.dtype == np.float32 for p in model.parameters())


def fisher_expectation(likelihood, logits):
    """The analytic E_y[g g^T] averaged over the batch."""
    if likelihood == "gaussian":
        return np.eye(logits.shape[1])
    if likelihood == "bernoulli":
        p = 1.0 / (1.0 + np.exp(-logits))
        return np.diag((p * (1 - p)).mean(axis=0))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return np.mean([np.diag(q) - np.outer(q, q) for q in p], axis=0)


@pytest.mark.parametrize("likelihood", ["categorical", "bernoulli", "gaussian"])
def test_sampled_g_matches_the_analytic_fisher(likelihood):
    # One linear layer: its outputs are the model's outputs, so G = E[g g^T] with g the
    # sampled gradient, whose expectation is known in closed form.
    lg.manual_seed(9)
    layer = nn.Linear(3, 4, dtype=lg.float64)
    x = lg.tensor(np.random.default_rng(9).standard_normal((8, 3)) * 2.0)
    opt = FixedKFAC(layer, lr=0.0, stat_decay=1.0, likelihood=likelihood,
                     generator=lg.Generator().manual_seed(1))
    for _ in range(2000):  # 16000 sampled targets accumulated into one factor update
        out = layer(x)
        opt.sample_fisher(out)
    out.sum().backward()
    opt.step()
    expected = fisher_expectation(likelihood, out.data)
    tolerance = 0.05 if likelihood == "gaussian" else 0.01
    np.testing.assert_allclose(opt.state[layer.weight]["G"], expected, atol=tolerance)


def test_categorical_sampling_uses_dim_1_as_the_class_dimension():
    logits = np.random.default_rng(10).standard_normal((2, 3, 5))  # (N, C, L)
    draws = [sample_output_gradients(logits, "categorical", lg.Generator().manual_seed(s))
             for s in range(3000)]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot_mean = p - np.mean(draws, axis=0)  # E[onehot] = p
    np.testing.assert_allclose(onehot_mean, p, atol=0.03)
    np.testing.assert_allclose(np.sum(draws[0], axis=1), 0.0, atol=1e-12)


def test_mean_and_sum_reduced_losses_give_the_same_empirical_factors():
    factors = []
    for reduction in ("mean", "sum"):
        layer, x, y = linear_problem(seed=11)
        opt = FixedKFAC(layer, loss_reduction=reduction, **PLAIN)
        out = layer(lg.tensor(x))
        loss = 0.5 * ((out - lg.tensor(y)) ** 2).sum()
        (loss / len(x) if reduction == "mean" else loss).backward()
        opt.step()
        factors.append((opt.state[layer.weight]["A"], opt.state[layer.weight]["G"]))
    np.testing.assert_allclose(factors[0][0], factors[1][0], rtol=1e-12)
    np.testing.assert_allclose(factors[0][1], factors[1][1], rtol=1e-12)


def test_kl_clipping_scales_the_natural_gradient():
    layer, x, y = linear_problem(seed=12)
    a, g = batch_factors(layer, x, y)
    lr, kl_clip = 0.5, 1e-4
    opt = FixedKFAC(layer, lr=lr, damping=0.1, damping_method="eigen", momentum=0.0,
                     kl_clip=kl_clip, fisher="empirical")
    direction, matrix = take_step(opt, layer, x, y)
    natural = kron_solve(a, g, matrix, 0.1)
    nu = np.sqrt(kl_clip / (lr ** 2 * np.vdot(natural, matrix)))
    assert nu < 1.0
    np.testing.assert_allclose(direction, nu * natural, rtol=1e-9, atol=1e-14)


class ScaledLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2, dtype=lg.float64)
        self.scale = nn.Parameter(lg.tensor(np.array([1.5, -0.5])))

    def forward(self, x):
        return self.fc(x) * self.scale


def test_other_parameters_take_momentum_sgd_on_the_raw_gradient():
    lg.manual_seed(13)
    model = ScaledLinear()
    x = lg.tensor(np.random.default_rng(13).standard_normal((6, 3)))
    opt = FixedKFAC(model, lr=0.1, momentum=0.9, weight_decay=0.01, fisher="empirical")
    scale, buffer = model.scale.data.copy(), None
    for _ in range(3):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        grad = model.scale.grad.data + 0.01 * scale
        buffer = grad if buffer is None else 0.9 * buffer + grad
        scale = scale - 0.1 * buffer
        opt.step()
        np.testing.assert_allclose(model.scale.data, scale, rtol=1e-12)
    assert "A" in opt.state[model.fc.weight] and "A" not in opt.state[model.scale]


def test_update_frequencies():
    layer, x, y = linear_problem(seed=14)
    opt = FixedKFAC(layer, factor_update_freq=2, inv_update_freq=3, **PLAIN)
    inverses = []
    for _ in range(7):
        take_step(opt, layer, x + np.random.default_rng(len(inverses)).standard_normal(x.shape),
                  y)
        inverses.append(opt.state[layer.weight]["A_inverse"].copy())
    assert opt.state[layer.weight]["factor_updates"] == 4  # steps 1, 3, 5, 7
    changed = [not np.array_equal(u, v) for u, v in zip(inverses, inverses[1:])]
    assert changed == [False, False, True, False, False, True]  # refreshed at steps 4 and 7


def test_no_factors_in_eval_mode_or_without_grad():
    layer, x, y = linear_problem(seed=15)
    opt = FixedKFAC(layer, **PLAIN)
    layer.eval()
    squared_loss(layer(lg.tensor(x)), y).backward()
    with lg.no_grad():
        layer(lg.tensor(x))
    opt.step()
    assert "A" not in opt.state[layer.weight]  # a plain momentum step
    layer.train()
    opt.zero_grad()
    squared_loss(layer(lg.tensor(x)), y).backward()
    opt.step()
    assert opt.state[layer.weight]["factor_updates"] == 1


def test_state_dict_round_trip_is_bit_for_bit(tmp_path):
    def make():
        lg.manual_seed(16)
        return nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 2))

    rng = np.random.default_rng(16)
    batches = [(lg.tensor(rng.standard_normal((12, 5)).astype(np.float32)),
                lg.randint(0, 2, (12,))) for _ in range(7)]
    settings = dict(lr=0.1, fisher="empirical", inv_update_freq=2, factor_update_freq=2,
                    damping_method="eigen")

    def train(model, opt, data):
        for x, y in data:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

    model = make()
    opt = FixedKFAC(model, **settings)
    train(model, opt, batches[:3])
    lg.save(opt.state_dict(), tmp_path / "kfac.lg")
    train(model, opt, batches[3:])

    twin = make()
    first = FixedKFAC(twin, **settings)
    train(twin, first, batches[:3])
    first.remove_hooks()
    resumed = FixedKFAC(twin, **settings)
    resumed.load_state_dict(lg.load(tmp_path / "kfac.lg"))
    train(twin, resumed, batches[3:])
    for a, b in zip(model.parameters(), twin.parameters()):
        assert np.array_equal(a.data, b.data)
    for record, other in zip(opt.state_dict()["state"].values(),
                             resumed.state_dict()["state"].values()):
        for key, value in record.items():
            assert np.array_equal(value, other[key]), key


class _TwoOutputs(nn.Module):
    """A model whose output is not one tensor: K-FAC cannot sample from it by itself."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))

    def forward(self, x):
        out = self.body(x)
        return out, out.sum()


def test_step_api_errors():
    lg.manual_seed(17)
    model = _TwoOutputs()
    x, y = lg.randn(5, 3), lg.randn(5, 2)
    opt = FixedKFAC(model, likelihood=F.mse_loss)
    assert opt.likelihood == "gaussian"
    out = model(x)[0]
    F.mse_loss(out, y).backward()
    with pytest.raises(RuntimeError, match="before loss.backward"):
        opt.sample_fisher(out)
    with pytest.raises(RuntimeError, match="sample_fisher"):
        opt.step()
    opt.zero_grad()
    out = model(x)[0]
    with pytest.raises(ValueError, match="attached to the graph"):
        opt.sample_fisher(out.detach())


def test_the_plain_loop_samples_the_true_fisher_by_itself():
    lg.manual_seed(18)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x, y = lg.randn(6, 3), lg.randint(0, 2, (6,))
    opt = FixedKFAC(model, likelihood="categorical", generator=lg.Generator(0))
    F.cross_entropy(model(x), y).backward()  # no sample_fisher call
    assert [layer.gradient_count for layer in opt._layers] == [6, 6]
    opt.step()
    assert opt.state[model[0].weight]["G"].shape == (4, 4)
    # the hook's sample is the explicit call's: same draws, same G
    lg.manual_seed(18)
    twin = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    explicit = FixedKFAC(twin, likelihood="categorical", generator=lg.Generator(0))
    explicit._handles.pop().remove()  # the model's own hook off: sample by hand
    out = twin(x)
    explicit.sample_fisher(out)
    F.cross_entropy(out, y).backward()
    explicit.step()
    np.testing.assert_array_equal(explicit.state[twin[2].weight]["G"],
                                  opt.state[model[2].weight]["G"])


# ---- the adaptive form (Martens & Grosse, sections 6-7) ---------------------------------------

def adaptive_linear(**kwargs):
    layer, x, y = linear_problem(batch=12, d_in=3, d_out=2, seed=3)
    settings = dict(likelihood="gaussian", damping=0.5, inv_update_freq=1)
    settings.update(kwargs)
    opt = optim.KFAC(layer, **settings)

    def closure():
        opt.zero_grad()
        loss = squared_loss(layer(lg.tensor(x)), y)
        loss.backward()
        return loss
    return layer, x, y, opt, closure


def test_alpha_and_mu_minimise_the_exact_quadratic_model():
    """On a linear model with a squared loss the Gauss-Newton matrix is exact: C = E[a a^T]
    (x) I; alpha and mu are the closed-form minimiser of the damped 2-D model."""
    layer, x, y, opt, closure = adaptive_linear()
    opt.step(closure)
    assert opt.last_step["mu"] == 0.0  # no previous update yet
    previous = opt.state[layer.weight]["delta"], opt.state[layer.bias]["delta"]
    previous = np.concatenate([previous[0], previous[1][:, None]], axis=1)
    before = np.concatenate([layer.weight.data, layer.bias.data[:, None]], axis=1)
    closure()
    gradient = gradient_matrix(layer)
    opt.step()
    after = np.concatenate([layer.weight.data, layer.bias.data[:, None]], axis=1)
    state, group = opt.state[layer.weight], opt.param_groups[0]
    a, g, gamma, damping = state["A"], state["G"], opt.last_step["gamma"], group["damping"]
    pi = np.sqrt((np.trace(a) / 4) / (np.trace(g) / 2))
    proposal = -np.linalg.solve(g + gamma / pi * np.eye(2), gradient) @ \
        np.linalg.inv(a + pi * gamma * np.eye(4))
    rows = np.concatenate([x, np.ones((len(x), 1))], axis=1)

    def c_form(u, v):  # u^T C v: the squared loss's Hessian in the outputs is I / B
        return float(np.sum((rows @ u.T) * (rows @ v.T)) / len(x))

    basis = [proposal, previous]
    k = np.array([[c_form(u, v) + damping * np.vdot(u, v) for v in basis] for u in basis])
    b = np.array([np.vdot(gradient, u) for u in basis])
    alpha, mu = -np.linalg.solve(k, b)
    assert opt.last_step["alpha"] == pytest.approx(alpha, rel=1e-9)
    assert opt.last_step["mu"] == pytest.approx(mu, rel=1e-9)
    np.testing.assert_allclose(after - before, alpha * proposal + mu * previous, rtol=1e-9,
                               atol=1e-12)


def test_lambda_adapts_down_when_the_model_predicts_well_and_up_when_not():
    # a quadratic problem: the model is exact, rho = 1 > 3/4, lambda shrinks by (19/20)^T1
    layer, x, y, opt, closure = adaptive_linear(damping_update_freq=1)
    opt.step(closure)
    assert opt.last_step["rho"] == pytest.approx(1.0, rel=1e-9)
    assert opt.param_groups[0]["damping"] == pytest.approx(0.5 * 0.95)
    # an update scaled far past the model's minimum on a curved loss: rho < 1/4, it grows
    lg.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 3))
    xs, ys = lg.randn(16, 3), lg.randint(0, 3, (16,))
    opt = optim.KFAC(model, lr=30.0, damping=1e-3, likelihood="categorical",
                     damping_update_freq=1, generator=lg.Generator(0))

    def curved():
        opt.zero_grad()
        loss = F.cross_entropy(model(xs), ys)
        loss.backward()
        return loss
    opt.step(curved)
    assert opt.last_step["rho"] < 0.25
    assert opt.param_groups[0]["damping"] == pytest.approx(1e-3 / 0.95)


def test_adaptive_loss_goes_down_in_the_plain_loop_and_with_a_closure():
    lg.manual_seed(6)
    x = lg.randn(64, 5)
    y = (x.data[:, :1] > 0).astype(np.int64).ravel()
    y = lg.tensor(y)
    for use_closure in (False, True):
        lg.manual_seed(7)
        model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
        opt = optim.KFAC(model, damping=1.0, likelihood="categorical",
                         inv_update_freq=2, generator=lg.Generator(1))
        losses = []

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss
        for _ in range(15):
            if use_closure:
                losses.append(opt.step(closure).item())
            else:
                with pytest.warns(RuntimeWarning, match="closure") if len(losses) == 4 \
                        else _no_warning():
                    losses.append(closure().item())
                    opt.step()
        assert losses[-1] < 0.5 * losses[0], (use_closure, losses)
        assert opt.param_groups[0]["damping"] < 1.0 if use_closure else \
            opt.param_groups[0]["damping"] == 1.0


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_adaptive_state_dict_round_trip_is_bit_for_bit():
    def make():
        lg.manual_seed(19)
        return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))

    rng = np.random.default_rng(19)
    batches = [(lg.tensor(rng.standard_normal((10, 4)).astype(np.float32)),
                lg.randint(0, 3, (10,))) for _ in range(8)]
    settings = dict(damping=1.0, likelihood="categorical", inv_update_freq=2,
                    damping_update_freq=2, gamma_update_freq=3)

    def train(model, opt, data):
        for x, y in data:
            def closure():
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                return loss
            opt.step(closure)

    model = make()
    opt = optim.KFAC(model, generator=lg.Generator(3), **settings)
    train(model, opt, batches[:4])
    saved = opt.state_dict()
    generator_state = opt.generator.get_state()
    train(model, opt, batches[4:])
    twin = make()
    first = optim.KFAC(twin, generator=lg.Generator(3), **settings)
    train(twin, first, batches[:4])
    first.remove_hooks()
    resumed = optim.KFAC(twin, generator=lg.Generator(3), **settings)
    resumed.generator.set_state(generator_state)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["damping"] == saved["param_groups"][0]["damping"] != 1.0
    train(twin, resumed, batches[4:])
    for a, b in zip(model.parameters(), twin.parameters()):
        assert np.array_equal(a.data, b.data)
    assert resumed.param_groups[0]["gamma"] == opt.param_groups[0]["gamma"]


def test_adaptive_setup_errors_say_what_to_do():
    with pytest.raises(ValueError, match="adaptive=False"):
        optim.KFAC(nn.Linear(2, 2), fisher="empirical")
    layer = nn.Linear(2, 2)
    opt = optim.KFAC(layer, likelihood="gaussian")
    layer.eval()  # no factors, and no batch kept to re-run the model on
    layer(lg.randn(3, 2)).sum().backward()
    with pytest.raises(RuntimeError, match="run model\\(inputs\\) before step"):
        opt.step()


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(fisher="true"), ValueError, "likelihood"),
    (dict(likelihood="poisson"), ValueError, "likelihood"),
    (dict(likelihood=F.l1_loss), ValueError, "infer"),
    (dict(fisher="observed"), ValueError, "fisher"),
    (dict(fisher="empirical", damping_method="cholesky"), ValueError, "damping_method"),
    (dict(fisher="empirical", kl_clip=0.0), ValueError, "kl_clip"),
    (dict(fisher="empirical", inv_update_freq=0), ValueError, "inv_update_freq"),
    (dict(fisher="empirical", stat_decay=1.5), ValueError, "stat_decay"),
    (dict(fisher="empirical", loss_reduction="none"), ValueError, "loss_reduction"),
])
def test_invalid_arguments_are_rejected(kwargs, error, message):
    with pytest.raises(error, match=message):
        FixedKFAC(nn.Linear(2, 2), **kwargs)


def test_the_model_must_be_a_module_with_layers_to_precondition():
    with pytest.raises(TypeError, match="nn.Module"):
        FixedKFAC(nn.Linear(2, 2).parameters(), fisher="empirical")
    with pytest.raises(ValueError, match="no Linear"):
        FixedKFAC(nn.Sequential(nn.Tanh()), fisher="empirical")
    assert FixedKFAC(nn.Linear(2, 2), likelihood=nn.BCEWithLogitsLoss()).likelihood == \
        "bernoulli"


def test_the_hooks_go_with_the_optimizer():
    import gc
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    opt = FixedKFAC(model, fisher="empirical")
    assert len(model[0]._forward_hooks) == 1
    opt.remove_hooks()
    assert len(model[0]._forward_hooks) == 0
    opt = FixedKFAC(model, fisher="empirical")
    del opt
    gc.collect()
    assert len(model[0]._forward_hooks) == 0 and len(model[2]._forward_hooks) == 0

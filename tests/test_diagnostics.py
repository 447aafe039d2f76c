"""GradientMonitor (locograd.diagnostics): hand-computed values on tiny networks."""
import numpy as np
import pytest

import locograd as lg
from locograd.diagnostics import GradientMonitor, format_table
from locograd.diagnostics.monitor import _saturated_share

W1 = np.array([[1.0, -1.0], [0.5, 2.0]], dtype=np.float32)
W2 = np.array([[1.0, -2.0]], dtype=np.float32)
X = np.array([[1.0, 2.0], [-1.0, 0.0]], dtype=np.float32)


def tiny_sigmoid_net():
    model = lg.nn.Sequential(lg.nn.Linear(2, 2), lg.nn.Sigmoid(), lg.nn.Linear(2, 1))
    model[0].weight.data[...] = W1
    model[0].bias.data[...] = 0.0
    model[2].weight.data[...] = W2
    model[2].bias.data[...] = 0.0
    return model


def test_values_match_a_hand_computation():
    model = tiny_sigmoid_net()
    with GradientMonitor(model, eps=0.02) as monitor:
        model(lg.tensor(X)).sum().backward()
    rows = {row["layer"]: row for row in monitor.history}
    assert [row["type"] for row in monitor.history] == ["Linear", "Sigmoid", "Linear"]
    # by hand: z1 = x W1^T = [[-1, 4.5], [-1, -0.5]], a1 = sigmoid(z1), L = sum(a1 W2^T)
    z1 = X @ W1.T
    a1 = 1.0 / (1.0 + np.exp(-z1))
    grad_a1 = np.ones((2, 1)) @ W2                    # [[1, -2], [1, -2]]
    grad_z1 = grad_a1 * a1 * (1.0 - a1)
    assert rows["2"]["activation_grad"] == pytest.approx(1.0)
    assert rows["1"]["activation_grad"] == pytest.approx(1.5)
    assert rows["0"]["activation_grad"] == pytest.approx(np.abs(grad_z1).mean(), rel=1e-6)
    assert rows["2"]["weight_grad"] == pytest.approx(np.abs(a1.sum(0)).mean(), rel=1e-6)
    assert rows["0"]["weight_grad"] == pytest.approx(np.abs(grad_z1.T @ X).mean(), rel=1e-6)
    assert rows["1"]["weight_grad"] is None and rows["1"]["weight_norm"] is None
    assert rows["0"]["weight_norm"] == pytest.approx(2.5)
    assert rows["2"]["weight_norm"] == pytest.approx(np.sqrt(5.0))
    # sigmoid(4.5) = 0.989 is within 0.02 of 1: one unit output in four is saturated
    assert rows["1"]["saturation"] == pytest.approx(0.25)
    assert rows["0"]["saturation"] is None


def test_dead_relus_and_saturated_tanh_units():
    model = lg.nn.Sequential(lg.nn.Linear(2, 3), lg.nn.ReLU(), lg.nn.Linear(3, 3), lg.nn.Tanh())
    model[0].weight.data[...] = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]
    model[0].bias.data[...] = [0.0, -10.0, 0.0]   # unit 1 is negative for every example
    model[2].weight.data[...] = np.diag([10.0, 0.1, 0.1])
    model[2].bias.data[...] = 0.0
    x = lg.tensor([[1.0, -1.0], [-1.0, 2.0]])
    with GradientMonitor(model, eps=0.01) as monitor:
        model(x).sum().backward()
    saturation = monitor.metric("saturation")
    assert saturation["1"] == pytest.approx(1 / 3)     # unit 1 dead
    # tanh inputs: relu outputs [[1, 0, 0], [0, 0, 2]] times diag(10, .1, .1): only tanh(10)
    assert saturation["3"] == pytest.approx(1 / 6)
    y = np.ones((2, 3, 2, 2))
    y[:, 1] = 0.0
    y[0, 2, 0, 0] = 0.0  # one zero position does not make a channel dead
    assert _saturated_share("relu", y, 0.01) == pytest.approx(1 / 3)


def test_steps_close_by_themselves_and_weight_gradients_are_per_backward():
    model = tiny_sigmoid_net()
    monitor = GradientMonitor(model)
    x = lg.tensor(X)
    model(x).sum().backward()
    first = monitor.metric("weight_grad")
    model(x).sum().backward()  # .grad now holds twice the gradient; the monitor sees one pass
    with lg.no_grad():
        model(x)  # evaluation passes are ignored
    assert monitor.steps == 2
    assert monitor.metric("weight_grad") == pytest.approx(first)
    assert np.abs(model[0].weight.grad.data).mean() == pytest.approx(2 * first["0"])
    with lg.no_grad():
        model[0].weight.mul_(2.0)
    model(x).sum().backward()
    monitor.step()
    assert monitor.metric("weight_norm")["0"] == pytest.approx(5.0)
    assert monitor.metric("weight_norm", step=0)["0"] == pytest.approx(2.5)
    assert monitor.metric("weight_norm", average=True)["0"] == pytest.approx(10.0 / 3)
    assert monitor.step() == []  # nothing new since
    monitor.remove()


def test_a_layer_called_twice_in_a_step_is_averaged_over_its_calls():
    shared = lg.nn.Linear(2, 2, bias=False)
    shared.weight.data[...] = np.eye(2, dtype=np.float32)
    model = lg.nn.ModuleDict({"shared": shared})
    with GradientMonitor(model) as monitor:
        h = shared(lg.tensor([[1.0, -1.0]]))
        (shared(h) * lg.tensor([[1.0, 3.0]])).sum().backward()
    # outputs' gradients: second call [1, 3], first call W^T [1, 3] = [1, 3]: mean |.| = 2
    (row,) = monitor.history
    assert row["activation_grad"] == pytest.approx(2.0)
    # dL/dW = [1, 3]^T h + [1, 3]^T x with h = x = [1, -1]: [[2, -2], [6, -6]]
    assert row["weight_grad"] == pytest.approx(4.0)


def test_remove_detaches_every_hook():
    model = tiny_sigmoid_net()
    monitor = GradientMonitor(model, layers=["0", model[2]])
    assert [name for name, _ in monitor.layers] == ["0", "2"]
    monitor.remove()
    assert not model[0]._forward_hooks and not model[2]._forward_hooks
    assert not model[0].weight._hooks and not model[2].weight._hooks
    model(lg.tensor(X)).sum().backward()
    assert monitor.history == [] and monitor.steps == 0


def test_table_and_plot(tmp_path, capsys):
    model = tiny_sigmoid_net()
    monitor = GradientMonitor(model, eps=0.02)
    assert "no step recorded" in monitor.table(echo=False)
    for _ in range(2):
        model(lg.tensor(X)).sum().backward()
    text = monitor.table()
    assert capsys.readouterr().out.strip() == text
    lines = text.splitlines()
    assert lines[0] == "gradient flow (step 2 of 2)"
    assert lines[1].split() == ["layer", "type", "mean", "|dL/dW|", "mean", "|dL/dy|", "||W||",
                                "saturated"]
    assert lines[4].split()[:2] == ["1", "Sigmoid"] and lines[4].endswith("25.0%")
    assert "2.5" in lines[3] and "average of 2 steps" in monitor.table(average=True, echo=False)
    pytest.importorskip("matplotlib")
    path = monitor.plot(tmp_path / "flow.png")
    assert (tmp_path / "flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.endswith(
        "flow.png")


def test_bad_arguments_give_clear_errors():
    model = tiny_sigmoid_net()
    with pytest.raises(ValueError, match="no submodule named 'fc9'"):
        GradientMonitor(model, layers=["fc9"])
    with pytest.raises(ValueError, match="not a submodule"):
        GradientMonitor(model, layers=[lg.nn.Linear(1, 1)])
    with pytest.raises(TypeError, match="nn.Module"):
        GradientMonitor(lambda x: x)
    with pytest.raises(ValueError, match="eps"):
        GradientMonitor(model, eps=0.7)
    monitor = GradientMonitor(model)
    with pytest.raises(ValueError, match="unknown metric"):
        monitor.metric("speed")
    with pytest.raises(RuntimeError, match="no step recorded"):
        monitor.plot("never.png")
    monitor.remove()


def test_format_table_aligns_numbers_right():
    text = format_table(["layer", "a", "b"], [["fc1", "0.5", "x"], ["fc22", "12", "yy"]])
    assert text.splitlines() == ["layer    a  b", "-----  ---  --", "fc1    0.5  x",
                                 "fc22    12  yy"]

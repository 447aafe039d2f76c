"""The Module system: registration, traversal, modes, state dicts, hooks, repr and containers."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import locograd as lg
from locograd import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.block = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
        self.fc2 = nn.Linear(4, 2, bias=False)
        self.scale = nn.Parameter(lg.ones(1))
        self.register_buffer("running", lg.zeros(2))
        self.register_buffer("scratch", lg.zeros(5), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.fc2(self.block(self.act(self.fc1(x)))) * self.scale


# ------------------------------------------------------------------------------ registration

def test_registration_and_traversal_order():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "fc1.weight", "fc1.bias", "block.0.weight", "block.0.bias", "fc2.weight"]
    assert [n for n, _ in net.named_buffers()] == ["running", "scratch"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "block", "fc2"]
    assert [n for n, _ in net.named_modules()] == [
        "", "fc1", "act", "block", "block.0", "block.1", "fc2"]
    assert len(list(net.modules())) == 7
    assert net.num_parameters() == 1 + 12 + 4 + 16 + 4 + 8
    assert net.note == "plain attribute" and "note" not in net._parameters
    assert net.get_submodule("block.0") is net.block[0]
    assert net.get_parameter("block.0.bias") is net.block[0].bias
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        net.get_submodule("block.nope")


def test_reassignment_and_deletion_update_the_registries():
    net = Net()
    net.fc1 = nn.Linear(3, 4, bias=False)
    assert "fc1.bias" not in dict(net.named_parameters())
    net.scale = None  # a registered parameter may be set to None
    assert "scale" not in dict(net.named_parameters())
    with pytest.raises(TypeError, match="parameter 'scale'"):
        net.scale = lg.ones(1)  # a plain tensor is not a Parameter
    with pytest.raises(TypeError, match="child module 'fc2'"):
        net.fc2 = "not a module"
    del net.block
    assert "block" not in dict(net.named_children())
    with pytest.raises(AttributeError, match="no attribute 'block'"):
        net.block


def test_register_errors_are_clear():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain no '.'"):
        m.register_parameter("a.b", nn.Parameter(lg.ones(1)))
    with pytest.raises(TypeError, match="must be a Parameter"):
        m.register_parameter("w", lg.ones(1))
    with pytest.raises(TypeError, match="must be a Tensor"):
        m.register_buffer("b", [1, 2])
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("train", lg.ones(1))

    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Early()


def test_shared_parameters_are_listed_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert len(list(seq.children())) == 2


# ------------------------------------------------------------------------------ modes, utilities

def test_train_eval_recursive_and_overridable():
    calls = []

    class Frozen(nn.Module):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(mode)

    net = nn.Sequential(nn.Dropout(), nn.Sequential(Frozen(), nn.ReLU()))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    assert calls == [False, True]
    with pytest.raises(TypeError, match="mode must be a bool"):
        net.train("yes")


def test_zero_grad_apply_and_requires_grad():
    net = Net()
    net(lg.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    versions = [p.grad._version[0] for p in net.parameters()]
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    # written in place like Optimizer.zero_grad: the version moves, so a graph that saved the
    # old gradient notices
    assert [p.grad._version[0] for p in net.parameters()] == [v + 1 for v in versions]
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())

    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "ReLU", "Linear", "Tanh", "Sequential", "Linear", "Net"]

    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    assert not net(lg.randn(2, 3)).requires_grad


def test_to_double_converts_parameters_and_buffers():
    net = Net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.running.dtype == np.float64
    net.to("cpu", lg.float32)
    assert net.fc1.weight.dtype == np.float32
    net.to(dtype=lg.float64)
    assert net.fc1.weight.dtype == np.float64
    with pytest.raises(TypeError, match="floating"):
        net.to(lg.int64)
    if not lg.cuda.is_available():
        with pytest.raises(RuntimeError, match="a CUDA device was asked for, but"):
            net.to("cuda:0")
        assert net.fc1.weight.device == "cpu"
    assert net.half().fc1.weight.dtype == np.float16


def test_deepcopy_is_independent():
    net = Net()
    clone = copy.deepcopy(net)
    with lg.no_grad():
        clone.fc1.weight.fill_(0.0)
    assert net.fc1.weight.numpy().any()
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in net.named_parameters()]


# ------------------------------------------------------------------------------ state dict

def test_state_dict_keys_values_and_sharing():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["scale", "running", "fc1.weight", "fc1.bias", "block.0.weight",
                        "block.0.bias", "fc2.weight"]  # the non-persistent buffer is left out
    assert not sd["fc1.weight"].requires_grad
    assert np.shares_memory(sd["fc1.weight"].numpy(), net.fc1.weight.numpy())
    assert net.state_dict(keep_vars=True)["fc1.weight"] is net.fc1.weight


def test_load_state_dict_round_trip():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy(), err_msg=name)
    x = lg.randn(4, 3)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_load_state_dict_reports_everything_and_applies_nothing():
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    bad = {k: v.numpy() + 1 for k, v in Net().state_dict().items()}
    del bad["fc1.bias"]
    bad["extra.weight"] = np.zeros(3)
    bad["fc2.weight"] = np.zeros((3, 3))
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    msg = str(info.value)
    assert "nothing was loaded" in msg
    assert "missing keys: fc1.bias" in msg
    assert "unexpected keys: extra.weight" in msg
    assert "fc2.weight: checkpoint shape (3, 3), model shape (2, 4)" in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=f"{k} changed")


def test_load_state_dict_non_strict():
    net = Net()
    partial = {"fc1.weight": np.full((4, 3), 0.5, dtype=np.float32), "unknown": np.zeros(1)}
    result = net.load_state_dict(partial, strict=False)
    assert "fc1.bias" in result.missing_keys and result.unexpected_keys == ["unknown"]
    np.testing.assert_array_equal(net.fc1.weight.numpy(), 0.5)
    with pytest.raises(RuntimeError, match="shape mismatches"):  # shapes are always checked
        net.load_state_dict({"fc1.weight": np.zeros((2, 2))}, strict=False)


def test_load_state_dict_bumps_version_of_saved_tensors():
    fc = nn.Linear(2, 2)
    out = (fc(lg.ones(1, 2, requires_grad=True)) ** 2).sum()
    fc.load_state_dict(nn.Linear(2, 2).state_dict())
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.backward()


def test_extra_state_round_trip():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)
            self.counter = 0

        def get_extra_state(self):
            return {"counter": self.counter}

        def set_extra_state(self, state):
            self.counter = state["counter"]

    a = WithExtra()
    a.counter = 7
    sd = a.state_dict()
    assert sd["_extra_state"] == {"counter": 7}
    b = WithExtra()
    b.load_state_dict(sd)
    assert b.counter == 7


# ------------------------------------------------------------------------------ forward hooks

def test_forward_pre_hook_and_hook_modify_and_remove():
    fc = nn.Linear(2, 2)
    with lg.no_grad():
        fc.weight.copy_(lg.eye(2))
        fc.bias.zero_()
    log = []
    h1 = fc.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    h2 = fc.register_forward_hook(lambda m, args, out: out + 1)
    h3 = fc.register_forward_hook(lambda m, args, out: log.append("first"), prepend=True)
    x = lg.tensor([[1.0, 2.0]])
    assert fc(x).tolist() == [[3.0, 5.0]]
    assert log == ["first"]
    for h in (h1, h2, h3):
        h.remove()
    assert fc(x).tolist() == [[1.0, 2.0]]


def test_forward_hooks_with_kwargs():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    seen = []
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 10.0}),
                                with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(kwargs), with_kwargs=True)
    assert m(lg.tensor([1.0]), factor=2.0).tolist() == [10.0]
    assert seen == [{"factor": 10.0}]


# ------------------------------------------------------------------------------ backward hooks

def _linear64(seed=0):
    lg.manual_seed(seed)
    return nn.Linear(3, 2).double()


def test_full_backward_hook_values_on_linear():
    fc = _linear64()
    captured = []
    fc.register_full_backward_hook(lambda m, gi, go: captured.append((gi, go)))
    x = lg.randn(4, 3, dtype=lg.float64, requires_grad=True)
    upstream = lg.randn(4, 2, dtype=lg.float64)
    y = fc(x)
    (y * upstream).sum().backward()
    assert len(captured) == 1
    (grad_input,), (grad_output,) = captured[0]
    np.testing.assert_allclose(grad_output.numpy(), upstream.numpy())
    np.testing.assert_allclose(grad_input.numpy(), upstream.numpy() @ fc.weight.numpy())
    np.testing.assert_allclose(x.grad.numpy(), grad_input.numpy())
    np.testing.assert_allclose(fc.weight.grad.numpy(), upstream.numpy().T @ x.numpy())


def test_full_backward_hook_when_input_does_not_require_grad():
    fc = _linear64()
    captured = []
    fc.register_full_backward_hook(lambda m, gi, go: captured.append((gi, go)))
    x = lg.randn(4, 3, dtype=lg.float64)  # no requires_grad
    (fc(x) * 3.0).sum().backward()
    assert len(captured) == 1
    grad_input, (grad_output,) = captured[0]
    assert grad_input == (None,)
    np.testing.assert_allclose(grad_output.numpy(), np.full((4, 2), 3.0))
    np.testing.assert_allclose(fc.weight.grad.numpy(), 3.0 * np.ones((4, 2)).T @ x.numpy())


def test_full_backward_hook_module_used_twice():
    lg.manual_seed(1)
    fc = nn.Linear(2, 2).double()
    captured = []
    fc.register_full_backward_hook(lambda m, gi, go: captured.append((gi[0], go[0])))
    x = lg.randn(3, 2, dtype=lg.float64, requires_grad=True)
    h = fc(x)
    y = fc(h)
    y.sum().backward()
    assert len(captured) == 2
    w = fc.weight.numpy()
    # Backward runs the second call first: its grad_output is the upstream ones.
    (gi2, go2), (gi1, go1) = captured
    np.testing.assert_allclose(go2.numpy(), np.ones((3, 2)))
    np.testing.assert_allclose(gi2.numpy(), np.ones((3, 2)) @ w)
    np.testing.assert_allclose(go1.numpy(), gi2.numpy())
    np.testing.assert_allclose(gi1.numpy(), np.ones((3, 2)) @ w @ w)
    np.testing.assert_allclose(x.grad.numpy(), gi1.numpy())


def test_backward_hook_with_tuple_outputs_and_two_inputs():
    class Split(nn.Module):
        def forward(self, a, b):
            return a * b, (a * 2.0).detach()  # the second output carries no gradient

    m = Split()
    captured = []
    m.register_full_backward_hook(lambda mod, gi, go: captured.append((gi, go)))
    a = lg.tensor([1.0, 2.0], requires_grad=True)
    b = lg.tensor([3.0, 4.0])
    prod, other = m(a, b)
    assert not other.requires_grad
    (prod * lg.tensor([1.0, 10.0])).sum().backward()
    (ga, gb), (g_prod, g_other) = captured[0]
    assert gb is None and g_other is None
    assert g_prod.tolist() == [1.0, 10.0] and ga.tolist() == [3.0, 40.0]
    assert a.grad.tolist() == [3.0, 40.0]


def test_backward_hook_can_replace_grad_input_and_pre_hook_grad_output():
    fc = _linear64()
    fc.register_full_backward_pre_hook(lambda m, go: (go[0] * 2.0,))
    fc.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.0 + 1.0,))
    x = lg.randn(2, 3, dtype=lg.float64, requires_grad=True)
    fc(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones((2, 3)))  # replaced by the hook
    # the weight's gradient comes from the doubled grad_output
    np.testing.assert_allclose(fc.weight.grad.numpy(), 2.0 * np.ones((2, 2)).T @ x.numpy())


def test_backward_hooks_do_not_hide_inplace_changes_of_the_input():
    fc = _linear64()
    fc.register_full_backward_hook(lambda m, gi, go: None)
    x = lg.randn(2, 3, dtype=lg.float64, requires_grad=True)
    h = x * 1.0
    out = fc(h).sum()
    with lg.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.backward()


def test_backward_hooks_on_nested_modules_capture_every_layer():
    lg.manual_seed(2)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    grads = {}
    for name, m in net.named_children():
        m.register_full_backward_hook(
            lambda mod, gi, go, name=name: grads.__setitem__(name, go[0].numpy().copy()))
    x = lg.randn(5, 3, dtype=lg.float64)
    net(x).sum().backward()
    assert sorted(grads) == ["0", "1", "2"]
    np.testing.assert_allclose(grads["2"], np.ones((5, 1)))
    h = np.tanh(x.numpy() @ net[0].weight.numpy().T + net[0].bias.numpy())
    np.testing.assert_allclose(grads["1"], np.ones((5, 1)) @ net[2].weight.numpy())
    np.testing.assert_allclose(grads["0"], grads["1"] * (1 - h ** 2))


# ------------------------------------------------------------------------------ repr, containers

def test_nested_repr_matches_pytorch_layout():
    net = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        ")")
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.GELU()])
    assert repr(layers) == (
        "ModuleList(\n"
        "  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (3): GELU(approximate='none')\n"
        ")")
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_sequential_indexing_slicing_and_editing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert seq[0] is a and seq[-1] is c and len(seq) == 3
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert head(lg.ones(4, 2)).shape == (4, 3)
    with pytest.raises(IndexError, match="out of range for 3 modules"):
        seq[3]
    del seq[1]
    assert list(seq) == [a, c] and list(seq._modules) == ["0", "1"]
    seq.append(nn.Sigmoid())
    assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Sigmoid"]
    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert named.enc is named[0]


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    layers.append(nn.ReLU())
    layers += [nn.Tanh()]
    assert len(layers) == 4 and isinstance(layers[-1], nn.Tanh)
    assert len(list(layers.parameters())) == 4
    assert isinstance(layers[1:3], nn.ModuleList)
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and isinstance(layers[1], nn.Linear)
    with pytest.raises(NotImplementedError, match="iterate"):
        layers(lg.ones(1))

    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
    assert list(heads) == ["a", "b"] and "a" in heads
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight",
                                                        "b.bias"]
    heads["c"] = nn.ReLU()
    assert heads.pop("c").__class__ is nn.ReLU and len(heads) == 2

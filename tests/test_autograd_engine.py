"""The reverse-mode engine: order, accumulation, graph release, hooks, grad modes, ``lg.grad``
and the in-place (version counter) checks."""
import threading

import numpy as np
import pytest

import locograd as lg
from locograd.autograd import Function
from locograd.autograd.function import RELEASED


def leaf(values, dtype=lg.float64):
    return lg.tensor(values, dtype=dtype, requires_grad=True)


# ------------------------------------------------------------------------------ backward()

def test_backward_from_a_scalar_and_with_an_explicit_gradient():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    z = leaf([1.0, 2.0, 3.0])
    y = z * z  # not a scalar: the upstream gradient says which combination to differentiate
    y.backward(gradient=lg.tensor([1.0, 0.0, -1.0], dtype=lg.float64))
    np.testing.assert_array_equal(z.grad.numpy(), [2.0, 0.0, -6.0])


def test_backward_on_a_non_scalar_without_gradient_says_what_to_pass():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*gradient=lg.ones_like\(y\)"):
        y.backward()


def test_gradient_of_the_wrong_shape_is_an_error():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match=r"gradient for output 0 has shape \(3,\).*\(2,\)"):
        y.backward(lg.ones(3, dtype=lg.float64))


def test_backward_of_a_tensor_outside_the_graph_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        lg.ones(2).sum().backward()


def test_backward_on_a_leaf_accumulates_the_gradient_itself():
    x = leaf([1.0, 2.0])
    g = lg.tensor([3.0, 4.0], dtype=lg.float64)
    x.backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert x.grad.data is not g.data  # .grad never aliases the caller's tensor
    g.data[0] = 100.0
    assert x.grad.numpy()[0] == 3.0


def test_a_chain_of_100000_ops_backpropagates_without_recursion():
    x = leaf(1.0)
    h = x
    for _ in range(100_000):
        h = h * 1.0 + 0.0  # 200,000 nodes
    h.backward()
    assert x.grad.item() == 1.0
    h2 = x
    for _ in range(100_000):
        h2 = h2 + 1e-5
    (g,) = lg.grad(h2, x)  # the pruning pass of grad() is iterative too
    assert g.item() == 1.0


def test_fan_out_sums_the_gradients_of_every_use():
    x = leaf(2.0)
    y = x * 3.0        # y is used three times below
    z = y * y + y.exp() + y
    z.backward()
    y_val = 6.0
    assert x.grad.item() == pytest.approx(3.0 * (2 * y_val + np.exp(y_val) + 1.0), rel=1e-14)


def test_diamond_graph_runs_each_node_once_after_all_its_consumers():
    calls = []

    class Count(Function):
        @staticmethod
        def forward(ctx, a):
            return a.data.copy()

        @staticmethod
        def backward(ctx, grad):
            calls.append(grad.numpy().copy())
            return grad

    x = leaf([1.0, 2.0])
    top = Count.apply(x)
    left, right = top * 2.0, top * 3.0
    (left + right).sum().backward()
    assert len(calls) == 1  # the shared node ran once, with the summed gradient
    np.testing.assert_array_equal(calls[0], [5.0, 5.0])
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])


def test_broadcast_gradients_are_reduced_to_each_input_shape():
    a = leaf(np.ones((3, 1)))
    b = leaf(np.arange(4.0).reshape(1, 4))
    s = leaf(2.0)
    v = leaf(np.ones(4))
    out = (a * b + s) * v[None, None, :] * lg.ones(2, 1, 1, dtype=lg.float64)
    out.sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4) and s.grad.shape == ()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((3, 1), 2 * 6.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((1, 4), 2 * 3.0))
    assert s.grad.item() == 2 * 12
    np.testing.assert_array_equal(v.grad.numpy(), 2 * (3 * np.arange(4.0) + 3 * 2.0))


def test_grad_accumulates_across_backward_calls_until_reset():
    x = leaf([1.0, -1.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0 + 2.0, 3.0 - 2.0])
    x.grad = None
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_saved_tensors_are_released_and_a_second_backward_says_so():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    node = y.grad_fn._next[0][0]  # the Mul node saved both inputs
    assert node._saved is RELEASED
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*"
                                           r"retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_which_accumulates():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    np.testing.assert_allclose(first, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))


def test_backward_with_inputs_accumulates_only_into_those():
    a, b = leaf(2.0), leaf(3.0)
    h = a * b
    h.retain_grad()
    out = h * a
    out.backward(inputs=[b, h])
    assert a.grad is None
    assert b.grad.item() == 4.0   # d(a^2 b)/db = a^2
    assert h.grad.item() == 2.0   # d(h a)/dh = a


def test_several_roots_in_one_backward_call():
    x = leaf([1.0, 2.0])
    y1 = (x * x).sum()
    y2 = x * 3.0
    lg.autograd.backward([y1, y2], [None, lg.tensor([1.0, -1.0], dtype=lg.float64)])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0 + 3.0, 4.0 - 3.0])


def test_multi_output_node_with_an_unused_output_gets_zeros():
    x = leaf(np.arange(6.0))
    first, second = x.split([2, 4])
    (second * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 2, 2, 2, 2])


def test_integer_outputs_have_no_grad_fn():
    x = leaf([[1.0, 5.0], [3.0, 2.0]])
    values, indices = x.max(1)
    assert values.requires_grad and not indices.requires_grad and indices.grad_fn is None
    assert indices.dtype == np.int64
    assert not (x > 2).requires_grad and (x > 2).dtype == np.bool_


def test_create_graph_makes_grad_differentiable_and_keeps_the_graph():
    x = leaf(1.5)
    y = x ** 3
    y.backward(create_graph=True)
    assert x.grad.requires_grad
    assert x.grad.item() == pytest.approx(3 * 1.5 ** 2)
    (gg,) = lg.grad(x.grad, x)
    assert gg.item() == pytest.approx(6 * 1.5)


def test_one_rule_gets_arrays_unrecorded_and_tensors_recorded(monkeypatch):
    """An op's one backward rule runs on arrays on the fast path (with and without ``inputs``)
    and on tensors when the pass is recorded."""
    seen = []
    original = lg.ops.unary.Exp.backward

    def spy(ctx, grad):
        seen.append(type(grad))
        return original(ctx, grad)

    monkeypatch.setattr(lg.ops.unary.Exp, "_rule", staticmethod(spy))
    monkeypatch.setattr(lg.ops.unary.Exp, "backward", staticmethod(spy))
    x = leaf([0.5, 1.0])
    x.exp().sum().backward()
    lg.grad(x.exp().sum(), x)
    assert seen == [np.ndarray, np.ndarray]
    (g,) = lg.grad(x.exp().sum(), x, create_graph=True)
    assert seen[2:] == [lg.Tensor]
    np.testing.assert_allclose(g.numpy(), np.exp([0.5, 1.0]), rtol=1e-6)


# ------------------------------------------------------------------------------ hooks

def test_hook_on_a_leaf_sees_the_summed_gradient_and_may_replace_it():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10.0)
    (x * 2.0 + x * x).sum().backward()
    np.testing.assert_array_equal(seen[0], [4.0, 6.0])  # called once, after the fan-out sum
    np.testing.assert_array_equal(x.grad.numpy(), [40.0, 60.0])


def test_hook_on_a_non_leaf_replaces_the_gradient_flowing_further():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    y.register_hook(lambda g: g * 0.5)
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * 0.5 * 2 * 3.0 * np.array([1.0, 2.0]))


def test_removable_handle_unregisters_and_works_as_a_context_manager():
    x = leaf(1.0)
    calls = []
    handle = x.register_hook(lambda g: calls.append("a"))
    handle.remove()
    handle.remove()  # idempotent
    with x.register_hook(lambda g: calls.append("b")):
        (x * 2.0).backward()
    (x * 2.0).backward()
    assert calls == ["b"]


def test_hook_on_a_tensor_that_does_not_require_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        lg.ones(2).register_hook(lambda g: g)


def test_retain_grad_keeps_non_leaf_gradients_and_accumulates():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    z = y * y
    y.retain_grad()
    assert y.retains_grad and not z.retains_grad and not x.retains_grad
    z.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(y.grad.numpy(), [4.0, 8.0])
    assert z.grad is None  # not retained: intermediate gradients are not kept
    z.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [8.0, 16.0])


def test_retained_grad_is_the_gradient_after_the_tensor_hooks():
    # PyTorch runs retain_grad last, whatever the order of registration.
    x = leaf([1.0, 2.0])
    y = x * 1.0
    y.retain_grad()
    y.register_hook(lambda g: g * 3.0)
    y.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_node_pre_and_post_hooks():
    x = leaf([1.0, 2.0])
    y = x.exp()
    seen = {}
    y.grad_fn.register_prehook(lambda gouts: (gouts[0] * 2.0,))
    y.grad_fn.register_hook(lambda gins, gouts: seen.update(gin=gins[0].numpy().copy()))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.exp([1.0, 2.0]))
    np.testing.assert_allclose(seen["gin"], 2.0 * np.exp([1.0, 2.0]))


# ------------------------------------------------------------------------------ grad modes

def test_no_grad_enable_grad_and_set_grad_enabled_as_context_managers():
    w = leaf([1.0])
    with lg.no_grad():
        assert not lg.is_grad_enabled()
        assert not (w * 2.0).requires_grad
        with lg.enable_grad():
            assert (w * 2.0).requires_grad
        assert not (w * 2.0).requires_grad
    assert lg.is_grad_enabled()
    with lg.set_grad_enabled(False):
        assert not (w * 2.0).requires_grad
    with lg.set_grad_enabled(True):
        assert (w * 2.0).requires_grad
    assert lg.is_grad_enabled()


def test_set_grad_enabled_takes_effect_immediately_as_a_function():
    try:
        lg.set_grad_enabled(False)
        assert not lg.is_grad_enabled()
    finally:
        lg.set_grad_enabled(True)
    assert lg.is_grad_enabled()


def test_grad_modes_as_decorators():
    w = leaf([1.0])

    @lg.no_grad()
    def off():
        return w * 2.0

    @lg.enable_grad()
    def on():
        return w * 2.0

    @lg.set_grad_enabled(False)
    def also_off():
        return w * 2.0

    assert lg.is_grad_enabled()  # the decorator did not switch the mode when applied
    assert not off().requires_grad and not also_off().requires_grad
    with lg.no_grad():
        assert on().requires_grad
    assert lg.is_grad_enabled()
    assert off.__name__ == "off"


def test_grad_mode_is_restored_when_the_body_raises():
    with pytest.raises(ValueError):
        with lg.no_grad():
            raise ValueError
    assert lg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    results = {}
    barrier = threading.Barrier(2)

    def worker():
        results["worker_start"] = lg.is_grad_enabled()  # a new thread records by default
        with lg.no_grad():
            barrier.wait()  # the main thread checks its own mode while this one is off
            barrier.wait()
        results["worker_end"] = lg.is_grad_enabled()

    with lg.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        barrier.wait()
        results["main_during"] = lg.is_grad_enabled()
        barrier.wait()
        t.join()
    assert results == {"worker_start": True, "main_during": False, "worker_end": True}
    t2 = threading.Thread(target=lambda: results.update(other=lg.is_grad_enabled()))
    with lg.no_grad():
        t2.start()
        t2.join()
    assert results["other"] is True


def test_requires_grad_rules():
    x = lg.tensor([1.0, 2.0])
    assert not x.requires_grad and x.is_leaf
    assert x.requires_grad_() is x and x.requires_grad
    with pytest.raises(RuntimeError, match="only floating-point"):
        lg.tensor([1, 2]).requires_grad_()
    y = x * 2.0
    assert not y.is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.numpy(), y.numpy())


# ------------------------------------------------------------------------------ lg.grad

def test_grad_returns_gradients_without_touching_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    gx, gw = lg.grad((x * w).sum(), (x, w))
    np.testing.assert_array_equal(gx.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_grad_allow_unused():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="input 1 .*not used.*allow_unused=True"):
        lg.grad((x * 2.0).sum(), (x, unused))
    gx, gu = lg.grad((x * 2.0).sum(), (x, unused), allow_unused=True)
    assert gx.item() == 2.0 and gu is None
    gx, gu = lg.grad((x * 2.0).sum(), (x, unused), materialize_grads=True)
    np.testing.assert_array_equal(gu.numpy(), [0.0])


def test_grad_with_respect_to_a_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    out = (h * h).sum()
    gh, gx = lg.grad(out, (h, x))
    np.testing.assert_array_equal(gh.numpy(), 2 * 3.0 * np.array([1.0, 2.0]))
    np.testing.assert_array_equal(gx.numpy(), 3.0 * gh.numpy())


def test_grad_with_several_outputs_and_grad_outputs():
    x = leaf([1.0, 2.0])
    y1, y2 = x * x, x.sum() * 2.0
    (g,) = lg.grad([y1, y2], x, grad_outputs=[lg.tensor([1.0, 10.0], dtype=lg.float64), None])
    np.testing.assert_array_equal(g.numpy(), [2.0 + 2.0, 40.0 + 2.0])


def test_grad_of_an_input_that_does_not_require_grad_is_an_error():
    with pytest.raises(RuntimeError, match="input 0 does not require grad"):
        lg.grad(leaf(1.0) * 2.0, lg.tensor(1.0))


def test_grad_create_graph_gives_second_and_third_derivatives():
    x = leaf(0.7)
    (g1,) = lg.grad(x.sin() * x, x, create_graph=True)
    (g2,) = lg.grad(g1, x, create_graph=True)
    (g3,) = lg.grad(g2, x)
    v = 0.7
    assert g1.item() == pytest.approx(np.cos(v) * v + np.sin(v), rel=1e-13)
    assert g2.item() == pytest.approx(-np.sin(v) * v + 2 * np.cos(v), rel=1e-13)
    assert g3.item() == pytest.approx(-np.cos(v) * v - 3 * np.sin(v), rel=1e-13)


def test_grad_frees_only_the_nodes_it_ran():
    a, b = leaf(2.0), leaf(3.0)
    out = a.exp() * b.sin()
    (gb,) = lg.grad(out, b)  # runs Mul and Sin; Exp is not needed and keeps its saved output
    assert gb.item() == pytest.approx(np.exp(2.0) * np.cos(3.0))
    with pytest.raises(RuntimeError, match="^Mul: trying to backward through the graph"):
        lg.grad(out, a)
    h = a * a
    y = h * 3.0
    (gh,) = lg.grad(y, h)  # stops at h: the Mul that made h did not run
    (ga,) = lg.grad(h, a)
    assert gh.item() == 3.0 and ga.item() == 4.0


def test_grad_of_a_tensor_with_respect_to_itself():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    (g,) = lg.grad(y, y, lg.tensor([3.0, 4.0], dtype=lg.float64))
    np.testing.assert_array_equal(g.numpy(), [3.0, 4.0])
    gx1, gx2 = lg.grad(y.sum(), [x, x])
    np.testing.assert_array_equal(gx1.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(gx2.numpy(), [2.0, 2.0])


# ------------------------------------------------------------------------------ in-place checks

def test_in_place_change_of_a_saved_output_is_detected_naming_the_op():
    x = leaf([1.0, 2.0])
    y = x.exp()
    z = y * 1.0
    with lg.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match=r"^Exp: .*modified by an in-place operation.*"
                                           r"version 0 and is now at version 1"):
        (z * y).sum().backward()


def test_in_place_change_of_a_saved_input_through_a_view_is_detected():
    x = leaf(np.arange(1.0, 7.0))
    a = x * 1.0
    y = a.sin()  # Sin saves its input a
    with lg.no_grad():
        a.view(2, 3)[0, 0] = 5.0  # the view shares a's version counter
    with pytest.raises(RuntimeError, match=r"^Sin: .*saved tensor 0 of Sin \(shape \(6,\)"):
        y.sum().backward()


def test_in_place_change_through_detach_is_detected():
    x = leaf([1.0, 2.0])
    a = x * 2.0
    y = a * a
    a.detach().mul_(3.0)
    with pytest.raises(RuntimeError, match="^Mul: .*in-place"):
        y.sum().backward()


def test_in_place_op_on_a_leaf_that_requires_grad_is_refused():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"^mul_: a leaf tensor that requires grad.*no_grad"):
        x.mul_(2.0)
    with pytest.raises(RuntimeError, match="^add_: a leaf"):
        x += 1.0
    with lg.no_grad():  # the optimizer's way
        x.mul_(2.0)
    np.testing.assert_array_equal(x.numpy(), [2.0, 4.0])
    assert x._version[0] == 1


def test_in_place_op_on_a_view_that_records_is_refused():
    x = leaf([1.0, 2.0, 3.0])
    h = x * 1.0
    with pytest.raises(RuntimeError, match=r"^add_: in-place operation on a view"):
        h[1:].add_(lg.ones(2, dtype=lg.float64, requires_grad=True))


def test_in_place_ops_on_non_leaves_record_and_differentiate():
    x = leaf([0.5, 1.5])
    w = leaf([2.0, -1.0])
    h = x * 1.0
    h.mul_(w)      # Mul saves h: the engine keeps its old value
    h.pow_(2)
    h.clamp_(max=3.0)
    h.sum().backward()
    xv, wv = np.array([0.5, 1.5]), np.array([2.0, -1.0])
    inside = (xv * wv) ** 2 <= 3.0
    np.testing.assert_allclose(x.grad.numpy(), np.where(inside, 2 * xv * wv ** 2, 0.0))
    np.testing.assert_allclose(w.grad.numpy(), np.where(inside, 2 * wv * xv ** 2, 0.0))


def test_in_place_op_after_another_op_saved_the_tensor_is_still_detected():
    x = leaf([0.5, 1.5])
    h = x * 1.0
    y = h * h      # saves h
    h.mul_(2.0)    # h changes after y's node saved it
    with pytest.raises(RuntimeError, match="^Mul: "):
        y.sum().backward()


def test_in_place_on_a_read_only_broadcast_view_is_an_error():
    e = lg.ones(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="read-only"):
        e.add_(1.0)


def test_a_saved_numpy_scalar_is_a_0d_array_constant_in_a_recorded_backward():
    class Scale(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, np.float32(3.0))
            return x.data * 3

        @staticmethod
        def backward(ctx, grad):
            x, k = ctx.saved_tensors
            assert type(k.data) is np.ndarray and k.data.shape == ()
            return grad * k * x

    x = lg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = lg.autograd.grad(Scale.apply(x).sum(), x, create_graph=True)
    assert g.dtype == np.float32 and g.tolist() == [3.0, 6.0]

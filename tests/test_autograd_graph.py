"""Walking a recorded graph and capturing values and gradients (autograd.graph)."""
import numpy as np

import locograd as lg
from locograd.autograd import graph


def test_edges_carry_the_textbook_values_and_gradients():
    x = lg.tensor(-2.0, requires_grad=True)
    y = lg.tensor(5.0, requires_grad=True)
    z = lg.tensor(-4.0, requires_grad=True)
    with graph.retain_values():
        q = x + y
        f = q * z
        f.backward()
    found = {(e.consumer.label, e.index): (float(e.value), float(e.gradient))
             for e in graph.edges(f)}
    assert found == {("Mul", 0): (3.0, -4.0), ("Mul", 1): (-4.0, 3.0),
                     ("Add", 0): (-2.0, -4.0), ("Add", 1): (5.0, -4.0)}
    assert graph.gradient_of(f.grad_fn) == 1.0
    assert graph.gradient_of(q.grad_fn) == -4.0


def test_fan_out_edges_each_carry_their_own_gradient():
    x = lg.tensor(3.0, requires_grad=True)
    with graph.retain_values():
        y = x * x  # two edges from the same leaf
        y.backward()
    grads = sorted(float(e.gradient) for e in graph.edges(y))
    assert grads == [3.0, 3.0]   # each edge carries the other factor; x.grad is their sum
    assert x.grad.item() == 6.0


def test_broadcast_edge_gradient_is_reduced_to_the_input_shape():
    w = lg.ones(3, requires_grad=True)
    x = lg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    with graph.retain_values():
        out = (x * w).sum()
        out.backward()
    (edge,) = [e for e in graph.edges(out) if e.consumer.label == "Mul"]
    np.testing.assert_array_equal(edge.gradient, [5.0, 7.0, 9.0])


def test_nothing_is_retained_outside_the_context_and_nodes_come_in_backward_order():
    x = lg.tensor(1.0, requires_grad=True)
    y = (x * 2.0).exp().log()
    order = [n.label for n in graph.nodes(y)]
    assert order == ["Log", "Exp", "Mul"]
    assert all(graph.value_of(n) is None for n in graph.nodes(y))
    y.backward()
    assert all(e.gradient is None for e in graph.edges(y))

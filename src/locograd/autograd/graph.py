"""Looking at a recorded graph: walk its nodes and edges, and capture values and gradients.

``retain_values()`` is the switch that pictures of the graph need: while it is on, each new node
keeps its output values and the gradients it receives and sends along each edge in the backward
pass. It costs memory and time, so it is for looking, not for training.

Example:
    >>> import locograd as lg
    >>> from locograd.autograd import graph
    >>> x = lg.tensor(2.0, requires_grad=True)
    >>> with graph.retain_values():
    ...     y = (x * 3.0).exp()
    ...     y.backward()
    >>> [e.source_label for e in graph.edges(y)]
    ['Mul', 'leaf']
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .function import Function, _next_seq
from .grad_mode import debug_state
from .tensor_base import TensorBase

__all__ = ["retain_values", "nodes", "edges", "Edge", "value_of", "gradient_of",
           "sequence_mark", "is_hook_node"]


class retain_values:
    """Context manager: nodes created inside keep their values and backward gradients."""

    def __enter__(self):
        debug_state.capture += 1
        debug_state.refresh()
        return self

    def __exit__(self, *exc):
        debug_state.capture -= 1
        debug_state.refresh()
        return False


def nodes(*outputs) -> list:
    """The nodes reachable from ``outputs``, consumers before producers (backward order)."""
    seen = set()
    stack = [t.grad_fn for t in outputs if isinstance(t, TensorBase) and t.grad_fn is not None]
    found = []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        found.append(node)
        for edge in node._next:
            if edge is not None and isinstance(edge[0], Function) and edge[0] not in seen:
                stack.append(edge[0])
    found.sort(key=lambda n: -n._seq)
    return found


@dataclass
class Edge:
    """One edge of the graph: the value flowing from ``source`` into input ``index`` of
    ``consumer`` (forward), and the gradient flowing back along it (backward)."""

    source: object          # a Function node or a leaf tensor
    output_nr: int          # which output of ``source``
    consumer: Function
    index: int              # which input of ``consumer``
    shape: tuple
    dtype: np.dtype

    @property
    def source_label(self) -> str:
        """The producing op's label, or ``"leaf"`` for a leaf tensor (pictures name leaves)."""
        return self.source.label if isinstance(self.source, Function) else "leaf"

    @property
    def value(self):
        """The forward value carried by the edge, or None if it was not retained."""
        return value_of(self.source, self.output_nr)

    @property
    def gradient(self):
        """The gradient sent back along this edge, or None if it was not retained."""
        grads = self.consumer.__dict__.get("_grad_inputs")
        if grads is None or self.index >= len(grads) or grads[self.index] is None:
            return None
        g = grads[self.index]
        g = g.data if isinstance(g, TensorBase) else np.asarray(g)
        if g.shape != self.shape:  # a broadcast gradient: the engine sums it back; so do we
            lead = g.ndim - len(self.shape)
            axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(self.shape)
                                              if s == 1 and g.shape[lead + i] != 1)
            g = g.sum(axis=axes, keepdims=True).reshape(self.shape)
        return g


def edges(*outputs) -> list:
    """Every edge of the graph of ``outputs``, in backward order of their consumers."""
    out = []
    for node in nodes(*outputs):
        for i, e in enumerate(node._next):
            if e is not None:
                out.append(Edge(e[0], e[1], node, i, e[2], e[3]))
    return out


def value_of(source, output_nr: int = 0):
    """The retained forward value of a node's output (or a leaf's data)."""
    if isinstance(source, TensorBase):
        return source.data
    value = source.__dict__.get("_value")
    if isinstance(value, tuple):
        return value[output_nr]
    return value


def gradient_of(source, output_nr: int = 0):
    """The total gradient of a node's output (or a leaf's ``.grad``), if retained."""
    if isinstance(source, TensorBase):
        return None if source.grad is None else source.grad.data
    grads = source.__dict__.get("_grad_outputs")
    if grads is None or grads[output_nr] is None:
        return None
    g = grads[output_nr]
    return g.data if isinstance(g, TensorBase) else np.asarray(g)


def sequence_mark() -> int:
    """A creation number between the nodes created before this call and those created after:
    ``before._seq < sequence_mark() < after._seq``. Bracketing a forward call with two marks
    tells which nodes it created (graph pictures group nodes by module this way)."""
    return _next_seq()


def is_hook_node(node) -> bool:
    """True for the identity nodes that module backward hooks insert (pictures hide them)."""
    return bool(getattr(node, "is_hook_node", False))

"""What a picture of the graph shows: vertices, arrows and module clusters, before any DOT text.

``collect`` walks the recorded graph of the outputs (``autograd.graph``), names the leaves after
the parameters they are, folds away the identity nodes that module backward hooks insert, elides
long repeated chains and caps the number of nodes. ``record_modules`` tags the nodes a module's
``forward`` creates, so that the picture can draw a box around each module.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial

from ..autograd import graph as _graph
from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase
from ..nn.module import Module

__all__ = ["record_modules", "collect", "Picture", "Vertex", "Arrow", "Scope"]

#: the node attribute where ``record_modules`` leaves the module scope that created a node
SCOPE_ATTRIBUTE = "_viz_scope"


@dataclass(eq=False)
class Scope:
    """One call of a module's ``forward``: a box in the picture."""

    name: str                     # the module's path in the model, e.g. "features.0"
    kind: str                     # the module's class name ("" when unknown)
    call: int = 0                 # which call of that module (0 for the first)
    parent: "Scope | None" = None


@dataclass(eq=False)
class Vertex:
    """A node of the picture: an op, a leaf tensor, an output, an elided chain or a note."""

    key: str                      # the DOT identifier
    kind: str                     # "op", "param", "leaf", "output", "ellipsis" or "note"
    label: str
    seq: int = -1                 # creation order of ops (capping keeps the latest)
    scope: Scope | None = None
    tooltip: str = ""
    gradient: object = None       # a leaf's total gradient, shown when it fans out


@dataclass(eq=False)
class Arrow:
    """An edge of the picture, in the forward direction (``tail`` feeds ``head``)."""

    tail: Vertex
    head: Vertex
    shape: tuple
    dtype: object
    value: object = None          # ndarray or None (not retained)
    gradient: object = None       # ndarray or None
    caption: str | None = None    # replaces value and gradient (arrows standing for several)


@dataclass
class Picture:
    vertices: list
    arrows: list
    retained: bool                # whether forward values were retained (else: shapes only)
    notes: list = field(default_factory=list)


# ------------------------------------------------------------------------------ module scopes

class record_modules:
    """Context manager: tag every node a submodule's ``forward`` creates with that module.

    ``draw_graph`` then draws one box per module call (nested like the modules). Forward hooks
    record the node counter before and after each call; the nodes created in between, and not
    already claimed by an inner module, belong to the module.

    Args:
        model: the ``nn.Module`` whose submodules are recorded (the model itself is not boxed).

    Example:
        >>> import locograd as lg
        >>> model = lg.nn.Sequential(lg.nn.Linear(3, 4), lg.nn.Tanh(), lg.nn.Linear(4, 2))
        >>> with lg.viz.record_modules(model):
        ...     loss = model(lg.ones(5, 3)).sum()
        >>> picture = lg.viz.draw_graph(loss, params=model)
        >>> 'label="0 (Linear)"' in picture.source
        True
    """

    def __init__(self, model):
        if not isinstance(model, Module):
            raise TypeError(f"record_modules: expected an nn.Module, got {type(model).__name__}")
        self.model = model
        self._handles = []
        self._stack = []
        self._calls = Counter()

    def __enter__(self):
        for name, module in self.model.named_modules():
            if not name:
                continue
            self._handles.append(module.register_forward_pre_hook(partial(self._enter, name)))
            self._handles.append(module.register_forward_hook(partial(self._exit, name)))
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._stack.clear()
        return False

    def _enter(self, name, module, args):
        parent = self._stack[-1][0] if self._stack else None
        scope = Scope(name, type(module).__name__, self._calls[name], parent)
        self._calls[name] += 1
        # Consuming a number of the node counter is harmless: only the order matters.
        self._stack.append((scope, _graph.sequence_mark()))

    def _exit(self, name, module, args, output):
        if not self._stack or self._stack[-1][0].name != name:
            return  # a forward that raised left the stack unbalanced: give up on this call
        scope, start = self._stack.pop()
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        stack = [t.grad_fn for t in outputs
                 if isinstance(t, TensorBase) and t.grad_fn is not None]
        seen = set()
        while stack:
            node = stack.pop()
            if node in seen or node._seq <= start:
                continue  # created before this call: so were all of its inputs
            seen.add(node)
            if SCOPE_ATTRIBUTE not in node.__dict__:  # inner modules tag their nodes first
                node.__dict__[SCOPE_ATTRIBUTE] = scope
            stack.extend(e[0] for e in node._next if e is not None and isinstance(e[0], Function))


# ------------------------------------------------------------------------------ collecting

def parameter_names(params) -> dict:
    """``id(tensor) -> name`` from a dict of tensors or a Module (None: no names)."""
    if params is None:
        return {}
    if isinstance(params, Module):
        params = dict(params.named_parameters())
    if not isinstance(params, dict):
        raise TypeError(f"draw_graph: params must be a dict name -> tensor or an nn.Module, got "
                        f"{type(params).__name__}")
    names = {}
    for name, tensor in params.items():
        if not isinstance(tensor, TensorBase):
            raise TypeError(f"draw_graph: params[{name!r}] is a {type(tensor).__name__}, "
                            f"not a tensor")
        names.setdefault(id(tensor), str(name))
    return names


def _resolve(source, output_nr):
    """Follow identity nodes of module backward hooks back to the real producer."""
    while _graph.is_hook_node(source):
        edge = source._next[output_nr + 1]  # input 0 of the identity is its callback
        source, output_nr = edge[0], edge[1]
    return source, output_nr


def collect(outputs, names: dict, leaf_gradients=None) -> Picture:
    """The full picture of the graph of ``outputs`` (no elision, no cap, no clusters yet)."""
    roots = []
    for i, out in enumerate(outputs):
        if not isinstance(out, TensorBase):
            raise TypeError(f"draw_graph: expected tensors, got {type(out).__name__}")
        if out.grad_fn is None:
            raise ValueError(
                f"draw_graph: output {i} (shape {tuple(out.data.shape)}) has no graph: it is a "
                f"leaf or was computed without requires_grad (or under no_grad()); draw the "
                f"result of operations on tensors that require grad")
        roots.append(_resolve(out.grad_fn, out._output_nr) + (out,))
    ops = {}
    vertices = []
    for node in reversed(_graph.nodes(*outputs)):  # forward order
        if _graph.is_hook_node(node):
            continue
        scope = node.__dict__.get(SCOPE_ATTRIBUTE)
        vertex = Vertex(f"n{node._seq}", "op", node.label, node._seq, scope,
                        tooltip=f"{node.label} (node {node._seq})")
        ops[node] = vertex
        vertices.append(vertex)
    retained = any(_graph.value_of(node) is not None for node in ops)

    leaves = {}
    arrows = []
    for edge in sorted(_graph.edges(*outputs), key=lambda e: (e.consumer._seq, e.index)):
        if _graph.is_hook_node(edge.consumer):
            continue
        source, output_nr = _resolve(edge.source, edge.output_nr)
        if isinstance(source, Function):
            tail = ops[source]
        else:
            tail = leaves.get(id(source))
            if tail is None:
                name = names.get(id(source))
                tail = Vertex(f"l{len(leaves)}", "param" if name else "leaf", name or "leaf",
                              tooltip=f"{name or 'leaf'}: shape {tuple(source.data.shape)}, "
                                      f"{source.data.dtype}")
                if leaf_gradients is not None:
                    tail.gradient = leaf_gradients.get(id(source))
                elif source.grad is not None:
                    tail.gradient = source.grad.data
                leaves[id(source)] = tail
                vertices.append(tail)
        real = _graph.Edge(source, output_nr, edge.consumer, edge.index, edge.shape, edge.dtype)
        arrows.append(Arrow(tail, ops[edge.consumer], tuple(edge.shape), edge.dtype,
                            real.value if retained else None, real.gradient))
    for i, (node, output_nr, out) in enumerate(roots):
        label = names.get(id(out), "output" if len(roots) == 1 else f"output {i}")
        vertex = Vertex(f"out{i}", "output", label)
        vertices.append(vertex)
        arrows.append(Arrow(ops[node], vertex, tuple(out.data.shape), out.data.dtype,
                            _graph.value_of(node, output_nr) if retained else None,
                            _graph.gradient_of(node, output_nr)))
    # A leaf's total gradient is news only where it fans out (else its one edge shows it).
    fan_out = Counter(a.tail for a in arrows)
    for vertex in leaves.values():
        if fan_out[vertex] < 2 or not any(a.gradient is not None for a in arrows
                                          if a.tail is vertex):
            vertex.gradient = None
    return Picture(vertices, arrows, retained)


# ------------------------------------------------------------------------------ readability

def group_by_parameters(picture: Picture) -> None:
    """Without recorded module scopes: box each op that reads the parameters of one module
    (``fc1.weight`` and ``fc1.bias`` -> box ``fc1``)."""
    if any(v.scope is not None for v in picture.vertices):
        return
    scopes = {}
    owners = {}
    for arrow in picture.arrows:
        if arrow.tail.kind == "param" and arrow.head.kind == "op":
            owners.setdefault(arrow.head, set()).add(arrow.tail.label.rpartition(".")[0])
    for op, paths in owners.items():
        if len(paths) == 1 and "" not in paths:
            (path,) = paths
            op.scope = scopes.setdefault(path, Scope(path, ""))


def place_parameters(picture: Picture) -> None:
    """Put each parameter into the box of its module when that module has exactly one box."""
    boxes = {}
    for vertex in picture.vertices:
        if vertex.scope is not None:
            boxes.setdefault(vertex.scope.name, set()).add(vertex.scope)
    for vertex in picture.vertices:
        if vertex.kind == "param":
            found = boxes.get(vertex.label.rpartition(".")[0], ())
            if len(found) == 1:
                vertex.scope = next(iter(found))


def _repeats(labels: list, min_repeats: int, max_period: int = 6) -> list:
    """``(start, period, count)`` of runs where a block of ``period`` labels repeats at least
    ``min_repeats`` times in a row (greedy, left to right, the longest run first)."""
    runs = []
    i, n = 0, len(labels)
    while i < n:
        best = None
        for period in range(1, max_period + 1):
            count = 1
            while i + (count + 1) * period <= n and \
                    labels[i + count * period:i + (count + 1) * period] == labels[i:i + period]:
                count += 1
            if count >= min_repeats and (best is None or count * period > best[0] * best[1]):
                best = (period, count)
        if best is None:
            i += 1
        else:
            runs.append((i, best[0], best[1]))
            i += best[0] * best[1]
    return runs


def elide_chains(picture: Picture, min_repeats: int) -> int:
    """Replace the middle of each long repeated chain of ops by one "... N x op ..." vertex.

    A chain is a path of ops where each feeds only the next and the next has no other op input
    (leaves such as weights may join it). The first and last blocks of a run stay visible.
    Returns the number of op vertices hidden.
    """
    if not min_repeats or min_repeats < 3:
        return 0
    op_inputs = {}
    out_count = Counter()
    for arrow in picture.arrows:
        out_count[arrow.tail] += 1
        if arrow.tail.kind == "op":
            op_inputs.setdefault(arrow.head, []).append(arrow.tail)
    successor = {}
    for head, tails in op_inputs.items():
        if head.kind == "op" and len(tails) == 1 and out_count[tails[0]] == 1:
            successor[tails[0]] = head
    has_predecessor = set(successor.values())
    hidden_ops = {}   # vertex -> the ellipsis vertex replacing it
    elided = 0
    for start in [v for v in picture.vertices if v.kind == "op" and v not in has_predecessor]:
        chain = [start]
        while chain[-1] in successor:
            chain.append(successor[chain[-1]])
        labels = [v.label for v in chain]
        for first, period, count in _repeats(labels, min_repeats):
            middle = chain[first + period:first + (count - 1) * period]
            block = labels[first:first + period]
            what = block[0] if period == 1 else "(" + ", ".join(block) + ")"
            scopes = {v.scope for v in middle}
            ellipsis = Vertex(f"e{middle[0].key}", "ellipsis",
                              f"... {count - 2} x {what} ...", middle[-1].seq,
                              scopes.pop() if len(scopes) == 1 else None,
                              tooltip=f"{len(middle)} ops not shown")
            for v in middle:
                hidden_ops[v] = ellipsis
            elided += len(middle)
    if not hidden_ops:
        return 0
    arrows = []
    for arrow in picture.arrows:
        tail_hidden, head_hidden = arrow.tail in hidden_ops, arrow.head in hidden_ops
        if tail_hidden and head_hidden:
            continue
        if head_hidden:
            if arrow.tail.kind != "op":
                continue  # a parameter of an elided layer
            arrow.head = hidden_ops[arrow.head]
        elif tail_hidden:
            arrow.tail = hidden_ops[arrow.tail]
        arrows.append(arrow)
    picture.arrows = arrows
    vertices, shown = [], set()
    for vertex in picture.vertices:
        vertex = hidden_ops.get(vertex, vertex)
        if vertex not in shown:  # an ellipsis stands where its first hidden op stood
            shown.add(vertex)
            vertices.append(vertex)
    picture.vertices = vertices
    _drop_unconnected(picture)
    picture.notes.append(f"{elided} ops of repeated chains elided")
    return elided


def cap(picture: Picture, max_nodes) -> int:
    """Keep the ``max_nodes`` ops nearest the output (latest created); earlier ones become one
    note vertex. Returns the number of ops not shown."""
    ops = [v for v in picture.vertices if v.kind in ("op", "ellipsis")]
    if max_nodes is None or len(ops) <= max_nodes:
        return 0
    if max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1, got {max_nodes}")
    ops.sort(key=lambda v: -v.seq)
    dropped = set(ops[max_nodes:])
    note = Vertex("cut", "note", f"{len(dropped)} earlier nodes not shown (max_nodes={max_nodes})")
    arrows, cut = [], {}
    for arrow in picture.arrows:
        if arrow.head in dropped:
            continue
        if arrow.tail in dropped:
            arrow.tail = note
            cut.setdefault(arrow.head, []).append(arrow)
        arrows.append(arrow)
    merged = set()
    for into in cut.values():  # one arrow per op from the note, however many it stands for
        if len(into) > 1:
            into[0].caption = f"{len(into)} inputs"
            merged.update(into[1:])
    picture.arrows = [a for a in arrows if a not in merged]
    picture.vertices = [note] + [v for v in picture.vertices if v not in dropped]
    _drop_unconnected(picture)
    picture.notes.append(f"{len(dropped)} earlier nodes not shown (max_nodes={max_nodes})")
    return len(dropped)


def _drop_unconnected(picture: Picture) -> None:
    """Remove leaves and notes no arrow touches any more."""
    touched = {a.tail for a in picture.arrows} | {a.head for a in picture.arrows}
    picture.vertices = [v for v in picture.vertices
                        if v in touched or v.kind not in ("param", "leaf", "note")]

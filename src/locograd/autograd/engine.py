"""The reverse-mode engine: walks the graph from the outputs back to the leaves.

Order: every node carries its creation number (``_seq``). A node's consumers are always created
after it, so running nodes in *decreasing* creation order (a max-heap) is a topological order of
the reversed graph: when a node runs, every consumer reachable from the roots has already
delivered its gradient, and a fan-out has summed what came back. No recursion, no dependency
pass: a chain of 100,000 ops is fine, and several roots are handled in one walk.

Gradient values: when the backward pass is not itself recorded (``create_graph=False``, the
common case) gradients flow between nodes as raw arrays of the tensors' backend (NumPy, CuPy),
and the ops' one rule (``Function.array_rule``) runs on them directly; a user's ``Function``
gets them wrapped as tensors. With ``create_graph=True`` every gradient is a tensor and every
node's ``backward`` is recorded: the same rule, now on tensors.

Gradients are reduced to each input's shape here, once (``_sum_to``), so op rules may return
their gradient in the broadcast shape. Saved tensors are released as the walk goes unless
``retain_graph``.
"""
from __future__ import annotations

import heapq
import os
import threading
import traceback

import numpy as np

from .function import RELEASED, Function
from .grad_mode import debug_state as _debug
from .grad_mode import state as _state
from ..backend import namespace
from .tensor_base import PostAccumulateGradHook, TensorBase, new_tensor

__all__ = ["backward", "grad"]

_ndarray = np.ndarray
_heappush = heapq.heappush
_heappop = heapq.heappop
# Frames inside the package are the library's; anomaly mode points at the first frame outside.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves (PyTorch semantics).

    Args:
        tensors: a tensor or a sequence of tensors to differentiate.
        grad_tensors: the matching upstream gradients (``None`` for scalars: 1).
        retain_graph: keep saved tensors for another backward (default: ``create_graph``).
        create_graph: record the backward pass so that its result can be differentiated again.
        inputs: accumulate only into these tensors' ``.grad`` (leaves or intermediate tensors).
    """
    tensors = _as_tuple(tensors)
    grads = _make_grads(tensors, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        _run(tensors, grads, retain_graph, create_graph, None)
        return
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("backward: 'inputs' was given but is empty")
    captured = _run(tensors, grads, retain_graph, create_graph, inputs)
    stored = set()
    for t, g in zip(inputs, captured):
        # A non-leaf input that retains its grad got it from its retain hook already.
        if g is not None and not (t.grad_fn is not None and t.retains_grad):
            _accumulate_into_leaf(t, g, create_graph, stored)
            if t.grad_fn is None and t._hooks:
                _post_accumulate(t)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) without touching any ``.grad`` (``torch.autograd.grad``).

    Args:
        outputs: tensor(s) to differentiate.
        inputs: tensor(s) to differentiate with respect to (leaves or intermediate tensors).
        grad_outputs: upstream gradients, one per output (``None`` for scalar outputs).
        retain_graph: keep the graph for another pass (default: ``create_graph``).
        create_graph: record the computation of the gradients, for higher-order derivatives.
        allow_unused: return ``None`` for inputs the outputs do not depend on, instead of raising.
        materialize_grads: return zeros instead of ``None`` for unused inputs.

    Returns:
        A tuple with one gradient per input.

    Example:
        >>> import locograd as lg
        >>> x = lg.tensor(3.0, requires_grad=True)
        >>> (g,) = lg.grad(x ** 3, x, create_graph=True)
        >>> (gg,) = lg.grad(g, x)
        >>> float(g), float(gg)
        (27.0, 18.0)
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, TensorBase) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad; call .requires_grad_() "
                               f"on it before building the graph")
    grads = _make_grads(outputs, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    result = _run(outputs, grads, retain_graph, create_graph, inputs)
    out = []
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None:
            if materialize_grads:
                g = new_tensor(namespace(t.data).zeros_like(t.data))
            elif not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {tuple(t.data.shape)}) was not used in the graph of "
                    f"the outputs; pass allow_unused=True to get None for it")
        out.append(g)
    return tuple(out)


# ---------------------------------------------------------------------------- helpers

def _as_tuple(x) -> tuple:
    if isinstance(x, TensorBase):
        return (x,)
    if x is None:
        return ()
    return tuple(x)


def _make_grads(tensors, grad_tensors, where):
    """The root gradients, checked against the roots' shapes (as tensors)."""
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, (TensorBase, _ndarray)):
        grad_tensors = [grad_tensors]
    grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"{where}: got {len(tensors)} tensors but {len(grad_tensors)} gradients")
    out = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not isinstance(t, TensorBase):
            raise TypeError(f"{where}: expected tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(
                f"{where}: element {i} of the tensors does not require grad and does not have a "
                f"grad_fn (it was not computed from a tensor with requires_grad=True, or it was "
                f"computed under no_grad())")
        if g is None:
            if t.data.size != 1:
                raise RuntimeError(
                    f"{where}: grad can be implicitly created only for scalar outputs, but the "
                    f"output has shape {tuple(t.data.shape)}. Pass the upstream gradient, e.g. "
                    f"y.backward(gradient=lg.ones_like(y)) to differentiate y.sum(), or reduce "
                    f"the output to a scalar first.")
            g = new_tensor(namespace(t.data).ones_like(t.data))
        else:
            if not isinstance(g, TensorBase):
                g = new_tensor(namespace(t.data).asarray(g, dtype=t.data.dtype))
            if g.data.shape != t.data.shape:
                raise RuntimeError(
                    f"{where}: the gradient for output {i} has shape {tuple(g.data.shape)} but the "
                    f"output has shape {tuple(t.data.shape)}")
            if g.data.dtype != t.data.dtype:
                g = new_tensor(g.data.astype(t.data.dtype)) if not g.requires_grad \
                    else g.to(t.data.dtype)
        out.append(g)
    return out


def _array(g):
    """A gradient value that is not a tensor as an array (numbers become 0-d NumPy arrays)."""
    return g if type(g) is _ndarray or hasattr(g, "shape") and not isinstance(g, np.generic) \
        else np.asarray(g)


def _as_value(g, create_graph):
    """A gradient as the engine's value type: a tensor when recording, else an array."""
    if create_graph:
        return g if isinstance(g, TensorBase) else new_tensor(_array(g))
    return g.data if isinstance(g, TensorBase) else _array(g)


def _as_tensor(g):
    if g is None or isinstance(g, TensorBase):
        return g
    return new_tensor(_array(g))


def _fit(g, shape, dtype, node, index, create_graph):
    """Check a gradient against its input's shape and dtype; unbroadcast and cast as needed."""
    if not isinstance(g, (TensorBase, _ndarray)) and not hasattr(g, "shape"):
        if not isinstance(g, (np.generic, float, int)):
            raise TypeError(f"{node.label}.backward returned a {type(g).__name__} as the "
                            f"gradient of input {index}; expected a Tensor or None")
    g = _as_value(g, create_graph)
    gshape = g.shape
    if gshape != shape:
        lead = len(gshape) - len(shape)
        if lead < 0 or not all(s == 1 or s == gs for s, gs in zip(shape, gshape[lead:])):
            raise RuntimeError(
                f"{node.label} backward: the gradient for input {index} has shape "
                f"{tuple(gshape)}, which does not reduce to the input's shape {tuple(shape)}")
        if create_graph:
            g = g.sum_to_size(shape)
        else:
            axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                              if s == 1 and gshape[lead + i] != 1)
            g = g.sum(axis=axes, keepdims=True) if axes else g
            if lead:
                g = g.reshape(shape)
    if g.dtype != dtype:
        g = g.to(dtype) if create_graph else g.astype(dtype)
    return g


def _check_anomaly(node, grads):
    for i, g in enumerate(grads):
        if g is None:
            continue
        d = g.data if isinstance(g, TensorBase) else _array(g)
        xp = namespace(d)
        if d.dtype.kind in "fc" and not bool(xp.all(xp.isfinite(d))):
            where = ""
            if node._trace:
                user = [f for f in node._trace if not f.filename.startswith(_PACKAGE_DIR)]
                if user:
                    f = user[-1]
                    where = f"\nIt was created in your code at {f.filename}:{f.lineno}, in " \
                            f"{f.name}: {f.line}"
                where += "\nThe operation was created at (most recent call last):\n" + "".join(
                    traceback.format_list(node._trace[-8:]))
            bad = "NaN" if bool(xp.isnan(d).any()) else "Inf"
            raise RuntimeError(
                f"detect_anomaly: function '{node.label}Backward' returned {bad} values in its "
                f"output {i} (the gradient for its input {i}, shape {tuple(d.shape)}).{where}")


def _run(roots, root_grads, retain_graph, create_graph, inputs):
    """Run the backward pass.

    Without ``inputs``, gradients are accumulated into the leaves' ``.grad``. With ``inputs``,
    nothing is accumulated: the gradients flowing into those tensors are returned (one per
    input, ``None`` where none arrives), and only the nodes that lead to them run.
    """
    capture = needed = None
    captured = []
    if inputs is not None:
        capture = {}
        for i, t in enumerate(inputs):
            key = (t.grad_fn, t._output_nr) if t.grad_fn is not None else (t, 0)
            capture.setdefault(key, []).append(i)
        captured = [None] * len(inputs)
        needed = _needed_nodes(roots, capture)

    buffers = {}   # node -> gradient (single output) or list of gradients; leaf -> gradient
    heap = []      # (-seq, node) of the nodes that have received a gradient
    leaves = []    # leaves that have received a gradient, in order of first arrival
    for t, g in zip(roots, root_grads):
        _deliver(buffers, heap, leaves, t.grad_fn or t, t._output_nr,
                 _as_value(g, create_graph), create_graph)

    prev_mode = _state.enabled
    _state.enabled = create_graph
    anomaly = _debug.anomaly
    general = anomaly or create_graph
    # With ``inputs``, the fast path serves the needed nodes whose own output gradient is not
    # captured (those go through ``_pre_backward``): ``grad()`` and gradcheck run the array rule.
    fast_nodes = None if capture is None else \
        needed - {key[0] for key in capture if isinstance(key[0], Function)}
    fast = not general and fast_nodes is None
    # ``upcoming`` is the node to run next when it is known without the heap: a first delivery
    # to a node that outranks everything in the heap (the common case of a chain) skips a push
    # and a pop. It always holds the highest pending creation number outside the heap.
    upcoming = None
    try:
        while heap or upcoming is not None:
            if upcoming is not None:
                node, upcoming = upcoming, None
            else:
                node = _heappop(heap)[1]
            gout = buffers.pop(node)
            rule = node._rule
            if rule is not None and node._hooks_ is None and \
                    (fast or not general and node in fast_nodes):
                # Fast path: arrays in, arrays out (missing outputs of a multi-output node as
                # zeros, as ``backward`` would see them).
                if type(gout) is list:
                    gin = rule(node, *_zero_filled(node, gout))
                else:
                    gin = rule(node, gout)
                if type(gin) is not tuple:
                    gin = (gin,)
            else:
                gouts = _pre_backward(node, gout, capture, captured, create_graph)
                if needed is not None and node not in needed:
                    continue  # not run, so its saved tensors stay for a later backward
                gin = _call_backward(node, gouts, anomaly, create_graph)
            if not retain_graph and node._saved is not None:
                node._saved = RELEASED
            if gin is None:
                continue
            edges = node._next
            if len(gin) != len(edges):
                gin = _check_count(node, gin)
            i = -1
            for edge in edges:
                i += 1
                if edge is None:
                    continue
                g = gin[i]
                if g is None:
                    continue
                target, nr, shape, dtype = edge
                if type(g) is not _ndarray or g.shape != shape or g.dtype is not dtype:
                    g = _fit(g, shape, dtype, node, i, create_graph)
                # Deliver (inlined for the common case: a single-output node, first gradient).
                if isinstance(target, Function) and target._out_meta is None \
                        and target not in buffers:
                    buffers[target] = g
                    seq = target._seq
                    if upcoming is None:
                        if not heap or -heap[0][0] < seq:
                            upcoming = target
                            continue
                    elif seq > upcoming._seq:
                        target, upcoming = upcoming, target
                        seq = target._seq
                    _heappush(heap, (-seq, target))
                else:
                    if upcoming is not None:  # _deliver may push: keep the heap complete
                        _heappush(heap, (-upcoming._seq, upcoming))
                        upcoming = None
                    _deliver(buffers, heap, leaves, target, nr, g, create_graph)

        # ---- leaves: run their hooks once on the summed gradient, then accumulate or capture.
        stored = {id(g) for g in root_grads} | {id(g.data) for g in root_grads}
        for leaf in leaves:
            g = _as_tensor(buffers.pop(leaf))
            if leaf._hooks:
                for hook in leaf._hooks:
                    if type(hook) is PostAccumulateGradHook:
                        continue
                    r = hook(g)
                    if r is not None:
                        g = _checked_hook_result(r, g, leaf, hook)
            if capture is None:
                _accumulate_into_leaf(leaf, g, create_graph, stored)
                if leaf._hooks:
                    _post_accumulate(leaf)
            else:
                for k in capture.get((leaf, 0), ()):
                    captured[k] = g
    finally:
        _state.enabled = prev_mode
    return captured


def _deliver(buffers, heap, leaves, target, nr, g, create_graph):
    """Add gradient ``g`` for output ``nr`` of ``target`` (a node or a leaf) to its buffer."""
    old = buffers.get(target)
    if isinstance(target, Function):
        meta = target._out_meta
        if meta is None:  # single output
            if old is None:
                buffers[target] = g
                _heappush(heap, (-target._seq, target))
            else:
                buffers[target] = old + g
            return
        if old is None:
            old = buffers[target] = [None] * len(meta)
            _heappush(heap, (-target._seq, target))
        old[nr] = g if old[nr] is None else old[nr] + g
    elif old is None:
        buffers[target] = g
        leaves.append(target)
    else:
        buffers[target] = old + g


def _needed_nodes(roots, capture):
    """The nodes whose backward must run for the captured inputs to receive their gradients."""
    targets = {key[0] for key in capture}
    reach = {}
    stack = [t.grad_fn for t in roots if t.grad_fn is not None]
    while stack:
        node = stack[-1]
        if node in reach:
            stack.pop()
            continue
        pending = False
        for edge in node._next:
            if edge is not None and isinstance(edge[0], Function) and edge[0] not in reach:
                stack.append(edge[0])
                pending = True
        if pending:
            continue
        reach[node] = any(edge is not None and (edge[0] in targets or reach.get(edge[0], False))
                          for edge in node._next)
        stack.pop()
    return {node for node, r in reach.items() if r}


def _check_count(node, gin):
    n_in = len(node._next)
    if len(gin) > n_in and all(g is None for g in gin[n_in:]):
        return gin[:n_in]
    raise RuntimeError(
        f"{node.label}.backward returned {len(gin)} gradients, but its forward took "
        f"{n_in} arguments: return one gradient (or None) per forward argument")


def _zero_filled(node, gouts: list) -> list:
    """The output gradients of a multi-output node as arrays, zeros where none arrived (on the
    device of a gradient that did arrive)."""
    xp = None
    out = []
    for k, g in enumerate(gouts):
        if g is None and node._out_meta[k] is not None:
            if xp is None:
                xp = namespace(next(v for v in gouts if v is not None))
            shape, dtype = node._out_meta[k]
            g = xp.zeros(shape, dtype)
        out.append(g)
    return out


def _pre_backward(node, gout, capture, captured, create_graph):
    """Gradients of the node's outputs as tensors: materialised zeros for missing outputs,
    tensor hooks and pre-hooks applied, captured for ``grad(inputs=...)``."""
    if type(gout) is list:
        gouts = [_as_tensor(g) for g in gout]
        if node.__dict__.get("_materialize", True):
            arrived = next((g.data for g in gouts if g is not None), None)
            for k, g in enumerate(gouts):
                if g is None and node._out_meta[k] is not None and arrived is not None:
                    shape, dtype = node._out_meta[k]
                    gouts[k] = new_tensor(namespace(arrived).zeros(shape, dtype))
    else:
        gouts = [_as_tensor(gout)]
    hooks = node._hooks_
    if hooks:
        for k in range(len(gouts)):
            if gouts[k] is None:
                continue
            retain = None
            for hook in hooks.get(("tensor", k), ()):
                if getattr(hook, "_retains", None) is not None:
                    retain = hook  # runs last: .grad is the gradient after every hook
                    continue
                r = hook(gouts[k])
                if r is not None:
                    gouts[k] = _checked_hook_result(r, gouts[k], node, hook, k)
            if retain is not None:
                retain(gouts[k])
        for hook in hooks.get("pre", ()):
            r = hook(tuple(gouts))
            if r is not None:
                gouts = list(r)
    if capture is not None:
        for k, g in enumerate(gouts):
            for j in capture.get((node, k), ()):
                captured[j] = g
    return gouts


def _call_backward(node, gouts, anomaly, create_graph):
    """Run the node's backward and its post-hooks; return one gradient per input.

    An array rule gets arrays whenever the pass is not recorded (hooks see tensors either
    way), and tensors under ``create_graph``."""
    if not create_graph and node._rule is not None:
        gin = node._rule(node, *[g.data if isinstance(g, TensorBase) else g for g in gouts])
    else:
        gin = type(node).backward(node, *gouts)
    if type(gin) is not tuple:
        gin = (gin,)
    if len(gin) != len(node._next):
        gin = _check_count(node, gin)
    hooks = node._hooks_
    if hooks and hooks.get("post"):
        gin = tuple(_as_tensor(g) for g in gin)
        for hook in hooks["post"]:
            r = hook(gin, tuple(gouts))
            if r is not None:
                gin = tuple(r)
    if anomaly and _debug.check_nan:
        _check_anomaly(node, gin)
    return gin


def _post_accumulate(leaf):
    """Run the leaf's ``register_post_accumulate_grad_hook`` hooks (its ``.grad`` is final)."""
    for hook in tuple(leaf._hooks):
        if type(hook) is PostAccumulateGradHook:
            hook.function(leaf)


def _checked_hook_result(result, grad, owner, hook, output_nr=0):
    """A tensor hook's replacement gradient, checked where it is returned: a tensor of the
    gradient's shape (a hook that changes the shape would corrupt ``.grad`` or blame the next
    node)."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if isinstance(owner, Function):
        whose = f"output {output_nr} of {owner.label}"
    else:
        whose = f"the leaf tensor of shape {tuple(owner.data.shape)}"
    if not isinstance(result, TensorBase):
        raise TypeError(f"hook {name!r} registered on {whose} returned a "
                        f"{type(result).__name__}; a tensor hook must return None or a tensor")
    if result.data.shape != grad.data.shape:
        raise RuntimeError(f"hook {name!r} registered on {whose} returned a gradient of shape "
                           f"{tuple(result.data.shape)}, but the gradient has shape "
                           f"{tuple(grad.data.shape)}")
    return result


# One lock for every accumulation into a leaf's ``.grad``: two threads backpropagating into a
# shared leaf (PyTorch's engine guarantees this too) must not lose each other's updates.
_accumulate_lock = threading.Lock()


def _accumulate_into_leaf(leaf, g, create_graph, stored):
    """``leaf.grad += g`` with PyTorch semantics, never aliasing one buffer into two ``.grad``;
    safe across threads."""
    with _accumulate_lock:
        _accumulate_unlocked(leaf, g, create_graph, stored)


def _accumulate_unlocked(leaf, g, create_graph, stored):
    old = leaf.grad
    if old is None:
        if create_graph:
            leaf.grad = g
            return
        data = g.data
        if id(g) in stored or id(data) in stored or data.base is not None \
                or not getattr(data.flags, "writeable", True) or not data.flags.c_contiguous:
            g = new_tensor(data.copy(order="C"))
        stored.add(id(g))
        stored.add(id(g.data))
        leaf.grad = g
    elif create_graph or old.requires_grad or g.requires_grad:
        leaf.grad = old + g
    elif getattr(old.data.flags, "writeable", True) and old.data.shape == g.data.shape:
        od = old.data
        od += g.data
    else:
        leaf.grad = new_tensor(old.data + g.data)

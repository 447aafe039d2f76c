"""``locograd.viz``: pictures of the computational graph, with values and gradients on the edges.

Nodes are operations (their ``label``) and leaf tensors (named after the parameters they are);
each edge carries the forward value on top and the gradient below it, as in the classic
backpropagation diagrams. ``draw_graph`` returns a ``Graph`` whose ``.source`` is DOT text (no
dependency); ``.save('g.svg')``/``.render('png')`` call Graphviz's ``dot`` program; in Jupyter
the graph displays itself.

Values and gradients appear when they were retained: run the forward and backward passes inside
``lg.autograd.graph.retain_values()``, or let ``trace`` do it. Otherwise the picture shows the
structure with shapes.

Example:
    >>> import locograd as lg
    >>> x, y, z = (lg.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    >>> with lg.autograd.graph.retain_values():
    ...     f = (x + y) * z
    ...     f.backward()
    >>> picture = lg.viz.draw_graph(f, params={"x": x, "y": y, "z": z})
    >>> picture.save("f.dot")  # doctest: +SKIP
    >>> picture.save("f.svg")  # needs Graphviz (apt install graphviz)  # doctest: +SKIP
"""
from __future__ import annotations

import inspect
from contextlib import nullcontext

from ..autograd import graph as _graph
from ..autograd.engine import grad as _grad
from ..autograd.tensor_base import TensorBase
from ..factory import ones_like
from ..nn.module import Module
from . import _collect
from ._collect import record_modules
from ._dot import GRADIENT_COLOR, VALUE_COLOR, Graph, GraphvizNotFoundError, format_array, to_dot

__all__ = ["draw_graph", "trace", "record_modules", "Graph", "GraphvizNotFoundError",
           "format_array", "VALUE_COLOR", "GRADIENT_COLOR"]


def draw_graph(output, params=None, show_values: bool = True, show_grads: bool = True,
               max_nodes: int | None = 150, group_modules: bool = True, elide_repeats: int = 5,
               show_elements: int = 6) -> Graph:
    """Draw the graph that computed ``output``.

    Args:
        output: a tensor computed with autograd (or a list of them).
        params: names for leaf tensors: a dict ``name -> tensor`` (e.g.
            ``dict(model.named_parameters())`` or ``{"x": x}``) or an ``nn.Module``. A tensor
            in the dict that is an output names that output.
        show_values: write the forward values (or, if not retained, the shapes) on the edges.
        show_grads: write the gradients under the values, where they were retained.
        max_nodes: at most this many op nodes, the ones nearest the output; the earlier ones
            become one note (None: no cap).
        group_modules: draw a box around the nodes of each module: exact when the forward ran
            inside ``record_modules(model)`` (``trace`` does it), else one box per module whose
            parameters an op reads.
        elide_repeats: a chain of ops in which a block of 1-6 ops repeats at least this many
            times shows its first and last blocks and one "... N x op ..." node (0: never).
        show_elements: tensors with at most this many elements are written in full; larger ones
            as shape, mean and standard deviation.

    Returns:
        A ``Graph``: ``.source`` (DOT text), ``.save(path)``, ``.render(format)``.

    Example:
        >>> import locograd as lg
        >>> w = lg.tensor([1.0, -2.0], requires_grad=True)
        >>> x = lg.tensor([3.0, 0.5])
        >>> with lg.autograd.graph.retain_values():
        ...     loss = (w * x).sum()
        ...     loss.backward()
        >>> "(2,) [3, -1]" in lg.viz.draw_graph(loss, params={"w": w}).source  # w*x, grad x
        True
    """
    return _draw(output, params, show_values, show_grads, max_nodes, group_modules,
                 elide_repeats, show_elements)


def _draw(output, params, show_values, show_grads, max_nodes, group_modules, elide_repeats,
          show_elements, leaf_gradients=None) -> Graph:
    outputs = tuple(output) if isinstance(output, (list, tuple)) else (output,)
    names = _collect.parameter_names(params)
    picture = _collect.collect(outputs, names, leaf_gradients)
    if group_modules:
        _collect.group_by_parameters(picture)  # only when no module scopes were recorded
        _collect.place_parameters(picture)
    else:
        for vertex in picture.vertices:
            vertex.scope = None
    _collect.elide_chains(picture, elide_repeats)
    _collect.cap(picture, max_nodes)
    return Graph(to_dot(picture, show_values, show_grads, show_elements), picture.notes)


def trace(fn, *inputs, params=None, **options) -> Graph:
    """Run ``fn(*inputs)`` and its backward pass with values retained, and draw the result.

    If ``fn`` is a Module (or ``params`` is), its submodules are recorded so that the picture
    boxes each module. A non-scalar result is differentiated as if summed (upstream gradient of
    ones). Nothing is accumulated into any ``.grad``: the picture is only looked at.

    Args:
        fn: a callable returning a tensor (e.g. a model, or ``lambda x: loss_fn(model(x), y)``).
        *inputs: its arguments.
        params: leaf names, as in ``draw_graph`` (default: ``fn`` itself when it is a Module).
        **options: the other arguments of ``draw_graph``.

    Returns:
        The ``Graph``.

    Example:
        >>> import locograd as lg
        >>> model = lg.nn.Sequential(lg.nn.Linear(3, 4), lg.nn.Tanh(), lg.nn.Linear(4, 2))
        >>> picture = lg.viz.trace(model, lg.ones(5, 3))
        >>> "0.weight" in picture.source and model[0].weight.grad is None
        True
    """
    if params is None and isinstance(fn, Module):
        params = fn
    try:  # check the options before running anything
        bound = inspect.signature(draw_graph).bind(None, params, **options)
    except TypeError as error:
        raise TypeError(f"trace: {error} (the options are draw_graph's)") from None
    bound.apply_defaults()
    recording = record_modules(params) if isinstance(params, Module) else nullcontext()
    with _graph.retain_values():
        with recording:
            out = fn(*inputs)
        if not isinstance(out, TensorBase):
            raise TypeError(f"trace: fn must return a tensor, got {type(out).__name__} (pick "
                            f"the tensor to draw, e.g. lambda x: model(x)[0])")
        if out.grad_fn is None:
            raise ValueError("trace: the result has no graph (nothing in fn requires grad)")
        leaves = {}
        for edge in _graph.edges(out):
            if isinstance(edge.source, TensorBase):
                leaves.setdefault(id(edge.source), edge.source)
        leaves = list(leaves.values())
        upstream = None if out.data.size == 1 else ones_like(out)
        gradients = _grad(out, leaves, upstream, allow_unused=True) if leaves else ()
    leaf_gradients = {id(leaf): g.data for leaf, g in zip(leaves, gradients) if g is not None}
    return _draw(out, *bound.args[1:], leaf_gradients=leaf_gradients)


draw_graph.trace = trace

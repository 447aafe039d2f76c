"""DOT text of a picture, and rendering it to SVG/PNG/PDF with Graphviz's ``dot`` program.

Edges follow the classic convention of backpropagation diagrams: the forward value on top (in
green), the gradient below it (in red), as a two-row HTML-like label.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess

import numpy as np

from ..backend.devices import device, to_device
from ._collect import Picture, Scope, Vertex

__all__ = ["Graph", "GraphvizNotFoundError", "VALUE_COLOR", "GRADIENT_COLOR", "format_array",
           "to_dot"]

VALUE_COLOR = "#1a7f37"      # forward values
GRADIENT_COLOR = "#cf222e"   # gradients
_RENDERED = ("svg", "png", "pdf")
_TEXT = ("dot", "gv")
_STYLES = {
    "op": 'shape=box, style="rounded,filled", fillcolor="#f3f4f6", color="#4b5563"',
    "param": 'shape=ellipse, style=filled, fillcolor="#dbeafe", color="#1d4ed8"',
    "leaf": 'shape=ellipse, style=filled, fillcolor="#f3f4f6", color="#6b7280"',
    "output": 'shape=plaintext, fontname="Helvetica-Bold"',
    "ellipsis": 'shape=box, style="rounded,dashed", color="#6b7280", fontcolor="#374151"',
    "note": 'shape=note, style=dashed, color="#9ca3af", fontcolor="#4b5563"',
}


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is needed (for SVG/PNG/PDF) and was not found on PATH."""


_CPU = device("cpu")


def format_array(array, show_elements: int = 6) -> str:
    """A short text for a value or gradient on an edge.

    Scalars (0-d) are numbers with 4 significant digits; tensors of at most ``show_elements``
    elements are their shape and values; larger ones their shape, mean and standard deviation.

    Example:
        >>> import numpy as np
        >>> format_array(np.float32(-4.0)), format_array(np.array([0.25, -1.5]))
        ('-4', '(2,) [0.25, -1.5]')
        >>> format_array(np.ones((32, 10)))
        '(32, 10) mean 1 ±0'
    """
    if not isinstance(array, (np.ndarray, np.generic, int, float, bool)) \
            and hasattr(array, "dtype"):
        # on a device: a few values are copied to the host for display; the mean and standard
        # deviation of many are computed where they are (two numbers come back)
        few = array.ndim == 0 or array.size <= show_elements or array.dtype.kind not in "fciub"
        a = to_device(array, _CPU) if few else array
    else:
        a = np.asarray(array)
    if a.ndim == 0:
        return _number(a.item(), 4)
    shape = "(" + ", ".join(str(s) for s in a.shape) + ("," if a.ndim == 1 else "") + ")"
    if a.size == 0:
        return shape + " empty"
    if a.size <= show_elements:
        return shape + " [" + ", ".join(_number(x, 3) for x in a.ravel().tolist()) + "]"
    if a.dtype.kind not in "fciub":
        return shape
    mean = float(a.mean(dtype=np.float64))
    std = float(a.std(dtype=np.float64))
    return f"{shape} mean {_number(mean, 2)} ±{_number(std, 2)}"


def _number(x, digits: int) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, complex):
        return f"{x:.{digits}g}"
    text = f"{float(x):.{digits}g}"
    return "0" if text == "-0" else text


def _shape_text(shape) -> str:
    if not shape:
        return "scalar"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(picture: Picture, show_values: bool, show_grads: bool, show_elements: int) -> str:
    """The DOT source of a picture: ``rankdir=LR``, one statement per line."""
    lines = ["digraph locograd {",
             '  graph [rankdir=LR, fontname="Helvetica", fontsize=10, nodesep=0.25, '
             'ranksep=0.45];',
             '  node [fontname="Helvetica", fontsize=10, height=0.3];',
             '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.6, color="#6b7280"];']
    if picture.notes:
        lines.append(f"  label={_quote('; '.join(picture.notes))}; labelloc=b;")
    children = {}
    for vertex in picture.vertices:
        scope = vertex.scope
        while scope is not None:  # make sure every enclosing box exists
            siblings = children.setdefault(scope.parent, [])
            if scope not in siblings:
                siblings.append(scope)
            scope = scope.parent
    calls = {}
    for scopes in children.values():
        for scope in scopes:
            calls[scope.name] = calls.get(scope.name, 0) + 1
    members = {}
    for vertex in picture.vertices:
        members.setdefault(vertex.scope, []).append(vertex)
    counter = [0]

    def emit(scope: Scope, indent: str) -> None:
        counter[0] += 1
        label = scope.name + (f" ({scope.kind})" if scope.kind else "")
        if calls.get(scope.name, 0) > 1:
            label += f" #{scope.call + 1}"
        lines.append(f"{indent}subgraph cluster_{counter[0]} {{")
        lines.append(f'{indent}  label={_quote(label)}; labelloc=t; style="rounded,dashed"; '
                     f'color="#9ca3af"; fontcolor="#4b5563";')
        for child in children.get(scope, ()):
            emit(child, indent + "  ")
        for vertex in members.get(scope, ()):
            lines.append(indent + "  " + _vertex_statement(vertex, show_grads, show_elements))
        lines.append(indent + "}")

    for scope in children.get(None, ()):
        emit(scope, "  ")
    for vertex in members.get(None, ()):
        lines.append("  " + _vertex_statement(vertex, show_grads, show_elements))
    for arrow in picture.arrows:
        rows = []
        if arrow.caption is not None:
            rows.append((arrow.caption, "#6b7280"))
        elif show_values:
            text = format_array(arrow.value, show_elements) if arrow.value is not None \
                else _shape_text(arrow.shape)
            rows.append((text, VALUE_COLOR if arrow.value is not None else "#6b7280"))
        if show_grads and arrow.gradient is not None and arrow.caption is None:
            rows.append((format_array(arrow.gradient, show_elements), GRADIENT_COLOR))
        attributes = [f"tooltip={_quote(_arrow_tooltip(arrow))}"]
        if rows:
            attributes.insert(0, "label=<" + _table(rows) + ">")
        lines.append(f"  {arrow.tail.key} -> {arrow.head.key} [{', '.join(attributes)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _table(rows) -> str:
    cells = "".join(f'<tr><td><font color="{color}">{html.escape(text)}</font></td></tr>'
                    for text, color in rows)
    return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{cells}</table>'


def _vertex_statement(vertex: Vertex, show_grads: bool, show_elements: int) -> str:
    if show_grads and vertex.gradient is not None:  # a leaf that fans out: its summed gradient
        grad = html.escape("grad " + format_array(vertex.gradient, show_elements))
        label = f'<{html.escape(vertex.label)}<br/><font color="{GRADIENT_COLOR}" ' \
                f'point-size="9">{grad}</font>>'
    else:
        label = _quote(vertex.label)
    tooltip = f", tooltip={_quote(vertex.tooltip)}" if vertex.tooltip else ""
    return f"{vertex.key} [label={label}, {_STYLES[vertex.kind]}{tooltip}];"


def _arrow_tooltip(arrow) -> str:
    return f"{arrow.tail.label} -> {arrow.head.label}: {_shape_text(arrow.shape)}, {arrow.dtype}"


# ------------------------------------------------------------------------------ rendering

def dot_program() -> str:
    """The path of Graphviz's ``dot``, or a clear error saying how to install it."""
    path = shutil.which("dot")
    if path is None:
        raise GraphvizNotFoundError(
            "draw_graph: rendering to SVG, PNG or PDF needs Graphviz's 'dot' program, which was "
            "not found on PATH. Install Graphviz: Debian/Ubuntu 'apt install graphviz', Fedora "
            "'dnf install graphviz', macOS 'brew install graphviz', conda 'conda install "
            "graphviz' (the pip package 'graphviz' alone does not include the program). "
            "Saving to .dot (or .gv) needs nothing: graph.save('graph.dot').")
    return path


class Graph:
    """A picture of a computational graph: DOT text, files and Jupyter display.

    Attributes:
        source: the DOT text (always available, no dependency).
        notes: what was elided or left out to keep the picture readable.

    Example:
        >>> import locograd as lg
        >>> x = lg.tensor(2.0, requires_grad=True)
        >>> picture = lg.viz.draw_graph((x * x).exp())
        >>> picture.source.startswith("digraph")
        True
    """

    def __init__(self, source: str, notes=()):
        self.source = source
        self.notes = list(notes)

    def render(self, format: str = "svg") -> bytes:  # noqa: A002  (graphviz's own name)
        """The picture as bytes: ``'svg'``, ``'png'`` or ``'pdf'`` through Graphviz's ``dot``
        (``'dot'``/``'gv'``: the DOT text itself)."""
        format = str(format).lower().lstrip(".")
        if format in _TEXT:
            return self.source.encode("utf-8")
        if format not in _RENDERED:
            raise ValueError(f"Graph.render: unsupported format {format!r}; use one of "
                             f"{', '.join(_RENDERED + _TEXT)}")
        result = subprocess.run([dot_program(), f"-T{format}"], input=self.source.encode("utf-8"),
                                capture_output=True, check=False)
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"Graph.render: 'dot -T{format}' failed (exit code "
                               f"{result.returncode}): {message}")
        return result.stdout

    def save(self, path) -> str:
        """Write the picture; the format follows the extension (.dot/.gv always work;
        .svg/.png/.pdf need Graphviz's ``dot``). Creates missing directories. Returns the path.
        """
        path = os.fspath(path)
        extension = os.path.splitext(path)[1].lower().lstrip(".")
        if extension not in _RENDERED + _TEXT:
            raise ValueError(f"Graph.save: cannot tell the format of {path!r} from its extension; "
                             f"use one of {', '.join('.' + e for e in _TEXT + _RENDERED)}")
        data = self.render(extension)
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "wb") as file:
            file.write(data)
        return path

    def _repr_svg_(self):
        if shutil.which("dot") is None:
            return None
        return self.render("svg").decode("utf-8")

    def _repr_markdown_(self):
        if shutil.which("dot") is not None:
            return None  # the SVG is shown instead
        return "```dot\n" + self.source + "```\n\n(install Graphviz to see the picture)"

    def __repr__(self):
        edges = len(re.findall(r"^\s*\w+ -> \w+ ", self.source, re.M))
        return f"<Graph: {self.source.count('shape=box,')} op nodes, {edges} edges>"

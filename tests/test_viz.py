"""Pictures of the computational graph (locograd.viz): DOT text, rendering, readability."""
import html
import re
import shutil

import numpy as np
import pytest

import locograd as lg
import locograd.viz as viz
from locograd.autograd.graph import retain_values
from locograd.nn import functional as F

HAS_DOT = shutil.which("dot") is not None
FONT = re.compile(r'<font color="(#[0-9a-f]{6})"[^>]*>(.*?)</font>')


def parse_dot(source):
    """``(labels, edges)``: node id -> label, and a list of (tail label, head label, value text,
    gradient text) read back from the DOT text."""
    labels = {}
    for key, label in re.findall(r'^\s*(\w+) \[label=("(?:[^"\\]|\\.)*"|<.*?>), ', source, re.M):
        text = label[1:-1] if label.startswith('"') else re.sub(r"<[^>]+>", "|", label[1:-1])
        labels[key] = html.unescape(text.split("|")[0])
    edges = []
    for tail, head, attributes in re.findall(r"^\s*(\w+) -> (\w+) \[(.*)\];$", source, re.M):
        fonts = {color: html.unescape(text) for color, text in FONT.findall(attributes)}
        edges.append((labels[tail], labels[head], fonts.get(viz.VALUE_COLOR),
                      fonts.get(viz.GRADIENT_COLOR)))
    return labels, edges


def textbook():
    x, y, z = (lg.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    return x, y, z


def test_textbook_example_carries_forward_values_and_gradients():
    x, y, z = textbook()
    with retain_values():
        f = (x + y) * z
        f.backward()
    labels, edges = parse_dot(viz.draw_graph(f, params={"x": x, "y": y, "z": z}).source)
    assert sorted(edges) == sorted([
        ("Add", "Mul", "3", "-4"),
        ("x", "Add", "-2", "-4"),
        ("y", "Add", "5", "-4"),
        ("z", "Mul", "-4", "3"),
        ("Mul", "output", "-12", "1"),
    ])
    assert sorted(labels.values()) == ["Add", "Mul", "output", "x", "y", "z"]


def test_values_and_gradients_can_each_be_left_out():
    x, y, z = textbook()
    with retain_values():
        f = (x + y) * z
        f.backward()
    names = {"x": x, "y": y, "z": z}
    _, edges = parse_dot(viz.draw_graph(f, params=names, show_grads=False).source)
    assert ("Add", "Mul", "3", None) in edges and ("z", "Mul", "-4", None) in edges
    _, edges = parse_dot(viz.draw_graph(f, params=names, show_values=False).source)
    assert ("Add", "Mul", None, "-4") in edges and ("z", "Mul", None, "3") in edges
    source = viz.draw_graph(f, params=names, show_values=False, show_grads=False).source
    assert "<font" not in source and "label=<" not in source
    # x fans out: its node carries the summed gradient y + 1 = 6, unless gradients are off
    assert "grad 6<" in viz.trace(lambda: x * y + x, params={"x": x, "y": y}).source
    fan_out = viz.trace(lambda: x * y + x, params={"x": x, "y": y}, show_grads=False)
    assert "grad 6<" not in fan_out.source


def test_trace_draws_the_same_numbers_and_leaves_grad_untouched():
    x, y, z = textbook()
    picture = viz.trace(lambda: (x + y) * z, params={"x": x, "y": y, "z": z})
    _, edges = parse_dot(picture.source)
    assert ("Add", "Mul", "3", "-4") in edges and ("z", "Mul", "-4", "3") in edges
    assert x.grad is None and z.grad is None
    assert viz.draw_graph.trace is viz.trace


def test_without_retained_values_the_structure_is_drawn_with_shapes():
    w = lg.ones(3, 2, requires_grad=True)
    loss = (lg.ones(4, 3) @ w).tanh().sum()
    loss.backward()
    _, edges = parse_dot(viz.draw_graph(loss, params={"w": w}).source)
    assert ("w", "MatMul") in [(t, h) for t, h, _, _ in edges]
    assert all(g is None for _, _, _, g in edges)  # nothing retained: no gradients either
    source = viz.draw_graph(loss, params={"w": w}).source
    assert "(3, 2)" in source and "(4, 2)" in source and ">scalar<" in source


def test_fan_out_shows_each_edge_gradient_and_the_leaf_total():
    x, y = lg.tensor(3.0, requires_grad=True), lg.tensor(-2.0, requires_grad=True)
    picture = viz.trace(lambda: x * y + x, params={"x": x, "y": y})
    _, edges = parse_dot(picture.source)
    assert ("x", "Mul", "3", "-2") in edges and ("x", "Add", "3", "1") in edges
    assert "grad -1<" in picture.source  # the sum y + 1, written in the x node
    assert '[label="y", ' in picture.source  # y has one edge: no total to add


def test_small_tensors_are_listed_and_large_ones_summarised():
    logits = lg.tensor([[2.0, 0.5, -1.0, 0.0]], requires_grad=True)
    picture = viz.trace(lambda: F.cross_entropy(logits, lg.tensor([2])),
                        params={"logits": logits})
    (edge,) = [e for e in parse_dot(picture.source)[1] if e[0] == "logits"]
    soft = np.exp(logits.data) / np.exp(logits.data).sum()
    expected = soft - np.eye(4, dtype=np.float32)[2]
    assert edge[3] == viz.format_array(expected)
    assert edge[3].startswith("(1, 4) [") and "-0.9" in edge[3]
    assert viz.format_array(np.full((32, 10), 0.5)) == "(32, 10) mean 0.5 ±0"
    assert viz.format_array(np.float32(-12.345678)) == "-12.35"


def test_module_backward_hook_nodes_are_folded_away():
    model = lg.nn.Sequential(lg.nn.Linear(3, 2), lg.nn.Tanh())
    model[1].register_full_backward_hook(lambda m, gi, go: None)
    x = lg.randn(4, 3, requires_grad=True)
    with retain_values():
        loss = model(x).sum()
        loss.backward()
    source = viz.draw_graph(loss, params=model).source
    _, edges = parse_dot(source)
    assert "BackwardHook" not in source
    (into_tanh,) = [e for e in edges if e[1] == "Tanh"]
    assert into_tanh[0] == "Linear" and into_tanh[3] is not None


def test_modules_are_boxed_with_their_parameters_when_traced():
    inner = lg.nn.Sequential(lg.nn.Linear(3, 3), lg.nn.Tanh())
    model = lg.nn.Sequential(inner, lg.nn.Linear(3, 1))
    source = viz.trace(model, lg.ones(2, 3)).source
    assert 'label="0 (Sequential)"' in source and 'label="0.0 (Linear)"' in source
    # the nested box sits inside its parent, and the weight inside the Linear's box
    outer = source.index('label="0 (Sequential)"')
    assert outer < source.index('label="0.0 (Linear)"') < source.index('label="0.0.weight"')
    assert source.index('label="0.1 (Tanh)"') < source.index('label="1 (Linear)"')


def test_a_module_called_twice_gets_one_box_per_call():
    cell = lg.nn.Linear(2, 2)
    model = lg.nn.ModuleDict({"cell": cell})
    picture = viz.trace(lambda h: cell(cell(h).tanh()).sum(), lg.ones(1, 2), params=model)
    assert 'label="cell (Linear) #1"' in picture.source
    assert 'label="cell (Linear) #2"' in picture.source
    # the weight is shared by both boxes, so it stays outside them
    assert re.search(r'^  l\d+ \[label=<cell.weight<br/>', picture.source, re.M)


def test_without_recorded_modules_ops_are_grouped_by_the_parameters_they_read():
    model = lg.nn.Sequential(lg.nn.Linear(3, 4), lg.nn.ReLU(), lg.nn.Linear(4, 1))
    loss = model(lg.ones(2, 3)).sum()
    source = viz.draw_graph(loss, params=dict(model.named_parameters())).source
    assert source.count("subgraph cluster_") == 2 and 'label="2"' in source
    assert "subgraph" not in viz.draw_graph(loss, params=model, group_modules=False).source


def test_long_chains_of_identical_ops_are_elided():
    x = lg.tensor(0.5, requires_grad=True)
    with retain_values():
        h = x
        for _ in range(40):
            h = h.tanh()
        h.backward()
    picture = viz.draw_graph(h, params={"x": x})
    labels, edges = parse_dot(picture.source)
    assert list(labels.values()).count("Tanh") == 2
    assert "... 38 x Tanh ..." in labels.values()
    first = float(np.tanh(np.float32(0.5)))
    assert ("Tanh", "... 38 x Tanh ...", f"{first:.4g}") == edges[1][:3]
    assert "38 ops of repeated chains elided" in picture.notes
    full = parse_dot(viz.draw_graph(h, elide_repeats=0).source)[0]
    assert list(full.values()).count("Tanh") == 40


def test_repeated_blocks_of_a_deep_network_are_elided_with_their_parameters():
    layers = []
    for _ in range(12):
        layers += [lg.nn.Linear(4, 4), lg.nn.Tanh()]
    model = lg.nn.Sequential(*layers)
    source = viz.trace(model, lg.ones(2, 4)).source
    labels = list(parse_dot(source)[0].values())
    assert "... 10 x (Linear, Tanh) ..." in labels
    assert labels.count("Linear") == 2 and "5.weight" not in labels
    assert "0.weight" in labels and "22.weight" in labels


def test_the_node_count_is_capped_with_a_note():
    x = lg.tensor(0.3, requires_grad=True)
    h = x
    for op in ("exp", "sin", "cos", "tanh", "sigmoid", "exp", "sin", "cos"):
        h = getattr(h, op)()
    picture = viz.draw_graph(h, max_nodes=5)
    labels, edges = parse_dot(picture.source)
    ops = [v for v in labels.values() if v in ("Exp", "Sin", "Cos", "Tanh", "Sigmoid")]
    assert len(ops) == 5 and "x" not in labels.values()
    note = "3 earlier nodes not shown (max_nodes=5)"
    assert note in labels.values() and note in picture.notes
    assert (note, "Tanh") in [(t, h) for t, h, _, _ in edges]


def test_dot_files_need_nothing_and_rendering_without_dot_says_what_to_install(
        tmp_path, monkeypatch):
    x, y, z = textbook()
    picture = viz.trace(lambda: (x + y) * z)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    path = picture.save(tmp_path / "sub" / "f.dot")
    with open(path) as file:
        assert file.read() == picture.source
    with pytest.raises(viz.GraphvizNotFoundError, match="apt install graphviz") as info:
        picture.save(tmp_path / "f.svg")
    assert "conda install graphviz" in str(info.value) and ".dot" in str(info.value)
    with pytest.raises(viz.GraphvizNotFoundError):
        picture.render("png")
    assert picture._repr_svg_() is None
    assert picture._repr_markdown_().startswith("```dot\ndigraph")
    with pytest.raises(ValueError, match="extension"):
        picture.save(tmp_path / "f.jpeg")


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed "
                                        "(apt install graphviz)")
def test_svg_and_png_are_rendered_by_dot(tmp_path):
    x, y, z = textbook()
    picture = viz.trace(lambda: (x + y) * z, params={"x": x, "y": y, "z": z})
    svg = (tmp_path / picture.save(tmp_path / "f.svg")).read_text(encoding="utf-8")
    assert "<svg" in svg and ">&#45;12<" in svg and ">Mul<" in svg
    png = (tmp_path / picture.save(tmp_path / "f.png")).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert picture.render("pdf")[:5] == b"%PDF-"
    assert picture._repr_markdown_() is None and "<svg" in picture._repr_svg_()


def test_bad_input_gives_clear_errors():
    x = lg.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="has no graph"):
        viz.draw_graph(x)
    with pytest.raises(TypeError, match="params must be a dict"):
        viz.draw_graph(x * 2, params=[x])
    with pytest.raises(TypeError, match="trace"):
        viz.trace(lambda: x * 2, colour="red")
    with pytest.raises(TypeError, match="must return a tensor"):
        viz.trace(lambda: (x * 2, x))
    with pytest.raises(ValueError, match="max_nodes"):
        viz.draw_graph((x * 2).exp(), max_nodes=0, elide_repeats=0)


def test_a_non_scalar_output_is_traced_with_a_gradient_of_ones():
    w = lg.tensor([1.0, 2.0], requires_grad=True)
    _, edges = parse_dot(viz.trace(lambda: w * 3.0, params={"w": w}).source)
    assert ("w", "Mul", "(2,) [1, 2]", "(2,) [3, 3]") in edges

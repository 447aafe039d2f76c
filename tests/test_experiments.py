"""The gradient experiments: graph pictures, paralysis, gradients through time (small settings)."""
import csv
import html
import re
import shutil

import numpy as np
import pytest

from locograd.cli import main
from locograd.experiments import graph, paralysis, rnn_gradients

HAS_DOT = shutil.which("dot") is not None


def edge_texts(dot_source, tail, head):
    """The (value, gradient) texts of the edge from node label ``tail`` to ``head``."""
    ids = {label: key for key, label in re.findall(r'^\s*(\w+) \[label=<?"?([\w.]+)', dot_source,
                                                   re.M)}
    line = re.search(rf"^\s*{ids[tail]} -> {ids[head]} \[(.*)\];$", dot_source, re.M).group(1)
    fonts = re.findall(r'<font color="#[0-9a-f]+">(.*?)</font>', line)
    return tuple(html.unescape(f) for f in fonts)


def test_graph_experiment_writes_every_example(tmp_path, capsys):
    assert graph.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in graph.EXAMPLES:
        assert name in out
        assert (tmp_path / f"{name}.dot").read_text().startswith("digraph")
        if HAS_DOT:
            assert (tmp_path / f"{name}.svg").read_text().count("<svg") == 1
            assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    add_mul = (tmp_path / "add_mul.dot").read_text()
    assert edge_texts(add_mul, "Add", "Mul") == ("3", "-4")
    assert edge_texts((tmp_path / "max.dot").read_text(), "y", "Maximum") == ("2", "0")
    assert edge_texts((tmp_path / "max.dot").read_text(), "x", "Maximum") == ("4", "3")
    assert "grad -1<" in (tmp_path / "fan_out.dot").read_text()
    assert 'label="0 (Linear)"' in (tmp_path / "mlp.dot").read_text()


def test_graph_experiment_shows_softmax_minus_onehot_on_the_logits(tmp_path):
    graph.draw_examples(str(tmp_path), names=["softmax_cross_entropy"], formats=["dot"])
    source = (tmp_path / "softmax_cross_entropy.dot").read_text()
    value, gradient = edge_texts(source, "Linear", "CrossEntropyLoss")
    logits = np.array([float(v) for v in value.split("[")[1].rstrip("]").split(",")])
    expected = np.exp(logits) / np.exp(logits).sum() - np.eye(4)[2]
    shown = np.array([float(g) for g in gradient.split("[")[1].rstrip("]").split(",")])
    np.testing.assert_allclose(shown, expected, atol=2e-3)


def test_graph_experiment_through_the_locograd_command(tmp_path, capsys):
    assert main(["experiment", "graph", "--out", str(tmp_path), "--only", "max",
                 "--format", "dot"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["max.dot"]
    assert "max.dot" in capsys.readouterr().out


def test_paralysis_sigmoid_gradients_fall_toward_the_input_and_relu_kaiming_is_flat():
    results = paralysis.measure(batch_size=64, seeds=2)
    sigmoid = list(results["sigmoid"]["weight_grad"].values())  # hidden 1..5, output
    assert all(a < b for a, b in zip(sigmoid, sigmoid[1:])), sigmoid
    assert sigmoid[4] / sigmoid[0] > 100
    relu = list(results["relu+kaiming"]["weight_grad"].values())[:5]
    assert max(relu) / min(relu) < 3, relu
    assert relu[0] > 1000 * sigmoid[0]
    # standardising the inputs alone does not cure the sigmoid net
    std = list(results["sigmoid+std"]["weight_grad"].values())
    assert std[4] / std[0] > 100


def test_paralysis_command_writes_table_csv_and_plot(tmp_path, capsys):
    code = main(["experiment", "paralysis", "--out", str(tmp_path), "--inputs", "50",
                 "--hidden", "20", "--layers", "3", "--classes", "5", "--batch-size", "16",
                 "--seeds", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "hidden 3 / hidden 1" in out and "relu+kaiming+std" in out
    with open(tmp_path / "paralysis.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 4 * 4 and {r["layer"] for r in rows} == {"hidden 1", "hidden 2",
                                                                  "hidden 3", "output"}
    assert all(float(r["weight_grad"]) > 0 for r in rows)
    pytest.importorskip("matplotlib")
    assert (tmp_path / "paralysis.png").read_bytes()[:4] == b"\x89PNG"


def test_rnn_gradients_vanish_explode_and_lstm_keeps_them_longer():
    options = dict(hidden=16, length=25, batch=4, input_size=8)
    curves = rnn_gradients.measure(sigmas=(0.5, 1.0, 1.5), **options)
    small, one, large = (curves[f"tanh sigma={s}"] for s in ("0.5", "1", "1.5"))
    d = 20
    assert small[0] == pytest.approx(1.0, rel=1e-5)
    assert small[d] == pytest.approx(0.5 ** d, rel=1e-2)     # linear regime: sigma^d
    assert large[d] == pytest.approx(1.5 ** d, rel=1e-2)
    assert one[d] == pytest.approx(1.0, rel=1e-2)
    assert all(np.diff(np.log(small)) < 0) and all(np.diff(np.log(large)) > 0)
    lstm = curves["lstm"]
    assert lstm[d] > 1e3 * small[d]
    # with inputs of ordinary size the tanh units saturate: no sigma^d explosion
    saturated = curves["tanh sigma=1.5, inputs x1"]
    assert saturated[d] < 1e-2 * large[d]


def test_rnn_gradients_command_writes_table_csv_and_plot(tmp_path, capsys):
    code = main(["experiment", "rnn-gradients", "--out", str(tmp_path), "--length", "6",
                 "--hidden", "8", "--batch-size", "2", "--sigmas", "0.5", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "tanh sigma=2, inputs x1" in out and "lstm" in out
    with open(tmp_path / "rnn_gradients.csv", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["distance", "tanh sigma=0.5", "tanh sigma=2", "tanh sigma=2, inputs x1",
                       "lstm"]
    assert len(rows) == 7 and float(rows[4][2]) == pytest.approx(8.0, rel=1e-3)  # d = 3: 2^3
    pytest.importorskip("matplotlib")
    assert (tmp_path / "rnn_gradients.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["experiment", "rnn-gradients", "--out", str(tmp_path), "--sigmas", "-1"]) == 2
    assert "--sigmas must be positive" in capsys.readouterr().err

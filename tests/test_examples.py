"""The scripts in examples/ run with tiny settings (imported, their ``main`` called)."""
import importlib.util
import math
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
MNIST_DIR = "/work/shared/data/mnist"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["char_rnn", "mnist_classifier", "custom_function"])
def test_help(capsys, name):
    with pytest.raises(SystemExit) as exit_:
        load(name).main(["--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")


def test_char_rnn_trains_on_the_project_docs_by_default(capsys):
    module = load("char_rnn")
    corpus = module.default_corpus()
    assert "locograd" in corpus
    losses = [module.main(["--epochs", str(epochs), "--max-chars", "600", "--hidden-size", "16",
                           "--lr", "3e-2", "--sample-length", "20"]) for epochs in (1, 6)]
    out = capsys.readouterr().out
    assert "--- sample ---" in out
    # The first epoch's mean starts at a uniform guess, whatever the docs say; six epochs must
    # learn the character statistics well below it (about 2.6 nats against 3.8 today).
    uniform = math.log(len(set(corpus[:600])))
    assert losses[1] < losses[0]
    assert losses[1] < uniform - 0.5


def test_char_rnn_on_a_given_file(capsys, tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("abcabcabc " * 30, encoding="utf-8")
    loss = load("char_rnn").main(["--text", str(path), "--epochs", "2", "--hidden-size", "8",
                                  "--cell", "gru", "--sample-length", "10"])
    assert math.isfinite(loss)
    with pytest.raises(SystemExit, match="cannot read"):
        load("char_rnn").main(["--text", str(tmp_path / "missing.txt")])


def test_truncated_bptt_streams_and_detach():
    module = load("char_rnn")
    import numpy as np

    import locograd as lg
    data = module.streams(np.arange(10), batch_size=3)
    assert data.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    h = lg.ones(2, requires_grad=True) * 2
    state = module.detach_state((h, h))
    assert all(s.grad_fn is None and not s.requires_grad for s in state)


def test_mnist_classifier(capsys):
    if not os.path.isdir(MNIST_DIR):
        pytest.skip(f"no MNIST data in {MNIST_DIR}")
    accuracy = load("mnist_classifier").main([MNIST_DIR, "--epochs", "1", "--limit", "500",
                                              "--no-progress"])
    assert accuracy > 0.5  # ten classes: chance is 0.1


def test_mnist_classifier_without_data_says_where_it_looked(tmp_path):
    with pytest.raises(SystemExit, match=r"no MNIST data in .*empty"):
        load("mnist_classifier").main([str(tmp_path / "empty")])


def test_custom_function(capsys):
    accuracy = load("custom_function").main(["--epochs", "2", "--hidden", "16"])
    out = capsys.readouterr().out
    assert "gradcheck, gradgradcheck and the composed version agree" in out
    assert accuracy > 0.8


def test_demo_script_wraps_the_command():
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "demo.py"), "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "usage: locograd demo" in result.stdout

"""Ports of classic PyTorch examples (examples/pytorch_mnist.py, word_language_model.py) train
briefly and learn."""
import math
import os

import pytest

# the examples folder, the shared MNIST copy and the module loader: one definition
from test_examples import MNIST_DIR, load


def test_mnist_cnn_learns(capsys):
    if not os.path.isdir(MNIST_DIR):
        pytest.skip(f"no MNIST data in {MNIST_DIR}")
    # ten steps of 32 images on a quarter-width network: seconds, and clearly learning
    losses, accuracy = load("pytorch_mnist").main([MNIST_DIR, "--limit", "320", "--batch-size",
                                                   "32", "--width", "0.25"])
    assert "Test set: Average loss" in capsys.readouterr().out
    assert len(losses) == 10 and losses[0] > 2.1  # a uniform guess is log 10 = 2.30
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.1
    assert accuracy > 0.2  # chance is 0.1


def test_mnist_cnn_without_data_says_where_it_looked(tmp_path):
    with pytest.raises(SystemExit, match=r"no MNIST data in .*empty"):
        load("pytorch_mnist").main([str(tmp_path / "empty")])


@pytest.mark.parametrize("model, lr", [("LSTM", "20"), ("Transformer", "1.0")])
def test_word_language_model_learns(capsys, model, lr):
    losses = load("word_language_model").main(["--model", model, "--lr", lr, "--max-words",
                                               "2000", "--epochs", "3", "--batch-size", "8"])
    assert "| epoch   3 |" in capsys.readouterr().out
    # 36 steps on 2000 words: each epoch better than the last (by about 0.3 nats in all)
    assert losses[0] > losses[1] > losses[2] and losses[2] < losses[0] - 0.15
    assert all(math.isfinite(loss) for loss in losses)


def test_word_language_model_on_a_missing_file(tmp_path):
    with pytest.raises(SystemExit, match="cannot read"):
        load("word_language_model").main(["--data", str(tmp_path / "missing.txt")])

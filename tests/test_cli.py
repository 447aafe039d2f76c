"""The ``locograd`` command: demo, train (each model), sample, dispatch, and one-line errors."""
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest

import locograd.cli as cli
from locograd.cli import main
from locograd.data import Digits
from locograd.train import load_checkpoint

MNIST_DIR = "/work/shared/data/mnist"
TEXT = ("the quick brown fox jumps over the lazy dog. " * 40
        + "a tensor remembers the graph that made it.\n" * 20)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, expected_code=2, match=None):
    assert code == expected_code, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    if match:
        assert re.search(match, lines[0]), lines[0]


# ------------------------------------------------------------------------------ help

def test_python_dash_m_help():
    result = subprocess.run([sys.executable, "-m", "locograd", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for command in ("demo", "train", "sample", "experiment", "compare"):
        assert command in result.stdout


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["train", "--help"],
                                  ["sample", "--help"], ["experiment", "--help"]])
def test_help_everywhere(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and out.startswith("usage: locograd")


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"locograd {cli.__version__}"


# ------------------------------------------------------------------------------ demo

@pytest.mark.slow
def test_demo_end_to_end(capsys, tmp_path):
    out_dir = tmp_path / "demo"
    code, out, err = run(capsys, "demo", "--out", out_dir, "--no-progress")
    assert code == 0, err
    accuracy = float(re.search(r"test accuracy: ([\d.]+)%", out).group(1))
    assert accuracy >= 95.0
    for name in ("checkpoint.safetensors", "history.csv", "curves.png"):
        assert (out_dir / name).stat().st_size > 0
    checkpoint = load_checkpoint(out_dir)
    assert checkpoint["epoch"] == 8 and checkpoint["extra"]["config"]["name"] == "cnn"
    assert (out_dir / "graph.dot").read_text().lstrip().startswith("digraph")


# ------------------------------------------------------------------------------ train

@pytest.mark.parametrize("model", ["mlp", "cnn", "autoencoder"])
def test_train_each_image_model(capsys, tmp_path, model):
    code, out, err = run(capsys, "train", "--model", model, "--limit", 120, "--epochs", 1,
                         "--batch-size", 32, "--out", tmp_path, "--no-progress")
    assert code == 0, err
    expected = "test reconstruction loss" if model == "autoencoder" else "test accuracy"
    assert expected in out
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint["epoch"] == 1
    assert checkpoint["extra"]["config"]["name"] == model
    assert checkpoint["extra"]["spec"]["limit"] == 120
    assert (tmp_path / "history.csv").read_text().startswith("epoch,train_loss,val_loss")


def test_train_saves_the_standardisation_fitted_on_the_training_images(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--model", "mlp", "--limit", 100, "--val-split", 0,
                       "--epochs", 1, "--out", tmp_path, "--no-progress")
    assert code == 0, err
    images = Digits("train").inputs[:100].astype(np.float64)  # no validation split: all 100
    saved = load_checkpoint(tmp_path)["extra"]["standardize"]
    np.testing.assert_allclose(np.ravel(saved["mean"]), [images.mean()], rtol=1e-6)
    np.testing.assert_allclose(np.ravel(saved["std"]), [images.std()], rtol=1e-6)


def test_train_char_rnn_then_sample(capsys, tmp_path, text_file):
    out_dir = tmp_path / "rnn"
    code, out, err = run(capsys, "train", "--model", "char-rnn", "--data", f"text:{text_file}",
                         "--epochs", 1, "--seq-len", 16, "--hidden-size", 16, "--limit", 8,
                         "--out", out_dir, "--no-progress")
    assert code == 0, err
    assert "sample (temperature 0.8)" in out
    checkpoint = load_checkpoint(out_dir)
    assert checkpoint["extra"]["vocabulary"] == sorted(set(TEXT))
    assert checkpoint["extra"]["config"]["vocab_size"] == len(set(TEXT))

    code, first, err = run(capsys, "sample", "--checkpoint", out_dir, "--length", 30,
                           "--prime", "the ", "--seed", 3)
    assert code == 0, err
    text = first.rstrip("\n")
    assert text.startswith("the ") and len(text) == 34
    assert set(text) <= set(TEXT)
    code, second, _ = run(capsys, "sample", "--checkpoint", out_dir, "--length", 30,
                          "--prime", "the ", "--seed", 3)
    assert second == first  # the seed decides the draws

    code, _, err = run(capsys, "sample", "--checkpoint", out_dir, "--prime", "Z!")
    assert_one_line_error(code, err, match=r"--prime has characters the model never saw: '!Z'")


def test_train_resume_continues_and_checks_the_options(capsys, tmp_path):
    common = ["train", "--model", "mlp", "--limit", 64, "--batch-size", 32, "--out", tmp_path,
              "--no-progress"]
    assert run(capsys, *common, "--epochs", 1)[0] == 0
    code, _, err = run(capsys, *common, "--epochs", 2, "--resume")
    assert code == 0, err
    assert load_checkpoint(tmp_path)["epoch"] == 2
    code, _, err = run(capsys, *common, "--epochs", 3, "--resume", "--lr", "0.5")
    assert_one_line_error(code, err, match=r"cannot resume: the run in .* used --lr 0.001 "
                                           r"\(now 0.5\)")
    code, _, err = run(capsys, "train", "--resume", "--out", tmp_path / "empty")
    assert_one_line_error(code, err, match="no checkpoint at")


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adamw",
                                  "adadelta", "adamax", "nadam", "radam", "shampoo", "kfac"])
def test_train_with_each_registered_optimizer(capsys, tmp_path, name):
    code, out, err = run(capsys, "train", "--optimizer", name, "--limit", 64, "--batch-size",
                         32, "--epochs", 1, "--out", tmp_path, "--no-progress")
    assert code == 0, err
    assert f"with {name} (lr " in out


def test_train_with_locoprop(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--optimizer", "locoprop-m", "--model", "mlp",
                         "--limit", 64, "--batch-size", 32, "--epochs", 1, "--out", tmp_path,
                         "--no-progress")
    assert code == 0, err
    assert "with locoprop-m (its default learning rates)" in out


def test_train_on_mnist(capsys, tmp_path):
    if not os.path.isdir(MNIST_DIR):
        pytest.skip(f"no MNIST data in {MNIST_DIR}")
    code, out, err = run(capsys, "train", "--data", f"mnist:{MNIST_DIR}", "--limit", 200,
                         "--epochs", 1, "--out", tmp_path, "--no-progress")
    assert code == 0, err
    assert "MNIST from" in out and "test accuracy" in out


# ------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("argv, match", [
    (["bogus"], r"^locograd: error: argument COMMAND: invalid choice: 'bogus'"),
    (["train", "--model", "char-rnn"], r"--model char-rnn needs --data text:FILE"),
    (["train", "--data", "text:x.txt"], r"--model mlp trains on images"),
    (["train", "--lr", "-1"], r"argument --lr: expected a positive number, got '-1'"),
    (["train", "--epochs", "0"], r"argument --epochs: expected a positive integer"),
    (["train", "--val-split", "1.5"], r"expected a fraction in \[0, 1\)"),
    (["train", "--optimizer", "nope"], r"argument --optimizer: invalid choice: 'nope'"),
    (["train", "--data", "cifar"], r"expected digits, mnist, mnist:DIR or text:FILE"),
    (["train", "--data", "mnist:/nonexistent/dir", "--out", "{tmp}"],
     r"MNIST: cannot find the test split's file"),
    (["train", "--model", "char-rnn", "--data", "text:/nonexistent.txt", "--out", "{tmp}"],
     r"locograd train: error: /nonexistent.txt: No such file or directory$"),
    (["sample"], r"the following arguments are required: --checkpoint"),
    (["sample", "--checkpoint", "/nonexistent/run"], r"no checkpoint at"),
    (["experiment", "nope"], r"argument NAME: invalid choice: 'nope'"),
])
def test_bad_arguments_give_one_line_and_exit_code_2(capsys, tmp_path, argv, match):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, match=match)


def test_short_and_binary_text_files(capsys, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("tiny", encoding="utf-8")
    code, _, err = run(capsys, "train", "--model", "char-rnn", "--data", f"text:{short}",
                       "--out", tmp_path)
    assert_one_line_error(code, err, match=r"holds 4 characters; with --seq-len 64")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 100)
    code, _, err = run(capsys, "train", "--model", "char-rnn", "--data", f"text:{binary}",
                       "--out", tmp_path)
    assert_one_line_error(code, err, match=r"is not UTF-8 text")


def test_sample_refuses_a_classifier_checkpoint(capsys, tmp_path):
    assert run(capsys, "train", "--limit", 64, "--epochs", 1, "--out", tmp_path,
               "--no-progress")[0] == 0
    code, _, err = run(capsys, "sample", "--checkpoint", tmp_path)
    assert_one_line_error(code, err, match=r"holds a mlp model, not a char-rnn")


# ------------------------------------------------------------------------------ dispatch

def test_external_commands_dispatch_through_one_table(capsys, monkeypatch):
    calls = []
    module = types.ModuleType("fake_experiment")
    module.add_arguments = lambda parser: parser.add_argument("--size", type=int, default=1)
    module.run = lambda args: calls.append(args.size) or 7
    monkeypatch.setitem(sys.modules, "fake_experiment", module)
    monkeypatch.setitem(cli.EXTERNAL_COMMANDS, "experiment fake", ("fake_experiment", "a fake"))
    code, _, _ = run(capsys, "experiment", "fake", "--size", 3)
    assert (code, calls) == (7, [3])
    code, out, _ = run(capsys, "experiment", "--help")
    assert code == 0 and "fake" in out
    code, _, err = run(capsys, "experiment", "fake", "--size", "x")
    assert_one_line_error(code, err, match=r"^locograd experiment fake: error: argument --size")


def test_a_missing_external_module_is_reported(capsys, monkeypatch):
    monkeypatch.setitem(cli.EXTERNAL_COMMANDS, "compare",
                        ("locograd.experiments.not_there", "missing"))
    code, _, err = run(capsys, "compare")
    assert_one_line_error(code, err, expected_code=1,
                          match=r"not available in this installation \(module "
                                r"locograd.experiments.not_there is missing\)")


@pytest.mark.parametrize("words", sorted(cli.EXTERNAL_COMMANDS))
def test_each_installed_external_command_has_help(capsys, words):
    pytest.importorskip(cli.EXTERNAL_COMMANDS[words][0])
    code, out, _ = run(capsys, *words.split(), "--help")
    assert code == 0 and out.startswith(f"usage: locograd {words}")

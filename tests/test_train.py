"""``locograd.train``: the fit loop, its optimiser paths, schedules, callbacks, early stopping,
checkpoints and exact resume."""
import csv
import itertools
import os
import sys

import numpy as np
import pytest

import locograd as lg
from locograd import nn, optim
from locograd.data import DataLoader, TensorDataset
from locograd.optim import lr_scheduler
from locograd.train import (Callback, EarlyStopping, History, NonFiniteLossError, accuracy,
                            callbacks, evaluate, fit, load_checkpoint)


def blobs(n=96, seed=0):
    """Three separable Gaussian blobs in 4 dimensions (float32 inputs, int64 labels)."""
    random = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], np.float32)
    x = centres[labels] + 0.5 * random.standard_normal((n, 4)).astype(np.float32)
    return TensorDataset(lg.tensor(x), lg.tensor(labels))


def small_model():
    return nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(16, 3))


def loaders(generator=None):
    train = DataLoader(blobs(96), batch_size=16, shuffle=True, generator=generator)
    val = DataLoader(blobs(48, seed=1), batch_size=32)
    return train, val


def params_of(model):
    return [p.data.copy() for p in model.parameters()]


# ------------------------------------------------------------------------------ basics

def test_fit_learns_and_records_every_column(tmp_path):
    lg.manual_seed(0)
    model = small_model()
    train, val = loaders()
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02),
                  train, val, epochs=4, metrics={"accuracy": accuracy}, progress=False,
                  history_csv=tmp_path / "history.csv")
    assert len(history) == 4
    assert history.columns == ["epoch", "train_loss", "val_loss", "train_accuracy",
                               "val_accuracy", "lr", "seconds", "throughput"]
    assert history["epoch"] == [1, 2, 3, 4]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history.last["val_accuracy"] > 0.9
    assert all(lr == 0.02 for lr in history["lr"])
    with open(tmp_path / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["val_loss"]) for r in rows] == history["val_loss"]  # repr round-trips
    assert model.training  # validation ran in eval mode and restored the mode


def test_epoch_loss_is_the_sample_weighted_mean_of_the_batch_losses():
    seen = []

    class Recording(optim.SGD):
        def step(self, closure=None):
            loss = super().step(closure)
            seen.append((loss.item(), len(recorded_targets[-1])))
            return loss

    recorded_targets = []

    def loss_fn(outputs, targets):
        recorded_targets.append(targets)
        return nn.functional.cross_entropy(outputs, targets)

    model = nn.Linear(4, 3)
    train = DataLoader(blobs(40), batch_size=16)  # batches of 16, 16 and 8
    history = fit(model, loss_fn, Recording(model.parameters(), lr=0.1), train, progress=False)
    expected = sum(loss * n for loss, n in seen) / sum(n for _, n in seen)
    assert [n for _, n in seen] == [16, 16, 8]
    assert history.last["train_loss"] == pytest.approx(expected, rel=1e-12)


def test_evaluate_uses_eval_mode_without_a_graph():
    model = small_model()
    _, val = loaders()
    modes = []
    model.register_forward_hook(lambda m, args, out: modes.append((m.training,
                                                                   out.requires_grad)))
    result = evaluate(model, nn.CrossEntropyLoss(), val, {"accuracy": accuracy})
    assert set(result) == {"loss", "accuracy"}
    assert modes and all(m == (False, False) for m in modes)
    assert model.training


def test_accuracy_counts_argmax_along_the_class_dimension():
    scores = lg.tensor([[[0.9, 0.1], [0.1, 0.9]], [[0.2, 0.3], [0.8, 0.7]]])  # (N=2, C=2, L=2)
    assert accuracy(scores, lg.tensor([[0, 1], [0, 0]])) == 0.5  # predicted [[0, 1], [1, 1]]
    with pytest.raises(ValueError, match="accuracy: expected scores"):
        accuracy(lg.zeros(4, 3), lg.zeros(4, 3))


# ------------------------------------------------------------------------------ optimiser paths

class LocalLearner:
    """A LocoProp-like optimiser: needs the batch, does its own passes, returns the loss."""

    needs_batch = True

    def __init__(self, model, loss_fn, lr):
        self.model, self.loss_fn, self.lr, self.calls = model, loss_fn, lr, 0

    def step(self, inputs, targets):
        self.calls += 1
        loss = self.loss_fn(self.model(inputs), targets)
        self.model.zero_grad()
        loss.backward()
        with lg.no_grad():
            for p in self.model.parameters():
                p -= self.lr * p.grad
        return loss.item()


def test_needs_batch_optimizers_get_the_batch():
    lg.manual_seed(0)
    model = nn.Linear(4, 3)
    learner = LocalLearner(model, nn.CrossEntropyLoss(), lr=0.5)
    train, val = loaders()
    history = fit(model, nn.CrossEntropyLoss(), learner, train, val, epochs=3,
                  metrics={"accuracy": accuracy}, progress=False)
    assert learner.calls == 3 * len(train)
    assert "train_accuracy" not in history.columns  # no outputs to measure on
    assert history.last["val_accuracy"] > 0.9
    assert history["lr"] == [0.5] * 3  # its lr attribute


def test_closure_optimizers_may_evaluate_several_times():
    class TwiceEvaluating(optim.SGD):
        def step(self, closure=None):
            first = closure()
            super().step()
            closure()  # a line search's trial after the step: fit must not record this one
            return first

    lg.manual_seed(0)
    model = nn.Linear(4, 3)
    reference = nn.Linear(4, 3)
    reference.load_state_dict(model.state_dict())
    train = DataLoader(blobs(32), batch_size=32)
    history = fit(model, nn.CrossEntropyLoss(), TwiceEvaluating(model.parameters(), lr=0.1),
                  train, progress=False)
    x, y = next(iter(train))
    expected = nn.functional.cross_entropy(reference(x), y).item()
    assert history.last["train_loss"] == pytest.approx(expected, rel=1e-6)


def test_optimizers_without_closure_argument():
    class Plain:
        def __init__(self, params):
            self.params = list(params)
            self.steps = 0

        def zero_grad(self):
            for p in self.params:
                p.grad = None

        def step(self):
            self.steps += 1
            with lg.no_grad():
                for p in self.params:
                    p -= 0.1 * p.grad

    model = nn.Linear(4, 3)
    opt = Plain(model.parameters())
    history = fit(model, nn.CrossEntropyLoss(), opt, DataLoader(blobs(32), batch_size=8),
                  epochs=2, progress=False)
    assert opt.steps == 8 and history.last["train_loss"] < history.rows[0]["train_loss"]


def test_kfac_true_fisher_is_sampled_inside_fit():
    lg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = optim.KFAC(model, lr=0.05, likelihood="categorical")
    history = fit(model, nn.CrossEntropyLoss(), opt, DataLoader(blobs(64), batch_size=16),
                  epochs=3, progress=False)
    assert opt.state[model[0].weight]["A"].shape == (5, 5)
    assert history.last["train_loss"] < history.rows[0]["train_loss"]


def test_grad_clip_bounds_the_step():
    model = nn.Linear(4, 3)
    before = params_of(model)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1.0),
        DataLoader(blobs(16), batch_size=16), progress=False, grad_clip=0.01)
    change = np.sqrt(sum(((a - b.data) ** 2).sum() for a, b in zip(before,
                                                                   model.parameters())))
    assert 0.0 < change <= 0.01 * (1 + 1e-5)


# ------------------------------------------------------------------------------ errors

def test_mismatched_outputs_and_targets_are_named():
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = lg.randn(8, 4)
    batches = [(x, lg.zeros(6, dtype=lg.int64))]
    with pytest.raises(ValueError, match=r"batch size 8 .*\(8, 3\).* targets have 6"):
        fit(model, nn.CrossEntropyLoss(), opt, batches, progress=False)
    with pytest.raises(ValueError, match=r"differ in shape; the loss would broadcast"):
        fit(model, nn.MSELoss(), opt, [(x, lg.zeros(8, 1))], progress=False)
    with pytest.raises(ValueError, match=r"the loss failed on the model's output \(shape "
                                         r"\(8, 3\)"):
        fit(model, nn.CrossEntropyLoss(), opt, [(x, lg.zeros(8, 2, dtype=lg.int64))],
            progress=False)
    with pytest.raises(ValueError, match=r"\(inputs, targets\) pair, got a Tensor"):
        fit(model, nn.CrossEntropyLoss(), opt, [x], progress=False)


def test_a_diverging_run_stops_with_a_clear_error():
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)

    def nan_loss(outputs, targets):
        return outputs.sum() * float("nan")

    with pytest.raises(NonFiniteLossError, match="became nan at epoch 1, batch 0"):
        fit(model, nan_loss, opt, DataLoader(blobs(16), batch_size=8), progress=False)


def test_bad_arguments():
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs must be a non-negative integer"):
        fit(model, nn.CrossEntropyLoss(), opt, [], epochs=-1)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        fit(model, nn.CrossEntropyLoss(), opt, [], resume=True)
    with pytest.raises(TypeError, match="early_stopping must be"):
        fit(model, nn.CrossEntropyLoss(), opt, [], early_stopping="yes")
    with pytest.raises(ValueError, match="training loader yielded no batch"):
        fit(model, nn.CrossEntropyLoss(), opt, [], progress=False)


# ------------------------------------------------------------------------------ schedules

def test_epoch_and_batch_schedules_and_plateau():
    model = nn.Linear(4, 3)
    train = DataLoader(blobs(32), batch_size=8)  # 4 batches per epoch
    opt = optim.SGD(model.parameters(), lr=1.0)
    history = fit(model, nn.CrossEntropyLoss(), opt, train, epochs=3, progress=False,
                  scheduler=lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    assert history["lr"] == [1.0, 0.5, 0.25]

    opt = optim.SGD(model.parameters(), lr=0.1)
    cycle = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3 * len(train))
    fit(model, nn.CrossEntropyLoss(), opt, train, epochs=3, progress=False, scheduler=cycle)
    assert cycle.last_epoch == 3 * len(train)  # stepped after every batch

    opt = optim.SGD(model.parameters(), lr=1e-12)  # too small to improve anything
    plateau = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0, threshold=0.1)
    history = fit(model, nn.CrossEntropyLoss(), opt, train, DataLoader(blobs(16), batch_size=16),
                  epochs=3, progress=False, scheduler=plateau)
    assert plateau.best == history["val_loss"][0]
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-12 * 0.25)


# ------------------------------------------------------------------------------ callbacks

def test_callbacks_run_in_order_and_can_stop_training():
    events = []

    class Recorder(Callback):
        def on_train_begin(self, state):
            events.append("begin")

        def on_epoch_begin(self, state):
            events.append(f"epoch {state.epoch}")

        def on_batch_end(self, state, batch, loss):
            events.append(f"batch {batch}")

        def on_epoch_end(self, state, row):
            events.append(f"end {row['epoch']}")
            state.stop_training = row["epoch"] == 2

        def on_train_end(self, state):
            events.append("done")

    rows = []
    model = nn.Linear(4, 3)
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                  DataLoader(blobs(16), batch_size=8), epochs=5, progress=False,
                  callbacks=[Recorder(), rows.append])
    assert events == ["begin", "epoch 1", "batch 0", "batch 1", "end 1", "epoch 2", "batch 0",
                      "batch 1", "end 2", "done"]
    assert len(history) == 2 and rows == history.rows


def test_early_stopping_waits_patience_epochs():
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.0)  # nothing changes: no improvement after 1
    history = fit(model, nn.CrossEntropyLoss(), opt, DataLoader(blobs(16), batch_size=8),
                  DataLoader(blobs(16), batch_size=16), epochs=10, progress=False,
                  early_stopping={"patience": 2})
    assert len(history) == 4  # the best epoch, then two tolerated, stop on the third
    stopper = EarlyStopping(patience=0, monitor="val_accuracy")
    assert stopper.update({"val_accuracy": 0.5}) is False
    assert stopper.mode == "max" and stopper.update({"val_accuracy": 0.4}) is True
    with pytest.raises(ValueError, match="'val_loss' is not in the history"):
        EarlyStopping(monitor="val_loss").update({"train_loss": 1.0})


# ------------------------------------------------------------------------------ checkpoints

def _resumable_run(checkpoint_dir, epochs, resume, scheduler_kind, init_seed=0,
                   early_stopping=None):
    """A run with every source of state: BatchNorm buffers, dropout draws from the default
    generator, a shuffling loader with its own generator, Adam moments and a schedule."""
    lg.manual_seed(init_seed)
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    train, val = loaders(generator=lg.Generator(7))
    schedulers = {
        "step": lambda: lr_scheduler.StepLR(opt, step_size=1, gamma=0.7),
        "onecycle": lambda: lr_scheduler.OneCycleLR(opt, max_lr=0.02,
                                                    total_steps=5 * len(train)),
        "plateau": lambda: lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0,
                                                          threshold=0.65),
    }
    history = fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=epochs,
                  metrics={"accuracy": accuracy}, scheduler=schedulers[scheduler_kind](),
                  checkpoint_dir=checkpoint_dir, resume=resume, progress=False, seed=0,
                  early_stopping=early_stopping)
    return model, opt, history


@pytest.mark.parametrize("scheduler_kind", ["step", "onecycle", "plateau"])
def test_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path, scheduler_kind):
    full_model, full_opt, full = _resumable_run(tmp_path / "full", 5, False, scheduler_kind)
    _resumable_run(tmp_path / "split", 2, False, scheduler_kind)
    # a fresh process would build everything anew: different initial weights on purpose
    model, opt, resumed = _resumable_run(tmp_path / "split", 5, True, scheduler_kind,
                                         init_seed=123)
    resumed_state = model.state_dict()
    for name, value in full_model.state_dict().items():
        assert np.array_equal(value.numpy(), resumed_state[name].numpy()), name
    assert resumed["epoch"] == [1, 2, 3, 4, 5]
    for column in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"):
        assert resumed[column] == full[column], column
    assert opt.state_dict()["param_groups"] == full_opt.state_dict()["param_groups"]
    saved = load_checkpoint(tmp_path / "split")
    assert saved["epoch"] == 5 and len(saved["history"]) == 5


def test_resume_keeps_the_early_stopping_state(tmp_path):
    stop = {"patience": 1, "min_delta": 10.0}  # nothing improves by 10: stop after epoch 3
    _, _, full = _resumable_run(tmp_path / "full", 6, False, "step", early_stopping=stop)
    _resumable_run(tmp_path / "split", 2, False, "step", early_stopping=dict(stop))
    _, _, resumed = _resumable_run(tmp_path / "split", 6, True, "step",
                                   early_stopping=dict(stop))
    assert len(full) == 3 and resumed["train_loss"] == full["train_loss"]
    # a run that stopped early stays stopped
    _, _, again = _resumable_run(tmp_path / "split", 6, True, "step", early_stopping=dict(stop))
    assert len(again) == 3


def test_checkpoint_holds_plain_data_and_extra(tmp_path):
    model = nn.Linear(4, 3)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
        DataLoader(blobs(16), batch_size=8), progress=False, checkpoint_dir=tmp_path,
        checkpoint_extra={"config": {"name": "linear"}, "vocabulary": ["a", "b"]})
    saved = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert saved["extra"] == {"config": {"name": "linear"}, "vocabulary": ["a", "b"]}
    assert set(saved["model"]) == {"weight", "bias"}
    assert saved["rng"]["default"]["bit_generator"] == "PCG64"
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_resume_errors(tmp_path):
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        fit(model, nn.CrossEntropyLoss(), opt, [], checkpoint_dir=tmp_path, resume=True)
    fit(model, nn.CrossEntropyLoss(), opt, DataLoader(blobs(16), batch_size=8),
        checkpoint_dir=tmp_path, progress=False)
    shuffled = DataLoader(blobs(16), batch_size=8, shuffle=True, generator=lg.Generator(1))
    with pytest.raises(ValueError, match="cannot resume exactly .* random generators"):
        fit(model, nn.CrossEntropyLoss(), opt, shuffled, epochs=2, checkpoint_dir=tmp_path,
            resume=True)
    lg.save({"weights": lg.ones(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "other.safetensors")


def test_curves_are_plotted(tmp_path):
    pytest.importorskip("matplotlib")
    model = nn.Linear(4, 3)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
        DataLoader(blobs(16), batch_size=8), DataLoader(blobs(16), batch_size=16), epochs=2,
        metrics={"accuracy": accuracy}, progress=False, plot_path=tmp_path / "curves.png")
    with open(tmp_path / "curves.png", "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="history is empty"):
        History().plot(tmp_path / "empty.png")


def test_progress_lines(capsys):
    model = nn.Linear(4, 3)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
        DataLoader(blobs(16), batch_size=8), epochs=2, progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch   2  train_loss ")
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
        DataLoader(blobs(16), batch_size=8), epochs=2, progress=False)
    assert capsys.readouterr().out == ""


def test_progress_bar_on_a_terminal(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    model = nn.Linear(4, 3)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
        DataLoader(blobs(16), batch_size=8), epochs=1, progress=True)
    captured = capsys.readouterr()
    assert "epoch 1/1:" in captured.err and "0/2" in captured.err  # the tqdm bar
    assert captured.out.startswith("epoch   1  train_loss")
    # the bar carries the running loss and the throughput (128 samples in 2 s: 64 samples/s)
    progress = callbacks.Progress(True, epochs=3)
    clock = itertools.chain([10.0], itertools.repeat(12.0))  # start, then every later reading
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    progress.start_epoch(2, batches=5)
    progress.update(0.25, 128)
    assert progress.bar.desc.startswith("epoch 2/3") and progress.bar.n == 1
    assert progress.bar.postfix == "loss 0.2500, 64 samples/s"
    progress.close()

"""Nothing lost, nothing silent (issue 17): each failure a hostile or careless user found, turned
into a test. Checks run before any state changes; errors name what is wrong."""
import json
import os
import struct
import time

import numpy as np
import pytest

import locograd as lg
from locograd import nn, optim
from locograd.io import CheckpointError, load, save
from locograd.optim import lr_scheduler as sched


def _snapshot(model):
    return {k: v.data.copy() for k, v in model.state_dict().items() if hasattr(v, "data")}


def _assert_unchanged(model, before):
    after = _snapshot(model)
    assert sorted(after) == sorted(before)
    for key, value in after.items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


# ------------------------------------------------------------------ Module.load_state_dict

class _Counter(nn.Module):
    """A module with extra state (a count) that refuses negative counts."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.count = 0

    def get_extra_state(self):
        return {"count": self.count}

    def set_extra_state(self, state):
        if state["count"] < 0:
            raise ValueError("negative count")
        self.count = state["count"]


@pytest.mark.parametrize("bad, what", [
    (np.array([["a", "b"], ["c", "d"]]), "dtype <U1"),
    (np.array([[1, 2], [3, 4]], dtype=object), "dtype object"),
    (np.ones((2, 2), np.complex64), "dtype complex64"),
    (np.array([[1, 2], [3, 4]], dtype="datetime64[s]"), "dtype datetime64"),
])
def test_load_state_dict_refuses_non_real_arrays_before_writing(bad, what):
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    before = _snapshot(model)
    state = {k: v.data + 1 for k, v in model.state_dict().items()}
    state["1.weight"] = bad  # after "0.weight" and "0.bias", which used to be written first
    with pytest.raises(RuntimeError, match=rf"(?s)nothing was loaded.*1\.weight: ndarray of {what}"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


@pytest.mark.parametrize("target_dtype, value, reason", [
    (np.float32, 1e39, "1e\\+39 overflows float32"),
    (np.int64, 3.7, "3.7 is not an integer"),
    (np.int64, np.nan, "nan is not an integer"),
    (np.int8, 300, "300 is outside the range of int8"),
    (np.bool_, 2, "2 is not a boolean"),
])
def test_load_state_dict_refuses_values_that_do_not_fit(target_dtype, value, reason):
    model = nn.Linear(2, 1)
    model.register_buffer("counter", lg.tensor(np.zeros(3, target_dtype)))
    before = _snapshot(model)
    state = {k: v.data.astype(np.float64) + 1 for k, v in model.state_dict().items()}
    state["counter"] = np.array([0, 1, value], dtype=np.float64 if isinstance(value, float)
                                else np.int64)
    with pytest.raises(RuntimeError, match=rf"(?s)do not fit.*counter: {reason}"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)
    # values that fit are cast (float64 weights into float32, 3.0 into an integer)
    state["counter"] = np.array([0, 1, 1], np.float64)
    model.load_state_dict(state)
    assert model.counter.data.dtype == target_dtype and model.counter.data.tolist()[2] == 1


def test_load_state_dict_failing_set_extra_state_changes_nothing():
    outer = nn.Module()
    outer.a, outer.b = _Counter(), _Counter()
    state = outer.state_dict()
    state = {k: (v.data + 1 if hasattr(v, "data") else v) for k, v in state.items()}
    state["a._extra_state"] = {"count": 5}
    state["b._extra_state"] = {"count": -1}
    before = _snapshot(outer)
    with pytest.raises(RuntimeError, match=r"(?s)nothing was loaded.*b\._extra_state: "
                                           r"_Counter\.set_extra_state failed: negative count"):
        outer.load_state_dict(state)
    assert outer.a.count == 0 and outer.b.count == 0  # a's new count was undone
    _assert_unchanged(outer, before)


@pytest.mark.parametrize("value", [[1, 2, 3], "weights", None])
def test_load_state_dict_of_a_non_mapping_names_it(value):
    with pytest.raises(TypeError, match=rf"Linear\.load_state_dict: expected a mapping.*got a "
                                        rf"{type(value).__name__}"):
        nn.Linear(2, 2).load_state_dict(value)


# ------------------------------------------------------------------ optimiser and schedule kinds

def _optimizers(w):
    return {"SGD": optim.SGD([w], lr=0.1, momentum=0.9), "Adam": optim.Adam([w], lr=1e-3),
            "RMSprop": optim.RMSprop([w], lr=1e-2), "Shampoo": optim.Shampoo([w], lr=1e-3)}


def _stepped(opt, w):
    (w * w).sum().backward()
    opt.step()
    opt.zero_grad()
    return opt


def test_optimizer_refuses_another_optimizers_state():
    w = nn.Parameter(lg.ones(2, 2))
    saved = {name: _stepped(opt, w).state_dict() for name, opt in _optimizers(w).items()}
    for name, opt in _optimizers(nn.Parameter(lg.ones(2, 2))).items():
        before = opt.state_dict()
        for other, state in saved.items():
            if other == name:
                opt.load_state_dict(state)
                continue
            with pytest.raises(ValueError, match=rf"{name}\.load_state_dict: the state dict is "
                                                 rf"that of a {other} optimizer, not of a "
                                                 rf"{name}"):
                opt.load_state_dict(state)
        opt.load_state_dict(before)


@pytest.mark.parametrize("step", ["3", -1, 2.5, True, float("inf")])
def test_optimizer_state_with_a_bad_step_count_is_refused(step):
    w = nn.Parameter(lg.ones(2))
    opt = _stepped(optim.Adam([w], lr=0.1), w)
    state = opt.state_dict()
    state["state"][0]["step"] = step
    with pytest.raises(ValueError, match=r"Adam\.load_state_dict: state 'step' of parameter 0 "
                                         r"must be a non-negative whole number"):
        opt.load_state_dict(state)
    assert opt.state[w]["step"] == 1


def test_optimizer_state_with_malformed_layout_is_refused():
    w = nn.Parameter(lg.ones(2))
    opt = _stepped(optim.Adam([w], lr=0.1), w)
    with pytest.raises(ValueError, match="'param_groups' must be a list of dicts"):
        opt.load_state_dict({"state": {}, "param_groups": [1, 2, 3]})
    state = opt.state_dict()
    state["state"][0]["exp_avg"] = "zeros"
    with pytest.raises(ValueError, match="state 'exp_avg' of parameter 0 must be an array"):
        opt.load_state_dict(state)


def test_scheduler_refuses_another_schedulers_state_and_composites_change_nothing():
    opt = optim.SGD([nn.Parameter(lg.zeros(1))], lr=1.0)
    step = sched.StepLR(opt, step_size=2)
    cosine = sched.CosineAnnealingLR(opt, T_max=5)
    with pytest.raises(ValueError, match="StepLR.load_state_dict: the state dict is that of a "
                                         "CosineAnnealingLR schedule, not of a StepLR"):
        step.load_state_dict(cosine.state_dict())
    with pytest.raises(TypeError, match="expected a dict"):
        step.load_state_dict([1, 2, 3])
    a, b = sched.ConstantLR(opt, factor=0.5), sched.ExponentialLR(opt, gamma=0.9)
    chained = sched.ChainedScheduler([a, b])
    state = chained.state_dict()
    state["_schedulers"][1] = sched.StepLR(opt, step_size=3).state_dict()
    a_before = a.state_dict()
    with pytest.raises(ValueError, match="ExponentialLR.load_state_dict: .* StepLR schedule"):
        chained.load_state_dict(state)
    assert a.state_dict() == a_before


# ------------------------------------------------------------------ hyper-parameters at step

@pytest.mark.parametrize("make, key, value, message", [
    (lambda w: optim.SGD([w], lr=0.1), "lr", -1.0, "invalid lr -1.0"),
    (lambda w: optim.SGD([w], lr=0.1), "lr", float("nan"), "invalid lr nan"),
    (lambda w: optim.Adam([w], lr=0.1), "betas", (0.9, 1.5), "beta parameter at index 1"),
    (lambda w: optim.RMSprop([w], lr=0.1), "eps", float("inf"), "invalid eps inf"),
])
def test_hyperparameters_changed_after_construction_are_caught_at_step(make, key, value,
                                                                       message):
    w = nn.Parameter(lg.ones(2))
    opt = make(w)
    opt.param_groups[0][key] = value
    (w * w).sum().backward()
    with pytest.raises(ValueError, match=rf"\.step: parameter group 0 has an invalid "
                                         rf"hyper-parameter.*{message}"):
        opt.step()
    assert w.data.tolist() == [1.0, 1.0]


def test_infinite_learning_rate_is_refused():
    w = nn.Parameter(lg.ones(2))
    for make in (optim.SGD, optim.Adam, optim.RMSprop):
        with pytest.raises(ValueError, match="invalid lr inf: it must be >= 0 \\(and finite\\)"):
            make([w], lr=float("inf"))


def test_locoprop_gamma_changed_after_construction_is_caught_at_step():
    from locograd.locoprop import LocoProp

    model = nn.Sequential(nn.Linear(3, 2), nn.Sigmoid())
    opt = LocoProp(model, nn.MSELoss(), inner_steps=1)
    opt.param_groups[0]["gamma"] = -1.0
    before = _snapshot(model)
    with pytest.raises(ValueError, match="LocoProp.step: .*invalid gamma -1.0"):
        opt.step(lg.ones(4, 3), lg.zeros(4, 2))
    _assert_unchanged(model, before)


# ------------------------------------------------------------------ io: bounded reads

def test_load_refuses_devices_pipes_and_directories_before_reading(tmp_path):
    if os.path.exists("/dev/zero"):
        with pytest.raises(CheckpointError, match="'/dev/zero' is a character device"):
            load("/dev/zero")
        with open("/dev/zero", "rb") as handle:
            with pytest.raises(CheckpointError, match="is a character device"):
                load(handle)
    with pytest.raises(CheckpointError, match="is a directory"):
        load(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        started = time.monotonic()
        with pytest.raises(CheckpointError, match="is a named pipe"):
            load(fifo)  # opening a pipe with no writer used to block forever
        assert time.monotonic() - started < 5


def test_load_checks_the_header_against_the_size_before_reading(tmp_path):
    path = tmp_path / "sparse.safetensors"
    save({"w": lg.ones(2)}, path)
    with open(path, "r+b") as handle:
        handle.truncate(8 << 30)  # 8 GiB, sparse: the old load read it all into memory
    started = time.monotonic()
    with pytest.raises(CheckpointError, match=r"the tensors cover 8 of the 85899"):
        load(path)
    assert time.monotonic() - started < 5


def _raw_checkpoint(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def test_load_refuses_tensors_beyond_the_file_and_huge_headers(tmp_path):
    meta = {"format": "locograd-checkpoint", "locograd.version": "1",
            "locograd.structure": "{}", "locograd.sha256": "0"}
    path = tmp_path / "big.safetensors"
    path.write_bytes(_raw_checkpoint({"__metadata__": meta, "w": {
        "dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 1 << 42]}}, bytes(16)))
    with pytest.raises(CheckpointError, match=r"tensor 'w' of shape \(1048576, 1048576\) "
                                              r"\(float32\) does not fit"):
        load(path)
    path.write_bytes(struct.pack("<Q", 1 << 40) + bytes(64))
    with pytest.raises(CheckpointError, match="more than the 104857600 allowed"):
        load(path)


def test_deeply_nested_checkpoints_raise_checkpoint_errors(tmp_path):
    deep = {}
    node = deep
    for _ in range(300):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ValueError, match="nested more than 200 levels"):
        save(deep, tmp_path / "deep.safetensors")
    # crafted: a structure record nested 100,000 levels deep, with a valid checksum
    from locograd.io import _checksum

    for depth in (250, 100_000):
        structure = '{"list":[' * depth + "]}" * depth
        meta = {"format": "locograd-checkpoint", "locograd.version": "1",
                "locograd.structure": structure, "locograd.sha256": _checksum(structure, {})}
        path = tmp_path / f"crafted{depth}.safetensors"
        path.write_bytes(_raw_checkpoint({"__metadata__": meta}))
        with pytest.raises(CheckpointError, match="nested more than 200 levels deep"):
            load(path)


def test_crafted_integer_parameter_with_requires_grad_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "p.safetensors"
    save({"w": nn.Parameter(lg.ones(2))}, path)
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header["w"]["dtype"] = "I32"  # same byte count, so only the dtype changes
    meta = header["__metadata__"]
    from locograd.io import _checksum

    arrays = {"w": np.frombuffer(raw[8 + n:], np.int32)}
    meta["locograd.sha256"] = _checksum(meta["locograd.structure"], arrays)
    path.write_bytes(_raw_checkpoint(header, raw[8 + n:]))
    with pytest.raises(CheckpointError, match="tensor 'w' of dtype int32 is marked "
                                              "requires_grad"):
        load(path)


def test_later_saves_remove_temporaries_left_by_crashed_saves(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    stale = tmp_path / ".checkpoint.safetensors.0123456789ab.tmp"
    stale.write_bytes(b"half a checkpoint")
    old = time.time() - 60
    os.utime(stale, (old, old))
    fresh = tmp_path / ".checkpoint.safetensors.ba9876543210.tmp"  # a save in progress
    fresh.write_bytes(b"being written")
    other = tmp_path / ".other.safetensors.0123456789ab.tmp"  # another target's
    other.write_bytes(b"not ours")
    os.utime(other, (old, old))
    save({"w": lg.ones(2)}, path)
    assert sorted(os.listdir(tmp_path)) == [fresh.name, other.name, path.name]
    if os.name == "posix":  # a writer holding its lock keeps its temporary, however old
        import fcntl

        os.utime(fresh, (old, old))
        with open(fresh, "rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            save({"w": lg.ones(2)}, path)
            assert fresh.exists()
        save({"w": lg.ones(2)}, path)
        assert not fresh.exists()
    assert load(path)["w"].tolist() == [1.0, 1.0]


# ------------------------------------------------------------------ fit: resume and bad batches

def _data(n=32, seed=0):
    from locograd.data import DataLoader, TensorDataset

    generator = lg.Generator(seed)
    x = lg.tensor(generator.numpy.standard_normal((n, 3)).astype(np.float32))
    y = lg.tensor((x.data[:, 0] > 0).astype(np.int64))
    return DataLoader(TensorDataset(x, y), batch_size=8)


def test_failed_resume_leaves_model_optimizer_and_scheduler_untouched(tmp_path):
    from locograd.train import fit

    lg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.1), _data(),
        epochs=1, checkpoint_dir=tmp_path, progress=False)
    lg.manual_seed(1)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    before = _snapshot(fresh)
    # two parameter groups against a checkpoint with one: the model used to be overwritten
    two_groups = optim.Adam([{"params": fresh[0].parameters()},
                             {"params": fresh[2].parameters(), "lr": 0.01}], lr=0.1)
    with pytest.raises(ValueError, match="the state dict has 1 parameter groups but the "
                                         "optimizer has 2"):
        fit(fresh, nn.CrossEntropyLoss(), two_groups, _data(), epochs=2, resume=tmp_path,
            progress=False)
    _assert_unchanged(fresh, before)
    # another optimiser: refused by kind, after the model was restored and given back
    sgd = optim.SGD(fresh.parameters(), lr=0.5)
    with pytest.raises(ValueError, match="that of a Adam optimizer, not of a SGD"):
        fit(fresh, nn.CrossEntropyLoss(), sgd, _data(), epochs=2, resume=tmp_path,
            progress=False)
    _assert_unchanged(fresh, before)
    assert sgd.param_groups[0]["lr"] == 0.5 and not sgd.state


def test_resume_with_a_malformed_loop_state_is_refused(tmp_path):
    from locograd.train.checkpoint import load_checkpoint, restore

    lg.manual_seed(0)
    model = nn.Linear(3, 2)
    from locograd.train import fit

    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), _data(),
        epochs=1, checkpoint_dir=tmp_path, progress=False)
    state = load_checkpoint(tmp_path)
    state["history"], state["epoch"] = "rows", "1"
    with pytest.raises(ValueError, match="'epoch' is '1', not a count of epochs; 'history' is "
                                         "not a list of rows"):
        restore(state, "x", model=model, optimizer=None, scheduler=None, generators={},
                early_stopping=None)


def test_skip_nonfinite_skips_a_nan_batch_without_touching_weights_or_state():
    from locograd.data import DataLoader, TensorDataset
    from locograd.train import NonFiniteLossError, fit

    x = np.random.default_rng(0).standard_normal((32, 3)).astype(np.float32)
    x[8:16] = np.nan  # batch 1 of 4
    y = (np.nan_to_num(x[:, 0]) > 0).astype(np.int64)
    loader = DataLoader(TensorDataset(lg.tensor(x), lg.tensor(y)), batch_size=8)
    lg.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    history = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=2, progress=False,
                  skip_nonfinite=True)
    assert [row["skipped_steps"] for row in history.rows] == [1, 1]
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    assert all(opt.state[p]["step"] == 6 for p in model.parameters())  # 3 steps per epoch
    assert np.isfinite(opt.state[model.weight]["exp_avg_sq"]).all()
    plain = nn.Linear(3, 2)
    with pytest.raises(NonFiniteLossError, match="epoch 1, batch 1"):  # without: it stops
        fit(plain, nn.CrossEntropyLoss(), optim.SGD(plain.parameters()), loader, epochs=1,
            progress=False)
    nan_only = DataLoader(TensorDataset(lg.tensor(x[8:16]), lg.tensor(y[8:16])), batch_size=8)
    with pytest.raises(NonFiniteLossError, match="every one of the 1 batches of epoch 1"):
        fit(model, nn.CrossEntropyLoss(), opt, nan_only, epochs=1, progress=False,
            skip_nonfinite=True)


# ------------------------------------------------------------------ the command line

def _cli(capsys, *argv):
    from locograd.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", 0], "argument --batch-size: expected a positive integer, got '0'"),
    (["--steps-per-epoch", 0], "argument --steps-per-epoch: expected a positive integer"),
    (["--target-loss", "nan"], "argument --target-loss: expected a finite number, got 'nan'"),
    (["--sizes", "784,abc"], "argument --sizes: expected positive integers separated by "
                             "commas, got '784,abc'"),
    (["--report", "missing.json"], "argument --report: cannot read missing.json: No such file"),
])
def test_compare_bad_options_are_one_line_naming_the_option(capsys, tmp_path, monkeypatch,
                                                            argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = _cli(capsys, "compare", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_compare_report_of_another_layout_names_the_file(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"something": "else"}')
    code, out, err = _cli(capsys, "compare", "--report", bad, "--out", tmp_path / "o")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"--report {bad}: not a histories.json written by 'locograd compare'" in err


def test_train_refuses_to_replace_a_run_without_overwrite(capsys, tmp_path):
    checkpoint = tmp_path / "checkpoint.safetensors"
    checkpoint.write_bytes(b"another model's checkpoint")
    code, out, err = _cli(capsys, "train", "--out", tmp_path, "--no-progress")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"--out {tmp_path} already holds a run" in err and "--overwrite" in err
    assert checkpoint.read_bytes() == b"another model's checkpoint"
    code, out, err = _cli(capsys, "demo", "--out", tmp_path, "--no-progress")
    assert code == 2 and "already holds a run" in err and "--resume" not in err
    code, out, err = _cli(capsys, "train", "--out", tmp_path, "--resume", "--overwrite")
    assert code == 2 and "give one of them" in err


@pytest.mark.parametrize("argv, message", [
    (["--limit", 1, "--val-split", 0.9], "--val-split 0.9 holds out all 1 samples that "
                                         "--limit 1 keeps"),
    (["--hidden-size", 1_000_000_000], "out of memory (lower --hidden-size"),
])
def test_train_bad_sizes_are_one_line(capsys, tmp_path, argv, message):
    code, out, err = _cli(capsys, "train", *argv, "--out", tmp_path, "--no-progress")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_unexpected_errors_are_one_line_unless_debug(capsys, tmp_path, monkeypatch):
    from locograd.cli import commands

    def broken(args):
        return 1 // 0

    monkeypatch.setattr(commands, "sample", broken)
    code, out, err = _cli(capsys, "sample", "--checkpoint", tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "locograd sample: error: ZeroDivisionError: integer division or modulo by zero " \
           "(run 'locograd --debug sample ...' for the traceback)" in err
    with pytest.raises(ZeroDivisionError):
        _cli(capsys, "--debug", "sample", "--checkpoint", tmp_path)


# ------------------------------------------------------------------ data: IDX files and loaders

def _idx_header(shape, code=0x08):
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def test_idx_gzip_bomb_is_refused_without_inflating_it(tmp_path):
    import gzip

    from locograd.data.idx import read_idx

    bomb = tmp_path / "images-idx3-ubyte.gz"
    with gzip.open(bomb, "wb") as handle:  # a valid header, then far more data than it says
        handle.write(_idx_header((5, 28, 28)) + bytes(5 * 784))
        for _ in range(64):
            handle.write(bytes(1 << 20))
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"is corrupt: at least 16777216 bytes more than the "
                                         r"shape \(5, 28, 28\)"):
        read_idx(bomb)
    assert time.monotonic() - started < 5
    huge = tmp_path / "huge-idx3-ubyte.gz"  # a header announcing 3 GiB
    huge.write_bytes(gzip.compress(_idx_header((3, 1024, 1 << 20)) + bytes(100)))
    with pytest.raises(ValueError, match=r"announces shape \(3, 1024, 1048576\) of uint8, "
                                         r"3,221,225,472 bytes, more than the 2,147,483,648"):
        read_idx(huge)
    dense = tmp_path / "dense-idx3-ubyte.gz"  # more than deflate could expand 160 bytes into
    dense.write_bytes(gzip.compress(_idx_header((1000, 1000, 1000)) + bytes(100)))
    with pytest.raises(ValueError, match="more than its .* compressed bytes can hold"):
        read_idx(dense, max_bytes=4 << 30)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe-idx3-ubyte")
        with pytest.raises(ValueError, match="is not a regular file"):
            read_idx(tmp_path / "pipe-idx3-ubyte")


def test_idx_raw_file_sizes_are_checked_before_reading(tmp_path):
    from locograd.data.idx import read_idx

    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(_idx_header((1000,)) + bytes(10))
    with pytest.raises(ValueError, match=r"truncated: its header announces shape \(1000,\) of "
                                         r"uint8 \(1000 bytes\), more than the 10 bytes after"):
        read_idx(path)


@pytest.mark.parametrize("timeout", [float("nan"), -1, "10", None])
def test_dataloader_refuses_a_timeout_that_is_not_a_number_of_seconds(timeout):
    from locograd.data import DataLoader, TensorDataset

    with pytest.raises(ValueError, match="timeout should be a non-negative number of seconds, "
                                         f"got {timeout!r}"):
        DataLoader(TensorDataset(lg.ones(4)), timeout=timeout)


class _BrokenAtFive:
    def __len__(self):
        return 12

    def __getitem__(self, index):
        if index == 5:
            raise KeyError(f"no sample {index}")
        return np.float32(index)


def test_worker_errors_name_the_batch_and_its_indices():
    from locograd.data import DataLoader

    loader = DataLoader(_BrokenAtFive(), batch_size=4, num_workers=1)
    with pytest.raises(KeyError, match=r"in DataLoader worker process 0 while fetching batch 1 "
                                       r"\(dataset indices \[4, 5, 6, 7\]\)"):
        list(loader)


def test_a_failing_sampler_with_workers_exits_instead_of_hanging(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "sampler.py"
    script.write_text(
        "import locograd as lg\n"
        "from locograd.data import DataLoader, TensorDataset\n"
        "class Bad:\n"
        "    def __iter__(self): raise RuntimeError('sampler broke')\n"
        "    def __len__(self): return 4\n"
        "for batch in DataLoader(TensorDataset(lg.ones(8)), sampler=Bad(), num_workers=2):\n"
        "    pass\n")
    try:  # the workers, started outside the shutdown-on-error code, kept the process alive
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung after the sampler raised")
    assert done.returncode == 1 and "RuntimeError: sampler broke" in done.stderr


# ------------------------------------------------------------------ MPI: sys.exit on one rank

class _FakeComm:
    aborted = None

    def Dup(self):
        return self

    def Split_type(self, kind):
        return self

    def Get_rank(self):
        return 1

    def Get_size(self):
        return 2

    def Free(self):
        pass

    def Abort(self, code):
        _FakeComm.aborted = code


def test_sys_exit_on_one_rank_aborts_the_job(monkeypatch):
    import sys
    import types

    from locograd.distributed import process_group as pg

    fake = types.SimpleNamespace(COMM_WORLD=_FakeComm(), COMM_TYPE_SHARED=0)
    monkeypatch.setattr(pg, "_import_mpi", lambda: fake)
    original_exit, original_hook = sys.exit, sys.excepthook
    _FakeComm.aborted = None
    pg.init_process_group()
    try:
        assert sys.exit is not original_exit
        pg._abort_after_failed_exit()  # a normal end: nothing to abort
        assert _FakeComm.aborted is None
        with pytest.raises(SystemExit) as exit_:
            sys.exit(3)
        assert exit_.value.code == 3
        pg._abort_after_failed_exit()  # what atexit runs as the rank leaves
        assert _FakeComm.aborted == 3
        with pytest.raises(SystemExit):
            sys.exit("fatal: no data")  # a message: exit code 1, as Python gives
        pg._abort_after_failed_exit()
        assert _FakeComm.aborted == 1
    finally:
        pg.destroy_process_group()
    assert sys.exit is original_exit and sys.excepthook is original_hook
    pg._abort_after_failed_exit()  # after destroy: never aborts

"""Checkpoints: round trips of nested state dicts, integrity checks, atomic writes, no pickle."""
import io
import json
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

pytest.importorskip("safetensors")

import locograd as lg  # noqa: E402
from locograd import nn  # noqa: E402
from locograd.io import CheckpointError, load, save  # noqa: E402


def _net(seed=0):
    lg.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.PReLU(4), nn.Linear(4, 2))


def _assert_same(a, b, where="obj"):
    """``a`` and ``b`` hold the same types, keys, dtypes, shapes and values; a failure names
    the place (``where``, e.g. ``obj['state'][0]``)."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, dict):
        assert [(k, type(k)) for k in a] == [(k, type(k)) for k in b], where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), (where, len(a), len(b))
        for index, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{index}]")
    elif isinstance(a, (lg.Tensor, np.ndarray, np.generic)):
        x = a.numpy() if isinstance(a, lg.Tensor) else np.asarray(a)
        y = b.numpy() if isinstance(b, lg.Tensor) else np.asarray(b)
        assert (x.dtype, x.shape) == (y.dtype, y.shape), where
        np.testing.assert_array_equal(x, y, err_msg=where)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), (where, b)
    else:
        assert a == b, where


def test_state_dict_round_trip(tmp_path):
    net = _net()
    path = tmp_path / "model.safetensors"
    save(net.state_dict(), path)
    loaded = load(path)
    assert isinstance(loaded, OrderedDict)
    _assert_same(loaded, OrderedDict((k, v) for k, v in net.state_dict().items()))
    other = _net(seed=1)
    other.load_state_dict(loaded)
    x = lg.randn(5, 3)
    np.testing.assert_array_equal(other(x).numpy(), net(x).numpy())


def test_dtypes_shapes_and_python_values_round_trip(tmp_path):
    obj = {
        "f32": lg.randn(2, 3), "f64": lg.tensor(np.arange(4.0)), "i64": lg.arange(5),
        "bool": lg.tensor([True, False]), "scalar": lg.tensor(2.5), "f16": np.ones(3, np.float16),
        "empty": np.zeros((0, 4), np.int32), "u8": np.arange(3, dtype=np.uint8),
        "transposed": np.arange(6.0).reshape(2, 3).T, "np_scalar": np.float64(1.25),
        "np_int": np.int64(7), "int": 3, "big": 2 ** 100, "float": 0.1, "nan": float("nan"),
        "inf": float("-inf"), "none": None, "flag": True, "text": "héllo",
        "list": [1, [2.0, "x"]], "tuple": (1, (None,)), "odict": OrderedDict(b=1, a=2),
        5: "int key", 2.5: "float key", (1, "a"): "tuple key", None: "none key",
    }
    path = tmp_path / "values.safetensors"
    save(obj, path)
    _assert_same(load(path), obj)


def test_optimizer_state_with_int_keys_round_trips(tmp_path):
    state = {"state": {0: {"step": 10, "exp_avg": lg.randn(3), "exp_avg_sq": lg.rand(3)},
                       1: {"step": 10, "momentum_buffer": np.zeros((2, 2))}},
             "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                               "amsgrad": False, "weight_decay": 0}]}
    path = tmp_path / "optim.safetensors"
    save(state, path)
    loaded = load(path)
    _assert_same(loaded, state)
    assert sorted(loaded["state"]) == [0, 1]


def test_tensor_flags_and_sharing_round_trip():
    p = nn.Parameter(lg.ones(2))
    t = lg.ones(3, requires_grad=True)
    buffer = io.BytesIO()
    save({"p": p, "t": t, "again": t}, buffer)
    loaded = load(io.BytesIO(buffer.getvalue()))
    assert isinstance(loaded["p"], nn.Parameter) and loaded["p"].requires_grad
    assert loaded["t"].requires_grad and not isinstance(loaded["t"], nn.Parameter)
    assert loaded["again"] is loaded["t"]
    loaded["t"].data[0] = 5.0  # loaded arrays are writable
    assert loaded["t"].numpy()[0] == 5.0


def test_unsupported_values_are_rejected_before_writing(tmp_path):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(TypeError, match=r"type set at obj\['a'\]\[1\]"):
        save({"a": [1, {2}]}, path)
    with pytest.raises(TypeError, match="dtype complex128"):
        save({"z": np.ones(2, complex)}, path)
    with pytest.raises(TypeError, match="dict keys"):
        save({object(): 1}, path)
    assert not path.exists() and os.listdir(tmp_path) == []


def _corrupt(path, offset_from_end=1):
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 0x01
    path.write_bytes(bytes(data))


def test_save_corrupt_load_leaves_the_model_untouched(tmp_path):
    net = _net()
    path = tmp_path / "ckpt.safetensors"
    save(_net(seed=9).state_dict(), path)
    _corrupt(path)  # one bit of the last tensor's data: safetensors alone would accept it
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    with pytest.raises(CheckpointError, match="ckpt.safetensors.*checksum mismatch"):
        net.load_state_dict(load(path))
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
        assert v.numpy().tobytes() == before[k].tobytes()  # bit-identical


@pytest.mark.parametrize("position", ["first_data_byte", "header_digit"])
def test_flipped_bytes_anywhere_are_caught(tmp_path, position):
    path = tmp_path / "x.safetensors"
    save({"w": lg.ones(4, dtype=lg.float64), "step": 3}, path)
    data = bytearray(path.read_bytes())
    n = int.from_bytes(data[:8], "little")
    if position == "first_data_byte":
        data[8 + n] ^= 0x40
    else:  # a digit inside the JSON header (the structure record or the checksum)
        header = data[8:8 + n].decode()
        marker = 'step\\",'  # the structure record is JSON inside the JSON header
        i = header.index(marker + "3") + len(marker)
        data[8 + i] = ord("4")
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load(path)


def test_truncated_and_foreign_files_raise_clear_errors(tmp_path):
    good = tmp_path / "good.safetensors"
    save({"w": lg.ones(100)}, good)
    data = good.read_bytes()
    cases = {
        "truncated.safetensors": (data[:-50], "truncated|corrupted"),
        "tiny.safetensors": (data[:5], "only 5 bytes"),
        "empty.safetensors": (b"", "only 0 bytes"),
        "random.bin": (np.random.default_rng(0).bytes(4096), "not a locograd checkpoint"),
        "model.pkl": (pickle.dumps({"w": [1, 2]}), "pickle"),
        "torch.pt": (b"PK\x03\x04" + bytes(200), "zip archive"),
        "config.json": (json.dumps({"w": [1.0] * 50}).encode(), "JSON file"),
    }
    for name, (payload, pattern) in cases.items():
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(CheckpointError, match=pattern) as info:
            load(path)
        assert name in str(info.value), str(info.value)


def test_plain_safetensors_file_is_not_mistaken_for_a_checkpoint(tmp_path):
    import safetensors.numpy
    path = tmp_path / "plain.safetensors"
    safetensors.numpy.save_file({"w": np.ones(3, np.float32)}, str(path))
    with pytest.raises(CheckpointError, match="without locograd's metadata"):
        load(path)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    path = tmp_path / "m.safetensors"
    save(_net().state_dict(), path)
    load(path)
    (tmp_path / "evil.pkl").write_bytes(b"\x80\x04\x95" + bytes(40))
    with pytest.raises(CheckpointError):
        load(tmp_path / "evil.pkl")


def test_atomic_write_keeps_the_previous_checkpoint_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    save({"w": lg.zeros(3)}, path)
    original = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        save({"w": lg.ones(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # the temporary file is gone
    assert load(path)["w"].tolist() == [0.0, 0.0, 0.0]
    save({"w": lg.ones(3)}, path)  # a successful save replaces it
    assert load(path)["w"].tolist() == [1.0, 1.0, 1.0]


def test_save_fsyncs_file_and_directory(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    save({"w": lg.ones(2)}, tmp_path / "a.safetensors")
    assert len(synced) == 2  # the temporary file, then the directory


def test_save_into_missing_directory_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"w": lg.ones(1)}, tmp_path / "nope" / "a.safetensors")

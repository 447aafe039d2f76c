"""Checkpoints: ``save`` and ``load`` for nested state dicts, safely.

Format: a `safetensors <https://github.com/huggingface/safetensors>`_ file. Every tensor (and
NumPy array) of the saved object is one safetensors entry, keyed by its path in the object
(``"fc1.weight"``, ``"state.0.exp_avg"``); everything else (the nesting of dicts, lists and
tuples, numbers, strings, None, bools, and the types of dict keys, so that integer keys come back
as integers) is JSON in the file's metadata, next to a SHA-256 checksum of the structure and of
every tensor's name, dtype, shape and bytes.

Guarantees:
    * Loading never executes code: no pickle anywhere, only JSON and raw arrays.
    * ``load`` verifies the checksum: a flipped byte in tensor data (which safetensors alone
      accepts), a truncated file, a foreign file (random bytes, a pickle, a PyTorch zip, a
      JSON file, a safetensors file not written by locograd) all raise one ``CheckpointError``
      naming the file and what is wrong. Since ``load`` returns only once everything is
      verified, ``model.load_state_dict(lg.load(path))`` leaves the model untouched on error.
    * ``save`` is atomic: it writes a temporary file in the same directory, fsyncs it, renames
      it over the target (``os.replace``) and fsyncs the directory; a crash mid-save leaves the
      previous checkpoint intact; a later save of the same target removes the temporaries
      that crashed saves left (those no live writer holds a lock on).
    * Reads are bounded: ``load`` refuses anything but a regular file (a named pipe, a device
      such as ``/dev/zero``) before reading, checks the header's size and every tensor's
      declared bytes against the file's size, and maps the file instead of reading it, so that
      only what the header declares is touched. Nesting deeper than 200 levels is refused.
    * Dtypes (bool, integers, float16/32/64) and shapes (including 0-d) are preserved exactly.
    * Devices: ``save`` copies device tensors and arrays to the host (the file records each
      tensor's device); ``load`` gives host tensors unless ``map_location`` asks for a device,
      so a checkpoint written on a GPU loads on a machine without one.

Requires the ``io`` extra (``pip install locograd[io]``), imported only when used.
"""
from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np

from .autograd.tensor_base import TensorBase, new_tensor
from .backend.devices import device, device_of, is_device_array, resolve, to_device

__all__ = ["save", "load", "CheckpointError"]

_FORMAT = "locograd-checkpoint"
_VERSION = 1
_SUPPORTED_KINDS = "biuf"


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be loaded (truncated, corrupted or not a locograd checkpoint)."""


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError:  # pragma: no cover - the io extra is part of the test install
        raise ImportError("locograd.save/load need the 'safetensors' package: "
                          "pip install 'locograd[io]'") from None
    return safetensors.numpy


# ------------------------------------------------------------------------------ encoding

class _Encoder:
    """Turns an object into a JSON structure plus a dict of named arrays."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.keys_by_id: dict[int, str] = {}
        self.keep_alive = []  # ids are only unique while the objects live

    def encode(self, obj, path: list):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if len(path) > _MAX_DEPTH:
            raise ValueError(f"save: the object is nested more than {_MAX_DEPTH} levels deep at "
                             f"{_describe(path[:3])}... (a cycle?); load would refuse it")
        if isinstance(obj, (int, float)) and type(obj) in (int, float):
            return obj
        if isinstance(obj, TensorBase):
            data = obj.data
            location = None
            if not isinstance(data, np.ndarray):  # a device tensor: its host copy is written
                location = device_of(data)
                data = to_device(data, _CPU) if id(obj) not in self.keys_by_id else data
            node = {"tensor": self._store(obj, data, path)}
            if location is not None:
                node["device"] = str(location)
            if obj.requires_grad:
                node["requires_grad"] = True
            if type(obj).__name__ == "Parameter":
                node["parameter"] = True
            return node
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._store(obj, obj, path)}
        if isinstance(obj, np.generic):
            return {"npscalar": self._store(obj, np.asarray(obj), path)}
        if isinstance(obj, dict):
            kind = "odict" if isinstance(obj, OrderedDict) else "dict"
            items = []
            for k, v in obj.items():
                items.append([self._encode_key(k, path), self.encode(v, path + [k])])
            return {kind: items}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return {kind: [self.encode(v, path + [i]) for i, v in enumerate(obj)]}
        if is_device_array(obj):  # a device optimizer's state: written from a host copy
            return {"ndarray": self._store(obj, to_device(obj, _CPU)
                                           if id(obj) not in self.keys_by_id else obj, path)}
        raise TypeError(f"save: cannot save a value of type {type(obj).__name__} at "
                        f"{_describe(path)}; supported: tensors, NumPy arrays and scalars, "
                        f"dicts, lists, tuples, int, float, bool, str and None")

    def _encode_key(self, key, path):
        if key is None or type(key) in (bool, int, float, str):
            return key
        if isinstance(key, tuple):
            return {"tuple": [self._encode_key(k, path) for k in key]}
        raise TypeError(f"save: dict keys must be str, int, float, bool, None or tuples of them; "
                        f"got a key of type {type(key).__name__} at {_describe(path)}")

    def _store(self, obj, arr: np.ndarray, path) -> str:
        if id(obj) in self.keys_by_id:  # the same object twice: stored once, loaded as one
            return self.keys_by_id[id(obj)]
        if arr.dtype.kind not in _SUPPORTED_KINDS:
            raise TypeError(f"save: cannot save an array of dtype {arr.dtype} at "
                            f"{_describe(path)}; supported: bool, integers, float16/32/64")
        name = ".".join(str(p) for p in path) or "tensor"
        base, n = name, 1
        while name in self.arrays:
            n += 1
            name = f"{base}#{n}"
        # Little-endian and contiguous, as the format requires (a copy only when needed).
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        self.arrays[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
        self.keys_by_id[id(obj)] = name
        self.keep_alive.append(obj)
        return name


_CPU = device("cpu")


def _placement(map_location):
    """``map_location`` as a function ``(host tensor, saved location) -> tensor``, or None (the
    host). PyTorch's forms: a device or a string (every tensor there), a dict from saved
    locations to new ones (others stay on the host), a callable ``fn(tensor, location)``
    (None from it: the host)."""
    if map_location is None:
        return None
    if isinstance(map_location, (str, device, int)) and not isinstance(map_location, bool):
        target = resolve(map_location)  # checked now: "cuda" without a GPU fails before reading
        return lambda tensor, location: target
    if isinstance(map_location, dict):
        table = {str(device(k)): v for k, v in map_location.items()}
        return lambda tensor, location: table.get(location)
    if callable(map_location):
        return map_location
    raise TypeError(f"load: map_location must be None, a device, a string, a dict or a "
                    f"callable, got {type(map_location).__name__}")


def _describe(path: list) -> str:
    return "obj" + "".join(f"[{p!r}]" for p in path)


def _checksum(structure: str, arrays: dict) -> str:
    import hashlib  # imported here: `import locograd` stays fast

    h = hashlib.sha256()
    h.update(_FORMAT.encode())
    h.update(structure.encode("utf-8"))
    for name in sorted(arrays):
        arr = arrays[name]
        h.update(f"\0{name}\0{arr.dtype.str}\0{arr.shape}\0".encode("utf-8"))
        h.update((arr if arr.flags.c_contiguous else arr.copy(order="C")).reshape(-1)
                 .view(np.uint8))
    return h.hexdigest()


# ------------------------------------------------------------------------------ save

def save(obj, f) -> None:
    """Save ``obj`` (a state dict or any nesting of tensors, arrays, numbers, strings) to ``f``.

    Args:
        obj: dicts (any of str/int/float/bool/None/tuple keys), lists and tuples of tensors,
            NumPy arrays and scalars, int, float, bool, str and None.
        f: a path (written atomically) or a binary file object.

    Example:
        >>> import locograd as lg, tempfile, os
        >>> from locograd.io import save, load
        >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
        >>> save({"step": 3, "weights": {"w": lg.ones(2)}}, path)
        >>> load(path)["weights"]["w"].tolist()
        [1.0, 1.0]
    """
    encoder = _Encoder()
    import json

    structure = json.dumps(encoder.encode(obj, []), separators=(",", ":"))
    metadata = {"format": _FORMAT, "locograd.version": str(_VERSION),
                "locograd.structure": structure,
                "locograd.sha256": _checksum(structure, encoder.arrays)}
    payload = _safetensors().save(encoder.arrays, metadata=metadata)
    if hasattr(f, "write"):
        f.write(payload)
        return
    _atomic_write(os.fspath(f), payload)


def _atomic_write(path: str, payload: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: the directory {directory!r} does not exist")
    import secrets

    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never write through an existing file or link; 0o666 lets the umask decide.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            _lock(handle.fileno())  # held while writing: marks the temporary as in use
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)  # (outside the with: Windows cannot replace an open file)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)
    _remove_stale_temporaries(directory, os.path.basename(path))


#: a temporary older than this, that no live writer holds, is left from a crashed save
_STALE_SECONDS = 2.0


def _lock(fd: int, blocking: bool = True) -> bool:
    """An exclusive ``flock`` on ``fd`` (released when the process dies); True where there is no
    ``fcntl`` (Windows), where the age of a temporary alone decides."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def _remove_stale_temporaries(directory: str, base: str) -> None:
    """Delete ``.<base>.<hex>.tmp`` files that a crashed save of the same target left behind:
    those no writer holds a lock on (a live save does), older than a moment."""
    import re
    import time

    pattern = re.compile(r"\." + re.escape(base) + r"\.[0-9a-f]{12}\.tmp")
    try:
        names = [n for n in os.listdir(directory) if pattern.fullmatch(n)]
    except OSError:
        return
    for name in names:
        stale = os.path.join(directory, name)
        try:
            fd = os.open(stale, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:  # gone already, or a link: not ours to follow
            continue
        try:
            old = time.time() - os.fstat(fd).st_mtime > _STALE_SECONDS
            if old and _lock(fd, blocking=False):
                os.unlink(stale)
        except OSError:
            pass
        finally:
            os.close(fd)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------ load

def load(f, map_location=None, weights_only: bool = True):
    """Load an object written by ``save``, after verifying its integrity.

    Args:
        f: a path or a binary file object.
        map_location: where tensors go, as in PyTorch: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a
            ``device``, a dict mapping saved locations to new ones (``{"cuda:1": "cuda:0"}``)
            or a callable ``fn(tensor, location)`` returning a tensor, a device or None.
            Deliberate difference: without it (or for a location the dict does not map)
            tensors load on the host, not on the device they were saved from, so a
            GPU-trained checkpoint loads anywhere. NumPy arrays in the file stay NumPy arrays
            (an optimiser's ``load_state_dict`` moves its state to its parameters' device).
        weights_only: accepted for PyTorch compatibility; loading is always safe.

    Returns:
        The saved object: tensors come back as tensors (``Parameter`` as ``Parameter``, with
        ``requires_grad``), arrays as arrays, dict keys with their types.

    Raises:
        CheckpointError: the file is truncated, corrupted (checksum mismatch) or not a
            locograd checkpoint; the message names the file.

    Example:
        >>> import io, locograd as lg
        >>> from locograd.io import save, load
        >>> buffer = io.BytesIO(); save({0: {"step": 5}}, buffer)
        >>> load(io.BytesIO(buffer.getvalue()))
        {0: {'step': 5}}
    """
    place = _placement(map_location)
    name, data = _open(f)
    where = f"load: {name!r}"
    metadata, arrays = _parse(data, where)
    structure = metadata.get("locograd.structure")
    if not isinstance(structure, str):
        raise CheckpointError(f"{where} is corrupted: its structure record is missing")
    if metadata.get("locograd.sha256") != _checksum(structure, arrays):
        raise CheckpointError(f"{where} is corrupted: checksum mismatch (the tensor data or the "
                              f"structure changed after it was written)")
    import json

    try:
        tree = json.loads(structure)
    except ValueError as e:
        raise CheckpointError(f"{where} is corrupted: bad structure record ({e})") from None
    except RecursionError:
        raise CheckpointError(f"{where} is corrupted: its structure is nested more than "
                              f"{_MAX_DEPTH} levels deep") from None
    return _Decoder(arrays, where, place).decode(tree)


def _open(f):
    """``(name, buffer)``: the file's bytes, memory-mapped for a path (nothing is read yet), so
    that only what the header declares is ever touched. Anything but a regular file (a named
    pipe that would block, ``/dev/zero`` that never ends, a directory) is refused first."""
    if hasattr(f, "read"):
        name = getattr(f, "name", "<file object>")
        fileno = getattr(f, "fileno", None)
        try:
            fd = fileno() if fileno is not None else None
        except (OSError, ValueError):  # io.BytesIO and friends: already in memory
            fd = None
        if fd is None:
            return name, f.read()
        _check_regular(os.fstat(fd), f"load: {name!r}")
        return name, f.read()  # bounded: a regular file ends
    name = os.fspath(f)
    # O_NONBLOCK: opening a named pipe must not wait for a writer before we can refuse it.
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        _check_regular(info, f"load: {name!r}")
        if info.st_size == 0:
            return name, b""
        import mmap

        return name, memoryview(mmap.mmap(fd, info.st_size, access=mmap.ACCESS_READ))
    finally:
        os.close(fd)


def _check_regular(info: os.stat_result, where: str) -> None:
    import stat

    if stat.S_ISREG(info.st_mode):
        return
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket")]
    kind = next((text for test, text in kinds if test(info.st_mode)), "not a regular file")
    raise CheckpointError(f"{where} is {kind}; checkpoints are read only from regular files")


#: safetensors' dtype names -> NumPy (little-endian, as the format stores them)
_DTYPES = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "I16": "<i2", "U16": "<u2", "I32": "<i4",
           "U32": "<u4", "I64": "<i8", "U64": "<u8", "F16": "<f2", "F32": "<f4", "F64": "<f8"}
#: safetensors refuses larger headers; so do we, before reading one
_MAX_HEADER = 100 * 1024 * 1024
#: deepest nesting of containers ``save`` writes and ``load`` reads
_MAX_DEPTH = 200


def _parse(data, where: str):
    """The metadata and the arrays (read-only views of ``data``) of a safetensors buffer, every
    entry of the header checked against the buffer's size before any tensor is touched."""
    metadata, header, start = _read_metadata(data, where)
    size = len(data)
    arrays, spans = {}, []
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype = np.dtype(_DTYPES[entry["dtype"]])
            shape = tuple(entry["shape"])
            begin, end = entry["data_offsets"]
            if not all(type(d) is int and d >= 0 for d in shape + (begin, end)):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{where} is corrupted: the header entry of tensor {key!r} is "
                                  f"malformed") from None
        count = int(np.prod(shape, dtype=object))
        if end - begin != count * dtype.itemsize or start + end > size:
            raise CheckpointError(f"{where} is corrupted: tensor {key!r} of shape {shape} "
                                  f"({dtype}) does not fit its declared bytes {begin}..{end} "
                                  f"of the {size - start} after the header")
        spans.append((begin, end))
        arrays[key] = np.frombuffer(data, dtype=dtype, count=count,
                                    offset=start + begin).reshape(shape)
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            break
        position = end
    if position != size - start or len(spans) and sorted(spans)[-1][1] != position:
        raise CheckpointError(f"{where} is corrupted: the tensor data does not match the header "
                              f"(the tensors cover {position} of the {size - start} bytes after "
                              f"it, or overlap)")
    return metadata, arrays


def _read_metadata(data, where: str):
    """Check the safetensors header against the buffer's size, parse it, and return
    ``(locograd's metadata, the header, offset of the tensor data)``, or raise a clear error."""
    size = len(data)
    hint = _foreign_hint(bytes(data[:16]))
    if size < 8:
        raise CheckpointError(f"{where} is not a locograd checkpoint: only {size} bytes "
                              f"(truncated or empty){hint}")
    n = int.from_bytes(data[:8], "little")
    if n > _MAX_HEADER:
        raise CheckpointError(f"{where} is not a locograd checkpoint: the header claims {n} "
                              f"bytes, more than the {_MAX_HEADER} allowed{hint}")
    if n > size - 8:
        raise CheckpointError(f"{where} is truncated or not a locograd checkpoint: the header "
                              f"claims {n} bytes but the file has {size - 8} after the length"
                              f"{hint}")
    import json

    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CheckpointError(f"{where} is corrupted or not a locograd checkpoint: its header is "
                              f"not valid JSON{hint}") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != _FORMAT:
        raise CheckpointError(f"{where} is not a locograd checkpoint: a safetensors file without "
                              f"locograd's metadata (to read raw tensors from it, use "
                              f"safetensors.numpy.load_file)")
    version = metadata.get("locograd.version")
    if version != str(_VERSION):
        raise CheckpointError(f"{where}: unsupported checkpoint version {version!r} (this "
                              f"locograd reads version {_VERSION})")
    return metadata, header, 8 + n


def _foreign_hint(data: bytes) -> str:
    if data[:1] == b"\x80":
        return " (it looks like a Python pickle, which locograd never loads)"
    if data[:4] == b"PK\x03\x04":
        return " (it looks like a zip archive, e.g. a file written by torch.save)"
    if data.lstrip()[:1] in (b"{", b"["):
        return " (it looks like a JSON file)"
    return ""


class _Decoder:
    def __init__(self, arrays: dict, where: str, place=None):
        self.arrays, self.where, self.place = arrays, where, place
        self.objects: dict[str, object] = {}

    def bad(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.where} is corrupted: {what}")

    def decode(self, node, depth: int = 0):
        if node is None or type(node) in (bool, int, float, str):
            return node
        if depth > _MAX_DEPTH:
            raise self.bad(f"its structure is nested more than {_MAX_DEPTH} levels deep")
        if not isinstance(node, dict) or len(node) == 0:
            raise self.bad(f"unexpected structure entry {node!r:.80}")
        kind = next(iter(node))
        value = node[kind]
        if kind in ("dict", "odict"):
            out = OrderedDict() if kind == "odict" else {}
            for pair in self._list(value):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise self.bad("malformed dict entry")
                out[self._key(pair[0])] = self.decode(pair[1], depth + 1)
            return out
        if kind in ("list", "tuple"):
            items = [self.decode(v, depth + 1) for v in self._list(value)]
            return items if kind == "list" else tuple(items)
        if kind in ("tensor", "ndarray", "npscalar"):
            return self._array_object(kind, value, node)
        raise self.bad(f"unknown structure entry {kind!r}")

    def _list(self, value) -> list:
        if not isinstance(value, list):
            raise self.bad("malformed container entry")
        return value

    def _key(self, key, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise self.bad(f"a dict key is nested more than {_MAX_DEPTH} levels deep")
        if key is None or type(key) in (bool, int, float, str):
            return key
        if isinstance(key, dict) and list(key) == ["tuple"]:
            return tuple(self._key(k, depth + 1) for k in self._list(key["tuple"]))
        raise self.bad(f"malformed dict key {key!r:.80}")

    def _array_object(self, kind: str, name, node: dict):
        if name in self.objects:
            return self.objects[name]
        if name not in self.arrays:
            raise self.bad(f"the structure refers to a missing tensor {name!r}")
        arr = self.arrays[name]
        if kind == "tensor" and node.get("requires_grad") and arr.dtype.kind != "f":
            raise self.bad(f"tensor {name!r} of dtype {arr.dtype} is marked requires_grad, which "
                           f"only floating-point tensors can be")
        if not arr.flags.writeable:
            arr = arr.copy()  # a view of the mapped file: the copy owns its memory
        if kind == "ndarray":
            obj = arr
        elif kind == "npscalar":
            obj = arr[()]
        elif node.get("parameter"):
            from .nn.parameter import Parameter
            obj = Parameter(arr, requires_grad=bool(node.get("requires_grad")))
        else:
            obj = new_tensor(arr)
            if node.get("requires_grad"):
                obj.requires_grad_(True)
        if kind == "tensor" and self.place is not None:
            obj = self._placed(obj, node.get("device", "cpu"))
        self.objects[name] = obj
        return obj

    def _placed(self, tensor, location: str):
        """``tensor`` (on the host) where ``map_location`` puts a tensor saved on ``location``;
        a Parameter stays a Parameter (its array moves)."""
        target = self.place(tensor, location)
        if target is None:
            return tensor
        if isinstance(target, TensorBase):
            return target
        target = resolve(target)
        if target.type != "cpu":
            tensor.data = to_device(tensor.data, target)
        return tensor

"""Devices with PyTorch's names: ``device("cpu" | "cuda" | "cuda:N")``, and the arrays behind them.

A tensor's device is the device of its array: NumPy arrays live on the CPU, CuPy arrays on a
CUDA device (``cuda:N``). CuPy is imported only when a CUDA device is asked for; without it, or
without a GPU, asking for ``"cuda"`` raises one error that says which is missing and how to
install it.

With the environment variable ``LOCOGRAD_CUDA_STANDIN=N``, ``"cuda"`` devices are CPU stand-ins
(``backend.standin``): arrays that behave towards NumPy as CuPy's do, so that the device path is
proven on machines without a GPU (CI).
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

from .standin import NAMESPACE as _STANDIN_NAMESPACE
from .standin import StandInArray, current_device, set_current_device

__all__ = ["device", "as_device", "device_of", "to_device", "namespace_for_device", "resolve",
           "set_default_device", "get_default_device", "fill_from_host", "is_device_array",
           "cuda_is_available", "cuda_device_count", "cuda_current_device", "cuda_set_device"]

_DEVICE_TYPES = ("cpu", "cuda")


class device:
    """Where a tensor's data lives, as ``torch.device``: ``device("cpu")``, ``device("cuda")``,
    ``device("cuda:1")``, ``device("cuda", 1)``.

    Compares equal to its string form (``device("cpu") == "cpu"``). ``device("cuda")`` has no
    index (the current device); a tensor's ``.device`` always has one.

    Example:
        >>> device("cuda:1").type, device("cuda:1").index, str(device("cpu"))
        ('cuda', 1, 'cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None):  # noqa: A002  (PyTorch's name)
        if isinstance(type, device):
            if index is not None:
                raise ValueError("device: give an index only with a device type string")
            type, index = type.type, type.index
        elif isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # torch.device(0) is cuda:0
        elif isinstance(type, str):
            text = type.strip()
            if ":" in text:
                if index is not None:
                    raise ValueError(f"device: the string {type!r} already has an index")
                text, _, number = text.partition(":")
                if not number.isdigit():
                    raise ValueError(f"device: invalid device string {type!r}: expected 'cpu', "
                                     f"'cuda' or 'cuda:N' with N a non-negative integer")
                index = int(number)
            type = text
        else:
            raise TypeError(f"device: expected a string, an int or a device, got "
                            f"{type.__class__.__name__}")
        if type not in _DEVICE_TYPES:
            raise RuntimeError(f"device: unknown device type {type!r}; locograd has "
                               f"{', '.join(repr(t) for t in _DEVICE_TYPES)}")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise ValueError(f"device: the index must be a non-negative int, got {index!r}")
            if type == "cpu" and index != 0:
                raise ValueError(f"device: the CPU has only index 0, got cpu:{index}")
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (ValueError, RuntimeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")


class _Default:
    device: device | None = None  # None: the CPU, and factories skip the device check


def set_default_device(spec) -> None:
    """The device factories (``zeros``, ``randn``, ``tensor``...) and new parameters use when no
    ``device=`` is given, as ``torch.set_default_device``. ``from_numpy`` stays on the CPU."""
    d = None if spec is None else resolve(spec)
    _Default.device = None if d is None or d.type == "cpu" else d


def get_default_device() -> device | None:
    """The default device set by ``set_default_device`` (None: the CPU)."""
    return _Default.device


def as_device(spec) -> device | None:
    """``spec`` (a device, a string, an int or None) as a ``device``; None stays None."""
    if spec is None or isinstance(spec, device):
        return spec
    return device(spec)


# ---------------------------------------------------------------------------- CUDA: CuPy or stand-in

def _standin_count() -> int:
    value = os.environ.get("LOCOGRAD_CUDA_STANDIN", "")
    if not value or value == "0":
        return 0
    try:
        return max(int(value), 1)
    except ValueError:
        return 1


class _Cuda:
    """What is known of CUDA in this process: the CuPy module (imported on first need)."""

    cupy = None
    namespace = None
    error: str | None = None
    checked = False


class CupyNamespace:
    """The ``xp`` of CuPy arrays: the ``cupy`` module, plus what locograd's rules use that CuPy
    spells elsewhere or lacks: ``errstate`` (NumPy's floating-point warning control; a GPU kernel
    raises no such warnings, so it is a no-op context here). Attributes are cached on first use,
    so a rule pays the module's own attribute cost."""

    def __init__(self, module):
        self._module = module

    @staticmethod
    def errstate(**kwargs):
        return contextlib.nullcontext()

    def __getattr__(self, name):
        value = getattr(self.__dict__["_module"], name)
        setattr(self, name, value)
        return value

    def __repr__(self):
        return f"<locograd's namespace over {self._module.__name__}>"


def cupy_namespace():
    """The namespace of CuPy arrays (made once; CuPy must be importable)."""
    if _Cuda.namespace is None:
        import cupy
        _Cuda.namespace = CupyNamespace(cupy)
    return _Cuda.namespace


def _cupy():
    """The CuPy module, or None with ``_Cuda.error`` saying why not."""
    if not _Cuda.checked:
        _Cuda.checked = True
        try:
            import cupy
        except ImportError as e:
            _Cuda.error = (f"CuPy is not installed ({e}). Install the GPU extra: "
                           f"pip install 'locograd[cuda]' (CuPy for CUDA 12), or the cupy wheel "
                           f"matching your CUDA version")
            return None
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # CUDA driver missing or broken: CuPy raises its own types
            _Cuda.error = f"CuPy is installed but no CUDA GPU is usable: {e}"
            return None
        if count < 1:
            _Cuda.error = "CuPy is installed but no CUDA GPU is visible"
            return None
        _Cuda.cupy = cupy
    return _Cuda.cupy


def cuda_is_available() -> bool:
    """True when a CUDA device can be used (CuPy and a GPU, or the CPU stand-in)."""
    return _standin_count() > 0 or _cupy() is not None


def cuda_device_count() -> int:
    n = _standin_count()
    if n:
        return n
    cupy = _cupy()
    return 0 if cupy is None else int(cupy.cuda.runtime.getDeviceCount())


def cuda_current_device() -> int:
    if _standin_count():
        return current_device()
    return int(_require_cupy("cuda").cuda.runtime.getDevice())


def cuda_set_device(index) -> None:
    index = _check_cuda_index(_cuda_index(index), "set_device")
    if _standin_count():
        set_current_device(index)
    else:
        _require_cupy("cuda").cuda.Device(index).use()


def _require_cupy(what: str):
    cupy = _cupy()
    if cupy is None:
        raise RuntimeError(f"{what}: a CUDA device was asked for, but {_Cuda.error}. "
                           f"locograd.cuda.is_available() tells whether CUDA can be used.")
    return cupy


def _cuda_index(spec) -> int:
    if spec is None:
        return cuda_current_device()
    if isinstance(spec, (str, device)):
        d = as_device(spec)
        if d.type != "cuda":
            raise ValueError(f"expected a CUDA device, got {d}")
        return cuda_current_device() if d.index is None else d.index
    return int(spec)


def _check_cuda_index(index: int, what: str) -> int:
    count = cuda_device_count()
    if count == 0:
        _require_cupy(what)
    if not 0 <= index < count:
        raise RuntimeError(f"{what}: CUDA device {index} does not exist (this machine has "
                           f"{count} device{'s' if count != 1 else ''}: cuda:0..cuda:{count - 1})")
    return index


class _Usage:
    """Whether a CUDA device has been resolved in this process (then ops check their tensors'
    devices when they fail; see ``Function.apply``)."""

    in_use = False


usage = _Usage()


def resolve(spec) -> device:
    """A concrete device (with an index for CUDA), checked to exist."""
    d = as_device(spec)
    if d.type == "cpu":
        return CPU
    usage.in_use = True
    index = d.index
    if index is None:
        if not cuda_is_available():
            _require_cupy(str(d))
        index = cuda_current_device()
    return device("cuda", _check_cuda_index(index, str(d)))


# ---------------------------------------------------------------------------- arrays and devices

def device_of(array) -> device:
    """The device an array lives on."""
    if type(array) is np.ndarray or isinstance(array, (np.ndarray, np.generic)):
        return CPU
    if type(array) is StandInArray:
        return device("cuda", array._device)
    dev = getattr(array, "device", None)
    if dev is not None and hasattr(dev, "id"):  # a CuPy array
        return device("cuda", int(dev.id))
    raise TypeError(f"not an array of a known backend: {type(array).__name__}")


def is_device_array(value) -> bool:
    """True for an array of a device backend (CuPy, the stand-in): not NumPy's, not a number."""
    if isinstance(value, (np.ndarray, np.generic)) or not hasattr(value, "dtype"):
        return False
    try:
        return device_of(value).type != "cpu"
    except TypeError:
        return False


def namespace_for_device(dev: device):
    """The array namespace of a (resolved) device: NumPy, CuPy, or the stand-in."""
    if dev.type == "cpu":
        return np
    if _standin_count():
        return _STANDIN_NAMESPACE
    _require_cupy(str(dev))
    return cupy_namespace()


def to_device(array, dev: device, copy: bool = False):
    """``array`` on device ``dev`` (a resolved device): itself when it is there already (unless
    ``copy``), else a copy. Host <-> device copies are explicit here and nowhere else."""
    src = device_of(array)
    if src == dev:
        return array.copy() if copy else array
    if dev.type == "cpu":
        return array.get()  # CuPy and the stand-in: the explicit device-to-host copy
    if _standin_count():
        host = array if src.type == "cpu" else array.get()
        return StandInArray(np.array(host, copy=True), dev.index)
    cupy = _require_cupy(str(dev))
    with cupy.cuda.Device(dev.index):
        return cupy.array(array, copy=True)


def fill_from_host(dst, values) -> None:
    """Write host ``values`` (an array or a number, broadcast) into the array ``dst`` in place,
    cast to its dtype, wherever ``dst`` lives (random fills and initialisers draw on the host)."""
    if type(dst) is np.ndarray:
        np.copyto(dst, values, casting="unsafe")
    else:
        dst[...] = to_device(np.asarray(values).astype(dst.dtype, copy=False), device_of(dst))


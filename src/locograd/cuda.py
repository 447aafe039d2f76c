"""``locograd.cuda``: CUDA devices as ``torch.cuda`` names them, as far as locograd has them.

CuPy is imported on first need (``locograd[cuda]``); without it, or without a GPU,
``is_available()`` is False and asking for a ``"cuda"`` tensor raises an error saying which is
missing. ``LOCOGRAD_CUDA_STANDIN=N`` makes CUDA devices CPU stand-ins (see ``backend.standin``).

Random numbers: locograd draws every random number from one generator stream whatever the
device (on the host, then copied), so ``manual_seed`` here is ``locograd.manual_seed``: one seed
reproduces a run on every backend, and a CPU and a GPU run draw the same numbers.
"""
from __future__ import annotations

from .backend import manual_seed as _manual_seed
from .backend.devices import (cuda_current_device, cuda_device_count, cuda_is_available,
                              cuda_set_device, device, resolve)

__all__ = ["is_available", "device_count", "current_device", "set_device", "manual_seed",
           "manual_seed_all", "synchronize", "get_device_name", "is_initialized"]


def is_available() -> bool:
    """True when a CUDA device can be used (CuPy and a GPU, or the CPU stand-in)."""
    return cuda_is_available()


def is_initialized() -> bool:
    return cuda_is_available()


def device_count() -> int:
    """How many CUDA devices there are (0 without CuPy or a GPU)."""
    return cuda_device_count()


def current_device() -> int:
    """The index of the current CUDA device (where ``"cuda"`` without an index goes)."""
    return cuda_current_device()


def set_device(index) -> None:
    """Make ``index`` (an int, ``"cuda:N"`` or a device) the current CUDA device."""
    cuda_set_device(index)


def manual_seed(seed: int) -> None:
    """Seed the random numbers of CUDA tensors: locograd's one stream (see the module doc)."""
    _manual_seed(seed)


manual_seed_all = manual_seed


def synchronize(index=None) -> None:
    """Wait for every kernel on the device (a no-op on the stand-in)."""
    dev = _device(index)
    from .backend.devices import _Cuda
    if _Cuda.cupy is not None:
        with _Cuda.cupy.cuda.Device(dev.index):
            _Cuda.cupy.cuda.Device().synchronize()


def get_device_name(index=None) -> str:
    """The name of the CUDA device ``index`` (an int, ``"cuda:N"`` or a device; None: the
    current one)."""
    dev = _device(index)
    from .backend.devices import _Cuda
    if _Cuda.cupy is None:
        return f"locograd CPU stand-in {dev}"
    props = _Cuda.cupy.cuda.runtime.getDeviceProperties(dev.index)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def _device(index=None) -> device:
    """The resolved CUDA device of ``index``: None (the current one), an int, a string or a
    device."""
    if index is None:
        return resolve("cuda")
    return resolve(f"cuda:{index}" if isinstance(index, int) else index)

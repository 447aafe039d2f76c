"""``locograd.accelerator``: PyTorch's device-neutral accelerator queries (``torch.accelerator``).

locograd's one accelerator type is CUDA (through CuPy, or the CPU stand-in in tests).

Example:
    >>> import locograd as lg
    >>> dev = lg.accelerator.current_accelerator() if lg.accelerator.is_available() else "cpu"
"""
from __future__ import annotations

from . import cuda
from .backend.devices import device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "set_device_index", "synchronize"]


def is_available() -> bool:
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """``device("cuda")`` when CUDA can be used, else None."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()


def current_device_index() -> int:
    return cuda.current_device()


def set_device_index(index) -> None:
    cuda.set_device(index)


def synchronize(index=None) -> None:
    cuda.synchronize(index)

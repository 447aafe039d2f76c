"""Tensor factories with PyTorch names: ``tensor``, ``zeros``, ``randn``, ``arange``...

Float factories produce the default dtype (float32). Random factories draw from ``generator``
or from the default generator that ``manual_seed`` reseeds, so runs are repeatable.
"""
from __future__ import annotations

import numpy as np

from .autograd.tensor_base import TensorBase, new_tensor
from .backend import Generator, _dtype_state, as_dtype, devices, rng
from .ops._common import is_array
from .ops.shape import diag, tril, triu  # noqa: F401  (re-exported: they live in ops.shape)
from .tensor import Tensor

__all__ = [
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange", "linspace",
    "logspace", "eye", "rand", "randn", "randint", "randperm", "normal", "bernoulli",
    "multinomial", "zeros_like", "ones_like", "full_like", "empty_like", "rand_like",
    "randn_like", "randint_like", "is_tensor", "numel", "tril", "triu", "diag",
]


def _to_array(data, dtype=None, copy: bool = False) -> np.ndarray:
    """Convert ``data`` to an ndarray with locograd's rules (Python floats -> default float)."""
    if isinstance(data, TensorBase):
        arr = data.data
    elif isinstance(data, np.ndarray):
        arr = data
        if arr.dtype.kind in "OUSVMmc":
            raise TypeError(f"tensor: cannot build a tensor from a NumPy array of dtype "
                            f"{arr.dtype} (locograd has bool, integer and float tensors)")
    elif is_array(data):  # an array of a device backend
        arr = data
    else:
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise ValueError(f"tensor: cannot build a tensor from the given data ({e})") from None
        if arr.dtype.kind == "f" and dtype is None and not _has_numpy_floats(data):
            arr = arr.astype(_dtype_state.default_float)
        elif arr.dtype.kind in "OUSVMmc":
            raise TypeError(f"tensor: cannot build a tensor from data of type "
                            f"{type(data).__name__} (NumPy dtype {arr.dtype})")
    if dtype is not None:
        d = as_dtype(dtype)
        if arr.dtype != d:
            return arr.astype(d)
    return arr.copy() if copy else arr


def _has_numpy_floats(data) -> bool:
    """True if ``data`` is (or first holds) a NumPy float scalar or array, whose dtype we keep."""
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return isinstance(data, (np.floating, np.ndarray, TensorBase))


def _wrap(arr: np.ndarray, requires_grad: bool, device=None) -> Tensor:
    t = new_tensor(_place(arr, device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _place(arr, device):
    """``arr`` on ``device`` (None: the default device, ``set_default_device``; an array already
    on a device stays there). Factories build on the host and copy once: a seed gives the same
    values on every backend."""
    if device is None:
        device = devices.get_default_device()
        if device is None or type(arr) is not np.ndarray:
            return arr
    target = devices.resolve(device)
    return arr if target is devices.CPU and type(arr) is np.ndarray \
        else devices.to_device(arr, target)


def tensor(data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A new tensor holding a *copy* of ``data`` (lists, numbers, arrays, tensors).

    Python floats become the default dtype (float32); NumPy arrays keep their dtype.

    Example:
        >>> import locograd as lg
        >>> lg.tensor([1, 2]).dtype, lg.tensor([1.0, 2.0]).dtype
        (dtype('int64'), dtype('float32'))
    """
    return _wrap(_to_array(data, dtype, copy=True), requires_grad, device)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but without copying when ``data`` already is a suitable array/tensor."""
    if isinstance(data, TensorBase) and (dtype is None or as_dtype(dtype) == data.data.dtype) \
            and (device is None or devices.resolve(device) == data.device):
        return data
    return _wrap(_to_array(data, dtype), False, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype is kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    return new_tensor(array)


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = tuple(int(s) for s in size)
    if any(s < 0 for s in out):
        raise ValueError(f"negative dimension in size {out}")
    return out


def _float_dtype(dtype):
    return _dtype_state.default_float if dtype is None else as_dtype(dtype)


def zeros(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _wrap(np.zeros(_size(size), _float_dtype(dtype)), requires_grad, device)


def ones(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _wrap(np.ones(_size(size), _float_dtype(dtype)), requires_grad, device)


def empty(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _wrap(np.empty(_size(size), _float_dtype(dtype)), requires_grad, device)


def full(size, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (its dtype inferred like ``tensor``)."""
    if dtype is None:
        dtype = _to_array(fill_value).dtype
    return _wrap(np.full(_size((size,)), fill_value, as_dtype(dtype)), requires_grad, device)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False,
           device=None) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive); int64 for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, "arange") for v in (start, end, step))
    if dtype is None:  # after _number: a 0-d integer tensor counts as an integer
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if is_int else _dtype_state.default_float
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: upper bound and larger bound inconsistent with step sign "
                         f"(start={start}, end={end}, step={step})")
    return _wrap(np.arange(start, end, step, dtype=as_dtype(dtype)), requires_grad, device)


def _number(value, name: str):
    """A Python number from a number or a one-element tensor (as PyTorch's factories take)."""
    if isinstance(value, TensorBase):
        if value.data.ndim != 0:
            raise ValueError(f"{name}: expected a number or a 0-d tensor, got a tensor of shape "
                             f"{tuple(value.data.shape)}")
        return value.item()
    return value


def _range_dtype(dtype, ends):
    """linspace/logspace: the dtype asked for, else the float dtype of tensor ends, else the
    default float; computed in that dtype (never in a narrower one)."""
    if dtype is not None:
        return as_dtype(dtype)
    for e in ends:
        if isinstance(e, TensorBase) and e.data.dtype.kind == "f":
            return e.data.dtype
    return _dtype_state.default_float


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False,
             device=None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` (numbers or 0-d tensors)."""
    d = _range_dtype(dtype, (start, end))
    lo, hi = _number(start, "linspace"), _number(end, "linspace")
    values = np.linspace(lo, hi, _steps(steps, "linspace"), dtype=np.float64).astype(d)
    return _wrap(values, requires_grad, device)


def logspace(start, end, steps: int, base: float = 10.0, dtype=None, requires_grad: bool = False,
             device=None) -> Tensor:
    """``base ** linspace(start, end, steps)``."""
    d = _range_dtype(dtype, (start, end))
    lo, hi = _number(start, "logspace"), _number(end, "logspace")
    values = np.logspace(lo, hi, _steps(steps, "logspace"), base=base).astype(d)
    return _wrap(values, requires_grad, device)


def _steps(steps, name: str) -> int:
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"{name}: number of steps must be a non-negative int, got {steps!r}")
    return int(steps)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False,
        device=None) -> Tensor:
    return _wrap(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


def _draw_float(sampler, size, dtype):
    """Draw with NumPy's float32/float64 generator paths (no float64 round trip for float32)."""
    dt = _float_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"random float factories need a floating dtype, got {dt}")
    if dt.itemsize in (4, 8):
        return sampler(size, dtype=dt)
    return sampler(size).astype(dt)


def rand(*size, generator: Generator | None = None, dtype=None,
         requires_grad: bool = False, device=None) -> Tensor:
    """Uniform samples from [0, 1)."""
    return _wrap(_draw_float(rng(generator).random, _size(size), dtype), requires_grad, device)


def randn(*size, generator: Generator | None = None, dtype=None,
          requires_grad: bool = False, device=None) -> Tensor:
    """Standard normal samples."""
    return _wrap(_draw_float(rng(generator).standard_normal, _size(size), dtype), requires_grad,
                 device)


def randint(low, high=None, size=(), generator: Generator | None = None, dtype=None,
            device=None) -> Tensor:
    """Integers from ``low`` (inclusive) to ``high`` (exclusive); ``randint(high, size)`` too.

    Example:
        >>> import locograd as lg
        >>> lg.randint(10, (2, 3)).shape, lg.randint(5, 10, size=(4,)).shape
        ((2, 3), (4,))
    """
    if isinstance(high, (tuple, list)):  # randint(high, size), as torch.randint(10, (3,))
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if isinstance(size, int):
        size = (size,)
    d = as_dtype(dtype) if dtype is not None else np.dtype(np.int64)
    return _wrap(rng(generator).integers(low, high, size=tuple(size)).astype(d, copy=False),
                 False, device)


def randperm(n: int, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    """A random permutation of ``0..n-1`` (int64)."""
    d = as_dtype(dtype) if dtype is not None else np.dtype(np.int64)
    return _wrap(rng(generator).permutation(int(n)).astype(d, copy=False), False, device)


def normal(mean=0.0, std=1.0, size=None, generator: Generator | None = None) -> Tensor:
    """Samples of N(mean, std^2); ``mean``/``std`` may be tensors (broadcast) or numbers."""
    m, s, where = _on_host(_to_array(mean), _to_array(std))
    shape = size if size is not None else np.broadcast_shapes(m.shape, s.shape)
    dt = np.result_type(m, s) if (m.dtype.kind == "f" or s.dtype.kind == "f") \
        else _dtype_state.default_float
    z = _draw_float(rng(generator).standard_normal, tuple(shape), dt)
    return _wrap((z * s + m).astype(dt, copy=False), False, where)


def bernoulli(p, generator: Generator | None = None) -> Tensor:
    """Samples of Bernoulli(p) elementwise (same dtype and device as ``p``)."""
    pa, where = _on_host(_to_array(p))
    return _wrap((rng(generator).random(pa.shape) < pa).astype(pa.dtype), False, where)


def _on_host(*arrays):
    """The arrays on the host (random numbers are drawn there), then the device of the first
    one that was not (the CPU when all were on the host): where the result goes."""
    where = next((devices.device_of(a) for a in arrays if type(a) is not np.ndarray),
                 devices.CPU)
    return (*(devices.to_device(a, devices.CPU) for a in arrays), where)


def multinomial(probs, num_samples: int, replacement: bool = False,
                generator: Generator | None = None) -> Tensor:
    """Indices sampled from the rows of ``probs`` (unnormalised non-negative weights)."""
    given = _to_array(probs)
    if given.dtype.kind != "f":
        raise TypeError(f"multinomial: probs must be a floating-point tensor, got dtype "
                        f"{given.dtype}")
    if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be a positive int, got {num_samples!r}")
    p, where = _on_host(given)
    p = p.astype(np.float64)
    if p.ndim not in (1, 2):
        raise ValueError(f"multinomial: probs must be 1-D or 2-D, got shape {p.shape}")
    if (p < 0).any() or not np.isfinite(p).all():
        raise ValueError("multinomial: probs must be finite and non-negative")
    rows = p.reshape(-1, p.shape[-1])
    sums = rows.sum(1, keepdims=True)
    if (sums <= 0).any():
        raise ValueError("multinomial: each row of probs must have a positive sum")
    if not replacement and num_samples > rows.shape[1]:
        raise ValueError(f"multinomial: cannot sample {num_samples} > {rows.shape[1]} categories "
                         f"without replacement")
    g = rng(generator)
    out = np.stack([g.choice(rows.shape[1], size=num_samples, replace=replacement,
                             p=r / r.sum()) for r in rows]).astype(np.int64)
    return _wrap(out.reshape(p.shape[:-1] + (num_samples,)), False, where)


def _like(x, dtype, device):
    """Shape, dtype and device of a ``*_like`` result: ``x``'s unless given."""
    a = x.data if isinstance(x, TensorBase) else np.asarray(x)
    if device is None:
        device = devices.device_of(a)
    return a.shape, (a.dtype if dtype is None else as_dtype(dtype)), device


def zeros_like(x, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    shape, d, device = _like(x, dtype, device)
    return _wrap(np.zeros(shape, d), requires_grad, device)


def ones_like(x, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    shape, d, device = _like(x, dtype, device)
    return _wrap(np.ones(shape, d), requires_grad, device)


def empty_like(x, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    shape, d, device = _like(x, dtype, device)
    return _wrap(np.empty(shape, d), requires_grad, device)


def full_like(x, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    shape, d, device = _like(x, dtype, device)
    return _wrap(np.full(shape, fill_value, d), requires_grad, device)


def rand_like(x, dtype=None, generator: Generator | None = None, device=None) -> Tensor:
    shape, d, device = _like(x, dtype, device)
    return rand(*shape, generator=generator, dtype=d, device=device)


def randn_like(x, dtype=None, generator: Generator | None = None, device=None) -> Tensor:
    shape, d, device = _like(x, dtype, device)
    return randn(*shape, generator=generator, dtype=d, device=device)


def randint_like(x, low, high=None, dtype=None, generator: Generator | None = None,
                 device=None) -> Tensor:
    """Random integers of ``x``'s shape and (unless ``dtype`` is given) dtype, as PyTorch."""
    shape, d, device = _like(x, dtype, device)
    return randint(low, high, shape, generator=generator, dtype=d, device=device)


def is_tensor(x) -> bool:
    return isinstance(x, TensorBase)


def numel(x) -> int:
    return x.data.size

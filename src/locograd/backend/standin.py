"""A CPU stand-in for a device array: NumPy's computations behind CuPy's manners.

CI has no GPU, yet every line that runs on a GPU must be proven there. A ``StandInArray`` holds
a NumPy array but behaves towards NumPy as a CuPy array does:

* it refuses implicit conversion to a NumPy array (``np.asarray(x)`` raises ``TypeError``, as
  CuPy's ``__array__`` does): the explicit way back to the host is ``x.get()``;
* it refuses to mix with host arrays in one operation (``x + np.ones(3)`` raises), and with
  arrays of another stand-in device (``cuda:0`` with ``cuda:1``);
* reductions give 0-d arrays, not NumPy scalars; ``float(x)``, ``x.item()`` and ``x.tolist()``
  copy to the host explicitly, as on CuPy;
* its ``flags`` have no ``writeable`` (CuPy's have none).

``StandInNamespace`` is its ``xp``: NumPy's names (functions, ufuncs and their ``.at``/``.reduce``
methods, ``linalg``, ``lib.stride_tricks``...) that take and give stand-in arrays, the way the
``cupy`` module mirrors ``numpy``. Creation functions make arrays on the namespace's device;
``asarray`` of a host array is the explicit host-to-device copy.

Why not ``array-api-strict``: locograd's rules use NumPy's API as CuPy mirrors it (ufunc methods,
``out=``, ``einsum``, stride tricks), which the array API standard lacks; writing the ops against
the standard through ``array-api-compat`` would also put a wrapper call on the NumPy hot path.
This stand-in checks exactly what CuPy enforces and costs nothing when it is not used.

It is turned on by the environment variable ``LOCOGRAD_CUDA_STANDIN=N`` (N devices, default 1):
then ``"cuda"`` devices are stand-ins and ``locograd.cuda.is_available()`` is True. The test
suite uses it to run the op table, nn, optim, LocoProp and ``fit`` on the device path.
"""
from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["StandInArray", "StandInNamespace", "NAMESPACE", "current_device", "set_current_device"]

_HOST_REFUSED = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
                 "construct a NumPy array explicitly (locograd: call .cpu() on the tensor).")


class _Device:
    """What ``array.device`` is on CuPy: a device with an ``id``."""

    __slots__ = ("id",)

    def __init__(self, index: int):
        self.id = index

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return hash(("standin", self.id))

    def __repr__(self):
        return f"<StandIn Device {self.id}>"


class _Flags:
    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, flags):
        self.c_contiguous = flags.c_contiguous
        self.f_contiguous = flags.f_contiguous
        self.owndata = flags.owndata


def _mixing_error(what: str) -> TypeError:
    return TypeError(f"Unsupported type {what}: a device array (stand-in) cannot be combined with "
                     f"a host NumPy array in one operation; move it to the device first")


def _unwrap(value, device: int | None):
    """The NumPy value behind ``value``; refuses host arrays and arrays of another device.
    Returns the value and the device it found (or ``device`` when it found none)."""
    t = type(value)
    if t is StandInArray:
        if device is not None and value._device != device:
            raise TypeError(f"the operands are on different devices: cuda:{device} and "
                            f"cuda:{value._device} (stand-in)")
        return value._a, value._device
    if t is np.ndarray:
        raise _mixing_error("<class 'numpy.ndarray'>")
    if t is tuple or t is list:
        out = []
        for v in value:
            u, device = _unwrap(v, device)
            out.append(u)
        return t(out), device
    return value, device


def _unwrap_all(args, kwargs, device):
    new_args = []
    for a in args:
        u, device = _unwrap(a, device)
        new_args.append(u)
    new_kwargs = {}
    for k, v in kwargs.items():
        u, device = _unwrap(v, device)
        new_kwargs[k] = u
    return new_args, new_kwargs, device


def _wrap(value, device: int):
    t = type(value)
    if t is np.ndarray:
        return StandInArray(value, device)
    if isinstance(value, np.generic) and not isinstance(value, np.dtype):
        return StandInArray(np.asarray(value), device)  # CuPy: reductions give 0-d arrays
    if t is tuple or t is list:
        return t(_wrap(v, device) for v in value)
    if isinstance(value, tuple):  # NumPy's named results (linalg.eigh, svd...): CuPy's tuples
        return tuple(_wrap(v, device) for v in value)
    return value


class StandInArray(NDArrayOperatorsMixin):
    """A NumPy array dressed as a device array (see the module docstring)."""

    __slots__ = ("_a", "_device")
    __hash__ = None

    def __init__(self, array: np.ndarray, device: int = 0):
        if type(array) is not np.ndarray:
            raise TypeError(f"StandInArray wraps a NumPy ndarray, got {type(array).__name__}")
        self._a = array
        self._device = device

    # ---- what NumPy sees
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_HOST_REFUSED)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        given = kwargs.get("out")
        args, kwargs, device = _unwrap_all(inputs, kwargs, self._device)
        result = getattr(ufunc, method)(*args, **kwargs)
        return _result(result, given, device)

    def __array_function__(self, func, types, args, kwargs):
        args, kwargs, device = _unwrap_all(args, kwargs, self._device)
        return _wrap(func(*args, **kwargs), device)

    # ---- explicit host copies, as CuPy has them
    def get(self) -> np.ndarray:
        """A host copy (CuPy's ``get``)."""
        return self._a.copy()

    def item(self):
        return self._a.item()

    def tolist(self):
        return self._a.tolist()

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __complex__(self):
        return complex(self._a)

    def __bool__(self):
        return bool(self._a)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for row in self._a:
            yield _wrap(row, self._device)

    # ---- attributes
    @property
    def device(self) -> _Device:
        return _Device(self._device)

    @property
    def flags(self) -> _Flags:
        return _Flags(self._a.flags)

    @property
    def base(self):
        base = self._a.base
        return None if base is None else _wrap(base, self._device) \
            if type(base) is np.ndarray else base

    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def T(self):
        return StandInArray(self._a.T, self._device)

    def __getattr__(self, name):
        if name.startswith("__"):  # __array_interface__ and kin would hand NumPy the data
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            device = self._device

            def method(*args, **kwargs):
                args, kwargs, _ = _unwrap_all(args, kwargs, device)
                return _wrap(attr(*args, **kwargs), device)
            method.__name__ = name
            return method
        return _wrap(attr, self._device)

    def __getitem__(self, index):
        index, _ = _unwrap(index, self._device)
        return _wrap(self._a[index], self._device)

    def __setitem__(self, index, value):
        index, _ = _unwrap(index, self._device)
        value, _ = _unwrap(value, self._device)
        self._a[index] = value

    def __repr__(self):
        body = np.array2string(self._a, separator=", ", prefix="array(")
        return f"array({body}, device=cuda:{self._device})"

    def __copy__(self):
        return StandInArray(self._a.copy(), self._device)

    def __deepcopy__(self, memo):
        return StandInArray(self._a.copy(), self._device)

    def __reduce__(self):
        raise TypeError("a device array is not pickled: copy it to the host with .get()")


def _result(result, given, device):
    """A ufunc's result; called with ``out=``, the stand-in(s) given as ``out`` (NumPy returns
    the NumPy arrays behind them)."""
    if given is None:
        return _wrap(result, device)
    if type(given) is tuple:
        return given[0] if len(given) == 1 else given
    return given


class _UfuncProxy:
    """A NumPy ufunc taking and giving stand-in arrays, with its methods (``at``, ``reduce``...)."""

    __slots__ = ("_ufunc",)

    def __init__(self, ufunc):
        self._ufunc = ufunc

    def _call(self, method, args, kwargs):
        given = kwargs.get("out")
        args, kwargs, device = _unwrap_all(args, kwargs, None)
        result = getattr(self._ufunc, method)(*args, **kwargs)
        if method == "at":
            return None
        return _result(result, given, _Current.device if device is None else device)

    def __call__(self, *args, **kwargs):
        return self._call("__call__", args, kwargs)

    def at(self, *args, **kwargs):
        return self._call("at", args, kwargs)

    def reduce(self, *args, **kwargs):
        return self._call("reduce", args, kwargs)

    def accumulate(self, *args, **kwargs):
        return self._call("accumulate", args, kwargs)

    def outer(self, *args, **kwargs):
        return self._call("outer", args, kwargs)

    def reduceat(self, *args, **kwargs):
        return self._call("reduceat", args, kwargs)

    def __getattr__(self, name):
        return getattr(self._ufunc, name)


class _Current:
    device = 0


def current_device() -> int:
    """The device that creation functions make arrays on (CuPy's current device)."""
    return _Current.device


def set_current_device(index: int) -> None:
    _Current.device = int(index)


class StandInNamespace:
    """NumPy's names over stand-in arrays (what the ``cupy`` module is to CuPy). As on CuPy,
    functions given arrays give arrays on their device; creation functions use the current
    device (``set_current_device``)."""

    def __init__(self, module=np, prefix: str = "numpy"):
        self._module = module
        self._prefix = prefix
        self._cache = {}
        self.ndarray = StandInArray

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        cache = self.__dict__.get("_cache")
        if cache is None:
            raise AttributeError(name)
        if name in cache:
            return cache[name]
        attr = getattr(self._module, name)
        if isinstance(attr, np.ufunc):
            value = _UfuncProxy(attr)
        elif isinstance(attr, type) or isinstance(attr, (numbers.Number, np.dtype, str)) \
                or attr is None:
            value = attr  # dtypes (np.float32), constants (pi, inf, newaxis), errstate
        elif type(attr).__name__ == "module":
            value = StandInNamespace(attr, f"{self._prefix}.{name}")
        elif callable(attr):
            value = self._function(attr, name)
        else:
            value = attr
        cache[name] = value
        return value

    @property
    def device(self) -> int:
        return _Current.device

    def _function(self, func, name):
        if name in ("asarray", "array", "ascontiguousarray"):
            def create(obj, *args, **kwargs):
                # The explicit host-to-device copy (cupy.asarray of a NumPy array).
                device = _Current.device
                if type(obj) is StandInArray:
                    device = obj._device
                    result = func(obj._a, *args, **kwargs)
                else:
                    obj, _ = _unwrap(obj, None) if type(obj) in (list, tuple) else (obj, None)
                    result = np.array(func(obj, *args, **kwargs), copy=True)
                return StandInArray(np.asarray(result), device)
            create.__name__ = name
            return create

        def call(*args, **kwargs):
            args, kwargs, found = _unwrap_all(args, kwargs, None)
            return _wrap(func(*args, **kwargs), _Current.device if found is None else found)
        call.__name__ = name
        return call

    def __repr__(self):
        return f"<stand-in namespace {self._prefix}>"


#: The stand-in's ``xp`` (one for all stand-in devices, as the ``cupy`` module is one).
NAMESPACE = StandInNamespace()

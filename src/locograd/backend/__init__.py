"""The array backends, devices, the dtype policy and the random generators.

Arrays are NumPy's on the CPU and CuPy's on CUDA devices (``device``; a CPU stand-in for a device
in tests, ``standin``). ``namespace(value)`` gives the ``xp`` an op's rule is written against.
This package is the lowest floor of locograd: it imports nothing from the rest.

Dtype policy (the same as PyTorch's, written out once here):

* A Python ``float`` becomes the default float dtype, ``float32`` (see ``set_default_dtype``).
  A Python ``int`` becomes ``int64`` and a ``bool`` becomes ``bool``.
* NumPy arrays keep their dtype (``from_numpy`` and ``tensor`` alike), as in PyTorch.
* Binary operations promote by category (bool < integer < floating): within a category the wider
  tensor dtype wins (``float32 + float64 -> float64``, as in PyTorch); a Python or NumPy *scalar*
  only contributes its category, never its width, so ``float32_tensor * 0.5`` and
  ``float32_tensor * np.float64(0.5)`` stay ``float32``. An integer or bool tensor combined with
  a float scalar, and integer true division, give the default float dtype (not NumPy's float64).

That is the rule that keeps float32 code float32: nothing becomes float64 unless a float64
*tensor or array* takes part.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "np", "namespace", "register_namespace", "writeable", "Generator", "default_generator", "manual_seed", "seed", "initial_seed",
    "get_default_dtype", "set_default_dtype", "as_dtype", "float16", "float32", "float64",
    "int8", "int16", "int32", "int64", "uint8", "bool_", "promote_types",
]

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_DTYPE_ALIASES = {
    "float": float32, "float32": float32, "float64": float64, "double": float64,
    "half": float16, "float16": float16, "int": int64, "long": int64, "int64": int64,
    "int32": int32, "int16": int16, "int8": int8, "uint8": uint8, "bool": bool_,
    float: None, int: int64, bool: bool_,  # float: resolved to the default at call time
}


class _DtypeState:
    __slots__ = ("default_float",)

    def __init__(self):
        self.default_float = float32


_dtype_state = _DtypeState()


def get_default_dtype() -> np.dtype:
    """The dtype that Python floats and float factories (``zeros``, ``randn``...) produce."""
    return _dtype_state.default_float


def set_default_dtype(dtype) -> None:
    """Set the default float dtype (``float32`` or ``float64``), like ``torch.set_default_dtype``.

    Example:
        >>> import locograd as lg
        >>> lg.set_default_dtype(lg.float64); lg.tensor(1.0).dtype
        dtype('float64')
        >>> lg.set_default_dtype(lg.float32)
    """
    d = as_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}")
    _dtype_state.default_float = d


def as_dtype(dtype) -> np.dtype:
    """A NumPy dtype from a dtype-like: ``lg.float32``, ``np.float64``, ``"float"``, ``float``..."""
    if dtype is None or dtype is float:
        return _dtype_state.default_float
    if isinstance(dtype, np.dtype):
        return dtype
    try:
        d = _DTYPE_ALIASES[dtype]
        return d if d is not None else _dtype_state.default_float
    except (KeyError, TypeError):
        pass
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def promote_types(a, b) -> np.dtype:
    """Result dtype of a binary operation between two tensors of dtypes ``a`` and ``b``.

    The higher category (bool < integer < float) wins with its own dtype; within a category the
    wider one wins. Unlike NumPy, ``int64`` and ``float32`` give ``float32`` (as PyTorch).

    Example:
        >>> import locograd as lg
        >>> lg.promote_types(lg.int64, lg.float32), lg.promote_types(lg.float32, lg.float64)
        (dtype('float32'), dtype('float64'))
    """
    a, b = as_dtype(a), as_dtype(b)
    if a == b:
        return a
    ca, cb = _CATEGORY.get(a.kind, 9), _CATEGORY.get(b.kind, 9)
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


def scalar_result_dtype(tensor_dtype: np.dtype, scalar) -> np.dtype:
    """Result dtype of ``tensor (op) python_scalar``: the scalar contributes only its category."""
    cat_t = _CATEGORY[tensor_dtype.kind]
    if isinstance(scalar, bool):
        cat_s = 0
    elif isinstance(scalar, int):
        cat_s = 1
    elif isinstance(scalar, complex):
        cat_s = 3
    else:
        cat_s = 2
    if cat_s <= cat_t:
        return tensor_dtype
    if cat_s == 1:
        return int64
    return _dtype_state.default_float


class Generator:
    """A seeded source of random numbers (NumPy's PCG64 underneath), like ``torch.Generator``.

    Every random draw in locograd takes ``generator=`` and falls back to ``default_generator``,
    which ``manual_seed`` reseeds: one seed makes a whole run repeatable.

    Example:
        >>> g = Generator().manual_seed(0)
        >>> a = g.numpy.standard_normal(3)
    """

    __slots__ = ("_seed", "numpy")

    def __init__(self, seed: int | None = None):
        self.manual_seed(seed if seed is not None else np.random.SeedSequence().entropy % (2**63))

    def manual_seed(self, seed: int) -> "Generator":
        """Reseed in place and return ``self``."""
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"manual_seed: the seed must be non-negative, got {seed}")
        self._seed = seed
        self.numpy = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; return the new seed."""
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """The generator's full state as a plain dict (JSON-serialisable; no pickling)."""
        st = self.numpy.bit_generator.state
        return {"seed": self._seed, "bit_generator": st["bit_generator"],
                "state": {k: int(v) for k, v in st["state"].items()},
                "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}

    def set_state(self, state: dict) -> None:
        if state.get("bit_generator") != "PCG64":
            raise ValueError("Generator.set_state: expected a PCG64 state from "
                             "Generator.get_state()")
        self._seed = int(state["seed"])
        self.numpy = np.random.Generator(np.random.PCG64())
        self.numpy.bit_generator.state = {
            "bit_generator": "PCG64", "state": dict(state["state"]),
            "has_uint32": state["has_uint32"], "uinteger": state["uinteger"]}

    def spawn(self) -> "Generator":
        """A new generator seeded from this one (for worker processes and per-layer streams)."""
        return Generator(int(self.numpy.integers(0, 2**63 - 1)))

    def __repr__(self):
        return f"Generator(seed={self._seed})"


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; every unseeded random draw in locograd uses it.

    Example:
        >>> import locograd as lg
        >>> _ = lg.manual_seed(0); a = lg.randn(2)
        >>> _ = lg.manual_seed(0); bool((a == lg.randn(2)).all())
        True
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def rng(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator to draw from: ``generator``'s, or the default one."""
    return (generator if generator is not None else default_generator).numpy


# ---------------------------------------------------------------------------- array namespaces

_NAMESPACES: dict = {np.ndarray: np}
_BASE_NAMESPACES: list = []  # (base class, namespace) for subclasses (Tensor, Parameter...)
_SCALARS = (np.generic, float, int, bool, complex)


def namespace(value):
    """The array namespace of ``value``: NumPy for NumPy arrays and scalars, CuPy for CuPy
    arrays, locograd's NumPy-named tensor namespace for tensors (a recorded backward pass).

    An op's rule calls ``xp = namespace(x)`` once and then ``xp.exp(x)``, ``xp.where(...)``:
    the same line runs on the host, on a device, and on tensors for higher-order gradients.

    Example:
        >>> import numpy as np
        >>> namespace(np.ones(2)) is np
        True
    """
    ns = _NAMESPACES.get(type(value))
    return ns if ns is not None else _namespace_of_other(value)


def _namespace_of_other(value):
    for base, ns in _BASE_NAMESPACES:
        if isinstance(value, base):
            _NAMESPACES[type(value)] = ns
            return ns
    if isinstance(value, _SCALARS) or isinstance(value, np.ndarray):
        return np
    module = type(value).__module__
    if module.startswith("cupy"):  # CuPy is imported by then: the array exists
        from .devices import cupy_namespace
        ns = cupy_namespace()
        register_namespace(type(value), ns)
        return ns
    raise TypeError(f"no array namespace for a value of type {type(value).__name__}")


def writeable(array) -> bool:
    """Whether an array may be written in place: NumPy's ``writeable`` flag (device arrays,
    which have no such flag, always may)."""
    return getattr(array.flags, "writeable", True)


def register_namespace(array_type: type, ns, subclasses: bool = False) -> None:
    """Make ``namespace(x)`` return ``ns`` for values of ``array_type`` (and its subclasses)."""
    _NAMESPACES[array_type] = ns
    if subclasses:
        _BASE_NAMESPACES.append((array_type, ns))


from . import standin  # noqa: E402  (after the namespace registry it uses)
from .devices import device  # noqa: E402,F401

register_namespace(standin.StandInArray, standin.NAMESPACE)


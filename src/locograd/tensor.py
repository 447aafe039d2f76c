"""``Tensor``: the user-facing n-dimensional array with reverse-mode autodiff.

A ``Tensor`` holds a NumPy array (``.data``, used without copying) and the graph fields of
``TensorBase``. Its operators and methods delegate to ``locograd.ops``; they follow PyTorch's
names, broadcasting and dtype promotion (see ``backend``).

Deliberate differences from PyTorch:
    * ``.data`` is the NumPy array itself (PyTorch: a detached tensor alias). Write
      ``with lg.no_grad(): p -= lr * p.grad`` or use in-place methods on the tensor.
    * ``.numpy()`` returns the array without copying even when ``requires_grad`` is True.
    * ``.shape`` is a plain tuple; ``size()`` with no argument returns the same tuple.
    * In-place operations on a *view* of a tensor that requires grad raise an error
      (PyTorch rewrites the base's history); use out-of-place ops or ``clone()``.
"""
from __future__ import annotations

import numpy as np

from . import ops
from .autograd.grad_mode import state as _grad_state
from .autograd.tensor_base import TensorBase, new_tensor, register_tensor_class
from .backend import as_dtype, namespace, writeable
from .backend.devices import CPU, device, device_of, fill_from_host, resolve, to_device
from .ops._common import as_array, binary_operands, namespace_of, operand

__all__ = ["Tensor"]

_ndarray = np.ndarray
# The operators call the ops' apply directly: one Python call less on every operation.
_add, _sub, _mul, _div = ops.Add.apply, ops.Sub.apply, ops.Mul.apply, ops.Div.apply
_pow, _neg, _matmul = ops.Pow.apply, ops.Neg.apply, ops.MatMul.apply


class Tensor(TensorBase):
    """An n-dimensional array that records the operations applied to it.

    Build tensors with the factories (``lg.tensor``, ``lg.zeros``, ``lg.randn``...).

    Example:
        >>> import locograd as lg
        >>> x = lg.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([2., 4., 6.], dtype=float32)
    """

    __slots__ = ()
    __hash__ = TensorBase.__hash__
    # NumPy defers binary operators with a Tensor operand to the Tensor's reflected methods.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        from .factory import _to_array
        arr = _to_array(data, dtype)
        self.data = arr
        self.requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version = [0]
        self._hooks = None
        self._is_view = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> device:
        """Where the data lives: ``device(type='cpu')`` or ``device(type='cuda', index=N)``."""
        return CPU if type(self.data) is _ndarray else device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return type(self.data) is not _ndarray and device_of(self.data).type == "cuda"

    def is_floating_point(self) -> bool:
        """True for a floating-point dtype (a method, as in PyTorch)."""
        return self.data.dtype.kind == "f"

    def get_device(self) -> int:
        """The CUDA device index, or -1 on the CPU (as PyTorch)."""
        d = self.device
        return -1 if d.type == "cpu" else d.index

    @property
    def itemsize(self) -> int:
        return self.data.itemsize

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    def size(self, dim: int | None = None):
        """The shape, or the size of dimension ``dim``."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def nelement(self) -> int:
        """The number of elements (``numel``'s other name)."""
        return self.data.size

    def numel(self) -> int:
        return self.data.size

    def element_size(self) -> int:
        return self.data.itemsize

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    @property
    def T(self):
        """All dimensions reversed (for 2-D: the transpose)."""
        return ops.permute(self, tuple(range(self.data.ndim - 1, -1, -1)))

    @property
    def mT(self):
        """The last two dimensions swapped (batched matrix transpose)."""
        return ops.transpose(self, -2, -1)

    @property
    def grad_fn_name(self):
        return None if self.grad_fn is None else self.grad_fn.label

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying array (no copy). A tensor on a device raises, as in PyTorch, unless
        ``force=True`` (then: a host copy)."""
        if type(self.data) is not _ndarray:
            if force:
                return to_device(self.data, CPU)
            raise TypeError(_host_error(self, "numpy()"))
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to Python "
                             f"scalars, got shape {self.data.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        if type(self.data) is not _ndarray:
            raise TypeError(_host_error(self, "conversion to a NumPy array"))
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an "
                            f"index (got dtype {self.data.dtype}, shape {self.data.shape})")
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is "
                               f"ambiguous; use .any() or .all()")
        return bool(self.data.item())

    def to(self, *args, dtype=None, device=None, copy: bool = False, non_blocking: bool = False,
           memory_format=None):
        """Move and/or convert, as PyTorch: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(other)`` (its device and dtype), ``to(device=..., dtype=...)``. Differentiable:
        the gradient comes back to this tensor's device and dtype. Returns ``self`` when nothing
        changes (unless ``copy``). ``non_blocking`` and ``memory_format`` are accepted.

        Example:
            >>> import locograd as lg
            >>> lg.ones(2).to("cpu", lg.float64).dtype
            dtype('float64')
        """
        dtype, device = parse_to_arguments(args, dtype, device)
        out = self
        if device is not None:
            target = resolve(device)
            if target != self.device:
                out = ops.to_device(out, target)
        if dtype is not None:
            d = as_dtype(dtype)
            if d != out.data.dtype:
                out = ops.Cast.apply(out, d)
        if copy and out is self:
            out = ops.Cast.apply(self, self.data.dtype)  # astype copies
        return out

    def cuda(self, device=None, non_blocking: bool = False):
        """This tensor on a CUDA device (the current one by default)."""
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device)

    def astype(self, dtype):
        """NumPy spelling of ``to(dtype)``."""
        return self.to(dtype)

    def type(self, dtype=None):
        if dtype is None:
            return str(self.data.dtype)
        return self.to(dtype)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def type_as(self, other):
        return self.to(other.data.dtype)

    def cpu(self):
        """This tensor on the CPU (itself when it is there)."""
        return self if type(self.data) is _ndarray else ops.to_device(self, CPU)

    def clone(self):
        return ops.clone(self)

    def contiguous(self):
        return ops.contiguous(self)

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    def data_ptr(self) -> int:
        if type(self.data) is not _ndarray:
            return int(getattr(self.data.data, "ptr", id(self.data)))
        return self.data.__array_interface__["data"][0]

    # ------------------------------------------------------------------ repr
    def __repr__(self):
        host = self.data if type(self.data) is _ndarray else to_device(self.data, CPU)
        body = np.array2string(host, separator=", ", prefix="tensor(", precision=4,
                               threshold=200, edgeitems=3)
        extra = [f"dtype={self.data.dtype}"]
        if type(self.data) is not _ndarray:
            extra.insert(0, f"device='{self.device}'")
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.label}Backward>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.data.size == 0:
            extra.insert(0, f"size={self.data.shape}")
        return f"tensor({body}, {', '.join(extra)})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element tensor as its number (as PyTorch); other
        tensors with an empty spec as ``str``."""
        if spec and self.data.size == 1:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape "
                            f"{tuple(self.data.shape)}: only one-element tensors take a format")
        return str(self)

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return _add(self, other)

    def __radd__(self, other):
        return _add(other, self)

    def __sub__(self, other):
        return _sub(self, other)

    def __rsub__(self, other):
        return _sub(other, self)

    def __mul__(self, other):
        return _mul(self, other)

    def __rmul__(self, other):
        return _mul(other, self)

    def __truediv__(self, other):
        return _div(self, other)

    def __rtruediv__(self, other):
        return _div(other, self)

    def __floordiv__(self, other):
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return ops.floor_divide(other, self)

    def __mod__(self, other):
        return ops.remainder(self, other)

    def __rmod__(self, other):
        return ops.remainder(other, self)

    def __pow__(self, other):
        return _pow(self, other)

    def __rpow__(self, other):
        return _pow(other, self)

    def __matmul__(self, other):
        return _matmul(self, other)

    def __rmatmul__(self, other):
        return _matmul(other, self)

    def __neg__(self):
        return _neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __invert__(self):
        if self.data.dtype != np.bool_:
            return new_tensor(namespace(self.data).invert(self.data))
        return ops.logical_not(self)

    def __and__(self, other):
        x, y = binary_operands(self, other, "and")
        return new_tensor(as_array(namespace_of(x, y).bitwise_and(x, y)))

    def __or__(self, other):
        x, y = binary_operands(self, other, "or")
        return new_tensor(as_array(namespace_of(x, y).bitwise_or(x, y)))

    def __xor__(self, other):
        x, y = binary_operands(self, other, "xor")
        return new_tensor(as_array(namespace_of(x, y).bitwise_xor(x, y)))

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    # comparisons: bool tensors without gradient
    def __eq__(self, other):
        if other is None:
            return NotImplemented  # Python then answers False, as PyTorch does
        return ops.eq(self, other)

    def __ne__(self, other):
        if other is None:
            return NotImplemented
        return ops.ne(self, other)

    def __lt__(self, other):
        return ops.lt(self, other)

    def __le__(self, other):
        return ops.le(self, other)

    def __gt__(self, other):
        return ops.gt(self, other)

    def __ge__(self, other):
        return ops.ge(self, other)

    # ------------------------------------------------------------------ in-place
    def _inplace(self, result, name: str):
        """Write ``result`` into this tensor's memory and give this tensor ``result``'s history."""
        data = self.data
        if _grad_state.enabled and self.requires_grad and self.grad_fn is None:
            # whatever the new value depends on (fill_, floor_ included), as in PyTorch
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad is being used in an in-place "
                f"operation; wrap the update in `with lg.no_grad():` (as an optimizer does) "
                f"or use an out-of-place operation")
        recording = _grad_state.enabled and result.requires_grad
        if recording:
            if self._is_view:
                raise RuntimeError(
                    f"{name}: in-place operation on a view (shape {data.shape}) whose result "
                    f"requires grad; locograd does not rewrite the base tensor's history. Use "
                    f"an out-of-place operation, or .clone() the view first")
        if not writeable(data):
            raise RuntimeError(f"{name}: the tensor (shape {data.shape}) is a read-only view "
                               f"(e.g. from expand/broadcast_to); .clone() it first")
        r = result.data
        if r.shape != data.shape:
            raise RuntimeError(f"{name}: the result of shape {r.shape} does not match the "
                               f"in-place tensor's shape {data.shape}")
        if not np.can_cast(r.dtype, data.dtype, "same_kind"):
            raise TypeError(f"{name}: the result type {r.dtype} can't be cast to the in-place "
                            f"tensor's dtype {data.dtype}")
        if recording:
            if result.grad_fn is None:
                result = ops.clone(result)  # a leaf result needs a node so gradients reach it
            else:
                _keep_old_value(self, result.grad_fn)
        namespace(data).copyto(data, r, casting="same_kind")
        self._version[0] += 1
        if recording:
            self.grad_fn = result.grad_fn
            self._output_nr = result._output_nr
            self.requires_grad = True
        elif _grad_state.enabled and self.grad_fn is not None:
            # The new value does not depend on the old history (fill_, copy_ of a constant).
            self.grad_fn = None
            self.requires_grad = False
        return self

    def _inplace_fast(self, ufunc, other, name):
        """Untracked in-place update straight into the array (no graph needed)."""
        x, y = binary_operands(self, other, name)
        data = self.data
        if not writeable(data):
            raise RuntimeError(f"{name}: the tensor (shape {data.shape}) is a read-only view; "
                               f".clone() it first")
        try:
            ufunc(data, y, out=data, casting="same_kind")
        except (ValueError, TypeError) as e:
            raise type(e)(f"{name}: {e} (tensor shape {data.shape}, dtype {data.dtype}; operand "
                          f"shape {np.shape(y)})") from None
        self._version[0] += 1
        return self

    def _needs_graph(self, other=None) -> bool:
        return _grad_state.enabled and (self.requires_grad or
                                        (isinstance(other, TensorBase) and other.requires_grad))

    def add_(self, other, *, alpha=1):
        if self._needs_graph(other):
            return self._inplace(ops.add(self, other, alpha=alpha), "add_")
        if alpha != 1:
            other = operand(other) * alpha
        return self._inplace_fast(np.add, other, "add_")

    def sub_(self, other, *, alpha=1):
        if self._needs_graph(other):
            return self._inplace(ops.sub(self, other, alpha=alpha), "sub_")
        if alpha != 1:
            other = operand(other) * alpha
        return self._inplace_fast(np.subtract, other, "sub_")

    def mul_(self, other):
        if self._needs_graph(other):
            return self._inplace(ops.mul(self, other), "mul_")
        return self._inplace_fast(np.multiply, other, "mul_")

    def div_(self, other):
        if self._needs_graph(other):
            return self._inplace(ops.div(self, other), "div_")
        return self._inplace_fast(np.true_divide, other, "div_")

    def pow_(self, other):
        return self._inplace(ops.pow(self, other), "pow_")

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def __ipow__(self, other):
        return self.pow_(other)

    def __imatmul__(self, other):
        return self._inplace(ops.matmul(self, other), "matmul_")

    def zero_(self):
        return self._fill(0, "zero_")

    def fill_(self, value):
        return self._fill(value, "fill_")

    def _fill(self, value, name):
        if self._needs_graph(value):
            return self._inplace(ops.broadcast_to(_as_operand_tensor(value, self), self.shape),
                                 name)
        if not writeable(self.data):
            raise RuntimeError(f"{name}: the tensor (shape {self.data.shape}) is read-only")
        self.data[...] = operand(value)
        self._version[0] += 1
        return self

    def copy_(self, src):
        """Copy ``src`` (broadcast to this shape) into this tensor; differentiable w.r.t. src."""
        if self._needs_graph(src):
            return self._inplace(ops.broadcast_to(_as_operand_tensor(src, self), self.shape),
                                 "copy_")
        if not writeable(self.data):
            raise RuntimeError(f"copy_: the tensor (shape {self.data.shape}) is read-only")
        value = operand(src)
        if isinstance(src, TensorBase) and (type(value) is not type(self.data) or
                                            type(value) is not _ndarray and
                                            src.device != self.device):
            value = to_device(value, self.device)  # copy_ between devices, as in PyTorch
        try:
            namespace(self.data).copyto(self.data, value, casting="unsafe")
        except ValueError as e:
            raise ValueError(f"copy_: cannot copy a source of shape {np.shape(operand(src))} into "
                             f"a tensor of shape {self.data.shape}: {e}") from None
        self._version[0] += 1
        return self

    def clamp_(self, min=None, max=None):
        return self._inplace(ops.clamp(self, min, max), "clamp_")

    def exp_(self):
        return self._inplace(ops.exp(self), "exp_")

    def neg_(self):
        return self._inplace(ops.neg(self), "neg_")

    def sqrt_(self):
        return self._inplace(ops.sqrt(self), "sqrt_")

    def tanh_(self):
        return self._inplace(ops.tanh(self), "tanh_")

    def sigmoid_(self):
        return self._inplace(ops.sigmoid(self), "sigmoid_")

    def relu_(self):
        return self._inplace(ops.relu(self), "relu_")

    def masked_fill_(self, mask, value):
        return self._inplace(ops.masked_fill(self, mask, value), "masked_fill_")

    def scatter_add_(self, dim, index, src):
        return self._inplace(ops.scatter_add(self, dim, index, src), "scatter_add_")

    def scatter_(self, dim, index, src):
        return self._inplace(ops.scatter(self, dim, index, src), "scatter_")

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._inplace(ops.index_add(self, dim, index, source, alpha=alpha), "index_add_")

    def index_put_(self, indices, values):
        return self._inplace(ops.index_put(self, indices, values), "index_put_")

    # ------------------------------------------------------------------ new tensors like self
    def new_tensor(self, data, dtype=None, requires_grad: bool = False):
        """A new tensor from ``data`` with this tensor's dtype (unless ``dtype`` is given)."""
        from .factory import tensor
        return tensor(data, dtype=self.data.dtype if dtype is None else dtype,
                      requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad: bool = False):
        from .factory import zeros
        return zeros(*size, dtype=self.data.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad: bool = False):
        from .factory import ones
        return ones(*size, dtype=self.data.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad: bool = False):
        from .factory import empty
        return empty(*size, dtype=self.data.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad: bool = False):
        from .factory import full
        return full(size, fill_value, dtype=self.data.dtype if dtype is None else dtype,
                    requires_grad=requires_grad)

    def __setitem__(self, index, value):
        idx = ops.convert_index(index)
        if self._needs_graph(value):
            self._inplace(ops.IndexPut.apply(self, idx, value), "__setitem__")
            return
        if not writeable(self.data):
            raise RuntimeError(f"__setitem__: the tensor (shape {self.data.shape}) is read-only")
        try:
            self.data[idx] = operand(value)
        except (IndexError, ValueError) as e:
            raise type(e)(f"__setitem__: {e} (tensor shape {self.data.shape}, value shape "
                          f"{np.shape(operand(value))})") from None
        self._version[0] += 1

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator=None):
        """Fill with samples of U(a, b) from ``generator`` (default: the seeded global one)."""
        from .backend import rng
        return self._fill_random(rng(generator).uniform(a, b, self.data.shape), "uniform_")

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator=None):
        """Fill with samples of N(mean, std^2) from ``generator``."""
        if not std >= 0:
            raise ValueError(f"normal_: expects std >= 0.0, but found std {std}")
        from .backend import rng
        g = rng(generator)
        if self.data.dtype.kind == "f" and self.data.dtype.itemsize in (4, 8):
            z = g.standard_normal(self.data.shape, dtype=self.data.dtype)
        else:
            z = g.standard_normal(self.data.shape)
        return self._fill_random(z * std + mean, "normal_")

    def bernoulli_(self, p: float = 0.5, generator=None):
        from .backend import rng
        return self._fill_random(rng(generator).random(self.data.shape) < p, "bernoulli_")

    def _fill_random(self, values, name):
        if _grad_state.enabled and self.requires_grad and self.grad_fn is None:
            raise RuntimeError(f"{name}: a leaf tensor that requires grad is being used in an "
                               f"in-place operation; use `with lg.no_grad():`")
        fill_from_host(self.data, values)
        self._version[0] += 1
        return self

    def where(self, condition, other):
        """``self`` where ``condition`` is True, else ``other`` (``torch.Tensor.where``)."""
        return ops.where(condition, self, other)

    def view_as(self, other):
        return ops.view(self, other.shape)

    def reshape_as(self, other):
        return ops.reshape(self, other.shape)

    def expand_as(self, other):
        return ops.expand(self, other.shape)

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, index):
        return ops.getitem(self, index)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(ops.unbind(self, 0)) if self.requires_grad else \
            (new_tensor(row) for row in self.data)


def _host_error(tensor, what: str) -> str:
    return (f"can't convert {tensor.device} device type tensor to numpy ({what}). Use "
            f"Tensor.cpu() to copy the tensor to host memory first.")


def _is_device_spec(value) -> bool:
    if isinstance(value, (device, int)) and not isinstance(value, bool):
        return True
    if isinstance(value, str):
        try:
            device(value)
        except (ValueError, RuntimeError):
            return False
        return True
    return False


def parse_to_arguments(args, dtype, device):
    """``Tensor.to``'s positional forms: a tensor, a device, a dtype (in any order)."""
    for a in args:
        if isinstance(a, TensorBase):
            dtype = a.data.dtype if dtype is None else dtype
            device = a.device if device is None else device
        elif _is_device_spec(a):
            if device is not None:
                raise TypeError(f"to: got two devices ({device!r} and {a!r})")
            device = a
        elif a is not None:
            if dtype is not None:
                raise TypeError(f"to: got two dtypes ({dtype!r} and {a!r})")
            dtype = a
    return dtype, device


def _keep_old_value(tensor: Tensor, node) -> None:
    """Let ``node`` (the op an in-place method just ran on ``tensor``) keep ``tensor``'s value.

    ``h.mul_(w)``, ``h.pow_(2)`` or ``h.clamp_(0, 1)`` run an op that saves ``h`` for its
    backward, and then overwrite ``h``: the version check would (rightly) refuse that backward.
    As PyTorch does, the node gets the old value instead: a copy standing in for the old ``h``,
    with its history, so first and higher derivatives stay exact. Earlier nodes that saved ``h``
    still see the version change and raise.
    """
    saved = node._saved
    if not saved or not any(type(e) is tuple and len(e) == 2 and e[0] is tensor for e in saved):
        return
    old = new_tensor(tensor.data.copy(), tensor.requires_grad, tensor.grad_fn, tensor._output_nr)
    node._saved = tuple((old, 0) if type(e) is tuple and len(e) == 2 and e[0] is tensor else e
                        for e in saved)


def _as_operand_tensor(value, like: Tensor) -> TensorBase:
    if isinstance(value, TensorBase):
        return value
    return new_tensor(namespace(like.data).asarray(operand(value), dtype=like.data.dtype))


# Methods that *are* the op with the tensor as first argument: ``x.exp()`` is ``ops.exp(x)``.
# Bound here, in one place, rather than written out as a hundred one-line wrappers.
_OP_METHODS = (
    "add", "sub", "mul", "div", "pow", "neg", "square", "reciprocal", "exp", "expm1", "log",
    "log1p", "sqrt", "rsqrt", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu", "softplus",
    "clamp", "maximum", "minimum", "matmul", "mm", "bmm", "dot", "mv", "outer", "eq", "ne", "lt",
    "le", "gt", "ge", "isnan", "isinf", "isfinite", "floor", "ceil", "round", "logical_not", "sum",
    "mean", "var", "std", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "logsumexp",
    "softmax", "log_softmax", "cumsum", "norm", "all", "any", "count_nonzero", "reshape", "view",
    "flatten", "unflatten", "squeeze", "unsqueeze", "transpose", "permute", "movedim", "t",
    "expand", "broadcast_to", "sum_to_size", "repeat", "tile", "flip", "split", "chunk", "unbind",
    "gather", "scatter_add", "index_select", "masked_fill", "take_along_dim",
    "tan", "sinh", "cosh", "log2", "log10", "exp2", "remainder", "fmod", "logaddexp", "lerp",
    "addcmul", "addcdiv", "clamp_min", "clamp_max", "clip", "multiply", "divide", "true_divide",
    "subtract", "negative", "absolute", "floor_divide", "logical_and", "logical_or",
    "logical_xor", "trunc", "isclose", "allclose", "equal", "swapaxes", "swapdims", "ravel",
    "roll", "narrow", "select", "scatter", "index_add", "index_put", "masked_select", "nonzero",
    "sort", "argsort", "topk",
    # linear algebra and products
    "det", "slogdet", "logdet", "inverse", "pinverse", "matrix_power", "inner", "kron", "cross",
    "addmm", "addmv", "addr", "baddbmm", "addbmm",
    # arrangement, splitting, indexing writes and searches
    "diagonal", "diag_embed", "fliplr", "flipud", "rot90", "repeat_interleave", "tensor_split",
    "hsplit", "vsplit", "dsplit", "index_fill", "index_copy", "scatter_reduce", "masked_scatter",
    "take", "argwhere", "moveaxis", "greater", "less", "not_equal", "greater_equal",
    "less_equal",
    # trigonometric, special functions, scans and order statistics
    "asin", "acos", "atan", "asinh", "acosh", "atanh", "atan2", "hypot", "sinc", "deg2rad",
    "rad2deg", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2", "erfc",
    "erfinv", "lgamma", "digamma", "logit", "xlogy", "nan_to_num", "copysign", "frac", "fmax",
    "fmin", "logaddexp2", "float_power", "cumprod", "cummax", "cummin", "logcumsumexp", "diff",
    "nansum", "nanmean", "aminmax", "trace", "median", "nanmedian", "kthvalue", "mode",
    "quantile", "nanquantile", "bincount", "unique",
)
for _name in _OP_METHODS:
    setattr(Tensor, _name, getattr(ops, _name))
# ``Tensor.unfold(dimension, size, step)`` is ``ops.tensor_unfold`` (``nn.functional.unfold`` is
# im2col, another op of the same name).
Tensor.unfold = ops.tensor_unfold


def _polygamma(self, n: int):
    """``t.polygamma(n)`` is ``polygamma(n, t)`` (the function takes the order first)."""
    return ops.polygamma(n, self)


Tensor.polygamma = _polygamma

# In-place forms of unary ops: compute, then write into this tensor (recorded when needed).
_INPLACE_UNARY = ("abs", "log", "log1p", "expm1", "sin", "cos", "tan", "rsqrt", "square",
                  "reciprocal", "sign", "floor", "ceil", "round", "trunc", "clip", "clamp_min",
                  "clamp_max", "remainder", "fmod", "lerp", "addcmul", "addcdiv", "index_fill",
                  "index_copy", "scatter_reduce", "masked_scatter")


def _make_inplace(name):
    op = getattr(ops, name)

    def method(self, *args, **kwargs):
        return self._inplace(op(self, *args, **kwargs), name + "_")
    method.__name__ = name + "_"
    method.__doc__ = f"In-place ``{name}``."
    return method


for _name in _INPLACE_UNARY:
    setattr(Tensor, _name + "_", _make_inplace(_name))
del _name

register_tensor_class(Tensor)

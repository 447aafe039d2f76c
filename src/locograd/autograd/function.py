"""``Function``: a node of the computational graph, and the base of every differentiable op.

Define an op by subclassing ``Function`` with two static methods, exactly as in PyTorch:

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):              # x: a Tensor (or any non-tensor argument, as given)
            y = x.exp()
            ctx.save_for_backward(y)
            return y                      # a Tensor or an array (or a tuple of them)

        @staticmethod
        def backward(ctx, grad_output):   # Tensors in, Tensors out: one per forward argument
            (y,) = ctx.saved_tensors
            return grad_output * y

    exp = Exp.apply

A user's ``forward`` runs with grad mode off; its ``backward`` is written with locograd tensor
operations, so when the engine runs it with ``create_graph=True`` it is itself recorded and
higher-order gradients come for free.

The instance of the ``Function`` subclass *is* the graph node (PyTorch's ``ctx``): attributes set
on ``ctx`` in ``forward`` are available in ``backward``.

One rule, any value type. The library's own ops (and a user's ``Function`` that sets
``array_rule = True``) write their rule once, against the *values* they are given: ``forward``
works on the inputs' arrays and ``backward`` receives arrays of the same backend (NumPy, CuPy)
when the backward pass is not recorded, and locograd tensors when it is (``create_graph=True``).
``ctx.saved_tensors`` follows suit (arrays or tensors), and ``backend.namespace(value)`` gives the
matching namespace: NumPy, CuPy, or locograd's NumPy-named tensor namespace
(``ops.tensor_namespace``). So a rule such as ``grad * xp.cos(x)`` serves the fast unrecorded
path and higher-order gradients alike, with no second transcription.
"""
from __future__ import annotations

import functools
import itertools
import traceback

import numpy as np

from . import tensor_base as _tensor_base
from ..backend.devices import usage as _devices
from .grad_mode import debug_state as _debug
from .grad_mode import state as _state
from .tensor_base import RemovableHandle, TensorBase, new_tensor

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

_ndarray = np.ndarray
_new = object.__new__
_next_seq = itertools.count().__next__
# ``needs_input_grad`` of an unrecorded call with n arguments (shared, never built per call).
_NO_GRADS = tuple((False,) * n for n in range(16))
#: ``_saved`` of a node whose saved tensors were freed by a backward pass.
RELEASED = ("<released>",)


class Function:
    """Base class of graph nodes; subclass it with static ``forward`` and ``backward``.

    Attributes of a node, used by the engine (read-only for users):
        needs_input_grad: one bool per forward argument.
        next_functions: one edge per forward argument: ``(node or leaf tensor, output_nr,
            shape, dtype)`` of the input, or None when it needs no gradient.
    """

    __slots__ = ("_next", "_saved", "needs_input_grad", "_seq", "__dict__", "__weakref__")
    # _saved: checked saved entries (see ``_saved_entries``), or RELEASED after backward;
    # _seq: creation order: a node's consumers are always created after it, so the engine runs
    # nodes in decreasing _seq and needs no dependency count.
    # Rarely set fields are class-level defaults (set per node only when used):
    _out_meta = None  # None for a single output, else a (shape, dtype) per output
    _hooks_ = None    # tensor hooks, pre- and post-hooks of this node
    _trace = None     # where the node was created (anomaly mode)

    #: Human-readable name of the op, used in graph pictures and error messages.
    label = "Function"
    #: True: ``backward`` is one rule over values (arrays, or tensors when recorded); see the
    #: module docstring. The library's ops are; a user's ``Function`` is not unless it says so.
    array_rule = False
    # Library ops compute their forward on arrays and need no grad-mode switch around it.
    _forward_records = True
    # The backward the engine calls with arrays on an unrecorded pass (None: wrap as tensors).
    _rule = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "label" not in cls.__dict__:
            cls.label = cls.__name__
        library = cls.__module__.startswith("locograd.")
        cls._forward_records = not library
        if library and "array_rule" not in cls.__dict__:
            cls.array_rule = True
        rule = cls.backward if cls.array_rule else None
        cls._rule = None if rule is None else staticmethod(rule)

    # ------------------------------------------------------------------ user-facing ctx API
    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("subclasses of Function must implement a static forward()")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("subclasses of Function must implement a static backward()")

    def save_for_backward(self, *tensors) -> None:
        """Save tensors (inputs, outputs or intermediate arrays) for ``backward``.

        Inputs are checked against in-place modification when they are used; outputs are stored
        without creating a reference cycle; intermediate ndarrays are saved as constants.
        """
        self._saved = tensors  # raw; ``apply`` turns it into checked entries after forward

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``, checked for in-place modification.

        For an ``array_rule`` op on an unrecorded backward pass these are their arrays (in a
        list: this is every op's hot path)."""
        if not _state.enabled and self.array_rule:
            saved = self._saved
            if saved is None or saved is RELEASED:
                return tuple(self._saved_or_raise())
            values = []
            for entry in saved:
                if type(entry) is tuple:
                    if len(entry) == 2:  # an input tensor and its version when saved
                        t, v0 = entry
                        if t._version[0] != v0:
                            raise RuntimeError(_inplace_message(
                                self, _position(saved, entry), t.data, v0, t._version[0]))
                        values.append(t.data)
                    else:  # an output: its array and version counter
                        arr, vlist, v0, _ = entry
                        if vlist[0] != v0:
                            raise RuntimeError(_inplace_message(
                                self, _position(saved, entry), arr, v0, vlist[0], True))
                        values.append(arr)
                else:
                    values.append(entry)
            return values
        out = []
        for i, entry in enumerate(self._saved_or_raise()):
            if type(entry) is tuple:
                if len(entry) == 2:  # an input tensor and its version when saved
                    t, v0 = entry
                    if t._version[0] != v0:
                        raise RuntimeError(_inplace_message(self, i, t.data, v0, t._version[0]))
                    out.append(t)
                else:  # an output, rebuilt on demand: node -> array, never node -> tensor
                    arr, vlist, v0, k = entry
                    if vlist[0] != v0:
                        raise RuntimeError(_inplace_message(self, i, arr, v0, vlist[0], True))
                    out.append(new_tensor(arr, True, self, k))
            elif entry is None:
                out.append(None)
            elif isinstance(entry, (float, int, complex)):  # a number stays a number (it
                out.append(entry)                             # belongs to no device)
            else:  # an intermediate array: a constant
                out.append(new_tensor(entry if type(entry) is _ndarray else _constant(entry)))
        return tuple(out)

    def _saved_or_raise(self) -> tuple:
        saved = self._saved
        if saved is None or saved is RELEASED:
            if saved is RELEASED:
                raise RuntimeError(
                    f"{self.label}: trying to backward through the graph a second time (or to "
                    f"read saved tensors after they were freed). The saved tensors are freed "
                    f"when backward() runs; pass retain_graph=True to the first backward() or "
                    f"autograd.grad() call if you need to backward through the graph again.")
            return ()
        return saved

    def mark_non_differentiable(self, *outputs) -> None:
        """Mark outputs (integer indices, masks) that carry no gradient."""
        self.__dict__["_non_diff"] = outputs

    def mark_dirty(self, *tensors) -> None:
        """Accepted for PyTorch compatibility: locograd's in-place ops track versions themselves."""

    def set_materialize_grads(self, value: bool) -> None:
        """When True (default), missing output gradients reach ``backward`` as zeros, not None."""
        self.__dict__["_materialize"] = bool(value)

    @property
    def next_functions(self) -> tuple:
        return tuple(None if e is None else (e[0], e[1]) for e in self._next)

    def name(self) -> str:
        return self.label

    def __repr__(self):
        return f"<{self.label}Backward>"

    # ------------------------------------------------------------------ hooks on the node
    def _tensor_pre_hooks(self, output_nr: int) -> list:
        if self._hooks_ is None:
            self._hooks_ = {}
        return self._hooks_.setdefault(("tensor", output_nr), [])

    def register_prehook(self, hook):
        """``hook(grad_outputs) -> None | new grad_outputs``, run before this node's backward."""
        if self._hooks_ is None:
            self._hooks_ = {}
        hooks = self._hooks_.setdefault("pre", [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs) -> None | new grad_inputs``, run after backward."""
        if self._hooks_ is None:
            self._hooks_ = {}
        hooks = self._hooks_.setdefault("post", [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    # ------------------------------------------------------------------ apply
    @classmethod
    def apply(cls, *args):
        """Run ``forward`` and, if any input requires grad, record this node in the graph.

        This is the hot path of every operation. It is deliberately written out in one function
        (no helper calls, no comprehensions, which cost a frame each in CPython) and allocates
        only the node, its edges and the output tensor.
        """
        ctx = _new(cls)
        record = False
        if _state.enabled:
            for a in args:
                if isinstance(a, TensorBase) and a.requires_grad:
                    record = True
                    break
        if not record:
            n = len(args)
            ctx.needs_input_grad = _NO_GRADS[n] if n < 16 else (False,) * n
            raw = cls.forward(ctx, *args) if not _devices.in_use else _forward(cls, ctx, args)
            if type(raw) is _ndarray:
                t = _new(_tensor_base._TENSOR_CLASS)
                t.data = raw
                t.requires_grad = False
                t.grad = None
                t.grad_fn = None
                t._output_nr = 0
                t._version = [0]
                t._hooks = None
                t._is_view = False
                return t
            if type(raw) is not tuple:
                return new_tensor(_as_array(raw, cls))
            return tuple(new_tensor(_as_array(r, cls)) if r is not None else None for r in raw)

        # Recording. Edges to the producers of the inputs, with the shape and dtype that their
        # gradient must have: (node or leaf tensor, output_nr, shape, dtype), or None.
        needs = []
        edges = []
        for a in args:
            if isinstance(a, TensorBase) and a.requires_grad:
                needs.append(True)
                d = a.data
                edges.append((a.grad_fn or a, a._output_nr, d.shape, d.dtype))
            else:
                needs.append(False)
                edges.append(None)
        ctx.needs_input_grad = tuple(needs)
        ctx._saved = None
        if cls._forward_records:  # a user's forward may use tensor ops: run it unrecorded
            _state.enabled = False
            try:
                raw = cls.forward(ctx, *args)
            finally:
                _state.enabled = True
        else:
            raw = cls.forward(ctx, *args) if not _devices.in_use else _forward(cls, ctx, args)
        ctx._next = tuple(edges)
        ctx._seq = _next_seq()
        if _debug.active:  # anomaly mode or value capture: off the hot path
            _debug_record(ctx, raw)

        if type(raw) is not _ndarray:
            return _record_other(cls, ctx, raw)
        if raw.dtype.kind not in "fc":
            return new_tensor(raw)
        t = _new(_tensor_base._TENSOR_CLASS)
        t.data = raw
        t.requires_grad = True
        t.grad = None
        t.grad_fn = ctx
        t._output_nr = 0
        vl = t._version = [0]
        t._hooks = None
        t._is_view = False
        saved = ctx._saved
        if saved is not None:
            entries = []
            for obj in saved:
                if obj is raw:  # the output: kept as its array, never as the tensor (no cycle)
                    entries.append((raw, vl, 0, 0))
                elif isinstance(obj, TensorBase):
                    entries.append((obj, obj._version[0]))
                else:  # None, or an intermediate array (a constant)
                    entries.append(obj)
            ctx._saved = tuple(entries)
        return t


FunctionCtx = Function


def _forward(cls, ctx, args):
    """``cls.forward``; a TypeError (how CuPy refuses host arrays) on tensors of two devices
    becomes the error naming the op and both devices. Used once a device is in use: a try block
    in ``apply`` slows every op on the CPU by a tenth."""
    try:
        return cls.forward(ctx, *args)
    except TypeError:
        _raise_if_devices_differ(cls, args)
        raise


def _raise_if_devices_differ(cls, args) -> None:
    """After a forward failed with a TypeError (the way CuPy refuses host arrays): if the
    tensor arguments live on different devices, say so, naming the op and the devices. Costs
    nothing when forward succeeds."""
    seen = []
    for a in args:
        if isinstance(a, TensorBase):
            d = a.device
            if d not in seen:
                seen.append(d)
    if len(seen) > 1:
        raise RuntimeError(f"{cls.label}: expected all tensors to be on the same device, but "
                           f"found at least two devices, {seen[0]} and {seen[1]}; move them "
                           f"with .to(device) first") from None


def _debug_record(ctx, raw) -> None:
    """Anomaly mode: remember where the node was created. Value capture
    (``autograd.graph.retain_values``): keep the output values and, through a post-hook, the
    gradients the node receives and sends along each edge."""
    if _debug.anomaly:
        ctx._trace = traceback.extract_stack()[:-2]
    if _debug.capture:
        ctx._value = tuple(_as_array(r, type(ctx)) if r is not None else None for r in raw) \
            if type(raw) is tuple else _as_array(raw, type(ctx))

        def keep_gradients(grad_inputs, grad_outputs):
            ctx._grad_inputs = grad_inputs
            ctx._grad_outputs = grad_outputs

        ctx.register_hook(keep_gradients)


def _record_other(cls, ctx, raw):
    """The end of ``apply`` for a forward that returned a tuple, a tensor or a scalar."""
    if type(raw) is tuple:
        arrays = tuple(_as_array(r, cls) if r is not None else None for r in raw)
        non_diff = [_as_array(n, cls) for n in ctx.__dict__.get("_non_diff", ())]
        outs = []
        for i, arr in enumerate(arrays):
            if arr is None:
                outs.append(None)
            elif arr.dtype.kind not in "fc" or any(arr is n for n in non_diff):
                outs.append(new_tensor(arr))
            else:
                outs.append(new_tensor(arr, True, ctx, i))
        ctx._out_meta = tuple((a.shape, a.dtype) if a is not None else None for a in arrays)
        result = outs = tuple(outs)
    else:
        arr = _as_array(raw, cls)
        arrays = (arr,)
        result = new_tensor(arr, True, ctx) if arr.dtype.kind in "fc" else new_tensor(arr)
        outs = (result,)
    if ctx._saved is not None:
        ctx._saved = _saved_entries(ctx._saved, raw, arrays, outs)
    return result


def _saved_entries(to_save, raw, arrays, outs) -> tuple:
    """Turn what forward saved into checked entries.

    An entry is ``(tensor, version)`` for an input, ``(array, version_counter, version,
    output_index)`` for an output, the array itself for an intermediate, or None. Outputs are
    recognised by identity with what forward returned (a tensor, an array or a NumPy scalar).
    """
    saved = []
    for obj in to_save:
        if obj is None:
            saved.append(None)
            continue
        k = _find(obj, raw)
        if k is None:
            k = _find(obj, arrays)
        if k is not None:
            vl = outs[k]._version
            saved.append((arrays[k], vl, vl[0], k))
        elif isinstance(obj, TensorBase):
            saved.append((obj, obj._version[0]))
        else:
            saved.append(obj)
    return tuple(saved)


def _constant(value):
    """A saved intermediate (an array of any backend, or a number) as the array of a tensor
    (a NumPy scalar, which has a shape and a dtype too, becomes a 0-d array)."""
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.generic):
        return value
    return np.asarray(value)


def _as_array(raw, cls) -> np.ndarray:
    if type(raw) is _ndarray:
        return raw
    if isinstance(raw, TensorBase):
        return raw.data
    if isinstance(raw, (np.generic, float, int, bool)):
        return np.asarray(raw)
    if isinstance(raw, _ndarray):  # ndarray subclasses (np.matrix, masked arrays) become plain
        return np.asarray(raw)
    if hasattr(raw, "shape") and hasattr(raw, "dtype") and hasattr(raw, "device"):
        return raw  # an array of a device backend (CuPy, the stand-in)
    raise TypeError(f"{cls.__name__}.forward must return ndarrays or Tensors, "
                    f"got {type(raw).__name__}")


def _find(obj, candidates):
    """Index of ``obj`` among the forward's outputs (by identity), or None."""
    if type(candidates) is not tuple:
        return 0 if candidates is obj else None
    for i, c in enumerate(candidates):
        if c is obj:
            return i
    return None


def _position(items, obj) -> int:
    """Index of ``obj`` in ``items`` by identity (``==`` on tensors is elementwise)."""
    return next(k for k, item in enumerate(items) if item is obj)


def _inplace_message(node, index, array, v0, v1, output=False) -> str:
    what = "output" if output else "saved tensor"
    return (f"{node.label}: one of the tensors needed for its gradient computation has been "
            f"modified by an in-place operation: {what} {index} of {node.label} "
            f"(shape {tuple(array.shape)}, dtype {array.dtype}) was saved at version {v0} and is "
            f"now at version {v1}. Use an out-of-place operation (e.g. x = x * 2 instead of "
            f"x *= 2) or .clone() the tensor before modifying it.")


def once_differentiable(backward):
    """Decorator for a ``backward`` that is not itself differentiable (it may use raw arrays).

    Use it under ``@staticmethod`` as in PyTorch. With ``create_graph=True``, the gradients it
    returns are connected to the node's inputs and to the incoming gradients through a node
    that raises a clear error when differentiated, instead of silently giving zero.
    """
    @functools.wraps(backward)
    def wrapper(ctx, *grad_outputs):
        prev = _state.enabled
        _state.enabled = False
        try:
            out = backward(ctx, *grad_outputs)
        finally:
            _state.enabled = prev
        if not prev:  # the backward pass is not recorded
            return out
        # What the true gradient depends on: the incoming gradients and the node's inputs.
        sources = [g for g in grad_outputs if isinstance(g, TensorBase) and g.requires_grad]
        sources += [_edge_tensor(edge) for edge in ctx._next if edge is not None]
        if not sources:
            return out
        outs = out if isinstance(out, tuple) else (out,)
        wrapped = tuple(_OnceDifferentiable.apply(ctx.label, o, *sources) if o is not None
                        else None for o in outs)
        return wrapped if isinstance(out, tuple) else wrapped[0]

    return wrapper


def _edge_tensor(edge):
    """A tensor standing for the input at the end of ``edge`` (the leaf itself, or a stand-in
    output of its producing node), so that a new node can point to it."""
    target, output_nr, shape, dtype = edge
    if isinstance(target, TensorBase):
        return target
    return new_tensor(np.broadcast_to(np.zeros((), dtype), shape), True, target, output_nr)


class _OnceDifferentiable(Function):
    """Carries a once-differentiable gradient; raises if differentiated again."""

    @staticmethod
    def forward(ctx, label, value, *sources):
        ctx.op = label
        return value.data if isinstance(value, TensorBase) else np.asarray(value)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(f"{ctx.op}: trying to differentiate twice a function whose backward "
                           f"is marked @once_differentiable (it cannot be differentiated again "
                           f"with create_graph=True)")

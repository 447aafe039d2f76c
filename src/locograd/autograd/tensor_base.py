"""``TensorBase``: the fields a tensor carries in the graph, and the graph-facing methods.

The user-facing ``locograd.Tensor`` (``tensor.py``) subclasses this and adds the operators. The
split breaks the one import circle of an autograd library (``Tensor`` needs the ops for its
operators; ops return tensors): ``autograd`` and ``ops`` only ever see ``TensorBase``, and build
their results through ``new_tensor``, which uses the class that ``tensor.py`` registers at import.
"""
from __future__ import annotations

import weakref

import numpy as np

from .grad_mode import state as _grad_state
from ..backend import writeable

__all__ = ["TensorBase", "new_tensor", "register_tensor_class"]

_new = object.__new__


class TensorBase:
    """An n-dimensional array (``data``, a NumPy ndarray) with the fields of a graph node output.

    Fields:
        data: the ndarray (no copy is made when a tensor is built from an array).
        requires_grad: whether operations on this tensor are recorded.
        grad: the accumulated gradient (a tensor) of a leaf, or of a non-leaf after ``retain_grad``.
        grad_fn: the ``Function`` node that produced this tensor, ``None`` for a leaf.
    """

    __slots__ = ("data", "requires_grad", "grad", "grad_fn", "_output_nr", "_version", "_hooks",
                 "_is_view", "__weakref__")

    # Comparison operators return tensors, so the default identity hash must be restored.
    __hash__ = object.__hash__

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation (``grad_fn is None``)."""
        return self.grad_fn is None

    def requires_grad_(self, requires_grad: bool = True):
        """Set ``requires_grad`` in place (leaves only) and return ``self``."""
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad of leaf tensors; "
                "use .detach() to get a tensor outside the graph")
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(
                f"requires_grad_: only floating-point tensors can require gradients, "
                f"got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """A new tensor sharing ``data`` (and its version counter), outside the graph."""
        t = new_tensor(self.data)
        t._version = self._version
        t._is_view = True
        return t

    def detach_(self):
        """Detach in place: make this tensor a leaf that does not require grad."""
        if self._is_view and self.grad_fn is not None:
            raise RuntimeError("detach_: cannot detach a view in place; use .detach()")
        self.grad_fn = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: cannot retain the gradient of a tensor that does not "
                               "require grad")
        if self.grad_fn is None:
            return
        node = self.grad_fn
        hooks = node._tensor_pre_hooks(self._output_nr)
        if any(getattr(h, "_retains", None) is not None for h in hooks):
            return
        ref = weakref.ref(self)

        def retain(grad):
            t = ref()
            if t is not None:
                if t.grad is None:
                    t.grad = new_tensor(grad.data.copy()) if not grad.requires_grad else grad
                else:
                    t.grad = t.grad + grad
            return None

        retain._retains = ref
        hooks.append(retain)

    @property
    def retains_grad(self) -> bool:
        if self.grad_fn is None:
            return False
        return any(getattr(h, "_retains", None) is not None
                   for h in self.grad_fn._tensor_pre_hooks(self._output_nr))

    def register_hook(self, hook):
        """Call ``hook(grad)`` whenever the gradient of this tensor is computed.

        The hook may return a tensor that replaces the gradient. Returns a handle whose
        ``remove()`` unregisters the hook.

        Example:
            >>> import locograd as lg
            >>> x = lg.ones(2, requires_grad=True)
            >>> h = x.register_hook(lambda g: g * 2)
            >>> (x * 3).sum().backward(); x.grad.tolist()
            [6.0, 6.0]
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not "
                               "require grad")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            hooks = self.grad_fn._tensor_pre_hooks(self._output_nr)
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` on this leaf after ``backward`` has accumulated into its
        ``.grad`` (not during ``grad()``, which accumulates nothing).

        Distributed data parallel uses it to average gradients once they are complete. Returns
        a handle whose ``remove()`` unregisters the hook.

        Example:
            >>> import locograd as lg
            >>> w = lg.ones(2, requires_grad=True)
            >>> seen = []
            >>> h = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
            >>> (w * 3).sum().backward(); seen
            [[3.0, 3.0]]
        """
        if self.grad_fn is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors accumulate "
                               "gradients; use register_hook on a non-leaf tensor")
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a "
                               "tensor that does not require grad")
        if self._hooks is None:
            self._hooks = []
        entry = PostAccumulateGradHook(hook)
        self._hooks.append(entry)
        return RemovableHandle(self._hooks, entry)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor with respect to the graph leaves into ``.grad``.

        Args:
            gradient: d(something)/d(self), required when ``self`` is not a scalar.
            retain_graph: keep the saved tensors so that backward can run again
                (defaults to ``create_graph``).
            create_graph: record the backward pass itself, for higher-order derivatives.
            inputs: if given, accumulate only into these tensors' ``.grad``.

        Example:
            >>> import locograd as lg
            >>> x = lg.tensor([1.0, 2.0], requires_grad=True)
            >>> (x * x).sum().backward(); x.grad.tolist()
            [2.0, 4.0]
        """
        from .engine import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)



def reset_grad(tensor, set_to_none: bool = True) -> None:
    """Reset ``tensor.grad`` for ``zero_grad``: to None, or to zeros in place (the version bumped,
    so a graph that saved the old gradient notices). A gradient that is part of a graph
    (``create_graph=True``) or read-only is replaced by a fresh zero tensor instead of written
    through."""
    grad = tensor.grad
    if grad is None:
        return
    if set_to_none:
        tensor.grad = None
    elif grad.grad_fn is not None or grad.requires_grad or not writeable(grad.data):
        tensor.grad = new_tensor(np.zeros_like(grad.data))
    else:
        grad.data.fill(0)
        grad._version[0] += 1

class PostAccumulateGradHook:
    """A leaf's hook that runs after accumulation; it shares the leaf's hook list, and the
    engine skips it when it runs the gradient hooks."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function


class RemovableHandle:
    """Returned by ``register_*hook``; ``remove()`` unregisters the hook."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks: list, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        try:
            self._hooks.remove(self._hook)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


_TENSOR_CLASS = TensorBase


def register_tensor_class(cls) -> None:
    """Called once by ``tensor.py``: operations build their results as instances of ``cls``."""
    global _TENSOR_CLASS
    _TENSOR_CLASS = cls


def new_tensor(data: np.ndarray, requires_grad: bool = False, grad_fn=None, output_nr: int = 0):
    """Build a tensor around ``data`` (an ndarray, used as is) without any checks.

    This is the one constructor the engine and the ops use; it is on every op's path, so it
    only stores fields.
    """
    t = _new(_TENSOR_CLASS)
    t.data = data
    t.requires_grad = requires_grad
    t.grad = None
    t.grad_fn = grad_fn
    t._output_nr = output_nr
    t._version = [0]
    t._hooks = None
    t._is_view = False
    return t


def grad_enabled() -> bool:
    return _grad_state.enabled

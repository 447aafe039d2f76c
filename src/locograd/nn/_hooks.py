"""Full backward hooks of a ``Module``: identity nodes around one call of its ``forward``.

The tensor inputs and outputs of the call pass through identity nodes (as PyTorch's
``BackwardHook``): the output node receives the gradients with respect to the outputs, the input
node those with respect to the inputs, and the module's hooks run when the latter are known.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor_base import TensorBase

__all__ = ["BackwardHookState"]


class BackwardHookState:
    """The wiring of one call: ``wrap_inputs`` before ``forward``, ``wrap_outputs`` after.

    If no input requires grad, the hooks run as soon as the output gradients are known, with
    ``grad_input`` all None (as PyTorch).
    """

    def __init__(self, module):
        self.module = module
        self.n_inputs = 0
        self.input_mask = []
        self.grad_output = None

    def wrap_inputs(self, args):
        mask = [isinstance(a, TensorBase) and a.requires_grad for a in args]
        self.input_mask = mask
        live = [a for a, m in zip(args, mask) if m]
        self.n_inputs = len(args)
        if not live:
            return args
        wrapped = _wrap(self._on_input_grads, live)
        it = iter(wrapped)
        return tuple(next(it) if m else a for a, m in zip(args, mask))

    def wrap_outputs(self, out):
        single = isinstance(out, TensorBase)
        outs = (out,) if single else tuple(out) if isinstance(out, (tuple, list)) else None
        if outs is None:
            return out
        live_idx = [i for i, o in enumerate(outs) if isinstance(o, TensorBase) and o.requires_grad]
        if not live_idx:
            return out
        wrapped = _wrap(self._on_output_grads, [outs[i] for i in live_idx])
        new = list(outs)
        for i, w in zip(live_idx, wrapped):
            new[i] = w
        self.out_len = len(outs)
        self.live_idx = live_idx
        if single:
            return new[0]
        if isinstance(out, list):
            return new
        return tuple(new) if type(out) is tuple else type(out)(*new)  # namedtuples too

    def _on_output_grads(self, grads):
        full = [None] * self.out_len
        for i, g in zip(self.live_idx, grads):
            full[i] = g
        grad_output = tuple(full)
        for hook in list(self.module._backward_pre_hooks.values()):
            r = hook(self.module, grad_output)
            if r is not None:
                grad_output = tuple(r)
                grads = tuple(grad_output[i] for i in self.live_idx)
        self.grad_output = grad_output
        if not any(self.input_mask):  # no input needs a gradient: call the hooks now
            grad_input = (None,) * self.n_inputs
            for hook in list(self.module._backward_hooks.values()):
                hook(self.module, grad_input, grad_output)
        return grads

    def _on_input_grads(self, grads):
        it = iter(grads)
        grad_input = tuple(next(it) if m else None for m in self.input_mask)
        for hook in list(self.module._backward_hooks.values()):
            r = hook(self.module, grad_input, self.grad_output)
            if r is not None:
                if len(r) != len(grad_input):
                    raise RuntimeError(f"backward hook of {type(self.module).__name__} returned "
                                       f"{len(r)} gradients, expected {len(grad_input)}")
                grad_input = tuple(r)
        return tuple(g for g, m in zip(grad_input, self.input_mask) if m)


def _wrap(callback, tensors: list) -> tuple:
    """Pass ``tensors`` through one identity node whose backward calls ``callback``.

    Each result shares its input's data *and version counter*, so an in-place change of the
    input after the forward is still caught by the ops that saved the (wrapped) tensor.
    """
    wrapped = _Identity.apply(callback, *tensors)
    if not isinstance(wrapped, tuple):
        wrapped = (wrapped,)
    for w, t in zip(wrapped, tensors):
        w._version = t._version
    return wrapped


class _Identity(Function):
    """Identity on several tensors; its backward passes the gradients through ``callback``."""

    is_hook_node = True  # graph pictures hide these identity nodes
    array_rule = False   # the callback is a user's hook: it sees tensors

    label = "BackwardHook"

    @staticmethod
    def forward(ctx, callback, *tensors):
        ctx.callback = callback
        out = tuple(t.data for t in tensors)
        return out if len(out) > 1 else out[0]

    @staticmethod
    def backward(ctx, *grads):
        new = ctx.callback(tuple(grads))
        return (None,) + tuple(new)

"""``Module``: the base class of layers and models, with PyTorch's behaviour.

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it; ``register_buffer``
registers non-learnable state (running statistics) that is saved with the model. Hooks observe or
change what flows through a module: forward pre-hooks and hooks, and full backward hooks that see
the gradients with respect to the module's inputs and outputs.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Mapping
from typing import Callable, Iterator

import numpy as np

from ..autograd.grad_mode import state as _grad_state
from ..autograd.tensor_base import RemovableHandle, TensorBase, new_tensor, reset_grad
from ..backend import as_dtype
from ..backend.devices import (device, device_of, fill_from_host, is_device_array, resolve,
                               to_device)
from ..tensor import parse_to_arguments
from ._hooks import BackwardHookState
from .parameter import Parameter

__all__ = ["Module", "IncompatibleKeys"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of all layers and models.

    Subclasses define ``__init__`` (calling ``super().__init__()`` first) and ``forward``.

    Example:
        >>> import locograd as lg
        >>> class TwoLayer(lg.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = lg.nn.Linear(4, 8)
        ...         self.fc2 = lg.nn.Linear(8, 2)
        ...     def forward(self, x):
        ...         return self.fc2(self.fc1(x).relu())
        >>> [name for name, _ in TwoLayer().named_parameters()]
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    training: bool

    def __init__(self):
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", OrderedDict())
        setattr_(self, "_buffers", OrderedDict())
        setattr_(self, "_non_persistent_buffers", set())
        setattr_(self, "_modules", OrderedDict())
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_hooks", OrderedDict())
        setattr_(self, "_hooks_with_kwargs", set())
        setattr_(self, "_backward_hooks", OrderedDict())
        setattr_(self, "_backward_pre_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    # ------------------------------------------------------------------ attribute registration
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign '{name}' before Module.__init__() is called "
                                 f"(call super().__init__() first in {type(self).__name__})")
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            self._drop(name)
            params[name] = value
        elif isinstance(value, Module):
            self._drop(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as parameter '{name}' "
                                f"of {type(self).__name__} (a Parameter or None is expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as child module '{name}' "
                                f"of {type(self).__name__} (a Module or None is expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, TensorBase):
                raise TypeError(f"cannot assign a {type(value).__name__} as buffer '{name}' of "
                                f"{type(self).__name__} (a Tensor or None is expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _drop(self, name: str) -> None:
        self.__dict__.pop(name, None)
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers.discard(name)

    def __getattr__(self, name: str):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a ``Parameter`` or None) under ``name``."""
        _check_name(self, name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got "
                            f"{type(param).__name__}")
        self._drop(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: TensorBase | None, persistent: bool = True):
        """Register non-learnable state (saved in ``state_dict`` unless ``persistent=False``)."""
        _check_name(self, name)
        if tensor is not None and not isinstance(tensor, TensorBase):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self._drop(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register a child module under ``name``."""
        _check_name(self, name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module or None, got "
                            f"{type(module).__name__}")
        self._drop(name)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """``(name, module)`` for this module and all its descendants, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool):
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        seen = set()
        for mod_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """``(qualified_name, parameter)`` pairs; a shared parameter appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        module = self
        if target == "":
            return module
        for part in target.split("."):
            if part not in module._modules or module._modules[part] is None:
                raise AttributeError(f"{type(module).__name__} has no submodule '{part}' "
                                     f"(looking up '{target}')")
            module = module._modules[part]
        return module

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter '{name}'")
        return module._parameters[name]

    # ------------------------------------------------------------------ modes and utilities
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active, batch norm uses batch statistics) recursively."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        object.__setattr__(self, "training", mode)
        for m in self.children():  # through train(), so that subclasses may override it
            m.train(mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode recursively (``train(False)``)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to None by default, as PyTorch; otherwise to
        zeros, as ``Optimizer.zero_grad``)."""
        for p in self.parameters():
            reset_grad(p, set_to_none)

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every submodule (children first) and on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args, dtype=None, device=None, **kwargs) -> "Module":
        """Move parameters and buffers to a device and/or floating ones to a float dtype, in
        place.

        Accepts PyTorch's forms ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(tensor)`` and ``to(dtype=..., device=...)``. Parameters stay the same objects (an
        optimiser built before the move keeps working); their gradients move with them.

        Example:
            >>> import locograd as lg
            >>> lg.nn.Linear(2, 2).to(lg.float64).weight.dtype
            dtype('float64')
        """
        dtype, device = parse_to_arguments(args, dtype, device)
        target = None if device is None else resolve(device)
        d = None
        if dtype is not None:
            d = as_dtype(dtype)
            if d.kind != "f":
                raise TypeError(f"Module.to: only floating dtypes are supported, got {d}")
        if d is None and target is None:
            return self
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is not None:
                        _move_in_place(t, d, target)
        return self

    def cuda(self, device=None) -> "Module":
        """Move every parameter and buffer to a CUDA device, in place."""
        return self.to("cuda" if device is None else
                       f"cuda:{device}" if isinstance(device, int) else device)

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    def half(self) -> "Module":
        return self.to(np.float16)

    def cpu(self) -> "Module":
        """Move every parameter and buffer to the CPU, in place."""
        return self.to("cpu")

    def num_parameters(self, only_trainable: bool = False) -> int:
        return sum(p.data.size for p in self.parameters()
                   if p.requires_grad or not only_trainable)

    # ------------------------------------------------------------------ state dict
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered dict of every parameter and persistent buffer by qualified name.

        The values are tensors sharing memory with the module's (detached unless
        ``keep_vars``), as in PyTorch.
        """
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        extra = self.get_extra_state()
        if extra is not None:
            destination[prefix + "_extra_state"] = extra
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def get_extra_state(self):
        """Override to save extra (non-tensor) state; returned value must be JSON-like."""
        return None

    def set_extra_state(self, state) -> None:
        raise RuntimeError(f"{type(self).__name__} got extra state in load_state_dict but does "
                           f"not implement set_extra_state()")

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Every problem (missing keys, unexpected keys, shape mismatches, values that are not
        real or boolean arrays - str, object, complex, datetime - and values that do not fit the
        model's dtype: an overflow to inf, 3.7 into an integer buffer) is collected first and
        reported together; if there is any (or, with ``strict=False``, any other than a missing
        or unexpected key), nothing is changed. A failing ``set_extra_state`` is undone too.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        name = type(self).__name__
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{name}.load_state_dict: expected a mapping of names to tensors "
                            f"(as state_dict() returns), got a {type(state_dict).__name__}")
        expected = self.state_dict(keep_vars=True)
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        mismatched, bad_type, bad_value = [], [], []
        extras, updates = [], []
        for key, target in expected.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if key.endswith("_extra_state") and not isinstance(target, TensorBase):
                extras.append((key, value))
                continue
            arr = value.data if isinstance(value, TensorBase) else value
            if is_device_array(arr):  # a device array: checked on a host copy
                arr = to_device(arr, _CPU)
            if not isinstance(arr, np.ndarray):
                try:
                    arr = np.asarray(arr)
                except Exception:
                    bad_type.append(f"{key}: {type(value).__name__}")
                    continue
            if arr.dtype.kind not in "biuf":  # str, object, complex, datetime: never cast
                bad_type.append(f"{key}: {type(value).__name__} of dtype {arr.dtype}")
                continue
            if arr.shape != target.data.shape:
                mismatched.append(f"{key}: checkpoint shape {arr.shape}, model shape "
                                  f"{target.data.shape}")
                continue
            reason = _does_not_fit(arr, target.data.dtype)
            if reason:
                bad_value.append(f"{key}: {reason}")
                continue
            updates.append((target, arr))
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatches: " + "; ".join(mismatched))
        if bad_type:
            problems.append("values that are not real or boolean arrays: " + "; ".join(bad_type))
        if bad_value:
            problems.append("values that do not fit the model's dtype: " + "; ".join(bad_value))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {name} "
                               f"(nothing was loaded):\n  " + "\n  ".join(problems))
        self._set_extra_states(extras)  # the one step that may fail: undone if it does
        for target, arr in updates:
            if assign:
                target.data = to_device(np.array(arr, dtype=target.data.dtype),
                                        device_of(target.data))
            else:
                fill_from_host(target.data, arr)  # checked to fit above; on any device
                target._version[0] += 1
        return IncompatibleKeys(missing, unexpected)

    def _set_extra_states(self, extras: list) -> None:
        """``set_extra_state`` of each ``(key, state)``; if one raises, the earlier ones are given
        back their previous state, so that a failed load changes nothing."""
        done = []
        for key, state in extras:
            owner = self.get_submodule(key.rpartition(".")[0]) if "." in key else self
            previous = owner.get_extra_state()
            try:
                owner.set_extra_state(state)
            except Exception as error:
                for earlier, saved in reversed(done):
                    earlier.set_extra_state(saved)
                raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__} "
                                   f"(nothing was loaded): {key}: "
                                   f"{type(owner).__name__}.set_extra_state failed: "
                                   f"{error}") from error
            done.append((owner, previous))

    # ------------------------------------------------------------------ hooks and calling
    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args) -> None | new args`` before every ``forward``.

        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs) -> None |
        (new_args, new_kwargs)``. ``prepend=True`` runs it before the hooks already registered.
        """
        return _add_hook(self, self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output) -> None | new output`` after every ``forward``.

        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs, output)``.

        Example:
            >>> import locograd as lg
            >>> fc, seen = lg.nn.Linear(3, 2), []
            >>> handle = fc.register_forward_hook(lambda m, args, out: seen.append(out.shape))
            >>> _ = fc(lg.ones(4, 3)); handle.remove(); _ = fc(lg.ones(1, 3))
            >>> seen
            [(4, 2)]
        """
        return _add_hook(self, self._forward_hooks, hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook, *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output) -> None | new grad_input`` in backward.

        ``grad_output`` holds the gradients with respect to the module's outputs and
        ``grad_input`` those with respect to its positional tensor inputs (``None`` for an input
        that does not require grad); the hook runs once both are known, once per call of the
        module in the graph. It may return replacements for ``grad_input``.

        Example:
            >>> import locograd as lg
            >>> fc, grads = lg.nn.Linear(3, 2), []
            >>> _ = fc.register_full_backward_hook(lambda m, gi, go: grads.append(go[0].shape))
            >>> fc(lg.ones(4, 3, requires_grad=True)).sum().backward()
            >>> grads
            [(4, 2)]
        """
        return _add_hook(self, self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_output) -> None | new grad_output`` before the gradients
        with respect to the module's inputs are computed."""
        return _add_hook(self, self._backward_pre_hooks, hook, prepend)

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            return self.forward(*args, **kwargs)
        with_kwargs = self._hooks_with_kwargs
        for key, hook in list(self._forward_pre_hooks.items()):
            if key in with_kwargs:
                r = hook(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError(f"forward pre-hook of {type(self).__name__} registered "
                                           f"with_kwargs=True must return None or (args, kwargs)")
                    args, kwargs = r
                    args = args if isinstance(args, tuple) else (args,)
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        state = None
        if (self._backward_hooks or self._backward_pre_hooks) and _grad_state.enabled:
            state = BackwardHookState(self)
            args = state.wrap_inputs(args)
        out = self.forward(*args, **kwargs)
        for key, hook in list(self._forward_hooks.items()):
            r = hook(self, args, kwargs, out) if key in with_kwargs else hook(self, args, out)
            if r is not None:
                out = r
        if state is not None:
            out = state.wrap_outputs(out)
        return out

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr (override in layers)."""
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


_hook_ids = itertools.count()


def _does_not_fit(values: np.ndarray, dtype: np.dtype) -> str | None:
    """Why ``values`` (bool, integer or float) cannot be cast to ``dtype`` without changing
    them beyond rounding (an overflow to inf, 3.7 into an integer, 2 into a bool), or None."""
    if values.size == 0 or values.dtype == dtype:
        return None
    kind = np.dtype(dtype).kind
    with np.errstate(all="ignore"):
        if kind == "f":
            finite = np.isfinite(values)
            overflow = finite & ~np.isfinite(values.astype(dtype))
            if overflow.any():
                return f"{values[overflow].flat[0].item()!r} overflows {dtype}"
            return None
        if kind == "b":
            wrong = (values != 0) & (values != 1)
            return f"{values[wrong].flat[0].item()!r} is not a boolean" if wrong.any() else None
        if values.dtype.kind == "f":
            fractional = ~np.isfinite(values) | (values != np.trunc(values))
            if fractional.any():
                return f"{values[fractional].flat[0].item()!r} is not an integer ({dtype})"
        info = np.iinfo(dtype)
        outside = (values < info.min) | (values > info.max)
        if outside.any():
            return f"{values[outside].flat[0].item()!r} is outside the range of {dtype}"
    return None


def _add_hook(module: Module, store: OrderedDict, hook, prepend: bool = False,
              with_kwargs: bool = False) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"hook must be callable, got {type(hook).__name__}")
    key = next(_hook_ids)
    store[key] = hook
    if prepend:
        store.move_to_end(key, last=False)
    if with_kwargs:
        module._hooks_with_kwargs.add(key)
    return _DictHandle(store, key)


class _DictHandle(RemovableHandle):
    """Removes a hook from a module's ordered hook dict (by its unique key)."""

    __slots__ = ()

    def remove(self) -> None:
        self._hooks.pop(self._hook, None)


def _check_name(module, name: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"the name must be a string, got {type(name).__name__}")
    if name == "" or "." in name:
        raise KeyError(f"invalid name {name!r} (it must be non-empty and contain no '.')")
    if hasattr(type(module), name) and name not in module._parameters \
            and name not in module._buffers and name not in module._modules:
        raise KeyError(f"attribute '{name}' already exists on {type(module).__name__}")


_CPU = device("cpu")


def _move_in_place(t, dtype, target) -> None:
    """Give tensor ``t`` (and its gradient) ``dtype`` (floating tensors only) and ``target``."""
    for holder in (t, t.grad):
        if holder is None:
            continue
        data = holder.data
        if dtype is not None and data.dtype.kind == "f" and data.dtype != dtype:
            data = data.astype(dtype)
        if target is not None:
            data = to_device(data, target)
        if data is not holder.data:
            if holder is t:
                t.data = data
            else:
                t.grad = new_tensor(data)

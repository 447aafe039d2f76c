"""``Optimizer``: PyTorch's optimiser surface, with small update rules running inside.

On the surface an optimiser is ``torch.optim``'s: ``param_groups`` (a list of dicts holding
``'params'`` and that group's hyper-parameters), ``state`` (a dict keyed by parameter),
``zero_grad``, ``step(closure)``, ``add_param_group``, ``state_dict`` and ``load_state_dict``.

Inside (the optax way), an algorithm is a short tuple of *rules* (``optim/_rules.py``). For each
parameter with a gradient, ``step`` threads a direction through the rules, starting from the
gradient array, and the last rule writes the parameter in place:

    (direction, scale) -> rule -> (direction, scale) -> ... -> Descend: p += -lr * scale * d

* ``scale`` is a pending Python-float factor (maximisation's sign, Adam's bias corrections,
  Adagrad's decay), folded into the final step instead of costing a pass over the array.
* Each rule keeps its own entries in the parameter's state record ``optimizer.state[p]`` (a plain
  dict, so ``state_dict`` has PyTorch's layout): Adam's ``exp_avg``/``exp_avg_sq``, SGD's
  ``momentum_buffer``, a shared ``step`` count. Shampoo's factor statistics and K-FAC's Kronecker
  factors are meant to live in the same record.
* Hyper-parameters are read from the group at every step, so schedulers can change them.
* Rules never allocate per step: intermediate arrays go to a ``Workspace`` of scratch arrays
  shaped like the parameter, allocated on first use and reused (and never saved).

A new algorithm is a subclass that sets ``rules`` and checks its hyper-parameters in
``_check_group``; one whose update couples parameters (K-FAC's KL clipping, a global norm)
overrides ``_update_group``, which sees the whole group.
"""
from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..autograd.tensor_base import TensorBase, reset_grad
from ..backend import namespace, writeable
from ..backend.devices import device, device_of, is_device_array, to_device

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """The default of a hyper-parameter that every group must set (``optim.optimizer.required``)."""

    def __repr__(self):
        return "<required parameter>"

    def __reduce__(self):  # pickles (and deep-copies) to the one sentinel
        return "required"


required = _RequiredParameter()


class Workspace:
    """Scratch arrays shaped like one parameter, allocated on first use and reused every step.

    Rules write intermediate directions here instead of allocating new arrays. A workspace
    carries nothing from one step to the next, so it is not part of the state and is not saved.
    """

    __slots__ = ("shape", "dtype", "buffers", "_like")

    def __init__(self, like: np.ndarray):
        self.shape = like.shape
        self.dtype = like.dtype
        self.buffers: list[np.ndarray] = []
        # a device parameter's array: scratch arrays are made like it, on its device
        self._like = None if isinstance(like, np.ndarray) else like

    def fits(self, array: np.ndarray) -> bool:
        if array.shape != self.shape or array.dtype != self.dtype:
            return False
        like = self._like
        if like is None:
            return isinstance(array, np.ndarray)
        return array is like or (not isinstance(array, np.ndarray)
                                 and device_of(array) == device_of(like))

    def new_array(self) -> np.ndarray:
        """An uninitialised array of the parameter's shape and dtype, on its device."""
        like = self._like
        if like is None:
            return np.empty(self.shape, self.dtype)
        return namespace(like).empty_like(like)

    def scratch(self, avoid: np.ndarray | None = None) -> np.ndarray:
        """A scratch array that is not ``avoid`` (which a rule may still need to read)."""
        for buffer in self.buffers:
            if buffer is not avoid:
                return buffer
        buffer = self.new_array()
        self.buffers.append(buffer)
        return buffer

    def owns(self, array: np.ndarray) -> bool:
        """True when ``array`` is one of this workspace's arrays, so a rule may overwrite it (the
        gradient and the state buffers must not be)."""
        for buffer in self.buffers:
            if buffer is array:
                return True
        return False


def _as_real(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or value is required:
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}") from None


def check_non_negative(owner: str, name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite real number >= 0 (NaN and inf are
    rejected: an infinite rate or decay turns every parameter into inf or NaN)."""
    if not 0.0 <= _as_real(owner, name, value) < float("inf"):
        raise ValueError(f"{owner}: invalid {name} {value!r}: it must be >= 0 (and finite)")


def check_unit_interval(owner: str, name: str, value, closed: bool = False) -> None:
    """Raise ``ValueError`` unless ``0 <= value < 1`` (``<= 1`` when ``closed``)."""
    v = _as_real(owner, name, value)
    if not (0.0 <= v <= 1.0 if closed else 0.0 <= v < 1.0):
        bound = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{owner}: invalid {name} {value!r}: it must be in {bound}")


def check_positive_int(owner: str, name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is an int (not a bool) >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")


_CPU = device("cpu")


def _to_device_tree(value, where):
    """``value`` with the arrays in it (in lists, tuples and dicts: Shampoo's per-block
    statistics, K-FAC's factors) moved to device ``where``."""
    if isinstance(value, np.ndarray) or is_device_array(value):
        return to_device(value, where)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device_tree(v, where) for v in value)
    if isinstance(value, dict):
        return {k: _to_device_tree(v, where) for k, v in value.items()}
    return value


def _copy_value(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, TensorBase):
        return value.data.copy()
    return copy.deepcopy(value)


class Optimizer:
    """Base class of all optimisers (``torch.optim.Optimizer``).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts each holding
            ``'params'`` and per-group hyper-parameters that override ``defaults``.
        defaults: the hyper-parameters of the algorithm (``required`` for those without one).

    Attributes:
        param_groups: list of dicts, one per group (``'params'`` plus the hyper-parameters).
        state: ``{parameter: dict}``, the per-parameter state record the rules keep.
        rules: the update rules applied in order to each parameter (set by subclasses).

    Deliberate differences from PyTorch: state values are NumPy arrays (and Python ints for
    step counts), not tensors; ``state_dict()`` returns copies, not references to the live
    buffers; a parameter given twice in one group is an error (PyTorch warns); hyper-parameters
    of every group are validated, also those added later or loaded.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([1.0, -2.0]))
        >>> opt = optim.SGD([w], lr=0.1)
        >>> (w * w).sum().backward(); _ = opt.step()
        >>> w.tolist()  # w - 0.1 * 2w
        [0.800000011920929, -1.600000023841858]
    """

    rules: tuple = ()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._workspaces: dict = {}
        self._opt_called = False  # read by the schedulers' "step order" warning
        name = type(self).__name__
        if isinstance(params, TensorBase):
            raise TypeError(f"{name}: params should be an iterable of tensors or dicts, got a "
                            f"single tensor of shape {params.shape} (wrap it in a list)")
        if isinstance(params, (dict, set)):
            raise TypeError(f"{name}: params should be an ordered iterable of tensors or dicts, "
                            f"got a {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- parameter groups -------------------------------------------------------------------

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones take defaults).

        Useful to start training new layers (fine-tuning) with their own learning rate.

        Example:
            >>> import locograd as lg
            >>> from locograd import optim
            >>> a, b = lg.nn.Parameter(lg.zeros(2)), lg.nn.Parameter(lg.zeros(3))
            >>> opt = optim.SGD([a], lr=0.1)
            >>> opt.add_param_group({"params": [b], "lr": 0.01})
            >>> [g["lr"] for g in opt.param_groups]
            [0.1, 0.01]
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: a param group must be a dict, "
                            f"got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group: the param group has no 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, TensorBase):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: parameters must be given in an ordered collection; the "
                            f"order of a set changes between runs, use a list")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{name}: give either all parameters with names, as "
                                 f"(name, tensor) pairs, or none")
            params = [p[1] for p in params]
            group["param_names"] = names
        group["params"] = params
        seen: dict[int, int] = {}
        for i, p in enumerate(params):
            if not isinstance(p, TensorBase):
                raise TypeError(f"{name}: can only optimize tensors, but parameter {i} of the "
                                f"group is a {type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError(f"{name}: can't optimize a non-leaf tensor (parameter {i} of "
                                 f"the group, shape {p.shape}, produced by "
                                 f"{type(p.grad_fn).__name__}); use .detach().requires_grad_()")
            if p.data.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating-point tensors, but "
                                f"parameter {i} of the group has dtype {p.data.dtype}")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} of the group (shape {p.shape}) is the "
                                 f"same tensor as parameter {seen[id(p)]}; give each once")
            seen[id(p)] = i
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(f"{name}: the parameter group does not set the required "
                                 f"hyper-parameter '{key}'")
            group.setdefault(key, default)
        for other in self.param_groups:
            if ("param_names" in other) != ("param_names" in group):
                raise ValueError(f"{name}: all parameter groups must be given with names or "
                                 f"all without")
            if any(id(p) in seen for p in other["params"]):
                raise ValueError(f"{name}: some parameters appear in more than one parameter "
                                 f"group")
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Raise ``ValueError`` for invalid hyper-parameters in ``group`` (subclasses)."""

    # ---- the update ---------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimised parameters: to ``None`` (the default, which
        frees the memory), or to zeros in place.

        Example:
            >>> import locograd as lg
            >>> from locograd import optim
            >>> w = lg.nn.Parameter(lg.ones(2)); opt = optim.SGD([w])
            >>> (w * 3).sum().backward(); opt.zero_grad(); w.grad is None
            True
        """
        for group in self.param_groups:
            for p in group["params"]:
                reset_grad(p, set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss (it
                should zero the gradients and call backward); it runs with grad enabled.

        Returns:
            The closure's loss, or ``None``.
        """
        self.check_hyperparameters()
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._opt_called = True
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def check_hyperparameters(self) -> None:
        """Check every group's hyper-parameters again (``step`` does, before changing anything):
        a value set after construction (``group['lr'] = float('nan')``, betas outside [0, 1))
        raises here instead of silently corrupting the parameters. A few comparisons per group.
        """
        for i, group in enumerate(self.param_groups):
            try:
                self._check_group(group)
            except (TypeError, ValueError) as error:
                raise type(error)(f"{type(self).__name__}.step: parameter group {i} has an "
                                  f"invalid hyper-parameter (set after construction?): "
                                  f"{error}") from None

    def _update_group(self, group: dict, directions: dict | None = None,
                      directions_scale: float = 1.0) -> None:
        """Run ``self.rules`` on each parameter of ``group`` that has a gradient, starting from
        the gradient, or from ``directions_scale * directions[p]`` for the parameters in
        ``directions`` (an optimiser that preconditions first, as K-FAC, passes its own)."""
        rules = self.rules
        for index, p in enumerate(group["params"]):
            grad = p.grad
            if grad is None:
                continue
            param = p.data
            direction = directions.get(p) if directions else None
            if direction is None:
                direction, scale = grad.data, 1.0
                if direction.shape != param.shape or direction.dtype != param.dtype:
                    raise RuntimeError(
                        f"{type(self).__name__}.step: parameter {index} of group "
                        f"{self._group_index(group)} has shape {param.shape} and dtype "
                        f"{param.dtype} but its gradient has shape {direction.shape} and dtype "
                        f"{direction.dtype}")
            else:
                scale = directions_scale
            if not writeable(param):
                raise RuntimeError(f"{type(self).__name__}.step: the array of parameter {index} "
                                   f"(shape {param.shape}) is read-only")
            workspace = self._workspaces.get(p)
            if workspace is None or not workspace.fits(param):
                workspace = self._workspaces[p] = Workspace(param)
            state = self.state[p]
            for rule in rules:
                direction, scale = rule.update(direction, scale, param, state, group, workspace)
            p._version[0] += 1

    def _group_index(self, group: dict) -> int:
        for i, other in enumerate(self.param_groups):
            if other is group:
                return i
        return -1

    # ---- saving and resuming ------------------------------------------------------------------

    def state_dict(self) -> dict:
        """The optimiser's state as ``{'state': {index: record}, 'param_groups': [...]}``.

        Parameters are referred to by integer indices, counted across the groups in order (as
        in PyTorch), so the dict can be loaded into an optimiser over other tensors of the same
        shapes. Arrays are copied: later steps do not change a state dict already taken.

        Example:
            >>> import locograd as lg
            >>> from locograd import optim
            >>> w = lg.nn.Parameter(lg.ones(2)); opt = optim.Adam([w], lr=0.1)
            >>> (w * w).sum().backward(); _ = opt.step()
            >>> sd = opt.state_dict(); sorted(sd["state"][0]), sd["param_groups"][0]["params"]
            (['exp_avg', 'exp_avg_sq', 'step'], [0])
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for p, record in self.state.items():
            if record and id(p) in index:
                state[index[id(p)]] = {k: _copy_value(v) for k, v in record.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups,
                "kind": self.state_kind}

    @property
    def state_kind(self) -> str:
        """The algorithm whose state ``state_dict`` records (``'kind'``): ``load_state_dict``
        refuses the state of another one. A subclass keeping the same state may set it to its
        base's name."""
        return type(self).__name__

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state from ``state_dict()`` so that training continues exactly.

        The parameters are matched by position: group by group, in order. Arrays are copied
        (never aliased) and cast to their parameter's dtype; hyper-parameters are taken from the
        state dict. Everything is checked before anything changes.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict \
                or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups', as returned by state_dict()")
        kind = state_dict.get("kind")
        if kind is not None and kind != self.state_kind:
            raise ValueError(f"{name}.load_state_dict: the state dict is that of a {kind} "
                             f"optimizer, not of a {self.state_kind}: its hyper-parameters and "
                             f"statistics mean something else here")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not isinstance(saved_state, dict) \
                or not all(isinstance(g, dict) and isinstance(g.get("params"), (list, tuple))
                           for g in saved_groups):
            raise ValueError(f"{name}.load_state_dict: 'param_groups' must be a list of dicts "
                             f"each with a 'params' list and 'state' a dict, got "
                             f"{type(saved_groups).__name__} and {type(saved_state).__name__}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter groups but the optimizer has {len(self.param_groups)}")
        by_index = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(saved['params'])} "
                    f"parameters in the state dict but {len(group['params'])} in the optimizer")
            for saved_index, p in zip(saved["params"], group["params"]):
                if saved_index in by_index:
                    raise ValueError(f"{name}.load_state_dict: parameter index {saved_index} "
                                     f"appears twice in the saved parameter groups")
                by_index[saved_index] = p
        new_state: defaultdict = defaultdict(dict)
        for saved_index, record in state_dict["state"].items():
            if saved_index not in by_index:
                raise ValueError(f"{name}.load_state_dict: the state dict has state for "
                                 f"parameter index {saved_index}, which no group lists")
            p = by_index[saved_index]
            new_state[p] = self._restore_record(p, saved_index, record)
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new_group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            for key, default in self.defaults.items():
                if default is not required:
                    new_group.setdefault(key, default)
            new_group["params"] = group["params"]
            new_group.pop("param_names", None)  # the names are this optimizer's, not the file's
            if "param_names" in group:
                new_group["param_names"] = list(group["param_names"])
            self._check_group(new_group)
            new_groups.append(new_group)
        self.param_groups[:] = new_groups
        self.state = new_state

    def _param_like_keys(self) -> set:
        keys = set()
        for rule in self.rules:
            if rule.param_like:
                keys.update(rule.state_keys)
        return keys

    def _restore_record(self, p, saved_index, record) -> dict:
        name = type(self).__name__
        if not isinstance(record, dict):
            raise ValueError(f"{name}.load_state_dict: the state of parameter {saved_index} "
                             f"must be a dict, got {type(record).__name__}")
        param_like = self._param_like_keys()
        where = device_of(p.data)
        restored = {}
        for key, value in record.items():
            if isinstance(value, TensorBase):
                value = value.data
            if not isinstance(value, np.ndarray) and is_device_array(value):
                # a device optimizer's state: checked on the host, put back on p's device below
                value = to_device(value, _CPU)
            if isinstance(value, np.generic) or \
                    isinstance(value, np.ndarray) and value.ndim == 0 and key not in param_like:
                value = value.item()  # counters come back from files as 0-d arrays
            if key == "step" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not (0 <= value < float("inf")) or value != int(value)):
                raise ValueError(f"{name}.load_state_dict: state 'step' of parameter "
                                 f"{saved_index} must be a non-negative whole number, got "
                                 f"{value!r}")
            if isinstance(value, np.ndarray) and value.dtype.kind not in "biuf":
                raise ValueError(f"{name}.load_state_dict: state '{key}' of parameter "
                                 f"{saved_index} is an array of dtype {value.dtype}; expected "
                                 f"numbers")
            if key in param_like and not isinstance(value, np.ndarray):
                raise ValueError(f"{name}.load_state_dict: state '{key}' of parameter "
                                 f"{saved_index} must be an array of shape {p.data.shape}, got "
                                 f"{type(value).__name__}")
            if isinstance(value, np.ndarray):
                if key in param_like:
                    if value.shape != p.data.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state '{key}' of parameter {saved_index} "
                            f"has shape {value.shape} but the parameter has shape "
                            f"{p.data.shape}")
                    value = np.array(value, dtype=p.data.dtype, copy=True)
                else:
                    value = value.copy()
                value = to_device(value, where)  # state lives on its parameter's device
            else:
                value = _to_device_tree(copy.deepcopy(value), where)
            restored[key] = value
        return restored

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def check_common(owner: str, group: dict) -> None:
    """Checks shared by the first-order optimisers: ``lr``, ``weight_decay`` and ``l1_decay``
    non-negative, and ``differentiable`` off (updates happen in place, outside the graph)."""
    for key in ("lr", "weight_decay", "l1_decay"):
        if key in group:
            check_non_negative(owner, key, group[key])
    if group.get("differentiable"):
        raise ValueError(f"{owner}: differentiable=True is not supported: locograd updates the "
                         f"parameters' arrays in place, outside the graph")

"""The update rules that optimisers are built from (optax's gradient transformations, in place).

A rule is one stage of an update for one parameter::

    direction, scale = rule.update(direction, scale, param, state, group, workspace)

* ``direction`` is an array: the gradient itself, a state buffer, or a workspace array. Only a
  workspace array (``workspace.owns(direction)``) may be overwritten by a later rule.
* ``scale`` is a pending Python-float factor on ``direction`` (the true direction is
  ``scale * direction``). Rules that read the values call ``_materialize`` first; rules that only
  rescale (maximisation, Adam's bias correction) multiply ``scale`` and cost no array pass.
* ``state`` is the parameter's state record (a dict); a rule creates its own entries on first
  use, listed in ``state_keys`` (``param_like`` when they have the parameter's shape and dtype).
* ``group`` holds the hyper-parameters, read at every step so that schedules take effect.
  Python floats are weak scalars in NumPy 2, so ``float32`` arrays stay ``float32``; values are
  passed through ``float()`` because a NumPy ``float64`` scalar would upcast.

Rules allocate nothing per step beyond their state buffers (created once): temporaries go to the
workspace, and every array operation writes through ``out=`` or in place.

Devices: the rules call NumPy's ufuncs (``np.multiply(d, s, out=t)``), which hand device arrays
to their own backend (CuPy implements NumPy's ``__array_ufunc__`` protocol, ``out=`` included;
so does the CPU stand-in); state buffers are made by the parameter's namespace, on its device.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import namespace
from .optimizer import Workspace

__all__ = ["Rule", "CountStep", "Maximize", "AddL2Decay", "AddL1Decay", "DecoupledDecay",
           "Momentum", "ScaleByAdagrad", "ScaleByRms", "ScaleByAdam", "Descend"]


class Rule:
    """One stage of an update rule (see the module docstring for the protocol)."""

    state_keys: tuple[str, ...] = ()
    param_like = True

    def update(self, direction: np.ndarray, scale: float, param: np.ndarray, state: dict,
               group: dict, workspace: Workspace):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


def _materialize(direction, scale, workspace):
    """The direction's values, ``scale * direction``, as an array (free when scale is 1)."""
    if scale == 1.0:
        return direction
    out = direction if workspace.owns(direction) else workspace.scratch()
    np.multiply(direction, scale, out=out)
    return out


def _add_scaled(direction, scale, alpha, x, workspace):
    """``scale * direction + alpha * x`` in a workspace array."""
    direction = _materialize(direction, scale, workspace)
    temp = workspace.scratch(avoid=direction)
    np.multiply(x, alpha, out=temp)
    if workspace.owns(direction):
        np.add(direction, temp, out=direction)
        return direction
    np.add(direction, temp, out=temp)
    return temp


def _state_buffer(state, key, param, fill=0.0):
    """The state array ``key``, created (once) like ``param`` and filled with ``fill``."""
    buffer = state.get(key)
    if buffer is None:
        buffer = state[key] = namespace(param).full_like(param, fill)  # on param's device
    return buffer


def _average(average, values, decay, temp):
    """``average <- decay * average + (1 - decay) * values``, computed as PyTorch's ``lerp``:
    ``average + (1 - decay) * (values - average)``."""
    np.subtract(values, average, out=temp)
    temp *= 1.0 - decay
    average += temp


def _average_square(average, values, decay, temp):
    """``average <- decay * average + (1 - decay) * values^2``."""
    average *= decay
    np.multiply(values, values, out=temp)
    temp *= 1.0 - decay
    average += temp


def _divide_into_scratch(direction, denominator, workspace):
    """``direction / denominator``, where ``denominator`` is a scratch array it may overwrite."""
    out = direction if workspace.owns(direction) else denominator
    np.divide(direction, denominator, out=out)
    return out


class CountStep(Rule):
    """``state['step'] += 1``: the ``t`` of bias corrections and learning-rate decays."""

    state_keys = ("step",)
    param_like = False

    def update(self, direction, scale, param, state, group, workspace):
        state["step"] = int(state.get("step", 0)) + 1
        return direction, scale


class Maximize(Rule):
    """With ``group['maximize']``, follow ``-gradient`` (gradient ascent on the objective)."""

    def update(self, direction, scale, param, state, group, workspace):
        return direction, (-scale if group.get("maximize") else scale)


class AddL2Decay(Rule):
    """Coupled L2 decay: ``d <- d + weight_decay * p``, the gradient of ``wd/2 * ||p||^2``.

    Skipped when ``group['decoupled_weight_decay']`` (then ``DecoupledDecay`` applies it).
    """

    def update(self, direction, scale, param, state, group, workspace):
        weight_decay = float(group["weight_decay"])
        if weight_decay == 0.0 or group.get("decoupled_weight_decay"):
            return direction, scale
        return _add_scaled(direction, scale, weight_decay, param, workspace), 1.0


class AddL1Decay(Rule):
    """Coupled L1 decay (a locograd addition): ``d <- d + l1_decay * sign(p)``.

    ``l1_decay * sign(p)`` is a subgradient of ``l1_decay * ||p||_1`` (0 at ``p = 0``): a
    constant pull of every weight towards zero, which drives the weights that the loss does not
    need to (a neighbourhood of) zero. Skipped when ``group['decoupled_weight_decay']``.
    """

    def update(self, direction, scale, param, state, group, workspace):
        l1_decay = float(group.get("l1_decay", 0.0))
        if l1_decay == 0.0 or group.get("decoupled_weight_decay"):
            return direction, scale
        direction = _materialize(direction, scale, workspace)
        temp = workspace.scratch(avoid=direction)
        np.sign(param, out=temp)
        temp *= l1_decay
        if workspace.owns(direction):
            direction += temp
            return direction, 1.0
        temp += direction
        return temp, 1.0


class DecoupledDecay(Rule):
    """Decoupled decay (AdamW): ``p <- p * (1 - lr * weight_decay)``, then, with ``l1_decay``,
    ``p <- p - lr * l1_decay * sign(p)``; applied to the parameter before the adaptive step.

    Active only when ``group['decoupled_weight_decay']``.
    """

    def update(self, direction, scale, param, state, group, workspace):
        if not group.get("decoupled_weight_decay"):
            return direction, scale
        lr = float(group["lr"])
        weight_decay = float(group["weight_decay"])
        l1_decay = float(group.get("l1_decay", 0.0))
        if weight_decay != 0.0:
            param *= 1.0 - lr * weight_decay
        if l1_decay != 0.0:
            temp = workspace.scratch(avoid=direction)
            np.sign(param, out=temp)
            temp *= lr * l1_decay
            param -= temp
        return direction, scale


class Momentum(Rule):
    """Heavy-ball momentum, PyTorch's form (Sutskever et al., 2013)::

        b <- d                                   at the first step
        b <- momentum * b + (1 - dampening) * d  afterwards
        d <- d + momentum * b   (nesterov)   or   d <- b

    Reads ``momentum`` (skipped when 0), ``dampening`` and ``nesterov`` (default 0 / False).
    """

    state_keys = ("momentum_buffer",)

    def update(self, direction, scale, param, state, group, workspace):
        momentum = float(group["momentum"])
        if momentum == 0.0:
            return direction, scale
        direction = _materialize(direction, scale, workspace)
        buffer = state.get("momentum_buffer")
        if buffer is None:
            buffer = state["momentum_buffer"] = direction.copy()  # once, at the first step
        else:
            buffer *= momentum
            dampening = float(group.get("dampening", 0.0))
            if dampening == 0.0:
                buffer += direction
            else:
                temp = workspace.scratch(avoid=direction)
                np.multiply(direction, 1.0 - dampening, out=temp)
                buffer += temp
        if not group.get("nesterov"):
            return buffer, 1.0  # a state buffer: later rules read it, never write it
        return _add_scaled(direction, 1.0, momentum, buffer, workspace), 1.0


class ScaleByAdagrad(Rule):
    """Adagrad's scaling (Duchi et al., 2011), as in PyTorch::

        sum <- sum + d^2        (sum starts at initial_accumulator_value)
        d   <- d / (sqrt(sum) + eps),   scale *= 1 / (1 + (step - 1) * lr_decay)
    """

    state_keys = ("sum",)

    def update(self, direction, scale, param, state, group, workspace):
        direction = _materialize(direction, scale, workspace)
        accumulator = _state_buffer(state, "sum", param,
                                    float(group["initial_accumulator_value"]))
        temp = workspace.scratch(avoid=direction)
        np.multiply(direction, direction, out=temp)
        accumulator += temp
        np.sqrt(accumulator, out=temp)
        temp += float(group["eps"])
        direction = _divide_into_scratch(direction, temp, workspace)
        return direction, 1.0 / (1.0 + (state["step"] - 1) * float(group["lr_decay"]))


class ScaleByRms(Rule):
    """RMSprop's scaling (Hinton, 2012; centred: Graves, 2013), as in PyTorch::

        v <- alpha * v + (1 - alpha) * d^2
        m <- m + (1 - alpha) * (d - m)              (centered only: the mean gradient)
        d <- d / (sqrt(v - m^2 if centered else v) + eps)
    """

    state_keys = ("square_avg", "grad_avg")

    def update(self, direction, scale, param, state, group, workspace):
        direction = _materialize(direction, scale, workspace)
        alpha = float(group["alpha"])
        square_avg = _state_buffer(state, "square_avg", param)
        temp = workspace.scratch(avoid=direction)
        _average_square(square_avg, direction, alpha, temp)
        if group["centered"]:
            grad_avg = _state_buffer(state, "grad_avg", param)
            _average(grad_avg, direction, alpha, temp)
            np.multiply(grad_avg, grad_avg, out=temp)
            np.subtract(square_avg, temp, out=temp)
            np.sqrt(temp, out=temp)
        else:
            np.sqrt(square_avg, out=temp)
        temp += float(group["eps"])
        return _divide_into_scratch(direction, temp, workspace), 1.0


class ScaleByAdam(Rule):
    """Adam's scaling (Kingma & Ba, 2015; AMSGrad: Reddi et al., 2018), as in PyTorch::

        m <- m + (1 - beta1) * (d - m)              (= beta1 m + (1 - beta1) d)
        v <- beta2 * v + (1 - beta2) * d^2
        v_max <- max(v_max, v)                      (amsgrad only; then used for v)
        d <- m / (sqrt(v) / sqrt(1 - beta2^t) + eps) / (1 - beta1^t)
    """

    state_keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def update(self, direction, scale, param, state, group, workspace):
        direction = _materialize(direction, scale, workspace)
        beta1, beta2 = (float(b) for b in group["betas"])
        step = state["step"]
        exp_avg = _state_buffer(state, "exp_avg", param)
        exp_avg_sq = _state_buffer(state, "exp_avg_sq", param)
        temp = workspace.scratch(avoid=direction)
        _average_square(exp_avg_sq, direction, beta2, temp)
        _average(exp_avg, direction, beta1, temp)
        second = exp_avg_sq
        if group["amsgrad"]:
            second = _state_buffer(state, "max_exp_avg_sq", param)
            np.maximum(second, exp_avg_sq, out=second)
        # m / (sqrt(v) / c2 + eps) = c2 * m / (sqrt(v) + eps * c2) with c2 = sqrt(1 - beta2^t):
        # the bias corrections become part of the pending scale, one array pass fewer (the
        # "efficient version" of Kingma & Ba, section 2)
        c2 = math.sqrt(1.0 - beta2 ** step)
        np.sqrt(second, out=temp)
        temp += float(group["eps"]) * c2
        np.divide(exp_avg, temp, out=temp)
        return temp, c2 / (1.0 - beta1 ** step)


class Descend(Rule):
    """The last rule: ``p <- p - lr * scale * d``, in place."""

    def update(self, direction, scale, param, state, group, workspace):
        alpha = -float(group["lr"]) * scale
        out = direction if workspace.owns(direction) else workspace.scratch()
        np.multiply(direction, alpha, out=out)
        param += out
        return direction, scale

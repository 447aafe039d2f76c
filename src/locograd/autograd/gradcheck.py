"""Check analytic gradients against central finite differences (float64).

``gradcheck`` compares the full Jacobian (every input element against every output element) on
small inputs, or, with ``fast_mode=True``, the projection ``<v, J u>`` on random directions.
``gradgradcheck`` does the same for the gradient of the gradient (second order).
On failure the report names the input and output and lists the worst entries.
"""
from __future__ import annotations

import numpy as np

from ..backend import namespace
from ..backend.devices import CPU, device_of, to_device

from .engine import grad as _grad
from .tensor_base import TensorBase, new_tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when analytic and numerical gradients disagree."""


def _host(array) -> np.ndarray:
    """An output or gradient on the host, for the Jacobians (kept in NumPy float64)."""
    return array if type(array) is np.ndarray else to_device(array, CPU)


def _like(host: np.ndarray, array):
    """A host array moved to the device of ``array`` (a direction, a perturbed input)."""
    return host if type(array) is np.ndarray else to_device(host, device_of(array))


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn, inputs):
    out = fn(*inputs)
    return _as_tuple(out)


def _diff_inputs(inputs, where):
    idx = []
    for i, t in enumerate(inputs):
        if isinstance(t, TensorBase) and t.requires_grad:
            if t.data.dtype != np.float64:
                raise ValueError(
                    f"{where}: input {i} requires grad but has dtype {t.data.dtype}; finite "
                    f"differences need float64 inputs (use .double())")
            idx.append(i)
    if not idx:
        raise ValueError(f"{where}: no input requires grad; nothing to check")
    return idx


def _numerical_jacobian(fn, inputs, i, out_sizes, eps):
    """J[out][:, j] for every element j of input i, by central differences."""
    x = inputs[i].data  # perturbed in place (any strides), restored after
    cols = [np.zeros((n, x.size)) for n in out_sizes]
    # Grad mode stays on: fn may itself differentiate (gradgradcheck's first-order function).
    for j in range(x.size):
        at = np.unravel_index(j, x.shape)  # column j is element j in C order
        orig = x[at]
        x[at] = orig + eps
        plus = [_host(o.data).astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
        x[at] = orig - eps
        minus = [_host(o.data).astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
        x[at] = orig
        for k, (p, m) in enumerate(zip(plus, minus)):
            if k < len(cols):
                cols[k][:, j] = (p - m) / (2 * eps)
    return cols


def _analytical_jacobian(outputs, inputs, diff_idx):
    """J[out][input] by one backward pass per output element."""
    jac = {}
    targets = [inputs[i] for i in diff_idx]
    for k, o in enumerate(outputs):
        n = o.data.size
        for i in diff_idx:
            jac[(k, i)] = np.zeros((n, inputs[i].data.size))
        if not o.requires_grad or o.data.dtype.kind != "f":
            continue
        for r in range(n):
            e = np.zeros(o.data.shape, dtype=o.data.dtype)
            e.reshape(-1)[r] = 1.0
            grads = _grad(o, targets, grad_outputs=new_tensor(_like(e, o.data)),
                          retain_graph=True, allow_unused=True)
            for i, g in zip(diff_idx, grads):
                if g is not None:
                    jac[(k, i)][r] = _host(g.data).reshape(-1)
    return jac


def _report(where, k, i, shape_in, shape_out, a, n, atol, rtol, worst=5):
    err = np.abs(a - n) - (atol + rtol * np.abs(n))
    order = np.argsort(err, axis=None)[::-1][:worst]
    lines = []
    for flat in order:
        r, c = np.unravel_index(flat, a.shape)
        if err.reshape(-1)[flat] <= 0:
            break
        oi = np.unravel_index(r, shape_out) if shape_out else ()
        ii = np.unravel_index(c, shape_in) if shape_in else ()
        lines.append(f"  d output{tuple(int(v) for v in oi)} / d input{tuple(int(v) for v in ii)}:"
                     f" analytical {a[r, c]:.6g}, numerical {n[r, c]:.6g}")
    return (f"{where}: Jacobian mismatch for output {k} (shape {tuple(shape_out)}) with respect "
            f"to input {i} (shape {tuple(shape_in)}); worst entries (atol={atol}, rtol={rtol}):\n"
            + "\n".join(lines))


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, fast_mode: bool = False, seed: int = 0) -> bool:
    """Compare ``fn``'s analytic gradients with central finite differences.

    Args:
        fn: a function of tensors returning a tensor or a tuple of tensors.
        inputs: a tensor or a tuple of arguments; those with ``requires_grad`` are checked and
            must be float64.
        eps, atol, rtol: perturbation and tolerances (``|a - n| <= atol + rtol * |n|``).
        raise_exception: raise ``GradcheckError`` on failure (else return False).
        fast_mode: compare ``<v, J u>`` on random directions instead of full Jacobians.
        seed: seed of the random directions of ``fast_mode``.

    Returns:
        True if every gradient matches.

    Example:
        >>> import locograd as lg
        >>> x = lg.randn(3, dtype=lg.float64, requires_grad=True)
        >>> lg.autograd.gradcheck(lambda t: (t.exp() * t).sum(), (x,))
        True
    """
    inputs = _as_tuple(inputs)
    diff_idx = _diff_inputs(inputs, "gradcheck")
    outputs = _outputs(fn, inputs)
    for k, o in enumerate(outputs):
        if not isinstance(o, TensorBase):
            raise TypeError(f"gradcheck: output {k} of fn is a {type(o).__name__}, not a tensor")
    if fast_mode:
        return _fast_check(fn, inputs, outputs, diff_idx, eps, atol, rtol, raise_exception, seed)
    analytical = _analytical_jacobian(outputs, inputs, diff_idx)
    sizes = [o.data.size for o in outputs]
    for i in diff_idx:
        numerical = _numerical_jacobian(fn, inputs, i, sizes, eps)
        for k, o in enumerate(outputs):
            a, n = analytical[(k, i)], numerical[k]
            if not np.allclose(a, n, atol=atol, rtol=rtol, equal_nan=False):
                msg = _report("gradcheck", k, i, inputs[i].data.shape, o.data.shape, a, n,
                              atol, rtol)
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def _fast_check(fn, inputs, outputs, diff_idx, eps, atol, rtol, raise_exception, seed):
    rng = np.random.default_rng(seed)
    us = {i: rng.standard_normal(inputs[i].data.shape) for i in diff_idx}
    for k, o in enumerate(outputs):
        if o.data.dtype.kind != "f":
            continue
        v = rng.standard_normal(o.data.shape)
        analytical = 0.0
        if o.requires_grad:
            grads = _grad(o, [inputs[i] for i in diff_idx],
                          grad_outputs=new_tensor(_like(v, o.data)), retain_graph=True,
                          allow_unused=True)
            analytical = sum(float((_host(g.data) * us[i]).sum())
                             for i, g in zip(diff_idx, grads) if g is not None)
        saved = {i: _host(inputs[i].data).copy() for i in diff_idx}
        for i in diff_idx:
            inputs[i].data[...] = _like(saved[i] + eps * us[i], inputs[i].data)
        # Copies: an output may alias an input's array (an identity-like gradient is the
        # incoming gradient itself), which the next perturbation overwrites.
        plus = np.array(_host(_outputs(fn, inputs)[k].data), dtype=np.float64)
        for i in diff_idx:
            inputs[i].data[...] = _like(saved[i] - eps * us[i], inputs[i].data)
        minus = np.array(_host(_outputs(fn, inputs)[k].data), dtype=np.float64)
        for i in diff_idx:
            inputs[i].data[...] = _like(saved[i], inputs[i].data)
        numerical = float((((plus - minus) / (2 * eps)) * v).sum())
        if not abs(analytical - numerical) <= atol + rtol * abs(numerical):
            msg = (f"gradcheck (fast mode): output {k} (shape {tuple(o.data.shape)}): the random "
                   f"projection <v, J u> is {analytical:.8g} analytically but {numerical:.8g} "
                   f"numerically (inputs {diff_idx})")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, fast_mode: bool = False,
                  seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of ``v -> grad(fn(inputs), inputs, v)``.

    The upstream gradients ``v`` (random float64 by default) are inputs of the checked function
    too, so both the Hessian-vector part and the part linear in ``v`` are verified.
    """
    inputs = _as_tuple(inputs)
    diff_idx = _diff_inputs(inputs, "gradgradcheck")
    outputs = _outputs(fn, inputs)
    rng = np.random.default_rng(seed)
    if grad_outputs is None:
        grad_outputs = tuple(new_tensor(_like(rng.standard_normal(o.data.shape), o.data))
                             .requires_grad_() for o in outputs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first_order(*args):
        ins, vs = args[:n_in], args[n_in:]
        outs = [o for o in _outputs(fn, ins)]
        live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        if not live:
            return tuple(new_tensor(namespace(ins[i].data).zeros_like(ins[i].data))
                         for i in diff_idx)
        gs = _grad([o for o, _ in live], [ins[i] for i in diff_idx],
                   grad_outputs=[v for _, v in live], create_graph=True, allow_unused=True)
        return tuple(g if g is not None else
                     new_tensor(namespace(ins[i].data).zeros_like(ins[i].data))
                     for i, g in zip(diff_idx, gs))

    return gradcheck(first_order, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, fast_mode=fast_mode, seed=seed)

"""Higher-level derivatives of functions: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``hvp``.

Same calling conventions as ``torch.autograd.functional``: ``inputs`` is a tensor or a tuple of
tensors, results mirror that structure. ``jvp`` uses the double-vjp trick (the backward ops are
themselves differentiable, so J v = d/du <J^T u, v>).
"""
from __future__ import annotations

import numpy as np

from .engine import grad as _grad
from .function import Function
from .grad_mode import enable_grad
from .tensor_base import TensorBase, new_tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _prepare(inputs, create_graph):
    single = isinstance(inputs, TensorBase)
    ins = (inputs,) if single else tuple(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, TensorBase):
            raise TypeError(f"the inputs must be tensors, got {type(t).__name__} at position {i}")
    # Fresh leaves so that the user's tensors' .grad and graph are left alone.
    prepared = tuple(new_tensor(t.data).requires_grad_(t.data.dtype.kind == "f") if not
                     (create_graph and t.requires_grad) else t.view(t.shape) for t in ins)
    return single, prepared


def _unwrap(single, values):
    return values[0] if single else tuple(values)


def _zeros_for(t):
    return new_tensor(np.zeros_like(t.data))


def _grads(outputs, inputs, grad_outputs, create_graph, strict, where):
    outs = (outputs,) if isinstance(outputs, TensorBase) else tuple(outputs)
    gouts = (grad_outputs,) if isinstance(grad_outputs, TensorBase) else tuple(grad_outputs)
    live = [(o, g) for o, g in zip(outs, gouts) if o.requires_grad]
    if not live:
        if strict:
            raise RuntimeError(f"{where}: the outputs do not depend on the inputs (strict=True)")
        return tuple(_zeros_for(t) for t in inputs)
    gs = _grad([o for o, _ in live], inputs, grad_outputs=[g for _, g in live],
               create_graph=create_graph, retain_graph=True, allow_unused=True)
    out = []
    for i, (t, g) in enumerate(zip(inputs, gs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{where}: output does not depend on input {i} (strict=True)")
            g = _zeros_for(t)
        out.append(g)
    return tuple(out)


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product (one backward pass).

    Example:
        >>> import locograd as lg
        >>> out, g = lg.autograd.functional.vjp(lambda x: (x ** 2).sum(), lg.tensor([1.0, 2.0]))
        >>> g.tolist()
        [2.0, 4.0]
    """
    single, ins = _prepare(inputs, create_graph)
    with enable_grad():
        out = func(*ins)
    outs = (out,) if isinstance(out, TensorBase) else tuple(out)
    if v is None:
        if len(outs) != 1 or outs[0].data.size != 1:
            raise RuntimeError("vjp: v can be omitted only when func returns a single scalar")
        v = new_tensor(np.ones_like(outs[0].data))
    vs = (v,) if isinstance(v, TensorBase) else tuple(v)
    for o, vi in zip(outs, vs):
        if o.data.shape != vi.data.shape:
            raise ValueError(f"vjp: v has shape {vi.data.shape} but the output has shape "
                             f"{o.data.shape}")
    g = _grads(outs, ins, vs, create_graph, strict, "vjp")
    result = out if create_graph else _detach_all(out)
    return result, _unwrap(single, g)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-vjp trick."""
    single, ins = _prepare(inputs, create_graph)
    if v is None:
        if any(t.data.size != 1 for t in ins):
            raise RuntimeError("jvp: v can be omitted only when the inputs are single numbers")
        v = tuple(new_tensor(np.ones_like(t.data)) for t in ins)
    vs = (v,) if isinstance(v, TensorBase) else tuple(v)
    with enable_grad():
        out = func(*ins)
        outs = (out,) if isinstance(out, TensorBase) else tuple(out)
        dummies = tuple(new_tensor(np.zeros_like(o.data)).requires_grad_() for o in outs)
        gt = _grads(outs, ins, dummies, True, strict, "jvp")  # J^T u, linear in u
        live = [(g, vi) for g, vi in zip(gt, vs) if g.requires_grad]
        if not live:
            jv = tuple(_zeros_for(o) for o in outs)
        else:
            jv = _grad([g for g, _ in live], dummies, grad_outputs=[vi for _, vi in live],
                       create_graph=create_graph, retain_graph=True, allow_unused=True)
            jv = tuple(j if j is not None else _zeros_for(o) for j, o in zip(jv, outs))
    result = out if create_graph else _detach_all(out)
    return result, (jv[0] if isinstance(out, TensorBase) else tuple(jv))


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False):
    """The Jacobian ``d func / d inputs``, of shape ``output.shape + input.shape``.

    With several inputs (or outputs) the result is a tuple (of tuples), as in PyTorch.
    """
    single, ins = _prepare(inputs, create_graph)
    with enable_grad():
        out = func(*ins)
    single_out = isinstance(out, TensorBase)
    outs = (out,) if single_out else tuple(out)
    result = []
    for o in outs:
        rows = [[] for _ in ins]
        for r in range(o.data.size):
            e = np.zeros(o.data.shape, dtype=o.data.dtype)
            e.reshape(-1)[r] = 1
            if o.requires_grad:
                gs = _grads((o,), ins, (new_tensor(e),), create_graph, strict, "jacobian")
            else:
                if strict:
                    raise RuntimeError("jacobian: an output does not depend on the inputs "
                                       "(strict=True)")
                gs = tuple(_zeros_for(t) for t in ins)
            for k, g in enumerate(gs):
                rows[k].append(g)
        per_input = []
        for k, t in enumerate(ins):
            j = _StackRows.apply(*rows[k]) if rows[k] else \
                new_tensor(np.zeros((0,) + t.data.shape))
            per_input.append(j.reshape(o.data.shape + t.data.shape))
        result.append(per_input[0] if single else tuple(per_input))
    return result[0] if single_out else tuple(result)


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False):
    """The Hessian of a scalar function: the Jacobian of its gradient."""
    single, ins = _prepare(inputs, create_graph)

    def gradient(*xs):
        out = func(*xs)
        if not isinstance(out, TensorBase) or out.data.size != 1:
            raise RuntimeError("hessian: func must return a single-element tensor")
        g = _grads((out,), xs, (new_tensor(np.ones_like(out.data)),), True, strict, "hessian")
        return g[0] if single else g

    return jacobian(gradient, ins[0] if single else ins, create_graph=create_graph,
                    strict=strict)


def hvp(func, inputs, v, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)`` for a scalar function: one gradient and one more backward pass."""
    single, ins = _prepare(inputs, create_graph)
    vs = (v,) if isinstance(v, TensorBase) else tuple(v)
    with enable_grad():
        out = func(*ins)
        if not isinstance(out, TensorBase) or out.data.size != 1:
            raise RuntimeError("hvp: func must return a single-element tensor")
        g = _grads((out,), ins, (new_tensor(np.ones_like(out.data)),), True, strict, "hvp")
        live = [(gi, vi) for gi, vi in zip(g, vs) if gi.requires_grad]
        if not live:
            hv = tuple(_zeros_for(t) for t in ins)
        else:
            hv = _grads(tuple(gi for gi, _ in live), ins, tuple(vi for _, vi in live),
                        create_graph, strict, "hvp")
    result = out if create_graph else out.detach()
    return result, _unwrap(single, hv)


vhp = hvp  # the Hessian is symmetric: v^T H == (H v)^T


class _StackRows(Function):
    """Stack the Jacobian's rows (kept here so that autograd does not import the ops layer)."""

    @staticmethod
    def forward(ctx, *rows):
        ctx.n = len(rows)
        return np.stack([r.data for r in rows])

    @staticmethod
    def backward(ctx, grad):
        return tuple(grad[i] for i in range(ctx.n))


def _detach_all(out):
    if isinstance(out, TensorBase):
        return out.detach()
    return tuple(o.detach() for o in out)

"""The exact quadratic model of K-FAC's adaptive form (Martens & Grosse 2015, sections 6-7).

On the minibatch, ``M(d) = 1/2 d^T (C + (lambda + eta) I) d + g^T d`` with ``C = J^T H J`` the
Gauss-Newton matrix (for the losses K-FAC knows, the negative log-likelihoods of exponential
families with their natural parameters as outputs, it equals the Fisher): ``J`` the Jacobian of
the model's outputs in the parameters, ``H`` the loss's Hessian in the outputs. Only products
``J v`` are needed (``v^T C w = (J v)^T H (J w)``), which the engine gives by the double-vjp
trick of ``autograd.functional.jvp``: ``J^T u`` is recorded once (``create_graph``) and
differentiated in ``u`` once per direction.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import enable_grad
from ..autograd import grad as autograd_grad
from ..autograd.tensor_base import TensorBase, new_tensor


def output_jvps(outputs_fn, params, directions) -> tuple[np.ndarray, list]:
    """``(outputs, [J d for d in directions])`` with one recorded ``J^T u`` for all.

    Args:
        outputs_fn: re-evaluates the model's output tensor at the current parameters.
        params: the parameter tensors ``J`` differentiates in.
        directions: a list of ``{parameter: array}`` (a missing parameter counts as zero).
    """
    with enable_grad():
        outputs = outputs_fn()
        if not isinstance(outputs, TensorBase) or not outputs.requires_grad:
            raise RuntimeError("KFAC: re-running the model for the quadratic model gave no "
                               "output tensor attached to the parameters")
        u = new_tensor(np.zeros_like(outputs.data)).requires_grad_()
        transposed = autograd_grad(outputs, params, grad_outputs=u, create_graph=True,
                                   allow_unused=True)
        live = [(g, p) for g, p in zip(transposed, params)
                if g is not None and g.requires_grad]
        products = []
        for direction in directions:
            pairs = [(g, direction[p]) for g, p in live if p in direction]
            if not pairs:
                products.append(np.zeros_like(outputs.data))
                continue
            (jv,) = autograd_grad([g for g, _ in pairs], [u],
                                  grad_outputs=[new_tensor(v) for _, v in pairs],
                                  retain_graph=True, allow_unused=True)
            products.append(np.zeros_like(outputs.data) if jv is None else jv.data)
    return outputs.data, products


def curvature_form(outputs: np.ndarray, likelihood: str, reduction: str):
    """``form(v, w) = v^T H w`` (float64) for the loss's Hessian ``H`` in the outputs.

    The loss is the likelihood's negative log-likelihood averaged (``'mean'``) or summed
    (``'sum'``) over the examples along dim 0: Bernoulli ``diag(p (1 - p))`` (logits),
    unit Gaussian ``I``, categorical ``diag(p) - p p^T`` over dim 1 (logits).
    """
    x = outputs.astype(np.float64)
    examples = x.shape[0] if x.ndim > 1 else 1
    scale = 1.0 / examples if reduction == "mean" else 1.0
    if likelihood == "gaussian":
        return lambda v, w: scale * float(np.vdot(v, w))
    if likelihood == "bernoulli":
        p = np.exp(-np.logaddexp(0.0, -x))
        weight = p * (1.0 - p)
        return lambda v, w: scale * float(np.sum(weight * v * w))
    axis = 1 if x.ndim >= 2 else 0
    p = np.exp(x - x.max(axis=axis, keepdims=True))
    p /= p.sum(axis=axis, keepdims=True)

    def form(v, w):
        v, w = v.astype(np.float64, copy=False), w.astype(np.float64, copy=False)  # any device
        mean_v, mean_w = (p * v).sum(axis=axis), (p * w).sum(axis=axis)
        return scale * float(np.sum(p * v * w) - np.sum(mean_v * mean_w))
    return form


def solve_step(curvature: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """The minimiser ``x`` of ``1/2 x^T K x + b^T x`` for a 1x1 or 2x2 positive ``K``
    (float64); falls back to the first direction alone when the 2x2 system is singular (the
    two directions parallel), and to zero when even that has no curvature."""
    size = len(gradient)
    if size == 2:
        determinant = curvature[0, 0] * curvature[1, 1] - curvature[0, 1] ** 2
        if determinant > 1e-12 * curvature[0, 0] * curvature[1, 1] and determinant > 0.0:
            return -np.linalg.solve(curvature, gradient)
    x = np.zeros(size)
    if curvature[0, 0] > 0.0 and math.isfinite(curvature[0, 0]):
        x[0] = -gradient[0] / curvature[0, 0]
    return x


def model_value(x: np.ndarray, curvature: np.ndarray, gradient: np.ndarray) -> float:
    """``1/2 x^T K x + b^T x``."""
    return float(0.5 * x @ curvature @ x + gradient @ x)

"""``KFAC``: natural-gradient steps with Kronecker-factored curvature for Linear and Conv2d layers.

Each ``Linear`` or ``Conv2d`` layer's block of the Fisher is approximated by ``A (x) G``: ``A``
the second moment of the layer's inputs (with a homogeneous coordinate for the bias), ``G`` that
of the per-example gradients at its outputs (the pre-activations). Module forward hooks collect
the inputs, tensor hooks or a second backward pass from sampled targets the output gradients.
The running factors and their inverses live in the state record of each layer's weight, so
``state_dict`` round-trips them; every other parameter takes a momentum SGD step.
"""
from __future__ import annotations

import math
import warnings
import weakref

import numpy as np

from ..autograd.engine import grad as autograd_grad
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import rng
from ..nn.conv import Conv2d
from ..nn.linear import Linear
from ..nn.module import Module
from ..ops.conv import _conv_params, _flat_grad, _im2col, _weight_from_matrix, _weight_matrix
from ._matrix import RootError, from_eigen, symmetric_eigh
from ._rules import AddL2Decay, Descend, Momentum
from .optimizer import (Optimizer, check_common, check_non_negative, check_positive_int,
                        check_unit_interval)

__all__ = ["KFAC"]

LIKELIHOODS = ("categorical", "bernoulli", "gaussian")
#: the likelihood whose negative log is each of these losses (functions and modules)
_LOSS_LIKELIHOODS = {
    "cross_entropy": "categorical", "CrossEntropyLoss": "categorical",
    "nll_loss": "categorical", "NLLLoss": "categorical",
    "binary_cross_entropy_with_logits": "bernoulli", "BCEWithLogitsLoss": "bernoulli",
    "mse_loss": "gaussian", "MSELoss": "gaussian",
}


def _likelihood(value) -> str | None:
    """A likelihood name from a name, a loss function or a loss module (None stays None)."""
    if value is None or value in LIKELIHOODS:
        return value
    if isinstance(value, str):
        raise ValueError(f"KFAC: likelihood must be one of {LIKELIHOODS} or a loss function or "
                         f"module to infer it from, got {value!r}")
    name = getattr(value, "__name__", None) or type(value).__name__
    if name not in _LOSS_LIKELIHOODS:
        raise ValueError(f"KFAC: cannot infer the likelihood from {name}; give one of "
                         f"{LIKELIHOODS} (known losses: {sorted(_LOSS_LIKELIHOODS)})")
    return _LOSS_LIKELIHOODS[name]


def sample_output_gradients(outputs: np.ndarray, likelihood: str, generator=None) -> np.ndarray:
    """Per-example gradients of ``-log p(y | outputs)`` at ``y`` drawn from ``p(. | outputs)``.

    Their second moment, propagated back through the network, is the true Fisher.

    * ``'categorical'``: ``outputs`` are logits, classes along dim 1 (dim 0 for a vector):
      ``softmax - onehot(y)``, ``y ~ Categorical(softmax)``.
    * ``'bernoulli'``: logits: ``sigmoid - y``, ``y ~ Bernoulli(sigmoid)``.
    * ``'gaussian'``: means of a unit-variance Gaussian (negative log-likelihood
      ``||f - y||^2 / 2``): ``f - y = -e``, ``e ~ N(0, I)``.

    Example:
        >>> import numpy as np, locograd as lg
        >>> g = sample_output_gradients(np.zeros((2, 3), np.float32), "categorical",
        ...                             lg.Generator().manual_seed(0))
        >>> g.shape, bool(np.abs(g.sum(axis=1)).max() < 1e-6)  # softmax - onehot sums to 0
        ((2, 3), True)
    """
    draw = rng(generator)
    dtype = outputs.dtype
    if likelihood == "gaussian":
        return -draw.standard_normal(outputs.shape).astype(dtype)
    if likelihood == "bernoulli":
        probabilities = np.exp(-np.logaddexp(0.0, -outputs))
        return (probabilities - (draw.random(outputs.shape) < probabilities)).astype(dtype)
    axis = 1 if outputs.ndim >= 2 else 0
    shifted = np.exp(outputs - outputs.max(axis=axis, keepdims=True))
    probabilities = shifted / shifted.sum(axis=axis, keepdims=True)
    uniform = draw.random(np.delete(outputs.shape, axis))
    # inverse CDF: the sampled class is the number of cumulative probabilities below u
    below = np.cumsum(probabilities, axis=axis) < np.expand_dims(uniform, axis)
    classes = np.minimum(below.sum(axis=axis), outputs.shape[axis] - 1)
    onehot = np.arange(outputs.shape[axis]).reshape(
        [-1 if d == axis else 1 for d in range(outputs.ndim)]) == np.expand_dims(classes, axis)
    return (probabilities - onehot).astype(dtype)


class _Layer:
    """One preconditioned layer and the statistics collected for its next factor update."""

    def __init__(self, name: str, module: Module):
        self.name = name
        self.module = module
        self.weight = module.weight
        self.bias = module.bias
        self.conv = isinstance(module, Conv2d)
        self.denominator = None  # 'eigen' damping, cached: see KFAC._denominator
        self.clear()

    def clear(self):
        self.input_sum = self.gradient_sum = None
        self.input_count = self.gradient_count = 0
        self.outputs = []

    def input_rows(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """The layer's inputs as rows (expanded patches for a convolution), and the number of
        examples they come from."""
        if self.conv:
            if x.ndim == 3:
                x = x[None]
            module = self.module
            params = _conv_params("KFAC", x.shape, self.weight.data.shape, module.stride,
                                  module.padding, module.dilation, module.groups)
            return _im2col(x, module.kernel_size, params)[:, 0], x.shape[0]
        return x.reshape(-1, x.shape[-1]), (x.shape[0] if x.ndim > 1 else 1)

    def add_inputs(self, x: np.ndarray) -> None:
        """``sum over rows of a a^T``, ``a = [x, 1]`` when the layer has a bias."""
        rows, examples = self.input_rows(x)
        k = rows.shape[1]
        if self.input_sum is None:
            size = k + (self.bias is not None)
            self.input_sum = np.zeros((size, size), dtype=self.weight.data.dtype)
        total = self.input_sum
        total[:k, :k] += rows.T @ rows
        if self.bias is not None:  # the homogeneous coordinate, without copying the rows
            column = rows.sum(axis=0)
            total[:k, k] += column
            total[k, :k] += column
            total[k, k] += rows.shape[0]
        self.input_count += examples

    def add_output_gradients(self, grad: np.ndarray, scale: float) -> None:
        """``sum over rows of (scale g)(scale g)^T`` for per-example gradients ``scale * g``
        (one row per example and output position)."""
        if self.conv:
            rows = _flat_grad(grad if grad.ndim == 4 else grad[None])
        else:
            rows = grad.reshape(-1, grad.shape[-1])
        product = rows.T @ rows
        if scale != 1.0:
            product *= scale * scale
        if self.gradient_sum is None:
            self.gradient_sum = product
        else:
            self.gradient_sum += product
        self.gradient_count += rows.shape[0]

    def gradient_matrix(self) -> np.ndarray:
        """The weight (and bias) gradient as one (out, in [+ 1]) matrix, the columns in the
        order of ``input_rows``."""
        weight = self.weight.grad.data
        matrix = _weight_matrix(weight, 1)[0] if self.conv else weight
        if self.bias is None:
            return matrix
        bias = self.bias.grad.data if self.bias.grad is not None else \
            np.zeros(matrix.shape[0], matrix.dtype)
        return np.concatenate([matrix, bias[:, None]], axis=1)

    def split(self, matrix: np.ndarray) -> dict:
        """The inverse of ``gradient_matrix``: ``{parameter: array}``."""
        k = matrix.shape[1] - (self.bias is not None)
        weight = matrix[:, :k]
        weight = _weight_from_matrix(weight[None], self.weight.data.shape) if self.conv \
            else weight.reshape(self.weight.data.shape)
        parts = {self.weight: weight}
        if self.bias is not None:
            parts[self.bias] = matrix[:, k]
        return parts


def _forward_hook(optimizer_ref, layer):
    def hook(module, args, output):
        optimizer = optimizer_ref()
        if optimizer is not None and module.training and is_grad_enabled() \
                and isinstance(args[0], TensorBase) and optimizer._collecting(layer):
            optimizer._record(layer, args[0].data, output)
    return hook


def _remove_hooks(handles: list) -> None:
    for handle in handles:
        handle.remove()
    handles.clear()


class KFAC(Optimizer):
    """K-FAC: Kronecker-factored approximate natural gradient (Martens & Grosse; Grosse & Martens).

    For a ``Linear`` layer with inputs ``a`` (a row per example, ``a_bar = [a, 1]`` with a bias)
    and per-example gradients ``g`` at its outputs, and the gradient ``M = [dW, db]``
    (out x in+1)::

        A <- decay A + (1 - decay) E[a_bar a_bar^T],  G <- decay G + (1 - decay) E[g g^T]
             with decay = min(1 - 1/k, stat_decay) at the k-th factor update (k = 1: the batch)
        V  = (G + sqrt(damping)/pi I)^-1 M (A + pi sqrt(damping) I)^-1      'tikhonov'
             pi = sqrt((tr A / dim A) / (tr G / dim G))
        V  = Qg [(Qg^T M Qa) / (dg da^T + damping)] Qa^T                  'eigen'
             (the exact (A (x) G + damping I)^-1 vec(M), A = Qa diag(da) Qa^T, G likewise)
        nu = min(1, sqrt(kl_clip / (lr^2 sum_layers <V, M>)))
        d  = nu V + weight_decay W;   b <- momentum b + d (b = d at the first step);  W -= lr b

    A ``Conv2d`` layer (Grosse & Martens, KFC) uses the expanded patches as ``a`` and sums over
    the T output positions: ``A = E[sum_t a_t a_t^T]``, ``G = E[sum_t g_t g_t^T] / T``; a
    ``Linear`` applied to (N, T, d) inputs is treated the same way. Grouped convolutions and
    every parameter outside a ``Linear``/``Conv2d`` take the momentum SGD step on the raw
    gradient (``d = g + weight_decay p``, same ``lr`` and ``momentum``).

    Fisher (``fisher``):

    * ``'true'`` (default): ``g`` from targets sampled from the model's predictive
      distribution (``likelihood``). Call ``sample_fisher(outputs)`` after the forward pass and
      before ``loss.backward()`` (the graph is still there): it runs one extra backward pass
      from ``outputs`` with the sampled targets (``autograd.grad``, ``.grad`` is untouched).
    * ``'empirical'``: ``g`` from the real loss, captured during ``loss.backward()`` by tensor
      hooks on the layers' outputs. A mean-reduced loss (``loss_reduction='mean'``, PyTorch's
      default) has per-example gradients ``B * dL/ds`` for a batch of B, which is used.

    Factors are collected for steps 1, 1 + ``factor_update_freq``, ... (by the forward passes
    before them, in training mode with grad enabled; several forward passes before one step
    add up, as in gradient accumulation), and the inverses recomputed at steps 1,
    1 + ``inv_update_freq``, ..., from float64 eigendecompositions, stored in the parameters'
    dtype. With ``'tikhonov'`` the damping enters when the inverses are computed, with
    ``'eigen'`` at every step. If a damped factor has a condition number above ``0.1 / eps`` of
    its dtype (8.4e5 in float32; for ``'eigen'``, the damped Kronecker product above its
    square), as with tiny damping on an ill-conditioned or singular factor, the small
    eigenvalues are raised to that floor, and a ``RuntimeWarning`` says so once per optimizer;
    a factor that cannot be decomposed (non-finite) keeps its previous inverse (a warning;
    counted in ``state[weight]['inverse_failures']``).

    Args:
        model: the ``Module`` to train; its parameters form the (single) parameter group and
            its ``Linear``/``Conv2d`` layers get hooks (``remove_hooks()`` takes them off).
        lr: learning rate (default 1e-3).
        damping: Tikhonov damping lambda (default 1e-3).
        stat_decay: the factors' running-average decay (default 0.95; 1 averages all batches).
        factor_update_freq: collect factors every this many steps (default 1).
        inv_update_freq: recompute the inverses every this many steps (default 20).
        kl_clip: bound on ``lr^2 <V, M>`` (the step's predicted KL change), or None to
            disable (default 1e-3).
        momentum: momentum factor (default 0.9).
        weight_decay: L2 coefficient, added after preconditioning (default 0).
        fisher: ``'true'`` or ``'empirical'``.
        likelihood: ``'categorical'`` (softmax cross-entropy), ``'bernoulli'`` (sigmoid
            cross-entropy), ``'gaussian'`` (squared error), or a loss (``F.cross_entropy``,
            ``nn.BCEWithLogitsLoss()``, ...) to infer it from; needed for ``fisher='true'``.
            The Gaussian has unit variance (negative log-likelihood ``||f - y||^2 / 2`` per
            example); a squared loss on another scale (``F.mse_loss`` also averages over the
            outputs) scales the step by that factor, which ``lr`` absorbs.
        damping_method: ``'tikhonov'`` (factored, with the pi correction; default) or
            ``'eigen'``.
        loss_reduction: ``'mean'`` or ``'sum'`` over the batch, for ``fisher='empirical'``.
        generator: the ``lg.Generator`` for the sampled targets (default: the global one).

    Deliberate differences from Martens & Grosse: no adaptive damping, learning rate or
    momentum by quadratic models (the notes of kfac-jax advise against them for minibatch
    training); fixed lr, momentum and damping with KL clipping instead, as in common K-FAC
    code. The damping in ``'eigen'`` is added to the Kronecker product, not to the factors.

    References:
        Martens & Grosse, "Optimizing Neural Networks with Kronecker-factored Approximate
        Curvature", ICML 2015, arXiv:1503.05671.
        Grosse & Martens, "A Kronecker-factored approximate Fisher matrix for convolution
        layers", ICML 2016, arXiv:1602.01407.
        Ba, Grosse & Martens, "Distributed Second-Order Optimization using Kronecker-Factored
        Approximations", ICLR 2017 (KL clipping).

    Example:
        >>> import locograd as lg
        >>> from locograd import nn, optim
        >>> _ = lg.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        >>> opt = optim.KFAC(model, lr=0.1, likelihood="categorical")
        >>> x, y = lg.randn(32, 4), lg.randint(0, 3, (32,))
        >>> for _ in range(3):
        ...     opt.zero_grad()
        ...     logits = model(x)
        ...     opt.sample_fisher(logits)      # before backward: the graph is still there
        ...     nn.functional.cross_entropy(logits, y).backward()
        ...     _ = opt.step()
        >>> opt.state[model[0].weight]["A"].shape, opt.state[model[2].weight]["G"].shape
        ((5, 5), (3, 3))
    """

    rules = (AddL2Decay(), Momentum(), Descend())

    def __init__(self, model, lr=1e-3, damping=1e-3, stat_decay=0.95, factor_update_freq=1,
                 inv_update_freq=20, kl_clip=1e-3, momentum=0.9, weight_decay=0.0, *,
                 fisher="true", likelihood=None, damping_method="tikhonov",
                 loss_reduction="mean", generator=None):
        if not isinstance(model, Module):
            raise TypeError(f"KFAC: expected the model (an nn.Module), got "
                            f"{type(model).__name__}; K-FAC needs the layers, not only the "
                            f"parameters")
        if fisher not in ("true", "empirical"):
            raise ValueError(f"KFAC: fisher must be 'true' or 'empirical', got {fisher!r}")
        self.likelihood = _likelihood(likelihood)
        if fisher == "true" and self.likelihood is None:
            raise ValueError(f"KFAC: fisher='true' samples targets from the model's predictive "
                             f"distribution: give likelihood, one of {LIKELIHOODS} or the loss "
                             f"function (or use fisher='empirical')")
        if loss_reduction not in ("mean", "sum"):
            raise ValueError(f"KFAC: loss_reduction must be 'mean' or 'sum', got "
                             f"{loss_reduction!r}")
        self.fisher = fisher
        self.loss_reduction = loss_reduction
        self.generator = generator
        defaults = dict(lr=lr, damping=damping, stat_decay=stat_decay,
                        factor_update_freq=factor_update_freq, inv_update_freq=inv_update_freq,
                        kl_clip=kl_clip, momentum=momentum, weight_decay=weight_decay,
                        damping_method=damping_method)
        self._layers = [_Layer(name, module) for name, module in model.named_modules()
                        if isinstance(module, (Linear, Conv2d))
                        and getattr(module, "groups", 1) == 1 and module.weight.requires_grad]
        if not self._layers:
            raise ValueError("KFAC: the model has no Linear or (ungrouped) Conv2d layer with a "
                             "trainable weight to precondition")
        super().__init__(list(model.parameters()), defaults)
        self._warned = set()
        reference = weakref.ref(self)  # the hooks must not keep the optimizer alive...
        self._handles = [layer.module.register_forward_hook(_forward_hook(reference, layer))
                         for layer in self._layers]
        weakref.finalize(self, _remove_hooks, self._handles)  # ...and go when it goes

    def remove_hooks(self) -> None:
        """Take the optimizer's hooks off the model: it no longer collects factors (steps then
        reuse the last factors). Deleting the optimizer removes them too."""
        _remove_hooks(self._handles)

    def _check_group(self, group):
        owner = "KFAC"
        check_common(owner, group)
        check_non_negative(owner, "damping", group["damping"])
        check_non_negative(owner, "momentum", group["momentum"])
        check_unit_interval(owner, "stat_decay", group["stat_decay"], closed=True)
        for key in ("factor_update_freq", "inv_update_freq"):
            check_positive_int(owner, key, group[key])
        if group["kl_clip"] is not None and not float(group["kl_clip"]) > 0.0:
            raise ValueError(f"{owner}: kl_clip must be positive or None, got "
                             f"{group['kl_clip']!r}")
        if group["damping_method"] not in ("tikhonov", "eigen"):
            raise ValueError(f"{owner}: damping_method must be 'tikhonov' or 'eigen', got "
                             f"{group['damping_method']!r}")

    # ---- collecting the factors ---------------------------------------------------------------

    def _group_of(self, p) -> dict:
        for group in self.param_groups:
            if any(q is p for q in group["params"]):
                return group
        return self.defaults

    def _collecting(self, layer) -> bool:
        """True when the next step updates this layer's factors."""
        record = self.state.get(layer.weight)
        step = record.get("step", 0) if record else 0
        return step % int(self._group_of(layer.weight)["factor_update_freq"]) == 0

    def _record(self, layer, inputs: np.ndarray, output) -> None:
        layer.add_inputs(inputs)
        if not (isinstance(output, TensorBase) and output.requires_grad):
            return
        if self.fisher == "true":
            layer.outputs.append(output)
        else:
            scale_batch = self.loss_reduction == "mean"

            def capture(grad):
                scale = (grad.shape[0] if grad.ndim > 1 else 1) if scale_batch else 1.0
                layer.add_output_gradients(grad.data, float(scale))

            output.register_hook(capture)

    def sample_fisher(self, outputs) -> None:
        """Collect ``G`` of the true Fisher from targets sampled at ``outputs`` (one extra
        backward pass; ``.grad`` is untouched). Call it after the forward pass and before
        ``loss.backward()``, at every step: it does nothing on steps that do not update the
        factors, and with ``fisher='empirical'``.

        Args:
            outputs: the model's outputs that the loss takes (logits for ``'categorical'`` and
                ``'bernoulli'``, predictions for ``'gaussian'``), still attached to the graph.
        """
        recorded = [(layer, out) for layer in self._layers for out in layer.outputs]
        if self.fisher != "true" or not recorded:
            return
        if not isinstance(outputs, TensorBase) or not outputs.requires_grad:
            raise ValueError("KFAC.sample_fisher: outputs must be the model's output tensor, "
                             "attached to the graph (requires_grad)")
        sampled = sample_output_gradients(outputs.data, self.likelihood, self.generator)
        try:
            grads = autograd_grad(outputs, [out for _, out in recorded],
                                  grad_outputs=new_tensor(sampled), retain_graph=True,
                                  allow_unused=True)
        except RuntimeError as error:
            if "second time" not in str(error):
                raise
            raise RuntimeError("KFAC.sample_fisher: the graph of `outputs` was already freed "
                               "by a backward pass; call sample_fisher(outputs) before "
                               "loss.backward()") from error
        for (layer, _), grad in zip(recorded, grads):
            if grad is not None:
                layer.add_output_gradients(grad.data, 1.0)  # already per-example
        for layer, _ in recorded:
            layer.outputs = []

    # ---- the step -----------------------------------------------------------------------------

    def step(self, closure=None):
        """Fold the collected statistics into the factors, refresh the inverses when due, and
        update every parameter (see the class docstring for the order of calls).

        Args:
            closure: optional callable that re-evaluates the model (forward, ``sample_fisher``,
                backward) and returns the loss.

        Returns:
            The closure's loss, or ``None``.
        """
        try:
            return super().step(closure)
        finally:
            for layer in self._layers:
                layer.clear()

    def _update_group(self, group: dict) -> None:
        members = {id(p) for p in group["params"]}
        for layer in self._layers:  # checked before anything changes
            if self.fisher == "true" and layer.outputs and id(layer.weight) in members:
                raise RuntimeError(
                    f"KFAC.step: layer '{layer.name}' collected its inputs for a factor update "
                    f"but no output gradients: with fisher='true' call "
                    f"optimizer.sample_fisher(outputs) after the forward pass and before "
                    f"loss.backward()")
        natural, inner = {}, 0.0
        for layer in self._layers:
            if id(layer.weight) not in members or layer.weight.grad is None:
                continue
            state = self.state[layer.weight]
            state["step"] = state.get("step", 0) + 1
            if layer.input_count and layer.gradient_count:
                self._update_factors(layer, state, group)
            if "A" not in state:
                continue  # no factors yet: the raw gradient
            if (state["step"] - 1) % int(group["inv_update_freq"]) == 0 \
                    or not any(key in state for key in ("A_inverse", "A_eigenvectors")):
                self._update_inverses(layer, state, group)
            matrix = layer.gradient_matrix()
            direction = self._precondition(layer, state, group, matrix)
            if direction is None:
                continue
            inner += float(np.vdot(direction, matrix))
            natural.update(layer.split(direction))
        lr, kl_clip = float(group["lr"]), group["kl_clip"]
        nu = 1.0
        if kl_clip is not None and inner > 0.0 and lr > 0.0:
            nu = min(1.0, math.sqrt(float(kl_clip) / (lr * lr * inner)))
        super()._update_group(group, natural, nu)

    def _update_factors(self, layer, state, group) -> None:
        updates = state["factor_updates"] = state.get("factor_updates", 0) + 1
        decay = min(1.0 - 1.0 / updates, float(group["stat_decay"]))
        for key, total, count in (("A", layer.input_sum, layer.input_count),
                                  ("G", layer.gradient_sum, layer.gradient_count)):
            total /= count  # the batch's factor (these arrays are this step's, not reused)
            factor = state.get(key)
            if factor is None or decay == 0.0:
                state[key] = total
            else:
                factor *= decay
                total *= 1.0 - decay
                factor += total

    def _update_inverses(self, layer, state, group) -> None:
        dtype = layer.weight.data.dtype
        try:
            a_values, a_vectors = symmetric_eigh(state["A"])
            g_values, g_vectors = symmetric_eigh(state["G"])
        except RootError as error:
            state["inverse_failures"] = state.get("inverse_failures", 0) + 1
            self._warn_once("failure", f"KFAC: could not decompose the curvature factors of "
                                       f"layer '{layer.name}' ({error}); keeping the previous "
                                       f"inverse (shown once per optimizer)")
            return
        if group["damping_method"] == "eigen":
            for key in ("A_inverse", "G_inverse"):
                state.pop(key, None)
            state["A_eigenvalues"], state["G_eigenvalues"] = a_values, g_values
            state["A_eigenvectors"] = a_vectors.astype(dtype)
            state["G_eigenvectors"] = g_vectors.astype(dtype)
            return
        for key in ("A_eigenvalues", "G_eigenvalues", "A_eigenvectors", "G_eigenvectors"):
            state.pop(key, None)
        a_mean, g_mean = a_values.mean(), g_values.mean()
        pi = math.sqrt(a_mean / g_mean) if a_mean > 0.0 and g_mean > 0.0 else 1.0
        root = math.sqrt(float(group["damping"]))
        for key, values, vectors, shift in (("A_inverse", a_values, a_vectors, pi * root),
                                            ("G_inverse", g_values, g_vectors, root / pi)):
            values = self._floor(layer, values + shift, dtype, group)
            state[key] = from_eigen(vectors, 1.0 / values).astype(dtype)

    def _floor(self, layer, values: np.ndarray, dtype, group, factors: int = 1) -> np.ndarray:
        """Raise damped eigenvalues more than ``(0.1 / eps)^factors`` times smaller than the
        largest (``eps`` of ``dtype``; ``factors = 2`` for the Kronecker product's eigenvalues,
        whose condition number is the product of two factors') to that floor, and warn once,
        so that the inverse stays finite."""
        rcond = (10.0 * np.finfo(dtype).eps) ** factors
        largest = float(values.max())
        if not largest > 0.0:
            floor = 1.0  # a zero factor without damping: nothing to scale by, use the identity
        else:
            floor = rcond * largest
            if float(values.min()) >= floor:
                return values
        self._warn_once("conditioning", f"KFAC: damping {group['damping']} is too small for the "
                                        f"curvature factors of layer '{layer.name}' (condition "
                                        f"number above {1 / rcond:.3g}); eigenvalues below "
                                        f"{rcond:.3g} x the largest were raised to that floor "
                                        f"to keep the step finite. Raise damping to silence "
                                        f"this warning (shown once per optimizer)")
        return np.maximum(values, floor)

    def _precondition(self, layer, state, group, matrix: np.ndarray) -> np.ndarray | None:
        if "A_inverse" in state:
            return state["G_inverse"] @ matrix @ state["A_inverse"]
        if "A_eigenvectors" not in state:
            return None  # never decomposed (the first decomposition failed): raw gradient
        a_vectors, g_vectors = state["A_eigenvectors"], state["G_eigenvectors"]
        rotated = g_vectors.T @ matrix @ a_vectors
        rotated /= self._denominator(layer, state, group, matrix.dtype)
        return g_vectors @ rotated @ a_vectors.T

    def _denominator(self, layer, state, group, dtype) -> np.ndarray:
        """``dg da^T + damping``, floored; cached on the layer until the eigenvalues or the
        damping change (it costs several passes over an out x in array)."""
        g_values, a_values = state["G_eigenvalues"], state["A_eigenvalues"]
        damping = float(group["damping"])
        cached = layer.denominator
        if cached is None or cached[0] is not g_values or cached[1] is not a_values \
                or cached[2] != damping:  # (the cache holds the arrays: no reuse of their ids)
            denominator = np.multiply.outer(g_values, a_values)
            denominator += damping
            denominator = self._floor(layer, denominator.reshape(-1), dtype, group, 2)
            layer.denominator = (g_values, a_values, damping,
                                 denominator.reshape(len(g_values), -1).astype(dtype))
        return layer.denominator[3]

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(message, RuntimeWarning, stacklevel=4)

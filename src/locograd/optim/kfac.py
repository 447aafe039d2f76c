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

from ..autograd import enable_grad, is_grad_enabled
from ..autograd import grad as autograd_grad
from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import namespace, rng
from ..backend.devices import device_of, to_device
from ..nn.conv import Conv2d
from ..nn.linear import Linear
from ..nn.module import Module
from ..ops.conv import conv_params, grad_matrix, im2col, weight_from_matrix, weight_matrix
from . import _kfac_quadratic as quadratic
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
    where = device_of(outputs)  # host draws (one stream for every device), copied there
    if likelihood == "gaussian":
        return to_device(-draw.standard_normal(outputs.shape).astype(dtype), where)
    if likelihood == "bernoulli":
        probabilities = np.exp(-np.logaddexp(0.0, -outputs))
        return (probabilities - (to_device(draw.random(outputs.shape), where)
                                 < probabilities)).astype(dtype)
    axis = 1 if outputs.ndim >= 2 else 0
    shifted = np.exp(outputs - outputs.max(axis=axis, keepdims=True))
    probabilities = shifted / shifted.sum(axis=axis, keepdims=True)
    uniform = to_device(draw.random(np.delete(outputs.shape, axis)), where)
    # inverse CDF: the sampled class is the number of cumulative probabilities below u
    below = np.cumsum(probabilities, axis=axis) < np.expand_dims(uniform, axis)
    classes = np.minimum(below.sum(axis=axis), outputs.shape[axis] - 1)
    onehot = to_device(np.arange(outputs.shape[axis]), where).reshape(
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
            params = conv_params("KFAC", x.shape, self.weight.data.shape, module.stride,
                                  module.padding, module.dilation, module.groups)
            return im2col(x, module.kernel_size, params)[:, 0], x.shape[0]
        return x.reshape(-1, x.shape[-1]), (x.shape[0] if x.ndim > 1 else 1)

    def add_inputs(self, x: np.ndarray) -> None:
        """``sum over rows of a a^T``, ``a = [x, 1]`` when the layer has a bias."""
        rows, examples = self.input_rows(x)
        k = rows.shape[1]
        if self.input_sum is None:
            size = k + (self.bias is not None)
            self.input_sum = namespace(rows).zeros_like(  # on the inputs' device
                rows, shape=(size, size), dtype=self.weight.data.dtype)
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
            rows = grad_matrix(grad if grad.ndim == 4 else grad[None])
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
        bias = None if self.bias is None else self.bias.grad
        return self.as_matrix(self.weight.grad.data, None if bias is None else bias.data)

    def as_matrix(self, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        """Arrays shaped as the weight and the bias (a missing bias: zeros) as one matrix."""
        matrix = weight_matrix(weight, 1)[0] if self.conv else weight
        if self.bias is None:
            return matrix
        if bias is None:
            bias = namespace(matrix).zeros_like(matrix, shape=(matrix.shape[0],))
        return np.concatenate([matrix, bias[:, None]], axis=1)

    def split(self, matrix: np.ndarray) -> dict:
        """The inverse of ``gradient_matrix``: ``{parameter: array}``."""
        k = matrix.shape[1] - (self.bias is not None)
        weight = matrix[:, :k]
        weight = weight_from_matrix(weight[None], self.weight.data.shape) if self.conv \
            else weight.reshape(self.weight.data.shape)
        parts = {self.weight: weight}
        if self.bias is not None:
            parts[self.bias] = matrix[:, k]
        return parts


def _forward_hook(optimizer_ref, layer):
    def hook(module, args, output):
        optimizer = optimizer_ref()
        if optimizer is not None and not optimizer._quiet and module.training \
                and is_grad_enabled() and isinstance(args[0], TensorBase) \
                and optimizer._collecting(layer):
            optimizer._record(layer, args[0].data, output)
    return hook


def _model_hook(optimizer_ref):
    """On the model itself: keep the call (the adaptive form re-runs it for the quadratic
    model) and sample the true Fisher's output gradients from its output, so that the plain
    ``zero_grad / backward / step`` loop needs no ``sample_fisher`` call."""
    def hook(module, args, kwargs, output):
        optimizer = optimizer_ref()
        if optimizer is None or optimizer._quiet or not module.training \
                or not is_grad_enabled():
            return
        optimizer._last_call = (args, kwargs)
        if optimizer.fisher == "true" and isinstance(output, TensorBase) \
                and output.requires_grad:
            optimizer.sample_fisher(output)
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
        V  = (G + r/pi I)^-1 M (A + pi r I)^-1                               'tikhonov'
             pi = sqrt((tr A / dim A) / (tr G / dim G))
        V  = Qg [(Qg^T M Qa) / (dg da^T + r^2)] Qa^T                          'eigen'
             (the exact (A (x) G + r^2 I)^-1 vec(M), A = Qa diag(da) Qa^T, G likewise)

    **Adaptive form** (``adaptive=True``, the default; Martens & Grosse, sections 6-7), with
    ``r = gamma`` and the gradient ``g`` including ``weight_decay * p`` (eta)::

        Delta = -V (every other parameter: -g);   delta = lr (alpha Delta + mu delta_prev)
        (alpha, mu) = argmin M(alpha Delta + mu delta_prev),
        M(d) = 1/2 d^T (C + (lambda + eta) I) d + g^T d     C: the exact Gauss-Newton matrix
                                                              of the minibatch (= its Fisher)
        every damping_update_freq = T1 steps:  rho = (h(theta + delta) - h(theta)) /
            (M_0(delta) - M_0(0)) (M_0: M without lambda);  lambda *= w1 if rho > 3/4,
            lambda /= w1 if rho < 1/4,  w1 = (19/20)^T1
        every gamma_update_freq = T2 steps: gamma <- the one of {gamma, w2 gamma, gamma / w2}
            (w2 = sqrt(19/20)^T2) whose update has the lowest M;  gamma starts at
            sqrt(lambda + eta)

    ``C v`` products come from the engine (``J v`` by the double-vjp trick: the model is re-run
    on the last training batch, once per step, no targets needed); ``lambda`` lives in
    ``param_groups[0]['damping']`` and ``gamma`` in ``['gamma']``, so ``state_dict`` keeps them;
    ``lr`` (default 1) scales the chosen update (a learning-rate schedule then still applies).
    The loss change ``h(theta + delta) - h(theta)`` needs the loss re-evaluated after the
    update: pass ``step(closure)`` as for ``LBFGS`` (the closure zeroes the gradients, runs the
    model, computes the loss, calls ``backward`` and returns the loss; ``fit`` does). Without a
    closure the steps work the same but ``lambda`` is not adapted (a ``RuntimeWarning`` says
    so once). ``last_step`` holds the step's ``alpha``, ``mu``, ``rho``, predicted change.

    **Fixed form** (``adaptive=False``, common K-FAC code), with ``r = sqrt(damping)``::

        nu = min(1, sqrt(kl_clip / (lr^2 sum_layers <V, M>)))
        d  = nu V + weight_decay W;   b <- momentum b + d (b = d at the first step);  W -= lr b

    A ``Conv2d`` layer (Grosse & Martens, KFC) uses the expanded patches as ``a`` and sums over
    the T output positions: ``A = E[sum_t a_t a_t^T]``, ``G = E[sum_t g_t g_t^T] / T``; a
    ``Linear`` applied to (N, T, d) inputs is treated the same way. Grouped convolutions and
    every parameter outside a ``Linear``/``Conv2d`` take the raw gradient's step (fixed form:
    momentum SGD, ``d = g + weight_decay p``; adaptive form: ``Delta = -g``).

    Fisher (``fisher``):

    * ``'true'`` (default): ``g`` from targets sampled from the model's predictive
      distribution (``likelihood``): one extra backward pass from the model's output, run by a
      hook when the model returns (in training mode with grad enabled, on steps that update
      the factors; ``.grad`` is untouched), so the plain loop needs no extra call. A model
      whose output is not one tensor, or is not what the loss takes, calls
      ``sample_fisher(outputs)`` itself after the forward pass and before ``loss.backward()``.
    * ``'empirical'``: ``g`` from the real loss, captured during ``loss.backward()`` by tensor
      hooks on the layers' outputs. A mean-reduced loss (``loss_reduction='mean'``, PyTorch's
      default) has per-example gradients ``B * dL/ds`` for a batch of B, which is used.

    The loss is taken to be the likelihood's negative log-likelihood averaged over the batch
    (``loss_reduction='sum'``: summed); the adaptive form's Gauss-Newton products use that
    curvature, so another scale (``F.mse_loss`` also averages over the outputs) is absorbed by
    ``alpha`` and the damping, not exactly.

    Factors are collected for steps 1, 1 + ``factor_update_freq``, ... (by the forward passes
    before them, in training mode with grad enabled; several forward passes before one step
    add up, as in gradient accumulation), and the inverses recomputed at steps 1,
    1 + ``inv_update_freq``, ... (T3), from float64 eigendecompositions, stored in the
    parameters' dtype. If a damped factor has a condition number above ``0.1 / eps`` of
    its dtype (8.4e5 in float32; for ``'eigen'``, the damped Kronecker product above its
    square), the small eigenvalues are raised to that floor, and a ``RuntimeWarning`` says so
    once per optimizer; a factor that cannot be decomposed (non-finite) keeps its previous
    inverse (a warning; counted in ``state[weight]['inverse_failures']``).

    Args:
        model: the ``Module`` to train; its parameters form the (single) parameter group and
            it and its ``Linear``/``Conv2d`` layers get hooks (``remove_hooks()``).
        lr: learning rate (default 1e-3; adaptive: the scale of the chosen update, default 1).
        damping: lambda (default 1e-3; adaptive: its initial value, default 150 as in Martens
            & Grosse, kept in [min_damping, max_damping]).
        stat_decay: the factors' running-average decay (default 0.95; 1 averages all batches).
        factor_update_freq: collect factors every this many steps (default 1).
        inv_update_freq: recompute the inverses every this many steps (default 20).
        kl_clip: fixed form: bound on ``lr^2 <V, M>`` (the step's predicted KL change), or None
            to disable (default 1e-3).
        momentum: fixed form: momentum factor (default 0.9); adaptive: 0 turns off the
            ``mu delta_prev`` term (mu is otherwise chosen by the quadratic model).
        weight_decay: L2 coefficient eta (default 0).
        fisher: ``'true'`` or ``'empirical'``.
        likelihood: ``'categorical'`` (softmax cross-entropy), ``'bernoulli'`` (sigmoid
            cross-entropy), ``'gaussian'`` (squared error ``||f - y||^2 / 2``), or a loss
            (``F.cross_entropy``, ``nn.BCEWithLogitsLoss()``, ...) to infer it from; needed
            for ``fisher='true'`` and for the adaptive form.
        damping_method: ``'tikhonov'`` (factored, with the pi correction; default) or
            ``'eigen'``.
        loss_reduction: ``'mean'`` or ``'sum'`` over the batch.
        generator: the ``lg.Generator`` for the sampled targets (default: the global one).
        adaptive: Martens & Grosse's adaptive form (default True) or the fixed form.
        damping_update_freq: T1 (default 5).  gamma_update_freq: T2 (default 20).
        gamma: the initial factored-Tikhonov damping (default ``sqrt(damping + weight_decay)``).
        min_damping, max_damping: the range of lambda (default 1e-8, 1e4); gamma stays in
            their square roots'.

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
        >>> opt = optim.KFAC(model, damping=1.0, likelihood="categorical")
        >>> x, y = lg.randn(32, 4), lg.randint(0, 3, (32,))
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = nn.functional.cross_entropy(model(x), y)
        ...     loss.backward()
        ...     return loss
        >>> losses = [opt.step(closure).item() for _ in range(10)]
        >>> losses[-1] < losses[0], opt.state[model[0].weight]["A"].shape
        (True, (5, 5))
    """

    rules = (AddL2Decay(), Momentum(), Descend())

    def __init__(self, model, lr=None, damping=None, stat_decay=0.95, factor_update_freq=1,
                 inv_update_freq=20, kl_clip=1e-3, momentum=0.9, weight_decay=0.0, *,
                 fisher="true", likelihood=None, damping_method="tikhonov",
                 loss_reduction="mean", generator=None, adaptive=True, damping_update_freq=5,
                 gamma_update_freq=20, gamma=None, min_damping=1e-8, max_damping=1e4):
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
        if adaptive and self.likelihood is None:
            raise ValueError(f"KFAC: the adaptive form's quadratic model needs the loss's "
                             f"curvature: give likelihood, one of {LIKELIHOODS} or the loss "
                             f"function (or use adaptive=False for the fixed-lr form)")
        if loss_reduction not in ("mean", "sum"):
            raise ValueError(f"KFAC: loss_reduction must be 'mean' or 'sum', got "
                             f"{loss_reduction!r}")
        if not 0.0 < float(min_damping) <= float(max_damping):
            raise ValueError(f"KFAC: need 0 < min_damping <= max_damping, got {min_damping} "
                             f"and {max_damping}")
        self.fisher = fisher
        self.loss_reduction = loss_reduction
        self.generator = generator
        self.adaptive = bool(adaptive)
        self.model = model
        if lr is None:
            lr = 1.0 if adaptive else 1e-3
        if damping is None:
            damping = 150.0 if adaptive else 1e-3
        defaults = dict(lr=lr, damping=damping, stat_decay=stat_decay,
                        factor_update_freq=factor_update_freq, inv_update_freq=inv_update_freq,
                        kl_clip=kl_clip, momentum=momentum, weight_decay=weight_decay,
                        damping_method=damping_method)
        if adaptive:
            defaults.update(damping_update_freq=damping_update_freq,
                            gamma_update_freq=gamma_update_freq,
                            gamma=math.sqrt(float(damping) + float(weight_decay))
                            if gamma is None else gamma,
                            min_damping=float(min_damping), max_damping=float(max_damping))
        self._layers = [_Layer(name, module) for name, module in model.named_modules()
                        if isinstance(module, (Linear, Conv2d))
                        and getattr(module, "groups", 1) == 1 and module.weight.requires_grad]
        if not self._layers:
            raise ValueError("KFAC: the model has no Linear or (ungrouped) Conv2d layer with a "
                             "trainable weight to precondition")
        super().__init__(list(model.parameters()), defaults)
        self._warned = set()
        self._quiet = False  # True while the optimizer re-runs the model itself
        self._last_call = None
        self.last_step = {}
        reference = weakref.ref(self)  # the hooks must not keep the optimizer alive...
        self._handles = [layer.module.register_forward_hook(_forward_hook(reference, layer))
                         for layer in self._layers]
        # after the layers' hooks: a model that is itself a layer records before it samples
        self._handles.append(model.register_forward_hook(_model_hook(reference),
                                                         with_kwargs=True))
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
        if "gamma" in group:  # the adaptive form
            for key in ("damping_update_freq", "gamma_update_freq"):
                check_positive_int(owner, key, group[key])
            if not float(group["gamma"]) > 0.0:
                raise ValueError(f"{owner}: gamma must be positive, got {group['gamma']!r}")

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
            closure: optional callable that zeroes the gradients, re-evaluates the model,
                computes the loss, calls ``backward`` and returns the loss (as for ``LBFGS``).
                The adaptive form calls it again after the update every ``damping_update_freq``
                steps, to adapt lambda from the loss's actual change (that call collects no
                statistics).

        Returns:
            The closure's (first) loss, or ``None``.
        """
        try:
            if self.adaptive:
                return self._adaptive_step(closure)
            return super().step(closure)
        finally:
            for layer in self._layers:
                layer.clear()
            self._last_call = None

    def _check_sampled(self, members) -> None:
        for layer in self._layers:  # checked before anything changes
            if self.fisher == "true" and layer.outputs and id(layer.weight) in members:
                raise RuntimeError(
                    f"KFAC.step: layer '{layer.name}' collected its inputs for a factor update "
                    f"but no output gradients: the model's output is not one tensor attached "
                    f"to the graph, so call optimizer.sample_fisher(outputs) with the tensor "
                    f"the loss takes, after the forward pass and before loss.backward()")

    def _refresh_layer(self, layer, group) -> dict | None:
        """Count the step, fold in the factors and refresh the inverses when due; the layer's
        state, or None while it has no factors (it then takes the raw gradient)."""
        state = self.state[layer.weight]
        state["step"] = state.get("step", 0) + 1
        if layer.input_count and layer.gradient_count:
            self._update_factors(layer, state, group)
        if "A" not in state:
            return None
        if (state["step"] - 1) % int(group["inv_update_freq"]) == 0 \
                or not any(key in state for key in ("A_inverse", "A_eigenvectors")):
            self._update_inverses(layer, state, group)
        return state

    def _update_group(self, group: dict) -> None:
        members = {id(p) for p in group["params"]}
        self._check_sampled(members)
        natural, inner = {}, 0.0
        for layer in self._layers:
            if id(layer.weight) not in members or layer.weight.grad is None:
                continue
            state = self._refresh_layer(layer, group)
            if state is None:
                continue  # no factors yet: the raw gradient
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

    # ---- the adaptive form (Martens & Grosse, sections 6-7) --------------------------------

    def _adaptive_step(self, closure):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._opt_called = True
        group = self.param_groups[0]  # the model's parameters: one group
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        if not params:
            return loss
        self._check_sampled({id(p) for p in params})
        if self._last_call is None:
            raise RuntimeError("KFAC.step: the adaptive form re-runs the model on the batch of "
                               "its last forward pass (for the quadratic model), but the model "
                               "was not called in training mode with grad enabled before this "
                               "step; run model(inputs) before step(), or use adaptive=False")
        eta = float(group["weight_decay"])
        grads = {p: p.grad.data + eta * p.data if eta else p.grad.data for p in params}
        layers = []
        for layer in self._layers:
            if layer.weight.grad is not None:
                state = self._refresh_layer(layer, group)
                if state is not None:
                    layers.append((layer, state))
        step = self.state[self._layers[0].weight].get("step", 1)
        gamma = float(group["gamma"])
        low, high = math.sqrt(group["min_damping"]), math.sqrt(group["max_damping"])
        roots = [gamma]
        if step % int(group["gamma_update_freq"]) == 0:
            factor = math.sqrt(19.0 / 20.0) ** int(group["gamma_update_freq"])
            roots += [min(max(r, low), high) for r in (gamma * factor, gamma / factor)]
        proposals = [self._proposal(layers, grads, group, root) for root in roots]
        previous = None
        if float(group["momentum"]) != 0.0 and all("delta" in self.state[p] for p in params):
            previous = {p: self.state[p]["delta"] for p in params}
        args, kwargs = self._last_call
        outputs, products = quadratic.output_jvps(lambda: self._rerun(args, kwargs), params,
                                                  proposals + ([previous] if previous else []))
        form = quadratic.curvature_form(outputs, self.likelihood, self.loss_reduction)
        damping = float(group["damping"])
        best = None
        for index, proposal in enumerate(proposals):
            basis = [proposal] + ([previous] if previous else [])
            jvps = [products[index]] + ([products[-1]] if previous else [])
            size = len(basis)
            curvature = np.array([[form(jvps[i], jvps[j]) for j in range(size)]
                                  for i in range(size)])
            norms = np.array([[_dot(basis[i], basis[j], params) for j in range(size)]
                              for i in range(size)])
            gradient = np.array([_dot(grads, b, params) for b in basis])
            curvature = _mean_over_ranks(curvature)
            undamped = curvature + eta * norms
            damped = undamped + damping * norms
            x = quadratic.solve_step(damped, gradient)
            value = quadratic.model_value(x, damped, gradient)
            if best is None or value < best[0]:
                best = (value, index, x, undamped, gradient, basis)
        _, index, x, undamped, gradient, basis = best
        group["gamma"] = roots[index]
        lr = float(group["lr"])
        before = {p: p.data.copy() for p in params} if eta else None
        for p in params:
            delta = float(x[0]) * basis[0][p]  # (Python floats keep the parameters' dtype)
            if previous:
                delta = delta + float(x[1]) * basis[1][p]
            delta = (lr * delta).astype(p.data.dtype, copy=False)
            p.data += delta
            p._version[0] += 1
            self.state[p]["delta"] = delta
        predicted = quadratic.model_value(lr * x, undamped, gradient)
        self.last_step = {"alpha": float(x[0]), "mu": float(x[1]) if previous else 0.0,
                          "gamma": roots[index], "damping": damping, "predicted": predicted,
                          "rho": None}
        if step % int(group["damping_update_freq"]) == 0:
            self._adapt_damping(group, closure, loss, predicted, before, params)
        return loss

    def _rerun(self, args, kwargs):
        self._quiet = True
        try:
            return self.model(*args, **kwargs)
        finally:
            self._quiet = False

    def _proposal(self, layers, grads, group, root) -> dict:
        """``Delta = -(damped K-FAC inverse) g`` for the factored damping ``root`` (gamma); the
        parameters outside the preconditioned layers take ``-g``."""
        delta = {p: -g for p, g in grads.items()}
        for layer, state in layers:
            bias = None if layer.bias is None else grads.get(layer.bias)
            matrix = layer.as_matrix(grads[layer.weight], bias)
            direction = self._precondition(layer, state, group, matrix, root)
            if direction is not None:
                delta.update({p: -v for p, v in layer.split(direction).items()})
        return delta

    def _adapt_damping(self, group, closure, loss, predicted, before, params) -> None:
        """Martens & Grosse's Levenberg-Marquardt rule from the reduction ratio rho."""
        if closure is None or loss is None:
            self._warn_once("closure", "KFAC: step() without a closure keeps the damping "
                                       "lambda fixed: adapting it needs the loss re-evaluated "
                                       "after the update; pass step(closure) as for LBFGS "
                                       "(shown once per optimizer)")
            return
        self._quiet = True
        try:
            with enable_grad():
                after = closure()
        finally:
            self._quiet = False
        old, new = _mean_over_ranks(np.array([float(loss), float(after)]))
        change = new - old
        eta = float(group["weight_decay"])
        if eta:  # the l2 term is part of the objective the model predicts
            for p in params:
                change += eta * (float(np.vdot(p.data, p.data)) -
                                 float(np.vdot(before[p], before[p]))) / 2.0
        rho = change / predicted if predicted < 0.0 else -math.inf
        if not math.isfinite(rho):
            rho = -math.inf
        factor = (19.0 / 20.0) ** int(group["damping_update_freq"])
        damping = float(group["damping"])
        if rho > 0.75:
            damping *= factor
        elif rho < 0.25:
            damping /= factor
        group["damping"] = min(max(damping, group["min_damping"]), group["max_damping"])
        self.last_step["rho"] = float(rho)

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
        keep_eigen = group["damping_method"] == "eigen" or self.adaptive
        if keep_eigen:  # (the adaptive form rebuilds its trial inverses from them)
            state["A_eigenvalues"], state["G_eigenvalues"] = a_values, g_values
            state["A_eigenvectors"] = a_vectors.astype(dtype)
            state["G_eigenvectors"] = g_vectors.astype(dtype)
        else:
            for key in ("A_eigenvalues", "G_eigenvalues", "A_eigenvectors", "G_eigenvectors"):
                state.pop(key, None)
        if group["damping_method"] == "eigen":
            for key in ("A_inverse", "G_inverse"):
                state.pop(key, None)
            return
        state["A_inverse"], state["G_inverse"] = self._tikhonov_inverses(
            layer, (a_values, a_vectors, g_values, g_vectors), self._root(group), dtype, group)
        if self.adaptive:
            state["inverse_root"] = self._root(group)

    def _root(self, group) -> float:
        """The factored damping r: gamma in the adaptive form, sqrt(damping) in the fixed."""
        return float(group["gamma"]) if self.adaptive else math.sqrt(float(group["damping"]))

    def _tikhonov_inverses(self, layer, eigen, root: float, dtype, group):
        """``(A + pi r I)^-1`` and ``(G + r / pi I)^-1`` from the factors' eigenpairs."""
        a_values, a_vectors, g_values, g_vectors = eigen
        a_mean, g_mean = a_values.mean(), g_values.mean()
        pi = math.sqrt(a_mean / g_mean) if a_mean > 0.0 and g_mean > 0.0 else 1.0
        inverses = []
        for values, vectors, shift in ((a_values, a_vectors, pi * root),
                                       (g_values, g_vectors, root / pi)):
            values = self._floor(layer, values + shift, dtype, group)
            inverses.append(from_eigen(vectors, 1.0 / values).astype(dtype))
        return inverses

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

    def _precondition(self, layer, state, group, matrix: np.ndarray,
                      root: float | None = None) -> np.ndarray | None:
        """The damped K-FAC inverse applied to ``matrix``, with the factored damping ``root``
        (default: the group's)."""
        root = self._root(group) if root is None else root
        if "A_inverse" in state:
            if self.adaptive and root != state.get("inverse_root"):  # a trial gamma
                eigen = tuple(state[f"{k}_{part}"] for k in ("A", "G")
                              for part in ("eigenvalues", "eigenvectors"))
                a_inverse, g_inverse = self._tikhonov_inverses(layer, eigen, root,
                                                               matrix.dtype, group)
                return g_inverse @ matrix @ a_inverse
            return state["G_inverse"] @ matrix @ state["A_inverse"]
        if "A_eigenvectors" not in state:
            return None  # never decomposed (the first decomposition failed): raw gradient
        a_vectors, g_vectors = state["A_eigenvectors"], state["G_eigenvectors"]
        rotated = g_vectors.T @ matrix @ a_vectors
        rotated /= self._denominator(layer, state, group, matrix.dtype, root * root)
        return g_vectors @ rotated @ a_vectors.T

    def _denominator(self, layer, state, group, dtype, damping: float) -> np.ndarray:
        """``dg da^T + damping``, floored; cached on the layer until the eigenvalues or the
        damping change (it costs several passes over an out x in array)."""
        g_values, a_values = state["G_eigenvalues"], state["A_eigenvalues"]
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


def _dot(u: dict, v: dict, params) -> float:
    """``sum_p <u[p], v[p]>`` in float64."""
    return float(sum(np.vdot(u[p].astype(np.float64, copy=False), v[p]) for p in params))


def _mean_over_ranks(values: np.ndarray) -> np.ndarray:
    """``values`` averaged over the ranks of an initialised multi-rank process group (each
    rank's quadratic model and losses are its shard's), else as they are."""
    import sys
    group = sys.modules.get("locograd.distributed.process_group")
    if group is None or not group.is_initialized() or group.get_world_size() == 1:
        return values
    values = np.array(values, dtype=np.float64)
    group.all_reduce(values, group.ReduceOp.SUM)
    return values / group.get_world_size()

"""``LocoProp``: training a network as a set of independent layer-local problems."""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import ops
from ..autograd.engine import grad as autograd_grad
from ..autograd.grad_mode import enable_grad
from ..autograd.tensor_base import TensorBase, new_tensor
from ..factory import as_tensor
from ..optim import lr_scheduler
from ..optim.optimizer import Optimizer, Workspace, check_non_negative
from .inner import INNER_OPTIMIZERS, inner_param_like_keys
from .layers import check_softmax_dim, decompose
from .matching import local_gradients, local_residual

__all__ = ["LocoProp", "WarmupLinearDecay", "reference_schedule"]

_VARIANTS = ("S", "M")


class LocoProp(Optimizer):
    """LocoProp: every layer is trained on its own local loss towards a target set by backprop.

    One step on a minibatch (Amid, Anil & Warmuth, Algorithm 1, in the form of the reference
    code):

    1. One forward and one backward pass give, for every layer ``m`` (``a_m = x_(m-1) W_m^T +
       b_m``, ``x_m = f_m(a_m)``), its input ``x_(m-1)``, its pre-activation ``a_m`` and
       ``g_m = dL/da_m``: the gradient of the loss in the *pre*-activation (also for -M).
    2. Each layer gets a target: ``a_m - gamma g_m`` for LocoProp-S (squared local loss on the
       pre-activation) or ``f_m(a_m) - gamma g_m`` for LocoProp-M (the matching loss of
       ``f_m``, a Bregman divergence; see ``locoprop.matching``).
    3. Each layer runs ``inner_steps`` steps of the inner optimiser on its local loss, in its
       own weights only, with the input ``x_(m-1)`` frozen. The local gradients are in closed
       form and *summed* over the batch (no autograd)::

           W:  (r^T x_(m-1)) [+ (W - W_t) / prox],   b:  sum_rows r [+ (b - b_t) / prox]
           r = z - target (S)  or  f(z) - target (M),   z = x_(m-1) W^T + b

       At ``W = W_t``, ``r = gamma g_m``: the first inner gradient is ``gamma`` times the
       backprop gradient (``g_m`` carries the loss's 1/batch), so the first inner step is a
       backprop step. The inner learning rate of step ``k`` is ``lr * max(1 - k/T, 0.25)``
       (``inner_lr_decay``; ``T = inner_steps``), ``lr`` being the group's (schedulable) rate.

    The local problems only read the frozen forward and backward results, so the layers are
    independent and are solved in parallel threads (``parallel``; NumPy's BLAS and ufuncs
    release the GIL). Each layer runs exactly the arithmetic of a sequential solve, so the
    result is the same bit for bit: the tests check it, and with OpenBLAS 0.3.31 concurrent
    GEMMs gave the bits of sequential ones in every trial, also on the full autoencoder with a
    1- and a 2-thread BLAS. Results do depend on the BLAS thread count, as for any NumPy code
    (1 thread and 2 differ in the last bits): fix ``OPENBLAS_NUM_THREADS`` for runs that must
    match across machines. The threads pay off with a one-thread BLAS; with a multi-threaded
    BLAS the layer threads and the BLAS threads compete for the same cores. Measured on 2 idle
    cores, one step of the deep MNIST autoencoder (batch 1000): 0.73 s with threads and
    ``OPENBLAS_NUM_THREADS=1``, 1.28 s without threads; 0.71 s without threads on a 2-thread
    BLAS, 1.04 s with both.

    The inner optimiser's state lives in ``state[param]`` and is never reset: it carries across
    inner steps, minibatches and epochs, as in the reference code. ``inner_optimizer``:

    * ``'rmsprop'`` (default): TensorFlow 1's RMSProp, the reference code's (mean square starting
      at 1, ``eps`` inside the square root, momentum on the lr-scaled step; ``locoprop.inner``),
      defaults ``alpha=0.9, momentum=0.999, eps=1e-5`` (the reference flags);
    * ``'rmsprop_torch'``, ``'sgd'``, ``'momentum'``, ``'nesterov'``, ``'adam'``, ``'adagrad'``:
      PyTorch's update rules; ``inner_options`` overrides their hyper-parameters.

    Args:
        model: an ``nn.Sequential`` of ``Linear`` layers and transfer functions (see
            ``locoprop.layers``); a clear error names a module that does not fit. Parameters
            with ``requires_grad=False`` stay as they are.
        loss_fn: ``loss_fn(output, targets)``, a scalar (e.g. averaged over the batch).
        variant: ``'M'`` (matching loss on the post-activation; default) or ``'S'``.
        gamma: the step towards the target, ``gamma`` (the reference's
            ``activation_learning_rate``; default 10).
        inner_steps: local steps per minibatch (default 10).
        inner_lr: the inner optimiser's base learning rate, ``param_groups[0]['lr']``, which
            learning-rate schedulers change (default 1e-5, the reference's with 'rmsprop').
        inner_optimizer: the name of the inner optimiser (default ``'rmsprop'``).
        inner_options: a dict overriding the inner optimiser's hyper-parameters.
        inner_lr_decay: decay the inner rate within a step as above (default True).
        prox: ``eta`` of the proximal term ``||W - W_t||^2 / (2 eta)``, or None (default: none,
            as in the reference code).
        parallel: solve the layers in threads (default True).
        max_workers: the number of threads (default: the CPUs this process may use, at most one
            per layer).
        output_transfer: the last layer's transfer function when the loss applies it (inferred
            for ``BCEWithLogitsLoss`` (sigmoid), ``CrossEntropyLoss`` (softmax) and ``MSELoss``
            (identity), functional forms included).

    Attributes:
        needs_batch: True: ``step(inputs, targets)`` runs the forward and backward passes itself
            (``locograd.train.fit`` calls it so).
        layers: the ``LocalLayer``s, in forward order.
        outer_steps: the number of ``step`` calls so far (saved in ``state_dict``).
        solve_seconds: the wall-clock seconds of each layer's local solve in the last ``step``,
            in forward order (0 for a frozen layer).
        solve_phase_seconds: the wall-clock seconds of all the solves of the last ``step``
            together (their sum when sequential, less with threads). The step's time less this,
            plus ``max(solve_seconds)``, is the step time on a machine with one core per layer.

    Deliberate differences from the reference code: none in the update; the warm-up of its
    outer schedule is in ``reference_schedule``, which by default starts at ``lr / 5`` instead
    of the reference's zero in the first epoch (``zero_first_epoch=True`` reproduces it).

    References:
        Amid, Anil & Warmuth, "LocoProp: Enhancing BackProp via Local Loss Optimization",
        AISTATS 2022, arXiv:2106.06199.

    Example:
        >>> import locograd as lg
        >>> from locograd import nn
        >>> from locograd.locoprop import LocoProp
        >>> _ = lg.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 6))
        >>> opt = LocoProp(model, nn.BCEWithLogitsLoss(), inner_lr=1e-3)
        >>> x = lg.rand(32, 6)
        >>> losses = [opt.step(x, x) for _ in range(20)]
        >>> losses[-1] < losses[0], [layer.transfer.name for layer in opt.layers]
        (True, ['tanh', 'sigmoid'])
    """

    needs_batch = True

    def __init__(self, model, loss_fn, variant="M", gamma=10.0, inner_steps=10, inner_lr=1e-5,
                 inner_optimizer="rmsprop", inner_options=None, inner_lr_decay=True, prox=None,
                 parallel=True, max_workers=None, output_transfer=None):
        if not callable(loss_fn):
            raise TypeError(f"LocoProp: loss_fn must be callable, got {type(loss_fn).__name__}")
        if inner_optimizer not in INNER_OPTIMIZERS:
            raise ValueError(f"LocoProp: unknown inner_optimizer {inner_optimizer!r}; choose one "
                             f"of {sorted(INNER_OPTIMIZERS)}")
        options = dict(INNER_OPTIMIZERS[inner_optimizer].defaults)
        unknown = sorted(set(inner_options or {}) - set(options))
        if unknown:
            raise ValueError(f"LocoProp: inner_options {unknown} are not hyper-parameters of "
                             f"the inner optimizer {inner_optimizer!r}, which has "
                             f"{sorted(options)}")
        options.update(inner_options or {})
        if max_workers is not None and (isinstance(max_workers, bool)
                                        or not isinstance(max_workers, int) or max_workers < 1):
            raise ValueError(f"LocoProp: max_workers must be a positive int or None, got "
                             f"{max_workers!r}")
        self._prefix, self.layers = decompose(model, loss_fn, output_transfer)
        self.model, self.loss_fn = model, loss_fn
        self.parallel, self.max_workers = bool(parallel), max_workers
        self.outer_steps = 0
        self.solve_seconds = [0.0] * len(self.layers)
        self.solve_phase_seconds = 0.0
        params = [p for layer in self.layers for p in layer.trainable_parameters()]
        if not params:
            raise ValueError("LocoProp: every Linear layer of the model is frozen "
                             "(requires_grad=False); there is nothing to train")
        defaults = dict(lr=inner_lr, variant=variant, gamma=gamma, inner_steps=inner_steps,
                        inner_optimizer=inner_optimizer, inner_lr_decay=inner_lr_decay,
                        prox=prox, **options)
        self._constructed = False
        super().__init__(params, defaults)
        self._constructed = True

    # ---- configuration -----------------------------------------------------------------------

    def add_param_group(self, param_group: dict) -> None:
        if getattr(self, "_constructed", False):
            raise RuntimeError("LocoProp.add_param_group: LocoProp's parameters are the model's "
                               "Linear layers, fixed at construction")
        super().add_param_group(param_group)

    def _check_group(self, group):
        owner = "LocoProp"
        if group["variant"] not in _VARIANTS:
            raise ValueError(f"{owner}: variant must be 'S' or 'M', got {group['variant']!r}")
        check_non_negative(owner, "lr", group["lr"])
        check_non_negative(owner, "gamma", group["gamma"])
        steps = group["inner_steps"]
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"{owner}: inner_steps must be an int >= 1, got {steps!r}")
        prox = group["prox"]
        if prox is not None:
            check_non_negative(owner, "prox", prox)
            if not float(prox) > 0:
                raise ValueError(f"{owner}: prox (eta of ||W - W_t||^2 / (2 eta)) must be > 0 or "
                                 f"None, got {prox!r}")
        name = group["inner_optimizer"]
        if name not in INNER_OPTIMIZERS:
            raise ValueError(f"{owner}: unknown inner_optimizer {name!r}; choose one of "
                             f"{sorted(INNER_OPTIMIZERS)}")
        spec = INNER_OPTIMIZERS[name]
        missing = sorted(set(spec.defaults) - set(group))
        if missing:
            raise ValueError(f"{owner}: the group lacks the hyper-parameters {missing} of the "
                             f"inner optimizer {name!r}")
        spec.check(f"{owner} (inner {name})", group)

    def _param_like_keys(self) -> set:
        return inner_param_like_keys()

    # ---- the step ----------------------------------------------------------------------------

    def step(self, inputs, targets):
        """One LocoProp update on the minibatch ``(inputs, targets)``.

        Args:
            inputs: the model's input (a tensor or an array).
            targets: the loss's second argument.

        Returns:
            The minibatch loss before the update, as a float.
        """
        self.check_hyperparameters()  # gamma, lr, ... may have been changed since construction
        self._opt_called = True
        group = self.param_groups[0]
        with enable_grad():
            output, layer_inputs, pre_activations = self._forward(inputs)
            loss = self.loss_fn(output, as_tensor(targets))
            if not isinstance(loss, TensorBase) or loss.data.size != 1:
                shape = getattr(getattr(loss, "data", None), "shape", type(loss).__name__)
                raise ValueError(f"LocoProp.step: loss_fn must return a scalar tensor, got "
                                 f"{shape}")
            gradients = autograd_grad(loss, pre_activations)
        jobs = []
        for layer, x, a, g in zip(self.layers, layer_inputs, pre_activations, gradients):
            for p in layer.trainable_parameters():  # created here, not in the worker threads
                self.state[p]
                workspace = self._workspaces.get(p)
                if workspace is None or not workspace.fits(p.data):
                    self._workspaces[p] = Workspace(p.data)
            rows = x.reshape(-1, x.shape[-1])
            jobs.append((len(jobs), layer, rows, a.data.reshape(len(rows), -1),
                         g.data.reshape(len(rows), -1)))
        workers = min(len(jobs), self.max_workers or _available_cpus())
        started = time.perf_counter()
        if self.parallel and workers > 1:
            # the largest layers first, so that the small ones fill the gaps
            order = sorted(jobs, key=lambda job: -job[1].linear.weight.data.size)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(self._timed_solve, group, *job) for job in order]
                for future in futures:
                    future.result()
        else:
            for job in jobs:
                self._timed_solve(group, *job)
        self.solve_phase_seconds = time.perf_counter() - started
        self.outer_steps += 1
        return float(loss.data)

    def _timed_solve(self, group, index, layer, inputs, pre_activation, gradient):
        started = time.perf_counter()
        self._solve(group, layer, inputs, pre_activation, gradient)
        self.solve_seconds[index] = time.perf_counter() - started

    def _forward(self, inputs):
        """The model's forward pass, recording each layer's input and pre-activation.

        The weights enter as plain tensors (views of the parameters' arrays, not requiring
        grad), so the backward pass computes the gradients in the pre-activations only, not
        the weight gradients that LocoProp does not use.
        """
        x = as_tensor(inputs).detach()
        for module in self._prefix:
            x = module(x)
        layer_inputs, pre_activations = [], []
        for index, layer in enumerate(self.layers):
            linear = layer.linear
            bias = None if linear.bias is None else new_tensor(linear.bias.data)
            a = ops.linear(x, new_tensor(linear.weight.data), bias)
            if index == 0:
                a.requires_grad_()  # a leaf: the gradient stops here
            layer_inputs.append(x.data)
            pre_activations.append(a)
            if layer.activation is not None:
                check_softmax_dim(layer, a.data.ndim)
                x = layer.activation(a)
            else:
                x = a
        return x, layer_inputs, pre_activations

    def _solve(self, group, layer, inputs, pre_activation, gradient):
        """Run the inner loop of one layer's local problem (reads nothing another layer writes).
        """
        weight = layer.linear.weight
        bias = layer.linear.bias
        params = layer.trainable_parameters()
        if not params:
            return  # a frozen layer
        train_bias = params[-1] is bias
        rules = INNER_OPTIMIZERS[group["inner_optimizer"]].rules
        steps = int(group["inner_steps"])
        lr = float(group["lr"])
        variant = group["variant"]
        transfer = layer.transfer
        first_residual = gradient * float(group["gamma"])
        if variant == "S":
            target = pre_activation - first_residual
        else:
            target = transfer(pre_activation)
            target -= first_residual
        prox = group["prox"]
        anchors = None if prox is None else [p.data.copy() for p in params]
        grads = [np.empty_like(p.data) for p in params]
        z = np.empty_like(pre_activation)
        states = [self.state[p] for p in params]
        workspaces = [self._workspaces[p] for p in params]
        for k in range(steps):
            if k == 0:
                # z = a_m here, so the residual is gamma * g_m exactly (no cancellation)
                residual = first_residual
            else:
                np.matmul(inputs, weight.data.T, out=z)
                if bias is not None:
                    z += bias.data
                residual = local_residual(z, target, transfer, variant, out=z)
            if weight.requires_grad:
                local_gradients(inputs, residual, train_bias, *grads)
            else:
                np.sum(residual, axis=0, out=grads[0])
            if anchors is not None:
                for p, g, anchor in zip(params, grads, anchors):
                    g += (p.data - anchor) * (1.0 / float(prox))
            rate = lr * max(1.0 - k / steps, 0.25) if group["inner_lr_decay"] else lr
            inner_group = dict(group, lr=rate)
            for p, g, state, workspace in zip(params, grads, states, workspaces):
                direction, scale = g, 1.0
                for rule in rules:
                    direction, scale = rule.update(direction, scale, p.data, state,
                                                   inner_group, workspace)
        for p in params:
            p._version[0] += 1

    # ---- saving and resuming -----------------------------------------------------------------

    def state_dict(self) -> dict:
        """The inner optimisers' states and hyper-parameters (``Optimizer.state_dict``'s layout)
        plus ``'outer_steps'``; loading it resumes training bit for bit.

        Example:
            >>> import locograd as lg
            >>> from locograd import nn
            >>> from locograd.locoprop import LocoProp
            >>> model = nn.Sequential(nn.Linear(3, 2), nn.Sigmoid())
            >>> opt = LocoProp(model, nn.MSELoss(), inner_steps=2)
            >>> _ = opt.step(lg.ones(4, 3), lg.zeros(4, 2))
            >>> sd = opt.state_dict(); sd["outer_steps"], sorted(sd["state"][0])
            (1, ['mom', 'ms', 'step'])
        """
        state = super().state_dict()
        state["outer_steps"] = self.outer_steps
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state from ``state_dict()`` (the model's weights are the model's own)."""
        super().load_state_dict(state_dict)
        self.outer_steps = int(state_dict.get("outer_steps", 0))


def _available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class WarmupLinearDecay:
    """The reference code's outer schedule, a factor of the base learning rate per epoch ``e``::

        (e + 1) / warmup_epochs               for e < warmup_epochs   (e / warmup_epochs with
                                              zero_first_epoch: no training in epoch 0)
        1 - (e + 1 - warmup_epochs) / (total_epochs - warmup_epochs)   afterwards, floored at 0

    The reference runs 99 epochs of a 100-epoch schedule, so its last factor is 1/95.

    Example:
        >>> schedule = WarmupLinearDecay(warmup_epochs=2, total_epochs=6)
        >>> [schedule(e) for e in range(6)]
        [0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    def __init__(self, warmup_epochs: int = 5, total_epochs: int = 100,
                 zero_first_epoch: bool = False):
        if warmup_epochs < 0 or total_epochs <= warmup_epochs:
            raise ValueError(f"WarmupLinearDecay: need 0 <= warmup_epochs < total_epochs, got "
                             f"{warmup_epochs} and {total_epochs}")
        self.warmup_epochs = int(warmup_epochs)
        self.total_epochs = int(total_epochs)
        self.zero_first_epoch = bool(zero_first_epoch)

    def __call__(self, epoch: int) -> float:
        if epoch < self.warmup_epochs:
            return (epoch + (0 if self.zero_first_epoch else 1)) / self.warmup_epochs
        decay = (epoch + 1 - self.warmup_epochs) / (self.total_epochs - self.warmup_epochs)
        return max(1.0 - decay, 0.0)


def reference_schedule(optimizer, warmup_epochs: int = 5, total_epochs: int = 100,
                       zero_first_epoch: bool = False):
    """A ``LambdaLR`` with ``WarmupLinearDecay``: call its ``step()`` once per epoch.

    Works with any optimiser (LocoProp's ``lr`` is its inner base rate).

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> opt = optim.SGD([lg.nn.Parameter(lg.zeros(1))], lr=1.0)
        >>> schedule = reference_schedule(opt, zero_first_epoch=True)
        >>> opt.param_groups[0]["lr"]  # the reference code does not train in epoch 0
        0.0
    """
    return lr_scheduler.LambdaLR(
        optimizer, WarmupLinearDecay(warmup_epochs, total_epochs, zero_first_epoch))

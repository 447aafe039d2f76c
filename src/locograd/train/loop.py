"""``fit``: the training loop, and ``evaluate`` and ``accuracy`` that it uses."""
from __future__ import annotations

import inspect
import os
import sys
import time

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.tensor_base import TensorBase
from ..backend import manual_seed
from ..nn.utils.clip_grad import clip_grad_norm_
from ..optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau
from .callbacks import Callback, FitState, Progress, as_early_stopping, is_finite
from .checkpoint import (CHECKPOINT_NAME, checkpoint_path, collect_generators,
                         load_checkpoint, restore, save_checkpoint)
from .history import History, plot_history, write_csv

__all__ = ["fit", "evaluate", "accuracy", "NonFiniteLossError"]

#: schedules whose steps count batches, not epochs
_PER_BATCH_SCHEDULERS = (OneCycleLR,)


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite (the run diverged)."""


def accuracy(outputs, targets) -> float:
    """Share of samples whose largest output (along dim 1, the class dimension) is the target.

    Args:
        outputs: scores ``(N, C)`` or ``(N, C, d1, ...)`` (logits or probabilities).
        targets: class indices ``(N,)`` or ``(N, d1, ...)``.

    Returns:
        The accuracy as a float in [0, 1].

    Example:
        >>> import locograd as lg
        >>> accuracy(lg.tensor([[0.1, 0.9], [0.8, 0.2]]), lg.tensor([1, 1]))
        0.5
    """
    out = outputs.data if isinstance(outputs, TensorBase) else np.asarray(outputs)
    tgt = targets.data if isinstance(targets, TensorBase) else np.asarray(targets)
    if out.ndim < 2 or out.shape[:1] + out.shape[2:] != tgt.shape or tgt.dtype.kind not in "iu":
        raise ValueError(f"accuracy: expected scores (N, C, ...) and integer class targets "
                         f"(N, ...), got outputs {out.shape} {out.dtype} and targets "
                         f"{tgt.shape} {tgt.dtype}")
    return float(np.mean(out.argmax(1) == tgt))


def _split_batch(batch, where: str):
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    kind = f"a {len(batch)}-element {type(batch).__name__}" \
        if isinstance(batch, (tuple, list)) else f"a {type(batch).__name__}"
    raise ValueError(f"{where}: each batch must be an (inputs, targets) pair, got {kind}")


def _forward(model, inputs):
    return model(*inputs) if isinstance(inputs, (tuple, list)) else model(inputs)


def model_device(model):
    """The device of the model's first parameter or buffer when it is not the CPU, else None
    (the host: batches are used as they come)."""
    if not hasattr(model, "parameters"):
        return None
    for tensors in (model.parameters(), model.buffers()):
        for t in tensors:
            dev = t.device
            return None if dev.type == "cpu" else dev
    return None


def to_model_device(value, dev):
    """A batch (tensors, in tuples, lists and dicts) on device ``dev`` (None: as it is), as a
    PyTorch loop's ``x.to(device)``; anything else is left as it is."""
    if dev is None:
        return value
    if isinstance(value, TensorBase):
        return value.to(dev)
    if isinstance(value, (tuple, list)):
        return type(value)(to_model_device(v, dev) for v in value)
    if isinstance(value, dict):
        return {k: to_model_device(v, dev) for k, v in value.items()}
    return value


def _describe(value) -> str:
    if isinstance(value, TensorBase):
        return f"shape {tuple(value.shape)} ({value.data.dtype})"
    return type(value).__name__


def _compute_loss(loss_fn, outputs, targets, where: str):
    """``loss_fn(outputs, targets)``, with the shapes checked and named when they disagree."""
    if isinstance(outputs, TensorBase) and isinstance(targets, TensorBase):
        out, tgt = outputs.data, targets.data
        if out.ndim and tgt.ndim and out.shape[0] != tgt.shape[0]:
            raise ValueError(f"{where}: the model's output has batch size {out.shape[0]} "
                             f"({_describe(outputs)}) but the targets have {tgt.shape[0]} "
                             f"({_describe(targets)})")
        if tgt.dtype.kind == "f" and out.ndim == tgt.ndim and out.shape != tgt.shape:
            raise ValueError(f"{where}: the model's output ({_describe(outputs)}) and the "
                             f"targets ({_describe(targets)}) differ in shape; the loss would "
                             f"broadcast them silently")
    try:
        loss = loss_fn(outputs, targets)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{where}: the loss failed on the model's output "
                          f"({_describe(outputs)}) and the targets ({_describe(targets)}): "
                          f"{error}") from error
    if not isinstance(loss, TensorBase) or loss.data.size != 1:
        raise ValueError(f"{where}: loss_fn must return a scalar tensor, got "
                         f"{_describe(loss)}")
    return loss


def _batch_size(targets) -> int:
    if isinstance(targets, TensorBase) and targets.data.ndim:
        return int(targets.data.shape[0])
    if isinstance(targets, (tuple, list)) and targets:
        return _batch_size(targets[0])
    return 1


def _accepts_closure(optimizer) -> bool:
    try:
        parameters = inspect.signature(optimizer.step).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               for p in parameters)


def _gradients_finite(parameters) -> bool:
    return all(p.grad is None or bool(np.isfinite(p.grad.data).all()) for p in parameters)


def _process_group():
    """``locograd.distributed.process_group`` when a multi-rank group is initialised, else
    None. A group can only exist if that module was imported, so it is never imported here."""
    group = sys.modules.get("locograd.distributed.process_group")
    if group is None or not group.is_initialized() or group.get_world_size() == 1:
        return None
    return group


def _current_lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        return float(groups[0]["lr"])
    lr = getattr(optimizer, "lr", None)
    return float(lr) if isinstance(lr, (int, float)) else None


class _Averages:
    """Running means of the loss and metrics, weighted by the batch size."""

    def __init__(self):
        self.totals: dict[str, float] = {}
        self.samples = 0

    def add(self, values: dict, n: int) -> None:
        self.samples += n
        for key, value in values.items():
            self.totals[key] = self.totals.get(key, 0.0) + float(value) * n

    def means(self, prefix: str) -> dict:
        return {prefix + k: v / max(self.samples, 1) for k, v in self.totals.items()}


@no_grad()
def evaluate(model, loss_fn, loader, metrics=None) -> dict:
    """The mean loss and metrics of ``model`` over ``loader``, in eval mode and without a graph.

    Args:
        model: the module (put in eval mode for the pass, its previous mode restored after).
        loss_fn: ``loss_fn(outputs, targets)`` returning a scalar tensor (mean over the batch).
        loader: an iterable of ``(inputs, targets)`` batches.
        metrics: ``{name: fn(outputs, targets) -> float}``.

    Returns:
        ``{'loss': ..., name: ...}``: means weighted by the batch sizes.

    Example:
        >>> import locograd as lg
        >>> from locograd import nn
        >>> model = nn.Linear(2, 3)
        >>> batches = [(lg.randn(4, 2), lg.tensor([0, 1, 2, 0]))]
        >>> result = evaluate(model, nn.CrossEntropyLoss(), batches, {"accuracy": accuracy})
        >>> sorted(result)
        ['accuracy', 'loss']
    """
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    averages = _Averages()
    dev = model_device(model)
    try:
        for batch in loader:
            inputs, targets = _split_batch(to_model_device(batch, dev), "evaluate")
            outputs = _forward(model, inputs)
            loss = _compute_loss(loss_fn, outputs, targets, "evaluate")
            values = {"loss": float(loss.item())}
            for name, fn in (metrics or {}).items():
                values[name] = fn(outputs, targets)
            averages.add(values, _batch_size(targets))
    finally:
        if was_training:
            model.train()
    if not averages.samples:
        raise ValueError("evaluate: the loader yielded no batch")
    return averages.means("")


def _resume_location(resume, checkpoint_dir):
    if resume is True:
        if checkpoint_dir is None:
            raise ValueError("fit: resume=True needs checkpoint_dir (the directory of the "
                             "checkpoint to continue from)")
        return checkpoint_path(checkpoint_dir)
    return checkpoint_path(resume)


def fit(model, loss_fn, optimizer, train_loader, val_loader=None, epochs: int = 1,
        metrics=None, scheduler=None, callbacks=None, checkpoint_dir=None, resume=False,
        early_stopping=None, progress: bool = True, history_csv=None, plot_path=None,
        seed: int | None = None, grad_clip: float | None = None,
        checkpoint_extra=None, skip_nonfinite: bool = False, device=None) -> History:
    """Train ``model`` for ``epochs`` epochs; validate, checkpoint and record every epoch.

    Each training batch ``(inputs, targets)`` goes through one of three paths:

    * an optimiser with ``needs_batch = True`` (LocoProp) gets ``loss = optimizer.step(inputs,
      targets)`` and does its own forward and backward passes;
    * an optimiser whose ``step`` takes an argument (every ``locograd.optim`` optimiser, and
      closure-style ones that evaluate several times) gets ``optimizer.step(closure)``; the
      closure zeroes the gradients, runs the model, calls ``optimizer.sample_fisher(outputs)``
      when the optimiser has it (K-FAC's true Fisher), computes the loss, back-propagates and
      clips the gradients;
    * any other optimiser: the same steps, then ``optimizer.step()``.

    Args:
        model: an ``nn.Module``; ``model(inputs)`` (``model(*inputs)`` for a tuple).
        loss_fn: ``loss_fn(outputs, targets)`` returning a scalar tensor, the mean over the
            batch (the epoch's loss is the mean of the batch losses weighted by batch size).
        optimizer: see above.
        train_loader: an iterable of ``(inputs, targets)`` batches, iterated once per epoch.
        val_loader: optional validation batches, evaluated after each epoch in eval mode
            without a graph (``evaluate``).
        epochs: the last epoch to train (a resumed run continues up to it).
        metrics: ``{name: fn(outputs, targets) -> float}``, e.g. ``{'accuracy': accuracy}``;
            recorded as ``train_<name>`` (on the training batches, as they were computed; not
            for ``needs_batch`` optimisers) and ``val_<name>``.
        scheduler: a learning-rate schedule. ``OneCycleLR`` (or one with ``per_batch = True``)
            steps after every batch; ``ReduceLROnPlateau`` steps once per epoch with the
            validation loss (the training loss without validation data); every other schedule
            steps once per epoch.
        callbacks: ``Callback`` instances, or functions called as ``fn(row)`` after each epoch.
        checkpoint_dir: write ``checkpoint.safetensors`` there after every epoch (atomically:
            an interruption leaves the previous one intact).
        resume: ``True`` to continue from the checkpoint in ``checkpoint_dir``, or the path of
            a checkpoint (file or directory). The model, optimiser, scheduler, loaders and
            callbacks must be set up as for the interrupted run; the restored state (weights,
            optimiser and schedule state, history, early-stopping state and every random
            generator) makes the continued run identical, bit for bit, to an uninterrupted one.
        early_stopping: an ``EarlyStopping``, a patience (int) or a dict of its arguments.
        progress: show a progress bar (tqdm, on a terminal) and print one line per epoch.
        history_csv: write the history as CSV there after every epoch.
        plot_path: draw the loss and metric curves there (PNG, matplotlib) at the end.
        seed: ``lg.manual_seed(seed)`` before the first epoch (shuffles, dropout; the weights
            are drawn before ``fit``, so seed before building the model too). Ignored on
            resume, which restores the generators.
        grad_clip: clip the global gradient norm to this value (``clip_grad_norm_``).
        checkpoint_extra: plain data stored in every checkpoint under ``'extra'`` (a model
            configuration, a vocabulary).
        skip_nonfinite: skip the optimiser step of a batch whose loss or gradients are NaN or
            infinite (beyond PyTorch, which has no such option): one bad batch then leaves the
            weights and the optimiser's state untouched instead of poisoning them for good.
            The history records ``skipped_steps`` per epoch; an epoch whose every batch is
            skipped raises ``NonFiniteLossError``. Not for optimisers that compute their own
            gradients (LocoProp) or re-evaluate the closure (L-BFGS).
        device: move the model there first (``model.to(device)``: ``"cuda"``, ``"cpu"``, a
            ``device``). Whether given or not, every batch is moved to the device of the
            model's parameters (``x.to(device)`` in a PyTorch loop), so a loader of host
            tensors trains a GPU model; checkpoints are written from host copies.

    Under ``mpirun -n N`` (``locograd.distributed`` initialised), ``fit`` runs unchanged on
    every rank with a ``DistributedDataParallel`` model and a loader over a
    ``DistributedSampler`` (or a ``DistributedLocoProp``): each epoch's losses and metrics are
    averaged over the ranks, so that every rank records the same values and takes the same
    early-stopping and schedule decisions (``throughput`` is thus per rank); only rank 0 prints
    and writes the checkpoint, the CSV and the plot. A sampler with ``set_epoch`` gets
    ``set_epoch(epoch - 1)`` before each epoch, on one rank or many.

    Returns:
        The ``History`` (including the epochs of the interrupted run when resuming).

    Raises:
        NonFiniteLossError: the training loss became NaN or infinite (the last checkpoint is
            that of the previous epoch).

    Example:
        >>> import locograd as lg
        >>> from locograd import nn, optim
        >>> from locograd.data import DataLoader, TensorDataset
        >>> _ = lg.manual_seed(0)
        >>> x = lg.randn(64, 2); y = (x[:, 0] > 0).long()
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
        >>> model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
        >>> history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), 0.05),
        ...               loader, epochs=5, metrics={"accuracy": accuracy}, progress=False)
        >>> len(history), history.last["train_accuracy"] > 0.8
        (5, True)
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    if device is not None:
        model.to(device)
    if grad_clip is not None and not float(grad_clip) > 0.0:
        raise ValueError(f"fit: grad_clip must be positive (or None), got {grad_clip!r}")
    metrics = dict(metrics or {})
    hooks = [cb for cb in (callbacks or []) if isinstance(cb, Callback)]
    epoch_functions = [cb for cb in (callbacks or []) if not isinstance(cb, Callback)]
    for cb in epoch_functions:
        if not callable(cb):
            raise TypeError(f"fit: a callback must be a Callback or a function, got "
                            f"{type(cb).__name__}")
    stopper = as_early_stopping(early_stopping)
    if stopper is not None:
        stopper.resolve(val_loader is not None)
    needs_batch = bool(getattr(optimizer, "needs_batch", False))
    if skip_nonfinite and (needs_batch or type(optimizer).__name__ == "LBFGS"):
        raise ValueError(f"fit: skip_nonfinite needs the gradients before the step, which "
                         f"{type(optimizer).__name__} computes itself (or re-evaluates)")
    per_batch = scheduler is not None and bool(
        getattr(scheduler, "per_batch", isinstance(scheduler, _PER_BATCH_SCHEDULERS)))
    generators = collect_generators(model, optimizer, {"train_loader": train_loader,
                                                       "val_loader": val_loader})
    history = History()
    stopped = False
    if seed is not None and not resume:
        manual_seed(seed)
    group = _process_group()
    writes = group is None or group.get_rank() == 0  # only rank 0 prints and writes files
    display = Progress(progress and writes, epochs)
    if resume:
        path = _resume_location(resume, checkpoint_dir)
        state = load_checkpoint(path)
        restore(state, path, model=model, optimizer=optimizer, scheduler=scheduler,
                generators=generators, early_stopping=stopper)
        history = History(state["history"])
        stopped = state["stopped"]
        display.message(f"resumed from {path} after epoch {state['epoch']}")
    if checkpoint_dir is not None:
        os.makedirs(checkpoint_dir, exist_ok=True)
    run = FitState(model, optimizer, scheduler, history, epochs)
    run.epoch = len(history)
    parameters = [p for p in model.parameters() if p.requires_grad]
    closure_style = not needs_batch and _accepts_closure(optimizer)
    for cb in hooks:
        cb.on_train_begin(run)

    def train_step(inputs, targets):
        """One optimiser step; returns (loss tensor or float, detached outputs or None)."""
        if needs_batch:
            return float(optimizer.step(inputs, targets)), None
        captured = {}

        def closure():
            zero = getattr(optimizer, "zero_grad", None) or model.zero_grad
            zero()
            outputs = _forward(model, inputs)
            sample_fisher = getattr(optimizer, "sample_fisher", None)
            if sample_fisher is not None:
                sample_fisher(outputs)
            loss = _compute_loss(loss_fn, outputs, targets, f"fit (epoch {run.epoch})")
            loss.backward()
            if grad_clip is not None:
                clip_grad_norm_(parameters, grad_clip)
            if "loss" not in captured:  # closure-style optimisers may evaluate several times
                captured["loss"], captured["outputs"] = loss, outputs.detach()
            return loss

        if skip_nonfinite:  # the gradients are checked between the closure and the step
            loss = float(closure().item())
            if not (is_finite(loss) and _gradients_finite(parameters)):
                zero = getattr(optimizer, "zero_grad", None) or model.zero_grad
                zero()
                return None, None
            optimizer.step()
        elif closure_style:
            optimizer.step(closure)
        else:
            closure()
            optimizer.step()
        return float(captured["loss"].item()), captured["outputs"]

    try:
        for epoch in range(len(history) + 1, epochs + 1):
            if stopped:
                break
            run.epoch = epoch
            for cb in hooks:
                cb.on_epoch_begin(run)
            started = time.perf_counter()
            model.train()
            set_epoch = getattr(getattr(train_loader, "sampler", None), "set_epoch", None)
            if set_epoch is not None:  # a DistributedSampler's shuffle of this epoch
                set_epoch(epoch - 1)
            averages = _Averages()
            skipped = 0
            try:
                batches = len(train_loader)
            except TypeError:
                batches = None
            display.start_epoch(epoch, batches)
            batch_device = model_device(model)
            for index, batch in enumerate(train_loader):
                inputs, targets = _split_batch(to_model_device(batch, batch_device), "fit")
                loss, outputs = train_step(inputs, targets)
                if loss is None:  # skip_nonfinite: this batch's step was skipped
                    skipped += 1
                    if per_batch:
                        scheduler.step()
                    continue
                if not is_finite(loss):
                    raise NonFiniteLossError(
                        f"fit: the training loss became {loss} at epoch {epoch}, batch "
                        f"{index}; the run diverged (lower the learning rate or set "
                        f"grad_clip)")
                values = {"loss": loss}
                if outputs is not None:
                    with no_grad():
                        for name, fn in metrics.items():
                            values[name] = fn(outputs, targets)
                n = _batch_size(targets)
                averages.add(values, n)
                if per_batch:
                    scheduler.step()
                display.update(loss, averages.samples)
                for cb in hooks:
                    cb.on_batch_end(run, index, loss)
            if not averages.samples and skipped:
                raise NonFiniteLossError(f"fit: every one of the {skipped} batches of epoch "
                                         f"{epoch} had a non-finite loss or gradient; the run "
                                         f"diverged (lower the learning rate or set grad_clip)")
            if not averages.samples:
                raise ValueError("fit: the training loader yielded no batch")
            train_seconds = time.perf_counter() - started
            lr = _current_lr(optimizer)
            row = {"epoch": epoch}
            row.update(averages.means("train_"))
            if skip_nonfinite:
                row["skipped_steps"] = skipped
            if val_loader is not None:
                row.update({"val_" + k: v for k, v in
                            evaluate(model, loss_fn, val_loader, metrics).items()})
            if group is not None:
                row = group.average_values(row)
            if scheduler is not None and not per_batch:
                if isinstance(scheduler, ReduceLROnPlateau):
                    scheduler.step(row.get("val_loss", row["train_loss"]))
                else:
                    scheduler.step()
            row["lr"] = lr
            row["seconds"] = time.perf_counter() - started
            row["throughput"] = averages.samples / max(train_seconds, 1e-9)
            history.append(row)
            display.end_epoch(row)
            if stopper is not None and stopper.update(row):
                stopped = True
                display.message(f"early stopping: {stopper.monitor} has not improved for "
                                f"{stopper.wait} epochs (best {stopper.best:.4f} at epoch "
                                f"{stopper.best_epoch})")
            for cb in hooks:
                cb.on_epoch_end(run, row)
            for fn in epoch_functions:
                fn(row)
            if run.stop_training:
                stopped = True
            if checkpoint_dir is not None and writes:
                save_checkpoint(os.path.join(checkpoint_dir, CHECKPOINT_NAME), epoch=epoch,
                                model=model, optimizer=optimizer, scheduler=scheduler,
                                history=history, generators=generators,
                                early_stopping=stopper, stopped=stopped, extra=checkpoint_extra)
            if history_csv is not None and writes:
                write_csv(history, history_csv)
    finally:
        display.close()
    for cb in hooks:
        cb.on_train_end(run)
    if plot_path is not None and len(history) and writes:
        plot_history(history, plot_path)
    if history_csv is not None and len(history) and writes:
        write_csv(history, history_csv)
    return history

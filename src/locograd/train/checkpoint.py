"""``fit``'s checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint is one file, ``<checkpoint_dir>/checkpoint.safetensors``, written with ``lg.save``
(atomic, SHA-256 verified, no pickle) at the end of every epoch. It holds plain data only::

    {"format": "locograd.train", "version": 1,
     "epoch": 3,                       # epochs completed
     "model": model.state_dict(),      # parameters and buffers (BatchNorm statistics)
     "optimizer": ..., "scheduler": ...,   # their state_dict()s (or None)
     "history": [row, ...],            # the History rows so far
     "rng": {"default": {...}, "train_loader": {...}, ...},   # Generator.get_state()s
     "early_stopping": {...} or None, "stopped": False,
     "extra": {...}}                   # caller data, e.g. a model config and a vocabulary

Exact resume rests on the generator states: every random draw in locograd (shuffles, the
per-epoch seeds of the loaders, dropout masks, K-FAC's sampled targets) comes from a
``Generator``, and the checkpoint records each one that the run can reach at the moment the
epoch ends, when nothing else is in flight.
"""
from __future__ import annotations

import os

from ..autograd.tensor_base import TensorBase
from ..backend import Generator, default_generator
from ..io import load, save

__all__ = ["CHECKPOINT_NAME", "checkpoint_path", "collect_generators", "save_checkpoint",
           "load_checkpoint"]

CHECKPOINT_NAME = "checkpoint.safetensors"
_FORMAT, _VERSION = "locograd.train", 1


def checkpoint_path(location) -> str:
    """The checkpoint file of ``location``: a directory (its ``checkpoint.safetensors``) or a
    file path, returned as it is.

    Example:
        >>> checkpoint_path("runs/demo").endswith("checkpoint.safetensors")
        True
    """
    location = os.fspath(location)
    if os.path.isdir(location) or not os.path.splitext(location)[1]:
        return os.path.join(location, CHECKPOINT_NAME)
    return location


def collect_generators(model, optimizer, loaders: dict) -> dict[str, Generator]:
    """Every ``Generator`` a run draws from, by a stable name: the default one, each loader's
    and its sampler's, any module's ``generator`` attribute (dropout) and the optimiser's
    (K-FAC). The same object reached twice is listed once."""
    found: dict[str, Generator] = {}
    seen: set[int] = set()

    def add(name, generator):
        if isinstance(generator, Generator) and id(generator) not in seen:
            seen.add(id(generator))
            found[name] = generator

    add("default", default_generator)
    for name, loader in loaders.items():
        if loader is None:
            continue
        add(name, getattr(loader, "generator", None))
        add(name + ".sampler", getattr(getattr(loader, "sampler", None), "generator", None))
        add(name + ".batch_sampler",
            getattr(getattr(getattr(loader, "batch_sampler", None), "sampler", None),
                    "generator", None))
    if hasattr(model, "named_modules"):
        for module_name, module in model.named_modules():
            add(f"model.{module_name}.generator" if module_name else "model.generator",
                getattr(module, "generator", None))
    add("optimizer", getattr(optimizer, "generator", None))
    return found


def save_checkpoint(path: str, *, epoch: int, model, optimizer, scheduler, history,
                    generators: dict, early_stopping, stopped: bool, extra) -> None:
    """Write the checkpoint of the state after ``epoch`` epochs (atomically)."""
    state = {
        "format": _FORMAT, "version": _VERSION, "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if hasattr(optimizer, "state_dict") else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": [dict(row) for row in history.rows],
        "rng": {name: generator.get_state() for name, generator in generators.items()},
        "early_stopping": early_stopping.state_dict() if early_stopping is not None else None,
        "stopped": bool(stopped),
        "extra": extra,
    }
    try:
        save(state, path)
    except TypeError as error:
        raise TypeError(f"fit: cannot write the checkpoint {path!r}: {error} (the optimizer's "
                        f"and scheduler's state_dict() and checkpoint_extra must hold plain "
                        f"data and arrays)") from None


def load_checkpoint(location) -> dict:
    """Read a checkpoint written by ``fit`` (a directory or a file path).

    Returns:
        The checkpoint dict (see the module docstring); ``model`` is a state dict ready for
        ``model.load_state_dict``.

    Raises:
        FileNotFoundError: there is no checkpoint there.
        ValueError: the file is a locograd checkpoint but not one written by ``fit``.
        locograd.io.CheckpointError: the file is corrupted or not a locograd checkpoint.

    Example:
        >>> ckpt = load_checkpoint("runs/demo")  # doctest: +SKIP
        >>> ckpt["epoch"], ckpt["history"][-1]["val_accuracy"]  # doctest: +SKIP
        (10, 0.98)
    """
    path = checkpoint_path(location)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path!r} (fit writes one per epoch when given "
                                f"checkpoint_dir)")
    state = load(path)
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ValueError(f"{path!r} is a locograd checkpoint but not a training checkpoint "
                         f"written by locograd.train.fit")
    if state.get("version") != _VERSION:
        raise ValueError(f"{path!r}: unsupported training checkpoint version "
                         f"{state.get('version')!r} (this locograd reads version {_VERSION})")
    return state


def restore(state: dict, path: str, *, model, optimizer, scheduler, generators: dict,
            early_stopping) -> None:
    """Load a checkpoint's state into the run's objects, all or nothing: the loop's entries and
    the generators are checked first, and if the model's, the optimiser's, the scheduler's or
    the early stopping's ``load_state_dict`` refuses its part, those already loaded are given
    back their previous state before the error propagates."""
    _check_loop_state(state, path)
    saved = state["rng"]
    if set(saved) != set(generators):
        raise ValueError(
            f"fit: cannot resume exactly from {path!r}: it records the random generators "
            f"{sorted(saved)} but this run draws from {sorted(generators)}; set up the model, "
            f"loaders and optimizer as in the interrupted run")
    if (state.get("scheduler") is None) != (scheduler is None):
        have = "has" if state.get("scheduler") is not None else "has no"
        raise ValueError(f"fit: cannot resume from {path!r}: the checkpoint {have} scheduler "
                         f"state but this run {'has no' if scheduler is None else 'has a'} "
                         f"scheduler")
    targets = [model, optimizer if hasattr(optimizer, "load_state_dict") else None, scheduler,
               early_stopping]
    values = [state["model"], state.get("optimizer"), state.get("scheduler"),
              state.get("early_stopping")]
    # All or nothing: each object's current state is kept, and given back if any load fails
    # (a model restored before the optimiser's state is found not to fit would be lost).
    saved_states = [None if target is None else _copy_state(target.state_dict())
                    for target in targets]
    saved_generators = {name: generator.get_state() for name, generator in generators.items()}
    try:
        for target, value in zip(targets, values):
            if target is not None and value is not None:
                target.load_state_dict(value)
        for name, generator in generators.items():
            generator.set_state(saved[name])
    except BaseException:
        for target, previous in zip(targets, saved_states):
            if target is not None:
                target.load_state_dict(previous)
        for name, generator in generators.items():
            generator.set_state(saved_generators[name])
        raise


def _copy_state(state):
    """A deep copy of a state dict whose tensors and arrays are copied, not shared."""
    import copy

    if isinstance(state, dict):
        return type(state)((k, _copy_state(v)) for k, v in state.items())
    if isinstance(state, (list, tuple)):
        return type(state)(_copy_state(v) for v in state)
    if isinstance(state, TensorBase):
        return state.data.copy()
    return copy.deepcopy(state)


def _check_loop_state(state: dict, path: str) -> None:
    """The loop's own entries (epoch, history, flags): checked before anything is restored."""
    epoch, history = state.get("epoch"), state.get("history")
    problems = []
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        problems.append(f"'epoch' is {epoch!r}, not a count of epochs")
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        problems.append("'history' is not a list of rows")
    elif len(history) != epoch:
        problems.append(f"'history' has {len(history)} rows for {epoch!r} epochs")
    if not isinstance(state.get("stopped"), bool):
        problems.append(f"'stopped' is {state.get('stopped')!r}, not a bool")
    if not isinstance(state.get("model"), dict):
        problems.append("'model' is not a state dict")
    if not isinstance(state.get("rng"), dict):
        problems.append("'rng' is not a dict of generator states")
    if problems:
        raise ValueError(f"fit: cannot resume from {path!r}: " + "; ".join(problems))

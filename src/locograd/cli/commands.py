"""The built-in commands: ``demo``, ``train`` and ``sample`` (see ``locograd.cli``)."""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil

from ..backend import Generator, manual_seed
from ..data import DataLoader
from ..models import build_model
from ..optim import Adam
from ..optim.lr_scheduler import CosineAnnealingLR
from ..train import evaluate, fit, load_checkpoint
from . import OPTIMIZERS, CommandError
from .tasks import check_combination, prepare_task

__all__ = ["demo", "train", "sample"]

#: the options of a ``train`` run that a resumed run must repeat
_SPEC_KEYS = ("model", "data", "optimizer", "lr", "batch_size", "val_split", "limit",
              "hidden_size", "seq_len", "cell", "grad_clip", "seed")
_DEMO_LR = 1e-2


def _loader(dataset, batch_size: int, shuffle: bool = False, seed: int = 0):
    if dataset is None:
        return None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                      generator=Generator(seed) if shuffle else None)


def _fit(task, model, optimizer, args, *, grad_clip=None, resume=False, spec=None,
         scheduler=None, train_loader=None):
    """Run ``fit`` with the command's files in ``args.out``; return the history."""
    out = args.out
    os.makedirs(out, exist_ok=True)
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    if train_loader is None:
        train_loader = _loader(task.train_set, args.batch_size, shuffle=True, seed=args.seed)
    return fit(model, task.loss_fn, optimizer, train_loader,
               _loader(task.val_set, 512), epochs=args.epochs, metrics=task.metrics,
               scheduler=scheduler, checkpoint_dir=out, resume=resume, progress=args.progress,
               history_csv=os.path.join(out, "history.csv"),
               plot_path=os.path.join(out, "curves.png") if has_matplotlib else None,
               grad_clip=grad_clip,
               checkpoint_extra=dict(task.extra, config=task.config, spec=spec))


def _report(task, model) -> dict:
    """Evaluate on the test data (or sample text) and print the result."""
    if task.kind == "text":
        vocabulary = task.extra["vocabulary"]
        prime = "\n" if "\n" in vocabulary else vocabulary[0]
        ids = model.generate([vocabulary.index(prime)], 200, temperature=0.8,
                             generator=Generator(0))
        print("sample (temperature 0.8):\n" + prime + "".join(vocabulary[i] for i in ids))
        return {}
    result = evaluate(model, task.loss_fn, _loader(task.test_set, 512), task.metrics)
    n = len(task.test_set)
    if task.kind == "classify":
        correct = round(result["accuracy"] * n)
        print(f"test accuracy: {100 * result['accuracy']:.1f}% ({correct} of {n} images), "
              f"test loss {result['loss']:.4f}")
    else:
        print(f"test reconstruction loss (binary cross-entropy per pixel): "
              f"{result['loss']:.4f} on {n} images")
    return result


def _files(out: str, names) -> str:
    return ", ".join(os.path.join(out, name) for name in names
                     if os.path.exists(os.path.join(out, name)))


def _check_resume(out: str, spec: dict) -> None:
    saved = (load_checkpoint(out).get("extra") or {}).get("spec")
    if not isinstance(saved, dict):
        raise CommandError(f"cannot resume: the checkpoint in {out} was not written by "
                           f"'locograd train'")
    differences = [f"--{key.replace('_', '-')} {saved.get(key)!r} (now {value!r})"
                   for key, value in spec.items() if saved.get(key) != value]
    if differences:
        raise CommandError(f"cannot resume: the run in {out} used " + ", ".join(differences))


def _check_out(args) -> None:
    """Refuse to replace the run in ``--out`` silently: its checkpoint (perhaps of another
    model, hours of training) goes only with ``--overwrite``, or continues with ``--resume``."""
    resume = getattr(args, "resume", False)
    if resume and args.overwrite:
        raise CommandError("--resume continues the run in --out and --overwrite replaces it: "
                           "give one of them")
    checkpoint = os.path.join(args.out, "checkpoint.safetensors")
    if not resume and not args.overwrite and os.path.exists(checkpoint):
        how = "--resume to continue it, " if hasattr(args, "resume") else ""
        raise CommandError(f"--out {args.out} already holds a run ({checkpoint}); pass {how}"
                           f"--overwrite to replace it, or choose another --out")


def _start_distributed(args):
    """Under ``mpirun -n N`` (N > 1): start the process group; return ``locograd.distributed``
    (None in a single process). ``--batch-size`` stays the global batch: each rank takes
    ``batch_size / N`` of it."""
    from .. import distributed
    if not distributed.launched_by_mpi():
        return None
    if not distributed.is_initialized():
        distributed.init_process_group()
    ranks = distributed.get_world_size()
    if args.batch_size % ranks:
        raise CommandError(f"--batch-size {args.batch_size} does not split evenly over the "
                           f"{ranks} ranks of this mpirun job")
    return distributed


def _data_parallel(distributed, model, optimizer, task, args):
    """The model and training batches of a data-parallel run: the model wrapped in
    ``DistributedDataParallel``, each rank a shard of every batch. LocoProp instead solves its
    layers on different ranks, on the same batches everywhere."""
    if distributed is None or getattr(optimizer, "needs_batch", False):
        return model, None
    wrapped = distributed.DistributedDataParallel(model)
    if hasattr(optimizer, "sample_fisher"):  # K-FAC: its statistics are averaged too
        wrapped.register_kfac(optimizer)
    sampler = distributed.DistributedSampler(task.train_set, seed=args.seed)
    return wrapped, DataLoader(task.train_set, sampler=sampler,
                               batch_size=args.batch_size // distributed.get_world_size())


def train(args) -> int:
    """``locograd train``: see ``locograd train --help``. Under ``mpirun -n N`` it trains on N
    ranks (data parallel, or LocoProp's layers spread over the ranks); only rank 0 prints and
    writes files."""
    check_combination(args.model, args.data)
    build, default_lr = OPTIMIZERS[args.optimizer]
    args.lr = args.lr if args.lr is not None else default_lr
    if args.batch_size is None:  # a text gives few sequences: smaller batches, more steps
        args.batch_size = 16 if args.model == "char-rnn" else 64
    if args.model == "char-rnn" and args.grad_clip is None:
        args.grad_clip = 5.0  # BPTT gradients can explode; clipping keeps the steps bounded
    spec = {key: getattr(args, key) for key in _SPEC_KEYS}
    _check_out(args)
    if args.resume:
        _check_resume(args.out, spec)
    distributed = _start_distributed(args)
    quiet = distributed is not None and distributed.get_rank() != 0
    with open(os.devnull, "w") if quiet else contextlib.nullcontext() as sink, \
            contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        manual_seed(args.seed)
        task = prepare_task(args)
        model = build_model(task.config)
        optimizer = build(model, task.loss_fn, args.lr)
        trained, train_loader = _data_parallel(distributed, model, optimizer, task, args)
        lr = "its default learning rates" if args.lr is None else f"lr {args.lr:g}"
        print(f"training {args.model} ({model.num_parameters():,} parameters) on "
              f"{task.summary}")
        epochs = f"{args.epochs} epoch" + ("s" if args.epochs != 1 else "")
        ranks = "" if distributed is None else f" over {distributed.get_world_size()} ranks"
        print(f"with {args.optimizer} ({lr}), batch size {args.batch_size}{ranks}, {epochs}")
        _fit(task, trained, optimizer, args, grad_clip=args.grad_clip, resume=args.resume,
             spec=spec, train_loader=train_loader)
        _report(task, model)
        print("wrote " + _files(args.out, ("checkpoint.safetensors", "history.csv",
                                           "curves.png")))
    return 0


def demo(args) -> int:
    """``locograd demo``: a small CNN on the bundled digits, with every output written."""
    _check_out(args)
    manual_seed(args.seed)
    settings = argparse.Namespace(model="cnn", data="digits", seed=args.seed, limit=None,
                                  val_split=0.1, hidden_size=None, seq_len=64, cell="lstm")
    task = prepare_task(settings)
    model = build_model(task.config)
    optimizer = Adam(model.parameters(), lr=_DEMO_LR)
    print(f"locograd demo: a CNN ({model.num_parameters():,} parameters) learns to read "
          f"{task.summary}")
    args.batch_size = 64
    spec = dict(vars(settings), optimizer="adam", lr=_DEMO_LR, batch_size=args.batch_size,
                grad_clip=None)
    # the rate decays to zero over the run: big steps first, fine ones at the end
    schedule = CosineAnnealingLR(optimizer, T_max=args.epochs)
    _fit(task, model, optimizer, args, spec=spec, scheduler=schedule)
    _report(task, model)
    pictures = _draw_graph(model, task, args.out)
    print("wrote " + _files(args.out, ("checkpoint.safetensors", "history.csv", "curves.png",
                                       *pictures)))
    return 0


def _draw_graph(model, task, out: str) -> list[str]:
    """Write the graph of the loss on four test images (values and gradients on the edges)."""
    from ..viz import draw_graph
    inputs, targets = next(iter(DataLoader(task.test_set, batch_size=4)))
    model.eval()
    loss = task.loss_fn(model(inputs), targets)
    loss.backward()
    graph = draw_graph(loss, params=dict(model.named_parameters()))
    names = ["graph.dot"]
    if shutil.which("dot"):
        names.append("graph.svg")
    for name in names:
        graph.save(os.path.join(out, name))
    model.zero_grad()
    return names


def sample(args) -> int:
    """``locograd sample``: text from a char-rnn checkpoint."""
    checkpoint = load_checkpoint(args.checkpoint)
    extra = checkpoint.get("extra") or {}
    config = extra.get("config")
    if not isinstance(config, dict) or config.get("name") != "char-rnn" \
            or "vocabulary" not in extra:
        holds = f"a {config['name']} model" if isinstance(config, dict) and "name" in config \
            else "no model configuration"
        raise CommandError(f"{args.checkpoint} holds {holds}, not a char-rnn; train one with "
                           f"'locograd train --model char-rnn --data text:FILE'")
    vocabulary = list(extra["vocabulary"])
    index = {c: i for i, c in enumerate(vocabulary)}
    model = build_model(config)
    model.load_state_dict(checkpoint["model"])
    prime = args.prime if args.prime is not None else ("\n" if "\n" in index else vocabulary[0])
    if not prime:
        raise CommandError("--prime must hold at least one character")
    unknown = sorted({c for c in prime if c not in index})
    if unknown:
        raise CommandError(f"--prime has characters the model never saw: "
                           f"{''.join(unknown)!r} (its vocabulary has {len(vocabulary)})")
    ids = model.generate([index[c] for c in prime], args.length, args.temperature,
                         generator=Generator(args.seed))
    print(prime + "".join(vocabulary[i] for i in ids))
    return 0

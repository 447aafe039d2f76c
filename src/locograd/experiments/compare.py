"""``locograd compare``: nine optimisers on the MNIST deep autoencoder, LocoProp among them.

Every method trains the same model (``experiments.autoencoder``: 784-1000-500-250-30-250-500-
1000-784, tanh, linear code, sigmoid cross-entropy summed over pixels and averaged over images,
Glorot-uniform weights and biases) from the same initial weights, on the same minibatches in the
same order (batch 1000, a fresh permutation per epoch), under the same per-epoch learning-rate
schedule: the LocoProp reference code's linear warm-up over ``--warmup-epochs`` and linear decay
(``locoprop.WarmupLinearDecay`` with ``total_epochs = epochs + 1``, so the last epoch keeps a
small rate, as in the reference's 99 epochs of a 100-epoch schedule). After every epoch the loss
is evaluated on all the training images (not timed); the clock measures the training steps only.

Each method's learning rate is chosen from a small grid (``METHODS``: three or four values a
factor of about 3 apart, "a ... b" meaning a, 3a, 10a, ..., b, placed by 3-epoch pilot runs and
extended where a first full run kept an edge of the grid), keeping the setting with the lowest
loss after ``--sweep-epochs`` (default: all epochs; the kept run then continues to the end, the
same computation as a full run from the start); ``--lr METHOD=v1,v2`` overrides a grid. The
other hyper-parameters are fixed:

==============  ==============================================================  ================
method          fixed settings                                                  lr grid
==============  ==============================================================  ================
SGD             plain                                                           3e-3 ... 1e-1
SGD+Nesterov    momentum 0.9                                                    3e-4 ... 1e-2
AdaGrad         PyTorch defaults                                                3e-3 1e-2 3e-2
RMSProp         PyTorch defaults (alpha 0.99, eps 1e-8)                         3e-4 ... 1e-2
Adam            PyTorch defaults (betas 0.9, 0.999)                             1e-3 ... 3e-2
Shampoo         AlgoPerf-style defaults (normalised-RMSProp grafting, Nesterov  3e-4 ... 1e-2
                0.9, beta2 0.999, epsilon 1e-6, one block per layer); roots
                from step 2 epochs on, refreshed every 2 epochs
K-FAC           Martens & Grosse's adaptive form (true Fisher, Bernoulli        0.5 1
                samples, initial lambda 1, lambda adapted every 5 steps from
                the reduction ratio through step(closure), gamma re-chosen every
                20, alpha and mu from the exact quadratic model of the
                minibatch); factor decay min(1 - 1/k, 0.95), inverses every
                epoch; lr scales the chosen update (1 is theirs). The fixed-lr
                form with KL clipping (damping 1, clip 1) stayed on the
                210-220 plateau in every pilot (damping 0.01-100, lr 0.03-3,
                clip 0.1-off): 209 after 20 epochs
LocoProp-S      gamma 10, 10 inner steps, TF1 RMSProp (0.9, 0.999, 1e-5), inner 1e-4 ... 3e-3
                lr decay (the reference code's defaults but the learning rate:
                its default 1e-5 goes with 60 steps per epoch for 99 epochs)
LocoProp-M      as LocoProp-S                                                   1e-4 ... 3e-3
==============  ==============================================================  ================

Outputs in ``--out``: ``comparison.md`` and ``comparison.csv`` (the table: learning rate kept,
final training loss, seconds per epoch, seconds and epochs to reach the target loss, and the
loss reached within equal wall-clock budgets),
``sweep.csv`` (every run of the sweep), ``histories.json``, and ``loss_vs_epochs.png`` and
``loss_vs_seconds.png`` (all methods, with the data's cross-entropy floor as a dotted line).

``--report DIR/histories.json`` rewrites the outputs of a finished run (e.g. with another
``--target-loss``) without training. ``--quick`` is a smoke run for tests: few images, batch
100, 2 epochs, one learning rate per method (the middle of its grid).
"""
from __future__ import annotations

import argparse
import copy
import csv
import io
import json
import math
import os
import time
from typing import Callable, NamedTuple

import numpy as np

from .. import cuda, optim
from ..backend import Generator, rng
from ..backend.devices import resolve
from ..factory import from_numpy
from ..io import _atomic_write
from ..locoprop import LocoProp, reference_schedule
from .autoencoder import (LAYER_SIZES, build_autoencoder, cross_entropy_floor, evaluate,
                          load_images, reconstruction_loss)

__all__ = ["METHODS", "Run", "add_arguments", "run", "sweep"]


class Method(NamedTuple):
    """An optimiser of the comparison: its learning-rate grid and how to build it."""

    lrs: tuple
    build: Callable  # (model, lr, plan: dict) -> optimizer
    first_order: bool


def _locoprop(variant):
    def build(model, lr, plan):
        return LocoProp(model, reconstruction_loss, variant=variant, inner_lr=lr,
                        output_transfer="sigmoid", max_workers=plan.get("workers"))
    return build


def _shampoo(model, lr, plan):
    every = plan["refresh_steps"]
    return optim.Shampoo(model.parameters(), lr=lr, start_preconditioning_step=every,
                         preconditioning_compute_steps=every)


def _kfac(model, lr, plan):
    # Martens & Grosse's adaptive form; lr scales its update (1: theirs), so the comparison's
    # schedule applies to it as to the others. Initial lambda 1, not their 150: from 150 the
    # adaptation needs ~100 of the 200 steps to bring it down (one-epoch pilots: 237 from 1,
    # 253 from 10, 508 from 150 at lr 0.5)
    return optim.KFAC(model, lr=lr, damping=1.0, likelihood="bernoulli",
                      inv_update_freq=max(1, plan["refresh_steps"] // 2),
                      generator=Generator().manual_seed(plan["seed"] + 2))


METHODS = {
    "SGD": Method((3e-3, 1e-2, 3e-2, 1e-1),
                  lambda m, lr, plan: optim.SGD(m.parameters(), lr=lr), True),
    "SGD+Nesterov": Method((3e-4, 1e-3, 3e-3, 1e-2), lambda m, lr, plan: optim.SGD(
        m.parameters(), lr=lr, momentum=0.9, nesterov=True), True),
    "AdaGrad": Method((3e-3, 1e-2, 3e-2),
                      lambda m, lr, plan: optim.Adagrad(m.parameters(), lr=lr), True),
    "RMSProp": Method((3e-4, 1e-3, 3e-3, 1e-2),
                      lambda m, lr, plan: optim.RMSprop(m.parameters(), lr=lr), True),
    "Adam": Method((1e-3, 3e-3, 1e-2, 3e-2),
                   lambda m, lr, plan: optim.Adam(m.parameters(), lr=lr), True),
    "Shampoo": Method((3e-4, 1e-3, 3e-3, 1e-2), _shampoo, False),
    "K-FAC": Method((0.5, 1.0), _kfac, False),
    "LocoProp-S": Method((1e-4, 3e-4, 1e-3, 3e-3), _locoprop("S"), False),
    "LocoProp-M": Method((1e-4, 3e-4, 1e-3, 3e-3), _locoprop("M"), False),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``locograd compare`` to ``parser``."""
    parser.add_argument("--data", default=None,
                        help="an IDX image file or a directory with MNIST's (default: "
                             "$LOCOGRAD_MNIST, else MNIST's 60,000 training images, downloaded "
                             "once into $LOCOGRAD_DATA or ~/.cache/locograd)")
    parser.add_argument("--limit", type=int, default=None, help="use the first N images")
    parser.add_argument("--epochs", type=int, default=None, help="default 20 (--quick: 2)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="at most this many minibatches per epoch")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--lr", action="append", default=[], metavar="METHOD=LR[,LR...]",
                        help="replace a method's learning-rate grid (repeatable)")
    parser.add_argument("--no-sweep", action="store_true",
                        help="one run per method, at the middle of its grid")
    parser.add_argument("--sweep-epochs", type=int, default=None,
                        help="epochs of the sweep runs (default: --epochs); the best run then "
                             "continues to --epochs")
    parser.add_argument("--target-loss", type=float, default=None,
                        help="the loss whose time to reach is reported (default: the best "
                             "final loss of the first-order methods)")
    parser.add_argument("--schedule", choices=("reference", "constant"), default="reference")
    parser.add_argument("--warmup-epochs", type=int, default=5)
    parser.add_argument("--sizes", default=None,
                        help="layer widths, e.g. 784,64,16,64,784 (default: the classic "
                             "784-1000-500-250-30-250-500-1000-784)")
    parser.add_argument("--locoprop-workers", type=int, default=None,
                        help="LocoProp's threads (default: the CPUs available)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu",
                        help="train there: 'cpu' (default) or 'cuda' (CuPy and a GPU); the "
                             "clock waits for the device at the end of every epoch")
    parser.add_argument("--out", default="compare-out", help="output directory")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 300 images, batch 100, 2 epochs, no sweep")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--report", default=None, metavar="HISTORIES_JSON",
                        help="no training: rewrite the table and plots from a histories.json")


def _images(path, limit):
    """``load_images(path)``; with no path (and no ``$LOCOGRAD_MNIST``), the seeds' data: the
    full MNIST training split, downloaded and verified once."""
    if path is not None or os.environ.get("LOCOGRAD_MNIST"):
        return load_images(path, limit)
    from ..data import MNIST
    train = MNIST(split="train", download=True)
    raw = train.data if limit is None else train.data[:limit]
    images = raw.reshape(len(raw), -1).astype(np.float32)
    images /= np.float32(255.0)
    return images, f"MNIST's training split in {train.raw_folder}"


def _grids(args, names) -> dict:
    grids = {name: METHODS[name].lrs for name in names}
    for item in args.lr:
        name, _, values = item.partition("=")
        if name not in METHODS or not values:
            raise ValueError(f"compare: --lr expects METHOD=LR[,LR...] with METHOD one of "
                             f"{list(METHODS)}, got {item!r}")
        grids[name] = tuple(float(v) for v in values.split(","))
    if args.no_sweep or args.quick:
        grids = {name: (lrs[len(lrs) // 2],) for name, lrs in grids.items()}
    return grids


class Run:
    """One method at one learning rate: the model, the optimiser, the schedule and the history,
    trained epoch by epoch (``train(until)`` may be called again to continue).

    ``history`` holds ``losses`` (the full-data loss before training and after every epoch),
    ``seconds`` (cumulative training time at the same points) and ``diverged``.
    """

    def __init__(self, name: str, lr: float, images: np.ndarray, plan: dict):
        self.name, self.images, self.plan = name, images, plan
        self.model = build_autoencoder(plan["sizes"],
                                       generator=Generator().manual_seed(plan["seed"]))
        self.device = resolve(plan.get("device") or "cpu")
        self.model.to(self.device)  # the same initial weights on every device
        self.optimizer = METHODS[name].build(self.model, lr, plan)
        self.scheduler = None
        if plan["schedule"] == "reference":
            # the schedule of the full run, also for a shorter sweep run (its first epochs)
            epochs = plan["epochs"]
            self.scheduler = reference_schedule(self.optimizer,
                                                min(plan["warmup_epochs"], epochs - 1),
                                                epochs + 1)
        self.order = rng(Generator().manual_seed(plan["seed"] + 1))
        self.history = {"method": name, "lr": lr,
                        "losses": [evaluate(self.model, images, plan["batch_size"])],
                        "seconds": [0.0], "diverged": False}

    @property
    def epochs(self) -> int:
        return len(self.history["losses"]) - 1

    @property
    def final(self) -> float:
        loss = self.history["losses"][-1]
        return math.inf if self.history["diverged"] or not math.isfinite(loss) else loss

    def train(self, until: int, log=None) -> dict:
        """Train up to epoch ``until`` (stopping early if the loss diverges)."""
        model, optimizer, images = self.model, self.optimizer, self.images
        batch, steps = self.plan["batch_size"], self.plan["steps_per_epoch"]
        losses, seconds = self.history["losses"], self.history["seconds"]
        while self.epochs < until and not self.history["diverged"]:
            permutation = self.order.permutation(len(images))
            start = time.perf_counter()
            serial = 0.0  # LocoProp: the solve phases' time beyond their longest solve
            for step in range(steps):
                x = from_numpy(images[permutation[step * batch:(step + 1) * batch]])
                x = x.to(self.device)  # a GPU run copies each batch there, as torch loops do
                if getattr(optimizer, "needs_batch", False):
                    optimizer.step(x, x)
                    solves = getattr(optimizer, "solve_seconds", None)
                    if solves:
                        serial += optimizer.solve_phase_seconds - max(solves)
                    continue
                if isinstance(optimizer, optim.KFAC):  # its damping adapts from re-evaluations
                    optimizer.step(_closure(optimizer, model, x))
                    continue
                optimizer.zero_grad()
                reconstruction_loss(model(x), x).backward()
                optimizer.step()
            if self.device.type == "cuda":
                cuda.synchronize()  # the device's queued work is part of the epoch's time
            elapsed = time.perf_counter() - start
            seconds.append(seconds[-1] + elapsed)
            if isinstance(optimizer, LocoProp):
                parallel = self.history.setdefault("layer_parallel_seconds", [0.0])
                parallel.append(parallel[-1] + elapsed - serial)
            if self.scheduler is not None:
                self.scheduler.step()
            losses.append(evaluate(model, images, batch))
            if log:
                log(f"  {self.name} lr={self.history['lr']:g} epoch {self.epochs}: loss "
                    f"{losses[-1]:.2f} ({seconds[-1]:.1f} s)")
            if not math.isfinite(losses[-1]) or losses[-1] > 10 * losses[0]:
                self.history["diverged"] = True
        return self.history


def _closure(optimizer, model, x):
    def closure():
        optimizer.zero_grad()
        loss = reconstruction_loss(model(x), x)
        loss.backward()
        return loss
    return closure


def sweep(name: str, lrs, images: np.ndarray, plan: dict, sweep_epochs=None, log=None):
    """Run ``name`` at each rate of ``lrs``; return ``(best history, every sweep history)``.

    With ``sweep_epochs`` shorter than ``plan['epochs']``, every rate is trained for that many
    epochs (under the full run's schedule), and the best run then continues to the end: the
    same computation as a full run at that rate from the start.
    """
    short = min(sweep_epochs or plan["epochs"], plan["epochs"])
    runs = [Run(name, lr, images, plan) for lr in lrs]
    swept = [copy.deepcopy(run.train(short, log)) for run in runs]
    best = min(runs, key=lambda run: run.final)
    del runs  # free the other runs' models and optimiser states
    return best.train(plan["epochs"], log), swept


def _reach(history, target, clock="seconds"):
    """Seconds (of ``history[clock]``) and epochs until the end-of-epoch loss is at most
    ``target`` (None: never)."""
    times = history[clock] if isinstance(clock, str) else clock
    for epoch, (loss, seconds) in enumerate(zip(history["losses"], times)):
        if loss <= target:
            return seconds, epoch
    return None, None


def _loss_at(history, seconds) -> float:
    """The lowest end-of-epoch loss reached within ``seconds`` of training."""
    return min(loss for loss, t in zip(history["losses"], history["seconds"]) if t <= seconds)


def _budgets(results) -> list:
    """The wall-clock budgets of the equal-time columns: the shortest total training time of
    all methods, and of the methods that are not first-order."""
    totals = {h["method"]: h["seconds"][-1] for h in results}
    budgets = [min(totals.values())]
    others = [t for name, t in totals.items() if not METHODS[name].first_order]
    if others and min(others) > budgets[0]:
        budgets.append(min(others))
    return budgets


def _rows(results, target, budgets):
    rows = []
    for history in results:
        epochs_run = len(history["losses"]) - 1
        seconds, epochs = _reach(history, target)
        row = {"method": history["method"], "lr": history["lr"],
               "final_loss": history["losses"][-1],
               "seconds_per_epoch": history["seconds"][-1] / max(epochs_run, 1),
               "seconds_to_target": seconds, "epochs_to_target": epochs,
               "diverged": history["diverged"]}
        # LocoProp with one core per layer: the step's time with only its longest layer solve
        parallel = history.get("layer_parallel_seconds")
        row["layer_parallel_seconds_per_epoch"] = (None if parallel is None
                                                   else parallel[-1] / max(epochs_run, 1))
        row["layer_parallel_seconds_to_target"] = (None if parallel is None else
                                                   _reach(history, target, clock=parallel)[0])
        for budget in budgets:
            row[f"loss_at_{budget:.0f}s"] = _loss_at(history, budget)
        rows.append(row)
    return rows


def _markdown(rows, target, budgets, header) -> str:
    at = [f"loss at {b:.0f} s" for b in budgets]
    lines = [header, "", f"Target loss for the time columns: {target:.2f}. Equal-time columns: "
             f"the best end-of-epoch loss within the shortest total training time of all "
             f"methods" + (" and of the methods that are not first-order" if len(budgets) > 1
                           else "") + ".", "",
             "| method | lr | final loss | s/epoch | s to target | epochs to target | "
             + " | ".join(at) + " | s/epoch, a core per layer | s to target, a core per layer |",
             "|---" * (8 + len(at)) + "|"]
    for row in rows:
        final = f"{row['final_loss']:.2f}" + (" (diverged)" if row["diverged"] else "")
        equal_time = " | ".join(f"{row[f'loss_at_{b:.0f}s']:.2f}" for b in budgets)
        lines.append(f"| {row['method']} | {row['lr']:g} | {final} | "
                     f"{row['seconds_per_epoch']:.2f} | {_cell(row['seconds_to_target'])} | "
                     f"{_cell(row['epochs_to_target'], '')} | {equal_time} | "
                     f"{_cell(row['layer_parallel_seconds_per_epoch'], '.2f')} | "
                     f"{_cell(row['layer_parallel_seconds_to_target'])} |")
    lines += ["", "The last two columns (LocoProp only) are the time the same run would take on "
              "a machine with one core per layer: the measured step time with each layer's "
              "local solve replaced by the longest one of the step (the layers' solves are "
              "independent; `DistributedLocoProp` runs them on separate ranks)."]
    return "\n".join(lines) + "\n"


def _cell(value, spec=".1f") -> str:
    return "-" if value is None else format(value, spec)


def _write_text(path, text: str) -> None:
    """Replace ``path`` atomically: a crash mid-write leaves the previous file."""
    _atomic_write(path, text.encode("utf-8"))


def _write_csv(path, rows) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    _write_text(path, buffer.getvalue())


def _plot(results, floor, out_dir, title) -> list:
    from ..diagnostics.plots import new_figure, save_figure
    paths = []
    for key, label, filename in (("epochs", "epoch", "loss_vs_epochs.png"),
                                 ("seconds", "training seconds", "loss_vs_seconds.png")):
        figure, axes = new_figure(1, 1, size=(8.0, 5.0), what="the comparison's plots")
        axis = axes[0, 0]
        for history in results:
            x = range(len(history["losses"])) if key == "epochs" else history["seconds"]
            style = "-" if history["method"].startswith("LocoProp") else "--"
            (line,) = axis.plot(list(x), history["losses"], style, marker=".",
                                label=f"{history['method']} (lr {history['lr']:g})")
            if key == "seconds" and "layer_parallel_seconds" in history:
                axis.plot(history["layer_parallel_seconds"], history["losses"], ":",
                          marker=".", color=line.get_color(),
                          label=f"{history['method']}, a core per layer")
        axis.axhline(floor, color="black", linestyle=":", label=f"entropy floor {floor:.1f}")
        axis.set_yscale("log")
        axis.set_xlabel(label)
        axis.set_ylabel("training loss (sigmoid CE summed over pixels)")
        axis.set_title(title)
        axis.legend(fontsize=8)
        paths.append(save_figure(figure, os.path.join(out_dir, filename)))
    return paths


def _plan(args, images) -> dict:
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    else:
        sizes = LAYER_SIZES
    if sizes[0] != images.shape[1] or sizes[-1] != images.shape[1]:
        raise ValueError(f"compare: the autoencoder's input and output widths {sizes[0]} and "
                         f"{sizes[-1]} must equal the images' {images.shape[1]} pixels")
    batch = min(args.batch_size, len(images))
    steps = len(images) // batch
    if args.steps_per_epoch:
        steps = min(steps, args.steps_per_epoch)
    if args.epochs < 1 or steps < 1:
        raise ValueError(f"compare: need at least one epoch and one step per epoch (epochs "
                         f"{args.epochs}, {len(images)} images, batch {batch})")
    return {"sizes": sizes, "epochs": args.epochs, "batch_size": batch,
            "steps_per_epoch": steps, "schedule": args.schedule,
            "warmup_epochs": args.warmup_epochs, "seed": args.seed,
            "refresh_steps": max(1, min(2 * steps, steps * args.epochs // 2)),
            "workers": args.locoprop_workers, "device": args.device}


def _report(record: dict, out: str, target_loss=None, plots: bool = True) -> str:
    """Write the table, the CSVs, the histories and the plots of a finished comparison (the
    dict saved as ``histories.json``); return the Markdown table."""
    results, plan = record["results"], record["plan"]
    target = target_loss
    if target is None:
        finals = {h["method"]: math.inf if h["diverged"] else h["losses"][-1] for h in results}
        first_order = [v for k, v in finals.items() if METHODS[k].first_order and
                       math.isfinite(v)]
        target = min(first_order or finals.values())
    record = dict(record, target=target)
    budgets = _budgets(results)
    rows = _rows(results, target, budgets)
    count = record.get("images", plan["batch_size"] * plan["steps_per_epoch"])
    before, after = record.get("load_average", (math.nan, math.nan))
    header = (f"Deep autoencoder {'-'.join(map(str, plan['sizes']))} on {count} images "
              f"of {record['source']}; batch {plan['batch_size']}, {plan['steps_per_epoch']} "
              f"steps per epoch, {plan['epochs']} epochs, {plan['schedule']} schedule; "
              f"cross-entropy floor {record['floor']:.2f}; load average {before:.2f} before, "
              f"{after:.2f} after")
    os.makedirs(out, exist_ok=True)
    table = _markdown(rows, target, budgets, header)
    _write_text(os.path.join(out, "comparison.md"), table)
    _write_csv(os.path.join(out, "comparison.csv"), rows)
    if record.get("sweep"):
        _write_csv(os.path.join(out, "sweep.csv"), record["sweep"])
    _write_text(os.path.join(out, "histories.json"), json.dumps(record, indent=1))
    if plots:
        _plot(results, record["floor"], out, f"Deep autoencoder, {count} images")
    return table


def run(args) -> int:
    """Run the comparison described by the parsed ``args``; return the exit status."""
    if args.report:
        with open(args.report) as handle:
            record = json.load(handle)
        print(_report(record, args.out, args.target_loss, not args.no_plots))
        return 0
    if args.quick:
        args.limit = args.limit or 300
        args.batch_size = min(args.batch_size, 100)
    if args.epochs is None:
        args.epochs = 2 if args.quick else 20
    names = [n.strip() for n in args.methods.split(",") if n.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise ValueError(f"compare: unknown methods {unknown}; choose from {list(METHODS)}")
    log = None if args.quiet else (lambda message: print(message, flush=True))
    grids = _grids(args, names)
    images, source = _images(args.data, args.limit)
    plan = _plan(args, images)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    results, sweep_rows = [], []
    for name in names:
        best, runs = sweep(name, grids[name], images, plan, args.sweep_epochs, log)
        results.append(best)
        for history in runs:
            sweep_rows.append({"method": name, "lr": history["lr"],
                               "epochs": len(history["losses"]) - 1,
                               "final_loss": history["losses"][-1],
                               "diverged": history["diverged"],
                               "kept": history["lr"] == best["lr"]})
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    record = {"plan": plan, "images": len(images), "source": source,
              "floor": cross_entropy_floor(images), "load_average": [load_before, load_after],
              "results": results, "sweep": sweep_rows}
    print(_report(record, args.out, args.target_loss, not args.no_plots))
    return 0

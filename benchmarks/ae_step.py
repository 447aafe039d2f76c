"""One training step of the deep autoencoder: locograd against hand-written NumPy and PyTorch.

The workload of ``shared/reference/ae.py``: the MLP 784-1000-500-250-30-250-500-1000-784 (tanh,
linear 30-unit code layer), sigmoid cross-entropy summed over the pixels and averaged over a
batch of 1000, RMSProp (lr 1e-4, alpha 0.9, eps 1e-8); the same input batch at every step. All
implementations start from the reference's initial weights (``make_init``: W is (in, out), so
locograd's ``Linear.weight`` gets its transpose) and must give the reference's losses (and, when
PyTorch is installed, its gradients) before anything is timed.

Implementations, interleaved in rounds in this process on one pinned core (the table gives the
median over rounds of each one's median step time, and ratios taken within each round):

    numpy      the reference's tuned hand-written NumPy step (``build_numpy()``)
    locograd   locograd as a user writes it: ``nn.Sequential`` of ``nn.Linear`` and ``nn.Tanh``,
               ``F.binary_cross_entropy_with_logits(reduction='sum') / B``, ``optim.RMSprop``,
               ``zero_grad`` / ``backward`` / ``step``
    torch      the reference's PyTorch eager step (``build_torch()``), when PyTorch is installed
    gemm       the step's 23 matrix products alone (``np.matmul`` into preallocated outputs, the
               layouts of the forward, weight-gradient and input-gradient products): the floor
               for any NumPy engine. ``roofline`` = gemm time / step time, in the same round.

Peak resident memory (``ru_maxrss``) is measured for each implementation in its own fresh
process (imports, build, ``--rss-steps`` steps); ``base_MB`` is the peak after the imports,
before building, so ``peak - base`` is the workload's own memory.

``--locoprop`` times instead one ``LocoProp.step(inputs, targets)`` (locograd.locoprop, the
notes' defaults: LocoProp-M, gamma 10, 10 inner RMSProp steps) on the same model and batch,
interleaved with the backprop step above.

``--device cuda`` times the step on a GPU instead (CuPy): locograd's step against PyTorch's
CUDA eager step of the same model, weights and batch (TF32 off on both sides, since CuPy's
float32 products do not use it), interleaved in rounds, each step ending with ``loss.item()``
(which waits for the device); with ``--locoprop``, also one ``LocoProp.step`` on the device.
The two must give the same losses (to float32 rounding) before anything is timed.

    python benchmarks/ae_step.py [--rounds 7] [--steps 3] [--reference DIR] [--json out.json]
    python benchmarks/ae_step.py --locoprop [--rounds 5]
    python benchmarks/ae_step.py --device cuda [--locoprop] [--rounds 7] [--json out.json]
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys

from _common import (NOT_FOUND, add_reference_argument, import_reference, load_average,
                     median_of_calls, median_ratio, peak_rss_mb, pin_one_core, print_profile,
                     print_table, run_json_worker, run_rounds, torch_available, write_json)

pin_one_core()

import numpy as np  # noqa: E402  (after pinning: the BLAS reads its thread count at import)

DIMS = [784, 1000, 500, 250, 30, 250, 500, 1000, 784]
BATCH = 1000
LR, ALPHA, EPS = 1e-4, 0.9, 1e-8
LINEAR_OUTPUTS = (3, 7)  # the layers without tanh: the 30-unit code and the logits
CHECK_STEPS = 4


def initial_state(reference):
    """Weights (in, out), biases and the input batch: the reference's, or a seeded draw."""
    if reference is not None:
        return reference.make_init()
    rng = np.random.default_rng(0)
    weights = [(rng.standard_normal((i, o)) / np.sqrt(i)).astype(np.float32)
               for i, o in itertools.pairwise(DIMS)]
    biases = [np.zeros(o, np.float32) for o in DIMS[1:]]
    return weights, biases, rng.random((BATCH, DIMS[0]), dtype=np.float32)


def reconstruction_loss(logits, images):
    """Sigmoid cross-entropy summed over the pixels, averaged over the batch."""
    from locograd.nn import functional as F
    return F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / BATCH


def build_model(weights, biases):
    """The autoencoder as an ``nn.Sequential``, with the given (in, out) weights."""
    import locograd as lg
    from locograd import nn
    layers = []
    for index, (weight, bias) in enumerate(zip(weights, biases)):
        linear = nn.Linear(*weight.shape)
        with lg.no_grad():
            linear.weight.copy_(lg.from_numpy(weight.T))
            linear.bias.copy_(lg.from_numpy(bias))
        layers.append(linear)
        if index not in LINEAR_OUTPUTS:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def build_locograd(reference, device="cpu"):
    """``step()`` (returns the loss before the update) and the model."""
    import locograd as lg
    from locograd import optim
    weights, biases, x = initial_state(reference)
    model = build_model(weights, biases).to(device)
    optimizer = optim.RMSprop(model.parameters(), lr=LR, alpha=ALPHA, eps=EPS)
    images = lg.from_numpy(x).to(device)

    def step():
        optimizer.zero_grad()
        loss = reconstruction_loss(model(images), images)
        loss.backward()
        optimizer.step()
        return loss.item()
    return step, model


def build_locoprop(reference, device="cpu"):
    """``step()``: one ``LocoProp.step`` with the notes' defaults (LocoProp-M, gamma 10, 10 inner
    TF1-RMSProp steps at lr 1e-5)."""
    import locograd as lg
    from locograd.locoprop import LocoProp
    weights, biases, x = initial_state(reference)
    on_host = lg.device(device).type == "cpu"
    optimizer = LocoProp(build_model(weights, biases).to(device), reconstruction_loss,
                         output_transfer="sigmoid", parallel=on_host)  # one GPU: one stream
    images = lg.from_numpy(x).to(device)
    return lambda: optimizer.step(images, images)


def gemm_shapes():
    """(M, K, N, layout) of the step's matrix products: forward ``X @ W`` (NN), weight gradient
    ``X.T @ dY`` (TN) and input gradient ``dY @ W.T`` (NT, not for the first layer)."""
    shapes = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(DIMS)):
        shapes.append((BATCH, fan_in, fan_out, "NN"))
        shapes.append((fan_in, BATCH, fan_out, "TN"))
        if index > 0:
            shapes.append((BATCH, fan_out, fan_in, "NT"))
    return shapes


def gemm_flops() -> float:
    return sum(2.0 * m * k * n for m, k, n, _ in gemm_shapes())


def build_gemm_floor():
    """All the step's matrix products on random float32 operands, into preallocated outputs."""
    rng = np.random.default_rng(0)
    products = []
    for m, k, n, layout in gemm_shapes():
        a = rng.random((k, m), dtype=np.float32).T if layout == "TN" else \
            rng.random((m, k), dtype=np.float32)
        b = rng.random((n, k), dtype=np.float32).T if layout == "NT" else \
            rng.random((k, n), dtype=np.float32)
        products.append((a, b, np.empty((m, n), np.float32)))

    def run():
        for a, b, out in products:
            np.matmul(a, b, out=out)
    return run


def build(impl: str, reference):
    """``step()`` of one implementation (the reference ones need ``reference``)."""
    if impl == "locograd":
        return build_locograd(reference)[0]
    if impl == "locoprop":
        return build_locoprop(reference)
    if impl == "gemm":
        return build_gemm_floor()
    step = (reference.build_numpy() if impl == "numpy" else reference.build_torch())[0]
    if impl == "torch":
        import torch
        torch.set_num_threads(1)
    return step


def check_same_step(reference) -> dict:
    """Locograd must compute the reference's step: the same losses over ``CHECK_STEPS`` steps
    (each depends on the previous updates), and PyTorch's gradients when it is installed."""
    step, _ = build_locograd(reference)
    ours = [step() for _ in range(CHECK_STEPS)]
    report = {"locograd_losses": ours}
    if reference is None:
        return report
    ref_step = build("numpy", reference)
    theirs = [ref_step() for _ in range(CHECK_STEPS)]
    report["numpy_losses"] = theirs
    if not np.allclose(ours, theirs, rtol=1e-4):
        raise SystemExit(f"ae_step: locograd's losses {ours} differ from the NumPy reference's "
                         f"{theirs}")
    if torch_available():
        report["max_gradient_error"] = check_gradients_against_torch(reference)
    return report


def check_gradients_against_torch(reference) -> float:
    """The largest relative difference of the first step's gradients from PyTorch's."""
    import torch

    import locograd as lg
    weights, biases, x = reference.make_init()
    model = build_model(weights, biases)
    images = lg.from_numpy(x)
    reconstruction_loss(model(images), images).backward()
    ours = [p.grad.numpy() for p in model.parameters()]  # weight (out, in), bias per layer
    params = [torch.tensor(a, requires_grad=True) for a in weights + biases]
    h = torch.from_numpy(x)
    for index, (w, b) in enumerate(zip(params[:len(weights)], params[len(weights):])):
        h = h @ w + b
        if index not in LINEAR_OUTPUTS:
            h = torch.tanh(h)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        h, torch.from_numpy(x), reduction="sum") / BATCH
    loss.backward()
    theirs = []
    for w, b in zip(params[:len(weights)], params[len(weights):]):
        theirs += [w.grad.numpy().T, b.grad.numpy()]
    worst = max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(ours, theirs))
    if worst > 1e-3:
        raise SystemExit(f"ae_step: locograd's gradients differ from PyTorch's (max relative "
                         f"error {worst:.2e})")
    return worst


def rss_worker(impl: str, reference_dir: str, steps: int) -> dict:
    """Peak RSS of one implementation alone in this (fresh) process."""
    reference = import_reference("ae", reference_dir)
    if impl == "locograd":
        import locograd  # noqa: F401  (imported before the baseline, like numpy and torch)
    if impl == "torch":
        import torch  # noqa: F401
    base = peak_rss_mb()
    step = build(impl, reference)
    for _ in range(steps):
        step()
    return {"impl": impl, "peak_MB": peak_rss_mb(), "base_MB": base}


def measure_rss(impls, reference_dir: str, steps: int) -> dict:
    return {impl: run_json_worker([__file__, "--rss-worker", impl, "--reference", reference_dir,
                                   "--rss-steps", str(steps)]) for impl in impls}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per implementation and "
                    "round (their median is the round's figure)")
    ap.add_argument("--rss-steps", type=int, default=5)
    ap.add_argument("--no-rss", action="store_true", help="skip the peak-memory processes")
    ap.add_argument("--locoprop", action="store_true",
                    help="time LocoProp.step against the backprop step instead")
    ap.add_argument("--json", default=None, help="write the raw figures to this file")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="instead of timing, print cProfile's top functions over N locograd "
                         "steps")
    ap.add_argument("--device", default="cpu",
                    help="'cuda': time the step on a GPU against PyTorch's CUDA eager step")
    ap.add_argument("--rss-worker", default=None, help=argparse.SUPPRESS)
    add_reference_argument(ap)
    args = ap.parse_args(argv)
    if args.rss_worker:
        print(json.dumps(rss_worker(args.rss_worker, args.reference, args.rss_steps)))
        return True
    if args.device != "cpu":
        return device_main(args, import_reference("ae", args.reference))

    reference = import_reference("ae", args.reference)
    if reference is None:
        print(f"ae_step: {NOT_FOUND} in {args.reference}; measuring locograd alone")
    check = check_same_step(reference)
    if args.profile:
        step = build("locoprop" if args.locoprop else "locograd", reference)
        step()
        print_profile(step, args.profile)
        return True
    if args.locoprop:
        return locoprop_main(args, reference, check)
    impls = ["locograd", "gemm"]
    if reference is not None:
        impls = ["numpy"] + impls + (["torch"] if torch_available() else [])
    steps = {impl: build(impl, reference) for impl in impls}
    for step in steps.values():  # warm up: first allocations, BLAS buffers
        step()
        step()
    load_before = load_average()
    per_round = run_rounds(steps, args.rounds, lambda step: median_of_calls(step, args.steps))
    per_round = {impl: [t * 1e3 for t in times] for impl, times in per_round.items()}
    rss = {} if args.no_rss else measure_rss([i for i in impls if i != "gemm"], args.reference,
                                             args.rss_steps)
    rows = []
    for impl in impls:
        row = {"impl": impl, "ms_per_step": statistics.median(per_round[impl])}
        for other in ("numpy", "torch"):
            row[f"x_{other}"] = median_ratio(per_round, impl, other) if other in impls else "-"
        row["roofline"] = median_ratio(per_round, "gemm", impl)
        if rss:
            mine = rss.get(impl, {})
            row["peak_MB"], row["base_MB"] = mine.get("peak_MB", "-"), mine.get("base_MB", "-")
            row["x_numpy_rss"] = (mine["peak_MB"] / rss["numpy"]["peak_MB"]
                                  if mine and "numpy" in rss else "-")
        rows.append(row)
    flops = reference.flops_per_step() if reference is not None else gemm_flops()
    gemm_rate = flops / (statistics.median(per_round["gemm"]) * 1e-3) / 1e9
    print_table(f"Deep-autoencoder training step, batch {BATCH}, {args.rounds} rounds x "
                f"{args.steps} steps on one core; {flops / 1e9:.1f} GFLOP per step, GEMM floor "
                f"{gemm_rate:.1f} GFLOP/s; roofline = GEMM time / step time; peak RSS of each "
                f"alone, {args.rss_steps} steps", rows)
    write_json(args.json, {"rows": rows, "per_round": per_round, "rss": rss, "check": check,
                           "flops_per_step": flops, "gemm_gflops": gemm_rate,
                           "load_before": load_before, "load_after": load_average(),
                           "reference": args.reference if reference is not None else NOT_FOUND})
    return rows


def locoprop_main(args, reference, check):
    """Seconds per ``LocoProp.step`` against the backprop RMSProp step, interleaved."""
    try:
        import locograd.locoprop  # noqa: F401
    except ImportError:
        print("ae_step: locograd.locoprop not found; nothing to measure")
        write_json(args.json, {"rows": [], "missing": "locograd.locoprop"})
        return []
    locoprop = build("locoprop", reference)
    first = locoprop()
    if not np.isclose(first, check["locograd_losses"][0], rtol=1e-5):
        raise SystemExit(f"ae_step: LocoProp's first loss {first} differs from backprop's "
                         f"{check['locograd_losses'][0]}")
    steps = {"locoprop": locoprop, "locograd": build("locograd", reference)}
    steps["locograd"]()
    per_round = run_rounds(steps, args.rounds, lambda step: median_of_calls(step, 1))
    rows = [{"impl": impl, "s_per_step": statistics.median(per_round[impl]),
             "x_backprop_step": median_ratio(per_round, impl, "locograd")} for impl in steps]
    print_table(f"LocoProp-M step (10 inner steps, all layers) against one backprop RMSProp step "
                f"of locograd, deep autoencoder, batch {BATCH}, {args.rounds} rounds on one core",
                rows)
    write_json(args.json, {"rows": rows, "per_round": per_round, "check": check,
                           "load_after": load_average()})
    return rows


def build_torch_device(reference, device: str):
    """PyTorch's eager step of the same model on ``device`` (``torch.nn.Linear`` layers given
    the same weights, ``torch.optim.RMSprop`` with the same hyper-parameters)."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    weights, biases, x = initial_state(reference)
    layers = []
    for index, (weight, bias) in enumerate(zip(weights, biases)):
        linear = torch.nn.Linear(*weight.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight.T.copy()))
            linear.bias.copy_(torch.from_numpy(bias))
        layers.append(linear)
        if index not in LINEAR_OUTPUTS:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers).to(device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=LR, alpha=ALPHA, eps=EPS)
    images = torch.from_numpy(x).to(device)

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(images), images, reduction="sum") / BATCH
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def device_main(args, reference):
    """The step on a GPU: locograd (CuPy) against PyTorch CUDA eager, interleaved in rounds."""
    import locograd as lg
    if not lg.cuda.is_available():
        raise SystemExit(f"ae_step --device {args.device}: no CUDA device is usable (CuPy and a "
                         f"GPU are needed; pip install 'locograd[cuda]')")
    from locograd.backend.devices import resolve
    device = str(resolve(args.device))
    steps = {"locograd": build_locograd(reference, device)[0]}
    if torch_available():
        import torch
        if torch.cuda.is_available():
            steps["torch"] = build_torch_device(reference, device)
    ours = [steps["locograd"]() for _ in range(CHECK_STEPS)]
    check = {"locograd_losses": ours, "device": lg.cuda.get_device_name()}
    if "torch" in steps:
        theirs = [steps["torch"]() for _ in range(CHECK_STEPS)]
        check["torch_losses"] = theirs
        if not np.allclose(ours, theirs, rtol=1e-4):
            raise SystemExit(f"ae_step: locograd's losses on {device} {ours} differ from "
                             f"PyTorch's {theirs}")
    if args.locoprop:
        steps["locoprop"] = build_locoprop(reference, device)
    for step in steps.values():  # warm up: CuPy's kernel compilation, cuBLAS handles
        step()
        step()
    per_round = run_rounds(steps, args.rounds, lambda step: median_of_calls(step, args.steps))
    per_round = {impl: [t * 1e3 for t in times] for impl, times in per_round.items()}
    rows = []
    for impl in steps:
        row = {"impl": impl, "ms_per_step": statistics.median(per_round[impl])}
        row["x_torch_cuda"] = median_ratio(per_round, impl, "torch") if "torch" in steps \
            else "-"
        row["x_locograd"] = median_ratio(per_round, impl, "locograd")
        rows.append(row)
    print_table(f"Deep-autoencoder training step on {check['device']} ({device}), batch {BATCH}, "
                f"{args.rounds} rounds x {args.steps} steps, each ending with loss.item(); "
                f"locoprop = one LocoProp-M step (10 inner steps)", rows)
    write_json(args.json, {"rows": rows, "per_round": per_round, "check": check,
                           "device": device})
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)

"""One iteration of a character RNN trained by BPTT: locograd against hand-written NumPy and
PyTorch.

The workload of ``shared/reference/rnn.py`` (min-char-rnn): vocabulary 65, hidden 100, 25 steps,
batch 1, ``h_t = tanh(Wxh x_t + Whh h_(t-1) + bh)``, ``y_t = Why h_t + by``, softmax
cross-entropy summed over the 25 steps, gradients clipped to [-5, 5], Adagrad (lr 0.1, eps
1e-8); the hidden state is carried from one window to the next (not differentiated through).
Every implementation starts from the reference's weights (``make_init``) and reads the same
symbol stream (its ``Feeder``); locograd's losses must match the NumPy reference's over the
first iterations before anything is timed.

Implementations, interleaved in rounds in this process on one pinned core (medians over rounds
of each one's median iteration, ratios taken within each round):

    numpy          the reference's hand-written NumPy BPTT (``build_numpy()``)
    locograd       locograd as a user writes it: an ``nn.Module`` holding ``nn.RNN(65, 100)``
                   fed one-hot vectors (``F.one_hot(...).float()``) and ``nn.Linear(100, 65)``;
                   ``F.cross_entropy(reduction='sum')``, ``nn.utils.clip_grad_value_``,
                   ``optim.Adagrad``. ``bias_hh_l0`` is frozen at zero: the reference has one
                   hidden bias, so a second trainable one would change the updates.
    locograd_loop  the same model written step by step with explicit parameters, as the
                   reference's PyTorch loop (``Wxh[:, x_t] + Whh @ h + bh``): many small ops
    torch_loop     the reference's PyTorch eager loop (``build_torch_loop()``), when installed
    torch_nnrnn    the reference's PyTorch ``nn.RNN`` version (``build_torch_nnrnn()``; it trains
                   both hidden biases, so only its first loss is checked)

    python benchmarks/char_rnn.py [--rounds 7] [--iters 40] [--reference DIR] [--json out.json]
"""
from __future__ import annotations

import argparse
import statistics
import sys

from _common import (NOT_FOUND, add_reference_argument, import_reference, load_average,
                     median_of_calls, median_ratio, pin_one_core, print_profile, print_table,
                     run_rounds, torch_available, write_json)

pin_one_core()

import numpy as np  # noqa: E402  (after pinning: the BLAS reads its thread count at import)

import locograd as lg  # noqa: E402
from locograd import nn, optim  # noqa: E402
from locograd.nn import functional as F  # noqa: E402

VOCAB, HIDDEN, STEPS = 65, 100, 25
LR, CLIP, EPS = 0.1, 5.0, 1e-8
# Adagrad's first updates are +-lr for every non-zero gradient, even one at rounding level, so
# the training trajectory is chaotic: float32 implementations drift apart after about 5 windows
# (PyTorch's loop as much as locograd). The first 4 losses agree to 2e-5 and depend on the
# updates (their sizes from the second on) and on the carried hidden state.
CHECK_ITERATIONS = 4


def initial_state(reference):
    """The symbol stream, the weights [Wxh, Whh, Why, bh, by] and a feeder of (inputs, targets)
    windows: the reference's, or a seeded draw and a plain feeder when it is absent."""
    if reference is not None:
        data, weights = reference.make_init()
        return weights, reference.Feeder(data)
    rng = np.random.default_rng(0)
    data = rng.integers(0, VOCAB, size=100_000)
    weights = [(rng.standard_normal(shape) * 0.01).astype(np.float32)
               for shape in ((HIDDEN, VOCAB), (HIDDEN, HIDDEN), (VOCAB, HIDDEN))]
    weights += [np.zeros(HIDDEN, np.float32), np.zeros(VOCAB, np.float32)]
    return weights, _Windows(data)


class _Windows:
    """Consecutive (inputs, next symbols) windows of ``STEPS`` symbols, wrapping around."""

    def __init__(self, data):
        self.data, self.position = data, 0

    def next(self):
        if self.position + STEPS + 1 >= len(self.data):
            self.position = 0
        start = self.position
        self.position += STEPS
        return self.data[start:start + STEPS], self.data[start + 1:start + STEPS + 1]


class CharRNN(nn.Module):
    """One-hot symbols -> tanh RNN -> logits over the vocabulary."""

    def __init__(self, vocab: int, hidden: int):
        super().__init__()
        self.vocab = vocab
        self.rnn = nn.RNN(vocab, hidden)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, symbols, state):
        outputs, state = self.rnn(F.one_hot(symbols, self.vocab).float(), state)
        return self.decoder(outputs), state


def _update(loss, params, optimizer) -> float:
    """The training step after the forward pass: gradients, clipping, Adagrad; the loss."""
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_value_(params, CLIP)
    optimizer.step()
    return loss.item()


def build_locograd(reference):
    """``step()`` of the ``nn.RNN`` model; returns the window's loss before the update."""
    (w_xh, w_hh, w_hy, b_h, b_y), feeder = initial_state(reference)
    model = CharRNN(VOCAB, HIDDEN)
    with lg.no_grad():
        for param, value in ((model.rnn.weight_ih_l0, w_xh), (model.rnn.weight_hh_l0, w_hh),
                             (model.rnn.bias_ih_l0, b_h), (model.decoder.weight, w_hy),
                             (model.decoder.bias, b_y)):
            param.copy_(lg.from_numpy(value))
        model.rnn.bias_hh_l0.zero_()
    model.rnn.bias_hh_l0.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = optim.Adagrad(params, lr=LR, eps=EPS)
    state = {"h": lg.zeros(1, HIDDEN)}

    def step():
        inputs, targets = feeder.next()
        logits, h = model(lg.from_numpy(inputs), state["h"])
        loss = F.cross_entropy(logits, lg.from_numpy(targets), reduction="sum")
        state["h"] = h.detach()
        return _update(loss, params, optimizer)
    return step


def build_locograd_loop(reference):
    """``step()`` of the model written time step by time step with explicit parameters."""
    arrays, feeder = initial_state(reference)
    params = [nn.Parameter(lg.from_numpy(a.copy())) for a in arrays]
    w_xh, w_hh, w_hy, b_h, b_y = params
    optimizer = optim.Adagrad(params, lr=LR, eps=EPS)
    state = {"h": lg.zeros(HIDDEN)}

    def step():
        inputs, targets = feeder.next()
        h, loss = state["h"], 0
        for t in range(STEPS):
            h = lg.tanh(w_xh[:, int(inputs[t])] + w_hh @ h + b_h)
            logits = w_hy @ h + b_y
            loss = loss + F.cross_entropy(logits.unsqueeze(0), lg.from_numpy(targets[t:t + 1]))
        state["h"] = h.detach()
        return _update(loss, params, optimizer)
    return step


BUILDERS = {"locograd": build_locograd, "locograd_loop": build_locograd_loop}
REFERENCE_BUILDERS = {"numpy": "build_numpy", "torch_loop": "build_torch_loop",
                      "torch_nnrnn": "build_torch_nnrnn"}


def build(impl: str, reference):
    if impl in BUILDERS:
        return BUILDERS[impl](reference)
    step = getattr(reference, REFERENCE_BUILDERS[impl])()[0]
    if impl.startswith("torch"):
        import torch
        torch.set_num_threads(1)
    return step


def available_impls(reference):
    if reference is None:
        return list(BUILDERS)
    impls = ["numpy", *BUILDERS]
    if torch_available():
        impls += ["torch_loop", "torch_nnrnn"]
    return impls


def check_same_losses(reference, impls) -> dict:
    """Locograd must train as the reference does: the same losses over ``CHECK_ITERATIONS``
    windows (each depends on the previous updates and the carried hidden state). PyTorch's
    nn.RNN variant trains a second hidden bias, so only its first loss is compared."""
    losses = {}
    for impl in impls:
        step = build(impl, reference)
        losses[impl] = [step() for _ in range(CHECK_ITERATIONS)]
    if reference is None:
        return losses
    expected = losses["numpy"]
    for impl, got in losses.items():
        count = 1 if impl == "torch_nnrnn" else CHECK_ITERATIONS
        if not np.allclose(got[:count], expected[:count], rtol=1e-4):
            raise SystemExit(f"char_rnn: {impl}'s losses {got[:count]} differ from the NumPy "
                             f"reference's {expected[:count]}")
    return losses


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=40,
                    help="timed iterations per implementation and round (their median counts)")
    ap.add_argument("--json", default=None, help="write the raw figures to this file")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="instead of timing, print cProfile's top functions over N locograd "
                         "iterations")
    add_reference_argument(ap)
    args = ap.parse_args(argv)

    reference = import_reference("rnn", args.reference)
    if reference is None:
        print(f"char_rnn: {NOT_FOUND} in {args.reference}; measuring locograd alone")
    impls = available_impls(reference)
    losses = check_same_losses(reference, impls)
    if args.profile:
        step = build("locograd", reference)
        step()
        print_profile(step, args.profile)
        return True
    steps = {impl: build(impl, reference) for impl in impls}
    for step in steps.values():  # warm up
        for _ in range(10):
            step()
    per_round = run_rounds(steps, args.rounds, lambda step: median_of_calls(step, args.iters))
    per_round = {impl: [t * 1e3 for t in times] for impl, times in per_round.items()}
    rows = []
    for impl in impls:
        row = {"impl": impl, "ms_per_iter": statistics.median(per_round[impl])}
        for other in ("numpy", "torch_loop", "torch_nnrnn"):
            row[f"x_{other}"] = median_ratio(per_round, impl, other) if other in impls else "-"
        rows.append(row)
    print_table(f"Character RNN by BPTT (vocab {VOCAB}, hidden {HIDDEN}, {STEPS} steps, batch 1, "
                f"Adagrad), {args.rounds} rounds x {args.iters} iterations on one core", rows)
    write_json(args.json, {"rows": rows, "per_round": per_round, "losses": losses,
                           "load_after": load_average(),
                           "reference": args.reference if reference is not None else NOT_FOUND})
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

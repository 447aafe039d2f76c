"""A character-level language model trained by truncated backpropagation through time.

The text is cut into ``batch_size`` parallel streams; each step reads the next ``seq_len``
characters of every stream, predicts each next character, and back-propagates through those
``seq_len`` time steps. The recurrent state is carried on to the next chunk but *detached*: the
forward pass sees the whole past, the backward pass stops at the chunk boundary (truncated BPTT,
which bounds the memory and the cost of a step).

By default it trains on locograd's own documentation (README.md and docs/), so it runs offline.

    python examples/char_rnn.py                      # the project's documentation
    python examples/char_rnn.py --text my_book.txt --epochs 20 --hidden-size 256
"""
from __future__ import annotations

import argparse
import glob
import math
import os
import sys
import time

import numpy as np

import locograd as lg
from locograd import nn, optim
from locograd.models import CharRNN

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_corpus() -> str:
    """README.md and every Markdown file under docs/ of the project, concatenated."""
    paths = [os.path.join(PROJECT_ROOT, "README.md")]
    paths += sorted(glob.glob(os.path.join(PROJECT_ROOT, "docs", "**", "*.md"), recursive=True))
    texts = []
    for path in paths:
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                texts.append(handle.read())
    return "\n".join(texts)


def streams(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """The encoded text as ``batch_size`` contiguous rows (the tail that does not fit is cut)."""
    length = len(ids) // batch_size
    return ids[:length * batch_size].reshape(batch_size, length)


def detach_state(state):
    """Cut the graph at a chunk boundary (LSTM states are (h, c) pairs)."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def train_epoch(model, optimizer, data: np.ndarray, seq_len: int, grad_clip: float) -> float:
    """One pass over the streams by truncated BPTT; returns the mean loss per character."""
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    state, total, count = None, 0.0, 0
    for start in range(0, data.shape[1] - 1, seq_len):
        stop = min(start + seq_len, data.shape[1] - 1)
        inputs = lg.tensor(data[:, start:stop])
        targets = lg.tensor(data[:, start + 1:stop + 1])
        logits, state = model.forward_with_state(inputs, state)
        loss = loss_fn(logits, targets)   # logits (N, V, L) against targets (N, L)
        optimizer.zero_grad()
        loss.backward()                   # back through the stop - start time steps
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        state = detach_state(state)
        total += loss.item() * (stop - start)
        count += stop - start
    return total / count


def sample_text(model, itos, stoi, prime: str, length: int, temperature: float, seed: int):
    ids = model.generate([stoi[c] for c in prime], length, temperature, lg.Generator(seed))
    return prime + "".join(itos[i] for i in ids)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", help="a UTF-8 text file (default: the project's docs)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seq-len", type=int, default=32, help="BPTT length (default 32)")
    parser.add_argument("--batch-size", type=int, default=8, help="parallel streams (default 8)")
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--grad-clip", type=float, default=5.0)
    parser.add_argument("--max-chars", type=int, default=None,
                        help="train on the first N characters only")
    parser.add_argument("--sample-length", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> float:
    """Train and print samples; returns the last epoch's loss per character."""
    args = parse_args(argv)
    if args.text:
        try:
            with open(args.text, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            sys.exit(f"char_rnn.py: cannot read {args.text}: {error}")
    else:
        text = default_corpus()
    text = text[:args.max_chars]
    if len(text) < 2 * args.batch_size:
        sys.exit(f"char_rnn.py: the text has {len(text)} characters; it needs at least "
                 f"{2 * args.batch_size} for --batch-size {args.batch_size}")
    itos = sorted(set(text))
    stoi = {c: i for i, c in enumerate(itos)}
    data = streams(np.array([stoi[c] for c in text], dtype=np.int64), args.batch_size)
    lg.manual_seed(args.seed)
    model = CharRNN(len(itos), hidden_size=args.hidden_size, cell=args.cell)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    print(f"{len(text):,} characters, {len(itos)} distinct; {args.batch_size} streams of "
          f"{data.shape[1]:,}; {model.num_parameters():,} parameters")
    loss = math.nan
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        loss = train_epoch(model, optimizer, data, args.seq_len, args.grad_clip)
        print(f"epoch {epoch:3d}  loss {loss:.3f} nats/char (perplexity {math.exp(loss):.1f})"
              f"  {time.perf_counter() - started:.1f}s")
    prime = "\n" if "\n" in stoi else itos[0]
    print("--- sample ---")
    print(sample_text(model, itos, stoi, prime, args.sample_length, args.temperature,
                      args.seed))
    return loss


if __name__ == "__main__":
    main()

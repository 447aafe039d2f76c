"""A word-level language model, ported from PyTorch's examples (word_language_model): an LSTM
(or GRU) or a small Transformer encoder with a causal mask, trained by truncated BPTT with
plain SGD and gradient clipping, written as the PyTorch original is, with ``import locograd
as torch``.

    python examples/word_language_model.py                       # on the project's README
    python examples/word_language_model.py --data corpus.txt --model Transformer --epochs 6
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import locograd as torch
import locograd.nn as nn
import locograd.nn.functional as F

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Corpus:
    """Whitespace-separated words, one ``<eos>`` per line; the last tenth is held out."""

    def __init__(self, text: str):
        words = [w for line in text.splitlines() for w in line.split() + ["<eos>"]]
        self.idx2word = sorted(set(words))
        self.word2idx = {w: i for i, w in enumerate(self.idx2word)}
        ids = torch.tensor([self.word2idx[w] for w in words], dtype=torch.int64)
        cut = len(words) * 9 // 10
        self.train, self.valid = ids[:cut], ids[cut:]


def batchify(data, bsz):
    """(tokens,) -> (tokens // bsz, bsz): bsz parallel streams."""
    nbatch = data.size(0) // bsz
    return data[:nbatch * bsz].view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


def repackage_hidden(h):
    """Cut the graph at the batch boundary (truncated BPTT)."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


class RNNModel(nn.Module):
    """Encoder (embedding), recurrent module, decoder (linear to the vocabulary)."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


class PositionalEncoding(nn.Module):
    """The sinusoidal position code of "Attention Is All You Need", added to the embeddings."""

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe = torch.cat([torch.sin(position * div_term).unsqueeze(-1),
                        torch.cos(position * div_term).unsqueeze(-1)], -1).view(max_len, d_model)
        self.register_buffer("pe", pe.unsqueeze(1))  # (max_len, 1, d_model)

    def forward(self, x):
        return self.dropout(x + self.pe[:x.size(0)])


class TransformerModel(nn.Module):
    """A causal Transformer encoder over (L, N) token ids."""

    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
        super().__init__()
        self.ntoken, self.ninp = ntoken, ninp
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        layer = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(layer, nlayers)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.decoder = nn.Linear(ninp, ntoken)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, src, hidden=None):
        mask = nn.Transformer.generate_square_subsequent_mask(src.size(0))
        src = self.pos_encoder(self.encoder(src) * math.sqrt(self.ninp))
        output = self.transformer_encoder(src, mask, is_causal=True)
        return F.log_softmax(self.decoder(output), dim=-1).view(-1, self.ntoken), None

    def init_hidden(self, bsz):
        return None


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join(PROJECT_ROOT, "README.md"),
                        help="a text file (default: the project's README)")
    parser.add_argument("--model", choices=["LSTM", "GRU", "Transformer"], default="LSTM")
    parser.add_argument("--emsize", type=int, default=32)
    parser.add_argument("--nhid", type=int, default=32)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--nhead", type=int, default=2)
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=20)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--max-words", type=int, default=None, help="use the first N words")
    parser.add_argument("--seed", type=int, default=1111)
    return parser.parse_args(argv)


def main(argv=None) -> list[float]:
    """Train; print and return the mean training loss of each epoch."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    try:
        with open(args.data, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        sys.exit(f"word_language_model.py: cannot read {args.data}: {error}")
    if args.max_words is not None:
        text = " ".join(text.split()[:args.max_words])
    corpus = Corpus(text)
    ntokens = len(corpus.idx2word)
    train_data = batchify(corpus.train, args.batch_size)
    if args.model == "Transformer":
        model = TransformerModel(ntokens, args.emsize, args.nhead, args.nhid, args.nlayers,
                                 args.dropout)
    else:
        model = RNNModel(args.model, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout)
    criterion = nn.NLLLoss()
    losses = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        hidden = model.init_hidden(args.batch_size)
        total, count = 0.0, 0
        for i in range(0, train_data.size(0) - 1, args.bptt):
            data, targets = get_batch(train_data, i, args.bptt)
            model.zero_grad()
            if hidden is not None:
                hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-args.lr)
            total, count = total + loss.item(), count + 1
        losses.append(total / count)
        print(f"| epoch {epoch:3d} | {count} batches | loss {losses[-1]:5.2f} | "
              f"ppl {math.exp(losses[-1]):8.2f}")
    return losses


if __name__ == "__main__":
    main()

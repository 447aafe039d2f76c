"""Integration: small networks trained with a plain SGD loop written here (no optim package).

Tasks are synthetic and learnable: XOR-like quadrants (a linear model cannot exceed ~50%), and
a token-counting task for an embedding model. The accuracies asserted are stated in each test.
"""
import numpy as np
import pytest

import locograd as lg
from locograd import nn
from locograd.nn import functional as F


def _quadrants(n, seed):
    """Points in [-1, 1]^2, label 1 where x * y > 0 (XOR of the signs), with a margin."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(4 * n, 2))
    x = x[np.abs(x).min(axis=1) > 0.05][:n]
    return x.astype(np.float32), (x[:, 0] * x[:, 1] > 0).astype(np.int64)


def _cross_entropy(logits, labels):
    log_probs = F.log_softmax(logits, dim=1)
    return -log_probs.gather(1, labels.reshape(-1, 1)).mean()


def _sgd_step(model, lr, momentum, buffers):
    with lg.no_grad():
        for p in model.parameters():
            buf = buffers.get(id(p))
            buf = p.grad.numpy().copy() if buf is None else momentum * buf + p.grad.numpy()
            buffers[id(p)] = buf
            p -= lr * lg.from_numpy(buf)


def _accuracy(model, x, y):
    with lg.no_grad():
        return float((model(lg.from_numpy(x)).argmax(1).numpy() == y).mean())


def test_mlp_learns_xor_quadrants_to_95_percent():
    lg.manual_seed(0)
    x_train, y_train = _quadrants(512, seed=1)
    x_test, y_test = _quadrants(512, seed=2)
    model = nn.Sequential(nn.Linear(2, 32), nn.GELU(), nn.Dropout(0.05), nn.Linear(32, 32),
                          nn.Tanh(), nn.Linear(32, 2))
    xb, yb = lg.from_numpy(x_train), lg.from_numpy(y_train)
    initial = _cross_entropy(model(xb), yb).item()
    buffers = {}
    for _ in range(300):
        model.zero_grad()
        loss = _cross_entropy(model(xb), yb)
        loss.backward()
        _sgd_step(model, lr=0.2, momentum=0.9, buffers=buffers)
    model.eval()
    final = _cross_entropy(model(xb), yb).item()
    assert final < 0.25 * initial, (initial, final)
    assert _accuracy(model, x_train, y_train) >= 0.95
    assert _accuracy(model, x_test, y_test) >= 0.93
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_embedding_model_learns_to_count_a_token():
    """Sequences of 6 tokens from a vocabulary of 10; the label is 1 when token 3 occurs at
    least twice. Mean-pooled embeddings + an MLP reach 95% on held-out sequences."""
    rng = np.random.default_rng(0)

    def data(n):
        tokens = rng.integers(0, 10, size=(n, 6))
        return tokens, ((tokens == 3).sum(1) >= 2).astype(np.int64)

    tokens, labels = data(1024)
    test_tokens, test_labels = data(512)
    lg.manual_seed(0)
    emb = nn.Embedding(10, 8)
    head = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))

    def forward(t):
        return head(emb(lg.from_numpy(t)).mean(1))

    model = nn.ModuleList([emb, head])
    buffers = {}
    for _ in range(250):
        model.zero_grad()
        _cross_entropy(forward(tokens), lg.from_numpy(labels)).backward()
        _sgd_step(model, lr=0.5, momentum=0.9, buffers=buffers)
    with lg.no_grad():
        accuracy = float((forward(test_tokens).argmax(1).numpy() == test_labels).mean())
    assert accuracy >= 0.95


def test_training_resumes_identically_from_a_checkpoint(tmp_path):
    pytest.importorskip("safetensors")
    from locograd.io import load, save

    lg.manual_seed(3)
    x, y = _quadrants(128, seed=3)
    xb, yb = lg.from_numpy(x), lg.from_numpy(y)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    buffers = {}

    def run(m, steps, bufs):
        for _ in range(steps):
            m.zero_grad()
            _cross_entropy(m(xb), yb).backward()
            _sgd_step(m, 0.1, 0.9, bufs)

    run(model, 20, buffers)
    names = [id(p) for p in model.parameters()]
    save({"model": model.state_dict(), "momentum": {i: buffers[k] for i, k in enumerate(names)}},
         tmp_path / "ckpt.safetensors")
    run(model, 10, buffers)

    lg.manual_seed(99)  # a differently initialised model, restored from the checkpoint
    restored = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    ckpt = load(tmp_path / "ckpt.safetensors")
    restored.load_state_dict(ckpt["model"])
    new_buffers = {id(p): ckpt["momentum"][i] for i, p in enumerate(restored.parameters())}
    run(restored, 10, new_buffers)
    for a, b in zip(model.parameters(), restored.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

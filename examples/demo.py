"""A two-layer network learns a spiral, with nothing but locograd tensors and autograd.

Until the `locograd demo` command exists this is the README's main job: it shows the engine at
work (forward graph, backward pass, a manual SGD step) on a problem a linear model cannot solve.
"""
import numpy as np

import locograd as lg


def spirals(n_per_class: int = 200, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, n_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.normal(0, 0.2, n_per_class)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def main():
    lg.manual_seed(0)
    x_np, y_np = spirals()
    x, y = lg.from_numpy(x_np), lg.from_numpy(y_np)
    hidden, classes = 64, 3
    w1 = (lg.randn(2, hidden) * 1.0).requires_grad_()
    b1 = lg.zeros(hidden, requires_grad=True)
    w2 = (lg.randn(hidden, classes) * (1.0 / hidden ** 0.5)).requires_grad_()
    b2 = lg.zeros(classes, requires_grad=True)
    params = [w1, b1, w2, b2]
    for step in range(1, 1501):
        logits = (x @ w1 + b1).tanh() @ w2 + b2
        loss = -logits.log_softmax(1)[lg.arange(len(y)), y].mean()
        for p in params:
            p.grad = None
        loss.backward()
        with lg.no_grad():
            for p in params:
                p -= 0.5 * p.grad
        if step % 300 == 0:
            acc = float((logits.argmax(1) == y).float().mean())
            print(f"step {step:5d}  loss {loss.item():.4f}  accuracy {acc:.3f}")
    return acc


if __name__ == "__main__":
    main()

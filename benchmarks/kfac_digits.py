"""K-FAC against first-order methods on a small digits autoencoder, in the plain training loop.

The model is ``build_autoencoder((64, 32, 8, 32, 64))``: tanh hidden layers, a linear 8-unit
code, a linear output; the loss is the squared error ``||f(x) - x||^2 / 2`` summed over the 64
pixels and averaged over the images (the unit Gaussian's negative log-likelihood, which is what
``likelihood='gaussian'`` assumes). Data: scikit-learn's 1,797 8x8 digits in [0, 1]; 60 steps on
minibatches of 256 drawn in the same seeded order for every run, all runs from the same initial
weights. The figure is the loss over all 1,797 images after the 60 steps, the best of each
method's sweep. Every run is written as a user would: ``zero_grad / backward / step()``, K-FAC's
adaptive form also with ``step(closure)`` (which adapts its damping; without a closure it stays
fixed).

    python benchmarks/kfac_digits.py [--steps 60] [--json out.json]
"""
from __future__ import annotations

import argparse
import sys
import time

from _common import pin_one_core, print_table, write_json

pin_one_core()

import numpy as np  # noqa: E402  (after pinning: the BLAS reads its thread count at import)

import locograd as lg  # noqa: E402
from locograd import optim  # noqa: E402
from locograd.data import load_digits  # noqa: E402
from locograd.experiments.autoencoder import build_autoencoder  # noqa: E402

SIZES = (64, 32, 8, 32, 64)
BATCH = 256

#: name -> (builder(model, value), swept values, whether step takes a closure)
METHODS = {
    "SGD": (lambda m, lr: optim.SGD(m.parameters(), lr=lr), (0.03, 0.1, 0.3, 1.0, 3.0), False),
    "SGD+momentum": (lambda m, lr: optim.SGD(m.parameters(), lr=lr, momentum=0.9),
                     (0.01, 0.03, 0.1, 0.3), False),
    "Adam": (lambda m, lr: optim.Adam(m.parameters(), lr=lr), (0.003, 0.01, 0.03, 0.1), False),
    "K-FAC fixed (empirical, KL clip)": (
        lambda m, lr: optim.KFAC(m, lr=lr, fisher="empirical", adaptive=False),
        (0.01, 0.03, 0.1, 0.3, 1.0), False),
    "K-FAC adaptive, plain loop": (
        lambda m, damping: optim.KFAC(m, damping=damping, likelihood="gaussian",
                                      inv_update_freq=5, generator=lg.Generator(2)),
        (0.1, 1.0, 10.0, 150.0), False),
    "K-FAC adaptive, step(closure)": (
        lambda m, damping: optim.KFAC(m, damping=damping, likelihood="gaussian",
                                      inv_update_freq=5, generator=lg.Generator(2)),
        (0.1, 1.0, 10.0, 150.0), True),
}


def loss_fn(output, images):
    return 0.5 * ((output - images) ** 2).sum() / output.shape[0]


def run(name, value, images, steps):
    build, _, use_closure = METHODS[name]
    model = build_autoencoder(SIZES, generator=lg.Generator(0))
    optimizer = build(model, value)
    order = np.random.default_rng(1)
    started = time.perf_counter()
    for _ in range(steps):
        x = lg.from_numpy(images[order.choice(len(images), BATCH, replace=False)])
        if use_closure:
            def closure():
                optimizer.zero_grad()
                loss = loss_fn(model(x), x)
                loss.backward()
                return loss
            optimizer.step(closure)
        else:
            optimizer.zero_grad()
            loss_fn(model(x), x).backward()
            optimizer.step()
    seconds = time.perf_counter() - started
    with lg.no_grad():
        everything = lg.from_numpy(images)
        final = float(loss_fn(model(everything), everything).item())
    return (final if np.isfinite(final) else float("inf")), seconds / steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    images = load_digits()[0].reshape(-1, 64)
    import warnings
    warnings.simplefilter("ignore", RuntimeWarning)  # the plain loop's "lambda stays fixed"
    rows, raw = [], []
    for name, (_, values, _) in METHODS.items():
        results = [(value, *run(name, value, images, args.steps)) for value in values]
        raw += [{"method": name, "value": v, "final_loss": f, "s_per_step": s}
                for v, f, s in results]
        value, final, seconds = min(results, key=lambda r: r[1])
        swept = "lr" if name.startswith(("SGD", "Adam", "K-FAC fixed")) else "initial damping"
        rows.append({"method": name, "best of": f"{swept} {', '.join(map(str, values))}",
                     "kept": value, "final loss": round(final, 3),
                     "ms/step": round(1000 * seconds, 2),
                     "all": " ".join(f"{r[1]:.3g}" for r in results)})
    print_table(f"Digits autoencoder {'-'.join(map(str, SIZES))}, squared error, {args.steps} "
                f"steps of batch {BATCH}: loss on all 1,797 images", rows)
    if args.json:
        write_json(args.json, {"rows": rows, "runs": raw})
    return 0


if __name__ == "__main__":
    sys.exit(main())

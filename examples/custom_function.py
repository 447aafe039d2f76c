"""A custom fused operation written with ``Function``, checked, then used in a model.

Swish with a learnable slope, ``y = x * sigmoid(beta * x)``, composed from primitives is four
graph nodes (mul, sigmoid, mul, and the broadcast of beta) that each save their inputs. As one
fused ``Function`` it is a single node that saves ``x`` and ``beta`` and computes its local
gradients in closed form:

    s = sigmoid(beta x)
    dy/dx    = s + beta x s (1 - s)
    dy/dbeta = x^2 s (1 - s)

The rule is written once (``array_rule = True``), against the namespace of the values it is
given: on an ordinary backward pass they are arrays (NumPy, or CuPy on a GPU: the fast path),
under ``create_graph=True`` they are tensors, so the same lines are differentiable again (second
derivatives, ``gradgradcheck``). ``beta`` has one value per feature and broadcasts over the batch:
the backward returns the gradient in the broadcast shape and the engine sums it back to
``beta``'s shape.

    python examples/custom_function.py
"""
from __future__ import annotations

import argparse

import numpy as np

import locograd as lg
from locograd import nn, optim
from locograd.autograd import Function, gradcheck, gradgradcheck
from locograd.backend import namespace
from locograd.data import DataLoader, Digits, Standardize
from locograd.train import accuracy, evaluate, fit


def _sigmoid(a):
    """The logistic function of an array or a tensor: ``xp`` is NumPy, CuPy or the tensor
    namespace, whichever ``a`` belongs to."""
    xp = namespace(a)
    return 0.5 + 0.5 * xp.tanh(0.5 * a)  # the same value as 1 / (1 + exp(-a)), never overflows


class SwishFunction(Function):
    """``x * sigmoid(beta * x)`` as one graph node."""

    label = "Swish"
    array_rule = True  # backward gets arrays on the fast path and tensors when recorded

    @staticmethod
    def forward(ctx, x, beta):
        ctx.save_for_backward(x, beta)
        return x.data * _sigmoid(beta.data * x.data)

    @staticmethod
    def backward(ctx, grad_output):
        x, beta = ctx.saved_tensors
        s = _sigmoid(beta * x)
        slope = s * (1.0 - s)
        return grad_output * (s + beta * x * slope), grad_output * x * x * slope


def swish(x, beta):
    """``x * sigmoid(beta * x)``, fused.

    Example:
        >>> import locograd as lg
        >>> round(swish(lg.tensor([2.0]), lg.tensor([1.0])).item(), 4)  # 2 * sigmoid(2)
        1.7616
    """
    return SwishFunction.apply(x, beta)


class Swish(nn.Module):
    """The fused Swish with one learnable ``beta`` per feature (initialised to 1)."""

    def __init__(self, features: int):
        super().__init__()
        self.beta = nn.Parameter(lg.ones(features))

    def forward(self, x):
        return swish(x, self.beta)


def check_gradients() -> None:
    """The fused node against finite differences (first and second order, float64) and
    against the same function composed from primitives."""
    lg.manual_seed(0)
    x = lg.randn(5, 3, dtype=lg.float64, requires_grad=True)
    beta = lg.randn(3, dtype=lg.float64, requires_grad=True)
    assert gradcheck(swish, (x, beta))
    assert gradgradcheck(swish, (x, beta))
    fused = lg.grad((swish(x, beta) ** 2).sum(), (x, beta))
    composed = lg.grad(((x * (beta * x).sigmoid()) ** 2).sum(), (x, beta))
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    print("gradcheck, gradgradcheck and the composed version agree")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> float:
    """Check the node, train a digits classifier with it; return the test accuracy."""
    args = parse_args(argv)
    check_gradients()
    lg.manual_seed(args.seed)
    train, test = Digits("train"), Digits("test")
    train.transform = test.transform = Standardize(per_channel=True).fit(train)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, args.hidden), Swish(args.hidden),
                          nn.Linear(args.hidden, 10))
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2),
        DataLoader(train, batch_size=64, shuffle=True, generator=lg.Generator(args.seed)),
        epochs=args.epochs, metrics={"accuracy": accuracy})
    result = evaluate(model, nn.CrossEntropyLoss(), DataLoader(test, batch_size=512),
                      {"accuracy": accuracy})
    beta = model[2].beta.numpy()
    print(f"test accuracy {100 * result['accuracy']:.1f}%; learned beta: mean {beta.mean():.2f},"
          f" range [{beta.min():.2f}, {beta.max():.2f}]")
    return result["accuracy"]


if __name__ == "__main__":
    main()

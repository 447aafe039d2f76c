"""Transfer functions and the matching losses they induce (LocoProp's local losses).

A layer ``a = x W^T + b`` followed by a transfer function ``f`` is trained, in LocoProp, towards
a target by a local loss in its own weights. The *matching loss* of ``f`` is the Bregman
divergence of a convex potential ``F`` with ``F' = f``, taken between the layer's current
pre-activation ``z`` and the pre-activation ``a*`` that would hit the target ``y = f(a*)``::

    D_F(z, a*) = F(z) - F(a*) - f(a*) (z - a*)          summed over rows and units

Up to a term constant in ``W`` this is ``sum F(z) - y z``, so ``f``'s inverse is never needed,
and its gradient in the weights is the residual times the input (rows of ``x`` summed)::

    dL/dW = (f(z) - y)^T x,    dL/db = sum_rows (f(z) - y)

The squared loss of LocoProp-S is the matching loss of the identity. The potentials:

==========  ==============================  =====================================================
f           F(a)                            the matching loss
==========  ==============================  =====================================================
identity    a^2 / 2                         squared error ``(z - a*)^2 / 2`` (LocoProp-S)
tanh        log cosh(a)                     ``F*(y) + F(z) - y z`` with
                                            ``F*(y) = ((1+y) log(1+y) + (1-y) log(1-y)) / 2``
sigmoid     softplus(a) = log(1 + e^a)      logistic loss of ``z`` against the soft target ``y``,
                                            less the target's entropy
relu        max(a, 0)^2 / 2                 ``relu(z)^2 / 2 - y z + y^2 / 2``: ``(z - y)^2 / 2``
                                            for ``z >= 0``, linear for ``z < 0``; convex, not
                                            strictly
softmax     logsumexp(a) (over the row)     ``KL(y || softmax(z))``: cross-entropy against the
                                            soft target ``y`` (the last dimension is the class)
==========  ==============================  =====================================================

Everything here works on arrays (the local problems need no autograd): NumPy's, or a device's
(NumPy's ufuncs and functions hand CuPy arrays to CuPy; constants are scalars, never host arrays).

References:
    Amid, Anil & Warmuth, "LocoProp: Enhancing BackProp via Local Loss Optimization",
    AISTATS 2022, arXiv:2106.06199 (matching losses: Helmbold, Kivinen & Warmuth, "Relative
    loss bounds for single neurons", IEEE TNN 1999).
"""
from __future__ import annotations

import numpy as np

__all__ = ["Transfer", "TRANSFERS", "get_transfer", "local_residual", "local_gradients",
           "local_loss"]


class Transfer:
    """A transfer function ``f``, its convex potential ``F`` (``F' = f``) and matching loss.

    Subclasses define ``__call__`` (``f``, optionally into ``out``, which may be ``a``) and
    ``potential`` (``F`` element by element; for softmax one value per row, keepdims).
    """

    name = ""

    def __call__(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def potential(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def divergence(self, z: np.ndarray, a_star: np.ndarray) -> float:
        """The matching loss ``sum D_F(z, a*)`` of pre-activations ``z`` against ``a*``.

        Example:
            >>> import numpy as np
            >>> TRANSFERS["identity"].divergence(np.array([3.0]), np.array([1.0]))
            2.0
        """
        y = self(a_star)
        return float(np.sum(self.potential(z)) - np.sum(self.potential(a_star))
                     - np.sum(y * (z - a_star)))

    def __repr__(self):
        return f"Transfer({self.name!r})"


class _Identity(Transfer):
    name = "identity"

    def __call__(self, a, out=None):
        if out is None:
            return a.copy()
        if out is not a:
            np.copyto(out, a)
        return out

    def potential(self, a):
        return 0.5 * a * a


class _Tanh(Transfer):
    name = "tanh"

    def __call__(self, a, out=None):
        return np.tanh(a, out=out)

    def potential(self, a):
        # log cosh(a) = |a| + log(1 + e^(-2|a|)) - log 2, without overflow for large |a|
        magnitude = np.abs(a)
        return magnitude + np.log1p(np.exp(-2.0 * magnitude)) - np.log(2.0).astype(a.dtype)


class _Sigmoid(Transfer):
    name = "sigmoid"

    def __call__(self, a, out=None):
        # e = exp(-|a|) <= 1, then 1 / (1 + e) for a >= 0 and e / (1 + e) otherwise: no
        # overflow and full relative precision in both tails
        negative = a < 0
        out = np.abs(a, out=out)
        np.negative(out, out=out)
        np.exp(out, out=out)
        numerator = np.where(negative, out, a.dtype.type(1))  # a scalar: any device
        out += 1.0
        np.divide(numerator, out, out=out)
        return out

    def potential(self, a):
        return np.logaddexp(a.dtype.type(0), a)


class _ReLU(Transfer):
    name = "relu"

    def __call__(self, a, out=None):
        return np.maximum(a, 0, out=out)

    def potential(self, a):
        positive = np.maximum(a, 0)
        return 0.5 * positive * positive


class _Softmax(Transfer):
    name = "softmax"

    def __call__(self, a, out=None):
        top = a.max(axis=-1, keepdims=True)
        out = np.subtract(a, top, out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        return out

    def potential(self, a):
        top = a.max(axis=-1, keepdims=True)
        return top + np.log(np.exp(a - top).sum(axis=-1, keepdims=True))


#: name -> Transfer, the transfer functions LocoProp can match
TRANSFERS = {t.name: t for t in (_Identity(), _Tanh(), _Sigmoid(), _ReLU(), _Softmax())}


def get_transfer(name) -> Transfer:
    """The ``Transfer`` called ``name`` (a ``Transfer`` is returned as is).

    Example:
        >>> get_transfer("tanh")
        Transfer('tanh')
    """
    if isinstance(name, Transfer):
        return name
    if name not in TRANSFERS:
        raise ValueError(f"LocoProp: unknown transfer function {name!r}; supported: "
                         f"{sorted(TRANSFERS)}")
    return TRANSFERS[name]


def local_residual(z: np.ndarray, target: np.ndarray, transfer: Transfer, variant: str,
                   out: np.ndarray | None = None) -> np.ndarray:
    """The residual whose product with the input is the local gradient.

    ``z - target`` for LocoProp-S (squared loss on the pre-activation), ``f(z) - target`` for
    LocoProp-M (the matching loss of ``f``). ``out`` may be ``z`` (overwritten).

    Example:
        >>> import numpy as np
        >>> local_residual(np.zeros((1, 2)), np.full((1, 2), 0.25), TRANSFERS["sigmoid"], "M")
        array([[0.25, 0.25]])
    """
    if variant == "M":
        out = transfer(z, out=out)
        out -= target
        return out
    return np.subtract(z, target, out=out)


def local_gradients(inputs: np.ndarray, residual: np.ndarray, with_bias: bool = True,
                    weight_out: np.ndarray | None = None, bias_out: np.ndarray | None = None):
    """The local loss's gradients in the weight (out x in) and the bias, summed over the rows.

    Args:
        inputs: the layer's frozen input ``x``, (rows, in).
        residual: ``local_residual(...)``, (rows, out).
        with_bias: also return the bias gradient (else ``None``).
        weight_out, bias_out: optional arrays to write the results into.

    Returns:
        ``(residual^T x, residual summed over rows)``.

    Example:
        >>> import numpy as np
        >>> gw, gb = local_gradients(np.ones((3, 2)), np.ones((3, 1)))
        >>> gw.tolist(), gb.tolist()
        ([[3.0, 3.0]], [3.0])
    """
    weight_grad = np.matmul(residual.T, inputs, out=weight_out)
    bias_grad = np.sum(residual, axis=0, out=bias_out) if with_bias else None
    return weight_grad, bias_grad


def local_loss(z: np.ndarray, target: np.ndarray, transfer: Transfer, variant: str) -> float:
    """The local loss's value, up to a constant in ``z``: ``||z - target||^2 / 2`` (S) or
    ``sum F(z) - target z`` (M, the matching loss without ``F(a*)`` and ``f(a*) a*``).

    Example:
        >>> import numpy as np
        >>> local_loss(np.array([[2.0]]), np.array([[1.0]]), TRANSFERS["identity"], "S")
        0.5
    """
    if variant == "S":
        difference = z - target
        return float(0.5 * np.sum(difference * difference))
    return float(np.sum(transfer.potential(z)) - np.sum(target * z))

"""Weight initialisation, with PyTorch's names and formulas (``torch.nn.init``).

Every function fills its tensor in place (under ``no_grad``), draws from ``generator`` or from
locograd's seeded default generator, and returns the tensor.

References:
    Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural
    networks", AISTATS 2010 (xavier_*). He et al., "Delving Deep into Rectifiers", ICCV 2015
    (kaiming_*). Saxe et al., "Exact solutions to the nonlinear dynamics of learning in deep
    linear neural networks", ICLR 2014 (orthogonal_).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.grad_mode import no_grad
from ..backend import rng
from ..backend.devices import fill_from_host

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_", "trunc_normal_", "sparse_", "dirac_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid", "identity")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table).

    Example:
        >>> calculate_gain("relu") == 2 ** 0.5, calculate_gain("tanh")
        (True, 1.6666666666666667)
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    shape = tensor.data.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out cannot be computed for a tensor with fewer than 2 "
                         f"dimensions (shape {shape})")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor, values) -> object:
    with no_grad():
        fill_from_host(tensor.data, values)
        tensor._version[0] += 1
    return tensor


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with U(a, b)."""
    return _fill(tensor, rng(generator).uniform(a, b, tensor.data.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with N(mean, std^2)."""
    g = rng(generator)
    d = tensor.data.dtype
    z = g.standard_normal(tensor.data.shape, dtype=d) if d in (np.float32, np.float64) \
        else g.standard_normal(tensor.data.shape)
    return _fill(tensor, z * std + mean)


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None):
    """Fill with N(mean, std^2) truncated to [a, b] (by resampling the values outside)."""
    g = rng(generator)
    out = g.normal(mean, std, tensor.data.shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = g.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out)


def constant_(tensor, val: float):
    return _fill(tensor, val)


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def eye_(tensor):
    if tensor.data.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tensor.data.shape}")
    return _fill(tensor, np.eye(*tensor.data.shape))


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"kaiming init: cannot initialise a tensor with zero {mode} "
                         f"(shape {tensor.data.shape})")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None):
    """He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def _reset_linear_(weight, bias, generator=None) -> None:
    """PyTorch's default initialisation of ``Linear`` and convolution layers: the weight from
    ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias (if
    not None) from the same interval."""
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        bound = 1.0 / math.sqrt(_calculate_fan_in_and_fan_out(weight)[0])
        uniform_(bias, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None):
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan)``."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain: float = 1.0, generator=None):
    """A (semi-)orthogonal matrix (rows or columns orthonormal), times ``gain``."""
    shape = tensor.data.shape
    if len(shape) < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {shape}")
    rows = shape[0]
    cols = tensor.data.size // rows
    flat = rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the decomposition unique (uniform over orthogonal matrices)
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(shape))


def sparse_(tensor, sparsity: float, std: float = 0.01, generator=None):
    """Each column gets ``ceil(sparsity * rows)`` zeros, the rest N(0, std^2) (Martens 2010)."""
    if tensor.data.ndim != 2:
        raise ValueError(f"sparse_: only 2-D tensors are supported, got {tensor.data.shape}")
    g = rng(generator)
    rows, cols = tensor.data.shape
    out = g.normal(0, std, (rows, cols))
    n_zero = int(math.ceil(sparsity * rows))
    for c in range(cols):
        out[g.permutation(rows)[:n_zero], c] = 0
    return _fill(tensor, out)


def dirac_(tensor, groups: int = 1):
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: each output channel copies
    one input channel (per group), so the convolution starts as the identity.

    Example:
        >>> import locograd as lg
        >>> w = dirac_(lg.empty(2, 2, 3))
        >>> w[:, :, 1].tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    shape = tensor.data.shape
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3-, 4- and 5-D tensors are supported, got shape {shape}")
    if groups < 1 or shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({shape[0]}) must be divisible by groups ({groups})")
    out_per_group = shape[0] // groups
    values = np.zeros(shape)
    centre = tuple(s // 2 for s in shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, shape[1])):
            values[(g * out_per_group + d, d) + centre] = 1
    return _fill(tensor, values)

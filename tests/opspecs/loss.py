"""OpSpecs for locograd.ops.loss (and ops.cross_entropy, re-exported there)."""
from __future__ import annotations

import numpy as np

import locograd as lg
import locograd.nn.functional as F

from . import OpSpec
from ._shapes import away_from, normal

_TARGETS = np.array([1, 0, 4, 2])
_WEIGHT = np.array([0.5, 1.0, 2.0, 1.5, 0.25])


def _log_softmax(x, axis=1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _reference_ce(x, targets, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """Cross-entropy from its definition (PyTorch's formula for smoothing and weights)."""
    lsm = _log_softmax(x)
    c = x.shape[1]
    w = np.ones(c) if weight is None else weight
    valid = targets != ignore_index
    safe = np.where(valid, targets, 0)
    w_t = w[safe] * valid
    nll = -np.take_along_axis(lsm, safe[:, None], 1)[:, 0] * w_t
    smooth = -(lsm * w.reshape((1, c) + (1,) * (x.ndim - 2))).sum(1) * valid
    if reduction == "none":
        return (1 - eps) * nll + eps / c * smooth
    if reduction == "sum":
        return (1 - eps) * nll.sum() + eps / c * smooth.sum()
    return ((1 - eps) * nll.sum() + eps / c * smooth.sum()) / w_t.sum()


def _probabilities(rng, shape, axis=1):
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(axis=axis, keepdims=True)


def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def _softplus(x):
    return np.logaddexp(0, x)


_CE = ("CrossEntropy",)

SPECS = [
    OpSpec("cross_entropy", lambda x: F.cross_entropy(x, lg.tensor(_TARGETS)),
           lambda rng: normal(rng, (4, 5)),
           reference=lambda x: _reference_ce(x, _TARGETS), covers=_CE),
    OpSpec("cross_entropy_weight_ignore_smoothing",
           lambda x: F.cross_entropy(x, lg.tensor([1, -1, 4, 2]), weight=lg.tensor(_WEIGHT),
                                     ignore_index=-1, label_smoothing=0.2),
           lambda rng: normal(rng, (4, 5)),
           reference=lambda x: _reference_ce(x, np.array([1, -1, 4, 2]), _WEIGHT, -1, "mean",
                                             0.2), covers=_CE),
    OpSpec("cross_entropy_none_smoothing",
           lambda x: F.cross_entropy(x, lg.tensor(_TARGETS), reduction="none",
                                     label_smoothing=0.1, ignore_index=0),
           lambda rng: normal(rng, (4, 5)),
           reference=lambda x: _reference_ce(x, _TARGETS, None, 0, "none", 0.1), covers=_CE),
    OpSpec("cross_entropy_spatial_sum",
           lambda x: F.cross_entropy(x, lg.tensor(np.array([[[0, 2], [1, 1]], [[2, 0], [0, 1]]])),
                                     reduction="sum", weight=lg.tensor([1.0, 2.0, 0.5])),
           lambda rng: normal(rng, (2, 3, 2, 2)),
           reference=lambda x: _reference_ce(x, np.array([[[0, 2], [1, 1]], [[2, 0], [0, 1]]]),
                                             np.array([1.0, 2.0, 0.5]), reduction="sum"),
           covers=_CE),
    OpSpec("cross_entropy_probabilities",
           lambda x, t: F.cross_entropy(x, t, weight=lg.tensor(_WEIGHT[:4]), label_smoothing=0.3),
           lambda rng: (rng.standard_normal((3, 4)), _probabilities(rng, (3, 4))),
           reference=lambda x, t: -((t * 0.7 + 0.3 / 4) * _WEIGHT[:4] * _log_softmax(x)).sum(1)
           .mean(), covers=_CE),
    OpSpec("cross_entropy_probabilities_spatial_none",
           lambda x, t: F.cross_entropy(x, t, reduction="none"),
           lambda rng: (rng.standard_normal((2, 3, 4)), _probabilities(rng, (2, 3, 4))),
           reference=lambda x, t: -(t * _log_softmax(x)).sum(1), covers=_CE),
    OpSpec("cross_entropy_unbatched", lambda x: F.cross_entropy(x, lg.tensor(2)),
           lambda rng: normal(rng, (5,)),
           reference=lambda x: -_log_softmax(x, 0)[2], covers=_CE),
    OpSpec("nll_loss",
           lambda x: F.nll_loss(x, lg.tensor([1, -100, 4, 2]), weight=lg.tensor(_WEIGHT)),
           lambda rng: (_log_softmax(rng.standard_normal((4, 5))),),
           reference=lambda x: -(x[[0, 2, 3], [1, 4, 2]] * _WEIGHT[[1, 4, 2]]).sum()
           / _WEIGHT[[1, 4, 2]].sum()),
    OpSpec("mse_loss", lambda x, y: F.mse_loss(x, y),
           lambda rng: normal(rng, (3, 4), (3, 4)),
           reference=lambda x, y: ((x - y) ** 2).mean(), covers=("SquaredError",)),
    OpSpec("mse_loss_none", lambda x, y: F.mse_loss(x, y, reduction="none"),
           lambda rng: normal(rng, (2, 3), (2, 3)),
           reference=lambda x, y: (x - y) ** 2, covers=("SquaredError",)),
    OpSpec("l1_loss_sum", lambda x: F.l1_loss(x, np.zeros((3, 4)), reduction="sum"),
           lambda rng: (away_from(rng, (3, 4)),),
           reference=lambda x: np.abs(x).sum(), covers=("AbsoluteError",)),
    OpSpec("huber_loss", lambda x, y: F.huber_loss(x, y, delta=0.7),
           lambda rng: (away_from(rng, (3, 4), (-0.7, 0.7)) * 1.5, np.zeros((3, 4))),
           reference=lambda x, y: np.where(np.abs(x - y) < 0.7, 0.5 * (x - y) ** 2,
                                           0.7 * (np.abs(x - y) - 0.35)).mean(),
           covers=("Huber",)),
    OpSpec("smooth_l1_loss_none",
           lambda x: F.smooth_l1_loss(x, np.zeros(5), reduction="none", beta=0.5),
           lambda rng: (away_from(rng, (5,), (-0.5, 0.5)) * 1.5,),
           reference=lambda x: np.where(np.abs(x) < 0.5, x * x, np.abs(x) - 0.25),
           covers=("Huber",)),
    OpSpec("binary_cross_entropy", lambda x, y, w: F.binary_cross_entropy(x, y, weight=w),
           lambda rng: (rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4)),
                        rng.uniform(0.5, 2.0, (4,))),
           reference=lambda x, y, w: (-w * (y * np.log(x) + (1 - y) * np.log(1 - x))).mean(),
           covers=("BinaryCrossEntropy",)),
    OpSpec("binary_cross_entropy_with_logits",
           lambda x, y, w, p: F.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=p,
                                                                 reduction="sum"),
           lambda rng: (rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4)),
                        rng.uniform(0.5, 2.0, (3, 1)), rng.uniform(0.5, 3.0, (4,))),
           reference=lambda x, y, w, p: (w * ((1 - y) * x + (1 + (p - 1) * y) * _softplus(-x)))
           .sum(), covers=("BinaryCrossEntropyWithLogits",)),
    OpSpec("binary_cross_entropy_with_logits_plain",
           lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
           lambda rng: (rng.standard_normal((2, 3)) * 3, rng.uniform(0, 1, (2, 3))),
           reference=lambda x, y: (1 - y) * x + _softplus(-x),
           covers=("BinaryCrossEntropyWithLogits",)),
    # 0-d tensors (issue 13: the summed path's out= failed on them); a constant target takes
    # the forward's summed path, a differentiable one the elementwise path.
    OpSpec("binary_cross_entropy_with_logits_0d_constant_target",
           lambda x: F.binary_cross_entropy_with_logits(x, 0.7),
           lambda rng: (np.asarray(rng.standard_normal() * 3),),
           reference=lambda x: 0.3 * x + _softplus(-x), covers=("BinaryCrossEntropyWithLogits",)),
    OpSpec("binary_cross_entropy_with_logits_0d",
           lambda x, y, p: F.binary_cross_entropy_with_logits(x, y, pos_weight=p),
           lambda rng: (np.asarray(rng.standard_normal() * 3), np.asarray(rng.uniform(0, 1)),
                        np.asarray(rng.uniform(0.5, 3.0))),
           reference=lambda x, y, p: (1 - y) * x + (1 + (p - 1) * y) * _softplus(-x),
           covers=("BinaryCrossEntropyWithLogits",)),
    OpSpec("mse_loss_0d", lambda x, y: F.mse_loss(x, y),
           lambda rng: (np.asarray(rng.standard_normal()), np.asarray(rng.standard_normal())),
           reference=lambda x, y: (x - y) ** 2, covers=("SquaredError",)),
    OpSpec("kl_div_batchmean", lambda x, t: F.kl_div(x, t, reduction="batchmean"),
           lambda rng: (_log_softmax(rng.standard_normal((3, 4))), _probabilities(rng, (3, 4))),
           reference=lambda x, t: (t * (np.log(t) - x)).sum() / 3, covers=("KLDivergence",)),
    OpSpec("kl_div_log_target_none",
           lambda x, t: F.kl_div(x, t, reduction="none", log_target=True),
           lambda rng: (rng.standard_normal((2, 3)), rng.standard_normal((2, 3))),
           reference=lambda x, t: np.exp(t) * (t - x), covers=("KLDivergence",)),
]

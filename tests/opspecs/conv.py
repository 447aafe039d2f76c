"""OpSpecs for locograd.ops.conv: convolutions, pooling and normalisation (re-exported there)."""
from __future__ import annotations

import numpy as np

import locograd.nn.functional as F

from . import OpSpec
from ._shapes import normal


def _distinct(rng, shape, gap=0.05):
    """Values at least ``gap`` apart, so that no max-pooling window has a (near) tie that the
    finite differences could flip."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * gap + rng.uniform(0, gap / 4, n)).reshape(shape) - n * gap / 2


def _reference_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                      groups=1):
    """Direct (loop) 2-D cross-correlation, for the forward check."""
    x = np.pad(x, ((0, 0), (0, 0), padding[:2], padding[2:]))
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho = (h - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(ho):
            for j in range(wo):
                r, s = i * stride[0], j * stride[1]
                patch = x[:, g * cg:(g + 1) * cg, r:r + dilation[0] * (kh - 1) + 1:dilation[0],
                          s:s + dilation[1] * (kw - 1) + 1:dilation[1]]
                out[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3))
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def _reference_batch_norm(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    view = (1, -1) + (1,) * (x.ndim - 2)
    xhat = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return xhat * w.reshape(view) + b.reshape(view)


def _reference_layer_norm(x, w, b, k, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    xhat = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return xhat * w + b


_CONV = ("Conv2d", "Conv2dInputGrad", "Conv2dWeightGrad")

SPECS = [
    OpSpec("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1),
           lambda rng: normal(rng, (2, 3, 5, 5), (4, 3, 3, 3), (4,)),
           reference=lambda x, w, b: _reference_conv2d(x, w, b, padding=(1, 1, 1, 1)),
           covers=_CONV),
    OpSpec("conv2d_stride_padding_dilation",
           lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
           lambda rng: normal(rng, (2, 2, 6, 5), (3, 2, 2, 3)),
           reference=lambda x, w: _reference_conv2d(x, w, None, (2, 1), (1, 1, 2, 2), (1, 2)),
           covers=_CONV),
    OpSpec("conv2d_groups", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
           lambda rng: normal(rng, (2, 4, 5, 4), (6, 2, 3, 2), (6,)),
           reference=lambda x, w, b: _reference_conv2d(x, w, b, (2, 2), (1, 1, 1, 1), groups=2),
           covers=_CONV),
    OpSpec("conv2d_same_even_kernel", lambda x, w: F.conv2d(x, w, padding="same"),
           lambda rng: normal(rng, (1, 2, 4, 5), (2, 2, 2, 4)),
           reference=lambda x, w: _reference_conv2d(x, w, None, padding=(0, 1, 1, 2)),
           covers=_CONV),
    OpSpec("conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
           lambda rng: normal(rng, (2, 3, 9), (2, 3, 3), (2,)),
           reference=lambda x, w, b: _reference_conv2d(
               x[:, :, None], w[:, :, None], b, (1, 2), (0, 0, 1, 1), (1, 2))[:, :, 0],
           covers=_CONV),
    OpSpec("conv_transpose2d",
           lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1,
                                              groups=2),
           lambda rng: normal(rng, (2, 4, 3, 3), (4, 1, 3, 3), (2,)),
           covers=_CONV),
    OpSpec("conv_transpose2d_output_padding_beyond_stride",
           lambda x, w: F.conv_transpose2d(x, w, output_padding=1, dilation=2),
           lambda rng: normal(rng, (1, 2, 3, 2), (2, 3, 2, 2)), covers=_CONV),
    OpSpec("max_pool2d", lambda x: F.max_pool2d(x, 2),
           lambda rng: (_distinct(rng, (2, 3, 4, 6)),),
           reference=lambda x: x.reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5)),
           covers=("MaxPool2d", "MaxPool2dBackward", "MaxPool2dSelect")),
    OpSpec("max_pool2d_overlap_padding",
           lambda x: F.max_pool2d(x, 3, stride=2, padding=1),
           lambda rng: (_distinct(rng, (2, 2, 5, 6)),), covers=("MaxPool2d",)),
    OpSpec("max_pool2d_ceil_dilation",
           lambda x: F.max_pool2d(x, (2, 3), stride=(2, 1), dilation=(2, 1), ceil_mode=True),
           lambda rng: (_distinct(rng, (1, 2, 7, 5)),), covers=("MaxPool2d",)),
    OpSpec("max_pool1d", lambda x: F.max_pool1d(x, 3, stride=2, padding=1),
           lambda rng: (_distinct(rng, (2, 3, 8)),), covers=("MaxPool2d",)),
    OpSpec("avg_pool2d", lambda x: F.avg_pool2d(x, 2),
           lambda rng: normal(rng, (2, 3, 4, 6)),
           reference=lambda x: x.reshape(2, 3, 2, 2, 3, 2).mean(axis=(3, 5)),
           covers=("AvgPool2d", "AvgPool2dBackward")),
    OpSpec("avg_pool2d_padding_ceil_exclude_pad",
           lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                  count_include_pad=False),
           lambda rng: normal(rng, (1, 2, 6, 5)), covers=("AvgPool2d", "AvgPool2dBackward")),
    OpSpec("avg_pool2d_divisor_override",
           lambda x: F.avg_pool2d(x, (2, 3), stride=1, padding=(1, 1), divisor_override=4),
           lambda rng: normal(rng, (1, 2, 3, 4)), covers=("AvgPool2d", "AvgPool2dBackward")),
    OpSpec("avg_pool1d", lambda x: F.avg_pool1d(x, 2, stride=1, padding=1),
           lambda rng: normal(rng, (2, 2, 5)), covers=("AvgPool2d",)),
    OpSpec("adaptive_avg_pool2d_global", lambda x: F.adaptive_avg_pool2d(x, 1),
           lambda rng: normal(rng, (2, 3, 3, 4)),
           reference=lambda x: x.mean(axis=(2, 3), keepdims=True)),
    OpSpec("adaptive_avg_pool2d_uneven", lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
           lambda rng: normal(rng, (2, 2, 5, 4)),
           reference=lambda x: np.stack([np.stack([x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
                                                   for c0, c1 in ((0, 2), (2, 4))], -1)
                                         for r0, r1 in ((0, 2), (1, 4), (3, 5))], -2)),
    OpSpec("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 2),
           lambda rng: normal(rng, (2, 3, 6)),
           reference=lambda x: x.reshape(2, 3, 2, 3).mean(-1)),
    OpSpec("batch_norm_train_2d",
           lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           lambda rng: normal(rng, (4, 3, 2, 3), (3,), (3,)),
           reference=_reference_batch_norm, covers=("BatchNorm",)),
    OpSpec("batch_norm_train_1d_no_affine",
           lambda x: F.batch_norm(x, None, None, training=True, eps=1e-3),
           lambda rng: normal(rng, (5, 4)),
           reference=lambda x: _reference_batch_norm(x, np.ones(4), np.zeros(4), 1e-3),
           covers=("BatchNorm",)),
    OpSpec("batch_norm_eval",
           lambda x, w, b: F.batch_norm(x, _const(np.array([0.5, -1.0, 0.2])),
                                        _const(np.array([2.0, 0.5, 1.5])), w, b),
           lambda rng: normal(rng, (3, 3, 4), (3,), (3,)),
           reference=lambda x, w, b: (x - np.array([0.5, -1.0, 0.2])[:, None]) / np.sqrt(
               np.array([2.0, 0.5, 1.5])[:, None] + 1e-5) * w[:, None] + b[:, None],
           covers=("BatchNormEval",)),
    OpSpec("batch_norm_eval_no_affine_2d",
           lambda x: F.batch_norm(x, _const(np.array([0.5, -1.0])), _const(np.array([2.0, 0.5])),
                                  eps=1e-3),
           lambda rng: normal(rng, (2, 2, 3, 3)),
           reference=lambda x: (x - np.array([0.5, -1.0])[:, None, None]) / np.sqrt(
               np.array([2.0, 0.5])[:, None, None] + 1e-3),
           covers=("BatchNormEval",)),
    OpSpec("layer_norm", lambda x, w, b: F.layer_norm(x, (5,), w, b),
           lambda rng: normal(rng, (3, 4, 5), (5,), (5,)),
           reference=lambda x, w, b: _reference_layer_norm(x, w, b, 1), covers=("LayerNorm",)),
    OpSpec("layer_norm_two_dims_no_affine", lambda x: F.layer_norm(x, (3, 4), eps=1e-3),
           lambda rng: normal(rng, (2, 3, 4)),
           reference=lambda x: _reference_layer_norm(x, 1.0, 0.0, 2, 1e-3),
           covers=("LayerNorm",)),
]


def _const(array):
    import locograd as lg
    return lg.tensor(array)

"""Convolution and pooling: conv2d (stride, padding, dilation, groups), max_pool2d, avg_pool2d."""
from __future__ import annotations

__all__: list[str] = []

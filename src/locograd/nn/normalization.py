"""BatchNorm1d, BatchNorm2d and LayerNorm (running statistics as buffers)."""
from __future__ import annotations

__all__: list[str] = []

"""Regularisation helpers: L1 and L2 penalties over a module's weights."""
from __future__ import annotations

__all__: list[str] = []

"""Activation functions beyond the core (leaky_relu, elu, selu, gelu, prelu, hardtanh...) and dropout."""
from __future__ import annotations

__all__: list[str] = []

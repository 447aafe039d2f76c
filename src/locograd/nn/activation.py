"""Activation modules (ReLU, LeakyReLU, PReLU, ELU, SELU, GELU, Sigmoid, Tanh, Softplus, Softmax, LogSoftmax...)."""
from __future__ import annotations

__all__: list[str] = []

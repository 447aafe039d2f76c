"""Loss functions, with fused nodes where the math allows (log-softmax + NLL: gradient softmax - onehot)."""
from __future__ import annotations

__all__: list[str] = []

"""OpSpecs for locograd.ops.shape."""
from __future__ import annotations

SPECS: list = []

"""OpSpecs for locograd.ops.activation."""
from __future__ import annotations

SPECS: list = []

"""OpSpecs for locograd.ops.loss."""
from __future__ import annotations

SPECS: list = []

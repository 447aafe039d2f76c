"""OpSpecs for locograd.ops.linalg."""
from __future__ import annotations

SPECS: list = []

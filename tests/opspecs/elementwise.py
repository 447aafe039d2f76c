"""OpSpecs for locograd.ops.elementwise."""
from __future__ import annotations

SPECS: list = []

"""OpSpecs for locograd.ops.indexing."""
from __future__ import annotations

SPECS: list = []

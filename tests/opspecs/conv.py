"""OpSpecs for locograd.ops.conv."""
from __future__ import annotations

SPECS: list = []

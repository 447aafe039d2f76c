"""OpSpecs for locograd.ops.reduce."""
from __future__ import annotations

SPECS: list = []

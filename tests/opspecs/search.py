"""OpSpecs for locograd.ops.search: take (the differentiable lookup; argwhere, searchsorted and
bucketize have integer results and no gradient, tested in tests/test_scatter_search_torch.py)."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import fixed, weighted, weighted_ref

TAKE = np.array([[0, 5], [-1, 2], [5, 5]])  # negative and repeated positions

SPECS = [
    OpSpec("take", weighted(lambda x: lg.take(x, lg.tensor(TAKE))), fixed((2, 3)),
           weighted_ref(lambda x: x.reshape(-1)[TAKE]), ("Getitem", "IndexAddZeros")),
]

"""The op table: one ``OpSpec`` per differentiable op drives every op test.

Each family file (``elementwise.py``, ``reduce.py``, ``shape.py``, ``indexing.py``,
``linalg.py``, ``activation.py``, ``conv.py``, ``loss.py``, ``recurrent.py``) defines
``SPECS``, a list of ``OpSpec``. ``tests/test_ops_table.py`` runs, for every spec and for inputs
drawn by hypothesis (shapes with broadcasting, values): the forward against the NumPy
reference, gradcheck (the engine's fast path: each op's rule on arrays), the same rule on tensors
against it (``create_graph=True`` path), gradgradcheck where ``second_order``, the random-direction check
on ``large_inputs`` and the float32 check. A ``Function`` defined in ``locograd.ops`` that no spec
covers fails a test, and so does a name in ``covers`` that does not appear in the graphs the
spec builds (forward, backward with ``create_graph=True``, double backward).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

FAMILIES = ("elementwise", "reduce", "shape", "indexing", "linalg", "activation", "conv", "loss",
            "recurrent", "decompositions", "products", "arrangement", "split_join", "index_write",
            "search", "special", "scan")


@dataclass(frozen=True)
class OpSpec:
    """How to test one op.

    Attributes:
        name: unique id (used in test ids).
        fn: ``fn(*tensors)`` -> tensor or tuple of tensors; the tensors are float64 leaves built
            from ``inputs`` with ``requires_grad=True``. Non-differentiable arguments (indices,
            dims) are closed over in ``fn``.
        inputs: ``inputs(rng)`` -> tuple of float64 arrays; draw shapes and values from the
            NumPy generator ``rng`` (see ``_shapes`` for broadcasting pairs). Keep them small.
        reference: optional NumPy forward taking the same arrays.
        covers: names of the ``Function`` classes this op exercises (coverage test); internal
            backward nodes (TanhGrad, SumTo...) count when the spec's double backward builds them.
        second_order: also gradgradcheck.
        atol, rtol: tolerances for the gradient checks.
        large_inputs: optional ``large_inputs(rng)`` like ``inputs`` with somewhat larger shapes,
            for the random-direction check (``gradcheck(fast_mode=True)``); ``inputs`` is used
            when None.
        float32: also run ``fn`` on float32 copies of the inputs: float outputs and gradients
            must stay float32 and agree with the float64 run. Set False (with a comment) only
            for an op that deliberately mixes in float64 data.
    """

    name: str
    fn: Callable
    inputs: Callable[[np.random.Generator], tuple]
    reference: Callable | None = None
    covers: tuple[str, ...] = ()
    second_order: bool = True
    atol: float = 1e-5
    rtol: float = 1e-3
    large_inputs: Callable[[np.random.Generator], tuple] | None = None
    float32: bool = True


def all_specs() -> list[OpSpec]:
    """Every spec from every family file."""
    specs = []
    for family in FAMILIES:
        module = importlib.import_module(f"{__name__}.{family}")
        specs.extend(module.SPECS)
    names = [s.name for s in specs]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate OpSpec names: {sorted(duplicates)}")
    return specs

"""OpSpecs for locograd.ops.linalg: ``matmul`` for every combination of 1-D, 2-D and batched
operands (batch dimensions broadcast), the named products, and the fused ``linear``."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import fixed, normal

MATMUL_SHAPES = {
    "1d_1d": ((4,), (4,)),
    "1d_2d": ((3,), (3, 2)),
    "2d_1d": ((2, 3), (3,)),
    "2d_2d": ((2, 3), (3, 4)),
    "1d_3d": ((3,), (2, 3, 2)),
    "3d_1d": ((2, 2, 3), (3,)),
    "3d_2d": ((2, 3, 4), (4, 2)),
    "2d_3d": ((3, 4), (2, 4, 2)),
    "3d_3d": ((2, 2, 3), (2, 3, 2)),
    "4d_3d_broadcast": ((2, 1, 2, 3), (3, 3, 2)),
}


def _matmul_spec(name, shapes):
    return OpSpec(f"matmul_{name}", lambda a, b: a @ b, fixed(*shapes), np.matmul, ("MatMul",))


def _mm_large(rng):
    n, k, m = (int(v) for v in rng.integers(2, 9, size=3))
    return normal(rng, (n, k), (k, m))


def _linear_ref(x, w, b=None):
    out = x @ w.T
    return out if b is None else out + b


SPECS = [_matmul_spec(name, shapes) for name, shapes in MATMUL_SHAPES.items()] + [
    OpSpec("matmul_large", lg.matmul, fixed((2, 3), (3, 2)), np.matmul, ("MatMul",),
           large_inputs=_mm_large),
    OpSpec("matmul_same_operand", lambda a: a @ a.T, fixed((3, 2)), lambda a: a @ a.T,
           ("MatMul", "Permute")),
    OpSpec("rmatmul_constant", lambda a: np.eye(2) @ a, fixed((2, 3)), lambda a: a,
           ("MatMul",), float32=False),  # the float64 constant meets float32: see test_dtypes
    OpSpec("mm", lg.mm, fixed((2, 3), (3, 2)), np.matmul, ("MatMul",)),
    OpSpec("bmm", lambda a, b: a.bmm(b), fixed((2, 2, 3), (2, 3, 2)), np.matmul,
           ("MatMul",)),
    OpSpec("dot", lg.dot, fixed((4,), (4,)), np.dot, ("MatMul",)),
    OpSpec("mv", lambda a, b: a.mv(b), fixed((2, 3), (3,)), np.matmul, ("MatMul",)),
    OpSpec("outer", lg.outer, fixed((3,), (2,)), np.outer, ("Mul", "Reshape")),
    OpSpec("linear", lg.linear, fixed((4, 3), (2, 3), (2,)), _linear_ref, ("Linear",),
           large_inputs=lambda rng: normal(rng, (7, 5), (6, 5), (6,))),
    OpSpec("linear_no_bias", lg.linear, fixed((4, 3), (2, 3)), _linear_ref,
           ("Linear", "MatMul")),
    OpSpec("linear_1d_input", lg.linear, fixed((3,), (2, 3), (2,)), _linear_ref,
           ("Linear",)),
    OpSpec("linear_batched_input", lg.linear, fixed((2, 2, 3), (2, 3), (2,)), _linear_ref,
           ("Linear", "MatMul", "Reshape")),
    # (batch, time, features) inputs: the leading dims are folded into one GEMM (issue 13)
    OpSpec("linear_4d_input", lg.linear, fixed((2, 3, 2, 4), (3, 4), (3,)), _linear_ref,
           ("Linear", "MatMul", "Reshape"),
           large_inputs=lambda rng: normal(rng, (3, 5, 4, 6), (5, 6), (5,))),
    OpSpec("matmul_4d_2d_folded", lambda a, b: a @ b, fixed((2, 3, 2, 4), (4, 3)), np.matmul,
           ("MatMul", "Reshape"),
           large_inputs=lambda rng: normal(rng, (3, 5, 4, 6), (6, 5))),
]

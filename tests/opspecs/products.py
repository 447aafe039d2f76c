"""OpSpecs for locograd.ops.products: einsum (matrix product, trace, diagonal, broadcasting
ellipsis, implicit output, an index summed in one operand, three operands), tensordot, inner,
kron, cross, the add*mm family and cdist (p = 2 both ways, 1, 3, inf)."""
from __future__ import annotations

import numpy as np

import locograd as lg

from . import OpSpec
from ._shapes import fixed

EINSUMS = {
    "matmul": ("ij,jk->ik", ((2, 3), (3, 2))),
    "trace": ("ii", ((3, 3),)),
    "diagonal": ("ii->i", ((3, 3),)),
    "batched_implicit": ("bij,bjk", ((2, 2, 3), (2, 3, 2))),
    "ellipsis_broadcast": ("...ij,...jk->...ik", ((2, 1, 2, 3), (2, 3, 2))),
    "outer_implicit": ("i,j", ((3,), (2,))),
    "summed_alone": ("ij,k->jk", ((2, 3), (2,))),
    "size1_broadcast": ("ij,ij->ij", ((1, 3), (2, 3))),
    "repeated_and_other": ("iij,jk->ik", ((2, 2, 3), (3, 2))),
    "three_operands": ("ab,bc,cd->ad", ((2, 3), (3, 2), (2, 2))),
    "transpose_implicit": ("ba", ((2, 3),)),
}


def _einsum_spec(name, eq, shapes):
    return OpSpec(f"einsum_{name}", lambda *t: lg.einsum(eq, *t), fixed(*shapes),
                  lambda *a: np.einsum(eq, *a), ("Einsum",))


def _cdist_ref(p):
    def ref(a, b):
        d = np.abs(a[..., :, None, :] - b[..., None, :, :])
        if p == np.inf:
            return d.max(-1)
        return (d ** p).sum(-1) ** (1.0 / p)
    return ref


def _cross_ref(a, b):
    return np.cross(a, b, axis=-1)


SPECS = [_einsum_spec(name, eq, shapes) for name, (eq, shapes) in EINSUMS.items()] + [
    OpSpec("tensordot_dims_lists", lambda a, b: lg.tensordot(a, b, ([0, 2], [1, 0])),
           fixed((2, 3, 2), (2, 2, 3)), lambda a, b: np.tensordot(a, b, ([0, 2], [1, 0])),
           ("MatMul", "Permute", "Reshape")),
    OpSpec("tensordot_int", lambda a, b: lg.tensordot(a, b, 2), fixed((2, 3, 2), (3, 2, 2)),
           lambda a, b: np.tensordot(a, b, 2), ("MatMul",)),
    OpSpec("inner", lg.inner, fixed((2, 3), (4, 3)), np.inner, ("MatMul",)),
    OpSpec("inner_0d", lg.inner, fixed((), (3,)), np.inner, ("Mul",)),
    OpSpec("kron", lg.kron, fixed((2, 3), (2, 2, 2)), np.kron, ("Mul", "Reshape")),
    OpSpec("cross_broadcast", lambda a, b: lg.linalg.cross(a, b), fixed((4, 3), (1, 3)),
           _cross_ref, ("Roll", "Mul")),
    OpSpec("cross_dim0", lambda a, b: lg.cross(a, b, dim=0), fixed((3, 2), (3, 2)),
           lambda a, b: np.cross(a, b, axis=0), ("Roll",)),
    OpSpec("addmm", lambda i, a, b: lg.addmm(i, a, b, beta=0.5, alpha=2.0),
           fixed((4,), (2, 3), (3, 4)), lambda i, a, b: 0.5 * i + 2.0 * a @ b, ("MatMul",)),
    OpSpec("addmm_beta0", lambda i, a, b: lg.addmm(i, a, b, beta=0),
           fixed((2, 4), (2, 3), (3, 4)), lambda i, a, b: a @ b, ("MatMul",)),
    OpSpec("addmv", lambda i, a, b: lg.addmv(i, a, b, alpha=2.0), fixed((2,), (2, 3), (3,)),
           lambda i, a, b: i + 2.0 * a @ b, ("MatMul",)),
    OpSpec("addr", lg.addr, fixed((2, 4), (2,), (4,)), lambda i, a, b: i + np.outer(a, b),
           ("Mul",)),
    OpSpec("baddbmm", lambda i, a, b: lg.baddbmm(i, a, b, beta=2.0),
           fixed((2, 1, 4), (2, 2, 3), (2, 3, 4)), lambda i, a, b: 2.0 * i + a @ b,
           ("MatMul",)),
    OpSpec("addbmm", lg.addbmm, fixed((2, 4), (3, 2, 3), (3, 3, 4)),
           lambda i, a, b: i + (a @ b).sum(0), ("MatMul", "Permute")),
    OpSpec("cdist_2", lg.cdist, fixed((2, 3, 4), (2, 2, 4)), _cdist_ref(2.0), ("Sqrt",)),
    OpSpec("cdist_2_mm", lambda a, b: lg.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
           fixed((3, 2), (4, 2)), _cdist_ref(2.0), ("MatMul", "Sqrt")),
    OpSpec("cdist_1", lambda a, b: lg.cdist(a, b, 1.0), fixed((3, 2), (2, 2)), _cdist_ref(1.0),
           ("Sum",), second_order=False),  # |x| has no second derivative to check
    OpSpec("cdist_3", lambda a, b: lg.cdist(a, b, 3.0), fixed((3, 2), (2, 2)), _cdist_ref(3.0),
           ("Pow",)),
    OpSpec("cdist_inf", lambda a, b: lg.cdist(a, b, np.inf), fixed((3, 2), (2, 2)),
           _cdist_ref(np.inf), ("AmaxAmin",), second_order=False),
]

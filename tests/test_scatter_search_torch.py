"""The issue 13 index ops of ops/index_write.py and ops/search.py, and the comparison aliases,
against PyTorch: values, dtypes and float64 gradients (ties, zeros, repeated and negative
indices, 0-d tensors, integer and bool inputs), and PyTorch's refusals."""
from __future__ import annotations

import numpy as np
import pytest

import locograd as lg

torch = pytest.importorskip("torch")

from test_arrangement_torch import check, compare  # noqa: E402
from torch_parity import assert_matches_torch  # noqa: E402

RNG = np.random.default_rng(17)
X34 = RNG.standard_normal((3, 4))


# ------------------------------------------------------------------ index_fill / index_copy

@pytest.mark.parametrize("dim, index", [(1, [0, 2, 0]), (0, [2]), (-1, [3, 1]), (0, []), (1, 2)])
def test_index_fill_matches_torch(dim, index):
    check("index_fill", [X34], dim, np.array(index, dtype=np.int64), -1.5)
    index = np.array(index, dtype=np.int64)
    compare(lambda lib, x, v: lib.index_fill(x, dim, lib.tensor(index), v), [X34, np.array(0.75)])


def test_index_fill_0d_integer_and_refusals():
    compare(lambda lib, x, v: lib.index_fill(x, 0, lib.tensor([0]), v),
            [np.array(3.0), np.array(2.0)])
    check("index_fill", [np.array([1, 2, 3])], 0, np.array([0, 2]), 1.5)  # truncated as torch
    x, i = lg.tensor(X34), lg.tensor([1])
    for args, error, match in (((1, lg.tensor([[0]]), 1.0), ValueError, "1-D .* integer"),
                               ((1, lg.tensor([4]), 1.0), IndexError, "index 4 is out of"),
                               ((1, lg.tensor([-1]), 1.0), IndexError, "index -1 is out of"),
                               ((1, lg.tensor([1.0]), 1.0), ValueError, "integer tensor"),
                               ((1, i, lg.tensor([1.0, 2.0])), ValueError, "0-dimensional")):
        with pytest.raises(error, match=match):
            lg.index_fill(x, *args)


@pytest.mark.parametrize("dim, index, source_shape", [
    (1, [0, 2], (3, 2)), (0, [2, 0, 1], (3, 4)), (-1, [3], (3, 1)), (0, [], (0, 4))])
def test_index_copy_matches_torch(dim, index, source_shape):
    index = np.array(index, dtype=np.int64)
    compare(lambda lib, x, s: lib.index_copy(x, dim, lib.tensor(index), s),
            [X34, RNG.standard_normal(source_shape)])


def test_index_copy_0d_and_refusals():
    compare(lambda lib, x, s: lib.index_copy(x, 0, lib.tensor([0]), s),
            [np.array(3.0), np.array(5.0)])
    x = lg.tensor(X34)
    with pytest.raises(ValueError, match=r"index_copy: source has shape \(3, 3\), expected "
                                         r"\(3, 2\)"):
        lg.index_copy(x, 1, lg.tensor([0, 2]), lg.ones(3, 3, dtype=lg.float64))
    with pytest.raises(TypeError, match="same dtype"):
        lg.index_copy(x, 1, lg.tensor([0, 2]), lg.ones(3, 2, dtype=lg.float32))
    with pytest.raises(IndexError, match="index_copy: index -1 is out of bounds"):
        lg.index_copy(x, 1, lg.tensor([-1]), lg.ones(3, 1, dtype=lg.float64))


# ------------------------------------------------------------------ masked_scatter

@pytest.mark.parametrize("x_shape, mask", [
    ((3, 4), [True, False, True, False]), ((4,), [[True], [False]]),
    ((2, 3), [[False] * 3, [False] * 3]), ((), [True, True])])
def test_masked_scatter_matches_torch(x_shape, mask):
    compare(lambda lib, x, s: lib.masked_scatter(x, lib.tensor(mask), s),
            [RNG.standard_normal(x_shape), RNG.standard_normal((3, 5))])


def test_masked_scatter_refusals():
    x, m = lg.tensor(X34), lg.tensor([True, False, True, True])
    with pytest.raises(ValueError, match="the source has 5 elements, fewer than the 9 True"):
        lg.masked_scatter(x, m, lg.ones(5, dtype=lg.float64))
    with pytest.raises(TypeError, match="same dtype"):
        lg.masked_scatter(x, m, lg.ones(12, dtype=lg.float32))
    with pytest.raises(TypeError, match="boolean masks"):
        lg.masked_scatter(x, lg.tensor([1, 0, 1, 1]), lg.ones(12, dtype=lg.float64))


# ------------------------------------------------------------------ scatter_reduce

INDEX = np.array([[0, 2, 0, 1], [2, 2, 2, 0]])  # into (3, 4) along dim 0; (1, 1) is not named
INDEX_1 = np.array([[0, 3, 3, 1, 0], [2, 2, 2, 2, 2], [1, 0, 1, 0, 3]])  # along dim 1


def _reduce(x, src, dim, index, reduce, include_self):
    compare(lambda lib, a, b: lib.scatter_reduce(a, dim, lib.tensor(index), b, reduce,
                                                 include_self=include_self), [x, src])


def _tied_inputs():
    """Ties in amax/amin: the input with sources, and sources among themselves."""
    x = np.array([[1.0, 3.0, 2.0, 0.5], [4.0, 5.0, 6.0, 7.0], [2.0, 0.0, 1.0, 1.0]])
    src = np.array([[1.0, 2.0, 1.0, 3.0], [2.0, 2.0, 0.0, 0.5]])
    return x, src


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_torch(reduce, include_self):
    # (a source larger than the index is in the op table: torch's backward refuses it)
    x, src = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 4))
    src[0, 2] = 0.0  # a zero factor in prod
    _reduce(x, src, 0, INDEX, reduce, include_self)
    _reduce(x, RNG.standard_normal((3, 5)), -1, INDEX_1, reduce, include_self)


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_scatter_reduce_shares_the_gradient_of_ties_as_torch(reduce):
    _reduce(*_tied_inputs(), 0, INDEX, reduce, True)


def test_scatter_reduce_tie_with_an_excluded_input_gives_sources_the_whole_gradient():
    # torch counts the excluded input in the share (its sources get 1/3 each of a gradient 1,
    # and the input 0); locograd gives the whole gradient to the tied sources (1/2 each).
    x = lg.tensor([3.0], requires_grad=True)
    src = lg.tensor([3.0, 3.0], requires_grad=True)
    lg.scatter_reduce(x, 0, lg.tensor([0, 0]), src, "amax", include_self=False).sum().backward()
    assert x.grad.tolist() == [0.0] and src.grad.tolist() == [0.5, 0.5]


def test_scatter_reduce_prod_with_zeros_matches_torch():
    x = np.array([[0.0, 2.0, 1.5, -1.0], [3.0, 0.5, 0.0, 2.0], [1.0, -2.0, 0.5, 0.0]])
    src = np.array([[0.0, 1.5, 2.0, 0.0], [2.0, 0.0, 0.0, -1.0]])
    for include_self in (True, False):
        _reduce(x, src, 0, INDEX, "prod", include_self)


def test_scatter_reduce_prod_refuses_double_backward_with_several_zeros_at_one_place():
    src = lg.tensor([0.0, 0.0, 2.0], dtype=lg.float64, requires_grad=True)
    out = lg.scatter_reduce(lg.ones(2, dtype=lg.float64), 0, lg.tensor([0, 0, 1]), src, "prod")
    (g,) = lg.grad(out.sum(), (src,), retain_graph=True)  # first order: fine
    assert g.tolist() == [0.0, 0.0, 1.0]
    with pytest.raises(RuntimeError, match="double backward is not supported for src"):
        lg.grad(out.sum(), (src,), create_graph=True)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_integers_match_torch(reduce, include_self):
    x = np.array([-7, 7, 9, 4])
    src = np.array([2, 0, 4, -3, 5])
    index = np.array([0, 0, 1, 0, 2])
    _reduce(x, src, 0, index, reduce, include_self)


def test_scatter_reduce_bool_0d_and_refusals():
    _reduce(np.array([True, False]), np.array([False, True]), 0, np.array([0, 1]), "sum", True)
    _reduce(np.array(1.5), np.array([4.0, 2.0]), 0, np.array([0, 0]), "sum", True)
    _reduce(np.array(1.5), np.array(4.0), 0, np.array(0), "amax", False)
    x, i = lg.tensor(X34), lg.tensor([[0, 1]])
    with pytest.raises(ValueError, match="reduce argument must be one of"):
        lg.scatter_reduce(x, 1, i, lg.ones(1, 2, dtype=lg.float64), "max")
    with pytest.raises(TypeError, match="expected scalar type float64 for src"):
        lg.scatter_reduce(x, 1, i, lg.ones(1, 2, dtype=lg.float32), "sum")
    with pytest.raises(IndexError, match="index 4 is out of bounds"):
        lg.scatter_reduce(x, 1, lg.tensor([[4]]), lg.ones(1, 1, dtype=lg.float64), "sum")
    with pytest.raises(TypeError, match="bool"):
        lg.scatter_reduce(lg.tensor([True]), 0, lg.tensor([0]), lg.tensor([True]), "mean")


# ------------------------------------------------------------------ take, argwhere

@pytest.mark.parametrize("x_shape, index", [((3, 4), [[0, 11], [-12, 3]]), ((5,), [4, 4, -1]),
                                            ((), 0), ((2, 2), []), ((2, 3), [[[1]]])])
def test_take_matches_torch(x_shape, index):
    check("take", [RNG.standard_normal(x_shape)], np.array(index, dtype=np.int64))


def test_take_refusals():
    x = lg.tensor(X34)
    with pytest.raises(IndexError, match="take: out of range: tried to access index 12 on a "
                                         "tensor of 12 elements"):
        lg.take(x, lg.tensor([12]))
    with pytest.raises(IndexError, match="index -13"):
        lg.take(x, lg.tensor([-13]))
    with pytest.raises(TypeError, match="integer"):
        lg.take(x, lg.tensor([1.0]))


@pytest.mark.parametrize("value", [[[0, 1], [2, 0]], [0.0, np.nan, -1.0], 1.0, 0, [], [[[True]]]])
def test_argwhere_matches_torch(value):
    check("argwhere", [np.array(value)])


# ------------------------------------------------------------------ searchsorted, bucketize

SEQ = np.array([-1.0, 0.5, 0.5, 2.0, 3.0])
VALUES = np.array([[0.5, -3.0, 3.0], [2.5, np.nan, np.inf]])


@pytest.mark.parametrize("kwargs", [{}, {"right": True}, {"side": "right"}, {"side": "left"},
                                    {"out_int32": True}, {"right": False, "side": "right"}])
def test_searchsorted_1d_matches_torch(kwargs):
    check("searchsorted", [SEQ, VALUES], **kwargs)
    check("searchsorted", [SEQ], 0.5, **kwargs)  # a number gives a 0-d result


def test_searchsorted_rows_sorter_and_mixed_dtypes_match_torch():
    seq = np.sort(RNG.standard_normal((2, 3, 4)), axis=-1)
    values = RNG.standard_normal((2, 3, 5))
    for side in ("left", "right"):
        check("searchsorted", [seq, values], side=side)
    shuffled = np.array([3.0, -1.0, 2.0, 0.5])
    check("searchsorted", [shuffled, VALUES], sorter=np.argsort(shuffled))
    check("searchsorted", [np.array([1, 3, 5]), np.array([2.5, 3.0])], right=True)
    check("searchsorted", [np.array([]), np.array([1.0])])
    # N-d boundaries with no rows, or rows without values: empty results of the input's shape
    check("searchsorted", [np.zeros((0, 3)), np.zeros((0, 2))])
    check("searchsorted", [np.zeros((2, 3)), np.zeros((2, 0))], out_int32=True)


def test_searchsorted_refusals():
    seq = lg.tensor(SEQ)
    for args, kwargs, match in (
            ((seq, lg.ones(2)), {"right": True, "side": "left"}, "can't be set to opposites"),
            ((seq, lg.ones(2)), {"side": "middle"}, "side can only be"),
            ((lg.tensor(1.0), lg.ones(2)), {}, "positive number of dimensions"),
            ((lg.ones(2, 2), lg.ones(2)), {}, "first N-1 dimensions"),
            ((lg.ones(2, 2), 1.0), {}, "scalar only when"),
            ((seq, lg.ones(2)), {"sorter": lg.tensor([0])}, "same shape")):
        with pytest.raises(ValueError, match=match):
            lg.searchsorted(*args, **kwargs)


@pytest.mark.parametrize("right", [False, True])
def test_bucketize_matches_torch(right):
    check("bucketize", [VALUES, SEQ], right=right)
    check("bucketize", [np.array(0.5), SEQ], right=right)
    with pytest.raises(ValueError, match="bucketize: the boundaries tensor must be 1-d"):
        lg.bucketize(lg.ones(2), lg.ones(2, 2), right=right)


# ------------------------------------------------------------------ aliases

@pytest.mark.parametrize("name", ["greater", "less", "not_equal", "greater_equal", "less_equal",
                                  "concat", "moveaxis"])
def test_aliases_match_torch(name):
    a = np.array([[1.0, 2.0, np.nan], [0.0, -1.0, 2.0]])
    b = np.array([1.0, 0.0, 2.0])
    if name == "concat":
        assert_matches_torch(lambda x, y: lg.concat([x, y.reshape(1, 3)]),
                             lambda x, y: torch.concat([x, y.reshape(1, 3)]), [a, b])
    elif name == "moveaxis":
        check(name, [a], 0, 1)
    else:
        check(name, [a, b])
        check(name, [a], 1.0)

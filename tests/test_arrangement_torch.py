"""The issue 13 shape ops of ops/arrangement.py and ops/split_join.py against PyTorch: values,
shapes, dtypes and float64 gradients on edge cases (0-d, empty, negative dims and offsets,
integer inputs), and PyTorch's refusals."""
from __future__ import annotations

import numpy as np
import pytest

import locograd as lg

torch = pytest.importorskip("torch")

from torch_parity import assert_matches_torch  # noqa: E402

RNG = np.random.default_rng(13)
X234 = RNG.standard_normal((2, 3, 4))
X34 = RNG.standard_normal((3, 4))


def _lib(lib, value):
    """Integer NumPy arrays (indices, counts) as tensors of ``lib``; other values as given."""
    if isinstance(value, np.ndarray):
        return lib.tensor(value)
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return [lib.tensor(v) for v in value]
    return value


def compare(fn, arrays):
    """``fn(lib, *tensors)`` with ``lib`` locograd and then torch, on the same inputs."""
    assert_matches_torch(lambda *t: fn(lg, *t), lambda *t: fn(torch, *t), arrays)


def check(name, arrays, *args, method=False, **kwargs):
    """``lg.<name>`` against ``torch.<name>`` (or the Tensor methods) on the same inputs."""
    def call(lib):
        def fn(*tensors):
            a = [_lib(lib, v) for v in args]
            kw = {k: _lib(lib, v) for k, v in kwargs.items()}
            if method:
                return getattr(tensors[0], name)(*tensors[1:], *a, **kw)
            return getattr(lib, name)(*tensors, *a, **kw)
        return fn
    assert_matches_torch(call(lg), call(torch), arrays)


# ------------------------------------------------------------------ diagonals

@pytest.mark.parametrize("offset", [-3, -1, 0, 2, 5])
@pytest.mark.parametrize("dims", [(0, 1), (1, -1), (-1, 0), (2, 0)])
def test_diagonal_matches_torch(offset, dims):
    check("diagonal", [X234], offset, *dims)


def test_diagonal_is_a_view_and_refuses_bad_dims():
    x = lg.tensor(X34)
    assert lg.diagonal(x)._is_view
    for bad, error in (((lg.ones(3),), IndexError), ((x, 0, 1, -1), ValueError),
                       ((x, 0, 0, 2), IndexError)):
        with pytest.raises(error, match="diagonal"):
            lg.diagonal(*bad)


@pytest.mark.parametrize("shape, offset, dims", [
    ((2, 3), 0, (-2, -1)), ((2, 3), 1, (0, 2)), ((2, 3), -1, (2, 0)), ((3,), 2, (0, 1)),
    ((2, 2, 3), -2, (1, 3)), ((0,), 0, (0, 1)), ((2, 0), 1, (-1, 0))])
def test_diag_embed_matches_torch(shape, offset, dims):
    check("diag_embed", [RNG.standard_normal(shape)], offset, *dims)


def test_diag_embed_keeps_integer_dtype_and_refuses_0d():
    check("diag_embed", [np.arange(6).reshape(2, 3)])
    with pytest.raises(ValueError, match="diag_embed"):
        lg.diag_embed(lg.tensor(1.0))
    with pytest.raises(ValueError, match="identical"):
        lg.diag_embed(lg.ones(3), 0, 1, -1)


@pytest.mark.parametrize("shapes", [[(2, 3), (4,), ()], [(1, 1)], [(2, 0), (1, 2)],
                                    [(3,), (0, 2), (2, 2)]])
def test_block_diag_matches_torch(shapes):
    check("block_diag", [RNG.standard_normal(s) for s in shapes])


def test_block_diag_promotes_and_refuses_3d():
    check("block_diag", [np.ones((1, 2), dtype=np.int64), RNG.standard_normal((2, 1))])
    assert lg.block_diag().shape == tuple(torch.block_diag().shape) == (1, 0)
    assert lg.block_diag().dtype == np.float32
    with pytest.raises(ValueError, match="block_diag: .*2 or fewer"):
        lg.block_diag(lg.ones(2), lg.ones(1, 1, 1))


@pytest.mark.parametrize("name", ["tril_indices", "triu_indices"])
@pytest.mark.parametrize("row, col, offset", [(3, 4, 0), (3, 4, 1), (4, 3, -2), (3, 3, -5),
                                              (3, 4, 10), (0, 3, 0), (1, 1, 0)])
def test_triangle_indices_match_torch(name, row, col, offset):
    ours = getattr(lg, name)(row, col, offset)
    theirs = getattr(torch, name)(row, col, offset).numpy()
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours.numpy(), theirs)


def test_triangle_indices_dtype_and_refusals():
    assert lg.tril_indices(3, 3, dtype=lg.int32).dtype == np.int32
    with pytest.raises(TypeError, match="tril_indices: dtype must be an integer"):
        lg.tril_indices(3, 3, dtype=lg.float32)
    with pytest.raises(ValueError, match="triu_indices: row and col must be non-negative"):
        lg.triu_indices(-1, 3)


# ------------------------------------------------------------------ flips and rotations

def test_fliplr_flipud_match_torch():
    for name in ("fliplr", "flipud"):
        check(name, [X234])
        check(name, [X34])
    check("flipud", [RNG.standard_normal(5)])
    with pytest.raises(ValueError, match="fliplr: the input must be >= 2-d"):
        lg.fliplr(lg.ones(3))
    with pytest.raises(ValueError, match="flipud: the input must be >= 1-d"):
        lg.flipud(lg.tensor(1.0))


@pytest.mark.parametrize("k", [-5, -1, 0, 1, 2, 3, 6])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (2, 0), (-1, -2)])
def test_rot90_matches_torch(k, dims):
    check("rot90", [X234], k, list(dims))


def test_rot90_refusals():
    for args, match in (((lg.ones(2, 2), 1, [0]), "rotation dims == 2"),
                        ((lg.ones(2, 2), 1, [1, -1]), "rotation dims to be different"),
                        ((lg.ones(3), 1), "total dims >= 2"),
                        ((lg.ones(2, 2), 1, [0, 2]), "out of range")):
        with pytest.raises((ValueError, IndexError), match=match):
            lg.rot90(*args)


# ------------------------------------------------------------------ repeat_interleave

@pytest.mark.parametrize("repeats, kwargs", [
    (2, {}), (3, {"dim": 1}), (0, {"dim": -1}), (np.array([1, 0, 2]), {"dim": 1}),
    (np.array(2), {"dim": 0}), (np.array([3]), {"dim": -2}), (np.array([2, 1]), {"dim": 0}),
    (np.array([1, 2, 0, 1]), {"dim": 2, "output_size": 4}),
])
def test_repeat_interleave_matches_torch(repeats, kwargs):
    check("repeat_interleave", [X234], repeats, **kwargs)


def test_repeat_interleave_counts_alone_and_flattened_0d():
    counts = np.array([1, 0, 3, 2])
    np.testing.assert_array_equal(lg.repeat_interleave(lg.tensor(counts)).numpy(),
                                  torch.repeat_interleave(torch.tensor(counts)).numpy())
    assert lg.repeat_interleave(lg.tensor(counts)).dtype == np.int64
    check("repeat_interleave", [np.array(1.5)], 3)
    check("repeat_interleave", [np.arange(4).reshape(2, 2)], np.array([2, 1]), dim=1)


def test_repeat_interleave_refusals():
    x = lg.tensor(X34)
    for args, kwargs, error, match in (
            ((-1,), {}, ValueError, "non-negative"),
            ((lg.tensor([2.0, 1.0]),), {"dim": 0}, TypeError, "integer tensor"),
            ((lg.tensor([[1, 2]]),), {"dim": 0}, ValueError, "0-d or 1-d"),
            ((lg.tensor([1, 2]),), {"dim": 0}, ValueError, "same size as input along dim"),
            ((2,), {"dim": 0, "output_size": 5}, ValueError, "output_size=5"),
            ((2,), {"dim": 2}, IndexError, "out of range")):
        with pytest.raises(error, match=match):
            lg.repeat_interleave(x, *args, **kwargs)
    with pytest.raises(IndexError, match="0-d"):
        lg.repeat_interleave(lg.tensor(1.0), 2, dim=0)


# ------------------------------------------------------------------ Tensor.unfold

@pytest.mark.parametrize("dim, size, step", [(0, 1, 1), (1, 2, 1), (-1, 3, 2), (2, 4, 1),
                                             (2, 1, 5), (1, 3, 3), (2, 0, 1), (-1, 2, 3)])
def test_tensor_unfold_matches_tensor_unfold_of_torch(dim, size, step):
    assert_matches_torch(lambda x: lg.tensor_unfold(x, dim, size, step),
                         lambda x: x.unfold(dim, size, step), [X234])


def test_tensor_unfold_0d_view_and_refusals():
    for size, step in ((1, 1), (1, 3), (0, 2)):
        assert_matches_torch(lambda x, size=size, step=step: lg.tensor_unfold(x, 0, size, step),
                             lambda x, size=size, step=step: x.unfold(0, size, step),
                             [np.array(2.5)])
    x = lg.tensor(X34)
    windows = lg.tensor_unfold(x, 1, 2, 1)
    assert windows._is_view and windows.shape == (3, 3, 2)
    with pytest.raises(ValueError, match="unfold: maximum size for tensor at dimension 1 is 4"):
        lg.tensor_unfold(x, 1, 5, 1)
    with pytest.raises(ValueError, match="unfold: step is 0 but must be > 0"):
        lg.tensor_unfold(x, 0, 1, 0)
    with pytest.raises(IndexError, match="unfold"):
        lg.tensor_unfold(x, 2, 1, 1)


def test_tensor_unfold_second_order_matches_torch():
    x = lg.tensor(X34, requires_grad=True)
    t = torch.tensor(X34, requires_grad=True)
    w = RNG.standard_normal((3, 2, 3))
    (g,) = lg.grad((lg.tensor_unfold(x, 1, 3, 1) ** 2 * lg.tensor(w)).sum(), (x,),
                   create_graph=True)
    (gt,) = torch.autograd.grad((t.unfold(1, 3, 1) ** 2 * torch.tensor(w)).sum(), (t,),
                                create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), gt.detach().numpy(), rtol=1e-12)
    (gg,) = lg.grad((g * g).sum(), (x,))
    (ggt,) = torch.autograd.grad((gt * gt).sum(), (t,))
    np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=1e-12)


# ------------------------------------------------------------------ splitting

@pytest.mark.parametrize("spec, dim", [
    (3, 0), (3, 2), (5, 1), (1, 0), (np.array(2), -1), ([1, 3], 2), ((0, 2), 1),
    ([5, 2, 9], 2), ([-1], 0), ([1, -2], -1), (np.array([1, 3]), 2), ([], 0)])
def test_tensor_split_matches_torch(spec, dim):
    check("tensor_split", [X234], spec, dim)


def test_tensor_split_parts_are_views_and_refusals():
    parts = lg.tensor_split(lg.tensor(X34), [1, 3], 1)
    assert all(p._is_view for p in parts)
    for spec, error, match in ((0, ValueError, "larger than 0"),
                               (lg.tensor([[1]]), ValueError, "0-d or 1-d"),
                               (lg.tensor([1.0]), TypeError, "integer dtype")):
        with pytest.raises(error, match=match):
            lg.tensor_split(lg.tensor(X34), spec)
    with pytest.raises(ValueError, match="at least a 1-dimensional"):
        lg.tensor_split(lg.tensor(1.0), 2)


@pytest.mark.parametrize("name, shape, spec", [
    ("hsplit", (6,), 3), ("hsplit", (2, 4), [1]), ("hsplit", (2, 4, 2), 2),
    ("vsplit", (4, 2), 2), ("vsplit", (4, 2), [1, 3]), ("dsplit", (1, 2, 4), 2),
    ("dsplit", (1, 2, 4), [3])])
def test_hsplit_vsplit_dsplit_match_torch(name, shape, spec):
    check(name, [RNG.standard_normal(shape)], spec)


def test_hsplit_vsplit_dsplit_refusals():
    with pytest.raises(ValueError, match="hsplit: attempted to split along dimension 1, but the "
                                         "size of the dimension 4 is not divisible"):
        lg.hsplit(lg.ones(2, 4), 3)
    for name, x in (("hsplit", lg.tensor(1.0)), ("vsplit", lg.ones(3)),
                    ("dsplit", lg.ones(2, 2))):
        with pytest.raises(ValueError, match=f"{name}: requires a tensor with at least"):
            getattr(lg, name)(x, [1])


# ------------------------------------------------------------------ joining

@pytest.mark.parametrize("name", ["atleast_1d", "atleast_2d", "atleast_3d"])
def test_atleast_nd_match_torch(name):
    shapes = [(), (3,), (2, 3), (2, 3, 1), (1, 2, 1, 2)]
    arrays = [RNG.standard_normal(s) for s in shapes]
    check(name, arrays)
    for a in arrays:
        check(name, [a])
    ours = getattr(lg, name)(lg.tensor(arrays[0]))
    assert isinstance(ours, lg.Tensor)
    assert isinstance(getattr(lg, name)([lg.tensor(arrays[0])]), tuple)
    assert getattr(lg, name)() == ()


@pytest.mark.parametrize("shapes", [[(3,), (3, 2), (3,)], [(2,), (2,)], [(1, 2), ()]])
def test_column_stack_matches_torch(shapes):
    assert_matches_torch(lambda *t: lg.column_stack(t), lambda *t: torch.column_stack(t),
                         [RNG.standard_normal(s) for s in shapes])


@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (2, 3, 2)], [(), ()]])
def test_dstack_matches_torch(shapes):
    assert_matches_torch(lambda *t: lg.dstack(t), lambda *t: torch.dstack(t),
                         [RNG.standard_normal(s) for s in shapes])


def test_column_stack_dstack_promote_and_refuse_empty():
    arrays = [np.arange(2), RNG.standard_normal(2)]
    assert_matches_torch(lambda *t: lg.column_stack(t), lambda *t: torch.column_stack(t), arrays)
    for name in ("column_stack", "dstack"):
        with pytest.raises(ValueError, match=f"{name}: expects a non-empty"):
            getattr(lg, name)([])


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("shapes", [[(2,)], [(2,), (3,)], [(2,), (), (4,)], [(3,), (2,), (0,)]])
def test_meshgrid_matches_torch(indexing, shapes):
    check("meshgrid", [RNG.standard_normal(s) for s in shapes], indexing=indexing)


def test_meshgrid_takes_a_list_and_refuses_bad_input():
    a, b = lg.tensor([1, 2]), lg.tensor([3, 4, 5])
    ours = lg.meshgrid([a, b])  # 'ij', PyTorch's default
    theirs = torch.meshgrid([torch.tensor([1, 2]), torch.tensor([3, 4, 5])], indexing="ij")
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    assert ours[0]._is_view
    for args, kwargs, error, match in (
            ((a, lg.ones(2, 2)), {}, ValueError, "0-d or 1-d"),
            ((a, lg.ones(2)), {}, TypeError, "same dtype"),
            ((a,), {"indexing": "yx"}, ValueError, "indexing must be one of"),
            ((), {}, ValueError, "non-empty")):
        with pytest.raises(error, match=match):
            lg.meshgrid(*args, **kwargs)

"""Tensor factories (dtypes, shapes, ``*_like``) and the random generators."""
import json

import numpy as np
import pytest

import locograd as lg


@pytest.mark.parametrize("make, shape, dtype", [
    (lambda: lg.zeros(2, 3), (2, 3), lg.float32),
    (lambda: lg.zeros((2, 3)), (2, 3), lg.float32),
    (lambda: lg.ones([4]), (4,), lg.float32),
    (lambda: lg.ones(2, dtype=lg.float64), (2,), lg.float64),
    (lambda: lg.empty(3, 1, dtype=lg.int64), (3, 1), lg.int64),
    (lambda: lg.full((2, 2), 1.5), (2, 2), lg.float32),
    (lambda: lg.full((2,), 3), (2,), lg.int64),
    (lambda: lg.full(3, True), (3,), lg.bool),
    (lambda: lg.arange(5), (5,), lg.int64),
    (lambda: lg.arange(0.0, 1.0, 0.25), (4,), lg.float32),
    (lambda: lg.arange(1, 4, dtype=float), (3,), lg.float32),
    (lambda: lg.linspace(0, 1, 5), (5,), lg.float32),
    (lambda: lg.logspace(0, 2, 3), (3,), lg.float32),
    (lambda: lg.eye(2, 3), (2, 3), lg.float32),
    (lambda: lg.eye(3, dtype=lg.int64), (3, 3), lg.int64),
    (lambda: lg.rand(2, 3), (2, 3), lg.float32),
    (lambda: lg.randn(4, dtype=lg.float64), (4,), lg.float64),
    (lambda: lg.randint(0, 5, (3,)), (3,), lg.int64),
    (lambda: lg.randint(10, (2, 2)), (2, 2), lg.int64),
    (lambda: lg.randperm(5), (5,), lg.int64),
    (lambda: lg.normal(0.0, 1.0, (2,)), (2,), lg.float32),
    (lambda: lg.tensor([[1.0, 2.0]]), (1, 2), lg.float32),
    (lambda: lg.zeros(0, 3), (0, 3), lg.float32),
])
def test_factory_shapes_and_dtypes(make, shape, dtype):
    t = make()
    assert t.shape == shape and t.dtype == dtype and not t.requires_grad


def test_factory_values():
    assert lg.arange(0.0, 1.0, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert lg.arange(2, 8, 2).tolist() == [2, 4, 6]
    assert lg.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert lg.eye(2, 3).tolist() == [[1, 0, 0], [0, 1, 0]]
    assert lg.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert lg.logspace(0, 2, 3).tolist() == [1.0, 10.0, 100.0]
    assert sorted(lg.randperm(6).tolist()) == list(range(6))
    r = lg.randint(3, 7, (200,))
    assert r.numpy().min() >= 3 and r.numpy().max() <= 6
    u = lg.rand(1000)
    assert 0.0 <= u.numpy().min() and u.numpy().max() < 1.0


def test_requires_grad_in_factories():
    assert lg.zeros(2, requires_grad=True).requires_grad
    assert lg.randn(2, requires_grad=True).is_leaf
    assert lg.tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="only floating-point"):
        lg.arange(3, requires_grad=True)


def test_like_factories_keep_shape_and_dtype():
    x = lg.ones(2, 3, dtype=lg.float64)
    for make in (lg.zeros_like, lg.ones_like, lg.empty_like, lg.rand_like, lg.randn_like):
        t = make(x)
        assert t.shape == (2, 3) and t.dtype == lg.float64, make.__name__
    assert lg.zeros_like(x, dtype=lg.int64).dtype == lg.int64
    assert lg.full_like(x, 7).tolist() == [[7.0] * 3] * 2
    assert lg.zeros_like(x, requires_grad=True).requires_grad
    assert lg.ones_like(np.zeros((4,), np.int32)).dtype == lg.int32
    ri = lg.randint_like(x, 10)
    assert ri.dtype == lg.float64 and ri.shape == (2, 3)
    assert np.all(ri.numpy() == np.floor(ri.numpy()))


def test_tensor_copies_from_numpy_and_as_tensor_does_not():
    a = np.arange(3.0)
    shared, copied, maybe = lg.from_numpy(a), lg.tensor(a), lg.as_tensor(a)
    a[0] = 9.0
    assert shared.tolist()[0] == 9.0 and maybe.tolist()[0] == 9.0 and copied.tolist()[0] == 0.0
    assert lg.as_tensor(shared) is shared
    assert lg.as_tensor(shared, dtype=lg.float32).dtype == lg.float32
    with pytest.raises(TypeError, match="from_numpy: expected an np.ndarray"):
        lg.from_numpy([1.0])


def test_factory_errors():
    with pytest.raises(ValueError, match=r"negative dimension in size \(-1,\)"):
        lg.zeros(-1)
    with pytest.raises(TypeError, match="tensor: cannot build a tensor from data of type list"):
        lg.tensor(["a"])
    with pytest.raises(ValueError, match="tensor: cannot build a tensor from the given data"):
        lg.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="random float factories need a floating dtype"):
        lg.rand(2, dtype=lg.int64)
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        lg.arange(0, 1, 0)


# ------------------------------------------------------------------------------ randomness

def test_manual_seed_makes_every_random_factory_reproducible():
    def draw():
        return [lg.rand(3), lg.randn(2, 2), lg.randint(0, 100, (4,)), lg.randperm(5),
                lg.normal(1.0, 2.0, (3,)), lg.bernoulli(lg.full((4,), 0.5)),
                lg.multinomial(lg.tensor([1.0, 2.0, 3.0]), 2), lg.rand_like(lg.zeros(2)),
                lg.empty(3).uniform_(-1.0, 1.0), lg.empty(2).normal_(0.0, 3.0)]

    lg.manual_seed(123)
    first = draw()
    lg.manual_seed(123)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    lg.manual_seed(124)
    assert not np.array_equal(lg.rand(3).numpy(), first[0].numpy())
    assert lg.initial_seed() == 124


def test_generator_objects_are_independent_of_the_default_one():
    lg.manual_seed(0)
    expected_default = lg.randn(3).numpy()
    g = lg.Generator(7)
    lg.manual_seed(0)
    from_g = lg.randn(3, generator=g).numpy()  # drawing from g does not advance the default
    np.testing.assert_array_equal(lg.randn(3).numpy(), expected_default)
    np.testing.assert_array_equal(lg.randn(3, generator=lg.Generator(7)).numpy(), from_g)
    assert lg.Generator().manual_seed(7).initial_seed() == 7
    assert repr(g) == "Generator(seed=7)"
    with pytest.raises(ValueError, match="non-negative"):
        g.manual_seed(-1)


def test_generator_state_round_trip_through_json():
    g = lg.Generator(3)
    lg.rand(5, generator=g)
    state = json.loads(json.dumps(g.get_state()))  # plain data, no pickle
    after = lg.randn(4, generator=g).numpy()
    g2 = lg.Generator(99)
    g2.set_state(state)
    np.testing.assert_array_equal(lg.randn(4, generator=g2).numpy(), after)
    assert g2.initial_seed() == 3
    g.set_state(state)
    np.testing.assert_array_equal(lg.randn(4, generator=g).numpy(), after)
    with pytest.raises(ValueError, match="expected a PCG64 state"):
        g.set_state({"bit_generator": "MT19937"})


def test_spawned_generators_are_reproducible_and_distinct():
    a, b = lg.Generator(1).spawn(), lg.Generator(1).spawn()
    np.testing.assert_array_equal(lg.rand(3, generator=a).numpy(), lg.rand(3, generator=b).numpy())
    parent = lg.Generator(1)
    c, d = parent.spawn(), parent.spawn()
    assert not np.array_equal(lg.rand(3, generator=c).numpy(), lg.rand(3, generator=d).numpy())


def test_float32_draws_are_float32_without_a_float64_round_trip():
    g1, g2 = lg.Generator(5), lg.Generator(5)
    a = lg.randn(4, generator=g1)
    b = g2.numpy.standard_normal(4, dtype=np.float32)
    assert a.dtype == lg.float32
    np.testing.assert_array_equal(a.numpy(), b)


def test_triangles_and_diagonals():
    x = lg.arange(1.0, 10.0).reshape(3, 3)
    np.testing.assert_array_equal(lg.tril(x).numpy(), np.tril(x.numpy()))
    np.testing.assert_array_equal(lg.triu(x, 1).numpy(), np.triu(x.numpy(), 1))
    np.testing.assert_array_equal(lg.diag(x, -1).numpy(), [4.0, 8.0])
    np.testing.assert_array_equal(lg.diag(lg.tensor([1.0, 2.0])).numpy(), [[1, 0], [0, 2]])


def test_arange_of_a_0d_integer_tensor_is_int64_as_torch():
    r = lg.arange(lg.tensor(4))
    assert r.dtype == np.int64 and r.tolist() == [0, 1, 2, 3]
    assert lg.arange(lg.tensor(1.5)).tolist() == [0.0, 1.0]


@pytest.fixture
def two_standin_devices(monkeypatch):
    """Two CPU stand-ins of CUDA devices (see locograd.backend.standin)."""
    monkeypatch.setenv("LOCOGRAD_CUDA_STANDIN", "2")
    yield
    lg.set_default_device(None)


def test_bernoulli_normal_multinomial_of_device_tensors_stay_there(two_standin_devices):
    p_host = lg.tensor([0.2, 0.5, 0.9])
    p = p_host.to("cuda:1")
    for draw in (lambda q: lg.bernoulli(q), lambda q: lg.normal(q, 2.0),
                 lambda q: lg.normal(1.0, q), lambda q: lg.multinomial(q, 2)):
        lg.manual_seed(3)
        expected = draw(p_host)
        lg.manual_seed(3)
        got = draw(p)
        assert got.device == lg.device("cuda:1")
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got.cpu().numpy(), expected.numpy())
    assert lg.normal(0.0, 1.0, size=(2,)).device == lg.device("cpu")

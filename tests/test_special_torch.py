"""The math ops of issue 13 against PyTorch: inverse trigonometric and hyperbolic functions,
atan2, hypot, sinc, the special functions (erfc, erfinv, lgamma, digamma, polygamma), logit,
xlogy and the float manipulations (nan_to_num, copysign, frac, fmax/fmin, logaddexp2,
float_power). Values and float64 gradients, on edge cases: 0-d, empty, broadcasting, the ends of
the domains, zeros, infinities and NaN; integer inputs; dtypes; errors."""
from __future__ import annotations

import numpy as np
import pytest

import locograd as lg

torch = pytest.importorskip("torch")


def assert_matches_torch(ours_fn, theirs_fn, arrays, rtol=1e-9, atol=1e-11):
    """Values, shapes and dtypes agree (NaN where torch's are), and so do the gradients of the
    float inputs for a random output gradient (given to backward: the outputs hold infinities
    that a projected sum would turn into NaN)."""
    ours_in = [lg.tensor(np.array(a), requires_grad=np.asarray(a).dtype.kind == "f")
               for a in arrays]
    theirs_in = [torch.tensor(np.array(a), requires_grad=np.asarray(a).dtype.kind == "f")
                 for a in arrays]
    mine, theirs = ours_fn(*ours_in), theirs_fn(*theirs_in)
    reference = theirs.detach().numpy()
    assert mine.shape == reference.shape and mine.dtype == reference.dtype, \
        (mine.shape, mine.dtype, reference.shape, reference.dtype)
    np.testing.assert_allclose(mine.numpy(), reference, rtol=rtol, atol=atol)
    if not mine.requires_grad:
        return
    direction = np.random.default_rng(0).standard_normal(reference.shape)
    mine.backward(lg.tensor(direction))
    theirs.backward(torch.tensor(direction))
    for i, (a, b) in enumerate(zip(ours_in, theirs_in)):
        if a.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"gradient of input {i}")

NAN, INF = float("nan"), float("inf")
EDGES = np.array([-INF, -3.0, -1.0, -0.7, -0.0, 0.0, 0.25, 0.5, 1.0, 1.5, 4.0, INF, NAN])
UNIT = np.array([-1.0, -0.999, -0.5, -0.0, 0.0, 0.3, 0.9, 1.0, 1.2, -2.0, NAN])
# digamma's derivative has poles at 0, -1, -2...: torch's float arithmetic gives finite numbers
# there (e.g. -9.7e30 at -3), so its values are compared on EDGES, its gradients off the poles
OFF_POLES = np.array([-2.5, -0.7, 0.25, 0.5, 1.0, 1.5, 4.0, 30.0, INF, NAN])

UNARY = [
    ("asin", UNIT), ("acos", UNIT), ("atan", EDGES), ("asinh", EDGES), ("acosh", EDGES),
    ("atanh", UNIT), ("sinc", EDGES), ("deg2rad", EDGES), ("rad2deg", EDGES),
    ("arcsin", UNIT), ("arccos", UNIT), ("arctan", EDGES), ("arcsinh", EDGES),
    ("arccosh", EDGES), ("arctanh", UNIT), ("erfc", EDGES), ("erfinv", UNIT),
    ("lgamma", EDGES), ("digamma", OFF_POLES), ("frac", EDGES),
]


@pytest.mark.parametrize("name, values", UNARY, ids=[n for n, _ in UNARY])
def test_unary_values_and_gradients_match_torch(name, values):
    pytest.importorskip("scipy")
    # torch's trigamma (digamma's derivative) is off by ~1e-9 (8e-10 at 1, where it is
    # pi^2 / 6); SciPy's, which locograd uses, is exact there
    rtol = 1e-8 if name == "digamma" else 1e-10
    for array in (values, values.reshape(-1, 1)[:4].reshape(2, 2), np.array(0.5),
                  np.zeros((0, 3))):
        assert_matches_torch(getattr(lg, name), getattr(torch, name), [array], rtol=rtol)


def test_digamma_values_at_the_poles_match_torch():
    pytest.importorskip("scipy")
    np.testing.assert_allclose(lg.digamma(lg.tensor(EDGES)).numpy(),
                               torch.digamma(torch.tensor(EDGES)).numpy(), rtol=1e-13)


@pytest.mark.parametrize("name", ["asin", "atan", "acosh", "erfc", "lgamma", "digamma", "sinc",
                                  "deg2rad", "logit", "atanh", "erfinv"])
def test_integer_inputs_give_the_default_float_dtype(name):
    pytest.importorskip("scipy")
    ours = getattr(lg, name)(lg.tensor([0, 1, 2]))
    theirs = getattr(torch, name)(torch.tensor([0, 1, 2]))
    assert ours.dtype == np.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_polygamma_matches_torch(n):
    pytest.importorskip("scipy")
    values = np.array([0.3, 1.0, 2.5, 7.0, -0.5])
    assert_matches_torch(lambda t: lg.polygamma(n, t), lambda t: torch.polygamma(n, t),
                         [values], rtol=1e-8)  # torch's are off by ~1e-9 (see above)
    # digamma's second derivative is polygamma(2, x): through the recorded rule
    x = lg.tensor(values, requires_grad=True)
    (g,) = lg.grad(lg.digamma(x).sum(), x, create_graph=True)
    (gg,) = lg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), torch.polygamma(2, torch.tensor(values)).numpy(),
                               rtol=1e-8)


def test_polygamma_zero_is_digamma_and_negative_orders_are_refused():
    pytest.importorskip("scipy")
    x = lg.tensor([0.5, 2.0])
    np.testing.assert_allclose(lg.polygamma(0, x).numpy(), lg.digamma(x).numpy())
    with pytest.raises(ValueError, match="polygamma: n must be a non-negative int"):
        lg.polygamma(-1, x)


@pytest.mark.parametrize("eps", [None, 0.0, 0.1, -1.0])
def test_logit_matches_torch(eps):
    values = np.array([0.0, 0.05, 0.1, 0.3, 0.5, 0.9, 0.95, 1.0, 1.5, -0.2, NAN])
    assert_matches_torch(lambda t: lg.logit(t, eps), lambda t: torch.logit(t, eps), [values])


@pytest.mark.parametrize("kwargs", [{}, {"nan": 2.0}, {"posinf": 7.0, "neginf": -7.0},
                                    {"nan": -1.0, "posinf": 1e300}])
def test_nan_to_num_matches_torch(kwargs):
    values = np.array([NAN, INF, -INF, 1.5, -0.0, 3.0])
    assert_matches_torch(lambda t: lg.nan_to_num(t, **kwargs),
                         lambda t: torch.nan_to_num(t, **kwargs), [values])
    ours = lg.nan_to_num(lg.tensor(values, dtype=lg.float32), **kwargs)
    theirs = torch.nan_to_num(torch.tensor(values, dtype=torch.float32), **kwargs)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert lg.nan_to_num(lg.tensor([1, 2])).tolist() == [1, 2]


X = np.array([[0.0, -0.0, 1.5, -2.0], [NAN, 3.0, INF, -0.5], [0.25, -INF, 0.0, 2.0]])
Y = np.array([0.0, -1.0, NAN, 0.5])

BINARY = ["atan2", "arctan2", "hypot", "xlogy", "copysign", "fmax", "fmin", "logaddexp2",
          "float_power"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_values_and_gradients_match_torch_with_broadcasting(name):
    for x, y in ((X, Y), (Y, X), (np.array(0.7), Y), (X[:, :1], np.array(-0.0)),
                 (np.zeros((0, 4)), Y)):
        if name == "float_power":  # powers of 0 and negative bases: see the test below
            x = np.abs(x) + 0.5
        assert_matches_torch(getattr(lg, name), getattr(torch, name), [x, y])


def test_float_power_at_zero_and_negative_bases_matches_torch():
    base, exponent = np.array([0.0, -1.0, 2.0, 0.0, -2.0]), np.array([0.5, 0.5, 0.5, 0.0, 2.0])
    with np.errstate(divide="ignore", invalid="ignore"):  # Pow's rule: 0 ** -0.5, (-1) ** -0.5
        assert_matches_torch(lg.float_power, torch.float_power, [base, exponent])


@pytest.mark.parametrize("name", ["atan2", "xlogy", "copysign", "float_power", "fmax"])
def test_binary_ops_take_a_number(name):
    # torch's atan2 and fmax take only tensors: compared with a 0-d tensor there
    x = np.array([0.0, -1.5, 2.0, NAN])
    if name == "float_power":
        x = np.abs(x)  # negative bases: see test_float_power_at_zero_and_negative_bases
    number = (lambda t: torch.tensor(2.5, dtype=t.dtype)) if name in ("atan2", "fmax") else \
        (lambda t: 2.5)
    assert_matches_torch(lambda t: getattr(lg, name)(t, 2.5),
                         lambda t: getattr(torch, name)(t, number(t)), [x])
    if name in ("xlogy", "float_power"):  # torch takes a number first only for these two
        assert_matches_torch(lambda t: getattr(lg, name)(2.5, t),
                             lambda t: getattr(torch, name)(2.5, t), [np.abs(x)])


def test_xlogy_gradient_of_x_at_zero_is_log_y_as_torch():
    x, y = np.array([0.0, 0.0, 0.0, 1.0]), np.array([2.0, 0.0, -1.0, 0.0])
    assert_matches_torch(lg.xlogy, torch.xlogy, [x, y])


@pytest.mark.parametrize("name", ["atan2", "hypot", "xlogy", "copysign", "fmax", "fmin",
                                  "logaddexp2", "float_power"])
def test_binary_dtypes_match_torch(name):
    pairs = [(np.array([1, 2, 3]), np.array([2, 0, 1])),
             (np.array([1.0, 2.0], np.float32), np.array([3, 1])),
             (np.array([1.0, 2.0], np.float32), np.array([0.5, 2.0]))]
    if name in ("hypot", "logaddexp2"):
        # torch has no integer kernel for these two; locograd computes them in float32
        assert getattr(lg, name)(lg.tensor([3, 0]), lg.tensor([4, 0])).dtype == np.float32
        pairs = pairs[1:]
    for a, b in pairs:
        ours = getattr(lg, name)(lg.tensor(a), lg.tensor(b))
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (name, a.dtype,
                                                                              b.dtype)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_float_power_is_float64_and_its_gradients_keep_the_inputs_dtype():
    a = lg.tensor([1.5, 2.0], dtype=lg.float32, requires_grad=True)
    out = lg.float_power(a, 3)
    assert out.dtype == np.float64
    (g,) = lg.grad(out.sum(), a)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g.numpy(), 3 * a.detach().numpy() ** 2, rtol=1e-6)


def test_frac_refuses_integers_as_torch():
    with pytest.raises(TypeError, match="frac: expects a floating-point tensor"):
        lg.frac(lg.tensor([1, 2]))


def test_sinc_derivatives_at_zero():
    """The gradient at 0 is 0 as torch's; the second derivative there is -pi^2 / 3, where
    torch gives NaN (a deliberate difference: the limit, which gradgradcheck confirms)."""
    x, t = lg.tensor([0.0, 0.5], requires_grad=True), torch.tensor([0.0, 0.5],
                                                                   requires_grad=True)
    (g,) = lg.grad(lg.sinc(x).sum(), x, create_graph=True)
    (gg,) = lg.grad(g.sum(), x)
    (tg,) = torch.autograd.grad(torch.sinc(t).sum(), t, create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), t)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(gg.numpy()[1], tgg.numpy()[1], rtol=1e-5)
    assert np.isnan(tgg.numpy()[0]) and gg.numpy()[0] == pytest.approx(-np.pi ** 2 / 3)


def test_special_namespace_per_backend_and_a_clear_error_without_scipy(monkeypatch):
    pytest.importorskip("scipy")
    import builtins

    import scipy.special

    from locograd.backend import standin
    from locograd.ops import special, tensor_namespace
    assert lg.special_namespace(np.ones(2)) is scipy.special
    device = lg.special_namespace(standin.NAMESPACE.ones(2))
    assert isinstance(device, standin.StandInNamespace)
    assert type(device.gammaln(standin.NAMESPACE.ones(2))) is standin.StandInArray
    assert lg.special_namespace(lg.ones(2)).psi is lg.digamma
    assert special._special_of(tensor_namespace, "x").polygamma is lg.polygamma

    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("no scipy here")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(ImportError, match=r"lgamma: needs SciPy .*locograd\[data\]"):
        special._special_of(np, "lgamma")


def test_fmax_and_fmin_name_themselves_in_the_graph():
    a = lg.tensor([1.0, float("nan")], requires_grad=True)
    b = lg.tensor([0.5, 2.0])
    assert repr(lg.fmax(a, b).grad_fn) == "<FmaxBackward>"
    low = lg.fmin(a, b)
    assert repr(low.grad_fn) == "<FminBackward>"
    low.backward(lg.tensor([3.0, 4.0]))
    assert a.grad.tolist() == [0.0, 0.0]  # fmin takes b at both: 0.5 < 1 and NaN loses

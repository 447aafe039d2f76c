"""Convolution and pooling layers: shapes, init, gradients, errors and a PyTorch oracle."""
import math

import numpy as np
import pytest

import locograd as lg
from locograd.autograd.gradcheck import gradcheck

nn, F = lg.nn, lg.nn.functional


def _tensor(*shape, seed=0, requires_grad=True):
    return lg.tensor(np.random.default_rng(seed).standard_normal(shape),
                     requires_grad=requires_grad)


def _distinct(*shape, seed=0):
    """Values far from ties, so that finite differences never move a pooling maximum."""
    n = math.prod(shape)
    values = np.random.default_rng(seed).permutation(n) * 0.1
    return lg.tensor(values.reshape(shape), requires_grad=True)


# ------------------------------------------------------------------------------ layers

def test_conv2d_parameters_and_default_init_follow_pytorch():
    conv = nn.Conv2d(16, 32, (3, 5), stride=2, padding=1, groups=2)
    assert conv.weight.shape == (32, 8, 3, 5) and conv.bias.shape == (32,)
    assert conv.weight.dtype == np.float32
    bound = 1 / math.sqrt(8 * 15)  # kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), ...)
    assert np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.95 * bound
    assert np.abs(conv.bias.data).max() <= bound
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None
    assert nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape == (4, 3, 3, 3)
    assert nn.Conv1d(4, 6, 3).weight.shape == (6, 4, 3)
    assert repr(conv) == ("Conv2d(16, 32, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), "
                          "groups=2)")


def test_output_shapes():
    x = lg.zeros(2, 3, 11, 9)
    assert nn.Conv2d(3, 4, 3, stride=2, padding=1)(x).shape == (2, 4, 6, 5)
    assert nn.Conv2d(3, 4, 3, dilation=2)(x).shape == (2, 4, 7, 5)
    assert nn.Conv2d(3, 4, 4, padding="same")(x).shape == (2, 4, 11, 9)
    assert nn.Conv2d(3, 4, 3, padding="valid")(x[0]).shape == (4, 9, 7)  # unbatched
    assert nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1)(x).shape == \
        (2, 2, 22, 18)
    assert nn.Conv1d(3, 5, 3, stride=2)(lg.zeros(2, 3, 10)).shape == (2, 5, 4)
    assert nn.MaxPool2d(3, stride=2, ceil_mode=True)(x).shape == (2, 3, 5, 4)
    assert nn.AvgPool2d(2, padding=1)(x).shape == (2, 3, 6, 5)
    assert nn.AdaptiveAvgPool2d((4, None))(x).shape == (2, 3, 4, 9)
    assert nn.MaxPool1d(2)(lg.zeros(2, 3, 9)).shape == (2, 3, 4)


def test_float32_stays_float32():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = lg.randn(2, 2, 5, 5, requires_grad=True)
    out = nn.MaxPool2d(2)(conv(x)) + nn.AvgPool2d(2)(conv(x))
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32 and conv.weight.grad.dtype == np.float32


@pytest.mark.parametrize("layer,shape", [
    (lambda: nn.Conv2d(2, 4, 3, stride=2, padding=1), (2, 2, 5, 6)),
    (lambda: nn.Conv2d(4, 2, (2, 3), stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=2),
     (1, 4, 5, 5)),
    (lambda: nn.Conv1d(2, 3, 3, padding="same", dilation=2), (2, 2, 7)),
    (lambda: nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
     (1, 2, 3, 3)),
], ids=["conv2d_stride_padding", "conv2d_dilation_groups", "conv1d_same", "conv_transpose2d"])
def test_conv_layers_gradcheck(layer, shape):
    lg.manual_seed(0)
    module = layer().double()
    x = _tensor(*shape)
    assert gradcheck(lambda x, *p: module(x), (x,) + tuple(module.parameters()))


@pytest.mark.parametrize("layer,shape", [
    (lambda: nn.MaxPool2d(2), (2, 2, 4, 4)),
    (lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 6, 7)),
    (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (1, 2, 5, 6)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 1, 5, 7)),
], ids=["max", "max_overlap_ceil", "avg_exclude_pad", "adaptive"])
def test_pooling_layers_gradcheck(layer, shape):
    assert gradcheck(layer(), (_distinct(*shape),))


def test_max_pool_gradient_goes_to_the_first_maximum_on_ties():
    x = lg.ones(1, 1, 2, 4, requires_grad=True)
    out, index = F.max_pool2d(x, 2, return_indices=True)
    out.sum().backward()
    assert x.grad.tolist() == [[[[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]]
    assert index.tolist() == [[[[0, 2]]]] and index.dtype == np.int64


def test_bad_arguments_raise_clear_errors():
    x = lg.zeros(1, 3, 5, 5)
    with pytest.raises(ValueError, match=r"conv2d: the input \(shape \(1, 3, 5, 5\)\) has 3 "
                                         r"channels but the weight"):
        F.conv2d(x, lg.zeros(2, 2, 3, 3))
    with pytest.raises(TypeError, match=r"conv2d: the input \(dtype float32\) and the weight "
                                        r"\(dtype float64\)"):
        F.conv2d(x, lg.zeros(2, 3, 3, 3, dtype=lg.float64))
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        F.conv2d(x, lg.zeros(2, 3, 3, 3), dilation=3)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(x, lg.zeros(2, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="max_pool2d: padding"):
        F.max_pool2d(x, 2, padding=2)
    # a bias of another dtype is refused, never silently upcasting the output
    for conv, weight in ((F.conv2d, lg.zeros(2, 3, 3, 3)),
                         (F.conv_transpose2d, lg.zeros(3, 2, 3, 3))):
        name = conv.__name__
        with pytest.raises(TypeError, match=rf"{name}: the bias \(dtype float64\) must have the "
                                            r"weight's dtype float32"):
            conv(x, weight, lg.zeros(2, dtype=lg.float64))
        with pytest.raises(ValueError, match=rf"{name}: the bias must have shape \(2,\), got "
                                             r"\(3,\)"):
            conv(x, weight, lg.zeros(3))


# ------------------------------------------------------------------------------ oracle

def _compare(ours_fn, theirs_fn, inputs, torch, atol=1e-10):
    """Forward and the gradients of <output, v> for every input, against PyTorch (float64)."""
    ours = [lg.tensor(a, requires_grad=True) for a in inputs]
    theirs = [torch.tensor(a, requires_grad=True) for a in inputs]
    out, tout = ours_fn(*ours), theirs_fn(*theirs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=atol)
    v = np.random.default_rng(9).standard_normal(out.shape)
    (out * lg.tensor(v)).sum().backward()
    (tout * torch.tensor(v)).sum().backward()
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), atol=atol, err_msg=f"input {k}")


@pytest.mark.parametrize("kwargs,x_shape,w_shape", [
    (dict(), (2, 3, 7, 6), (4, 3, 3, 3)),
    (dict(stride=2, padding=1), (2, 3, 7, 6), (4, 3, 3, 3)),
    (dict(stride=(2, 3), padding=(0, 2), dilation=(2, 1)), (2, 3, 9, 8), (4, 3, 2, 3)),
    (dict(groups=3, padding=1), (2, 6, 5, 5), (9, 2, 3, 3)),
    (dict(padding="same", dilation=2), (1, 2, 6, 7), (3, 2, 4, 3)),
    (dict(groups=4), (2, 4, 5, 5), (4, 1, 3, 3)),  # depthwise
])
def test_conv2d_matches_pytorch(kwargs, x_shape, w_shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    inputs = (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0]))
    _compare(lambda x, w, b: F.conv2d(x, w, b, **kwargs),
             lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kwargs), inputs, torch)


def test_conv_transpose2d_and_conv1d_match_pytorch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(2)
    kwargs = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2,
                  dilation=(1, 2))
    _compare(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
             lambda x, w, b: tf.conv_transpose2d(x, w, b, **kwargs),
             (rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((4, 3, 3, 2)),
              rng.standard_normal(6)), torch)
    kwargs = dict(output_padding=1, dilation=2)  # output_padding >= stride: allowed by dilation
    _compare(lambda x, w: F.conv_transpose2d(x, w, **kwargs),
             lambda x, w: tf.conv_transpose2d(x, w, **kwargs),
             (rng.standard_normal((2, 3, 4, 3)), rng.standard_normal((3, 2, 3, 2))), torch)
    _compare(lambda x, w: F.conv1d(x, w, stride=2, padding=2, dilation=2),
             lambda x, w: tf.conv1d(x, w, stride=2, padding=2, dilation=2),
             (rng.standard_normal((2, 3, 11)), rng.standard_normal((4, 3, 3))), torch)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), ceil_mode=True),
    dict(kernel_size=2, stride=1, dilation=2, padding=1),
    dict(kernel_size=3, stride=3, ceil_mode=True, padding=1),
])
def test_max_pool2d_matches_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((2, 3, 8, 7)).round(1)  # ties included
    _compare(lambda x: F.max_pool2d(x, **kwargs),
             lambda x: torch.nn.functional.max_pool2d(x, **kwargs), (x,), torch)
    _, index = F.max_pool2d(lg.tensor(x), return_indices=True, **kwargs)
    _, tindex = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
    np.testing.assert_array_equal(index.data, tindex.numpy())


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(3, 2), ceil_mode=True),
    dict(kernel_size=3, padding=1, divisor_override=5),
])
def test_avg_pool2d_matches_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).standard_normal((2, 3, 8, 7))
    _compare(lambda x: F.avg_pool2d(x, **kwargs),
             lambda x: torch.nn.functional.avg_pool2d(x, **kwargs), (x,), torch)


@pytest.mark.parametrize("size", [1, (2, 7), (3, 5), (5, 2)])
def test_adaptive_avg_pool2d_matches_pytorch(size):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((2, 3, 8, 7))
    _compare(lambda x: F.adaptive_avg_pool2d(x, size),
             lambda x: torch.nn.functional.adaptive_avg_pool2d(x, size), (x,), torch)


# ------------------------------------------------------------------------------ empty batches

@pytest.mark.parametrize("name,ours,theirs,shapes", [
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
     lambda tf, x, w, b: tf.conv2d(x, w, b, stride=2, padding=1, groups=2),
     ((0, 4, 5, 6), (6, 2, 3, 3), (6,))),
    ("conv1d", lambda x, w: F.conv1d(x, w, padding=1), lambda tf, x, w: tf.conv1d(x, w, padding=1),
     ((0, 3, 7), (2, 3, 3))),
    ("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, groups=2),
     lambda tf, x, w, b: tf.conv_transpose2d(x, w, b, stride=2, groups=2),
     ((0, 4, 3, 3), (4, 1, 3, 3), (2,))),
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, stride=2, padding=1),
     lambda tf, x: tf.max_pool2d(x, 3, stride=2, padding=1), ((0, 2, 5, 6),)),
    ("max_pool1d", lambda x: F.max_pool1d(x, 2), lambda tf, x: tf.max_pool1d(x, 2), ((0, 2, 5),)),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2, padding=1, ceil_mode=True),
     lambda tf, x: tf.avg_pool2d(x, 2, padding=1, ceil_mode=True), ((0, 2, 5, 6),)),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
     lambda tf, x: tf.adaptive_avg_pool2d(x, (3, 2)), ((0, 2, 5, 4),)),
])
def test_an_empty_batch_gives_an_empty_output_as_pytorch(name, ours, theirs, shapes):
    """Issue 17: a batch of 0 failed inside NumPy's reshape; PyTorch returns an empty output of
    the right shape, and zero gradients for the weight and bias."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    inputs = [rng.standard_normal(s) for s in shapes]
    out = ours(*[lg.tensor(a) for a in inputs])
    expected = theirs(torch.nn.functional, *[torch.tensor(a) for a in inputs])
    assert out.shape == tuple(expected.shape) and out.dtype == np.float64
    _compare(ours, lambda *t: theirs(torch.nn.functional, *t), inputs, torch)
    # The recorded backward (create_graph=True) takes the same shapes.
    leaves = [lg.tensor(a, requires_grad=True) for a in inputs]
    grads = lg.grad(ours(*leaves).sum(), leaves, create_graph=True)
    assert [g.shape for g in grads] == [t.shape for t in leaves]


# ------------------------------------------------------------------------------ im2col (K-FAC)

@pytest.mark.parametrize("kwargs,x_shape,w_shape", [
    (dict(stride=2, padding=1), (2, 3, 7, 6), (4, 3, 3, 3)),
    (dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1), groups=2), (1, 4, 6, 7), (2, 2, 2, 3)),
])
def test_im2col_is_the_windows_and_col2im_its_adjoint(kwargs, x_shape, w_shape):
    from locograd.ops.conv import col2im, conv_params, grad_matrix, im2col, weight_matrix
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    p = conv_params("test", x_shape, w_shape, kwargs.get("stride", 1), kwargs.get("padding", 0),
                    kwargs.get("dilation", 1), kwargs.get("groups", 1))
    cols = im2col(x, w_shape[2:], p)
    # One GEMM per group of the columns with the weight matrix is the convolution.
    wm = weight_matrix(w, p.groups)
    out = np.einsum("lgk,gok->lgo", cols, wm).reshape(cols.shape[0], -1)
    expected = F.conv2d(lg.tensor(x), lg.tensor(w), **kwargs).data
    np.testing.assert_allclose(out, grad_matrix(expected), atol=1e-12)
    c = rng.standard_normal(cols.shape)
    np.testing.assert_allclose((cols * c).sum(), (x * col2im(c, x_shape, w_shape[2:], p)).sum(),
                               rtol=1e-12)

"""Devices: the API with PyTorch's names, and every op on the device path.

CI has no GPU, so "cuda" here is the CPU stand-in (``LOCOGRAD_CUDA_STANDIN``, see
``locograd.backend.standin``): its arrays refuse implicit conversion to NumPy and refuse to mix
with host arrays, as CuPy's do, so any op that still computes with NumPy on device data, or mixes
host and device arrays, fails here. On a machine with CuPy and a GPU, ``benchmarks/gpu_check.sh``
runs this file on the real device (``LOCOGRAD_TEST_REAL_CUDA=1``).
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import REAL_CUDA, host  # the cuda fixture lives in conftest.py
from opspecs import all_specs

import locograd as lg
from locograd.autograd import gradcheck
from locograd.backend import devices

# ------------------------------------------------------------------------------ the device API

def test_device_objects_parse_compare_and_print_as_pytorch():
    assert lg.device("cuda:1") == lg.device("cuda", 1) == "cuda:1"
    assert lg.device("cpu") == "cpu" and lg.device("cpu") != "cuda"
    assert lg.device("cuda").index is None and lg.device(0) == "cuda:0"
    assert repr(lg.device("cuda:2")) == "device(type='cuda', index=2)"
    assert str(lg.device("cuda:2")) == "cuda:2" and repr(lg.device("cpu")) == "device(type='cpu')"
    assert len({lg.device("cpu"), lg.device("cpu"), lg.device("cuda:0")}) == 2
    with pytest.raises(RuntimeError, match="unknown device type 'tpu'"):
        lg.device("tpu")
    with pytest.raises(ValueError, match="invalid device string 'cuda:x'"):
        lg.device("cuda:x")
    with pytest.raises(ValueError, match="only index 0"):
        lg.device("cpu:1")


def test_without_a_gpu_cuda_gives_one_clear_error(monkeypatch):
    monkeypatch.delenv("LOCOGRAD_CUDA_STANDIN", raising=False)
    if lg.cuda.is_available():
        pytest.skip("a CUDA device is usable here")
    assert lg.cuda.device_count() == 0 and not lg.accelerator.is_available()
    assert lg.accelerator.current_accelerator() is None
    with pytest.raises(RuntimeError, match=r"a CUDA device was asked for, but CuPy is not "
                                           r"installed.*locograd\[cuda\]"):
        lg.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="a CUDA device was asked for"):
        lg.zeros(2, device="cuda")
    assert lg.ones(2).device == lg.device("cpu") and lg.ones(2).device == "cpu"


def test_tensors_move_and_gradients_come_back(cuda):
    assert lg.cuda.is_available() and lg.accelerator.current_accelerator() == "cuda"
    x = lg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x.to("cuda")
    assert y.device == lg.device("cuda:0") and y.is_cuda and not x.is_cuda
    assert "device='cuda:0'" in repr(y)
    z = (y.exp() * y).sum()
    assert z.device == "cuda:0"
    z.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), np.exp(host(x)) * (1 + host(x)), rtol=1e-6)
    assert y.cuda() is y and x.cpu() is x and y.cpu().device == "cpu"
    assert z.item() == pytest.approx(float((np.exp(host(x)) * host(x)).sum()), rel=1e-6)
    assert y.tolist() == pytest.approx([0.5, -1.0, 2.0])


def test_to_takes_device_dtype_and_other_tensors_in_any_form(cuda):
    x = lg.ones(2)
    assert x.to("cpu", lg.float64).dtype == np.float64  # issue 13: the dtype was dropped
    y = x.to("cuda", lg.float64)
    assert (y.device, y.dtype) == (lg.device("cuda:0"), np.float64)
    z = lg.zeros(3, dtype=lg.float16).to(y)
    assert (z.device, z.dtype) == (lg.device("cuda:0"), np.float64)
    w = x.to(device=lg.device("cuda", 1), dtype=lg.float64)
    assert w.device == "cuda:1"
    assert x.to("cpu") is x and x.to("cpu", copy=True) is not x
    with pytest.raises(TypeError, match="two devices"):
        x.to("cuda", "cpu")


def test_device_tensors_refuse_numpy_as_pytorch_does(cuda):
    y = lg.ones(2, device="cuda")
    with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy.*"
                                        r"Tensor.cpu\(\)"):
        y.numpy()
    with pytest.raises(TypeError):
        np.asarray(y)
    np.testing.assert_array_equal(y.numpy(force=True), [1.0, 1.0])
    np.testing.assert_array_equal(y.cpu().numpy(), [1.0, 1.0])


def test_mixing_devices_names_the_op_and_both_devices(cuda):
    a, b = lg.ones(3), lg.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match=r"Add: expected all tensors to be on the same device, "
                                           r"but found at least two devices, cpu and cuda:0"):
        a + b
    with pytest.raises(RuntimeError, match=r"MatMul: .*cuda:0 and cpu"):
        lg.ones(2, 2, device="cuda") @ lg.ones(2, 2)
    if not REAL_CUDA:
        with pytest.raises(RuntimeError, match=r"cuda:0 and cuda:1"):
            b * lg.ones(3, device="cuda:1")


def test_factories_and_likes_take_device_and_keep_it(cuda):
    for t in (lg.zeros(2, device="cuda"), lg.ones(2, 3, device="cuda:0"),
              lg.full((2,), 3.0, device="cuda"), lg.arange(4, device="cuda"),
              lg.linspace(0, 1, 5, device="cuda"), lg.eye(3, device="cuda"),
              lg.randn(2, device="cuda"), lg.rand(2, device="cuda"),
              lg.randint(0, 5, (3,), device="cuda"), lg.randperm(4, device="cuda"),
              lg.tensor([1.0, 2.0], device="cuda"), lg.empty(2, device="cuda")):
        assert t.device == "cuda:0", t
    y = lg.ones(2, 2, device="cuda", dtype=lg.float64)
    for t in (lg.zeros_like(y), lg.ones_like(y), lg.full_like(y, 2.0), lg.randn_like(y),
              lg.rand_like(y), lg.empty_like(y)):
        assert (t.device, t.dtype, t.shape) == (lg.device("cuda:0"), np.float64, (2, 2))
    assert lg.zeros_like(y, device="cpu").device == "cpu"
    lg.manual_seed(3)
    a = lg.randn(5, device="cuda")
    lg.manual_seed(3)
    b = lg.randn(5)
    np.testing.assert_array_equal(host(a), b.numpy())  # one seed: the same draws everywhere


def test_default_device_places_factories_and_new_modules(cuda):
    lg.set_default_device("cuda")
    assert lg.get_default_device() == "cuda:0"
    assert lg.zeros(2).device == "cuda:0" and lg.tensor([1.0]).device == "cuda:0"
    assert lg.from_numpy(np.ones(2)).device == "cpu"  # shares host memory: stays on the host
    assert lg.nn.Linear(2, 3).weight.device == "cuda:0"
    lg.set_default_device("cpu")
    assert lg.zeros(2).device == "cpu"


def test_module_to_moves_parameters_in_place_and_training_works(cuda):
    lg.manual_seed(0)
    model = lg.nn.Sequential(lg.nn.Linear(3, 4), lg.nn.Tanh(), lg.nn.Linear(4, 1))
    reference = {k: v.detach().clone() for k, v in model.state_dict().items()}
    params = list(model.parameters())
    opt = lg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = lg.randn(8, 3), lg.randn(8, 1)
    model(x).sum().backward()
    model.to("cuda")
    assert [p is q for p, q in zip(model.parameters(), params)] == [True] * 4
    assert all(p.device == "cuda:0" and p.grad.device == "cuda:0" for p in params)
    opt.zero_grad()
    loss = lg.nn.functional.mse_loss(model(x.cuda()), y.cuda())
    loss.backward()
    opt.step()
    cpu_model = lg.nn.Sequential(lg.nn.Linear(3, 4), lg.nn.Tanh(), lg.nn.Linear(4, 1))
    cpu_model.load_state_dict(reference)
    cpu_opt = lg.optim.SGD(cpu_model.parameters(), lr=0.1, momentum=0.9)
    lg.nn.functional.mse_loss(cpu_model(x), y).backward()
    cpu_opt.step()
    for (name, p), q in zip(model.named_parameters(), cpu_model.parameters()):
        np.testing.assert_allclose(host(p), q.detach().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    assert model.cpu() is model and all(p.device == "cpu" for p in model.parameters())


def test_gradcheck_runs_in_float64_on_the_device(cuda):
    x = lg.tensor([0.3, -0.7, 1.1], dtype=lg.float64, device="cuda", requires_grad=True)
    assert gradcheck(lambda t: (t.sin() * t).sum() + t.tanh().prod(), (x,))
    assert lg.autograd.gradgradcheck(lambda t: (t.exp() * t).sum(), (x,))


# ------------------------------------------------------------------------------ the op table

SPECS = all_specs()


def _leaves(arrays, dtype=np.float64, device=None):
    out = []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            out.append(lg.tensor(a.astype(dtype), requires_grad=True, device=device))
        else:
            out.append(lg.tensor(a, device=device))
    return tuple(out)


def _outs(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


# Specs whose fn combines the tensor with a host NumPy constant: on a device that is refused,
# as CuPy refuses it, with the device error (checked below) instead of a silent host copy.
HOST_CONSTANTS = {"rmatmul_constant"}


@pytest.mark.parametrize("name", sorted(HOST_CONSTANTS))
def test_a_host_constant_in_a_device_op_is_refused(name, cuda):
    (spec,) = [s for s in SPECS if s.name == name]
    arrays = spec.inputs(np.random.default_rng(0))
    with pytest.raises(TypeError, match="device array .* cannot be combined with a host"):
        spec.fn(*_leaves(arrays, device="cuda:0"))


@pytest.mark.parametrize("spec", [s for s in SPECS if s.name not in HOST_CONSTANTS],
                         ids=[s.name for s in SPECS if s.name not in HOST_CONSTANTS])
def test_op_runs_on_the_device_as_on_the_host(spec, cuda):
    """Every op spec: forward values and dtypes, first-order gradients on the fast path and on
    the recorded path, computed on the device, equal the host's."""
    rng = np.random.default_rng(0)
    arrays = tuple(np.asarray(a) for a in spec.inputs(rng))
    directions_rng = np.random.default_rng(1)
    results = {}
    for where in ("cpu", "cuda:0"):
        lg.set_default_device(where)  # tensors a spec builds inside fn land there too
        leaves = _leaves(arrays, device=where)
        outs = _outs(spec.fn(*leaves))
        for o in outs:
            assert o.device == where, f"{spec.name}: an output is on {o.device}, not {where}"
        live = [o for o in outs if o.requires_grad and o.dtype.kind == "f"]
        if where == "cpu":
            vs = [directions_rng.standard_normal(o.shape) for o in live]
        diff = [t for t in leaves if t.requires_grad]
        grads = lg.grad(live, diff, [lg.tensor(v, dtype=o.dtype) for v, o in zip(vs, live)],
                        retain_graph=True, allow_unused=True) if live else ()
        recorded = lg.grad(live, diff, [lg.tensor(v, dtype=o.dtype) for v, o in zip(vs, live)],
                           create_graph=True, allow_unused=True) if live else ()
        results[where] = (outs, grads, recorded)
    lg.set_default_device(None)
    (outs_c, grads_c, rec_c), (outs_d, grads_d, rec_d) = results["cpu"], results["cuda:0"]
    for k, (c, d) in enumerate(zip(outs_c, outs_d)):
        assert c.dtype == d.dtype, f"{spec.name}: output {k} is {d.dtype} on the device"
        np.testing.assert_allclose(host(d), host(c), rtol=1e-9, atol=1e-12,
                                   err_msg=f"{spec.name}: output {k}")
    for name, gc, gd in (("fast", grads_c, grads_d), ("recorded", rec_c, rec_d)):
        for i, (c, d) in enumerate(zip(gc, gd)):
            assert (c is None) == (d is None), f"{spec.name}: gradient {i} ({name})"
            if c is not None:
                assert d.device == "cuda:0", f"{spec.name}: gradient {i} ({name}) on {d.device}"
                np.testing.assert_allclose(host(d), host(c), rtol=1e-9, atol=1e-12,
                                           err_msg=f"{spec.name}: gradient {i} ({name})")


def test_the_cupy_namespace_adds_what_rules_use_and_delegates_the_rest():
    """CuPy has no ``errstate`` (a GPU raises no floating-point warnings): the namespace of CuPy
    arrays supplies a no-op one and is the ``cupy`` module for everything else. Checked with
    NumPy standing in for the module, since CI has no CuPy."""
    ns = devices.CupyNamespace(np)
    with ns.errstate(divide="ignore", invalid="ignore"):
        pass
    assert ns.exp is np.exp and ns.linalg is np.linalg
    with pytest.raises(AttributeError):
        ns.no_such_function

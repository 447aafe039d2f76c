"""``locograd.autograd.functional`` (vjp, jvp, jacobian, hessian, hvp) against closed forms,
and a Hessian-vector product through a small MLP against the dense Hessian and finite
differences."""
import numpy as np
import pytest

import locograd as lg
from locograd.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
S = RNG.standard_normal((4, 4))


def t(values):
    return lg.tensor(np.asarray(values, dtype=np.float64))


def linear_map(x):
    return t(A) @ x


def elementwise(x):
    return x.sin() * x


def quadratic(x):
    return x @ (t(S) @ x)


def test_vjp_is_v_transpose_j():
    x, v = t(RNG.standard_normal(4)), t(RNG.standard_normal(3))
    out, g = vjp(linear_map, x, v)
    np.testing.assert_allclose(out.numpy(), A @ x.numpy())
    np.testing.assert_allclose(g.numpy(), A.T @ v.numpy())
    assert not out.requires_grad and not g.requires_grad and x.grad is None


def test_vjp_of_a_scalar_function_defaults_v_to_one():
    x = t([1.0, 2.0])
    _, g = vjp(lambda a: (a ** 3).sum(), x)
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    with pytest.raises(RuntimeError, match="v can be omitted only"):
        vjp(lambda a: a * 2.0, x)


def test_jvp_is_j_v():
    x, v = t(RNG.standard_normal(4)), t(RNG.standard_normal(4))
    out, jv = jvp(linear_map, x, v)
    np.testing.assert_allclose(jv.numpy(), A @ v.numpy(), rtol=1e-12)
    _, jv = jvp(elementwise, x, v)
    xv = x.numpy()
    np.testing.assert_allclose(jv.numpy(), (np.cos(xv) * xv + np.sin(xv)) * v.numpy(),
                               rtol=1e-12)


def test_jacobian_of_linear_and_elementwise_maps():
    x = t(RNG.standard_normal(4))
    np.testing.assert_allclose(jacobian(linear_map, x).numpy(), A, rtol=1e-12)
    xv = x.numpy()
    np.testing.assert_allclose(jacobian(elementwise, x).numpy(),
                               np.diag(np.cos(xv) * xv + np.sin(xv)), rtol=1e-12)


def test_jacobian_with_several_inputs_and_outputs_mirrors_the_structure():
    a, b = t([1.0, 2.0]), t([3.0, 4.0, 5.0])
    jac = jacobian(lambda p, q: (p.sum() * q, p * 2.0), (a, b))
    (j_qa, j_qb), (j_pa, j_pb) = jac
    assert j_qa.shape == (3, 2) and j_qb.shape == (3, 3) and j_pb.shape == (2, 3)
    np.testing.assert_allclose(j_qa.numpy(), np.repeat(b.numpy()[:, None], 2, 1))
    np.testing.assert_allclose(j_qb.numpy(), 3.0 * np.eye(3))
    np.testing.assert_allclose(j_pa.numpy(), 2.0 * np.eye(2))
    np.testing.assert_allclose(j_pb.numpy(), np.zeros((2, 3)))


def test_jacobian_strict_mode_reports_an_independent_output():
    x = t([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"does not depend on the inputs \(strict=True\)"):
        jacobian(lambda a: a.detach() * 2.0, x, strict=True)
    np.testing.assert_array_equal(jacobian(lambda a: a.detach() * 2.0, x).numpy(),
                                  np.zeros((2, 2)))


def test_hessian_of_a_quadratic_form_is_s_plus_s_transpose():
    x = t(RNG.standard_normal(4))
    np.testing.assert_allclose(hessian(quadratic, x).numpy(), S + S.T, rtol=1e-12)


def test_hessian_of_log_sum_exp_closed_form():
    x = t([0.3, -1.2, 2.0])
    p = np.exp(x.numpy()) / np.exp(x.numpy()).sum()
    np.testing.assert_allclose(hessian(lambda a: a.logsumexp(0), x).numpy(),
                               np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-14)


def test_hvp_and_vhp_equal_hessian_times_v():
    x, v = t(RNG.standard_normal(4)), t(RNG.standard_normal(4))
    value, hv = hvp(quadratic, x, v)
    assert value.item() == pytest.approx(x.numpy() @ S @ x.numpy())
    np.testing.assert_allclose(hv.numpy(), (S + S.T) @ v.numpy(), rtol=1e-12)
    np.testing.assert_allclose(vhp(quadratic, x, v)[1].numpy(), hv.numpy())


def test_functional_leaves_the_callers_tensors_alone():
    x = lg.tensor([1.0, 2.0], dtype=lg.float64, requires_grad=True)
    hessian(lambda a: (a ** 3).sum(), x)
    assert x.grad is None


def test_create_graph_keeps_results_differentiable():
    x = lg.tensor([0.5, 1.5], dtype=lg.float64, requires_grad=True)
    _, g = vjp(lambda a: (a ** 3).sum(), x, create_graph=True)
    assert g.requires_grad
    (gg,) = lg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy())


# ------------------------------------------------------------------------------ MLP Hessian

def _mlp_params():
    rng = np.random.default_rng(1)
    return [rng.standard_normal((3, 2)) * 0.8, rng.standard_normal(3) * 0.5,
            rng.standard_normal((1, 3)) * 0.8, rng.standard_normal(1) * 0.5]


def _mlp_loss(flat):
    """A 2-3-1 tanh MLP on fixed data; ``flat`` holds all 13 parameters."""
    x = lg.tensor([[0.5, -1.0], [1.5, 0.3], [-0.7, 0.8], [0.1, 0.1]], dtype=lg.float64)
    y = lg.tensor([[1.0], [-0.5], [0.3], [0.0]], dtype=lg.float64)
    w1, b1 = flat[:6].reshape(3, 2), flat[6:9]
    w2, b2 = flat[9:12].reshape(1, 3), flat[12:]
    h = lg.linear(x, w1, b1).tanh()
    out = lg.linear(h, w2, b2)
    return ((out - y) ** 2).mean()


def test_hessian_vector_product_through_an_mlp():
    flat = t(np.concatenate([p.reshape(-1) for p in _mlp_params()]))
    v = t(np.random.default_rng(2).standard_normal(13))
    # 1. Hessian-vector product by double backward.
    w = flat.detach().requires_grad_()
    (g,) = lg.grad(_mlp_loss(w), w, create_graph=True)
    (hv,) = lg.grad(g, w, grad_outputs=v)
    # 2. The dense Hessian from autograd.functional.
    dense = hessian(_mlp_loss, flat).numpy()
    np.testing.assert_allclose(dense, dense.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hv.numpy(), dense @ v.numpy(), rtol=1e-10, atol=1e-12)
    # 3. Central differences of the gradient along v.
    eps = 1e-5

    def gradient_at(values):
        p = t(values).requires_grad_()
        return lg.grad(_mlp_loss(p), p)[0].numpy()

    fd = (gradient_at(flat.numpy() + eps * v.numpy()) -
          gradient_at(flat.numpy() - eps * v.numpy())) / (2 * eps)
    np.testing.assert_allclose(hv.numpy(), fd, rtol=1e-6, atol=1e-8)
    # 4. hvp() agrees, and the Hessian is not trivially diagonal or zero.
    np.testing.assert_allclose(hvp(_mlp_loss, flat, v)[1].numpy(), hv.numpy(), rtol=1e-12)
    assert np.abs(dense - np.diag(np.diag(dense))).max() > 1e-3

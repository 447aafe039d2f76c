"""Losses against PyTorch on the edge cases of issue 13: 0-d tensors, integer inputs, NaN."""
from __future__ import annotations

import math

import numpy as np
import pytest

import locograd as lg
import locograd.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ("mean", "sum", "none")


def _pair(values, torch_grad=True):
    """A locograd and a torch float64 leaf with the same values."""
    a = np.asarray(values, dtype=np.float64)
    return (lg.tensor(a, requires_grad=True),
            torch.tensor(a, dtype=torch.float64, requires_grad=torch_grad))


def _check(name, ours, theirs, leaves):
    """Same value, and the same gradient for every leaf that torch differentiates, on the fast
    and the recorded path."""
    ours_out, theirs_out = ours(*[a for a, _ in leaves]), theirs(*[b for _, b in leaves])
    assert ours_out.shape == tuple(theirs_out.shape), name
    np.testing.assert_allclose(ours_out.numpy(), theirs_out.detach().numpy(), rtol=1e-12,
                               equal_nan=True, err_msg=f"{name}: value")
    compared = [(a, b) for a, b in leaves if b.requires_grad]
    t_grads = torch.autograd.grad(theirs_out.sum(), [b for _, b in compared])
    for create_graph in (False, True):
        grads = lg.grad(ours(*[a for a, _ in leaves]).sum(), [a for a, _ in compared],
                        create_graph=create_graph)
        for k, (g, tg) in enumerate(zip(grads, t_grads)):
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12, atol=1e-15,
                                       equal_nan=True,
                                       err_msg=f"{name}: gradient {k} (create_graph="
                                               f"{create_graph})")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_bce_with_logits_on_0d_tensors_matches_torch(reduction, weighted):
    leaves = [_pair(0.3), _pair(0.8)]
    if weighted:  # torch gives weight and pos_weight no gradient (locograd does: not compared)
        leaves += [_pair(1.5, torch_grad=False), _pair(2.5, torch_grad=False)]

    def ours(x, y, w=None, p=None):
        return F.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=p,
                                                  reduction=reduction)

    def theirs(x, y, w=None, p=None):
        return TF.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=p,
                                                   reduction=reduction)

    _check("binary_cross_entropy_with_logits", ours, theirs, leaves)


def test_bce_with_logits_0d_fast_reduction_path_without_target_grad():
    # The forward's summed path (no weights, target needs no gradient) used out= on a NumPy
    # scalar for 0-d inputs: a TypeError.
    x = lg.tensor(-1.25, dtype=lg.float64, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, lg.tensor(1.0, dtype=lg.float64))
    loss.backward()
    tx = torch.tensor(-1.25, dtype=torch.float64, requires_grad=True)
    t_loss = TF.binary_cross_entropy_with_logits(tx, torch.tensor(1.0, dtype=torch.float64))
    t_loss.backward()
    assert loss.shape == () and loss.item() == pytest.approx(t_loss.item(), rel=1e-13)
    assert x.grad.item() == pytest.approx(tx.grad.item(), rel=1e-13)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss",
                                  "binary_cross_entropy", "kl_div"])
def test_0d_losses_match_torch(name):
    x, y = {"binary_cross_entropy": (0.25, 0.75), "kl_div": (-0.5, 0.75)}.get(name, (-0.5, 1.75))
    reduction = "sum" if name == "kl_div" else "mean"  # torch warns for kl_div's 'mean'

    def ours(a, b):
        return getattr(F, name)(a, b, reduction=reduction)

    def theirs(a, b):
        return getattr(TF, name)(a, b, reduction=reduction)

    _check(name, ours, theirs, [_pair(x), _pair(y)])


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss",
                                  "binary_cross_entropy", "binary_cross_entropy_with_logits",
                                  "kl_div"])
def test_integer_inputs_raise_as_torch(name):
    # (torch's l1_loss accepts integers for 'sum' and 'none'; locograd refuses every reduction)
    a, b = [1, 0, 1], [1, 1, 0]
    with pytest.raises((RuntimeError, NotImplementedError)):
        reduction = "sum" if name == "kl_div" else "mean"  # torch warns for kl_div's 'mean'
        getattr(TF, name)(torch.tensor(a), torch.tensor(b), reduction=reduction)
    with pytest.raises(TypeError, match=f"{name}: expected a floating-point input, got "
                                        f"dtype int64"):
        getattr(F, name)(lg.tensor(a), lg.tensor(b), reduction="sum")


def test_mse_loss_of_float32_stays_float32():
    x = lg.tensor([1.0, 2.0], dtype=lg.float32, requires_grad=True)
    loss = F.mse_loss(x, lg.tensor([1.0, 4.0], dtype=lg.float32))
    loss.backward()
    assert loss.dtype == lg.float32 and x.grad.dtype == lg.float32
    assert loss.item() == 2.0 and x.grad.tolist() == [0.0, -2.0]


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss",
                                  "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_nan_inputs_match_torch(name, reduction):
    values = [math.nan, -1.0, 0.0, 2.0]

    def ours(x, y):
        return getattr(F, name)(x, y, reduction=reduction)

    def theirs(x, y):
        return getattr(TF, name)(x, y, reduction=reduction)

    with np.errstate(invalid="ignore"):  # NumPy warns of NaN in softplus's logaddexp
        _check(name, ours, theirs, [_pair(values), _pair([0.5, 0.5, math.nan, 0.25])])

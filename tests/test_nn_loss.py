"""Losses: known values, stability, reductions, module gradchecks and a PyTorch oracle."""
import math

import numpy as np
import pytest

import locograd as lg
from locograd.autograd.gradcheck import gradcheck

nn, F = lg.nn, lg.nn.functional


# ------------------------------------------------------------------------------ known values

@pytest.mark.parametrize("dtype", [lg.float32, lg.float64])
@pytest.mark.parametrize("classes", [2, 10, 1000])
def test_cross_entropy_of_uniform_logits_is_log_c(classes, dtype):
    logits = lg.full((4, classes), 3.5, dtype=dtype)
    loss = F.cross_entropy(logits, lg.tensor([0, 1, 1, 0]))
    assert loss.dtype == dtype
    assert loss.item() == float(np.log(np.asarray(classes, dtype=dtype)))


def test_cross_entropy_is_stable_for_huge_logits():
    logits = lg.tensor([[1e4, 0.0, -1e4]], requires_grad=True)
    loss = F.cross_entropy(logits, lg.tensor([1]))
    assert loss.item() == 1e4
    loss.backward()
    assert logits.grad.tolist() == [[1.0, -1.0, 0.0]]  # softmax - onehot
    right = F.cross_entropy(lg.tensor([[1e4, 0.0, -1e4]]), lg.tensor([0]))
    assert right.item() == 0.0


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x = lg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    F.cross_entropy(x, lg.tensor([2, 0, 3]), reduction="sum").backward()
    p = np.exp(x.data) / np.exp(x.data).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad.data, p - np.eye(4)[[2, 0, 3]], atol=1e-12)


def test_bce_with_logits_is_finite_for_huge_logits():
    x = lg.tensor([1e4, -1e4, 1e4, -1e4], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, lg.tensor([1.0, 0.0, 0.0, 1.0]),
                                              reduction="none")
    assert loss.tolist() == [0.0, 0.0, 1e4, 1e4]
    loss.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, -1.0]  # sigmoid(x) - y
    pos = F.binary_cross_entropy_with_logits(x, lg.ones(4), pos_weight=lg.tensor([2.0] * 4))
    assert math.isfinite(pos.item()) and pos.item() == 1e4


def test_bce_clamps_its_logs_at_minus_100():
    loss = F.binary_cross_entropy(lg.tensor([0.0, 1.0]), lg.tensor([1.0, 1.0]),
                                  reduction="none")
    assert loss.tolist() == [100.0, 0.0]


def test_regression_losses_known_values():
    x, y = lg.tensor([0.5, -2.0, 3.0]), lg.tensor([0.0, 0.0, 0.0])
    assert F.mse_loss(x, y, reduction="sum").item() == 0.25 + 4 + 9
    assert F.l1_loss(x, y).item() == pytest.approx(5.5 / 3)
    assert F.huber_loss(x, y, reduction="none", delta=2.0).tolist() == [0.125, 2.0, 4.0]
    assert F.smooth_l1_loss(x, y, reduction="none", beta=2.0).tolist() == [0.0625, 1.0, 2.0]
    assert F.smooth_l1_loss(x, y, reduction="none", beta=0.0).tolist() == [0.5, 2.0, 3.0]
    p = lg.tensor([[0.25, 0.75]])
    q = lg.tensor([[0.5, 0.5]])
    kl = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert F.kl_div(p.log(), q, reduction="sum").item() == pytest.approx(kl, rel=1e-6)
    assert F.kl_div(p.log(), q.log(), reduction="batchmean", log_target=True).item() == \
        pytest.approx(kl, rel=1e-6)


def test_reductions_and_ignore_index():
    x = lg.tensor(np.random.default_rng(1).standard_normal((4, 3)))
    t = lg.tensor([0, 2, -100, 1])
    per_sample = F.cross_entropy(x, t, reduction="none")
    assert per_sample.shape == (4,) and per_sample.tolist()[2] == 0.0
    assert F.cross_entropy(x, t).item() == pytest.approx(per_sample.data.sum() / 3)
    w = lg.tensor([1.0, 2.0, 3.0], dtype=lg.float64)
    weighted = F.cross_entropy(x, t, weight=w)
    assert weighted.item() == pytest.approx(
        F.cross_entropy(x, t, weight=w, reduction="sum").item() / (1 + 3 + 2))
    all_ignored = F.cross_entropy(x, lg.tensor([-100] * 4))
    assert math.isnan(all_ignored.item())  # 0 / 0, as PyTorch
    assert F.nll_loss(x, t, reduction="none").tolist()[2] == 0.0


def test_legacy_reduction_flags():
    x, y = lg.tensor([1.0, 3.0]), lg.tensor([0.0, 0.0])
    assert F.mse_loss(x, y, size_average=False).item() == 10.0
    assert F.mse_loss(x, y, reduce=False).tolist() == [1.0, 9.0]


def test_loss_errors_are_clear():
    x = lg.zeros(2, 3)
    with pytest.raises(IndexError, match="cross_entropy: target 3 is out of bounds for 3"):
        F.cross_entropy(x, lg.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"expected a target of shape \(2,\)"):
        F.cross_entropy(x, lg.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="should be between 0 and 1"):
        F.binary_cross_entropy(lg.tensor([1.5]), lg.tensor([1.0]))
    with pytest.raises(UserWarning, match="target size"):
        F.mse_loss(lg.zeros(3, 1), lg.zeros(3))
    with pytest.raises(TypeError, match="same dtype"):
        F.l1_loss(lg.zeros(3), lg.zeros(3, dtype=lg.float64))


def test_float32_stays_float32():
    x = lg.randn(4, 5, requires_grad=True)
    total = (F.cross_entropy(x, lg.tensor([0, 1, 2, 3])) + F.mse_loss(x, lg.zeros(4, 5)) +
             F.binary_cross_entropy_with_logits(x, lg.ones(4, 5)))
    assert total.dtype == np.float32
    total.backward()
    assert x.grad.dtype == np.float32


# ------------------------------------------------------------------------------ modules

def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 3)), rng.uniform(0.1, 0.9, (4, 3))


@pytest.mark.parametrize("module,target", [
    (lambda: nn.MSELoss(), "real"), (lambda: nn.L1Loss(reduction="sum"), "real"),
    (lambda: nn.HuberLoss(delta=0.5), "real"), (lambda: nn.SmoothL1Loss(beta=0.5), "real"),
    (lambda: nn.CrossEntropyLoss(weight=lg.tensor([1.0, 2.0, 0.5], dtype=lg.float64),
                                 label_smoothing=0.1), "index"),
    (lambda: nn.CrossEntropyLoss(), "probability"),
    (lambda: nn.NLLLoss(ignore_index=1), "index"),
    (lambda: nn.BCELoss(), "sigmoid"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=lg.tensor([1.0, 2.0, 3.0], dtype=lg.float64)),
     "unit"),
    (lambda: nn.KLDivLoss(reduction="batchmean"), "probability"),
], ids=["mse", "l1", "huber", "smooth_l1", "ce", "ce_probs", "nll", "bce", "bce_logits", "kl"])
def test_loss_modules_gradcheck(module, target):
    x_np, u_np = _inputs()
    loss = module()
    x = lg.tensor(x_np * 2, requires_grad=True)  # kinks of L1/Huber are far from these values
    if target == "index":
        assert gradcheck(lambda x: loss(x, lg.tensor([0, 2, 1, 1])), (x,))
        return
    if target == "sigmoid":
        x = lg.tensor(u_np, requires_grad=True)
        t = lg.tensor(x_np > 0, dtype=lg.float64)
    elif target == "probability":
        t = lg.tensor(u_np / u_np.sum(1, keepdims=True), requires_grad=True)
    else:
        t = lg.tensor(u_np if target == "unit" else x_np, requires_grad=True)
    assert gradcheck(lambda x, t: loss(x, t), (x, t))


# ------------------------------------------------------------------------------ oracle

def _torch_pair(array, torch, requires_grad=True):
    return (lg.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def _check(ours, theirs, pairs, torch):
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), atol=1e-10, rtol=1e-10)
    v = np.random.default_rng(7).standard_normal(ours.shape)
    (ours * lg.tensor(v)).sum().backward()
    (theirs * torch.tensor(v)).sum().backward()
    for k, (a, b) in enumerate(pairs):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), atol=1e-10, rtol=1e-8,
                                   err_msg=f"input {k}")


@pytest.mark.parametrize("kwargs", [
    dict(), dict(reduction="sum"), dict(reduction="none"), dict(label_smoothing=0.15),
    dict(weight=[0.2, 1.0, 3.0, 0.5, 1.5]), dict(ignore_index=2),
    dict(weight=[0.2, 1.0, 3.0, 0.5, 1.5], ignore_index=2, label_smoothing=0.3),
    dict(weight=[0.2, 1.0, 3.0, 0.5, 1.5], label_smoothing=0.2, reduction="none"),
    dict(weight=[0.2, 1.0, 3.0, 0.5, 1.5], label_smoothing=0.2, reduction="sum"),
])
@pytest.mark.parametrize("kind", ["indices", "spatial", "probabilities", "unbatched"])
def test_cross_entropy_matches_pytorch(kind, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    shape = {"indices": (6, 5), "spatial": (3, 5, 2, 2), "probabilities": (6, 5),
             "unbatched": (5,)}[kind]
    x, tx = _torch_pair(rng.standard_normal(shape) * 3, torch)
    ours_kw = {k: (lg.tensor(v, dtype=lg.float64) if k == "weight" else v)
               for k, v in kwargs.items()}
    theirs_kw = {k: (torch.tensor(v, dtype=torch.float64) if k == "weight" else v)
                 for k, v in kwargs.items()}
    pairs = [(x, tx)]
    if kind == "probabilities":
        p = rng.uniform(0.1, 1.0, shape)
        t, tt = _torch_pair(p / p.sum(1, keepdims=True), torch)
        pairs.append((t, tt))
        if "ignore_index" in kwargs:  # class indices only, in both libraries
            with pytest.raises(RuntimeError, match="ignore_index is not supported"):
                torch.nn.functional.cross_entropy(tx, tt, **theirs_kw)
            with pytest.raises(ValueError, match="ignore_index is not supported"):
                F.cross_entropy(x, t, **ours_kw)
            return
    else:
        index_shape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
        labels = rng.integers(0, 5, index_shape)
        if labels.ndim:
            labels.reshape(-1)[:2] = 2  # some ignored targets when ignore_index=2
        t, tt = lg.tensor(labels), torch.tensor(labels)
    _check(F.cross_entropy(x, t, **ours_kw), torch.nn.functional.cross_entropy(tx, tt,
                                                                               **theirs_kw),
           pairs, torch)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_losses_match_pytorch(reduction):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(5)
    x, tx = _torch_pair(rng.standard_normal((4, 3)) * 4, torch)
    t, tt = _torch_pair(rng.uniform(0, 1, (4, 3)), torch)
    # PyTorch has no gradient for weight and pos_weight here (locograd has: see the op table).
    w, tw = _torch_pair(rng.uniform(0.5, 2, (4, 1)), torch, requires_grad=False)
    p, tp = _torch_pair(rng.uniform(0.5, 3, (3,)), torch, requires_grad=False)
    _check(F.binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=p),
           tf.binary_cross_entropy_with_logits(tx, tt, tw, reduction=reduction, pos_weight=tp),
           [(x, tx), (t, tt)], torch)
    q, tq = _torch_pair(rng.uniform(0.02, 0.98, (4, 3)), torch)
    t2, tt2 = _torch_pair(rng.uniform(0, 1, (4, 3)), torch)
    _check(F.binary_cross_entropy(q, t2, reduction=reduction),
           tf.binary_cross_entropy(tq, tt2, reduction=reduction), [(q, tq), (t2, tt2)], torch)


@pytest.mark.parametrize("name,kwargs", [
    ("mse_loss", {}), ("l1_loss", dict(reduction="sum")),
    ("huber_loss", dict(delta=0.8, reduction="none")), ("smooth_l1_loss", dict(beta=0.4)),
    ("kl_div", dict(reduction="batchmean")), ("kl_div", dict(log_target=True, reduction="none")),
    ("nll_loss", dict(weight=[1.0, 0.5, 2.0], ignore_index=0)),
])
def test_other_losses_match_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x, tx = _torch_pair(rng.standard_normal((5, 3)), torch)
    if name == "nll_loss":
        labels = np.array([0, 1, 2, 2, 1])
        t, tt, pairs = lg.tensor(labels), torch.tensor(labels), [(x, tx)]
        kwargs_ours = dict(kwargs, weight=lg.tensor(kwargs["weight"], dtype=lg.float64))
        kwargs = dict(kwargs, weight=torch.tensor(kwargs["weight"], dtype=torch.float64))
    else:
        target = rng.uniform(0.1, 1.0, (5, 3)) if name == "kl_div" else \
            rng.standard_normal((5, 3))
        t, tt = _torch_pair(target, torch)
        pairs, kwargs_ours = [(x, tx), (t, tt)], kwargs
    _check(getattr(F, name)(x, t, **kwargs_ours),
           getattr(torch.nn.functional, name)(tx, tt, **kwargs), pairs, torch)

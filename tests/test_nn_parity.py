"""Norms, distances, losses, EmbeddingBag and resampling against PyTorch: float64, PyTorch's
weights loaded, values and gradients of a random projection."""
import warnings

import numpy as np
import pytest

import locograd as lg
import locograd.nn.functional as F
from locograd import nn

torch = pytest.importorskip("torch")
from torch_parity import assert_matches_torch, load_torch_weights  # noqa: E402

RNG = np.random.default_rng(4)


def randn(*shape):
    return RNG.standard_normal(shape)


def signs(*shape):
    return np.where(RNG.random(shape) > 0.5, 1.0, -1.0)


# (id, module class name, constructor kwargs, input arrays)
MODULE_CASES = [
    ("group-norm", "GroupNorm", dict(num_groups=2, num_channels=6), [randn(3, 6, 4)]),
    ("group-norm-2d-no-affine", "GroupNorm", dict(num_groups=3, num_channels=6, affine=False),
     [randn(2, 6, 3, 3)]),
    ("instance-norm-1d", "InstanceNorm1d", dict(num_features=3), [randn(2, 3, 5)]),
    ("instance-norm-1d-unbatched-affine", "InstanceNorm1d", dict(num_features=3, affine=True),
     [randn(3, 5)]),
    ("instance-norm-2d-running", "InstanceNorm2d",
     dict(num_features=3, affine=True, track_running_stats=True), [randn(2, 3, 4, 4)]),
    ("rms-norm", "RMSNorm", dict(normalized_shape=4), [randn(3, 5, 4)]),
    ("rms-norm-2d-eps", "RMSNorm", dict(normalized_shape=(2, 4), eps=1e-3), [randn(3, 2, 4)]),
    ("local-response-norm", "LocalResponseNorm", dict(size=3, alpha=0.1, k=2.0),
     [randn(2, 5, 3)]),
    ("local-response-norm-even", "LocalResponseNorm", dict(size=4, beta=0.5), [randn(2, 6, 2, 2)]),
    ("cosine-similarity", "CosineSimilarity", dict(dim=1), [randn(4, 3), randn(4, 3)]),
    ("cosine-similarity-broadcast", "CosineSimilarity", dict(dim=-1), [randn(2, 4, 3),
                                                                      randn(4, 3)]),
    ("pairwise-distance", "PairwiseDistance", dict(), [randn(4, 3), randn(4, 3)]),
    ("pairwise-distance-p1-keepdim", "PairwiseDistance", dict(p=1.0, keepdim=True),
     [randn(4, 3), randn(4, 3)]),
    ("bilinear", "Bilinear", dict(in1_features=3, in2_features=2, out_features=4),
     [randn(5, 3), randn(5, 2)]),
    ("pixel-shuffle", "PixelShuffle", dict(upscale_factor=2), [randn(2, 8, 3, 3)]),
    ("pixel-unshuffle", "PixelUnshuffle", dict(downscale_factor=2), [randn(2, 2, 4, 6)]),
    ("upsample-nearest", "Upsample", dict(scale_factor=2), [randn(2, 3, 3, 4)]),
    ("upsample-nearest-size", "Upsample", dict(size=(5, 7)), [randn(1, 2, 3, 4)]),
    ("upsample-bilinear", "Upsample", dict(scale_factor=2, mode="bilinear"), [randn(2, 3, 3, 4)]),
    ("upsample-bilinear-corners", "Upsample", dict(size=(5, 3), mode="bilinear",
                                                   align_corners=True), [randn(1, 2, 3, 4)]),
    ("upsample-linear", "Upsample", dict(scale_factor=1.5, mode="linear"), [randn(2, 3, 4)]),
    ("gaussian-nll", "GaussianNLLLoss", dict(), [randn(4, 3), randn(4, 3),
                                                 RNG.random((4, 3)) + 0.1]),
    ("gaussian-nll-full-sum-var-per-sample", "GaussianNLLLoss", dict(full=True, reduction="sum"),
     [randn(4, 3), randn(4, 3), RNG.random(4) + 0.1]),
    ("gaussian-nll-clamped", "GaussianNLLLoss", dict(eps=0.5, reduction="none"),
     [randn(4, 3), randn(4, 3), RNG.random((4, 1))]),
    ("poisson-nll", "PoissonNLLLoss", dict(), [randn(5), RNG.poisson(2.0, 5).astype(float)]),
    ("poisson-nll-full-no-log", "PoissonNLLLoss", dict(log_input=False, full=True),
     [RNG.random(6) + 0.1, RNG.poisson(2.0, 6).astype(float)]),
    ("hinge-embedding", "HingeEmbeddingLoss", dict(margin=0.7), [randn(6), signs(6)]),
    ("margin-ranking", "MarginRankingLoss", dict(margin=0.2, reduction="sum"),
     [randn(6), randn(6), signs(6)]),
    ("triplet-margin", "TripletMarginLoss", dict(), [randn(5, 3), randn(5, 3), randn(5, 3)]),
    ("triplet-margin-swap-p1", "TripletMarginLoss", dict(p=1.0, swap=True, margin=2.0),
     [randn(5, 3), randn(5, 3), randn(5, 3)]),
    ("cosine-embedding", "CosineEmbeddingLoss", dict(margin=0.1), [randn(6, 3), randn(6, 3),
                                                                  signs(6)]),
    ("multi-margin", "MultiMarginLoss", dict(), [randn(5, 4), RNG.integers(0, 4, 5)]),
    ("multi-margin-p2-weight", "MultiMarginLoss",
     dict(p=2, margin=0.5, weight=RNG.random(4) + 0.5, reduction="none"),
     [randn(5, 4), RNG.integers(0, 4, 5)]),
    ("soft-margin", "SoftMarginLoss", dict(), [randn(3, 4), signs(3, 4)]),
]

TARGETS_WITHOUT_GRAD = {"PoissonNLLLoss": [1], "HingeEmbeddingLoss": [1],
                        "MarginRankingLoss": [2], "CosineEmbeddingLoss": [2],
                        "MultiMarginLoss": [1], "SoftMarginLoss": [1]}


@pytest.mark.parametrize("case", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_module_matches_torch(case):
    _, name, kw, arrays = case
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                        for k, v in kw.items()}).double()
    ours = getattr(nn, name)(**{k: lg.tensor(v) if isinstance(v, np.ndarray) else v
                                for k, v in kw.items()}).double()
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    load_torch_weights(ours, theirs)
    flags = [np.asarray(a).dtype.kind == "f" for a in arrays]
    for i in TARGETS_WITHOUT_GRAD.get(name, []):
        flags[i] = False
    assert_matches_torch(ours, theirs, arrays, requires_grad=flags, modules=(ours, theirs))
    for key, value in theirs.state_dict().items():  # running statistics, updated alike
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12)


def test_modules_default_to_float32():
    for module in (nn.GroupNorm(2, 4), nn.RMSNorm(3), nn.InstanceNorm1d(2, affine=True),
                   nn.EmbeddingBag(5, 3)):
        assert all(p.dtype == lg.float32 for p in module.parameters())
    assert nn.GroupNorm(2, 4)(lg.randn(2, 4, 3)).dtype == lg.float32


def test_instance_norm_eval_uses_running_statistics():
    torch.manual_seed(0)
    kw = dict(num_features=3, track_running_stats=True, momentum=0.3)
    theirs, ours = torch.nn.InstanceNorm1d(**kw).double(), nn.InstanceNorm1d(**kw).double()
    for _ in range(2):
        x = randn(2, 3, 5)
        ours(lg.tensor(x)), theirs(torch.tensor(x))
    ours.eval(), theirs.eval()
    assert_matches_torch(ours, theirs, [randn(2, 3, 5)])


EMBEDDING_BAG_CASES = [
    (dict(mode="sum"), [0, 2, 4, 5, 4, 3, 2, 9], [0, 3, 3, 6], None),
    (dict(mode="mean"), [0, 2, 4, 5, 4, 3, 2, 9], [0, 3, 3, 6], None),
    (dict(mode="max"), [0, 2, 4, 5, 4, 3, 2, 9], [0, 1, 5], None),
    (dict(mode="mean", padding_idx=2), [0, 2, 4, 5, 4, 3, 2, 9], [0, 3, 6], None),
    (dict(mode="sum", include_last_offset=True), [0, 2, 4, 5, 4, 3], [0, 2, 4, 6], None),
    (dict(mode="sum"), [1, 2, 4, 5, 4, 3], [0, 2], "weights"),
    (dict(mode="mean"), [[1, 2, 3], [4, 4, 0]], None, None),
]


@pytest.mark.parametrize("kw, indices, offsets, weights", EMBEDDING_BAG_CASES,
                         ids=[f"{c[0]}-{'2d' if c[2] is None else '1d'}-{c[3]}"
                              for c in EMBEDDING_BAG_CASES])
def test_embedding_bag_matches_torch(kw, indices, offsets, weights):
    torch.manual_seed(0)
    theirs = torch.nn.EmbeddingBag(10, 3, **kw).double()
    ours = nn.EmbeddingBag(10, 3, **kw).double()
    load_torch_weights(ours, theirs)
    indices = np.array(indices)
    per_sample = None if weights is None else RNG.random(indices.shape)
    arrays = [indices] + ([] if offsets is None else [np.array(offsets)])
    arrays += [] if per_sample is None else [per_sample]

    def call(module):
        def run(*xs):
            args = list(xs)
            found = args.pop(0), (args.pop(0) if offsets is not None else None)
            return module(*found, per_sample_weights=args[0] if args else None)
        return run
    assert_matches_torch(call(ours), call(theirs), arrays, modules=(ours, theirs))


def test_embedding_bag_errors():
    bag = nn.EmbeddingBag(10, 3)
    with pytest.raises(ValueError, match="1-D input with offsets"):
        bag(lg.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="offsets must start at 0"):
        bag(lg.tensor([1, 2, 3]), lg.tensor([1, 2]))
    with pytest.raises(ValueError, match="per_sample_weights is only supported for mode='sum'"):
        bag(lg.tensor([[1, 2]]), per_sample_weights=lg.ones(1, 2))
    with pytest.raises(ValueError, match="mode must be 'sum', 'mean' or 'max'"):
        nn.EmbeddingBag(10, 3, mode="min")


def test_functional_forms_and_errors():
    x = lg.randn(2, 4, 3)
    np.testing.assert_allclose(F.group_norm(x, 2).numpy(),
                               torch.nn.functional.group_norm(torch.tensor(x.numpy()), 2).numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        F.interpolate(x, scale_factor=3, mode="linear", align_corners=True).numpy(),
        torch.nn.functional.interpolate(torch.tensor(x.numpy()), scale_factor=3, mode="linear",
                                        align_corners=True).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="group_norm: .* divisible by num_groups=3"):
        F.group_norm(x, 3)
    with pytest.raises(ValueError, match="mode must be 'nearest', 'linear' or 'bilinear'"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="var has negative entries"):
        F.gaussian_nll_loss(lg.zeros(2), lg.zeros(2), lg.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        F.soft_margin_loss(lg.zeros(2), lg.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="pixel_shuffle: .* divisible by upscale_factor"):
        F.pixel_shuffle(lg.zeros(1, 3, 2, 2), 2)


def test_lstm_flatten_parameters_is_a_no_op():
    lstm = nn.LSTM(3, 4)
    before = [p.numpy().copy() for p in lstm.parameters()]
    assert lstm.flatten_parameters() is None
    for p, q in zip(lstm.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), q)


def test_dropout2d_on_a_2d_input_warns_and_drops_elements_as_torch():
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        torch.nn.Dropout2d(0.5)(torch.ones(4, 6))
    drop = nn.Dropout2d(0.5, generator=lg.Generator(0))
    with pytest.warns(UserWarning, match="dropout2d: Received a 2-D input to dropout2d"):
        y = drop(lg.ones(40, 50)).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    # elementwise: rows are neither all kept nor all dropped
    assert 0 < (y == 0).sum() < y.size and not ((y == 0).all(1) | (y == 2).all(1)).all()
    with pytest.warns(UserWarning, match="2-D input"):  # in evaluation too, as torch
        assert drop.eval()(lg.ones(3, 4)).numpy().tolist() == [[1.0] * 4] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert drop.train()(lg.ones(1, 2, 3, 3)).shape == (1, 2, 3, 3)  # 4-D: no warning

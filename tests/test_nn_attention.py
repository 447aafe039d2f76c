"""Attention and the Transformer against PyTorch: same float64 weights, values and gradients."""
import numpy as np
import pytest

import locograd as lg
import locograd.nn.functional as F
from locograd import nn

torch = pytest.importorskip("torch")
from torch_parity import assert_matches_torch, load_torch_weights  # noqa: E402

RNG = np.random.default_rng(0)


def sdpa_case(mask):
    q, k = RNG.standard_normal((2, 3, 4, 5)), RNG.standard_normal((2, 3, 6, 5))
    return [q, k, RNG.standard_normal((2, 3, 6, 7))] + ([] if mask is None else [mask])


BOOL_MASK = RNG.random((4, 6)) > 0.4
BOOL_MASK[1] = False  # a query that may attend to nothing: zero output, as torch's


@pytest.mark.parametrize("arrays, kw", [
    (sdpa_case(None), {}),
    (sdpa_case(None), dict(is_causal=True)),
    (sdpa_case(None), dict(scale=0.3)),
    (sdpa_case(BOOL_MASK), {}),
    (sdpa_case(RNG.standard_normal((3, 4, 6))), {}),  # a float mask, broadcast, with gradient
], ids=["plain", "causal", "scale", "bool-mask", "float-mask"])
def test_scaled_dot_product_attention(arrays, kw):
    def ours(*xs):
        return F.scaled_dot_product_attention(*xs[:3], attn_mask=xs[3] if len(xs) > 3 else None,
                                              **kw)

    def theirs(*xs):
        return torch.nn.functional.scaled_dot_product_attention(
            *xs[:3], attn_mask=xs[3] if len(xs) > 3 else None, **kw)
    assert_matches_torch(ours, theirs, arrays)


def test_sdpa_dropout_and_errors():
    q = lg.randn(2, 4, 8)
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    assert out.shape == (2, 4, 8) and not out.numpy().any()  # every weight dropped
    same = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, generator=lg.Generator(1))
    again = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, generator=lg.Generator(1))
    np.testing.assert_array_equal(same.numpy(), again.numpy())
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=lg.ones(4, 4), is_causal=True)
    with pytest.raises(ValueError, match=r"key \(\.\.\., S, E\).*\(2, 4, 8\), \(2, 4, 3\)"):
        F.scaled_dot_product_attention(q, lg.randn(2, 4, 3), q)
    with pytest.raises(TypeError, match="same dtype"):
        F.scaled_dot_product_attention(q, q.double(), q)


def mha_pair(**kw):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(**kw).double()
    ours = nn.MultiheadAttention(**kw).double()
    load_torch_weights(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize("kw, call", [
    (dict(batch_first=True), {}),
    (dict(), dict(average_attn_weights=False)),
    (dict(batch_first=True, kdim=3, vdim=5), {}),
    (dict(batch_first=True, bias=False), dict(need_weights=False)),
    (dict(batch_first=True), dict(key_padding_mask=np.array([[False] * 5 + [True], [False] * 6]),
                                  attn_mask=np.triu(np.ones((4, 6), bool), 3))),
    (dict(batch_first=True), dict(attn_mask=RNG.standard_normal((2 * 2, 4, 6)))),
], ids=["batch-first", "seq-first-per-head", "kdim-vdim", "no-bias", "bool-masks",
        "float-mask-per-head"])
def test_multihead_attention(kw, call):
    kw = dict(embed_dim=8, num_heads=2, **kw)
    ours, theirs = mha_pair(**kw)
    batch_first = kw.get("batch_first", False)
    shape = (lambda n, t, e: (n, t, e)) if batch_first else (lambda n, t, e: (t, n, e))
    arrays = [RNG.standard_normal(shape(2, 4, 8)), RNG.standard_normal(shape(2, 6, ours.kdim)),
              RNG.standard_normal(shape(2, 6, ours.vdim))]
    masks = {k: v for k, v in call.items() if k.endswith("mask")}
    flags = {k: v for k, v in call.items() if not k.endswith("mask")}

    def run(module, tensor):
        return lambda q, k, v: module(q, k, v, **flags,
                                      **{n: tensor(m) for n, m in masks.items()})
    assert_matches_torch(run(ours, lg.tensor), run(theirs, torch.tensor), arrays,
                         modules=(ours, theirs))


def test_multihead_attention_unbatched_and_names():
    ours, theirs = mha_pair(embed_dim=6, num_heads=3)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    x = RNG.standard_normal((5, 6))
    assert_matches_torch(lambda a: ours(a, a, a), lambda a: theirs(a, a, a), [x],
                         modules=(ours, theirs))
    assert nn.MultiheadAttention(6, 3).in_proj_weight.dtype == lg.float32
    with pytest.raises(ValueError, match="must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="is_causal=True is a hint and needs attn_mask"):
        ours(lg.tensor(x), lg.tensor(x), lg.tensor(x), is_causal=True)


LAYER = dict(d_model=8, nhead=2, dim_feedforward=12, dropout=0.0)


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu"),
                                dict(batch_first=True, bias=False)],
                         ids=["post-ln", "pre-ln-gelu", "batch-first-no-bias"])
def test_encoder_and_decoder_layers(kw):
    torch.manual_seed(1)
    pairs = []
    for name in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        theirs = getattr(torch.nn, name)(**LAYER, **kw).double()
        ours = getattr(nn, name)(**LAYER, **kw).double()
        load_torch_weights(ours, theirs)
        pairs.append((ours, theirs))
    shape = (2, 5, 8) if kw.get("batch_first") else (5, 2, 8)
    src = RNG.standard_normal(shape)
    tgt = RNG.standard_normal((2, 3, 8) if kw.get("batch_first") else (3, 2, 8))
    padding = np.array([[False] * 4 + [True], [False] * 5])
    (enc, enc_t), (dec, dec_t) = pairs
    assert_matches_torch(lambda s: enc(s, src_key_padding_mask=lg.tensor(padding)),
                         lambda s: enc_t(s, src_key_padding_mask=torch.tensor(padding)),
                         [src], modules=(enc, enc_t))
    causal = nn.Transformer.generate_square_subsequent_mask(3, dtype=lg.float64)
    causal_t = torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    assert_matches_torch(lambda t, m: dec(t, m, tgt_mask=causal, tgt_is_causal=True),
                         lambda t, m: dec_t(t, m, tgt_mask=causal_t, tgt_is_causal=True),
                         [tgt, src], modules=(dec, dec_t))


def test_transformer_loads_a_torch_state_dict_and_matches():
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
              dim_feedforward=12, dropout=0.0, batch_first=True)
    torch.manual_seed(2)
    theirs = torch.nn.Transformer(**kw).double()
    ours = nn.Transformer(**kw).double()
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    load_torch_weights(ours, theirs)
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=lg.float64)
    mask_t = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    assert_matches_torch(lambda s, t: ours(s, t, tgt_mask=mask),
                         lambda s, t: theirs(s, t, tgt_mask=mask_t),
                         [RNG.standard_normal((2, 5, 8)), RNG.standard_normal((2, 4, 8))],
                         modules=(ours, theirs))
    np.testing.assert_array_equal(mask.numpy(), mask_t.numpy())


def test_transformer_defaults_and_errors():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    encoder = nn.TransformerEncoder(layer, 3)
    assert len(encoder.layers) == 3 and encoder.layers[0].linear1.weight is not \
        encoder.layers[1].linear1.weight  # independent copies
    assert encoder.layers[0].self_attn.in_proj_weight.dtype == lg.float32
    assert layer.dropout.p == 0.1
    with pytest.raises(ValueError, match="activation should be 'relu', 'gelu'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        nn.TransformerEncoder(layer, 0)

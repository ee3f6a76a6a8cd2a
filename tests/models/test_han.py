"""HAN / VALOR baselines: shapes on both feature specs, the hybrid-attention formula, shared weights across
streams, batch independence, finite losses and gradients."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from mmcse.config import HAN_FEATURES, VALOR_FEATURES, ModelConfig
from mmcse.models import create_model
from mmcse.models.han import HAN, HybridAttentionLayer
from mmcse.training.losses import compute_loss

B = 3


def _inputs(spec, batch=B, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, *s.shape, generator=gen) for s in spec.streams.values())


def _cfg(spec, arch, **kw):
    base = (
        {"d_model": 32, "num_layers": 2, "num_heads": 4}
        if arch == "valor"
        else {"d_model": 32, "num_layers": 1, "num_heads": 1}
    )
    base.update(kw)
    return ModelConfig.for_features(spec, arch=arch, **base)


@pytest.mark.parametrize("spec", [HAN_FEATURES, VALOR_FEATURES], ids=["han-features", "valor-features"])
@pytest.mark.parametrize("arch", ["han", "valor"])
def test_forward_shapes_ranges_and_finite_loss(spec, arch):
    torch.manual_seed(0)
    model = create_model(_cfg(spec, arch))
    assert isinstance(model, HAN)
    out = model(*_inputs(spec))
    for name in ("video_prob", "audio_prob", "visual_prob"):
        p = getattr(out, name)
        assert p.shape == (B, 25)
        assert (p > 0).all() and (p < 1).all()
    assert out.segment_prob.shape == out.segment_logits.shape == (B, 10, 2, 25)
    assert torch.allclose(out.segment_prob, torch.sigmoid(out.segment_logits))
    assert out.attn == {} and out.class_features is None and out.aux_losses == {}

    gen = torch.Generator().manual_seed(1)
    batch = {
        "label": (torch.rand(B, 25, generator=gen) > 0.8).float(),
        "pseudo_audio": (torch.rand(B, 10, 25, generator=gen) > 0.9).float(),
        "pseudo_visual": (torch.rand(B, 10, 25, generator=gen) > 0.9).float(),
    }
    total, parts = compute_loss(out, batch, model.cfg)
    assert total.ndim == 0 and torch.isfinite(total)
    assert ("seg_a" in parts) == (arch == "valor")  # HAN always trains on weak labels only
    total.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_head_is_attentive_mmil_pooling():
    model = create_model(_cfg(VALOR_FEATURES, "valor")).eval()
    captured = {}
    model.head.register_forward_hook(lambda m, inp, out: captured.update(x=inp[0]))
    with torch.no_grad():
        out = model(*_inputs(VALOR_FEATURES))
        x = captured["x"]  # (B, T, 2, d)
        p = torch.sigmoid(model.head.fc_prob(x))
        w_t = torch.softmax(model.head.fc_frame_att(x), dim=1)
        w_m = torch.softmax(model.head.fc_av_att(x), dim=2)
    torch.testing.assert_close(out.video_prob, (w_t * p * w_m).sum(dim=(1, 2)))
    torch.testing.assert_close(out.audio_prob, (w_t * p)[:, :, 0].sum(dim=1))
    torch.testing.assert_close(out.visual_prob, (w_t * p)[:, :, 1].sum(dim=1))


def test_hybrid_attention_layer_formula_with_one_step():
    # with a single time step, attention is the value projection: check the whole layer by hand
    torch.manual_seed(0)
    d = 8
    layer = HybridAttentionLayer(d, num_heads=2, dropout=0.1).eval()
    q, o = torch.randn(5, 1, d), torch.randn(5, 1, d)

    def attend(mha, x):
        w_v, b_v = mha.in_proj_weight[2 * d :], mha.in_proj_bias[2 * d :]
        return mha.out_proj(F.linear(x, w_v, b_v))

    with torch.no_grad():
        x = layer.norm1(q + attend(layer.cm_attn, o) + attend(layer.self_attn, q))
        expected = layer.norm2(x + layer.linear2(F.relu(layer.linear1(x))))
        torch.testing.assert_close(layer(q, o), expected)


class FixedProjection(torch.nn.Module):
    """Stands in for the input projection: returns the given (a, v) pair."""

    def __init__(self, a, v):
        super().__init__()
        self.pair = (a, v)

    def forward(self, *inputs):
        return self.pair


def test_han_streams_share_weights_and_clips_are_independent():
    model = create_model(_cfg(VALOR_FEATURES, "han", num_layers=2)).eval()
    a, v = torch.randn(B, 10, 32), torch.randn(B, 10, 32)
    model.projection = FixedProjection(a, v)
    with torch.no_grad():
        out = model(None, None, None)
        model.projection.pair = (v, a)  # swap the streams: same weights, parallel update -> swapped outputs
        swapped = model(None, None, None)
        model.projection.pair = (a[:1], v[:1])  # one clip alone gives the same result as in the batch
        alone = model(None, None, None)
    torch.testing.assert_close(out.segment_logits[:, :, 0], swapped.segment_logits[:, :, 1])
    torch.testing.assert_close(out.segment_logits[:, :, 1], swapped.segment_logits[:, :, 0])
    torch.testing.assert_close(alone.segment_logits[0], out.segment_logits[0])


def test_valor_updates_visual_from_the_updated_audio():
    model = create_model(_cfg(VALOR_FEATURES, "valor", num_layers=2)).eval()
    a, v = torch.randn(B, 10, 32), torch.randn(B, 10, 32)
    model.projection = FixedProjection(a, v)
    with torch.no_grad():
        out = model(None, None, None)
        for layer in model.layers:  # VALOR's Encoder: a = L(a, v); v = L(v, a) with the new a
            a = layer(a, v)
            v = layer(v, a)
        expected = model.head(torch.stack([a, v], dim=2))[4]
    torch.testing.assert_close(out.segment_logits, expected)


def test_han_paper_size_builds_and_counts_parameters():
    cfg = ModelConfig.for_features(HAN_FEATURES, arch="han", d_model=512, num_layers=1, num_heads=1)
    model = create_model(cfg)
    d = 512
    projection = (128 + 1) * d + (2048 + 1) * d + (512 + 1) * d + (2 * d + 1) * d
    layer = 2 * (4 * d * d + 4 * d) + 2 * (d * d + d) + 2 * 2 * d
    head = 3 * (d * 25 + 25)
    assert sum(p.numel() for p in model.parameters()) == projection + layer + head


def test_bad_head_count_is_refused():
    with pytest.raises(ValueError, match="divisible"):
        create_model(dataclasses.replace(_cfg(VALOR_FEATURES, "valor"), num_heads=5))

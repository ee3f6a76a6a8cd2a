"""MM-CSE: the import of the authors' weights reproduces their outputs number for number; shapes, the
CLAP time path, the parameter count and every ablation switch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmcse.config import HAN_FEATURES, VALOR_FEATURES, ModelConfig
from mmcse.models import create_model
from mmcse.models.layers import InputProjection, clap_time_mixing_matrix
from mmcse.models.official import import_official

VARIANTS = ("clap_clip", "vggish_res152")
# reference npz key -> how to read it from a ModelOutput
REFERENCE_OUTPUTS = {
    "global_prob": lambda o: o.video_prob,
    "a_prob": lambda o: o.audio_prob,
    "v_prob": lambda o: o.visual_prob,
    "frame_prob": lambda o: o.segment_prob,
    "frame_logits": lambda o: o.segment_logits,
    "map_aa": lambda o: o.attn["aa"],
    "map_av": lambda o: o.attn["av"],
    "map_vv": lambda o: o.attn["vv"],
    "map_va": lambda o: o.attn["va"],
    "loss_a_rec": lambda o: o.aux_losses["rec_a"],
    "loss_v_rec": lambda o: o.aux_losses["rec_v"],
    "loss_a_ort": lambda o: o.aux_losses["ort_a"],
    "loss_v_ort": lambda o: o.aux_losses["ort_v"],
}


def _inputs(cfg: ModelConfig, batch: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, cfg.audio_len, cfg.audio_dim, generator=g),
        torch.randn(batch, cfg.visual_len, cfg.visual_dim, generator=g),
        torch.randn(batch, cfg.num_segments, cfg.visual_st_dim, generator=g),
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_import_reproduces_the_authors_outputs(reference_dir, variant, kernel_path):
    model = import_official(reference_dir / f"mmcse_official_{variant}.pth")
    assert not model.training
    ref = np.load(reference_dir / f"mmcse_official_{variant}_io.npz", allow_pickle=False)
    inputs = [torch.from_numpy(ref[k]) for k in ("audio", "visual", "visual_st")]
    with torch.no_grad():
        out = model(*inputs, with_aux=True)
    for key, read in REFERENCE_OUTPUTS.items():
        got = read(out).numpy()
        assert got.shape == ref[key].shape, key
        np.testing.assert_allclose(got, ref[key], rtol=0, atol=1e-5, err_msg=key)
    # the probabilities are not degenerate (the comparison above means something)
    assert ref["frame_logits"].std() > 0.01
    # at inference the reconstruction/orthogonality terms are skipped, the rest is unchanged
    with torch.no_grad():
        fast = model(*inputs)
    assert fast.aux_losses == {}
    torch.testing.assert_close(fast.segment_logits, out.segment_logits, rtol=0, atol=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_imported_dims_are_read_from_the_weights(reference_dir, variant):
    model = import_official(reference_dir / f"mmcse_official_{variant}.pth")
    spec = VALOR_FEATURES if variant == "clap_clip" else HAN_FEATURES
    assert (model.cfg.audio_len, model.cfg.audio_dim) == spec.audio.shape
    assert (model.cfg.visual_len, model.cfg.visual_dim) == spec.visual.shape
    assert model.cfg.num_layers == 4


def test_clap_time_matrix_equals_the_interpolation_path():
    """VALOR's CLAP path (bicubic upsampling, Linear, mean, adaptive pooling) == Linear(M @ A)."""
    torch.manual_seed(0)
    proj = InputProjection(ModelConfig.for_features(VALOR_FEATURES), 256)
    audio = torch.randn(3, 64, 768)
    x = audio.transpose(1, 2).reshape(3, 768, 2, 32)
    x = F.interpolate(x, size=(2, 1024), mode="bicubic", align_corners=False)  # (3, 768, 2, 1024)
    x = proj.fc_a(x.permute(0, 2, 3, 1)).mean(dim=1).transpose(1, 2)  # (3, 256, 1024)
    expected = F.adaptive_avg_pool1d(x, 10).transpose(1, 2)  # (3, 10, 256)
    with torch.no_grad():
        torch.testing.assert_close(proj.project_audio(audio), expected, rtol=0, atol=1e-5)
    m = clap_time_mixing_matrix()
    assert m.shape == (10, 64)
    torch.testing.assert_close(m.sum(dim=1), torch.ones(10, dtype=m.dtype))
    assert "audio_time_mix" not in proj.state_dict()  # derived, never saved


def test_resnet_frames_are_averaged_in_groups_of_eight():
    cfg = ModelConfig.for_features(HAN_FEATURES)
    proj = InputProjection(cfg, 256)
    visual = torch.randn(2, 80, 2048)
    visual_st = torch.randn(2, 10, 512)
    with torch.no_grad():
        got = proj.project_visual(visual, visual_st)
        v_s = proj.fc_v(visual.view(2, 10, 8, 2048).mean(dim=2))
        expected = proj.fc_fusion(torch.cat([v_s, proj.fc_st(visual_st)], dim=-1))
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_parameter_count_matches_the_paper():
    model = create_model(ModelConfig.for_features(VALOR_FEATURES))
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 6.16e6) < 0.01e6, n  # "about 6.16 M parameters with CLAP/CLIP inputs"
    without_rec = n - sum(p.numel() for name, p in model.named_parameters() if ".rec_" in name)
    assert abs(without_rec - 4.3e6) < 0.05e6, without_rec  # "4.3 M without the reconstruction decoders"


def test_output_shapes_and_head_consistency():
    cfg = ModelConfig.for_features(VALOR_FEATURES)
    model = create_model(cfg).eval()
    with torch.no_grad():
        out = model(*_inputs(cfg, 2))
    assert out.video_prob.shape == out.audio_prob.shape == out.visual_prob.shape == (2, 25)
    assert out.segment_prob.shape == out.segment_logits.shape == (2, 10, 2, 25)
    assert set(out.attn) == {"aa", "av", "vv", "va"}
    for m in out.attn.values():
        assert m.shape == (2, 10, 25, 25)
        torch.testing.assert_close(m.sum(-1), torch.ones(2, 10, 25))  # rows are attention distributions
    assert out.class_features.shape == (2, 10, 2, 26, 128)
    assert out.enhanced_features.shape == (2, 10, 2, 25, 128)
    torch.testing.assert_close(out.segment_prob, torch.sigmoid(out.segment_logits))
    # the scorers read the enhanced features: class c's logit = w_c . feature_c + b_c
    w, b = model.head.weight[0], model.head.bias[0]  # (25, 128), (25,)
    expected = (out.enhanced_features * w).sum(-1) + b
    torch.testing.assert_close(out.segment_logits, expected, rtol=0, atol=1e-5)
    # video probability is the attention-weighted mix of the two modalities' segment probabilities
    assert torch.all(out.video_prob <= torch.maximum(out.audio_prob, out.visual_prob) + 1e-6)


def test_eval_is_deterministic_and_train_uses_dropout():
    cfg = ModelConfig.for_features(VALOR_FEATURES)
    model = create_model(cfg)
    x = _inputs(cfg, 2)
    model.eval()
    with torch.no_grad():
        a, b = model(*x), model(*x)
    torch.testing.assert_close(a.video_prob, b.video_prob, rtol=0, atol=0)
    model.train()
    with torch.no_grad():
        c = model(*x)
    assert set(c.aux_losses) == {"rec_a", "rec_v", "ort_a", "ort_v"}
    assert not torch.allclose(c.video_prob, a.video_prob)


ABLATIONS = [
    {},
    {"use_cafd": False},
    {"use_background": False},
    {"dynamic_fusion": False},
    {"use_secm": False},
    {"use_lgsf": False},
    {"use_intra": False},
    {"use_cross": False},
    {"num_layers": 2},
    {"num_layers": 0},
]


def _train_step(cfg: ModelConfig):
    torch.manual_seed(0)
    model = create_model(cfg).train()
    out = model(*_inputs(cfg, 2))
    assert out.segment_logits.shape == (2, 10, 2, 25)
    loss = out.video_prob.mean() + out.segment_logits.pow(2).mean()
    loss = loss + sum(out.aux_losses.values(), torch.zeros(())) + sum(m.mean() for m in out.attn.values())
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} gets no gradient"
        assert torch.isfinite(p.grad).all(), name
    return out


def test_full_model_trains_with_han_features():
    _train_step(ModelConfig.for_features(HAN_FEATURES, num_layers=1))


@pytest.mark.parametrize(
    "switch",
    [pytest.param(s, marks=[pytest.mark.slow] if s else []) for s in ABLATIONS],
    ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "full",
)
def test_every_ablation_builds_runs_and_trains(switch):
    # one FGSE layer is enough to exercise a switch (they act inside each layer)
    cfg = ModelConfig.for_features(VALOR_FEATURES, **{"num_layers": 1, **switch})
    out = _train_step(cfg)
    # what each switch removes
    full = {"rec_a", "rec_v", "ort_a", "ort_v"}
    if switch.get("use_cafd") is False:
        assert out.aux_losses == {}
    elif switch.get("use_background") is False:
        assert set(out.aux_losses) == {"rec_a", "rec_v"}
        assert out.class_features.shape[3] == 25
    else:
        assert set(out.aux_losses) == full
    has_maps = cfg.num_layers > 0 and cfg.use_secm and cfg.use_intra and cfg.use_cross
    assert bool(out.attn) == has_maps


def test_fixed_fusion_uses_half_and_half():
    cfg = ModelConfig.for_features(VALOR_FEATURES, dynamic_fusion=False)
    model = create_model(cfg).eval()
    assert not any("alpha" in n for n, _ in model.named_parameters())
    a, v = torch.randn(1, 10, 256), torch.randn(1, 10, 256)
    with torch.no_grad():
        class_features, fused, _ = model.cafd(a, v)
        e = class_features[:, :, 0]  # audio (1, 10, 26, 128)
        x = torch.cat([0.5 * e[:, :, :25], 0.5 * e[:, :, 25:].expand(-1, -1, 25, -1)], dim=-1)
        expected = F.relu(model.cafd.reduce_a(x))
    torch.testing.assert_close(fused[0], expected, rtol=0, atol=1e-5)


def test_config_round_trip_builds_the_same_architecture():
    cfg = ModelConfig.for_features(HAN_FEATURES, num_layers=2)
    again = ModelConfig.from_dict(dataclasses.asdict(cfg))
    a, b = create_model(cfg), create_model(again)
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}


def test_chunked_inference_equals_one_pass(kernel_path):
    """Without autograd the model runs a few clips at a time (speed); the outputs must not change."""
    cfg = ModelConfig.for_features(VALOR_FEATURES, num_layers=2)
    model = create_model(cfg).eval()
    x = _inputs(cfg, 10)  # chunks of 4, 4, 2
    with torch.no_grad():
        chunked = model(*x)
        model.eval_chunk = 1000
        whole = model(*x)
    for name in (
        "video_prob",
        "audio_prob",
        "visual_prob",
        "segment_logits",
        "class_features",
        "enhanced_features",
    ):
        torch.testing.assert_close(getattr(chunked, name), getattr(whole, name), rtol=0, atol=1e-5)
    for k in whole.attn:
        torch.testing.assert_close(chunked.attn[k], whole.attn[k], rtol=0, atol=1e-6)
    assert chunked.video_prob.shape == (10, 25)


@pytest.mark.parametrize("relu", [False, True])
def test_fast_linear_matches_torch_linear_values_and_gradients(relu):
    """The oneDNN-backed linear (CPU float32) is F.linear (+ReLU), forward and backward."""
    from mmcse.models._fast import linear

    torch.manual_seed(0)
    x = torch.randn(2, 300, 128, requires_grad=True)
    w = torch.randn(96, 128, requires_grad=True)
    b = torch.randn(96, requires_grad=True)
    y = linear(x, w[:, :], b, relu=relu)
    g = torch.randn_like(y)
    grads = torch.autograd.grad((y * g).sum(), (x, w, b))
    ref = F.linear(x, w, b)
    ref = F.relu(ref) if relu else ref
    ref_grads = torch.autograd.grad((ref * g).sum(), (x, w, b))
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-4)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-3)
    with torch.no_grad():  # the inference path, on a strided weight
        torch.testing.assert_close(linear(x, w.t().contiguous().t(), b, relu=relu), ref, rtol=1e-5, atol=1e-4)


def test_training_maps_are_dropped_out_and_rescaled_like_multihead_attention(kernel_path):
    """In training the maps are the attention weights after dropout, scaled by 1/(1-p) (as
    nn.MultiheadAttention returns them): zeros appear and each row still sums to 1 on average."""
    cfg = ModelConfig.for_features(VALOR_FEATURES, num_layers=1)
    torch.manual_seed(0)
    model = create_model(cfg).train()
    with torch.no_grad():
        out = model(*_inputs(cfg, 4))
    for m in out.attn.values():
        rows = m.sum(-1)  # (4, 10, 25)
        assert abs(rows.mean().item() - 1.0) < 0.01
        assert rows.std().item() > 0.001  # dropped entries make rows differ from exactly 1


@pytest.mark.slow
def test_bench_reports_the_figures_it_measures():
    from mmcse.benchmarks.model import end_to_end, format_report, run_benchmark

    cfg = ModelConfig.for_features(VALOR_FEATURES, num_layers=1)
    res = run_benchmark(batch=2, iters=1, warmup=0, device="cpu", cfg=cfg, model=create_model(cfg))
    assert res.params == sum(p.numel() for p in create_model(cfg).parameters())
    assert len(res.eval_s) == 1 and len(res.train_s) == 3 and res.eval_s[0] > 0
    report = format_report(res)
    assert f"{res.params:,}" in report and "eval forward" in report and "train step" in report
    e2e = end_to_end(create_model(cfg), cfg, torch.device("cpu"), n_clips=12, batch=5)
    assert set(e2e["scores"]) == {"seg_a", "seg_v", "seg_av", "seg_type", "seg_event",
                                  "evt_a", "evt_v", "evt_av", "evt_type", "evt_event"}  # fmt: skip


def test_keep_mask_rate_independence_and_dtype():
    """Four 16-bit lanes per 64-bit random word: each lane is dropped with probability p (within 1e-5)
    and lanes of one word, and neighbouring words, are independent (pair rates p^2, not p)."""
    from mmcse.models._fast import keep_mask

    torch.manual_seed(0)
    n = 4_000_000
    keep = keep_mask((n // 8, 8), 0.1)
    assert keep.shape == (n // 8, 8) and keep.dtype == torch.float32
    assert set(keep.unique().tolist()) == {0.0, 1.0}
    lanes = (1.0 - keep).view(-1, 4).double()  # dropped; columns = the 4 lanes of one word
    rate = lanes.mean(0)
    assert (rate - 0.1).abs().max().item() < 4 * (0.09 / 1e6) ** 0.5  # 4 sigma, 1M draws per lane
    for i in range(4):  # pairs within a word and with the next word's lanes
        for j in range(i + 1, 4):
            both = (lanes[:, i] * lanes[:, j]).mean().item()
            assert abs(both - 0.01) < 4 * (0.0099 / 1e6) ** 0.5, (i, j)
        nxt = (lanes[:-1, i] * lanes[1:, i]).mean().item()
        assert abs(nxt - 0.01) < 4 * (0.0099 / 1e6) ** 0.5
    assert abs(keep_mask((1_000_000,), 0.5).double().mean().item() - 0.5) < 0.002
    assert keep_mask((5, 3), 0.0).eq(1).all() and keep_mask((5, 3), 1.0).eq(0).all()
    assert keep_mask((7,), 0.3).shape == (7,)  # numel not a multiple of 4
    assert keep_mask((3,), 0.1, dtype=torch.bfloat16).dtype == torch.bfloat16
    torch.manual_seed(3)
    first = keep_mask((64, 10, 25, 7), 0.1)
    torch.manual_seed(3)
    assert torch.equal(first, keep_mask((64, 10, 25, 7), 0.1))  # reproducible under manual_seed


@pytest.mark.parametrize("cross", [False, True])
@pytest.mark.parametrize("with_drop", [False, True])
def test_attention_core_matches_autograd_reference(cross, with_drop):
    """The hand-written attention backward gives autograd's gradients (outputs and head-averaged maps)."""
    from mmcse.models._fast import keep_mask
    from mmcse.models._fast.attention import _attention_core_reference, attention_core

    torch.manual_seed(0)
    M, N, C, D, H = 2, 6, 25, 32, 4
    qkv = torch.randn(M, N, C, 3 * D, requires_grad=True)
    keep = keep_mask((M * N * H, C, C), 0.1) if with_drop else None
    g_out, g_w = torch.randn(M, N, C, D), torch.randn(M, N, C, C)
    results = []
    for fn in (attention_core, _attention_core_reference):
        out, w = fn(qkv, H, cross, keep, True)
        (grad,) = torch.autograd.grad((out * g_out).sum() + (w * g_w).sum(), qkv)
        results.append((out, w, grad))
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # only the output used (no map): the map's gradient is absent, not an error
    out, _ = attention_core(qkv, H, cross, keep, False)
    (grad,) = torch.autograd.grad((out * g_out).sum(), qkv)
    ref_out, _ = _attention_core_reference(qkv, H, cross, keep, False)
    (ref_grad,) = torch.autograd.grad((ref_out * g_out).sum(), qkv)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-5)


def test_fast_linear_with_dropout_mask_matches_masked_relu():
    from mmcse.models._fast import keep_mask, linear

    torch.manual_seed(0)
    x = torch.randn(3, 100, 64, requires_grad=True)
    w = torch.randn(96, 64, requires_grad=True)
    b = torch.randn(96, requires_grad=True)
    keep = keep_mask((3, 100, 96), 0.1)
    drop = keep == 0
    y = linear(x, w, b, relu=True, keep=keep)
    ref = F.relu(F.linear(x, w, b)).masked_fill(drop, 0.0)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-4)
    g = torch.randn_like(y)
    for got, want in zip(
        torch.autograd.grad((y * g).sum(), (x, w, b)), torch.autograd.grad((ref * g).sum(), (x, w, b))
    ):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-3)
    with pytest.raises(ValueError):
        linear(x, w, b, relu=False, keep=keep)


def test_layers_sharing_an_input_get_exact_weight_gradients_from_one_cached_transpose():
    from mmcse.models._fast import onednn

    if onednn._ONEDNN_LINEAR is None:
        pytest.skip("this PyTorch build has no oneDNN linear")
    torch.manual_seed(0)
    x = torch.randn(300, 64, requires_grad=True)
    ws = [torch.randn(n, 64, requires_grad=True) for n in (192, 64, 32)]  # out > in, out == in, out < in
    bs = [torch.randn(n, requires_grad=True) for n in (192, 64, 32)]
    g_out = [torch.randn(300, n) for n in (192, 64, 32)]
    onednn._TRANSPOSES.clear()
    loss = sum((onednn.linear(x, w, b) * g).sum() for w, b, g in zip(ws, bs, g_out))
    got = torch.autograd.grad(loss, [x, *ws, *bs])
    assert len(onednn._TRANSPOSES.entries) == 1  # out >= in: both read [x 1]^T from one entry
    ref_loss = sum((F.linear(x, w, b) * g).sum() for w, b, g in zip(ws, bs, g_out))
    for g, want in zip(got, torch.autograd.grad(ref_loss, [x, *ws, *bs])):  # bias grads from the ones row
        torch.testing.assert_close(g, want, rtol=1e-5, atol=1e-3)

    # an in-place change to the cached tensor (its version moves) is never served stale
    a = torch.randn(50, 8)
    first = onednn._TRANSPOSES.transposed(a)
    assert onednn._TRANSPOSES.transposed(a) is first
    a.add_(1.0)
    torch.testing.assert_close(onednn._TRANSPOSES.transposed(a)[:-1], a.t())
    onednn._TRANSPOSES.clear()


def test_lgsf_gated_add_matches_autograd_including_zero_vectors():
    """The hand-written LGSF backward equals autograd's through the cosine gate (float64 gradcheck), also
    where a local feature or a global vector is all zero (ReLU outputs often are: the norm clamp)."""
    from mmcse.models._fast.lgsf import _GatedAdd, _relevance_gate, gated_add

    torch.manual_seed(0)
    shape, small = (2, 3, 4, 5, 6), (2, 3, 1, 5, 6)
    h = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    local = torch.randn(shape, dtype=torch.float64).relu().requires_grad_()
    g = torch.randn(small, dtype=torch.float64, requires_grad=True)
    wg = torch.randn(small, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_GatedAdd.apply, (h, local, g, wg))
    with torch.no_grad():  # zero rows: a local feature and a whole global vector
        local[0, 0, 0, 0] = 0.0
        g[1, 2, 0, 3] = 0.0
    g_out = torch.randn(shape, dtype=torch.float64)
    for dtype in (torch.float64, torch.float32):
        args = [t.detach().to(dtype).requires_grad_() for t in (h, local, g, wg)]
        got = _GatedAdd.apply(*args)
        want = torch.addcmul(args[0], _relevance_gate(args[1], args[2]), args[3])
        torch.testing.assert_close(got, want)
        for a, b in zip(
            torch.autograd.grad((got * g_out.to(dtype)).sum(), args),
            torch.autograd.grad((want * g_out.to(dtype)).sum(), args),
        ):
            torch.testing.assert_close(a, b)
    assert gated_add(*[t.float() for t in (h, local, g, wg)]).grad_fn.name() == "_GatedAddBackward"

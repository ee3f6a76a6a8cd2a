"""The models' two paths (mmcse.models._fast.config: MMCSE_FAST / set_fast_kernels) compute the same function.

Eval outputs (every ModelOutput field: probabilities, logits, the four maps, class and enhanced features,
aux losses) agree in float32 for small and paper-size MM-CSE, HAN and VALOR. Gradients of all parameters
(train mode, dropout 0) agree in float32 on small models, and in float64 at paper size with the fast path's
hand-written backward passes running in float64: at paper size some ReLU inputs lie within float32 rounding
of zero, so the two float32 paths legitimately take different sides of a kink there (one such unit moves
gradients by ~1e-3), in the plain path against itself in float64 as much as against the fast path.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmcse.config import HAN_FEATURES, VALOR_FEATURES, ModelConfig
from mmcse.models import _fast, create_model
from mmcse.models._fast import attention, lgsf, onednn
from mmcse.models._fast.config import fast_kernels
from mmcse.models.fgse import ClassAttention

SMALL = {"d_model": 16, "d_class": 8, "num_heads": 2, "num_layers": 2}
CONFIGS = {  # name -> (config, batch)
    "mmcse-small-clap": (ModelConfig.for_features(VALOR_FEATURES, **SMALL), 1),
    "mmcse-small-vggish": (ModelConfig.for_features(HAN_FEATURES, **SMALL), 1),
    "han-small": (ModelConfig.for_features(HAN_FEATURES, arch="han", d_model=16, num_layers=1, num_heads=1), 1),
    "valor-small": (ModelConfig.for_features(VALOR_FEATURES, arch="valor", d_model=16, num_layers=2, num_heads=2), 1),
    "mmcse-paper": (ModelConfig.for_features(VALOR_FEATURES), 2),  # CLAP/CLIP, 4 layers, d 256, d_c 128
    "han-paper": (ModelConfig.for_features(HAN_FEATURES, arch="han", d_model=512, num_layers=1, num_heads=1), 2),
    "valor-paper": (ModelConfig.for_features(VALOR_FEATURES, arch="valor", d_model=256, num_layers=4, num_heads=8), 2),
}  # fmt: skip
SMALL_CONFIGS = [k for k in CONFIGS if k.endswith("small") or "-small-" in k]
ABLATIONS = [{"use_cafd": False}, {"use_background": False}, {"dynamic_fusion": False}, {"use_secm": False},
             {"use_lgsf": False}, {"use_intra": False}, {"use_cross": False}]  # fmt: skip


def _inputs(cfg: ModelConfig, batch: int, seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    shapes = [(cfg.audio_len, cfg.audio_dim), (cfg.visual_len, cfg.visual_dim), (10, cfg.visual_st_dim)]
    return [torch.randn(batch, *s, generator=g).to(dtype) for s in shapes]


def _fields(out) -> dict[str, torch.Tensor]:
    """Every tensor a ModelOutput carries, by name."""
    names = ("video_prob", "audio_prob", "visual_prob", "segment_prob", "segment_logits")
    fields = {n: getattr(out, n) for n in (*names, "class_features", "enhanced_features")}
    fields.update({f"attn_{k}": v for k, v in out.attn.items()})
    fields.update({f"aux_{k}": v for k, v in out.aux_losses.items()})
    return {k: v for k, v in fields.items() if v is not None}


def _forward(cfg, batch, fast, *, train=False, seed=0, dtype=torch.float32):
    """(output fields, parameter gradients) of one model built with ``seed``; ``train``: in train mode with
    a random linear loss on every output field, backward."""
    torch.manual_seed(seed)
    model = create_model(cfg).to(dtype).train(train)
    x = _inputs(cfg, batch, seed, dtype)
    with fast_kernels(fast), torch.set_grad_enabled(train):
        out = _fields(model(*x, with_aux=True) if cfg.arch == "mmcse" else model(*x))
        if not train:
            return out, {}
        g = torch.Generator().manual_seed(seed + 1)
        loss = sum((v * torch.randn(v.shape, generator=g).to(dtype)).sum() for v in out.values())
        loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None for g in grads.values())
    return {k: v.detach() for k, v in out.items()}, grads


def _assert_same(got: dict, want: dict, rel: float) -> None:
    """Equal within ``rel`` of each tensor's largest entry (and of 1% of the largest entry of all, for
    gradients that are zero in exact arithmetic, e.g. a bias under a softmax)."""
    assert got.keys() == want.keys()
    largest = max(v.abs().max().item() for v in want.values())
    for k, w in want.items():
        scale = max(w.abs().max().item(), 1e-2 * largest)
        torch.testing.assert_close(got[k], w, rtol=rel, atol=rel * scale, msg=lambda m, k=k: f"{k}: {m}")


def _relu_inputs_clear_of_zero(cfg, batch, seed, margin: float) -> bool:
    """Whether every ReLU input of the plain float32 forward is at least ``margin`` from 0 (then rounding
    differences between the paths cannot flip a unit on or off, and gradients are comparable)."""
    smallest = []
    relu = F.relu

    def recording_relu(x, inplace=False):
        smallest.append(x.detach().abs().min().item())
        return relu(x, inplace)

    F.relu = recording_relu
    try:
        _forward(cfg, batch, False, train=True, seed=seed)
    finally:
        F.relu = relu
    return min(smallest) >= margin


@pytest.mark.parametrize("name", list(CONFIGS))
def test_eval_outputs_are_equal(name):
    cfg, batch = CONFIGS[name]
    fast, _ = _forward(cfg, batch, True)
    plain, _ = _forward(cfg, batch, False)
    if cfg.arch == "mmcse":  # every field is compared, the maps and aux terms included
        assert {"attn_aa", "attn_va", "aux_rec_a", "aux_ort_v", "class_features"} <= set(plain)
    _assert_same(fast, plain, 1e-5)


@pytest.mark.parametrize("ablation", ABLATIONS, ids=lambda a: ",".join(f"{k}={v}" for k, v in a.items()))
def test_eval_outputs_are_equal_for_every_ablation(ablation):
    cfg = ModelConfig.for_features(VALOR_FEATURES, **SMALL, **ablation)
    _assert_same(_forward(cfg, 2, True)[0], _forward(cfg, 2, False)[0], 1e-5)


@pytest.mark.parametrize("name", SMALL_CONFIGS)
def test_float32_gradients_are_equal_on_small_models(name):
    cfg, batch = CONFIGS[name]
    cfg = ModelConfig.from_dict({**cfg.to_dict(), "dropout": 0.0})
    seed = next(s for s in range(20) if _relu_inputs_clear_of_zero(cfg, batch, s, margin=2e-6))
    out_fast, grad_fast = _forward(cfg, batch, True, train=True, seed=seed)
    out_plain, grad_plain = _forward(cfg, batch, False, train=True, seed=seed)
    _assert_same(out_fast, out_plain, 1e-5)
    _assert_same(grad_fast, grad_plain, 1e-5)


def _onednn_stand_in(x, weight, bias, attr, scalars, algorithm):
    """oneDNN's fused linear op in any dtype: x W^T + b, then ReLU when ``attr == "relu"``."""
    y = F.linear(x, weight, bias)
    return F.relu(y) if attr == "relu" else y


@pytest.fixture()
def float64_fast_kernels(monkeypatch):
    """Production runs the hand-written autograd Functions for float32 only (float64 falls back to plain
    autograd); this runs them in float64 too: oneDNN's op replaced by the same maths in torch ops."""
    monkeypatch.setattr(onednn, "_ONEDNN_LINEAR", _onednn_stand_in)
    monkeypatch.setattr(onednn, "_use_onednn", lambda x, weight: True)
    calls = {"linear": 0, "attention": 0, "gate": 0}

    def linear_function(*args):
        calls["linear"] += 1
        return real_linear(*args)

    def attention_core(qkv, *args):
        calls["attention"] += 1
        return attention._AttentionCore.apply(qkv, *args)

    def gated_add(*args):
        calls["gate"] += 1
        return lgsf._GatedAdd.apply(*args)

    real_linear = onednn._OneDNNLinear.apply
    monkeypatch.setattr(onednn._OneDNNLinear, "apply", linear_function)
    monkeypatch.setattr(attention, "attention_core", attention_core)
    monkeypatch.setattr(lgsf, "gated_add", gated_add)
    return calls


@pytest.mark.parametrize(
    "overrides",
    [{}, *[pytest.param({"num_layers": 1, **a}, marks=pytest.mark.slow) for a in ABLATIONS]],
    ids=lambda a: ",".join(f"{k}={v}" for k, v in a.items()) or "paper",
)
def test_float64_gradients_are_equal_at_paper_size(float64_fast_kernels, overrides):
    cfg = ModelConfig.for_features(VALOR_FEATURES, **{**overrides, "dropout": 0.0})
    out_fast, grad_fast = _forward(cfg, 2, True, train=True, dtype=torch.float64)
    calls = dict(float64_fast_kernels)
    out_plain, grad_plain = _forward(cfg, 2, False, train=True, dtype=torch.float64)
    assert float64_fast_kernels == calls  # the plain path runs none of them
    assert calls["linear"] > 0
    assert (calls["attention"] > 0) == (cfg.use_secm and (cfg.use_intra or cfg.use_cross))
    assert (calls["gate"] > 0) == cfg.use_lgsf
    _assert_same(out_fast, out_plain, 1e-9)
    _assert_same(grad_fast, grad_plain, 1e-9)


@pytest.mark.parametrize("arch", ["han", "valor"])
def test_float64_gradients_are_equal_for_han_and_valor(float64_fast_kernels, arch):
    cfg, batch = CONFIGS[f"{arch}-paper"]
    out_fast, grad_fast = _forward(cfg, batch, True, train=True, dtype=torch.float64)
    out_plain, grad_plain = _forward(cfg, batch, False, train=True, dtype=torch.float64)
    assert float64_fast_kernels["linear"] > 0
    _assert_same(out_fast, out_plain, 1e-9)
    _assert_same(grad_fast, grad_plain, 1e-9)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
@pytest.mark.parametrize("cross", [False, True], ids=["intra", "cross"])
def test_class_attention_is_multihead_attention_over_class_tokens(fast, cross):
    """SECM on x (2, B, T, C, D) == nn.MultiheadAttention over the C tokens of each segment, with the
    same parameters (same names), keys/values from the other modality for the cross branch."""
    torch.manual_seed(0)
    M, B, T, C, D, H = 2, 2, 3, 25, 16, 4
    secm = ClassAttention(D, H, dropout=0.1).eval()
    mha = nn.MultiheadAttention(D, H, dropout=0.1, batch_first=True).eval()
    mha.load_state_dict(secm.state_dict())
    x = torch.randn(M, B, T, C, D)
    kv = x.flip(0) if cross else x
    with torch.no_grad(), fast_kernels(fast):
        out, weights = secm(x, cross=cross, need_weights=True)
        want, want_w = mha(x.reshape(-1, C, D), kv.reshape(-1, C, D), kv.reshape(-1, C, D))
    torch.testing.assert_close(out, want.view(M, B, T, C, D), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(weights, want_w.view(M, B, T, C, C), rtol=1e-5, atol=1e-6)


def test_the_plain_path_uses_no_fast_kernel(monkeypatch):
    """With the switch off, training (dropout on) and inference never reach mmcse.models._fast's kernels."""
    cfg, batch = CONFIGS["mmcse-small-clap"]

    def refuse(*args, **kwargs):
        raise AssertionError("the plain path called a fast kernel")

    for name in ("linear", "class_attention", "gated_fc_sum", "keep_mask", "training_keep_mask"):
        monkeypatch.setattr(_fast, name, refuse)
    out, grads = _forward(cfg, batch, False, train=True)
    assert all(torch.isfinite(g).all() for g in grads.values())
    with pytest.raises(AssertionError, match="fast kernel"):
        _forward(cfg, batch, True, train=True)

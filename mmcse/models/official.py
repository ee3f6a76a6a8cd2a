"""The authors' MM-CSE checkpoint (``checkpoint_best.pth``): read safely, mapped onto our MMCSE parameters.

    import_official(path) -> MMCSE in eval mode
    official_feature_spec(model, override=None)       the FeatureSpec its dims imply (valor | han)
    convert_official_state_dict(state) / to_official_state_dict(state)   the name mapping, both ways

The file is read with ``torch.load(weights_only=True)``: tensors only, never unpickled. Any missing, extra
or mis-shaped key is refused with a message listing them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mmcse.config import FeatureSpec, ModelConfig, feature_preset
from mmcse.models.mmcse import MMCSE
from mmcse.models.weights import load_strict

# audio / visual feature width in the official fc_a / fc_v -> (sequence length, feature preset)
_OFFICIAL_AUDIO = {768: (64, "valor"), 128: (10, "han")}  # CLAP maps (64, 768) | VGGish (10, 128)
_OFFICIAL_VISUAL = {768: (10, "valor"), 2048: (80, "han")}  # CLIP (10, 768) | ResNet-152 (80, 2048)
_OFFICIAL_HEADS = {"fc_prob": 0, "fc_frame_att": 1, "fc_av_att": 2}
# the 26 per-class CAFD heads: official module (index in its nn.Sequential) -> our stacked parameter
_OFFICIAL_CLASS_HEADS = {
    "a_unmix.{k}.1": "cafd.audio_heads",
    "v_unmix.{k}.1": "cafd.visual_heads1",
    "v_unmix.{k}.4": "cafd.visual_heads2",
}
# official layer-local names -> ours, inside av_enhance.layers.<i>.
_OFFICIAL_LAYER = {
    "SECM_1.attn.in_proj_weight": "secm_intra.in_proj_weight",
    "SECM_1.attn.in_proj_bias": "secm_intra.in_proj_bias",
    "SECM_1.attn.out_proj.weight": "secm_intra.out_proj.weight",
    "SECM_1.attn.out_proj.bias": "secm_intra.out_proj.bias",
    "SECM_2.attn.in_proj_weight": "secm_cross.in_proj_weight",
    "SECM_2.attn.in_proj_bias": "secm_cross.in_proj_bias",
    "SECM_2.attn.out_proj.weight": "secm_cross.out_proj.weight",
    "SECM_2.attn.out_proj.bias": "secm_cross.out_proj.bias",
    "LGSF_2.glob.weight": "lgsf_cross.weight",
    "LGSF_2.glob.bias": "lgsf_cross.bias",
    "fc1.weight": "fc_intra.weight",
    "fc1.bias": "fc_intra.bias",
    "fc2.weight": "fc_cross.weight",
    "fc2.bias": "fc_cross.bias",
    "norm1.weight": "norm.weight",
    "norm1.bias": "norm.bias",
    "linear1.weight": "ffn_in.weight",
    "linear1.bias": "ffn_in.bias",
    "linear2.weight": "ffn_out.weight",
    "linear2.bias": "ffn_out.bias",
}
# official whole-model names -> ours (the per-class and fused ones are handled in code)
_OFFICIAL_PLAIN = {
    **{
        f"{n}.{p}": f"proj.{n}.{p}"
        for n in ("fc_a", "fc_v", "fc_st", "fc_fusion")
        for p in ("weight", "bias")
    },
    **{f"a_recon.0.{p}": f"cafd.rec_a.fc1.{p}" for p in ("weight", "bias")},
    **{f"a_recon.2.{p}": f"cafd.rec_a.fc2.{p}" for p in ("weight", "bias")},
    **{f"v_recon.model.1.{p}": f"cafd.rec_v.fc1.{p}" for p in ("weight", "bias")},
    **{f"v_recon.model.3.{p}": f"cafd.rec_v.fc2.{p}" for p in ("weight", "bias")},
    **{f"alpha_{m}.model.1.{p}": f"cafd.alpha_{m}.fc1.{p}" for m in "av" for p in ("weight", "bias")},
    **{f"alpha_{m}.model.4.{p}": f"cafd.alpha_{m}.fc2.{p}" for m in "av" for p in ("weight", "bias")},
    **{f"reduce_{m}.0.{p}": f"cafd.reduce_{m}.{p}" for m in "av" for p in ("weight", "bias")},
}


def _unwrap_official(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(
            f"{path}: not a state_dict of tensors (nor one under 'model' / 'state_dict'); "
            "expected the authors' checkpoint_best.pth"
        )
    if all(k.startswith("module.") for k in obj):  # saved from DDP
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def official_config(
    state: dict[str, torch.Tensor], path: Path | str = "<state_dict>"
) -> tuple[ModelConfig, str]:
    """The ModelConfig (dims read from the weights) and feature preset name of an official state_dict."""
    need = ("fc_a.weight", "fc_v.weight", "fc_st.weight")
    missing = [k for k in need if k not in state]
    if missing and all(f"proj.{k}" in state for k in need):  # MMCSE's own parameter names
        raise ValueError(
            f"{path}: holds an mmcse model's state_dict (proj.fc_a.weight, ...), not the authors' layout "
            "(fc_a.weight, ...); import-official converts the authors' checkpoint_best.pth only: write an "
            "mmcse model with mmcse.checkpoint.save_checkpoint, or use the .safetensors that train wrote"
        )
    if missing:
        raise ValueError(f"{path}: not an MM-CSE state_dict, missing keys: {', '.join(missing)}")
    d, audio_dim = state["fc_a.weight"].shape
    visual_dim = state["fc_v.weight"].shape[1]
    if audio_dim not in _OFFICIAL_AUDIO or visual_dim not in _OFFICIAL_VISUAL:
        raise ValueError(
            f"{path}: fc_a.weight {tuple(state['fc_a.weight'].shape)} / fc_v.weight "
            f"{tuple(state['fc_v.weight'].shape)}: expected audio width 768 (CLAP) or 128 (VGGish) and "
            "visual width 768 (CLIP) or 2048 (ResNet-152)"
        )
    audio_len, preset = _OFFICIAL_AUDIO[audio_dim]
    visual_len, _ = _OFFICIAL_VISUAL[visual_dim]
    layers = {int(m.group(1)) for k in state if (m := re.match(r"av_enhance\.layers\.(\d+)\.", k))}
    d_class = state["a_unmix.0.1.weight"].shape[0] if "a_unmix.0.1.weight" in state else 128
    cfg = ModelConfig(
        arch="mmcse",
        audio_dim=int(audio_dim),
        audio_len=audio_len,
        visual_dim=int(visual_dim),
        visual_len=visual_len,
        visual_st_dim=int(state["fc_st.weight"].shape[1]),
        d_model=int(d),
        d_class=int(d_class),
        num_layers=max(layers) + 1 if layers else 0,
        num_heads=8,  # not recorded in the weights; the release uses 8
    )
    return cfg, preset


def convert_official_state_dict(
    state: dict[str, torch.Tensor], num_classes: int = 25
) -> dict[str, torch.Tensor]:
    """The authors' state_dict (already checked by ``check_official_keys``) -> MMCSE's parameter names:
    renamed, the 26 class heads and 3 x 25 scorers stacked into batched weights, LGSF_1's two Linear
    layers concatenated. ``av_enhance.final_norm_a/v`` are dropped: the released forward never applies them."""
    out = {dst: state[src] for src, dst in _OFFICIAL_PLAIN.items()}
    for prefix, dst in _OFFICIAL_CLASS_HEADS.items():
        for p in ("weight", "bias"):
            out[f"{dst}.{p}"] = torch.stack(
                [state[f"{prefix.format(k=k)}.{p}"] for k in range(num_classes + 1)]
            )
    for p in ("weight", "bias"):  # head.weight (3, 25, d_c), head.bias (3, 25)
        out[f"head.{p}"] = torch.stack(
            [
                torch.stack([state[f"{name}.fc.{k}.{p}"][0] for k in range(num_classes)])
                for name in _OFFICIAL_HEADS
            ]
        )
    layers = sorted({int(m.group(1)) for k in state if (m := re.match(r"av_enhance\.layers\.(\d+)\.", k))})
    for i in layers:
        src, dst = f"av_enhance.layers.{i}.", f"fgse.layers.{i}."
        out.update({dst + b: state[src + a] for a, b in _OFFICIAL_LAYER.items()})
        for p in ("weight", "bias"):
            out[f"{dst}lgsf_intra.{p}"] = torch.cat(
                [state[f"{src}LGSF_1.glob1.{p}"], state[f"{src}LGSF_1.glob2.{p}"]]
            )
    return out


def to_official_state_dict(state: dict[str, torch.Tensor], num_classes: int = 25) -> dict[str, torch.Tensor]:
    """The inverse of ``convert_official_state_dict``: an MMCSE state_dict in the authors' layout (with
    identity ``final_norm_a/v``, which their forward never uses)."""
    out = {src: state[dst] for src, dst in _OFFICIAL_PLAIN.items()}
    for prefix, dst in _OFFICIAL_CLASS_HEADS.items():
        for p in ("weight", "bias"):
            out.update({f"{prefix.format(k=k)}.{p}": t for k, t in enumerate(state[f"{dst}.{p}"].unbind(0))})
    for idx, name in enumerate(_OFFICIAL_HEADS):
        for k in range(num_classes):
            out[f"{name}.fc.{k}.weight"] = state["head.weight"][idx, k].unsqueeze(0)  # (1, d_c)
            out[f"{name}.fc.{k}.bias"] = state["head.bias"][idx, k].reshape(1)  # (1,)
    layers = sorted({int(m.group(1)) for k in state if (m := re.match(r"fgse\.layers\.(\d+)\.", k))})
    for i in layers:
        src, dst = f"av_enhance.layers.{i}.", f"fgse.layers.{i}."
        out.update({src + a: state[dst + b] for a, b in _OFFICIAL_LAYER.items()})
        for p in ("weight", "bias"):
            g1, g2 = state[f"{dst}lgsf_intra.{p}"].chunk(2)
            out[f"{src}LGSF_1.glob1.{p}"], out[f"{src}LGSF_1.glob2.{p}"] = g1, g2
    d_class = state["head.weight"].shape[-1]
    for m in "av":
        out[f"av_enhance.final_norm_{m}.weight"] = torch.ones(d_class)
        out[f"av_enhance.final_norm_{m}.bias"] = torch.zeros(d_class)
    return {k: v.contiguous() for k, v in out.items()}


def check_official_keys(state: dict[str, torch.Tensor], cfg: ModelConfig, path: Path | str) -> None:
    """Refuse a state_dict whose keys / shapes differ from the authors' MM-CSE of ``cfg``, naming them."""

    with torch.device("meta"):  # shapes only, no memory, no init cost
        expected = {k: tuple(v.shape) for k, v in to_official_state_dict(MMCSE(cfg).state_dict()).items()}
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = sorted(
        f"{k} {tuple(state[k].shape)} (expected {expected[k]})"
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != expected[k]
    )
    if missing or extra or shapes:
        parts = [f"missing keys: {', '.join(missing)}"] if missing else []
        parts += [f"unexpected keys: {', '.join(extra)}"] if extra else []
        parts += [f"mis-shaped keys: {', '.join(shapes)}"] if shapes else []
        raise ValueError(
            f"{path}: not the authors' MM-CSE state_dict (expected {len(expected)} keys for "
            f"{cfg.num_layers} FGSE layers); " + "; ".join(parts)
        )


def import_official(path: str | os.PathLike) -> nn.Module:
    """The authors' MM-CSE checkpoint (``checkpoint_best.pth``) as an ``MMCSE`` model in eval mode.

    Feature dims come from the weights (fc_a (256, 768) -> CLAP maps (64, 768); (256, 128) -> VGGish;
    fc_v (256, 2048) -> ResNet-152 (80 frames); (256, 768) -> CLIP). Accepts a bare state_dict, one under
    "model" / "state_dict", and DDP's "module." prefix. Any missing, extra or mis-shaped key is refused
    with a message listing them. The file is read with ``torch.load(weights_only=True)`` (never unpickled).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    if _is_mmcse_checkpoint(path):
        raise ValueError(
            f"{path} is already an mmcse checkpoint (a .safetensors written by train or import-official); "
            "no import needed: give it to evaluate, parse or the app as it is"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, truncated, or objects other than tensors (refused unread)
        raise ValueError(
            f"{path}: cannot read it as a PyTorch state_dict of tensors ({type(exc).__name__}; read with torch.load("
            "weights_only=True), which accepts tensors only); expected the authors' checkpoint_best.pth"
        ) from None
    state = _unwrap_official(obj, path)
    cfg, preset = official_config(state, path)
    check_official_keys(state, cfg, path)
    model = MMCSE(cfg)
    load_strict(model, convert_official_state_dict(state, cfg.num_classes), path, what="MM-CSE")
    model.official_feature_preset = preset
    return model.eval()


def _is_mmcse_checkpoint(path: Path) -> bool:
    """A safetensors file carrying mmcse's metadata (key "mmcse", mmcse.checkpoint.META_KEY); header only."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            return "mmcse" in (f.metadata() or {})
    except Exception:  # not a safetensors file: the authors' .pth, or junk that torch.load refuses below
        return False


def official_feature_spec(model: nn.Module, override: str | None = None) -> FeatureSpec:
    """The FeatureSpec of an imported model: ``override`` (valor | han) or the one its dims imply."""
    name = override or getattr(model, "official_feature_preset", "valor")
    spec = feature_preset(name)
    cfg = model.cfg
    if (spec.audio.shape, spec.visual.shape) != (
        (cfg.audio_len, cfg.audio_dim),
        (cfg.visual_len, cfg.visual_dim),
    ):
        raise ValueError(
            f"feature preset {name!r} has audio {spec.audio.shape} and visual {spec.visual.shape}, but the "
            f"checkpoint's weights expect audio ({cfg.audio_len}, {cfg.audio_dim}) and visual "
            f"({cfg.visual_len}, {cfg.visual_dim})"
        )
    return spec


__all__ = [
    "check_official_keys",
    "convert_official_state_dict",
    "import_official",
    "official_config",
    "official_feature_spec",
    "to_official_state_dict",
]

"""Checkpoints: one self-describing ``.safetensors`` file (weights + JSON metadata), and the import of the
authors' MM-CSE ``checkpoint_best.pth``.

    save_checkpoint(path, model, model_config=..., feature_spec=..., train_config=None, metrics=None, extra=None)
    load_checkpoint(path, device="cpu") -> LoadedCheckpoint   (.model in eval mode, .model_config, ...)
    read_checkpoint_meta(path) -> dict                        (metadata only, no model built)
    import_official(path) -> MMCSE in eval mode               (the authors' state_dict, read safely)

The metadata is a JSON string stored under the safetensors metadata key ``"mmcse"``. Nothing is ever
unpickled: weights are safetensors; the authors' ``.pth`` is read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mmcse.classes import LLP_CLASSES
from mmcse.config import FeatureSpec, ModelConfig, TrainConfig, feature_preset

META_KEY = "mmcse"
FORMAT = "mmcse-checkpoint"
FORMAT_VERSION = 1


@dataclass
class LoadedCheckpoint:
    model: nn.Module
    model_config: ModelConfig
    feature_spec: FeatureSpec
    train_config: TrainConfig | None
    metrics: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    model_config: ModelConfig,
    feature_spec: FeatureSpec,
    train_config: TrainConfig | None = None,
    metrics: dict | None = None,
    extra: dict | None = None,
) -> None:
    """Write ``model``'s weights and what built it to ONE .safetensors file (temp file, then rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    model = getattr(model, "module", model)  # unwrap DDP
    tensors = {k: t.detach().to("cpu").contiguous() for k, t in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": model_config.arch,
        "model_config": model_config.to_dict(),
        "feature_spec": feature_spec.to_dict(),
        "train_config": train_config.to_dict() if train_config is not None else None,
        "class_order": list(LLP_CLASSES),
        "seed": train_config.seed if train_config is not None else None,
        "gating": train_config.gating if train_config is not None else "mmcse",
        "metrics": metrics or {},
        "extra": extra or {},
        "git_revision": _git_revision(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "num_parameters": sum(int(t.numel()) for t in tensors.values()),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={META_KEY: json.dumps(meta)})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _bad_file(path: Path, why: str) -> ValueError:
    return ValueError(
        f"{path}: not a usable mmcse checkpoint ({why}); expected a .safetensors file written by "
        "mmcse (train, or `python -m mmcse import-official` for the authors' .pth); re-create or re-download it"
    )


def read_checkpoint_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata dict of an mmcse checkpoint, without building the model."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(META_KEY)
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise _bad_file(path, f"cannot read a safetensors header: {exc}") from None
    if raw is None:
        raise _bad_file(path, f"safetensors file without the {META_KEY!r} metadata")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _bad_file(path, f"metadata is not valid JSON: {exc}") from None
    if meta.get("format") != FORMAT:
        raise _bad_file(path, f"metadata format is {meta.get('format')!r}")
    if int(meta.get("format_version", -1)) > FORMAT_VERSION:
        raise _bad_file(
            path, f"format version {meta.get('format_version')} is newer than this mmcse ({FORMAT_VERSION})"
        )
    for key in ("model_config", "feature_spec"):
        if not isinstance(meta.get(key), dict):
            raise _bad_file(path, f"metadata lacks {key!r}")
    return meta


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Build the model a checkpoint describes (any arch, via ``create_model``) and load its weights."""
    from safetensors.torch import load_file

    from mmcse.models import create_model

    path = Path(path)
    meta = read_checkpoint_meta(path)
    try:
        model_config = ModelConfig.from_dict(meta["model_config"])
        feature_spec = FeatureSpec.from_dict(meta["feature_spec"])
        train_config = TrainConfig.from_dict(meta["train_config"]) if meta.get("train_config") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad_file(path, f"metadata does not describe a model this mmcse can build: {exc}") from None
    if list(meta.get("class_order", LLP_CLASSES)) != list(LLP_CLASSES):
        raise _bad_file(path, "its class order differs from the 25 LLP classes of mmcse.classes")
    try:
        state = load_file(str(path), device="cpu")
    except Exception as exc:
        raise _bad_file(path, f"cannot read the weights (truncated or corrupted?): {exc}") from None
    model = create_model(model_config)
    _load_strict(model, state, path)
    model.to(device).eval()
    return LoadedCheckpoint(
        model=model,
        model_config=model_config,
        feature_spec=feature_spec,
        train_config=train_config,
        metrics=dict(meta.get("metrics") or {}),
        meta=meta,
    )


def _load_strict(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    path: Path | str,
    what: str = "the model its metadata describes",
) -> None:
    """load_state_dict(strict) with one readable error listing missing, unexpected and mis-shaped keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = sorted(
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected keys: {', '.join(extra)}")
        if shapes:
            parts.append(f"mis-shaped keys: {', '.join(shapes)}")
        raise ValueError(f"{path}: weights do not fit {what}; " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


# ---------------------------------------------------------------------------------------------------------
# the authors' checkpoint
# ---------------------------------------------------------------------------------------------------------

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
    from mmcse.models.mmcse import MMCSE

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
    from mmcse.models.mmcse import MMCSE

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file not found")
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
    _load_strict(model, convert_official_state_dict(state, cfg.num_classes), path, what="MM-CSE")
    model.official_feature_preset = preset
    return model.eval()


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

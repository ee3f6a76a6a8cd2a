"""Typed configuration: feature specs, model and training configs, named presets.

Everything here is a plain dataclass that round-trips through JSON (``to_dict`` / ``from_dict``), so a
checkpoint or a run folder can store exactly what built it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mmcse import validation


@dataclass(frozen=True)
class StreamSpec:
    """One input stream: the folder name under the feature root and the per-clip array shape."""

    name: str  # folder under <root>/, e.g. "vggish" or "CLAP/features"
    shape: tuple[int, int]  # per clip, e.g. (10, 128)
    description: str = ""


@dataclass(frozen=True)
class FeatureSpec:
    """The three input streams of a model (audio, visual 2D, visual 3D) and optional pseudo labels."""

    name: str
    audio: StreamSpec
    visual: StreamSpec
    visual_st: StreamSpec
    # VALOR segment pseudo labels, (10, 25) 0/1 per clip, when the feature set ships them.
    pseudo_audio: str | None = None
    pseudo_visual: str | None = None

    @property
    def streams(self) -> dict[str, StreamSpec]:
        return {"audio": self.audio, "visual": self.visual, "visual_st": self.visual_st}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "feature spec", prefix: str = "") -> FeatureSpec:
        """``to_dict``'s form, checked (mmcse.validation); ``source`` / ``prefix`` name it in errors."""
        validation.validate_feature_spec(d, source, prefix=prefix)

        def stream(s: dict[str, Any]) -> StreamSpec:
            return StreamSpec(name=s["name"], shape=tuple(s["shape"]), description=s.get("description", ""))

        return cls(
            name=d["name"],
            audio=stream(d["audio"]),
            visual=stream(d["visual"]),
            visual_st=stream(d["visual_st"]),
            pseudo_audio=d.get("pseudo_audio"),
            pseudo_visual=d.get("pseudo_visual"),
        )

    def same_inputs(self, other: FeatureSpec) -> bool:
        """True when a model built for ``self`` can run on features of ``other`` (names and shapes)."""
        return all(
            (a.name, tuple(a.shape)) == (b.name, tuple(b.shape))
            for a, b in zip(self.streams.values(), other.streams.values())
        )


HAN_FEATURES = FeatureSpec(
    name="han",
    audio=StreamSpec("vggish", (10, 128), "VGGish embedding per ~0.96 s of 16 kHz audio"),
    visual=StreamSpec("res152", (80, 2048), "ImageNet ResNet-152 pooled features, 80 frames at 8 fps"),
    visual_st=StreamSpec("r2plus1d_18", (10, 512), "Kinetics R(2+1)D-18, 10 clips of 8 frames"),
)

VALOR_FEATURES = FeatureSpec(
    name="valor",
    audio=StreamSpec("CLAP/features", (64, 768), "LAION-CLAP HTSAT-fusion feature map of the 10-s clip"),
    visual=StreamSpec("CLIP/features", (10, 768), "CLIP ViT-L/14 image embeddings, L2-normalised"),
    visual_st=StreamSpec("r2plus1d_18", (10, 512), "Kinetics R(2+1)D-18, 10 clips of 8 frames"),
    pseudo_audio="CLAP/segment_pseudo_labels",
    pseudo_visual="CLIP/segment_pseudo_labels",
)

DEMO_FEATURES = FeatureSpec(  # made by mmcse.demo.features.DemoExtractor from the demo's clips
    name="demo",
    audio=StreamSpec("demo_audio", (10, 128), "log-mel statistics + spectral/pitch/rhythm per 1-s segment"),
    visual=StreamSpec("demo_frames", (10, 240), "colour, layout, gradient and foreground descriptors, mean of 8 frames"),
    visual_st=StreamSpec("demo_motion", (10, 128), "frame-difference energy, flow directions, periodicity, moving colours"),
    pseudo_audio="simulated_pseudo/audio",
    pseudo_visual="simulated_pseudo/visual",
)  # fmt: skip

FEATURE_PRESETS: dict[str, FeatureSpec] = {"han": HAN_FEATURES, "valor": VALOR_FEATURES, "demo": DEMO_FEATURES}


def describe_streams(spec: FeatureSpec) -> str:
    """The streams of a spec for messages: "vggish (10, 128), res152 (80, 2048), r2plus1d_18 (10, 512)"."""
    return ", ".join(f"{s.name} {tuple(s.shape)}" for s in spec.streams.values())


def check_same_inputs(checkpoint_spec: FeatureSpec, data_spec: FeatureSpec, where: str = "the dataset") -> None:
    """Raise a clear ValueError when a checkpoint cannot run on features of another spec."""
    if checkpoint_spec.same_inputs(data_spec):
        return

    raise ValueError(
        f"the checkpoint was trained on '{checkpoint_spec.name}' features ({describe_streams(checkpoint_spec)}) "
        f"but {where} holds '{data_spec.name}' features ({describe_streams(data_spec)}); pick a checkpoint trained on "
        f"'{data_spec.name}' features or a dataset with '{checkpoint_spec.name}' features"
    )


def feature_preset(name: str) -> FeatureSpec:
    try:
        return FEATURE_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown feature preset {name!r}; expected one of: han, valor, demo") from None


@dataclass
class ModelConfig:
    """Architecture and loss weights. ``arch`` is one of mmcse | han | valor.

    Input dims/lengths come from the FeatureSpec (``ModelConfig.for_features``).
    The ablation switches reproduce the paper's ablation rows.
    """

    arch: str = "mmcse"
    audio_dim: int = 768
    audio_len: int = 64  # 64 for CLAP maps (time-mixed to 10), 10 for per-segment audio
    visual_dim: int = 768
    visual_len: int = 10  # 80 for ResNet-152 frames (averaged in groups of 8), 10 otherwise
    visual_st_dim: int = 512
    num_classes: int = 25
    num_segments: int = 10
    d_model: int = 256  # projection width (HAN uses 512)
    d_class: int = 128  # class-wise feature width
    num_layers: int = 4  # FGSE layers (HAN: 1; VALOR: N)
    num_heads: int = 8
    dropout: float = 0.1
    # ablation switches (MM-CSE)
    use_cafd: bool = True  # False: the holistic feature is copied to every class slot
    use_background: bool = True  # False: no background slot (25 slots, no L_ort, no fusion)
    dynamic_fusion: bool = True  # False: alpha fixed to 0.5
    use_secm: bool = True
    use_lgsf: bool = True
    use_intra: bool = True
    use_cross: bool = True
    # loss weights
    w_video: float = 1.0
    w_segment: float = 1.0  # pseudo-label segment BCE, audio and visual each
    w_rec: float = 1.0
    w_ort: float = 0.1
    w_ec: float = 0.1
    # HAN / VALOR hybrid-attention FFN width (Linear(d, ff_dim) -> ReLU -> Linear(ff_dim, d)); 0: d_model,
    # as HAN's (512 -> 512 -> 512) and earlier mmcse checkpoints; VALOR++ uses 1024 (its --ff_dim)
    ff_dim: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "model config", prefix: str = "") -> ModelConfig:
        """``to_dict``'s form (missing fields: defaults), checked; ``source``, ``prefix`` name it in errors"""
        return cls(**validation.validate_model_config(d, source, prefix=prefix, fields=field_defaults(cls)))

    def __post_init__(self) -> None:  # every ModelConfig is valid, however it was made (flags, replace, ...)
        validation.validate_model_config(self.to_dict(), "model config", fields=field_defaults(ModelConfig))

    @classmethod
    def for_features(cls, spec: FeatureSpec, **overrides: Any) -> ModelConfig:
        cfg = cls(
            audio_dim=spec.audio.shape[1],
            audio_len=spec.audio.shape[0],
            visual_dim=spec.visual.shape[1],
            visual_len=spec.visual.shape[0],
            visual_st_dim=spec.visual_st.shape[1],
        )
        return dataclasses.replace(cfg, **overrides)


@dataclass
class TrainConfig:
    """Optimisation recipe. Defaults follow the authors' release (mmcse_model.md)."""

    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    optimizer: str = "adamw"  # adamw | adam
    schedule: str = "step"  # step (StepLR) | cosine (the authors' lr_warm_up_cos_anneal, see optim.py)
    step_size: int = 10
    gamma: float = 0.1
    warmup_epochs: int = 5  # the authors' --warm_up_epoch default
    clip_grad_norm: float = 1.0
    seed: int = 87
    num_workers: int = 0
    gating: str = "mmcse"  # fused | mmcse | modality (avvp_protocol.md §3)
    lr_min: float = 1e-6  # cosine: the lr of the last epoch (the authors' --lr_min default)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "train config", prefix: str = "") -> TrainConfig:
        """``to_dict``'s form (missing fields: defaults), checked; ``source``, ``prefix`` name it in errors"""
        return cls(**validation.validate_train_config(d, source, prefix=prefix, fields=field_defaults(cls)))

    def __post_init__(self) -> None:  # every TrainConfig is valid, however it was made
        validation.validate_train_config(self.to_dict(), "train config", fields=field_defaults(TrainConfig))


def field_defaults(cls) -> dict[str, Any]:
    """A config dataclass's fields and their defaults (what ``from_dict`` accepts; mmcse.validation)."""
    return {
        f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore
        for f in dataclasses.fields(cls)
    }


@dataclass
class Preset:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# Named recipes (``python -m mmcse train --preset NAME``). Input dims come from the FeatureSpec at train
# time (``ModelConfig.for_features``); a preset fixes the architecture and the optimisation recipe.
# Fields a paper does not state are marked "assumed".
PRESETS: dict[str, Preset] = {
    # the authors' release (mmcse_model.md): AdamW 1e-4, wd 1e-3, betas (0.5, 0.999), clip 1.0, batch 64,
    # 60 epochs, seed 87, StepLR(10, 0.1); gating mmcse
    "paper-mmcse": Preset(model=ModelConfig(arch="mmcse"), train=TrainConfig()),
    # HAN (ECCV20), as AVVP-ECCV20's main_avvp.py: d=512, 1 layer, 1 head, FFN 512; Adam 3e-4 (torch's
    # defaults: no weight decay, betas (0.9, 0.999)), no grad clipping, batch 16, 40 epochs, StepLR(10, 0.1),
    # seed 1; gating fused
    "paper-han": Preset(
        model=ModelConfig(arch="han", d_model=512, num_layers=1, num_heads=1),
        train=TrainConfig(
            epochs=40,
            batch_size=16,
            lr=3e-4,
            weight_decay=0.0,
            betas=(0.9, 0.999),
            optimizer="adam",
            clip_grad_norm=0.0,
            seed=1,
            gating="fused",
        ),
    ),
    # VALOR++ (NeurIPS23, CLAP + CLIP), as VALOR's scripts/train_valor++.sh: d=256, 4 layers, 8 heads, FFN
    # 1024; AdamW 3e-4, wd 1e-3, betas (0.5, 0.999), clip 1.0, batch 64, 60 epochs, seed 87, warm-up 10 +
    # cosine down to 3e-6; gating fused (its eval filters both modalities by P)
    "paper-valor": Preset(
        model=ModelConfig(arch="valor", d_model=256, num_layers=4, num_heads=8, ff_dim=1024),
        train=TrainConfig(
            epochs=60,
            batch_size=64,
            lr=3e-4,
            schedule="cosine",
            warmup_epochs=10,
            lr_min=3e-6,
            gating="fused",
        ),
    ),
    # fast, for demos and tests: a tiny MM-CSE (or HAN/VALOR with --model) that trains in seconds on CPU
    "small": Preset(
        model=ModelConfig(arch="mmcse", d_model=64, d_class=32, num_layers=1, num_heads=4),
        train=TrainConfig(epochs=5, batch_size=32, lr=1e-3, warmup_epochs=1),
    ),
}


def get_preset(name: str) -> Preset:
    """A fresh copy of the named preset: paper-mmcse | paper-han | paper-valor | small."""
    try:
        preset = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; expected one of: {', '.join(PRESETS)}") from None
    return Preset(
        model=ModelConfig.from_dict(preset.model.to_dict()),
        train=TrainConfig.from_dict(preset.train.to_dict()),
    )

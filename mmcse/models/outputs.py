"""The output object every model returns (MM-CSE, HAN, VALOR), so the engine, losses, inference and the
app never reach into model internals."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ModelOutput:
    video_prob: torch.Tensor  # (B, 25) fused video-level probability P
    audio_prob: torch.Tensor  # (B, 25) audio video-level probability P_a
    visual_prob: torch.Tensor  # (B, 25) visual video-level probability P_v
    segment_prob: torch.Tensor  # (B, 10, 2, 25) index 0 audio, 1 visual
    segment_logits: torch.Tensor  # (B, 10, 2, 25)
    # last FGSE layer's co-occurrence maps "aa" "av" "vv" "va", each (B, 10, 25, 25); empty for HAN/VALOR
    attn: dict[str, torch.Tensor] = field(default_factory=dict)
    # decoupled class-wise features before fusion: (B, 10, 2, 26, d_c), slot 25 = background; None for HAN
    class_features: torch.Tensor | None = None
    # class-wise features after FGSE (what the head scores): (B, 10, 2, 25, d_c); None for HAN
    enhanced_features: torch.Tensor | None = None
    # training-only terms computed inside the model (e.g. "rec_a", "rec_v", "ort_a", "ort_v"), scalars
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)

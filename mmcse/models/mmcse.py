"""MM-CSE: Multimodal Class-aware Semantic Enhancement network (Zhao et al., AAAI 2025).

    audio (B, La, Da), visual (B, Lv, Dv), visual_st (B, 10, Dst)
      -> InputProjection            a, v (B, 10, d)
      -> CAFD                       class-wise features E (B, 10, 2, 26, d_c), fused F (2, B, 10, 25, d_c)
      -> FGSE (num_layers)          enhanced (2, B, 10, 25, d_c), last layer's co-occurrence maps
      -> class-wise MMIL head       video / audio / visual probs (B, 25), segment probs (B, 10, 2, 25)

Numbers match the authors' release (see mmcse.models.official.import_official and tests/test_mmcse_model.py);
the computation is batched: the CLAP time path as a fixed matrix, the 26 class heads as batched weights,
both modalities of an FGSE layer in one pass, reconstruction decoders only when needed. The submodules
show a plain PyTorch path and a fast one (kernels in mmcse.models._fast, ``MMCSE_FAST=0``: plain).
"""

from __future__ import annotations

import torch
from torch import nn

from mmcse.config import ModelConfig
from mmcse.models.cafd import CAFD
from mmcse.models.fgse import FGSE
from mmcse.models.layers import ClassWiseMMILHead, InputProjection
from mmcse.models.outputs import ModelOutput


class MMCSE(nn.Module):
    # Without autograd (on the CPU), clips are processed this many at a time so that the intermediates of
    # a chunk stay small enough for the CPU caches and under glibc's fresh-mmap threshold (no page faults
    # per tensor). Clips are independent, so the outputs are the same.
    eval_chunk: int = 8

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.proj = InputProjection(cfg, cfg.d_model)
        self.cafd = CAFD(cfg)
        self.fgse = FGSE(cfg)
        self.head = ClassWiseMMILHead(cfg.d_class, cfg.num_classes)

    def forward(
        self, audio: torch.Tensor, visual: torch.Tensor, visual_st: torch.Tensor, with_aux: bool | None = None
    ) -> ModelOutput:
        """``with_aux`` (default: ``self.training``) also computes the reconstruction and orthogonality
        terms (``aux_losses``); they are unused at inference and the decoders cost time."""
        with_aux = self.training if with_aux is None else with_aux
        B = audio.shape[0]
        if torch.is_grad_enabled() or audio.device.type != "cpu" or B <= self.eval_chunk or with_aux:
            return self._forward(audio, visual, visual_st, with_aux)
        parts = [
            self._forward(
                audio[i : i + self.eval_chunk],
                visual[i : i + self.eval_chunk],
                visual_st[i : i + self.eval_chunk],
                with_aux,
            )  # fmt: skip
            for i in range(0, B, self.eval_chunk)
        ]
        return _concat_outputs(parts)

    def _forward(self, audio, visual, visual_st, with_aux: bool) -> ModelOutput:
        a, v = self.proj(audio, visual, visual_st)  # (B, 10, d) each
        class_features, x, aux = self.cafd(a, v, with_aux=with_aux)  # (B,10,2,S,dc), (2,B,10,25,dc)
        x, attn = self.fgse(x)  # (2, B, 10, 25, dc)
        enhanced = x.permute(1, 2, 0, 3, 4)  # (B, 10, 2, 25, dc)
        video_prob, audio_prob, visual_prob, segment_prob, segment_logits = self.head(enhanced)
        return ModelOutput(
            video_prob=video_prob,
            audio_prob=audio_prob,
            visual_prob=visual_prob,
            segment_prob=segment_prob,
            segment_logits=segment_logits,
            attn=attn,
            class_features=class_features,
            enhanced_features=enhanced,
            aux_losses=aux,
        )


def _concat_outputs(parts: list[ModelOutput]) -> ModelOutput:
    """Concatenate per-chunk outputs along the batch axis (aux_losses are not chunked: empty here)."""

    def cat(name):
        first = getattr(parts[0], name)
        return None if first is None else torch.cat([getattr(p, name) for p in parts])

    return ModelOutput(
        video_prob=cat("video_prob"),
        audio_prob=cat("audio_prob"),
        visual_prob=cat("visual_prob"),
        segment_prob=cat("segment_prob"),
        segment_logits=cat("segment_logits"),
        attn={k: torch.cat([p.attn[k] for p in parts]) for k in parts[0].attn},
        class_features=cat("class_features"),
        enhanced_features=cat("enhanced_features"),
    )

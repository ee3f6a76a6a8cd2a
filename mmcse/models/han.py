"""HAN (Tian et al., ECCV 2020) and VALOR's encoder (Lai et al., NeurIPS 2023): the baselines.

Both are the same network: input projection to width d, ``num_layers`` hybrid-attention layers whose
weights are shared by the audio and the visual stream, and HAN's attentive MMIL head (one Linear(d -> 25)
each for the segment logits, the temporal attention and the modality attention). HAN: d = 512, 1 layer,
1 head, FFN 512. VALOR++: d = 256, 4 layers, 8 heads, FFN 1024. Only the training recipe differs (see
mmcse.training.losses). As in both originals (``_get_clones``), the layers start as copies of one layer.

Hybrid-attention layer for a query stream q (B, T, d) and the other stream o:
    q'  = LN(q + Drop(CrossAttn(q, o, o)) + Drop(SelfAttn(q, q, q)))
    q'' = LN(q' + Drop(FFN(q'))),  FFN = Linear(d, f) -> ReLU -> Drop -> Linear(f, d), f = ff_dim or d
Stream order within a layer follows each original code:
- HAN: both streams are updated from the layer's inputs (in parallel): a' = L(a, v), v' = L(v, a), done
  as one batched call. (HAN's ``Encoder`` also fed the projection, not the previous layer's output, to
  every layer; harmless with its single layer; here layers are stacked properly.)
- VALOR: sequentially, the visual update attends to the *updated* audio: a' = L(a, v), v' = L(v, a').
  (VALOR's post-norm layout, the one written above; its pre-norm option is not reproduced.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmcse.config import ModelConfig
from mmcse.models.layers import InputProjection, MMILHead, cloned_layers
from mmcse.models.outputs import ModelOutput


class HybridAttentionLayer(nn.Module):
    def __init__(self, d: int, num_heads: int, dropout: float = 0.1, ff_dim: int = 0) -> None:
        super().__init__()
        ff_dim = ff_dim or d
        self.self_attn = nn.MultiheadAttention(d, num_heads, dropout=dropout, batch_first=True)
        self.cm_attn = nn.MultiheadAttention(d, num_heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d, ff_dim)
        self.linear2 = nn.Linear(ff_dim, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)  # inside the FFN
        self.dropout_cross = nn.Dropout(dropout)
        self.dropout_self = nn.Dropout(dropout)
        self.dropout_ffn = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        # query, other: (N, T, d)
        cross = self.cm_attn(query, other, other, need_weights=False)[0]  # (N, T, d)
        self_ = self.self_attn(query, query, query, need_weights=False)[0]  # (N, T, d)
        x = self.norm1(query + self.dropout_cross(cross) + self.dropout_self(self_))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(x))))
        return self.norm2(x + self.dropout_ffn(ffn))  # (N, T, d)


class HAN(nn.Module):
    """HAN / VALOR: ``model(audio, visual, visual_st) -> ModelOutput`` (attn empty, no class features)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.arch not in ("han", "valor"):
            raise ValueError(f"HAN builds arch 'han' or 'valor', got {cfg.arch!r}")
        if cfg.d_model % cfg.num_heads != 0:
            raise ValueError(f"d_model ({cfg.d_model}) must be divisible by num_heads ({cfg.num_heads})")
        d = cfg.d_model
        self.cfg = cfg
        self.projection = InputProjection(cfg, d)
        self.layers = cloned_layers(
            lambda: HybridAttentionLayer(d, cfg.num_heads, cfg.dropout, cfg.ff_dim), cfg.num_layers
        )
        self.head = MMILHead(d, cfg.num_classes)
        self.sequential = cfg.arch == "valor"  # VALOR: v' attends to the updated a'

    def forward(self, audio: torch.Tensor, visual: torch.Tensor, visual_st: torch.Tensor) -> ModelOutput:
        a, v = self.projection(audio, visual, visual_st)  # (B, T, d) each
        B = a.shape[0]
        for layer in self.layers:
            if self.sequential:
                a = layer(a, v)  # (B, T, d)
                v = layer(v, a)
            else:
                # one call for both streams (same weights): queries [a; v], others [v; a] -> (2B, T, d)
                both = layer(torch.cat([a, v], dim=0), torch.cat([v, a], dim=0))
                a, v = both[:B], both[B:]
        x = torch.stack([a, v], dim=2)  # (B, T, 2, d)
        video_prob, audio_prob, visual_prob, segment_prob, segment_logits = self.head(x)
        return ModelOutput(
            video_prob=video_prob,  # (B, C)
            audio_prob=audio_prob,
            visual_prob=visual_prob,
            segment_prob=segment_prob,  # (B, T, 2, C)
            segment_logits=segment_logits,
        )

"""FGSE: fine-grained semantic enhancement (MM-CSE), both modalities in one batched pass.

A layer's weights process audio (query audio, other visual) and visual (query visual, other audio) alike,
so the two passes are stacked along a leading modality axis: x (2, B, T, C, D) with x[0] audio and
x[1] visual; "the other modality" of x is x.flip(0). Attention is computed here (not nn.MultiheadAttention)
because the loss needs the head-averaged weights, for all B*T segments in one batched matmul.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mmcse.config import ModelConfig


class ClassAttention(nn.Module):
    """SECM: multi-head attention across the C class tokens of one segment (nn.MultiheadAttention's maths
    and parameter layout: ``in_proj_weight`` (3D, D), ``in_proj_bias``, ``out_proj``).

    forward(x, cross) with x (2, B, T, C, D): queries from x; keys/values from x (intra) or from the other
    modality x.flip(0) (cross). Returns (out (2, B, T, C, D), head-averaged weights (2, B, T, C, C) or None).
    """

    def __init__(self, d: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        if d % num_heads:
            raise ValueError(f"d_class={d} must be divisible by num_heads={num_heads}")
        self.num_heads, self.dropout = num_heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d, d))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d))
        self.out_proj = nn.Linear(d, d)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, cross: bool, need_weights: bool):
        M, B, T, C, D = x.shape
        H = self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (2, B, T, C, 3D)
        qkv = qkv.view(M, B * T, C, 3, H, D // H).permute(3, 0, 1, 4, 2, 5)  # (3, 2, BT, H, C, Dh)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if cross:  # keys and values come from the other modality at the same segment
            k, v = k.flip(0), v.flip(0)
        q = q * (1.0 / math.sqrt(D // H))
        attn = torch.softmax(q @ k.transpose(-1, -2), dim=-1)  # (2, BT, H, C, C)
        if self.training and self.dropout > 0:
            attn = F.dropout(
                attn, self.dropout
            )  # as nn.MultiheadAttention: the returned map is after dropout
        out = (attn @ v).transpose(2, 3).reshape(M, B, T, C, D)  # (2, B, T, C, D)
        out = self.out_proj(out)
        weights = attn.mean(dim=2).view(M, B, T, C, C) if need_weights else None
        return out, weights


def _gated_global(local: torch.Tensor, glob: torch.Tensor) -> torch.Tensor:
    """LGSF core. local, glob (2, B, T, C, D) after ReLU: g = mean over T of glob;
    out_t = sigmoid(cos(local_t, g)) * g."""
    g = glob.mean(dim=2, keepdim=True)  # (2, B, 1, C, D)
    relevance = torch.sigmoid(F.cosine_similarity(local, g, dim=-1)).unsqueeze(-1)  # (2, B, T, C, 1)
    return relevance * g


class FGSELayer(nn.Module):
    """One FGSE layer: intra (SECM + LGSF) and cross (SECM + LGSF_cross) branches, LayerNorm, FFN."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        D = cfg.d_class
        self.use_intra, self.use_cross = cfg.use_intra, cfg.use_cross
        self.use_secm, self.use_lgsf = cfg.use_secm, cfg.use_lgsf
        if self.use_intra:
            if self.use_secm:
                self.secm_intra = ClassAttention(D, cfg.num_heads, cfg.dropout)
            if self.use_lgsf:
                self.lgsf_intra = nn.Linear(D, 2 * D)  # [glob1 ; glob2] of the official LGSF_1
            self.fc_intra = nn.Linear(D, D)
        if self.use_cross:
            if self.use_secm:
                self.secm_cross = ClassAttention(D, cfg.num_heads, cfg.dropout)
            if self.use_lgsf:
                self.lgsf_cross = nn.Linear(D, D)
            self.fc_cross = nn.Linear(D, D)
        self.norm = nn.LayerNorm(D)
        self.ffn_in = nn.Linear(D, 4 * D)
        self.ffn_out = nn.Linear(4 * D, D)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, need_weights: bool = False):
        """x (2, B, T, C, D) -> (2, B, T, C, D), maps {"self": (2, B, T, C, C), "cross": ...}."""
        maps: dict[str, torch.Tensor] = {}
        D = x.shape[-1]
        h = 0
        if self.use_intra:
            s = x
            if self.use_secm:
                att, maps["self"] = self.secm_intra(x, cross=False, need_weights=need_weights)
                s = x + att  # S1
            if self.use_lgsf:
                local, glob = F.relu(self.lgsf_intra(s)).split(D, dim=-1)  # (2, B, T, C, D) each
                s = x + _gated_global(local, glob)  # I1
            h = self.fc_intra(s)
        if self.use_cross:
            s = x
            if self.use_secm:
                att, maps["cross"] = self.secm_cross(x, cross=True, need_weights=need_weights)
                s = x + att  # S2
            if self.use_lgsf:
                local = F.relu(self.lgsf_cross(s))
                glob = F.relu(self.lgsf_cross(x)).flip(0)  # the other modality's layer input, same class
                s = x + _gated_global(local, glob)  # I2
            h = h + self.fc_cross(s)
        h = self.norm(h)
        out = self.ffn_out(self.dropout(F.relu(self.ffn_in(h))))  # no residual around the FFN (as released)
        return out, maps


class FGSE(nn.Module):
    """``num_layers`` FGSE layers (own weights each); returns the features and the LAST layer's maps
    {"aa", "av", "vv", "va"} (B, T, C, C), rows = query classes (empty when an ablation removes one)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.num_layers > 0 and not (cfg.use_intra or cfg.use_cross):
            raise ValueError("FGSE needs use_intra or use_cross (or num_layers=0)")
        self.layers = nn.ModuleList(FGSELayer(cfg) for _ in range(cfg.num_layers))

    def forward(self, x: torch.Tensor, need_weights: bool = True):
        maps: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.layers):
            x, maps = layer(x, need_weights=need_weights and i == len(self.layers) - 1)
        attn: dict[str, torch.Tensor] = {}
        # all four maps or none (ablations without SECM / intra / cross have no L_ec)
        if maps.get("self") is not None and maps.get("cross") is not None:
            attn = {
                "aa": maps["self"][0],
                "av": maps["cross"][0],
                "vv": maps["self"][1],
                "va": maps["cross"][1],
            }
        return x, attn

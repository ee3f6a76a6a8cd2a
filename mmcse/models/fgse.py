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
from mmcse.models.layers import dropout_mask, linear


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
        H, Dh = self.num_heads, D // self.num_heads
        qkv = linear(x, self.in_proj_weight, self.in_proj_bias)  # (2, B, T, C, 3D)
        qkv = qkv.view(M, B * T, C, 3, H, Dh).permute(3, 0, 1, 4, 2, 5)  # (3, 2, BT, H, C, Dh) view
        q = qkv[0].reshape(M * B * T * H, C, Dh)  # one copy each into bmm layout
        if cross:  # keys and values from the other modality at the same segment: swap the modality halves
            kv = qkv[1:].index_select(1, torch.tensor([1, 0], device=x.device))
        else:
            kv = qkv[1:]
        k, v = kv.reshape(2, M * B * T * H, C, Dh).unbind(0)
        scores = torch.bmm(q, k.transpose(1, 2)).mul_(1.0 / math.sqrt(Dh))  # (2*BT*H, C, C)
        attn = torch.softmax(scores, dim=-1)
        # dropout on the weights (as nn.MultiheadAttention, whose returned map is the dropped-out one);
        # its 1/(1-p) scale is applied to the small head-averaged map and folded into out_proj
        scale, out_w = 1.0, self.out_proj.weight
        if (drop := dropout_mask(attn, self.dropout, self.training)) is not None:
            attn = attn.masked_fill(drop, 0.0)
            scale = 1.0 / (1.0 - self.dropout)
            out_w = out_w * scale
        out = torch.bmm(attn, v).view(M, B, T, H, C, Dh).transpose(3, 4).reshape(M, B, T, C, D)
        out = linear(out, out_w, self.out_proj.bias)  # (2, B, T, C, D)
        weights = attn.view(M, B, T, H, C, C).mean(dim=3) if need_weights else None
        if weights is not None and scale != 1.0:
            weights = weights * scale
        return out, weights


def _relevance_gate(local: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """LGSF gate r_t = sigmoid(cos(local_t, g)). local (2, B, T, C, D), g (2, B, 1, C, D) -> (2, B, T, C, 1).

    Same value as torch.cosine_similarity (norms clamped at 1e-8), but g is normalised once per clip and
    class instead of once per segment (three passes over ``local`` instead of seven)."""
    eps = 1e-8
    g_unit = g / torch.linalg.vector_norm(g, dim=-1, keepdim=True).clamp_min(eps)
    dot = (local * g_unit).sum(dim=-1, keepdim=True)
    return torch.sigmoid(dot / torch.linalg.vector_norm(local, dim=-1, keepdim=True).clamp_min(eps))


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
        """x (2, B, T, C, D) -> (2, B, T, C, D), maps {"self": (2, B, T, C, C), "cross": ...}.

        With LGSF, a branch's input to its fc is I = x + r_t * g (g constant over time), so
        fc(I) = fc(x) + r_t * (W g): the intra and cross fc layers share ONE matmul on x (their weights
        summed) and W g is computed once per clip and class, not per segment."""
        maps: dict[str, torch.Tensor] = {}
        D = x.shape[-1]
        on_x_weight, on_x_bias, gated, full = [], [], [], []
        for name, enabled in (("intra", self.use_intra), ("cross", self.use_cross)):
            if not enabled:
                continue
            cross = name == "cross"
            fc = self.fc_cross if cross else self.fc_intra
            s = x
            if self.use_secm:
                secm = self.secm_cross if cross else self.secm_intra
                att, maps["cross" if cross else "self"] = secm(x, cross=cross, need_weights=need_weights)
                s = x + att  # S1 / S2
            if not self.use_lgsf:
                full.append(linear(s, fc.weight, fc.bias))
                continue
            if cross:  # local from S2, global from the other modality's layer input (same class)
                local = linear(s, self.lgsf_cross.weight, self.lgsf_cross.bias, relu=True)
                g = linear(x, self.lgsf_cross.weight, self.lgsf_cross.bias, relu=True)
                g = g.mean(dim=2, keepdim=True).flip(0)  # (2, B, 1, C, D)
            else:
                local, glob = linear(s, self.lgsf_intra.weight, self.lgsf_intra.bias, relu=True).split(
                    D, dim=-1
                )
                g = glob.mean(dim=2, keepdim=True)  # (2, B, 1, C, D)
            r = _relevance_gate(local, g)  # (2, B, T, C, 1)
            on_x_weight.append(fc.weight)
            on_x_bias.append(fc.bias)
            gated.append((r, F.linear(g, fc.weight)))  # I = x + r * g  ->  fc(I) = fc(x) + r * (W g)
        h = linear(x, sum(on_x_weight), sum(on_x_bias)) if on_x_weight else full.pop()
        for r, wg in gated:
            h = torch.addcmul(h, r, wg)
        for f in full:
            h = h + f
        h = self.norm(h)
        hidden = linear(h, self.ffn_in.weight, self.ffn_in.bias, relu=True)  # (2, B, T, C, 4D)
        w_out = self.ffn_out.weight
        if (drop := dropout_mask(hidden, self.dropout.p, self.training)) is not None:
            hidden = hidden.masked_fill(drop, 0.0)  # dropout, its 1/(1-p) folded into ffn_out's weight
            w_out = w_out * (1.0 / (1.0 - self.dropout.p))
        out = linear(hidden, w_out, self.ffn_out.bias)  # no residual around the FFN (as released)
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

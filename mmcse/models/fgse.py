"""FGSE: fine-grained semantic enhancement (MM-CSE), both modalities in one batched pass.

A layer's weights process audio (query audio, other visual) and visual (query visual, other audio) alike,
so the two passes are stacked along a leading modality axis: x (2, B, T, C, D) with x[0] audio and
x[1] visual; "the other modality" of x is x.flip(0). Attention is computed here (not nn.MultiheadAttention)
because the loss needs the head-averaged weights, for all B*T segments in one batched matmul.

Each forward shows the plain PyTorch version and, chosen by ``fast_kernels_enabled()``, the fast one
(kernels in :mod:`mmcse.models._fast`); both compute the same function with the same parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mmcse.config import ModelConfig
from mmcse.models import _fast
from mmcse.models._fast import fast_kernels_enabled
from mmcse.models.layers import cloned_layers


class ClassAttention(nn.Module):
    """SECM: multi-head attention across the C class tokens of one segment (nn.MultiheadAttention's maths
    and parameter layout: ``in_proj_weight`` (3D, D), ``in_proj_bias``, ``out_proj``).

    forward(x, cross) with x (2, B, T, C, D): queries from x; keys/values from x (intra) or from the other
    modality x.flip(0) (cross). Returns (out (2, B, T, C, D), head-averaged weights (2, B, T, C, C) or None;
    in training the weights after dropout, rescaled, as nn.MultiheadAttention returns them).
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
        if fast_kernels_enabled():  # batched matmuls with a hand-written backward; dropout as a keep mask
            out_proj = self.out_proj
            return _fast.class_attention(
                x, self.in_proj_weight, self.in_proj_bias, out_proj.weight, out_proj.bias, self.num_heads,
                cross, self.dropout, self.training, need_weights,
            )  # fmt: skip
        M, B, T, C, D = x.shape
        H, Dh = self.num_heads, D // self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (2, B, T, C, 3D)
        q, k, v = qkv.view(M, B, T, C, 3, H, Dh).permute(4, 0, 1, 2, 5, 3, 6)  # each (2, B, T, H, C, Dh)
        if cross:  # keys and values from the other modality
            k, v = k.flip(0), v.flip(0)
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(Dh), dim=-1)  # (2, B, T, H, C, C)
        attn = F.dropout(attn, self.dropout, self.training)  # on the weights, as nn.MultiheadAttention
        out = (attn @ v).transpose(-3, -2).reshape(M, B, T, C, D)  # heads concatenated
        return self.out_proj(out), attn.mean(dim=3) if need_weights else None


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

        For each branch (intra; cross: keys/values and LGSF's global vector from the other modality):
            S = x + SECM(x)                                   (S = x without SECM)
            I = x + r_t * g, r_t = sigmoid(cos(local_t, g))   (LGSF; I = S without it)
        h = LayerNorm(fc_intra(I_intra) + fc_cross(I_cross)); out = FFN(h), no residual (as released).
        """
        fast = fast_kernels_enabled()
        maps: dict[str, torch.Tensor] = {}
        fc_outs, gated = [], []  # fc(I) per branch; fast LGSF: (W, b, local, g) per branch
        for cross in [c for c, on in ((False, self.use_intra), (True, self.use_cross)) if on]:
            fc = self.fc_cross if cross else self.fc_intra
            s = x
            if self.use_secm:
                secm = self.secm_cross if cross else self.secm_intra
                att, maps["cross" if cross else "self"] = secm(x, cross=cross, need_weights=need_weights)
                s = x + att  # S1 / S2
            if not self.use_lgsf:
                fc_outs.append(_fast.linear(s, fc.weight, fc.bias) if fast else fc(s))
                continue
            local, g = self.lgsf_inputs(x, s, cross, fast)  # (2, B, T, C, D), (2, B, 1, C, D)
            if fast:
                gated.append((fc.weight, fc.bias, local, g))
            else:
                r = torch.sigmoid(F.cosine_similarity(local, g, dim=-1)).unsqueeze(-1)  # (2, B, T, C, 1)
                fc_outs.append(fc(x + r * g))
        if gated:  # fast: fc(x + r g) = fc(x) + r (W g), one matmul on x for both branches
            fc_outs.append(_fast.gated_fc_sum(x, gated))
        h = self.norm(sum(fc_outs[1:], fc_outs[0]))
        return self.feed_forward(h, fast), maps

    def lgsf_inputs(self, x: torch.Tensor, s: torch.Tensor, cross: bool, fast: bool):
        """LGSF's local feature local_t (2, B, T, C, D) and global vector g (2, B, 1, C, D), the mean over time.

        intra: [local ; glob] = ReLU(lgsf_intra(S)), g = mean_t glob;
        cross: local = ReLU(lgsf_cross(S)), g = mean_t ReLU(lgsf_cross(x)) of the other modality (same class).
        """
        layer = self.lgsf_cross if cross else self.lgsf_intra

        def relu_linear(inp):
            if fast:  # oneDNN, ReLU fused
                return _fast.linear(inp, layer.weight, layer.bias, relu=True)
            return F.relu(layer(inp))

        if cross:
            return relu_linear(s), relu_linear(x).mean(dim=2, keepdim=True).flip(0)
        local, glob = relu_linear(s).split(x.shape[-1], dim=-1)
        return local, glob.mean(dim=2, keepdim=True)

    def feed_forward(self, h: torch.Tensor, fast: bool) -> torch.Tensor:
        """Linear(D, 4D) -> ReLU -> Dropout -> Linear(4D, D): (2, B, T, C, D) -> (2, B, T, C, D)."""
        if not fast:
            return self.ffn_out(self.dropout(F.relu(self.ffn_in(h))))
        # fast: the dropout mask is applied in ffn_in's output pass, its 1/(1-p) scale folded into ffn_out
        p = self.dropout.p
        keep = _fast.training_keep_mask((*h.shape[:-1], self.ffn_in.out_features), p, self.training, h)
        w_out = self.ffn_out.weight if keep is None else self.ffn_out.weight * (1.0 / (1.0 - p))
        hidden = _fast.linear(h, self.ffn_in.weight, self.ffn_in.bias, relu=True, keep=keep)  # (..., 4D)
        return _fast.linear(hidden, w_out, self.ffn_out.bias)


class FGSE(nn.Module):
    """``num_layers`` FGSE layers (own weights each); returns the features and the LAST layer's maps
    {"aa", "av", "vv", "va"} (B, T, C, C), rows = query classes (empty when an ablation removes one).

    As released (``_get_clones`` in the authors' main_network.py): one layer is built and deep-copied
    ``num_layers`` times, so all layers start with the same weights; training makes them differ."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.num_layers > 0 and not (cfg.use_intra or cfg.use_cross):
            raise ValueError("FGSE needs use_intra or use_cross (or num_layers=0)")
        self.layers = cloned_layers(lambda: FGSELayer(cfg), cfg.num_layers)

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


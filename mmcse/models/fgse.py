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
from mmcse.models.layers import keep_mask, linear


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
        qkv = linear(x, self.in_proj_weight, self.in_proj_bias)  # (2, B, T, C, 3D)
        keep = None
        if self.training and self.dropout > 0:  # dropout on the weights (as nn.MultiheadAttention)
            keep = keep_mask((M * B * T * H, C, C), self.dropout, x.device, x.dtype)
        out, weights = attention_core(qkv.view(M, B * T, C, 3 * D), H, cross, keep, need_weights)
        # the dropout's 1/(1-p) scale is applied to the small head-averaged map and folded into out_proj
        # (nn.MultiheadAttention returns the dropped-out, rescaled map)
        scale, out_w = 1.0, self.out_proj.weight
        if keep is not None:
            scale = 1.0 / (1.0 - self.dropout)
            out_w = out_w * scale
        out = linear(out.view(M, B, T, C, D), out_w, self.out_proj.bias)  # (2, B, T, C, D)
        if weights is not None:
            weights = weights.view(M, B, T, C, C)
            weights = weights * scale if scale != 1.0 else weights
        return out, weights


def _split_heads(qkv: torch.Tensor, num_heads: int, cross: bool) -> torch.Tensor:
    """qkv (M, N, C, 3D) -> (3, M, N, H, C, Dh) contiguous (q, k, v by head; one copy). With ``cross``
    keys and values come from the other modality: their modality halves are swapped in the same copy."""
    M, N, C, D3 = qkv.shape
    H, Dh = num_heads, D3 // 3 // num_heads
    src = qkv.view(M, N, C, 3, H, Dh).permute(3, 0, 1, 4, 2, 5)  # (3, M, N, H, C, Dh) view
    heads = qkv.new_empty(3, M, N, H, C, Dh)
    heads[0].copy_(src[0])
    if cross:
        heads[1:, 0].copy_(src[1:, 1])
        heads[1:, 1].copy_(src[1:, 0])
    else:
        heads[1:].copy_(src[1:])
    return heads


def _merge_heads(heads: torch.Tensor, cross: bool) -> torch.Tensor:
    """Inverse of :func:`_split_heads` (for gradients): (3, M, N, H, C, Dh) -> (M, N, C, 3D)."""
    _, M, N, H, C, Dh = heads.shape
    qkv = heads.new_empty(M, N, C, 3 * H * Dh)
    dst = qkv.view(M, N, C, 3, H, Dh).permute(3, 0, 1, 4, 2, 5)
    dst[0].copy_(heads[0])
    if cross:
        dst[1:, 1].copy_(heads[1:, 0])
        dst[1:, 0].copy_(heads[1:, 1])
    else:
        dst[1:].copy_(heads[1:])
    return qkv


class _AttentionCore(torch.autograd.Function):
    """softmax(q k^T / sqrt(Dh)) (dropped out) @ v for all heads and segments in a few batched matmuls,
    with a hand-written backward: autograd's generic one for the head split/merge views allocates and
    zero-fills full qkv-sized buffers per slice (select/slice/index backward)."""

    @staticmethod
    def forward(ctx, qkv, num_heads: int, cross: bool, keep, need_weights: bool):
        M, N, C, D3 = qkv.shape
        D, H = D3 // 3, num_heads
        Dh = D // H
        heads = _split_heads(qkv, H, cross)  # (3, M, N, H, C, Dh)
        q, k, v = heads.view(3, M * N * H, C, Dh).unbind(0)
        scale = 1.0 / math.sqrt(Dh)
        scores = torch.baddbmm(q.new_empty(M * N * H, C, C), q, k.transpose(1, 2), beta=0.0, alpha=scale)
        attn = torch.softmax(scores, dim=-1)  # (MNH, C, C)
        attn_d = attn if keep is None else attn * keep  # dropout without its scale
        out = torch.bmm(attn_d, v)  # (MNH, C, Dh)
        out = out.view(M, N, H, C, Dh).transpose(2, 3).reshape(M, N, C, D)
        weights = attn_d.view(M, N, H, C, C).mean(dim=2) if need_weights else None
        ctx.save_for_backward(heads, attn, attn_d, keep)
        ctx.cross, ctx.scale = cross, scale
        ctx.set_materialize_grads(False)
        return out, weights

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out, grad_weights):
        heads, attn, attn_d, keep = ctx.saved_tensors
        _, M, N, H, C, Dh = heads.shape
        q, k, v = heads.view(3, M * N * H, C, Dh).unbind(0)
        grad_heads = torch.zeros_like(heads) if grad_out is None else torch.empty_like(heads)
        g_q, g_k, g_v = grad_heads.view(3, M * N * H, C, Dh).unbind(0)
        grad_attn = torch.zeros_like(attn) if grad_out is None else torch.empty_like(attn)
        if grad_out is not None:
            grad_out = grad_out.view(M, N, C, H, Dh).transpose(2, 3).reshape(M * N * H, C, Dh)
            torch.bmm(grad_out, v.transpose(1, 2), out=grad_attn)  # (MNH, C, C)
            torch.bmm(attn_d.transpose(1, 2), grad_out, out=g_v)
        if grad_weights is not None:  # the head mean
            grad_attn.view(M, N, H, C, C).add_(grad_weights.unsqueeze(2), alpha=1.0 / H)
        if keep is not None:
            grad_attn.mul_(keep)
        grad_scores = torch._softmax_backward_data(grad_attn, attn, -1, attn.dtype).mul_(ctx.scale)
        torch.bmm(grad_scores, k, out=g_q)
        torch.bmm(grad_scores.transpose(1, 2), q, out=g_k)
        return _merge_heads(grad_heads, ctx.cross), None, None, None, None


def _attention_core_reference(qkv, num_heads: int, cross: bool, keep, need_weights: bool):
    """Plain autograd version of :class:`_AttentionCore` (inference: nothing saved; other dtypes, autocast)."""
    M, N, C, D3 = qkv.shape
    D, H = D3 // 3, num_heads
    Dh = D // H
    q, k, v = _split_heads(qkv, H, cross).view(3, M * N * H, C, Dh).unbind(0)
    attn = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * (1.0 / math.sqrt(Dh)), dim=-1)
    if keep is not None:
        attn = attn * keep
    out = torch.bmm(attn, v).view(M, N, H, C, Dh).transpose(2, 3).reshape(M, N, C, D)
    return out, attn.view(M, N, H, C, C).mean(dim=2) if need_weights else None


def attention_core(
    qkv: torch.Tensor, num_heads: int, cross: bool, keep: torch.Tensor | None, need_weights: bool
):
    """Multi-head scaled dot-product attention across the C tokens of each of N segments, both modalities.

    qkv (M, N, C, 3D): [q | k | v] per token (nn.MultiheadAttention's in_proj output); with ``cross`` the
    keys/values of modality m come from modality 1 - m. ``keep`` (0/1 (M*N*H, C, C), see ``keep_mask``):
    multiplies the attention weights (dropout WITHOUT its 1/(1-p) scale). Returns out (M, N, C, D) (heads concatenated, before
    out_proj) and, when ``need_weights``, the head-averaged (dropped-out) weights (M, N, C, C)."""
    needs_grad = torch.is_grad_enabled() and qkv.requires_grad
    if needs_grad and qkv.dtype == torch.float32 and not torch.is_autocast_enabled(qkv.device.type):
        return _AttentionCore.apply(qkv, num_heads, cross, keep, need_weights)
    return _attention_core_reference(qkv, num_heads, cross, keep, need_weights)


def _relevance_gate(local: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """LGSF gate r_t = sigmoid(cos(local_t, g)). local (2, B, T, C, D), g (2, B, 1, C, D) -> (2, B, T, C, 1).

    Same value as torch.cosine_similarity (norms clamped at 1e-8), but g is normalised once per clip and
    class instead of once per segment (three passes over ``local`` instead of seven)."""
    eps = 1e-8
    g_unit = g / torch.linalg.vector_norm(g, dim=-1, keepdim=True).clamp_min(eps)
    dot = (local * g_unit).sum(dim=-1, keepdim=True)
    return torch.sigmoid(dot / torch.linalg.vector_norm(local, dim=-1, keepdim=True).clamp_min(eps))


class _GatedAdd(torch.autograd.Function):
    """h + sigmoid(cos(local, g)) * wg with a hand-written backward (autograd's chain through the norms,
    the dot product and the broadcasts makes about twice as many passes over the (2, B, T, C, D) tensors)."""

    @staticmethod
    def forward(ctx, h, local, g, wg):
        eps = 1e-8
        g_norm = torch.linalg.vector_norm(g, dim=-1, keepdim=True)  # (2, B, 1, C, 1)
        u = g / g_norm.clamp_min(eps)
        l_norm = torch.linalg.vector_norm(local, dim=-1, keepdim=True)  # (2, B, T, C, 1)
        z = torch.linalg.vecdot(local, u).unsqueeze(-1) / l_norm.clamp_min(eps)  # the cosine
        r = torch.sigmoid(z)
        ctx.save_for_backward(local, u, g_norm, l_norm, z, r, wg)
        return torch.addcmul(h, r, wg)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        eps = 1e-8
        local, u, g_norm, l_norm, z, r, wg = ctx.saved_tensors
        grad_wg = (grad * r).sum(dim=2, keepdim=True)  # wg is constant over time
        grad_z = torch.linalg.vecdot(grad, wg).unsqueeze(-1) * r * (1 - r)
        # z = (local . u) / |local|:  dz/dlocal = u / n - z * local / n^2  (n = |local| clamped; the second
        # term vanishes where the clamp is active)
        n = l_norm.clamp_min(eps)
        a = grad_z / n
        b = a * z / n * (l_norm > eps)
        grad_local = (a * u).addcmul_(b, local, value=-1.0)
        grad_u = (a * local).sum(dim=2, keepdim=True)
        # u = g / |g|: project out the radial part (or just scale where |g| is clamped)
        radial = u * torch.linalg.vecdot(u, grad_u).unsqueeze(-1)
        grad_g = torch.where(g_norm > eps, (grad_u - radial) / g_norm.clamp_min(eps), grad_u / eps)
        return grad, grad_local, grad_g, grad_wg


def gated_add(h: torch.Tensor, local: torch.Tensor, g: torch.Tensor, wg: torch.Tensor) -> torch.Tensor:
    """LGSF's contribution to the fc output: h + r_t * wg with r_t = sigmoid(cos(local_t, g)).

    h, local (2, B, T, C, D); g, wg (2, B, 1, C, D) (constant over time). float32 outside autocast takes
    :class:`_GatedAdd`; otherwise plain autograd (same maths)."""
    if h.dtype == local.dtype == g.dtype == wg.dtype == torch.float32 and not torch.is_autocast_enabled(
        h.device.type
    ):
        return _GatedAdd.apply(h, local, g, wg)
    return torch.addcmul(h, _relevance_gate(local, g), wg)


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
            on_x_weight.append(fc.weight)
            on_x_bias.append(fc.bias)
            gated.append((local, g, F.linear(g, fc.weight)))  # I = x + r * g  ->  fc(I) = fc(x) + r * (W g)
        h = linear(x, sum(on_x_weight), sum(on_x_bias)) if on_x_weight else full.pop()
        for local, g, wg in gated:
            h = gated_add(h, local, g, wg)  # + r_t * (W g), r_t = sigmoid(cos(local_t, g))
        for f in full:
            h = h + f
        h = self.norm(h)
        w_out, p, keep = self.ffn_out.weight, self.dropout.p, None
        if (
            self.training and p > 0
        ):  # dropout: mask applied in ffn_in's output pass, 1/(1-p) folded into ffn_out
            keep = keep_mask((*h.shape[:-1], self.ffn_in.out_features), p, h.device, h.dtype)
            w_out = w_out * (1.0 / (1.0 - p))
        hidden = linear(h, self.ffn_in.weight, self.ffn_in.bias, relu=True, keep=keep)  # (2, B, T, C, 4D)
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

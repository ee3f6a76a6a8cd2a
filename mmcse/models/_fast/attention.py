"""The fast path of FGSE's class attention (SECM): both modalities and every segment's C class tokens in a
few batched matmuls, with a hand-written backward, oneDNN projections and the dropout folded into masks.

The plain version it must equal is ``ClassAttention.forward`` in :mod:`mmcse.models.fgse`.
"""

from __future__ import annotations

import math

import torch

from mmcse.models._fast.dropout import training_keep_mask
from mmcse.models._fast.onednn import linear


def class_attention(
    x: torch.Tensor,
    in_proj_weight: torch.Tensor,
    in_proj_bias: torch.Tensor,
    out_proj_weight: torch.Tensor,
    out_proj_bias: torch.Tensor,
    num_heads: int,
    cross: bool,
    dropout: float,
    training: bool,
    need_weights: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """nn.MultiheadAttention's maths across the C class tokens of each segment, x (M=2, B, T, C, D).

    Queries from x, keys/values from x or (``cross``) from the other modality x.flip(0). Returns out
    (M, B, T, C, D) and, with ``need_weights``, the head-averaged weights (M, B, T, C, C), dropped out and
    rescaled in training as nn.MultiheadAttention returns them."""
    M, B, T, C, D = x.shape
    H = num_heads
    qkv = linear(x, in_proj_weight, in_proj_bias)  # (M, B, T, C, 3D)
    keep = training_keep_mask((M * B * T * H, C, C), dropout, training, x)  # on the weights
    out, weights = attention_core(qkv.view(M, B * T, C, 3 * D), H, cross, keep, need_weights)
    # the dropout's 1/(1-p) scale is applied to the small head-averaged map and folded into out_proj
    scale = 1.0
    if keep is not None:
        scale = 1.0 / (1.0 - dropout)
        out_proj_weight = out_proj_weight * scale
    out = linear(out.view(M, B, T, C, D), out_proj_weight, out_proj_bias)  # (M, B, T, C, D)
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
    multiplies the attention weights (dropout WITHOUT its 1/(1-p) scale). Returns out (M, N, C, D) (heads
    concatenated, before out_proj) and, when ``need_weights``, the head-averaged (dropped-out) weights
    (M, N, C, C)."""
    needs_grad = torch.is_grad_enabled() and qkv.requires_grad
    if needs_grad and qkv.dtype == torch.float32 and not torch.is_autocast_enabled(qkv.device.type):
        return _AttentionCore.apply(qkv, num_heads, cross, keep, need_weights)
    return _attention_core_reference(qkv, num_heads, cross, keep, need_weights)

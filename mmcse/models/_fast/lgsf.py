"""The fast path of FGSE's LGSF branches: sum_b fc_b(x + r_b * g_b) with r_b = sigmoid(cos(local_b, g_b)).

g_b is constant over time, so fc_b(x + r_b g_b) = fc_b(x) + r_b (W_b g_b): all branches share ONE matmul
on x (their weights and biases summed), W_b g_b is computed once per clip and class instead of once per
segment, and the gate and its sum run as one autograd Function with a hand-written backward.

The plain version it must equal is in ``FGSELayer.forward`` (:mod:`mmcse.models.fgse`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mmcse.models._fast.onednn import linear


def gated_fc_sum(
    x: torch.Tensor, branches: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]
) -> torch.Tensor:
    """sum over ``branches`` (weight, bias, local, g) of F.linear(x + r * g, weight, bias),
    r = sigmoid(cos(local, g)). x, local (2, B, T, C, D); g (2, B, 1, C, D) -> (2, B, T, C, D)."""
    h = linear(x, sum(w for w, _, _, _ in branches), sum(b for _, b, _, _ in branches))
    for weight, _, local, g in branches:
        h = gated_add(h, local, g, F.linear(g, weight))  # + r_t * (W g)
    return h


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

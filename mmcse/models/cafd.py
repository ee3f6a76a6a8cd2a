"""CAFD: class-aware feature decoupling (MM-CSE, AAAI 2025), with all 26 class heads batched.

For each modality, K+1 = 26 independent heads split the holistic segment feature x (B, T, d) into 25
event-class features and one background feature (slot 25, last). The heads' first Linear layers all
read the same input, so they run as ONE (d -> 26 * d_c) matmul; the visual heads' second Linear runs
as one batched matmul over the 26 classes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mmcse.config import ModelConfig
from mmcse.models import _fast
from mmcse.models._fast import fast_kernels_enabled
from mmcse.models.layers import ClassWiseLinear


class SharedInputHeads(nn.Module):
    """G Linear(in -> out) heads that all read the same input: x (..., in) -> (..., G, out).

    Stored as ``weight`` (G, out, in), ``bias`` (G, out) (head g = official ``*_unmix.g``); computed as
    one Linear(in -> G * out) with the weights of :meth:`flat`.
    """

    def __init__(self, groups: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.groups, self.in_features, self.out_features = groups, in_features, out_features
        self.weight = nn.Parameter(torch.empty(groups, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(groups, out_features))
        bound = 1.0 / math.sqrt(in_features)  # same init as G separate nn.Linear
        nn.init.kaiming_uniform_(self.weight.view(-1, in_features), a=math.sqrt(5))
        nn.init.uniform_(self.bias, -bound, bound)

    def flat(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The heads as one Linear(in -> G * out): weight (G * out, in), bias (G * out,)."""
        return self.weight.reshape(-1, self.in_features), self.bias.reshape(-1)

    def unflatten(self, y: torch.Tensor) -> torch.Tensor:
        """(..., G * out) -> (..., G, out)."""
        return y.unflatten(-1, (self.groups, self.out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.unflatten(F.linear(x, *self.flat()))  # (..., G, out)


class AlphaNet(nn.Module):
    """Dynamic background weight: ReLU -> Linear(d -> d/2) -> ReLU -> Dropout -> Linear(d/2 -> 1)."""

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, d // 2)
        self.fc2 = nn.Linear(d // 2, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, d) -> (B, T, 1) logits
        return self.fc2(self.dropout(F.relu(self.fc1(F.relu(x)))))


class Reconstructor(nn.Module):
    """Decode the flattened class-wise features back to the holistic feature: Linear -> ReLU -> Linear -> ReLU.

    (The official visual decoder starts with a ReLU; its input is already a ReLU output, so that one is an
    identity and is left out.)
    """

    def __init__(self, in_features: int, d: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, d)
        self.fc2 = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, S * dc) -> (B, T, d)
        if fast_kernels_enabled():  # oneDNN, ReLU fused into each matmul
            h = _fast.linear(x, self.fc1.weight, self.fc1.bias, relu=True)
            return _fast.linear(h, self.fc2.weight, self.fc2.bias, relu=True)
        return F.relu(self.fc2(F.relu(self.fc1(x))))


class CAFD(nn.Module):
    """Class-aware feature decoupling + dynamic background fusion for both modalities.

    forward(a, v) with a, v (B, T, d) returns
      class_features (B, T, 2, S, d_c)  S = 26 slots (background last) or 25 without background,
      fused (2, B, T, 25, d_c)          the features FGSE enhances (modality first: 0 audio, 1 visual),
      aux dict                          rec_a rec_v ort_a ort_v (only when ``with_aux``).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d, dc, C = cfg.d_model, cfg.d_class, cfg.num_classes
        self.use_cafd, self.use_background, self.dynamic_fusion = (
            cfg.use_cafd,
            cfg.use_background and cfg.use_cafd,
            cfg.dynamic_fusion,
        )
        self.num_classes = C
        if not cfg.use_cafd:
            # ablation "w/o CAFD": one shared head per modality, its output copied to all 25 class slots
            self.audio_shared = nn.Linear(d, dc)
            self.visual_shared = nn.Linear(d, dc)
            return
        S = C + 1 if self.use_background else C
        self.num_slots = S
        self.audio_heads = SharedInputHeads(S, d, dc)  # ReLU -> Linear(d, dc) -> ReLU
        self.visual_heads1 = SharedInputHeads(S, d, dc)  # ReLU -> Linear(d, dc) -> ReLU -> Dropout
        self.visual_heads2 = ClassWiseLinear(S, dc, dc)  #   -> Linear(dc, dc) -> ReLU
        self.dropout = nn.Dropout(cfg.dropout)
        self.rec_a = Reconstructor(S * dc, d)
        self.rec_v = Reconstructor(S * dc, d)
        if self.use_background:
            if self.dynamic_fusion:
                self.alpha_a = AlphaNet(d, cfg.dropout)
                self.alpha_v = AlphaNet(d, cfg.dropout)
            # f_k = ReLU(W [alpha e_k ; (1 - alpha) b] + c)
            self.reduce_a = nn.Linear(2 * dc, dc)
            self.reduce_v = nn.Linear(2 * dc, dc)

    def decouple(self, a: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """a, v (B, T, d) -> E_a, E_v (B, T, S, d_c).

        audio head k:  ReLU -> Linear(d, dc) -> ReLU
        visual head k: ReLU -> Linear(d, dc) -> ReLU -> Dropout -> Linear(dc, dc) -> ReLU
        """
        heads_a, heads_v1, heads_v2 = self.audio_heads, self.visual_heads1, self.visual_heads2
        if not fast_kernels_enabled():
            e_a = F.relu(heads_a(F.relu(a)))  # (B, T, S, dc)
            e_v = F.relu(heads_v2(self.dropout(F.relu(heads_v1(F.relu(v))))))  # (B, T, S, dc)
            return e_a, e_v
        # fast: oneDNN with the ReLU fused; the dropout mask is applied in the first visual layer's output
        # pass, its 1/(1-p) scale by the second layer's matmul (alpha)
        e_a = heads_a.unflatten(_fast.linear(F.relu(a), *heads_a.flat(), relu=True))  # (B, T, S, dc)
        p, hidden_shape = self.dropout.p, (*v.shape[:-1], heads_v1.groups * heads_v1.out_features)
        keep = _fast.training_keep_mask(hidden_shape, p, self.training, v)  # (B, T, S * dc) or None
        e_v = heads_v1.unflatten(_fast.linear(F.relu(v), *heads_v1.flat(), relu=True, keep=keep))
        e_v = F.relu(heads_v2(e_v, scale=1.0 if keep is None else 1.0 / (1.0 - p)))  # (B, T, S, dc)
        return e_a, e_v

    def fuse(self, e: torch.Tensor, alpha: torch.Tensor | float, reduce: nn.Linear) -> torch.Tensor:
        """Dynamic background fusion, f_k = ReLU(reduce([alpha e_k ; (1 - alpha) b])) for the 25 classes k,
        b = e[:, :, 25] the background feature. e (B, T, 26, dc), alpha (B, T, 1, 1) -> (B, T, 25, dc)."""
        if not fast_kernels_enabled():
            event, back = e[:, :, :-1], e[:, :, -1:]  # (B, T, 25, dc), (B, T, 1, dc)
            back = ((1 - alpha) * back).expand_as(event)  # (B, T, 25, dc)
            return F.relu(reduce(torch.cat([alpha * event, back], dim=-1)))  # Linear(2dc -> dc) per class
        # fast: the background half of ``reduce`` is applied once per segment, not once per class
        dc = e.shape[-1]
        w_event, w_back = reduce.weight[:, :dc], reduce.weight[:, dc:]
        f_event = _fast.linear(alpha * e[:, :, :-1], w_event)  # (B, T, 25, dc)
        f_back = F.linear((1 - alpha) * e[:, :, -1:], w_back, reduce.bias)  # (B, T, 1, dc)
        return F.relu(f_event + f_back)

    def forward(self, a: torch.Tensor, v: torch.Tensor, with_aux: bool = False):
        aux: dict[str, torch.Tensor] = {}
        if not self.use_cafd:
            f_a = F.relu(self.audio_shared(a)).unsqueeze(2).expand(-1, -1, self.num_classes, -1)
            f_v = F.relu(self.visual_shared(v)).unsqueeze(2).expand(-1, -1, self.num_classes, -1)
            fused = torch.stack([f_a, f_v])  # (2, B, T, 25, dc)
            return fused.permute(1, 2, 0, 3, 4), fused, aux

        e_a, e_v = self.decouple(a, v)  # (B, T, S, dc) each
        if self.use_background:
            if self.dynamic_fusion:
                alpha_a = torch.sigmoid(self.alpha_a(a)).unsqueeze(-1)  # (B, T, 1, 1)
                alpha_v = torch.sigmoid(self.alpha_v(v)).unsqueeze(-1)
            else:
                alpha_a = alpha_v = 0.5
            fused = torch.stack(
                [self.fuse(e_a, alpha_a, self.reduce_a), self.fuse(e_v, alpha_v, self.reduce_v)]
            )
        else:
            fused = torch.stack([e_a, e_v])  # (2, B, T, 25, dc)

        if with_aux:
            B, T, S, dc = e_a.shape
            aux["rec_a"] = F.mse_loss(self.rec_a(e_a.reshape(B, T, S * dc)), a)
            aux["rec_v"] = F.mse_loss(self.rec_v(e_v.reshape(B, T, S * dc)), v)
            if self.use_background:
                back_a, back_v = e_a[:, :, -1:], e_v[:, :, -1]  # (B, T, 1, dc), (B, T, dc)
                aux["ort_a"] = F.cosine_similarity(e_a[:, :, :-1], back_a, dim=-1).mean()
                aux["ort_v"] = F.cosine_similarity(e_v[:, :, :-1].mean(dim=2), back_v, dim=-1).mean()
        class_features = torch.stack([e_a, e_v], dim=2)  # (B, T, 2, S, dc)
        return class_features, fused, aux

"""Building blocks shared by MM-CSE and HAN/VALOR: the input projection, class-wise (grouped) linear
layers and the attentive MMIL pooling head.

Where a module has a fast path (kernels in :mod:`mmcse.models._fast`), its forward shows both versions,
chosen by ``fast_kernels_enabled()`` (``MMCSE_FAST=0``: the plain PyTorch one).

Parameter names follow the authors' state_dict (``fc_a``, ``fc_v``, ``fc_st``, ``fc_fusion``) so an official
checkpoint maps onto these modules key for key.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from mmcse.config import ModelConfig
from mmcse.models import _fast
from mmcse.models._fast import fast_kernels_enabled


@torch.no_grad()
def clap_time_mixing_matrix(in_len: int = 64, out_len: int = 10, upsampled: int = 1024) -> torch.Tensor:
    """The (out_len, in_len) matrix M with ``M @ A == VALOR's CLAP time path applied to A``.

    VALOR turns a CLAP map A (B, 64, C) into 10 segments by: transpose to (B, C, 64), view as
    (B, C, 2, 32), bicubic interpolation (align_corners=False) to (B, C, 2, 1024), mean over the size-2
    axis, adaptive_avg_pool1d to 10. (fc_a sits in between in the original, on the channel axis; every
    step is linear along time and each row of M sums to one, so fc_a commutes with it, bias included.)
    M is obtained by pushing the identity through those exact ops, in float64.
    """
    half = in_len // 2
    eye = torch.eye(in_len, dtype=torch.float64).view(in_len, 1, 2, half)  # (64 impulses, 1, 2, 32)
    up = F.interpolate(eye, size=(2, upsampled), mode="bicubic", align_corners=False)  # (64, 1, 2, 1024)
    up = up.mean(dim=2)  # (64, 1, 1024)
    pooled = F.adaptive_avg_pool1d(up, out_len)  # (64, 1, 10)
    return pooled[:, 0, :].t().contiguous()  # (10, 64): out[t] = sum_i M[t, i] * A[i]


class InputProjection(nn.Module):
    """Project the three input streams to width ``d``, 10 segments each (no activations, as released).

    audio (B, La, Da) -> a (B, 10, d):  La = 64 (CLAP map) -> fixed time-mixing to 10, then fc_a;
                                        La = 10 -> fc_a.
    visual (B, Lv, Dv), visual_st (B, 10, Dst) -> v (B, 10, d):
        v_s = fc_v(visual), averaged over groups of Lv/10 frames when Lv > 10 (ResNet-152: 80 -> 10);
              frames already averaged (B, 10, Dv) (a pooled packed store) skip the mean: same v_s,
              since fc_v is affine (mean_i(W x_i + b) = W mean_i(x_i) + b);
        v = fc_fusion([v_s ; fc_st(visual_st)]).
    """

    def __init__(self, cfg: ModelConfig, d: int | None = None) -> None:
        super().__init__()
        d = cfg.d_model if d is None else d
        T = cfg.num_segments
        self.audio_len, self.visual_len, self.num_segments = cfg.audio_len, cfg.visual_len, T
        if cfg.audio_len not in (T, 64):
            raise ValueError(
                f"audio_len must be {T} (per-segment audio) or 64 (CLAP map), got {cfg.audio_len}"
            )
        if cfg.visual_len % T != 0:
            raise ValueError(f"visual_len must be a multiple of {T}, got {cfg.visual_len}")
        self.fc_a = nn.Linear(cfg.audio_dim, d)
        self.fc_v = nn.Linear(cfg.visual_dim, d)
        self.fc_st = nn.Linear(cfg.visual_st_dim, d)
        self.fc_fusion = nn.Linear(2 * d, d)
        if cfg.audio_len != T:
            # derived from the shapes, never saved: a checkpoint holds only learnt weights
            mix = clap_time_mixing_matrix(cfg.audio_len, T).to(torch.float32)
            self.register_buffer("audio_time_mix", mix, persistent=False)  # (10, 64)
        else:
            self.audio_time_mix = None

    def project_audio(self, audio: torch.Tensor) -> torch.Tensor:
        if self.audio_time_mix is not None:
            # mix time first: (10, 64) x (B, 64, Da) -> (B, 10, Da); 6.4x fewer rows through fc_a
            audio = torch.matmul(self.audio_time_mix.to(audio.dtype), audio)
        return self.fc_a(audio)  # (B, 10, d)

    def project_visual(self, visual: torch.Tensor, visual_st: torch.Tensor) -> torch.Tensor:
        B, Lv, _ = visual.shape
        if fast_kernels_enabled():
            v_s = _fast.linear(visual, self.fc_v.weight, self.fc_v.bias)  # (B, Lv, d)
        else:
            v_s = self.fc_v(visual)  # (B, Lv, d)
        if Lv != self.num_segments:  # frames to average (Lv == 10: pre-pooled, nothing to do)
            if Lv != self.visual_len:
                raise ValueError(f"visual has {Lv} steps, expected {self.visual_len} or {self.num_segments}")
            v_s = v_s.view(B, self.num_segments, Lv // self.num_segments, -1).mean(dim=2)  # (B, 10, d)
        v_st = self.fc_st(visual_st)  # (B, 10, d)
        return self.fc_fusion(torch.cat([v_s, v_st], dim=-1))  # (B, 10, d)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor, visual_st: torch.Tensor):
        return self.project_audio(audio), self.project_visual(visual, visual_st)


class ClassWiseLinear(nn.Module):
    """G independent Linear(in -> out) layers applied to G slots at once (no Python loop).

    x (..., G, in) -> (..., G, out), slot g through weight[g]. ``weight`` (G, out, in), ``bias`` (G, out).
    """

    def __init__(self, groups: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.groups, self.in_features, self.out_features = groups, in_features, out_features
        self.weight = nn.Parameter(torch.empty(groups, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(groups, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # the same init as G separate nn.Linear layers
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.kaiming_uniform_(self.weight.view(-1, self.in_features), a=math.sqrt(5))
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """``scale`` multiplies x first (free: it is the matmul's alpha), e.g. a dropout's 1/(1-p)."""
        lead = x.shape[:-2]
        x = x.reshape(-1, self.groups, self.in_features).transpose(0, 1)  # (G, N, in)
        y = torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2), alpha=scale)  # (G, N, out)
        return y.transpose(0, 1).reshape(*lead, self.groups, self.out_features)

    def extra_repr(self) -> str:
        return f"groups={self.groups}, in_features={self.in_features}, out_features={self.out_features}"


def attentive_mmil_pool(
    frame_logits: torch.Tensor, frame_att_logits: torch.Tensor, av_att_logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """HAN's attentive multimodal multiple-instance pooling.

    All inputs (B, T, 2, C) (modality index 0 audio, 1 visual). Returns video_prob, audio_prob,
    visual_prob (B, C) and segment_prob (B, T, 2, C):
    p = sigmoid(z); w_t = softmax over T; w_m = softmax over the 2 modalities;
    P = sum_t sum_m w_t * p * w_m; P_a = sum_t w_t[:, :, 0] * p[:, :, 0]; P_v likewise.
    """
    segment_prob = torch.sigmoid(frame_logits)  # (B, T, 2, C)
    frame_att = torch.softmax(frame_att_logits, dim=1)  # over time
    av_att = torch.softmax(av_att_logits, dim=2)  # over modalities
    temporal_prob = frame_att * segment_prob  # (B, T, 2, C)
    audio_prob = temporal_prob[:, :, 0].sum(dim=1)  # (B, C)
    visual_prob = temporal_prob[:, :, 1].sum(dim=1)  # (B, C)
    video_prob = (temporal_prob * av_att).sum(dim=2).sum(dim=1)  # (B, C)
    return video_prob, audio_prob, visual_prob, segment_prob


class MMILHead(nn.Module):
    """HAN's head (not class-specific): x (B, T, 2, d) -> three Linear(d -> C) -> attentive MMIL pooling.

    Returns (video_prob, audio_prob, visual_prob, segment_prob, segment_logits).
    """

    def __init__(self, d: int, num_classes: int = 25) -> None:
        super().__init__()
        self.fc_prob = nn.Linear(d, num_classes)
        self.fc_frame_att = nn.Linear(d, num_classes)
        self.fc_av_att = nn.Linear(d, num_classes)

    def forward(self, x: torch.Tensor):
        logits = self.fc_prob(x)  # (B, T, 2, C)
        pooled = attentive_mmil_pool(logits, self.fc_frame_att(x), self.fc_av_att(x))
        return (*pooled, logits)


class ClassWiseMMILHead(nn.Module):
    """MM-CSE's head: C class-specific Linear(d_c -> 1) scorers for each of the three MMIL logits.

    x (B, T, 2, C, d_c) -> (video_prob, audio_prob, visual_prob, segment_prob, segment_logits).
    The three scorers are stored as one (3, C, d_c) weight and applied with one einsum.
    """

    def __init__(self, d_class: int, num_classes: int = 25) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(d_class)
        # index 0: fc_prob, 1: fc_frame_att, 2: fc_av_att (official fc_prob.fc.k etc.)
        self.weight = nn.Parameter(torch.empty(3, num_classes, d_class).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(3, num_classes).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor):
        z = (
            torch.einsum("btmcd,kcd->kbtmc", x, self.weight) + self.bias[:, None, None, None, :]
        )  # (3,B,T,2,C)
        logits = z[0]
        pooled = attentive_mmil_pool(logits, z[1], z[2])
        return (*pooled, logits)


def cloned_layers(make_layer, n: int) -> nn.ModuleList:
    """``n`` deep copies of one freshly built layer (the originals' ``_get_clones``): equal weights at init.
    Nothing is built (no random draws) for n = 0."""
    if n <= 0:
        return nn.ModuleList()
    layer = make_layer()
    return nn.ModuleList(copy.deepcopy(layer) for _ in range(n))

"""Training losses: each one a small function of model outputs and targets (mmcse_model.md "Losses").

Two recipes:
- ``pseudo`` (MM-CSE, VALOR; the batch carries VALOR segment pseudo labels):
  w_video*BCE(P, y) + w_segment*(BCEWithLogits(z_a, PL_a) + BCEWithLogits(z_v, PL_v))
  + w_rec*L_rec + w_ort*L_ort + w_ec*L_ec, the last three only when the model gives them
  (MM-CSE in training mode; HAN/VALOR give none).
- ``weak`` (HAN; weak labels only): w_video*BCE(P, y) + BCE(P_a, y) + BCE(P_v, 0.9y + 0.05)
  (+ MM-CSE's rec/ort terms when the model gives them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from mmcse.config import ModelConfig
    from mmcse.models.outputs import ModelOutput

PROB_EPS = 1e-7  # BCE inputs are clamped to [eps, 1 - eps], as released
VISUAL_SMOOTHING = 0.1  # HAN recipe: visual target 0.9*y + 0.05


def video_bce(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean BCE of probabilities (B, C) against targets (B, C), inputs clamped to [1e-7, 1-1e-7]."""
    return F.binary_cross_entropy(prob.clamp(PROB_EPS, 1.0 - PROB_EPS), target)


def smooth_visual_target(label: torch.Tensor, smoothing: float = VISUAL_SMOOTHING) -> torch.Tensor:
    """HAN's label smoothing for the visual stream: y * (1 - s) + s / 2 (0.9y + 0.05 for s = 0.1)."""
    return label * (1.0 - smoothing) + 0.5 * smoothing


def segment_bce_with_logits(logits: torch.Tensor, pseudo: torch.Tensor) -> torch.Tensor:
    """Mean BCE of segment logits (B, T, C) against segment pseudo labels (B, T, C)."""
    return F.binary_cross_entropy_with_logits(logits, pseudo)


def cooccurrence_targets(pseudo_a: torch.Tensor, pseudo_v: torch.Tensor) -> dict[str, torch.Tensor]:
    """Targets of L_ec from segment pseudo labels (B, T, C): each (B, T, C, C), rows = query classes.

    G_aa[i, j] = 1 where PL_a[i] == 1 and PL_a[j] == 1, else 0; G_vv likewise, G_av[i, j] from PL_a[i] and
    PL_v[j], G_va = G_av^T. The diagonal is included; a segment with no event has an all-zero target.
    As the authors' dataloader builds them (``np.where(label == 1)``): only labels exactly 1 count, so a
    soft pseudo label (say 0.8) marks no pair. For 0/1 labels (VALOR's) this equals PL[i] * PL[j].
    """
    on_a = (pseudo_a == 1).to(pseudo_a.dtype)  # (B, T, C)
    on_v = (pseudo_v == 1).to(pseudo_v.dtype)
    g_aa = on_a.unsqueeze(-1) * on_a.unsqueeze(-2)  # (B, T, C, C)
    g_vv = on_v.unsqueeze(-1) * on_v.unsqueeze(-2)
    g_av = on_a.unsqueeze(-1) * on_v.unsqueeze(-2)
    return {"aa": g_aa, "vv": g_vv, "av": g_av, "va": g_av.transpose(-1, -2)}


def event_cooccurrence_loss(
    attn: dict[str, torch.Tensor], pseudo_a: torch.Tensor, pseudo_v: torch.Tensor
) -> torch.Tensor:
    """L_ec = MSE(M_aa, G_aa) + MSE(M_vv, G_vv) + MSE(M_av, G_av) + MSE(M_va, G_va), maps (B, T, C, C)."""
    targets = cooccurrence_targets(pseudo_a, pseudo_v)
    return sum(F.mse_loss(attn[key], targets[key]) for key in ("aa", "vv", "av", "va"))


def loss_recipe(model_cfg: ModelConfig, has_pseudo_labels: bool) -> str:
    """``pseudo`` (the paper's / VALOR's recipe) when pseudo labels exist and the model is not HAN,
    else ``weak`` (HAN's recipe). HAN is defined by its weak-label recipe, so it always gets ``weak``."""
    return "pseudo" if has_pseudo_labels and model_cfg.arch != "han" else "weak"


def compute_loss_terms(
    output: ModelOutput, batch: dict, model_cfg: ModelConfig
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(total loss, named detached terms as 0-d tensors). Use this in hot loops: no host sync."""
    label = batch["label"]  # (B, C)
    terms: dict[str, torch.Tensor] = {}
    total = model_cfg.w_video * _add(terms, "video", video_bce(output.video_prob, label))

    if loss_recipe(model_cfg, "pseudo_audio" in batch) == "pseudo":
        pseudo_a, pseudo_v = batch["pseudo_audio"], batch["pseudo_visual"]  # (B, T, C)
        seg_a = _add(terms, "seg_a", segment_bce_with_logits(output.segment_logits[:, :, 0], pseudo_a))
        seg_v = _add(terms, "seg_v", segment_bce_with_logits(output.segment_logits[:, :, 1], pseudo_v))
        total = total + model_cfg.w_segment * (seg_a + seg_v)
        if output.attn and model_cfg.w_ec > 0:
            total = total + model_cfg.w_ec * _add(
                terms, "ec", event_cooccurrence_loss(output.attn, pseudo_a, pseudo_v)
            )
    else:
        total = total + _add(terms, "video_a", video_bce(output.audio_prob, label))
        total = total + _add(terms, "video_v", video_bce(output.visual_prob, smooth_visual_target(label)))

    aux = output.aux_losses
    if "rec_a" in aux and "rec_v" in aux:
        total = total + model_cfg.w_rec * _add(terms, "rec", 0.5 * (aux["rec_a"] + aux["rec_v"]))
    if "ort_a" in aux and "ort_v" in aux:
        total = total + model_cfg.w_ort * _add(terms, "ort", aux["ort_a"] + aux["ort_v"])
    terms["loss"] = total.detach()
    return total, terms


def compute_loss(
    output: ModelOutput, batch: dict, model_cfg: ModelConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """(total loss to backpropagate, named terms as floats: loss, video, seg_a, seg_v, ec, rec, ort or
    loss, video, video_a, video_v[, rec, ort])."""
    total, terms = compute_loss_terms(output, batch, model_cfg)
    return total, {name: float(value) for name, value in terms.items()}


def _add(terms: dict[str, torch.Tensor], name: str, value: torch.Tensor) -> torch.Tensor:
    terms[name] = value.detach()
    return value

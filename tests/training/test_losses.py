"""Losses on hand-made tensors: clamping, label smoothing, L_ec targets, the two recipes and their weights."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from mmcse.config import ModelConfig
from mmcse.models.outputs import ModelOutput
from mmcse.training.losses import (
    compute_loss,
    cooccurrence_targets,
    event_cooccurrence_loss,
    loss_recipe,
    segment_bce_with_logits,
    smooth_visual_target,
    video_bce,
)

B, T, C = 2, 10, 25


def test_video_bce_clamps_certain_mistakes_to_a_finite_value():
    # p = 0 for a positive costs -log(1e-7); p = 1 for a negative costs -log(1 - (1 - 1e-7)) in float32
    assert video_bce(torch.tensor([[0.0]]), torch.tensor([[1.0]])).item() == pytest.approx(
        -math.log(1e-7), rel=1e-5
    )
    upper = torch.tensor(1 - 1e-7, dtype=torch.float32).item()
    assert video_bce(torch.tensor([[1.0]]), torch.tensor([[0.0]])).item() == pytest.approx(
        -math.log(1 - upper), rel=1e-4
    )
    assert video_bce(torch.tensor([[0.25]]), torch.tensor([[1.0]])).item() == pytest.approx(-math.log(0.25))


def test_visual_label_smoothing_is_0_9y_plus_0_05():
    label = torch.tensor([[1.0, 0.0, 1.0]])
    assert torch.allclose(smooth_visual_target(label), torch.tensor([[0.95, 0.05, 0.95]]))


def test_segment_bce_with_logits_matches_the_formula():
    logits = torch.tensor([[[2.0, -1.0]]])
    pseudo = torch.tensor([[[1.0, 0.0]]])
    expected = 0.5 * (
        -math.log(torch.sigmoid(torch.tensor(2.0)).item())
        - math.log(1 - torch.sigmoid(torch.tensor(-1.0)).item())
    )
    assert segment_bce_with_logits(logits, pseudo).item() == pytest.approx(expected, rel=1e-6)


def test_cooccurrence_targets_by_hand():
    pa = torch.zeros(1, 2, 4)
    pv = torch.zeros(1, 2, 4)
    pa[0, 0, [0, 2]] = 1  # segment 0: audio classes 0 and 2
    pv[0, 0, 2] = 1  # segment 0: visual class 2; segment 1 is empty
    g = cooccurrence_targets(pa, pv)
    aa = torch.zeros(4, 4)
    aa[0, 0] = aa[0, 2] = aa[2, 0] = aa[2, 2] = 1
    assert torch.equal(g["aa"][0, 0], aa)
    vv = torch.zeros(4, 4)
    vv[2, 2] = 1
    assert torch.equal(g["vv"][0, 0], vv)
    av = torch.zeros(4, 4)
    av[0, 2] = av[2, 2] = 1  # rows audio classes, columns visual classes
    assert torch.equal(g["av"][0, 0], av)
    assert torch.equal(g["va"][0, 0], av.T)
    for key in ("aa", "vv", "av", "va"):
        assert g[key][0, 1].sum() == 0  # an empty segment has an all-zero target


def _authors_maps(pseudo_a: np.ndarray, pseudo_v: np.ndarray) -> dict[str, np.ndarray]:
    """The authors' dataloader rule for one clip's (T, C) pseudo labels, written out independently: a
    class pair (i, j) of segment r is 1 when label_i == 1 and label_j == 1 (their ``np.where(a == 1)``)."""
    maps = {}
    pairs = {"aa": (pseudo_a, pseudo_a), "vv": (pseudo_v, pseudo_v), "av": (pseudo_a, pseudo_v)}
    for key, (x, y) in pairs.items():
        m = np.zeros((x.shape[0], x.shape[1], x.shape[1]))
        for r in range(x.shape[0]):
            for i in np.where(x[r] == 1)[0]:
                for j in np.where(y[r] == 1)[0]:
                    m[r, i, j] = 1
        maps[key] = m
    maps["va"] = maps["av"].transpose(0, 2, 1)
    return maps


def test_cooccurrence_targets_of_soft_labels_follow_the_authors():
    # soft pseudo labels: only labels exactly 1 mark a pair (a product of 0.8 * 1 would give 0.8)
    gen = torch.Generator().manual_seed(2)
    levels = torch.tensor([0.0, 0.3, 0.8, 1.0])
    pa = levels[torch.randint(0, 4, (B, T, C), generator=gen)]
    pv = levels[torch.randint(0, 4, (B, T, C), generator=gen)]
    g = cooccurrence_targets(pa, pv)
    for b in range(B):
        expected = _authors_maps(pa[b].numpy(), pv[b].numpy())
        for key in ("aa", "vv", "av", "va"):
            assert np.array_equal(g[key][b].numpy(), expected[key]), key
    assert not torch.equal(g["av"], pa.unsqueeze(-1) * pv.unsqueeze(-2))  # the product rule differs here
    assert set(torch.unique(g["aa"]).tolist()) == {0.0, 1.0}


def test_event_cooccurrence_loss_is_zero_at_the_target_and_sums_four_mses():
    gen = torch.Generator().manual_seed(0)
    pa = (torch.rand(B, T, C, generator=gen) > 0.8).float()
    pv = (torch.rand(B, T, C, generator=gen) > 0.8).float()
    targets = cooccurrence_targets(pa, pv)
    assert event_cooccurrence_loss(targets, pa, pv).item() == 0.0
    zeros = {k: torch.zeros(B, T, C, C) for k in targets}
    expected = sum(targets[k].pow(2).mean().item() for k in targets)
    assert event_cooccurrence_loss(zeros, pa, pv).item() == pytest.approx(expected, rel=1e-6)
    assert expected > 0


def _fake_output(with_attn: bool, with_aux: bool) -> ModelOutput:
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(B, T, 2, C, generator=gen)
    out = ModelOutput(
        video_prob=torch.rand(B, C, generator=gen),
        audio_prob=torch.rand(B, C, generator=gen),
        visual_prob=torch.rand(B, C, generator=gen),
        segment_prob=torch.sigmoid(logits),
        segment_logits=logits,
    )
    if with_attn:
        out.attn = {
            k: torch.softmax(torch.randn(B, T, C, C, generator=gen), -1) for k in ("aa", "av", "vv", "va")
        }
    if with_aux:
        out.aux_losses = {
            "rec_a": torch.tensor(0.4),
            "rec_v": torch.tensor(0.2),
            "ort_a": torch.tensor(0.3),
            "ort_v": torch.tensor(0.1),
        }
    return out


def _batch(with_pseudo: bool) -> dict:
    gen = torch.Generator().manual_seed(2)
    batch = {"label": (torch.rand(B, C, generator=gen) > 0.8).float()}
    if with_pseudo:
        batch["pseudo_audio"] = (torch.rand(B, T, C, generator=gen) > 0.8).float()
        batch["pseudo_visual"] = (torch.rand(B, T, C, generator=gen) > 0.8).float()
    return batch


def test_paper_recipe_total_and_weights():
    cfg = ModelConfig(w_video=1.0, w_segment=1.0, w_rec=1.0, w_ort=0.1, w_ec=0.1)
    out, batch = _fake_output(True, True), _batch(True)
    total, parts = compute_loss(out, batch, cfg)
    y, pa, pv = batch["label"], batch["pseudo_audio"], batch["pseudo_visual"]
    expected = (
        video_bce(out.video_prob, y)
        + segment_bce_with_logits(out.segment_logits[:, :, 0], pa)
        + segment_bce_with_logits(out.segment_logits[:, :, 1], pv)
        + 1.0 * 0.5 * (0.4 + 0.2)
        + 0.1 * (0.3 + 0.1)
        + 0.1 * event_cooccurrence_loss(out.attn, pa, pv)
    )
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert parts["loss"] == pytest.approx(total.item())
    assert parts["rec"] == pytest.approx(0.3) and parts["ort"] == pytest.approx(0.4)
    assert set(parts) == {"loss", "video", "seg_a", "seg_v", "ec", "rec", "ort"}
    # w_ec = 0 drops L_ec; the other weights scale their terms
    cfg0 = dataclasses.replace(cfg, w_ec=0.0, w_rec=2.0)
    total0, parts0 = compute_loss(out, batch, cfg0)
    assert "ec" not in parts0
    assert total0.item() == pytest.approx(expected.item() - 0.1 * parts["ec"] + 0.3, rel=1e-6)


def test_valor_recipe_is_video_bce_plus_segment_bces():
    cfg = ModelConfig(arch="valor")
    out, batch = _fake_output(False, False), _batch(True)
    total, parts = compute_loss(out, batch, cfg)
    assert set(parts) == {"loss", "video", "seg_a", "seg_v"}
    assert total.item() == pytest.approx(parts["video"] + parts["seg_a"] + parts["seg_v"], rel=1e-6)


def test_weak_recipe_uses_modality_bces_with_visual_smoothing():
    out, batch = _fake_output(False, False), _batch(False)
    y = batch["label"]
    total, parts = compute_loss(out, batch, ModelConfig(arch="mmcse"))
    expected = (
        video_bce(out.video_prob, y)
        + video_bce(out.audio_prob, y)
        + video_bce(out.visual_prob, 0.9 * y + 0.05)
    )
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert set(parts) == {"loss", "video", "video_a", "video_v"}


def test_han_always_uses_the_weak_recipe():
    assert loss_recipe(ModelConfig(arch="han"), True) == "weak"
    assert loss_recipe(ModelConfig(arch="valor"), True) == "pseudo"
    assert loss_recipe(ModelConfig(arch="mmcse"), False) == "weak"
    _, parts = compute_loss(_fake_output(False, False), _batch(True), ModelConfig(arch="han"))
    assert "seg_a" not in parts and "video_v" in parts


def test_loss_backpropagates_to_inputs():
    out, batch = _fake_output(True, True), _batch(True)
    logits = out.segment_logits.clone().requires_grad_(True)
    out.segment_logits = logits
    total, _ = compute_loss(out, batch, ModelConfig())
    total.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0

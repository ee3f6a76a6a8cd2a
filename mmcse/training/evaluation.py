"""Evaluation: a model's probabilities on a split, the 10 AVVP numbers, and a checkpoint's report.

evaluate("runs/x/best.safetensors", DataPaths.from_root("data"), "test")   -> the 10 numbers (percent)
evaluate_report(...)                                                       -> + gating, GT file, stored
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mmcse.checkpoint import load_checkpoint
from mmcse.config import check_same_inputs
from mmcse.data.dataset import LLPSplit, to_device
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split
from mmcse.domain import STREAMS, DomainStats, split_check
from mmcse.metrics import SCORE_KEYS, avvp_scores, predict
from mmcse.models import apply_process_tuning
from mmcse.training.runs import clip_set_id
from mmcse.utils.device import resolve_device


@torch.inference_mode()
def collect_probabilities(
    model: nn.Module,
    split: LLPSplit,
    device: torch.device,
    batch_size: int = 64,
    domain: DomainStats | None = None,
) -> dict[str, torch.Tensor]:
    """Model probabilities for every clip of ``split`` in order (CPU float32):
    segment_prob (N, 10, 2, 25), video_prob / audio_prob / visual_prob (N, 25). With ``domain`` (a
    checkpoint's statistics) also "distance.<stream>" (N,) float64: each clip's out-of-domain distance."""
    was_training = model.training
    model.eval()
    keys = ("segment_prob", "video_prob", "audio_prob", "visual_prob")
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    pin = device.type == "cuda"
    for batch in split.batches(range(len(split)), batch_size, pin_memory=pin):
        if domain is not None:
            _add_distances(domain, batch, parts)
        batch = to_device(batch, device)
        out = model(batch["audio"], batch["visual"], batch["visual_st"])
        for k in keys:
            parts[k].append(getattr(out, k).float().cpu())
    model.train(was_training)
    return {k: torch.cat(v) for k, v in parts.items()}


def domain_distances(domain: DomainStats, split: LLPSplit, batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Each clip's out-of-domain distance per stream, "distance.<stream>" (N,) float64, as
    ``collect_probabilities`` gives them with ``domain`` (the features only: no model pass)."""
    parts: dict[str, list[torch.Tensor]] = {}
    for batch in split.batches(range(len(split)), batch_size):
        _add_distances(domain, batch, parts)
    return {k: torch.cat(v) for k, v in parts.items()}


def _add_distances(domain: DomainStats, batch: dict[str, torch.Tensor], parts: dict[str, list]) -> None:
    """Append a batch's per-clip distances to ``parts["distance.<stream>"]``."""
    for k, d in domain.distances({k: batch[k].numpy() for k in STREAMS}).items():
        parts.setdefault(f"distance.{k}", []).append(torch.from_numpy(d))


def score(
    probs: dict[str, torch.Tensor],
    split: LLPSplit,
    gating: str = "mmcse",
    segment_threshold: float = 0.5,
    video_threshold: float = 0.5,
) -> dict[str, float]:
    """The 10 AVVP numbers (percent) of ``probs`` against the split's dense GT."""
    if not split.has_dense:
        raise ValueError(f"the {split.name} split ({split.split_csv}) has no dense GT to score against")
    pred_a, pred_v = predict(
        probs["segment_prob"],
        probs["video_prob"],
        probs["audio_prob"],
        probs["visual_prob"],
        gating=gating,
        segment_threshold=segment_threshold,
        video_threshold=video_threshold,
        nan_as_off=True,  # the model's own outputs: NaN from overflowing inputs scores as "off"
    )
    return avvp_scores(pred_a, pred_v, split.gt_audio, split.gt_visual)


def evaluate(
    checkpoint: str | Path,
    data: DataPaths,
    split: str = "test",
    gating: str | None = None,
    audio_gt: str = "fixed",
    segment_threshold: float = 0.5,
    video_threshold: float = 0.5,
    device: str = "auto",
    batch_size: int = 64,
) -> dict[str, float]:
    """The 10 numbers (percent) of a checkpoint on a split. ``gating`` None: the gating stored in the
    checkpoint (its train config), else ``mmcse``."""
    return evaluate_report(
        checkpoint, data, split, gating, audio_gt, segment_threshold, video_threshold, device, batch_size
    )["scores"]


def evaluate_report(
    checkpoint: str | Path,
    data: DataPaths,
    split: str = "test",
    gating: str | None = None,
    audio_gt: str = "fixed",
    segment_threshold: float = 0.5,
    video_threshold: float = 0.5,
    device: str = "auto",
    batch_size: int = 64,
    probabilities_of: Callable[[LLPSplit], dict[str, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """``evaluate`` plus what it was measured with: {"scores", "checkpoint", "split", "n_clips", "gating",
    "audio_gt", "audio_gt_csv", "thresholds", "stored" (the checkpoint's metrics for this split or None),
    "stored_setting" (the gating/audio GT they were measured with), "reproduced" (True/False/None)}.
    ``probabilities_of(split)``: the model's probabilities on the opened split from elsewhere (the results
    cache: ``evaluate``), instead of a model pass here."""
    apply_process_tuning()  # glibc malloc for large tensors (mmcse.models._fast.allocator)
    dev = resolve_device(device)
    loaded = load_checkpoint(checkpoint, device=str(dev))
    check_same_inputs(loaded.feature_spec, data.feature_spec, where=f"the data at {data.feature_root}")
    if gating is None:
        gating = loaded.train_config.gating if loaded.train_config is not None else "mmcse"
    split_data = open_split(data, split, audio_gt=audio_gt, dense=True)
    if probabilities_of is None:
        probs = collect_probabilities(loaded.model, split_data, dev, batch_size, domain=loaded.domain)
    else:
        probs = {k: torch.from_numpy(np.asarray(v)) for k, v in probabilities_of(split_data).items()}
        if loaded.domain is not None:
            probs.update(domain_distances(loaded.domain, split_data, batch_size))
    scores = score(probs, split_data, gating, segment_threshold, video_threshold)
    out_of_domain = _out_of_domain(loaded.domain, probs, split_data, checkpoint)

    stored = _stored_comparison(loaded, split, split_data, gating, audio_gt, segment_threshold, video_threshold, scores)
    return {
        "scores": scores,
        "checkpoint": str(checkpoint),
        "split": split,
        "n_clips": len(split_data),
        "gating": gating,
        "audio_gt": audio_gt,
        "audio_gt_csv": split_data.audio_csv.name,
        "clips": clip_set_id(split_data.filenames),
        "thresholds": {"segment": segment_threshold, "video": video_threshold},
        "out_of_domain": out_of_domain,
        **stored,
    }


def _out_of_domain(domain: DomainStats | None, probs: dict, split: LLPSplit, checkpoint) -> dict | None:
    """The split's out-of-domain summary (mmcse.domain.split_check; None when the checkpoint has no
    statistics), with one warning when clips lie far outside the training features or many are over the
    threshold. The scores are never changed."""
    if domain is None:
        return None
    summary = split_check({k: probs[f"distance.{k}"].numpy() for k in STREAMS}, domain.threshold)
    if summary["warn"]:
        worst = summary["worst"]
        vid = split.video_ids[worst["clip"]]
        what = (f"{summary['far']} of {summary['clips']} clips have features far outside" if summary["far"]
                else f"{summary['over']} of {summary['clips']} clips ({100 * summary['over'] / summary['clips']:.0f}%, "
                     "where about 1% is expected) have features outside")  # fmt: skip
        warnings.warn(
            f"{split.split_csv}: {what} those {Path(checkpoint).name} was trained on (furthest: clip {vid}, its "
            f"{worst['stream']} features at distance {worst['distance']:.3g}, {worst['distance'] / worst['threshold']:.3g} "
            f"times the threshold {worst['threshold']:.3g}; {split.store.path(worst['stream'], vid)}); they are "
            "scored as they are, but their predictions may mean little: check their feature files",
            UserWarning, stacklevel=3,
        )  # fmt: skip
    return {k: v for k, v in summary.items() if k != "warn"} | {"warned": summary["warn"]}


def _stored_comparison(loaded, split, split_data, gating, audio_gt, seg_t, vid_t, scores) -> dict[str, Any]:
    """Compare the checkpoint's stored metrics of ``split`` with ``scores`` only like with like: the same
    clips (count and hash of their names, recorded at training time), gating, audio GT and thresholds.
    Returns {"stored", "stored_setting", "reproduced" (True / False / None), "comparison" (a sentence)}."""
    stored = (loaded.metrics or {}).get(split)
    extra = loaded.meta.get("extra") or {}
    setting = {
        "gating": extra.get("gating", loaded.meta.get("gating")),
        "audio_gt": extra.get("audio_gt"),
        "clips": extra.get(f"{split}_clips"),
    }
    here = clip_set_id(split_data.filenames)
    why_not = None
    if not stored:
        why_not = f"the checkpoint stores no {split} metrics"
    elif setting["clips"] is None:
        why_not = f"the checkpoint does not record which {split} clips its stored metrics were measured on"
    elif setting["clips"] != here:
        why_not = (f"its stored {split} metrics were measured on {setting['clips']['count']} other clips "
                   f"(hash {setting['clips']['sha256']}); this split has {here['count']} (hash {here['sha256']})")  # fmt: skip
    elif setting["gating"] != gating or setting["audio_gt"] not in (None, audio_gt) or (seg_t, vid_t) != (0.5, 0.5):
        why_not = (f"its stored {split} metrics were measured with gating {setting['gating']}, audio GT "
                   f"{setting['audio_gt']} and thresholds 0.5/0.5")  # fmt: skip
    if why_not is not None:
        return {"stored": stored, "stored_setting": setting, "reproduced": None,
                "comparison": f"not compared: {why_not}"}  # fmt: skip
    worst = max(abs(float(stored[k]) - scores[k]) for k in SCORE_KEYS if k in stored)
    reproduced = worst < 1e-6
    verdict = "reproduced" if reproduced else "NOT reproduced"
    return {"stored": stored, "stored_setting": setting, "reproduced": reproduced,
            "comparison": f"stored {split} metrics {verdict} on the same {here['count']} clips "
                          f"(max |difference| {worst:.2e} points)"}  # fmt: skip

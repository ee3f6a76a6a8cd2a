"""Checkpoints with error bars: per-clip predictions, bootstrap intervals of the 10 numbers, the
threshold-free view, and two checkpoints compared on the same clips. What `evaluate --bootstrap`,
`compare` and the app's Compare page call; the statistics themselves are mmcse.stats.

    preds = checkpoint_predictions("runs/a/best.safetensors", data, "test")   ClipPredictions (per clip)
    interval_report(preds, n_resamples=1000, seed=0)   {"scores", "ci": {key: {"ci_low", "ci_high"}}, "bootstrap"}
    threshold_free_report(preds)                       segment-level AP per class (an ADDITION to the protocol)
    compare_checkpoints(ck_a, ck_b, data, "test")      {"a", "b", "scores": {key: {a, b, delta, ci_low, ...}}, ...}

Every number is in percent, as the 10 official numbers. The point estimates are exactly the official
numbers (`metrics.avvp_scores`); the intervals describe how they would move on another draw of clips
like these, for the same trained model (not seed-to-seed training variance).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from mmcse.checkpoint import load_checkpoint, read_checkpoint_meta
from mmcse.classes import LLP_CLASSES
from mmcse.config import FeatureSpec, check_same_inputs
from mmcse.data.dataset import LLPSplit
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split
from mmcse.metrics import SCORE_KEYS, avvp_scores, per_video_scores, predict
from mmcse.models import apply_process_tuning
from mmcse.stats import (
    CLASS_MODALITIES,
    bootstrap_intervals,
    paired_class_comparison,
    paired_comparison,
    per_video_class_counts,
    segment_average_precision,
    segment_scores,
)
from mmcse.training.evaluation import collect_probabilities
from mmcse.utils.device import resolve_device

THRESHOLD_FREE_NOTE = (
    "an ADDITION to the official AVVP protocol, not one of its 10 numbers and not comparable to published "
    "results: per-class average precision of the segment-level scores min(segment prob, gate prob) ranked "
    "over all segments of the split, in percent"
)
BOOTSTRAP_METHOD = "percentile bootstrap over clips (mmcse.stats)"
PAIRED_METHOD = "paired percentile bootstrap over clips; p from a paired sign-flip permutation test"


@dataclass
class ClipPredictions:
    """One checkpoint on one split, clip by clip (all arrays in the split's clip order)."""

    checkpoint: str
    arch: str
    epoch: int | None
    feature_spec: FeatureSpec
    split: str
    filenames: list[str]
    gating: str
    audio_gt: str
    thresholds: dict[str, float]  # {"segment": 0.5, "video": 0.5}
    probs: dict[str, np.ndarray]  # segment_prob (N, 10, 2, 25); video_prob, audio_prob, visual_prob (N, 25)
    pred_a: np.ndarray  # (N, 10, 25) uint8
    pred_v: np.ndarray  # (N, 10, 25) uint8
    gt_a: np.ndarray  # (N, 10, 25) uint8
    gt_v: np.ndarray  # (N, 10, 25) uint8

    def scores(self) -> dict[str, float]:
        """The 10 official numbers (percent)."""
        return avvp_scores(self.pred_a, self.pred_v, self.gt_a, self.gt_v)

    def per_video(self) -> dict[str, np.ndarray]:
        """Per-clip values whose means are the official numbers (metrics.per_video_scores)."""
        return per_video_scores(self.pred_a, self.pred_v, self.gt_a, self.gt_v)

    def describe(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "arch": self.arch, "epoch": self.epoch, "gating": self.gating,
                "thresholds": self.thresholds, "features": self.feature_spec.name}  # fmt: skip


def checkpoint_predictions(
    checkpoint: str | Path,
    data: DataPaths,
    split: str = "test",
    gating: str | None = None,
    audio_gt: str = "fixed",
    segment_threshold: float = 0.5,
    video_threshold: float = 0.5,
    device: str = "auto",
    batch_size: int = 64,
    split_data: LLPSplit | None = None,
    probabilities_of: Callable[[LLPSplit], dict[str, np.ndarray]] | None = None,
) -> ClipPredictions:
    """A checkpoint's probabilities and binary predictions on every clip of ``split``, with the dense GT.

    ``gating`` None: the checkpoint's own (its train config), else "mmcse". ``split_data``: an already
    opened split of ``data`` (to score several checkpoints on one split without reading it twice).
    ``probabilities_of(split)``: the probabilities from elsewhere (the results cache) instead of a model pass."""
    apply_process_tuning()  # glibc malloc for large tensors (mmcse.models._fast.allocator)
    dev = resolve_device(device)
    loaded = load_checkpoint(checkpoint, device=str(dev))
    check_same_inputs(loaded.feature_spec, data.feature_spec, where=f"the data at {data.feature_root}")
    if gating is None:
        gating = loaded.train_config.gating if loaded.train_config is not None else "mmcse"
    if split_data is None:
        split_data = open_split(data, split, audio_gt=audio_gt, dense=True)
    if not split_data.has_dense:
        raise ValueError(f"the {split} split ({split_data.split_csv}) has no dense GT to score against")
    if probabilities_of is None:
        probs = {k: v.numpy() for k, v in collect_probabilities(loaded.model, split_data, dev, batch_size).items()}
    else:
        probs = {k: np.asarray(v) for k, v in probabilities_of(split_data).items()}
    pred_a, pred_v = predict(probs["segment_prob"], probs["video_prob"], probs["audio_prob"], probs["visual_prob"],
                             gating=gating, segment_threshold=segment_threshold, video_threshold=video_threshold,
                             nan_as_off=True)  # fmt: skip
    return ClipPredictions(
        checkpoint=str(checkpoint), arch=loaded.model_config.arch,
        epoch=(loaded.meta.get("extra") or {}).get("epoch"), feature_spec=loaded.feature_spec, split=split,
        filenames=list(split_data.filenames), gating=gating, audio_gt=audio_gt,
        thresholds={"segment": segment_threshold, "video": video_threshold}, probs=probs,
        pred_a=pred_a, pred_v=pred_v, gt_a=np.asarray(split_data.gt_audio), gt_v=np.asarray(split_data.gt_visual),
    )  # fmt: skip


def interval_report(
    preds: ClipPredictions, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """The 10 numbers with percentile-bootstrap intervals over clips: {"scores": the official numbers,
    "ci": {key: {"ci_low", "ci_high"}}, "bootstrap": {"n_resamples", "confidence", "seed", "n_clips",
    "method"}}. Same seed, same intervals."""
    intervals = bootstrap_intervals(preds.per_video(), n_resamples, confidence, seed)
    return {
        "scores": {k: intervals[k]["value"] for k in SCORE_KEYS},
        "ci": {k: {"ci_low": intervals[k]["ci_low"], "ci_high": intervals[k]["ci_high"]} for k in SCORE_KEYS},
        "bootstrap": _bootstrap_info(n_resamples, confidence, seed, len(preds.filenames), BOOTSTRAP_METHOD),
    }


def threshold_free_report(preds: ClipPredictions) -> dict[str, Any]:
    """Segment-level AP per class of the audio and visual scores (percent), and their means over the
    classes with positive segments. An ADDITION to the protocol (THRESHOLD_FREE_NOTE), never mixed with
    the 10 numbers. NaN (no positive segment of that class) is None, for JSON."""
    p = preds.probs
    score_a, score_v = segment_scores(p["segment_prob"], p["video_prob"], p["audio_prob"], p["visual_prob"],
                                      gating=preds.gating, combine="min")  # fmt: skip
    ap = segment_average_precision(score_a, score_v, preds.gt_a, preds.gt_v)
    per_class = {
        name: {"ap_a": _pct(ap["ap_a"][c]), "ap_v": _pct(ap["ap_v"][c]),
               "n_pos_a": int(ap["n_pos_a"][c]), "n_pos_v": int(ap["n_pos_v"][c])}
        for c, name in enumerate(LLP_CLASSES)
    }  # fmt: skip
    return {
        "note": THRESHOLD_FREE_NOTE, "level": "segment", "gating": preds.gating, "combine": "min",
        "map_a": _pct(ap["map_a"]), "map_v": _pct(ap["map_v"]), "map_mean": _pct(ap["map_mean"]),
        "n_classes_a": int((ap["n_pos_a"] > 0).sum()), "n_classes_v": int((ap["n_pos_v"] > 0).sum()),
        "per_class": per_class,
    }  # fmt: skip


def compare_checkpoints(
    checkpoint_a: str | Path,
    checkpoint_b: str | Path,
    data: DataPaths,
    split: str = "test",
    gating: str | None = None,
    audio_gt: str = "fixed",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    level: str = "segment",
    device: str = "auto",
    batch_size: int = 64,
    probabilities_of: Callable[[str | Path, LLPSplit], dict[str, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """A vs B on the same clips of ``split`` (each with its own gating unless ``gating`` is given);
    ``probabilities_of(checkpoint, split)``: each one's probabilities from elsewhere (the results cache).

    Returns {"a", "b" (what each checkpoint is), "split", "n_clips", "audio_gt", "bootstrap",
    "scores": {official key: {"a", "b", "delta" (B - A), "ci_low", "ci_high", "p", "within_noise"}},
    "per_class": {"level", "rows": [{"class", "modality", "n_clips", "a", "b", "delta", "ci_low", "ci_high",
    "p", "within_noise"}] sorted by |delta|, F in percent}, "threshold_free": {"note", "a", "b"}}."""
    check_same_features(checkpoint_a, checkpoint_b)
    split_data = open_split(data, split, audio_gt=audio_gt, dense=True)
    a, b = (checkpoint_predictions(ck, data, split, gating, audio_gt, device=device, batch_size=batch_size,
                                   split_data=split_data,
                                   probabilities_of=None if probabilities_of is None else partial(probabilities_of, ck))
            for ck in (checkpoint_a, checkpoint_b))  # fmt: skip
    paired = paired_comparison(a.per_video(), b.per_video(), n_resamples, confidence, seed)
    counts = [per_video_class_counts(p.pred_a, p.pred_v, p.gt_a, p.gt_v, level) for p in (a, b)]
    per_class = paired_class_comparison(counts[0], counts[1], n_resamples, confidence, seed)
    free_a, free_b = threshold_free_report(a), threshold_free_report(b)
    return {
        "a": a.describe(), "b": b.describe(), "split": split, "n_clips": len(a.filenames), "audio_gt": audio_gt,
        "bootstrap": _bootstrap_info(n_resamples, confidence, seed, len(a.filenames), PAIRED_METHOD),
        "scores": paired,
        "per_class": {"level": level, "rows": class_rows(per_class, clips_involved(*counts))},
        "threshold_free": {"note": THRESHOLD_FREE_NOTE, "a": _map_only(free_a), "b": _map_only(free_b)},
    }  # fmt: skip


def check_same_features(checkpoint_a: str | Path, checkpoint_b: str | Path) -> FeatureSpec:
    """A's feature spec, or one ValueError when B was trained on features of another spec."""
    spec_a, spec_b = (FeatureSpec.from_dict(read_checkpoint_meta(ck)["feature_spec"])
                      for ck in (checkpoint_a, checkpoint_b))  # fmt: skip
    if not spec_a.same_inputs(spec_b):

        def describe(spec: FeatureSpec) -> str:
            return ", ".join(f"{s.name} {tuple(s.shape)}" for s in spec.streams.values())

        raise ValueError(
            f"checkpoint A ({checkpoint_a}) was trained on '{spec_a.name}' features ({describe(spec_a)}) but "
            f"checkpoint B ({checkpoint_b}) on '{spec_b.name}' features ({describe(spec_b)}); both must read the "
            "same features to be scored on the same clips"
        )
    return spec_a


def clips_involved(counts_a: dict[str, np.ndarray], counts_b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per modality, (25,): the clips where a class has a TP, FP or FN in A or in B, i.e. the clips its
    per-class F depends on. Few clips: the bootstrap interval of that class is unreliable."""
    return {
        m: ((counts_a[m].sum(axis=0) > 0) | (counts_b[m].sum(axis=0) > 0)).sum(axis=0)  # (3, N, 25) -> (25,)
        for m in CLASS_MODALITIES
    }


def class_rows(
    per_class: dict[str, dict[str, np.ndarray]], n_clips: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    """paired_class_comparison's arrays -> one row per (class, modality), F in percent, with the clips it
    depends on (``clips_involved``), sorted by |delta| (largest first; delta NaN last)."""
    rows = []
    for m in CLASS_MODALITIES:
        r = per_class[m]
        for c, name in enumerate(LLP_CLASSES):
            rows.append({
                "class": name, "modality": m, "n_clips": int(n_clips[m][c]), "a": _pct(r["a"][c]), "b": _pct(r["b"][c]),
                "delta": _pct(r["delta"][c]), "ci_low": _pct(r["ci_low"][c]), "ci_high": _pct(r["ci_high"][c]),
                "p": None if math.isnan(r["p"][c]) else float(r["p"][c]), "within_noise": bool(r["within_noise"][c]),
            })  # fmt: skip
    return sorted(rows, key=lambda row: (row["delta"] is None, -abs(row["delta"] or 0.0)))


def _pct(value: float) -> float | None:
    """A fraction as percent; NaN -> None (JSON has no NaN)."""
    value = float(value)
    return None if math.isnan(value) else 100.0 * value


def _map_only(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in ("gating", "map_a", "map_v", "map_mean")}


def _bootstrap_info(
    n_resamples: int, confidence: float, seed: int, n_clips: int, method: str
) -> dict[str, Any]:
    return {"n_resamples": n_resamples, "confidence": confidence, "seed": seed, "n_clips": n_clips,
            "method": method}  # fmt: skip

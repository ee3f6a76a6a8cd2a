"""The official AVVP metrics (AVVP-ECCV20 protocol), exact and vectorised over videos and classes.

Everything works on binary grids shaped (N, 10, 25): video, one-second segment, class (official order,
`mmcse.classes.LLP_CLASSES`). The audio-visual grid is always derived inside as audio AND visual.

Protocol (docs/avvp_protocol.md §4), reproduced to the last digit of the official loop code:
- per video, modality and class: TP/FP/FN over the 10 segments (segment level) or over runs of
  consecutive positive segments (event level: a predicted run is a TP if ANY GT run of the class has
  IoU >= 0.5 with it, else FP; a GT run that no predicted run matches is a FN);
- F_c = 2TP / (2TP + FP + FN) over the active classes (TP+FP > 0 or TP+FN > 0), averaged per video,
  1.0 when no class is active; Event@AV adds the audio and visual counts per class first;
- the split's number is the plain mean over videos, x100; Type@AV = mean of the A, V and AV numbers.

`python -m mmcse.benchmarks.metrics` times `avvp_scores` on random data the size of the test split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mmcse.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS

SCORE_KEYS = (
    "seg_a", "seg_v", "seg_av", "seg_type", "seg_event",
    "evt_a", "evt_v", "evt_av", "evt_type", "evt_event",
)  # fmt: skip
GATINGS = ("fused", "mmcse", "modality")
MAX_RUNS = (NUM_SEGMENTS + 1) // 2  # at most 5 runs in a row of 10 segments


# ----------------------------------------------------------------------------- input checks


def _to_numpy(x) -> np.ndarray:
    """numpy view of an array-like or a (CPU or GPU) torch tensor."""
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)


def _as_binary_grid(x, name: str) -> np.ndarray:
    """Check one (N, 10, 25) 0/1 array (numpy, or torch tensor) and return it as float64."""
    x = _to_numpy(x)
    if x.ndim != 3 or x.shape[1:] != (NUM_SEGMENTS, NUM_CLASSES):
        raise ValueError(
            f"{name} has shape {x.shape}; expected (N, {NUM_SEGMENTS}, {NUM_CLASSES}) "
            "(video, segment, class) with N >= 1"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} holds no videos (shape {x.shape}); pass at least one video")
    if x.dtype != np.bool_:
        if not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"{name} has dtype {x.dtype}; expected a numeric or bool array of 0/1")
        bad = (x != 0) & (x != 1)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name} is not binary: value {x[where]!r} at (video, segment, class) {where}; "
                "threshold probabilities first (see mmcse.metrics.predict)"
            )
    return x.astype(np.float64)


def _check_grids(pred_a, pred_v, gt_a, gt_v) -> tuple[np.ndarray, ...]:
    grids = tuple(
        _as_binary_grid(x, name)
        for x, name in ((pred_a, "pred_a"), (pred_v, "pred_v"), (gt_a, "gt_a"), (gt_v, "gt_v"))
    )
    shapes = {g.shape for g in grids}
    if len(shapes) != 1:
        raise ValueError(
            "pred_a, pred_v, gt_a, gt_v must have the same shape; got "
            + ", ".join(str(g.shape) for g in grids)
        )
    return grids


# ----------------------------------------------------------------------------- counts


def _segment_counts(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """TP, FP, FN per video and class over the segments: (N, 10, 25) x2 -> (3, N, 25) float64."""
    tp = np.sum(pred * gt, axis=1)
    fp = np.sum(pred * (1 - gt), axis=1)
    fn = np.sum((1 - pred) * gt, axis=1)
    return np.stack([tp, fp, fn])


def _runs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of 1s in each row. rows (R, 10) -> start, end (R, 5) float64 (end exclusive, in
    segments), valid (R, 5) bool; runs are left-aligned in row order, unused slots invalid."""
    R = rows.shape[0]
    padded = np.zeros((R, NUM_SEGMENTS + 2), dtype=np.int8)
    padded[:, 1:-1] = rows
    step = np.diff(padded, axis=1)  # (R, 11): +1 where a run starts at t, -1 where one ends before t
    is_start = step == 1
    row_s, t_start = np.nonzero(is_start)  # row-major: starts and ends pair up in order
    _, t_end = np.nonzero(step == -1)
    slot = np.cumsum(is_start, axis=1)[row_s, t_start] - 1  # run number within its row
    start = np.zeros((R, MAX_RUNS))
    end = np.zeros((R, MAX_RUNS))
    valid = np.zeros((R, MAX_RUNS), dtype=bool)
    start[row_s, slot] = t_start
    end[row_s, slot] = t_end
    valid[row_s, slot] = True
    return start, end, valid


def _event_counts(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """TP, FP, FN per video and class over runs: (N, 10, 25) x2 -> (3, N, 25) float64."""
    N = pred.shape[0]
    pred_rows = pred.transpose(0, 2, 1).reshape(-1, NUM_SEGMENTS)  # (N*25, 10), class-major rows
    gt_rows = gt.transpose(0, 2, 1).reshape(-1, NUM_SEGMENTS)
    ps, pe, pv = _runs(pred_rows)  # (R, 5) each
    gs, ge, gv = _runs(gt_rows)
    n_pred = pv.sum(axis=1).astype(np.float64)  # (R,)
    n_gt = gv.sum(axis=1).astype(np.float64)
    tp = np.zeros_like(n_pred)
    fn = n_gt.copy()
    # only rows with runs on both sides can match; elsewhere TP = 0, FP = n_pred, FN = n_gt
    both = np.nonzero((n_pred > 0) & (n_gt > 0))[0]
    if both.size:
        ps, pe, pv, gs, ge, gv = (a[both] for a in (ps, pe, pv, gs, ge, gv))
        # IoU of every (pred run, gt run) pair of a row, in segments: (B, 5, 5)
        inter = np.minimum(pe[:, :, None], ge[:, None, :]) - np.maximum(ps[:, :, None], gs[:, None, :])
        inter = np.maximum(inter, 0.0)
        union = (pe - ps)[:, :, None] + (ge - gs)[:, None, :] - inter
        match = (inter >= 0.5 * union) & pv[:, :, None] & gv[:, None, :]  # official `>=` at IoU 0.5
        # As the official loop: a pred run is a TP if it matches ANY gt run. (Two disjoint runs cannot
        # both reach IoU >= 0.5 with one run, so no run is ever counted twice either way.)
        tp[both] = match.any(axis=2).sum(axis=1)
        fn[both] = n_gt[both] - match.any(axis=1).sum(axis=1)  # gt runs no pred run matches
    fp = n_pred - tp
    return np.stack([tp, fp, fn]).reshape(3, N, NUM_CLASSES)


def _video_f(counts: np.ndarray) -> np.ndarray:
    """Mean F over active classes per video, 1.0 when none is active: (3, N, 25) -> (N,)."""
    tp, fp, fn = counts
    active = (tp + fp != 0) | (tp + fn != 0)
    denom = np.where(active, 2 * tp + fp + fn, 1.0)
    f = np.where(active, 2 * tp / denom, 0.0)
    n_active = active.sum(axis=1)
    return np.where(n_active > 0, f.sum(axis=1) / np.maximum(n_active, 1), 1.0)


# ----------------------------------------------------------------------------- scores


def per_video_scores(pred_a, pred_v, gt_a, gt_v) -> dict[str, np.ndarray]:
    """Per-video F (N,) float64 in [0, 1] for each of the 10 numbers (same keys as `avvp_scores`).

    `avvp_scores` is 100 x the mean over videos of these; `*_type` per video is (A + V + AV) / 3,
    whose mean equals the official Type@AV. Inputs as for `avvp_scores`.
    """
    pa, pv, ga, gv = _check_grids(pred_a, pred_v, gt_a, gt_v)
    pav, gav = pa * pv, ga * gv  # AV = audio AND visual
    out: dict[str, np.ndarray] = {}
    for level, count in (("seg", _segment_counts), ("evt", _event_counts)):
        ca, cv, cav = count(pa, ga), count(pv, gv), count(pav, gav)  # (3, N, 25) each
        out[f"{level}_a"] = _video_f(ca)
        out[f"{level}_v"] = _video_f(cv)
        out[f"{level}_av"] = _video_f(cav)
        out[f"{level}_type"] = (out[f"{level}_av"] + out[f"{level}_a"] + out[f"{level}_v"]) / 3.0
        out[f"{level}_event"] = _video_f(ca + cv)  # Event@AV: audio + visual counts per class
    return {k: out[k] for k in SCORE_KEYS}


def avvp_scores(pred_a, pred_v, gt_a, gt_v) -> dict[str, float]:
    """The 10 official AVVP numbers in percent for binary (N, 10, 25) predictions and GT.

    Keys: seg_a seg_v seg_av seg_type seg_event evt_a evt_v evt_av evt_type evt_event. Equal to the
    official evaluation loop (AVVP-ECCV20 `main_avvp.py eval()`) up to float rounding (< 1e-9).
    Raises ValueError for shapes other than (N, 10, 25), mismatched shapes or non-binary values.
    """
    per_video = per_video_scores(pred_a, pred_v, gt_a, gt_v)
    out = {}
    for level in ("seg", "evt"):
        a, v, av = (100 * float(np.mean(per_video[f"{level}_{m}"])) for m in ("a", "v", "av"))
        out[f"{level}_a"], out[f"{level}_v"], out[f"{level}_av"] = a, v, av
        out[f"{level}_type"] = (av + a + v) / 3.0
        out[f"{level}_event"] = 100 * float(np.mean(per_video[f"{level}_event"]))
    return {k: out[k] for k in SCORE_KEYS}


def per_class_f(pred_a, pred_v, gt_a, gt_v, level: str = "segment") -> dict[str, np.ndarray]:
    """Per-class F (25,) for audio, visual and audio-visual, pooled over the split.

    Pooling: TP, FP and FN of each class are summed over all videos first (segments at the segment
    level, runs at the event level, counted exactly as the official per-video code counts them), then
    F_c = 2TP / (2TP + FP + FN). This is a micro average over videos, NOT the mean of per-video F; it
    is NaN where a class never appears in the predictions nor the GT of that modality.

    Returns keys "a", "v", "av" (F, float64 (25,)) and "tp_a", "fp_a", "fn_a", ... (counts, (25,)).
    """
    levels = {"segment": _segment_counts, "event": _event_counts}
    if level not in levels:
        raise ValueError(f"level must be one of {sorted(levels)}, got {level!r}")
    pa, pv, ga, gv = _check_grids(pred_a, pred_v, gt_a, gt_v)
    count = levels[level]
    out: dict[str, np.ndarray] = {}
    for m, (p, g) in {"a": (pa, ga), "v": (pv, gv), "av": (pa * pv, ga * gv)}.items():
        tp, fp, fn = count(p, g).sum(axis=1)  # (25,) each, summed over videos
        denom = 2 * tp + fp + fn
        with np.errstate(invalid="ignore", divide="ignore"):
            out[m] = np.where(denom > 0, 2 * tp / denom, np.nan)
        out[f"tp_{m}"], out[f"fp_{m}"], out[f"fn_{m}"] = tp, fp, fn
    return out


# ----------------------------------------------------------------------------- predictions


def check_threshold(value, name: str) -> float:
    """A probability threshold: a finite number in [0, 1] (one ValueError naming it otherwise)."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = float("nan")
    if isinstance(value, bool) or not 0.0 <= t <= 1.0:  # NaN fails both comparisons
        raise ValueError(f"{name} must be a probability in [0, 1]; got {value!r}")
    return t


PROBABILITY_SLACK = 1e-2  # pooled probabilities (sums of weighted sigmoids) round past 1 by float32 / bf16 ulps


def check_probabilities(
    x: np.ndarray, name: str, axes: str, nan_as_off: bool = False, high: float = 1.0
) -> np.ndarray:
    """Refuse an array of probabilities with a value outside [0, 1] or not finite: one ValueError naming
    ``name``, the first bad value and its index (``axes`` names the index, e.g. "(video, class)").
    Rounding slop up to PROBABILITY_SLACK past either end is clipped back into [0, 1] instead.
    ``nan_as_off``: NaN passes (it is below every threshold, so it switches nothing on). ``high``: the
    largest valid value (2 for the fused score P, which HAN's pooling can push past 1)."""
    if x.dtype == np.bool_:
        return x
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} has dtype {x.dtype}; expected probabilities (numbers in [0, 1])")
    bad = ~((x >= -PROBABILITY_SLACK) & (x <= high + PROBABILITY_SLACK))  # NaN fails both comparisons
    if nan_as_off:
        bad &= ~np.isnan(x)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        value = float(x[where])
        kind = f"outside [0, {high:g}]" if np.isfinite(value) else "not finite"
        raise ValueError(
            f"{name} holds {value!r} at {axes} {where}, {kind}; expected values in [0, {high:g}] "
            "(the model's sigmoid outputs; NaN comes from a model or features holding NaN / inf)"
        )
    if np.issubdtype(x.dtype, np.floating) and ((x < 0) | (x > high)).any():
        x = np.clip(x, 0.0, high)
    return x


def _prob(x, name: str, shape: tuple[int, ...], gating: str, nan_as_off: bool) -> np.ndarray:
    if x is None:
        raise ValueError(f"{name} is required for gating {gating!r}")
    x = _to_numpy(x)
    if x.shape != shape:
        raise ValueError(f"{name} has shape {x.shape}; expected {shape}")
    high = 2.0 if name == "video_prob" else 1.0  # P sums weighted probabilities of two modalities (export.FIELD_NOTES)
    return check_probabilities(x, name, "(video, class)", nan_as_off, high)


def predict(
    segment_prob,
    video_prob,
    audio_prob=None,
    visual_prob=None,
    gating: str = "mmcse",
    segment_threshold: float = 0.5,
    video_threshold: float = 0.5,
    nan_as_off: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Binary audio and visual predictions (N, 10, 25) uint8 from model probabilities (protocol §3).

    segment_prob (N, 10, 2, 25) (index 0 audio, 1 visual); video_prob / audio_prob / visual_prob (N, 25)
    fused, audio and visual video-level probabilities (numpy arrays or CPU/GPU torch tensors).
    A segment is on if p >= segment_threshold and its class's gate p >= video_threshold (`>=` as the
    official code). Gating: "fused" (HAN, VALOR): both modalities by video_prob; "mmcse" (official
    MM-CSE code): audio by video_prob, visual by visual_prob; "modality" (MA, JoMoLD): audio by
    audio_prob, visual by visual_prob. The AV prediction is audio AND visual (done by the metrics).
    A probability outside [0, 1] or not finite is refused (ValueError naming the argument and the index);
    ``nan_as_off`` (for a model's own outputs, where huge finite inputs can overflow to NaN and the
    out-of-domain check warns) lets NaN through as "off" instead.
    """
    if gating not in GATINGS:
        raise ValueError(f"gating must be one of {', '.join(GATINGS)}; got {gating!r}")
    segment_threshold = check_threshold(segment_threshold, "segment_threshold")
    video_threshold = check_threshold(video_threshold, "video_threshold")
    seg = _to_numpy(segment_prob)
    if seg.ndim != 4 or seg.shape[1:] != (NUM_SEGMENTS, 2, NUM_CLASSES):
        raise ValueError(
            f"segment_prob has shape {seg.shape}; expected (N, {NUM_SEGMENTS}, 2, {NUM_CLASSES})"
        )
    seg = check_probabilities(seg, "segment_prob", "(video, segment, modality, class)", nan_as_off)
    vshape = (seg.shape[0], NUM_CLASSES)
    gate_a_name, gate_v_name = {
        "fused": ("video_prob", "video_prob"),
        "mmcse": ("video_prob", "visual_prob"),
        "modality": ("audio_prob", "visual_prob"),
    }[gating]
    probs = {"video_prob": video_prob, "audio_prob": audio_prob, "visual_prob": visual_prob}
    gate_a = _prob(probs[gate_a_name], gate_a_name, vshape, gating, nan_as_off) >= video_threshold  # (N, 25)
    gate_v = _prob(probs[gate_v_name], gate_v_name, vshape, gating, nan_as_off) >= video_threshold
    pred_a = (seg[:, :, 0, :] >= segment_threshold) & gate_a[:, None, :]  # (N, 10, 25)
    pred_v = (seg[:, :, 1, :] >= segment_threshold) & gate_v[:, None, :]
    return pred_a.astype(np.uint8), pred_v.astype(np.uint8)


def reference_predictions(weak_labels, drop_visual_speech: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Protocol §5 baselines: the weak labels (N, 25) switched on in all 10 segments, for audio and
    visual alike; with drop_visual_speech the visual Speech column is cleared. Returns uint8 (N, 10, 25)."""
    weak = np.asarray(weak_labels)
    if weak.ndim != 2 or weak.shape[1] != NUM_CLASSES:
        raise ValueError(f"weak_labels has shape {weak.shape}; expected (N, {NUM_CLASSES})")
    on = (weak != 0).astype(np.uint8)
    pred_a = np.repeat(on[:, None, :], NUM_SEGMENTS, axis=1)  # (N, 10, 25)
    pred_v = pred_a.copy()
    if drop_visual_speech:
        pred_v[:, :, LLP_CLASSES.index("Speech")] = 0
    return pred_a, pred_v


# ----------------------------------------------------------------------------- events for export

MODALITIES = ("audio", "visual", "audio-visual")


@dataclass(frozen=True)
class Event:
    """One predicted event: a maximal run of positive segments of one class in one modality."""

    clip: int  # index of the clip in the batch
    filename: str | None  # full LLP filename when known
    onset: float  # seconds
    offset: float  # seconds, exclusive
    label: str  # class name
    modality: str  # "audio" | "visual" | "audio-visual"
    score: float | None = None  # mean segment probability over the run, when probabilities were given


def extract_events(
    pred_a,
    pred_v,
    prob=None,
    filenames: list[str] | None = None,
    modalities: tuple[str, ...] = MODALITIES,
    segment_seconds: float = 1.0,
) -> list[Event]:
    """Runs -> events for export. pred_a, pred_v binary (N, 10, 25) (or (10, 25) for one clip); prob
    optional segment probabilities (N, 10, 2, 25) (index 0 audio, 1 visual). Scores: the mean over the
    run of p_audio, of p_visual, or, for audio-visual runs, of min(p_audio, p_visual) (a fuzzy AND).
    Events are ordered by clip, modality (audio, visual, audio-visual), onset, class index.
    """
    try:
        seconds = float(segment_seconds)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(segment_seconds, bool) or not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"segment_seconds must be a finite number of seconds > 0; got {segment_seconds!r}")
    pred_a, pred_v = _to_numpy(pred_a), _to_numpy(pred_v)
    if pred_a.ndim == 2:
        pred_a, pred_v = pred_a[None], pred_v[None]
        prob = None if prob is None else _to_numpy(prob)[None]
    dummy = np.zeros_like(pred_a, dtype=np.uint8)
    pa, pv, _, _ = _check_grids(pred_a, pred_v, dummy, dummy)
    N = pa.shape[0]
    if filenames is not None and len(filenames) != N:
        raise ValueError(f"got {len(filenames)} filenames for {N} clips")
    unknown = set(modalities) - set(MODALITIES)
    if unknown:
        raise ValueError(f"unknown modalities {sorted(unknown)}; expected some of {MODALITIES}")
    scores = None
    if prob is not None:
        prob = _to_numpy(prob).astype(np.float64)
        if prob.shape != (N, NUM_SEGMENTS, 2, NUM_CLASSES):
            raise ValueError(f"prob has shape {prob.shape}; expected ({N}, {NUM_SEGMENTS}, 2, {NUM_CLASSES})")
        prob = check_probabilities(prob, "prob", "(video, segment, modality, class)")
        scores = {"audio": prob[:, :, 0], "visual": prob[:, :, 1]}
        scores["audio-visual"] = np.minimum(scores["audio"], scores["visual"])
    grids = {"audio": pa, "visual": pv, "audio-visual": pa * pv}
    events: list[Event] = []
    for modality in (m for m in MODALITIES if m in modalities):
        rows = grids[modality].transpose(0, 2, 1).reshape(-1, NUM_SEGMENTS)  # (N*25, 10)
        start, end, valid = _runs(rows)
        row, slot = np.nonzero(valid)
        for r, k in zip(row.tolist(), slot.tolist(), strict=True):
            clip, c = divmod(r, NUM_CLASSES)
            s, e = int(start[r, k]), int(end[r, k])
            score = None if scores is None else float(scores[modality][clip, s:e, c].mean())
            events.append(
                Event(
                    clip=clip,
                    filename=None if filenames is None else filenames[clip],
                    onset=s * seconds,
                    offset=e * seconds,
                    label=LLP_CLASSES[c],
                    modality=modality,
                    score=score,
                )
            )
    order = {m: i for i, m in enumerate(MODALITIES)}
    events.sort(key=lambda ev: (ev.clip, order[ev.modality], ev.onset, LLP_CLASSES.index(ev.label)))
    return events


TSV_HEADER = ("filename", "onset", "offset", "event_label", "modality", "score")


def events_to_tsv_rows(events: list[Event], header: bool = True) -> list[tuple[str, ...]]:
    """DCASE-style rows (filename, onset, offset, event_label, modality, score) as strings; the
    filename falls back to the clip index, the score is empty when unknown. Join with tabs to write."""
    rows: list[tuple[str, ...]] = [TSV_HEADER] if header else []
    for ev in events:
        rows.append(
            (
                ev.filename if ev.filename is not None else str(ev.clip),
                f"{ev.onset:.3f}",
                f"{ev.offset:.3f}",
                ev.label,
                ev.modality,
                "" if ev.score is None else f"{ev.score:.4f}",
            )
        )
    return rows

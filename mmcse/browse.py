"""The clip browser's table: one row per clip of a split, keyed by the clip id, with the per-clip scores and
error counts a researcher sorts and filters by, and the clip the app opens on first.

    table = clip_table(filenames, weak, pred_a, pred_v, gt_a, gt_v, has_video)   # index: clip id
    ids = filter_clips(table, weak, pred_a, pred_v, gt_a, gt_v, query="dog", error="false negatives")
    first = showcase_clip(table, gt_a, gt_v)
    nxt = step_clip(ids, current, +1)

Arrays: weak (N, 25) 0/1, pred_* / gt_* (N, 10, 25) 0/1 (gt None for a split without dense labels).
Scores are percent (the per-clip value of the official numbers, `metrics.per_video_scores`); error counts
are segments (a false positive: predicted, not annotated; a false negative: annotated, not predicted).
Nothing here imports streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmcse.classes import LLP_CLASSES, NUM_CLASSES
from mmcse.error_analysis import ERROR_KINDS, KIND_NAMES, clip_error_kinds, clips_with, split_error_table
from mmcse.metrics import per_video_scores

MODALITY_FILTERS = ("any", "audio", "visual", "audio-visual")
# event error kinds (error_analysis) by the names the app shows: "missed" ... "wrong modality"
KIND_FILTERS = {KIND_NAMES[k]: k for k in ERROR_KINDS}
ERROR_FILTERS = ("any", "false positives", "false negatives", "any error", "no error", *KIND_FILTERS)
ERROR_COLUMNS = ("FP audio", "FN audio", "FP visual", "FN visual")
KIND_COLUMNS = tuple(KIND_FILTERS)  # per clip: events of each error kind (GT and predicted events)
SORTS = ("file order", "clip", "seg Type@AV", "evt Type@AV", *ERROR_COLUMNS, *KIND_COLUMNS, "labels", "predicted")


def class_names(row: np.ndarray) -> str:
    """Comma-separated names of the classes set in a (25,) 0/1 row."""
    return ", ".join(LLP_CLASSES[c] for c in np.flatnonzero(np.asarray(row)))


def clip_table(
    filenames: Sequence[str],
    weak: np.ndarray,
    pred_a: np.ndarray,
    pred_v: np.ndarray,
    gt_a: np.ndarray | None = None,
    gt_v: np.ndarray | None = None,
    has_video: Sequence[bool] | None = None,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per clip (index "clip": the file name, a stable id): weak labels, predicted classes, whether a
    video can be shown, and with dense GT the per-clip seg / evt Type@AV (percent), FP / FN segment counts
    per modality and the events of each error kind (KIND_COLUMNS; from ``events``, the split's
    ``error_analysis.split_error_table``, computed here when not given). Rows follow the split's file order."""
    pred_a, pred_v = np.asarray(pred_a) > 0, np.asarray(pred_v) > 0
    predicted = (pred_a | pred_v).any(axis=1)  # (N, 25)
    table = pd.DataFrame(
        {
            "labels": [class_names(row) for row in np.asarray(weak)],
            "predicted": [class_names(row) for row in predicted],
            "video": list(has_video) if has_video is not None else [False] * len(filenames),
        },
        index=pd.Index(list(filenames), name="clip"),
    )
    if gt_a is None or gt_v is None:
        return table
    scores = per_video_scores(pred_a, pred_v, gt_a, gt_v)
    table["seg Type@AV"] = np.round(100 * scores["seg_type"], 1)
    table["evt Type@AV"] = np.round(100 * scores["evt_type"], 1)
    errors = error_counts(pred_a, pred_v, gt_a, gt_v)
    for column in ERROR_COLUMNS:
        table[column] = errors[column]
    if events is None:
        events = split_error_table(pred_a, pred_v, gt_a, gt_v, list(filenames))
    kinds = clip_error_kinds(events).reindex(table.index, fill_value=0)  # (N, 7)
    for name, kind in KIND_FILTERS.items():
        table[name] = kinds[kind].to_numpy(int)
    return table


def error_counts(pred_a, pred_v, gt_a, gt_v) -> dict[str, np.ndarray]:
    """Segments per clip (N,) predicted but not annotated (FP) and annotated but not predicted (FN)."""
    out = {}
    for name, pred, gt in (("audio", pred_a, gt_a), ("visual", pred_v, gt_v)):
        pred, gt = np.asarray(pred) > 0, np.asarray(gt) > 0
        out[f"FP {name}"] = (pred & ~gt).sum(axis=(1, 2)).astype(int)
        out[f"FN {name}"] = (~pred & gt).sum(axis=(1, 2)).astype(int)
    return out


def _modality_grid(modality: str, a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(N, 10, 25) bool events of one modality filter ("audio-visual": both at once)."""
    a, v = np.asarray(a) > 0, np.asarray(v) > 0
    return {"audio": a, "visual": v, "audio-visual": a & v}[modality]


def filter_clips(
    table: pd.DataFrame,
    weak: np.ndarray,
    pred_a: np.ndarray,
    pred_v: np.ndarray,
    gt_a: np.ndarray | None = None,
    gt_v: np.ndarray | None = None,
    query: str = "",
    classes: Sequence[int] = (),
    modality: str = "any",
    error: str = "any",
    events: pd.DataFrame | None = None,
) -> list[str]:
    """Clip ids of ``table`` (its order) that match every filter:

    - ``query``: part of the clip id or of a class name in its labels or predictions (case-insensitive);
    - ``classes``: the clip has one of these classes in its weak labels or predictions;
    - ``modality``: it has an event (of the chosen classes, if any) in that modality: in the dense GT when
      known, else in the prediction;
    - ``error``: "false positives" / "false negatives" (segments, any modality), "any error", "no error", or
      an event error kind (KIND_FILTERS: "missed", "inserted", "boundary", "split", "merged", "substitution",
      "wrong modality"): the clip has such an event, of the chosen classes if any ("missed" + Dog: a missed
      Dog); needs GT. ``events``: the split's ``error_analysis.split_error_table`` (computed when not given).
    """
    if modality not in MODALITY_FILTERS:
        raise ValueError(f"modality must be one of {MODALITY_FILTERS}, not {modality!r}")
    if error not in ERROR_FILTERS:
        raise ValueError(f"error must be one of {ERROR_FILTERS}, not {error!r}")
    keep = np.ones(len(table), bool)
    text = query.strip().lower()
    if text:
        haystack = (table.index.str.lower() + " " + table["labels"].str.lower() + " " + table["predicted"].str.lower())
        keep &= haystack.str.contains(text, regex=False).to_numpy()
    chosen = np.zeros(NUM_CLASSES, bool)
    chosen[list(classes)] = True
    if chosen.any():
        predicted = ((np.asarray(pred_a) > 0) | (np.asarray(pred_v) > 0)).any(axis=1)  # (N, 25)
        keep &= (((np.asarray(weak) > 0) | predicted) & chosen).any(axis=1)
    if modality != "any":
        a, v = (gt_a, gt_v) if gt_a is not None and gt_v is not None else (pred_a, pred_v)
        events = _modality_grid(modality, a, v).any(axis=1)  # (N, 25)
        keep &= (events & (chosen if chosen.any() else True)).any(axis=1)
    if error in KIND_FILTERS:
        return _with_error_kind(table, keep, KIND_FILTERS[error], classes, events, pred_a, pred_v, gt_a, gt_v)
    if error != "any" and "FP audio" in table:
        fp = (table["FP audio"] + table["FP visual"]).to_numpy()
        fn = (table["FN audio"] + table["FN visual"]).to_numpy()
        keep &= {"false positives": fp > 0, "false negatives": fn > 0, "any error": (fp + fn) > 0,
                 "no error": (fp + fn) == 0}[error]  # fmt: skip
    return [str(c) for c in table.index[keep]]


def _with_error_kind(table, keep, kind, classes, events, pred_a, pred_v, gt_a, gt_v) -> list[str]:
    """The clips kept so far that have an event of ``kind`` (of ``classes``, if any): none without GT."""
    if gt_a is None or gt_v is None:
        return []
    if events is None:
        events = split_error_table(pred_a, pred_v, gt_a, gt_v, [str(c) for c in table.index])
    found = clips_with(events, kind, [LLP_CLASSES[c] for c in classes])
    keep &= table.index.astype(str).isin(found)
    return [str(c) for c in table.index[keep]]


def showcase_clip(table: pd.DataFrame, gt_a: np.ndarray | None = None, gt_v: np.ndarray | None = None) -> str | None:
    """The clip to open on first: among clips with a predicted event (when any clip has one), annotated
    events in both modalities and a video (when any clip has one), the best per-clip seg Type@AV, then the
    most annotated classes; without GT the first such clip. None for an empty table."""
    if len(table) == 0:
        return None
    candidates = np.ones(len(table), bool)
    predicted = (table["predicted"] != "").to_numpy(bool) if "predicted" in table else candidates
    if predicted.any():
        candidates &= predicted
    if (candidates & table["video"].to_numpy(bool)).any():
        candidates &= table["video"].to_numpy(bool)
    if gt_a is None or gt_v is None or "seg Type@AV" not in table:
        return str(table.index[int(np.flatnonzero(candidates)[0])])
    gt_a, gt_v = np.asarray(gt_a) > 0, np.asarray(gt_v) > 0
    both = gt_a.any(axis=(1, 2)) & gt_v.any(axis=(1, 2))
    if (candidates & both).any():
        candidates &= both
    n_classes = (gt_a | gt_v).any(axis=1).sum(axis=1)  # (N,) annotated classes
    score = table["seg Type@AV"].to_numpy(float)
    order = np.lexsort((-n_classes, -score))  # best score first, then more classes
    best = next(i for i in order if candidates[i])
    return str(table.index[int(best)])


def sort_clips(table: pd.DataFrame, ids: Sequence[str], by: str = "file order", descending: bool = False) -> list[str]:
    """``ids`` (rows of ``table``) in the order ``by`` (one of SORTS: "file order" keeps the given order, "clip"
    the id, else a column) gives, ascending or descending; ties keep the given order, missing values go last."""
    if by not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}, not {by!r}")
    ids = list(ids)
    if by == "file order":
        return ids[::-1] if descending else ids
    if by != "clip" and by not in table:
        return ids
    values = pd.Series(ids, index=ids) if by == "clip" else table.loc[ids, by]
    order = values.reset_index(drop=True).sort_values(ascending=not descending, kind="stable", na_position="last")
    return [ids[i] for i in order.index]


def step_clip(ids: Sequence[str], current: str | None, offset: int) -> str | None:
    """The clip ``offset`` places after ``current`` in ``ids`` (clamped at both ends); the first clip when
    ``current`` is not among them; None when ``ids`` is empty."""
    if not ids:
        return None
    if current not in ids:
        return ids[0]
    position = list(ids).index(current) + offset
    return ids[min(max(position, 0), len(ids) - 1)]


# ----------------------------------------------------------------------------- one clip's export


def clip_parse(predictions, row: int, gating: str, segment_threshold: float, video_threshold: float):
    """Clip ``row`` of whole-split `inference.Predictions` as an `inference.VideoParse` (one 10-s window),
    thresholded like the rest of the app, so that it exports with `mmcse.export`."""
    from dataclasses import replace

    from mmcse.predictions import VideoParse

    name = predictions.filenames[row] if predictions.filenames else str(row)
    one = predictions.subset([row])
    parse = VideoParse(path=name, duration=10.0, segment_prob=one.segment_prob[0], video_prob=one.video_prob,
                       audio_prob=one.audio_prob, visual_prob=one.visual_prob, pred_a=None, pred_v=None, events=[],
                       gating=gating)  # fmt: skip
    parse = parse.rethreshold(gating, segment_threshold, video_threshold)
    return replace(parse, events=[replace(ev, filename=name) for ev in parse.events])


def shown_seconds(parse) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pred_a, pred_v, segment_prob) of a `inference.VideoParse` over the seconds the video has: the loop
    that fills a short video's last 10-s window (``segment_real`` false) is never drawn or counted."""
    real = len(parse.segment_prob) if parse.segment_real is None else int(np.asarray(parse.segment_real).sum())
    return parse.pred_a[:real], parse.pred_v[:real], parse.segment_prob[:real]


def clip_record(parse, checkpoint: dict, code_revision: str | None, weak=None, gt_a=None, gt_v=None) -> dict:
    """`export.parse_record` of a clip plus what a reviewer needs to reproduce it: the code revision that
    made it and, where known, the ground truth (weak label names, dense audio / visual (10, 25) 0/1)."""
    from mmcse.export import parse_record

    record = parse_record(parse, checkpoint)
    record["code_revision"] = code_revision
    truth: dict = {}
    if weak is not None:
        truth["weak_labels"] = [LLP_CLASSES[c] for c in np.flatnonzero(np.asarray(weak))]
    if gt_a is not None and gt_v is not None:
        truth["audio"] = np.asarray(gt_a).astype(int).tolist()
        truth["visual"] = np.asarray(gt_v).astype(int).tolist()
    record["ground_truth"] = truth or None
    return record


def cooccurring_clips(map_name: str, row_class: int, column_class: int, weak: np.ndarray,
                      gt_a: np.ndarray | None = None, gt_v: np.ndarray | None = None) -> list[int]:  # fmt: skip
    """Clips (indices) behind one cell of a co-occurrence map ("aa" "av" "vv" "va": row class in the first
    modality, column class in the second): with dense GT, clips with a segment where both are annotated
    so; without it (train), clips whose weak labels hold both classes."""
    if gt_a is None or gt_v is None:
        weak = np.asarray(weak) > 0
        return np.flatnonzero(weak[:, row_class] & weak[:, column_class]).tolist()
    grids = {"a": np.asarray(gt_a) > 0, "v": np.asarray(gt_v) > 0}
    both = grids[map_name[0]][:, :, row_class] & grids[map_name[1]][:, :, column_class]  # (N, 10)
    return np.flatnonzero(both.any(axis=1)).tolist()

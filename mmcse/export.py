"""What a parsed video (or a clip of a split) is written as: a DCASE-style events TSV and a JSON record.
One writer for the parse command and the app's downloads.

    tsv = events_tsv(events, warnings)            # filename onset offset event_label modality score
    record = parse_record(parse, checkpoint)      # typed numbers, thresholds, gating, probabilities, ...

The TSV starts with ``# warning: ...`` comment lines when there is something to say (read it with
``pandas.read_csv(path, sep="\t", comment="#")``); the JSON holds the same warnings.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mmcse.classes import LLP_CLASSES
from mmcse.metrics import Event, events_to_tsv_rows

FIELD_NOTES = {
    "video_prob": "P, the fused video-level score of HAN's attentive MMIL pooling (sum over segments and modalities "
    "of time weight x modality weight x segment probability); the time weights are normalised per modality, so P "
    "can exceed 1 (at most 2): a score, not a probability. Gating 'fused' compares it with video_threshold for "
    "both modalities, 'mmcse' for audio.",
    "audio_prob": "P_a, the audio video-level probability (in [0, 1])",
    "visual_prob": "P_v, the visual video-level probability (in [0, 1])",
    "segment_prob_audio": "per-second audio segment probabilities (T, 25); null for seconds that only repeat the video",
}


def events_tsv(events: list[Event], warnings: list[str] | tuple[str, ...] = ()) -> str:
    """The events as TSV text with a header; warnings first, as ``#`` comment lines (one line each)."""
    lines = [f"# warning: {' '.join(w.split())}" for w in warnings]
    lines += ["\t".join(row) for row in events_to_tsv_rows(events)]
    return "\n".join(lines) + "\n"


def _grid(a: np.ndarray, real: np.ndarray | None = None) -> list:
    """Rows of a (T, 25) array rounded to 5 decimals; rows outside ``real`` (T,) as None."""
    rows = [[round(float(v), 5) for v in row] for row in np.asarray(a)]
    if real is not None:
        rows = [row if ok else None for row, ok in zip(rows, np.asarray(real).tolist())]
    return rows


def event_dicts(events: list[Event]) -> list[dict[str, Any]]:
    """Events with typed numbers (onset/offset seconds as floats, score as a float or None)."""
    return [
        {"onset": ev.onset, "offset": ev.offset, "event_label": ev.label, "modality": ev.modality,
         "score": None if ev.score is None or math.isnan(ev.score) else round(float(ev.score), 5)}
        for ev in events
    ]  # fmt: skip


def parse_record(parse, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The JSON record of a mmcse.inference.VideoParse. ``checkpoint``: what identifies the model
    (path, sha256, arch, git revision), see ``checkpoint_identity``. Segment probabilities are per
    second (T = 10 per window); seconds listed false in ``segment_real`` repeat the video to fill its
    last 10-s window, are never scored and are null here."""
    real = parse.segment_real if parse.segment_real is not None else np.ones(len(parse.segment_prob), bool)
    return {
        "video": Path(parse.path).name,
        "checkpoint": checkpoint,
        "duration": round(float(parse.duration), 3),
        "gating": parse.gating,
        "segment_threshold": parse.segment_threshold,
        "video_threshold": parse.video_threshold,
        "classes": list(LLP_CLASSES),
        "segment_seconds": 1.0,
        "segment_real": [bool(x) for x in real],
        "segment_prob_audio": _grid(parse.segment_prob[:, 0], real),  # (T, 25)
        "segment_prob_visual": _grid(parse.segment_prob[:, 1], real),
        # (W, 25) per 10-s window; P of attentive MMIL pooling: time and modality weights are normalised
        # separately, so P can exceed 1 (up to 2); it is gated against the video threshold as it is
        "video_prob": _grid(parse.video_prob),
        "audio_prob": _grid(parse.audio_prob),
        "visual_prob": _grid(parse.visual_prob),
        "events": event_dicts(parse.events),
        "out_of_domain": parse.out_of_domain,
        "warnings": list(parse.warnings),
        "field_notes": FIELD_NOTES,
    }


def checkpoint_identity(path: str | Path, meta: dict[str, Any] | None = None, sha256: str | None = None) -> dict[str, Any]:
    """What names a checkpoint in an export: its file name, full sha256 (64 hex digits; ``sha256`` when the
    caller has it already), arch and the code revision it was trained with (when recorded)."""
    import hashlib

    path = Path(path)
    if sha256 is None:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        sha256 = digest.hexdigest()
    meta = meta or {}
    return {
        "file": path.name,
        "sha256": sha256,
        "arch": (meta.get("model_config") or {}).get("arch", meta.get("arch")),
        "git_revision": meta.get("git_revision"),
    }

"""What a model predicted, as numpy: whole-split `Predictions` and a parsed video (`VideoParse`), with the
thresholding and event merging that turn probabilities into events. No torch: the app reads these from its
results cache without loading a model; mmcse.inference makes them (and re-exports them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mmcse import metrics
from mmcse.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS

Progress = Callable[[int, int], None]  # progress(done, total)



# ----------------------------------------------------------------------------- predictions


@dataclass
class Predictions:
    """Model outputs for N clips (numpy, float32)."""

    video_prob: np.ndarray  # (N, 25) fused P
    audio_prob: np.ndarray  # (N, 25) P_a
    visual_prob: np.ndarray  # (N, 25) P_v
    segment_prob: np.ndarray  # (N, 10, 2, 25) index 0 audio, 1 visual
    filenames: list[str] | None = None
    class_features: np.ndarray | None = None  # (N, 10, 2, 26, d_c) before fusion, slot 25 = background
    enhanced_features: np.ndarray | None = None  # (N, 10, 2, 25, d_c) after FGSE
    attn: dict[str, np.ndarray] = field(default_factory=dict)  # "aa" "av" "vv" "va": (N, 10, 25, 25)

    def __len__(self) -> int:
        return len(self.video_prob)

    def binary(
        self, gating: str = "mmcse", segment_threshold: float = 0.5, video_threshold: float = 0.5
    ) -> tuple[np.ndarray, np.ndarray]:
        """Thresholded (pred_a, pred_v), uint8 (N, 10, 25) each, by the protocol's rule (metrics.predict)."""
        return metrics.predict(
            self.segment_prob,
            self.video_prob,
            self.audio_prob,
            self.visual_prob,
            gating=gating,
            segment_threshold=segment_threshold,
            video_threshold=video_threshold,
            nan_as_off=True,  # model outputs: NaN from overflowing inputs is "off" (as evaluate scores it)
        )

    def subset(self, index) -> Predictions:
        """The predictions of some clips (index: ints or a boolean mask)."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        pick = lambda x: None if x is None else x[index]  # noqa: E731
        return Predictions(
            video_prob=self.video_prob[index],
            audio_prob=self.audio_prob[index],
            visual_prob=self.visual_prob[index],
            segment_prob=self.segment_prob[index],
            filenames=None if self.filenames is None else [self.filenames[i] for i in index],
            class_features=pick(self.class_features),
            enhanced_features=pick(self.enhanced_features),
            attn={k: v[index] for k, v in self.attn.items()},
        )


# ----------------------------------------------------------------------------- a parsed video


@dataclass
class VideoParse:
    """One video parsed in consecutive 10-s windows (T = 10 * windows one-second segments)."""

    path: str
    duration: float  # seconds of the source video
    segment_prob: np.ndarray  # (T, 2, 25)
    video_prob: np.ndarray  # (W, 25) per 10-s window
    audio_prob: np.ndarray  # (W, 25)
    visual_prob: np.ndarray  # (W, 25)
    pred_a: np.ndarray  # (T, 25) uint8
    pred_v: np.ndarray  # (T, 25) uint8
    events: list[metrics.Event]  # merged across window borders, seconds
    segment_real: np.ndarray | None = None  # (T,) bool: the segments that show the video (others repeat it)
    warnings: list[str] = field(default_factory=list)
    gating: str = "mmcse"
    segment_threshold: float = 0.5
    video_threshold: float = 0.5
    out_of_domain: dict | None = None  # per stream: distance, threshold, flagged (see mmcse.domain)

    def rethreshold(
        self,
        gating: str | None = None,
        segment_threshold: float | None = None,
        video_threshold: float | None = None,
    ) -> VideoParse:
        """The same probabilities under other thresholds / gating (no model call)."""
        gating = self.gating if gating is None else gating
        seg_t = self.segment_threshold if segment_threshold is None else segment_threshold
        vid_t = self.video_threshold if video_threshold is None else video_threshold
        pred_a, pred_v, events = threshold_windows(
            self.segment_prob, self.video_prob, self.audio_prob, self.visual_prob, gating, seg_t, vid_t,
            filename=Path(self.path).name, duration=self.duration, segment_real=self.segment_real,
        )  # fmt: skip
        return replace(
            self, pred_a=pred_a, pred_v=pred_v, events=events, gating=gating,
            segment_threshold=seg_t, video_threshold=vid_t,
        )  # fmt: skip


def merged_events(
    pred_a: np.ndarray,
    pred_v: np.ndarray,
    segment_prob: np.ndarray | None = None,
    filename: str | None = None,
    duration: float | None = None,
) -> list[metrics.Event]:
    """Events of one video from (T, 25) grids of any length T (runs crossing 10-s window borders are one
    event); offsets are clipped to ``duration`` and events left without length are dropped. Same order
    and scores as metrics.extract_events."""
    pred_a = np.asarray(pred_a).astype(bool)
    pred_v = np.asarray(pred_v).astype(bool)
    grids = {"audio": pred_a, "visual": pred_v, "audio-visual": pred_a & pred_v}
    scores = None
    if segment_prob is not None:
        prob = np.asarray(segment_prob, dtype=np.float64)  # (T, 2, 25)
        scores = {
            "audio": prob[:, 0],
            "visual": prob[:, 1],
            "audio-visual": np.minimum(prob[:, 0], prob[:, 1]),
        }
    events = []
    for modality, grid in grids.items():
        padded = np.zeros((grid.shape[0] + 2, NUM_CLASSES), np.int8)
        padded[1:-1] = grid
        edges = np.diff(padded, axis=0)  # (T + 1, 25): +1 at run starts, -1 at run ends
        for c in range(NUM_CLASSES):
            starts = np.flatnonzero(edges[:, c] == 1)
            ends = np.flatnonzero(edges[:, c] == -1)
            for s, e in zip(starts.tolist(), ends.tolist()):
                offset = float(e) if duration is None else min(float(e), duration)
                if offset <= s:
                    continue
                events.append(
                    metrics.Event(
                        clip=0,
                        filename=filename,
                        onset=float(s),
                        offset=offset,
                        label=LLP_CLASSES[c],
                        modality=modality,
                        score=None if scores is None else float(scores[modality][s:e, c].mean()),
                    )
                )
    order = {m: i for i, m in enumerate(metrics.MODALITIES)}
    events.sort(key=lambda ev: (order[ev.modality], ev.onset, LLP_CLASSES.index(ev.label)))
    return events


def threshold_windows(
    segment_prob: np.ndarray,
    video_prob: np.ndarray,
    audio_prob: np.ndarray,
    visual_prob: np.ndarray,
    gating: str = "mmcse",
    segment_threshold: float = 0.5,
    video_threshold: float = 0.5,
    filename: str | None = None,
    duration: float | None = None,
    segment_real: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[metrics.Event]]:
    """Threshold a long video window by window (each 10-s window gated by its own video-level
    probabilities), then merge events across window borders. segment_prob (T, 2, 25), *_prob (W, 25);
    segment_real (T,) bool: segments outside it (the loop that fills a short window) are never on."""
    windows = len(video_prob)
    seg = np.asarray(segment_prob).reshape(windows, NUM_SEGMENTS, 2, NUM_CLASSES)  # (W, 10, 2, 25)
    pred_a, pred_v = metrics.predict(
        seg, video_prob, audio_prob, visual_prob, gating=gating,
        segment_threshold=segment_threshold, video_threshold=video_threshold, nan_as_off=True,
    )  # fmt: skip
    pred_a = pred_a.reshape(-1, NUM_CLASSES)  # (T, 25)
    pred_v = pred_v.reshape(-1, NUM_CLASSES)
    if segment_real is not None:
        pred_a = pred_a * segment_real[:, None]
        pred_v = pred_v * segment_real[:, None]
    return pred_a, pred_v, merged_events(pred_a, pred_v, segment_prob, filename=filename, duration=duration)

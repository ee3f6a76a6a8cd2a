"""Out-of-domain check: how far a clip's features lie from the features a checkpoint was trained on.

A checkpoint trained by mmcse stores, per input stream, the mean and standard deviation of the
clip-level features of its train split (each clip's features averaged over time: (D,) per clip, which
is the same for per-clip and frame-pooled packed stores) and a threshold calibrated on its val split:

    distance(clip, stream) = mean over the D dimensions of ((x - mean) / std) ** 2
    threshold(stream)      = the 99.5th percentile of the val clips' distances (in-domain clips)

so about 1 in 200 in-domain clips exceeds it, while features from another kind of input (a test
pattern, another extractor, a broken file) lie far above. A flagged clip gets a warning in parse's
TSV/JSON and in the app; the predictions themselves are never changed.

    stats = fit_domain(train_split, val_split)                    # DomainStats
    stats.check({"audio": a, "visual": v, "visual_st": s})        # per stream: distance, threshold, flagged
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STREAMS = ("audio", "visual", "visual_st")
PERCENTILE = 99.5
MEASURE = "mean squared z-score of the time-averaged features per stream; threshold: val 99.5th percentile"


@dataclass
class DomainStats:
    """Per stream: mean and std (D,) of clip-level features on the train split, and the val threshold."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]
    threshold: dict[str, float]
    info: dict = field(default_factory=dict)  # how it was calibrated (clip counts, percentile, measure)

    def distances(self, features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """(N,) distance per stream for batches (N, L, D) of the three streams."""
        return {k: _distance(features[k], self.mean[k], self.std[k]) for k in STREAMS}

    def check(self, features: dict[str, np.ndarray]) -> dict[str, dict]:
        """Per stream {"distance" (the largest over the N clips / windows), "threshold", "flagged"}."""
        out = {}
        for k, d in self.distances(features).items():
            worst = float(d.max())
            out[k] = {"distance": round(worst, 3), "threshold": round(self.threshold[k], 3),
                      "flagged": bool(worst > self.threshold[k])}  # fmt: skip
        return out

    # ---- storage in a checkpoint: tensors "domain.<stream>.mean|std" + JSON metadata
    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"domain.{k}.mean": self.mean[k] for k in STREAMS}
        return arrays | {f"domain.{k}.std": self.std[k] for k in STREAMS}

    def to_meta(self) -> dict:
        return {"threshold": dict(self.threshold), "measure": MEASURE, **self.info}

    @classmethod
    def from_checkpoint(
        cls, arrays: dict[str, np.ndarray], meta: dict | None, source: str | None = None
    ) -> DomainStats | None:
        """The statistics stored in a checkpoint (None when it has none). Bad stored values (a threshold
        that is negative, NaN or inf, a std that is not positive, NaN in a mean) are refused with
        one ValueError naming the field and ``source`` (the checkpoint file): with them the check would
        flag every clip, or none, without a word."""
        if not meta or not all(f"domain.{k}.mean" in arrays for k in STREAMS):
            return None
        where = f"{source}: " if source else ""
        mean = {k: np.asarray(arrays[f"domain.{k}.mean"], np.float64) for k in STREAMS}
        std = {k: np.asarray(arrays.get(f"domain.{k}.std", np.zeros(0)), np.float64) for k in STREAMS}
        threshold = {}
        for k in STREAMS:
            value = (meta.get("threshold") or {}).get(k) if isinstance(meta.get("threshold"), dict) else None
            try:
                threshold[k] = float(value)
            except (TypeError, ValueError):
                threshold[k] = float("nan")
            if isinstance(value, bool) or not (np.isfinite(threshold[k]) and threshold[k] >= 0):
                raise ValueError(
                    f"{where}bad checkpoint metadata: domain.threshold.{k} is {value!r}, expected a finite "
                    "distance >= 0; recalibrate it with `python -m mmcse calibrate` (or drop the domain check)"
                )
            if mean[k].ndim != 1 or std[k].shape != mean[k].shape:
                raise ValueError(
                    f"{where}bad checkpoint metadata: domain.{k}.mean {mean[k].shape} and domain.{k}.std "
                    f"{std[k].shape} should be two (D,) vectors; recalibrate with `python -m mmcse calibrate`"
                )
            if not (np.isfinite(mean[k]).all() and np.isfinite(std[k]).all() and (std[k] > 0).all()):
                raise ValueError(
                    f"{where}bad checkpoint metadata: domain.{k}.mean / .std hold NaN, inf or a std <= 0; "
                    "recalibrate with `python -m mmcse calibrate`"
                )
        return cls(
            mean=mean,
            std=std,
            threshold=threshold,
            info={k: v for k, v in meta.items() if k not in ("threshold", "measure")},
        )


def _clip_means(x: np.ndarray) -> np.ndarray:
    """(N, L, D) -> (N, D) float64: each clip's features averaged over time."""
    return np.asarray(x, np.float64).mean(axis=1)


def _distance(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    z = (_clip_means(x) - mean) / std  # (N, D)
    return (z * z).mean(axis=1)  # (N,)


def fit_domain(train_split, val_split, batch_size: int = 256) -> DomainStats:
    """Mean / std of the clip-level features of ``train_split`` (streamed, float64) and the thresholds
    from ``val_split``'s distances. Splits are mmcse.data.dataset.LLPSplit."""
    sums = {k: 0.0 for k in STREAMS}
    squares = {k: 0.0 for k in STREAMS}
    n = 0
    for batch in train_split.feature_batches(batch_size):
        for k, x in zip(STREAMS, batch):
            m = _clip_means(x)  # (B, D)
            sums[k] = sums[k] + m.sum(0)
            squares[k] = squares[k] + (m * m).sum(0)
        n += len(batch[0])
    mean = {k: sums[k] / n for k in STREAMS}
    std = {}
    for k in STREAMS:
        s = np.sqrt(np.maximum(squares[k] / n - mean[k] ** 2, 0.0))
        std[k] = np.maximum(s, 1e-3 * max(float(s.mean()), 1e-12))  # constant dimensions: no division by 0
    stats = DomainStats(mean, std, threshold={k: float("inf") for k in STREAMS})
    val = {k: [] for k in STREAMS}
    for batch in val_split.feature_batches(batch_size):
        for k, d in stats.distances(dict(zip(STREAMS, batch))).items():
            val[k].append(d)
    stats.threshold = {k: float(np.percentile(np.concatenate(val[k]), PERCENTILE)) for k in STREAMS}
    stats.info = {"train_clips": n, "val_clips": int(sum(len(d) for d in val["audio"])), "percentile": PERCENTILE}
    return stats


FAR_FACTOR = 10.0  # a clip this many times over a threshold is not one of the ~0.5% in-domain outliers
SHIFTED_FRACTION = 0.05  # a split with more clips over a threshold than this is shifted as a whole


def split_check(distances: dict[str, np.ndarray], threshold: dict[str, float]) -> dict:
    """Summary of a split's per-clip distances (per stream (N,)): {"clips", "over" (clips over a threshold
    in any stream), "far" (clips FAR_FACTOR times over one), "worst" (clip index, stream, distance,
    threshold) for the clip furthest over, "warn" (far clips, or more than SHIFTED_FRACTION over)}."""
    ratio = np.stack([distances[k] / max(threshold[k], 1e-12) for k in STREAMS])  # (3, N)
    n = ratio.shape[1]
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    stream, clip = STREAMS[int(worst[0])], int(worst[1])
    over, far = int((ratio > 1).any(0).sum()), int((ratio > FAR_FACTOR).any(0).sum())
    return {
        "clips": n,
        "over": over,
        "far": far,
        "worst": {"clip": clip, "stream": stream, "distance": float(distances[stream][clip]),
                  "threshold": float(threshold[stream])},  # fmt: skip
        "warn": far > 0 or over > SHIFTED_FRACTION * n,
    }


def describe(check: dict[str, dict], name: str) -> list[str]:
    """Warning lines for the flagged streams of a ``DomainStats.check`` result."""
    return [
        f"{name}: its {stream} features lie far outside those the checkpoint was trained on (distance "
        f"{c['distance']:.3g}, while 99.5% of its val clips are below {c['threshold']:.3g}); the predictions "
        "may mean little for this input"
        for stream, c in check.items()
        if c["flagged"]
    ]

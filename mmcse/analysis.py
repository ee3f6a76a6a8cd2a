"""Interpretability views of a checkpoint on a split, for the app: the learned SECM co-occurrence maps beside
the annotations' co-occurrence, class-wise feature samples and their t-SNE, and the reference rows.

    maps = cooccurrence_maps(parser, split, only_active=True)     # {"aa","av","vv","va"}: (25, 25)
    counts = annotation_cooccurrence(split)                       # the same keys, annotation counts
    features, table = class_feature_samples(parser, split)        # (M, d_c) and per-point columns
    xy = tsne_embed(features)                                     # (M, 2)

``python -m mmcse.benchmarks.tsne`` prints the t-SNE timing at 5,000 points. Nothing here imports streamlit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mmcse import metrics
from mmcse.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS

if TYPE_CHECKING:  # torch loads with the model, not with the tables and curves the app reads from its cache
    import torch

    from mmcse.data.dataset import LLPSplit
    from mmcse.inference import Parser, Progress

MAP_NAMES = ("aa", "av", "vv", "va")  # query modality -> key modality (rows = query classes)
BACKGROUND = "background"  # name of the CAFD background slot (index 25) in feature samples


def _no_grad(fn):
    """``torch.no_grad()`` around ``fn``, with torch imported when ``fn`` runs (it runs a model)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        import torch

        with torch.no_grad():
            return fn(*args, **kwargs)

    return run


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy()


# ----------------------------------------------------------------------------- learned co-occurrence


class MapAccumulator:
    """Running sums of the last FGSE layer's co-occurrence maps over batches, in both averages the app shows:
    over every segment ("all") and, per row class, over the segments where that class is active in the row's
    modality ("active"). ``add`` a batch, then ``maps(only_active)``."""

    def __init__(self) -> None:
        self.sums = {v: {k: np.zeros((NUM_CLASSES, NUM_CLASSES)) for k in MAP_NAMES} for v in ("all", "active")}
        self.counts = {v: {k: np.zeros((NUM_CLASSES, 1)) for k in MAP_NAMES} for v in ("all", "active")}

    def add(self, attn: dict[str, np.ndarray], active: dict[str, np.ndarray]) -> None:
        """attn {"aa","av","vv","va"}: (B, 10, 25, 25); active {"a","v"}: (B, 10, 25) bool."""
        for name in MAP_NAMES:
            a = np.asarray(attn[name], np.float64)  # (B, 10, 25, 25)
            self.sums["all"][name] += a.sum(axis=(0, 1))
            self.counts["all"][name] += a.shape[0] * a.shape[1]
            weight = active[name[0]].astype(np.float64)  # (B, 10, 25) row class active
            self.sums["active"][name] += np.einsum("btr,btrc->rc", weight, a)
            self.counts["active"][name] += weight.sum(axis=(0, 1))[:, None]

    def maps(self, only_active: bool) -> dict[str, np.ndarray]:
        """{"aa","av","vv","va"}: (25, 25) row averages; a row with nothing to average (its class never
        active) is NaN, not 0: a 0 would read as "attends to nothing" on the heatmaps and enter the correlations."""
        which = "active" if only_active else "all"
        sums, counts = self.sums[which], self.counts[which]
        return {
            k: np.divide(sums[k], counts[k], out=np.full_like(sums[k], np.nan), where=counts[k] > 0)
            for k in MAP_NAMES
        }


@_no_grad
def cooccurrence_maps(
    parser: Parser,
    split: LLPSplit,
    only_active: bool = False,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """The last FGSE layer's class co-occurrence maps "aa" "av" "vv" "va", averaged over all segments of
    the split -> (25, 25) each (rows = query classes of the first modality). With ``only_active``, row c
    averages only the segments where class c is active in that row's modality: in the dense GT when the
    split has it, else in the thresholded prediction (gating of the checkpoint); the row of a class that is
    never active is NaN."""
    parser.check_split(split)
    maps = MapAccumulator()
    start = 0
    for audio, visual, visual_st in split.feature_batches(batch_size):
        out = parser.forward(audio, visual, visual_st)
        if not out.attn:
            raise ValueError(f"the {parser.arch} model has no co-occurrence maps (only MM-CSE does)")
        b = len(audio)
        maps.add({k: _numpy(v) for k, v in out.attn.items()}, active_segments(parser, split, slice(start, start + b), out))
        start += b
        if progress is not None:
            progress(start, len(split))
    return maps.maps(only_active)


def active_segments(parser: Parser, split: LLPSplit, rows: slice, out) -> dict[str, np.ndarray]:
    """{"a", "v"}: (B, 10, 25) bool, the segments of clips ``rows`` where a class is active: the dense GT when
    the split has it, else the checkpoint's own prediction (its gating, thresholds 0.5) from ``out``."""
    if split.gt_audio is not None:
        return {"a": split.gt_audio[rows] > 0, "v": split.gt_visual[rows] > 0}
    pred_a, pred_v = metrics.predict(
        out.segment_prob, out.video_prob, out.audio_prob, out.visual_prob, gating=parser.gating, nan_as_off=True
    )
    return {"a": pred_a > 0, "v": pred_v > 0}


# ----------------------------------------------------------------------------- annotations


def annotation_cooccurrence(split: LLPSplit) -> dict[str, np.ndarray]:
    """Co-occurrence of the annotations as counts (25, 25) for each map name: on a split with dense GT,
    segment-level counts (rows = classes of the first modality, columns of the second, e.g. "av" counts
    segments where row class is audible and column class visible); on train, the weak-label clip counts
    (the same matrix for all four maps)."""
    if split.gt_audio is None:
        weak = (split.label > 0).astype(np.int64)  # (N, 25)
        counts = weak.T @ weak
        return {k: counts.astype(np.float64) for k in MAP_NAMES}
    grid = {
        "a": split.gt_audio.reshape(-1, NUM_CLASSES).astype(np.int64),
        "v": split.gt_visual.reshape(-1, NUM_CLASSES).astype(np.int64),
    }
    return {k: (grid[k[0]].T @ grid[k[1]]).astype(np.float64) for k in MAP_NAMES}


def map_agreement(learned: dict[str, np.ndarray], annotation: dict[str, np.ndarray]) -> dict[str, float]:
    """How much structure of the annotations a learned co-occurrence map carries: for each map name, the
    Pearson correlation between the learned map (25, 25) and the row-normalised annotation counts, over
    the rows of active classes (rows with annotation counts) and with the diagonal masked (a class with
    itself says nothing about co-occurrence); NaN rows of the learned map (a class never active) are left out.
    NaN when fewer than two values vary."""
    out = {}
    for name in MAP_NAMES:
        counts = np.asarray(annotation[name], np.float64)
        rows = counts.sum(axis=1) > 0  # (25,) classes that occur in this map's query modality
        norm = np.divide(counts, counts.sum(axis=1, keepdims=True), out=np.zeros_like(counts), where=rows[:, None])
        learned_map = np.asarray(learned[name], np.float64)
        keep = rows[:, None] & ~np.eye(NUM_CLASSES, dtype=bool) & np.isfinite(learned_map)  # (25, 25)
        a, b = learned_map[keep], norm[keep]
        if len(a) < 2:
            out[name] = float("nan")
            continue
        out[name] = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return out


def reference_rows(split: LLPSplit) -> dict[str, dict[str, float]]:
    """The protocol §5 context rows on a split with dense GT: predict nothing; weak labels everywhere;
    the same without visual Speech."""
    if split.gt_audio is None:
        raise ValueError(f"the {split.name} split has no dense labels; reference rows need val or test")
    nothing = np.zeros_like(split.gt_audio)
    rows = {"predict nothing": metrics.avvp_scores(nothing, nothing, split.gt_audio, split.gt_visual)}
    for name, drop in (("weak labels everywhere", False), ("weak labels, no visual Speech", True)):
        pred_a, pred_v = metrics.reference_predictions(split.label, drop_visual_speech=drop)
        rows[name] = metrics.avvp_scores(pred_a, pred_v, split.gt_audio, split.gt_visual)
    return rows


# ----------------------------------------------------------------------------- class-wise features


MODALITY_NAMES = ("audio", "visual")  # index 0 / 1 of the segment and slot axes
STAGES = ("cafd", "fgse")  # class-wise features before fusion (CAFD slots) / after FGSE


@dataclass
class FeaturePool:
    """Every class-wise feature point a t-SNE view can ask for, of one stage, in the order
    ``class_feature_samples`` takes them: per batch of clips, per modality (audio, then visual), per segment
    the slots of each clip's weak-label classes, then (CAFD) the background slot of every clip.
    ``select`` keeps the points of some modalities / classes; M points, columns (M,) each."""

    stage: str
    features: np.ndarray  # (M, d_c) float32
    clip: np.ndarray  # (M,) int32, the clip's row in the split
    segment: np.ndarray  # (M,) int8
    cls: np.ndarray  # (M,) int8, 0-24 a class, 25 the background slot
    modality: np.ndarray  # (M,) int8, 0 audio, 1 visual
    active: np.ndarray  # (M,) int8, the class in the dense GT of that modality at that segment: 1 / 0, -1 unknown

    def __len__(self) -> int:
        return len(self.features)

    def select(self, modalities=MODALITY_NAMES, classes=None, include_events: bool = True,
               include_background: bool = True) -> np.ndarray:  # fmt: skip
        """(M,) bool: the points of ``modalities`` that are event slots of ``classes`` (all when None) and/or
        background slots."""
        chosen = np.zeros(NUM_CLASSES + 1, bool)
        if include_events:
            chosen[list(range(NUM_CLASSES)) if classes is None else list(classes)] = True
        chosen[NUM_CLASSES] = include_background and self.stage == "cafd"
        wanted = np.isin(self.modality, [MODALITY_NAMES.index(m) for m in modalities])
        return wanted & chosen[self.cls]

    def table(self, rows: np.ndarray, filenames) -> dict[str, list]:
        """Per-point columns of points ``rows``: clip (file name), segment, class (name or "background"),
        modality, active (None without dense GT or for background)."""
        names = [*LLP_CLASSES, BACKGROUND]
        return {
            "clip": [filenames[i] for i in self.clip[rows].tolist()],
            "segment": self.segment[rows].astype(int).tolist(),
            "class": [names[c] for c in self.cls[rows].tolist()],
            "modality": [MODALITY_NAMES[m] for m in self.modality[rows].tolist()],
            "active": [None if a < 0 else bool(a) for a in self.active[rows].tolist()],
        }


class FeaturePoolBuilder:
    """Collects a ``FeaturePool`` batch by batch (``add``), optionally from some clips only."""

    def __init__(self, stage: str, keep_rows: np.ndarray | None = None) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage must be 'cafd' (before fusion) or 'fgse' (after), not {stage!r}")
        self.stage = stage
        self.keep_rows = keep_rows  # (N,) bool: the clips whose points are kept; None: all
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in ("features", "clip", "segment", "cls", "modality", "active")}

    def add(self, slots: np.ndarray, start: int, weak: np.ndarray, gt_a=None, gt_v=None) -> None:
        """One batch: slots (B, 10, 2, S, d_c) of clips ``start`` .. ``start + B - 1``; weak (B, 25) of
        those clips, gt_* (B, 10, 25) or None."""
        b = len(slots)
        keep = np.ones(b, bool) if self.keep_rows is None else self.keep_rows[start : start + b]
        weak = (np.asarray(weak) > 0) & keep[:, None]  # (B, 25)
        for mi, gt in ((0, gt_a), (1, gt_v)):
            clip, cls = np.nonzero(weak)  # (K,) pairs present in the clip
            for t in range(NUM_SEGMENTS):
                active = np.full(len(clip), -1, np.int8) if gt is None else (np.asarray(gt)[clip, t, cls] > 0).astype(np.int8)
                self._append(slots[clip, t, mi, cls], start + clip, t, cls, mi, active)
            if self.stage == "cafd" and slots.shape[3] > NUM_CLASSES:
                rows = np.flatnonzero(keep)
                for t in range(NUM_SEGMENTS):
                    self._append(slots[rows, t, mi, NUM_CLASSES], start + rows, t, np.full(len(rows), NUM_CLASSES),
                                 mi, np.full(len(rows), -1, np.int8))  # fmt: skip

    def _append(self, features, clip, segment, cls, modality, active) -> None:
        n = len(features)
        self.parts["features"].append(np.asarray(features, np.float32))
        self.parts["clip"].append(np.asarray(clip, np.int32))
        self.parts["segment"].append(np.full(n, segment, np.int8))
        self.parts["cls"].append(np.asarray(cls, np.int8))
        self.parts["modality"].append(np.full(n, modality, np.int8))
        self.parts["active"].append(np.asarray(active, np.int8))

    def build(self, d_class: int) -> FeaturePool:
        cols = {k: np.concatenate(v) if v else np.zeros((0,), np.int8) for k, v in self.parts.items()}
        if not self.parts["features"]:
            cols["features"] = np.zeros((0, d_class), np.float32)
        return FeaturePool(self.stage, **cols)


def subsample(pool: FeaturePool, rows: np.ndarray, filenames, max_points: int, seed: int):
    """(features (M, d_c) float32, table columns) of the pool's points ``rows`` (bool (M,) or indices),
    subsampled to ``max_points`` with ``seed`` (the points keep their order)."""
    index = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
    if len(index) > max_points:
        index = index[np.sort(np.random.default_rng(seed).choice(len(index), max_points, replace=False))]
    return pool.features[index].astype(np.float32), pool.table(index, filenames)


@_no_grad
def class_feature_samples(
    parser: Parser,
    split: LLPSplit,
    stage: str = "cafd",
    modalities: tuple[str, ...] = ("audio", "visual"),
    classes: list[int] | None = None,
    include_events: bool = True,
    include_background: bool = True,
    max_points: int = 5000,
    seed: int = 0,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> tuple[np.ndarray, dict[str, list]]:
    """Decoupled class-wise features for a t-SNE view -> (features (M, d_c) float32, table columns).

    Points: for every clip, segment and modality, the slot of each chosen class that is in the clip's
    weak labels ("events"), and the background slot 25 (``stage="cafd"`` only: slots before fusion;
    ``stage="fgse"``: the 25 class slots after FGSE). ``table`` holds per point: clip, segment, class,
    modality, active (the class is in the dense GT of that modality at that segment; None without GT
    or for background). Subsampled to ``max_points`` with ``seed``. The app takes the same points from a
    ``FeaturePool`` kept on disk (mmcse.prediction_cache), without a model pass.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be 'cafd' (before fusion) or 'fgse' (after), not {stage!r}")
    if not parser.has_class_features:
        raise ValueError(f"the {parser.arch} model has no class-wise features (only MM-CSE does)")
    parser.check_split(split)
    builder = FeaturePoolBuilder(stage)
    start, d_class = 0, 1
    for audio, visual, visual_st in split.feature_batches(batch_size):
        out = parser.forward(audio, visual, visual_st)
        slots = out.class_features if stage == "cafd" else out.enhanced_features  # (B, 10, 2, S, d_c)
        if slots is None:
            raise ValueError(f"the model returned no {stage} class-wise features")
        b = len(audio)
        rows = slice(start, start + b)
        gt = (None, None) if split.gt_audio is None else (split.gt_audio[rows], split.gt_visual[rows])
        builder.add(_numpy(slots), start, split.label[rows], *gt)
        d_class = slots.shape[-1]
        start += b
        if progress is not None:
            progress(start, len(split))
    pool = builder.build(d_class)
    chosen = pool.select(modalities, classes, include_events, include_background)
    return subsample(pool, chosen, split.filenames, max_points, seed)


# 250 early-exaggeration + 250 refinement steps; 350 steps ran ~40% faster but lost trustworthiness on
# overlapping clusters (0.870 -> 0.836), so the speed comes from the thread count instead
TSNE_ITERATIONS = 500
TSNE_ANGLE = 0.8  # Barnes-Hut trade-off (sklearn default 0.5): ~30% less CPU than 0.6 at 5,000 points
TSNE_THREADS = 1  # OpenMP threads for the gradient: sklearn's 2-thread Barnes-Hut spins at its barriers and
#                   ran 2-3x slower than 1 thread on 2 shared cores (see ``python -m mmcse.analysis``)


def tsne_embed(
    features: np.ndarray,
    seed: int = 0,
    perplexity: float = 30.0,
    iterations: int = TSNE_ITERATIONS,
    threads: int = TSNE_THREADS,
) -> np.ndarray:
    """2-D t-SNE of (M, d) features -> (M, 2): PCA to 50 dims, then scikit-learn's Barnes-Hut t-SNE (PCA
    init, learning rate "auto", angle 0.8, 500 iterations, one OpenMP thread for the gradient, the
    neighbour search on 2). 5,000 points: ~6-13 s on 2 busy cores; ``python -m mmcse.analysis`` prints time
    and quality against 2 threads (the same embedding: each point's gradient does not depend on threads)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    x = np.asarray(features, dtype=np.float32)
    if len(x) < 5:
        raise ValueError(f"t-SNE needs at least 5 points, got {len(x)}; choose more classes or modalities")
    if x.shape[1] > 50 and len(x) > 50:
        x = PCA(n_components=50, random_state=seed).fit_transform(x)  # (M, 50)
    options = dict(n_components=2, perplexity=min(perplexity, (len(x) - 1) / 3), init="pca", random_state=seed,
                   learning_rate="auto", n_jobs=2, angle=TSNE_ANGLE)  # fmt: skip
    try:
        tsne = TSNE(max_iter=iterations, **options)
    except TypeError:  # scikit-learn < 1.5 calls it n_iter
        tsne = TSNE(n_iter=iterations, **options)
    with threadpool_limits(threads, user_api="openmp"):
        return tsne.fit_transform(x).astype(np.float32)  # (M, 2)


def knn_agreement(points: np.ndarray, labels: np.ndarray, k: int = 10, metric: str = "euclidean") -> float:
    """Share of each point's k nearest neighbours (itself excluded; k at most M - 1) that carry its label:
    points (M, d), labels (M,)."""
    from sklearn.neighbors import NearestNeighbors

    labels = np.asarray(labels)
    k = min(k, len(points) - 1)
    index = NearestNeighbors(n_neighbors=k + 1, metric=metric).fit(points)
    neighbours = index.kneighbors(points, return_distance=False)[:, 1:]  # (M, k)
    return float((labels[neighbours] == labels[:, None]).mean())


def embedding_quality(features: np.ndarray, embedding: np.ndarray, labels: np.ndarray, k: int = 10) -> dict:
    """How well a 2-D embedding keeps the features' neighbourhoods: sklearn's trustworthiness (on the PCA-50
    features t-SNE saw) and the kNN class agreement (share of each point's k nearest 2-D neighbours with
    its label)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import trustworthiness

    x = np.asarray(features, dtype=np.float32)
    if x.shape[1] > 50 and len(x) > 50:
        x = PCA(n_components=50, random_state=0).fit_transform(x)
    return {
        "trustworthiness": float(trustworthiness(x, embedding, n_neighbors=k)),
        "knn_agreement": knn_agreement(embedding, labels, k),
    }


# ----------------------------------------------------------------------------- per-class report and sweeps


def per_class_report(pred_a, pred_v, gt_a, gt_v) -> pd.DataFrame:
    """Per class, modality (audio, visual, audio-visual) and level (segment, event): F, precision, recall
    (percent, NaN where undefined) and support (annotated segments or events), TP / FP / FN counts, pooled
    over the split as `metrics.per_class_f` counts them. Binary (N, 10, 25) inputs; one row per
    (level, modality, class)."""
    rows = []
    for level in ("segment", "event"):
        counts = metrics.per_class_f(pred_a, pred_v, gt_a, gt_v, level=level)
        for key, modality in (("a", "audio"), ("v", "visual"), ("av", "audio-visual")):
            tp, fp, fn = (np.asarray(counts[f"{x}_{key}"], dtype=float) for x in ("tp", "fp", "fn"))
            with np.errstate(invalid="ignore", divide="ignore"):
                precision = np.where(tp + fp > 0, 100 * tp / (tp + fp), np.nan)
                recall = np.where(tp + fn > 0, 100 * tp / (tp + fn), np.nan)
            for c in range(NUM_CLASSES):
                rows.append({"level": level, "modality": modality, "class": LLP_CLASSES[c],
                             "F": 100 * counts[key][c], "precision": precision[c], "recall": recall[c],
                             "support": int(tp[c] + fn[c]), "TP": int(tp[c]), "FP": int(fp[c]), "FN": int(fn[c])})  # fmt: skip
    return pd.DataFrame(rows)


SWEEP_THRESHOLDS = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))


def threshold_sweep(predictions, gt_a, gt_v, gating: str, thresholds=SWEEP_THRESHOLDS) -> pd.DataFrame:
    """The 10 numbers (percent) at tied thresholds t (segment = video = t) of a `inference.Predictions`;
    one row per threshold, a "threshold" column and one column per score key."""
    rows = []
    for t in thresholds:
        pred_a, pred_v = predictions.binary(gating, float(t), float(t))
        rows.append({"threshold": float(t), **metrics.avvp_scores(pred_a, pred_v, gt_a, gt_v)})
    return pd.DataFrame(rows)


def _pr_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score, descending, of one class; y, score (M,) -> (K,), (K,).

    sklearn's `precision_recall_curve` without the (recall 0, precision 1) end point it appends, read
    from the highest threshold down."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, score)  # increasing thresholds, + the end point
    return precision[-2::-1], recall[-2::-1]


def pr_curves(predictions, gt_a, gt_v, gating: str, modality: str, classes, current=None) -> dict[str, dict]:
    """Segment-level precision-recall curves per class for one modality ("audio" | "visual"), from the
    continuous score whose threshold t is the tied prediction (`stats.segment_scores`, min of segment
    and gate probability). ``current``: (segment threshold, video threshold) whose operating point is
    marked. Returns {class name: {"precision", "recall", "ap", "point"}} for classes with positives."""
    from mmcse import stats

    score_a, score_v = stats.segment_scores(predictions.segment_prob, predictions.video_prob,
                                            predictions.audio_prob, predictions.visual_prob, gating)  # fmt: skip
    index = {"audio": 0, "visual": 1}[modality]
    score = (score_a, score_v)[index].reshape(-1, NUM_CLASSES).astype(np.float64)  # (N*10, 25)
    gt = np.asarray((gt_a, gt_v)[index]).reshape(-1, NUM_CLASSES) > 0
    binary = None if current is None else predictions.binary(gating, *current)[index].reshape(-1, NUM_CLASSES) > 0
    curves = {}
    for c in classes:
        if not gt[:, c].any():
            continue
        precision, recall = _pr_curve(gt[:, c], score[:, c])
        point = None
        if binary is not None and binary[:, c].any():
            tp = float((binary[:, c] & gt[:, c]).sum())
            point = (tp / gt[:, c].sum(), tp / binary[:, c].sum())
        curves[LLP_CLASSES[c]] = {"precision": precision, "recall": recall, "point": point,
                                  "ap": stats.average_precision(gt[:, c], score[:, c])}  # fmt: skip
    return curves


__all__ = [
    "BACKGROUND",
    "MAP_NAMES",
    "FeaturePool",
    "FeaturePoolBuilder",
    "MapAccumulator",
    "active_segments",
    "subsample",
    "annotation_cooccurrence",
    "map_agreement",
    "class_feature_samples",
    "cooccurrence_maps",
    "embedding_quality",
    "per_class_report",
    "pr_curves",
    "reference_rows",
    "threshold_sweep",
    "tsne_embed",
]

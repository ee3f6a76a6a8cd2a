"""Inference for the app and the parse command: a checkpoint plus features (a split) or a video file ->
probabilities, thresholded predictions, events, class-wise feature samples and co-occurrence maps.

    parser = Parser.from_checkpoint("runs/demo_mmcse/best.safetensors")      # GPU when there is one
    split = load_split("demo_data", "test", parser.feature_spec)             # annotations + features
    preds = parser.predict_split(split)                                      # Predictions, numpy
    pred_a, pred_v = preds.binary(gating="mmcse")                            # (N, 10, 25) uint8 each
    parse = parser.parse_video("clip.mp4")                                   # VideoParse: events, probs

Nothing here imports streamlit; the app caches these results itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from mmcse import metrics
from mmcse.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS
from mmcse.config import FeatureSpec

Progress = Callable[[int, int], None]  # progress(done, total)
MAP_NAMES = ("aa", "av", "vv", "va")  # query modality -> key modality (rows = query classes)
BACKGROUND = "background"  # name of the CAFD background slot (index 25) in feature samples


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" -> the GPU when torch sees one, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def check_same_inputs(
    checkpoint_spec: FeatureSpec, data_spec: FeatureSpec, where: str = "the dataset"
) -> None:
    """Raise a clear ValueError when a checkpoint cannot run on features of another spec."""
    if checkpoint_spec.same_inputs(data_spec):
        return

    def describe(spec: FeatureSpec) -> str:
        return ", ".join(f"{s.name} {tuple(s.shape)}" for s in spec.streams.values())

    raise ValueError(
        f"the checkpoint was trained on '{checkpoint_spec.name}' features ({describe(checkpoint_spec)}) but "
        f"{where} holds '{data_spec.name}' features ({describe(data_spec)}); pick a checkpoint trained on "
        f"'{data_spec.name}' features or a dataset with '{checkpoint_spec.name}' features"
    )


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


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy()


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
    warnings: list[str] = field(default_factory=list)
    gating: str = "mmcse"
    segment_threshold: float = 0.5
    video_threshold: float = 0.5

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
            filename=Path(self.path).name, duration=self.duration,
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
    event); offsets are clipped to ``duration``. Same order and scores as metrics.extract_events."""
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
) -> tuple[np.ndarray, np.ndarray, list[metrics.Event]]:
    """Threshold a long video window by window (each 10-s window gated by its own video-level
    probabilities), then merge events across window borders. segment_prob (T, 2, 25), *_prob (W, 25)."""
    windows = len(video_prob)
    seg = np.asarray(segment_prob).reshape(windows, NUM_SEGMENTS, 2, NUM_CLASSES)  # (W, 10, 2, 25)
    pred_a, pred_v = metrics.predict(
        seg, video_prob, audio_prob, visual_prob, gating=gating,
        segment_threshold=segment_threshold, video_threshold=video_threshold,
    )  # fmt: skip
    pred_a = pred_a.reshape(-1, NUM_CLASSES)  # (T, 25)
    pred_v = pred_v.reshape(-1, NUM_CLASSES)
    return pred_a, pred_v, merged_events(pred_a, pred_v, segment_prob, filename=filename, duration=duration)


# ----------------------------------------------------------------------------- the parser


class Parser:
    """A loaded checkpoint ready to predict: ``Parser.from_checkpoint(path)``."""

    def __init__(
        self, model: torch.nn.Module, feature_spec: FeatureSpec, meta: dict, device: torch.device, path=None
    ):
        self.model = model.eval().to(device)
        self.feature_spec = feature_spec
        self.meta = meta
        self.device = device
        self.path = None if path is None else str(path)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto") -> Parser:
        """Load our .safetensors checkpoint, or the authors' .pth (read with weights_only=True)."""
        from mmcse import checkpoint

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"checkpoint {path} not found; pick a .safetensors file from a runs folder"
            )
        dev = resolve_device(device)
        if path.suffix == ".pth":
            model = checkpoint.import_official(path)
            model_config = model.cfg
            spec = checkpoint.official_feature_spec(model)
            meta = {
                "source": "authors' release (imported)",
                "model_config": model_config.to_dict(),
                "feature_spec": spec.to_dict(),
                "train_config": {"gating": "mmcse"},
            }
            return cls(model, spec, meta, dev, path)
        loaded = checkpoint.load_checkpoint(path, device=str(dev))
        return cls(loaded.model, loaded.feature_spec, loaded.meta, dev, path)

    # ---- convenience views of the metadata
    @property
    def arch(self) -> str:
        return (self.meta.get("model_config") or {}).get("arch", "mmcse")

    @property
    def gating(self) -> str:
        """The gating variant the checkpoint was trained / selected with (default "mmcse")."""
        return (self.meta.get("train_config") or {}).get("gating") or self.meta.get("gating") or "mmcse"

    @property
    def has_class_features(self) -> bool:
        return self.arch == "mmcse"

    @torch.no_grad()
    def predict_arrays(
        self,
        audio: np.ndarray,
        visual: np.ndarray,
        visual_st: np.ndarray,
        batch_size: int = 64,
        keep_features: bool = False,
        keep_attn: bool = False,
        progress: Progress | None = None,
    ) -> Predictions:
        """Run the model on stacked features: audio (N, La, Da), visual (N, Lv, Dv), visual_st (N, 10, Dst)."""
        n = len(audio)
        return self._predict_batches(
            ((audio[i : i + batch_size], visual[i : i + batch_size], visual_st[i : i + batch_size]) for i in range(0, n, batch_size)),
            total=n,
            keep_features=keep_features,
            keep_attn=keep_attn,
            progress=progress,
        )  # fmt: skip

    def _forward(self, audio, visual, visual_st):
        def to_device(x):
            return torch.as_tensor(np.asarray(x, dtype=np.float32)).to(self.device, non_blocking=True)

        return self.model(to_device(audio), to_device(visual), to_device(visual_st))

    @torch.no_grad()
    def _predict_batches(
        self, batches, total, keep_features=False, keep_attn=False, progress=None
    ) -> Predictions:
        parts: dict[str, list[np.ndarray]] = {}
        done = 0
        for audio, visual, visual_st in batches:
            out = self._forward(audio, visual, visual_st)
            fields = {
                "video_prob": out.video_prob,
                "audio_prob": out.audio_prob,
                "visual_prob": out.visual_prob,
                "segment_prob": out.segment_prob,
            }
            if keep_features and out.class_features is not None:
                fields["class_features"] = out.class_features
                fields["enhanced_features"] = out.enhanced_features
            if keep_attn:
                fields.update({f"attn_{k}": v for k, v in out.attn.items()})
            for name, tensor in fields.items():
                parts.setdefault(name, []).append(_numpy(tensor))
            done += len(audio)
            if progress is not None:
                progress(done, total)
        if not parts:
            raise ValueError("no clips to predict")
        stacked = {k: np.concatenate(v) for k, v in parts.items()}
        return Predictions(
            video_prob=stacked["video_prob"],
            audio_prob=stacked["audio_prob"],
            visual_prob=stacked["visual_prob"],
            segment_prob=stacked["segment_prob"],
            class_features=stacked.get("class_features"),
            enhanced_features=stacked.get("enhanced_features"),
            attn={k[5:]: v for k, v in stacked.items() if k.startswith("attn_")},
        )

    def _check_split(self, split: SplitData) -> None:
        check_same_inputs(self.feature_spec, split.feature_spec, where=f"the dataset at {split.root}")

    def predict_split(
        self, split: SplitData, batch_size: int = 64, progress: Progress | None = None
    ) -> Predictions:
        """Predict every clip of a split (probabilities only; threshold with ``Predictions.binary``)."""
        self._check_split(split)
        preds = self._predict_batches(split.batches(batch_size), total=len(split), progress=progress)
        preds.filenames = list(split.filenames)
        return preds

    def parse_video(
        self,
        path: str | Path,
        gating: str | None = None,
        segment_threshold: float = 0.5,
        video_threshold: float = 0.5,
    ) -> VideoParse:
        """Extract features from a video file (10-s windows, mmcse.video.extractor), predict each window and
        threshold it; events are merged across window borders. Raises a clear error for a non-video file or
        a checkpoint whose features have no offline extractor (e.g. han / valor)."""
        from mmcse.video.extractor import extractor_for_spec

        extractor = extractor_for_spec(self.feature_spec)
        result = extractor.extract_file(str(path))
        if not result.windows:
            raise ValueError(f"{path}: no 10-s window could be extracted; is it a video with frames?")
        keys = {"audio": self.feature_spec.audio.name, "visual": self.feature_spec.visual.name,
                "visual_st": self.feature_spec.visual_st.name}  # fmt: skip

        def stack(key: str) -> np.ndarray:
            return np.stack([w[key] if key in w else w[keys[key]] for w in result.windows])  # (W, L, D)

        preds = self.predict_arrays(stack("audio"), stack("visual"), stack("visual_st"))
        segment_prob = preds.segment_prob.reshape(-1, 2, NUM_CLASSES)  # (W * 10, 2, 25)
        gating = self.gating if gating is None else gating
        duration = float(getattr(result, "duration", len(result.windows) * NUM_SEGMENTS))
        pred_a, pred_v, events = threshold_windows(
            segment_prob, preds.video_prob, preds.audio_prob, preds.visual_prob, gating,
            segment_threshold, video_threshold, filename=Path(path).name, duration=duration,
        )  # fmt: skip
        return VideoParse(
            path=str(path),
            duration=duration,
            segment_prob=segment_prob,
            video_prob=preds.video_prob,
            audio_prob=preds.audio_prob,
            visual_prob=preds.visual_prob,
            pred_a=pred_a,
            pred_v=pred_v,
            events=events,
            warnings=list(getattr(result, "warnings", [])),
            gating=gating,
            segment_threshold=segment_threshold,
            video_threshold=video_threshold,
        )

    # ---- interpretability
    @torch.no_grad()
    def cooccurrence_maps(
        self,
        split: SplitData,
        only_active: bool = False,
        batch_size: int = 64,
        progress: Progress | None = None,
    ) -> dict[str, np.ndarray]:
        """The last FGSE layer's class co-occurrence maps "aa" "av" "vv" "va", averaged over all segments of
        the split -> (25, 25) each (rows = query classes of the first modality). With ``only_active``, row c
        averages only the segments where class c is active in that row's modality: in the dense GT when the
        split has it, else in the thresholded prediction (gating of the checkpoint)."""
        self._check_split(split)
        sums = {k: np.zeros((NUM_CLASSES, NUM_CLASSES)) for k in MAP_NAMES}
        counts = {k: np.zeros((NUM_CLASSES, 1)) for k in MAP_NAMES}
        start = 0
        for audio, visual, visual_st in split.batches(batch_size):
            out = self._forward(audio, visual, visual_st)
            if not out.attn:
                raise ValueError(f"the {self.arch} model has no co-occurrence maps (only MM-CSE does)")
            b = len(audio)
            if only_active:
                active = self._active(split, slice(start, start + b), out)  # {"a","v"}: (B, 10, 25) bool
            for name in MAP_NAMES:
                attn = _numpy(out.attn[name]).astype(np.float64)  # (B, 10, 25, 25)
                if only_active:
                    weight = active[name[0]].astype(np.float64)  # (B, 10, 25) row class active
                    sums[name] += np.einsum("btr,btrc->rc", weight, attn)
                    counts[name] += weight.sum(axis=(0, 1))[:, None]
                else:
                    sums[name] += attn.sum(axis=(0, 1))
                    counts[name] += attn.shape[0] * attn.shape[1]
            start += b
            if progress is not None:
                progress(start, len(split))
        return {
            k: np.divide(sums[k], counts[k], out=np.zeros_like(sums[k]), where=counts[k] > 0)
            for k in MAP_NAMES
        }

    def _active(self, split: SplitData, rows: slice, out) -> dict[str, np.ndarray]:
        if split.gt_audio is not None:
            return {"a": split.gt_audio[rows] > 0, "v": split.gt_visual[rows] > 0}
        pred_a, pred_v = metrics.predict(
            out.segment_prob, out.video_prob, out.audio_prob, out.visual_prob, gating=self.gating
        )
        return {"a": pred_a > 0, "v": pred_v > 0}

    @torch.no_grad()
    def class_feature_samples(
        self,
        split: SplitData,
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
        or for background). Subsampled to ``max_points`` with ``seed``.
        """
        if stage not in ("cafd", "fgse"):
            raise ValueError(f"stage must be 'cafd' (before fusion) or 'fgse' (after), not {stage!r}")
        if not self.has_class_features:
            raise ValueError(f"the {self.arch} model has no class-wise features (only MM-CSE does)")
        self._check_split(split)
        chosen = np.zeros(NUM_CLASSES, bool)
        chosen[list(range(NUM_CLASSES)) if classes is None else list(classes)] = True
        mod_index = {"audio": 0, "visual": 1}
        feats, table = [], {"clip": [], "segment": [], "class": [], "modality": [], "active": []}
        start = 0
        for audio, visual, visual_st in split.batches(batch_size):
            out = self._forward(audio, visual, visual_st)
            slots = out.class_features if stage == "cafd" else out.enhanced_features  # (B, 10, 2, S, d_c)
            if slots is None:
                raise ValueError(f"the model returned no {stage} class-wise features")
            slots = _numpy(slots)
            b = len(audio)
            weak = split.label[start : start + b] > 0  # (B, 25)
            for m in modalities:
                mi = mod_index[m]
                gt = (
                    None
                    if split.gt_audio is None
                    else (split.gt_audio, split.gt_visual)[mi][start : start + b]
                )
                if include_events:
                    clip, cls = np.nonzero(weak & chosen)  # (K,) pairs present in the clip
                    for t in range(NUM_SEGMENTS):
                        feats.append(slots[clip, t, mi, cls])  # (K, d_c)
                        table["clip"] += [split.filenames[start + i] for i in clip]
                        table["segment"] += [t] * len(clip)
                        table["class"] += [LLP_CLASSES[c] for c in cls]
                        table["modality"] += [m] * len(clip)
                        table["active"] += (
                            [None] * len(clip) if gt is None else [bool(x) for x in gt[clip, t, cls]]
                        )
                if include_background and stage == "cafd" and slots.shape[3] > NUM_CLASSES:
                    for t in range(NUM_SEGMENTS):
                        feats.append(slots[:, t, mi, NUM_CLASSES])  # (B, d_c)
                        table["clip"] += split.filenames[start : start + b]
                        table["segment"] += [t] * b
                        table["class"] += [BACKGROUND] * b
                        table["modality"] += [m] * b
                        table["active"] += [None] * b
            start += b
            if progress is not None:
                progress(start, len(split))
        features = np.concatenate(feats) if feats else np.zeros((0, 1), np.float32)
        if len(features) > max_points:
            keep = np.sort(np.random.default_rng(seed).choice(len(features), max_points, replace=False))
            features = features[keep]
            table = {k: [v[i] for i in keep] for k, v in table.items()}
        return features.astype(np.float32), table


TSNE_ITERATIONS = 500  # 250 early-exaggeration + 250 refinement steps
TSNE_ANGLE = 0.8  # Barnes-Hut trade-off (sklearn default 0.5): ~30% less CPU than 0.6 at 5,000 points


def tsne_embed(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE of (M, d) features -> (M, 2): PCA to 50 dims, then scikit-learn's Barnes-Hut t-SNE with
    500 iterations, angle 0.8 (5,000 points: ~17 s of CPU time, see ``python -m mmcse.inference``)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float32)
    if len(x) < 5:
        raise ValueError(f"t-SNE needs at least 5 points, got {len(x)}; choose more classes or modalities")
    if x.shape[1] > 50 and len(x) > 50:
        x = PCA(n_components=50, random_state=seed).fit_transform(x)
    options = dict(n_components=2, perplexity=min(perplexity, (len(x) - 1) / 3), init="pca", random_state=seed,
                   n_jobs=2, angle=TSNE_ANGLE)  # fmt: skip
    try:
        tsne = TSNE(max_iter=TSNE_ITERATIONS, **options)
    except TypeError:  # scikit-learn < 1.5 calls it n_iter
        tsne = TSNE(n_iter=TSNE_ITERATIONS, **options)
    return tsne.fit_transform(x).astype(np.float32)


def _benchmark_tsne(points: int = 5000, dim: int = 128) -> None:
    """Print the wall and CPU seconds of ``tsne_embed`` on clustered random features."""
    import resource
    import time

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(NUM_CLASSES, dim)) * 2
    x = (rng.normal(size=(points, dim)) + centres[rng.integers(0, NUM_CLASSES, points)]).astype(np.float32)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    tsne_embed(x)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    print(f"t-SNE of {points} x {dim} features: {wall:.1f} s wall, {cpu:.1f} s CPU (limit: 15 s on 2 cores)")


# ----------------------------------------------------------------------------- annotations


def annotation_cooccurrence(split: SplitData) -> dict[str, np.ndarray]:
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


def reference_rows(split: SplitData) -> dict[str, dict[str, float]]:
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


# ----------------------------------------------------------------------------- a split on disk

FEATURE_FOLDER = "feats"  # <dataset root>/feats/<stream>/<id11>.npy, as the demo and synthetic data write
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")


@dataclass
class SplitData:
    """One split of a dataset in the official layout: annotations in memory, features read in batches."""

    root: Path  # folder holding the split CSVs
    name: str  # train | val | test
    feature_spec: FeatureSpec
    filenames: list[str]
    video_ids: list[str]
    label: np.ndarray  # (N, 25) uint8 weak labels
    gt_audio: np.ndarray | None  # (N, 10, 25) uint8, None without dense labels (train)
    gt_visual: np.ndarray | None
    store: object  # mmcse.data.features.FeatureStore (per-clip or packed)

    def __len__(self) -> int:
        return len(self.filenames)

    def batches(
        self, batch_size: int = 64, index: list[int] | None = None
    ) -> Iterator[tuple[np.ndarray, ...]]:
        """(audio, visual, visual_st) float32 batches in split order (or over ``index``)."""
        rows = list(range(len(self))) if index is None else list(index)
        for i in range(0, len(rows), batch_size):
            batch = self.store.load_batch([self.video_ids[r] for r in rows[i : i + batch_size]])
            yield batch["audio"], batch["visual"], batch["visual_st"]

    def clip_features(self, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One clip's (audio, visual, visual_st) with a batch axis of 1."""
        return next(self.batches(1, [row]))


def available_specs(feature_root: str | Path) -> list[FeatureSpec]:
    """The known feature specs (demo, valor, han) whose three stream folders exist under ``feature_root``."""
    from mmcse.config import feature_preset

    root = Path(feature_root)
    found = []
    for name in ("demo", "valor", "han"):
        try:
            spec = feature_preset(name)
        except (ImportError, ValueError):  # the demo extractor may not be importable
            continue
        if all((root / s.name).is_dir() for s in spec.streams.values()):
            found.append(spec)
    return found


def load_split(
    root: str | Path,
    split: str,
    spec: FeatureSpec,
    feature_root: str | Path | None = None,
    audio_gt: str = "fixed",
) -> SplitData:
    """Annotations of ``split`` under ``root`` (AVVP_*.csv) and the features of ``spec`` under
    ``feature_root`` (default ``<root>/feats``). Clear errors for a root without CSVs, without features,
    with features of another spec, or with clips whose features are missing."""
    from mmcse.data.features import FeatureStore
    from mmcse.data.llp import (
        DENSE_AUDIO_FILES,
        DENSE_VISUAL_FILE,
        SPLIT_FILES,
        read_split,
        read_weak_labels,
        split_csv,
        video_id,
    )

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"dataset folder {root} not found; build the demo with `python -m mmcse demo`"
        )
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_FILES)}")
    if not (root / SPLIT_FILES[split]).is_file():
        raise FileNotFoundError(
            f"{root} has no {SPLIT_FILES[split]} (the {split} split); point the dataset root at a folder "
            f"with the LLP CSVs, e.g. the demo folder from `python -m mmcse demo`"
        )
    feature_root = root / FEATURE_FOLDER if feature_root is None else Path(feature_root)
    if not feature_root.is_dir():
        raise FileNotFoundError(
            f"{root} has no features ({feature_root} not found); extract or copy features into "
            f"{feature_root}/<stream>/<id>.npy, or set the feature folder"
        )
    if not all((feature_root / s.name).is_dir() for s in spec.streams.values()):
        found = available_specs(feature_root)
        if found:
            check_same_inputs(spec, found[0], where=f"the dataset at {root}")
        raise FileNotFoundError(
            f"{feature_root} holds no '{spec.name}' features (expected folders "
            f"{', '.join(s.name for s in spec.streams.values())}); extract features or pick another dataset root"
        )
    has_dense = (root / DENSE_VISUAL_FILE).is_file() and (root / DENSE_AUDIO_FILES[audio_gt]).is_file()
    if split == "train" or has_dense:
        annotations = read_split(root, split, audio_gt)
    else:  # val/test without dense CSVs: weak labels only
        filenames, labels = read_weak_labels(split_csv(root, split))
        annotations = {"filenames": filenames, "video_ids": [video_id(f) for f in filenames], "label": labels,
                       "gt_audio": None, "gt_visual": None}  # fmt: skip
    store = FeatureStore.open(feature_root, spec, pseudo=False)
    store.check_complete(annotations["video_ids"], what=f"{split} split")
    return SplitData(
        root=root,
        name=split,
        feature_spec=spec,
        filenames=list(annotations["filenames"]),
        video_ids=list(annotations["video_ids"]),
        label=np.asarray(annotations["label"]),
        gt_audio=annotations["gt_audio"],
        gt_visual=annotations["gt_visual"],
        store=store,
    )


def find_video(video_dir: str | Path | None, filename: str) -> Path | None:
    """The video file of an LLP clip in a folder (``<filename>.mp4``, ``<id11>.mp4``, other containers,
    or any file starting with the id), or None when it is not on disk."""
    if video_dir is None or not Path(video_dir).is_dir():
        return None
    folder = Path(video_dir)
    for stem in (filename, filename[:11]):
        for suffix in VIDEO_SUFFIXES:
            if (folder / f"{stem}{suffix}").is_file():
                return folder / f"{stem}{suffix}"
    for path in sorted(folder.glob(f"{filename[:11]}*")):
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return path
    return None


__all__ = [
    "Parser",
    "Predictions",
    "SplitData",
    "VideoParse",
    "annotation_cooccurrence",
    "available_specs",
    "check_same_inputs",
    "find_video",
    "load_split",
    "merged_events",
    "reference_rows",
    "resolve_device",
    "threshold_windows",
    "tsne_embed",
]


if __name__ == "__main__":  # python -m mmcse.inference: the t-SNE benchmark
    _benchmark_tsne()

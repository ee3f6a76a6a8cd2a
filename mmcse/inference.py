"""Inference for the app and the parse command: a checkpoint plus features (a split) or a video file ->
probabilities, thresholded predictions and events.

    parser = Parser.from_checkpoint("assets/demo/runs/mmcse/best.safetensors")   # GPU when there is one
    split = open_split(DataPaths.from_root("assets/demo", parser.feature_spec), "test")   # mmcse.data
    preds = parser.predict_split(split)                                   # Predictions, numpy
    pred_a, pred_v = preds.binary(gating="mmcse")                         # (N, 10, 25) uint8 each
    parse = parser.parse_video("clip.mp4")                                # VideoParse: events, probs

Splits on disk are opened by mmcse.data.splits.open_split, the interpretability views (co-occurrence maps, class-wise features
and their t-SNE, reference rows) in mmcse.analysis. Nothing here imports streamlit; the app caches results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mmcse.checkpoint import CheckpointMetaView, check_finite_weights, load_checkpoint
from mmcse.classes import NUM_CLASSES
from mmcse.config import DEMO_FEATURES, FeatureSpec, check_same_inputs
from mmcse.data.dataset import LLPSplit
from mmcse.demo.features import DemoExtractor
from mmcse.domain import DomainStats, describe
from mmcse.models import apply_process_tuning
from mmcse.models.official import import_official, official_feature_spec

# made here, defined without torch in mmcse.predictions; mmcse.inference.Predictions etc. stay the public names
from mmcse.predictions import Predictions, Progress, VideoParse, merged_events, threshold_windows  # noqa: F401
from mmcse.utils.device import resolve_device
from mmcse.video.extractor import Extractor


def _float_input(x, name: str) -> np.ndarray:
    """``x`` (array-like or tensor) as a float32 array; one ValueError naming the input when it is not one."""
    try:
        return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} cannot be read as a float array ({e}); pass a numpy array (N, L, D)") from None


def _finite_input(x, name: str) -> np.ndarray:
    """``x`` as a float32 array, refused with one ValueError naming the input when it holds NaN or inf."""
    x = _float_input(x, name)
    if not np.isfinite(x).all():
        clip, *index = np.argwhere(~np.isfinite(x))[0].tolist()
        raise ValueError(
            f"the {name} features contain NaN or inf (first: clip {clip}, index {index}); the model needs finite "
            "features: check the feature files or the extractor that made them"
        )
    return x


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy()


# ----------------------------------------------------------------------------- the parser


class Parser(CheckpointMetaView):
    """A loaded checkpoint ready to predict: ``Parser.from_checkpoint(path)``."""

    def __init__(
        self, model: torch.nn.Module, feature_spec: FeatureSpec, meta: dict, device: torch.device, path=None
    ):
        self.model = model.eval().to(device)
        self.feature_spec = feature_spec
        self.meta = meta
        self.device = device
        self.path = None if path is None else str(path)
        self.domain: DomainStats | None = None  # set from the checkpoint: the out-of-domain check

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto") -> Parser:
        """Load our .safetensors checkpoint, or the authors' .pth (read with weights_only=True)."""
        apply_process_tuning()  # glibc malloc for large tensors (mmcse.models._fast.allocator)
        path = Path(path)
        if path.is_dir():
            raise ValueError(
                f"checkpoint {path} is a folder; pick a checkpoint file in it, such as {path / 'best.safetensors'}"
            )
        if not path.is_file():
            raise FileNotFoundError(
                f"checkpoint {path} not found; pick a .safetensors file from a runs folder"
            )
        dev = resolve_device(device)
        if path.suffix == ".pth":
            model = import_official(path)
            check_finite_weights(model.state_dict(), path)
            model_config = model.cfg
            spec = official_feature_spec(model)
            meta = {
                "source": "authors' release (imported)",
                "model_config": model_config.to_dict(),
                "feature_spec": spec.to_dict(),
                "train_config": {"gating": "mmcse"},
            }
            return cls(model, spec, meta, dev, path)
        loaded = load_checkpoint(path, device=str(dev))
        parser = cls(loaded.model, loaded.feature_spec, loaded.meta, dev, path)
        parser.domain = loaded.domain
        return parser

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
        """Run the model on stacked features: audio (N, La, Da), visual (N, Lv, Dv), visual_st (N, 10, Dst),
        each clip's (L, D) that of the checkpoint's feature spec. A wrong shape, differing clip counts, NaN
        or inf in an input, or a batch_size < 1 is refused (one ValueError naming it): NaN would turn into
        confident-looking finite probabilities."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number >= 1; got {batch_size!r}")
        batch_size = int(batch_size)
        audio, visual, visual_st = (self._checked_input(x, name) for x, name in
                                    ((audio, "audio"), (visual, "visual"), (visual_st, "visual_st")))  # fmt: skip
        counts = (len(audio), len(visual), len(visual_st))
        if len(set(counts)) != 1:
            raise ValueError(
                "audio, visual and visual_st must hold the same clips (axis 0); got "
                f"{counts[0]}, {counts[1]} and {counts[2]} clips"
            )
        n = len(audio)
        return self._predict_batches(
            ((audio[i : i + batch_size], visual[i : i + batch_size], visual_st[i : i + batch_size]) for i in range(0, n, batch_size)),
            total=n,
            keep_features=keep_features,
            keep_attn=keep_attn,
            progress=progress,
        )  # fmt: skip

    def _checked_input(self, x, name: str) -> np.ndarray:
        """One input as float32 (N, L, D), refused unless (L, D) is the checkpoint's per-clip shape."""
        stream = self.feature_spec.streams[name]
        x = _float_input(x, name)
        expected = "(N, " + ", ".join(str(d) for d in stream.shape) + ")"
        if x.ndim != 3 or tuple(x.shape[1:]) != tuple(stream.shape):
            hint = " (one clip? add the clip axis: x[None])" if x.shape == tuple(stream.shape) else ""
            raise ValueError(
                f"{name} has shape {tuple(x.shape)}; expected {expected} (clip, time, feature): the "
                f"{stream.name} features of this checkpoint's spec {self.feature_spec.name!r}{hint}"
            )
        return _finite_input(x, name)

    def forward(self, audio, visual, visual_st):
        """One forward pass on a batch of numpy features -> the model's ModelOutput (tensors on the device)."""

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
            out = self.forward(audio, visual, visual_st)
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

    def check_split(self, split: LLPSplit) -> None:
        """Raise a clear ValueError when the split holds features of another spec than the checkpoint's."""
        check_same_inputs(self.feature_spec, split.feature_spec, where=f"the dataset at {split.root}")

    def predict_split(
        self, split: LLPSplit, batch_size: int = 64, progress: Progress | None = None
    ) -> Predictions:
        """Predict every clip of a split (probabilities only; threshold with ``Predictions.binary``)."""
        self.check_split(split)
        preds = self._predict_batches(split.feature_batches(batch_size), total=len(split), progress=progress)
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
        if Path(path).is_dir():
            raise ValueError(f"{path} is a folder, not a video file; give one video file (.mp4/.mkv/.webm/.avi)")
        extractor = extractor_for_spec(self.feature_spec)
        result = extractor.extract_file(str(path))
        if not result.windows:
            raise ValueError(f"{path}: no 10-s window could be extracted; is it a video with frames?")
        keys = {"audio": self.feature_spec.audio.name, "visual": self.feature_spec.visual.name,
                "visual_st": self.feature_spec.visual_st.name}  # fmt: skip

        def stack(key: str) -> np.ndarray:
            return np.stack([w[key] if key in w else w[keys[key]] for w in result.windows])  # (W, L, D)

        inputs = {key: stack(key) for key in ("audio", "visual", "visual_st")}
        preds = self.predict_arrays(inputs["audio"], inputs["visual"], inputs["visual_st"])
        out_of_domain = None if self.domain is None else self.domain.check(inputs)  # never changes preds
        segment_prob = preds.segment_prob.reshape(-1, 2, NUM_CLASSES)  # (W * 10, 2, 25)
        gating = self.gating if gating is None else gating
        duration = float(result.duration)
        real = result.segment_real()  # (T,)
        pred_a, pred_v, events = threshold_windows(
            segment_prob, preds.video_prob, preds.audio_prob, preds.visual_prob, gating,
            segment_threshold, video_threshold, filename=Path(path).name, duration=duration, segment_real=real,
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
            segment_real=real,
            warnings=list(result.warnings) + (describe(out_of_domain, Path(path).name) if out_of_domain else []),
            out_of_domain=out_of_domain,
            gating=gating,
            segment_threshold=segment_threshold,
            video_threshold=video_threshold,
        )



def extractor_for_spec(spec: FeatureSpec) -> Extractor:
    """The offline extractor that makes ``spec``'s features (mmcse.backbones.registry: the demo's, or the
    real backbones of han-style streams, weights from $MMCSE_WEIGHTS or torch hub's cache); one clear
    error for a stream without an extractor or a missing weight file."""
    if spec.same_inputs(DEMO_FEATURES):
        return DemoExtractor()
    from mmcse.backbones.registry import extractor_for_spec as registered

    return registered(spec)

"""Where the engine's data lives (DataPaths) and how a batch reaches the device.

paths = DataPaths.from_root("data/llp", features="valor")   CSVs in data/llp, features in data/llp/feats
                                                            (or data/llp itself when it has no feats/)
split = LLPSplit.from_paths(paths, "val")                   annotations + features, checked up front
for batch in split.batches(order, 64): ...                  the batch dict of the shared contract (torch)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mmcse.config import FeatureSpec, feature_preset
from mmcse.data.llp import DENSE_AUDIO_FILES, DENSE_VISUAL_FILE, SPLIT_FILES


@dataclass
class DataPaths:
    """Where a dataset lives. Empty overrides mean the standard LLP file names under ``llp_dir``."""

    llp_dir: str
    feature_root: str
    feature_spec: FeatureSpec
    split_csvs: dict[str, str] = field(default_factory=dict)  # split -> CSV, overriding the standard name
    audio_csv: str | None = None  # dense audio GT, overriding AVVP_eval_audio(_pre2024).csv
    visual_csv: str | None = None
    use_pseudo_labels: bool | None = None  # None: when the feature root has them; False: never

    @classmethod
    def from_root(cls, data_root: str | Path, features: str | FeatureSpec = "valor", **kw: Any) -> DataPaths:
        root = Path(data_root)
        feats = root / "feats"
        spec = features if isinstance(features, FeatureSpec) else feature_preset(features)
        feature_root = kw.pop("feature_root", None) or (feats if feats.is_dir() else root)
        return cls(llp_dir=str(root), feature_root=str(feature_root), feature_spec=spec, **kw)

    def split_csv(self, split: str) -> Path:
        if split in self.split_csvs:
            return Path(self.split_csvs[split])
        if split not in SPLIT_FILES:
            raise ValueError(f"unknown split {split!r}; expected one of: {', '.join(SPLIT_FILES)}")
        return Path(self.llp_dir) / SPLIT_FILES[split]

    def dense_csvs(self, audio_gt: str = "fixed") -> tuple[Path, Path]:
        if audio_gt not in DENSE_AUDIO_FILES:
            raise ValueError(
                f"unknown audio GT {audio_gt!r}; expected one of: {', '.join(DENSE_AUDIO_FILES)}"
            )
        audio = Path(self.audio_csv) if self.audio_csv else Path(self.llp_dir) / DENSE_AUDIO_FILES[audio_gt]
        visual = Path(self.visual_csv) if self.visual_csv else Path(self.llp_dir) / DENSE_VISUAL_FILE
        return audio, visual

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["feature_spec"] = self.feature_spec.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataPaths:
        d = dict(d)
        d["feature_spec"] = FeatureSpec.from_dict(d["feature_spec"])
        return cls(**d)


MODEL_KEYS = ("audio", "visual", "visual_st", "label", "pseudo_audio", "pseudo_visual")


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The model inputs and training targets moved to ``device`` (non-blocking: a no-op wait on CPU,
    overlapped with compute from pinned memory on CUDA); dense GT and names stay where they are."""
    return {
        k: v.to(device, non_blocking=True) if k in MODEL_KEYS and isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }

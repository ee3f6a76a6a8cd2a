"""What the engine reads: data paths in the official LLP layout, and one split as batches of tensors.

    DataPaths.from_root("data/llp", features="valor")   CSVs in data/llp, features in data/llp/feats
                                                        (or data/llp itself when it has no feats/)
    split = SplitData(paths, "val")                     annotations + features, checked up front
    for batch in split.batches(order, 64): ...          the batch dict of the shared contract (torch)

Batches are gathered with ``FeatureStore.load_batch`` (one fancy-index read per stream for a packed store)
and the next batch is read on a background thread while the model works on the current one.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmcse.config import FeatureSpec, feature_preset
from mmcse.data.features import FeatureStore
from mmcse.data.llp import (
    DENSE_AUDIO_FILES,
    DENSE_VISUAL_FILE,
    SPLIT_FILES,
    read_dense_labels,
    read_weak_labels,
)


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


class SplitData:
    """One split: weak labels, dense GT (when the dense CSVs exist and ``dense``), features, pseudo labels.

    Missing features are reported up front (first ids and how many), never dropped silently.
    """

    def __init__(self, paths: DataPaths, split: str, audio_gt: str = "fixed", dense: bool | None = None):
        self.split = split
        self.csv = paths.split_csv(split)
        if not self.csv.is_file():
            raise FileNotFoundError(
                f"split CSV {self.csv} not found; pass --data-root with the LLP CSVs or --{split}-csv"
            )
        self.filenames, labels = read_weak_labels(self.csv)
        if not self.filenames:
            raise ValueError(f"{self.csv} lists no clips; expected at least one row under the header")
        self.video_ids = [f[:11] for f in self.filenames]
        self.label = torch.from_numpy(labels.astype(np.float32))  # (N, 25)
        self.audio_gt_csv: Path | None = None
        self.gt_audio = self.gt_visual = None
        audio_csv, visual_csv = paths.dense_csvs(audio_gt)
        want_dense = split != "train" if dense is None else dense
        if want_dense:
            for path in (audio_csv, visual_csv):
                if not path.is_file():
                    raise FileNotFoundError(
                        f"dense GT {path} not found (needed to score the {split} split); "
                        "pass --data-root with the LLP CSVs or --audio-csv / --visual-csv"
                    )
            gt_a, gt_v = read_dense_labels(audio_csv, visual_csv, self.filenames)  # (N, 10, 25) uint8
            self.gt_audio, self.gt_visual = torch.from_numpy(gt_a), torch.from_numpy(gt_v)
            self.audio_gt_csv = audio_csv
        pseudo = False if paths.use_pseudo_labels is False else None
        self.store = FeatureStore.open(paths.feature_root, paths.feature_spec, pseudo=pseudo)
        self.store.check_complete(self.video_ids, what=f"{split} split ({self.csv})")

    def __len__(self) -> int:
        return len(self.filenames)

    @property
    def has_pseudo(self) -> bool:
        return self.store.has_pseudo

    @property
    def has_dense(self) -> bool:
        return self.gt_audio is not None

    def batch(self, indices: Sequence[int]) -> dict[str, Any]:
        """The batch dict of the shared contract for these clips (CPU tensors)."""
        idx = list(indices)
        feats = self.store.load_batch([self.video_ids[i] for i in idx])  # {key: (B, L, D) float32}
        batch: dict[str, Any] = {key: torch.from_numpy(value) for key, value in feats.items()}
        index = torch.as_tensor(idx, dtype=torch.long)
        batch["label"] = self.label[index]  # (B, 25)
        if self.gt_audio is not None:
            batch["gt_audio"], batch["gt_visual"] = self.gt_audio[index], self.gt_visual[index]  # (B, 10, 25)
        batch["filename"] = [self.filenames[i] for i in idx]
        batch["video_id"] = [self.video_ids[i] for i in idx]
        return batch

    def batches(
        self, order: Sequence[int], batch_size: int, prefetch: bool = True, pin_memory: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Batches of ``batch_size`` clips in ``order`` (the last one may be smaller). ``pin_memory``: pin
        the tensors (on the loading thread) for non-blocking copies to a GPU."""
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

        def load(chunk):
            batch = self.batch(chunk)
            if pin_memory:
                batch = {k: v.pin_memory() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            return batch

        if not prefetch or len(chunks) < 2:
            yield from (load(c) for c in chunks)
            return
        yield from _prefetched(load, chunks)


def _prefetched(load, chunks: list) -> Iterator[Any]:
    """``load(chunk)`` for each chunk, the next one read on a thread while the caller uses the current."""
    result: dict[str, Any] = {}

    def work(chunk) -> None:
        try:
            result["value"] = load(chunk)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=work, args=(chunks[0],), daemon=True)
    thread.start()
    for i in range(len(chunks)):
        thread.join()
        if "error" in result:
            raise result.pop("error")
        value = result.pop("value")
        if i + 1 < len(chunks):
            thread = threading.Thread(target=work, args=(chunks[i + 1],), daemon=True)
            thread.start()
        yield value


MODEL_KEYS = ("audio", "visual", "visual_st", "label", "pseudo_audio", "pseudo_visual")


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The model inputs and training targets moved to ``device`` (non-blocking: a no-op wait on CPU,
    overlapped with compute from pinned memory on CUDA); dense GT and names stay where they are."""
    return {
        k: v.to(device, non_blocking=True) if k in MODEL_KEYS and isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }

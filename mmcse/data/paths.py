"""DataPaths: where a dataset lives (split and dense CSVs, the feature root, the FeatureSpec).

    paths = DataPaths.from_root("data/llp", features="valor")   CSVs in data/llp, features in data/llp/feats
                                                                (or data/llp itself when it has no feats/)
    split = open_split(paths, "val")                            mmcse.data.splits: THE way to open a split
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmcse.config import FeatureSpec, feature_preset
from mmcse.data import llp


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
        return llp.split_csv(self.llp_dir, split)

    def dense_csvs(self, audio_gt: str = "fixed") -> tuple[Path, Path]:
        audio, visual = llp.dense_csvs(self.llp_dir, audio_gt)
        return (
            Path(self.audio_csv) if self.audio_csv else audio,
            Path(self.visual_csv) if self.visual_csv else visual,
        )

    def to_dict(self, relative_to: str | Path | None = None) -> dict[str, Any]:
        """As JSON. With ``relative_to`` (a run folder) every path is stored relative to it, so a run
        folder names no absolute path of the machine it was made on and still resumes after a move of
        the run and the data together."""
        d = dataclasses.asdict(self)
        d["feature_spec"] = self.feature_spec.to_dict()
        if relative_to is not None:
            d = _map_paths(d, lambda p: os.path.relpath(os.path.abspath(p), os.path.abspath(relative_to)))
            d["paths_relative_to"] = "run folder"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: str | Path | None = None) -> DataPaths:
        """From ``to_dict``'s JSON; paths stored relative to a run folder are joined to ``base`` (it)."""
        d = dict(d)
        if d.pop("paths_relative_to", None) is not None and base is not None:
            d = _map_paths(d, lambda p: os.path.normpath(os.path.join(base, p)), d.get("pseudo_paths_mapped", []))
        d.pop("pseudo_paths_mapped", None)
        d["feature_spec"] = FeatureSpec.from_dict(d["feature_spec"])
        return cls(**d)


def _map_paths(d: dict[str, Any], fn, pseudo_keys: list[str] | None = None) -> dict[str, Any]:
    """``d`` (DataPaths JSON) with ``fn`` applied to every path: folders and CSV overrides, and the
    pseudo-label folders given as absolute paths (``pseudo_keys`` None: find them; relative ones are
    names under the feature root and stay). Records which pseudo keys were mapped."""
    d = dict(d)
    for key in ("llp_dir", "feature_root", "audio_csv", "visual_csv"):
        if d.get(key):
            d[key] = fn(d[key])
    d["split_csvs"] = {k: fn(v) for k, v in (d.get("split_csvs") or {}).items()}
    spec = dict(d["feature_spec"])
    if pseudo_keys is None:
        pseudo_keys = [k for k in ("pseudo_audio", "pseudo_visual") if spec.get(k) and os.path.isabs(spec[k])]
    for key in pseudo_keys:
        spec[key] = fn(spec[key])
    d["feature_spec"] = spec
    d["pseudo_paths_mapped"] = pseudo_keys
    return d


def check_split_csvs(paths: DataPaths, splits: Iterable[str], audio_gt: str = "fixed") -> None:
    """Read the annotation CSVs of ``splits`` (the split CSV; for val/test also the dense GT when both files
    exist) and raise their first error (an unknown class, a bad header, a non-number, non-UTF-8 bytes) as
    one ValueError naming the file and line, without importing torch: a command calls it before loading a
    model, so a typo costs a fraction of a second. Missing files are left to ``open_split``; the data
    warnings come when the split is opened (not twice)."""
    import warnings

    for split in splits:
        csv = paths.split_csv(split)
        if not csv.is_file():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", llp.LLPDataWarning)
            filenames, _, lines = llp.read_weak_rows(csv)
            audio_csv, visual_csv = paths.dense_csvs(audio_gt)
            if split != "train" and filenames and audio_csv.is_file() and visual_csv.is_file():
                llp.read_dense_labels(audio_csv, visual_csv, filenames, csv, lines)

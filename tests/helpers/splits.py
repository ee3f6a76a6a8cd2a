"""Opening a split of a test dataset folder the one way the library does (mmcse.data.splits.open_split)."""

from __future__ import annotations

from pathlib import Path

from mmcse.config import FeatureSpec
from mmcse.data.dataset import LLPSplit
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split


def split_of(root: str | Path, split: str, spec: FeatureSpec, feature_root: str | Path | None = None) -> LLPSplit:
    """The ``split`` of a dataset folder with features of ``spec`` (dense GT for val/test when present)."""
    return open_split(DataPaths.from_root(root, spec, feature_root=feature_root), split)

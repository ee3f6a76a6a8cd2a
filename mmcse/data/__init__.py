"""LLP annotations, dense rasterisation, feature stores, datasets.

Re-exports (resolved lazily so that `import mmcse.data` does not import torch or pandas):
    read_weak_labels, read_dense_labels, read_split, split_csv, dense_csvs, video_id   (mmcse.data.llp)
    FeatureStore, PackedFeatureStore, pack_features                                   (mmcse.data.features)
    LLPSplit, collate, make_loader                                                    (mmcse.data.dataset)
    write_synthetic_dataset, SyntheticDataset                                         (mmcse.data.synthetic)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "read_weak_labels": "llp",
    "read_dense_labels": "llp",
    "read_split": "llp",
    "split_csv": "llp",
    "dense_csvs": "llp",
    "video_id": "llp",
    "FeatureStore": "features",
    "PackedFeatureStore": "features",
    "pack_features": "features",
    "LLPSplit": "dataset",
    "collate": "dataset",
    "make_loader": "dataset",
    "write_synthetic_dataset": "synthetic",
    "SyntheticDataset": "synthetic",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"mmcse.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mmcse.data' has no attribute {name!r}")

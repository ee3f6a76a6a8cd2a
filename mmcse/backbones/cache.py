"""A feature cache for parsing: the backbones' features of a video, kept per (video content, extractor,
weights), so that parsing the same video again, or opening it in the app, skips the backbones.

    cache = FeatureCache()                                   # $MMCSE_FEATURE_CACHE or ~/.cache/mmcse/features
    key = cache.key(video_path, spec, weight_paths, max_windows)
    cache.load(key) -> ExtractionResult | None;  cache.save(key, result)

The key hashes the video file's bytes (SHA-256), the feature spec's streams and each weight file's name,
size and modification time (hashing gigabytes of weights per video would cost more than it saves). Entries
are written atomically; an unreadable entry is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from mmcse.config import FeatureSpec
from mmcse.utils.files import atomic_path
from mmcse.video.extractor import ExtractionResult

CACHE_ENV = "MMCSE_FEATURE_CACHE"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.environ.get(CACHE_ENV) or os.path.join(base, "mmcse", "features")))


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class FeatureCache:
    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder else default_cache_dir()

    def key(self, video: str | os.PathLike, spec: FeatureSpec, weights: list[Path], max_windows: int | None) -> str:
        parts = {
            "video": file_sha256(video),
            "streams": {k: [s.name, list(s.shape)] for k, s in spec.streams.items()},
            "weights": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(weights)],
            "max_windows": max_windows,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def load(self, key: str) -> ExtractionResult | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                windows = [{k: data[f"w{i}_{k}"] for k in meta["keys"]} for i in range(meta["n_windows"])]
        except (OSError, ValueError, KeyError):
            return None
        return ExtractionResult(windows, meta["warnings"], meta["duration"], meta["real_seconds"])

    def save(self, key: str, result: ExtractionResult) -> None:
        keys = sorted(result.windows[0]) if result.windows else []
        meta = {"keys": keys, "n_windows": len(result.windows), "warnings": list(result.warnings),
                "duration": result.duration, "real_seconds": list(result.real_seconds)}  # fmt: skip
        arrays = {f"w{i}_{k}": w[k] for i, w in enumerate(result.windows) for k in keys}
        with atomic_path(self.path(key), suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)

"""The demo quality measures: class separation of class-wise features, and the shipped demo's own figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmcse.demo.quality import class_separation

REPO = Path(__file__).resolve().parents[2]


def _clusters(n_classes: int, per_class: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, 32)) * 3  # (C, 32)
    labels = np.repeat(np.arange(n_classes), per_class)  # (M,)
    return (centres[labels] + spread * rng.normal(size=(len(labels), 32))).astype(np.float32), labels


def test_separated_classes_agree_with_their_neighbours_and_shuffled_labels_do_not():
    features, labels = _clusters(6, 40, spread=0.3)
    separated = class_separation(features, labels)
    assert separated["points"] == 240 and separated["classes"] == 6
    assert separated["chance"] == pytest.approx(1 / 6, abs=1e-4)
    assert separated["knn_agreement_features"] > 0.99 and separated["knn_agreement_tsne"] > 0.95
    shuffled = class_separation(features, np.random.default_rng(1).permutation(labels))
    assert abs(shuffled["knn_agreement_features"] - 1 / 6) < 0.06
    assert abs(shuffled["knn_agreement_tsne"] - 1 / 6) < 0.06


def test_the_shipped_demo_mmcse_carries_the_annotation_structure():
    """The compact demo's manifest figures are what its float16 checkpoint gives on its test split, and they
    show what the paper shows: maps that correlate with the annotation co-occurrence (>= 0.7 each)."""
    from mmcse.config import DEMO_FEATURES
    from mmcse.data.paths import DataPaths
    from mmcse.demo.quality import model_quality

    root = REPO / "assets" / "demo"
    manifest = json.loads((root / "manifest.json").read_text())
    quality = model_quality(root / "runs" / "mmcse" / "best.safetensors", DataPaths.from_root(root, DEMO_FEATURES))
    for key, value in quality["map_agreement"].items():
        assert value == pytest.approx(manifest["test_map_agreement"][key], abs=1e-3)
        assert value >= 0.7, f"{key}: {value}"
    separation = quality["class_separation"]
    assert separation["knn_agreement_features"] == pytest.approx(
        manifest["test_class_separation"]["knn_agreement_features"], abs=1e-3
    )
    assert separation["knn_agreement_tsne"] > 3 * separation["chance"]

"""Does a trained MM-CSE show what the paper shows? Two measures on a split with dense labels:

- map agreement: the Pearson correlation between the learned SECM co-occurrence maps (rows averaged over the
  segments where the row class is active) and the row-normalised annotation co-occurrence, over the rows of
  active classes with the diagonal masked (``analysis.map_agreement``), for aa, av, vv, va;
- class separation: the k-nearest-neighbour class agreement of the decoupled class-wise (CAFD) features of
  active events, in a 2-D t-SNE (what the app's page shows) and in the features themselves.

    quality = model_quality("demo_data/runs/mmcse/best.safetensors", DataPaths.from_root("demo_data", "demo"))

The demo build records the result in its manifest (``test_map_agreement``, ``test_class_separation``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split

MIN_POINTS = 21  # fewer active events (a tiny split) give no class-separation figures: trustworthiness with
#                 10 neighbours needs more than 20 points


def class_separation(features: np.ndarray, labels: np.ndarray, seed: int = 0, k: int = 10) -> dict:
    """kNN class agreement of ``features`` (M, d) labelled ``labels`` (M,): in the t-SNE embedding (as the
    app draws it) with its trustworthiness, and in the feature space itself (cosine neighbours)."""
    from mmcse.analysis import embedding_quality, knn_agreement, tsne_embed

    labels = np.asarray(labels)
    xy = tsne_embed(features, seed=seed)  # (M, 2)
    in_2d = embedding_quality(features, xy, labels, k=k)
    chance = float(sum((labels == c).mean() ** 2 for c in np.unique(labels)))
    return {
        "points": int(len(labels)),
        "classes": int(len(np.unique(labels))),
        "k": k,
        "knn_agreement_tsne": round(in_2d["knn_agreement"], 4),
        "knn_agreement_features": round(knn_agreement(features, labels, k, metric="cosine"), 4),
        "trustworthiness": round(in_2d["trustworthiness"], 4),
        "chance": round(chance, 4),  # agreement of neighbours drawn at random with these class shares
    }


def model_quality(
    checkpoint: str | Path, data: DataPaths, split: str = "test", max_points: int = 3000, seed: int = 0
) -> dict:
    """{"map_agreement": {"aa", "av", "vv", "va"}, "class_separation": {...}} of an MM-CSE checkpoint on
    ``split`` (needs dense labels); a map is None when it cannot be correlated, the separation None with
    fewer than MIN_POINTS active events. Points for the separation: the CAFD slots of the classes active in the
    dense GT at that segment and modality, up to ``max_points`` sampled with ``seed`` from all of them (their
    count: ``class_separation["events"]``)."""
    from mmcse.analysis import (
        annotation_cooccurrence,
        class_feature_samples,
        cooccurrence_maps,
        map_agreement,
    )
    from mmcse.inference import Parser

    parser = Parser.from_checkpoint(checkpoint, device="cpu")
    data_split = open_split(data, split, dense=True)
    learned = cooccurrence_maps(parser, data_split, only_active=True)  # {"aa",...}: (25, 25)
    agreement = map_agreement(learned, annotation_cooccurrence(data_split))
    features, table = class_feature_samples(
        parser, data_split, stage="cafd", include_background=False, max_points=10**9
    )  # (M, d_c)
    active = np.array([bool(a) for a in table["active"]], dtype=bool)  # (M,)
    features, labels = features[active], np.asarray(table["class"])[active]
    events = len(labels)  # active events in the split, before sampling
    if len(labels) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(labels), max_points, replace=False))
        features, labels = features[keep], labels[keep]
    enough = len(labels) >= MIN_POINTS and len(np.unique(labels)) >= 2
    return {
        "map_agreement": {k: None if np.isnan(v) else round(v, 4) for k, v in agreement.items()},
        "class_separation": {**class_separation(features, labels, seed=seed), "events": events} if enough else None,
    }

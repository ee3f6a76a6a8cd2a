"""A tiny, learnable LLP-like dataset written in the OFFICIAL layout, for tests and smoke runs.

    <root>/AVVP_train.csv, AVVP_val_pd.csv, AVVP_test_pd.csv, AVVP_dataset_full.csv   (TAB, weak labels)
    <root>/AVVP_eval_audio.csv, AVVP_eval_visual.csv     (TAB, dense rows for val/test, like LLP)
    <root>/feats/<stream>/<id11>.npy                     float32, the spec's shape per stream
    <root>/feats/<pseudo stream>/<id11>.npy              (10, 25) 0/1 VALOR-style segment pseudo labels

Each clip has 1-2 classes; each class is audible, visible or both over a random run of segments. Every
stream carries a class signal: at the time steps of an active segment, the class's fixed random prototype
is added to unit noise, so a model can learn the weak labels (and the modality/timing) from the features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmcse.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS
from mmcse.config import FeatureSpec
from mmcse.data.llp import SPLIT_FILES, dense_csvs, full_csv

ID_ALPHABET = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"))
SIGNAL = 4.0  # an active class adds a vector as long as the noise: norm SIGNAL * sqrt(D) / 4 = sqrt(D)


@dataclass
class SyntheticDataset:
    """Where write_synthetic_dataset put things (llp_dir holds the CSVs, feature_root the streams)."""

    root: Path
    llp_dir: Path
    feature_root: Path
    spec: FeatureSpec
    split_csvs: dict[str, Path]
    audio_csv: Path
    visual_csv: Path
    filenames: dict[str, list[str]] = field(default_factory=dict)


def _random_ids(rng: np.random.Generator, n: int) -> list[str]:
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < n:
        vid = "".join(rng.choice(ID_ALPHABET, size=11))
        if vid not in seen:
            seen.add(vid)
            ids.append(vid)
    return ids


def _random_events(rng: np.random.Generator) -> list[tuple[int, str, int, int]]:
    """Events of one clip: (class, modality "audio"|"visual", onset, offset) with 0 <= onset < offset <= 10."""
    classes = rng.choice(NUM_CLASSES, size=int(rng.integers(1, 3)), replace=False)
    events = []
    for c in classes:
        modalities = [("audio",), ("visual",), ("audio", "visual")][int(rng.integers(0, 3))]
        for m in modalities:
            onset = int(rng.integers(0, NUM_SEGMENTS - 2))
            offset = int(rng.integers(onset + 2, NUM_SEGMENTS + 1))
            events.append((int(c), m, onset, offset))
    return events


def _stream_features(
    rng: np.random.Generator, prototypes: np.ndarray, grid: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Noise + class prototypes at active segments. grid (10, 25) 0/1, prototypes (25, D) -> (L, D)."""
    length, dim = shape
    step_segment = np.arange(length) * NUM_SEGMENTS // length  # time step -> segment, e.g. 80 frames -> 10
    signal = grid[step_segment].astype(np.float32) @ prototypes  # (L, 25) @ (25, D) -> (L, D)
    return (rng.standard_normal((length, dim), dtype=np.float32) + SIGNAL * signal).astype(np.float32)


def _write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join("\t".join(r) for r in [header] + rows) + "\n")
    tmp.replace(path)


def _save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)


def write_synthetic_dataset(
    root: str | Path,
    spec: FeatureSpec,
    n_train: int,
    n_val: int,
    n_test: int,
    seed: int = 0,
    pseudo_labels: bool = True,
) -> SyntheticDataset:
    """Write a small LLP-like dataset for ``spec`` under ``root`` (official layout); return its paths.

    Pseudo labels are written when ``pseudo_labels`` and the spec names pseudo streams; they equal the
    dense GT of the clip's modality with ~10% of active segments dropped (always within the weak labels).
    """
    root = Path(root)
    feature_root = root / "feats"
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    prototypes = _class_prototypes(spec, np.random.default_rng(seed + 1_000_003))
    write_pseudo = pseudo_labels and spec.pseudo_audio is not None and spec.pseudo_visual is not None

    counts = {"train": n_train, "val": n_val, "test": n_test}
    ids = _random_ids(rng, sum(counts.values()))
    filenames: dict[str, list[str]] = {}
    weak_rows: dict[str, list[list[str]]] = {}
    dense_rows: dict[str, list[list[str]]] = {"audio": [], "visual": []}
    start = 0
    for split, n in counts.items():
        filenames[split], weak_rows[split] = [], []
        for vid in ids[start : start + n]:
            t0 = int(rng.integers(0, 300))
            # one clip in 7 gets fractional start/end times, as 5 real LLP clips do
            filename = (
                f"{vid}_{t0}.5_{t0 + 10}.5" if len(filenames[split]) % 7 == 3 else f"{vid}_{t0}_{t0 + 10}"
            )
            events = _random_events(rng)
            grids = {"audio": np.zeros((NUM_SEGMENTS, NUM_CLASSES), np.uint8)}
            grids["visual"] = grids["audio"].copy()
            for c, m, onset, offset in events:
                grids[m][onset:offset, c] = 1
                if split != "train":
                    dense_rows[m].append([filename, str(onset), str(offset), LLP_CLASSES[c]])
            classes = sorted({c for c, *_ in events})
            weak_rows[split].append([filename, ",".join(LLP_CLASSES[c] for c in classes)])
            filenames[split].append(filename)
            _write_clip_features(rng, feature_root, spec, prototypes, vid, grids, write_pseudo)
        start += n
    split_csvs = {split: root / SPLIT_FILES[split] for split in counts}
    audio_csv, visual_csv = _write_annotations(root, split_csvs, weak_rows, dense_rows)
    return SyntheticDataset(
        root=root, llp_dir=root, feature_root=feature_root, spec=spec, split_csvs=split_csvs,
        audio_csv=audio_csv, visual_csv=visual_csv, filenames=filenames,
    )  # fmt: skip


def _class_prototypes(spec: FeatureSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One fixed random direction per class and stream (25, D), norm sqrt(D) / 4 (times SIGNAL when added)."""
    prototypes = {}
    for key, stream in spec.streams.items():
        dim = stream.shape[1]
        p = rng.standard_normal((NUM_CLASSES, dim)).astype(np.float32)
        prototypes[key] = p / np.linalg.norm(p, axis=1, keepdims=True) * np.float32(np.sqrt(dim) / 4)
    return prototypes


def _write_clip_features(rng, feature_root: Path, spec: FeatureSpec, prototypes, vid: str, grids, write_pseudo) -> None:
    for key, stream in spec.streams.items():
        grid = grids["audio"] if key == "audio" else grids["visual"]
        feats = _stream_features(rng, prototypes[key], grid, stream.shape)
        _save_npy(feature_root / stream.name / f"{vid}.npy", feats)
    if write_pseudo:
        for name, grid in ((spec.pseudo_audio, grids["audio"]), (spec.pseudo_visual, grids["visual"])):
            pseudo = grid * (rng.random(grid.shape) > 0.1)  # (10, 25), a few segments missed
            _save_npy(feature_root / name / f"{vid}.npy", pseudo.astype(np.float32))


def _write_annotations(root: Path, split_csvs: dict[str, Path], weak_rows, dense_rows) -> tuple[Path, Path]:
    for split, path in split_csvs.items():
        _write_tsv(path, ["filename", "event_labels"], weak_rows[split])
    _write_tsv(full_csv(root), ["filename", "event_labels"], sum(weak_rows.values(), []))
    # an orphan row (filename in no split) as the real files have: it must never be scored
    dense_rows["audio"].append(["orphanclip1_0_10", "0", "10", "Speech"])
    audio_csv, visual_csv = dense_csvs(root)
    _write_tsv(audio_csv, ["filename", "onset", "offset", "event_labels"], dense_rows["audio"])
    _write_tsv(visual_csv, ["filename", "onset", "offset", "event_labels"], dense_rows["visual"])
    return audio_csv, visual_csv

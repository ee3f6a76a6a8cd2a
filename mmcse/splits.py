"""A split of a dataset folder for inference and the app, with clear errors for a root without CSVs,
without features or with another feature spec; the clips' video files.

    split = load_split("demo_data", "test", parser.feature_spec)     # mmcse.data.dataset.LLPSplit
    for audio, visual, visual_st in split.feature_batches(64): ...  # float32 (B, L, D) each
    find_video("videos", split.filenames[0])                         # the clip's video file, or None

Unlike the engine (``LLPSplit.from_paths``), this also opens val/test folders without dense labels.
"""

from __future__ import annotations

from pathlib import Path

from mmcse.config import FeatureSpec
from mmcse.data.dataset import LLPSplit


def check_same_inputs(
    checkpoint_spec: FeatureSpec, data_spec: FeatureSpec, where: str = "the dataset"
) -> None:
    """Raise a clear ValueError when a checkpoint cannot run on features of another spec."""
    if checkpoint_spec.same_inputs(data_spec):
        return

    def describe(spec: FeatureSpec) -> str:
        return ", ".join(f"{s.name} {tuple(s.shape)}" for s in spec.streams.values())

    raise ValueError(
        f"the checkpoint was trained on '{checkpoint_spec.name}' features ({describe(checkpoint_spec)}) but "
        f"{where} holds '{data_spec.name}' features ({describe(data_spec)}); pick a checkpoint trained on "
        f"'{data_spec.name}' features or a dataset with '{checkpoint_spec.name}' features"
    )


FEATURE_FOLDER = "feats"  # <dataset root>/feats/<stream>/<id11>.npy, as the demo and synthetic data write
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")


def available_specs(feature_root: str | Path) -> list[FeatureSpec]:
    """The known feature specs (demo, valor, han) whose three stream folders exist under ``feature_root``."""
    from mmcse.config import feature_preset

    root = Path(feature_root)
    found = []
    for name in ("demo", "valor", "han"):
        try:
            spec = feature_preset(name)
        except (ImportError, ValueError):  # the demo extractor may not be importable
            continue
        if all((root / s.name).is_dir() for s in spec.streams.values()):
            found.append(spec)
    return found


def load_split(
    root: str | Path,
    split: str,
    spec: FeatureSpec,
    feature_root: str | Path | None = None,
    audio_gt: str = "fixed",
) -> LLPSplit:
    """Annotations of ``split`` under ``root`` (AVVP_*.csv) and the features of ``spec`` under
    ``feature_root`` (default ``<root>/feats``). Clear errors for a root without CSVs, without features,
    with features of another spec, or with clips whose features are missing."""
    from mmcse.data.features import INDEX_FILE, FeatureStore
    from mmcse.data.llp import DENSE_AUDIO_FILES, DENSE_VISUAL_FILE, SPLIT_FILES, dense_csvs, split_csv

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"dataset folder {root} not found; build the demo with `python -m mmcse demo`"
        )
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_FILES)}")
    if not (root / SPLIT_FILES[split]).is_file():
        raise FileNotFoundError(
            f"{root} has no {SPLIT_FILES[split]} (the {split} split); point the dataset root at a folder "
            f"with the LLP CSVs, e.g. the demo folder from `python -m mmcse demo`"
        )
    feature_root = root / FEATURE_FOLDER if feature_root is None else Path(feature_root)
    if not feature_root.is_dir():
        raise FileNotFoundError(
            f"{root} has no features ({feature_root} not found); extract or copy features into "
            f"{feature_root}/<stream>/<id>.npy, or set the feature folder"
        )
    packed = (feature_root / INDEX_FILE).is_file()  # a store made by `python -m mmcse pack`
    if not packed and not all((feature_root / s.name).is_dir() for s in spec.streams.values()):
        found = available_specs(feature_root)
        if found:
            check_same_inputs(spec, found[0], where=f"the dataset at {root}")
        raise FileNotFoundError(
            f"{feature_root} holds no '{spec.name}' features (expected folders "
            f"{', '.join(s.name for s in spec.streams.values())}); extract features or pick another dataset root"
        )
    has_dense = (root / DENSE_VISUAL_FILE).is_file() and (root / DENSE_AUDIO_FILES[audio_gt]).is_file()
    audio_csv = visual_csv = None
    if split != "train" and has_dense:
        audio_csv, visual_csv = dense_csvs(root, audio_gt)
    store = FeatureStore.open(feature_root, spec, pseudo=False)
    return LLPSplit(split_csv(root, split), store, audio_csv, visual_csv, name=split)


def find_video(video_dir: str | Path | None, filename: str) -> Path | None:
    """The video file of an LLP clip in a folder (``<filename>.mp4``, ``<id11>.mp4``, other containers,
    or any file starting with the id), or None when it is not on disk."""
    if video_dir is None or not Path(video_dir).is_dir():
        return None
    folder = Path(video_dir)
    for stem in (filename, filename[:11]):
        for suffix in VIDEO_SUFFIXES:
            if (folder / f"{stem}{suffix}").is_file():
                return folder / f"{stem}{suffix}"
    for path in sorted(folder.glob(f"{filename[:11]}*")):
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return path
    return None

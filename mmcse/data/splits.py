"""open_split: THE way to open a split of a dataset (training, evaluation, the Parser, the app, scripts).

    paths = DataPaths.from_root("assets/demo", "demo")                # mmcse.data.paths
    split = open_split(paths, "test")                                # mmcse.data.dataset.LLPSplit
    for audio, visual, visual_st in split.feature_batches(64): ...  # float32 (B, L, D) each

It checks the folder before reading it, with one clear error for a root without the split CSV, without
features, with features of another spec (naming both), or without the dense GT a score needs.
"""

from __future__ import annotations

from pathlib import Path

from mmcse.config import FeatureSpec, describe_streams, feature_preset
from mmcse.data.dataset import LLPSplit
from mmcse.data.features import INDEX_FILE, FeatureStore
from mmcse.data.llp import SPLIT_FILES
from mmcse.data.paths import DataPaths


def available_specs(feature_root: str | Path) -> list[FeatureSpec]:
    """The known feature specs (demo, valor, han) whose three stream folders exist under ``feature_root``."""
    root = Path(feature_root)
    return [
        spec
        for spec in (feature_preset(name) for name in ("demo", "valor", "han"))
        if all((root / s.name).is_dir() for s in spec.streams.values())
    ]


def open_split(
    paths: DataPaths, split: str, audio_gt: str = "fixed", dense: bool | None = None
) -> LLPSplit:
    """The ``split`` (train | val | test) of ``paths``: weak labels, features and dense GT.

    ``dense``: True -> the dense GT is required (an error names the missing file), False -> never read,
    None -> read for val/test when both files exist. Pseudo labels are opened for the train split when the
    feature root has them and ``paths.use_pseudo_labels`` is not False.
    """
    if split not in SPLIT_FILES and split not in paths.split_csvs:
        raise ValueError(f"unknown split {split!r}; expected one of: {', '.join(SPLIT_FILES)}")
    root = Path(paths.llp_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} not found; build the demo with `python -m mmcse demo`")
    csv = paths.split_csv(split)
    if csv.is_dir():
        raise ValueError(f"split CSV {csv} (the {split} split) is a folder; expected the TAB-separated LLP CSV")
    if not csv.is_file():
        raise FileNotFoundError(
            f"split CSV {csv} not found (the {split} split); point the dataset root at a folder with the "
            f"LLP CSVs (e.g. the demo folder from `python -m mmcse demo`) or pass --{split}-csv"
        )
    audio_csv, visual_csv = _dense_files(paths, split, audio_gt, dense)
    _check_features(paths)
    # pseudo labels are training targets: a val / test split never needs them (nor a partial pseudo folder)
    pseudo = False if paths.use_pseudo_labels is False or split != "train" else None
    store = FeatureStore.open(paths.feature_root, paths.feature_spec, pseudo=pseudo)
    return LLPSplit(csv, store, audio_csv, visual_csv, name=split)


def _dense_files(paths: DataPaths, split: str, audio_gt: str, dense: bool | None):
    if dense is False or (dense is None and split == "train"):
        return None, None
    audio_csv, visual_csv = paths.dense_csvs(audio_gt)
    folders = [p for p in (audio_csv, visual_csv) if p.is_dir()]
    if folders:
        raise ValueError(f"dense GT {folders[0]} is a folder; expected the TAB-separated LLP dense GT CSV")
    missing = [p for p in (audio_csv, visual_csv) if not p.is_file()]
    if not missing:
        return audio_csv, visual_csv
    if dense is None:
        return None, None
    raise FileNotFoundError(
        f"dense GT {missing[0]} not found (needed to score the {split} split); "
        "pass --data-root with the LLP CSVs or --audio-csv / --visual-csv"
    )


def _check_features(paths: DataPaths) -> None:
    root, spec = Path(paths.feature_root), paths.feature_spec
    if not root.is_dir():
        raise FileNotFoundError(
            f"feature folder {root} not found; extract or copy features into {root}/<stream>/<id>.npy, "
            "or point the feature folder (--feature-root, or the app's sidebar) at them"
        )
    if (root / INDEX_FILE).is_file():  # a packed store made by `python -m mmcse pack` checks itself
        return
    if not all((root / s.name).is_dir() for s in spec.streams.values()):
        found = [f for f in available_specs(root) if not f.same_inputs(spec)]
        if found:  # asked for by a checkpoint (evaluate, the app) or by --features (train): say both ways out
            other = found[0]
            raise ValueError(
                f"{root} holds '{other.name}' features ({describe_streams(other)}), not the '{spec.name}' features "
                f"asked for ({describe_streams(spec)}): train with --features {other.name}, or use a checkpoint trained on "
                f"'{other.name}' features, or point --data-root / --feature-root at '{spec.name}' features"
            )
        raise FileNotFoundError(
            f"{root} holds no '{spec.name}' features (expected folders "
            f"{', '.join(s.name for s in spec.streams.values())}); extract features or pick another dataset root"
        )

"""What the commands share: UserError (one clear line, no traceback), argument checks that run before
torch is imported (so a bad argument is refused at once), and the data arguments of train and evaluate
(--data-root, --feature-root, CSV overrides) -> DataPaths. Nothing here imports torch."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import stat
from pathlib import Path

from mmcse.training.runs import BEST_FILE, LAST_FILE


class UserError(Exception):
    """A problem with the user's input: printed as one clear line, without a traceback."""


# ----------------------------------------------------------------------------- the demo folders

FULL_DEMO_FOLDER = "demo_data"  # what `python -m mmcse demo` builds (about 10 minutes)
COMPACT_DEMO_FOLDER = "assets/demo"  # the compact copy shipped in the repository (val and test only)


def build_demo_advice(folder: str | Path = FULL_DEMO_FOLDER) -> str:
    """How to build the full demo, worded the same by every command."""
    return f"build the full demo with `python -m mmcse demo --out {folder}` (about 10 minutes on 2 CPU cores)"


def missing_demo_advice(path: str | Path) -> str:
    """'' unless ``path`` lies in a ``demo_data`` folder that does not exist; then the one sentence (starting
    with "; ") every command appends to its "not found" error: use the shipped compact demo, or build it."""
    parts = Path(path).parts
    if FULL_DEMO_FOLDER not in parts:
        return ""
    root = Path(*parts[: parts.index(FULL_DEMO_FOLDER) + 1])
    if root.is_dir():
        return ""
    return (
        f"; {root} is the full demo, which is not built here: use the compact demo shipped in the repository "
        f"(--data-root {COMPACT_DEMO_FOLDER}, checkpoints {COMPACT_DEMO_FOLDER}/runs/mmcse and "
        f"{COMPACT_DEMO_FOLDER}/runs/han, videos in {COMPACT_DEMO_FOLDER}/videos) or {build_demo_advice(root)}"
    )


def compact_demo_advice(folder: str | Path, split: str) -> str:
    """'' unless ``folder`` is a compact demo copy, whose train split is empty: then why, and what to do."""
    import json

    manifest = Path(folder) / "manifest.json"
    try:
        compact = "compact" in json.loads(manifest.read_text())
    except (OSError, ValueError):
        return ""
    if not compact or split != "train":
        return ""
    return (
        f"; {folder} is the compact demo, which ships the val and test clips only (for evaluate, compare, parse "
        f"and the app): to train, calibrate or ablate, {build_demo_advice()} and give --data-root {FULL_DEMO_FOLDER}"
    )


# ----------------------------------------------------------------------------- argument types and checks


def _whole_number(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; give {low} or more")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (batch sizes, epochs, counts)."""
    return _whole_number(text, 1)


def probability(text: str) -> float:
    """argparse type: a threshold, a number in [0, 1] (not NaN)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability; give a number between 0 and 1")
    return value


def device_name(text: str) -> str:
    """argparse type: auto | cpu | cuda | cuda:N, refused at once (without importing torch) when CUDA is
    asked for on a machine without a GPU driver."""
    import re

    if text in ("auto", "cpu"):
        return text
    if not re.fullmatch(r"cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device; give auto, cpu, cuda or cuda:N")
    from mmcse.utils.device import gpu_driver_present

    if not gpu_driver_present():
        raise argparse.ArgumentTypeError(f"{text}: this machine has no GPU driver; use --device cpu (or auto)")
    return text


def int_range(low: int, high: int):
    """argparse type factory: a whole number from ``low`` to ``high`` (a cap where more only costs memory)."""

    def parse(text: str) -> int:
        value = _whole_number(text, -(2**63))
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range; give {low:,} to {high:,}")
        return value

    parse.__name__ = f"whole number {low}-{high}"
    return parse


MAX_THREADS = 1024  # torch.set_num_threads takes a C int; far more threads than cores only cost memory


def thread_count(text: str) -> int:
    """argparse type: torch threads, 1 to MAX_THREADS."""
    return int_range(1, MAX_THREADS)(text)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (row counts, minimum counts, seeds)."""
    return _whole_number(text, 0)


def input_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path when it is a readable regular file; else one line saying what it is instead (a
    folder, a FIFO or a device, no permission): never just "not found" for a path that exists."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UserError(f"{what} {path} not found{missing_demo_advice(path) or '; check the path'}") from None
    except OSError as exc:
        raise UserError(f"{what} {path} cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{what} {path} is a folder; give a file")
    if not stat.S_ISREG(mode):
        raise UserError(f"{what} {path} is not a regular file (a pipe, socket or device); give a file")
    if not os.access(path, os.R_OK):
        raise UserError(f"{what} {path} cannot be read: permission denied; check its permissions")
    return path


def checkpoint_file(text: str) -> Path:
    """A checkpoint path as given, or the best (else last) checkpoint of a run folder; a clear error when
    it does not exist, is empty, or is a folder without a checkpoint."""
    path = Path(text)
    if path.is_dir():
        for name in (BEST_FILE, LAST_FILE):
            if (path / name).is_file():
                return path / name
        raise UserError(
            f"--checkpoint {path} is a folder without {BEST_FILE} or {LAST_FILE}; give a checkpoint file "
            "or a run folder written by `python -m mmcse train`"
        )
    if not path.exists() and not path.is_symlink():
        raise FileNotFoundError(
            f"checkpoint {path} not found{missing_demo_advice(path) or '; give a .safetensors file or a run folder'}"
        )
    input_file(path, "checkpoint")
    if path.stat().st_size == 0:
        raise UserError(f"checkpoint {path} is an empty file; re-create or re-download it")
    return path


def output_file(text: str, flag: str, suffixes: tuple[str, ...] = ()) -> Path:
    """A file the command will write: not a folder, its parent not a file, the right suffix."""
    path = Path(text)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise UserError(f"{flag} {path}: use a {' or '.join(suffixes)} file name")
    _check_parents(path, flag)
    return path


def output_folder(text: str, flag: str) -> Path:
    """A folder the command will write into (created later, only when there is something to write)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path} is a file; give a folder (it is created when needed)")
    _check_parents(path, flag)
    return path


def _check_parents(path: Path, flag: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{flag} {path}: {parent} is a file, not a folder; choose another path")
            return


def add_data_arguments(p, training: bool = True) -> None:
    g = p.add_argument_group("data (official LLP layout)")
    g.add_argument("--data-root", help="folder with the LLP CSVs (and feats/ with the features)")
    g.add_argument(
        "--feature-root", help="folder with <stream>/<id11>.npy or a packed store (default <data-root>/feats)"
    )
    g.add_argument("--audio-csv", help="dense audio GT CSV (default AVVP_eval_audio.csv in --data-root)")
    g.add_argument("--visual-csv", help="dense visual GT CSV (default AVVP_eval_visual.csv in --data-root)")
    if training:
        g.add_argument("--train-csv", help="weak-label CSV of the train split (default AVVP_train.csv)")
        g.add_argument("--val-csv", help="weak-label CSV of the val split (default AVVP_val_pd.csv)")
        g.add_argument("--pseudo-audio", help="folder of audio segment pseudo labels <id11>.npy (10, 25)")
        g.add_argument("--pseudo-visual", help="folder of visual segment pseudo labels <id11>.npy (10, 25)")
        g.add_argument(
            "--no-pseudo", action="store_true", help="ignore pseudo labels: HAN's weak-label recipe"
        )
    else:
        g.add_argument("--split-csv", help="weak-label CSV of the split (default the standard LLP name)")


def data_paths(args, spec, training: bool = True, check: bool = True):
    from pathlib import Path

    from mmcse.data.paths import DataPaths

    if not args.data_root and not args.feature_root:
        raise UserError("give --data-root (the folder with the LLP CSVs and feats/) or --feature-root")
    root = Path(args.data_root or ".")
    if args.data_root and not root.is_dir():
        raise FileNotFoundError(f"--data-root {root} is not a folder{missing_demo_advice(root)}")
    split_csvs = {}
    if training:
        if args.pseudo_audio or args.pseudo_visual:
            if not (args.pseudo_audio and args.pseudo_visual):
                raise UserError("give both --pseudo-audio and --pseudo-visual, or neither")
            spec = dataclasses.replace(
                spec,
                pseudo_audio=str(Path(args.pseudo_audio).resolve()),
                pseudo_visual=str(Path(args.pseudo_visual).resolve()),
            )
        split_csvs = {k: v for k, v in (("train", args.train_csv), ("val", args.val_csv)) if v}
    elif args.split_csv:
        split_csvs = {args.split: args.split_csv}
    paths = DataPaths.from_root(
        root,
        spec,
        feature_root=args.feature_root,
        split_csvs=split_csvs,
        audio_csv=args.audio_csv,
        visual_csv=args.visual_csv,
        use_pseudo_labels=False if training and args.no_pseudo else None,
    )
    if check:
        check_data(paths, args, training)
    return paths


def check_data(paths, args, training: bool = True) -> None:
    """The annotation CSVs read now, without torch: an unknown class, a bad row, an empty split or a missing
    dense GT file costs a fraction of a second."""
    from mmcse.data.paths import check_split_csvs

    audio_gt = getattr(args, "audio_gt", "fixed")
    check_split_csvs(paths, ("train", "val") if training else (args.split,), audio_gt)
    check_split_has_clips(paths, "train" if training else args.split)
    if not training and args.split in ("val", "test"):  # scoring needs the dense GT
        for csv, flag in zip(paths.dense_csvs(audio_gt), ("--audio-csv", "--visual-csv")):
            if not csv.is_file():
                raise UserError(f"dense GT {csv} not found; put it in --data-root or give {flag}")


def check_split_has_clips(paths, split: str) -> None:
    """A split CSV that lists no clip is refused before torch loads (a missing one is left to open_split)."""
    import warnings

    from mmcse.data import llp

    csv = paths.split_csv(split)
    if not csv.is_file():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", llp.LLPDataWarning)
        filenames, _ = llp.read_weak_labels(csv)
    if not filenames:
        raise UserError(
            f"{csv} lists no clips (only its header); the {split} split needs at least one clip"
            + compact_demo_advice(csv.parent, split)
        )

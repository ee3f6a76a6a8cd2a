"""What the commands share: UserError (one clear line, no traceback) and the data arguments of train and
evaluate (--data-root, --feature-root, CSV overrides) -> DataPaths."""

from __future__ import annotations

import dataclasses


class UserError(Exception):
    """A problem with the user's input: printed as one clear line, without a traceback."""


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


def data_paths(args, spec, training: bool = True):
    from pathlib import Path

    from mmcse.data.paths import DataPaths

    if not args.data_root and not args.feature_root:
        raise UserError("give --data-root (the folder with the LLP CSVs and feats/) or --feature-root")
    root = Path(args.data_root or ".")
    if args.data_root and not root.is_dir():
        raise FileNotFoundError(f"--data-root {root} is not a folder")
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
    return DataPaths.from_root(
        root,
        spec,
        feature_root=args.feature_root,
        split_csvs=split_csvs,
        audio_csv=args.audio_csv,
        visual_csv=args.visual_csv,
        use_pseudo_labels=False if training and args.no_pseudo else None,
    )

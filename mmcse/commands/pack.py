"""`python -m mmcse pack`: copy features from the official per-clip layout into a packed store.

    python -m mmcse pack --feature-root data/feats --features han \
        --split-csv ../shared/llp/AVVP_train.csv ../shared/llp/AVVP_val_pd.csv --out data/packed/han

The packed store (one memory-mapped (N, L, D) .npy per stream + index.json) opens with the same
FeatureStore API; every clip is validated while packing. Writing is atomic (temp folder, then rename).

Frame pooling (on by default where there is something to pool, i.e. han's 80-frame ResNet-152 stream;
--no-pool-frames keeps every frame): the visual stream is stored as the mean of each group of 8 frames,
(N, 10, 2048) float32, recorded in index.json as "pooled": {"visual": 8}. Every model here (MM-CSE, HAN,
VALOR) projects the frames with a plain Linear and then averages groups of 8, and a Linear commutes with
the mean, so the outputs are the same up to float rounding (~1e-7), from 8x fewer res152 bytes (a han
clip: 0.68 MB -> 0.11 MB). Keep the frames (--no-pool-frames) for a model that looks at single frames.
"""

from __future__ import annotations

import argparse

from mmcse.commands._common import UserError, output_folder
from mmcse.commands._outputs import Input, Output, add_overwrite_argument, check_outputs


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "pack",
        help="pack per-clip .npy features into one memory-mapped array per stream",
        description="Pack features from <feature-root>/<stream>/<id11>.npy into a fast memory-mapped store.",
    )
    p.add_argument(
        "--feature-root", required=True, help="folder holding the stream folders (official layout)"
    )
    p.add_argument(
        "--features", required=True, help="feature preset han | valor | demo, or a .json/.toml spec file"
    )
    p.add_argument(
        "--split-csv",
        nargs="+",
        default=None,
        help="LLP split CSV(s) whose clips to pack (default: every clip of the audio stream folder)",
    )
    p.add_argument("--out", required=True, help="output folder for the packed store")
    p.add_argument("--no-pseudo", action="store_true", help="leave out the spec's pseudo-label streams")
    add_overwrite_argument(p)
    p.add_argument(
        "--pool-frames",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="store a frame-level visual stream (han: res152, 80 frames) as the mean of each group of 8 "
        "(10 x 2048; same model outputs, 8x fewer bytes). Default: on when the visual stream has more "
        "than 10 steps",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from mmcse.data.features import FeatureStore, pack_features
    from mmcse.data.llp import read_weak_labels, video_id
    from mmcse.feature_specs import feature_spec_from_arg

    out_dir = output_folder(args.out, "--out")
    spec = feature_spec_from_arg(args.features)
    root = Path(args.feature_root)
    inputs = [Input(root, "the feature root it reads")]
    folders = [s.name for s in spec.streams.values()] + [f for f in (spec.pseudo_audio, spec.pseudo_visual) if f]
    inputs += [Input(root / folder, "a feature folder it reads") for folder in folders]
    inputs += [Input(Path(csv), "a split CSV it reads") for csv in args.split_csv or []]
    check_outputs([Output(out_dir, "--out", folder=True)], inputs, args.overwrite)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "index.json").is_file():
        raise UserError(
            f"--out {out_dir} holds files but no packed store (no index.json); --overwrite replaces a packed "
            "store, never other files: give a new or empty folder"
        )
    if args.split_csv:
        ids = [video_id(f) for csv in args.split_csv for f in read_weak_labels(csv)[0]]
    else:
        audio_dir = Path(args.feature_root) / spec.audio.name
        if not audio_dir.is_dir():
            raise FileNotFoundError(f"{audio_dir} not found; check --feature-root and --features")
        ids = sorted(p.stem for p in audio_dir.glob("*.npy"))
    pseudo = False if args.no_pseudo else None
    try:
        out = pack_features(
            args.feature_root,
            spec,
            ids,
            args.out,
            pseudo=pseudo,
            overwrite=args.overwrite,
            pool_frames=args.pool_frames,
        )
    except FileExistsError as exc:
        raise UserError(str(exc)) from None
    store = FeatureStore.open(out, spec)
    size = sum(p.stat().st_size for p in Path(out).iterdir()) / 1e9
    print(
        f"packed {len(store.ids)} clips ({', '.join(n for n, _ in store.streams.values())}) -> {out} ({size:.2f} GB)"
    )
    for key, factor in store.pooled.items():
        name, (steps, _) = store.streams[key]
        print(f"  {name} {steps * factor} -> {steps} steps: the mean of each group of {factor} frames")
    if args.pool_frames and not store.pooled:
        print(f"  --pool-frames: nothing to pool ({spec.visual.name} has {spec.visual.shape[0]} steps)")
    return 0

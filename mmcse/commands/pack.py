"""`python -m mmcse pack`: copy features from the official per-clip layout into a packed store.

    python -m mmcse pack --feature-root data/feats --features han \
        --split-csv ../shared/llp/AVVP_train.csv ../shared/llp/AVVP_val_pd.csv --out data/packed/han

The packed store (one memory-mapped (N, L, D) .npy per stream + index.json) opens with the same
FeatureStore API; every clip is validated while packing. Writing is atomic (temp folder, then rename).
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "pack",
        help="pack per-clip .npy features into one memory-mapped array per stream",
        description="Pack features from <feature-root>/<stream>/<id11>.npy into a fast memory-mapped store.",
    )
    p.add_argument(
        "--feature-root", required=True, help="folder holding the stream folders (official layout)"
    )
    p.add_argument("--features", required=True, help="feature preset: han | valor | demo")
    p.add_argument(
        "--split-csv",
        nargs="+",
        default=None,
        help="LLP split CSV(s) whose clips to pack (default: every clip of the audio stream folder)",
    )
    p.add_argument("--out", required=True, help="output folder for the packed store")
    p.add_argument("--no-pseudo", action="store_true", help="leave out the spec's pseudo-label streams")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from mmcse.cli import UserError
    from mmcse.config import feature_preset
    from mmcse.data.features import FeatureStore, pack_features
    from mmcse.data.llp import read_weak_labels, video_id

    spec = feature_preset(args.features)
    if args.split_csv:
        ids = [video_id(f) for csv in args.split_csv for f in read_weak_labels(csv)[0]]
    else:
        audio_dir = Path(args.feature_root) / spec.audio.name
        if not audio_dir.is_dir():
            raise FileNotFoundError(f"{audio_dir} not found; check --feature-root and --features")
        ids = sorted(p.stem for p in audio_dir.glob("*.npy"))
    pseudo = False if args.no_pseudo else None
    try:
        out = pack_features(args.feature_root, spec, ids, args.out, pseudo=pseudo, overwrite=args.overwrite)
    except FileExistsError as exc:
        raise UserError(str(exc)) from None
    store = FeatureStore.open(out, spec)
    size = sum(p.stat().st_size for p in Path(out).iterdir()) / 1e9
    print(
        f"packed {len(store.ids)} clips ({', '.join(n for n, _ in store.streams.values())}) -> {out} ({size:.2f} GB)"
    )
    return 0

"""`python -m mmcse extract`: features of video files in the official per-clip layout, with the real backbones.

    python -m mmcse extract a.mp4 b.mp4 --features han --out feats/ --weights ~/weights
    python -m mmcse extract --csv my_train.csv --video-dir videos/ --features valor --out feats/

Writes <out>/<stream folder>/<id>.npy per video and stream (han: vggish/ (10, 128), res152/ (80, 2048),
r2plus1d_18/ (10, 512); valor: CLAP/features/ (64, 768), CLIP/features/ (10, 768), r2plus1d_18/), where <id> is the first 11 characters of the video's file name (LLP's YouTube id;
with --csv, of its `filename` column), as the training data loader reads them. Only the first 10 s of a
longer video are extracted (one clip = one 10-s window); a shorter one is read looped (a warning says so);
a video without audio gets the features of silence for its audio stream (a warning says so).

Resumable: a video whose files all exist is skipped (--overwrite extracts it again); each file is written
atomically, so an interrupted run leaves no partial file. A video that cannot be read is reported and the
others are still extracted; the command then exits with 1. Weights: --weights DIR, $MMCSE_WEIGHTS or torch
hub's cache (`python -m mmcse weights` lists them). Runs on the GPU when there is one (--device).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmcse.commands._common import UserError, device_name, input_file, output_folder

ID_LENGTH = 11


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "extract",
        help="extract han / valor features of video files into the official per-clip layout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("videos", nargs="*", metavar="VIDEO", help="video files (or give --csv and --video-dir)")
    p.add_argument("--csv", help="a split CSV (filename, event_labels): extract every clip it lists")
    p.add_argument("--video-dir", help="the folder of the --csv clips' videos (<filename>.mp4 or <id>.mp4)")
    p.add_argument("--features", required=True, help="han | valor (or a spec file whose streams have extractors)")
    p.add_argument("--out", required=True, help="the feature root: <out>/<stream>/<id>.npy")
    p.add_argument("--weights", metavar="DIR", help="a folder of weight files (also: $MMCSE_WEIGHTS)")
    p.add_argument("--device", type=device_name, default="auto", help="auto | cpu | cuda")
    p.add_argument("--overwrite", action="store_true", help="extract again the videos whose files exist")
    p.set_defaults(func=run)


def _jobs(args) -> list[tuple[str, Path]]:
    """(id, video path) per clip, in order; one clear line for a missing input or clashing ids."""
    if args.csv and args.videos:
        raise UserError("give video files or --csv with --video-dir, not both")
    if args.csv:
        from mmcse.data.llp import read_clips_by_id
        from mmcse.video.io import find_video

        if not args.video_dir or not Path(args.video_dir).is_dir():
            raise UserError(f"--csv needs --video-dir, the folder of its videos (got {args.video_dir!r})")
        filenames, _ = read_clips_by_id(input_file(args.csv, "--csv"))
        jobs, missing = [], []
        for name in filenames:
            path = find_video(args.video_dir, name)
            if path is None:
                missing.append(name)
            else:
                jobs.append((name[:ID_LENGTH], path))
        if missing:
            raise UserError(f"{len(missing)} clip(s) of {args.csv} have no video in {args.video_dir}, e.g. "
                            f"{missing[0]}; add them or remove their rows")  # fmt: skip
    elif args.videos:
        jobs = [(Path(v).stem[:ID_LENGTH], input_file(v, "video")) for v in args.videos]
    else:
        raise UserError("no videos: give video files, or --csv SPLIT.csv with --video-dir DIR")
    seen: dict[str, Path] = {}
    for vid, path in jobs:
        if vid in seen and seen[vid].resolve() != path.resolve():
            raise UserError(f"{seen[vid]} and {path} both give the id {vid!r} (the first {ID_LENGTH} characters "
                            "of the name); rename one")  # fmt: skip
        seen[vid] = path
    return list(dict(jobs).items())


def run(args) -> int:
    from mmcse.feature_specs import feature_spec_from_arg

    out = output_folder(args.out, "--out")
    if args.weights and not Path(args.weights).is_dir():
        raise UserError(f"--weights {args.weights}: not a folder; give the folder that holds the weight files")
    spec = feature_spec_from_arg(args.features)
    jobs = _jobs(args)
    stream_dirs = {(out / s.name).resolve() for s in spec.streams.values()}
    for _, path in jobs:  # an output never replaces an input: no video inside a folder the features go to
        if path.resolve().parent in stream_dirs:
            raise UserError(f"--out {out}: the input video {path} is in a folder the features are written to; "
                            "give another --out")  # fmt: skip

    def targets(vid: str) -> dict[str, Path]:
        return {key: out / s.name / f"{vid}.npy" for key, s in spec.streams.items()}

    todo = [(vid, p) for vid, p in jobs if args.overwrite or not all(t.exists() for t in targets(vid).values())]
    print(f"{len(jobs) - len(todo)} of {len(jobs)} video(s) already extracted in {out}; {len(todo)} to do",
          file=sys.stderr)  # fmt: skip
    if not todo:
        return 0

    import numpy as np
    from tqdm.auto import tqdm

    from mmcse.backbones.registry import extractor_for_spec
    from mmcse.utils.files import atomic_path

    extractor = extractor_for_spec(spec, args.weights, args.device, cache=False)  # missing weights: one line, now
    failed = []
    for vid, path in tqdm(todo, unit="video", file=sys.stderr, dynamic_ncols=True):
        try:
            result = extractor.extract_file(str(path), max_windows=1)
        except ValueError as exc:  # not a video: report it, go on with the others
            tqdm.write(f"error: {exc}", file=sys.stderr)
            failed.append(path)
            continue
        for warning in result.warnings:
            tqdm.write(f"warning: {warning}", file=sys.stderr)
        for key, target in targets(vid).items():
            with atomic_path(target, suffix=".npy") as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, result.windows[0][key].astype(np.float32))
    if failed:
        print(f"{len(failed)} video(s) could not be extracted: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0

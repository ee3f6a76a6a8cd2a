"""`python -m mmcse parse`: parse video files with a checkpoint into audio / visual / audio-visual events.

    python -m mmcse parse assets/demo/videos/<clip>.mp4 --checkpoint assets/demo/runs/mmcse --out parsed/
    python -m mmcse parse a.mp4 b.mkv --checkpoint CK --out parsed/ --annotated parsed/annotated/
    python -m mmcse parse clip.mp4 --checkpoint CK --annotated clip.annotated.mp4 --segment-threshold 0.4

Per video, in --out: <name>.tsv (DCASE style: filename, onset, offset, event_label, modality, score; float
seconds; warnings as leading `# warning:` lines) and <name>.json (segment probabilities per second and
modality, video-level probabilities per 10-s window, the events, which seconds are real, warnings). Videos
longer than 10 s are parsed in consecutive 10-s windows and events are merged across window borders; a
window with less than 10 s of video (a short video, or the tail of a long one) is read looped and only its
real seconds are reported. Inputs with the same name from different folders get distinct outputs
(<folder>__<name>). A video that cannot be parsed is reported and the others are still parsed; the
command then exits with 1. Features are extracted by the extractor of the checkpoint's feature spec:
the demo features, or the real backbones of han / valor (their weights are the user's: `python -m mmcse
weights --features han|valor` lists them); extracted features are cached per video, so a second parse of
the same video skips the backbones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmcse.commands._common import (
    UserError,
    checkpoint_file,
    device_name,
    input_file,
    missing_demo_advice,
    output_file,
    output_folder,
    probability,
)
from mmcse.commands._outputs import Input, Output, add_overwrite_argument, check_outputs

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "parse",
        help="parse video files into events (TSV + JSON, optionally an annotated mp4)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files (mp4, mkv, webm, avi, ...)")
    p.add_argument("--checkpoint", required=True, help="a .safetensors checkpoint or a run folder (its best)")
    p.add_argument(
        "--out", default=".", help="folder for <name>.tsv and <name>.json (default: current folder)"
    )
    p.add_argument("--annotated", help="write the video with the events burned in: a .mp4 path for one video, "
                   "or a folder (one <name>.annotated.mp4 per video)")  # fmt: skip
    p.add_argument(
        "--gating", choices=("fused", "mmcse", "modality"), help="default: the checkpoint's gating"
    )
    p.add_argument("--segment-threshold", type=probability, default=0.5)
    p.add_argument("--video-threshold", type=probability, default=0.5)
    p.add_argument("--device", type=device_name, default="auto", help="auto | cpu | cuda")
    add_overwrite_argument(p)
    p.set_defaults(func=run)


def output_names(videos: list[Path]) -> list[str]:
    """A distinct output stem per (distinct) video: its stem; where stems collide, the file name with its
    extension, then the stem prefixed by as many parent folders as it takes (``a__clip``, ``b__clip``)."""
    resolved = [v.resolve() for v in videos]

    def candidate(path: Path, depth: int) -> str:
        if depth == 0:
            return path.stem
        if depth == 1:
            return path.name
        parents = [part for part in path.parent.parts if part not in ("/", "\\")]
        return "__".join([*parents[len(parents) - (depth - 1) :], path.stem])

    depth = [0] * len(videos)
    names = [candidate(r, 0) for r in resolved]
    while len(set(names)) < len(names):
        clash = {n for n in names if names.count(n) > 1}
        for i, r in enumerate(resolved):
            if names[i] in clash:
                depth[i] += 1
                # same folders and stem, other extensions, all the way up: number them
                names[i] = candidate(r, depth[i]) if depth[i] <= len(r.parts) else f"{r.name}.{i + 1}"
    return names


def annotated_targets(arg: str | None, videos: list[Path], names: list[str]) -> list[Path | None]:
    """Where each annotated video goes: ``arg`` itself when it names a video file (one video only), else
    ``arg/<name>.annotated.mp4``."""
    if arg is None:
        return [None] * len(videos)
    if Path(arg).suffix.lower() in VIDEO_SUFFIXES:
        target = output_file(arg, "--annotated", (".mp4",))
        if len(videos) > 1:
            raise UserError(f"--annotated {arg}: with {len(videos)} videos, give a folder instead of one .mp4 path")
        return [target]
    folder = output_folder(arg, "--annotated")
    return [folder / f"{name}.annotated.mp4" for name in names]


def check_videos(args) -> list[Path]:
    """The input videos, de-duplicated; a clear error for a missing path, a folder, a pipe or device."""
    videos: list[Path] = []
    seen = set()
    for text in args.videos:
        v = Path(text)
        if v.is_dir():
            raise UserError(f"{v} is a folder; give video files (e.g. {v}/*.mp4)")
        if not v.exists():
            raise FileNotFoundError(f"{v}: no such video file{missing_demo_advice(v)}")
        input_file(v, "video")
        if v.resolve() not in seen:
            seen.add(v.resolve())
            videos.append(v)
    return videos


def run(args) -> int:
    from mmcse.video.io import check_video_streams

    videos = check_videos(args)
    checkpoint = checkpoint_file(args.checkpoint)
    out = output_folder(args.out, "--out")
    names = output_names(videos)
    targets = annotated_targets(args.annotated, videos, names)
    outputs = [Output(out / f"{name}{suffix}", "--out") for name in names for suffix in (".tsv", ".json")]
    outputs += [Output(t, "--annotated") for t in targets if t is not None]
    inputs = [Input(v, "an input video") for v in videos] + [Input(checkpoint, "the checkpoint")]
    check_outputs(outputs, inputs, args.overwrite)
    failed: list[str] = []
    jobs = []
    for video, name, target in zip(videos, names, targets):  # non-videos are refused before torch loads
        try:
            check_video_streams(video)
            jobs.append((video, name, target))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed.append(str(video))
    if jobs:
        parse_videos(args, checkpoint, out, jobs, failed)
    if failed:
        print(f"error: {len(failed)} of {len(videos)} videos could not be parsed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def parse_videos(args, checkpoint: Path, out: Path, jobs: list, failed: list[str]) -> None:
    """Parse each (video, output name, annotated target); a video that fails is reported and skipped."""
    from mmcse.export import checkpoint_identity, events_tsv, parse_record
    from mmcse.inference import Parser  # torch: only once the arguments are known to be good
    from mmcse.utils.files import atomic_write_text

    parser = Parser.from_checkpoint(checkpoint, device=args.device)
    identity = checkpoint_identity(checkpoint, parser.meta)
    for video, name, target in jobs:
        try:
            parse = parser.parse_video(
                video, gating=args.gating, segment_threshold=args.segment_threshold,
                video_threshold=args.video_threshold,
            )  # fmt: skip
        except (ValueError, OSError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed.append(str(video))
            continue
        for w in parse.warnings:
            print(f"warning: {w}", file=sys.stderr)
        tsv, record = out / f"{name}.tsv", out / f"{name}.json"
        written: list[Path] = []
        try:
            atomic_write_text(tsv, events_tsv(parse.events, parse.warnings))
            written.append(tsv)
            atomic_write_text(record, json.dumps(parse_record(parse, identity), indent=1) + "\n")
            written.append(record)
            if target is not None:
                from mmcse.video.annotate import annotate_video

                annotate_video(video, parse, target)
        except OSError as exc:  # a write refused (name too long, disk full): this video fails, the rest go on
            for path in written:  # all of a video's outputs, or none
                path.unlink(missing_ok=True)
            print(f"error: {video}: could not write its outputs: {_os_error(exc)}", file=sys.stderr)
            failed.append(str(video))
            continue
        print(f"{video}: {len(parse.events)} events -> {tsv}, {record}")
        if target is not None:
            print(f"  annotated video -> {target}")


def _os_error(exc: OSError) -> str:
    return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)

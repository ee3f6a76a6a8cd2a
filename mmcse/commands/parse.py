"""`python -m mmcse parse`: parse video files with a checkpoint into audio / visual / audio-visual events.

    python -m mmcse parse clip.mp4 --checkpoint demo_data/runs/mmcse/best.safetensors --out parsed/
    python -m mmcse parse a.mp4 b.mkv --checkpoint CK --out parsed/ --annotated parsed/annotated/
    python -m mmcse parse clip.mp4 --checkpoint CK --annotated clip.annotated.mp4 --segment-threshold 0.4

Per video, in --out: <name>.tsv (DCASE style: filename, onset, offset, event_label, modality, score; float
seconds) and <name>.json (segment probabilities per second and modality, video-level probabilities per
10-s window, the events, warnings). Videos longer than 10 s are parsed in consecutive 10-s windows and
events are merged across window borders. Features are extracted offline by the checkpoint's extractor
(the demo features); checkpoints trained on official backbone features (han / valor) need those
features extracted with the official backbones.
"""

from __future__ import annotations

from mmcse.commands._common import UserError

TSV_COLUMNS = ("filename", "onset", "offset", "event_label", "modality", "score")


def add_parser(subparsers) -> None:
    import argparse

    p = subparsers.add_parser(
        "parse",
        help="parse video files into events (TSV + JSON, optionally an annotated mp4)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files (mp4, mkv, webm, avi, ...)")
    p.add_argument(
        "--checkpoint", required=True, help="a .safetensors checkpoint (e.g. runs/x/best.safetensors)"
    )
    p.add_argument(
        "--out", default=".", help="folder for <name>.tsv and <name>.json (default: current folder)"
    )
    p.add_argument("--annotated", help="write the video with the events burned in: a .mp4 path for one video, "
                   "or a folder (one <name>.annotated.mp4 per video)")  # fmt: skip
    p.add_argument(
        "--gating", choices=("fused", "mmcse", "modality"), help="default: the checkpoint's gating"
    )
    p.add_argument("--segment-threshold", type=float, default=0.5)
    p.add_argument("--video-threshold", type=float, default=0.5)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.set_defaults(func=run)


def tsv_text(parse, filename: str) -> str:
    rows = ["\t".join(TSV_COLUMNS)]
    for ev in parse.events:
        score = "" if ev.score is None else f"{ev.score:.4f}"
        rows.append(f"{filename}\t{ev.onset:.3f}\t{ev.offset:.3f}\t{ev.label}\t{ev.modality}\t{score}")
    return "\n".join(rows) + "\n"


def parse_json(parse, checkpoint: str) -> dict:
    from mmcse.classes import LLP_CLASSES

    def grid(a):
        return [[round(float(v), 5) for v in row] for row in a]

    return {
        "video": parse.path,
        "checkpoint": checkpoint,
        "duration": parse.duration,
        "gating": parse.gating,
        "segment_threshold": parse.segment_threshold,
        "video_threshold": parse.video_threshold,
        "classes": list(LLP_CLASSES),
        "segment_seconds": 1.0,
        "segment_prob_audio": grid(parse.segment_prob[:, 0]),  # (T, 25), T = 10 per window
        "segment_prob_visual": grid(parse.segment_prob[:, 1]),
        "video_prob": grid(parse.video_prob),  # (W, 25) per 10-s window
        "audio_prob": grid(parse.audio_prob),
        "visual_prob": grid(parse.visual_prob),
        "events": [
            {
                "onset": ev.onset,
                "offset": ev.offset,
                "event_label": ev.label,
                "modality": ev.modality,
                "score": ev.score,
            }
            for ev in parse.events
        ],
        "warnings": list(parse.warnings),
    }


def _write(path, text: str) -> None:
    import os

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run(args) -> int:
    import json
    from pathlib import Path

    from mmcse.inference import Parser

    for t in (args.segment_threshold, args.video_threshold):
        if not 0.0 <= t <= 1.0:
            raise UserError(f"threshold {t}: expected a probability in [0, 1]")
    videos = [Path(v) for v in args.videos]
    for v in videos:
        if not v.is_file():
            raise FileNotFoundError(f"{v}: no such video file")
    annotated = Path(args.annotated) if args.annotated else None
    if annotated is not None and len(videos) > 1 and annotated.suffix.lower() == ".mp4":
        raise UserError(
            f"--annotated {annotated}: with {len(videos)} videos, give a folder instead of one .mp4 path"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parser = Parser.from_checkpoint(args.checkpoint, device=args.device)
    for video in videos:
        parse = parser.parse_video(
            video,
            gating=args.gating,
            segment_threshold=args.segment_threshold,
            video_threshold=args.video_threshold,
        )
        for w in parse.warnings:
            print(f"warning: {w}")
        _write(out / f"{video.stem}.tsv", tsv_text(parse, video.name))
        _write(out / f"{video.stem}.json", json.dumps(parse_json(parse, str(args.checkpoint))))
        print(
            f"{video}: {len(parse.events)} events -> {out / (video.stem + '.tsv')}, {out / (video.stem + '.json')}"
        )
        if annotated is not None:
            from mmcse.video.annotate import annotate_video

            target = (
                annotated if annotated.suffix.lower() == ".mp4" else annotated / f"{video.stem}.annotated.mp4"
            )
            annotate_video(video, parse, target)
            print(f"  annotated video -> {target}")
    return 0

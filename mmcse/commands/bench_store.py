"""`python -m mmcse bench-store`: an epoch of feature loading, per-clip .npy vs the packed store
(the benchmark itself: mmcse.benchmarks.store)."""

from __future__ import annotations

import argparse

from mmcse.benchmarks import STORE_SCRATCH_MARK
from mmcse.commands._common import UserError, non_negative_int, output_folder, positive_int, thread_count

MAX_CLIPS = 1_000_000  # 100x LLP's train split; more would only fill the disk


def clip_count(text: str) -> int:
    value = positive_int(text)
    if value > MAX_CLIPS:
        raise argparse.ArgumentTypeError(f"{value} is above {MAX_CLIPS:,}; give fewer clips")
    return value


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bench-store",
        help="time an epoch of feature loading: per-clip .npy files vs the packed store",
        description="Benchmark loading all clips from the official per-clip layout vs a packed store.",
    )
    p.add_argument("--clips", type=clip_count, default=10_000, help="number of clips (default 10000, LLP train)")
    p.add_argument("--features", default="han", help="feature preset whose shapes to use (default han)")
    p.add_argument(
        "--dir",
        default=None,
        help="scratch folder (default: a new temp folder); its official/ and packed/ are used",
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the written clips (a later run with --dir reuses them)"
    )
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--cache", choices=("cold", "warm", "both"), default="both")
    p.add_argument(
        "--skip-authors-loader",
        action="store_true",
        help="do not time the authors' per-item DataLoader pattern",
    )
    p.add_argument(
        "--torch-threads", type=thread_count, default=None, help="torch.set_num_threads (default: torch's own)"
    )
    p.add_argument(
        "--pool-frames",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pack the res152 frames as the mean of each group of 8, as `mmcse pack` does (default on)",
    )
    p.set_defaults(func=run)


def check_scratch(text: str | None):
    """--dir: any folder whose official/ and packed/ are absent or were written by this command before (its
    mark file): those two are written and removed again; nothing else in the folder is touched."""
    if text is None:
        return None
    folder = output_folder(text, "--dir")
    taken = [sub for sub in ("official", "packed") if (folder / sub).exists()]
    if taken and not (folder / STORE_SCRATCH_MARK).is_file():
        raise UserError(
            f"--dir {folder} holds {' and '.join(f'{t}/' for t in taken)} that bench-store did not write (they "
            "would be replaced and removed); give another folder"
        )
    return folder


def run(args) -> int:
    from mmcse.config import feature_preset

    if args.clips < args.batch_size:
        raise UserError(f"--clips {args.clips} is smaller than --batch-size {args.batch_size}; give more clips")
    feature_preset(args.features)  # an unknown preset is refused here, before torch loads
    check_scratch(args.dir)

    from mmcse.benchmarks.store import run as run_benchmark

    return run_benchmark(args)

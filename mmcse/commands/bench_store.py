"""`python -m mmcse bench-store`: an epoch of feature loading, per-clip .npy vs the packed store
(the benchmark itself: mmcse.benchmarks.store)."""

from __future__ import annotations

import argparse

from mmcse.commands._common import positive_int


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bench-store",
        help="time an epoch of feature loading: per-clip .npy files vs the packed store",
        description="Benchmark loading all clips from the official per-clip layout vs a packed store.",
    )
    p.add_argument("--clips", type=positive_int, default=10_000, help="number of clips (default 10000, LLP train)")
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", choices=("cold", "warm", "both"), default="both")
    p.add_argument(
        "--skip-authors-loader",
        action="store_true",
        help="do not time the authors' per-item DataLoader pattern",
    )
    p.add_argument(
        "--torch-threads", type=int, default=0, help="torch.set_num_threads (default: torch's own)"
    )
    p.add_argument(
        "--pool-frames",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pack the res152 frames as the mean of each group of 8, as `mmcse pack` does (default on)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from mmcse.benchmarks.store import run as run_benchmark

    return run_benchmark(args)

"""`python -m mmcse train` (placeholder until its issue lands)."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise NotImplementedError("python -m mmcse train is not implemented yet")

"""`python -m mmcse bench` (placeholder until its issue lands)."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("bench", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise NotImplementedError("python -m mmcse bench is not implemented yet")

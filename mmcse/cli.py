"""`python -m mmcse <command>`: one module per command in mmcse/commands/.

Each command module defines ``add_parser(subparsers)``, which registers its sub-parser and sets
``func`` to a ``run(args) -> int`` function. Command modules import torch and friends lazily, inside
``run``, so that ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (module under mmcse.commands) in the order `--help` lists them
COMMAND_MODULES = (
    "demo",
    "train",
    "evaluate",
    "parse",
    "import_official",
    "pack",
    "bench",
    "bench_store",
)


class UserError(Exception):
    """A problem with the user's input: printed as one clear line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmcse",
        description="MM-CSE for audio-visual video parsing: train, evaluate, parse videos, build the demo.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"mmcse.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from mmcse.models._fast.allocator import tune_cpu_allocator

    tune_cpu_allocator()  # large CPU tensors without page faults each time (MMCSE_TUNE_ALLOCATOR=0: off)
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, ValueError) as exc:
        # Errors raised on bad user input carry a message that names the file and what to do.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

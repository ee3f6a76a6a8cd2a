"""`python -m mmcse <command>`: one module per command in mmcse/commands/.

Each command module defines ``add_parser(subparsers)``, which registers its sub-parser and sets
``func`` to a ``run(args) -> int`` function. Command modules import torch and friends lazily, inside
``run``, so that ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mmcse.commands._common import UserError

# (module under mmcse.commands) in the order `--help` lists them
COMMAND_MODULES = (
    "demo",
    "train",
    "evaluate",
    "ablate",
    "compare",
    "parse",
    "import_official",
    "pack",
    "bench",
    "bench_store",
)


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
    from mmcse.cpu_allocator import tune_cpu_allocator

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

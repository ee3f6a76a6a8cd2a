"""`python -m mmcse <command>`: one module per command in mmcse/commands/.

Each command module defines ``add_parser(subparsers)``, which registers its sub-parser and sets
``func`` to a ``run(args) -> int`` function. Command modules import torch and friends lazily, inside
``run``, so that ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

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
    "calibrate",
    "pack",
    "bench",
    "bench_store",
    "extract",
    "pseudo_label",
    "weights",
    "tags",
)


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (no usage block): what was wrong and where the help is."""

    def error(self, message: str):
        dashed = [a for a in _ARGV if a.startswith("-") and a != "-" and os.path.exists(a)]
        if dashed:  # a file whose name starts with '-' reads as an option
            message += f"; {dashed[0]} is a file: end the options with `--` and put it after (... -- {dashed[0]})"
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


_ARGV: list[str] = []  # the arguments being parsed, for the error hint above


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m mmcse",
        description="MM-CSE for audio-visual video parsing: train, evaluate, parse videos, build the demo.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"mmcse.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _ARGV[:] = sys.argv[1:] if argv is None else [str(a) for a in argv]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or an argument error already printed on one line
        return int(exc.code or 0)
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except (UserError, OSError, ValueError) as exc:
        # Errors raised on bad user input carry a message that names the file and what to do; OSError
        # covers what the system refuses (a folder where a file was expected, no permission, disk full).
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line for the user; MMCSE_DEBUG=1 shows the traceback
        if os.environ.get("MMCSE_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {_one_line(exc)} (this is a bug in mmcse; rerun with "
              "MMCSE_DEBUG=1 for the traceback and report it)", file=sys.stderr)  # fmt: skip
        return 3


def _one_line(exc: BaseException) -> str:
    """The message of an exception on one line (OSError: its strerror and file name)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one ``warning: ...`` line each (library warnings name the file and what was done)."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

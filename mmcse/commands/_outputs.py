"""The one rule for what a command writes, checked before any work (and before torch is imported):

1. An output never replaces one of the command's inputs: not the same path, not a hard link to it (same
   inode), and an output folder that would be replaced never holds an input. ``--overwrite`` does not
   change this.
2. An output that exists is refused (exit 2, one line) unless ``--overwrite`` is given.

    inputs = [Input(checkpoint, "the checkpoint being scored")]
    check_outputs([Output(json_path, "--json")], inputs, overwrite=args.overwrite)

Inputs are checked with ``_common.input_file``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mmcse.commands._common import UserError


@dataclass(frozen=True)
class Input:
    path: Path
    what: str  # "the checkpoint being scored", "input video", ...


@dataclass(frozen=True)
class Output:
    path: Path
    flag: str  # the flag (or "--out <folder>") that named it
    folder: bool = False  # a folder replaced as a whole (pack --out), not a file


def add_overwrite_argument(p) -> None:
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace outputs that already exist (never one of the command's inputs)",
    )


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same resolved path, or the same inode (a hard link)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def is_within(inner: Path, outer: Path) -> bool:
    """``inner`` is ``outer`` or lies inside it (resolved paths)."""
    inner, outer = inner.resolve(), outer.resolve()
    return inner == outer or outer in inner.parents


def check_outputs(outputs: Iterable[Output], inputs: Iterable[Input], overwrite: bool) -> None:
    """Refuse (UserError, one line) an output that is an input, or that exists without ``overwrite``."""
    outputs, inputs = list(outputs), [i for i in inputs if i.path is not None]
    for out in outputs:
        for inp in inputs:
            if out.folder and is_within(inp.path, out.path):
                raise UserError(
                    f"{out.flag} {out.path} holds {inp.what} {inp.path}; writing there would replace an input "
                    "of this command: choose another folder"
                )
            if not out.folder and same_file(out.path, inp.path):
                raise UserError(
                    f"{out.flag} {out.path} is {inp.what}; an output never replaces an input of this command: "
                    "choose another file name"
                )
    existing = [o for o in outputs if o.path.exists() or o.path.is_symlink()]
    if existing and not overwrite:
        first = existing[0]
        kind = "folder" if first.folder else "file"
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        raise UserError(
            f"{first.flag} {first.path} already exists{more}; pass --overwrite to replace it, or choose another "
            f"{kind}"
        )


def data_inputs(data, split: str, audio_gt: str = "fixed") -> list[Input]:
    """The files a split's scoring reads (DataPaths): the split CSV, the dense audio and visual CSVs and
    the feature root (a folder: an output file inside it is fine, the folder itself is not)."""
    audio, visual = data.dense_csvs(audio_gt)
    return [
        Input(data.split_csv(split), f"the {split} split CSV"),
        Input(audio, "the dense audio CSV"),
        Input(visual, "the dense visual CSV"),
        Input(Path(data.feature_root), "the feature folder"),
    ]

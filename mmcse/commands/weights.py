"""`python -m mmcse weights`: the weight files the real backbones need, where each is published, and
whether it is present here.

    python -m mmcse weights                          # both feature sets (han, valor)
    python -m mmcse weights --features han --weights ~/weights
    python -m mmcse weights --features han --download   # on a connected machine: torch hub's downloader

Files are looked for in --weights DIR, $MMCSE_WEIGHTS, then torch hub's checkpoint folder
($TORCH_HOME/hub/checkpoints, default ~/.cache/torch/hub/checkpoints). --download saves the torch hub
files there (or in --weights DIR) with torch.hub.download_url_to_file, which checks each file's SHA-256
prefix where it is known, and CLIP's folder with huggingface_hub's snapshot_download. Runs without the
backbones extra and without loading torch (except for --download).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmcse.commands._common import UserError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "weights",
        help="list the backbone weight files a feature set needs and whether they are present",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--features", choices=("han", "valor"), help="one feature set (default: both)")
    p.add_argument("--weights", metavar="DIR", help="a folder of weight files (also: $MMCSE_WEIGHTS)")
    p.add_argument("--download", action="store_true",
                   help="fetch the missing torch hub files (into --weights DIR, else torch hub's folder)")  # fmt: skip
    p.set_defaults(func=run)


def damage(path: Path) -> str:
    """Why a weight file on disk cannot be whole ("" when it looks whole), without reading it through: empty,
    or a zip-format .pth (torch.save since 1.6) cut short before its end record (an interrupted download)."""
    if not path.is_file():
        return ""  # a transformers folder: its marker file was found
    size = path.stat().st_size
    if size == 0:
        return "empty, 0 bytes"
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(max(0, size - 65_536))
        tail = fh.read()
    if head == b"PK\x03\x04" and b"PK\x05\x06" not in tail:  # a zip without its end-of-central-directory
        return f"cut short: {size:,} bytes and no zip end record"
    return ""


def run(args) -> int:
    from mmcse.backbones.weights import FEATURE_SET_WEIGHTS, download, files_for, locate, search_dirs

    if args.weights and not Path(args.weights).is_dir():
        raise UserError(f"--weights {args.weights}: not a folder; give the folder that holds the weight files")
    sets = [args.features] if args.features else list(FEATURE_SET_WEIGHTS)
    print("looked for in: " + ", ".join(str(d) for d in search_dirs(args.weights)))
    missing = []
    for features in sets:
        print(f"\n{features} features:")
        for f in files_for(features):
            path = locate(f, args.weights)
            why = damage(path) if path else ""
            state = f"DAMAGED: {path} ({why}); remove it and fetch it again" if why else f"present: {path}" if path else "MISSING"
            facts = ", ".join(x for x in (f.size, f"sha256 {f.sha256_prefix}..." if f.sha256_prefix else "") if x)
            print(f"  {f.filename:28s} {state}")
            print(f"      {f.what}; {f.url}" + (f" ({facts})" if facts else ""))
            if path is None and f not in missing:
                missing.append(f)
    if args.download:
        target = Path(args.weights) if args.weights else search_dirs(None)[-1]
        failed = 0
        for f in missing:
            print(f"downloading {f.filename} to {target}")
            try:
                download(f, target)
            except ImportError:
                print(f"error: {f.filename}: downloading it needs huggingface_hub (pip install -e .[backbones])",
                      file=sys.stderr)  # fmt: skip
                failed += 1
            except (OSError, RuntimeError, ValueError) as exc:  # no network, HTTP error, or a wrong SHA-256
                print(f"error: {f.filename} from {f.url} could not be fetched: {exc}", file=sys.stderr)
                failed += 1
        return 1 if failed else 0
    return 0

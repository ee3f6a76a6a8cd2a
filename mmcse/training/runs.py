"""The run folder: what a training run writes next to its checkpoints, all without pickle.

    <run>/config.json              model, train and feature configs, data paths, recipe, device, world size
    <run>/metrics.csv              one row per epoch: lr, train loss terms, the 10 val numbers, seconds
    <run>/best.safetensors         best val Type@AV (segment level) so far   (mmcse.checkpoint format)
    <run>/last.safetensors         after the last finished epoch             (mmcse.checkpoint format)
    <run>/train_state.safetensors  optimizer tensors + RNG states; JSON metadata for the rest, the LR
                                   scheduler's state included (resume)

Every file is written to a temporary name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from mmcse.checkpoint import read_checkpoint_meta
from mmcse.utils.files import atomic_write_bytes

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
BEST_FILE = "best.safetensors"
LAST_FILE = "last.safetensors"
STATE_FILE = "train_state.safetensors"


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); delete the run folder or fix the file") from None


# ---------------------------------------------------------------------------------------------- metrics.csv


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    """Rows of metrics.csv as dicts of strings ([] when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_metrics(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write all rows (the union of their keys as the header, first-seen order), atomically."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(v) for k, v in row.items()})
    atomic_write_bytes(path, buf.getvalue().encode())


def _fmt(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


# ------------------------------------------------------------------------------------------- which clips


def clip_set_id(filenames: list[str]) -> dict[str, Any]:
    """What identifies the clips a metric was measured on: their count and a hash of their sorted names
    (so stored metrics are compared only with a score on the same clips)."""
    import hashlib

    digest = hashlib.sha256("\n".join(sorted(filenames)).encode()).hexdigest()[:16]
    return {"count": len(filenames), "sha256": digest}


# ------------------------------------------------------------------------------------------- discovery


def find_checkpoints(folder: str | os.PathLike) -> list[Path]:
    """Model checkpoints under a runs folder: every .safetensors except training states, and the authors'
    .pth files; MM-CSE first, then by run folder, best before last."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [p for p in folder.rglob("*.safetensors") if p.name != STATE_FILE]
    found += list(folder.rglob("*.pth"))
    rank = {BEST_FILE: 0, LAST_FILE: 1}
    return sorted(found, key=lambda p: (_arch(p) != "mmcse", str(p.parent), rank.get(p.name, 2), p.name))


def _arch(path: Path) -> str:
    """The architecture a checkpoint's header names ("mmcse" for the authors' .pth); "" when unreadable."""
    if path.suffix == ".pth":
        return "mmcse"
    try:
        return str(read_checkpoint_meta(path).get("arch", ""))
    except (ValueError, OSError):
        return ""

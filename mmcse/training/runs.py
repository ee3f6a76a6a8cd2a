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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mmcse.checkpoint import read_checkpoint_meta
from mmcse.utils.files import atomic_write_bytes
from mmcse.validation import finite_or_null

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
BEST_FILE = "best.safetensors"
LAST_FILE = "last.safetensors"
STATE_FILE = "train_state.safetensors"
STATE_META_KEY = "mmcse_train_state"  # the metadata key of STATE_FILE (mmcse.training.state)


def write_json(path: str | Path, obj: Any) -> None:
    """Strict JSON (NaN / inf stored as null, never the non-JSON ``NaN``), written atomically."""
    text = json.dumps(finite_or_null(obj), indent=2, sort_keys=False, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


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


# ------------------------------------------------------------------------------------------- the lock

LOCK_FILE = ".lock"
RUN_FILES = (CONFIG_FILE, METRICS_FILE, BEST_FILE, LAST_FILE, STATE_FILE)


@contextmanager
def run_folder_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``run_dir`` (created if missing) while this process writes it; a second
    writer fails at once with a ValueError naming the holder's pid. The kernel drops the lock when the
    holder dies, so a killed run never leaves the folder locked."""
    import fcntl

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ValueError(_locked(run_dir, holder)) from None
        try:  # the previous holder may have removed the file between our open and our lock
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def trained_epochs(run_dir: str | Path) -> int | None:
    """The epochs the run's training state has finished, read from its safetensors header without torch;
    None when there is no readable state."""
    try:
        with open(Path(run_dir) / STATE_FILE, "rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            if not 0 < size < 100_000_000:
                return None
            metadata = json.loads(fh.read(size))["__metadata__"]
        return int(json.loads(metadata[STATE_META_KEY])["progress"]["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fewer_epochs(run_dir: str | Path, done: int, asked: int) -> str:
    """The refusal of a resume asked to end before the epochs a run already has."""
    return (f"{run_dir} has already trained {done} epochs, more than the {asked} asked for (--epochs); give "
            f"--epochs above {done} to train on, or use its checkpoints as they are")  # fmt: skip


def _locked(run_dir: Path, holder: str) -> str:
    return (f"{run_dir} is being written by another training process (pid {holder}); wait for it to finish "
            "or choose another --out")  # fmt: skip


def check_not_locked(run_dir: str | Path) -> None:
    """The ValueError of run_folder_lock when another process holds ``run_dir``'s lock now: a probe (the
    lock taken and dropped at once, nothing created) so that the command refuses before torch loads; the
    loop still takes the lock for real."""
    import fcntl

    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no lock file: nobody writes the folder
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        raise ValueError(_locked(Path(run_dir), holder)) from None
    finally:
        os.close(fd)  # drops the probe's lock


def existing_run_files(run_dir: str | Path) -> list[str]:
    """The run files (config, metrics, checkpoints, state) present in ``run_dir``."""
    return [name for name in RUN_FILES if (Path(run_dir) / name).exists()]


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) and SIGTERM that arrive inside the block until it has finished, then act on
    them: saving an epoch's files is never cut in half by an interrupt. Outside the main thread (where
    Python cannot set handlers) the block runs as is."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            signal.raise_signal(received[0])  # now handled as it would have been (KeyboardInterrupt for Ctrl-C)


def check_run_files(run_dir: str | Path, resume: bool) -> None:
    """The run files a command may start from (no torch, so `train` refuses at once): a new run needs a
    folder without a run, a resumed one a complete saved epoch. A folder whose run stopped before an epoch
    was saved whole gets the same advice either way (--overwrite)."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--out {run_dir} is a file; give a folder for the run")
    present = existing_run_files(run_dir)
    resumable = all(name in present for name in (STATE_FILE, LAST_FILE, CONFIG_FILE))
    if present and not resumable:
        missing = [n for n in (CONFIG_FILE, LAST_FILE, STATE_FILE) if n not in present]
        raise ValueError(
            f"{run_dir} holds a run that cannot be resumed (it has {', '.join(present)} but no {' or '.join(missing)}: "
            "it stopped before an epoch was saved whole); pass --overwrite to train anew there, or choose another --out"
        )
    if resume and not present:
        raise FileNotFoundError(f"nothing to resume in {run_dir}: no run there (train without --resume)")
    if not resume and present:
        raise ValueError(
            f"{run_dir} already holds a run; pass --resume to continue it, --overwrite to replace it, or choose "
            "another --out"
        )

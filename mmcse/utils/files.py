"""Atomic writes: a file or folder appears whole under its final name, or not at all.

    atomic_write_bytes(path, data)          atomic_write_text(path, text)
    with atomic_path(path) as tmp: save_file(tensors, tmp)     # any writer that takes a path
    with atomic_folder(path) as tmp: ...                       # a whole folder (packed stores, exports)

The temporary name is hidden in the destination's folder (so the final rename never crosses file
systems) and is removed when the writer fails. Final files and folders get the permissions of the
user's umask (``mkstemp`` would leave 0600 / ``mkdtemp`` 0700, unreadable for teammates).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def current_umask() -> int:
    """The process umask (read without changing it where /proc allows; else set-and-restore)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def set_default_mode(path: Path, folder: bool) -> None:
    """chmod ``path`` (and, for a folder, everything in it) to what a plain open()/mkdir() would give."""
    mask = current_umask()
    if not folder:
        os.chmod(path, 0o666 & ~mask)
        return
    os.chmod(path, 0o777 & ~mask)
    for sub, dirs, files in os.walk(path):
        for d in dirs:
            os.chmod(os.path.join(sub, d), 0o777 & ~mask)
        for f in files:
            os.chmod(os.path.join(sub, f), 0o666 & ~mask)


def check_writable_file(path: str | Path, what: str = "output") -> Path:
    """``path`` as a Path, or a ValueError naming why a file cannot be written there (it is a folder, or
    its parent is a file). Call before doing the work, so that nothing is computed for nothing."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; give a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{what} {path}: {parent} is a file, not a folder; choose another path")
            break
    return path


def make_parents(path: Path) -> list[Path]:
    """Create the missing folders above ``path``; the ones created, deepest first (for ``remove_empty``)."""
    missing = [p for p in path.parents if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed write created, deepest first, where nothing else was put in them."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (someone else wrote there) or already gone
            return


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; when the block succeeds it is renamed to ``path``
    (with the umask's permissions); when it raises, the temporary file and any folder made for it are
    removed. An OSError names ``path``, never the temporary name."""
    path = check_writable_file(path)
    created = make_parents(path)
    try:  # the temporary name stays within the file-name limit however long the final name is
        fd, name = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=f".tmp{suffix}", dir=path.parent)
    except OSError as exc:
        remove_empty(created)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    os.close(fd)
    tmp = Path(name)
    ok = False
    try:
        yield tmp
        set_default_mode(tmp, folder=False)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        ok = True
    finally:
        tmp.unlink(missing_ok=True)
        if not ok:
            remove_empty(created)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_folder(path: str | Path, replace: bool = False) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``path``; on success it becomes ``path`` (an existing
    ``path`` is swapped out only with ``replace``, else FileExistsError is raised up front)."""
    path = Path(path)
    if path.exists() and not replace:
        raise FileExistsError(f"{path} already exists; choose another output folder or remove it")
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} is a file; give a folder name")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        set_default_mode(tmp, folder=True)
        if path.exists():  # swap: the old copy is removed only once the new one is in place
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)

"""Curation: tags ("bad GT", "hard", anything) and a free-text note per clip, kept in a small JSON file beside
the dataset (``<data root>/mmcse_tags.json``), or beside the run when the dataset folder is read-only; and
the export of a clip list (CSV / JSON with tags, notes and provenance, or an LLP weak-label CSV that
``train --train-csv`` / ``--val-csv`` and ``evaluate --split-csv`` take as a split).

    store = TagStore.open(data_root, run_dir)        the file found (or to be made) for this dataset
    store.set_tags("abc123_30_40", ["bad GT"])       saved at once (atomic; other sessions' edits merged)
    store.clips_with("bad GT")                       -> ["abc123_30_40"]
    export_clips(store, clips, "llp", labels=...)    an official-format split CSV of these clips

The file is JSON (not CSV) because notes are free text: newlines, tabs, commas and quotes survive exactly,
and the file stays readable and hand-editable::

    {"format": "mmcse-tags", "version": 1,
     "clips": {"abc123_30_40": {"tags": ["bad GT"], "note": "dog barks off screen", "updated": "2026-..."}}}

Every edit re-reads the file under a lock (``<file>.lock``), changes only the edited clip's field and
writes the whole file to a temp file that replaces it (``os.replace``): two sessions tagging different
clips (or one the tags, the other the note) both keep their edits; the same field of the same clip is
last-writer-wins. The previous version is kept as ``<file>.bak``. Clips that are not in the split shown are
kept (they may be another split's). A file that does not parse, or holds something else, is never
overwritten: loading it raises CurationFileError (one line: the file, what is wrong, what to do).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

FILE_NAME = "mmcse_tags.json"
FORMAT = "mmcse-tags"
VERSION = 1
MAX_TAG_LENGTH = 60
MAX_NOTE_LENGTH = 10_000
EXPORT_FORMATS = ("csv", "json", "llp")  # llp: the official weak-label split CSV (filename<TAB>event_labels)


class CurationFileError(ValueError):
    """A tag file that cannot be read or written; the message is one line saying what to do."""


def store_path(data_root: str | Path, run_dir: str | Path | None = None) -> Path:
    """Where this dataset's tags live: an existing ``<data root>/mmcse_tags.json``, else an existing one in
    ``run_dir``, else ``<data root>/mmcse_tags.json`` when that folder is writable, else ``run_dir``'s."""
    candidates = [Path(data_root) / FILE_NAME] + ([Path(run_dir) / FILE_NAME] if run_dir else [])
    for path in candidates:
        if path.is_file():
            return path
    for path in candidates:
        if path.parent.is_dir() and os.access(path.parent, os.W_OK):
            return path
    return candidates[0]


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags as stored: whitespace trimmed and collapsed, empty ones dropped, duplicates (ignoring case)
    dropped, the given order kept. ValueError for a tag that is not text or is too long."""
    out: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        if not isinstance(tag, str):
            raise ValueError(f"a tag must be text, not {type(tag).__name__} ({tag!r})")
        tag = " ".join(tag.split())
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"tag {tag[:20]!r}... is {len(tag)} characters; keep tags under {MAX_TAG_LENGTH}")
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    return out


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _parse(path: Path, text: str) -> dict:
    """The content of a tag file, validated; CurationFileError naming what is wrong."""
    previous = f" (the previous version is {path.name}.bak)" if _backup(path).is_file() else ""
    fix = f"no edit is saved to it until you fix it by hand{previous} or move it away"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CurationFileError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); {fix}") from None  # fmt: skip
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("clips"), dict):
        raise CurationFileError(f"{path}: not an mmcse tag file (expected a JSON object with \"format\": \"{FORMAT}\" "
                                f"and \"clips\"); {fix}")  # fmt: skip
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise CurationFileError(f"{path}: tag file version {data.get('version')!r} is not one this mmcse reads "
                                f"(up to {VERSION}); update mmcse or {fix}")  # fmt: skip
    for clip, entry in data["clips"].items():
        problem = None
        if not clip.strip():
            problem = "an empty clip id"
        elif not isinstance(entry, dict):
            problem = f"clip {clip!r}: expected an object with \"tags\" and \"note\""
        elif not isinstance(entry.get("tags", []), list) or not all(isinstance(t, str) for t in entry.get("tags", [])):
            problem = f"clip {clip!r}: \"tags\" must be a list of texts"
        elif not isinstance(entry.get("note", ""), str):
            problem = f"clip {clip!r}: \"note\" must be a text"
        if problem:
            raise CurationFileError(f"{path}: {problem}; {fix}")
        try:
            entry["tags"] = clean_tags(entry.get("tags", []))
        except ValueError as exc:
            raise CurationFileError(f"{path}: clip {clip!r}: {exc}; {fix}") from None
        entry.setdefault("note", "")
    return data


def _backup(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock on ``<path>.lock`` (POSIX flock) for one read-modify-write; elsewhere none (the
    edit is then last-writer-wins for the whole file)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temp file in the same folder and os.replace: a reader sees the old
    file or the new one, never half of one. The old file is copied to ``<path>.bak`` first."""
    if path.is_file():
        shutil.copy2(path, _backup(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class TagStore:
    """The tags and notes of one dataset's clips, as read from ``path`` (the file may not exist yet)."""

    def __init__(self, path: str | Path, clips: dict[str, dict] | None = None, extra: dict | None = None):
        self.path = Path(path)
        self.clips: dict[str, dict] = clips or {}  # clip id -> {"tags": [...], "note": str, "updated": str}
        self._extra = extra or {}  # top-level keys of the file this version does not know, kept

    @classmethod
    def load(cls, path: str | Path) -> TagStore:
        """The store in ``path`` (empty when the file does not exist). CurationFileError: a broken file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except UnicodeDecodeError:
            raise CurationFileError(f"{path}: not UTF-8 text; no edit is saved to it until you fix it or move it away") from None
        except OSError as exc:
            raise CurationFileError(f"{path}: cannot read the tag file ({exc.strerror})") from None
        data = _parse(path, text)
        extra = {k: v for k, v in data.items() if k not in ("format", "version", "clips")}
        return cls(path, data["clips"], extra)

    @classmethod
    def open(cls, data_root: str | Path, run_dir: str | Path | None = None) -> TagStore:
        return cls.load(store_path(data_root, run_dir))

    # ------------------------------------------------------------------ reading

    def tags(self, clip: str) -> list[str]:
        return list(self.clips.get(clip, {}).get("tags", []))

    def note(self, clip: str) -> str:
        return self.clips.get(clip, {}).get("note", "")

    def all_tags(self) -> list[str]:
        """Every tag in use, sorted (case-insensitive)."""
        return sorted({t for entry in self.clips.values() for t in entry.get("tags", [])}, key=str.lower)

    def clips_with(self, tag: str) -> list[str]:
        """The clips tagged ``tag`` (case-insensitive), in the file's order."""
        return [c for c, entry in self.clips.items() if tag.lower() in (t.lower() for t in entry.get("tags", []))]

    @property
    def writable(self) -> bool:
        """Whether edits can be saved: the file (or, before the first edit, its folder) is writable."""
        folder = self.path.parent  # the temp file of an atomic write goes there
        writable_folder = folder.is_dir() and os.access(folder, os.W_OK)
        return writable_folder and (not self.path.exists() or os.access(self.path, os.W_OK))

    # ------------------------------------------------------------------ editing

    def set_tags(self, clip: str, tags: Iterable[str]) -> list[str]:
        """Replace the tags of ``clip``; saved at once. Returns the tags as stored (clean_tags)."""
        cleaned = clean_tags(tags)
        self._edit(clip, "tags", cleaned)
        return cleaned

    def set_note(self, clip: str, text: str) -> str:
        """Replace the note of ``clip`` (surrounding whitespace trimmed); saved at once."""
        if not isinstance(text, str):
            raise ValueError(f"a note must be text, not {type(text).__name__}")
        text = text.strip()
        if len(text) > MAX_NOTE_LENGTH:
            raise ValueError(f"the note is {len(text)} characters; keep notes under {MAX_NOTE_LENGTH}")
        self._edit(clip, "note", text)
        return text

    def _edit(self, clip: str, field: str, value) -> None:
        """Under the lock: re-read the file (other sessions' edits), change one field of one clip, write
        it atomically; this store then holds the merged content."""
        if not isinstance(clip, str) or not clip.strip():
            raise ValueError(f"a clip id must be a non-empty text, not {clip!r}")
        if not self.path.parent.is_dir():
            raise CurationFileError(f"{self.path.parent} is not a folder; cannot save tags in {self.path}")
        if not self.writable:
            raise CurationFileError(f"{self.path}: the tag file (or its folder) is read-only; make it writable, or "
                                    "move it beside the run to keep tags there")  # fmt: skip
        try:
            with _locked(self.path):
                current = TagStore.load(self.path)  # a broken file raises here: never overwritten
                entry = dict(current.clips.get(clip, {"tags": [], "note": ""}))
                entry[field] = value
                entry["updated"] = _now()
                if entry.get("tags") or entry.get("note"):
                    current.clips[clip] = entry
                else:  # nothing left to say about this clip
                    current.clips.pop(clip, None)
                _write_atomic(self.path, current.to_json())
        except PermissionError:
            raise CurationFileError(f"{self.path}: no permission to write the tag file; make the folder "
                                    "writable or keep the tags beside the run") from None  # fmt: skip
        self.clips, self._extra = current.clips, current._extra

    def to_json(self) -> str:
        data = {"format": FORMAT, "version": VERSION, **self._extra, "clips": self.clips}
        return json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n"

    def export(self, clips: Sequence[str], fmt: str, labels: Mapping[str, Sequence[str]] | None = None,
               provenance: Mapping[str, object] | None = None) -> str:  # fmt: skip
        return export_clips(self, clips, fmt, labels, provenance)


def export_clips(store: TagStore, clips: Sequence[str], fmt: str, labels: Mapping[str, Sequence[str]] | None = None,
                 provenance: Mapping[str, object] | None = None) -> str:  # fmt: skip
    """The clip list ``clips`` (in this order) as text:

    - "csv": ``#`` provenance lines (read with ``pandas.read_csv(path, comment="#")``), then
      clip, labels, tags, note (tags joined with "; ");
    - "json": {"provenance": {...}, "clips": [{"clip", "labels", "tags", "note"}, ...]};
    - "llp": the official weak-label CSV (``filename<TAB>event_labels``, labels comma-joined) of these
      clips: a split file for ``train --train-csv`` / ``--val-csv`` and ``evaluate --split-csv`` (no
      provenance lines: the official format has none). Needs ``labels`` (clip -> weak label names).
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    labels = labels or {}
    if fmt == "llp":
        missing = [c for c in clips if not labels.get(c)]
        if missing:
            raise ValueError(f"clip {missing[0]!r} has no weak labels to write ({len(missing)} such clips); an LLP "
                             "split CSV needs at least one label per clip")  # fmt: skip
        return "filename\tevent_labels\n" + "".join(f"{c}\t{','.join(labels[c])}\n" for c in clips)
    rows = [{"clip": c, "labels": list(labels.get(c, [])), "tags": store.tags(c), "note": store.note(c)} for c in clips]
    if fmt == "json":
        return json.dumps({"provenance": dict(provenance or {}), "clips": rows}, indent=1, ensure_ascii=False) + "\n"
    out = io.StringIO()
    for key, value in (provenance or {}).items():
        out.write(f"# {key}: {' '.join(str(value).split())}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["clip", "labels", "tags", "note"])
    for row in rows:
        writer.writerow([row["clip"], ",".join(row["labels"]), "; ".join(row["tags"]), row["note"]])
    return out.getvalue()

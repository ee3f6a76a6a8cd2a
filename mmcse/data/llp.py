"""LLP annotation files: weak labels, dense labels rasterised exactly as the official AVVP code does.

All LLP CSVs are TAB-separated with a header (avvp_protocol.md §2):
  split / full CSVs:  filename <TAB> event_labels          (labels comma-joined, e.g. "Speech,Dog")
  dense audio/visual: filename <TAB> onset <TAB> offset <TAB> event_labels   (one class a row)

Dense rasterisation follows the official eval code line by line: rows are matched by the exact full
filename, then for each row ``grid[class, int(onset):int(offset)] = 1`` (numpy slice semantics, so a row
with onset >= offset, like the reversed "9 0", adds nothing), rows OR-ed. Rows whose filename is in no
requested list (typos, truncated ids) are never looked at, as in the official code.

What the official code does silently is kept (the numbers stay official) but warned (LLPDataWarning, one
line each, naming the file and line): reversed or negative rows, rows past the 10 segments, a clip listed
twice, a split clip with no dense row at all (a typo, a trailing space: scored as having no events), a
dense CSV with a header and no rows.

Errors name the file, the line as an editor shows it (1-based, the header is line 1) and what was expected.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from mmcse.classes import CLASS_INDEX, LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS

SPLIT_FILES = {"train": "AVVP_train.csv", "val": "AVVP_val_pd.csv", "test": "AVVP_test_pd.csv"}
FULL_FILE = "AVVP_dataset_full.csv"
DENSE_VISUAL_FILE = "AVVP_eval_visual.csv"
DENSE_AUDIO_FILES = {"fixed": "AVVP_eval_audio.csv", "pre2024": "AVVP_eval_audio_pre2024.csv"}

WEAK_COLUMNS = ["filename", "event_labels"]
DENSE_COLUMNS = ["filename", "onset", "offset", "event_labels"]


# ----------------------------------------------------------------------------------------------------------
# paths


def split_csv(llp_dir: str | Path, split: str) -> Path:
    """Path of the weak-label CSV of a split: train | val | test."""
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown LLP split {split!r}; expected one of: {', '.join(SPLIT_FILES)}")
    return Path(llp_dir) / SPLIT_FILES[split]


def full_csv(llp_dir: str | Path) -> Path:
    """Path of AVVP_dataset_full.csv (all 11,849 clips with their weak labels)."""
    return Path(llp_dir) / FULL_FILE


def dense_csvs(llp_dir: str | Path, audio_gt: str = "fixed") -> tuple[Path, Path]:
    """(audio_csv, visual_csv) dense GT paths. ``audio_gt``: "fixed" (2024 fix, default) or "pre2024"."""
    if audio_gt not in DENSE_AUDIO_FILES:
        raise ValueError(f"unknown audio GT {audio_gt!r}; expected one of: {', '.join(DENSE_AUDIO_FILES)}")
    return Path(llp_dir) / DENSE_AUDIO_FILES[audio_gt], Path(llp_dir) / DENSE_VISUAL_FILE


def read_clips_by_id(csv_path: str | Path) -> tuple[list[str], np.ndarray]:
    """A split CSV read for writing one file per clip id (extract, pseudo-label): (filenames, labels uint8
    (N, 25)), one row per 11-character id. A row repeated as it is counts once; two rows of one id that
    differ (another time window, other labels) are a ValueError naming both lines, since one <id>.npy
    would replace the other; so is a CSV without rows."""
    path = Path(csv_path)
    with warnings.catch_warnings():  # the "counts twice" warning: here a repeat is handled below
        warnings.filterwarnings("ignore", message=".* is listed again", category=LLPDataWarning)
        filenames, labels, lines = read_weak_rows(path)
    if not filenames:
        raise ValueError(f"{path} lists no clips; expected at least one row under the header")
    first: dict[str, int] = {}
    keep = []
    for i, name in enumerate(filenames):
        j = first.setdefault(name[:11], i)
        if j == i:
            keep.append(i)
        elif filenames[j] != name or not np.array_equal(labels[j], labels[i]):
            what = (f"clips {filenames[j]} and {name} share the id {name[:11]!r}" if filenames[j] != name
                    else f"clip {name} is listed again with other labels")  # fmt: skip
            raise ValueError(
                f"{path}:{lines[i]}: {what} (first on line {lines[j]}); files are written per id (<id>.npy), so "
                "one row would replace the other: keep one row per id"
            )
    return [filenames[i] for i in keep], labels[keep]


def video_id(filename: str) -> str:
    """The 11-character YouTube id that keys feature files. Ids contain '_' and '-': never split."""
    if len(filename) < 11:
        raise ValueError(f"LLP filename {filename!r} is shorter than an 11-character YouTube id")
    return filename[:11]


# ----------------------------------------------------------------------------------------------------------
# reading


def _read_table(path: str | Path, columns: list[str]):
    """Read a TAB-separated LLP CSV with pandas as the official code does (header=0, sep='\\t').

    Returns (DataFrame, line_numbers) where line_numbers[i] is the 1-based line of row i in the file.
    """
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected a TAB-separated LLP annotation file (.csv)")
    if not path.is_file():
        raise FileNotFoundError(f"LLP annotation file not found: {path}")
    try:
        # skip_blank_lines=False keeps row i on line i + 2; blank lines are dropped below (pandas' default
        # would drop them too, but then line numbers would drift).
        df = pd.read_csv(path, header=0, sep="\t", skip_blank_lines=False, dtype={"filename": str})
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path}: the file is empty; expected a TAB-separated header {'<TAB>'.join(columns)}"
        ) from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path}: not a TAB-separated LLP CSV ({exc})") from None
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    header = [str(c) for c in df.columns]
    if header != columns:
        hint = ""
        if len(header) == 1 and ("," in header[0] or ";" in header[0]):
            hint = " (the file looks comma/semicolon-separated; LLP CSVs are TAB-separated)"
        raise ValueError(
            f"{path}:1: header has columns {header}, expected the TAB-separated columns {columns}{hint}"
        )
    line_numbers = np.arange(len(df)) + 2
    blank = df.isna().all(axis=1).to_numpy()
    if blank.any():
        df = df[~blank].reset_index(drop=True)
        line_numbers = line_numbers[~blank]
    for col in columns:
        missing = df[col].isna().to_numpy()
        if missing.any():
            line = int(line_numbers[np.argmax(missing)])
            raise ValueError(
                f"{path}:{line}: empty {col!r} cell; expected {'<TAB>'.join(columns)} on every row"
            )
    return df, line_numbers


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> ValueError:
    """One line naming the file, the line and the byte that is not UTF-8, and what to do."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        line, byte = 1, exc.object[exc.start : exc.start + 1]
    except UnicodeDecodeError as full:  # pandas decodes in chunks: find the byte in the whole file
        line, byte = data.count(b"\n", 0, full.start) + 1, data[full.start : full.start + 1]
    return ValueError(
        f"{path}:{line}: not UTF-8 text (byte 0x{byte.hex()} cannot be decoded); LLP CSVs are UTF-8: "
        "re-save the file as UTF-8 (e.g. 'iconv -f latin1 -t utf-8', or 'Save as... UTF-8' in a spreadsheet)"
    )


class LLPDataWarning(UserWarning):
    """An annotation row kept or ignored exactly as the official evaluation does, but worth knowing about
    (an onset after its offset, a negative onset, a row past the 10 segments, a clip listed twice in a
    split, a clip with no dense row, a dense file without rows). One line each."""


warnings.simplefilter("always", LLPDataWarning)  # every row is its own warning, not just the first


def _class_of(name: str, path: Path, line: int) -> int:
    try:
        return CLASS_INDEX[name]
    except KeyError:
        raise ValueError(
            f"{path}:{line}: unknown LLP class {name!r}; expected one of: {', '.join(LLP_CLASSES)}"
        ) from None


def read_weak_labels(csv_path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read a split CSV (filename, event_labels) -> (filenames, labels uint8 (N, 25)).

    Labels are comma-joined class names; a repeated label ("Clapping,Clapping") counts once.
    """
    filenames, labels, _ = read_weak_rows(csv_path)
    return filenames, labels


def read_weak_rows(csv_path: str | Path) -> tuple[list[str], np.ndarray, list[int]]:
    """``read_weak_labels`` plus the line of each row in the file (1-based, the header is line 1)."""
    path = Path(csv_path)
    df, lines = _read_table(path, WEAK_COLUMNS)
    filenames = [str(f) for f in df["filename"]]
    first_line: dict[str, int] = {}
    for f, line in zip(filenames, lines):
        if f in first_line:
            warnings.warn(
                f"{path}:{int(line)}: clip {f} is listed again (first on line {first_line[f]}); it counts twice "
                "(scored or trained on twice, as the official code does); remove the duplicate row to count it once",
                LLPDataWarning, stacklevel=4,
            )  # fmt: skip
        first_line.setdefault(f, int(line))
    labels = np.zeros((len(df), NUM_CLASSES), dtype=np.uint8)  # (N, 25)
    for i, (text, line) in enumerate(zip(df["event_labels"], lines)):
        for name in str(text).split(","):
            labels[i, _class_of(name, path, int(line))] = 1
    return filenames, labels, [int(line) for line in lines]


def _to_int(value, column: str, path: Path, line: int) -> int:
    """int(value) as the official code does (truncates a float), with a clear error for text."""
    try:
        return int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(
            f"{path}:{line}: {column} {value!r} is not a number; expected a segment index 0..10"
        ) from None


def _rasterise(csv_path: str | Path, filenames: list[str], modality: str) -> tuple[np.ndarray, np.ndarray]:
    """One dense CSV -> (uint8 (N, 10, 25), bool (N,) whether the clip has a row) for the given filenames
    (rows matched by exact filename)."""
    path = Path(csv_path)
    df, lines = _read_table(path, DENSE_COLUMNS)
    if len(df) == 0:
        warnings.warn(
            f"{path}: the file has a header and no rows; every clip is scored as having no {modality} "
            "events; check the file",
            LLPDataWarning, stacklevel=4,
        )  # fmt: skip
    rows_of: dict[str, list[int]] = {}
    for f in filenames:
        rows_of.setdefault(f, [])
    for r, f in enumerate(df["filename"]):
        if f in rows_of:  # orphan rows (filenames in no requested list) are ignored
            rows_of[f].append(r)
    onsets, offsets, events = df["onset"].tolist(), df["offset"].tolist(), df["event_labels"].tolist()
    grid = np.zeros(
        (len(filenames), NUM_CLASSES, NUM_SEGMENTS), dtype=np.uint8
    )  # official: (25, 10) per clip
    for i, f in enumerate(filenames):
        for r in rows_of[f]:
            line = int(lines[r])
            c = _class_of(str(events[r]), path, line)
            x1 = _to_int(onsets[r], "onset", path, line)
            x2 = _to_int(offsets[r], "offset", path, line)
            if x1 > x2 or x1 < 0 or (x2 > NUM_SEGMENTS and x2 > x1):
                _warn_row(path, line, f, LLP_CLASSES[c], x1, x2)
            grid[i, c, x1:x2] = 1  # numpy slice, as the official code: onset >= offset adds nothing
    matched = np.array([bool(rows_of[f]) for f in filenames], dtype=bool)
    return np.ascontiguousarray(grid.transpose(0, 2, 1)), matched  # (N, 10, 25), (N,)


def _warn_row(path: Path, line: int, clip: str, label: str, onset: int, offset: int) -> None:
    segments = np.zeros(NUM_SEGMENTS, np.uint8)
    segments[onset:offset] = 1  # what the official slicing marks (numpy clips a slice past the end)
    marked = np.flatnonzero(segments).tolist()
    what = f"marks segments {marked[0]}-{marked[-1]}" if marked else "marks no segment"
    if onset > offset:
        problem = f"onset {onset} > offset {offset}"
    elif onset < 0:
        problem = f"negative onset {onset}"
    elif onset >= NUM_SEGMENTS:
        problem = f"onset {onset} is past the clip's {NUM_SEGMENTS} one-second segments (0-{NUM_SEGMENTS - 1})"
    else:
        problem = f"offset {offset} is past the clip's {NUM_SEGMENTS} one-second segments"
    warnings.warn(
        f"{path}:{line}: {label} in {clip}: {problem}; the row {what}, as in the official evaluation "
        "(the numbers stay official); fix the row to count it",
        LLPDataWarning, stacklevel=4,
    )  # fmt: skip


def read_dense_labels(
    audio_csv: str | Path,
    visual_csv: str | Path,
    filenames: list[str],
    split_csv: str | Path | None = None,
    split_lines: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Dense GT for ``filenames`` -> (gt_audio, gt_visual), each uint8 (N, 10, 25) (clip, segment, class).

    A clip with no row in either file is scored as having no events, as the official code does, with a
    warning naming it (``split_csv`` / ``split_lines``: where the clip is listed, for the message)."""
    filenames = [str(f) for f in filenames]
    gt_a, has_a = _rasterise(audio_csv, filenames, "audio")
    gt_v, has_v = _rasterise(visual_csv, filenames, "visual")
    _warn_unmatched(filenames, ~(has_a | has_v), Path(audio_csv), Path(visual_csv), split_csv, split_lines)
    return gt_a, gt_v


MAX_CLIP_WARNINGS = 5  # more clips without dense rows than this: one warning with the count


def _warn_unmatched(filenames, unmatched, audio_csv: Path, visual_csv: Path, split_csv, split_lines) -> None:
    """Warn about the clips (bool (N,) ``unmatched``) that have no row in either dense CSV."""
    where = np.flatnonzero(unmatched).tolist()
    if not where:
        return
    source = Path(split_csv).name if split_csv is not None else None
    files = f"{audio_csv.name} or {visual_csv.name}" if audio_csv != visual_csv else audio_csv.name

    def place(i: int) -> str:
        if source is None:
            return ""
        return f" in {source} line {split_lines[i]}" if split_lines is not None else f" in {source}"

    def hint(i: int) -> str:
        name = filenames[i]
        return " (its name has leading/trailing spaces: remove them)" if name != name.strip() else ""

    if len(where) <= MAX_CLIP_WARNINGS:
        for i in where:
            warnings.warn(
                f"clip {filenames[i]!r}{place(i)} has no row in {files}{hint(i)}: scored as having no events",
                LLPDataWarning, stacklevel=3,
            )  # fmt: skip
        return
    first = ", ".join(f"{filenames[i]!r}{place(i)}{hint(i)}" for i in where[:3])
    of = "" if source is None else f" of {source}"
    warnings.warn(
        f"{len(where)} of the {len(filenames)} clips{of} have no row in {files} (first: {first}): scored as "
        "having no events; check that the dense CSVs belong to this split",
        LLPDataWarning, stacklevel=3,
    )  # fmt: skip


def read_split(llp_dir: str | Path, split: str, audio_gt: str = "fixed") -> dict:
    """Everything the annotations say about a split.

    Returns {"filenames": list[str], "video_ids": list[str], "label": uint8 (N, 25),
    "gt_audio"/"gt_visual": uint8 (N, 10, 25) or None for train (weak labels only), "audio_gt": str}.
    """
    csv = split_csv(llp_dir, split)
    filenames, labels, lines = read_weak_rows(csv)
    gt_a = gt_v = None
    if split != "train":
        audio_csv, visual_csv = dense_csvs(llp_dir, audio_gt)
        gt_a, gt_v = read_dense_labels(audio_csv, visual_csv, filenames, csv, lines)
    return {
        "filenames": filenames,
        "video_ids": [video_id(f) for f in filenames],
        "label": labels,
        "gt_audio": gt_a,
        "gt_visual": gt_v,
        "audio_gt": audio_gt,
    }

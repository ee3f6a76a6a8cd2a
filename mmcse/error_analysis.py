"""What went wrong, event by event, in the vocabulary of sound event detection (sed_eval, PSDS).

An event is a maximal run of active segments of one class in one modality (audio or visual), as the
official AVVP event-level score cuts them. Every ground-truth event and every predicted event of a clip
gets one kind:

    correct        same class, same modality, same onset and offset
    boundary       matched one to one (same class and modality, overlapping), onset and / or offset off by
                   ``onset_error`` / ``offset_error`` seconds (prediction - GT: negative early, positive late)
    split          a GT event covered by several predicted events of its class and modality (and each of
                   those predictions); ``pieces``: how many
    merged         a predicted event covering several GT events of its class and modality (and each of
                   those GT events); ``pieces``: how many
    wrong_modality no match in its modality, but the same class overlaps in the other one (heard predicted
                   as seen, or seen as heard)
    substitution   no match of its class in either modality, but another class overlaps in its modality
                   where that class is itself an error (``other_class``: the class predicted instead, or the
                   missed class a false positive stands in for; among several, the longest)
    missed         a GT event nothing overlaps
    inserted       a predicted event nothing overlaps

    errors = classify_events(pred_a, pred_v, gt_a, gt_v)            # (10, 25) 0/1 grids of one clip
    table = split_error_table(pred_a, pred_v, gt_a, gt_v, filenames)  # (N, 10, 25) grids -> DataFrame
    modality_confusion(pred_a, pred_v, gt_a, gt_v)                  # GT modality x predicted modality
    class_confusion(pred_a, pred_v, gt_a, gt_v)                     # GT class x predicted class

Segments are one second each, so times are in seconds. Only numpy and pandas; no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mmcse.classes import LLP_CLASSES

MODALITIES = ("audio", "visual")
KINDS = ("correct", "boundary", "split", "merged", "wrong_modality", "substitution", "missed", "inserted")


@dataclass(frozen=True)
class EventError:
    side: str  # "gt" (a ground-truth event) or "pred" (a predicted one)
    modality: str  # "audio" | "visual"
    label: str  # LLP class name
    onset: float  # seconds
    offset: float
    kind: str  # one of KINDS
    onset_error: float | None = None  # correct / boundary: predicted onset - GT onset (seconds; > 0: late)
    offset_error: float | None = None
    other_class: str | None = None  # substitution: the class predicted instead (or, for a prediction, there)
    pieces: int | None = None  # split / merged: how many events on the other side


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of 1s in a (10,) row; end exclusive."""
    padded = np.concatenate([[0], row.astype(np.int8), [0]])
    step = np.diff(padded)
    return list(zip(np.flatnonzero(step == 1).tolist(), np.flatnonzero(step == -1).tolist()))


def _overlaps(run: tuple[int, int], row: np.ndarray) -> bool:
    return bool(row[run[0] : run[1]].any())


def _grid(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.shape != (10, len(LLP_CLASSES)):
        raise ValueError(f"{name} has shape {x.shape}; expected (10, {len(LLP_CLASSES)}) (segment, class)")
    return x.astype(bool)


def classify_events(pred_a, pred_v, gt_a, gt_v) -> list[EventError]:
    """Every GT and predicted event of one clip with its kind (see the module docstring). Inputs: (10, 25)
    0/1 grids (segment, class) of predictions and ground truth per modality."""
    pred = {"audio": _grid(pred_a, "pred_a"), "visual": _grid(pred_v, "pred_v")}
    gt = {"audio": _grid(gt_a, "gt_a"), "visual": _grid(gt_v, "gt_v")}
    runs = {}  # (id of a grid, class) -> its runs, each column cut once; classes never active are skipped
    for grid in (*pred.values(), *gt.values()):
        for c in np.flatnonzero(grid.any(axis=0)):
            runs[id(grid), int(c)] = _runs(grid[:, c])
    out: list[EventError] = []
    for side, mine, theirs in (("gt", gt, pred), ("pred", pred, gt)):
        for m, modality in enumerate(MODALITIES):
            other_modality = MODALITIES[1 - m]
            for c in np.flatnonzero(mine[modality].any(axis=0)).tolist():
                for run in runs[id(mine[modality]), c]:
                    out.append(_classify(side, modality, other_modality, c, run, mine, theirs, runs))
    return out


def _classify(side, modality, other_modality, c, run, mine, theirs, runs) -> EventError:
    onset, offset = float(run[0]), float(run[1])
    base = {"side": side, "modality": modality, "label": LLP_CLASSES[c], "onset": onset, "offset": offset}
    matches = [r for r in runs.get((id(theirs[modality]), c), []) if r[0] < run[1] and run[0] < r[1]]
    if len(matches) > 1:  # one GT event cut into pieces (split), or one prediction over several (merged)
        return EventError(**base, kind="split" if side == "gt" else "merged", pieces=len(matches))
    if len(matches) == 1:
        other = matches[0]
        siblings = [r for r in runs[id(mine[modality]), c] if r[0] < other[1] and other[0] < r[1]]
        if len(siblings) > 1:  # the matching event also covers others of this side
            return EventError(**base, kind="merged" if side == "gt" else "split", pieces=len(siblings))
        gt_run, pred_run = (run, other) if side == "gt" else (other, run)
        errors = {"onset_error": float(pred_run[0] - gt_run[0]), "offset_error": float(pred_run[1] - gt_run[1])}
        return EventError(**base, kind="correct" if other == run else "boundary", **errors)
    if _overlaps(run, theirs[other_modality][:, c]):
        return EventError(**base, kind="wrong_modality")
    # the stand-in: another class that is itself an error where this event is (theirs active, mine not: a
    # false positive standing in for a missed GT class, or the missed GT class a false positive replaced);
    # among several, the one that is so for longest
    seg = slice(run[0], run[1])
    wrong = (theirs[modality][seg] & ~mine[modality][seg]).sum(axis=0)  # (25,) segments each class is an error
    wrong[c] = 0
    if wrong.any():
        best = int(np.argmax(wrong))  # the longest; among equals, the first class
        return EventError(**base, kind="substitution", other_class=LLP_CLASSES[best])
    return EventError(**base, kind="missed" if side == "gt" else "inserted")


def split_error_table(pred_a, pred_v, gt_a, gt_v, filenames) -> pd.DataFrame:
    """One row per GT and predicted event of every clip: filename, side, modality, label, onset, offset,
    kind, onset_error, offset_error, other_class, pieces. Inputs (N, 10, 25) grids, N filenames."""
    grids = [np.asarray(x) for x in (pred_a, pred_v, gt_a, gt_v)]
    if len({g.shape for g in grids}) != 1 or grids[0].ndim != 3 or len(filenames) != grids[0].shape[0]:
        raise ValueError(
            f"grids of shapes {[g.shape for g in grids]} for {len(filenames)} filenames; expected four (N, 10, 25) "
            "grids and N filenames"
        )
    rows = []
    for i, name in enumerate(filenames):
        for error in classify_events(*(g[i] for g in grids)):
            rows.append({"filename": name, **asdict(error)})
    columns = ["filename", *EventError.__dataclass_fields__]
    return pd.DataFrame(rows, columns=columns)


def clip_error_kinds(table: pd.DataFrame) -> pd.DataFrame:
    """Counts of each error kind per clip (rows: filename; columns: the kinds that are errors)."""
    errors = table[table["kind"] != "correct"]
    counts = errors.groupby(["filename", "kind"]).size().unstack(fill_value=0)
    return counts.reindex(columns=[k for k in KINDS if k != "correct"], fill_value=0)


MODALITY_ROWS = ("audio only", "visual only", "audio-visual")
MODALITY_COLUMNS = (*MODALITY_ROWS, "none")


def _modality_code(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per entry: 0 audio only, 1 visual only, 2 audio-visual, 3 none (the rows / columns of the confusion)."""
    return np.where(a & v, 2, np.where(a, 0, np.where(v, 1, 3)))


def modality_confusion(pred_a, pred_v, gt_a, gt_v) -> pd.DataFrame:
    """Segments counted by GT modality (rows: audio only, visual only, audio-visual) against the modality
    predicted for the same class in the same segment (columns: audio only, visual only, audio-visual,
    none). Inputs (N, 10, 25) or (10, 25) grids. The diagonal is right; "audio only" predicted for an
    "audio-visual" event is a seen event heard only, and so on."""
    pa, pv, ga, gv = (np.asarray(x, bool).reshape(-1, len(LLP_CLASSES)) for x in (pred_a, pred_v, gt_a, gt_v))
    g, p = _modality_code(ga, gv), _modality_code(pa, pv)
    matrix = np.zeros((3, 4), dtype=np.int64)
    active = g < 3
    np.add.at(matrix, (g[active], p[active]), 1)
    return pd.DataFrame(matrix, index=list(MODALITY_ROWS), columns=list(MODALITY_COLUMNS))


def class_confusion(pred_a, pred_v, gt_a, gt_v) -> pd.DataFrame:
    """Per modality and segment, each GT-active class counted against what was predicted there: its own
    class (the diagonal) when predicted, else every other class predicted in that segment and modality,
    else "nothing". Rows: the 25 GT classes; columns: the 25 classes and "nothing". Inputs (N, 10, 25)
    or (10, 25) grids."""
    k = len(LLP_CLASSES)
    matrix = np.zeros((k, k + 1), dtype=np.int64)
    for pred, gt in ((pred_a, gt_a), (pred_v, gt_v)):
        p, g = (np.asarray(x, bool).reshape(-1, k) for x in (pred, gt))
        hit = g & p
        matrix[np.arange(k), np.arange(k)] += hit.sum(axis=0)
        missed = g & ~p  # (S, K): a GT class not predicted in that segment
        others = p[:, None, :] & missed[:, :, None]  # (S, K_gt, K_pred): what stood there instead
        others[:, np.arange(k), np.arange(k)] = False
        matrix[:, :k] += others.sum(axis=0)
        matrix[:, k] += (missed & ~others.any(axis=2)).sum(axis=0)
    return pd.DataFrame(matrix, index=list(LLP_CLASSES), columns=[*LLP_CLASSES, "nothing"])


# ----------------------------------------------------------------------------- for the app's tables and filters

KIND_NAMES = {  # kind -> the words the app shows (sed_eval / PSDS vocabulary)
    "correct": "correct",
    "boundary": "boundary",
    "split": "split",
    "merged": "merged",
    "wrong_modality": "wrong modality",
    "substitution": "substitution",
    "missed": "missed",
    "inserted": "inserted",
}
ERROR_KINDS = tuple(k for k in KINDS if k != "correct")
KIND_LEGEND = (
    "boundary: matched, onset / offset off (s, + late) · split: one GT event cut into several predictions · "
    "merged: one prediction over several GT events · wrong modality: the class is in the other modality "
    "(heard predicted as seen) · substitution: another class instead · missed: nothing there · inserted: "
    "nothing annotated there"
)
GT_KINDS = tuple(k for k in KINDS if k != "inserted")  # the kinds a ground-truth event can have
PRED_KINDS = tuple(k for k in KINDS if k != "missed")  # the kinds a predicted event can have


def kind_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Events of each kind (rows: KINDS) in a ``split_error_table``, by side and modality (columns "audio GT",
    "audio predicted", "visual GT", "visual predicted"); a kind a side cannot have is 0 there."""
    columns = {f"{m} {'GT' if side == 'gt' else 'predicted'}": (side, m) for m in MODALITIES for side in ("gt", "pred")}
    out = pd.DataFrame(0, index=pd.Index(list(KINDS), name="kind"), columns=list(columns), dtype=np.int64)
    if len(table):
        counts = table.groupby(["side", "modality", "kind"]).size()
        for column, (side, m) in columns.items():
            for kind in KINDS:
                out.loc[kind, column] = int(counts.get((side, m, kind), 0))
    return out


def clips_with(table: pd.DataFrame, kind: str, labels=()) -> set[str]:
    """File names of the clips in a ``split_error_table`` with an event of ``kind`` (one of KINDS), of one of
    ``labels`` (class names) when any are given: "a missed Dog" is kind "missed", labels ("Dog",)."""
    if kind not in KINDS:
        raise ValueError(f"error kind must be one of {KINDS}, not {kind!r}")
    rows = table["kind"] == kind
    if len(labels):
        rows &= table["label"].isin(list(labels))
    return set(table.loc[rows, "filename"].astype(str))


def class_confusion_clips(pred_a, pred_v, gt_a, gt_v, gt_class: int, pred_class: int) -> list[int]:
    """Clips (indices) behind one cell of ``class_confusion``: a segment of one modality where ``gt_class`` is
    annotated and ``pred_class`` predicted (the diagonal: both the same class), or, for ``pred_class`` 25
    ("nothing"), where ``gt_class`` is annotated and no class it was missed for is predicted. Inputs
    (N, 10, 25) grids."""
    k = len(LLP_CLASSES)
    if not (0 <= gt_class < k and 0 <= pred_class <= k):
        raise ValueError(f"cell ({gt_class}, {pred_class}) is outside the {k} x {k + 1} class confusion")
    found = None
    for pred, gt in ((pred_a, gt_a), (pred_v, gt_v)):
        p, g = np.asarray(pred, bool), np.asarray(gt, bool)  # (N, 10, 25)
        annotated = g[..., gt_class]
        if pred_class == gt_class:
            hit = annotated & p[..., gt_class]
        else:
            missed = annotated & ~p[..., gt_class]  # (N, 10)
            if pred_class == k:
                hit = missed & ~(p & ~np.eye(k, dtype=bool)[gt_class]).any(axis=2)
            else:
                hit = missed & p[..., pred_class]
        found = hit.any(axis=1) if found is None else found | hit.any(axis=1)
    return np.flatnonzero(found).tolist()


def modality_confusion_clips(pred_a, pred_v, gt_a, gt_v, gt_modality: int, pred_modality: int) -> list[int]:
    """Clips (indices) behind one cell of ``modality_confusion``: a (segment, class) annotated in
    MODALITY_ROWS[gt_modality] and predicted in MODALITY_COLUMNS[pred_modality]. Inputs (N, 10, 25) grids."""
    if not (0 <= gt_modality < len(MODALITY_ROWS) and 0 <= pred_modality < len(MODALITY_COLUMNS)):
        raise ValueError(f"cell ({gt_modality}, {pred_modality}) is outside the 3 x 4 modality confusion")
    pa, pv, ga, gv = (np.asarray(x, bool) for x in (pred_a, pred_v, gt_a, gt_v))  # (N, 10, 25)
    hit = (_modality_code(ga, gv) == gt_modality) & (_modality_code(pa, pv) == pred_modality)
    return np.flatnonzero(hit.any(axis=(1, 2))).tolist()

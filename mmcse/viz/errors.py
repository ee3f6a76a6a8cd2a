"""Error analysis figures and tables (mmcse.error_analysis in, plotly / pandas out): one clip's events with
their kinds (as a table, and as the marks the timeline draws on its lanes), the split's counts of each kind,
the modality confusion and the class confusion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmcse.classes import LLP_CLASSES
from mmcse.error_analysis import GT_KINDS, KIND_LEGEND, KIND_NAMES, KINDS, PRED_KINDS, EventError
from mmcse.viz.theme import MODALITY_COLORS, NEUTRAL, legend_below

KIND_COLORS = {  # mid-luminance, readable on both themes; "correct" is the neutral grey
    "correct": NEUTRAL,
    "boundary": "#e0a100",
    "split": "#8f6ad9",
    "merged": "#5b8def",
    "wrong_modality": "#cc4f96",
    "substitution": "#d9480f",
    "missed": "#b5651d",
    "inserted": "#f08c00",
}
EVENT_COLUMNS = ("side", "class", "modality", "onset", "offset", "kind", "onset error", "offset error", "pieces",
                 "other class")  # fmt: skip


def event_error_table(errors: list[EventError]) -> pd.DataFrame:
    """One row per event of a clip (``error_analysis.classify_events``), GT events first then predicted ones,
    each by onset: side ("GT" / "predicted"), class, modality, onset, offset (s), kind (the app's words),
    onset / offset error (s, prediction - GT; only for a one-to-one match), pieces (split / merged), other
    class (substitution: the class predicted instead, or the one a prediction stands in for)."""
    rows = [
        {"side": "GT" if e.side == "gt" else "predicted", "class": e.label, "modality": e.modality, "onset": e.onset,
         "offset": e.offset, "kind": KIND_NAMES[e.kind], "onset error": e.onset_error, "offset error": e.offset_error,
         "pieces": e.pieces, "other class": e.other_class or ""}
        for e in sorted(errors, key=lambda e: (e.side != "gt", e.onset, e.modality, LLP_CLASSES.index(e.label)))
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    for column in ("onset error", "offset error", "pieces"):
        table[column] = pd.array(table[column], dtype="Float64" if "error" in column else "Int64")
    return table


def kind_color(kind_name: str) -> str:
    """The colour of a kind given by its name in the app ("wrong modality") or in the library ("wrong_modality")."""
    names = {v: k for k, v in KIND_NAMES.items()}
    return KIND_COLORS[names.get(kind_name, kind_name)]


def kind_descriptions() -> dict[str, str]:
    """Each kind (KINDS) -> what it means, in KIND_LEGEND's words ("split" -> "one GT event cut into several
    predictions")."""
    names = {v: k for k, v in KIND_NAMES.items()}
    out = {"correct": "same class, modality, onset and offset"}
    for part in KIND_LEGEND.split(" · "):
        name, _, text = part.partition(": ")
        out[names[name]] = text
    return {k: out[k] for k in KINDS}


SENSES = {"audio": "heard", "visual": "seen"}


def _kind_words(e: EventError, seg: float) -> tuple[str, str]:
    """(the short label drawn on an event's bar, the line that says its kind in full) of one event."""
    gt_side = e.side == "gt"
    if e.kind == "boundary":
        parts = [f"{edge} {err * seg:+g} s" for edge, err in (("onset", e.onset_error), ("offset", e.offset_error)) if err]
        return ", ".join(parts), f"boundary: {', '.join(parts)} (prediction - GT; + late)"
    if e.kind in ("split", "merged"):
        detail = {("split", True): f"cut into {e.pieces} predicted events",
                  ("split", False): f"one of {e.pieces} predicted events over one GT event",
                  ("merged", False): f"one predicted event over {e.pieces} GT events",
                  ("merged", True): f"one of {e.pieces} GT events under one predicted event"}[e.kind, gt_side]  # fmt: skip
        return f"{e.kind} ×{e.pieces}", f"{e.kind}: {detail}"
    if e.kind == "wrong_modality":
        other = "visual" if e.modality == "audio" else "audio"
        mine, theirs = ("GT", "predicted") if gt_side else ("predicted", "GT")
        return (f"wrong mod.: {'pred.' if gt_side else 'GT'} {other}",
                f"wrong modality: {mine} {e.modality} ({SENSES[e.modality]}), {theirs} {other} ({SENSES[other]})")  # fmt: skip
    if e.kind == "substitution":
        if gt_side:
            return f"subst.: pred. {e.other_class}", f"substitution: GT {e.label}, predicted {e.other_class}"
        return f"subst.: GT {e.other_class}", f"substitution: predicted {e.label}, GT {e.other_class}"
    if e.kind == "missed":
        return "missed", "missed: nothing predicted there"
    if e.kind == "inserted":
        return "inserted", "inserted: nothing annotated there"
    return "", "correct: same onset and offset as " + ("the prediction" if gt_side else "the GT event")


def lane_event_kinds(errors: list[EventError], segment_seconds: float = 1.0) -> dict[tuple[str, str], list[dict]]:
    """The events of a clip (``error_analysis.classify_events``) as the timeline draws them on its lanes:
    (modality, class name) -> one dict per event, GT and predicted: side ("gt" / "pred"), onset, offset
    (s), kind (KINDS), name (the app's words), text (the short label on its bar: "onset +1 s", "subst.: GT
    Cat"), title (its tooltip: where it is, then its kind in full: "substitution: predicted Dog, GT Cat"),
    and the raw onset_error / offset_error (s), other_class, pieces."""
    seg = float(segment_seconds)
    lanes: dict[tuple[str, str], list[dict]] = {}
    for e in errors:
        text, detail = _kind_words(e, seg)
        onset, offset = e.onset * seg, e.offset * seg
        where = f"{'GT' if e.side == 'gt' else 'predicted'} {e.label} ({e.modality}), {onset:g}-{offset:g} s"
        lanes.setdefault((e.modality, e.label), []).append({
            "side": e.side, "onset": onset, "offset": offset, "kind": e.kind, "name": KIND_NAMES[e.kind],
            "text": text, "title": f"{where}\n{detail}",
            "onset_error": None if e.onset_error is None else e.onset_error * seg,
            "offset_error": None if e.offset_error is None else e.offset_error * seg,
            "other_class": e.other_class, "pieces": e.pieces,
        })  # fmt: skip
    return lanes


def error_kind_bars(counts: pd.DataFrame, title: str = "") -> go.Figure:
    """Two panels, ground-truth events and predicted events, each with a bar per kind (the kinds that side
    can have) and modality. ``counts``: ``error_analysis.kind_counts`` (kinds x "audio GT", "audio
    predicted", "visual GT", "visual predicted")."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("ground-truth events", "predicted events"), horizontal_spacing=0.08)
    for col, (side, kinds) in enumerate((("GT", GT_KINDS), ("predicted", PRED_KINDS)), start=1):
        for modality in ("audio", "visual"):
            values = [int(counts.loc[k, f"{modality} {side}"]) for k in kinds]
            fig.add_bar(x=[KIND_NAMES[k] for k in kinds], y=values, name=modality, marker_color=MODALITY_COLORS[modality],
                        showlegend=col == 1, legendgroup=modality, text=values, textposition="outside",
                        hovertemplate=f"{modality} {side} events: %{{x}} %{{y}}<extra></extra>", row=1, col=col)  # fmt: skip
    fig.update_yaxes(title_text="events", rangemode="tozero")
    fig.update_xaxes(tickangle=-30)
    fig.update_layout(title=title, barmode="group", height=420, legend=legend_below(-0.32),
                      margin=dict(l=10, r=10, t=70, b=10))  # fmt: skip
    return fig


def _heatmap(m: np.ndarray, x: list[str], y: list[str], hover: str, colorscale: str = "Viridis") -> go.Heatmap:
    top = float(np.nanmax(m)) if np.isfinite(m).any() else 0.0
    return go.Heatmap(z=m, x=x, y=y, colorscale=colorscale, zmin=0, zmax=top or 1.0, colorbar=dict(thickness=12),
                      hovertemplate=hover)  # fmt: skip


def _cell_markers(fig: go.Figure, counts: np.ndarray, x: list[str], y: list[str], size: int) -> None:
    """One invisible marker per cell (customdata = [row, column, count]): they take the hover and the click
    from the heatmap, which plotly cannot select (``viz.clicked_cell`` reads the click)."""
    rows, cols = np.divmod(np.arange(len(y) * len(x)), len(x))
    fig.data[0].hoverinfo = "skip"
    fig.add_scatter(x=[x[c] for c in cols], y=[y[r] for r in rows], mode="markers", showlegend=False,
                    marker=dict(size=size, opacity=0, symbol="square"), customdata=np.stack([rows, cols, counts.ravel()], 1),
                    hovertemplate="GT %{y}, predicted %{x}: %{customdata[2]} segments<br>click: its clips<extra></extra>")  # fmt: skip
    fig.update_layout(clickmode="event+select", dragmode=False)


def modality_confusion_heatmap(matrix: pd.DataFrame, title: str = "", clickable: bool = False) -> go.Figure:
    """``error_analysis.modality_confusion`` (GT modality x predicted modality, segments) with the counts
    written in the cells; the diagonal is right. ``clickable``: a click selects a cell (``viz.clicked_cell``)."""
    m = matrix.to_numpy(float)
    x, y = [str(c) for c in matrix.columns], [str(r) for r in matrix.index]
    fig = go.Figure(_heatmap(m, x, y, "GT %{y}, predicted %{x}: %{z} segments<extra></extra>"))
    fig.data[0].update(text=matrix.to_numpy().astype(str), texttemplate="%{text}", textfont=dict(size=13))
    if clickable:
        _cell_markers(fig, m, x, y, 40)
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis=dict(title="predicted modality (same class, same segment)", range=[-0.5, len(x) - 0.5]),
                      yaxis=dict(title="GT modality", range=[len(y) - 0.5, -0.5]))  # fmt: skip
    return fig


def class_confusion_heatmap(matrix: pd.DataFrame, title: str = "", diagonal: bool = False, clickable: bool = False) -> go.Figure:
    """``error_analysis.class_confusion`` (25 GT classes x 25 predicted classes and "nothing", segments).
    Cells with no segment are blank; without ``diagonal`` the right predictions are too, so that the
    substitutions stand out. ``clickable``: one invisible marker per cell (customdata = [row, column,
    count]) so that a click selects it (``viz.clicked_cell``)."""
    counts = matrix.to_numpy(float)
    m = np.where(counts > 0, counts, np.nan)
    k = len(matrix.index)
    if not diagonal:
        m[np.arange(k), np.arange(k)] = np.nan
    x, y = [str(c) for c in matrix.columns], [str(r) for r in matrix.index]
    fig = go.Figure(_heatmap(m, x, y, "GT %{y}, predicted %{x}: %{z} segments<extra></extra>"))
    if clickable:
        _cell_markers(fig, counts, x, y, 12)
    labels = dict(tickfont=dict(size=10), tickmode="array", automargin=True)
    fig.update_layout(title=title, height=680, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis=dict(title="predicted instead (same segment and modality)", tickangle=-60, tickvals=x,
                                 range=[-0.5, len(x) - 0.5], **labels),
                      yaxis=dict(title="GT class", tickvals=y, range=[k - 0.5, -0.5], **labels))  # fmt: skip
    return fig

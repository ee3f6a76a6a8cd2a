"""One clip: the lanes of the synchronised timeline (data for assets/timeline.js), a static timeline figure
and the segment-probability heatmaps. Grids are (T, 25) with T one-second segments; segment probabilities
(T, 2, 25), index 0 audio, 1 visual."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmcse.classes import LLP_CLASSES
from mmcse.error_analysis import KIND_NAMES, classify_events
from mmcse.viz.errors import KIND_COLORS, kind_descriptions, lane_event_kinds
from mmcse.viz.theme import ERROR_COLORS, MODALITY_COLORS, NEUTRAL

MARK_COLOR = "#e6007e"  # heatmap markers: magenta reads on every viridis cell and on both themes
MARK_KEY = " (o ground truth, x predicted)"  # said in the title: no legend for the toolbar to cover


def mark_key(has_gt: bool, has_pred: bool) -> str:
    """The title's marker key, naming only the markers drawn."""
    parts = (["o ground truth"] if has_gt else []) + (["x predicted"] if has_pred else [])
    return f" ({', '.join(parts)})" if parts else ""


def runs_of(row: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of ones in a 0/1 vector as half-open [start, end) segment pairs."""
    row = np.asarray(row).astype(bool).astype(np.int8)
    edges = np.diff(np.concatenate([[0], row, [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def lane_classes(pred_a, pred_v, gt_a=None, gt_v=None, weak=None) -> list[int]:
    """Classes worth a lane: predicted or annotated anywhere in the clip (or in its weak labels), in class
    order. Arrays (T, 25)."""
    present = np.asarray(pred_a).any(0) | np.asarray(pred_v).any(0)
    for grid in (gt_a, gt_v):
        if grid is not None:
            present |= np.asarray(grid).any(0)
    if weak is not None:
        present |= np.asarray(weak).astype(bool)
    return [int(c) for c in np.flatnonzero(present)]


def _segment_states(pred: np.ndarray, gt: np.ndarray | None) -> list[str] | None:
    """Per segment "tp" / "fp" / "fn" / "" (true negative); None without GT."""
    if gt is None:
        return None
    names = np.array(["", "fn", "fp", "tp"])  # index = 2 * pred + gt
    return names[2 * pred.astype(int) + gt.astype(int)].tolist()


def _seconds(runs: list[tuple[int, int]], seg: float) -> list[list[float]]:
    return [[s * seg, e * seg] for s, e in runs]


def timeline_data(
    pred_a: np.ndarray,
    pred_v: np.ndarray,
    segment_prob: np.ndarray,
    gt_a: np.ndarray | None = None,
    gt_v: np.ndarray | None = None,
    classes: Sequence[int] | None = None,
    segment_seconds: float = 1.0,
    segment_threshold: float | None = None,
) -> dict:
    """The JSON-able lanes of the synchronised timeline: for each modality (audio, visual, audio-visual) and
    each shown class, predicted and ground-truth runs in seconds, per-segment probabilities and, with GT,
    per-segment "tp" / "fp" / "fn" states and, on the audio and visual lanes, every GT and predicted event
    with its error kind (``kinds``: ``viz.errors.lane_event_kinds`` of ``error_analysis.classify_events``;
    None without GT and on the audio-visual lanes, whose events the event-level score does not classify).
    pred_* / gt_*: (T, 25) 0/1 (with GT, T = 10); segment_prob (T, 2, 25). AV = audio AND visual (its
    probability the minimum)."""
    pred_a = np.asarray(pred_a).astype(bool)
    pred_v = np.asarray(pred_v).astype(bool)
    prob = np.asarray(segment_prob, dtype=float)
    has_gt = gt_a is not None and gt_v is not None
    ga = np.asarray(gt_a).astype(bool) if gt_a is not None else None
    gv = np.asarray(gt_v).astype(bool) if gt_v is not None else None
    if classes is None:
        classes = lane_classes(pred_a, pred_v, gt_a, gt_v)
    grids = {
        "audio": (pred_a, ga, prob[:, 0]),
        "visual": (pred_v, gv, prob[:, 1]),
        "audio-visual": (pred_a & pred_v, ga & gv if has_gt else None, np.minimum(prob[:, 0], prob[:, 1])),
    }
    kinds = lane_event_kinds(classify_events(pred_a, pred_v, ga, gv), segment_seconds) if has_gt else None
    lanes = []
    for modality, (pred, gt, p) in grids.items():
        for c in classes:
            lanes.append({
                "modality": modality, "label": LLP_CLASSES[c], "class_index": int(c),
                "pred": _seconds(runs_of(pred[:, c]), segment_seconds),
                "gt": None if gt is None else _seconds(runs_of(gt[:, c]), segment_seconds),
                "states": _segment_states(pred[:, c], None if gt is None else gt[:, c]),
                "prob": [round(float(x), 4) for x in p[:, c]],
                "kinds": None if kinds is None or modality == "audio-visual" else kinds.get((modality, LLP_CLASSES[c]), []),
            })  # fmt: skip
    return {
        "duration": pred_a.shape[0] * segment_seconds,
        "segment_seconds": segment_seconds,
        "threshold": segment_threshold,
        "has_gt": has_gt,
        "lanes": lanes,
        "colors": {**MODALITY_COLORS, "fp": ERROR_COLORS["fp"], "fn": ERROR_COLORS["fn"]},
        "kind_legend": [{"kind": k, "name": KIND_NAMES[k], "text": text, "color": KIND_COLORS[k]}
                        for k, text in kind_descriptions().items()] if has_gt else None,
    }  # fmt: skip


def _lane_name(lane: dict) -> str:
    short = "AV" if lane["modality"] == "audio-visual" else lane["modality"][:1].upper()
    return f"{short} {lane['label']}"


def timeline_figure(data: dict, title: str = "", current_time: float | None = None) -> go.Figure:
    """A static plotly rendering of ``timeline_data``: one lane per (modality, class); predicted runs as thick
    bars, ground truth as a thin grey bar above them (grey reads on both themes)."""
    lanes = data["lanes"]
    fig = go.Figure()
    names = [_lane_name(lane) for lane in lanes]
    for i, lane in enumerate(lanes):
        color = data.get("colors", MODALITY_COLORS).get(lane["modality"], NEUTRAL)
        for start, end in lane["pred"]:
            fig.add_shape(type="rect", x0=start, x1=end, y0=i - 0.35, y1=i + 0.15, fillcolor=color, line_width=0, opacity=0.85)
        for start, end in lane["gt"] or []:
            fig.add_shape(type="rect", x0=start, x1=end, y0=i + 0.2, y1=i + 0.38, fillcolor=NEUTRAL, line_width=0)
    seg = data["segment_seconds"]
    xs, ys, texts = [], [], []  # invisible markers carry the hover text (segment probabilities)
    for i, lane in enumerate(lanes):
        for t, p in enumerate(lane["prob"]):
            xs.append((t + 0.5) * seg)
            ys.append(i)
            texts.append(f"{names[i]}<br>{t * seg:.0f}-{(t + 1) * seg:.0f} s: p={p:.2f}")
    fig.add_scatter(x=xs, y=ys, mode="markers", marker=dict(size=12, opacity=0), hovertext=texts, hoverinfo="text", showlegend=False)
    if current_time is not None:
        fig.add_vline(x=current_time, line_color="orange", line_width=2)
    fig.update_layout(
        title=title,
        xaxis=dict(range=[0, data["duration"]], title="time (s)", dtick=seg if data["duration"] <= 30 else None),
        yaxis=dict(tickvals=list(range(len(lanes))), ticktext=names, autorange="reversed", range=[-0.6, len(lanes) - 0.4]),
        height=max(160, 60 + 24 * len(lanes)),
        margin=dict(l=10, r=10, t=30 if title else 10, b=30),
        showlegend=False,
    )
    return fig


def _heatmap_traces(prob: np.ndarray, classes: list[int], gt, pred, show_legend: bool) -> list:
    """The heatmap of one modality (rows in class order, top to bottom as on the timeline) and its GT /
    prediction markers."""
    names = [LLP_CLASSES[c] for c in classes]
    traces = [go.Heatmap(z=prob[:, classes].T, x=np.arange(prob.shape[0]), y=names, zmin=0, zmax=1,
                         colorscale="Viridis", colorbar=dict(title="p", thickness=12),
                         hovertemplate="%{y}<br>segment %{x}<br>p=%{z:.3f}<extra></extra>")]  # fmt: skip
    for grid, symbol, label in ((gt, "circle-open", "ground truth"), (pred, "x-thin-open", "predicted")):
        if grid is None:
            continue
        t, c = np.nonzero(np.asarray(grid)[:, classes])
        traces.append(go.Scatter(x=t, y=[names[i] for i in c], mode="markers", name=label, legendgroup=label,
                                 showlegend=show_legend, hoverinfo="skip",
                                 marker=dict(symbol=symbol, size=12, color=MARK_COLOR, line=dict(width=2.5, color=MARK_COLOR))))  # fmt: skip
    return traces


def probability_heatmap(segment_prob, modality: str = "audio", gt=None, pred=None, classes=None, title: str = "") -> go.Figure:
    """Segment x class probabilities for one modality: segment_prob (T, 2, 25); gt / pred (T, 25) 0/1 drawn
    as markers (o = ground truth, x = predicted) over the cells. Rows top to bottom in class order."""
    prob = np.asarray(segment_prob, dtype=float)[:, {"audio": 0, "visual": 1}[modality]]  # (T, 25)
    classes = list(range(len(LLP_CLASSES))) if classes is None else list(classes)
    fig = go.Figure(_heatmap_traces(prob, classes, gt, pred, show_legend=False))
    fig.update_layout(
        title=title or f"{modality} segment probabilities{mark_key(gt is not None, pred is not None)}",
        xaxis=dict(title="segment (s)", dtick=1),
        yaxis=dict(autorange="reversed"),
        height=max(240, 110 + 18 * len(classes)),
        margin=dict(l=10, r=10, t=40, b=10),
    )
    return fig


def probability_heatmaps(segment_prob, gt_a=None, gt_v=None, pred_a=None, pred_v=None, classes=None) -> go.Figure:
    """Audio and visual heatmaps side by side in one figure (one class axis, one colour bar), so that at a
    narrow width both keep a readable size."""
    prob = np.asarray(segment_prob, dtype=float)
    classes = list(range(len(LLP_CLASSES))) if classes is None else list(classes)
    key = mark_key(gt_a is not None or gt_v is not None, pred_a is not None or pred_v is not None)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=(f"audio{key}", f"visual{key}"))  # fmt: skip
    for col, (index, gt, pred) in enumerate(((0, gt_a, pred_a), (1, gt_v, pred_v)), start=1):
        for trace in _heatmap_traces(prob[:, index], classes, gt, pred, show_legend=col == 1):
            if isinstance(trace, go.Heatmap) and col == 2:
                trace.showscale = False
            fig.add_trace(trace, row=1, col=col)
        fig.update_xaxes(title_text="segment (s)", dtick=1, row=1, col=col)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(260, 130 + 20 * len(classes)), margin=dict(l=10, r=10, t=30, b=10), showlegend=False)
    return fig

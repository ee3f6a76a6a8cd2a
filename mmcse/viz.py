"""Pure figure builders for the app: numpy / pandas in, plotly figures (or plain tables / dicts) out.

Nothing here touches files, models or streamlit, so every function is testable on small arrays.
Conventions: class axes follow ``LLP_CLASSES``; per-clip grids are (T, 25) with T one-second segments
(T = 10 for an LLP clip, a multiple of 10 for a long parsed video); segment probabilities are (T, 2, 25)
with index 0 audio, 1 visual.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mmcse.classes import LLP_CLASSES

METRIC_KEYS = (
    "seg_a",
    "seg_v",
    "seg_av",
    "seg_type",
    "seg_event",
    "evt_a",
    "evt_v",
    "evt_av",
    "evt_type",
    "evt_event",
)
METRIC_LABELS = {
    "seg_a": "Seg A",
    "seg_v": "Seg V",
    "seg_av": "Seg AV",
    "seg_type": "Seg Type@AV",
    "seg_event": "Seg Event@AV",
    "evt_a": "Evt A",
    "evt_v": "Evt V",
    "evt_av": "Evt AV",
    "evt_type": "Evt Type@AV",
    "evt_event": "Evt Event@AV",
}
MODALITY_NAMES = {"a": "audio", "v": "visual", "av": "audio-visual"}
MODALITY_COLORS = {
    "audio": "#1f77b4",
    "visual": "#2ca02c",
    "audio-visual": "#d62728",
    "background": "#7f7f7f",
}
MAP_NAMES = ("aa", "av", "vv", "va")
MAP_TITLES = {
    "aa": "audio -> audio",
    "av": "audio -> visual",
    "vv": "visual -> visual",
    "va": "visual -> audio",
}


# ----------------------------------------------------------------------------- the 10 numbers


def metrics_table(rows: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """One row per model / reference, the 10 AVVP numbers as columns (readable labels), values in percent."""
    table = pd.DataFrame(
        [[float(scores.get(k, np.nan)) for k in METRIC_KEYS] for scores in rows.values()],
        index=list(rows.keys()),
        columns=[METRIC_LABELS[k] for k in METRIC_KEYS],
    )
    table.index.name = "row"
    return table


def metrics_bar(rows: Mapping[str, Mapping[str, float]], title: str = "") -> go.Figure:
    """Grouped bars: the 10 numbers on x, one bar series per row (checkpoint or reference row)."""
    fig = go.Figure()
    labels = [METRIC_LABELS[k] for k in METRIC_KEYS]
    for name, scores in rows.items():
        values = [float(scores.get(k, np.nan)) for k in METRIC_KEYS]
        fig.add_bar(
            x=labels,
            y=values,
            name=name,
            text=[f"{v:.1f}" for v in values],
            textposition="outside",
        )
    fig.update_layout(
        barmode="group",
        title=title,
        yaxis=dict(title="score (%)", range=[0, 105]),
        legend=dict(orientation="h", y=-0.2),
        margin=dict(l=40, r=10, t=40 if title else 10, b=10),
        height=380,
    )
    return fig


def per_class_f_bar(per_class: Mapping[str, np.ndarray], title: str = "") -> go.Figure:
    """Per-class F (percent) by modality: ``per_class`` maps "a" / "v" / "av" to (25,) arrays; NaN for a class
    that never appears in prediction nor ground truth (drawn as a gap)."""
    fig = go.Figure()
    for key, values in per_class.items():
        name = MODALITY_NAMES.get(key, key)
        fig.add_bar(
            x=list(LLP_CLASSES),
            y=np.asarray(values, dtype=float),
            name=name,
            marker_color=MODALITY_COLORS.get(name),
        )
    fig.update_layout(
        barmode="group",
        title=title,
        yaxis=dict(title="F (%)", range=[0, 100]),
        xaxis=dict(tickangle=-45),
        legend=dict(orientation="h", y=1.08),
        margin=dict(l=40, r=10, t=40 if title else 20, b=10),
        height=380,
    )
    return fig


def per_class_delta(per_class_a: np.ndarray, per_class_b: np.ndarray) -> np.ndarray:
    """(25,) F of B minus F of A; a class missing on one side counts as 0 there, missing on both stays NaN."""
    a = np.asarray(per_class_a, dtype=float)
    b = np.asarray(per_class_b, dtype=float)
    delta = np.nan_to_num(b) - np.nan_to_num(a)
    delta[np.isnan(a) & np.isnan(b)] = np.nan
    return delta


def per_class_delta_bar(deltas: Mapping[str, np.ndarray], title: str = "") -> go.Figure:
    """Per-class F deltas, one series per comparison (e.g. "B - A"), green up, red down."""
    fig = go.Figure()
    for name, delta in deltas.items():
        delta = np.asarray(delta, dtype=float)
        fig.add_bar(
            x=list(LLP_CLASSES),
            y=delta,
            name=name,
            marker_color=["#2ca02c" if d >= 0 else "#d62728" for d in np.nan_to_num(delta)]
            if len(deltas) == 1
            else None,
        )
    fig.update_layout(
        barmode="group",
        title=title,
        yaxis=dict(title="delta F (points)", zeroline=True),
        xaxis=dict(tickangle=-45),
        margin=dict(l=40, r=10, t=40 if title else 20, b=10),
        height=360,
    )
    return fig


# ----------------------------------------------------------------------------- one clip


def runs_of(row: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of ones in a 0/1 vector as half-open [start, end) segment pairs."""
    row = np.asarray(row).astype(bool).astype(np.int8)
    edges = np.diff(np.concatenate([[0], row, [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def lane_classes(
    pred_a: np.ndarray,
    pred_v: np.ndarray,
    gt_a: np.ndarray | None = None,
    gt_v: np.ndarray | None = None,
    weak: np.ndarray | None = None,
) -> list[int]:
    """Classes worth a lane: predicted or annotated anywhere in the clip (or in its weak labels), in class
    order. Arrays (T, 25)."""
    present = np.asarray(pred_a).any(0) | np.asarray(pred_v).any(0)
    for grid in (gt_a, gt_v):
        if grid is not None:
            present |= np.asarray(grid).any(0)
    if weak is not None:
        present |= np.asarray(weak).astype(bool)
    return [int(c) for c in np.flatnonzero(present)]


def timeline_data(
    pred_a: np.ndarray,
    pred_v: np.ndarray,
    segment_prob: np.ndarray,
    gt_a: np.ndarray | None = None,
    gt_v: np.ndarray | None = None,
    classes: Sequence[int] | None = None,
    segment_seconds: float = 1.0,
) -> dict:
    """The JSON-able lanes of the synchronised timeline: for each modality (audio, visual, audio-visual) and
    each shown class, predicted runs and ground-truth runs in seconds plus per-segment probabilities.

    pred_* / gt_*: (T, 25) 0/1; segment_prob (T, 2, 25). AV = audio AND visual (its probability the minimum).
    """
    pred_a = np.asarray(pred_a).astype(bool)
    pred_v = np.asarray(pred_v).astype(bool)
    prob = np.asarray(segment_prob, dtype=float)
    num_segments = pred_a.shape[0]
    if classes is None:
        classes = lane_classes(pred_a, pred_v, gt_a, gt_v)
    grids = {
        "audio": (pred_a, None if gt_a is None else np.asarray(gt_a).astype(bool), prob[:, 0]),
        "visual": (pred_v, None if gt_v is None else np.asarray(gt_v).astype(bool), prob[:, 1]),
        "audio-visual": (
            pred_a & pred_v,
            None
            if gt_a is None or gt_v is None
            else np.asarray(gt_a).astype(bool) & np.asarray(gt_v).astype(bool),
            np.minimum(prob[:, 0], prob[:, 1]),
        ),
    }
    lanes = []
    for modality, (pred, gt, p) in grids.items():
        for c in classes:
            lanes.append(
                {
                    "modality": modality,
                    "label": LLP_CLASSES[c],
                    "class_index": int(c),
                    "pred": [[s * segment_seconds, e * segment_seconds] for s, e in runs_of(pred[:, c])],
                    "gt": None
                    if gt is None
                    else [[s * segment_seconds, e * segment_seconds] for s, e in runs_of(gt[:, c])],
                    "prob": [round(float(x), 4) for x in p[:, c]],
                }
            )
    return {
        "duration": num_segments * segment_seconds,
        "segment_seconds": segment_seconds,
        "has_gt": gt_a is not None and gt_v is not None,
        "lanes": lanes,
        "colors": MODALITY_COLORS,
    }


def timeline_figure(data: dict, title: str = "", current_time: float | None = None) -> go.Figure:
    """A static plotly rendering of ``timeline_data``: one lane per (modality, class); predicted runs as thick
    bars, ground truth as a thin black bar above them. Used for stacked comparisons and as a fallback."""
    lanes = data["lanes"]
    fig = go.Figure()
    names = [
        f"{lane['modality'][:1].upper() if lane['modality'] != 'audio-visual' else 'AV'} {lane['label']}"
        for lane in lanes
    ]
    for i, lane in enumerate(lanes):
        color = data.get("colors", MODALITY_COLORS).get(lane["modality"], "#444")
        for start, end in lane["pred"]:
            fig.add_shape(
                type="rect",
                x0=start,
                x1=end,
                y0=i - 0.35,
                y1=i + 0.15,
                fillcolor=color,
                line_width=0,
                opacity=0.85,
            )
        for start, end in lane["gt"] or []:
            fig.add_shape(
                type="rect", x0=start, x1=end, y0=i + 0.2, y1=i + 0.38, fillcolor="black", line_width=0
            )
    # invisible markers carry the hover text (segment probabilities)
    seg = data["segment_seconds"]
    xs, ys, texts = [], [], []
    for i, lane in enumerate(lanes):
        for t, p in enumerate(lane["prob"]):
            xs.append((t + 0.5) * seg)
            ys.append(i)
            texts.append(f"{names[i]}<br>{t * seg:.0f}-{(t + 1) * seg:.0f} s: p={p:.2f}")
    fig.add_scatter(
        x=xs,
        y=ys,
        mode="markers",
        marker=dict(size=12, opacity=0),
        hovertext=texts,
        hoverinfo="text",
        showlegend=False,
    )
    if current_time is not None:
        fig.add_vline(x=current_time, line_color="orange", line_width=2)
    fig.update_layout(
        title=title,
        xaxis=dict(
            range=[0, data["duration"]], title="time (s)", dtick=seg if data["duration"] <= 30 else None
        ),
        yaxis=dict(
            tickvals=list(range(len(lanes))),
            ticktext=names,
            autorange="reversed",
            range=[-0.6, len(lanes) - 0.4],
        ),
        height=max(160, 60 + 24 * len(lanes)),
        margin=dict(l=10, r=10, t=30 if title else 10, b=30),
        showlegend=False,
    )
    return fig


def probability_heatmap(
    segment_prob: np.ndarray,
    modality: str = "audio",
    gt: np.ndarray | None = None,
    pred: np.ndarray | None = None,
    classes: Sequence[int] | None = None,
    title: str = "",
) -> go.Figure:
    """Segment x class probabilities for one modality: segment_prob (T, 2, 25); gt / pred (T, 25) 0/1 drawn
    as markers (o = ground truth, x = predicted) over the cells."""
    index = {"audio": 0, "visual": 1}[modality]
    prob = np.asarray(segment_prob, dtype=float)[:, index]  # (T, 25)
    classes = list(range(len(LLP_CLASSES))) if classes is None else list(classes)
    names = [LLP_CLASSES[c] for c in classes]
    seconds = np.arange(prob.shape[0])
    fig = go.Figure(
        go.Heatmap(
            z=prob[:, classes].T,
            x=seconds,
            y=names,
            zmin=0,
            zmax=1,
            colorscale="Viridis",
            colorbar=dict(title="p"),
            hovertemplate="%{y}<br>segment %{x}<br>p=%{z:.3f}<extra></extra>",
        )
    )
    for grid, symbol, label in ((gt, "circle-open", "ground truth"), (pred, "x-thin-open", "predicted")):
        if grid is None:
            continue
        t, c = np.nonzero(np.asarray(grid)[:, classes])
        fig.add_scatter(
            x=t,
            y=[names[i] for i in c],
            mode="markers",
            name=label,
            marker=dict(symbol=symbol, size=11, color="white", line=dict(width=2, color="white")),
            hoverinfo="skip",
        )
    fig.update_layout(
        title=title or f"{modality} segment probabilities",
        xaxis=dict(title="segment (s)", dtick=1),
        height=max(220, 80 + 16 * len(classes)),
        margin=dict(l=10, r=10, t=40, b=30),
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


# ----------------------------------------------------------------------------- class-wise features


def tsne_figure(xy: np.ndarray, table: pd.DataFrame, color_by: str = "class", title: str = "") -> go.Figure:
    """Scatter of a 2-D embedding. ``table`` has one row per point with columns clip, segment, class,
    modality, active (bool: the class is in the GT at that segment, or None without GT). ``color_by`` is
    "class", "modality" or "active"."""
    if color_by not in ("class", "modality", "active"):
        raise ValueError(f"color_by must be class, modality or active, not {color_by!r}")
    xy = np.asarray(xy, dtype=float)
    if len(xy) != len(table):
        raise ValueError(f"{len(xy)} points but {len(table)} table rows")
    groups = (
        table[color_by].astype(str)
        if color_by != "active"
        else table["active"].map({True: "active in GT", False: "not active in GT"}).fillna("no GT")
    )
    hover = [
        f"{r.clip}<br>segment {r.segment}<br>{r['class']} ({r.modality})"
        for _, r in table[["clip", "segment", "class", "modality"]].iterrows()
    ]
    hover = np.asarray(hover, dtype=object)
    fig = go.Figure()
    for group in sorted(groups.unique()):
        mask = (groups == group).to_numpy()
        fig.add_scattergl(
            x=xy[mask, 0],
            y=xy[mask, 1],
            mode="markers",
            name=group,
            marker=dict(
                size=5, opacity=0.75, color=MODALITY_COLORS.get(group) if color_by == "modality" else None
            ),
            hovertext=hover[mask],
            hoverinfo="text",
        )
    fig.update_layout(
        title=title,
        xaxis=dict(showticklabels=False, title=""),
        yaxis=dict(showticklabels=False, title=""),
        height=600,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        legend=dict(itemsizing="constant"),
    )
    return fig


# ----------------------------------------------------------------------------- co-occurrence


def cooccurrence_heatmap(
    matrix: np.ndarray,
    title: str = "",
    diverging: bool = False,
    zmax: float | None = None,
    stretch: bool = False,
) -> go.Figure:
    """A 25 x 25 class map (rows = query class, columns = key class). ``diverging`` centres the colour scale at
    zero (for difference views); ``stretch`` spans the colours over the map's own range instead of 0..max
    (learned attention maps often sit close to uniform, 1/25, and their structure is otherwise invisible)."""
    m = np.asarray(matrix, dtype=float)
    if diverging:
        bound = zmax if zmax is not None else float(np.nanmax(np.abs(m))) or 1.0
        scale = dict(colorscale="RdBu_r", zmin=-bound, zmax=bound, zmid=0)
    else:
        top = zmax if zmax is not None else (float(np.nanmax(m)) or 1.0)
        low = float(np.nanmin(m)) if stretch else 0.0
        scale = dict(colorscale="Viridis", zmin=low if low < top else 0.0, zmax=top)
    fig = go.Figure(
        go.Heatmap(
            z=m,
            x=list(LLP_CLASSES),
            y=list(LLP_CLASSES),
            hovertemplate="%{y} -> %{x}<br>%{z:.4f}<extra></extra>",
            **scale,
        )
    )
    fig.update_layout(
        title=title,
        xaxis=dict(tickangle=-60, tickfont=dict(size=9), tickmode="array", tickvals=list(LLP_CLASSES)),
        yaxis=dict(autorange="reversed", tickfont=dict(size=9), tickmode="array", tickvals=list(LLP_CLASSES)),
        height=560,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
    )
    return fig


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows summing to 0 stay 0): turns counts into P(column | row)."""
    m = np.asarray(matrix, dtype=float)
    sums = m.sum(axis=1, keepdims=True)
    return np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)


def top_pairs(
    matrix: np.ndarray, k: int = 10, exclude_diagonal: bool = True, largest: bool = True
) -> pd.DataFrame:
    """The k strongest (row class, column class) entries of a 25 x 25 map, strongest first."""
    m = np.asarray(matrix, dtype=float).copy()
    if exclude_diagonal:
        np.fill_diagonal(m, np.nan)
    flat = m.ravel()
    valid = np.flatnonzero(~np.isnan(flat))
    order = valid[np.argsort(flat[valid], kind="stable")]
    if largest:
        order = order[::-1]
    order = order[:k]
    n = m.shape[1]
    return pd.DataFrame(
        {
            "row class": [LLP_CLASSES[i // n] for i in order],
            "column class": [LLP_CLASSES[i % n] for i in order],
            "value": flat[order],
        }
    )


def matrix_csv(matrix: np.ndarray) -> str:
    """A 25 x 25 map as CSV text with class names on both axes."""
    return pd.DataFrame(np.asarray(matrix), index=list(LLP_CLASSES), columns=list(LLP_CLASSES)).to_csv(
        float_format="%.6g"
    )


def matrix_png(matrix: np.ndarray, title: str = "", diverging: bool = False) -> bytes:
    """A 25 x 25 map rendered as PNG bytes with matplotlib (no browser or kaleido needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
    if diverging:
        bound = float(np.nanmax(np.abs(m))) or 1.0
        image = ax.imshow(m, cmap="RdBu_r", vmin=-bound, vmax=bound)
    else:
        image = ax.imshow(m, cmap="viridis")
    ax.set_xticks(range(len(LLP_CLASSES)), LLP_CLASSES, rotation=90, fontsize=7)
    ax.set_yticks(range(len(LLP_CLASSES)), LLP_CLASSES, fontsize=7)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()

"""The t-SNE scatter of class-wise features: a 25-colour class palette, marker shape by modality, and the
row of the point table in each point's customdata (for lasso selection -> clips)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mmcse.classes import LLP_CLASSES
from mmcse.viz.theme import CLASS_COLORS, MODALITY_COLORS, MODALITY_SYMBOLS, NEUTRAL

COLOR_BY = ("class", "modality", "active")
ACTIVE_COLORS = {"active in GT": "#2b9e5a", "not active in GT": "#f08c00", "no GT": NEUTRAL}


def _groups(table: pd.DataFrame, color_by: str) -> pd.Series:
    if color_by == "active":
        return table["active"].map({True: "active in GT", False: "not active in GT"}).fillna("no GT").astype(str)
    return table[color_by].astype(str)


def _group_order(groups: pd.Series, color_by: str) -> list[str]:
    present = set(groups.unique())
    if color_by == "class":  # official class order, background last
        return [c for c in (*LLP_CLASSES, "background") if c in present] + sorted(present - set(LLP_CLASSES) - {"background"})
    return sorted(present)


def _colour(group: str, color_by: str) -> str | None:
    palette = {"class": CLASS_COLORS, "modality": MODALITY_COLORS, "active": ACTIVE_COLORS}[color_by]
    return palette.get(group)


def tsne_figure(xy: np.ndarray, table: pd.DataFrame, color_by: str = "class", title: str = "") -> go.Figure:
    """Scatter of a 2-D embedding. ``table`` has one row per point with columns clip, segment, class,
    modality, active (bool: the class is in the GT at that segment, or None without GT). ``color_by`` is
    "class" (25 colours), "modality" or "active"; the marker shape always shows the modality (circle audio,
    diamond visual). Each point's customdata is its row in ``table``."""
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be class, modality or active, not {color_by!r}")
    xy = np.asarray(xy, dtype=float)
    if len(xy) != len(table):
        raise ValueError(f"{len(xy)} points but {len(table)} table rows")
    groups = _groups(table, color_by)
    clips = table["clip"].astype(str).to_numpy()  # a column, never the DataFrame.clip method
    hover = np.asarray([f"{c}<br>segment {s}<br>{k} ({m})" for c, s, k, m in
                        zip(clips, table["segment"], table["class"], table["modality"])], dtype=object)  # fmt: skip
    symbols = table["modality"].map(MODALITY_SYMBOLS).fillna("circle").to_numpy()
    rows = np.arange(len(table))
    fig = go.Figure()
    for group in _group_order(groups, color_by):
        mask = (groups == group).to_numpy()
        fig.add_scattergl(
            x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=group, customdata=rows[mask],
            marker=dict(size=6, opacity=0.8, color=_colour(group, color_by), symbol=symbols[mask]),
            hovertext=hover[mask], hoverinfo="text",
        )  # fmt: skip
    fig.update_layout(
        title=title,
        xaxis=dict(showticklabels=False, title=""),
        yaxis=dict(showticklabels=False, title=""),
        height=640,
        margin=dict(l=10, r=10, t=50, b=10),  # the toolbar sits in the top margin, above the legend
        legend=dict(itemsizing="constant", font=dict(size=11), yanchor="top", y=1),
        dragmode="lasso",
    )
    return fig


def selected_rows(selection: dict | None) -> list[int]:
    """Rows of the point table picked by a plotly selection (Streamlit's ``event.selection``): the
    customdata of each selected point, in the order given, without repeats."""
    points = (selection or {}).get("points") or []
    rows = []
    for point in points:
        value = point.get("customdata")
        if isinstance(value, dict):  # a row of a 2-D customdata, as Streamlit passes it
            value = [value[k] for k in sorted(value, key=int)]
        value = value[0] if isinstance(value, list | tuple) and value else value
        if isinstance(value, int | float | np.integer) and int(value) not in rows:
            rows.append(int(value))
    return rows

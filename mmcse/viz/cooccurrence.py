"""25 x 25 class maps (rows = query class, columns = key class): heatmaps with readable labels, the lift over
a uniform row, top pairs, and CSV / PNG / SVG export (matplotlib: no browser or kaleido needed)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mmcse.classes import LLP_CLASSES, NUM_CLASSES

SHORT_NAMES = tuple(LLP_CLASSES)  # the official names, written as everywhere else in the app and the exports


def lift_over_uniform(matrix: np.ndarray) -> np.ndarray:
    """log2 of each entry over a uniform row (1/25): 0 = what a flat attention row gives, +1 = twice it.
    Zero entries stay -inf-free (clipped at 1e-6 first)."""
    m = np.asarray(matrix, dtype=float)
    return np.log2(np.clip(m, 1e-6, None) * NUM_CLASSES)


def _scale(m: np.ndarray, diverging: bool, zmax: float | None, stretch: bool) -> dict:
    if diverging:
        bound = zmax if zmax is not None else float(np.nanmax(np.abs(m))) or 1.0
        return dict(colorscale="RdBu_r", zmin=-bound, zmax=bound, zmid=0)
    top = zmax if zmax is not None else (float(np.nanmax(m)) or 1.0)
    low = float(np.nanmin(m)) if stretch else 0.0
    return dict(colorscale="Viridis", zmin=low if low < top else 0.0, zmax=top)


def cooccurrence_heatmap(
    matrix: np.ndarray,
    title: str = "",
    diverging: bool = False,
    zmax: float | None = None,
    stretch: bool = False,
    clickable: bool = False,
    value_name: str = "value",
) -> go.Figure:
    """A 25 x 25 class map. ``diverging`` centres the colour scale at zero (differences, log lift);
    ``stretch`` spans the colours over the map's own range instead of 0..max. ``clickable`` lays one
    invisible marker on every cell (customdata = [row, column]) so that a click selects the cell."""
    m = np.asarray(matrix, dtype=float)
    fig = go.Figure(go.Heatmap(z=m, x=list(SHORT_NAMES), y=list(SHORT_NAMES), colorbar=dict(thickness=12),
                               hovertemplate=f"%{{y}} -> %{{x}}<br>{value_name} %{{z:.4f}}<extra></extra>",
                               **_scale(m, diverging, zmax, stretch)))  # fmt: skip
    if clickable:  # the markers take the hover (and so the click) from the heatmap, which plotly cannot select
        rows, cols = np.divmod(np.arange(NUM_CLASSES * NUM_CLASSES), NUM_CLASSES)
        fig.data[0].hoverinfo = "skip"
        fig.add_scatter(x=[SHORT_NAMES[c] for c in cols], y=[SHORT_NAMES[r] for r in rows], mode="markers",
                        marker=dict(size=14, opacity=0, symbol="square"), showlegend=False,
                        customdata=np.stack([rows, cols, m.ravel()], 1),
                        hovertemplate=f"%{{y}} -> %{{x}}<br>{value_name} %{{customdata[2]:.4f}}<br>click: its clips<extra></extra>")  # fmt: skip
    labels = dict(tickfont=dict(size=10), tickmode="array", tickvals=list(SHORT_NAMES), automargin=True)
    fig.update_layout(
        title=title,
        xaxis=dict(tickangle=-60, range=[-0.5, NUM_CLASSES - 0.5], **labels),  # fixed: the markers add no padding
        yaxis=dict(range=[NUM_CLASSES - 0.5, -0.5], **labels),  # first class at the top
        height=660,
        margin=dict(l=10, r=10, t=50, b=10),
        clickmode="event+select",
        dragmode=False,
    )
    return fig


def clicked_cell(selection: dict | None) -> tuple[int, int] | None:
    """(row class, column class) of the cell a click selected on a ``clickable`` heatmap, else None."""
    for point in (selection or {}).get("points") or []:
        value = point.get("customdata")
        if isinstance(value, dict):  # Streamlit passes a row of a 2-D customdata as {"0": .., "1": ..}
            value = [value[k] for k in sorted(value, key=int)]
        if isinstance(value, list | tuple) and len(value) >= 2:
            return int(value[0]), int(value[1])
    return None


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows summing to 0 stay 0): turns counts into P(column | row)."""
    m = np.asarray(matrix, dtype=float)
    sums = m.sum(axis=1, keepdims=True)
    return np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)


def top_pairs(matrix: np.ndarray, k: int = 10, exclude_diagonal: bool = True, largest: bool = True) -> pd.DataFrame:
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
    return pd.DataFrame({
        "row class": [LLP_CLASSES[i // n] for i in order],
        "column class": [LLP_CLASSES[i % n] for i in order],
        "value": flat[order],
    })  # fmt: skip


def matrix_csv(matrix: np.ndarray) -> str:
    """A 25 x 25 map as CSV text with class names on both axes."""
    frame = pd.DataFrame(np.asarray(matrix), index=list(LLP_CLASSES), columns=list(LLP_CLASSES))
    return frame.to_csv(float_format="%.6g")


def matrix_image(matrix: np.ndarray, title: str = "", diverging: bool = False, image_format: str = "png") -> bytes:
    """A 25 x 25 map drawn with matplotlib as PNG or SVG bytes."""
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
    ax.set_xticks(range(NUM_CLASSES), SHORT_NAMES, rotation=90, fontsize=7)
    ax.set_yticks(range(NUM_CLASSES), SHORT_NAMES, fontsize=7)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=image_format)
    plt.close(fig)
    return buffer.getvalue()


def matrix_png(matrix: np.ndarray, title: str = "", diverging: bool = False) -> bytes:
    """`matrix_image` as PNG."""
    return matrix_image(matrix, title, diverging, "png")

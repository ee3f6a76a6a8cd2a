"""Figures and tables of scores: the 10 numbers, per-class F (0 apart from "not applicable"), labelled
deltas between two checkpoints with their paired bootstrap intervals."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mmcse.classes import LLP_CLASSES
from mmcse.viz.theme import (
    DOWN,
    METRIC_KEYS,
    METRIC_LABELS,
    MODALITY_COLORS,
    MODALITY_NAMES,
    NEUTRAL,
    UP,
    legend_below,
)


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
    """Grouped bars: the 10 numbers on x, one series per row. Values show on hover (labels on every bar
    overlap once there are more than two series)."""
    fig = go.Figure()
    labels = [METRIC_LABELS[k] for k in METRIC_KEYS]
    for name, scores in rows.items():
        values = [float(scores.get(k, np.nan)) for k in METRIC_KEYS]
        fig.add_bar(x=labels, y=values, name=name, hovertemplate=f"{name}<br>%{{x}}: %{{y:.2f}}<extra></extra>")
    # the legend sits in a bottom margin sized for its rows (in the figure's own coordinates), so that
    # neither the page nor a downloaded PNG / SVG cuts it, however many rows and long names there are
    legend_rows = len(rows)
    fig.update_layout(
        barmode="group",
        title=title,
        yaxis=dict(title="score (%)", range=[0, 100]),
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", xanchor="left", x=0, entrywidth=0.5,
                    entrywidthmode="fraction"),
        margin=dict(l=40, r=10, t=40 if title else 20, b=40 + 22 * ((legend_rows + 1) // 2)),
        height=380 + 22 * ((legend_rows + 1) // 2),
    )
    return fig


def per_class_f_bar(per_class: Mapping[str, np.ndarray], title: str = "") -> go.Figure:
    """Per-class F (percent) by modality: ``per_class`` maps "a" / "v" / "av" to (25,) arrays, NaN where a
    class is in neither prediction nor GT ("not applicable"). An F of 0 is marked "0" at the foot of its
    slot; "not applicable" is a faint hatched grey slot, so the two never look alike."""
    fig = go.Figure()
    for key, values in per_class.items():
        name = MODALITY_NAMES.get(key, key)
        values = np.asarray(values, dtype=float)
        fig.add_bar(
            x=list(LLP_CLASSES), y=values, name=name, offsetgroup=key, marker_color=MODALITY_COLORS.get(name),
            text=["0" if v == 0 else "" for v in values], textposition="outside", cliponaxis=False,
            hovertemplate=f"%{{x}} ({name}): F %{{y:.1f}}<extra></extra>",
        )  # fmt: skip
    for i, (key, values) in enumerate(per_class.items()):
        missing = np.isnan(np.asarray(values, dtype=float))
        fig.add_bar(
            x=list(LLP_CLASSES), y=np.where(missing, 100.0, np.nan), offsetgroup=key, name="n/a: not in GT nor predicted",
            legendgroup="n/a", showlegend=i == 0, marker=dict(color=NEUTRAL, opacity=0.18, pattern_shape="/"),
            hovertemplate=f"%{{x}} ({MODALITY_NAMES.get(key, key)}): not applicable<extra></extra>",
        )  # fmt: skip
    fig.update_layout(
        barmode="group",
        title=title,
        yaxis=dict(title="F (%)", range=[0, 105]),
        xaxis=dict(tickangle=-45),
        legend=legend_below(-0.45),
        margin=dict(l=40, r=10, t=40 if title else 20, b=10),
        height=440,
    )
    return fig


def per_class_delta(per_class_a: np.ndarray, per_class_b: np.ndarray) -> np.ndarray:
    """(25,) F of B minus F of A; a class missing on one side counts as 0 there, missing on both stays NaN."""
    a = np.asarray(per_class_a, dtype=float)
    b = np.asarray(per_class_b, dtype=float)
    delta = np.nan_to_num(b) - np.nan_to_num(a)
    delta[np.isnan(a) & np.isnan(b)] = np.nan
    return delta


def per_class_delta_bar(
    deltas: Mapping[str, np.ndarray],
    title: str = "",
    intervals: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> go.Figure:
    """Per-class F deltas in points, one series per comparison named like "B − A" (the legend says which
    minus which). With one series the bars are green where B is better, orange where worse. ``intervals``
    maps a series to its (low, high) 95% CI arrays, drawn as error bars."""
    fig = go.Figure()
    for name, delta in deltas.items():
        delta = np.asarray(delta, dtype=float)
        error = None
        if intervals and name in intervals:
            low, high = (np.asarray(x, dtype=float) for x in intervals[name])
            error = dict(type="data", array=np.nan_to_num(high - delta), arrayminus=np.nan_to_num(delta - low),
                         color=NEUTRAL, thickness=1.2)  # fmt: skip
        colours = [UP if d >= 0 else DOWN for d in np.nan_to_num(delta)] if len(deltas) == 1 else None
        fig.add_bar(x=list(LLP_CLASSES), y=delta, name=name, marker_color=colours, error_y=error, showlegend=True,
                    hovertemplate=f"%{{x}}: {name} = %{{y:+.1f}} points<extra></extra>")  # fmt: skip
    fig.update_layout(
        barmode="group",
        title=title,
        yaxis=dict(title="delta F (points)", zeroline=True),
        xaxis=dict(tickangle=-45),
        legend=legend_below(-0.45),
        margin=dict(l=40, r=10, t=50 if title else 20, b=10),
        height=420,
    )
    return fig


def format_p(p: float, n_resamples: int = 1000) -> str:
    """A permutation p-value as text: at the test's floor 1 / (R + 1) it says "< 0.001" (for R = 1,000), not a
    number that reads as exact."""
    import math

    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    floor = 1.0 / (n_resamples + 1)
    if p <= floor * (1 + 1e-9):
        return f"< {10.0 ** math.ceil(math.log10(floor)):g}"
    return f"{p:.3f}"


def paired_table(paired: Mapping[str, Mapping[str, float]], name_a: str, name_b: str) -> pd.DataFrame:
    """`mmcse.stats.paired_scores` output as a table: one row per number, columns A, B, "B − A", its 95%
    interval, p and whether the difference is within the noise (the interval holds 0)."""
    rows = []
    for key in METRIC_KEYS:
        r = paired[key]
        rows.append({
            "number": METRIC_LABELS[key], f"A: {name_a}": r["a"], f"B: {name_b}": r["b"], "B − A": r["delta"],
            "95% CI": f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]", "p": r["p"],
            "within noise": bool(r["within_noise"]),
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("number")

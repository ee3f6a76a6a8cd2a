"""Curves: the 10 numbers across a threshold sweep, per-class precision-recall curves, training curves
from a run's metrics.csv."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mmcse.viz.theme import CLASS_COLORS, METRIC_LABELS, NEUTRAL, legend_below


def threshold_sweep_figure(sweep: pd.DataFrame, keys: Sequence[str] = ("seg_type", "evt_type"),
                           current: float | None = None) -> go.Figure:  # fmt: skip
    """Scores (percent) against a tied threshold (segment = video threshold = t): ``sweep`` has a
    "threshold" column and one column per score key (`mmcse.analysis.threshold_sweep`)."""
    fig = go.Figure()
    for key in keys:
        fig.add_scatter(x=sweep["threshold"], y=sweep[key], mode="lines+markers", name=METRIC_LABELS.get(key, key),
                        hovertemplate=f"t=%{{x:.2f}}: {METRIC_LABELS.get(key, key)} %{{y:.2f}}<extra></extra>")  # fmt: skip
    if current is not None:
        fig.add_vline(x=current, line_dash="dash", line_color=NEUTRAL, annotation_text="current")
    fig.update_layout(
        xaxis=dict(title="threshold (segment = video)", range=[0, 1]),
        yaxis=dict(title="score (%)"),
        legend=legend_below(-0.25),
        margin=dict(l=40, r=10, t=20, b=10),
        height=340,
    )
    return fig


def pr_curves_figure(curves: Mapping[str, dict], title: str = "") -> go.Figure:
    """Precision-recall curves, one per class: ``curves`` maps a class name to a dict with "precision",
    "recall" (arrays along decreasing thresholds), "ap" and optionally "point" = (recall, precision) of the
    current thresholds (a marker). `mmcse.analysis.pr_curves` makes it."""
    fig = go.Figure()
    for name, curve in curves.items():
        colour = CLASS_COLORS.get(name, NEUTRAL)
        label = f"{name} (AP {100 * curve['ap']:.1f})" if np.isfinite(curve.get("ap", np.nan)) else name
        fig.add_scatter(x=curve["recall"], y=curve["precision"], mode="lines", name=label, line=dict(color=colour),
                        legendgroup=name, hovertemplate=f"{name}<br>recall %{{x:.2f}}, precision %{{y:.2f}}<extra></extra>")  # fmt: skip
        if curve.get("point") is not None:
            r, p = curve["point"]
            fig.add_scatter(x=[r], y=[p], mode="markers", marker=dict(color=colour, size=10, symbol="x"),
                            legendgroup=name, showlegend=False, hovertemplate=f"{name} at the current thresholds<br>"
                            "recall %{x:.2f}, precision %{y:.2f}<extra></extra>")  # fmt: skip
    fig.update_layout(
        title=title,
        xaxis=dict(title="recall", range=[0, 1.02]),
        yaxis=dict(title="precision", range=[0, 1.02]),
        legend=legend_below(-0.22),
        margin=dict(l=40, r=10, t=40 if title else 20, b=10),
        height=460,
    )
    return fig


def training_curves_figure(runs: Mapping[str, Sequence[Mapping[str, str]]], column: str) -> go.Figure:
    """One line per run: ``column`` of its metrics.csv rows (`mmcse.training.runs.read_metrics`) against the
    epoch; rows without a number in that column are skipped."""
    fig = go.Figure()
    for name, rows in runs.items():
        epochs, values = [], []
        for row in rows:
            try:
                epochs.append(int(row["epoch"]))
                values.append(float(row[column]))
            except (KeyError, TypeError, ValueError):
                epochs = epochs[: len(values)]
        fig.add_scatter(x=epochs, y=values, mode="lines+markers", name=name,
                        hovertemplate=f"{name}<br>epoch %{{x}}: %{{y:.4g}}<extra></extra>")  # fmt: skip
    fig.update_layout(
        xaxis=dict(title="epoch", dtick=1 if max((len(r) for r in runs.values()), default=0) <= 20 else None),
        yaxis=dict(title=column),
        legend=legend_below(-0.25),
        margin=dict(l=40, r=10, t=20, b=10),
        height=340,
    )
    return fig


def metric_columns(rows: Sequence[Mapping[str, str]]) -> list[str]:
    """The numeric columns of metrics.csv rows worth a curve (everything but the epoch), val scores first."""
    columns = [c for c in (rows[0] if rows else {}) if c != "epoch"]
    return sorted(columns, key=lambda c: (not c.startswith("val_"), c != "val_seg_type", c))

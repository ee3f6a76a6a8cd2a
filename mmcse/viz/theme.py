"""Colours, symbols and labels shared by every figure, chosen to read on Streamlit's light and dark themes
(mid-luminance colours; no black or white marks: text colours are left to the theme)."""

from __future__ import annotations

import colorsys

from mmcse.classes import LLP_CLASSES

METRIC_KEYS = ("seg_a", "seg_v", "seg_av", "seg_type", "seg_event", "evt_a", "evt_v", "evt_av", "evt_type", "evt_event")
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
    "audio": "#3d7fe0",
    "visual": "#2b9e5a",
    "audio-visual": "#cc4f96",
    "background": "#8c8c8c",
}
MODALITY_SYMBOLS = {"audio": "circle", "visual": "diamond", "audio-visual": "square"}
NEUTRAL = "#8c8c8c"  # ground truth in static figures, "not applicable" bars: grey reads on both themes
ERROR_COLORS = {"tp": None, "fp": "#f08c00", "fn": NEUTRAL}  # TP takes the modality colour
UP, DOWN = "#2b9e5a", "#d9480f"  # deltas: B better / B worse
MAP_NAMES = ("aa", "av", "vv", "va")
MAP_TITLES = {"aa": "audio -> audio", "av": "audio -> visual", "vv": "visual -> visual", "va": "visual -> audio"}


def _class_palette(n: int = len(LLP_CLASSES)) -> tuple[str, ...]:
    """n distinct mid-luminance colours: hues 14.4 degrees apart, visited 9 steps at a time so that
    neighbouring classes differ strongly, with three lightness levels."""
    colours = []
    for i in range(n):
        hue = ((i * 9) % n) / n
        lightness = (0.47, 0.60, 0.38)[i % 3]
        r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.72)
        colours.append(f"#{round(255 * r):02x}{round(255 * g):02x}{round(255 * b):02x}")
    return tuple(colours)


CLASS_COLORS: dict[str, str] = dict(zip(LLP_CLASSES, _class_palette()))
CLASS_COLORS["background"] = NEUTRAL


def figure_config(image_format: str = "png", filename: str = "mmcse_figure") -> dict:
    """The plotly config for st.plotly_chart: the toolbar's camera button downloads the figure as
    ``image_format`` ("png" or "svg"), drawn by the browser (no kaleido needed)."""
    if image_format not in ("png", "svg"):
        raise ValueError(f"image_format must be 'png' or 'svg', not {image_format!r}")
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": image_format, "filename": filename, "scale": 2},
    }


def legend_below(y: float = -0.18) -> dict:
    """A horizontal legend under the plot, where the toolbar (top right) cannot cover it."""
    return dict(orientation="h", yanchor="top", y=y, xanchor="left", x=0)


def with_provenance(fig, text: str):
    """``fig`` with ``text`` (what made it: checkpoint, split, gating, thresholds) as a small second title
    line, so that a downloaded PNG / SVG says where it came from; the top margin grows to hold it."""
    title = fig.layout.title.text or ""
    line = f"<span style='font-size:11px'>{text}</span>"
    top = fig.layout.margin.t if fig.layout.margin.t is not None else 40
    fig.update_layout(title=dict(text=f"{title}<br>{line}" if title else line, x=0, xanchor="left", xref="container"),
                      margin=dict(t=top + (22 if title else 30)))  # fmt: skip
    return fig

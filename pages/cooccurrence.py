"""Co-occurrence: the learned SECM maps beside the co-occurrence of the annotations, their difference, the
top pairs, and PNG / CSV export."""

from __future__ import annotations

import streamlit as st

from mmcse import analysis, viz
from pages import _cache as cache
from pages import _context as context
from pages import _widgets as widgets

st.title("Class co-occurrence")
ctx = context.context()
if not widgets.require(ctx):
    st.stop()
parser, data, preds = widgets.predictions_or_stop(ctx)
if parser.arch != "mmcse":
    st.info(f"{ctx.checkpoint.name} is a {parser.arch} model: only MM-CSE learns co-occurrence maps.")
    st.stop()

cols = st.columns(3)
name = cols[0].radio(
    "Map", list(viz.MAP_NAMES), format_func=lambda k: f"{k}: {viz.MAP_TITLES[k]}", key="map_name"
)
segments = cols[1].radio("Segments", ["all", "row class active"], key="map_segments",
                         help="active: in the dense GT (val/test) or in the prediction (train)")  # fmt: skip
view = cols[2].radio("View", ["side by side", "difference"], key="map_view")
stretch = cols[2].toggle("Stretch learned colours", value=True, key="map_stretch",
                         help="Learned attention rows often sit close to uniform (1/25 = 0.04): stretching shows "
                         "their structure; off, the scale starts at 0")  # fmt: skip
try:
    key = cache.data_key(ctx)
    learned = cache.cooccurrence(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), key, segments != "all")[
        name
    ]
except widgets.USER_ERRORS as exc:
    widgets.show_error(exc, "Cannot compute the maps")
    st.stop()
counts = analysis.annotation_cooccurrence(data)[name]
annotated = viz.normalize_rows(counts)
what = "weak-label clip counts (train)" if data.gt_audio is None else "segment-level dense GT"
st.caption(f"Annotation map: {what} on {data.name}, each row normalised to sum 1 like an attention row.")

if view == "side by side":
    cols = st.columns(2)
    cols[0].plotly_chart(
        viz.cooccurrence_heatmap(learned, f"learned {name} ({viz.MAP_TITLES[name]})", stretch=stretch),
        width="stretch",
        key="map_learned",
    )
    cols[1].plotly_chart(
        viz.cooccurrence_heatmap(annotated, f"annotations ({what})"), width="stretch", key="map_annotated"
    )
    shown, shown_title, diverging = learned, f"learned_{name}", False
else:
    diff = learned - annotated
    st.plotly_chart(
        viz.cooccurrence_heatmap(diff, f"learned - annotations ({name})", diverging=True),
        width="stretch",
        key="map_diff",
    )
    shown, shown_title, diverging = diff, f"difference_{name}", True

cols = st.columns(2)
cols[0].markdown("**Top learned pairs** (off-diagonal)")
cols[0].dataframe(viz.top_pairs(learned, k=10), hide_index=True, width="stretch", key="top_learned")
cols[1].markdown("**Top annotated pairs**")
cols[1].dataframe(viz.top_pairs(annotated, k=10), hide_index=True, width="stretch", key="top_annotated")

cols = st.columns(2)
cols[0].download_button(
    "PNG of the map shown",
    viz.matrix_png(shown, shown_title, diverging),
    f"{shown_title}.png",
    "image/png",
    key="dl_png",
)
cols[1].download_button(
    "CSV of the map shown", viz.matrix_csv(shown), f"{shown_title}.csv", "text/csv", key="dl_csv"
)

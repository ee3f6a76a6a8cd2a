"""Class features: t-SNE of MM-CSE's decoupled class-wise features (CAFD slots before fusion, or after FGSE)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mmcse import viz
from mmcse.classes import LLP_CLASSES
from pages import _cache as cache
from pages import _context as context
from pages import _widgets as widgets

st.title("Class-wise features (t-SNE)")
ctx = context.context()
if not widgets.require(ctx):
    st.stop()
parser, data, preds = widgets.predictions_or_stop(ctx)
if not parser.has_class_features:
    st.info(
        f"{ctx.checkpoint.name} is a {parser.arch} model: only MM-CSE has class-wise features. Pick an MM-CSE checkpoint."
    )
    st.stop()

cols = st.columns(3)
stage_label = cols[0].radio("Stage", ["CAFD slots (before fusion)", "after FGSE"], key="tsne_stage")
stage = "cafd" if stage_label.startswith("CAFD") else "fgse"
modality = cols[1].radio("Modality", ["audio", "visual", "both"], horizontal=True, key="tsne_modality")
color_by = cols[2].radio("Colour by", ["class", "modality", "active"], horizontal=True, key="tsne_color",
                         help="active: the class is in the dense GT of that modality at that segment")  # fmt: skip
present = [LLP_CLASSES[c] for c in range(len(LLP_CLASSES)) if data.label[:, c].any()]
chosen = st.multiselect("Classes", present, default=present[:8], key="tsne_classes")
cols = st.columns(4)
events = cols[0].checkbox("Event slots", value=True, key="tsne_events",
                          help="the slots of the clip's weak-label classes")  # fmt: skip
background = cols[1].checkbox("Background slot", value=stage == "cafd", key="tsne_background",
                              disabled=stage != "cafd", help="slot 25, CAFD stage only")  # fmt: skip
max_points = cols[2].number_input("Points (subsample)", 200, 5000, 2000, step=200, key="tsne_points")
seed = cols[3].number_input("Seed", 0, 10_000, 0, key="tsne_seed")

if not events and not (background and stage == "cafd"):
    st.info("Choose event slots and/or the background slot.")
    st.stop()
modalities = ("audio", "visual") if modality == "both" else (modality,)
try:
    xy, table = cache.tsne_points(
        str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx), stage, modalities,
        tuple(LLP_CLASSES.index(c) for c in chosen), events, background and stage == "cafd", int(max_points), int(seed),
    )  # fmt: skip
except widgets.USER_ERRORS as exc:
    widgets.show_error(exc, "Cannot embed these features")
    st.stop()
table = pd.DataFrame(table)
st.plotly_chart(viz.tsne_figure(xy, table, color_by=color_by), width="stretch", key="tsne_plot")
st.caption(
    f"{len(table)} points from the {data.name} split; hover shows clip, segment and class. Cached per choice."
)

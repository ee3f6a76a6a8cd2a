"""Co-occurrence: what SECM's co-occurrence loss asks of the learned maps, how much annotation structure they
carry (correlation with the annotation maps, diagonal masked), the maps themselves (raw, lift over uniform,
beside the annotations, or their difference), the clips behind a cell, top pairs, and PNG / SVG / CSV."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mmcse import analysis, browse, viz
from mmcse.classes import LLP_CLASSES
from mmcse.demo.clips import read_demo_manifest
from pages import _cache as cache
from pages import _context as context
from pages import _nav as nav
from pages import _widgets as widgets

st.title("Class co-occurrence")
ctx = context.context()
if not widgets.require(ctx):
    st.stop()
model, data, preds = widgets.predictions_or_stop(ctx)
if model.arch != "mmcse":
    st.info(f"{ctx.checkpoint_name} is a {model.arch} model: only MM-CSE learns co-occurrence maps.")
    st.stop()
VIEWS = ("lift over uniform", "learned beside annotations", "learned, raw", "learned − annotations")

w_ec = (model.meta.get("model_config") or {}).get("w_ec", 0.1)
with st.expander("What these maps are, and why they can look flat", expanded=False):
    st.markdown(
        "In the last FGSE layer, SECM lets the 25 class tokens of a segment attend to each other (aa, vv) and to "
        "the other modality's tokens (av, va); each row (a query class) is a softmax over the 25 key classes, so a "
        "row with no preference is **uniform, 1/25 = 0.04** everywhere. The event co-occurrence loss L_ec pulls "
        "each map towards the outer product of the segment's pseudo labels (e.g. G_av[i, j] = PL_a[i] PL_v[j]), "
        f"with weight {w_ec:g} in this checkpoint (0.1 in the paper). A small model, few epochs or weak pseudo labels leave the rows close to "
        "uniform: the values then differ only in the second or third decimal. So look at **what carries "
        "information**: the correlation with the annotations' co-occurrence (rows of annotated classes, diagonal "
        "masked, as a class with itself says nothing) and the **lift over uniform** (log2 of value x 25: 0 is "
        "what a flat row gives, +1 twice as much attention)."
    )

cols = st.columns(3)
name = cols[0].radio("Map", list(viz.MAP_NAMES), format_func=lambda k: f"{k}: {viz.MAP_TITLES[k]}", key="map_name")
segments = cols[1].radio("Segments", ["row class active", "all"], key="map_segments",
                         help="row class active: each row averages the segments where its class is active, in the "
                              "dense GT (val/test) or in the prediction (train): what the loss shapes. all: every "
                              "segment, most of which the row class is absent from")  # fmt: skip
view = cols[2].radio("View", VIEWS, key="map_view")
try:
    learned_maps = cache.cooccurrence(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx), segments != "all")
except widgets.USER_ERRORS as exc:
    widgets.show_error(exc, "Cannot compute the maps")
    st.stop()
counts = analysis.annotation_cooccurrence(data)
agreement = analysis.map_agreement(learned_maps, counts)
what = "weak-label clip counts (train)" if data.gt_audio is None else "segment-level dense GT"

st.markdown(f"**Correlation of the learned maps with the annotation co-occurrence** ({what} on {data.name}; rows of "
            "annotated classes, diagonal masked)")  # fmt: skip
metric_cols = st.columns(4)
for col, key in zip(metric_cols, viz.MAP_NAMES):
    col.metric(f"{key}: {viz.MAP_TITLES[key]}", "n/a" if np.isnan(agreement[key]) else f"{agreement[key]:.2f}")
manifest = read_demo_manifest(ctx.data_root) or {}
if isinstance(manifest.get("test_map_agreement"), dict):
    shipped = ", ".join(f"{k} {float(v):.2f}" for k, v in manifest["test_map_agreement"].items() if isinstance(v, int | float))
    st.caption(f"The demo build measured its MM-CSE (runs/mmcse) on its test split, rows averaged over the segments "
               f"where the row class is active: {shipped}.")  # fmt: skip
learned = learned_maps[name]
empty_rows = int(np.isnan(learned).all(axis=1).sum())  # classes never active in this map's query modality
low, high = (float(np.nanmin(learned)), float(np.nanmax(learned))) if empty_rows < len(learned) else (np.nan, np.nan)
st.caption(f"Learned {name} values span {low:.4f}-{high:.4f} (uniform: 0.0400)"
           + (": nearly flat, see the lift view and the note above." if high - low < 0.05 else ".")
           + (f" {empty_rows} rows are blank: their class is never active here, so there is nothing to average."
              if empty_rows else ""))  # fmt: skip


def clips_of_cell(cell: tuple[int, int] | None) -> None:
    if cell is None:
        st.caption("Click a cell to list the clips where its two classes co-occur.")
        return
    r, c = cell
    rows = browse.cooccurring_clips(name, r, c, data.label, data.gt_audio, data.gt_visual)
    st.markdown(f"**{LLP_CLASSES[r]} ({viz.MAP_TITLES[name].split(' -> ')[0]}) with {LLP_CLASSES[c]} "
                f"({viz.MAP_TITLES[name].split(' -> ')[1]})**: {len(rows)} clips. Select one to open it.")  # fmt: skip
    if rows:
        nav.clip_list([data.filenames[i] for i in rows], "cell_clips")


annotated = viz.normalize_rows(counts[name])
map_provenance = f"{ctx.checkpoint_name} · {data.name} split · rows averaged over: {segments} (no thresholds involved)"
if view == "learned beside annotations":
    left, right = st.columns(2)
    with left:
        event = widgets.plot(viz.cooccurrence_heatmap(learned, f"learned {name}", stretch=True, clickable=True),
                             "map_learned", ctx, f"learned_{name}", map_provenance, on_select="rerun", selection_mode="points")  # fmt: skip
    with right:
        widgets.plot(viz.cooccurrence_heatmap(annotated, f"annotations ({what})"), "map_annotated", ctx, f"annotations_{name}", f"{what} on the {data.name} split")
    shown, shown_title, diverging = learned, f"learned_{name}", False
else:
    shown, shown_title, diverging = {
        "lift over uniform": (viz.lift_over_uniform(learned), f"lift_{name}", True),
        "learned, raw": (learned, f"learned_{name}", False),
        "learned − annotations": (learned - annotated, f"difference_{name}", True),
    }[view]
    fig = viz.cooccurrence_heatmap(shown, f"{view}: {name} ({viz.MAP_TITLES[name]})", diverging=diverging,
                                   stretch=not diverging, clickable=True, value_name=view)  # fmt: skip
    event = widgets.plot(fig, "map_main", ctx, shown_title, map_provenance, on_select="rerun", selection_mode="points")
clips_of_cell(viz.clicked_cell(event.selection if event is not None else None))

cols = st.columns(2)
cols[0].markdown("**Top learned pairs** (off-diagonal)")
cols[0].dataframe(viz.top_pairs(learned, k=10).style.format({"value": "{:.5f}"}), hide_index=True, width="stretch", key="top_learned")
cols[1].markdown("**Top annotated pairs**")
cols[1].dataframe(viz.top_pairs(annotated, k=10).style.format({"value": "{:.3f}"}), hide_index=True, width="stretch", key="top_annotated")

cols = st.columns(3)
image_title = f"{shown_title}: {ctx.checkpoint_name}, {data.name} split, rows {segments}"
cols[0].download_button("PNG of the map shown", cache.matrix_image(shown, image_title, diverging, "png"),
                        f"{shown_title}.png", "image/png", key="dl_png")  # fmt: skip
cols[1].download_button("SVG of the map shown", cache.matrix_image(shown, image_title, diverging, "svg"),
                        f"{shown_title}.svg", "image/svg+xml", key="dl_svg")  # fmt: skip
cols[2].download_button("CSV of the map shown", widgets.csv_header(ctx) + f"# map: {shown_title}, rows averaged over: {segments}\n"
                        + viz.matrix_csv(shown), f"{shown_title}.csv", "text/csv", key="dl_csv")  # fmt: skip

"""Overview (home): the checkpoint's metadata, the 10 numbers on the chosen split, per-class F by modality,
and the reference rows for context."""

from __future__ import annotations

import streamlit as st

from mmcse import analysis, metrics, viz
from pages import _context as context
from pages import _widgets as widgets

st.title("MM-CSE: audio-visual video parsing")
ctx = context.context()
if not widgets.require(ctx):
    st.stop()

parser, data, preds = widgets.predictions_or_stop(ctx)

meta = parser.meta
model_config = meta.get("model_config", {})
train_config = meta.get("train_config") or {}
st.subheader("Checkpoint")
cols = st.columns(4)
cols[0].metric("Architecture", parser.arch)
cols[1].metric("Features", parser.feature_spec.name)
cols[2].metric(
    "Parameters", f"{meta.get('num_parameters', 0) / 1e6:.2f} M" if meta.get("num_parameters") else "?"
)
cols[3].metric("Trained with gating", parser.gating)
with st.expander("All metadata"):
    st.write(
        {
            "file": str(ctx.checkpoint),
            "created": meta.get("created"),
            "git revision": meta.get("git_revision"),
            "seed": meta.get("seed", train_config.get("seed")),
            "stored metrics": meta.get("metrics"),
        }
    )
    st.json(
        {
            "model_config": model_config,
            "train_config": train_config,
            "feature_spec": meta.get("feature_spec"),
        },
        expanded=False,
    )

st.subheader(f"The 10 numbers on {data.name} ({len(data)} clips)")
scores = widgets.split_scores(preds, data, ctx)
if scores is None:
    st.info(
        f"The {data.name} split has no dense labels, so it cannot be scored; choose val or test in the sidebar."
    )
    st.stop()
st.caption(
    f"gating **{ctx.gating}**, segment threshold **{ctx.segment_threshold:.2f}**, "
    f"video threshold **{ctx.video_threshold:.2f}**; reference rows: protocol §5"
)
rows = {f"{ctx.checkpoint.parent.name}/{ctx.checkpoint.name}": scores}
for split_name, stored in (meta.get("metrics") or {}).items():  # what training recorded, for comparison
    if isinstance(stored, dict) and set(viz.METRIC_KEYS) <= set(stored):
        rows[f"stored in the checkpoint ({split_name}, training-time thresholds)"] = stored
rows.update(analysis.reference_rows(data))
st.dataframe(viz.metrics_table(rows).style.format("{:.2f}"), width="stretch", key="metrics_table")
st.plotly_chart(viz.metrics_bar(rows), width="stretch", key="metrics_bar")

st.subheader("Per-class F by modality")
level = st.radio("Level", ["segment", "event"], horizontal=True, key="per_class_level")
pred_a, pred_v = widgets.binary(preds, ctx)
per_class = metrics.per_class_f(pred_a, pred_v, data.gt_audio, data.gt_visual, level=level)
st.plotly_chart(
    viz.per_class_f_bar({m: 100 * per_class[m] for m in ("a", "v", "av")}),
    width="stretch",
    key="per_class_bar",
)
st.caption("F pools the counts of all clips per class; gaps are classes absent from predictions and GT.")

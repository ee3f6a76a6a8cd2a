"""Compare: two or more checkpoints side by side: the 10 numbers, per-class deltas, one clip's timelines
stacked, and the clips where they disagree most."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mmcse import metrics, viz
from mmcse.classes import LLP_CLASSES
from pages import _cache as cache
from pages import _context as context
from pages import _widgets as widgets

st.title("Compare checkpoints")
ctx = context.context()
if not widgets.require(ctx, need_checkpoint=False):
    st.stop()
options = {str(p): p for p in ctx.checkpoints}
if len(options) < 2:
    st.info("Compare needs at least two checkpoints in the runs folder (or one discovered plus an upload).")
    st.stop()
labels = {k: f"{p.parent.name}/{p.name}" for k, p in options.items()}
# default: the first checkpoint of each of the first two runs (best before last)
defaults = list({p.parent: k for k, p in reversed(list(options.items()))}.values())[::-1][:2]
defaults = defaults if len(defaults) == 2 else list(options)[:2]
chosen = st.multiselect(
    "Checkpoints", list(options), default=defaults, format_func=labels.get, key="compare_pick"
)
if len(chosen) < 2:
    st.info("Choose two or more checkpoints.")
    st.stop()

results = {}
for key in chosen:
    try:
        results[labels[key]] = cache.get_predictions(options[key], ctx)
    except widgets.USER_ERRORS as exc:
        widgets.show_error(exc, f"Skipping {labels[key]}")
if len(results) < 2:
    st.stop()
names = list(results)
data = results[names[0]][1]
if data.gt_audio is None:
    st.info(f"The {data.name} split has no dense labels; choose val or test to compare scores.")
    st.stop()
binary = {n: widgets.binary(r[2], ctx) for n, r in results.items()}

st.subheader("The 10 numbers")
rows = {n: metrics.avvp_scores(*binary[n], data.gt_audio, data.gt_visual) for n in names}
st.dataframe(viz.metrics_table(rows).style.format("{:.2f}"), width="stretch", key="compare_table")
st.plotly_chart(viz.metrics_bar(rows), width="stretch", key="compare_bar")

st.subheader("Per-class F deltas")
modality = st.radio(
    "Modality", ["a", "v", "av"], format_func=viz.MODALITY_NAMES.get, horizontal=True, key="delta_mod"
)
per_class = {n: metrics.per_class_f(*binary[n], data.gt_audio, data.gt_visual) for n in names}
deltas = {
    f"{n} - {names[0]}": 100 * viz.per_class_delta(per_class[names[0]][modality], per_class[n][modality])
    for n in names[1:]
}
st.plotly_chart(viz.per_class_delta_bar(deltas), width="stretch", key="delta_bar")

st.subheader("Where they disagree most")
stack = np.stack([np.concatenate([binary[n][0], binary[n][1]], axis=1) for n in names])  # (M, N, 20, 25)
disagreement = (stack != stack[:1]).sum(axis=(0, 2, 3))  # (N,) segments that differ from the first model
scores = {n: metrics.per_video_scores(*binary[n], data.gt_audio, data.gt_visual)["seg_type"] for n in names}
order = np.argsort(-disagreement, kind="stable")[:20]
table = pd.DataFrame(
    {
        "clip": [data.filenames[i] for i in order],
        "weak labels": [", ".join(LLP_CLASSES[c] for c in np.flatnonzero(data.label[i])) for i in order],
        "differing segments": disagreement[order],
        **{f"seg Type@AV {n}": np.round(100 * scores[n][order], 1) for n in names},
    }
)
st.dataframe(table, hide_index=True, width="stretch", key="disagree_table")

st.subheader("One clip, stacked timelines")
row = int(st.selectbox("Clip", order.tolist() + [i for i in range(len(data)) if i not in set(order)],
                       format_func=lambda i: data.filenames[i], key="compare_clip"))  # fmt: skip
gt_a, gt_v = data.gt_audio[row], data.gt_visual[row]
classes = sorted(
    set().union(*(viz.lane_classes(binary[n][0][row], binary[n][1][row], gt_a, gt_v) for n in names))
)
for n in names:
    tl = viz.timeline_data(
        binary[n][0][row], binary[n][1][row], results[n][2].segment_prob[row], gt_a, gt_v, classes=classes
    )
    st.plotly_chart(viz.timeline_figure(tl, title=n), width="stretch", key=f"stacked_{n}")

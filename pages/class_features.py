"""Class features: t-SNE of MM-CSE's decoupled class-wise features (CAFD slots before fusion, or after FGSE).
What to embed is a form with a Run button (a spinner with the elapsed time while it runs; results cached);
colours and hover never recompute; a lasso gives the clips, and a clip opens on the Video parser."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mmcse import analysis, viz
from mmcse.classes import LLP_CLASSES
from mmcse.demo.clips import read_demo_manifest
from pages import _cache as cache
from pages import _context as context
from pages import _nav as nav
from pages import _widgets as widgets

st.title("Class-wise features (t-SNE)")
ctx = context.context()
if not widgets.require(ctx):
    st.stop()
model, data, preds = widgets.predictions_or_stop(ctx)
if not model.has_class_features:
    st.info(f"{ctx.checkpoint_name} is a {model.arch} model: only MM-CSE has class-wise features. Pick an MM-CSE checkpoint.")
    st.stop()


def present_classes() -> list[str]:
    return [LLP_CLASSES[c] for c in range(len(LLP_CLASSES)) if data.label[:, c].any()]


def form_params() -> tuple:
    """The run the form's current values ask for (read from the widgets' session state)."""
    state = st.session_state
    stage = "cafd" if state["tsne_stage"].startswith("CAFD") else "fgse"
    modality = state["tsne_modality"]
    return (str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx), stage,
            ("audio", "visual") if modality == "both" else (modality,),
            tuple(LLP_CLASSES.index(c) for c in (present_classes() if state["tsne_all"] else state["tsne_classes"])),
            bool(state["tsne_events"]),
            bool(state["tsne_background"]) and stage == "cafd", int(state["tsne_points"]), int(state["tsne_seed"]))  # fmt: skip


def submit() -> None:
    """The Run button's callback (runs before the page, so the click is never lost to a rerun)."""
    params = form_params()
    if not params[6] and not params[7]:
        st.session_state["tsne_problem"] = "Choose event slots and/or the background slot (CAFD stage)."
        return
    st.session_state.pop("tsne_problem", None)
    st.session_state["tsne_params"] = params


def embedding_form() -> tuple | None:
    """The form; returns the parameters of the run to show (the last one submitted), or None."""
    present = present_classes()
    with st.form("tsne_form"):
        cols = st.columns(3)
        cols[0].radio("Stage", ["CAFD slots (before fusion)", "after FGSE"], key="tsne_stage")
        cols[1].radio("Modality", ["audio", "visual", "both"], index=2, horizontal=True, key="tsne_modality")
        cols[2].number_input("Points (subsample)", 200, 5000, 2000, step=200, key="tsne_points")
        cols = st.columns([4, 1])
        cols[0].multiselect("Classes", present, default=present[:8], key="tsne_classes")
        cols[1].checkbox("All classes", value=False, key="tsne_all", help=f"all {len(present)} classes of the split")
        cols = st.columns(3)
        cols[0].checkbox("Event slots", value=True, key="tsne_events", help="the slots of the clip's weak-label classes")
        cols[1].checkbox("Background slot (CAFD only)", value=True, key="tsne_background", help="slot 25")
        cols[2].number_input("Seed", 0, 10_000, 0, key="tsne_seed")
        st.form_submit_button("Run t-SNE", type="primary", key="tsne_run", on_click=submit)
    if st.session_state.get("tsne_problem"):
        st.warning(st.session_state["tsne_problem"])
    params = st.session_state.get("tsne_params")
    return params if params is not None and params[:3] == form_params()[:3] else None


def embedding(params: tuple):
    """The run of ``params``: cached, else computed under a spinner that counts the seconds (t-SNE reports no
    progress of its own)."""
    text = (f"Running t-SNE on up to {params[8]:,} points (about 5-15 s for 5,000 points on a CPU; "
            "scikit-learn reports no progress)...")  # fmt: skip
    try:
        with st.spinner(text, show_time=True):
            return cache.tsne_embedding(params)
    except widgets.USER_ERRORS as exc:
        widgets.show_error(exc, "Cannot embed these features")
        st.stop()


def selected_clips(table: pd.DataFrame, rows: list[int]) -> None:
    picked = table.iloc[rows]
    per_clip = picked.groupby("clip").agg(points=("class", "size"), classes=("class", lambda s: ", ".join(sorted(set(s)))))
    per_clip = per_clip.sort_values("points", ascending=False)
    st.markdown(f"**{len(picked)} selected points from {len(per_clip)} clips**: select a row to open the clip.")
    nav.clip_list(list(per_clip.index), "tsne_clips", per_clip)


params = embedding_form()
if params is None:
    st.info("Choose what to embed and press **Run t-SNE** (about 5-15 s for 5,000 points on a CPU; cached).")
    st.stop()
xy, columns = embedding(params)
table = pd.DataFrame(columns)
color_by = st.radio("Colour by", ["class", "modality", "active"],
                    horizontal=True, key="tsne_color", help="active: the class is in the dense GT of that modality at that segment")  # fmt: skip
event = widgets.plot(viz.tsne_figure(xy, table, color_by=color_by), "tsne_plot", ctx, "tsne",
                     on_select="rerun", selection_mode=("lasso", "box", "points"))  # fmt: skip
agreement = analysis.knn_agreement(xy, table["class"].to_numpy()) if len(table) > 11 else float("nan")
st.caption(f"{len(table)} points from the {data.name} split; marker shape: circle audio, diamond visual; "
           f"10-NN class agreement in the map: {agreement:.2f}. Lasso or box-select points to list their clips.")  # fmt: skip
kept = cache.feature_clips(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx))
if kept < len(data):
    st.caption(f"The class-wise features are kept for {kept:,} of the split's {len(data):,} clips (evenly spaced, "
               "stored with the checkpoint's results); the points are sampled from those.")  # fmt: skip
shipped = (read_demo_manifest(ctx.data_root) or {}).get("test_class_separation")
if isinstance(shipped, dict) and {"knn_agreement_features", "knn_agreement_tsne", "chance"} <= set(shipped):
    sampled = f"{shipped.get('points')} of the {shipped['events']}" if "events" in shipped else f"{shipped.get('points')}"
    st.caption(f"The demo build measured its MM-CSE (runs/mmcse) on {sampled} active events of its test "
               f"split (CAFD slots, both modalities): 10-NN class agreement {shipped['knn_agreement_features']:.3f} in "
               f"the features, {shipped['knn_agreement_tsne']:.3f} in a t-SNE; {shipped['chance']:.3f} by chance.")  # fmt: skip
rows = viz.selected_rows(event.selection if event is not None else None)
if rows:
    selected_clips(table, rows)

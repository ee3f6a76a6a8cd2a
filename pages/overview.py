"""Overview (home): what is loaded and what to do first, the checkpoint, the 10 numbers on the chosen split
with the reference rows, per-class analysis (F by modality, a segment / event table (F, precision, recall,
support), a threshold sweep and per-class precision-recall curves) and the errors by kind (events of each
kind, a modality confusion and a class confusion whose cells list their clips)."""

from __future__ import annotations

import json

import streamlit as st

from mmcse import error_analysis, viz
from mmcse.classes import LLP_CLASSES
from mmcse.demo.clips import read_demo_manifest
from pages import _cache as cache
from pages import _context as context
from pages import _nav as nav
from pages import _widgets as widgets

st.title("MM-CSE: audio-visual video parsing")
ctx = context.context()
if not widgets.require(ctx):
    st.stop()


def what_is_loaded(data_name: str, n_clips: int) -> None:
    """Demo or real data, how its pseudo labels were made, and what to do first."""
    manifest = read_demo_manifest(ctx.data_root)
    if manifest is not None:
        sizes = manifest.get("sizes", {})
        st.info(
            f"**This is the embedded demo, not LLP.** {ctx.data_root} holds procedurally generated clips (drawn "
            f"sprites and synthesised sounds for the 25 LLP classes; seed {manifest.get('seed')}, "
            f"{sizes.get('val', '?')} val / {sizes.get('test', '?')} test clips), in LLP's own formats. Its segment "
            "pseudo labels are **simulated** from the true labels with noise, and its checkpoints are small models "
            "trained in minutes: the numbers below are demo numbers, not LLP results.",
            icon=":material/science:",
        )
    else:
        st.caption(f"Dataset: {ctx.data_root} ({data_name} split, {n_clips} clips).")
    st.markdown("**First:** open the **Video parser** to browse the clips (it opens on a clip the model parses "
                "well; press j / k for the next / previous one), then look at **Class features** and "
                "**Co-occurrence** for what MM-CSE learned, and **Compare** for the checkpoints side by side.")  # fmt: skip
    st.page_link("pages/video_parser.py", label="Open the Video parser", icon=":material/movie:")


def checkpoint_summary(model) -> None:
    meta = model.meta
    train_config = meta.get("train_config") or {}
    st.subheader(f"Checkpoint: {ctx.checkpoint_name}")
    cols = st.columns(4)
    cols[0].metric("Architecture", model.arch)
    cols[1].metric("Features", model.feature_spec.name)
    cols[2].metric("Parameters", f"{meta.get('num_parameters', 0) / 1e6:.2f} M" if meta.get("num_parameters") else "?")
    cols[3].metric("Trained with gating", model.gating)
    with st.expander("All metadata"):
        st.write({"file": ctx.checkpoint_name, "created": meta.get("created"), "git revision": meta.get("git_revision"),
                  "seed": meta.get("seed", train_config.get("seed")), "stored metrics": meta.get("metrics")})  # fmt: skip
        st.json({"model_config": meta.get("model_config", {}), "train_config": train_config,
                 "feature_spec": meta.get("feature_spec")}, expanded=False)  # fmt: skip


def ten_numbers(model, data, scores: dict) -> None:
    st.subheader(f"The 10 numbers on {data.name} ({len(data)} clips)")
    st.caption(f"gating **{ctx.gating}**, segment threshold **{ctx.segment_threshold:.2f}**, video threshold "
               f"**{ctx.video_threshold:.2f}**; reference rows: protocol §5.")  # fmt: skip
    rows = {ctx.checkpoint_name: scores}
    for split_name, stored in (model.meta.get("metrics") or {}).items():  # what training recorded
        if isinstance(stored, dict) and set(viz.METRIC_KEYS) <= set(stored):
            rows[f"stored ({split_name}, training thresholds)"] = stored
    key = cache.data_key(ctx)
    rows.update(cache.reference_rows(key, json.dumps(model.feature_spec.to_dict(), sort_keys=True),
                                     cache.mtime(data.split_csv)))  # fmt: skip
    table = viz.metrics_table(rows)
    for level, prefix in (("segment", "Seg "), ("event", "Evt ")):
        part = table[[c for c in table.columns if c.startswith(prefix)]]
        part.columns = [c.removeprefix(prefix) for c in part.columns]
        part.index.name = f"{level} level"
        # column formats, not a pandas Styler: a Styler imports jinja2 and renders HTML styles on every rerun
        formats = {column: st.column_config.NumberColumn(format="%.2f") for column in part.columns}
        st.dataframe(part, width="stretch", column_config=formats, key=f"metrics_{level}")
    widgets.plot(viz.metrics_bar(rows), "metrics_bar", ctx, "ten_numbers")


PER_CLASS_VIEWS = ["F by modality", "Table: F, precision, recall, support", "Threshold sweep", "Precision-recall"]


def per_class_section(data) -> None:
    st.subheader("Per class")
    report = cache.per_class_report(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx), ctx.gating,
                                    ctx.segment_threshold, ctx.video_threshold)  # fmt: skip
    # a radio, not st.tabs: tabs would compute and draw all four views on every rerun (the sweep and the PR
    # curves score the split again), a radio draws only the view being looked at
    view = st.radio("View", PER_CLASS_VIEWS, horizontal=True, key="per_class_view", label_visibility="collapsed")
    if view == PER_CLASS_VIEWS[0]:
        level = st.radio("Level", ["segment", "event"], horizontal=True, key="per_class_level")
        part = report[report["level"] == level]
        per_class = {m: part[part["modality"] == name]["F"].to_numpy() for m, name in viz.MODALITY_NAMES.items()}
        widgets.plot(viz.per_class_f_bar(per_class), "per_class_bar", ctx, f"per_class_f_{level}")
        st.caption("F pools each class's counts over all clips. A bar at 0 (marked \"0\") is a class that is annotated "
                   "or predicted but never right; a faint hatched slot is **not applicable**: the class is in neither "
                   "the ground truth nor the predictions of that modality.")  # fmt: skip
    elif view == PER_CLASS_VIEWS[1]:
        per_class_table(report)
    elif view == PER_CLASS_VIEWS[2]:
        sweep = cache.threshold_sweep(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx), ctx.gating)
        tied = ctx.segment_threshold if ctx.segment_threshold == ctx.video_threshold else None
        widgets.plot(viz.threshold_sweep_figure(sweep, ("seg_type", "evt_type", "seg_event", "evt_event"), tied),
                     "sweep", ctx, "threshold_sweep")  # fmt: skip
        best = sweep.loc[sweep["seg_type"].idxmax()]
        st.caption(f"Segment and video threshold tied at t (gating {ctx.gating}). Best seg Type@AV "
                   f"{best['seg_type']:.2f} at t = {best['threshold']:.2f}; choosing t on the split it is scored on "
                   "flatters it (choose on val, report on test).")  # fmt: skip
    else:
        pr_section(data)


def per_class_table(report) -> None:
    cols = st.columns(2)
    level = cols[0].radio("Level", ["segment", "event"], horizontal=True, key="table_level")
    modality = cols[1].radio("Modality", ["audio", "visual", "audio-visual"], horizontal=True, key="table_modality")
    part = report[(report["level"] == level) & (report["modality"] == modality)].drop(columns=["level", "modality"])
    st.dataframe(part.set_index("class").style.format({"F": "{:.1f}", "precision": "{:.1f}", "recall": "{:.1f}"}, na_rep="n/a"),
                 width="stretch", height=420, key="per_class_table")  # fmt: skip
    st.caption(f"Support: annotated {level}s. n/a: precision without predictions, recall without annotations, "
               "F for a class in neither. Sort by a column header.")  # fmt: skip
    st.download_button("Per-class table (CSV)", widgets.csv_header(ctx) + report.to_csv(index=False, float_format="%.4f"),
                       f"per_class_{ctx.split}.csv", "text/csv", key="dl_per_class",
                       help="opens with # lines naming the checkpoint (sha256), dataset, split, gating and thresholds")  # fmt: skip


def pr_section(data) -> None:
    cols = st.columns([1, 3])
    modality = cols[0].radio("Modality", ["audio", "visual"], key="pr_modality")
    present = [c for c in LLP_CLASSES if (data.gt_audio if modality == "audio" else data.gt_visual)[..., LLP_CLASSES.index(c)].any()]
    chosen = cols[1].multiselect("Classes", present, default=present[:6], key="pr_classes")
    curves = cache.pr_curves(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx), ctx.gating, modality,
                             tuple(LLP_CLASSES.index(c) for c in chosen), (ctx.segment_threshold, ctx.video_threshold))  # fmt: skip
    widgets.plot(viz.pr_curves_figure(curves), "pr_curves", ctx, f"pr_{modality}")
    st.caption("Segment level; the score of a segment is min(segment probability, gate probability), so a cut at t "
               "is the prediction with both thresholds at t; x marks the current thresholds. AP here is an addition "
               "to the official protocol, not comparable to published numbers.")  # fmt: skip


ERROR_VIEWS = ["Events by kind", "Modality confusion", "Class confusion"]


def errors_section(preds, data) -> None:
    """The split's events by kind of error (error_analysis), the GT x predicted modality and class confusions,
    each with its CSV; a class-confusion cell lists its clips."""
    st.subheader("Errors by kind")
    st.caption(error_analysis.KIND_LEGEND + ". Event kinds as sound event detection counts them (sed_eval / PSDS); "
               "the Video parser's error filter lists the clips with a kind, of a class if chosen.")  # fmt: skip
    view = st.radio("Error view", ERROR_VIEWS, horizontal=True, key="error_view", label_visibility="collapsed")
    pred_a, pred_v = widgets.binary(preds, ctx)
    if view == ERROR_VIEWS[0]:
        events = cache.error_table(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx), ctx.gating,
                                   ctx.segment_threshold, ctx.video_threshold)  # fmt: skip
        counts = error_analysis.kind_counts(events)
        counts.index = [error_analysis.KIND_NAMES[k] for k in counts.index]
        counts.index.name = "kind"
        widgets.plot(viz.error_kind_bars(error_analysis.kind_counts(events)), "error_kinds", ctx, f"error_kinds_{ctx.split}")
        st.dataframe(counts, width="stretch", key="error_kind_counts")
        st.caption("Each GT and each predicted event has one kind: a GT event cannot be inserted, a prediction "
                   "cannot be missed. Split: the GT event and each of its pieces; merged: the prediction and each "
                   "GT event under it.")  # fmt: skip
        csv_download(counts, "error_kinds", "Events by kind (CSV)")
    elif view == ERROR_VIEWS[1]:
        matrix = error_analysis.modality_confusion(pred_a, pred_v, data.gt_audio, data.gt_visual)
        confusion_view(
            viz.modality_confusion_heatmap(matrix, clickable=True), "modality_confusion",
            "(segment, class) pairs annotated in a modality (rows) against the modality the same class is predicted "
            "in there (columns). Off the diagonal: audio-visual predicted audio only is a seen event only heard; "
            "none: not predicted at all.",
            lambda r, c: (f"GT {matrix.index[r]}, predicted {matrix.columns[c]}",
                          error_analysis.modality_confusion_clips(pred_a, pred_v, data.gt_audio, data.gt_visual, r, c)),
            data, "modality_clips",
        )  # fmt: skip
        csv_download(matrix.rename_axis("GT modality"), "modality_confusion", "Modality confusion (CSV)")
    else:
        matrix = error_analysis.class_confusion(pred_a, pred_v, data.gt_audio, data.gt_visual)
        diagonal = st.toggle("Colour the diagonal (right predictions) too", key="confusion_diagonal")
        confusion_view(
            viz.class_confusion_heatmap(matrix, diagonal=diagonal, clickable=True), "class_confusion",
            "Segments: per modality, each annotated class against what was predicted there: itself (the diagonal), "
            "else every other class predicted in that segment and modality (a substitution), else nothing (missed). "
            "Blank: no segment (and the diagonal, unless coloured).",
            lambda r, c: (f"GT {LLP_CLASSES[r]}, predicted {matrix.columns[c]}",
                          error_analysis.class_confusion_clips(pred_a, pred_v, data.gt_audio, data.gt_visual, r, c)),
            data, "confusion_clips",
        )  # fmt: skip
        csv_download(matrix.rename_axis("GT class"), "class_confusion", "Class confusion (CSV)")


def confusion_view(fig, name: str, caption: str, cell_clips, data, list_key: str) -> None:
    """A clickable confusion heatmap; a clicked cell (row, column) lists its clips: ``cell_clips(row, column)``
    -> (what the cell is, the rows of its clips)."""
    event = widgets.plot(fig, name, ctx, f"{name}_{ctx.split}", on_select="rerun", selection_mode="points")
    st.caption(caption)
    cell = viz.clicked_cell(event.selection if event is not None else None)
    if cell is None:
        st.caption("Click a cell to list its clips.")
    else:
        clips_of_cell(*cell_clips(*cell), data, list_key)


def clips_of_cell(what: str, rows: list[int], data, key: str) -> None:
    """The clips behind a clicked confusion cell; selecting one opens it on the Video parser."""
    st.markdown(f"**{what}**: {len(rows)} clips. Select one to open it.")
    if rows:
        nav.clip_list([data.filenames[i] for i in rows], key)


def csv_download(table, name: str, label: str) -> None:
    """A CSV of ``table`` opening with the # lines of the checkpoint, dataset, split, gating and thresholds."""
    st.download_button(label, widgets.csv_header(ctx) + table.to_csv(), f"{name}_{ctx.split}.csv", "text/csv",
                       key=f"dl_{name}", help="opens with # lines naming the checkpoint (sha256), dataset, split, "
                       "gating and thresholds")  # fmt: skip


model, data, preds = widgets.predictions_or_stop(ctx)
what_is_loaded(data.name, len(data))
checkpoint_summary(model)
scores = cache.split_scores(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx), ctx.gating,
                            ctx.segment_threshold, ctx.video_threshold)  # fmt: skip
if scores is None:
    st.info(f"The {data.name} split has no dense labels, so it cannot be scored; choose val or test in the sidebar.")
    st.stop()
widgets.warn_if_predicts_nothing(preds, data, ctx)
ten_numbers(model, data, scores)
per_class_section(data)
errors_section(preds, data)

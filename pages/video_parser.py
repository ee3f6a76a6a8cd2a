"""Video parser: pick a clip of the split (search, sort) or upload a video; the video plays with a timeline
that follows playback; probability heatmaps; the events table and downloads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from mmcse import inference, metrics, viz
from mmcse.classes import LLP_CLASSES
from mmcse.data.dataset import LLPSplit
from mmcse.video.io import find_video
from pages import _cache as cache
from pages import _context as context
from pages import _widgets as widgets

st.title("Video parser")
ctx = context.context()
if not widgets.require(ctx, need_data=False):
    st.stop()

source = st.radio("Video", ["A clip of the dataset", "Upload a video"], horizontal=True, key="parser_source")


def clip_picker(data: LLPSplit, preds: inference.Predictions) -> int | None:
    """Search by id or class, sort by score or by disagreement with GT -> row index of the chosen clip."""
    pred_a, pred_v = widgets.binary(preds, ctx)
    cols = st.columns([2, 2, 1])
    query = cols[0].text_input("Search (clip id or class name)", key="clip_search").strip().lower()
    sort_options = ["file order"]
    if data.gt_audio is not None:
        sort_options += ["score, worst first", "score, best first", "disagreement with GT"]
    sort = cols[1].selectbox("Sort", sort_options, key="clip_sort")
    names = [", ".join(LLP_CLASSES[c] for c in np.flatnonzero(row)) for row in data.label]
    rows = np.arange(len(data))
    if query:
        rows = np.array(
            [i for i in rows if query in data.filenames[i].lower() or query in names[i].lower()], dtype=int
        )
    score = None
    if data.gt_audio is not None:
        score = metrics.per_video_scores(pred_a, pred_v, data.gt_audio, data.gt_visual)["seg_type"]
        disagreement = (pred_a != data.gt_audio).sum(axis=(1, 2)) + (pred_v != data.gt_visual).sum(
            axis=(1, 2)
        )
        if sort == "score, worst first":
            rows = rows[np.argsort(score[rows], kind="stable")]
        elif sort == "score, best first":
            rows = rows[np.argsort(-score[rows], kind="stable")]
        elif sort == "disagreement with GT":
            rows = rows[np.argsort(-disagreement[rows], kind="stable")]
    cols[2].metric("Clips", len(rows))
    if len(rows) == 0:
        st.info("No clip matches the search; try a class name such as 'Dog' or part of an id.")
        return None

    def label(i: int) -> str:
        extra = f" | seg Type@AV {100 * score[i]:.0f}" if score is not None else ""
        return f"{data.filenames[i]} | {names[i]}{extra}"

    return int(st.selectbox("Clip", rows.tolist(), format_func=label, key="clip_pick"))


def show_clip_scores(pred_a, pred_v, gt_a, gt_v) -> None:
    scores = metrics.avvp_scores(pred_a[None], pred_v[None], gt_a[None], gt_v[None])
    st.dataframe(
        viz.metrics_table({"this clip": scores}).style.format("{:.1f}"), width="stretch", key="clip_scores"
    )


def show_parse(
    name: str,
    segment_prob,
    pred_a,
    pred_v,
    gt_a,
    gt_v,
    events,
    video_path: Path | None,
    duration: float,
    weak=None,
) -> None:
    classes = viz.lane_classes(pred_a, pred_v, gt_a, gt_v, weak)
    timeline = viz.timeline_data(pred_a, pred_v, segment_prob, gt_a, gt_v, classes=classes)
    timeline["duration"] = max(timeline["duration"], duration) if duration else timeline["duration"]
    if video_path is None:
        st.caption(
            "No video file for this clip (LLP videos are downloaded by users): set the video folder in the "
            "sidebar. The timeline and heatmaps below work without it."
        )
    result = widgets.show_timeline(timeline, video_path, key="timeline", clip_id=name)
    paused = getattr(result, "time", None)
    if paused is not None:
        st.caption(f"Paused / seeked at {float(paused):.1f} s")

    st.subheader("Segment probabilities")
    show = classes or list(np.argsort(-segment_prob.max(axis=(0, 1)))[:8])
    cols = st.columns(2)
    for col, modality, gt, pred in ((cols[0], "audio", gt_a, pred_a), (cols[1], "visual", gt_v, pred_v)):
        col.plotly_chart(
            viz.probability_heatmap(segment_prob, modality, gt=gt, pred=pred, classes=show),
            width="stretch",
            key=f"heatmap_{modality}",
        )
    if st.checkbox("Show all 25 classes", key="heatmap_all"):
        cols = st.columns(2)
        for col, modality in ((cols[0], "audio"), (cols[1], "visual")):
            col.plotly_chart(
                viz.probability_heatmap(segment_prob, modality), width="stretch", key=f"all_{modality}"
            )

    st.subheader("Events")
    rows = metrics.events_to_tsv_rows(events, header=False)
    table = pd.DataFrame(rows, columns=list(metrics.TSV_HEADER))
    st.dataframe(table, width="stretch", hide_index=True, key="events_table")
    tsv = "\n".join("\t".join(r) for r in metrics.events_to_tsv_rows(events)) + "\n"
    payload = {
        "filename": name,
        "gating": ctx.gating,
        "segment_threshold": ctx.segment_threshold,
        "video_threshold": ctx.video_threshold,
        "classes": list(LLP_CLASSES),
        "segment_prob_audio": np.round(segment_prob[:, 0], 4).tolist(),
        "segment_prob_visual": np.round(segment_prob[:, 1], 4).tolist(),
        "events": [dict(zip(metrics.TSV_HEADER, r)) for r in rows],
    }
    stem = Path(name).stem or "clip"
    cols = st.columns(3)
    cols[0].download_button(
        "Events TSV", tsv, f"{stem}_events.tsv", "text/tab-separated-values", key="dl_tsv"
    )
    cols[1].download_button(
        "Events JSON", json.dumps(payload, indent=1), f"{stem}_events.json", "application/json", key="dl_json"
    )
    if video_path is not None:
        annotated_download(cols[2], video_path, events, duration or 10.0, stem)


def annotated_download(col, video_path: Path, events, duration: float, stem: str) -> None:
    """Render the annotated mp4 on request (mmcse.video.annotate), then offer it for download."""
    from types import SimpleNamespace

    key = f"annotated::{video_path}::{hash(tuple(events))}"
    if key in st.session_state:
        col.download_button(
            "Annotated mp4", st.session_state[key], f"{stem}_annotated.mp4", "video/mp4", key="dl_mp4"
        )
        return
    if col.button("Render annotated mp4", key="render_mp4"):
        try:
            from mmcse.video import annotate

            out = context.UPLOAD_DIR / f"annotated_{hashlib.sha256(key.encode()).hexdigest()[:16]}.mp4"
            out.parent.mkdir(parents=True, exist_ok=True)
            with st.spinner("Rendering the annotated video..."):
                annotate.annotate_video(video_path, SimpleNamespace(events=events, duration=duration), out)
            st.session_state[key] = out.read_bytes()
            st.rerun()
        except (ImportError, *widgets.USER_ERRORS) as exc:
            widgets.show_error(exc, "Cannot render the annotated video")


if source == "A clip of the dataset":
    if ctx.data_root is None:
        widgets.first_run_message()
        st.stop()
    parser, data, preds = widgets.predictions_or_stop(ctx)
    row = clip_picker(data, preds)
    if row is None:
        st.stop()
    pred_a, pred_v = (x[row] for x in widgets.binary(preds, ctx))
    gt_a = None if data.gt_audio is None else data.gt_audio[row]
    gt_v = None if data.gt_visual is None else data.gt_visual[row]
    name = data.filenames[row]
    st.markdown(
        f"**{name}**: weak labels {', '.join(LLP_CLASSES[c] for c in np.flatnonzero(data.label[row])) or '-'}"
    )
    if gt_a is not None:
        show_clip_scores(pred_a, pred_v, gt_a, gt_v)
    segment_prob = preds.segment_prob[row]
    events = metrics.extract_events(pred_a, pred_v, segment_prob, filenames=[name])
    video_path = find_video(ctx.video_dir, name)
    show_parse(name, segment_prob, pred_a, pred_v, gt_a, gt_v, events, video_path, 10.0, weak=data.label[row])
else:
    st.caption(
        "mp4 / webm / mkv / mov / avi up to the upload limit (server.maxUploadSize in .streamlit/config.toml; "
        "for bigger files use `python -m mmcse parse VIDEO --checkpoint CK`)."
    )
    upload = st.file_uploader("Video file", type=["mp4", "webm", "mkv", "mov", "avi"], key="video_upload")
    if upload is None:
        st.stop()
    path = context.save_upload(upload)
    try:
        parser = cache.get_parser(ctx.checkpoint)
        parse = cache.parse_video(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), str(path))
    except (ImportError, *widgets.USER_ERRORS) as exc:
        widgets.show_error(exc, f"Cannot parse {upload.name}")
        st.info("Check that the file is a video with a picture track, and that the checkpoint's features can be "
                "extracted offline (the demo features can; HAN / VALOR features need the official backbones).")  # fmt: skip
        st.stop()
    parse = parse.rethreshold(ctx.gating, ctx.segment_threshold, ctx.video_threshold)
    for warning in parse.warnings:
        st.warning(warning)
    show_parse(
        upload.name,
        parse.segment_prob,
        parse.pred_a,
        parse.pred_v,
        None,
        None,
        parse.events,
        path,
        parse.duration,
    )

"""Video parser: a clip table of the split (search, filters, sort, per-clip scores and errors; selection kept by
clip id; keys j / k in the shown order), the video beside its timeline lanes, probability heatmaps, the
events and downloads; or an uploaded video. Every view is a URL: clip, search, filters, sort, the timeline's
TP / FP / FN mode, zoom and audio & frames lanes (nav.VIEW_PARAMS, nav.TIMELINE_DEFAULTS), restored from it
and kept across page switches."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from mmcse import browse, export, metrics, viz
from mmcse.classes import LLP_CLASSES
from pages import _cache as cache
from pages import _context as context
from pages import _curate as curate
from pages import _nav as nav
from pages import _table_frames as table_frames
from pages import _widgets as widgets

st.title("Video parser")
ctx = context.context()
if not widgets.require(ctx, need_data=False):
    st.stop()

TABLE_KEY = "_clip_table_key"  # the widget key of the clip table drawn last
TABLE_RESETS = "_clip_table_resets"  # bumped when the grid's own state would mark another clip than the open one
HEADER_SORTED = "_clip_table_header_sorted"  # (table key, open clip) when a column header of that grid was clicked
source = st.radio("Video", ["A clip of the dataset", "Upload a video"], horizontal=True, key="parser_source")
TABLE_COLUMNS = {
    # pinned: in a narrow window the table scrolls sideways and the clip id stays in view
    "_index": st.column_config.TextColumn("clip", help="the clip id (its LLP file name)", pinned=True),
    "labels": st.column_config.TextColumn("labels", width="medium", help="weak (clip-level) labels"),
    "video": st.column_config.CheckboxColumn("video", help="a video file, or a demo clip rendered on demand", width="small"),
    "seg Type@AV": st.column_config.NumberColumn("seg", format="%.1f", width="small", help="this clip's segment-level Type@AV (%)"),
    "evt Type@AV": st.column_config.NumberColumn("evt", format="%.1f", width="small", help="this clip's event-level Type@AV (%)"),
    **{c: st.column_config.NumberColumn(c.replace("audio", "a").replace("visual", "v"), width="small",
       help=f"{c.split()[1]} segments " + ("predicted, not annotated" if c.startswith("FP") else "annotated, not predicted"))
       for c in browse.ERROR_COLUMNS},
    "predicted": st.column_config.TextColumn("predicted", width="medium", help="classes predicted in either modality"),
}  # fmt: skip
KIND_LABELS = {"boundary": "bound.", "substitution": "subst.", "wrong modality": "wrong mod."}
TABLE_COLUMNS.update({  # events of each error kind (error_analysis), GT and predicted events together
    name: st.column_config.NumberColumn(KIND_LABELS.get(name, name), width="small", help=f"{name} events (GT and predicted)")
    for name in browse.KIND_COLUMNS
})  # fmt: skip
TABLE_COLUMNS["tags"] = curate.TAGS_COLUMN


def clip_filters(has_gt: bool) -> dict:
    """The filter row: search, classes, modality, error type; the sort."""
    cols = st.columns([3, 3, 2, 2, 2, 1])
    query = cols[0].text_input("Search", key="clip_search", placeholder="clip id or class name")
    classes = cols[1].multiselect("Classes", list(LLP_CLASSES), key="clip_classes", placeholder="any class")
    modality = cols[2].selectbox("Modality", browse.MODALITY_FILTERS, key="clip_modality",
                                 help="clips with an event in this modality (of the chosen classes)")  # fmt: skip
    errors = cols[3].selectbox("Errors", browse.ERROR_FILTERS if has_gt else ("any",), key="clip_errors",
                               help="segment errors (false positives / negatives) or clips with an event of this "
                               "kind (missed ... wrong modality), of the chosen classes if any: a missed Dog")  # fmt: skip
    sorts = browse.SORTS if has_gt else tuple(s for s in browse.SORTS if "Type@AV" not in s and s not in browse.ERROR_COLUMNS)
    if st.session_state.get("clip_sort") not in sorts:
        st.session_state["clip_sort"] = "file order"
    cols[4].selectbox("Sort by", sorts, key="clip_sort",
                      help="the table's order, which j / k and the previous / next buttons follow (a click on a "
                      "column header sorts the grid for a look only)")  # fmt: skip
    cols[5].toggle("desc.", key="clip_desc", help="descending")
    return {"query": query, "classes": [LLP_CLASSES.index(c) for c in classes], "modality": modality, "error": errors}


def on_table_select(key: str, ids: list[str]):
    """A row click on the current table opens its clip (a table that has since been replaced is not a
    click); on a grid the user sorted by a column header, that clip is where the sort was made."""

    def callback() -> None:
        rows = (st.session_state.get(key) or {}).get("selection", {}).get("rows") or []
        if not rows or key != st.session_state.get(TABLE_KEY) or ids[rows[0]] == nav.current_clip():
            return
        nav.set_clip(ids[rows[0]])
        if (st.session_state.get(HEADER_SORTED) or ("", ""))[0] == key:
            st.session_state[HEADER_SORTED] = (key, ids[rows[0]])

    return callback


def on_table_sorted() -> None:
    """The user clicked a column header of the clip table (the timeline reports it): the grid may show its
    rows in another order than ids, which the open clip's marker (drawn at its row in ids) no longer fits."""
    value = (st.session_state.get("timeline") or {}).get("table_sorted")
    if isinstance(value, dict) and value.get("key") == st.session_state.get(TABLE_KEY):
        st.session_state[HEADER_SORTED] = (value["key"], nav.current_clip())


def on_step(ids: list[str], offset: int | None = None):
    """j / k from the timeline (the presses not yet applied, widgets.step_offset) or the buttons
    (``offset``), through ``ids``: the clips in the order the table shows them."""

    def callback() -> None:
        step = widgets.step_offset("timeline") if offset is None else offset
        target = browse.step_clip(ids, nav.current_clip(), step) if step else None
        if target is not None and target != nav.current_clip():  # with no clip shown, the open one stays
            nav.set_clip(target)

    return callback


def on_view() -> None:
    """The timeline's mode / zoom changed: kept for the URL and the next visit."""
    value = (st.session_state.get("timeline") or {}).get("view")
    if isinstance(value, dict):
        nav.view_state()["mode"] = value.get("mode")
        nav.view_state()["zoom"] = value.get("zoom")
        nav.view_state()["media"] = value.get("media") is not False  # audio & frames lanes shown


def clip_table_key(ids: list[str], current: str) -> str:
    """The clip table's widget key: the same while the rows are the same, so that an unchanged table is an
    unchanged message, which Streamlit does not send again (a 10,000-row table is megabytes). The open
    clip's row is marked by the timeline (assets/timeline.js markTableRow), not by the grid's selection,
    which stays where the user clicked; a new key (a fresh grid, sent again) only when the grid would mark
    another clip than the open one: its selected row is not the open clip (j / k, the buttons or a link
    moved away from a clicked row), or its rows were sorted by a column header before the clip moved."""
    digest = hashlib.sha1("\n".join(ids).encode()).hexdigest()[:10]
    resets = st.session_state.get(TABLE_RESETS, 0)
    key = f"clip_table_{digest}_{resets}"
    rows = (st.session_state.get(key) or {}).get("selection", {}).get("rows") or []
    selected_other = bool(rows) and (rows[0] >= len(ids) or ids[rows[0]] != current)
    sorted_key, sorted_at = st.session_state.get(HEADER_SORTED) or ("", "")
    if selected_other or (sorted_key == key and sorted_at != current):
        st.session_state[TABLE_RESETS] = resets + 1
        key = f"clip_table_{digest}_{resets + 1}"
    return key


def clip_browser(table: pd.DataFrame, ids: list[str], current: str) -> None:
    """The clip table (single-row selection; rows in the chosen sort order; a frame of each clip's video
    when few rows match) and the previous / next buttons."""
    key = clip_table_key(ids, current)
    st.session_state[TABLE_KEY] = key
    shown = table.loc[ids, [c for c in table.columns if c != "predicted"] + ["predicted"]]
    frames, frames_note = table_frames.frame_column(ctx.video_dir, ids, opening=current)
    if frames is not None:
        shown.insert(0, table_frames.FRAME_COLUMN, frames)
    st.dataframe(shown, key=key, on_select=on_table_select(key, ids), selection_mode="single-row", height=260,
                 width="stretch", column_config={**TABLE_COLUMNS, table_frames.FRAME_COLUMN: table_frames.FRAME_CONFIG},
                 placeholder="")  # fmt: skip  # a clip without a video: a blank frame cell
    cols = st.columns([1, 1, 4])
    cols[0].button("◀ Previous (k)", key="clip_prev", on_click=on_step(ids, -1), width="stretch", disabled=not ids)
    cols[1].button("Next (j) ▶", key="clip_next", on_click=on_step(ids, +1), width="stretch", disabled=not ids)
    where = f"clip {ids.index(current) + 1} of {len(ids)} shown" if current in ids else "hidden by the filters"
    cols[2].caption(f"{len(ids)} of {len(table)} clips match; the open clip is {where}. Click a row to open it."
                    + (f" {frames_note}" if frames_note else ""))


GRID_PAGE = 12  # clips per page of the grid view
GRID_COLUMNS = 6


def open_from_grid(clip_id: str):
    def callback() -> None:
        nav.set_clip(clip_id)

    return callback


def grid_poster(clip_id: str) -> tuple[bytes | None, str]:
    """(the middle frame of a clip's video as JPEG bytes, "") or (None, why there is none)."""
    video_path, how = widgets.clip_video(ctx, clip_id)
    if video_path is None:
        return None, "no video"
    try:
        from mmcse.media_view import media_view

        return media_view(video_path).poster(), ""
    except (ImportError, *widgets.USER_ERRORS):
        return None, "video unreadable"


def clip_grid(table: pd.DataFrame, ids: list[str], current: str) -> None:
    """The clips the table's filter keeps as a grid of thumbnails (the middle frame of each video; decoded
    once and kept on disk), a page of GRID_PAGE at a time, each with its id, its scores and an Open button."""
    if not st.toggle("Grid view", key="clip_grid", help="thumbnails of the clips that match the filter, a page at a time"):
        return
    if not ids:
        st.caption("No clip matches the filters.")
        return
    pages = (len(ids) + GRID_PAGE - 1) // GRID_PAGE
    page = st.number_input(f"Page (of {pages})", 1, pages, key="clip_grid_page", width=160) if pages > 1 else 1
    shown = ids[(page - 1) * GRID_PAGE : page * GRID_PAGE]
    with st.spinner("Reading the clips' frames (once per video)..."):
        for i, clip_id in enumerate(shown):
            if i % GRID_COLUMNS == 0:
                cols = st.columns(GRID_COLUMNS)
            with cols[i % GRID_COLUMNS].container(border=True, key=f"grid_cell_{i}"):
                row = table.loc[clip_id]
                poster, why = grid_poster(clip_id) if bool(row.get("video", False)) else (None, "no video")
                if poster is not None:
                    st.image(poster, width="stretch")
                else:
                    st.caption(f"({why})")
                scores = f"seg {row['seg Type@AV']:.1f} · evt {row['evt Type@AV']:.1f}" if "seg Type@AV" in row else ""
                st.caption(f"**{clip_id}**  \n{row['labels'] or '-'}" + (f"  \n{scores}" if scores else ""))
                st.button("Open" if clip_id != current else "Open (shown)", key=f"grid_open_{clip_id}",
                          on_click=open_from_grid(clip_id), disabled=clip_id == current, width="stretch")  # fmt: skip
    first = (page - 1) * GRID_PAGE + 1
    st.caption(f"Clips {first}-{first + len(shown) - 1} of the {len(ids)} that match, in the table's order.")


def pick_clip(table: pd.DataFrame, data) -> str:
    """The open clip: the one chosen before (kept by id across every widget change), a permalink's, else
    the showcase clip; a linked clip id that is not in the split is said and replaced."""
    nav.adopt_url_clip()
    current = nav.current_clip()
    if current is not None and current not in table.index:
        if nav.clip_from_link():  # a link's clip that is not there is said; after a split change, no need
            st.warning(f"Clip {current!r} is not in the {data.name} split; showing another clip.", icon="⚠️")
        current = None
    if current is None:
        current = browse.showcase_clip(table, data.gt_audio, data.gt_visual)
        nav.set_clip(current)
    nav.write_clip(current)
    return current


def dataset_clip() -> None:
    info, data, preds = widgets.predictions_or_stop(ctx)
    if len(data) == 0:
        st.info(f"The {data.name} split has no clips.")
        st.stop()
    has_video = cache.video_flags(ctx, data.filenames)
    table = cache.clip_table(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx), ctx.gating,
                             ctx.segment_threshold, ctx.video_threshold, has_video)  # fmt: skip
    pred_a, pred_v = widgets.binary(preds, ctx)
    widgets.warn_if_predicts_nothing(preds, data, ctx, (pred_a, pred_v))
    current = pick_clip(table, data)
    events = cache.error_table(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), cache.data_key(ctx), ctx.gating,
                               ctx.segment_threshold, ctx.video_threshold)  # fmt: skip
    tags = curate.open_store(ctx)
    table = curate.with_tags_column(table, tags)
    ids = browse.filter_clips(table, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual, events=events,
                              **clip_filters(data.gt_audio is not None))  # fmt: skip
    ids = curate.tag_filter(ids, tags)
    ids = browse.sort_clips(table, ids, st.session_state["clip_sort"], bool(st.session_state.get("clip_desc")))
    nav.write_view_params()
    clip_browser(table, ids, current)
    curate.downloads(ctx, ids, data, tags)
    clip_grid(table, ids, current)
    row = data.filenames.index(current)
    gt_a = None if data.gt_audio is None else data.gt_audio[row]
    gt_v = None if data.gt_visual is None else data.gt_visual[row]
    header(current, table.loc[current], ctx.checkpoint_name)
    curate.clip_editor(current, tags)
    parse = browse.clip_parse(preds, row, ctx.gating, ctx.segment_threshold, ctx.video_threshold)
    video_path, how = widgets.clip_video(ctx, current)
    show_parse(current, parse, gt_a, gt_v, video_path, how, weak=data.label[row], on_step_ids=ids,
               table_row=ids.index(current) if current in ids else None)  # fmt: skip
    prefetch_neighbours(ids, current)


def prefetch_neighbours(ids: list[str], current: str) -> None:
    """Decode the media lanes of the next and previous clips (video files only) in the background, so
    that j / k opens them from the cache."""
    from mmcse.media_view import prefetch
    from mmcse.video.io import find_video

    if current not in ids:
        return
    at = ids.index(current)
    found = [find_video(ctx.video_dir, ids[i]) for i in (at + 1, at - 1) if 0 <= i < len(ids)]
    prefetch([path for path in found if path is not None])


def header(clip: str, row: pd.Series, checkpoint: str) -> None:
    scores = f" · seg Type@AV **{row['seg Type@AV']:.1f}** · evt Type@AV **{row['evt Type@AV']:.1f}**" if "seg Type@AV" in row else ""
    st.markdown(f"#### {clip}\nweak labels: **{row['labels'] or '-'}**{scores} · {checkpoint}")


def show_parse(name, parse, gt_a, gt_v, video_path, how, weak=None, on_step_ids=None, table_row=None,
               uploaded: bool = False) -> None:  # fmt: skip
    # only the seconds the video has: the loop that fills an upload's last 10-s window is never drawn
    pred_a, pred_v, prob = browse.shown_seconds(parse)
    classes = viz.lane_classes(pred_a, pred_v, gt_a, gt_v, weak)
    timeline = viz.timeline_data(pred_a, pred_v, prob, gt_a, gt_v, classes=classes,
                                 segment_threshold=ctx.segment_threshold)  # fmt: skip
    note = "" if video_path is not None else (f"No video: {how}. The lanes and heatmaps work without it; the "
                                              "spectrogram and frames need the video file.")  # fmt: skip
    media, media_note = widgets.clip_media(video_path)
    if media_note:
        st.caption(media_note)
    if how == "rendered":
        st.caption("This demo clip's video was rendered on demand from the demo's seed (cached for the session).")
    step = on_step(on_step_ids) if on_step_ids is not None else None
    result = widgets.show_timeline([{"title": "", "timeline": timeline}], video_path, "timeline", name, note, step,
                                   view=dict(nav.view_state()), table_row=table_row, on_view=on_view,
                                   media=media, table_key=st.session_state.get(TABLE_KEY) if table_row is not None else None,
                                   on_table_sorted=on_table_sorted)  # fmt: skip
    paused = widgets.paused_time(result, name)
    if paused is not None:
        st.caption(f"Paused / seeked at {paused:.1f} s")
    if gt_a is not None:
        scores = metrics.avvp_scores(parse.pred_a[None], parse.pred_v[None], gt_a[None], gt_v[None])
        st.dataframe(viz.metrics_table({"this clip": scores}).style.format("{:.1f}"), width="stretch", key="clip_scores")
    st.subheader("Segment probabilities")
    show = classes or list(np.argsort(-prob.max(axis=0).max(axis=0))[:8])
    if st.checkbox("Show all 25 classes", key="heatmap_all"):
        show = list(range(len(LLP_CLASSES)))
    widgets.plot(viz.probability_heatmaps(prob, gt_a, gt_v, pred_a, pred_v, show),
                 "heatmaps", ctx, f"{Path(name).stem}_probabilities", clip_provenance(name, uploaded))  # fmt: skip
    events_and_downloads(name, parse, weak, gt_a, gt_v, video_path)


def clip_provenance(name: str, uploaded: bool) -> str:
    if not uploaded:
        return f"clip {name} · {widgets.provenance(ctx)}"
    return (f"uploaded {name} · {ctx.checkpoint_name} · gating {ctx.gating} · segment threshold "
            f"{ctx.segment_threshold:.2f} · video threshold {ctx.video_threshold:.2f}")  # fmt: skip


def events_and_downloads(name, parse, weak, gt_a, gt_v, video_path) -> None:
    st.subheader("Events")
    rows = metrics.events_to_tsv_rows(parse.events, header=False)
    st.dataframe(pd.DataFrame(rows, columns=list(metrics.TSV_HEADER)), width="stretch", hide_index=True, key="events_table")
    if gt_a is not None and gt_v is not None:
        event_errors(parse, gt_a, gt_v)
    identity = cache.checkpoint_identity(str(ctx.checkpoint), cache.mtime(ctx.checkpoint))
    identity["file"] = ctx.checkpoint_name
    record = browse.clip_record(parse, identity, context.code_revision(), weak, gt_a, gt_v)
    stem = Path(name).stem or "clip"
    cols = st.columns(3)
    cols[0].download_button("Events TSV", export.events_tsv(parse.events, parse.warnings), f"{stem}_events.tsv",
                            "text/tab-separated-values", key="dl_tsv")  # fmt: skip
    cols[1].download_button("Events JSON", json.dumps(record, indent=1), f"{stem}_events.json", "application/json", key="dl_json")
    if video_path is not None:
        annotated_download(cols[2], video_path, parse.events, parse.duration or 10.0, stem)


def event_errors(parse, gt_a, gt_v) -> None:
    """Every GT and predicted event of the clip with what went wrong (error_analysis, sound-event-detection
    words), its kind in its colour."""
    from mmcse.error_analysis import KIND_LEGEND, classify_events

    st.markdown("**What went wrong, event by event**")
    table = viz.event_error_table(classify_events(parse.pred_a, parse.pred_v, gt_a, gt_v))
    if table.empty:
        st.caption("No event annotated or predicted in this clip.")
        return
    shown = table.astype({"onset": int, "offset": int})
    for column, pattern in (("onset error", "{:+.0f}"), ("offset error", "{:+.0f}"), ("pieces", "{:.0f}")):
        shown[column] = [pattern.format(v) if pd.notna(v) else "" for v in table[column]]  # blank, not "None"
    styled = shown.style.map(lambda kind: f"color: {viz.kind_color(kind)}; font-weight: 600", subset=["kind"])
    st.dataframe(styled, width="stretch", hide_index=True, key="event_errors", height=min(35 * (len(table) + 1) + 3, 640))
    st.caption(f"Times in seconds; errors are prediction - GT (+ late). {KIND_LEGEND}.")


def annotated_download(col, video_path: Path, events, duration: float, stem: str) -> None:
    """Render the annotated mp4 on request (mmcse.video.annotate), then offer it for download."""
    from types import SimpleNamespace

    key = f"annotated::{video_path}::{hash(tuple(events))}"
    if key in st.session_state:
        col.download_button("Annotated mp4", st.session_state[key], f"{stem}_annotated.mp4", "video/mp4", key="dl_mp4")
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


def uploaded_video() -> None:
    st.caption("mp4 / webm / mkv / mov / avi up to the upload limit (server.maxUploadSize in .streamlit/config.toml; "
               "for bigger files use `python -m mmcse parse VIDEO --checkpoint CK`).")  # fmt: skip
    upload = st.file_uploader("Video file", type=["mp4", "webm", "mkv", "mov", "avi"], key="video_upload")
    if upload is None:
        st.stop()
    path = context.save_upload(upload)
    try:
        cache.get_parser(ctx.checkpoint)
        parse = cache.parse_video(str(ctx.checkpoint), cache.mtime(ctx.checkpoint), str(path))
    except (ImportError, *widgets.USER_ERRORS) as exc:
        widgets.show_error(exc, f"Cannot parse {upload.name}")
        st.info("Check that the file is a video with a picture track, and that the checkpoint's features can be "
                "extracted here (HAN / VALOR features need the backbones' weights: `python -m mmcse weights`).")  # fmt: skip
        st.stop()
    parse = parse.rethreshold(ctx.gating, ctx.segment_threshold, ctx.video_threshold)
    name = Path(upload.name).name  # the user's name in the lanes, exports and messages, not the stored one
    parse = dataclasses.replace(parse, path=name, events=[dataclasses.replace(ev, filename=name) for ev in parse.events],
                                warnings=[context.user_message(w) for w in parse.warnings])  # fmt: skip
    for warning in parse.warnings:
        st.warning(warning)
    show_parse(name, parse, None, None, path, "file", uploaded=True)


nav.restore_view()
if source == "A clip of the dataset":
    if ctx.data_root is None:
        widgets.first_run_message()
        st.stop()
    dataset_clip()
else:
    nav.write_clip(None)
    uploaded_video()

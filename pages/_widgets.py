"""What pages show the same way: errors without tracebacks (naming the user's files), the first-run message,
thresholded predictions and scores, figures with their download format, clip videos (rendered on demand
for demo clips) and the synchronised timeline component (assets/timeline.js)."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st

from mmcse import inference, metrics, viz
from mmcse.data.dataset import LLPSplit
from mmcse.demo.clips import demo_video
from mmcse.video.io import find_video
from pages._cache import get_parser, get_predictions_for, get_split, mtime
from pages._context import ASSETS, Context, user_message

MAX_INLINE_VIDEO_MB = 40  # without the media server, larger videos play with st.video (no playhead)
USER_ERRORS = (ValueError, FileNotFoundError, OSError, KeyError)
DEMO_CLIP_CACHE = Path(os.environ.get("MMCSE_CLIP_CACHE") or Path(tempfile.gettempdir()) / "mmcse_demo_clips")


def show_error(exc: BaseException, what: str = "") -> None:
    """A user-facing error: what went wrong and what to do, never a traceback; uploads named as the user
    named them."""
    message = str(exc) or type(exc).__name__
    st.error(user_message(f"{what + ': ' if what else ''}{message}"), icon="⚠️")


def predictions_or_stop(ctx: Context) -> tuple[inference.Parser, LLPSplit, inference.Predictions]:
    """Parser, split and whole-split predictions of the sidebar's checkpoint; on a problem, one message that
    blames the right thing (the checkpoint, the dataset, or the pair) and says what to do, and the page stops."""
    try:
        parser = get_parser(ctx.checkpoint)
    except USER_ERRORS as exc:
        show_error(exc, f"Cannot load the checkpoint {ctx.checkpoint_name}")
        st.stop()
    try:
        data = get_split(parser, ctx)
    except USER_ERRORS as exc:
        if "lists no clips" in str(exc):
            st.warning(f"The {ctx.split} split of {ctx.data_root} has no clips (the compact demo ships only val and "
                       "test). Choose val or test in the sidebar.", icon="⚠️")  # fmt: skip
        else:
            show_error(exc, f"Cannot read the {ctx.split} split of {ctx.data_root}")
        st.stop()
    try:
        preds = get_predictions_for(ctx.checkpoint, parser, data, ctx)
    except USER_ERRORS as exc:
        show_error(exc, f"Cannot run {ctx.checkpoint_name} on the {ctx.split} split of {ctx.data_root}")
        st.stop()
    if data.data_warnings:
        with st.expander(f"{len(data.data_warnings)} annotation row(s) kept as the official evaluation reads them"):
            for line in data.data_warnings:
                st.caption(line)
    return parser, data, preds


def require(ctx: Context, need_checkpoint: bool = True, need_data: bool = True) -> bool:
    """Show a first-run message (and stop the page) when no checkpoint / dataset is chosen."""
    if need_data and ctx.data_root is None:
        first_run_message()
        return False
    if need_checkpoint and ctx.checkpoint is None:
        st.info(
            "No checkpoint chosen. Pick one in the sidebar (runs are discovered under the runs folder), "
            "enter a path, or upload a .safetensors / the authors' .pth. Train one with "
            "`python -m mmcse train ...` or build the demo (it trains two) with `python -m mmcse demo`."
        )
        return False
    return True


def first_run_message() -> None:
    st.info(
        "No dataset found. Build the embedded demo (procedural videos, features and two trained checkpoints, "
        "about 10 minutes on a 2-core CPU):\n\n`python -m mmcse demo --out demo_data`\n\nthen reload this page; or set a "
        "dataset root in the sidebar (a folder with the LLP CSVs and feats/<stream>/<id>.npy)."
    )
    from pages import _demo_builder

    _demo_builder.build_button()


# ----------------------------------------------------------------------------- thresholds and figures


def binary(preds: inference.Predictions, ctx: Context, gating: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    return preds.binary(gating or ctx.gating, ctx.segment_threshold, ctx.video_threshold)


def split_scores(preds: inference.Predictions, data: LLPSplit, ctx: Context) -> dict[str, float] | None:
    if data.gt_audio is None:
        return None
    pred_a, pred_v = binary(preds, ctx)
    return metrics.avvp_scores(pred_a, pred_v, data.gt_audio, data.gt_visual)


def plot(fig, key: str, ctx: Context, filename: str | None = None, **selection):
    """st.plotly_chart at full width whose toolbar camera downloads the sidebar's format (PNG or SVG).
    ``selection``: on_select / selection_mode, passed through (returns the selection event)."""
    config = viz.figure_config(ctx.figure_format, filename or key)
    return st.plotly_chart(fig, width="stretch", key=key, config=config, **selection)


# ----------------------------------------------------------------------------- videos


def clip_video(ctx: Context, filename: str) -> tuple[Path | None, str]:
    """(video file, how it was found) for a clip of the dataset: the video folder, else (a demo clip) an mp4
    rendered on demand into a cache folder; (None, why) when there is none."""
    found = find_video(ctx.video_dir, filename)
    if found is not None:
        return found, "file"
    try:
        with st.spinner(f"Rendering the demo clip {filename} (about a second)..."):
            rendered = demo_video(ctx.data_root, filename, DEMO_CLIP_CACHE)
    except (ImportError, *USER_ERRORS) as exc:
        return None, f"the demo clip could not be rendered ({user_message(str(exc))})"
    if rendered is not None:
        return rendered, "rendered"
    if ctx.video_dir is not None and ctx.video_dir.is_dir():
        return None, f"no video file for {filename} in {ctx.video_dir} (LLP videos are downloaded by users)"
    return None, "no video folder set: set it in the sidebar (LLP videos are downloaded by users)"


VIDEO_MIME = {".webm": "video/webm", ".mkv": "video/webm", ".mov": "video/quicktime"}


def video_url(path: Path | None, key: str) -> tuple[str | None, str | None]:
    """(URL, note) for a clip's video: served by Streamlit's media file manager (the page's message stays
    small and the browser fetches the file, with range requests, while the lanes draw), else a data URL
    for a file small enough to inline; (None, why) for a file too big to inline."""
    if path is None:
        return None, None
    mime = VIDEO_MIME.get(Path(path).suffix.lower(), "video/mp4")
    try:
        from streamlit import runtime

        return runtime.get_instance().media_file_mgr.add(str(path), mime, f"mmcse_timeline.{key}"), None
    except (RuntimeError, AttributeError, OSError):  # no server runtime (bare script, some tests)
        pass
    size_mb = Path(path).stat().st_size / 1e6
    if size_mb > MAX_INLINE_VIDEO_MB:
        return None, f"the video is {size_mb:.0f} MB; it plays below without a synchronised playhead"
    return _data_url(str(path), mtime(path)), None


@st.cache_data(show_spinner=False, max_entries=32)
def _data_url(path: str, modified: float) -> str:
    mime = VIDEO_MIME.get(Path(path).suffix.lower(), "video/mp4")
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


# ----------------------------------------------------------------------------- the timeline component

_TIMELINE = None
_NARROW = None


def narrow_component():
    """assets/narrow.js: collapses the sidebar once on a narrow window (registered once per process)."""
    global _NARROW
    if _NARROW is None:
        _NARROW = st.components.v2.component("mmcse_narrow", js=(ASSETS / "narrow.js").read_text())
    return _NARROW


def timeline_component():
    global _TIMELINE
    if _TIMELINE is None:
        _TIMELINE = st.components.v2.component(
            "mmcse_timeline",
            html='<div class="mmcse-timeline"></div>',
            css=(ASSETS / "timeline.css").read_text(),
            js=(ASSETS / "timeline.js").read_text(),
        )
    return _TIMELINE


def show_timeline(sections: list[dict], video_path: Path | None, key: str, clip_id: str, video_note: str = "",
                  on_step=None):  # fmt: skip
    """The synchronised timeline: video beside the lanes of each section ({"title", "timeline"}), playhead,
    click-to-seek, zoom, keys. ``on_step``: called when j / k asks for the next / previous clip (the
    offset is in st.session_state[key]["step"]). Returns the component result (``.time``: where the user
    paused, in seconds)."""
    url, note = video_url(video_path, key)
    if note:
        st.caption(note)
        st.video(str(video_path))
    payload = {"video": url, "clip": clip_id, "sections": sections, "nav": on_step is not None,
               "video_note": video_note, "mode": "rows"}  # fmt: skip
    callbacks = {"on_time_change": lambda: None, "on_step_change": on_step or (lambda: None)}
    return timeline_component()(data=payload, key=key, **callbacks)


"""What pages show the same way: errors without tracebacks, the first-run message, thresholded predictions
and scores, and the synchronised timeline component (assets/timeline.js)."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import streamlit as st

from mmcse import inference, metrics
from mmcse.data.dataset import LLPSplit
from pages._cache import get_predictions, mtime
from pages._context import ASSETS, Context

MAX_INLINE_VIDEO_MB = 40  # larger videos play with st.video (no synchronised playhead)
USER_ERRORS = (ValueError, FileNotFoundError, OSError, KeyError)


def predictions_or_stop(
    ctx: Context,
) -> tuple[inference.Parser, LLPSplit, inference.Predictions]:
    """``get_predictions`` for the sidebar's checkpoint, or the error with what to do, and the page stops."""
    try:
        parser, data, preds = get_predictions(ctx.checkpoint, ctx)
    except USER_ERRORS as exc:
        show_error(exc, f"Cannot use {ctx.checkpoint.name} on {ctx.data_root}")
        st.stop()
    if data.data_warnings:
        with st.expander(f"{len(data.data_warnings)} annotation row(s) kept as the official evaluation reads them"):
            for line in data.data_warnings:
                st.caption(line)
    return parser, data, preds


def show_error(exc: BaseException, what: str = "") -> None:
    """A user-facing error: what went wrong and what to do, never a traceback."""
    message = str(exc) or type(exc).__name__
    st.error(f"{what + ': ' if what else ''}{message}", icon="⚠️")


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
        "a few minutes on a CPU):\n\n`python -m mmcse demo --out demo_data`\n\nthen reload this page; or set a "
        "dataset root in the sidebar (a folder with the LLP CSVs and feats/<stream>/<id>.npy)."
    )
    from pages import _demo_builder

    _demo_builder.build_button()


# ----------------------------------------------------------------------------- thresholds


def binary(preds: inference.Predictions, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    return preds.binary(ctx.gating, ctx.segment_threshold, ctx.video_threshold)


def split_scores(preds: inference.Predictions, data: LLPSplit, ctx: Context) -> dict[str, float] | None:
    if data.gt_audio is None:
        return None
    pred_a, pred_v = binary(preds, ctx)
    return metrics.avvp_scores(pred_a, pred_v, data.gt_audio, data.gt_visual)


# ----------------------------------------------------------------------------- the timeline component

_TIMELINE = None


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


def video_data_url(path: Path | None) -> tuple[str | None, str | None]:
    """(data URL, note) for a video file small enough to inline; (None, why) otherwise."""
    if path is None:
        return None, None
    size_mb = Path(path).stat().st_size / 1e6
    if size_mb > MAX_INLINE_VIDEO_MB:
        return None, f"the video is {size_mb:.0f} MB; it plays below without a synchronised playhead"
    return _data_url(str(path), mtime(path)), None


@st.cache_data(show_spinner=False, max_entries=16)
def _data_url(path: str, modified: float) -> str:
    mime = {".webm": "video/webm", ".mkv": "video/webm", ".mov": "video/quicktime"}.get(
        Path(path).suffix.lower(), "video/mp4"
    )
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def show_timeline(timeline: dict, video_path: Path | None, key: str, clip_id: str):
    """The synchronised timeline: video + lanes + playhead + click-to-seek. Returns the component result
    (``.time``: where the user paused or seeked, in seconds)."""
    url, note = video_data_url(video_path)
    if note:
        st.caption(note)
        st.video(str(video_path))
    payload = {"video": url, "clip": clip_id, "timeline": timeline}
    return timeline_component()(data=payload, key=key, on_time_change=lambda: None)

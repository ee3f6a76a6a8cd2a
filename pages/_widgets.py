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

from mmcse import viz
from mmcse.data.dataset import LLPSplit
from mmcse.demo.clips import demo_video
from mmcse.prediction_cache import SplitResults
from mmcse.predictions import Predictions
from mmcse.video.io import find_video
from pages._cache import CheckpointLoadError, ModelInfo, data_key, get_split, model_info, mtime, results_job
from pages._context import ASSETS, Context, display_name, user_message

MAX_INLINE_VIDEO_MB = 40  # without the media server, larger videos play with st.video (no playhead)
USER_ERRORS = (ValueError, FileNotFoundError, OSError, KeyError)
DEMO_CLIP_CACHE = Path(os.environ.get("MMCSE_CLIP_CACHE") or Path(tempfile.gettempdir()) / "mmcse_demo_clips")


def show_error(exc: BaseException, what: str = "") -> None:
    """A user-facing error: what went wrong and what to do, never a traceback; uploads named as the user
    named them."""
    message = str(exc) or type(exc).__name__
    st.error(user_message(f"{what + ': ' if what else ''}{message}"), icon="⚠️")


def feature_fit_message(ctx: Context, info: ModelInfo, name: str) -> str | None:
    """When the checkpoint's feature streams are not in the dataset's feature folder: one message naming both
    sides and what to change (the checkpoint, or the dataset root / feature folder); None when they fit."""
    from mmcse.data.features import INDEX_FILE
    from mmcse.data.splits import available_specs

    folder = Path(ctx.feature_root or Path(ctx.data_root) / "feats")
    if not folder.is_dir() or (folder / INDEX_FILE).is_file():
        return None  # open_split says what is missing; a packed store checks itself
    spec = info.feature_spec
    wanted = [s.name for s in spec.streams.values()]
    if all((folder / name).is_dir() for name in wanted):
        return None
    found = available_specs(folder)
    held = (f"'{found[0].name}' features ({', '.join(s.name for s in found[0].streams.values())})" if found
            else "no known feature set (folders: " + ", ".join(sorted(p.name for p in folder.iterdir() if p.is_dir())[:8]) + ")")  # fmt: skip
    fix_checkpoint = f"choose a checkpoint trained on '{found[0].name}' features" if found else "choose a checkpoint trained on the features it holds"
    return (f"The checkpoint {name} needs '{spec.name}' features ({', '.join(wanted)}), but the feature "
            f"folder {folder} holds {held}. Change one of the two: {fix_checkpoint} (sidebar, Checkpoint), or set the "
            f"Dataset root / Feature folder to data with '{spec.name}' features.")  # fmt: skip


def wait_for(job, what: str):
    """The result of a background job (mmcse.prediction_cache.Job), with a progress bar of the clips done while
    it runs; a job's error is raised here."""
    import time

    from mmcse.prediction_cache import cache_folder

    if not job.finished:
        bar = st.progress(0.0, text=f"{what}...")
        while not job.wait(0.3):
            done, total = job.done, max(job.total, 1)
            elapsed = time.perf_counter() - job.started
            left = f", about {elapsed / done * (total - done):.0f} s left" if done else ""
            bar.progress(min(done / total, 1.0), text=f"{what}: {done:,} of {total:,} clips, {elapsed:.0f} s{left}. "
                         f"Computed once for every page and session and kept in {cache_folder()}.")  # fmt: skip
        bar.empty()
    if job.error is not None:
        raise job.error
    return job.result


class Problem(Exception):
    """A message for the user (already naming the right thing and what to do); ``warning``: not an error."""

    def __init__(self, message: str, warning: bool = False) -> None:
        super().__init__(message)
        self.warning = warning


def load_results(ctx: Context, path: Path) -> tuple[ModelInfo, LLPSplit, SplitResults]:
    """Metadata, split and whole-split results of the checkpoint ``path``: from memory or disk, else computed
    in the background while a progress bar shows the clips done. A problem raises ``Problem`` with one message
    that blames the right thing (the checkpoint, the dataset, or the pair) and says what to do."""
    name = display_name(path)
    try:
        info = model_info(path)
    except USER_ERRORS as exc:
        raise Problem(f"Cannot load the checkpoint {name}: {exc}") from None
    problem = feature_fit_message(ctx, info, name) if ctx.data_root is not None else None
    if problem:
        raise Problem(problem)
    try:
        data = get_split(info, ctx)
    except USER_ERRORS as exc:
        if "lists no clips" in str(exc):
            raise Problem(f"The {ctx.split} split of {ctx.data_root} has no clips (the compact demo ships only val "
                          "and test). Choose val or test in the sidebar.", warning=True) from None  # fmt: skip
        raise Problem(f"Cannot read the {ctx.split} split of {ctx.data_root}: {exc}") from None
    try:
        job = results_job(path, info, data, data_key(ctx))
        results = wait_for(job, f"Predicting the {data.name} split with {name}")
    except CheckpointLoadError as exc:
        raise Problem(f"Cannot load the checkpoint {name}: {exc}") from None
    except USER_ERRORS as exc:
        raise Problem(f"Cannot run {name} on the {ctx.split} split of {ctx.data_root}: {exc}") from None
    return info, data, results


def results_or_stop(ctx: Context, path: Path | None = None) -> tuple[ModelInfo, LLPSplit, SplitResults]:
    """``load_results`` of the sidebar's checkpoint (or ``path``); a problem is shown and the page stops."""
    try:
        info, data, results = load_results(ctx, path or ctx.checkpoint)
    except Problem as problem:
        (st.warning if problem.warning else st.error)(user_message(str(problem)), icon="⚠️")
        st.stop()
    if data.data_warnings:
        with st.expander(f"{len(data.data_warnings)} annotation row(s) kept as the official evaluation reads them"):
            for line in data.data_warnings:
                st.caption(line)
    return info, data, results


def predictions_or_stop(ctx: Context) -> tuple[ModelInfo, LLPSplit, Predictions]:
    """``results_or_stop`` of the sidebar's checkpoint, its predictions only."""
    info, data, results = results_or_stop(ctx)
    return info, data, results.predictions


def require(ctx: Context, need_checkpoint: bool = True, need_data: bool = True) -> bool:
    """Show a first-run message (and stop the page) when no checkpoint / dataset is chosen."""
    if need_data and ctx.data_root is None:
        first_run_message()
        return False
    if need_checkpoint and ctx.checkpoint is None:
        where = (f"none was found in the runs folder {ctx.runs_dir}" if ctx.runs_dir is not None
                 else "no runs folder is set")  # fmt: skip
        st.info(
            f"No checkpoint chosen: {where}. In the sidebar, type the **Runs folder** your runs are in (or start the "
            "app with `MMCSE_RUNS=/path/to/runs`), or choose **Path** and give a checkpoint file or a run folder, "
            "or upload a .safetensors / the authors' .pth. Train one with `python -m mmcse train ...` or build the "
            "demo (it trains two) with `python -m mmcse demo`."
        )
        return False
    return True


def first_run_message() -> None:
    from mmcse.commands._common import build_demo_advice  # the words every command uses

    st.info(
        "No dataset found (neither demo_data/ nor the shipped assets/demo). The embedded demo is procedural videos, "
        f"features and two trained checkpoints: {build_demo_advice()}, then reload this page; or set a dataset "
        "root in the sidebar (a folder with the LLP CSVs and feats/<stream>/<id>.npy)."
    )
    from pages import _demo_builder

    _demo_builder.build_button()


# ----------------------------------------------------------------------------- thresholds and figures


def binary(preds: Predictions, ctx: Context, gating: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    return preds.binary(gating or ctx.gating, ctx.segment_threshold, ctx.video_threshold)


def warn_if_predicts_nothing(preds: Predictions, data: LLPSplit, ctx: Context, binary_preds=None) -> bool:
    """Say so when the checkpoint predicts no event at all on the split at the sidebar's gating and
    thresholds (its scores are then the "predict nothing" row); True when it does. ``binary_preds``: the
    thresholded (pred_a, pred_v) when the page has them."""
    pred_a, pred_v = binary_preds if binary_preds is not None else binary(preds, ctx)
    if pred_a.any() or pred_v.any():
        return False
    st.warning(
        f"**{ctx.checkpoint_name} predicts no event** on the {data.name} split at gating {ctx.gating}, segment "
        f"threshold {ctx.segment_threshold:.2f} and video threshold {ctx.video_threshold:.2f}: its scores are those "
        f"of the \"predict nothing\" row. Its highest segment probability is {float(preds.segment_prob.max()):.3f}; "
        f"highest video-level P {float(preds.video_prob.max()):.3f}, P_a {float(preds.audio_prob.max()):.3f}, "
        f"P_v {float(preds.visual_prob.max()):.3f}. Lower the thresholds in the sidebar, or check the checkpoint "
        "(an untrained or collapsed model predicts nothing).",
        icon="⚠️",
    )
    return True


def provenance(ctx: Context, gating: str | None = None, checkpoint: str | None = None) -> str:
    """What made a figure or a table, in one line: checkpoint, split, gating, thresholds."""
    return (f"{checkpoint or ctx.checkpoint_name} · {ctx.split} split of {Path(str(ctx.data_root)).name} · gating "
            f"{gating or ctx.gating} · segment threshold {ctx.segment_threshold:.2f} · video threshold "
            f"{ctx.video_threshold:.2f}")  # fmt: skip


def csv_header(ctx: Context, checkpoints=None, gating: str | None = None) -> str:
    """``#`` comment lines that open a downloaded CSV: checkpoint(s) with their sha256, dataset, split, gating
    and thresholds (read it with ``pandas.read_csv(path, comment="#")``)."""
    from pages._cache import checkpoint_identity

    lines = []
    for path in checkpoints or [ctx.checkpoint]:
        identity = checkpoint_identity(str(path), mtime(path))
        lines.append(f"# checkpoint: {display_name(path)} (sha256 {identity['sha256']})")
    lines += [f"# dataset: {ctx.data_root}", f"# split: {ctx.split}", f"# gating: {gating or ctx.gating}",
              f"# segment_threshold: {ctx.segment_threshold:.2f}", f"# video_threshold: {ctx.video_threshold:.2f}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def plot(fig, key: str, ctx: Context, filename: str | None = None, provenance_text: str | bool = True, **selection):
    """st.plotly_chart at full width whose toolbar camera downloads the sidebar's format (PNG or SVG), the
    figure saying what made it (``provenance_text``: True for the sidebar's checkpoint, split, gating and
    thresholds; a text; False for none). ``selection``: on_select / selection_mode, passed through (returns
    the selection event)."""
    if provenance_text:
        viz.with_provenance(fig, provenance(ctx) if provenance_text is True else provenance_text)
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
    if ctx.video_dir is not None:
        return None, (f"the video folder {ctx.video_dir} does not exist: set the sidebar's Video folder to where the "
                      "clips' video files are (LLP videos are downloaded by users)")  # fmt: skip
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


@st.cache_data(show_spinner=False, max_entries=64)
def _media_lanes(path: str, modified: float, size: int) -> dict:
    from mmcse.media_view import media_view
    from mmcse.viz.media import media_lanes

    return media_lanes(media_view(path))


def clip_media(video_path: Path | None) -> tuple[dict | None, str]:
    """(the timeline's audio & frames lanes of a video file, "") decoded once (mmcse.media_view, kept
    on disk) and kept in memory; (None, why) when the file does not read; (None, "") without a video."""
    if video_path is None:
        return None, ""
    try:
        return _media_lanes(str(video_path), mtime(video_path), Path(video_path).stat().st_size), ""
    except (ImportError, *USER_ERRORS) as exc:
        return None, f"No spectrogram or frames: {user_message(str(exc))}"


def show_timeline(sections: list[dict], video_path: Path | None, key: str, clip_id: str, video_note: str = "",
                  on_steps=None, view: dict | None = None, table_row: int | None = None, on_view=None,
                  media: dict | None = None, table_key: str | None = None, on_table_sorted=None):  # fmt: skip
    """The synchronised timeline: video beside the lanes of each section ({"title", "timeline"}), playhead,
    click-to-seek, zoom, keys. ``on_steps``: called when j / k were pressed (the running total is in
    st.session_state[key]["steps"], see ``step_offset``); ``view``: {"mode", "zoom", "media"} to open with;
    ``on_view``: called when the user changes them (st.session_state[key]["view"]); ``table_row``: the
    open clip's row in the clip table (the widget key ``table_key``), scrolled into view and marked;
    ``on_table_sorted``: called when the user clicks a column header of that table
    (st.session_state[key]["table_sorted"]: {"key", "n"}); ``media``: the audio & frames lanes (``clip_media``).
    Returns the component result (``.time``: where the
    user paused, {"time", "clip"})."""
    url, note = video_url(video_path, key)
    if note:
        st.caption(note)
        st.video(str(video_path))
    payload = {"video": url, "clip": clip_id, "sections": sections, "nav": on_steps is not None,
               "video_note": video_note, "mode": "rows", "view": view or {}, "table_row": table_row,
               "media": media, "table_key": table_key}  # fmt: skip
    callbacks = {"on_time_change": lambda: None, "on_steps_change": on_steps or (lambda: None),
                 "on_view_change": on_view or (lambda: None),
                 "on_table_sorted_change": on_table_sorted or (lambda: None)}  # fmt: skip
    return timeline_component()(data=payload, key=key, **callbacks)


def step_offset(key: str) -> int:
    """The j / k presses (net, +1 a j, -1 a k) not yet applied: the component reports a running total per
    mount ({"id", "net"}), so presses made while a rerun was under way are counted, never lost or doubled."""
    value = (st.session_state.get(key) or {}).get("steps")
    if not isinstance(value, dict):
        return 0
    seen = st.session_state.get(f"_{key}_steps_seen") or {}
    base = int(seen.get("net", 0)) if seen.get("id") == value.get("id") else 0
    st.session_state[f"_{key}_steps_seen"] = {"id": value.get("id"), "net": int(value.get("net", 0))}
    return int(value.get("net", 0)) - base


def paused_time(result, clip_id: str) -> float | None:
    """Where the user paused or seeked in ``clip_id`` (None when the last report was of another clip)."""
    value = getattr(result, "time", None)
    if isinstance(value, dict):
        return float(value["time"]) if value.get("clip") == clip_id and value.get("time") is not None else None
    return None

"""What every page shares: the sidebar context, cached loaders, clear error display, the timeline component.

UI glue only: data comes from mmcse.inference / splits / analysis, figures from mmcse.viz.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from mmcse import analysis, inference, metrics, splits
from mmcse.data.dataset import LLPSplit

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "assets"
UPLOAD_DIR = Path(tempfile.gettempdir()) / "mmcse_uploads"
MAX_INLINE_VIDEO_MB = 40  # larger videos play with st.video (no synchronised playhead)
USER_ERRORS = (ValueError, FileNotFoundError, OSError, KeyError)


# ----------------------------------------------------------------------------- the sidebar context


@dataclass
class Context:
    """The shared sidebar choices, read by every page."""

    checkpoint: Path | None = None
    checkpoints: list[Path] = field(default_factory=list)  # all discovered (for Compare)
    data_root: Path | None = None
    feature_root: Path | None = None  # None: <data root>/feats
    split: str = "test"
    video_dir: Path | None = None
    gating: str = "mmcse"
    segment_threshold: float = 0.5
    video_threshold: float = 0.5
    device: str = "cpu"


def context() -> Context:
    """The sidebar choices of this run (set by app.py before the page runs)."""
    _enter_through_app()
    return st.session_state.get("mmcse_context") or Context()


def _enter_through_app() -> None:
    """Make sure the page runs under app.py's st.navigation.

    Streamlit starts an app that has a pages/ folder in its legacy multipage mode until the entry script
    first calls st.navigation; a fresh server whose first visitor opens e.g. /video_parser would run that
    page file alone (no sidebar, Streamlit's own page list). Leave that mode and rerun through app.py."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def default_data_root() -> Path | None:
    """MMCSE_DATA_ROOT when set (and nothing else: an explicit choice is never swapped for the demo), else a
    built demo (demo_data/), else the compact prebuilt demo (assets/demo)."""
    explicit = os.environ.get("MMCSE_DATA_ROOT")
    candidates = [explicit] if explicit else [REPO / "demo_data", ASSETS / "demo"]
    for c in candidates:
        if c and (Path(c) / "AVVP_test_pd.csv").is_file():
            return Path(c)
    return None


def default_runs_dir(data_root: Path | None) -> Path | None:
    """MMCSE_RUNS, else <data root>/runs, else ./runs."""
    candidates = [os.environ.get("MMCSE_RUNS"), data_root / "runs" if data_root else None, REPO / "runs"]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


def discover_checkpoints(runs_dir: Path | None) -> list[Path]:
    """Model checkpoints under a runs folder (best/last.safetensors and any other .safetensors except the
    optimizer state files), newest run first."""
    if runs_dir is None or not Path(runs_dir).is_dir():
        return []
    found = [p for p in Path(runs_dir).rglob("*.safetensors") if p.name != "train_state.safetensors"]
    found += list(Path(runs_dir).rglob("*.pth"))
    rank = {"best.safetensors": 0, "last.safetensors": 1}
    return sorted(
        found, key=lambda p: (_arch(str(p), mtime(p)) != "mmcse", str(p.parent), rank.get(p.name, 2), p.name)
    )


@st.cache_data(show_spinner=False, max_entries=256)
def _arch(path: str, modified: float) -> str:
    """The architecture a checkpoint's header names (MM-CSE runs are listed first); "" when unreadable."""
    from mmcse.checkpoint import read_checkpoint_meta

    if not path.endswith(".safetensors"):
        return "mmcse"  # the authors' .pth is an MM-CSE
    try:
        return str(read_checkpoint_meta(path).get("arch", ""))
    except (ValueError, OSError):
        return ""


def checkpoint_label(path: Path, runs_dir: Path | None) -> str:
    try:
        return str(path.relative_to(runs_dir)) if runs_dir else str(path)
    except ValueError:
        return str(path)


def save_upload(uploaded) -> Path:
    """Write an uploaded file under a temp folder, named by its content hash (the user's name is untrusted)."""
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    suffix = Path(uploaded.name).suffix.lower()
    suffix = suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 6 else ".bin"
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    path = UPLOAD_DIR / f"{digest}{suffix}"
    if not path.exists():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


# ----------------------------------------------------------------------------- cached loaders


def mtime(path: Path | str | None) -> float:
    return Path(path).stat().st_mtime if path and Path(path).exists() else 0.0


@st.cache_resource(show_spinner="Loading the checkpoint...", max_entries=6)
def _parser(path: str, modified: float, device: str) -> inference.Parser:
    return inference.Parser.from_checkpoint(path, device=device)


def get_parser(path: Path) -> inference.Parser:
    """The model of a checkpoint, loaded once per file version (on the GPU when there is one)."""
    return _parser(str(path), mtime(path), "auto")


@st.cache_resource(show_spinner="Reading the annotations...", max_entries=8)
def _split(root: str, split: str, feature_root: str, spec_json: str, modified: float) -> LLPSplit:
    from mmcse.config import FeatureSpec

    spec = FeatureSpec.from_dict(json.loads(spec_json))
    return splits.load_split(root, split, spec, feature_root=feature_root or None)


def data_key(ctx: Context) -> tuple[str, str, str]:
    """(dataset root, split, feature folder) as plain strings, for cache keys."""
    return str(ctx.data_root), ctx.split, str(ctx.feature_root or "")


def _cached_split(parser: inference.Parser, key: tuple[str, str, str]) -> LLPSplit:
    from mmcse.data.llp import SPLIT_FILES

    root, split, feature_root = key
    spec_json = json.dumps(parser.feature_spec.to_dict(), sort_keys=True)
    return _split(root, split, feature_root, spec_json, mtime(Path(root) / SPLIT_FILES[split]))


def get_split(parser: inference.Parser, ctx: Context) -> LLPSplit:
    """Annotations of the chosen split and a reader of the checkpoint's features under the dataset root."""
    if ctx.data_root is None:
        raise FileNotFoundError("no dataset root set; build the demo with `python -m mmcse demo` or set one")
    return _cached_split(parser, data_key(ctx))


@st.cache_resource(max_entries=1)
def _prediction_cache() -> OrderedDict:
    """Whole-split predictions keyed by (checkpoint file, its mtime, dataset root, split, CSV mtime).

    A keyed cache_resource rather than st.cache_data: the first computation shows a real progress bar (a
    cache_data function would replay it on every hit) and hits return the arrays without a pickle copy."""
    return OrderedDict()


def get_predictions(path: Path, ctx: Context) -> tuple[inference.Parser, LLPSplit, inference.Predictions]:
    """Parser, split and the whole split's predictions (computed once per checkpoint version and split)."""
    parser = get_parser(path)
    data = get_split(parser, ctx)
    cache = _prediction_cache()
    key = (str(path), mtime(path), *data_key(ctx), len(data))
    if key not in cache:
        bar = st.progress(
            0.0, text=f"Predicting the {data.name} split ({len(data)} clips) with {path.name}..."
        )
        cache[key] = parser.predict_split(
            data,
            progress=lambda done, total: bar.progress(
                done / total, text=f"Predicting {done}/{total} clips..."
            ),
        )
        bar.empty()
        while len(cache) > 8:
            cache.popitem(last=False)
    return parser, data, cache[key]


@st.cache_data(show_spinner="Computing co-occurrence maps...", max_entries=16)
def cooccurrence(path: str, modified: float, key: tuple, only_active: bool) -> dict[str, np.ndarray]:
    """The learned maps of a checkpoint on a split (``key`` from ``data_key``), cached."""
    parser = _parser(path, modified, "auto")
    return analysis.cooccurrence_maps(parser, _cached_split(parser, key), only_active=only_active)


@st.cache_data(show_spinner="Computing the t-SNE embedding (up to ~15 s)...", max_entries=16)
def tsne_points(
    path: str, modified: float, key: tuple, stage: str, modalities: tuple, classes: tuple,
    events: bool, background: bool, max_points: int, seed: int,
) -> tuple[np.ndarray, dict]:  # fmt: skip
    """Class-wise feature samples of a checkpoint on a split and their 2-D t-SNE, cached."""
    parser = _parser(path, modified, "auto")
    features, table = analysis.class_feature_samples(
        parser, _cached_split(parser, key), stage=stage, modalities=modalities, classes=list(classes),
        include_events=events, include_background=background, max_points=max_points, seed=seed,
    )  # fmt: skip
    return analysis.tsne_embed(features, seed=seed), table


# ----------------------------------------------------------------------------- errors


def predictions_or_stop(
    ctx: Context,
) -> tuple[inference.Parser, LLPSplit, inference.Predictions]:
    """``get_predictions`` for the sidebar's checkpoint, or the error with what to do, and the page stops."""
    try:
        return get_predictions(ctx.checkpoint, ctx)
    except USER_ERRORS as exc:
        show_error(exc, f"Cannot use {ctx.checkpoint.name} on {ctx.data_root}")
        st.stop()


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


@st.cache_data(show_spinner="Extracting features and parsing the video...", max_entries=8)
def parse_video(checkpoint: str, modified: float, video: str) -> inference.VideoParse:
    """A parsed upload, cached by checkpoint version and the upload's content-hash file name."""
    return _parser(checkpoint, modified, "auto").parse_video(video)

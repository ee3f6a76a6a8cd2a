"""Cached loaders: the model of a checkpoint (cache_resource), a split, whole-split predictions, the clip
table, the interpretability views and parsed uploads, each keyed by the files and their modification
times (and, for threshold-dependent results, the gating and thresholds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import streamlit as st

from mmcse import analysis, browse, export, inference
from mmcse.config import FeatureSpec
from mmcse.data.dataset import LLPSplit
from mmcse.data.llp import SPLIT_FILES
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split
from mmcse.demo.clips import demo_clip_spec, read_demo_manifest
from mmcse.video.io import VIDEO_SUFFIXES
from pages._context import Context


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
    spec = FeatureSpec.from_dict(json.loads(spec_json))
    paths = DataPaths.from_root(root, spec, feature_root=feature_root or None, use_pseudo_labels=False)
    return open_split(paths, split)


def data_key(ctx: Context) -> tuple[str, str, str]:
    """(dataset root, split, feature folder) as plain strings, for cache keys."""
    return str(ctx.data_root), ctx.split, str(ctx.feature_root or "")


def _cached_split(parser: inference.Parser, key: tuple[str, str, str]) -> LLPSplit:
    root, split, feature_root = key
    spec_json = json.dumps(parser.feature_spec.to_dict(), sort_keys=True)
    return _split(root, split, feature_root, spec_json, mtime(Path(root) / SPLIT_FILES[split]))


def get_split(parser: inference.Parser, ctx: Context) -> LLPSplit:
    """Annotations of the chosen split and a reader of the checkpoint's features under the dataset root."""
    if ctx.data_root is None:
        raise FileNotFoundError("no dataset root set; build the demo with `python -m mmcse demo` or set one")
    return _cached_split(parser, data_key(ctx))


@st.cache_resource(show_spinner=False, max_entries=8)
def _predictions(path: str, modified: float, key: tuple, n_clips: int) -> inference.Predictions:
    """Whole-split predictions of a checkpoint version (cache_resource: hits return the arrays, no copy)."""
    parser = _parser(path, modified, "auto")
    data = _cached_split(parser, key)
    with st.spinner(f"Predicting the {data.name} split ({n_clips} clips) with {Path(path).name}..."):
        return parser.predict_split(data)


def get_predictions(path: Path, ctx: Context) -> tuple[inference.Parser, LLPSplit, inference.Predictions]:
    """Parser, split and the whole split's predictions (computed once per checkpoint version and split)."""
    parser = get_parser(path)
    data = get_split(parser, ctx)
    return parser, data, get_predictions_for(path, parser, data, ctx)


def get_predictions_for(path: Path, parser: inference.Parser, data: LLPSplit, ctx: Context) -> inference.Predictions:
    """The whole split's predictions of an already loaded checkpoint and split."""
    return _predictions(str(path), mtime(path), data_key(ctx), len(data))


@st.cache_data(show_spinner=False, max_entries=16)
def checkpoint_identity(path: str, modified: float) -> dict:
    """export.checkpoint_identity (file, sha256, arch, training code revision), hashed once per version."""
    return export.checkpoint_identity(path, _parser(path, modified, "auto").meta)


@st.cache_data(show_spinner=False, max_entries=64)
def clip_table(path: str, modified: float, key: tuple, gating: str, seg_t: float, vid_t: float,
               has_video: tuple[bool, ...]):  # fmt: skip
    """browse.clip_table of a checkpoint on a split at these thresholds (cached: the browser's table is
    redrawn on every clip switch)."""
    parser = _parser(path, modified, "auto")
    data = _cached_split(parser, key)
    pred_a, pred_v = _predictions(path, modified, key, len(data)).binary(gating, seg_t, vid_t)
    return browse.clip_table(data.filenames, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual, has_video)


@st.cache_data(show_spinner=False, max_entries=16)
def _video_stems(video_dir: str, modified: float) -> frozenset[str]:
    folder = Path(video_dir)
    return frozenset(p.stem for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


@st.cache_data(show_spinner=False, max_entries=16)
def _demo_renderable(data_root: str, modified: float, filenames: tuple[str, ...]) -> tuple[bool, ...]:
    manifest = read_demo_manifest(data_root)
    if manifest is None:
        return (False,) * len(filenames)
    return tuple(demo_clip_spec(manifest, name) is not None for name in filenames)


def video_flags(ctx: Context, filenames: list[str]) -> tuple[bool, ...]:
    """Per clip: a video file in the video folder (<filename>.* or <id11>*.*), or a demo clip that can be
    rendered on demand."""
    stems: frozenset[str] = frozenset()
    if ctx.video_dir is not None and ctx.video_dir.is_dir():
        stems = _video_stems(str(ctx.video_dir), mtime(ctx.video_dir))
    ids = {s[:11] for s in stems}
    renderable = (False,) * len(filenames)
    if ctx.data_root is not None:
        renderable = _demo_renderable(str(ctx.data_root), mtime(Path(ctx.data_root) / "manifest.json"), tuple(filenames))
    return tuple(name in stems or name[:11] in ids or r for name, r in zip(filenames, renderable))


@st.cache_data(show_spinner="Sweeping the thresholds...", max_entries=16)
def threshold_sweep(path: str, modified: float, key: tuple, gating: str):
    parser = _parser(path, modified, "auto")
    data = _cached_split(parser, key)
    preds = _predictions(path, modified, key, len(data))
    return analysis.threshold_sweep(preds, data.gt_audio, data.gt_visual, gating)


@st.cache_data(show_spinner=False, max_entries=32)
def pr_curves(path: str, modified: float, key: tuple, gating: str, modality: str, classes: tuple, current: tuple):
    parser = _parser(path, modified, "auto")
    data = _cached_split(parser, key)
    preds = _predictions(path, modified, key, len(data))
    return analysis.pr_curves(preds, data.gt_audio, data.gt_visual, gating, modality, classes, current)


@st.cache_data(show_spinner="Computing co-occurrence maps...", max_entries=16)
def cooccurrence(path: str, modified: float, key: tuple, only_active: bool) -> dict[str, np.ndarray]:
    """The learned maps of a checkpoint on a split (``key`` from ``data_key``), cached."""
    parser = _parser(path, modified, "auto")
    return analysis.cooccurrence_maps(parser, _cached_split(parser, key), only_active=only_active)


@st.cache_resource(show_spinner=False)
def _tsne_results() -> dict:
    """Finished t-SNE runs shared by all sessions, by their parameters (the newest 16 kept)."""
    return {}


def tsne_cached(params: tuple):
    """The (xy, table) of a finished run with these parameters, or None."""
    return _tsne_results().get(params)


def _embed_with_progress(features: np.ndarray, seed: int, on_progress=None) -> np.ndarray:
    """analysis.tsne_embed on a worker thread while the bar counts the seconds (t-SNE reports no progress
    of its own; about 2-3 ms a point on 2 shared cores)."""
    import time
    from concurrent.futures import ThreadPoolExecutor, wait

    expected = max(2.0, 0.0025 * len(features))
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(analysis.tsne_embed, features, seed)
        start = time.perf_counter()
        while on_progress and not future.done():
            elapsed = time.perf_counter() - start
            on_progress(0.7 + 0.29 * min(elapsed / expected, 1.0),
                        f"t-SNE of {len(features)} points: {elapsed:.0f} s (about {expected:.0f} s on 2 cores)...")  # fmt: skip
            wait([future], timeout=0.5)
        return future.result()


def tsne_run(params: tuple, on_progress=None) -> tuple[np.ndarray, dict]:
    """Class-wise feature samples of a checkpoint on a split and their 2-D t-SNE. ``params``: (checkpoint
    path, mtime, data key, stage, modalities, classes, events, background, max points, seed).
    ``on_progress(fraction, text)`` hears the feature pass; the result is kept for ``tsne_cached``."""
    path, modified, key, stage, modalities, classes, events, background, max_points, seed = params
    parser = _parser(path, modified, "auto")
    split = _cached_split(parser, key)

    def report(done: int, total: int) -> None:
        if on_progress:
            on_progress(0.7 * done / max(total, 1), f"Class-wise features: {done}/{total} clips")

    features, table = analysis.class_feature_samples(
        parser, split, stage=stage, modalities=modalities, classes=list(classes), include_events=events,
        include_background=background, max_points=max_points, seed=seed, progress=report,
    )  # fmt: skip
    result = (_embed_with_progress(features, seed, on_progress), table)
    store = _tsne_results()
    store[params] = result
    while len(store) > 16:
        store.pop(next(iter(store)))
    return result


@st.cache_data(show_spinner="Extracting features and parsing the video...", max_entries=8)
def parse_video(checkpoint: str, modified: float, video: str) -> inference.VideoParse:
    """A parsed upload, cached by checkpoint version and the upload's content-hash file name."""
    return _parser(checkpoint, modified, "auto").parse_video(video)


@st.cache_data(show_spinner=False, max_entries=32)
def matrix_image(matrix: np.ndarray, title: str, diverging: bool, image_format: str) -> bytes:
    """viz.matrix_image, cached (matplotlib takes a few tenths of a second per map)."""
    from mmcse import viz

    return viz.matrix_image(matrix, title, diverging, image_format)

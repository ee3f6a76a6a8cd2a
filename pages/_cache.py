"""Cached loaders: a checkpoint's metadata and (only to compute) its model, a split, the checkpoint's
whole-split results (probabilities, co-occurrence maps, class-wise feature points: mmcse.prediction_cache,
computed once per checkpoint sha256, split and feature files on a background thread, kept on disk and shared
by every page and session), the clip table and the views derived from them, and parsed uploads; keyed by the
files and their modification times (and, for threshold-dependent results, the gating and thresholds)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from mmcse import analysis, browse, error_analysis, export, metrics, prediction_cache
from mmcse.checkpoint import CheckpointMetaView, read_checkpoint_meta
from mmcse.config import FeatureSpec
from mmcse.data.dataset import LLPSplit
from mmcse.data.llp import SPLIT_FILES
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split
from mmcse.demo.clips import demo_clip_spec, read_demo_manifest
from mmcse.predictions import VideoParse
from mmcse.utils.files import atomic_path
from mmcse.video.io import VIDEO_SUFFIXES
from pages._context import Context

if TYPE_CHECKING:
    from mmcse.inference import Parser


def mtime(path: Path | str | None) -> float:
    return Path(path).stat().st_mtime if path and Path(path).exists() else 0.0


def load_parser(path: str | Path, device: str = "auto") -> Parser:
    """A checkpoint's model; torch is imported here, only when a model is needed. On a CPU one thread per
    model call (``$MMCSE_APP_THREADS``): the app's batches are small, and two OpenMP threads on busy shared
    cores spin at their barriers (a 100-clip forward of the demo MM-CSE took 2-4 s with 2 threads and
    0.16-0.26 s with 1, at load 5.5)."""
    import os

    import torch

    from mmcse.inference import Parser

    if not torch.cuda.is_available():
        torch.set_num_threads(max(1, int(os.environ.get("MMCSE_APP_THREADS", "1"))))
    return Parser.from_checkpoint(path, device=device)


@st.cache_resource(show_spinner="Loading the checkpoint...", max_entries=4)
def _parser(path: str, modified: float, device: str) -> Parser:
    return load_parser(path, device)


def get_parser(path: Path) -> Parser:
    """The model of a checkpoint, loaded once per file version (on the GPU when there is one): for parsing an
    uploaded video; the pages' split views come from ``results``."""
    return _parser(str(path), mtime(path), "auto")


@st.cache_resource(show_spinner="Reading the annotations...", max_entries=8)
def _split(root: str, split: str, feature_root: str, spec_json: str, modified: float) -> LLPSplit:
    spec = FeatureSpec.from_dict(json.loads(spec_json))
    paths = DataPaths.from_root(root, spec, feature_root=feature_root or None, use_pseudo_labels=False)
    return open_split(paths, split)


def data_key(ctx: Context) -> tuple[str, str, str]:
    """(dataset root, split, feature folder) as plain strings, for cache keys."""
    return str(ctx.data_root), ctx.split, str(ctx.feature_root or "")


def _cached_split(info, key: tuple[str, str, str]) -> LLPSplit:
    """The split ``key`` read with the features of ``info`` (a ModelInfo or a Parser)."""
    return _cached_split_spec(json.dumps(info.feature_spec.to_dict(), sort_keys=True), key)


def get_split(info, ctx: Context) -> LLPSplit:
    """Annotations of the chosen split and a reader of the checkpoint's features under the dataset root."""
    if ctx.data_root is None:
        raise FileNotFoundError("no dataset root set; build the demo with `python -m mmcse demo` or set one")
    return _cached_split(info, data_key(ctx))


class CheckpointLoadError(ValueError):
    """The checkpoint's weights could not be loaded (raised from the background job, told apart from data errors)."""


@dataclass(frozen=True)
class ModelInfo(CheckpointMetaView):
    """What the pages need to know of a checkpoint without building its model: the metadata (the safetensors
    header; an authors' .pth is loaded once for it)."""

    meta: dict

    @property
    def feature_spec(self) -> FeatureSpec:
        return FeatureSpec.from_dict(self.meta["feature_spec"])


@st.cache_data(show_spinner=False, max_entries=32)
def _meta(path: str, modified: float) -> dict:
    if Path(path).suffix == ".pth":
        return _parser(path, modified, "auto").meta
    meta = read_checkpoint_meta(path)
    try:
        FeatureSpec.from_dict(meta["feature_spec"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a usable mmcse checkpoint (its feature spec does not read: {exc})") from None
    return meta


def model_info(path: Path) -> ModelInfo:
    """The checkpoint's metadata (header only: no model is built unless its results must be computed)."""
    return ModelInfo(_meta(str(path), mtime(path)))


def _stream_mtimes(ctx_key: tuple[str, str, str], spec: FeatureSpec) -> tuple[float, ...]:
    root, _, feature_root = ctx_key
    folder = Path(feature_root or Path(root) / "feats")
    return tuple(mtime(folder / s.name) for s in spec.streams.values()) + (mtime(folder),)


@st.cache_resource(show_spinner=False, max_entries=32)
def _results_key(path: str, modified: float, key: tuple, spec_json: str, csv_modified: float, streams: tuple) -> str:
    """prediction_cache.cache_key of a checkpoint version on a split, computed once per file versions (the
    checkpoint's sha256 and a stat of every feature file)."""
    return prediction_cache.cache_key(prediction_cache.file_sha256(path), _cached_split_spec(spec_json, key))


def _cached_split_spec(spec_json: str, key: tuple) -> LLPSplit:
    root, split, _ = key
    return _split(root, split, key[2], spec_json, mtime(Path(root) / SPLIT_FILES[split]))


def results_key(path: Path, info: ModelInfo, key: tuple) -> str:
    spec = info.feature_spec
    spec_json = json.dumps(spec.to_dict(), sort_keys=True)
    return _results_key(str(path), mtime(path), key, spec_json, mtime(Path(key[0]) / SPLIT_FILES[key[1]]),
                        _stream_mtimes(key, spec))  # fmt: skip


def results_job(path: Path, info: ModelInfo, data: LLPSplit, key: tuple) -> prediction_cache.Job:
    """The checkpoint's results on the split: in memory, else on disk (prediction_cache), else computed on a
    background thread (one job per results key, shared by every page and session)."""
    rkey = results_key(path, info, key)
    job = prediction_cache.find_job(rkey)
    if job is not None:
        return job
    loaded = prediction_cache.load(rkey)
    if loaded is not None:
        return prediction_cache.finished_job(rkey, loaded)
    sha = prediction_cache.file_sha256(path)

    def work(progress):
        try:
            parser = load_parser(path)  # torch: only to compute results not cached yet
        except (ValueError, OSError, KeyError) as exc:
            raise CheckpointLoadError(str(exc)) from None
        workers = prediction_cache.predict_workers(parser.device.type)
        info = {"checkpoint_sha256": sha, "split": data.name, "device": str(parser.device)}
        return prediction_cache.compute_and_store(parser, data, rkey, progress, workers=workers, info=info)

    return prediction_cache.background(rkey, len(data), work)


def results(path: str, modified: float, key: tuple) -> prediction_cache.SplitResults:
    """The finished results of a checkpoint on a split (computed here, without a progress bar, when no page
    has asked for them yet: pages wait on ``results_job`` first)."""
    info = ModelInfo(_meta(path, modified))
    data = _cached_split_spec(json.dumps(info.feature_spec.to_dict(), sort_keys=True), key)
    job = results_job(Path(path), info, data, key)
    job.wait()
    if job.error is not None:
        raise job.error
    return job.result


@st.cache_data(show_spinner=False, max_entries=16)
def checkpoint_identity(path: str, modified: float) -> dict:
    """export.checkpoint_identity (file, full sha256, arch, training code revision), hashed once per version."""
    return export.checkpoint_identity(path, _meta(path, modified), sha256=prediction_cache.file_sha256(path))


def _split_of(path: str, modified: float, key: tuple) -> LLPSplit:
    return _cached_split(ModelInfo(_meta(path, modified)), key)


@st.cache_data(show_spinner=False, max_entries=64)
def clip_table(path: str, modified: float, key: tuple, gating: str, seg_t: float, vid_t: float,
               has_video: tuple[bool, ...]):  # fmt: skip
    """browse.clip_table of a checkpoint on a split at these thresholds (cached: the browser's table is
    redrawn on every clip switch)."""
    data = _split_of(path, modified, key)
    pred_a, pred_v = results(path, modified, key).predictions.binary(gating, seg_t, vid_t)
    events = error_table(path, modified, key, gating, seg_t, vid_t)
    return browse.clip_table(data.filenames, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual, has_video,
                             events=events)  # fmt: skip


@st.cache_data(show_spinner="Classifying the errors...", max_entries=16)
def error_table(path: str, modified: float, key: tuple, gating: str, seg_t: float, vid_t: float):
    """error_analysis.split_error_table of a checkpoint on a split at these thresholds (every GT and predicted
    event with its kind; about 1 s for LLP's 1,200 test clips), computed once for the clip table, its filters
    and the Overview, and kept beside the split's results in the results cache (a Parquet file per gating and
    thresholds), so a restarted server reads it; None for a split without dense labels."""
    data = _split_of(path, modified, key)
    if data.gt_audio is None or data.gt_visual is None:
        return None
    info = ModelInfo(_meta(path, modified))
    stored = prediction_cache.cache_folder() / (
        f"{results_key(Path(path), info, key)}.errors.{gating}.{seg_t:.4f}.{vid_t:.4f}.parquet"
    )
    if stored.is_file():
        try:
            return pd.read_parquet(stored)
        except (OSError, ValueError):  # a damaged copy: computed again and replaced
            pass
    pred_a, pred_v = results(path, modified, key).predictions.binary(gating, seg_t, vid_t)
    table = error_analysis.split_error_table(pred_a, pred_v, data.gt_audio, data.gt_visual, data.filenames)
    try:
        with atomic_path(stored, suffix=".parquet") as tmp:
            table.to_parquet(tmp, index=False)
    except OSError:  # a read-only cache: the table is still shown
        pass
    return table


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


@st.cache_data(show_spinner=False, max_entries=64)
def split_scores(path: str, modified: float, key: tuple, gating: str, seg_t: float, vid_t: float) -> dict | None:
    """The 10 numbers of a checkpoint on a split at these thresholds (metrics.avvp_scores), once per session
    set: every rerun of a page asks again; None for a split without dense labels."""
    data = _split_of(path, modified, key)
    if data.gt_audio is None or data.gt_visual is None:
        return None
    pred_a, pred_v = results(path, modified, key).predictions.binary(gating, seg_t, vid_t)
    return metrics.avvp_scores(pred_a, pred_v, data.gt_audio, data.gt_visual)


@st.cache_data(show_spinner=False, max_entries=32)
def per_class_report(path: str, modified: float, key: tuple, gating: str, seg_t: float, vid_t: float) -> pd.DataFrame:
    """analysis.per_class_report of a checkpoint on a split (with dense labels) at these thresholds."""
    data = _split_of(path, modified, key)
    pred_a, pred_v = results(path, modified, key).predictions.binary(gating, seg_t, vid_t)
    return analysis.per_class_report(pred_a, pred_v, data.gt_audio, data.gt_visual)


@st.cache_data(show_spinner=False, max_entries=16)
def reference_rows(key: tuple, spec_json: str, csv_modified: float) -> dict:
    """analysis.reference_rows of a split (they depend on its annotations only), computed once."""
    return analysis.reference_rows(_cached_split_spec(spec_json, key))


@st.cache_data(show_spinner="Sweeping the thresholds...", max_entries=16)
def threshold_sweep(path: str, modified: float, key: tuple, gating: str):
    data = _split_of(path, modified, key)
    return analysis.threshold_sweep(results(path, modified, key).predictions, data.gt_audio, data.gt_visual, gating)


@st.cache_data(show_spinner=False, max_entries=32)
def pr_curves(path: str, modified: float, key: tuple, gating: str, modality: str, classes: tuple, current: tuple):
    data = _split_of(path, modified, key)
    preds = results(path, modified, key).predictions
    return analysis.pr_curves(preds, data.gt_audio, data.gt_visual, gating, modality, classes, current)


def cooccurrence(path: str, modified: float, key: tuple, only_active: bool) -> dict[str, np.ndarray]:
    """The learned maps of a checkpoint on a split (``key`` from ``data_key``), from its stored results."""
    maps = results(path, modified, key).maps
    if maps is None:
        raise ValueError("this checkpoint has no co-occurrence maps (only MM-CSE learns them)")
    return maps["active" if only_active else "all"]


def feature_clips(path: str, modified: float, key: tuple) -> int:
    """How many clips of the split the stored class-wise feature points come from."""
    return results(path, modified, key).feature_clips


@st.cache_data(show_spinner=False, max_entries=16)
def tsne_embedding(params: tuple) -> tuple[np.ndarray, dict]:
    """Class-wise feature samples of a checkpoint on a split (taken from its stored feature points, no model
    pass) and their 2-D t-SNE (M, 2), with the table columns of the points. ``params``: (checkpoint path,
    mtime, data key, stage, modalities, classes, events, background, max points, seed). The newest 16 runs
    are kept for every session; scikit-learn's t-SNE reports no progress, so the caller shows the elapsed time."""
    path, modified, key, stage, modalities, classes, events, background, max_points, seed = params
    pool = results(path, modified, key).pool(stage)
    if pool is None:
        raise ValueError("this checkpoint has no class-wise features (only MM-CSE has them)")
    chosen = pool.select(modalities, list(classes), events, background)
    features, table = analysis.subsample(pool, chosen, _split_of(path, modified, key).filenames, max_points, seed)
    return analysis.tsne_embed(features, seed), table


@st.cache_data(show_spinner="Extracting features and parsing the video...", max_entries=8)
def parse_video(checkpoint: str, modified: float, video: str) -> VideoParse:
    """A parsed upload, cached by checkpoint version and the upload's content-hash file name."""
    return _parser(checkpoint, modified, "auto").parse_video(video)


@st.cache_data(show_spinner=False, max_entries=32)
def matrix_image(matrix: np.ndarray, title: str, diverging: bool, image_format: str) -> bytes:
    """viz.matrix_image, cached (matplotlib takes a few tenths of a second per map)."""
    from mmcse import viz

    return viz.matrix_image(matrix, title, diverging, image_format)

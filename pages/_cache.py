"""Cached loaders: the model of a checkpoint (cache_resource), a split, whole-split predictions, the
interpretability views and parsed uploads, each keyed by the files and their modification times."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import streamlit as st

from mmcse import analysis, inference
from mmcse.config import FeatureSpec
from mmcse.data.dataset import LLPSplit
from mmcse.data.llp import SPLIT_FILES
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split
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
    return parser, data, _predictions(str(path), mtime(path), data_key(ctx), len(data))


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


@st.cache_data(show_spinner="Extracting features and parsing the video...", max_entries=8)
def parse_video(checkpoint: str, modified: float, video: str) -> inference.VideoParse:
    """A parsed upload, cached by checkpoint version and the upload's content-hash file name."""
    return _parser(checkpoint, modified, "auto").parse_video(video)

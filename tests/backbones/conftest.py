"""Fixtures of the backbone tests: weight folders of random weights in the published files' formats, and
generated videos. ``small_backbones`` shrinks ResNet-152 / R(2+1)D-18 (one block per stage) and their
input sizes so that the command tests run in seconds; the architecture and preprocessing themselves are
checked at full size against the references in test_reference.py."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from helpers.backbone_weights import save_random_weights, small_models  # noqa: F401  (used by fixtures)

from mmcse.backbones import preprocess, r2plus1d, resnet
from mmcse.demo.procedural import render_audio, render_frames, sample_clip
from mmcse.video.io import write_video


@pytest.fixture
def small_backbones(monkeypatch):
    monkeypatch.setattr(resnet, "ResNet152", functools.partial(resnet.ResNet152, layers=(1, 1, 1, 1)))
    monkeypatch.setattr(r2plus1d, "R2Plus1D18", functools.partial(r2plus1d.R2Plus1D18, layers=(1, 1, 1, 1)))
    monkeypatch.setattr(preprocess, "IMAGENET_RESIZE", 40)
    monkeypatch.setattr(preprocess, "IMAGENET_CROP", 32)
    monkeypatch.setattr(preprocess, "KINETICS_RESIZE", (40, 52))
    monkeypatch.setattr(preprocess, "KINETICS_CROP", 32)


@pytest.fixture(scope="session")
def small_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    save_random_weights(folder, small_models())
    return folder


@pytest.fixture(autouse=True)
def no_user_weights(monkeypatch, tmp_path):
    """Never find the user's own weights: $MMCSE_WEIGHTS unset, torch hub's cache an empty folder; the
    feature cache in the test's folder."""
    monkeypatch.delenv("MMCSE_WEIGHTS", raising=False)
    monkeypatch.setenv("MMCSE_FEATURE_CACHE", str(tmp_path / "feature_cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    """A 10-s clip named like an LLP clip, a 3-s clip, a 12-s clip without audio, a non-video."""
    root = tmp_path_factory.mktemp("videos")
    out = {}
    spec = sample_clip("test", 0, seed=3)
    frames, audio = render_frames(spec, 8), render_audio(spec)
    out["full"] = root / "AbCdEfGhIjK_30_40.mp4"
    write_video(out["full"], frames, 8, audio)
    out["short"] = root / "short3.mp4"
    write_video(out["short"], frames[:24], 8, audio[:48000])
    out["silent"] = root / "silent_long.mp4"
    write_video(out["silent"], np.concatenate([frames, frames[:16]]), 8, None)
    out["text"] = root / "notes.mp4"
    out["text"].write_text("not a video\n")
    return out

"""`python -m mmcse parse` end to end on generated mp4s with a tiny checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmcse.classes import LLP_CLASSES
from mmcse.cli import main
from mmcse.config import DEMO_FEATURES
from mmcse.demo.procedural import render_audio, render_frames, sample_clip
from mmcse.metrics import TSV_HEADER
from mmcse.video.io import read_video, write_video


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from mmcse.checkpoint import save_checkpoint
    from mmcse.config import ModelConfig, TrainConfig
    from mmcse.models import create_model

    torch.manual_seed(0)
    cfg = ModelConfig.for_features(
        DEMO_FEATURES, arch="mmcse", d_model=32, d_class=8, num_layers=1, num_heads=2
    )
    path = tmp_path_factory.mktemp("ck") / "tiny.safetensors"
    save_checkpoint(
        path, create_model(cfg), model_config=cfg, feature_spec=DEMO_FEATURES, train_config=TrainConfig()
    )
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A 10-s demo clip and a 15-s video (the clip followed by 5 s of another one)."""
    root = tmp_path_factory.mktemp("videos")
    a, b = sample_clip("test", 0, seed=5), sample_clip("test", 1, seed=5)
    short = root / f"{a.filename}.mp4"
    write_video(short, render_frames(a, 8), 8, render_audio(a))
    long = root / "long.mp4"
    frames = np.concatenate([render_frames(a, 8), render_frames(b, 8)[:40]])
    audio = np.concatenate([render_audio(a), render_audio(b)[:80000]])
    write_video(long, frames, 8, audio)
    return short, long


def _read_tsv(path):
    lines = [line for line in path.read_text().splitlines() if not line.startswith("# warning: ")]
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def test_parse_writes_tsv_and_json(tmp_path, checkpoint, videos, capsys):
    short, long = videos
    out = tmp_path / "parsed"
    # low thresholds so that the untrained tiny model predicts events
    args = [str(short), str(long), "--checkpoint", str(checkpoint), "--out", str(out), "--segment-threshold", "0.05", "--video-threshold", "0.05"]  # fmt: skip
    assert main(["parse", *args]) == 0
    for video, windows in ((short, 1), (long, 2)):
        header, rows = _read_tsv(out / f"{video.stem}.tsv")
        assert tuple(header) == TSV_HEADER
        data = json.loads((out / f"{video.stem}.json").read_text())
        assert data["classes"] == list(LLP_CLASSES)
        real = np.array(data["segment_real"])  # the 15-s video: 10 + 5 real seconds, 5 looped ones
        assert real.tolist() == ([True] * 10 if windows == 1 else [True] * 15 + [False] * 5)
        for key in ("segment_prob_audio", "segment_prob_visual"):
            assert len(data[key]) == 10 * windows
            assert np.array([row for row, ok in zip(data[key], real) if ok]).shape == (real.sum(), 25)
            assert all(row is None for row, ok in zip(data[key], real) if not ok)
        assert np.array(data["video_prob"]).shape == (windows, 25)
        assert data["duration"] == pytest.approx(10.0 * windows - (5.0 if windows == 2 else 0.0), abs=0.1)
        assert len(rows) == len(data["events"]) > 0
        for row, ev in zip(rows, data["events"]):
            assert (
                row[0] == video.name
                and row[3] in LLP_CLASSES
                and row[4] in ("audio", "visual", "audio-visual")
            )
            onset, offset = float(row[1]), float(row[2])
            assert 0 <= onset < offset <= data["duration"] + 1e-6
            assert (onset, offset, row[3], row[4]) == (
                ev["onset"],
                ev["offset"],
                ev["event_label"],
                ev["modality"],
            )
            assert 0.0 <= float(row[5]) <= 1.0
        if windows == 2:  # runs crossing the 10-s border are one event, and offsets stop at the end
            assert any(float(r[1]) < 10 < float(r[2]) for r in rows)
            assert max(float(r[2]) for r in rows) == pytest.approx(15.0, abs=0.1)
            assert any("windows of 10 s" in w for w in data["warnings"])


def test_parse_annotated_video(tmp_path, checkpoint, videos):
    short, _ = videos
    target = tmp_path / "ann.mp4"
    args = [str(short), "--checkpoint", str(checkpoint), "--out", str(tmp_path), "--annotated", str(target), "--segment-threshold", "0.05", "--video-threshold", "0.05"]  # fmt: skip
    assert main(["parse", *args]) == 0
    frames, audio, info = read_video(target)
    assert info.size[0] == 320 and info.size[1] > 240  # scaled-up picture + timeline panel below
    assert info.has_audio and info.duration == pytest.approx(10.0, abs=0.2)
    panel = frames[:, 240 + 30 :]  # the lanes below the caption
    panel = panel.astype(int)
    red = (panel[..., 0] - np.maximum(panel[..., 1], panel[..., 2])) > 80  # (F, h, W)
    playhead_x = [np.median(np.flatnonzero(red[i].sum(0) > red.shape[1] // 2)) for i in (8, 72)]
    assert playhead_x[1] > playhead_x[0] + 100  # the playhead moves along the timeline


def test_parse_bad_inputs(tmp_path, checkpoint, capsys):
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    assert main(["parse", str(junk), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "junk.mp4: not a video file" in err and "1 of 1 videos could not be parsed" in err
    assert not (tmp_path / "o").exists()  # nothing parsed, no output folder
    assert main(["parse", str(tmp_path / "nope.mp4"), "--checkpoint", str(checkpoint)]) == 2
    assert "nope.mp4" in capsys.readouterr().err

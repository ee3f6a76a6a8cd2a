"""Fixtures of the command tests: a run folder with a tiny untrained checkpoint, and generated videos."""

from __future__ import annotations

import subprocess

import pytest
import torch

from mmcse.config import DEMO_FEATURES
from mmcse.demo.procedural import render_audio, render_frames, sample_clip
from mmcse.video.io import ffmpeg_exe, write_video


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """A run folder holding an untrained tiny demo-feature MM-CSE as best.safetensors."""
    from mmcse.checkpoint import save_checkpoint
    from mmcse.config import ModelConfig, TrainConfig
    from mmcse.models import create_model

    torch.manual_seed(0)
    cfg = ModelConfig.for_features(DEMO_FEATURES, arch="mmcse", d_model=32, d_class=8, num_layers=1, num_heads=2)
    folder = tmp_path_factory.mktemp("run")
    save_checkpoint(folder / "best.safetensors", create_model(cfg), model_config=cfg, feature_spec=DEMO_FEATURES,
                    train_config=TrainConfig())  # fmt: skip
    return folder


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """Two different 10-s clips both named clip.mp4 (in a/ and b/), a 2-s and a 3.4-s video, non-videos."""
    root = tmp_path_factory.mktemp("clips")
    out = {}
    for k, folder in enumerate(("a", "b")):
        spec = sample_clip("test", k, seed=7)
        out[folder] = root / folder / "clip.mp4"
        write_video(out[folder], render_frames(spec, 8), 8, render_audio(spec))
    spec = sample_clip("test", 2, seed=7)
    frames, audio = render_frames(spec, 8), render_audio(spec)
    for name, seconds in (("short2", 2.0), ("short3", 3.4)):
        out[name] = root / f"{name}.mp4"
        write_video(out[name], frames[: int(seconds * 8)], 8, audio[: int(seconds * 16000)])
    out["empty"] = root / "empty.mp4"
    out["empty"].write_bytes(b"")
    out["text"] = root / "notes.mp4"
    out["text"].write_text("a text file\n")
    out["audio"] = root / "tone.m4a"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-c:a", "aac", str(out["audio"])], check=True)  # fmt: skip
    return out



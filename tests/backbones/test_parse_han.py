"""`parse` with a checkpoint trained on han features: the extractor comes from the checkpoint's feature
spec (the registry), weights from $MMCSE_WEIGHTS; the features are cached per (video, spec, weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmcse.backbones.cache import FeatureCache
from mmcse.backbones.registry import extractor_for_spec
from mmcse.cli import main
from mmcse.config import HAN_FEATURES


@pytest.fixture
def han_checkpoint(tmp_path):
    from mmcse.checkpoint import save_checkpoint
    from mmcse.config import ModelConfig, TrainConfig
    from mmcse.models import create_model

    torch.manual_seed(0)
    cfg = ModelConfig.for_features(HAN_FEATURES, arch="mmcse", d_model=32, d_class=8, num_layers=1, num_heads=2)
    path = tmp_path / "han.safetensors"
    save_checkpoint(path, create_model(cfg), model_config=cfg, feature_spec=HAN_FEATURES, train_config=TrainConfig())
    return path


def test_parse_a_video_with_a_han_checkpoint(tmp_path, monkeypatch, small_backbones, small_weights, han_checkpoint,
                                             videos):  # fmt: skip
    monkeypatch.setenv("MMCSE_WEIGHTS", str(small_weights))
    out = tmp_path / "parsed"
    args = ["parse", str(videos["short"]), "--checkpoint", str(han_checkpoint), "--out", str(out),
            "--segment-threshold", "0.02", "--video-threshold", "0.02", "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    record = json.loads((out / "short3.json").read_text())
    assert record["segment_real"] == [True] * 3 + [False] * 7 and record["events"]
    cached = list((tmp_path / "feature_cache").glob("*.npz"))
    assert len(cached) == 1  # the second parse reads the features from the cache
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((out / "short3.json").read_text())["segment_prob_audio"] == record["segment_prob_audio"]
    assert list((tmp_path / "feature_cache").glob("*.npz")) == cached


def test_the_cache_returns_the_same_features_without_running_the_backbones(tmp_path, small_backbones,
                                                                           small_weights, videos):  # fmt: skip
    cache = FeatureCache(tmp_path / "c")
    first = extractor_for_spec(HAN_FEATURES, small_weights, "cpu", cache=cache).extract_file(str(videos["short"]))
    again = extractor_for_spec(HAN_FEATURES, small_weights, "cpu", cache=cache)
    again._runs = {k: None for k in ("audio", "visual", "visual_st")}  # any backbone call would fail
    second = again.extract_file(str(videos["short"]))
    assert second.warnings == first.warnings and second.real_seconds == first.real_seconds == [3.0]
    for key in ("audio", "visual", "visual_st"):
        np.testing.assert_array_equal(second.windows[0][key], first.windows[0][key])
    with pytest.raises(TypeError):  # another video is a miss: the (disabled) backbones run
        again.extract_file(str(videos["full"]))

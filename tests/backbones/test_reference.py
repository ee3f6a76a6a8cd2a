"""Each backbone equals its reference implementation on the same random weights, and each preprocessing
equals the reference's arrays: fixtures made once with torchvision 0.29.1 / torch 2.14.1 and
harritaylor/torchvggish (fixtures/make_fixtures.py); the weights are never stored, both sides fill them
from each entry's name (random_weights.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from random_weights import fill_state_dict, seeded_input

from mmcse.backbones import log_mel, preprocess
from mmcse.backbones.r2plus1d import R2Plus1D18
from mmcse.backbones.resnet import ResNet152
from mmcse.backbones.vggish import VGGish

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def ref():
    return dict(np.load(FIXTURES / "reference_outputs.npz"))


def _keys(model) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name,cls", [("resnet152", ResNet152), ("r2plus1d_18", R2Plus1D18), ("vggish", VGGish)])
def test_state_dict_keys_and_shapes_equal_the_reference(name, cls):
    """So that torchvision's / torchvggish's published weight files load with load_state_dict(strict)."""
    reference = json.loads((FIXTURES / "reference_keys.json").read_text())["models"][name]
    ours = _keys(cls())
    assert list(ours) == list(reference)  # same keys, same order
    assert ours == reference


def _close(ours: torch.Tensor, expected: np.ndarray, tol: float = 1e-5):
    """Equal to 1e-5 relative to the output's scale (float32 sums of thousands of terms)."""
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(ours.numpy(), expected, rtol=tol, atol=tol * scale)


def _filled(model):
    fill_state_dict(model)
    return model.eval()


def test_resnet152_equals_torchvision_on_the_same_weights(ref):
    net = _filled(ResNet152())
    x = torch.from_numpy(seeded_input((2, 3, 64, 80)))
    with torch.no_grad():
        _close(net.features(x), ref["resnet152_pooled"])
        _close(net(x), ref["resnet152_logits"])


def test_r2plus1d_18_equals_torchvision_on_the_same_weights(ref):
    net = _filled(R2Plus1D18())
    x = torch.from_numpy(seeded_input((2, 3, 8, 48, 40)))
    with torch.no_grad():
        _close(net.features(x), ref["r2plus1d_18_pooled"])
        _close(net(x), ref["r2plus1d_18_logits"])


def test_vggish_equals_torchvggish_on_the_same_weights(ref):
    net = _filled(VGGish())
    with torch.no_grad():
        _close(net(torch.from_numpy(seeded_input((3, 1, 96, 64)))), ref["vggish_embedding"])


def test_imagenet_preprocessing_equals_torchvisions_transform(ref):
    frames = ref["imagenet_input"].transpose(1, 2, 0)[None]  # (1, 90, 120, 3)
    ours = preprocess.imagenet_images(frames)
    assert ours.shape == (1, 3, 224, 224)
    np.testing.assert_allclose(ours[0, :, ::7, ::7].numpy(), ref["imagenet_transform"], rtol=0, atol=1e-5)


def test_kinetics_preprocessing_equals_torchvisions_transform(ref):
    frames = ref["kinetics_input"].transpose(0, 2, 3, 1)  # (T, H, W, 3)
    ours = preprocess.kinetics_frames(frames)
    assert ours.shape == (3, 2, 112, 112)
    np.testing.assert_allclose(ours[:, :, ::5, ::5].numpy(), ref["kinetics_transform"], rtol=0, atol=1e-5)


def test_kinetics_clips_are_consecutive_seconds():
    frames = np.random.default_rng(0).integers(0, 256, (80, 60, 80, 3), dtype=np.uint8)
    clips = preprocess.kinetics_clips(frames)
    assert clips.shape == (10, 3, 8, 112, 112)
    torch.testing.assert_close(clips[3], preprocess.kinetics_frames(frames[24:32]))


def test_vggish_log_mel_examples_equal_torchvggish(ref):
    wave = ref["vggish_pcm"] / 32768.0  # 10.3 s
    ours = log_mel.vggish_examples(wave)
    assert ours.shape == (10, 96, 64)
    np.testing.assert_allclose(ours, ref["vggish_examples"], rtol=1e-5, atol=1e-5)

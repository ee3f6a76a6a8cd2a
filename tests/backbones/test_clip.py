"""The valor CLIP stream: VALOR's frame choice and preprocessing (against torchvision's transforms as
VALOR's torchvision 0.13 ran them, fixture) and its embedding (against transformers' get_image_features,
L2-normalised, as VALOR's get_image_embedding), on a tiny random CLIP; extraction through a spec file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmcse.backbones.clip import clip_images, frame_indices, image_embeddings
from mmcse.cli import main

transformers = pytest.importorskip("transformers")


def tiny_clip():
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                         vocab_size=49408, max_position_embeddings=77),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                           image_size=224, patch_size=32),
        projection_dim=768,
    )  # fmt: skip
    return CLIPModel(cfg).eval()


def test_valor_frame_choice():
    assert frame_indices(80).tolist() == [0, 9, 18, 26, 35, 44, 53, 61, 70, 79]
    assert frame_indices(82).tolist() == [0, 9, 18, 27, 36, 45, 54, 63, 72, 81]


def test_clip_preprocessing_equals_valors_torchvision_transform():
    from pathlib import Path

    ref = np.load(Path(__file__).parent / "fixtures" / "reference_outputs.npz")
    images = clip_images(np.stack([ref["clip_input"]] * 80))
    assert images.shape == (10, 3, 224, 224)
    np.testing.assert_allclose(images[0, :, ::7, ::7].numpy(), ref["clip_transform"], rtol=0, atol=1e-5)


def test_clip_embedding_equals_valors_get_image_features_normalised():
    model = tiny_clip()
    x = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        ref = model.get_image_features(pixel_values=x)
        ref = getattr(ref, "pooler_output", ref)  # transformers 5 returns an output object
        ref = ref / ref.norm(p=2, dim=-1, keepdim=True)
        ours = image_embeddings(model, x)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.norm(dim=-1), torch.ones(3))


def test_extract_a_spec_with_the_clip_stream(tmp_path, small_backbones, small_weights, videos):
    import shutil

    weights = tmp_path / "w"
    shutil.copytree(small_weights, weights)
    tiny_clip().save_pretrained(weights / "clip-vit-large-patch14")
    spec = tmp_path / "vggish_clip_r2p1d.json"
    spec.write_text(json.dumps({"audio": {"folder": "vggish", "shape": [10, 128]},
                                "visual": {"folder": "CLIP/features", "shape": [10, 768]},
                                "visual_st": {"folder": "r2plus1d_18", "shape": [10, 512]}}))  # fmt: skip
    out = tmp_path / "feats"
    assert main(["extract", str(videos["full"]), "--features", str(spec), "--out", str(out), "--weights", str(weights),
                 "--device", "cpu"]) == 0  # fmt: skip
    clip = np.load(out / "CLIP" / "features" / "AbCdEfGhIjK.npy")
    assert clip.shape == (10, 768) and np.allclose(np.linalg.norm(clip, axis=1), 1, atol=1e-5)
    assert clip.std(axis=0).max() > 0  # ten different frames


@pytest.mark.slow
def test_vit_l14_size_clip_gives_valors_embedding():
    """ViT-L/14 at full size (random weights): (10, 768) unit rows equal to get_image_features normalised."""
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                        num_attention_heads=16, patch_size=14, image_size=224),
                     text_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=1, num_attention_heads=12),
                     projection_dim=768)  # fmt: skip
    model = CLIPModel(cfg).eval()
    frames = np.random.default_rng(0).integers(0, 256, (80, 90, 160, 3), dtype=np.uint8)
    with torch.no_grad():
        pixels = clip_images(frames)
        ours = image_embeddings(model, pixels)
        ref = model.get_image_features(pixel_values=pixels)
        ref = getattr(ref, "pooler_output", ref)
    assert ours.shape == (10, 768)
    torch.testing.assert_close(ours, ref / ref.norm(dim=-1, keepdim=True), rtol=1e-5, atol=1e-6)

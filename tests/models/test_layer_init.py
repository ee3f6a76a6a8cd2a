"""The encoder layers start as copies of one layer, as in the originals (``_get_clones`` in MM-CSE's, HAN's
and VALOR's code), and become different after one training step."""

from __future__ import annotations

import pytest
import torch

from mmcse.config import ModelConfig
from mmcse.models import create_model
from mmcse.training.losses import compute_loss


def _cfg(arch: str) -> ModelConfig:
    small = dict(audio_dim=16, audio_len=10, visual_dim=24, visual_len=10, visual_st_dim=8, num_heads=2)
    if arch == "mmcse":
        return ModelConfig(arch=arch, d_model=32, d_class=16, num_layers=3, **small)
    return ModelConfig(arch=arch, d_model=32, num_layers=3, ff_dim=64 if arch == "valor" else 0, **small)


def _layers(model, arch):
    return model.fgse.layers if arch == "mmcse" else model.layers


def _equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("arch", ["mmcse", "han", "valor"])
def test_layers_are_equal_at_init_and_differ_after_one_step(arch):
    torch.manual_seed(0)
    cfg = _cfg(arch)
    model = create_model(cfg)
    layers = _layers(model, arch)
    assert len(layers) == 3
    assert all(_equal(layers[0], layer) for layer in layers[1:])
    # copies, not shared parameters
    assert all(p is not q for p, q in zip(layers[0].parameters(), layers[1].parameters()))
    if arch == "valor":
        assert layers[0].linear1.weight.shape == (64, 32) and layers[0].linear2.weight.shape == (32, 64)

    B, T, C = 4, 10, 25
    batch = {
        "label": (torch.rand(B, C) < 0.2).float(),
        "pseudo_audio": (torch.rand(B, T, C) < 0.2).float(),
        "pseudo_visual": (torch.rand(B, T, C) < 0.2).float(),
    }
    model.train()
    out = model(torch.randn(B, 10, 16), torch.randn(B, 10, 24), torch.randn(B, 10, 8))
    loss, _ = compute_loss(out, batch, cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss.backward()
    opt.step()
    assert not any(_equal(layers[i], layers[j]) for i in range(3) for j in range(i + 1, 3))


"""Random weights of the real backbones in the published files' formats, for the backbone tests."""

from __future__ import annotations

import torch

from mmcse.backbones import r2plus1d, resnet
from mmcse.backbones.vggish import VGGish
from mmcse.backbones.weights import WEIGHT_FILES


def save_random_weights(folder, models: dict, fmt: str = "pth") -> None:
    """torch.save (as torchvision publishes) or safetensors of each model's state_dict, under the file
    name the registry looks for."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, model in models.items():
        name = WEIGHT_FILES[key].filename
        if fmt == "pth":
            torch.save(model.state_dict(), folder / name)
        else:
            from safetensors.torch import save_file

            save_file(model.state_dict(), folder / (name.rsplit(".", 1)[0] + ".safetensors"))


def small_models() -> dict:
    torch.manual_seed(0)
    return {"vggish": VGGish(), "resnet152": resnet.ResNet152(layers=(1, 1, 1, 1)),
            "r2plus1d_18": r2plus1d.R2Plus1D18(layers=(1, 1, 1, 1))}  # fmt: skip

"""MM-CSE, HAN and VALOR models. Build one with ``create_model(ModelConfig)``.

Modules in paper order: layers (input projection, MMIL heads), cafd, fgse, mmcse, han, outputs. The speed
kernels live in the private ``_fast`` subpackage; ``MMCSE_FAST=0`` makes every forward take its plain
PyTorch path (all switches: ``mmcse/models/_fast/config.py``). ``apply_process_tuning()``: the process-wide
settings (glibc malloc) that training and inference entry points apply once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmcse.models._fast import apply_process_tuning
from mmcse.models.outputs import ModelOutput

if TYPE_CHECKING:
    from torch import nn

    from mmcse.config import ModelConfig


def create_model(cfg: ModelConfig) -> nn.Module:
    """The model named by ``cfg.arch``: ``mmcse`` | ``han`` | ``valor``. Forward: ``model(audio, visual,
    visual_st) -> ModelOutput`` with inputs shaped by the FeatureSpec the config was made for."""
    if cfg.arch == "mmcse":
        from mmcse.models.mmcse import MMCSE

        return MMCSE(cfg)
    if cfg.arch in ("han", "valor"):
        from mmcse.models.han import HAN

        return HAN(cfg)
    raise ValueError(f"unknown model arch {cfg.arch!r}; expected mmcse, han or valor")


__all__ = ["ModelOutput", "apply_process_tuning", "create_model"]

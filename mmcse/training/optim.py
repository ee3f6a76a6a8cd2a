"""The optimiser and the learning-rate schedule of a TrainConfig."""

from __future__ import annotations

import math

import torch
from torch import nn

from mmcse.config import TrainConfig


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW / Adam as configured; PyTorch's fused kernel (one pass over all parameters instead of a loop
    per parameter) where every parameter is a float tensor on the CPU or a GPU."""
    params = [p for p in model.parameters() if p.requires_grad]
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    kwargs = dict(lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, fused=fused or None)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, **kwargs)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, **kwargs)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; expected adamw or adam")


def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    """lr of a 0-based epoch. ``step``: lr * gamma ** (epoch // step_size) (torch StepLR stepped per epoch).
    ``cosine``: linear warm-up lr * (epoch + 1) / warmup_epochs, then half a cosine down to 0."""
    if cfg.schedule == "step":
        return cfg.lr * cfg.gamma ** (epoch // cfg.step_size)
    if cfg.schedule == "cosine":
        if epoch < cfg.warmup_epochs:
            return cfg.lr * (epoch + 1) / cfg.warmup_epochs
        span = max(1, cfg.epochs - cfg.warmup_epochs)
        return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * (epoch - cfg.warmup_epochs) / span))
    raise ValueError(f"unknown schedule {cfg.schedule!r}; expected step or cosine")

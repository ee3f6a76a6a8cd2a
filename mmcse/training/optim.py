"""The optimiser and the learning-rate schedule of a TrainConfig.

The schedule is a torch LR scheduler stepped once after each epoch, as in the authors' main_avvp.py, so its
state goes into train_state.safetensors and a resumed run continues the same schedule:
- ``step``: ``StepLR(step_size, gamma)`` (the authors' default, StepLR(10, 0.1)).
- ``cosine``: ``LambdaLR`` with the authors' ``lr_warm_up_cos_anneal`` (:func:`learning_rate`).
"""

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


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """The schedule as a torch scheduler; ``scheduler.step()`` once after each epoch. Sets the optimizer's
    lr to that of the first epoch."""
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_factor(cfg))
    raise ValueError(f"unknown schedule {cfg.schedule!r}; expected step or cosine")


def cosine_factor(cfg: TrainConfig):
    """LambdaLR's factor of a 0-based epoch: ``learning_rate(cfg, epoch) / cfg.lr``. A closure, so the
    scheduler's state holds only its position (``last_epoch``) and a resumed run reads the schedule's
    settings from its config (``--epochs`` may extend it)."""

    def factor(epoch: int) -> float:
        return cosine_lr(epoch + 1, cfg.warmup_epochs, cfg.epochs, cfg.lr_min, cfg.lr) / cfg.lr

    return factor


def cosine_lr(cur_epoch: int, warm_up_epoch: int, max_epoch: int, lr_min: float, lr_max: float) -> float:
    """The authors' ``lr_warm_up_cos_anneal`` (MM-CSE's and VALOR's main_avvp.py), epochs counted from 1:
    ``cur_epoch / warm_up_epoch * lr_max`` while cur_epoch < warm_up_epoch, then
    ``lr_min + (lr_max - lr_min) / 2 * (1 + cos(pi (cur_epoch - W) / (max_epoch - W)))``, W = warm_up_epoch:
    lr_max at epoch warm_up_epoch, lr_min at the last epoch. (A run of no more epochs than the warm-up, a
    division by zero there, anneals over one epoch here.)"""
    if cur_epoch < warm_up_epoch:
        return cur_epoch / warm_up_epoch * lr_max
    span = max(1, max_epoch - warm_up_epoch)
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + math.cos((cur_epoch - warm_up_epoch) / span * math.pi))


def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    """lr of a 0-based epoch, in closed form. ``step``: lr * gamma ** (epoch // step_size) (what StepLR
    gives). ``cosine``: the authors' warm-up + cosine at their 1-based epoch ``epoch + 1``
    (:func:`cosine_lr`)."""
    if cfg.schedule == "step":
        return cfg.lr * cfg.gamma ** (epoch // cfg.step_size)
    if cfg.schedule == "cosine":
        return cosine_lr(epoch + 1, cfg.warmup_epochs, cfg.epochs, cfg.lr_min, cfg.lr)
    raise ValueError(f"unknown schedule {cfg.schedule!r}; expected step or cosine")


def fast_forward(scheduler: torch.optim.lr_scheduler.LRScheduler, epochs: int) -> None:
    """Step a fresh scheduler through ``epochs`` finished epochs (a run folder without scheduler state):
    the optimizer's lr becomes that of the next epoch."""
    import warnings

    with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()": no step is taken here
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(epochs):
            scheduler.step()

"""Loading a state_dict into a model with one readable error (missing, unexpected and mis-shaped keys)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def load_strict(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    path: Path | str,
    what: str = "the model its metadata describes",
) -> None:
    """load_state_dict(strict) with one readable error listing missing, unexpected and mis-shaped keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = sorted(
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected keys: {', '.join(extra)}")
        if shapes:
            parts.append(f"mis-shaped keys: {', '.join(shapes)}")
        raise ValueError(f"{path}: weights do not fit {what}; " + "; ".join(parts))
    model.load_state_dict(state, strict=True)

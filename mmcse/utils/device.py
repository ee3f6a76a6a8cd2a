"""Device choice, one rule for every entry point (training, evaluation, the Parser, benchmarks, the app)."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> the GPU when torch sees one, else the CPU; ``cpu``; ``cuda`` / ``cuda:N`` (a clear
    ValueError when torch sees no GPU); anything else is refused."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU; use cpu or auto")
        return torch.device(device)
    raise ValueError(f"unknown device {device!r}; expected auto, cpu or cuda")

"""Device choice, one rule for every entry point (training, evaluation, the Parser, benchmarks, the app)."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

GPU_DRIVER_FILES = ("/proc/driver/nvidia", "/dev/nvidia0", "/dev/nvidiactl", "/dev/kfd")  # NVIDIA, AMD ROCm


def gpu_driver_present() -> bool:
    """Whether this machine has a GPU driver (NVIDIA or ROCm), known without importing torch: without one,
    torch can see no GPU, so "auto" is the CPU and "cuda" is refused at once."""
    return any(os.path.exists(p) for p in GPU_DRIVER_FILES)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> the GPU when torch sees one, else the CPU; ``cpu``; ``cuda`` / ``cuda:N`` (a clear
    ValueError when torch sees no GPU, or fewer than N + 1); anything else is refused (one ValueError)."""
    import torch

    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", device) if isinstance(device, str) else None
    if match is None:
        raise ValueError(f"unknown device {device!r}; expected auto, cpu, cuda or cuda:N (N a GPU index)")
    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU; use cpu or auto")
    count = torch.cuda.device_count()
    if match.group(1) is not None and int(match.group(1)) >= count:
        raise ValueError(f"device {device!r} asked for, but torch sees {count} CUDA GPU(s): cuda:0 to cuda:{count - 1}")
    return torch.device(device)


# CPU flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic: x86 AVX512-BF16 and AMX-BF16, Arm BF16
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU computes bfloat16 natively (x86: avx512_bf16 or amx_bf16; Arm: bf16). Without it
    (e.g. an AVX2-only CPU) torch emulates bf16 matmuls and bf16 autocast is many times slower than
    float32. ``cpuinfo``: the text of /proc/cpuinfo (read when None); False when it cannot be read
    (macOS, Windows): bf16 on the CPU is then not assumed to be fast."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):  # x86 "flags", Arm "Features"
            return any(flag in value.split() for flag in NATIVE_BF16_FLAGS)
    return False

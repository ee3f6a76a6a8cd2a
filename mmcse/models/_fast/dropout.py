"""The fast path's dropout: keep masks as 0/1 numbers from 16-bit random lanes (NumPy's PCG64 on the CPU),
applied by the layer that produces the activations, with the 1/(1-p) scale folded into what follows.

Why: torch's ``bernoulli_`` makes one Mersenne Twister call and one float comparison per element; here one
64-bit PCG64 word gives four elements and the comparison writes the mask's numbers directly, and
multiplying by a float mask is cheaper on the CPU than ``masked_fill`` with a bool mask.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _random_words(n: int, device=None) -> torch.Tensor:
    """n uniform int64 words (all 64 bits random), reproducible under ``torch.manual_seed``.

    On the CPU the words come from NumPy's PCG64 (cheaper per word than torch's Mersenne Twister
    ``random_``) seeded by one draw from torch's default generator."""
    if torch.device(device or "cpu").type != "cpu":
        return torch.empty(n, dtype=torch.int64, device=device).random_(-(2**63), None)
    seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
    return torch.from_numpy(np.random.PCG64(seed).random_raw(n).view(np.int64))


def _random_lanes(n: int, device=None) -> torch.Tensor:
    """n independent uniform int16 draws: the four 16-bit lanes of each 64-bit random word (a quarter of
    the generator calls of ``bernoulli_``, and no float conversion)."""
    return _random_words((n + 3) // 4, device).view(torch.int16)[:n]  # uniform on [-2**15, 2**15)


def keep_mask(
    shape: tuple[int, ...] | torch.Size, p: float, device=None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Dropout's keep mask as numbers: 1 where kept, 0 where dropped (independently, probability p each,
    used as round(p * 2**16) / 2**16, within 7.7e-6 of p: p = 0.1 -> 0.1000061), WITHOUT the 1/(1-p) scale
    (callers fold it into a following linear map). Each 16-bit lane of :func:`_random_lanes` is compared
    with a threshold, which writes the numbers directly."""
    if p <= 0.0 or p >= 1.0:
        return torch.full(shape, 1.0 if p <= 0.0 else 0.0, dtype=dtype, device=device)
    lanes = _random_lanes(math.prod(shape), device)
    return torch.ge(
        lanes, -(2**15) + round(p * 2**16), out=torch.empty(shape, dtype=dtype, device=device).view(-1)
    ).view(shape)


def training_keep_mask(
    shape: tuple[int, ...] | torch.Size, p: float, training: bool, like: torch.Tensor
) -> torch.Tensor | None:
    """:func:`keep_mask` on ``like``'s device and dtype for a dropout(p) layer, or None when it drops
    nothing (eval mode, p = 0)."""
    if not training or p <= 0:
        return None
    return keep_mask(shape, p, like.device, like.dtype)

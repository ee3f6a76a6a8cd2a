"""What each backbone is fed, as its reference extraction made it (decoded frames at 8 fps (F, H, W, 3)
uint8; VGGish's audio input is in :mod:`mmcse.backbones.log_mel`):

    imagenet_images(frames)      -> (F, 3, 224, 224)   ResNet-152: torchvision's ImageNet eval transform
    kinetics_clips(frames, 10)   -> (10, 3, 8, 112, 112)  R(2+1)D-18: 10 clips of 8 frames (1 s each)

Each equals its reference on the same decoded media (tests/backbones against fixtures made with
torchvision's published transforms): resize in float with torchvision's rounding back to uint8 and its
centre-crop offsets.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGENET_RESIZE, IMAGENET_CROP = 256, 224  # torchvision ResNet152_Weights.IMAGENET1K_V1.transforms()
KINETICS_MEAN, KINETICS_STD = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)
KINETICS_RESIZE, KINETICS_CROP = (128, 171), 112  # torchvision R2Plus1D_18_Weights.KINETICS400_V1.transforms()


def _resize_uint8(images: torch.Tensor, size: tuple[int, int], antialias: bool) -> torch.Tensor:
    """(N, C, H, W) uint8 -> (N, C, h, w) uint8: bilinear in float32, rounded back (torchvision's rule)."""
    out = F.interpolate(images.float(), size=size, mode="bilinear", align_corners=False, antialias=antialias)
    return torch.round(out).to(torch.uint8)


def _shorter_side_size(h: int, w: int, short: int) -> tuple[int, int]:
    """torchvision's resize(int): the shorter side becomes ``short``, the longer one keeps the ratio."""
    if h <= w:
        return short, int(short * w / h)
    return int(short * h / w), short


def _center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    h, w = images.shape[-2:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return images[..., top : top + size, left : left + size]


def _normalise(images: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float (x / 255 - mean) / std per channel."""
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (images.float() / 255.0 - m) / s


def to_nchw(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(F, H, W, 3) uint8 frames -> (F, 3, H, W) uint8 tensor. A read-only array (a decoded buffer) is
    copied: torch warns on a tensor over memory it may not write."""
    if isinstance(frames, np.ndarray) and not frames.flags.writeable:
        frames = frames.copy()
    return torch.as_tensor(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)


def imagenet_images(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(F, H, W, 3) uint8 -> (F, 3, 224, 224) float: shorter side to 256 (bilinear, antialiased), centre
    crop 224, ImageNet mean / std, as torchvision's ResNet-152 IMAGENET1K_V1 eval transform."""
    x = to_nchw(frames)
    x = _resize_uint8(x, _shorter_side_size(*x.shape[-2:], IMAGENET_RESIZE), antialias=True)
    return _normalise(_center_crop(x, IMAGENET_CROP), IMAGENET_MEAN, IMAGENET_STD)


def kinetics_frames(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (3, T, 112, 112) float: resize to 128x171 (bilinear, no antialias), centre
    crop 112, Kinetics mean / std, as torchvision's R(2+1)D-18 KINETICS400_V1 transform."""
    x = _resize_uint8(to_nchw(frames), KINETICS_RESIZE, antialias=False)
    x = _normalise(_center_crop(x, KINETICS_CROP), KINETICS_MEAN, KINETICS_STD)  # (T, 3, 112, 112)
    return x.permute(1, 0, 2, 3)


def kinetics_clips(frames: np.ndarray, n_clips: int = 10) -> torch.Tensor:
    """(F, H, W, 3) uint8 at 8 fps -> (n_clips, 3, F // n_clips, 112, 112): consecutive, non-overlapping
    clips (80 frames -> 10 clips of 8 frames, one per second)."""
    per_clip = len(frames) // n_clips
    x = kinetics_frames(frames[: per_clip * n_clips])  # (3, T, 112, 112)
    return x.reshape(3, n_clips, per_clip, *x.shape[-2:]).permute(1, 0, 2, 3, 4).contiguous()

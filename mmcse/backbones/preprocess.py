"""What each backbone is fed, as its reference extraction made it (decoded frames at 8 fps (F, H, W, 3)
uint8, audio mono 16 kHz float in [-1, 1]):

    imagenet_images(frames)      -> (F, 3, 224, 224)   ResNet-152: torchvision's ImageNet eval transform
    kinetics_clips(frames, 10)   -> (10, 3, 8, 112, 112)  R(2+1)D-18: 10 clips of 8 frames (1 s each)
    vggish_examples(audio)       -> (10, 1, 96, 64)    VGGish: log-mel examples of 0.96 s

Each equals its reference on the same decoded media (tests/backbones against fixtures made with
torchvision's published transforms and with torchvggish's own ``waveform_to_examples``): resize in float
with torchvision's rounding back to uint8, its centre-crop offsets, and the numpy log-mel of the
original VGGish code (periodic Hann 400, hop 160, FFT 512, 64 HTK mel bands 125-7500 Hz, log(x + 0.01)).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGENET_RESIZE, IMAGENET_CROP = 256, 224  # torchvision ResNet152_Weights.IMAGENET1K_V1.transforms()
KINETICS_MEAN, KINETICS_STD = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)
KINETICS_RESIZE, KINETICS_CROP = (128, 171), 112  # torchvision R2Plus1D_18_Weights.KINETICS400_V1.transforms()

SR = 16000
STFT_WINDOW, STFT_HOP = 400, 160  # 25 ms, 10 ms at 16 kHz
FFT_LENGTH = 512  # the next power of two over the window
MEL_BANDS, MEL_MIN_HZ, MEL_MAX_HZ, LOG_OFFSET = 64, 125.0, 7500.0, 0.01
EXAMPLE_FRAMES = 96  # 0.96 s of 10-ms frames, no overlap


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


def _hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(hz) / 700.0)  # HTK


def mel_matrix(n_bins: int = FFT_LENGTH // 2 + 1, sr: int = SR) -> np.ndarray:
    """(n_bins, 64) triangular HTK mel weights 125-7500 Hz; the DC bin gets no weight (VGGish's matrix)."""
    bins_mel = _hertz_to_mel(np.linspace(0.0, sr / 2.0, n_bins))
    edges = np.linspace(_hertz_to_mel(MEL_MIN_HZ), _hertz_to_mel(MEL_MAX_HZ), MEL_BANDS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]  # (64,) each
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def _frames(x: np.ndarray, window: int, hop: int) -> np.ndarray:
    """(N, ...) -> (1 + (N - window) // hop, window, ...) without padding (incomplete frames dropped)."""
    n = 1 + (len(x) - window) // hop
    return np.lib.stride_tricks.as_strided(x, (n, window) + x.shape[1:], (x.strides[0] * hop,) + x.strides)


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(S,) 16-kHz mono -> (frames, 64) log mel magnitudes, float64 (VGGish's log_mel_spectrogram)."""
    audio = np.ascontiguousarray(audio, dtype=np.float64)
    window = 0.5 - 0.5 * np.cos(2 * np.pi / STFT_WINDOW * np.arange(STFT_WINDOW))  # periodic Hann
    spectrum = np.abs(np.fft.rfft(_frames(audio, STFT_WINDOW, STFT_HOP) * window, FFT_LENGTH))
    return np.log(spectrum @ mel_matrix(spectrum.shape[1]) + LOG_OFFSET)


def vggish_examples(audio: np.ndarray) -> np.ndarray:
    """(S,) 16-kHz mono in [-1, 1] -> (E, 96, 64) float32 log-mel examples of 0.96 s without overlap
    (10 s -> 10 examples: 998 frames, the last 38 dropped as the original does)."""
    if len(audio) < STFT_WINDOW + STFT_HOP * (EXAMPLE_FRAMES - 1):
        raise ValueError(f"{len(audio) / SR:.2f} s of audio is shorter than one VGGish example (0.96 s)")
    return _frames(log_mel(audio), EXAMPLE_FRAMES, EXAMPLE_FRAMES).astype(np.float32)

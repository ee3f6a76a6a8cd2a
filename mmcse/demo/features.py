"""The demo's hand-made features (DEMO_FEATURES) and their extractor: pure numpy, deterministic, CPU only.

  audio     "demo_audio"  (10, 128): per 1-s segment, log-mel statistics (mean/std/max of 40 bands) and
                                     spectral flux, centroid, cepstral pitch and rhythm descriptors
  visual    "demo_frames" (10, 240): per frame colour histogram, 4x4 colour layout, gradient-orientation
                                     histograms, edge density and the colours/layout of the foreground (what
                                     differs from the window's median picture), averaged over the 8 frames
  visual_st "demo_motion" (10, 128): frame-difference energy per region, normal-flow direction histograms,
                                     motion periodicity, colours of the moving pixels
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mmcse.classes import NUM_SEGMENTS
from mmcse.config import DEMO_FEATURES
from mmcse.video.extractor import SR, WindowedExtractor, fit_window

AUDIO_DIM, FRAMES_DIM, MOTION_DIM = (s.shape[1] for s in DEMO_FEATURES.streams.values())

# ------------------------------------------------------------------------------------------------ audio


@lru_cache(maxsize=2)
def mel_filterbank(
    n_mels: int = 40, n_fft: int = 512, sr: int = SR, fmin: float = 50.0, fmax: float = 8000.0
):
    """(n_fft // 2 + 1, n_mels) triangular HTK-mel filters."""

    def mel(f):
        return 2595 * np.log10(1 + f / 700)

    edges = 700 * (10 ** (np.linspace(mel(fmin), mel(fmax), n_mels + 2) / 2595) - 1)
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    fb = np.zeros((len(freqs), n_mels), np.float32)
    for m in range(n_mels):
        lo, mid, hi = edges[m : m + 3]
        fb[:, m] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return fb


def audio_features(audio: np.ndarray) -> np.ndarray:
    """(10 * SR,) float32 -> (10, 128): per segment 40 x (mean, std, max) log-mel + 8 descriptors."""
    n_fft, hop = 512, 160
    frames_per_seg = SR // hop  # 100 STFT frames per 1-s segment
    x = np.pad(audio.astype(np.float32), (n_fft // 2, n_fft // 2))
    n = NUM_SEGMENTS * frames_per_seg
    idx = np.arange(n)[:, None] * hop + np.arange(n_fft)[None, :]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft).astype(np.float32), axis=1))  # (1000, 257)
    power = spec**2
    logmel = np.log(power @ mel_filterbank() + 1e-6)  # (1000, 40)
    logmel = (logmel + 6.0) / 4.0  # roughly zero-mean, unit-scale
    seg = logmel.reshape(NUM_SEGMENTS, frames_per_seg, -1)  # (10, 100, 40)
    logspec = np.log(spec + 1e-4)  # (1000, 257)
    flux = np.r_[0.0, np.sqrt(np.mean(np.diff(logspec, axis=0).clip(0) ** 2, axis=1))]  # (1000,)
    freqs = np.fft.rfftfreq(n_fft, 1 / SR)
    centroid = (power @ freqs) / (power.sum(1) + 1e-9) / 4000.0  # (1000,)
    cep = np.fft.irfft(logspec, axis=1)[:, 32:200]  # quefrency 2 ms .. 12.5 ms (80-500 Hz)
    cep_peak = cep.max(1)
    pitch = (32 + cep.argmax(1)) / 200.0
    energy = np.log(power.sum(1) + 1e-6)
    extras = np.stack([flux, centroid, cep_peak * 5, pitch, (energy + 5) / 5], 1).reshape(
        NUM_SEGMENTS, frames_per_seg, 5
    )
    env = energy.reshape(NUM_SEGMENTS, frames_per_seg)
    env = env - env.mean(1, keepdims=True)
    ac = np.fft.irfft(np.abs(np.fft.rfft(env, 2 * frames_per_seg, axis=1)) ** 2, axis=1)[:, :frames_per_seg]
    rhythm = ac[:, 8:50].max(1) / (ac[:, 0] + 1e-6)  # envelope periodicity at 2-12 Hz
    feats = np.concatenate(
        [seg.mean(1), seg.std(1), seg.max(1), extras.mean(1), extras[:, :, :2].std(1), rhythm[:, None]], 1
    )  # (10, 128)
    return feats.astype(np.float32)


# ------------------------------------------------------------------------------------------------ vision


def _resize(frames: np.ndarray, width: int = 64, height: int = 48) -> np.ndarray:
    """(F, H, W, 3) uint8 of any size -> (F, height, width, 3) float32 in [0, 1] (2x2 box of a 2x grid)."""
    f, h, w, _ = frames.shape
    ys = ((np.arange(2 * height) + 0.5) * h / (2 * height)).astype(int)
    xs = ((np.arange(2 * width) + 0.5) * w / (2 * width)).astype(int)
    big = frames[:, ys][:, :, xs].astype(np.float32) / 255.0  # (F, 2h, 2w, 3)
    return big.reshape(f, height, 2, width, 2, 3).mean((2, 4))


def _colour_hist(rgb: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """(F, H, W, 3) in [0, 1] -> (F, 64) 4x4x4 RGB histogram (fractions, optionally weighted)."""
    q = np.minimum((rgb * 4).astype(np.int64), 3)
    code = (q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).reshape(len(rgb), -1)  # (F, HW)
    w = np.ones(code.shape, np.float32) if weight is None else weight.reshape(len(rgb), -1)
    offsets = np.arange(len(rgb))[:, None] * 64
    hist = np.bincount((code + offsets).ravel(), weights=w.ravel(), minlength=64 * len(rgb)).reshape(-1, 64)
    return hist / (w.sum(1, keepdims=True) + 1e-6)


def _grid_mean(x: np.ndarray, g: int = 4) -> np.ndarray:
    """(F, H, W[, C]) -> (F, g*g[*C]) means over a g x g grid of cells."""
    f, h, w = x.shape[:3]
    cells = x[:, : h // g * g, : w // g * g].reshape(f, g, h // g, g, w // g, *x.shape[3:])
    return cells.mean((2, 4)).reshape(f, -1)


def _orientation_hist(gray: np.ndarray, bins: int = 8) -> np.ndarray:
    """(F, H, W) -> (F, 4 * bins): unsigned gradient-orientation histograms of the 2x2 quadrants."""
    gy, gx = np.gradient(gray, axis=(1, 2))
    mag = np.hypot(gx, gy)
    ang = np.mod(np.arctan2(gy, gx), np.pi)
    b = np.minimum((ang / np.pi * bins).astype(np.int64), bins - 1)
    f, h, w = gray.shape
    quad = (np.arange(h)[:, None] >= h // 2) * 2 + (np.arange(w)[None, :] >= w // 2)  # (H, W) in 0..3
    code = (np.arange(f)[:, None, None] * 4 + quad[None]) * bins + b
    hist = np.bincount(code.ravel(), weights=mag.ravel(), minlength=f * 4 * bins).reshape(f, 4 * bins)
    return hist / (hist.sum(1, keepdims=True) + 1e-6) * 4, mag


def frame_features(small: np.ndarray) -> np.ndarray:
    """(80, 48, 64, 3) in [0, 1] -> (10, 240) per-segment means of per-frame descriptors."""
    f = len(small)
    gray = small.mean(-1)
    median = np.median(small, axis=0)  # (48, 64, 3) the window's static picture
    fg = (np.abs(small - median).max(-1) > 0.12).astype(np.float32)  # (F, 48, 64) foreground mask
    orient, mag = _orientation_hist(gray)
    per_frame = np.concatenate(
        [
            np.sqrt(_colour_hist(small)),  # 64
            _grid_mean(small),  # 48
            orient,  # 32
            _grid_mean((mag > 0.08).astype(np.float32)),  # 16 edge density
            np.sqrt(_colour_hist(small, fg)),  # 64 foreground colours
            _grid_mean(fg) * 2,  # 16 foreground layout
        ],
        1,
    )  # (F, 240)
    return per_frame.reshape(NUM_SEGMENTS, f // NUM_SEGMENTS, -1).mean(1).astype(np.float32)


def motion_features(small: np.ndarray) -> np.ndarray:
    """(80, 48, 64, 3) in [0, 1] -> (10, 128) motion descriptors per 1-s segment."""
    f = len(small)
    per = f // NUM_SEGMENTS  # 8 frames per segment
    gray = small.mean(-1)
    diff = np.diff(gray, axis=0, append=gray[-1:])  # (F, H, W) frame k -> k+1 (0 for the last)
    absd = np.abs(diff)
    moving = (absd > 0.05).astype(np.float32)
    gy, gx = np.gradient(gray, axis=(1, 2))
    # normal flow direction: along -It * grad I, weighted by |It| |grad I|
    fx, fy = -diff * gx, -diff * gy
    w = np.hypot(fx, fy)
    dbin = np.minimum((np.mod(np.arctan2(fy, fx), 2 * np.pi) / (2 * np.pi) * 8).astype(np.int64), 7)
    half = (np.arange(gray.shape[2]) >= gray.shape[2] // 2)[None, None, :].astype(np.int64)
    code = (np.arange(f)[:, None, None] * 2 + half) * 8 + dbin
    dirs = np.bincount(code.ravel(), weights=w.ravel(), minlength=f * 16).reshape(f, 16)
    region = _grid_mean(absd) * 10  # (F, 16)
    seg_region = region.reshape(NUM_SEGMENTS, per, 16)
    seg_dirs = dirs.reshape(NUM_SEGMENTS, per, 16).sum(1)
    seg_dirs = seg_dirs / (seg_dirs.sum(1, keepdims=True) + 1e-6) * 4
    energy = absd.mean((1, 2))  # (F,)
    padded = np.pad(energy, (per // 2, per // 2), mode="edge")
    periodic = []
    for s in range(NUM_SEGMENTS):  # spectrum of the motion energy over 2 s around the segment
        e = padded[s * per : s * per + 2 * per]
        spec = np.abs(np.fft.rfft(e - e.mean()))[1:9]
        periodic.append(spec / (spec.sum() + 1e-6))
    moving_colour = np.sqrt(_colour_hist(small, moving)).reshape(NUM_SEGMENTS, per, 64).mean(1)
    moving_rgb = (small * moving[..., None]).sum((1, 2)) / (moving.sum((1, 2))[:, None] + 1e-6)
    stats = (
        np.concatenate([moving_rgb, moving.mean((1, 2))[:, None] * 10], 1)
        .reshape(NUM_SEGMENTS, per, 4)
        .mean(1)
    )
    feats = np.concatenate(
        [seg_region.mean(1), seg_region.max(1), seg_dirs, np.array(periodic), moving_colour, stats], 1
    )  # (10, 16 + 16 + 16 + 8 + 64 + 4 = 124)
    return np.pad(feats, ((0, 0), (0, MOTION_DIM - feats.shape[1]))).astype(np.float32)


# ------------------------------------------------------------------------------------------------ windows


class DemoExtractor(WindowedExtractor):
    """The demo features (DEMO_FEATURES): pure numpy, deterministic, no weights."""

    spec = DEMO_FEATURES

    def extract(self, frames: np.ndarray, audio: np.ndarray | None) -> dict[str, np.ndarray]:
        if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
            raise ValueError(f"frames must be (F, H, W, 3) uint8 with F >= 1, got {frames.shape}")
        frames, audio = fit_window(frames, audio)
        small = _resize(frames)  # (80, 48, 64, 3)
        return {
            "audio": audio_features(audio),
            "visual": frame_features(small),
            "visual_st": motion_features(small),
        }

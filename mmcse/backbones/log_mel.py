"""VGGish's input, in numpy only (no torch: the app's spectrogram lane uses it too): audio mono 16 kHz float
in [-1, 1] ->

    log_mel(audio)               -> (frames, 64)       log mel magnitudes, 10-ms hop
    vggish_examples(audio)       -> (10, 96, 64)       VGGish: log-mel examples of 0.96 s

The numpy log-mel of the original VGGish code (periodic Hann 400, hop 160, FFT 512, 64 HTK mel bands
125-7500 Hz, log(x + 0.01)); equal to torchvggish's own ``waveform_to_examples`` (tests/backbones).
"""

from __future__ import annotations

import numpy as np

SR = 16000
STFT_WINDOW, STFT_HOP = 400, 160  # 25 ms, 10 ms at 16 kHz
FFT_LENGTH = 512  # the next power of two over the window
MEL_BANDS, MEL_MIN_HZ, MEL_MAX_HZ, LOG_OFFSET = 64, 125.0, 7500.0, 0.01
EXAMPLE_FRAMES = 96  # 0.96 s of 10-ms frames, no overlap


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

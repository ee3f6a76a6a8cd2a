"""The offline feature-extractor interface: a video file -> one feature dict per 10-s window.

    result = extractor.extract_file("clip.mp4")   # ExtractionResult(windows, warnings, duration)
    result.windows[0]["audio"]                    # (10, 128) for the demo spec

An extractor has a FeatureSpec and ``extract(frames_8fps, audio_16k)`` for one 10-s window; subclassing
``WindowedExtractor`` gives it ``extract_file(path)`` (decoded one window at a time, bounded memory) and
``extract_arrays``. Implementations: the demo's (mmcse.demo.features.DemoExtractor) and the real backbones
(mmcse.backbones.registry.BackboneExtractor: VGGish, ResNet-152, R(2+1)D-18).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mmcse.config import FeatureSpec
from mmcse.video.io import DecodeReport, iter_frames, probe_video, read_audio

FPS = 8  # frames per second of the input frames (LLP convention: 80 frames per 10-s clip)
SR = 16000
WINDOW_S = 10


@dataclass
class ExtractionResult:
    windows: list[dict[str, np.ndarray]]  # per 10-s window: {"audio", "visual", "visual_st"} per-clip arrays
    warnings: list[str] = field(default_factory=list)
    duration: float = 0.0  # seconds of the source
    real_seconds: list[float] = field(default_factory=list)  # per window: seconds of it that are in the video

    def segment_real(self) -> np.ndarray:
        """(W * 10,) bool: which one-second segments show the video itself (see ``real_segments``)."""
        return np.concatenate([real_segments(r) for r in self.real_seconds]) if self.real_seconds else np.zeros(0, bool)


def real_segments(real_seconds: float) -> np.ndarray:
    """(10,) bool: the segments of a window holding ``real_seconds`` of video that are reported: those at
    least half inside the video (at least the first one). The rest of the window repeats the video and is
    never reported."""
    n_real = min(WINDOW_S, max(1, int(math.floor(real_seconds + 0.5))))
    return np.arange(WINDOW_S) < n_real


class Extractor(Protocol):
    spec: FeatureSpec

    def extract(self, frames: np.ndarray, audio: np.ndarray | None) -> dict[str, np.ndarray]:
        """One 10-s window: frames (F, H, W, 3) uint8 at 8 fps, audio (S,) float32 16 kHz or None."""
        ...

    def extract_file(self, path: str) -> ExtractionResult: ...


def fit_window(frames: np.ndarray, audio: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Crop one window to exactly 80 frames (F, H, W, 3) and 160000 samples; a shorter window is filled by
    repeating its own content from the start (a loop), so that the model never reads made-up frames or
    silence and the clip-level probabilities come from the video alone. No audio track -> silence."""
    n_frames, n_samples = FPS * WINDOW_S, SR * WINDOW_S
    frames = _loop(frames[:n_frames], n_frames)
    if audio is None or len(audio) == 0:
        return frames, np.zeros(n_samples, np.float32)
    return frames, _loop(np.asarray(audio, np.float32)[:n_samples], n_samples)


def _loop(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` repeated along axis 0 up to exactly ``n`` rows."""
    if len(x) >= n:
        return x
    return np.concatenate([x] * (n // len(x) + 1))[:n]


MAX_DECODE_WIDTH = 640  # wider videos are scaled down while decoding (features use 128x96 anyway)


def plan_windows(duration: float, no_audio: bool, name: str) -> tuple[int, list[str]]:
    """How many 10-s windows a video of ``duration`` seconds is parsed in, and the warnings to give."""
    warnings = []
    if no_audio:
        warnings.append(
            f"{name}: no audio track; the audio stream is silence, so audio events cannot be found"
        )
    # a tail under half a second (container rounding, e.g. 10.02 s) is not worth a padded window
    n_windows = max(1, math.ceil((duration - 0.5) / WINDOW_S))
    if duration < WINDOW_S - 1e-3:
        warnings.append(
            f"{name}: {duration:.2f} s long, shorter than 10 s; the model reads it looped to 10 s and only "
            f"its first {real_segments(duration).sum()} s are reported"
        )
    elif n_windows * WINDOW_S - duration > 1e-3:
        tail = duration - (n_windows - 1) * WINDOW_S
        warnings.append(
            f"{name}: {duration:.2f} s long; parsed as {n_windows} windows of 10 s, the last one holds "
            f"{tail:.2f} s of video, read looped; only its first {real_segments(tail).sum()} s are reported"
        )
    elif duration - n_windows * WINDOW_S > 0.1:
        warnings.append(
            f"{name}: {duration:.2f} s long; parsed as {n_windows} window(s) of 10 s, the last "
            f"{duration - n_windows * WINDOW_S:.2f} s not parsed"
        )
    return n_windows, warnings


class WindowedExtractor:
    """extract_file / extract_arrays for any extractor that implements ``extract`` for one 10-s window."""

    spec: FeatureSpec
    max_decode_width: int | None = MAX_DECODE_WIDTH  # None: decode at the source's size

    def extract(self, frames: np.ndarray, audio: np.ndarray | None) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def extract_file(self, path: str, max_windows: int | None = None) -> ExtractionResult:
        """Consecutive 10-s windows of a video file, decoded one window at a time (bounded memory); with
        ``max_windows``, only the first ones (the official per-clip layout holds one 10-s window).

        The decoded frames are trusted, not the container's duration: a truncated file is parsed for the
        seconds that decode (with a warning), and decode errors of a damaged file are counted and warned."""
        info = probe_video(path)
        audio_report, frame_report = DecodeReport(), DecodeReport()
        audio = read_audio(path, report=audio_report) if info.has_audio else None
        windows = []
        chunks = iter_frames(path, info, FPS, chunk=FPS * WINDOW_S, max_width=self.max_decode_width,
                             report=frame_report)  # fmt: skip
        stopped_early = False
        for k, frames in enumerate(chunks):
            if max_windows is not None and k >= max_windows:
                stopped_early = True  # the rest is not decoded, so not checked
                break
            a = None if audio is None else audio[k * SR * WINDOW_S : (k + 1) * SR * WINDOW_S]
            windows.append(self.extract(frames, a))
        chunks.close()
        if stopped_early:
            duration, warnings = float(info.duration), []
        else:
            duration, warnings = decoded_duration(info.duration, frame_report, audio_report, str(path))
        n_windows, plan = plan_windows(duration, audio is None, str(path))
        if max_windows is not None and n_windows > max_windows:
            plan.append(f"{path}: {duration:.2f} s long; only its first {max_windows * WINDOW_S} s are extracted")
            n_windows = max_windows
        windows = windows[:n_windows]  # a last chunk under 0.5 s is not worth a window
        return ExtractionResult(windows, warnings + plan, duration, _real_seconds(duration, len(windows)))

    def extract_arrays(
        self, frames: np.ndarray, audio: np.ndarray | None, duration: float | None = None, name: str = "video"
    ) -> ExtractionResult:
        """Consecutive 10-s windows of a whole video given as 8-fps frames and 16-kHz audio."""
        if duration is None:
            duration = len(frames) / FPS
        n_windows, warnings = plan_windows(duration, audio is None, name)
        windows = []
        for k in range(n_windows):
            f = frames[k * FPS * WINDOW_S : (k + 1) * FPS * WINDOW_S]
            if len(f) == 0:
                f = frames[-1:]
            a = None if audio is None else audio[k * SR * WINDOW_S : (k + 1) * SR * WINDOW_S]
            windows.append(self.extract(f, a))
        return ExtractionResult(windows, warnings, float(duration), _real_seconds(duration, len(windows)))


def decoded_duration(
    duration: float, frames: DecodeReport, audio: DecodeReport | None, name: str
) -> tuple[float, list[str]]:
    """The seconds of video that decoded (the container's ``duration`` when every frame did) and one
    warning for a truncated or damaged file (frames missing at the end, ffmpeg decode errors)."""
    reports = [(what, r) for what, r in (("video", frames), ("audio", audio)) if r is not None and r.errors]
    first = next((r.first_error for _, r in reports), "")
    errors = (f"{sum(r.errors for _, r in reports)} decode error(s) ("
              + ", ".join(f"{r.errors} in its {what}" for what, r in reports) + f"; first: {first})")  # fmt: skip
    decoded = frames.items / FPS
    if decoded < duration - 0.5:  # more than 4 frames at 8 fps missing: the file ends early
        why = f"truncated or damaged; ffmpeg reported {errors}" if reports else "truncated, or its video ends early"
        return decoded, [
            f"{name}: the file says {duration:.2f} s but only {decoded:.2f} s of frames decode ({why}); parsed "
            f"as {decoded:.2f} s; re-encode or re-download it to parse it all"
        ]
    if decoded > duration + 0.5:  # the container understates the video: every decoded frame is parsed
        return decoded, [
            f"{name}: the file says {duration:.2f} s but {decoded:.2f} s of frames decode; parsed as {decoded:.2f} s"
        ] + ([f"{name}: ffmpeg reported {errors}; the file is damaged and the events where it is may be wrong"]
             if reports else [])  # fmt: skip
    if reports:
        return duration, [
            f"{name}: ffmpeg reported {errors}; the file is damaged and the "
            "events where it is may be wrong; re-encode or re-download it"
        ]
    return duration, []


def _real_seconds(duration: float, n_windows: int) -> list[float]:
    """Seconds of video in each of ``n_windows`` consecutive 10-s windows."""
    return [float(min(WINDOW_S, max(0.0, duration - k * WINDOW_S))) for k in range(n_windows)]

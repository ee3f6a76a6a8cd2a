"""Video file I/O: decode frames at 8 fps and mono 16 kHz audio; write H.264 + AAC mp4 atomically.

Decoding uses moviepy 2 to open and describe the file (a non-video file fails there, with one clear
error naming it) and the ffmpeg binary shipped by imageio-ffmpeg to decode the frames and the audio as
raw arrays (``clip.audio.to_soundarray`` can return zeros on some builds).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURE_FPS = 8  # frames per second the extractors read (LLP: 8 fps, 80 frames per clip)
AUDIO_SR = 16000


@dataclass
class VideoInfo:
    path: str
    duration: float  # seconds
    fps: float  # source frame rate
    size: tuple[int, int]  # source (width, height)
    has_audio: bool


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _not_a_video(path: Path, why: str) -> ValueError:
    return ValueError(
        f"{path}: cannot read it as a video ({why}); expected a video file such as .mp4/.mkv/.webm/.avi "
        "with a video stream"
    )


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Open ``path`` with moviepy and describe it; a missing, corrupt or non-video file raises one clear error."""
    from moviepy import VideoFileClip

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    try:
        clip = VideoFileClip(str(path), audio_fps=AUDIO_SR)
    except Exception as exc:  # moviepy raises OSError / KeyError / IndexError ... on junk input
        raise _not_a_video(
            path,
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160] if str(exc).strip() else 'unreadable'}",
        ) from None
    try:
        if not clip.duration or clip.size is None or not clip.fps:
            raise _not_a_video(path, "no video stream with a duration and a frame rate")
        return VideoInfo(
            str(path),
            float(clip.duration),
            float(clip.fps),
            tuple(int(v) for v in clip.size),
            clip.audio is not None,
        )
    finally:
        clip.close()


def _run(cmd: list[str], path: Path, what: str) -> bytes:
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["ffmpeg failed"]
        raise _not_a_video(path, f"ffmpeg could not decode its {what}: {tail[0][:200]}")
    return proc.stdout


def read_frames(path: str | os.PathLike, info: VideoInfo, fps: float = FEATURE_FPS) -> np.ndarray:
    """(F, H, W, 3) uint8 RGB frames resampled to ``fps`` (frame i at t ~= i / fps), source resolution."""
    path = Path(path)
    w, h = info.size
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-an", "-vf", f"fps={fps}",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    raw = _run(cmd, path, "frames")
    n = len(raw) // (w * h * 3)
    if n == 0:
        raise _not_a_video(path, "it has no decodable frames")
    return np.frombuffer(raw[: n * w * h * 3], np.uint8).reshape(n, h, w, 3)


def read_audio(path: str | os.PathLike, sr: int = AUDIO_SR) -> np.ndarray:
    """(S,) float32 mono at ``sr`` (channels averaged by ffmpeg)."""
    path = Path(path)
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sr),
           "-f", "f32le", "-"]  # fmt: skip
    return np.frombuffer(_run(cmd, path, "audio"), np.float32).copy()


def read_video(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None, VideoInfo]:
    """frames (F, H, W, 3) uint8 at 8 fps, audio (S,) float32 mono 16 kHz (None when the file has no
    audio track), info. A missing, corrupt or non-video file raises one error naming the file."""
    info = probe_video(path)
    frames = read_frames(path, info)
    audio = read_audio(path) if info.has_audio else None
    return frames, audio, info


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None = None,
    sr: int = AUDIO_SR,
    crf: int = 23,
) -> None:
    """Write (F, H, W, 3) uint8 frames (+ mono float audio in [-1, 1]) as an H.264 + AAC mp4.

    Written to a temporary file next to ``path`` and renamed, so ``path`` is never half-written.
    Odd frame sizes are padded by one pixel (yuv420p needs even sizes).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"write_video({path}): frames must be (F, H, W, 3) uint8, got {frames.shape}")
    _, h, w, _ = frames.shape
    fd, tmp = tempfile.mkstemp(suffix=".mp4", prefix=f".{path.stem}.", dir=path.parent)
    os.close(fd)
    audio_tmp = None
    try:
        cmd = [ffmpeg_exe(), "-y", "-v", "error", "-nostdin",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-"]  # fmt: skip
        if audio is not None:
            fd, audio_tmp = tempfile.mkstemp(suffix=".f32", dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(np.clip(np.asarray(audio, np.float32), -1, 1).tobytes())
            cmd += ["-f", "f32le", "-ar", str(sr), "-ac", "1", "-i", audio_tmp]
        cmd += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", str(crf), "-pix_fmt", "yuv420p", "-movflags", "+faststart"]  # fmt: skip
        if audio is not None:
            cmd += ["-c:a", "aac", "-b:a", "64k"]
        cmd += [tmp]
        proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(
                f"ffmpeg failed writing {path}: {proc.stderr.decode(errors='replace').strip()[-300:]}"
            )
        os.replace(tmp, path)
    finally:
        for p in (tmp, audio_tmp):
            if p and os.path.exists(p):
                os.unlink(p)

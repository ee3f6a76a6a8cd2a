"""Video file I/O: decode frames at 8 fps and mono 16 kHz audio; write H.264 + AAC mp4 atomically.

imageio-ffmpeg describes the file (the metadata ``read_frames`` yields first; a non-video file fails there,
with one clear error naming it) and ships the ffmpeg binary that decodes the frames and the audio as raw
arrays. Frames are decoded by our own ffmpeg pipe rather than ``read_frames`` because that hides ffmpeg's
error lines, which ``DecodeReport`` counts; tests/video/test_io.py checks both give the same frames.

The container's duration is only what the file claims: a truncated or damaged file decodes fewer frames,
or frames with errors. ``iter_frames`` / ``read_audio`` fill a ``DecodeReport`` (frames or samples
decoded, ffmpeg's error lines) so that callers trust the decoded data and say what was damaged.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmcse.utils.files import make_parents, remove_empty, set_default_mode

FEATURE_FPS = 8  # frames per second the extractors read (LLP: 8 fps, 80 frames per clip)
AUDIO_SR = 16000


@dataclass
class VideoInfo:
    path: str
    duration: float  # seconds
    fps: float  # source frame rate
    size: tuple[int, int]  # source (width, height)
    has_audio: bool


@dataclass
class DecodeReport:
    """What one ffmpeg decode of a stream produced: items (frames or samples) and its error lines."""

    items: int = 0
    errors: int = 0  # lines ffmpeg printed at log level "error" (corrupt packets, a partial file ...)
    first_error: str = ""

    def add_errors(self, stderr: str) -> None:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        self.errors += len(lines)
        if lines and not self.first_error:
            self.first_error = _strip_ffmpeg_prefix(lines[0])[:160]


def _strip_ffmpeg_prefix(line: str) -> str:
    """'[h264 @ 0x55..] Invalid NAL unit size' -> 'Invalid NAL unit size' (no component tags, no pointers)."""
    while line.startswith("[") and "]" in line:
        line = line.split("]", 1)[1].strip()
    return line


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _not_a_video(path: Path, why: str) -> ValueError:
    return ValueError(
        f"{path}: cannot read it as a video ({why}); expected a video file such as .mp4/.mkv/.webm/.avi "
        "with a video stream"
    )


def _video_metadata(path: Path) -> dict:
    """imageio-ffmpeg's description of ``path`` (the first item ``read_frames`` yields: fps, duration, size,
    codec, audio_codec when the file has audio); ffmpeg stops once it is read. OSError when ffmpeg finds no
    video stream to decode (a non-media file, or an audio file)."""
    import imageio_ffmpeg

    library_log = logging.getLogger("imageio_ffmpeg")  # it warns when a rotated video's frames are turned
    level = library_log.level
    library_log.setLevel(logging.ERROR)
    frames = imageio_ffmpeg.read_frames(str(path))
    try:
        return next(frames)
    finally:
        frames.close()
        library_log.setLevel(level)


def _why_unreadable(path: Path) -> tuple[bool, str]:
    """(whether ``path`` has decodable audio, ffmpeg's own reason) for a file imageio-ffmpeg could not
    describe: a tenth of a second of its audio is decoded to tell an audio file from junk."""
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-vn", "-t", "0.1", "-ac", "1", "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    tail = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no streams"])[-1]
    return bool(proc.stdout), tail.rsplit(": ", 1)[-1].strip()[:160]


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Describe a video file (imageio-ffmpeg's metadata: duration, frame rate, size, audio); a missing,
    empty, corrupt, audio-only or other non-video file raises one clear error."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a video file; give one video file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: an empty file, not a video; give a video file such as .mp4/.mkv/.webm/.avi")
    try:
        meta = _video_metadata(path)
    except OSError:
        has_audio, reason = _why_unreadable(path)
        if has_audio:
            raise _no_video_stream(path, "an audio file") from None
        raise ValueError(
            f"{path}: not a video file (ffmpeg cannot read it: {reason}); give a video such as .mp4/.mkv/.webm/.avi"
        ) from None
    has_audio = "audio_codec" in meta
    if not meta.get("fps"):  # a cover picture (an "attached pic" stream) is no video: ffmpeg gives it no rate
        raise _no_video_stream(path, "an audio file" if has_audio else "a file")
    if not meta.get("duration"):
        raise _not_a_video(path, "no video stream with a duration and a frame rate")
    return VideoInfo(str(path), float(meta["duration"]), float(meta["fps"]), tuple(meta["size"]), has_audio)


def _no_video_stream(path: Path, what: str) -> ValueError:
    return ValueError(f"{path}: {what} without a video stream; the model needs frames: give a video file")


def check_video_streams(path: Path) -> bool:
    """One clear ValueError for an empty file, a file ffmpeg cannot read, or one without a video stream (an
    audio file, or a cover picture only); returns whether it has audio."""
    return probe_video(path).has_audio


def _run(cmd: list[str], path: Path, what: str, report: DecodeReport | None = None) -> bytes:
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if report is not None:
        report.add_errors(proc.stderr.decode(errors="replace"))
    if proc.returncode != 0 and not (report is not None and proc.stdout):  # partial data: reported
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["ffmpeg failed"]
        raise _not_a_video(path, f"ffmpeg could not decode its {what}: {tail[0][:200]}")
    return proc.stdout


def output_size(info: VideoInfo, max_width: int | None = None) -> tuple[int, int]:
    """(width, height) frames are decoded at: the source size, or scaled down to ``max_width`` (even sizes)."""
    w, h = info.size
    if max_width is None or w <= max_width:
        return w, h
    return max_width // 2 * 2, max(2, int(round(h * max_width / w / 2)) * 2)


def iter_frames(
    path: str | os.PathLike,
    info: VideoInfo,
    fps: float = FEATURE_FPS,
    chunk: int = 80,
    max_width: int | None = None,
    report: DecodeReport | None = None,
) -> Iterator[np.ndarray]:
    """Decode frames resampled to ``fps`` (frame i at t ~= i / fps) in chunks of up to ``chunk`` frames,
    (n, H, W, 3) uint8 RGB each, so a long video never sits in memory at once. ``report`` (filled once
    the frames are all read): frames decoded and ffmpeg's error lines (a truncated or damaged file)."""
    path = Path(path)
    w, h = output_size(info, max_width)
    vf = f"fps={fps}" + (f",scale={w}:{h}:flags=area" if (w, h) != tuple(info.size) else "")
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-an", "-vf", vf,
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    frame_bytes = w * h * 3
    errors = tempfile.TemporaryFile()  # a file, not a pipe: a damaged file's many error lines never block
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors)
    got = 0
    try:
        while True:
            raw = proc.stdout.read(chunk * frame_bytes)
            n = len(raw) // frame_bytes
            if n == 0:
                break
            got += n
            yield np.frombuffer(raw[: n * frame_bytes], np.uint8).reshape(n, h, w, 3)
        rc = proc.wait()
        errors.seek(0)
        err = errors.read().decode(errors="replace").strip()
        if report is not None:
            report.items = got
            report.add_errors(err)
        if rc != 0 and got == 0:
            raise _not_a_video(
                path, f"ffmpeg could not decode its frames: {(err.splitlines() or ['?'])[-1][:200]}"
            )
        if got == 0:
            raise _not_a_video(path, "it has no decodable frames")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        errors.close()


def read_frames(
    path: str | os.PathLike, info: VideoInfo, fps: float = FEATURE_FPS, max_width: int | None = None
) -> np.ndarray:
    """(F, H, W, 3) uint8 RGB frames resampled to ``fps``, at the source size (or scaled to ``max_width``)."""
    return np.concatenate(list(iter_frames(path, info, fps, chunk=256, max_width=max_width)))


def read_audio(
    path: str | os.PathLike, sr: int = AUDIO_SR, report: DecodeReport | None = None
) -> np.ndarray:
    """(S,) float32 mono at ``sr`` (channels averaged by ffmpeg): the samples that decode. ``report``:
    samples decoded and ffmpeg's error lines (a truncated or damaged file)."""
    path = Path(path)
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sr),
           "-f", "f32le", "-"]  # fmt: skip
    audio = np.frombuffer(_run(cmd, path, "audio", report), np.float32).copy()
    if report is not None:
        report.items = len(audio)
    return audio


def read_video(
    path: str | os.PathLike, max_width: int | None = None
) -> tuple[np.ndarray, np.ndarray | None, VideoInfo]:
    """frames (F, H, W, 3) uint8 at 8 fps, audio (S,) float32 mono 16 kHz (None when the file has no
    audio track), info. A missing, corrupt or non-video file raises one error naming the file.
    ``max_width``: scale wider videos down to it (keeps memory bounded for HD sources)."""
    info = probe_video(path)
    frames = read_frames(path, info, max_width=max_width)
    audio = read_audio(path) if info.has_audio else None
    return frames, audio, info


class VideoWriter:
    """Stream frames into an H.264 (+ AAC) mp4: ``with VideoWriter(path, fps, (w, h), audio) as out:
    out.write(frames)``. Written to a temporary file, renamed on a clean exit, removed on an error."""

    def __init__(
        self, path: str | os.PathLike, fps: float, size: tuple[int, int], audio: np.ndarray | None = None,
        sr: int = AUDIO_SR, crf: int = 23,
    ):  # fmt: skip
        self.path = Path(path)
        self.created = make_parents(self.path)  # removed again if the write fails
        self.size = tuple(size)
        fd, self.tmp = tempfile.mkstemp(suffix=".mp4", prefix=f".{self.path.stem}.", dir=self.path.parent)
        os.close(fd)
        self.audio_tmp = None
        w, h = self.size
        cmd = [ffmpeg_exe(), "-y", "-v", "error", "-nostdin",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-"]  # fmt: skip
        if audio is not None:
            fd, self.audio_tmp = tempfile.mkstemp(suffix=".f32", dir=self.path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(np.clip(np.asarray(audio, np.float32), -1, 1).tobytes())
            cmd += ["-f", "f32le", "-ar", str(sr), "-ac", "1", "-i", self.audio_tmp]
        cmd += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", str(crf), "-pix_fmt", "yuv420p", "-movflags", "+faststart"]  # fmt: skip
        if audio is not None:
            cmd += ["-c:a", "aac", "-b:a", "64k"]
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            cmd + [self.tmp], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.stderr
        )

    def write(self, frames: np.ndarray) -> None:
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        if frames.ndim != 4 or frames.shape[-1] != 3 or (frames.shape[2], frames.shape[1]) != self.size:
            raise ValueError(
                f"{self.path}: frames must be (F, {self.size[1]}, {self.size[0]}, 3) uint8, got {frames.shape}"
            )
        try:
            self.proc.stdin.write(frames.tobytes())
        except BrokenPipeError:
            self.proc.wait()
            raise RuntimeError(f"ffmpeg failed writing {self.path}: {self._stderr_tail()}") from None

    def _stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace").strip()[-300:] or "no message"

    def close(self, ok: bool = True) -> None:
        try:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            rc = self.proc.wait()
            if ok and rc != 0:
                raise RuntimeError(f"ffmpeg failed writing {self.path}: {self._stderr_tail()}")
            if ok:
                set_default_mode(Path(self.tmp), folder=False)  # mkstemp made it 0600
                os.replace(self.tmp, self.path)
                self.created = []
        finally:
            self.stderr.close()
            for p in (self.tmp, self.audio_tmp):
                if p and os.path.exists(p):
                    os.unlink(p)
            remove_empty(self.created)  # a failed write leaves no empty folder behind

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and self.proc.poll() is None:
            self.proc.kill()
        self.close(ok=exc_type is None)


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
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"write_video({path}): frames must be (F, H, W, 3) uint8, got {frames.shape}")
    with VideoWriter(path, fps, (frames.shape[2], frames.shape[1]), audio, sr, crf) as out:
        out.write(frames)


VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")


def find_video(video_dir: str | Path | None, filename: str) -> Path | None:
    """The video file of an LLP clip in a folder (``<filename>.mp4``, ``<id11>.mp4``, other containers,
    or any file starting with the id), or None when it is not on disk."""
    if video_dir is None or not Path(video_dir).is_dir():
        return None
    folder = Path(video_dir)
    for stem in (filename, filename[:11]):
        for suffix in VIDEO_SUFFIXES:
            if (folder / f"{stem}{suffix}").is_file():
                return folder / f"{stem}{suffix}"
    for path in sorted(folder.glob(f"{filename[:11]}*")):
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return path
    return None

"""What the model heard and saw of a video, for display: a log-mel spectrogram, a waveform envelope and
frame thumbnails, decoded once per video file and kept on disk.

    view = media_view(path)         # MediaView; decoded on first use, then read from the cache
    view.mel_db                     # (64, T) float32 dB, 100 frames a second (VGGish's 25 ms / 10 ms log-mel)
    view.envelope                   # (C, 2) float32 min / max of the samples in each of C columns
    view.thumbnails                 # JPEG bytes, one per second (the frame at the middle of each second)
    view.poster()                   # the middle thumbnail (a grid of clips)
    cached_poster(path)             # the same from the cache only, or None (a table of many clips)
    prefetch(paths, urgent=False)   # decode in a background thread (clips likely opened next: urgent)

Two ffmpeg runs (the binary of imageio-ffmpeg) decode the file: mono 16 kHz float audio, and the frames at
one per second scaled to ``THUMB_WIDTH`` and encoded as JPEG by ffmpeg itself. A file without an audio
track has no spectrogram (``has_audio`` False); a file shorter than its axis has what it holds
(``audio_seconds`` / ``video_seconds``). A file ffmpeg cannot read raises one ValueError naming it.

Cache: ``<cache_folder()>/media/<key>.safetensors`` (the folder of mmcse.prediction_cache, $MMCSE_CACHE),
the key the sha256 of this format's version, the file's resolved path, size and modification time, and the
settings. safetensors only (nothing pickled), written to a temporary name and renamed; a file that does not
read is decoded again. Nothing here imports streamlit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmcse.backbones.log_mel import SR, STFT_HOP, STFT_WINDOW, log_mel
from mmcse.utils.files import atomic_path

FORMAT = "mmcse-media-view"
FORMAT_VERSION = 1
MEL_FPS = SR // STFT_HOP  # 100 spectrogram frames per second
ENVELOPE_COLUMNS = 1000
THUMB_WIDTH = 96  # pixels; the height keeps the aspect ratio (even)
THUMB_QUALITY = 6  # ffmpeg's mjpeg -q:v (2 best .. 31 worst)
MAX_THUMBNAILS = 60  # a long upload gets this many, evenly spaced
DB_PER_NEPER = 20.0 / np.log(10.0)  # natural log of an amplitude -> dB


@dataclass
class MediaView:
    """A video's audio and frames as the app draws them. Times are seconds from the file's start."""

    path: str
    has_audio: bool
    audio_seconds: float  # the audio decoded (0 without an audio track)
    video_seconds: float  # the frames decoded: thumbnails cover [0, video_seconds)
    mel_db: np.ndarray  # (64, T) float32 dB (20 log10 of the mel magnitude + 0.01), T = MEL_FPS per second
    envelope: np.ndarray  # (C, 2) float32 [min, max] of the samples in each column over [0, audio_seconds)
    thumbnails: list[bytes] = field(default_factory=list)  # JPEG, one per thumb_step seconds
    thumb_times: list[float] = field(default_factory=list)  # the start of the span each thumbnail stands for
    thumb_step: float = 1.0  # seconds each thumbnail stands for
    thumb_size: tuple[int, int] = (0, 0)  # (width, height) of the thumbnails

    @property
    def duration(self) -> float:
        """What the file holds: the longer of its audio and its frames."""
        return max(self.audio_seconds, self.video_seconds)

    def poster(self) -> bytes | None:
        """The thumbnail at the middle of the video (None without frames)."""
        return self.thumbnails[len(self.thumbnails) // 2] if self.thumbnails else None


# ----------------------------------------------------------------------------- decoding


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _unreadable(path: Path, stderr: str) -> ValueError:
    lines = [
        ln.strip()
        for ln in stderr.splitlines()
        if ln.strip() and not ln.lstrip().startswith(("Input #", "Stream", "Metadata", "Duration"))
    ]
    why = re.sub(r"^\[[^]]*\]\s*", "", lines[-1])[:160] if lines else "ffmpeg could not read it"
    return ValueError(f"{path}: cannot read it as a video ({why}); give a video file such as .mp4/.mkv/.webm")


def _duration(stderr: str) -> float | None:
    """The container's 'Duration: HH:MM:SS.ss' from ffmpeg's log (None when it says N/A)."""
    m = re.search(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)", stderr)
    return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None


def split_jpegs(stream: bytes) -> list[bytes]:
    """ffmpeg's image2pipe mjpeg output -> one bytes per image (each ends with the EOI marker FFD9, which
    the entropy-coded data never holds: a 0xFF there is always followed by 0x00)."""
    out, start = [], 0
    while True:
        end = stream.find(b"\xff\xd9", start)
        if end < 0:
            return out
        out.append(stream[start : end + 2])
        start = end + 2


def decode(
    path: str | os.PathLike, thumb_width: int = THUMB_WIDTH
) -> tuple[np.ndarray | None, list[bytes], float, float | None]:
    """(audio (S,) float32 mono 16 kHz or None without an audio track, JPEG thumbnails at one per second
    (the frame at t + 0.5 s), seconds each thumbnail stands for, the container's duration or None).
    Two ffmpeg processes run side by side; one ValueError for a file ffmpeg cannot read."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: an empty file, not a video; give a video file such as .mp4/.mkv/.webm")
    exe = _ffmpeg()
    frames_cmd = [exe, "-hide_banner", "-nostats", "-nostdin", "-i", str(path), "-an", "-vf",
                  rf"select='gte(t\,selected_n+0.5)',scale={thumb_width}:-2:flags=area",
                  "-fps_mode", "passthrough",
                  "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", str(THUMB_QUALITY), "-"]  # fmt: skip
    audio_cmd = [exe, "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0?", "-vn", "-ac", "1",
                 "-ar", str(SR),
                 "-f", "f32le", "-"]  # fmt: skip
    frames_proc = subprocess.Popen(frames_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    audio_out, audio_err = subprocess.Popen(
        audio_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ).communicate()
    frames_out, frames_err = frames_proc.communicate()
    frames_log = frames_err.decode(errors="replace")
    thumbnails = split_jpegs(frames_out)
    if not thumbnails:
        raise _unreadable(path, frames_log)
    audio = np.frombuffer(audio_out, np.float32).copy() if audio_out else None
    duration = _duration(frames_log)
    step = 1.0
    if len(thumbnails) > MAX_THUMBNAILS:  # a long video: evenly spaced ones
        keep = np.linspace(0, len(thumbnails) - 1, MAX_THUMBNAILS).round().astype(int)
        step = len(thumbnails) / MAX_THUMBNAILS
        thumbnails = [thumbnails[i] for i in keep]
    return audio, thumbnails, step, duration


# ----------------------------------------------------------------------------- what is drawn


def mel_spectrogram_db(audio: np.ndarray) -> np.ndarray:
    """(S,) 16 kHz mono -> (64, T) float32 dB, T = 1 + (S - 400) // 160 frames of 10 ms (VGGish's log-mel:
    64 mel bands 125-7500 Hz). Audio shorter than one 25-ms window gives (64, 0)."""
    if len(audio) < STFT_WINDOW:
        return np.zeros((64, 0), np.float32)
    return (log_mel(audio) * DB_PER_NEPER).T.astype(np.float32)


def waveform_envelope(audio: np.ndarray, columns: int = ENVELOPE_COLUMNS) -> np.ndarray:
    """(S,) samples -> (min(columns, S), 2) float32 [min, max] of the samples falling in each column."""
    if len(audio) == 0:
        return np.zeros((0, 2), np.float32)
    edges = np.linspace(0, len(audio), min(columns, len(audio)) + 1).astype(int)
    lo = np.minimum.reduceat(audio, edges[:-1])
    hi = np.maximum.reduceat(audio, edges[:-1])
    return np.stack([lo, hi], axis=1).astype(np.float32)


def _jpeg_size(jpeg: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame marker."""
    i = 2
    while i + 9 < len(jpeg):
        marker, length = jpeg[i + 1], int.from_bytes(jpeg[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(jpeg[i + 7 : i + 9], "big"), int.from_bytes(jpeg[i + 5 : i + 7], "big")
        i += 2 + length
    return 0, 0


def build_view(path: str | os.PathLike, thumb_width: int = THUMB_WIDTH) -> MediaView:
    """Decode ``path`` and compute what is drawn (no cache)."""
    audio, thumbnails, step, duration = decode(path, thumb_width)
    video_seconds = len(thumbnails) * step
    if duration is not None and abs(duration - video_seconds) <= step:  # the last second may be partial
        video_seconds = duration
    has_audio = audio is not None
    audio = audio if has_audio else np.zeros(0, np.float32)
    return MediaView(
        path=str(path), has_audio=has_audio, audio_seconds=len(audio) / SR,
        video_seconds=float(video_seconds), envelope=waveform_envelope(audio), thumbnails=thumbnails,
        mel_db=mel_spectrogram_db(audio).astype(np.float16).astype(np.float32),  # as the cache keeps it
        thumb_times=[i * step for i in range(len(thumbnails))], thumb_step=float(step),
        thumb_size=_jpeg_size(thumbnails[0]),
    )  # fmt: skip


# ----------------------------------------------------------------------------- the cache


def media_folder() -> Path:
    from mmcse.prediction_cache import cache_folder

    return cache_folder() / "media"


def media_key(path: str | os.PathLike, thumb_width: int = THUMB_WIDTH) -> str:
    """sha256 of the format, the file's resolved path, size and modification time, and the settings."""
    path = Path(path)
    stat = path.stat()
    text = json.dumps([FORMAT, FORMAT_VERSION, str(path.resolve()), stat.st_size, stat.st_mtime_ns,
                       thumb_width,
                       ENVELOPE_COLUMNS, THUMB_QUALITY, MAX_THUMBNAILS])  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()


def _store(view: MediaView, target: Path) -> None:
    from safetensors.numpy import save_file

    lengths = np.array([len(t) for t in view.thumbnails], np.int64)
    tensors = {
        "mel_db": np.ascontiguousarray(view.mel_db, np.float16),  # build_view rounds it so: a hit is the same
        "envelope": np.ascontiguousarray(view.envelope, np.float32),
        "thumbnails": np.frombuffer(b"".join(view.thumbnails) or b"\0", np.uint8).copy(),
        "thumb_lengths": lengths,
    }
    meta = {"format": FORMAT, "version": str(FORMAT_VERSION), "path": view.path,
            "has_audio": str(view.has_audio),
            "audio_seconds": repr(view.audio_seconds), "video_seconds": repr(view.video_seconds),
            "thumb_step": repr(view.thumb_step), "thumb_size": json.dumps(list(view.thumb_size))}  # fmt: skip
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def _load(target: Path) -> MediaView | None:
    from safetensors import safe_open

    try:
        with safe_open(str(target), framework="np") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT or meta.get("version") != str(FORMAT_VERSION):
                return None
            arrays = {name: f.get_tensor(name) for name in f.keys()}
        blob, ends = arrays["thumbnails"].tobytes(), np.cumsum(arrays["thumb_lengths"])
        thumbs = [blob[a:b] for a, b in zip(np.concatenate([[0], ends[:-1]]), ends)]
        step = float(meta["thumb_step"])
        return MediaView(
            path=meta["path"], has_audio=meta["has_audio"] == "True",
            audio_seconds=float(meta["audio_seconds"]),
            video_seconds=float(meta["video_seconds"]), mel_db=arrays["mel_db"].astype(np.float32),
            envelope=arrays["envelope"], thumbnails=thumbs,
            thumb_times=[i * step for i in range(len(thumbs))],
            thumb_step=step, thumb_size=tuple(json.loads(meta["thumb_size"])),
        )  # fmt: skip
    except Exception:  # a damaged or foreign file (safetensors raises its own errors): decoded again
        return None


def media_view(
    path: str | os.PathLike, thumb_width: int = THUMB_WIDTH, folder: Path | None = None
) -> MediaView:
    """The MediaView of a video file: read from the cache, else decoded once and stored. A cache folder that
    cannot be written costs only the decoding next time."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    target = (folder or media_folder()) / f"{media_key(path, thumb_width)}.safetensors"
    if target.is_file():
        view = _load(target)
        if view is not None:
            return view
    view = build_view(path, thumb_width)
    try:
        _store(view, target)
    except OSError:
        pass
    return view


def cached_poster(path: str | os.PathLike, thumb_width: int = THUMB_WIDTH, folder: Path | None = None) -> bytes | None:
    """The middle thumbnail of ``path`` (a table of clips) from the cache only: None when the video is not
    decoded yet or its cache file does not read. Nothing is decoded and the spectrogram is not read."""
    from safetensors import safe_open

    try:
        target = (folder or media_folder()) / f"{media_key(path, thumb_width)}.safetensors"
        if not target.is_file():
            return None
        with safe_open(str(target), framework="np") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT or meta.get("version") != str(FORMAT_VERSION):
                return None
            lengths = f.get_tensor("thumb_lengths")  # (N,) int64 bytes of each JPEG
            blob = f.get_tensor("thumbnails")  # (sum of lengths,) uint8
    except Exception:  # no file, or a damaged or foreign one (safetensors raises its own errors)
        return None
    if len(lengths) == 0:
        return None
    ends = np.cumsum(lengths)
    middle = len(lengths) // 2
    return blob[int(ends[middle] - lengths[middle]) : int(ends[middle])].tobytes()


_PREFETCH_LOCK = threading.Lock()  # one decode at a time: never more than one extra decode on the CPUs
_PREFETCH_STATE = threading.Lock()
_PENDING: dict[bool, set[str]] = {True: set(), False: set()}  # urgent / background: paths queued or decoding
_URGENT = [0]  # urgent prefetches not finished: background ones wait for them between two decodes


def prefetch(paths: list[str | os.PathLike], urgent: bool = True) -> threading.Thread | None:
    """Decode the media views of ``paths`` not yet in the cache (nor already queued) in a background thread,
    so that opening them reads the cache; errors are left for the real open to say. ``urgent``: the clips a
    user is likely to open next, queued even when a background batch holds them; not urgent (many clips'
    thumbnails): decoded only while no urgent prefetch is waiting. One decode at a time. Returns the thread (None when there is nothing to do)."""
    todo = []
    for path in paths:
        try:
            if not (media_folder() / f"{media_key(path)}.safetensors").is_file():
                todo.append(Path(path))
        except OSError:
            continue
    with _PREFETCH_STATE:  # an urgent path queued by a background batch is queued again ahead of it
        queued = _PENDING[True] if urgent else _PENDING[True] | _PENDING[False]
        todo = [path for path in dict.fromkeys(todo) if str(path) not in queued]
        _PENDING[urgent].update(str(path) for path in todo)
        if urgent and todo:
            _URGENT[0] += 1

    def work() -> None:
        try:
            for path in todo:
                while not urgent and _URGENT[0]:
                    threading.Event().wait(0.05)
                with _PREFETCH_LOCK:
                    try:
                        media_view(path)  # reads the cache when the other queue decoded it meanwhile
                    except (OSError, ValueError):
                        pass
                    finally:
                        with _PREFETCH_STATE:
                            _PENDING[urgent].discard(str(path))
        finally:
            if urgent:
                with _PREFETCH_STATE:
                    _URGENT[0] -= 1

    if not todo:
        return None
    thread = threading.Thread(target=work, name="mmcse-media-prefetch", daemon=True)
    thread.start()
    return thread

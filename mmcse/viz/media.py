"""A video's spectrogram, waveform and frames as the timeline component draws them (assets/timeline.js):
arrays in (an mmcse.media_view.MediaView), a small JSON-able dict out.

    lanes = media_lanes(view)    # {"spectrogram": JPEG data URL, "envelope": [[lo, hi], ...], "frames": [...]}

The spectrogram is a JPEG (viridis: dark blue for quiet, yellow for loud; it reads on light and dark
backgrounds), low frequencies at the bottom, ``DB_RANGE`` dB under the clip's loudest bin, at most
``COLUMNS_PER_SECOND`` columns per second. A 10-s clip is a few tens of KB in all.
"""

from __future__ import annotations

import base64
import io

import numpy as np

DB_RANGE = 80.0  # dB shown under the loudest bin
COLUMNS_PER_SECOND = 50  # spectrogram columns per second of audio (the log-mel has 100)
MAX_COLUMNS = 2000  # a long upload's spectrogram is no wider than this
ENVELOPE_SCALE = 100  # the envelope is sent as integers in [-100, 100]
ENVELOPE_COLUMNS = 500  # waveform columns sent (min / max of the library's finer envelope)
COLORMAP = "viridis"
JPEG_QUALITY = 85

_PALETTE: list[int] | None = None


def palette() -> list[int]:
    """The colormap's 256 colours as a flat [r, g, b, ...] list."""
    global _PALETTE
    if _PALETTE is None:
        from matplotlib import colormaps

        rgb = (colormaps[COLORMAP](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)
        _PALETTE = rgb.reshape(-1).tolist()
    return _PALETTE


def pool_columns(image: np.ndarray, columns: int) -> np.ndarray:
    """(H, W) -> (H, columns) means of contiguous column groups (W <= columns: unchanged)."""
    h, w = image.shape
    if w <= columns:
        return image
    edges = np.linspace(0, w, columns + 1).astype(int)
    return np.add.reduceat(image, edges[:-1], axis=1) / np.diff(edges)[None, :]


def pool_envelope(envelope: np.ndarray, columns: int) -> np.ndarray:
    """(C, 2) [min, max] -> (min(C, columns), 2): the min of the mins and the max of the maxes per group."""
    if len(envelope) <= columns:
        return envelope
    edges = np.linspace(0, len(envelope), columns + 1).astype(int)[:-1]
    return np.stack(
        [np.minimum.reduceat(envelope[:, 0], edges), np.maximum.reduceat(envelope[:, 1], edges)], axis=1
    )


def spectrogram_levels(mel_db: np.ndarray, seconds: float) -> np.ndarray:
    """(64, T) dB -> (64, C) uint8 levels, row 0 the highest band (drawn at the top), 0 = ``DB_RANGE`` dB or
    more under the loudest bin (or the quietest, when nearer), 255 = the loudest; C <= COLUMNS_PER_SECOND
    per second, MAX_COLUMNS."""
    columns = int(min(MAX_COLUMNS, max(1, round(seconds * COLUMNS_PER_SECOND))))
    pooled = pool_columns(mel_db.astype(np.float64), columns)
    top = float(pooled.max()) if pooled.size else 0.0
    floor = max(top - DB_RANGE, float(pooled.min()) if pooled.size else 0.0)  # silence is the darkest colour
    levels = np.clip((pooled - floor) / max(top - floor, 1e-6), 0.0, 1.0)
    return (levels[::-1] * 255).round().astype(np.uint8)


def spectrogram_data_url(levels: np.ndarray, quality: int = JPEG_QUALITY) -> str:
    """(H, W) uint8 levels -> a JPEG data URL in the colormap (JPEG: half the size of a PNG of a noisy
    spectrogram, and no visible difference at this quality)."""
    from PIL import Image

    rgb = np.asarray(palette(), np.uint8).reshape(256, 3)[levels]  # (H, W, 3)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(out, format="JPEG", quality=quality)
    return jpeg_data_url(out.getvalue())


def jpeg_data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def media_lanes(view) -> dict:
    """What timeline.js draws under the event lanes of one clip (times in seconds from the file's start):
    the spectrogram image over [0, audio_seconds] (None without an audio track), the waveform envelope
    (C, 2) as integers in [-100, 100] over the same span (scaled to the clip's peak, which is given),
    and the thumbnails, each over [t, t + step] within [0, video_seconds]."""
    has_audio = bool(view.has_audio and view.mel_db.shape[1] > 0)
    peak = float(np.abs(view.envelope).max()) if view.envelope.size else 0.0
    envelope = (
        (pool_envelope(view.envelope, ENVELOPE_COLUMNS) / peak * ENVELOPE_SCALE).round().astype(int).tolist()
        if peak > 0
        else []
    )
    return {
        "has_audio": has_audio,
        "audio_seconds": round(float(view.audio_seconds), 3),
        "video_seconds": round(float(view.video_seconds), 3),
        "spectrogram": spectrogram_data_url(spectrogram_levels(view.mel_db, view.audio_seconds))
        if has_audio
        else None,
        "db_range": DB_RANGE,
        "envelope": envelope if has_audio else [],
        "peak": round(peak, 4),
        "frames": [
            {"t": round(float(t), 3), "src": jpeg_data_url(jpeg)}
            for t, jpeg in zip(view.thumb_times, view.thumbnails)
        ],
        "frame_step": float(view.thumb_step),
        "frame_size": list(view.thumb_size),
    }

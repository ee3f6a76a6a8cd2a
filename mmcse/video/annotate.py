"""Burn parsed events into a copy of a video: per-class audio / visual lanes, a moving playhead, and the
events active at the current time named above the lanes.

    annotate_video("clip.mp4", parse, "clip.annotated.mp4")   # parse: mmcse.inference.VideoParse

The picture is scaled up (integer factor) to at least 320 px wide and a timeline panel is added below it:
one row per class that has an event, its audio events in the top half (blue) and visual events in the
bottom half (orange), both halves green where the event is audio-visual.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

AUDIO_RGB = (66, 133, 244)
VISUAL_RGB = (244, 150, 40)
AV_RGB = (52, 168, 83)
PANEL_BG = (24, 24, 28)
MAX_FPS = 25


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _lane_rows(events) -> list[str]:
    seen: list[str] = []
    for ev in events:
        if ev.label not in seen:
            seen.append(ev.label)
    return seen


def timeline_panel(
    events, duration: float, width: int, row_h: int = 14, label_w: int = 96
) -> tuple[np.ndarray, tuple[int, int]]:
    """(panel (h, width, 3) uint8 without playhead or caption, (x0, x1) pixel span of the time axis)."""
    from PIL import Image, ImageDraw

    rows = _lane_rows(events) or ["(no events)"]
    caption_h = 30
    h = caption_h + row_h * len(rows) + 14
    img = Image.new("RGB", (width, h), PANEL_BG)
    d = ImageDraw.Draw(img)
    font = _font(10)
    x0, x1 = label_w, width - 6
    duration = max(duration, 1e-3)

    def x(t: float) -> float:
        return x0 + (x1 - x0) * min(max(t / duration, 0.0), 1.0)

    for r, label in enumerate(rows):
        top = caption_h + r * row_h
        d.text((4, top + 1), label.replace("_", " ")[:16], fill=(220, 220, 220), font=font)
        d.rectangle([x0, top + 1, x1, top + row_h - 2], fill=(40, 40, 46))
        for ev in events:
            if ev.label != label:
                continue
            half = {"audio": (top + 1, top + row_h // 2 - 1), "visual": (top + row_h // 2, top + row_h - 2)}
            spans = (
                [half["audio"], half["visual"]] if ev.modality == "audio-visual" else [half.get(ev.modality)]
            )
            color = {"audio": AUDIO_RGB, "visual": VISUAL_RGB, "audio-visual": AV_RGB}[ev.modality]
            for span in spans:
                if span is not None:
                    d.rectangle(
                        [x(ev.onset), span[0], max(x(ev.offset) - 1, x(ev.onset)), span[1]], fill=color
                    )
    axis_y = caption_h + row_h * len(rows) + 2
    step = 1 if duration <= 12 else 5 if duration <= 60 else 30
    for t in np.arange(0, duration + 1e-6, step):
        d.line([x(t), axis_y, x(t), axis_y + 3], fill=(160, 160, 160))
        if t % (step * (2 if duration > 12 else 1)) == 0:
            label_x = x(t) + 1 if x(t) + 14 < width else x(t) - 13  # keep the last label inside
            d.text((label_x, axis_y + 1), f"{int(t)}", fill=(160, 160, 160), font=_font(9))
    return np.asarray(img, np.uint8).copy(), (x0, x1)


def _caption(events, t: float, width: int, height: int = 30) -> np.ndarray:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), PANEL_BG)
    d = ImageDraw.Draw(img)
    font = _font(11)
    for line, modality, color in ((0, "audio", AUDIO_RGB), (1, "visual", VISUAL_RGB)):
        names = [
            ev.label.replace("_", " ")
            for ev in events
            if ev.modality == modality and ev.onset <= t < ev.offset
        ]
        d.text((4, 2 + 14 * line), f"{modality}: {', '.join(names) if names else '-'}", fill=color, font=font)
    return np.asarray(img, np.uint8)


def annotate_frames(
    frames: np.ndarray, fps: float, events, duration: float, first_index: int = 0
) -> np.ndarray:
    """(F, H, W, 3) uint8 -> (F, H' + panel, W', 3) uint8 with the timeline burned in; frame i shows time
    (first_index + i) / fps."""
    f, h, w, _ = frames.shape
    scale = max(1, int(np.ceil(320 / w)))
    big_w = w * scale
    panel, (x0, x1) = timeline_panel(events, duration, big_w)
    ph = panel.shape[0]
    out = np.empty((f, h * scale + ph, big_w, 3), np.uint8)
    captions: dict[tuple, np.ndarray] = {}
    for i in range(f):
        t = (first_index + i) / fps
        out[i, : h * scale] = frames[i].repeat(scale, 0).repeat(scale, 1)
        out[i, h * scale :] = panel
        key = tuple(sorted((ev.label, ev.modality) for ev in events if ev.onset <= t < ev.offset))
        if key not in captions:
            captions[key] = _caption(events, t, big_w)
        out[i, h * scale : h * scale + 30] = captions[key]
        px = int(round(x0 + (x1 - x0) * min(t / max(duration, 1e-3), 1.0)))
        out[i, h * scale + 30 :, max(px - 2, 0) : px + 2] = (240, 30, 30)  # the playhead
    return out


def annotate_video(video_path: str | Path, parse, out_path: str | Path, max_width: int = 640) -> Path:
    """Write ``out_path``: the video with ``parse.events`` burned in (source frame rate up to 25 fps, width up
    to ``max_width``, original audio), streamed chunk by chunk so long videos fit in memory.
    ``parse`` is a mmcse.inference.VideoParse (only ``events`` and ``duration`` are read)."""
    from mmcse.video.io import AUDIO_SR, VideoWriter, iter_frames, probe_video, read_audio

    info = probe_video(video_path)
    fps = min(info.fps, MAX_FPS)
    audio = read_audio(video_path) if info.has_audio else None
    writer, done = None, 0
    try:
        for chunk in iter_frames(video_path, info, fps=fps, chunk=64, max_width=max_width):
            annotated = annotate_frames(chunk, fps, parse.events, parse.duration, first_index=done)
            if writer is None:
                writer = VideoWriter(out_path, fps, (annotated.shape[2], annotated.shape[1]), audio, AUDIO_SR)
            writer.write(annotated)
            done += len(chunk)
    except BaseException:
        if writer is not None:
            writer.proc.kill()
            writer.close(ok=False)
        raise
    writer.close()
    return Path(out_path)

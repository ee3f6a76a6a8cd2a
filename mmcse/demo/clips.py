"""A demo clip's mp4 on demand: the demo's clips are generated deterministically from the manifest's seed,
so a clip whose video was not shipped (the compact copy keeps a few) is rendered again, into a cache folder,
exactly as the build rendered it.

    path = demo_video(data_root, "demoe000042_120_130", cache_dir)   # None when it is not a demo clip

A clip is rendered only when the folder's manifest.json names a demo of the current generator version and
the clip's id and file name match what that seed generates; anything else returns None (a real dataset's
videos are never invented).
"""

from __future__ import annotations

import json
from pathlib import Path

from mmcse.demo.procedural import SPLIT_CODES, ClipSpec, render_audio, render_frames, sample_clip

MANIFEST = "manifest.json"
_SPLITS_BY_CODE = {code: split for split, code in SPLIT_CODES.items()}


def read_demo_manifest(data_root: str | Path | None) -> dict | None:
    """The demo manifest of a dataset folder, or None when the folder is not a demo (or unreadable)."""
    if data_root is None:
        return None
    path = Path(data_root) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "demo" in str(manifest.get("what", "")) else None


def _generator_version() -> int | None:
    from mmcse.demo import build  # the version the current code renders

    return getattr(build, "GENERATOR_VERSION", None)


def demo_clip_spec(manifest: dict, filename: str) -> ClipSpec | None:
    """The ClipSpec that the demo's seed generates for ``filename`` (``demo<code><index:06d>_<s>_<e>``),
    or None when the name is not one of its clips or the code renders another generator version."""
    video_id = filename[:11]
    if len(video_id) != 11 or not video_id.startswith("demo") or not video_id[5:].isdigit():
        return None
    split = _SPLITS_BY_CODE.get(video_id[4])
    if split is None or manifest.get("generator_version") != _generator_version():
        return None
    spec = sample_clip(split, int(video_id[5:]), int(manifest.get("seed", 0)))
    return spec if spec.filename == filename else None


def render_clip_video(spec: ClipSpec, path: Path, manifest: dict) -> Path:
    """Render one clip's frames and sound and write them as the build does (H.264 + AAC)."""
    from mmcse.video.io import write_video

    video_format = manifest.get("video_format") or {}
    fps = int(video_format.get("fps", 16))
    width, height = video_format.get("size", (160, 120))
    frames = render_frames(spec, fps, int(width), int(height))
    write_video(path, frames, fps, render_audio(spec, int(video_format.get("audio_sr", 16000))))
    return path


def demo_video(data_root: str | Path | None, filename: str, cache_dir: str | Path) -> Path | None:
    """The mp4 of a demo clip in ``cache_dir`` (rendered on the first call, about a second of CPU), or None
    when ``data_root`` is not a demo folder or ``filename`` is not one of its clips."""
    manifest = read_demo_manifest(data_root)
    if manifest is None:
        return None
    folder = Path(cache_dir) / f"seed{manifest.get('seed', 0)}_v{manifest.get('generator_version')}"
    path = folder / f"{filename}.mp4"
    if path.is_file() and path.stat().st_size > 0:
        return path
    spec = demo_clip_spec(manifest, filename)
    if spec is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return render_clip_video(spec, path, manifest)
